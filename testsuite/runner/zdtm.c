/* zdtm across the lab's hosts: which tests, which groups, one migration per
 * group and strategy through the ordinary instance path (workload kind
 * `zdtm`), bisection when a group's migration fails, one result per test x
 * strategy ("zdtm/static/env00:bare:post"). */
#include <ctype.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "instance.h"
#include "runner.h"
#include "util.h"
#include "zdtm.h"

#define ZDTM_REMOTE "zdtm"              /* under the payload's root, on both hosts */
#define ZDTM_TIMEOUT_S 900

struct zdtm_run {
	struct runner *r;
	struct zdtm_test *tests;
	size_t ntests;
	struct suite_case *cases;        /* one per test: the result's case name (owned, outlives the run) */
	unsigned strategy;
	int group_no;
	json_t **crmig;                  /* per test: the report of the migration that judged it */
	double *gap;
	char **bundle;                   /* per test: the repro bundle of that migration, if one was kept */
	struct suite_result *extra;      /* group-level failures (hosts changed, ...) */
	size_t nextra;
};

/* The catalogue as the hosts have it: tests.tsv and the .desc/.hook files
 * of the payload on host a, copied into the runner's scratch directory. */
static int fetch_catalogue(struct runner *r, char *dir, size_t dirlen, char *err, size_t errlen)
{
	__do_free char *remote = guest_path(r, ZDTM_REMOTE);
	__do_free char *tar = xasprintf("%s/zdtm-meta.tar", r->tmp);
	struct proc_result res;
	char *argv[] = { "tar", "-x", "--no-same-owner", "--no-same-permissions", "-C", dir, "-f", tar, NULL };
	struct proc_opts po = PROC_OPTS_DEFAULT;
	int st;

	snprintf(dir, dirlen, "%s/zdtm", r->tmp);
	if (mkdir_p(dir, 0755) < 0) {
		snprintf(err, errlen, "cannot create %s", dir);
		return -1;
	}
	if (host_sh(r, HOST_A, 60, &res,
		    "cd %s && tar -cf /tmp/zdtm-meta.tar tests.tsv manifest.json $(ls static/*.desc static/*.hook 2>/dev/null)",
		    remote) < 0 || res.status != 0) {
		snprintf(err, errlen, "host a has no zdtm build under %s (make payload builds it with vm-images/build-zdtm): %.300s",
			 remote, res.err ? res.err : "");
		proc_result_free(&res);
		return -1;
	}
	proc_result_free(&res);
	if (lab_copy_from(&r->lab, HOST_A, "/tmp/zdtm-meta.tar", tar) < 0) {
		snprintf(err, errlen, "cannot copy the zdtm catalogue from host a");
		return -1;
	}
	po.timeout_s = 60;
	st = proc_run(argv, &po, &res);
	if (st < 0 || res.status != 0) {
		snprintf(err, errlen, "cannot unpack the zdtm catalogue: %.300s", st < 0 ? "" : res.err);
		if (st >= 0)
			proc_result_free(&res);
		return -1;
	}
	proc_result_free(&res);
	return 0;
}

/* testsuite/zdtm/lean.list: one test name a line, # comments. */
static bool in_lean_list(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; p && *p;) {
		const char *e = strchr(p, '\n');
		size_t len = e ? (size_t)(e - p) : strlen(p);

		while (len && isspace((unsigned char)p[len - 1]))
			len--;
		if (len == n && !strncmp(p, name, n))
			return true;
		p = e ? e + 1 : NULL;
	}
	return false;
}

static bool valid_feature(const char *f)
{
	if (!*f || strlen(f) > 40)
		return false;
	for (; *f; f++)
		if (!(isalnum((unsigned char)*f) || *f == '_' || *f == '-'))
			return false;
	return true;
}

/* Why the hosts cannot run t (NULL: they can). */
static const char *host_skip(struct runner *r, const struct zdtm_test *t, char *why, size_t len)
{
	char feats[sizeof(t->desc.feature)], *save = NULL;

	snprintf(feats, sizeof(feats), "%s", t->desc.feature);
	for (char *f = strtok_r(feats, " ", &save); f; f = strtok_r(NULL, " ", &save)) {
		if (!valid_feature(f)) {
			snprintf(why, len, "its .desc asks for a feature named '%.60s', which is no criu feature name", f);
			return why;
		}
		if (!runner_host_has_feature(r, f, why, len))
			return why;
	}
	return NULL;
}

