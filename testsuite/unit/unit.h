/* What every unit test's main() shares: run a Check suite and say whether
 * all of it passed. Forks per case unless CK_FORK=no (make check-unit's
 * valgrind pass sets it); CK_RUN_CASE=NAME runs one case. */
#ifndef CRMIG_UNIT_H
#define CRMIG_UNIT_H

#include <check.h>

/* The number of failed checks of S (0: all passed); frees the runner. */
static inline int unit_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed;
}

#endif
