/* crmig-suite validate's comparison (validate_cmp.c) on made-up results: every
 * verdict, failure kinds that differ only in numbers, the figures' noise
 * threshold at its edges, a figure regression only when the re-run is worse
 * too, pairing by id with instances present on one side only. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../runner/validate.h"
#include "util.h"
#include "unit.h"

static struct suite_result res(const char *id, enum outcome o, const char *reason, double downtime, double bytes)
{
	struct suite_result r;

	memset(&r, 0, sizeof(r));
	snprintf(r.inst.id, sizeof(r.inst.id), "%s", id);
	r.outcome = o;
	snprintf(r.reason, sizeof(r.reason), "%s", reason);
	r.probe_gap_ms = -1;
	if (downtime >= 0 || bytes >= 0)
		r.crmig = json_pack("{s:f,s:f}", "downtime_ms", downtime, "bytes_before_resume", bytes);
	return r;
}

static void res_free(struct suite_result *r)
{
	json_decref(r->crmig);
	r->crmig = NULL;
}

START_TEST(test_verdicts)
{
	struct suite_result pass = res("m", OUTCOME_PASS, "", 1000, 1e6);
	struct suite_result fail = res("m", OUTCOME_FAIL, "crmig migrate failed (exit 1): criu restore", -1, -1);
	struct suite_result fail2 = res("m", OUTCOME_FAIL, "workload verdict: FAIL page 17 differs", -1, -1);
	struct suite_result skip = res("m", OUTCOME_SKIP, "criu check --feature mem_dirty_track: no on b", -1, -1);

	ck_assert_int_eq(validate_verdict_of(&pass, &pass), VV_UNCHANGED);
	ck_assert_int_eq(validate_verdict_of(&pass, &fail), VV_REGRESSION);
	ck_assert_int_eq(validate_verdict_of(&fail, &pass), VV_FIXED);
	ck_assert_int_eq(validate_verdict_of(&pass, &skip), VV_NEWLY_SKIPPED);
	ck_assert_int_eq(validate_verdict_of(&fail, &skip), VV_NEWLY_SKIPPED);
	ck_assert_int_eq(validate_verdict_of(&skip, &pass), VV_NEWLY_RUN);
	ck_assert_int_eq(validate_verdict_of(&skip, &fail), VV_REGRESSION);
	ck_assert_int_eq(validate_verdict_of(&skip, &skip), VV_UNCHANGED);
	ck_assert_int_eq(validate_verdict_of(&fail, &fail), VV_UNCHANGED);
	ck_assert_int_eq(validate_verdict_of(&fail, &fail2), VV_CHANGED);
	ck_assert_int_eq(validate_verdict_of(NULL, &pass), VV_MISSING);
	ck_assert_int_eq(validate_verdict_of(&pass, NULL), VV_MISSING);
	ck_assert_str_eq(validate_verdict_name(VV_REGRESSION), "regression");
	ck_assert_str_eq(validate_verdict_name(VV_NEWLY_SKIPPED), "newly skipped");
	res_free(&pass);
}
END_TEST

START_TEST(test_reason_kind)
{
	struct suite_result a = res("m", OUTCOME_FAIL, "crmig migrate failed (exit 1) on pid 4242", -1, -1);
	struct suite_result b = res("m", OUTCOME_FAIL, "crmig migrate failed (exit 3) on pid 777", -1, -1);
	struct suite_result c = res("m", OUTCOME_FAIL, "gap 12000 ms over 9000: too long", -1, -1);
	struct suite_result d = res("m", OUTCOME_FAIL, "gap 31000 ms over 9000: too long", -1, -1);
	struct suite_result k = res("m", OUTCOME_FAIL, "host a changed: cgroup2_mount was ...", -1, -1);
	char buf[128];

	validate_reason_kind(&a, buf, sizeof(buf));
	ck_assert_str_eq(buf, "crmig migrate failed");
	ck_assert_int_eq(validate_verdict_of(&a, &b), VV_UNCHANGED);
	validate_reason_kind(&c, buf, sizeof(buf));
	ck_assert_str_eq(buf, "gap ##### ms over ####");
	ck_assert_int_eq(validate_verdict_of(&c, &d), VV_UNCHANGED);
	ck_assert_int_eq(validate_verdict_of(&a, &c), VV_CHANGED);
	/* a known bug is its own kind: its id (digits kept) */
	snprintf(k.known_bug, sizeof(k.known_bug), "criu#3029: cgroup2 mount options");
	validate_reason_kind(&k, buf, sizeof(buf));
	ck_assert_str_eq(buf, "criu#3029");
	/* a known bug that becomes a real failure is a regression; the other way round is not */
	ck_assert_int_eq(validate_verdict_of(&k, &a), VV_REGRESSION);
	ck_assert_int_eq(validate_verdict_of(&a, &k), VV_CHANGED);
	validate_reason_kind(&a, buf, 5);
	ck_assert_str_eq(buf, "crmi");
}
END_TEST