static void result_for(struct zdtm_run *z, size_t ti, enum outcome o, const char *reason, struct suite_result *res)
{
	memset(res, 0, sizeof(*res));
	res->inst.c = &z->cases[ti];
	res->inst.mode = MODE_BARE;
	res->inst.strategy = z->strategy;
	snprintf(res->inst.id, sizeof(res->inst.id), "%s:bare:%s", z->cases[ti].name, strategy_bit_name(z->strategy));
	snprintf(res->distro, sizeof(res->distro), "%s", z->r->distro);
	res->outcome = o;
	snprintf(res->reason, sizeof(res->reason), "%s", reason ? reason : "");
	res->probe_gap_ms = z->gap[ti];
	res->crmig = json_incref(z->crmig[ti]);
	res->details = z->bundle[ti] ? json_pack("{s:s}", "bundle", z->bundle[ti]) : json_object();
}

/* The results file: NAME <TAB> PASS|FAIL|SKIP <TAB> reason, a line per test. */
static void apply_results(struct zdtm_run *z, const int *idx, size_t n, const char *text, struct zdtm_verdict *v)
{
	for (size_t i = 0; i < n; i++) {
		const struct zdtm_test *t = &z->tests[idx[i]];
		size_t nl = strlen(t->name);
		const char *line = NULL;

		for (const char *p = text; p && *p;) {
			if (!strncmp(p, t->name, nl) && p[nl] == '\t') {
				line = p + nl + 1;
				break;
			}
			p = strchr(p, '\n');
			p = p ? p + 1 : NULL;
		}
		v[i].kind = ZDTM_FAIL;
		if (!line) {
			snprintf(v[i].reason, sizeof(v[i].reason), "the zdtm workload gave no result for it");
			continue;
		}
		if (!strncmp(line, "PASS\t", 5))
			v[i].kind = ZDTM_PASS;
		else if (!strncmp(line, "SKIP\t", 5))
			v[i].kind = ZDTM_SKIP;
		line = strchr(line, '\t');
		line = line ? line + 1 : "";
		snprintf(v[i].reason, sizeof(v[i].reason), "%.*s", (int)strcspn(line, "\n"), line);
	}
}

/* zdtm_run_fn: one group, one migration, through run_instance. */
static int run_group(void *ctx, const int *idx, size_t n, struct zdtm_verdict *v, char *why, size_t len)
{
	struct zdtm_run *z = ctx;
	struct suite_case c = { .workload = "zdtm", .modes = MODE_BARE, .tier = "lean", .timeout_s = ZDTM_TIMEOUT_S,
				.expect_result = "ok" };
	struct suite_instance in = { .c = &c, .mode = MODE_BARE, .strategy = z->strategy };
	struct suite_result res;
	char *p = c.args, *suid = NULL;
	const char *result, *results_text, *kept;
	size_t used = 0;

	snprintf(c.name, sizeof(c.name), "zdtm-g%d", ++z->group_no);
	snprintf(c.flags[c.nflags++], sizeof(c.flags[0]), "parts-judged"); /* each test becomes its own result here */
	snprintf(c.description, sizeof(c.description), "zdtm group %d: %zu tests", z->group_no, n);
	used = (size_t)snprintf(p, sizeof(c.args), "--tests ");
	for (size_t i = 0; i < n && used < sizeof(c.args); i++) {
		const struct zdtm_test *t = &z->tests[idx[i]];

		used += (size_t)snprintf(p + used, sizeof(c.args) - used, "%s%s", i ? "," : "", t->name);
		if (zdtm_word_in(t->desc.flags, "suid")) {
			char *more = xasprintf("%s%s%s", suid ? suid : "", suid ? "," : "", t->name);
			free(suid);
			suid = more;
		}
	}
	if (suid && used < sizeof(c.args))
		used += (size_t)snprintf(p + used, sizeof(c.args) - used, " --suid %s", suid);
	free(suid);
	if (used >= sizeof(c.args)) {
		snprintf(why, len, "the group's argument list is too long");
		return -1;
	}
	snprintf(in.id, sizeof(in.id), "%s:bare:%s", c.name, strategy_bit_name(z->strategy));
	fprintf(stderr, "crmig-suite: zdtm group %d (%s, %zu tests): %s\n", z->group_no, strategy_bit_name(z->strategy),
		n, c.args + 8);
	run_instance(z->r, &in, &res);
	result = json_string_value(json_object_get(res.crmig, "result"));
	results_text = json_string_value(json_object_get(res.details, "results"));
	kept = json_string_value(json_object_get(res.details, "bundle"));
	for (size_t i = 0; i < n; i++) {
		json_decref(z->crmig[idx[i]]);
		z->crmig[idx[i]] = json_incref(res.crmig);
		z->gap[idx[i]] = res.probe_gap_ms;
		free(z->bundle[idx[i]]);
		z->bundle[idx[i]] = kept ? xstrdup(kept) : NULL;
	}
	if (!result || strcmp(result, "ok") || !results_text) {
		snprintf(why, len, "%s", res.reason[0] ? res.reason : "crmig did not migrate the group");
		fprintf(stderr, "crmig-suite: zdtm group %d failed as a whole: %.300s\n", z->group_no, why);
		json_decref(res.crmig);
		json_decref(res.details);
		return -1;
	}
	apply_results(z, idx, n, results_text, v);
	/* The migration worked, yet the runner saw something else wrong (a host
	 * changed, the source still there): that is the group's, reported once. */
	if (res.outcome == OUTCOME_FAIL) {
		struct suite_case *keep = xmalloc(sizeof(*keep)); /* c lives on this stack frame; results outlive it */

		*keep = c;
		res.inst.c = keep;
		z->extra = xrealloc(z->extra, (z->nextra + 1) * sizeof(*z->extra));
		z->extra[z->nextra++] = res;
		return 0;
	}
	json_decref(res.crmig);
	json_decref(res.details);
	return 0;
}

