/* Inputs the fuzzers (testsuite/fuzz/) crashed on, each as its bytes, fed to
 * the function that crashed. Under ASan (make check-sanitize) each of these
 * failed before its fix; plainly they check the refusal itself. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../runner/suite.h"
#include "util.h"
#include "unit.h"

static char tmpdir[] = "/tmp/crmig-test-fuzzreg-XXXXXX";

static void setup_dir(void)
{
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown_dir(void)
{
	remove_tree(tmpdir);
	strcpy(tmpdir, "/tmp/crmig-test-fuzzreg-XXXXXX");
}

/* fuzz_case_file: an unknown key made name_index() read past the end of
 * key_names[], which had no NULL at its end (global-buffer-overflow). */
START_TEST(test_case_unknown_key)
{
	static const unsigned char input[] = {
		0x5b, 0x63, 0x61, 0x73, 0x65, 0x5d, 0x0a, 0x77, 0x6f, 0x6c, 0x6b, 0x61, 0x64, 0x20, 0x3d, 0x20,
		0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 0x0a, /* "[case]\nwolkad = memory\n" */
	};
	__do_free char *path = xasprintf("%s/typo.case", tmpdir);
	struct suite_case c;
	char err[512];

	ck_assert_int_eq(write_file(path, input, sizeof(input), 0600), 0);
	ck_assert_int_eq(case_load(path, &c, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, ":2: wolkad: unknown key"), "%s", err);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fuzz_regressions");
	TCase *tc = tcase_create("inputs");

	tcase_add_checked_fixture(tc, setup_dir, teardown_dir);
	tcase_add_test(tc, test_case_unknown_key);
	suite_add_tcase(s, tc);
	return unit_run(s) ? EXIT_FAILURE : EXIT_SUCCESS;
}
