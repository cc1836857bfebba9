/* hybrid: pre-copy rounds while the workload runs, then post-copy for what
 * is still dirty. The lazy dump needs to know which pages the destination
 * already holds: the rounds' pagemaps come back from the destination into the
 * local round directories (pages stay there: criu reads only the maps). */
#include "migrate.h"
#include "util.h"

static int hybrid_run(struct migration *m)
{
	__do_free char *last = NULL;
	int rounds = strategy_precopy_rounds(m);

	if (rounds < 0)
		return -1;
	if (mig_fetch_pagemaps(m, rounds) < 0)
		return mig_fail(m, "failed", "fetching the rounds' page maps: %s", m->err);
	last = xasprintf(MIG_DIR_ROUND "%d", rounds);
	return strategy_lazy_dump(m, last, rounds + 1);
}

const struct strategy strategy_hybrid = {
	.name = "hybrid",
	.summary = "pre-copy rounds, then post-copy for the rest",
	.needs_mem_track = true,
	.needs_lazy = true,
	.run = hybrid_run,
};
