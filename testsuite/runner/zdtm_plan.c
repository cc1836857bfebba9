/* zdtm: the catalogue of a build, which tests can run with which strategy,
 * groups that share a migration, bisection of a failed group, and the verdict
 * of a test's .out. Pure logic, no hosts: unit-tested in test_zdtm.c. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util.h"
#include "zdtm.h"

/* criu options crmig migrate passes anyway (criu.c): a test asking for them needs nothing more. */
static const char *const crmig_default_opts[] = { "--tcp-established", "--file-locks", NULL };

static int load_desc(const char *dir, struct zdtm_test *t, char *err, size_t errlen)
{
	__do_free char *path = xasprintf("%s/static/%s.desc", dir, t->name);
	size_t len = 0;
	__do_free char *text = read_file(path, &len);

	if (!text) {
		if (errno != ENOENT) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			return -1;
		}
		zdtm_desc_default(&t->desc);
		return 0;
	}
	if (len > 64 * 1024) {
		snprintf(err, errlen, "%s:1: larger than 64 KiB: not a zdtm .desc", path);
		return -1;
	}
	return zdtm_desc_parse(text, len, path, &t->desc, err, errlen);
}

static bool valid_name(const char *s)
{
	if (!*s || strlen(s) >= ZDTM_NAME_MAX || *s == '.')
		return false;
	for (; *s; s++)
		if (!(isalnum((unsigned char)*s) || *s == '_' || *s == '-' || *s == '.'))
			return false;
	return true;
}

int zdtm_load(const char *dir, struct zdtm_test **tests, size_t *n, char *err, size_t errlen)
{
	__do_free char *path = xasprintf("%s/tests.tsv", dir);
	__do_free char *text = read_file(path, NULL);
	struct zdtm_test *v = NULL;
	size_t cnt = 0, line = 0;
	char *save = NULL;

	*tests = NULL;
	*n = 0;
	if (!text) {
		snprintf(err, errlen, "%s: %s (build the tests with vm-images/build-zdtm --image DIR)", path, strerror(errno));
		return -1;
	}
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *tab = strchr(l, '\t');
		struct zdtm_test *t;
		struct stat st;

		line++;
		if (!tab || !valid_name((*tab = '\0', l)) || strlen(tab + 1) >= sizeof(t->args) || strchr(tab + 1, '\'')) {
			snprintf(err, errlen, "%s:%zu: expected NAME<TAB>ARGS (a plain test name, arguments without quotes)", path,
				 line);
			free(v);
			return -1;
		}
		v = xrealloc(v, (cnt + 1) * sizeof(*v));
		t = &v[cnt];
		memset(t, 0, sizeof(*t));
		snprintf(t->name, sizeof(t->name), "%s", l);
		snprintf(t->args, sizeof(t->args), "%s", tab + 1);
		if (load_desc(dir, t, t->desc_error, sizeof(t->desc_error)) < 0)
			zdtm_desc_default(&t->desc);
		{
			__do_free char *hook = xasprintf("%s/static/%s.hook", dir, t->name);
			t->hook = stat(hook, &st) == 0;
		}
		cnt++;
	}
	*tests = v;
	*n = cnt;
	return 0;
}

