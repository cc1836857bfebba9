/* The soak's pure parts (testsuite/runner/soak.c): --rounds, the strategy
 * cycle, serve's samples and the round checks' answers as the guests print
 * them, the leak verdict against its limits, and the figures' wording. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../runner/soak.h"
#include "unit.h"

START_TEST(test_rounds)
{
	int n = -7;

	ck_assert_int_eq(soak_parse_rounds("100", &n), 0);
	ck_assert_int_eq(n, 100);
	ck_assert_int_eq(soak_parse_rounds("1", &n), 0);
	ck_assert_int_eq(n, 1);
	n = 42;
	for (const char *bad[] = { "0", "-1", "+3", "", "3x", "x", " 5", "100001", "99999999999999999999", NULL }, **b = bad;
	     *b; b++) {
		ck_assert_msg(soak_parse_rounds(*b, &n) == -1, "'%s' accepted", *b);
		ck_assert_int_eq(n, 42); /* untouched */
	}
	ck_assert_int_eq(soak_parse_rounds(NULL, &n), -1);
}
END_TEST

START_TEST(test_cycle)
{
	/* table order, one a round, again from the first */
	const unsigned all[] = { ST_STOP, ST_PRE, ST_POST, ST_HYBRID, ST_STOP, ST_PRE };
	for (int r = 1; r <= 6; r++)
		ck_assert_uint_eq(soak_strategy_for_round(ST_ALL, r), all[r - 1]);
	/* an unsupported strategy is left out of the cycle, not run */
	ck_assert_uint_eq(soak_strategy_for_round(ST_STOP | ST_POST, 1), ST_STOP);
	ck_assert_uint_eq(soak_strategy_for_round(ST_STOP | ST_POST, 2), ST_POST);
	ck_assert_uint_eq(soak_strategy_for_round(ST_STOP | ST_POST, 3), ST_STOP);
	ck_assert_uint_eq(soak_strategy_for_round(ST_HYBRID, 77), ST_HYBRID);
	/* over 100 rounds every strategy runs 25 times */
	unsigned count[16] = { 0 };
	for (int r = 1; r <= 100; r++)
		count[soak_strategy_for_round(ST_ALL, r)]++;
	ck_assert_uint_eq(count[ST_STOP], 25);
	ck_assert_uint_eq(count[ST_PRE], 25);
	ck_assert_uint_eq(count[ST_POST], 25);
	ck_assert_uint_eq(count[ST_HYBRID], 25);
	ck_assert_uint_eq(soak_strategy_for_round(0, 1), 0);
	ck_assert_uint_eq(soak_strategy_for_round(ST_ALL, 0), 0);
}
END_TEST

START_TEST(test_sample)
{
	struct soak_sample s;

	ck_assert_int_eq(soak_parse_sample("pid=812 rss_kb=5224 fds=9 children=0 files=3\n", &s), 0);
	ck_assert_int_eq(s.pid, 812);
	ck_assert_int_eq(s.rss_kb, 5224);
	ck_assert_int_eq(s.fds, 9);
	ck_assert_int_eq(s.children, 0);
	ck_assert_int_eq(s.files, 3);
	/* any order */
	ck_assert_int_eq(soak_parse_sample("files=1 children=2 fds=3 rss_kb=4 pid=5", &s), 0);
	ck_assert_int_eq(s.children, 2);
	for (const char *bad[] = { "", "no crmig serve runs on this host", "pid=1 rss_kb=2 fds=3 children=4",
				   "pid=1 rss_kb=2 fds=3 children=4 files=5 files=6", "pid=1 rss_kb=x fds=3 children=4 files=5",
				   "pid=1 rss_kb=-2 fds=3 children=4 files=5", "pid=0 rss_kb=2 fds=3 children=4 files=5",
				   "pid=1 rss_kb=2 fds=3 children=4 files=5 mood=6", "pid=1 rss_kb= fds=3 children=4 files=5",
				   NULL },
			 **b = bad;
	     *b; b++)
		ck_assert_msg(soak_parse_sample(*b, &s) == -1, "'%s' accepted", *b);
}
END_TEST

