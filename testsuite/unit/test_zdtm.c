/* zdtm across hosts, the parts without hosts: .desc parsing (good and bad
 * input, errors naming file and line), which test runs with which strategy,
 * groups, bisection of a failed group, and a test's .out verdict. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/zdtm_out.h"
#include "../runner/zdtm.h"
#include "util.h"
#include "unit.h"

static int parse(const char *text, struct zdtm_desc *d, char *err, size_t len)
{
	return zdtm_desc_parse(text, strlen(text), "t.desc", d, err, len);
}

START_TEST(test_desc_forms)
{
	struct zdtm_desc d;
	char err[256] = "";

	ck_assert_int_eq(parse("{'flavor': 'h', 'opts': '--tcp-established', 'flags': 'nouser samens'}", &d, err,
			       sizeof(err)), 0);
	ck_assert_str_eq(d.flavor, "h");
	ck_assert_str_eq(d.opts, "--tcp-established");
	ck_assert(zdtm_word_in(d.flags, "samens"));
	ck_assert(!zdtm_word_in(d.flags, "same"));
	/* multi-line, lists, double quotes, a trailing comma, comments, a number as a string */
	ck_assert_int_eq(parse("{\n  'deps': ['/bin/sh',\n '/bin/ip'],  # comment\n  \"flags\": 'suid excl',\n"
			       "  'feature' : 'mnt_id' 'cgroupns', 'timeout': '60',\n}\n", &d, err, sizeof(err)), 0);
	ck_assert_str_eq(d.flags, "suid excl");
	ck_assert_str_eq(d.feature, "mnt_idcgroupns"); /* adjacent literals concatenate, as in Python */
	ck_assert_int_eq(d.timeout_s, 60);
	ck_assert_str_eq(d.flavor, "h ns uns"); /* zdtm.py's default */
	ck_assert_int_eq(parse("{ 'timeout': 30 }", &d, err, sizeof(err)), 0);
	ck_assert_int_eq(d.timeout_s, 30);
	ck_assert_int_eq(parse("{}", &d, err, sizeof(err)), 0);
}
END_TEST

START_TEST(test_desc_errors)
{
	static const struct {
		const char *text, *want;
	} bad[] = {
		{ "", "t.desc:1: expected '{'" },
		{ "{'flags': 'suid'", "t.desc:1: expected '}'" },
		{ "{\n'flags': 'suid\n'}", "t.desc:2: a string runs past" },
		{ "{'flags': suid}", "t.desc:1: a value must be" },
		{ "{'flags' 'suid'}", "t.desc:1: expected ':'" },
		{ "{'deps': [1, 2]}", "t.desc:1: a list may hold only strings" },
		{ "{'flags': 'a'} x", "t.desc:1: text after the closing" },
		{ "{'timeout': '0'}", "t.desc:1: timeout '0'" },
		{ "{'flags': '\\q'}", "t.desc:1: unsupported escape" },
	};
	struct zdtm_desc d;
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ck_assert_msg(parse(bad[i].text, &d, err, sizeof(err)) == -1, "accepted: %s", bad[i].text);
		ck_assert_msg(!strncmp(err, bad[i].want, strlen(bad[i].want)), "'%s': got '%s', want '%s'", bad[i].text,
			      err, bad[i].want);
	}
	/* a field longer than it holds, and a value longer than any */
	{
		char text[20000];
		int n = snprintf(text, sizeof(text), "{\n\n'opts': '");

		memset(text + n, 'x', 600);
		snprintf(text + n + 600, sizeof(text) - n - 600, "'}");
		ck_assert_int_eq(parse(text, &d, err, sizeof(err)), -1);
		ck_assert_str_eq(err, "t.desc:3: 'opts' is longer than 511 bytes");
		n = snprintf(text, sizeof(text), "{'deps': ['");
		memset(text + n, 'x', 17000);
		snprintf(text + n + 17000, sizeof(text) - n - 17000, "']}");
		ck_assert_int_eq(parse(text, &d, err, sizeof(err)), -1);
		ck_assert_ptr_nonnull(strstr(err, "a value longer than 16383 bytes"));
	}
	/* a NUL byte inside */
	ck_assert_int_eq(zdtm_desc_parse("{'a':\0'b'}", 10, "n.desc", &d, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "NUL"));
}
END_TEST