START_TEST(test_threshold)
{
	/* both conditions: > 1.5 x and > 200 ms more */
	ck_assert(!validate_worse(1000, 1500, VALIDATE_RATIO, VALIDATE_DOWNTIME_ABS_MS));
	ck_assert(validate_worse(1000, 1501, VALIDATE_RATIO, VALIDATE_DOWNTIME_ABS_MS));
	ck_assert(!validate_worse(100, 290, VALIDATE_RATIO, VALIDATE_DOWNTIME_ABS_MS));  /* x2.9 but 190 ms */
	ck_assert(!validate_worse(100, 300, VALIDATE_RATIO, VALIDATE_DOWNTIME_ABS_MS));  /* exactly 200 ms more */
	ck_assert(validate_worse(100, 301, VALIDATE_RATIO, VALIDATE_DOWNTIME_ABS_MS));
	ck_assert(!validate_worse(-1, 5000, VALIDATE_RATIO, VALIDATE_DOWNTIME_ABS_MS));  /* unknown */
	ck_assert(!validate_worse(1000, -1, VALIDATE_RATIO, VALIDATE_DOWNTIME_ABS_MS));
	ck_assert(!validate_worse(3000, 1000, VALIDATE_RATIO, VALIDATE_DOWNTIME_ABS_MS)); /* faster */
}
END_TEST

START_TEST(test_figures_and_rerun)
{
	struct suite_result b = res("memory:bare:stop", OUTCOME_PASS, "", 1000, 1e6);
	struct suite_result slow = res("memory:bare:stop", OUTCOME_PASS, "", 2600, 1e6);
	struct suite_result ok_again = res("memory:bare:stop", OUTCOME_PASS, "", 1100, 1e6);
	struct suite_result slow_again = res("memory:bare:stop", OUTCOME_PASS, "", 2400, 1e6);
	struct suite_result fat = res("memory:bare:stop", OUTCOME_PASS, "", 1000, 8e6);
	struct suite_result fail_again = res("memory:bare:stop", OUTCOME_FAIL, "lab trouble", -1, -1);
	struct validate_pair *p = NULL;
	char text[1024];
	size_t n;

	ck_assert(validate_looks_worse(&b, &slow));
	ck_assert(!validate_looks_worse(&b, &ok_again));
	ck_assert(validate_looks_worse(&b, &fat));
	n = validate_pair_up(&b, 1, &slow, 1, &p);
	ck_assert_uint_eq(n, 1);
	ck_assert_double_eq_tol(p[0].fc.downtime_ms, 2600, 0.01);
	/* no re-run: looking worse once is not a regression */
	validate_apply_rerun(&p[0], NULL);
	ck_assert(!validate_pair_regressed(&p[0]));
	/* re-run fine: noise */
	validate_apply_rerun(&p[0], &ok_again);
	ck_assert(!validate_pair_regressed(&p[0]));
	validate_pair_text(&p[0], text, sizeof(text));
	ck_assert_msg(strstr(text, "downtime 1000 -> 2600 ms (x2.6; again 1100 ms): noise"), "%s", text);
	/* a failed re-run says nothing about figures */
	validate_apply_rerun(&p[0], &fail_again);
	ck_assert(!validate_pair_regressed(&p[0]));
	/* worse twice: a figure regression */
	validate_apply_rerun(&p[0], &slow_again);
	ck_assert(p[0].downtime_worse);
	ck_assert(!p[0].bytes_worse);
	ck_assert(validate_pair_regressed(&p[0]));
	validate_pair_text(&p[0], text, sizeof(text));
	ck_assert_msg(strstr(text, "again 2400 ms): worse"), "%s", text);
	free(p);
	/* the probe's gap stands in when crmig's report has no downtime */
	json_decref(b.crmig);
	b.crmig = NULL;
	b.probe_gap_ms = 1234;
	struct validate_figures f;
	validate_figures_of(&b, &f);
	ck_assert_double_eq_tol(f.downtime_ms, 1234, 0.01);
	ck_assert(f.bytes_before_resume < 0);
	res_free(&slow);
	res_free(&ok_again);
	res_free(&slow_again);
	res_free(&fat);
}
END_TEST

