/* Case files (testsuite/runner/cases.c case_load, with inih beneath): the
 * input is the file; one that loads is expanded into instances too. */
#include "fuzz.h"
#include "../runner/suite.h"

static struct fuzz_dir dir;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	__do_free char *path = NULL;
	struct suite_instance *list = NULL;
	struct suite_case c;
	char err[512];
	size_t n = 0;

	fuzz_dir_init(&dir);
	path = xasprintf("%s/fuzz.case", dir.sentinel);
	if (write_file(path, data, len, 0600) < 0)
		abort();
	err[0] = '\0';
	if (case_load(path, &c, err, sizeof(err)) < 0) {
		if (!err[0])
			abort();
		return 0;
	}
	if (!c.strategies || !c.modes || c.timeout_s <= 0)
		abort();
	if (instances_expand(&c, 1, "full", NULL, ST_ALL, MODE_ALL, 1, 1, &list, &n) == 0 && !n)
		abort();
	free(list);
	return 0;
}
