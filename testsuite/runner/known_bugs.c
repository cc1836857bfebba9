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

static const struct known_bug *match(const struct suite_result *r, const char *reason, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(known_bugs); i++) {
		const struct known_bug *k = &known_bugs[i];
		size_t n = strlen(k->reason_contains);

		if (k->mode && strcmp(mode_bit_name(r->inst.mode), k->mode))
			continue;
		for (size_t off = 0; off + n <= len; off++)
			if (!memcmp(reason + off, k->reason_contains, n))
				return k;
	}
	return NULL;
}

/* Every reason of the failure must be a known bug: one of ours next to a
 * known one is still ours. */
void known_bug_classify(struct suite_result *r)
{
	const struct known_bug *first = NULL;
	const char *p = r->reason;

	if (r->outcome != OUTCOME_FAIL)
		return;
	for (;;) {
		const char *sep = strstr(p, REASON_SEP);
		size_t len = sep ? (size_t)(sep - p) : strlen(p);
		const struct known_bug *k = match(r, p, len);

		if (!k)
			return;
		if (!first)
			first = k;
		if (!sep)
			break;
		p = sep + strlen(REASON_SEP);
	}
	snprintf(r->known_bug, sizeof(r->known_bug), "%s", first->bug);
}
