/* criu's statistics images (stats-dump, stats-restore), decoded with
 * protobuf-c from our own declaration of their schema (ref/stats.proto).
 * File layout: u32 IMG_SERVICE_MAGIC 0x55105940, u32 STATS_MAGIC 0x57093306,
 * then u32 length + one StatsEntry message (little-endian, host order). */
#ifndef CRMIG_STATS_H
#define CRMIG_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dump_stats {
	uint32_t freezing_time, frozen_time, memdump_time, memwrite_time; /* us */
	uint64_t pages_scanned, pages_skipped_parent, pages_written, pages_lazy;
};

struct restore_stats {
	uint64_t pages_compared, pages_skipped_cow, pages_restored;
	uint32_t forking_time, restore_time; /* us */
};

/* 0 on success; -1 with err filled (missing file, bad magic, truncated,
 * undecodable, no dump/restore section). Parsing never trusts the length. */
int stats_read_dump(const char *path, struct dump_stats *out, char *err, size_t errlen);
int stats_read_restore(const char *path, struct restore_stats *out, char *err, size_t errlen);
/* The same from a buffer (unit tests, images received over the wire). */
int stats_parse_dump(const void *buf, size_t len, struct dump_stats *out, char *err, size_t errlen);
int stats_parse_restore(const void *buf, size_t len, struct restore_stats *out, char *err, size_t errlen);

#endif
