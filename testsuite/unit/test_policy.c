/* Convergence policy: every verdict, the order in which they are decided,
 * and each boundary (<= vs <) of the thresholds. */
#include <check.h>
#include <math.h>
#include <stdint.h>

#include "policy.h"
#include "unit.h"

#define DECIDE(p, ...) ({ \
	const uint64_t pages_[] = { __VA_ARGS__ }; \
	policy_decide((p), pages_, sizeof(pages_) / sizeof(pages_[0])); })

static struct converge_policy defaults(void)
{
	struct converge_policy p;

	policy_defaults(&p);
	return p;
}

START_TEST(test_defaults)
{
	struct converge_policy p = defaults();

	ck_assert_int_eq(p.max_rounds, 8);
	ck_assert_uint_eq(p.small_pages, 256);
	ck_assert_double_eq_tol(p.small_fraction, 0.02, 1e-12);
	ck_assert_double_eq_tol(p.min_shrink, 0.10, 1e-12);
	ck_assert_double_eq_tol(p.max_traffic, 2.0, 1e-12);
	ck_assert_ptr_null(policy_check(&p));
}
END_TEST

START_TEST(test_check_rounds)
{
	struct converge_policy p = defaults();

	p.max_rounds = 0;
	ck_assert_ptr_nonnull(policy_check(&p));
	p.max_rounds = -3;
	ck_assert_ptr_nonnull(policy_check(&p));
	p.max_rounds = 65;
	ck_assert_ptr_nonnull(policy_check(&p));
	p.max_rounds = 1;
	ck_assert_ptr_null(policy_check(&p));
	p.max_rounds = 64;
	ck_assert_ptr_null(policy_check(&p));
	ck_assert_ptr_nonnull(policy_check(NULL));
}
END_TEST

START_TEST(test_check_fractions)
{
	const double bad[] = { -0.01, 1.0, 1.5, NAN, INFINITY, -INFINITY };
	const double good[] = { 0.0, 0.5, 0.999 };
	struct converge_policy p = defaults();

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = defaults();
		p.small_fraction = bad[i];
		ck_assert_msg(policy_check(&p), "small_fraction %g accepted", bad[i]);
		p = defaults();
		p.min_shrink = bad[i];
		ck_assert_msg(policy_check(&p), "min_shrink %g accepted", bad[i]);
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		p = defaults();
		p.small_fraction = good[i];
		p.min_shrink = good[i];
		ck_assert_ptr_null(policy_check(&p));
	}
}
END_TEST

START_TEST(test_small_absolute_boundary)
{
	struct converge_policy p = defaults();

	/* First round tiny: 0.02 * 256 < 256, the absolute floor decides. */
	ck_assert_int_eq(DECIDE(&p, 256), CONVERGE_SMALL);
	ck_assert_int_eq(DECIDE(&p, 257), CONVERGE_CONTINUE);
	ck_assert_int_eq(DECIDE(&p, 0), CONVERGE_SMALL);
	ck_assert_int_eq(DECIDE(&p, 100000, 256), CONVERGE_SMALL);
}
END_TEST

START_TEST(test_small_fraction_boundary)
{
	struct converge_policy p = defaults();

	/* 2 % of 100000 = 2000 > 256: the fraction decides. */
	ck_assert_int_eq(DECIDE(&p, 100000, 2000), CONVERGE_SMALL);
	ck_assert_int_eq(DECIDE(&p, 100000, 2001), CONVERGE_CONTINUE);
	/* floor(0.02 * 100049) = 2000 */
	ck_assert_int_eq(DECIDE(&p, 100049, 2000), CONVERGE_SMALL);
	ck_assert_int_eq(DECIDE(&p, 100049, 2001), CONVERGE_CONTINUE);
	p.small_fraction = 0;
	ck_assert_int_eq(DECIDE(&p, 100000, 2000), CONVERGE_CONTINUE);
}
END_TEST

START_TEST(test_not_shrinking_boundary)
{
	struct converge_policy p = defaults();

	p.max_traffic = 100; /* this rule alone */
	/* exactly 10 % smaller is enough; one page less shrink is not */
	ck_assert_int_eq(DECIDE(&p, 10000, 9000), CONVERGE_CONTINUE);
	ck_assert_int_eq(DECIDE(&p, 10000, 9001), CONVERGE_NOT_SHRINKING);
	ck_assert_int_eq(DECIDE(&p, 10000, 10000), CONVERGE_NOT_SHRINKING);
	ck_assert_int_eq(DECIDE(&p, 10000, 12000), CONVERGE_NOT_SHRINKING);
	/* only the last two rounds count */
	ck_assert_int_eq(DECIDE(&p, 10000, 9500, 9000), CONVERGE_NOT_SHRINKING);
	ck_assert_int_eq(DECIDE(&p, 10000, 20000, 18000), CONVERGE_CONTINUE);
	p.min_shrink = 0;
	ck_assert_int_eq(DECIDE(&p, 10000, 10000), CONVERGE_CONTINUE);
	ck_assert_int_eq(DECIDE(&p, 10000, 10001), CONVERGE_NOT_SHRINKING);
}
END_TEST

