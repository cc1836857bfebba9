/* Regions of pattern pages, their writer and their check (memregion.h). */
#include "memregion.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pattern.h"
#include "util.h"
#include "wl.h"

#define MB (1024UL * 1024)
#define THP_SIZE (2 * MB)
#define TICK_MS 10
#define MAX_REGIONS 4

const char *const mr_mapping_names[] = { "anon", "shared", "file", "thp", "mixed", NULL };

struct region {
	enum mr_mapping kind;
	uint8_t *base;
	size_t npages;
};

static struct region regions[MAX_REGIONS];
static int n_regions;
static int mapping_kind;
static size_t total_pages;
static uint32_t *generation;	/* expected generation per page */
static atomic_bool stop_writer;
static _Atomic uint64_t pages_written;
static pthread_t writer;
static bool writer_running;
static long writer_rate;
static bool writer_counts;
static uint64_t rng_state;

static uint8_t *page_addr(size_t index)
{
	for (int r = 0; r < n_regions; r++) {
		if (index < regions[r].npages)
			return regions[r].base + index * PAT_PAGE;
		index -= regions[r].npages;
	}
	return NULL;
}

/* ---------------------------------------------------------------- mappings */

static void *map_anon(size_t len, int flags)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		wl_fail("mmap %zu MiB: %s", len / MB, strerror(errno));
	return p;
}

/* A 2 MiB-aligned anonymous region that asks for transparent huge pages. */
static void *map_thp(size_t len)
{
	uint8_t *raw = map_anon(len + THP_SIZE, MAP_PRIVATE);
	uint8_t *aligned = (uint8_t *)(((uintptr_t)raw + THP_SIZE - 1) & ~(uintptr_t)(THP_SIZE - 1));

	if (aligned > raw)
		munmap(raw, aligned - raw);
	munmap(aligned + len, raw + THP_SIZE - aligned);
	if (madvise(aligned, len, MADV_HUGEPAGE) < 0)
		wl_log("madvise(MADV_HUGEPAGE): %s (THP unavailable; continuing with small pages)", strerror(errno));
	return aligned;
}

/* A shared mapping of a file in DIR: its data lives in the file, so it only
 * survives the move if the destination sees the same file content. */
static void *map_file(size_t len, int nr, const char *dir)
{
	__do_free char *path = xasprintf("%s/memory-%d.map", dir, nr);
	__do_close int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	void *p;

	if (fd < 0 || ftruncate(fd, len) < 0)
		wl_fail("%s: %s", path, strerror(errno));
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		wl_fail("mmap %s: %s", path, strerror(errno));
	return p;
}

static void add_region(enum mr_mapping kind, size_t len, const char *dir)
{
	struct region *r = &regions[n_regions];

	r->kind = kind;
	r->npages = len / PAT_PAGE;
	switch (kind) {
	case MR_SHARED:
		r->base = map_anon(len, MAP_SHARED);
		break;
	case MR_FILE:
		r->base = map_file(len, n_regions, dir);
		break;
	case MR_THP:
		r->base = map_thp(len);
		break;
	default:
		r->base = map_anon(len, MAP_PRIVATE);
		/* Small pages on purpose: with THP (Debian's default is "always")
		 * the kernel tracks dirtiness per 2 MiB, so a few random writes
		 * dirty everything and pre-copy cannot converge. --mapping thp
		 * measures exactly that. */
		if (madvise(r->base, len, MADV_NOHUGEPAGE) < 0)
			wl_log("madvise(MADV_NOHUGEPAGE): %s", strerror(errno));
		break;
	}
	n_regions++;
	total_pages += r->npages;
}

static void map_regions(long size_mb, const char *dir)
{
	size_t len = (size_t)size_mb * MB;

	if (mapping_kind != MR_MIXED) {
		add_region(mapping_kind, len, dir);
		return;
	}
	/* Four parts, each a multiple of 2 MiB; the last takes the remainder. */
	size_t part = len / 4 / THP_SIZE * THP_SIZE;

	add_region(MR_ANON, part, dir);
	add_region(MR_SHARED, part, dir);
	add_region(MR_FILE, part, dir);
	add_region(MR_THP, len - 3 * part, dir);
}

