/* Failures the suite catches that are known upstream bugs. They stay
 * visible in every report (TAP "# TODO", JUnit skipped with the reason, JSON
 * "known_bug") but do not fail the run; when upstream fixes one, the case
 * passes and the entry here can go. Keep each match narrow: an entry must
 * never hide a failure of crmig's own. */
#include "known_bugs.h"
#include "suite.h"
#include "util.h"

/* The table is crmig's (ref/known_bugs.c): crmig names the same bugs in its
 * report, and the GUI shows them. */

bool result_counts_as_failure(const struct suite_result *r)
{
	return r->outcome == OUTCOME_FAIL && !r->known_bug[0];
}

static const struct known_bug *match(const struct suite_result *r, const char *reason, size_t len)
{
	return known_bug_find(KB_SEEN_SUITE, mode_bit_name(r->inst.mode), reason, len);
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
