/* Pre-copy convergence policy: a pure function of the pages written per
 * round, so that it can be tested exhaustively and explained in a report. */
#include "policy.h"

#include <stdbool.h>

void policy_defaults(struct converge_policy *p)
{
	p->max_rounds = 8;
	p->small_pages = 256;
	p->small_fraction = 0.02;
	p->min_shrink = 0.10;
	p->max_traffic = 2.0;
}

/* Written as !(in range) so that NaN is refused too. */
static bool fraction_ok(double f)
{
	return f >= 0.0 && f < 1.0;
}

const char *policy_check(const struct converge_policy *p)
{
	if (!p)
		return "no convergence policy";
	if (p->max_rounds < 1 || p->max_rounds > 64)
		return "--max-rounds must be between 1 and 64";
	if (!fraction_ok(p->small_fraction))
		return "--converge-fraction must be at least 0 and below 1";
	if (!fraction_ok(p->min_shrink))
		return "--min-shrink must be at least 0 and below 1";
	if (!(p->max_traffic == 0 || (p->max_traffic >= 1 && p->max_traffic <= 100)))
		return "--max-traffic must be between 1 and 100 (times the first round)";
	return NULL;
}

/* A round is small when it wrote no more than the absolute floor or the
 * given fraction of the first (full) round, whichever is larger. */
static bool round_is_small(const struct converge_policy *p, const uint64_t *pages, size_t n)
{
	/* Integer pages: "<= f * first" is the same as "<= floor(f * first)",
	 * and the cast truncates, which is floor for these non-negative values.
	 * An unchecked fraction (NaN, >= 1) must not reach the cast. */
	uint64_t by_fraction = fraction_ok(p->small_fraction)
		? (uint64_t)(p->small_fraction * (double)pages[0]) : 0;
	uint64_t threshold = by_fraction > p->small_pages ? by_fraction : p->small_pages;

	return pages[n - 1] <= threshold;
}

/* The last round must be smaller than the one before by min_shrink of it;
 * otherwise the workload dirties memory about as fast as we copy it. */
static bool round_not_shrinking(const struct converge_policy *p, const uint64_t *pages, size_t n)
{
	uint64_t prev = pages[n - 2], last = pages[n - 1];

	if (last > prev)
		return true;
	/* prev - last cannot underflow here; compare the shrink, not a product
	 * that could round the boundary case the wrong way. */
	return (double)(prev - last) < p->min_shrink * (double)prev;
}

/* In double: a sum of page counts must not wrap. */
static double sum(const uint64_t *pages, size_t n)
{
	double s = 0;

	for (size_t i = 0; i < n; i++)
		s += (double)pages[i];
	return s;
}

/* The next round is guessed as big as the last (it cannot be known before it
 * ran); stop when it would take the rounds past max_traffic x the first. */
static bool traffic_exceeded(const struct converge_policy *p, const uint64_t *pages, size_t n)
{
	double bound = (p->max_traffic >= 1 ? p->max_traffic : 2.0) * (double)pages[0];

	return sum(pages, n) + (double)pages[n - 1] > bound;
}

/* Every round's pages stay on the destination until the restore: another
 * round and the final dump, each guessed as big as the last round, must fit. */
static bool no_room(const uint64_t *pages, size_t n, uint64_t free_pages)
{
	return free_pages != POLICY_FREE_UNKNOWN && free_pages / 2 < pages[n - 1];
}

enum converge_verdict policy_decide(const struct converge_policy *p, const uint64_t *pages, size_t n)
{
	return policy_decide_room(p, pages, n, POLICY_FREE_UNKNOWN);
}

bool policy_converged(enum converge_verdict v)
{
	return v == CONVERGE_SMALL;
}

enum converge_verdict policy_decide_room(const struct converge_policy *p, const uint64_t *pages, size_t n,
					 uint64_t dest_free_pages)
{
	struct converge_policy defaults;

	if (!p) {
		policy_defaults(&defaults);
		p = &defaults;
	}
	if (!pages || n == 0)
		return CONVERGE_CONTINUE; /* nothing measured yet: do the first round */
	if (round_is_small(p, pages, n))
		return CONVERGE_SMALL;
	if (no_room(pages, n, dest_free_pages))
		return CONVERGE_DEST_FULL;
	if (n >= 2 && round_not_shrinking(p, pages, n))
		return CONVERGE_NOT_SHRINKING;
	if (traffic_exceeded(p, pages, n))
		return CONVERGE_TRAFFIC;
	if (n >= (size_t)(p->max_rounds > 0 ? p->max_rounds : 1))
		return CONVERGE_MAX_ROUNDS;
	return CONVERGE_CONTINUE;
}

const char *policy_verdict_name(enum converge_verdict v)
{
	switch (v) {
	case CONVERGE_CONTINUE:
		return "continue";
	case CONVERGE_SMALL:
		return "small";
	case CONVERGE_NOT_SHRINKING:
		return "not-shrinking";
	case CONVERGE_MAX_ROUNDS:
		return "max-rounds";
	case CONVERGE_TRAFFIC:
		return "traffic-bound";
	case CONVERGE_DEST_FULL:
		return "destination-full";
	}
	return "unknown";
}