START_TEST(test_round_answer)
{
	char why[256];

	ck_assert_int_eq(soak_parse_round("3 PASS\n", 3, why, sizeof(why)), 1);
	ck_assert_int_eq(soak_parse_round("4 FAIL: 1 of 8192 pages bad; first: page 17 stale\n", 4, why, sizeof(why)), 0);
	ck_assert_str_eq(why, "1 of 8192 pages bad; first: page 17 stale");
	/* the workload ended instead (wl_fail during the check) */
	ck_assert_int_eq(soak_parse_round("verdict: FAIL: received stream: byte 77 differs \n", 2, why, sizeof(why)), 0);
	ck_assert_ptr_nonnull(strstr(why, "byte 77 differs"));
	/* an old answer is no answer: the round must not pass on the previous one */
	ck_assert_int_eq(soak_parse_round("2 PASS\n", 3, why, sizeof(why)), -1);
	ck_assert_ptr_nonnull(strstr(why, "round check 2, not 3"));
	ck_assert_int_eq(soak_parse_round("(none within 120 s; last: 2 PASS)\n", 3, why, sizeof(why)), -1);
	ck_assert_int_eq(soak_parse_round("", 1, why, sizeof(why)), -1);
	ck_assert_int_eq(soak_parse_round("1 MAYBE\n", 1, why, sizeof(why)), -1);
	ck_assert_int_eq(soak_parse_round("1PASS\n", 1, why, sizeof(why)), -1);
	ck_assert_int_eq(soak_parse_round("-1 PASS\n", 1, why, sizeof(why)), -1);
	ck_assert_int_eq(soak_parse_round(NULL, 1, why, sizeof(why)), -1);
}
END_TEST

static struct soak_sample sample(long rss, long fds, long children, long files)
{
	return (struct soak_sample){ .pid = 100, .rss_kb = rss, .fds = fds, .children = children, .files = files };
}

START_TEST(test_leak_verdict)
{
	struct soak_limits lim = SOAK_LIMITS_DEFAULT;
	struct soak_sample a = sample(5222, 9, 0, 3), b;
	char why[512];

	/* noise: RSS within 4 MiB, the rest equal; shrinking is fine */
	b = sample(5222 + 4096, 9, 0, 3);
	ck_assert(soak_leak_verdict(&a, &b, &lim, why, sizeof(why)));
	ck_assert_str_eq(why, "");
	b = sample(4000, 8, 0, 2);
	ck_assert(soak_leak_verdict(&a, &b, &lim, why, sizeof(why)));
	/* beyond it, each named with its figures */
	b = sample(5222 + 4097, 9, 0, 3);
	ck_assert(!soak_leak_verdict(&a, &b, &lim, why, sizeof(why)));
	ck_assert_str_eq(why, "rss (kB) grew by 4097 (5222 to 9319; allowed +4096)");
	b = sample(5222, 10, 1, 4);
	ck_assert(!soak_leak_verdict(&a, &b, &lim, why, sizeof(why)));
	ck_assert_ptr_nonnull(strstr(why, "open fds grew by 1 (9 to 10; allowed +0)"));
	ck_assert_ptr_nonnull(strstr(why, "child processes grew by 1"));
	ck_assert_ptr_nonnull(strstr(why, "files under its state directory grew by 1"));
	/* a serve that restarted hides any leak: a failure of its own */
	b = sample(5222, 9, 0, 3);
	b.pid = 101;
	ck_assert(!soak_leak_verdict(&a, &b, &lim, why, sizeof(why)));
	ck_assert_ptr_nonnull(strstr(why, "restarted"));
	/* looser limits are honoured */
	lim.fds = 2;
	b = sample(5222, 11, 0, 3);
	ck_assert(soak_leak_verdict(&a, &b, &lim, why, sizeof(why)));
}
END_TEST

START_TEST(test_figures)
{
	struct soak_sample a = sample(5222, 9, 0, 3), b = sample(5325, 9, 0, 3);
	char buf[256];

	soak_figures("a", &a, &b, buf, sizeof(buf));
	ck_assert_str_eq(buf, "serve on a: rss 5.1\u21925.2 MiB, fds 9\u21929, children 0\u21920, files 3\u21923");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("soak");
	TCase *tc = tcase_create("pure");

	tcase_add_test(tc, test_rounds);
	tcase_add_test(tc, test_cycle);
	tcase_add_test(tc, test_sample);
	tcase_add_test(tc, test_round_answer);
	tcase_add_test(tc, test_leak_verdict);
	tcase_add_test(tc, test_figures);
	suite_add_tcase(s, tc);
	return unit_run(s) ? EXIT_FAILURE : EXIT_SUCCESS;
}
