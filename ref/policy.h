/* Pre-copy convergence: after each pre-dump round, decide whether another
 * round is worth it or the final (frozen) dump should come now. Inspired by
 * P.Haul (stop at <= 64 pages, when rounds grow, or after 8) and Incus
 * (stop when enough pages were skipped as unchanged). Pure function.
 *
 * Pre-copy always ends: a workload that dirties memory faster than the rounds
 * shrink is stopped by the traffic bound (the rounds may send max_traffic x
 * the first round, the workload's size) or by the destination's free space
 * (every round's pages stay there until the restore), whichever comes first;
 * the final dump then sends what is still dirty. */
#ifndef CRMIG_POLICY_H
#define CRMIG_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct converge_policy {
	int max_rounds;          /* --max-rounds: pre-dump rounds at most (default 8) */
	uint64_t small_pages;    /* --converge-pages: a round writing <= this is small enough (default 256 = 1 MiB) */
	double small_fraction;   /* --converge-fraction: ... or <= this fraction of the first round (default 0.02) */
	double min_shrink;       /* --min-shrink: a round must shrink by at least this fraction
	                            of the previous one, else stop (default 0.10) */
	double max_traffic;      /* --max-traffic: the rounds together send at most this many times
	                            the first round (default 2.0; 0 = the default) */
};

enum converge_verdict {
	CONVERGE_CONTINUE,
	CONVERGE_SMALL,          /* last round small enough: freeze now */
	CONVERGE_NOT_SHRINKING,  /* dirtying as fast as we copy: more rounds won't help */
	CONVERGE_MAX_ROUNDS,
	CONVERGE_TRAFFIC,        /* another round would pass max_traffic x the first round */
	CONVERGE_DEST_FULL,      /* the destination has no room for another round and the final dump */
};

#define POLICY_FREE_UNKNOWN UINT64_MAX

void policy_defaults(struct converge_policy *p);
/* Validates user-supplied knobs; NULL if fine, else a message. */
const char *policy_check(const struct converge_policy *p);
/* pages[i] = pages written by pre-dump round i (0-based), n rounds done so far (n >= 1). */
enum converge_verdict policy_decide(const struct converge_policy *p, const uint64_t *pages, size_t n);
/* The same, knowing how many pages still fit on the destination's images
 * filesystem (POLICY_FREE_UNKNOWN: no limit known). Order: small (converged)
 * first, then the destination's room, not-shrinking, traffic, max-rounds. */
enum converge_verdict policy_decide_room(const struct converge_policy *p, const uint64_t *pages, size_t n,
					 uint64_t dest_free_pages);
/* Did the rounds converge (the final dump sends little), or were they stopped? */
bool policy_converged(enum converge_verdict v);
const char *policy_verdict_name(enum converge_verdict v); /* "small", "not-shrinking", ... */

#endif