static void push(struct suite_result **v, size_t *n, const struct suite_result *r)
{
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[(*n)++] = *r;
}

/* One strategy over the selected tests. */
static void run_strategy(struct zdtm_run *z, const size_t *sel, size_t nsel, struct suite_result **out, size_t *nout)
{
	struct zdtm_test **runnable = xzalloc((nsel + 1) * sizeof(*runnable));
	size_t *map = xzalloc((nsel + 1) * sizeof(*map)), nrun = 0;
	int **groups = NULL;
	size_t ngroups;
	char why[512];

	for (size_t i = 0; i < nsel; i++) {
		const struct zdtm_test *t = &z->tests[sel[i]];
		const char *skip = zdtm_static_skip(t, z->strategy);
		struct suite_result res;

		/* zdtm.py eval()s a .desc; a few are Python expressions (mnt_ext_dev),
		 * which we never evaluate: that test cannot be judged, loudly */
		if (t->desc_error[0]) {
			char why_desc[512];

			snprintf(why_desc, sizeof(why_desc), "its .desc is not a plain literal (crmig never evaluates it): %s",
				 t->desc_error);
			result_for(z, sel[i], OUTCOME_SKIP, why_desc, &res);
			push(out, nout, &res);
			continue;
		}
		if (!skip)
			skip = host_skip(z->r, t, why, sizeof(why));
		if (skip) {
			result_for(z, sel[i], OUTCOME_SKIP, skip, &res);
			push(out, nout, &res);
			continue;
		}
		map[nrun] = sel[i];
		runnable[nrun++] = &z->tests[sel[i]];
	}
	ngroups = zdtm_plan(runnable, nrun, ZDTM_GROUP_MAX, &groups);
	for (size_t g = 0; g < ngroups && !runner_interrupted; g++) {
		int idx[ZDTM_GROUP_MAX + 1];
		struct zdtm_verdict v[ZDTM_GROUP_MAX];
		size_t n = 0;
		int runs;

		for (; groups[g][n] >= 0; n++)
			idx[n] = (int)map[groups[g][n]];
		runs = zdtm_bisect(idx, n, run_group, z, v);
		if (runs > 1)
			fprintf(stderr, "crmig-suite: zdtm group bisected in %d migrations\n", runs);
		for (size_t i = 0; i < n; i++) {
			struct suite_result res;
			enum outcome o = v[i].kind == ZDTM_PASS ? OUTCOME_PASS : v[i].kind == ZDTM_SKIP ? OUTCOME_SKIP
												: OUTCOME_FAIL;

			/* the next strategy gives it a migration of its own */
			if (v[i].broke_alone)
				z->tests[idx[i]].broke_alone = true;
			result_for(z, (size_t)idx[i], o, v[i].reason, &res);
			inst_interrupted(&res);
			known_bug_classify(&res);
			fprintf(stderr, "crmig-suite: %s: %s%s%s\n", res.inst.id, result_label(&res), res.reason[0] ? ": " : "",
				res.reason);
			push(out, nout, &res);
		}
	}
	zdtm_plan_free(groups, ngroups);
	free(runnable);
	free(map);
}

/* zdtm.py reserves 20 huge pages for its run (maps09, maps10, shm-hugetlb,
 * memfd02-hugetlb map MAP_HUGETLB); so does this, on both hosts, since the
 * restore needs them as much as the test. Sets host h's count to nr and
 * returns the count before, or -1 if it could not. */
#define ZDTM_HUGEPAGES 20
static int hugepages_swap(struct runner *r, int h, int nr)
{
	struct proc_result res;
	int old = -1;

	if (host_sh(r, h, 60, &res, "cat /proc/sys/vm/nr_hugepages && echo %d > /proc/sys/vm/nr_hugepages && "
		    "cat /proc/sys/vm/nr_hugepages", nr) == 0) {
		int now = -1;
		if (res.status != 0 || sscanf(res.out, "%d %d", &old, &now) != 2 || now != nr)
			fprintf(stderr, "crmig-suite: zdtm: host %s has %d of the %d huge pages asked for (%.200s): the "
				"MAP_HUGETLB tests may not start\n", r->lab.hosts[h].name, now, nr, res.err);
		proc_result_free(&res);
	}
	return old;
}

