/* Pre-copy convergence: after each pre-dump round, decide whether another
 * round is worth it or the final (frozen) dump should come now. Inspired by
 * P.Haul (stop at <= 64 pages, when rounds grow, or after 8) and Incus
 * (stop when enough pages were skipped as unchanged). Pure function. */
#ifndef CRMIG_POLICY_H
#define CRMIG_POLICY_H

#include <stddef.h>
#include <stdint.h>

struct converge_policy {
	int max_rounds;          /* --max-rounds: pre-dump rounds at most (default 8) */
	uint64_t small_pages;    /* --converge-pages: a round writing <= this is small enough (default 256 = 1 MiB) */
	double small_fraction;   /* --converge-fraction: ... or <= this fraction of the first round (default 0.02) */
	double min_shrink;       /* --min-shrink: a round must shrink by at least this fraction
	                            of the previous one, else stop (default 0.10) */
};

enum converge_verdict {
	CONVERGE_CONTINUE,
	CONVERGE_SMALL,          /* last round small enough: freeze now */
	CONVERGE_NOT_SHRINKING,  /* dirtying as fast as we copy: more rounds won't help */
	CONVERGE_MAX_ROUNDS,
};

void policy_defaults(struct converge_policy *p);
/* Validates user-supplied knobs; NULL if fine, else a message. */
const char *policy_check(const struct converge_policy *p);
/* pages[i] = pages written by pre-dump round i (0-based), n rounds done so far (n >= 1). */
enum converge_verdict policy_decide(const struct converge_policy *p, const uint64_t *pages, size_t n);
const char *policy_verdict_name(enum converge_verdict v); /* "small", "not-shrinking", ... */

#endif
