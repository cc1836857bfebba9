/* The workload kinds: one row each. Everything that differs between kinds
 * on the runner's side is a column here; the case loader, the instance and
 * `crmig-suite list` read this table instead of testing names. */
#include <string.h>

#include "suite.h"

static const struct workload_kind kinds[] = {
	{ .name = "memory", .modes = MODE_ALL,
	  .summary = "checked pages (anon, shared, file, THP) at a tunable dirty rate" },
	{ .name = "tcp", .modes = MODE_ALL,
	  .summary = "sequence-numbered TCP streams both ways with the harness; a listener" },
	{ .name = "files", .modes = MODE_ALL,
	  .summary = "offsets, O_APPEND, deleted-open, locks, mappings, FIFO and pipes with data in flight" },
	{ .name = "tree", .modes = MODE_ALL,
	  .summary = "sessions, groups, threads, a zombie and pending signals" },
	/* Real services from Debian packages: the workload `service` runs one; the
	 * harness loads it, keeps a connection open and writes through the
	 * migration, then checks its data on that connection (service_check.c). */
	{ .name = "redis", .binary = "service", .args = "--service redis", .service = "redis", .modes = MODE_ALL,
	  .summary = "redis-server (Debian's): a kept client connection, acknowledged writes, DEBUG DIGEST" },
	{ .name = "memcached", .binary = "service", .args = "--service memcached", .service = "memcached",
	  .modes = MODE_ALL,
	  .summary = "memcached (Debian's): a kept client connection, acknowledged writes, item count" },
	/* CRIU's zdtm tests: their files live in the work directory, which crosses
	 * with the tree; each test's verdict comes back in DIR/results. */
	{ .name = "zdtm", .modes = MODE_BARE, .sync_dir = true, .results = true, .payload_file = "zdtm/tests.tsv",
	  .summary = "a group of CRIU's zdtm static tests in one process tree" },
};

const struct workload_kind *workload_kind(const char *name)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(kinds[i].name, name))
			return &kinds[i];
	return NULL;
}

const struct workload_kind *workload_kinds(size_t *n)
{
	*n = sizeof(kinds) / sizeof(kinds[0]);
	return kinds;
}
