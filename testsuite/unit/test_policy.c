/* Convergence policy: every verdict, the order in which they are decided,
 * and each boundary (<= vs <) of the thresholds. */
#include <check.h>
#include <math.h>
#include <stdint.h>

#include "policy.h"

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
	ck_assert_str_eq(policy_verdict_name((enum converge_verdict)42), "unknown");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("policy");
	TCase *tc = tcase_create("policy");
	SRunner *sr;
	int failed;

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
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
