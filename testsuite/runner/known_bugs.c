/* Failures the suite catches that are known upstream bugs. They stay
 * visible in every report (TAP "# TODO", JUnit skipped with the reason, JSON
 * "known_bug") but do not fail the run; when upstream fixes one, the case
 * passes and the entry here can go. Keep each match narrow: an entry must
 * never hide a failure of crmig's own. */
#include "suite.h"
#include "util.h"

struct known_bug {
	const char *reason_contains;   /* in the failure's reason */
	const char *mode;              /* "lxc", "bare" or NULL for both */
	const char *bug;
};

static const struct known_bug known_bugs[] = {
	{ "cgroup2_mount was \"rw,relatime - cgroup2 cgroup2 rw,nsdelegate\"", "lxc",
	  "criu#3029: checkpointing a container remounts the host's cgroup2 without nsdelegate" },
};

bool result_counts_as_failure(const struct suite_result *r)
{
	return r->outcome == OUTCOME_FAIL && !r->known_bug[0];
}

void known_bug_classify(struct suite_result *r)
{
	if (r->outcome != OUTCOME_FAIL)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(known_bugs); i++) {
		const struct known_bug *k = &known_bugs[i];

		if (k->mode && strcmp(mode_bit_name(r->inst.mode), k->mode))
			continue;
		if (strstr(r->reason, k->reason_contains)) {
			snprintf(r->known_bug, sizeof(r->known_bug), "%s", k->bug);
			return;
		}
	}
}
