/* memory: a region of pattern pages (see pattern.h, memregion.h) that a
 * writer thread keeps dirtying at a given rate; after the migration signal
 * every page is checked against the generation recorded for it. SIGUSR1
 * asks for the same check without ending (a round of the soak).
 *
 *	memory --dir DIR [--size-mb 16..1024] [--dirty-rate 0..100]
 *	       [--mapping anon|shared|file|thp|mixed] [common options] */
#include <inttypes.h>
#include <stdio.h>

#include "../lib/memregion.h"
#include "../lib/wl.h"
#include "util.h"

#define TICK_MS 10

static long size_mb = 64;
static long dirty_rate = 1;
static int mapping = MR_ANON;

static const struct wl_opt opts[] = {
	{ "size-mb", WL_OPT_INT, &size_mb, 16, 1024, NULL, "N  region size in MiB, 16..1024 (default 64)" },
	{ "dirty-rate", WL_OPT_INT, &dirty_rate, 0, 100, NULL,
	  "PCT  percent of pages dirtied per second, 0 = idle (default 1)" },
	{ "mapping", WL_OPT_CHOICE, &mapping, 0, 0, mr_mapping_names,
	  "KIND  anon|shared|file|thp|mixed (default anon); file mappings live in DIR" },
	{ NULL },
};

/* A round check: the writer pauses while every page is read, then goes on. */
static void answer_rounds(unsigned *answered)
{
	char text[400];

	while (*answered < wl_round_requested()) {
		mr_writer_stop();
		bool bad = mr_verify(text, sizeof(text)) != 0;
		mr_writer_start(dirty_rate, true);
		wl_round_result(++*answered, bad ? text : NULL);
	}
}

int main(int argc, char **argv)
{
	uint64_t counter_at_signal, pages_at_signal;
	double signal_ms, window_ms;
	unsigned answered = 0;
	char text[400];

	wl_init(argc, argv, opts);
	mr_setup(size_mb, mapping, wl.dir);
	if (mapping == MR_THP || mapping == MR_MIXED)
		mr_log_thp();
	mr_writer_start(dirty_rate, true);
	wl_log("writer: %ld%% of %zu pages per second", dirty_rate, mr_pages());
	wl_rounds_enable();
	wl_ready();

	while (!wl_migrated()) {
		answer_rounds(&answered);
		wl_sleep_ms(5);
	}
	wl_log("migration signal received (counter %" PRIu64 ")", atomic_load(&wl_counter));
	counter_at_signal = atomic_load(&wl_counter);
	pages_at_signal = mr_pages_written();
	signal_ms = now_ms();
	/* Long enough for several writer ticks: proof the writer survived. */
	wl_sleep_ms(10 * TICK_MS);
	mr_writer_stop();
	window_ms = now_ms() - signal_ms;
	/* The rate over the window after the signal: one host's clock. */
	wl_log("writer stopped: %" PRIu64 " pages written, counter %" PRIu64 " (%" PRIu64 " at the signal); "
	       "after the signal %.0f pages/s (asked %.0f)",
	       mr_pages_written(), atomic_load(&wl_counter), counter_at_signal,
	       (mr_pages_written() - pages_at_signal) * 1000.0 / window_ms, (double)mr_pages() * dirty_rate / 100.0);
	if (atomic_load(&wl_counter) <= counter_at_signal)
		wl_fail("the writer did not run after the migration signal (counter stuck at %" PRIu64 ")",
			counter_at_signal);
	if (wl.corrupt)
		mr_corrupt_one();
	uint64_t bad = mr_verify(text, sizeof(text));
	wl_note("pages", "%zu", mr_pages());
	wl_note("bad_pages", "%" PRIu64, bad);
	if (bad)
		wl_fail("%s", text);
	wl_pass();
}