static uint64_t rng_next(uint64_t *s)
{
	/* xorshift64*: cheap, and its state migrates with the thread's stack. */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

static void fill_all(void)
{
	double t0 = now_ms();

	for (size_t i = 0; i < total_pages; i++) {
		generation[i] = 1;
		pat_fill(page_addr(i), i, 1);
	}
	wl_log("filled %zu pages (%zu MiB, mapping %s) in %.0f ms", total_pages, total_pages * PAT_PAGE / MB,
	       mr_mapping_names[mapping_kind], now_ms() - t0);
}

void mr_setup(long size_mb, int mapping, const char *dir)
{
	mapping_kind = mapping;
	map_regions(size_mb, dir);
	generation = xmalloc(total_pages * sizeof(*generation));
	fill_all();
	rng_state = ((uint64_t)getpid() * 0x9e3779b97f4a7c15ULL ^ (uint64_t)now_ms()) | 1;
}

size_t mr_pages(void)
{
	return total_pages;
}

uint64_t mr_pages_written(void)
{
	return atomic_load(&pages_written);
}

/* ---------------------------------------------------------------- writer */

/* Rewrite one page with its next generation. The page is written before its
 * record: a freeze in between leaves a page newer than its record, which the
 * writer completes after the restore, before it stops. */
static void dirty_page(size_t i)
{
	uint32_t gen = generation[i] + 1;

	pat_fill(page_addr(i), i, gen);
	generation[i] = gen;
	pages_written++;
}

/* Pages owed for the time since the last tick. Relative and clamped: across
 * the move CLOCK_MONOTONIC jumps, and a frozen writer must not burst. */
static double pages_owed(double *last_ms)
{
	double now = now_ms(), dt = now - *last_ms;

	*last_ms = now;
	if (dt < 0 || dt > 10 * TICK_MS)
		dt = dt < 0 ? 0 : 10 * TICK_MS;
	return (double)total_pages * writer_rate / 100.0 * dt / 1000.0;
}

static void *writer_main(void *arg)
{
	uint64_t rng = (uint64_t)(uintptr_t)arg | 1;
	double owed = 0, last_ms = now_ms();

	while (!atomic_load(&stop_writer)) {
		/* Small bursts every tick, the fraction carried over. */
		owed += pages_owed(&last_ms);
		for (; owed >= 1; owed -= 1)
			dirty_page(rng_next(&rng) % total_pages);
		/* The counter moves every tick, even when idle: it shows the
		 * thread runs, not how much it wrote. */
		if (writer_counts)
			atomic_fetch_add(&wl_counter, 1);
		wl_sleep_ms(TICK_MS);
	}
	return NULL;
}

void mr_writer_start(long dirty_rate, bool count_ticks)
{
	writer_rate = dirty_rate;
	writer_counts = count_ticks;
	atomic_store(&stop_writer, false);
	if (pthread_create(&writer, NULL, writer_main, (void *)(uintptr_t)rng_next(&rng_state)))
		wl_fail("cannot start the writer thread");
	writer_running = true;
}

void mr_writer_stop(void)
{
	if (!writer_running)
		return;
	atomic_store(&stop_writer, true);
	pthread_join(writer, NULL);
	writer_running = false;
}

/* ---------------------------------------------------------------- verify */

void mr_corrupt_one(void)
{
	size_t i = rng_next(&rng_state) % total_pages, off = rng_next(&rng_state) % PAT_PAGE;

	page_addr(i)[off] ^= 0x5a;
	wl_log("--corrupt: flipped byte %zu of page %zu", off, i);
	wl_note("corrupt", "page %zu byte %zu", i, off);
}

void mr_log_thp(void)
{
	__do_free char *smaps = read_file("/proc/self/smaps_rollup", NULL);
	char *line = smaps ? strstr(smaps, "AnonHugePages:") : NULL;

	if (line)
		wl_log("%.*s", (int)strcspn(line, "\n"), line);
}

uint64_t mr_verify(char *text, size_t len)
{
	struct pat_report rep;
	double t0 = now_ms();

	pat_report_init(&rep);
	for (size_t i = 0; i < total_pages; i++)
		pat_report_check(&rep, page_addr(i), i, generation[i]);
	pat_describe(&rep, text, len);
	wl_log("verified %zu pages (%zu MiB) in %.0f ms: %s", total_pages, total_pages * PAT_PAGE / MB,
	       now_ms() - t0, text);
	return rep.bad;
}
