/* The runner's own judgements: what makes crmig's report complete, and which
 * failures are known upstream bugs (never one of ours). */
#include <check.h>
#include <jansson.h>

#include "../runner/instance.h"
#include "../runner/runner.h"
#include "util.h"
#include "unit.h"

static json_t *good_report(void)
{
	return json_pack("{s:s, s:s, s:f, s:f, s:I, s:I, s:i, s:f, s:[], s:[[s]], s:{}}", "strategy", "stop", "result", "ok",
			 "downtime_ms", 10.0, "frozen_ms", 11.0, "bytes_before_resume", (json_int_t)1, "bytes_total",
			 (json_int_t)2, "rounds", 0, "lazy_ms", 0.0, "phases", "criu_argv", "criu", "versions");
}

START_TEST(test_complete_report)
{
	json_t *r = good_report();
	char why[256];

	ck_assert(crmig_report_complete(r, why, sizeof(why)));
	json_decref(r);
}
END_TEST

START_TEST(test_incomplete_reports)
{
	static const char *const keys[] = { "strategy", "result", "downtime_ms", "frozen_ms", "bytes_before_resume",
					    "bytes_total", "rounds", "lazy_ms", "phases", "criu_argv", "versions" };
	char why[256];

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		json_t *r = good_report();

		json_object_del(r, keys[i]);
		ck_assert_msg(!crmig_report_complete(r, why, sizeof(why)), "missing %s accepted", keys[i]);
		ck_assert(strstr(why, keys[i]));
		json_object_set_new(r, keys[i], json_string("wrong type"));
		if (strcmp(keys[i], "strategy") && strcmp(keys[i], "result"))
			ck_assert_msg(!crmig_report_complete(r, why, sizeof(why)), "mistyped %s accepted", keys[i]);
		json_decref(r);
	}
	{
		json_t *r = good_report();
		json_object_set_new(r, "result", json_string("rolled-back"));
		ck_assert(!crmig_report_complete(r, why, sizeof(why)));
		ck_assert(strstr(why, "without an error"));
		json_object_set_new(r, "error", json_string("the destination failed"));
		ck_assert(crmig_report_complete(r, why, sizeof(why)));
		json_decref(r);
	}
	{
		json_t *r = good_report();
		json_array_clear(json_object_get(r, "criu_argv"));
		ck_assert(!crmig_report_complete(r, why, sizeof(why)));
		json_decref(r);
	}
}
END_TEST

static struct suite_case lxc_case = { .name = "x" };

START_TEST(test_known_bugs)
{
	struct suite_result r = { .outcome = OUTCOME_FAIL, .inst = { .c = &lxc_case, .mode = MODE_LXC } };

	snprintf(r.reason, sizeof(r.reason), "host a changed: cgroup2_mount was \"rw,relatime - cgroup2 cgroup2 "
					     "rw,nsdelegate\", is now \"rw,relatime - cgroup2 cgroup2 rw\"");
	known_bug_classify(&r);
	ck_assert(strstr(r.known_bug, "criu#3029"));
	ck_assert(!result_counts_as_failure(&r));

	/* a known bug next to a failure of ours hides nothing */
	memset(r.known_bug, 0, sizeof(r.known_bug));
	strcat(r.reason, REASON_SEP "the workload failed its own checks on host b");
	known_bug_classify(&r);
	ck_assert_str_eq(r.known_bug, "");
	ck_assert(result_counts_as_failure(&r));
	snprintf(r.reason, sizeof(r.reason), "host a changed: cgroup2_mount was \"rw,relatime - cgroup2 cgroup2 "
					     "rw,nsdelegate\", is now \"rw,relatime - cgroup2 cgroup2 rw\"");

	/* the same change on a bare case is not that bug: it stays a failure */
	memset(r.known_bug, 0, sizeof(r.known_bug));
	r.inst.mode = MODE_BARE;
	known_bug_classify(&r);
	ck_assert_str_eq(r.known_bug, "");
	ck_assert(result_counts_as_failure(&r));

	/* any other failure of an lxc case stays one */
	r.inst.mode = MODE_LXC;
	snprintf(r.reason, sizeof(r.reason), "the workload failed its own checks on host b");
	known_bug_classify(&r);
	ck_assert_str_eq(r.known_bug, "");
	ck_assert(result_counts_as_failure(&r));

	r.outcome = OUTCOME_PASS;
	ck_assert(!result_counts_as_failure(&r));
}
END_TEST

/* An interrupted run: what failed in flight is a skip saying so; a verdict reached before stays. */
START_TEST(test_interrupted_is_no_verdict)
{
	struct suite_result fail = { .outcome = OUTCOME_FAIL }, pass = { .outcome = OUTCOME_PASS };

	snprintf(fail.reason, sizeof(fail.reason), "the payload has no zdtm/tests.tsv");
	inst_interrupted(&fail); /* not interrupted: unchanged */
	ck_assert_int_eq(fail.outcome, OUTCOME_FAIL);
	runner_interrupted = 1;
	inst_interrupted(&fail);
	inst_interrupted(&pass);
	runner_interrupted = 0;
	ck_assert_int_eq(fail.outcome, OUTCOME_SKIP);
	ck_assert_msg(strstr(fail.reason, "interrupted") && strstr(fail.reason, "no zdtm/tests.tsv"), "%s", fail.reason);
	ck_assert_int_eq(pass.outcome, OUTCOME_PASS);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("runner");
	TCase *tc = tcase_create("judgements");

	tcase_add_test(tc, test_complete_report);
	tcase_add_test(tc, test_incomplete_reports);
	tcase_add_test(tc, test_known_bugs);
	tcase_add_test(tc, test_interrupted_is_no_verdict);
	suite_add_tcase(s, tc);
	return unit_run(s) ? 1 : 0;
}
