#include <libgen.h>

#include "runner.h"
#include "util.h"

volatile sig_atomic_t runner_interrupted;

/* Where the cases, the zdtm selection and vm-images live: $CRMIG_SUITE_DATA, next to the binary
 * when installed, or the source tree when run from build/host. */
char *suite_data_dir(const char *what)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	const char *env = getenv("CRMIG_SUITE_DATA");
	char *candidates[3] = { NULL };

	if (env)
		candidates[0] = xasprintf("%s/%s", env, what);
	if (n > 0) {
		exe[n] = '\0';
		dirname(exe);
		candidates[1] = xasprintf("%s/%s", exe, what);
		/* the source tree: cases/, zdtm/ and gui/ live under testsuite/ */
		candidates[2] = xasprintf("%s/../../%s%s", exe,
					  strcmp(what, "cases") && strcmp(what, "zdtm") && strcmp(what, "gui") ? "" : "testsuite/", what);
	}
	for (int i = 0; i < 3; i++) {
		if (candidates[i] && access(candidates[i], F_OK) == 0) {
			char *found = xstrdup(candidates[i]);
			for (int j = 0; j < 3; j++)
				free(candidates[j]);
			return found;
		}
	}
	for (int j = 0; j < 3; j++)
		free(candidates[j]);
	return NULL;
}