START_TEST(test_pair_up)
{
	struct suite_result base[3] = { res("lab:ssh", OUTCOME_PASS, "", -1, -1), res("m:bare:stop", OUTCOME_PASS, "", 900, 5e5),
					res("m:bare:pre", OUTCOME_PASS, "", 800, 5e5) };
	struct suite_result cand[3] = { res("m:bare:stop", OUTCOME_FAIL, "crmig migrate failed (exit 1): restore", -1, -1),
					res("lab:ssh", OUTCOME_PASS, "", -1, -1), res("m:lxc:stop", OUTCOME_PASS, "", 900, 5e5) };
	struct validate_pair *p = NULL;
	struct validate_counts c;
	char text[512];
	size_t n = validate_pair_up(base, 3, cand, 3, &p);

	ck_assert_uint_eq(n, 4);
	ck_assert_str_eq(p[0].id, "lab:ssh");
	ck_assert_int_eq(p[0].verdict, VV_UNCHANGED);
	ck_assert_str_eq(p[1].id, "m:bare:stop");
	ck_assert_int_eq(p[1].verdict, VV_REGRESSION);
	ck_assert(validate_pair_regressed(&p[1]));
	validate_pair_text(&p[1], text, sizeof(text));
	ck_assert_str_eq(text, "pass -> fail: crmig migrate failed (exit 1): restore");
	ck_assert_str_eq(p[2].id, "m:bare:pre");
	ck_assert_int_eq(p[2].verdict, VV_MISSING);
	ck_assert_ptr_null(p[2].cand);
	ck_assert_str_eq(p[3].id, "m:lxc:stop");
	ck_assert_int_eq(p[3].verdict, VV_MISSING);
	validate_count(p, n, &c);
	ck_assert_uint_eq(c.unchanged, 1);
	ck_assert_uint_eq(c.regression, 1);
	ck_assert_uint_eq(c.missing, 2);
	ck_assert_uint_eq(c.figure_regression, 0);
	free(p);
	for (int i = 0; i < 3; i++) {
		res_free(&base[i]);
		res_free(&cand[i]);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("validate");
	TCase *tc = tcase_create("pure");

	tcase_add_test(tc, test_verdicts);
	tcase_add_test(tc, test_reason_kind);
	tcase_add_test(tc, test_threshold);
	tcase_add_test(tc, test_figures_and_rerun);
	tcase_add_test(tc, test_pair_up);
	suite_add_tcase(s, tc);
	return unit_run(s) ? EXIT_FAILURE : EXIT_SUCCESS;
}