static struct zdtm_test mk(const char *name, const char *desc)
{
	struct zdtm_test t;
	char err[256];

	memset(&t, 0, sizeof(t));
	snprintf(t.name, sizeof(t.name), "%s", name);
	if (desc)
		ck_assert_int_eq(zdtm_desc_parse(desc, strlen(desc), name, &t.desc, err, sizeof(err)), 0);
	else
		zdtm_desc_default(&t.desc);
	return t;
}

START_TEST(test_static_skip)
{
	struct zdtm_test plain = mk("pipe00", NULL), ns = mk("shm", "{'flavor': 'ns uns'}"),
			 tcp = mk("socket-tcp", "{'flavor': 'h', 'opts': '--tcp-established'}"),
			 remap = mk("inotify00", "{'opts': '--link-remap'}"), lazy = mk("x", "{'flags': 'nolazy'}"),
			 arch = mk("y", "{'arch': 's390x'}"), crfail = mk("z", "{'flags': 'crfail'}");
	char extra[128];

	ck_assert_ptr_null(zdtm_static_skip(&plain, ST_POST));
	ck_assert_ptr_nonnull(strstr(zdtm_static_skip(&ns, ST_STOP), "ns/uns"));
	ck_assert_ptr_null(zdtm_static_skip(&tcp, ST_STOP)); /* crmig passes --tcp-established anyway */
	zdtm_extra_opts(&tcp, extra, sizeof(extra));
	ck_assert_str_eq(extra, "");
	zdtm_extra_opts(&remap, extra, sizeof(extra));
	ck_assert_str_eq(extra, "--link-remap");
	ck_assert_ptr_nonnull(zdtm_static_skip(&remap, ST_STOP));
	ck_assert_ptr_null(zdtm_static_skip(&lazy, ST_PRE));
	ck_assert_ptr_nonnull(zdtm_static_skip(&lazy, ST_HYBRID));
	ck_assert_ptr_nonnull(zdtm_static_skip(&arch, ST_STOP));
	ck_assert_ptr_nonnull(zdtm_static_skip(&crfail, ST_STOP));
	plain.hook = true;
	ck_assert_ptr_nonnull(strstr(zdtm_static_skip(&plain, ST_STOP), "hook"));
}
END_TEST

START_TEST(test_plan)
{
	struct zdtm_test t[7] = { mk("a", NULL), mk("b", "{'flags': 'excl'}"), mk("c", NULL), mk("d", NULL),
				  mk("e", "{'opts': '--link-remap'}"), mk("f", NULL), mk("g", "{'opts': '--link-remap'}") };
	struct zdtm_test *p[7];
	int **g;
	size_t ng;

	for (int i = 0; i < 7; i++)
		p[i] = &t[i];
	ng = zdtm_plan(p, 7, 3, &g);
	/* a c d | b (excl, alone) | e g (same extra options) | f (the first group is full) */
	ck_assert_uint_eq(ng, 4);
	ck_assert_int_eq(g[0][0], 0);
	ck_assert_int_eq(g[0][1], 2);
	ck_assert_int_eq(g[0][2], 3);
	ck_assert_int_eq(g[0][3], -1);
	ck_assert_int_eq(g[1][0], 1);
	ck_assert_int_eq(g[1][1], -1);
	ck_assert_int_eq(g[2][0], 4);
	ck_assert_int_eq(g[2][1], 6);
	ck_assert_int_eq(g[3][0], 5);
	zdtm_plan_free(g, ng);
	/* d broke a migration alone under an earlier strategy: it runs alone */
	t[3].broke_alone = true;
	ng = zdtm_plan(p, 7, 3, &g);
	/* a c f | b | d | e g */
	ck_assert_uint_eq(ng, 4);
	ck_assert_int_eq(g[0][0], 0);
	ck_assert_int_eq(g[0][1], 2);
	ck_assert_int_eq(g[0][2], 5);
	ck_assert_int_eq(g[1][0], 1);
	ck_assert_int_eq(g[2][0], 3);
	ck_assert_int_eq(g[2][1], -1);
	ck_assert_int_eq(g[3][0], 4);
	zdtm_plan_free(g, ng);
}
END_TEST