START_TEST(test_max_rounds_boundary)
{
	struct converge_policy p = defaults();

	p.max_traffic = 100; /* this rule alone */
	ck_assert_int_eq(DECIDE(&p, 100000, 80000, 64000, 51000, 40000, 32000, 25000), CONVERGE_CONTINUE);
	ck_assert_int_eq(DECIDE(&p, 100000, 80000, 64000, 51000, 40000, 32000, 25000, 20000),
			 CONVERGE_MAX_ROUNDS);
	p.max_rounds = 1;
	ck_assert_int_eq(DECIDE(&p, 100000), CONVERGE_MAX_ROUNDS);
}
END_TEST

START_TEST(test_order)
{
	struct converge_policy p = defaults();

	/* small wins over not-shrinking: 256 <= 256 although it shrank < 10 % */
	ck_assert_int_eq(DECIDE(&p, 257, 256), CONVERGE_SMALL);
	/* small wins over max rounds */
	p.max_rounds = 2;
	ck_assert_int_eq(DECIDE(&p, 100000, 100), CONVERGE_SMALL);
	/* not-shrinking wins over max rounds */
	ck_assert_int_eq(DECIDE(&p, 100000, 95000), CONVERGE_NOT_SHRINKING);
	ck_assert_int_eq(DECIDE(&p, 100000, 50000), CONVERGE_MAX_ROUNDS);
}
END_TEST

START_TEST(test_edges)
{
	const uint64_t huge[] = { UINT64_MAX, UINT64_MAX };
	const uint64_t one[] = { 1000000 };

	ck_assert_int_eq(policy_decide(NULL, one, 1), CONVERGE_CONTINUE);
	ck_assert_int_eq(policy_decide(NULL, one, 0), CONVERGE_CONTINUE);
	ck_assert_int_eq(policy_decide(NULL, NULL, 3), CONVERGE_CONTINUE);
	ck_assert_int_eq(policy_decide(NULL, huge, 2), CONVERGE_NOT_SHRINKING);
	ck_assert_int_eq(policy_decide(NULL, huge, 1), CONVERGE_CONTINUE);
}
END_TEST

START_TEST(test_names)
{
	ck_assert_str_eq(policy_verdict_name(CONVERGE_CONTINUE), "continue");
	ck_assert_str_eq(policy_verdict_name(CONVERGE_SMALL), "small");
	ck_assert_str_eq(policy_verdict_name(CONVERGE_NOT_SHRINKING), "not-shrinking");
	ck_assert_str_eq(policy_verdict_name(CONVERGE_MAX_ROUNDS), "max-rounds");
	ck_assert_str_eq(policy_verdict_name(CONVERGE_TRAFFIC), "traffic-bound");
	ck_assert_str_eq(policy_verdict_name(CONVERGE_DEST_FULL), "destination-full");
	ck_assert_str_eq(policy_verdict_name((enum converge_verdict)42), "unknown");
	ck_assert(policy_converged(CONVERGE_SMALL));
	ck_assert(!policy_converged(CONVERGE_NOT_SHRINKING));
	ck_assert(!policy_converged(CONVERGE_TRAFFIC));
	ck_assert(!policy_converged(CONVERGE_DEST_FULL));
	ck_assert(!policy_converged(CONVERGE_MAX_ROUNDS));
	ck_assert(!policy_converged(CONVERGE_CONTINUE));
}
END_TEST

START_TEST(test_check_traffic)
{
	const double bad[] = { 0.5, 0.999, 100.01, -1, NAN, INFINITY };
	const double good[] = { 0, 1, 2.5, 100 };
	struct converge_policy p;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = defaults();
		p.max_traffic = bad[i];
		ck_assert_msg(policy_check(&p), "max_traffic %g accepted", bad[i]);
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		p = defaults();
		p.max_traffic = good[i];
		ck_assert_msg(!policy_check(&p), "max_traffic %g refused", good[i]);
	}
}
END_TEST

