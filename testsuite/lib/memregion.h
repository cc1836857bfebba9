/* The memory workload's state, for any workload that wants to hold some:
 * regions of pattern pages (pattern.h) with the expected generation of each
 * page in a separate array, a writer thread that dirties them at a rate,
 * and a check of every page. memory.c is built on it; tcp.c uses it to hold
 * memory beside its stream (--size-mb), as the soak wants.
 *
 * The record of generations is itself ordinary migrated memory: a page and
 * its record that disagree show a lost, stale or duplicated page. */
#ifndef CRMIG_WL_MEMREGION_H
#define CRMIG_WL_MEMREGION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum mr_mapping { MR_ANON, MR_SHARED, MR_FILE, MR_THP, MR_MIXED };
extern const char *const mr_mapping_names[];   /* "anon", ... NULL-terminated (a WL_OPT_CHOICE) */

/* Maps size_mb MiB (file mappings in dir) and fills every page with generation 1. */
void mr_setup(long size_mb, int mapping, const char *dir);
size_t mr_pages(void);
/* The writer thread, dirty_rate % of the pages a second; with count_ticks its
 * ticks are the workload's counter (wl_counter). Stop joins it; start again
 * after a stop continues where it left off. */
void mr_writer_start(long dirty_rate, bool count_ticks);
void mr_writer_stop(void);
uint64_t mr_pages_written(void);
/* Every page against its record (the writer stopped); the number of bad
 * pages, and "N of M pages bad; first: ..." or "all M pages intact" in text. */
uint64_t mr_verify(char *text, size_t len);
/* --corrupt: flip one byte of a random page (noted in the verdict). */
void mr_corrupt_one(void);
/* AnonHugePages of the process, into the log (THP mappings). */
void mr_log_thp(void);

#endif
