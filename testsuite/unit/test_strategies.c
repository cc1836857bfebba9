/* The strategy table (ref/strategies.c): what each strategy needs of criu,
 * why a host cannot run it, and the JSON `crmig check --json` publishes. */
#include <check.h>
#include <string.h>

#include "migrate.h"
#include "unit.h"

START_TEST(test_needs)
{
	const char *f[4];

	ck_assert_uint_eq(strategy_features(strategy_by_name("stop"), f, 4), 0);
	ck_assert_uint_eq(strategy_features(strategy_by_name("pre"), f, 4), 1);
	ck_assert_str_eq(f[0], "mem_dirty_track");
	ck_assert_uint_eq(strategy_features(strategy_by_name("post"), f, 4), 1);
	ck_assert_str_eq(f[0], "uffd-noncoop");
	ck_assert_uint_eq(strategy_features(strategy_by_name("hybrid"), f, 4), 2);
	ck_assert_uint_eq(strategy_features(strategy_by_name("hybrid"), f, 1), 1); /* never past max */
	ck_assert_ptr_null(strategy_by_name("lazy"));
	ck_assert_ptr_null(strategy_by_name(NULL));
}
END_TEST

START_TEST(test_why_not)
{
	struct criu_info none = { .present = false }, soft = { .present = true, .uffd_noncoop = true },
			 all = { .present = true, .mem_dirty_track = true, .uffd_noncoop = true };

	snprintf(none.why_not, sizeof(none.why_not), "criu 3.17 cannot start on kernel 6.18");
	for (const struct strategy *const *s = strategies_all; *s; s++) {
		ck_assert_str_eq(strategy_why_not(*s, &none), "criu 3.17 cannot start on kernel 6.18");
		ck_assert_ptr_null(strategy_why_not(*s, &all));
	}
	/* a host without soft-dirty (this project's own machine): pre and hybrid say why */
	ck_assert_ptr_null(strategy_why_not(&strategy_stop, &soft));
	ck_assert_ptr_null(strategy_why_not(&strategy_post, &soft));
	ck_assert_ptr_nonnull(strstr(strategy_why_not(&strategy_pre, &soft), "soft-dirty"));
	ck_assert_ptr_nonnull(strstr(strategy_why_not(&strategy_hybrid, &soft), "soft-dirty"));
}
END_TEST

START_TEST(test_json)
{
	json_auto_t *j = strategies_json();
	json_t *pre = json_object_get(j, "pre");

	ck_assert_uint_eq(json_object_size(j), 4);
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(pre, "needs"), 0)), "mem_dirty_track");
	ck_assert_uint_eq(json_array_size(json_object_get(json_object_get(j, "hybrid"), "needs")), 2);
	ck_assert_ptr_nonnull(json_string_value(json_object_get(pre, "summary")));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("strategies");
	TCase *tc = tcase_create("strategies");

	tcase_add_test(tc, test_needs);
	tcase_add_test(tc, test_why_not);
	tcase_add_test(tc, test_json);
	suite_add_tcase(s, tc);
	return unit_run(s) ? 1 : 0;
}