int zdtm_run(struct runner *r, const char *glob, bool lean, unsigned strategies, int shard_index, int shard_count,
	     bool required, struct suite_result **results, size_t *n)
{
	struct zdtm_run z = { .r = r };
	__do_free char *data = suite_data_dir("zdtm");
	__do_free char *lean_path = data ? xasprintf("%s/lean.list", data) : NULL;
	__do_free char *lean_list = lean_path ? read_file(lean_path, NULL) : NULL;
	char dir[PATH_MAX], err[1024];
	size_t *sel, nsel = 0, matched = 0;
	int hugepages_before[2];

	if (fetch_catalogue(r, dir, sizeof(dir), err, sizeof(err)) < 0 ||
	    zdtm_load(dir, &z.tests, &z.ntests, err, sizeof(err)) < 0) {
		static struct suite_case c = { .name = "zdtm", .workload = "zdtm", .tier = "lean" };
		struct suite_result res = { .inst = { .c = &c, .id = "zdtm:catalogue" },
					    .outcome = required ? OUTCOME_FAIL : OUTCOME_SKIP, .probe_gap_ms = -1 };

		/* the payload's own build said why it has no tests: that first */
		if (r->o->zdtm_missing)
			snprintf(err, sizeof(err), "no zdtm tests in the payload: %.600s (--criu-src DIR|TARBALL gives "
				 "them another source)", r->o->zdtm_missing);
		snprintf(res.reason, sizeof(res.reason), "%s%s", err,
			 required ? "" : " (zdtm skipped; --suite zdtm makes this a failure)");
		snprintf(res.distro, sizeof(res.distro), "%s", r->distro);
		res.details = json_object();
		push(results, n, &res);
		fprintf(stderr, "\n*** crmig-suite: zdtm %s: %s ***\n\n", required ? "FAILED" : "SKIPPED", err);
		return -1;
	}
	if (lean && !lean_list) {
		fprintf(stderr, "crmig-suite: zdtm: no lean selection (%s): running none\n", lean_path ? lean_path : "?");
		free(z.tests);
		return -1;
	}
	z.cases = xzalloc((z.ntests + 1) * sizeof(*z.cases));
	z.crmig = xzalloc((z.ntests + 1) * sizeof(*z.crmig));
	z.gap = xzalloc((z.ntests + 1) * sizeof(*z.gap));
	z.bundle = xzalloc((z.ntests + 1) * sizeof(*z.bundle));
	sel = xzalloc((z.ntests + 1) * sizeof(*sel));
	for (size_t i = 0; i < z.ntests; i++) {
		struct suite_case *c = &z.cases[i];

		snprintf(c->name, sizeof(c->name), "zdtm/static/%s", z.tests[i].name);
		snprintf(c->workload, sizeof(c->workload), "zdtm");
		snprintf(c->tier, sizeof(c->tier), "%s", lean ? "lean" : "full");
		snprintf(c->description, sizeof(c->description), "CRIU's zdtm test %s, migrated across the hosts",
			 z.tests[i].name);
		c->modes = MODE_BARE;
		z.gap[i] = -1;
		if ((lean ? in_lean_list(lean_list, z.tests[i].name) : suite_glob_match(glob, c->name)) &&
		    (shard_count <= 1 || (int)(matched++ % (size_t)shard_count) == shard_index - 1))
			sel[nsel++] = i;
	}
	fprintf(stderr, "crmig-suite: zdtm: %zu of %zu tests selected (%s%s)\n", nsel, z.ntests,
		lean ? "the lean selection" : glob ? glob : "all", shard_count > 1 ? ", this shard's share" : "");
	for (int h = 0; h < 2; h++)
		hugepages_before[h] = nsel ? hugepages_swap(r, h, ZDTM_HUGEPAGES) : -1;
	for (unsigned bit = ST_STOP; bit <= ST_HYBRID && !runner_interrupted; bit <<= 1) {
		if (!(strategies & bit))
			continue;
		z.strategy = bit;
		run_strategy(&z, sel, nsel, results, n);
	}
	for (int h = 0; h < 2; h++)
		if (hugepages_before[h] >= 0)
			hugepages_swap(r, h, hugepages_before[h]);
	for (size_t i = 0; i < z.nextra; i++)
		push(results, n, &z.extra[i]);
	for (size_t i = 0; i < z.ntests; i++) {
		json_decref(z.crmig[i]);
		free(z.bundle[i]);
	}
	free(z.bundle);
	free(z.extra);
	free(z.crmig);
	free(z.gap);
	free(sel);
	free(z.tests);
	/* z.cases stay: the results point at them until the process ends. */
	return 0;
}