static bool crmig_passes(const char *opt)
{
	for (const char *const *d = crmig_default_opts; *d; d++)
		if (!strcmp(opt, *d))
			return true;
	return false;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void zdtm_extra_opts(const struct zdtm_test *t, char *out, size_t len)
{
	__do_free char *all = xasprintf("%s %s %s", t->desc.opts, t->desc.dopts, t->desc.ropts);
	char *words[64], *save = NULL;
	size_t nw = 0, used = 0;

	for (char *w = strtok_r(all, " \t", &save); w && nw < ARRAY_SIZE(words); w = strtok_r(NULL, " \t", &save))
		if (!crmig_passes(w))
			words[nw++] = w;
	qsort(words, nw, sizeof(words[0]), cmp_str);
	out[0] = '\0';
	for (size_t i = 0; i < nw; i++) {
		if (i && !strcmp(words[i], words[i - 1]))
			continue;
		used += (size_t)snprintf(out + used, used < len ? len - used : 0, "%s%s", used ? " " : "", words[i]);
		if (used >= len) {
			out[len - 1] = '\0';
			return;
		}
	}
}

static bool flag(const struct zdtm_test *t, const char *f)
{
	return zdtm_word_in(t->desc.flags, f);
}

const char *zdtm_static_skip(const struct zdtm_test *t, unsigned strategy)
{
	char extra[256];

	if (!zdtm_word_in(t->desc.flavor, "h"))
		return "flavour ns/uns only: crmig migrates host-flavour trees (zdtm's namespace launchers are not used)";
	if (flag(t, "noauto"))
		return "noauto: zdtm runs it only when asked by name";
	if (flag(t, "crfail"))
		return "crfail: criu is expected to refuse this test's dump";
	if (t->desc.arch[0] && !zdtm_word_in(t->desc.arch, "x86_64"))
		return "arch: not for x86_64";
	if (t->hook)
		return "needs its zdtm hook (NAME.hook, Python run around each phase by zdtm.py)";
	if (flag(t, "pre-dump-notify"))
		return "pre-dump-notify: needs zdtm's pre-dump notifications";
	if ((strategy & (ST_POST | ST_HYBRID)) && (flag(t, "nolazy") || flag(t, "noremotelazy")))
		return "nolazy: not with lazy pages (the test's .desc)";
	zdtm_extra_opts(t, extra, sizeof(extra));
	if (extra[0])
		return "needs criu options crmig migrate does not pass (its .desc: opts/dopts/ropts)";
	return NULL;
}

size_t zdtm_plan(struct zdtm_test *const *tests, size_t n, size_t max, int ***groups)
{
	int **g = NULL;
	size_t ng = 0, *fill = NULL;
	char (*keys)[256] = NULL;

	if (max < 1)
		max = 1;
	for (size_t i = 0; i < n; i++) {
		char key[256];
		size_t j = ng;

		bool alone = flag(tests[i], "excl") || tests[i]->broke_alone;

		zdtm_extra_opts(tests[i], key, sizeof(key));
		if (!alone)
			for (j = 0; j < ng; j++)
				if (fill[j] < max && keys[j][0] != '\1' && !strcmp(keys[j], key))
					break;
		if (j == ng) {
			g = xrealloc(g, (ng + 1) * sizeof(*g));
			fill = xrealloc(fill, (ng + 1) * sizeof(*fill));
			keys = xrealloc(keys, (ng + 1) * sizeof(*keys));
			g[ng] = xzalloc((max + 1) * sizeof(int));
			fill[ng] = 0;
			/* \1 marks a group of one: nothing joins it */
			snprintf(keys[ng], sizeof(keys[ng]), "%s%s", alone ? "\1" : "", key);
			ng++;
		}
		g[j][fill[j]++] = (int)i;
		g[j][fill[j]] = -1;
	}
	free(fill);
	free(keys);
	*groups = g;
	return ng;
}

void zdtm_plan_free(int **groups, size_t ngroups)
{
	for (size_t i = 0; groups && i < ngroups; i++)
		free(groups[i]);
	free(groups);
}

int zdtm_bisect(const int *idx, size_t n, zdtm_run_fn run, void *ctx, struct zdtm_verdict *v)
{
	char why[1024] = "";
	int runs = 1;

	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++)
		memset(&v[i], 0, sizeof(v[i]));
	if (run(ctx, idx, n, v, why, sizeof(why)) == 0)
		return runs;
	if (n == 1) {
		v[0].kind = ZDTM_FAIL;
		v[0].broke_alone = true;
		snprintf(v[0].reason, sizeof(v[0].reason), "the migration failed with this test alone: %s", why);
		return runs;
	}
	runs += zdtm_bisect(idx, n / 2, run, ctx, v);
	runs += zdtm_bisect(idx + n / 2, n - n / 2, run, ctx, v + n / 2);
	return runs;
}