START_TEST(test_traffic_boundary)
{
	struct converge_policy p = defaults();

	/* default 2 x the first round; the next round guessed as big as the last */
	ck_assert_int_eq(DECIDE(&p, 1000), CONVERGE_CONTINUE);
	ck_assert_int_eq(DECIDE(&p, 1000, 500), CONVERGE_CONTINUE);       /* 1500 + 500 = 2000 */
	ck_assert_int_eq(DECIDE(&p, 1000, 501), CONVERGE_TRAFFIC);        /* 1501 + 501 > 2000 */
	ck_assert_int_eq(DECIDE(&p, 1000, 880), CONVERGE_TRAFFIC);        /* shrinks 12 %, still too much */
	p.max_traffic = 3;
	ck_assert_int_eq(DECIDE(&p, 1000, 880), CONVERGE_CONTINUE);       /* 2760 */
	ck_assert_int_eq(DECIDE(&p, 1000, 880, 770), CONVERGE_TRAFFIC);   /* 3420 */
	p.max_traffic = 1;                                                /* one round only */
	ck_assert_int_eq(DECIDE(&p, 1000), CONVERGE_TRAFFIC);
	p.max_traffic = 0;                                                /* unset: the default */
	ck_assert_int_eq(DECIDE(&p, 1000, 500), CONVERGE_CONTINUE);
	ck_assert_int_eq(DECIDE(&p, 1000, 501), CONVERGE_TRAFFIC);
	/* not-shrinking is named first when both hold */
	p = defaults();
	ck_assert_int_eq(DECIDE(&p, 1000, 1000), CONVERGE_NOT_SHRINKING);
}
END_TEST

START_TEST(test_dest_room_boundary)
{
	struct converge_policy p = defaults();
	const uint64_t one[] = { 1000 }, flat[] = { 1000, 1000 }, conv[] = { 100000, 100 };

	/* room for another round and the final dump, each as big as the last */
	ck_assert_int_eq(policy_decide_room(&p, one, 1, 2000), CONVERGE_CONTINUE);
	ck_assert_int_eq(policy_decide_room(&p, one, 1, 2001), CONVERGE_CONTINUE);
	ck_assert_int_eq(policy_decide_room(&p, one, 1, 1999), CONVERGE_DEST_FULL);
	ck_assert_int_eq(policy_decide_room(&p, one, 1, 0), CONVERGE_DEST_FULL);
	ck_assert_int_eq(policy_decide_room(&p, one, 1, POLICY_FREE_UNKNOWN), CONVERGE_CONTINUE);
	/* converged beats a full disk (the final dump is small); a full disk beats the rest */
	ck_assert_int_eq(policy_decide_room(&p, conv, 2, 0), CONVERGE_SMALL);
	ck_assert_int_eq(policy_decide_room(&p, flat, 2, 0), CONVERGE_DEST_FULL);
	ck_assert_int_eq(policy_decide_room(&p, flat, 2, POLICY_FREE_UNKNOWN), CONVERGE_NOT_SHRINKING);
	/* policy_decide knows no limit */
	ck_assert_int_eq(policy_decide(&p, one, 1), CONVERGE_CONTINUE);
}
END_TEST

/* A workload of 1 GiB dirtying 10 %/s of its pages, rounds at link rates
 * from 5 MB/s to 2 GB/s: whatever the link, the rounds end, and they never
 * send more than max_traffic x the workload. */
START_TEST(test_always_ends)
{
	const double total = 262144, dirty_per_s = 0.10;
	struct converge_policy p = defaults();

	for (double mbps = 5; mbps <= 2000; mbps *= 1.25) {
		uint64_t pages[64];
		enum converge_verdict v = CONVERGE_CONTINUE;
		double sent = 0;
		size_t n = 0;

		pages[n++] = (uint64_t)total;
		sent = total;
		while ((v = policy_decide(&p, pages, n)) == CONVERGE_CONTINUE) {
			double secs = (double)pages[n - 1] * 4096 / (mbps * 1e6);
			double dirtied = total * (1 - pow(1 - dirty_per_s, secs)); /* distinct pages hit */

			ck_assert_uint_lt(n, 64);
			pages[n++] = (uint64_t)dirtied;
			sent += dirtied;
		}
		ck_assert_msg(n <= (size_t)p.max_rounds, "%g MB/s: %zu rounds", mbps, n);
		ck_assert_msg(sent <= p.max_traffic * total, "%g MB/s: the rounds sent %.0f pages of %.0f", mbps,
			      sent, total);
		/* slow links cannot converge: stopped with a reason, never "small" */
		if (mbps < 50)
			ck_assert_msg(!policy_converged(v), "%g MB/s converged: %s", mbps, policy_verdict_name(v));
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("policy");
	TCase *tc = tcase_create("policy");

	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_check_rounds);
	tcase_add_test(tc, test_check_fractions);
	tcase_add_test(tc, test_small_absolute_boundary);
	tcase_add_test(tc, test_small_fraction_boundary);
	tcase_add_test(tc, test_not_shrinking_boundary);
	tcase_add_test(tc, test_max_rounds_boundary);
	tcase_add_test(tc, test_order);
	tcase_add_test(tc, test_edges);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_check_traffic);
	tcase_add_test(tc, test_traffic_boundary);
	tcase_add_test(tc, test_dest_room_boundary);
	tcase_add_test(tc, test_always_ends);
	suite_add_tcase(s, tc);
	return unit_run(s) ? 1 : 0;
}
