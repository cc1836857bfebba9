/* Known upstream bugs: failures that are not crmig's (nor the suite's) own.
 * One table for both: crmig names a match in its report ("known_bug") and
 * the GUI shows it; crmig-suite reports a matching case as TAP TODO / JUnit
 * skipped instead of failed (testsuite/runner/known_bugs.c). Keep each
 * match narrow: an entry must never hide a failure of crmig's own. */
#ifndef CRMIG_KNOWN_BUGS_H
#define CRMIG_KNOWN_BUGS_H

#include <stddef.h>

/* Where an entry's text shows. */
enum known_bug_seen {
	KB_SEEN_CRMIG = 1,          /* crmig's error or a criu/lxc log line of the migration */
	KB_SEEN_SUITE = 2,          /* a reason of the suite's own (its host checks) */
};

struct known_bug {
	unsigned seen;              /* KB_SEEN_* bits */
	const char *contains;       /* exact text in the error, log line or reason */
	const char *mode;           /* "lxc", "bare" or NULL for both */
	const char *bug;            /* "project#N: what it is" */
};

/* The entry whose text occurs in text[0..len) (len may be (size_t)-1 for a
 * NUL-terminated text), for a failure seen where `seen` says, in mode
 * ("lxc", "bare" or NULL: any entry). NULL when none. */
const struct known_bug *known_bug_find(unsigned seen, const char *mode, const char *text, size_t len);

#endif