/* A fake migration: fails as a whole when one of the "breakers" is in the
 * group; otherwise each test passes, except the "failers", which fail in
 * their own words. */
struct fake {
	const int *breakers;
	size_t nbreakers;
	int failer;
	int runs;
};

static int fake_run(void *ctx, const int *idx, size_t n, struct zdtm_verdict *v, char *why, size_t len)
{
	struct fake *f = ctx;

	f->runs++;
	for (size_t i = 0; i < n; i++)
		for (size_t b = 0; b < f->nbreakers; b++)
			if (idx[i] == f->breakers[b]) {
				snprintf(why, len, "criu dump failed (test %d)", idx[i]);
				return -1;
			}
	for (size_t i = 0; i < n; i++) {
		v[i].kind = idx[i] == f->failer ? ZDTM_FAIL : ZDTM_PASS;
		if (idx[i] == f->failer)
			snprintf(v[i].reason, sizeof(v[i].reason), "FAIL: own words");
	}
	return 0;
}

START_TEST(test_bisect)
{
	int idx[16];
	struct zdtm_verdict v[16];
	const int one[] = { 11 }, two[] = { 2, 13 };
	struct fake f = { .breakers = one, .nbreakers = 1, .failer = 5 };
	int runs;

	for (int i = 0; i < 16; i++)
		idx[i] = i;
	runs = zdtm_bisect(idx, 16, fake_run, &f, v);
	ck_assert_int_eq(runs, f.runs);
	ck_assert_int_eq(runs, 9); /* 16, then 8+8, 4+4, 2+2, 1+1 */
	for (int i = 0; i < 16; i++) {
		if (i == 11) {
			ck_assert_int_eq(v[i].kind, ZDTM_FAIL);
			ck_assert_ptr_nonnull(strstr(v[i].reason, "this test alone: criu dump failed (test 11)"));
			ck_assert(v[i].broke_alone);
		} else if (i == 5) {
			ck_assert_int_eq(v[i].kind, ZDTM_FAIL);
			ck_assert_str_eq(v[i].reason, "FAIL: own words");
			ck_assert(!v[i].broke_alone); /* failed its own check: it breaks no group */
		} else {
			ck_assert_msg(v[i].kind == ZDTM_PASS, "test %d: %d", i, v[i].kind);
		}
	}
	/* two breakers, in different halves; no breaker: one run */
	f = (struct fake){ .breakers = two, .nbreakers = 2, .failer = -1 };
	zdtm_bisect(idx, 16, fake_run, &f, v);
	for (int i = 0; i < 16; i++)
		ck_assert_int_eq(v[i].kind, i == 2 || i == 13 ? ZDTM_FAIL : ZDTM_PASS);
	f = (struct fake){ .failer = -1 };
	ck_assert_int_eq(zdtm_bisect(idx, 16, fake_run, &f, v), 1);
	ck_assert_int_eq(zdtm_bisect(idx, 0, fake_run, &f, v), 0);
}
END_TEST

START_TEST(test_out_verdict)
{
	char why[256];

	ck_assert(zdtm_out_passed("13:02:01.123:    42: PASS\n", why, sizeof(why)));
	ck_assert(!zdtm_out_passed("13:02:01.123:    42: FAIL: pipe00.c:80: data mismatch (errno = 0 (Success))\n", why,
				   sizeof(why)));
	ck_assert_ptr_nonnull(strstr(why, "data mismatch"));
	ck_assert(!zdtm_out_passed("12: ERR: test.c:10: can't open\n12: PASS\n12: FAIL: x.c:1: bad\n", why, sizeof(why)));
	ck_assert_ptr_nonnull(strstr(why, "can't open / 12: FAIL: x.c:1: bad"));
	ck_assert(!zdtm_out_passed("", why, sizeof(why)));
	ck_assert_str_eq(why, "no .out: the test did not finish");
	ck_assert(!zdtm_out_passed("started\n", why, sizeof(why)));
	ck_assert_str_eq(why, "its .out says neither PASS nor why");
	ck_assert(!zdtm_out_passed(NULL, why, sizeof(why)));
	/* control characters never reach a one-line reason */
	ck_assert(!zdtm_out_passed("FAIL: a\tb\x01c\n", why, sizeof(why)));
	ck_assert_ptr_null(strpbrk(why, "\t\x01\n"));
}
END_TEST

