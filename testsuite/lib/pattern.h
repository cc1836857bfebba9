/* The memory workload's page pattern: every 4 KiB check page carries
 * {magic, index, generation} and a body derived from (index, generation),
 * so a lost (zeroed), stale (older generation), misplaced or duplicated
 * (wrong index) or damaged (body) page is detected and located. The check
 * page is 4 KiB whatever the hardware page size is. */
#ifndef CRMIG_WL_PATTERN_H
#define CRMIG_WL_PATTERN_H

#include <stddef.h>
#include <stdint.h>

#define PAT_PAGE 4096
#define PAT_MAGIC 0x31475047494d5243ULL	/* "CRMIGPG1" in memory (little-endian) */

enum pat_fault {
	PAT_OK = 0,
	PAT_ZERO,	/* the whole page is zero: lost */
	PAT_BAD_MAGIC,	/* not one of our pages (or its magic was hit) */
	PAT_WRONG_INDEX,	/* holds another page: misplaced or duplicated */
	PAT_STALE,	/* an older generation than expected */
	PAT_NEWER,	/* a newer generation than expected */
	PAT_BODY,	/* header right, body differs */
};

struct pat_fault_info {
	enum pat_fault fault;
	uint64_t found_index, found_gen;
	size_t offset;	/* first differing byte within the page */
};

void pat_fill(void *page, uint64_t index, uint64_t gen);
enum pat_fault pat_check(const void *page, uint64_t index, uint64_t gen, struct pat_fault_info *info);

/* Accumulated over a verification pass: how many bad, and the first one. */
struct pat_report {
	uint64_t checked, bad;
	uint64_t first_index;
	uint64_t expected_gen;
	struct pat_fault_info first;
};

void pat_report_init(struct pat_report *r);
/* Check one page and account for it; returns its fault. */
enum pat_fault pat_report_check(struct pat_report *r, const void *page, uint64_t index, uint64_t gen);
/* "N of M pages bad; first: page I ..." (or "all M pages intact"). */
const char *pat_describe(const struct pat_report *r, char *buf, size_t len);
const char *pat_fault_name(enum pat_fault f);

#endif