START_TEST(test_load)
{
	char dir[] = "/tmp/test_zdtm-XXXXXX", err[512];
	struct zdtm_test *t;
	size_t n;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	{
		__do_free char *st = xasprintf("%s/static", dir);
		__do_free char *tsv = xasprintf("%s/tests.tsv", dir);
		__do_free char *desc = xasprintf("%s/static/b.desc", dir);
		__do_free char *hook = xasprintf("%s/static/a.hook", dir);
		const char *lines = "a\t--pidfile=a.pid --outfile=a.out\nb\t--pidfile=b.pid --outfile=b.out --filename=b.test\n";

		ck_assert_int_eq(mkdir(st, 0755), 0);
		ck_assert_int_eq(write_file(tsv, lines, strlen(lines), 0644), 0);
		ck_assert_int_eq(write_file(desc, "{'flags': 'suid'}", 17, 0644), 0);
		ck_assert_int_eq(write_file(hook, "#!/usr/bin/python3\n", 19, 0755), 0);
		ck_assert_int_eq(zdtm_load(dir, &t, &n, err, sizeof(err)), 0);
		ck_assert_uint_eq(n, 2);
		ck_assert_str_eq(t[0].name, "a");
		ck_assert(t[0].hook);
		ck_assert_str_eq(t[0].desc.flavor, "h ns uns");
		ck_assert_str_eq(t[1].args, "--pidfile=b.pid --outfile=b.out --filename=b.test");
		ck_assert_str_eq(t[1].desc.flags, "suid");
		free(t);
		/* a broken .desc: that test carries its file and line, the others load */
		ck_assert_int_eq(write_file(desc, "{\n'flags': suid}", 16, 0644), 0);
		ck_assert_int_eq(zdtm_load(dir, &t, &n, err, sizeof(err)), 0);
		ck_assert_uint_eq(n, 2);
		ck_assert_str_eq(t[0].desc_error, "");
		ck_assert_ptr_nonnull(strstr(t[1].desc_error, "static/b.desc:2: a value must be"));
		free(t);
		/* names that could reach a shell or a path are refused */
		ck_assert_int_eq(write_file(tsv, "../x\t--a\n", 9, 0644), 0);
		ck_assert_int_eq(zdtm_load(dir, &t, &n, err, sizeof(err)), -1);
		ck_assert_ptr_nonnull(strstr(err, "tests.tsv:1:"));
		ck_assert_int_eq(write_file(tsv, "a;rm\t--a\n", 9, 0644), 0);
		ck_assert_int_eq(zdtm_load(dir, &t, &n, err, sizeof(err)), -1);
		ck_assert_int_eq(write_file(tsv, "a\t--a='x'\n", 10, 0644), 0);
		ck_assert_int_eq(zdtm_load(dir, &t, &n, err, sizeof(err)), -1);
	}
	remove_tree(dir);
	ck_assert_int_eq(zdtm_load(dir, &t, &n, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "vm-images/build-zdtm"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("zdtm");
	TCase *tc = tcase_create("zdtm");

	tcase_add_test(tc, test_desc_forms);
	tcase_add_test(tc, test_desc_errors);
	tcase_add_test(tc, test_static_skip);
	tcase_add_test(tc, test_plan);
	tcase_add_test(tc, test_bisect);
	tcase_add_test(tc, test_out_verdict);
	tcase_add_test(tc, test_load);
	suite_add_tcase(s, tc);
	return unit_run(s) ? 1 : 0;
}
