/* The bench's analysis on a synthetic results.json (no lab): medians with
 * their min-max, every sample kept, and issue 14's targets (lazy window
 * against the link, page TLS against none, LXC post-copy against bare,
 * pre-copy that finishes) computed from the right rows, with the boundaries
 * (<= limit holds). */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../bench/bench.h"
#include "util.h"
#include "unit.h"

static json_t *sample(const char *strategy, bool tls, int size, int rate, const char *mode, int rep, bool valid,
		      double downtime_ms, double lazy_ms, const char *stop_reason)
{
	json_t *s = json_pack("{s:s, s:b, s:i, s:i, s:s, s:i, s:b, s:f, s:f, s:f, s:f, s:f}", "strategy", strategy,
			      "page_tls", tls, "size_mb", size, "dirty_rate", rate, "container", mode, "rep", rep,
			      "valid", valid, "downtime_ms", 0.0, "crmig_downtime_ms", isfinite(downtime_ms) ? downtime_ms * 0.9 : 0.0,
			      "lazy_ms", lazy_ms, "bytes_total", size * 1048576.0, "total_ms", lazy_ms + 5000);

	ck_assert_ptr_nonnull(s);
	/* a repetition that did not count has no downtime (null, as the bench writes it) */
	json_object_set_new(s, "downtime_ms", isfinite(downtime_ms) ? json_real(downtime_ms) : json_null());

	if (stop_reason)
		json_object_set_new(s, "stop_reason", json_string(stop_reason));
	if (!valid)
		json_object_set_new(s, "reason", json_string("crmig did not migrate"));
	return s;
}

static void add(json_t *runs, json_t *s)
{
	json_array_append_new(runs, s);
}

/* sizes 200 and 1024 MB, rates 1 and 10 %/s, bare and lxc. */
static json_t *synthetic(void)
{
	json_t *doc = json_pack("{s:{s:[i, i], s:[i, i], s:[s, s], s:[s, s, s, s]}, s:{s:[f]}, s:[], s:[]}", "matrix",
				"sizes", 200, 1024, "rates", 1, 10, "modes", "bare", "lxc", "strategies", "stop", "pre",
				"post", "hybrid", "link", "samples_MBps", 100.0, "runs", "baseline_runs");
	json_t *runs = json_object_get(doc, "runs"), *bl = json_object_get(doc, "baseline_runs");
	const char *modes[] = { "bare", "lxc" };

	for (int m = 0; m < 2; m++)
		for (int size = 200; size <= 1024; size += 824) {
			/* stop without TLS: 1 s; with TLS: 1.3 s at 200 MB (the boundary), 5 s at 1 GB */
			for (int rep = 1; rep <= 3; rep++) {
				json_t *s = sample("stop", false, size, 1, modes[m], rep, true, 1000, 0, NULL);
				json_object_set_new(s, "page_stream_MBps", json_real(50)); /* slower than nc: nc's 100 counts */
				add(runs, s);
				add(runs, sample("stop", true, size, 1, modes[m], rep, true, size == 200 ? 1300 : 5000, 0, NULL));
				/* the relay row: 2 s; its own configuration, not part of "on"'s median */
				s = sample("stop", true, size, 1, modes[m], rep, true, 2000 + rep, 0, NULL);
				json_object_set_new(s, "page_tls_mode", json_string("relay"));
				add(runs, s);
			}
			/* the baselines: RSS 1e9 bytes at 1 GB */
			json_array_append_new(bl, json_pack("{s:i, s:s, s:i, s:i, s:b, s:f, s:f, s:f, s:f}", "size_mb", size,
							    "container", modes[m], "dirty_rate", 1, "rep", 1, "valid", true,
							    "downtime_ms", 20000.0, "dump_ms", 500.0, "rss_bytes",
							    size == 1024 ? 1e9 : 2e8, "local_restore_ms", 500.0));
		}
	/* post-copy at 1 GB, bare: lazy 20, 30, 25 s at 1 %/s (median 25 s: 2.5 x the 10 s the link
	 * allows), 60 s at 10 %/s (6 x); downtime bare 1 s, lxc 1.5 s (the boundary) at 200 MB */
	add(runs, sample("post", false, 1024, 1, "bare", 1, true, 1100, 20000, NULL));
	add(runs, sample("post", false, 1024, 1, "bare", 2, true, 1000, 30000, NULL));
	add(runs, sample("post", false, 1024, 1, "bare", 3, true, 1200, 25000, NULL));
	add(runs, sample("post", false, 1024, 10, "bare", 1, true, 1100, 60000, NULL));
	add(runs, sample("post", false, 200, 1, "bare", 1, true, 1000, 3000, NULL));
	add(runs, sample("post", false, 200, 1, "lxc", 1, true, 1500, 3000, NULL));
	add(runs, sample("post", false, 1024, 1, "lxc", 1, true, 3500, 40000, NULL));
	/* pre-copy at 1 GB, 10 %/s, bare: two finished (stopped, converged), one did not */
	add(runs, sample("pre", false, 1024, 10, "bare", 1, true, 9000, 0, "traffic-bound"));
	add(runs, sample("pre", false, 1024, 10, "bare", 2, true, 8000, 0, "small"));
	add(runs, sample("pre", false, 1024, 10, "bare", 3, false, NAN, 0, NULL));
	/* ... and in LXC, all three finished */
	for (int rep = 1; rep <= 3; rep++)
		add(runs, sample("pre", false, 1024, 10, "lxc", rep, true, 11000, 0, "destination has 900 MB free"));
	return doc;
}

static const json_t *find_target(const json_t *doc, const char *id, int size, const char *mode, int rate)
{
	json_t *t, *found = NULL;
	size_t i;
	int n = 0;

	json_array_foreach(json_object_get(doc, "targets"), i, t)
		if (!strcmp(json_string_value(json_object_get(t, "id")), id) && jnum(t, "size_mb") == size &&
		    !strcmp(json_string_value(json_object_get(t, "container")), mode) &&
		    (rate < 0 || jnum(t, "dirty_rate") == rate)) {
			found = t;
			n++;
		}
	ck_assert_msg(n == 1, "%d targets %s at %d MB %s rate %d", n, id, size, mode, rate);
	return found;
}

static void expect(const json_t *t, double measured, bool holds)
{
	ck_assert_msg(fabs(jnum(t, "measured") - measured) < 1e-3, "%s: measured %g, want %g",
		      json_string_value(json_object_get(t, "id")), jnum(t, "measured"), measured);
	ck_assert_msg(json_is_true(json_object_get(t, "holds")) == holds, "%s: holds is not %d",
		      json_string_value(json_object_get(t, "id")), holds);
}

START_TEST(test_lazy_window_vs_link)
{
	json_t *doc = synthetic();
	const json_t *t;

	bench_analyze(doc);
	ck_assert_double_eq_tol(jnum(json_object_get(doc, "link"), "MBps"), 100, 1e-9);
	t = find_target(doc, "lazy_window_vs_link", 1024, "bare", 1);
	expect(t, 2.5, true);
	ck_assert_double_eq(jnum(t, "limit"), 3);
	t = find_target(doc, "lazy_window_vs_link", 1024, "bare", 10);
	expect(t, 6, false);
	ck_assert_double_eq(jnum(t, "limit"), 5);
	/* lxc at 1 GB, 10 %/s was not measured: no verdict, and it says so */
	t = find_target(doc, "lazy_window_vs_link", 1024, "lxc", 10);
	ck_assert(json_is_null(json_object_get(t, "holds")));
	ck_assert_str_eq(json_string_value(json_object_get(t, "detail")), "not measured in this run");
	json_decref(doc);
}
END_TEST

START_TEST(test_tls_and_lxc_post)
{
	json_t *doc = synthetic();

	bench_analyze(doc);
	expect(find_target(doc, "tls_vs_plain", 200, "bare", 1), 1.3, true); /* <= holds at the limit */
	expect(find_target(doc, "tls_vs_plain", 1024, "lxc", 1), 5, false);
	/* results of older runs say page_tls true for "on"; the relay row has its mode's name */
	ck_assert_double_eq_tol(jnum(bench_config(doc, "stop", BT_RELAY, 1024, 1, "lxc"), "downtime_ms"), 2002, 1e-9);
	ck_assert_str_eq(json_string_value(json_object_get(bench_config(doc, "stop", BT_ON, 200, 1, "bare"),
							   "page_tls_mode")), "on");
	ck_assert_int_eq((int)jnum(bench_config(doc, "stop", BT_RELAY, 200, 1, "bare"), "repetitions"), 3);
	expect(find_target(doc, "lxc_post_vs_bare_post", 200, "lxc", 1), 1.5, true);
	expect(find_target(doc, "lxc_post_vs_bare_post", 1024, "lxc", 1), 3500.0 / 1100, false);
	/* the floor target covers LXC at every size */
	ck_assert_ptr_nonnull(find_target(doc, "stop_vs_floor", 200, "lxc", -1));
	ck_assert_ptr_nonnull(find_target(doc, "stop_vs_floor", 1024, "lxc", -1));
	json_decref(doc);
}
END_TEST

START_TEST(test_pre_finishes)
{
	json_t *doc = synthetic();
	const json_t *t;
	const char *d;

	bench_analyze(doc);
	t = find_target(doc, "pre_finishes", 1024, "bare", 10);
	expect(t, 1, false);
	d = json_string_value(json_object_get(t, "detail"));
	ck_assert_msg(strstr(d, "2 of 3 attempts finished"), "%s", d);
	ck_assert_msg(strstr(d, "stopped: traffic-bound x1"), "%s", d);
	ck_assert_msg(strstr(d, "converged small x1"), "%s", d);
	t = find_target(doc, "pre_finishes", 1024, "lxc", 10);
	expect(t, 0, true);
	d = json_string_value(json_object_get(t, "detail"));
	ck_assert_msg(strstr(d, "stopped: destination has 900 MB free x3"), "%s", d);
	json_decref(doc);
}
END_TEST

START_TEST(test_medians_ranges_samples)
{
	json_t *doc = synthetic();
	size_t before = json_array_size(json_object_get(doc, "runs"));
	const json_t *c, *r;
	char buf[64];

	bench_analyze(doc);
	ck_assert_uint_eq(json_array_size(json_object_get(doc, "runs")), before); /* every sample kept */
	c = bench_config(doc, "post", BT_OFF, 1024, 1, "bare");
	ck_assert_double_eq_tol(jnum(c, "lazy_ms"), 25000, 1e-9);
	r = json_object_get(json_object_get(c, "range"), "lazy_ms");
	ck_assert_double_eq_tol(json_number_value(json_array_get(r, 0)), 20000, 1e-9);
	ck_assert_double_eq_tol(json_number_value(json_array_get(r, 1)), 30000, 1e-9);
	bench_fmt_ms_range(c, "lazy_ms", buf, sizeof(buf));
	ck_assert_str_eq(buf, "25.00 s (20.00-30.00)");
	bench_fmt_ms_range(c, "downtime_ms", buf, sizeof(buf));
	ck_assert_str_eq(buf, "1.10 s (1.00-1.20)");
	/* one repetition, or all equal: the median alone */
	c = bench_config(doc, "stop", BT_OFF, 200, 1, "bare");
	bench_fmt_ms_range(c, "downtime_ms", buf, sizeof(buf));
	ck_assert_str_eq(buf, "1.00 s");
	/* an invalid repetition counts in attempts, not in the median or the range */
	c = bench_config(doc, "pre", BT_OFF, 1024, 10, "bare");
	ck_assert_int_eq((int)jnum(c, "repetitions"), 2);
	ck_assert_int_eq((int)jnum(c, "attempts"), 3);
	ck_assert_double_eq_tol(jnum(c, "downtime_ms"), 8500, 1e-9);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(c, "stop_reasons"), "small")), 1);
	json_decref(doc);
}
END_TEST

/* A sample's frozen window, as crmig's report has it: dump, transfer and
 * restore phases (source clock), the destination's restore milestones. */
static json_t *split_sample(const char *mode, int rep, double dump, double restore, double setup, double criu)
{
	json_t *s = sample("post", false, 64, 1, mode, rep, true, dump + restore + 100, 1000, NULL);

	json_object_set_new(s, "phases", json_pack("[{s:s, s:f, s:f}, {s:s, s:f, s:f}, {s:s, s:f, s:f}, {s:s, s:f, s:f}]",
						   "name", "sync", "start_ms", 0.0, "end_ms", 50.0,
						   "name", "dump", "start_ms", 100.0, "end_ms", 100 + dump,
						   "name", "transfer", "start_ms", 100 + dump, "end_ms", 150 + dump,
						   "name", "restore", "start_ms", 150 + dump, "end_ms", 150 + dump + restore));
	json_object_set_new(s, "destination_restore", json_pack("{s:f, s:f, s:f}", "pre-restore", setup, "pre-resume",
								setup + criu, "restore_ms", restore - 20));
	return s;
}

START_TEST(test_frozen_split)
{
	json_t *doc = json_pack("{s:{s:[i], s:[i], s:[s, s], s:[s]}, s:{s:[f]}, s:[], s:[]}", "matrix", "sizes", 64,
				"rates", 1, "modes", "bare", "lxc", "strategies", "post", "link", "samples_MBps", 100.0,
				"runs", "baseline_runs");
	json_t *runs = json_object_get(doc, "runs"), *split;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	add(runs, split_sample("bare", 1, 300, 700, 40, 500));
	add(runs, split_sample("lxc", 1, 900, 2600, 900, 1200));
	add(runs, split_sample("lxc", 2, 1100, 3000, 1100, 1400));
	add(runs, split_sample("lxc", 3, 1000, 2800, 1000, 1300));
	/* an older sample without destination_restore: its phases still count */
	json_object_del(json_array_get(runs, 3), "destination_restore");
	bench_analyze(doc);
	split = json_object_get(bench_config(doc, "post", BT_OFF, 64, 1, "lxc"), "frozen_split_ms");
	ck_assert_double_eq_tol(jnum(split, "dump"), 1000, 1e-9);
	ck_assert_double_eq_tol(jnum(split, "transfer"), 50, 1e-9);
	ck_assert_double_eq_tol(jnum(split, "sync-frz"), 0, 1e-9); /* none while frozen */
	ck_assert_double_eq_tol(jnum(split, "restore"), 2800, 1e-9);
	ck_assert_double_eq_tol(jnum(split, "b:setup"), 1000, 1e-9); /* median of 900 and 1100 */
	ck_assert_double_eq_tol(jnum(split, "b:criu"), 1300, 1e-9);
	ck_assert_double_eq_tol(jnum(split, "b:resume"), 480, 1e-9); /* 2580 - 2100, 2980 - 2500 */
	split = json_object_get(bench_config(doc, "post", BT_OFF, 64, 1, "bare"), "frozen_split_ms");
	ck_assert_double_eq_tol(jnum(split, "b:setup"), 40, 1e-9);
	f = open_memstream(&text, &len);
	bench_print_table(doc, f);
	fclose(f);
	if (getenv("SHOW_TABLE"))
		fputs(text, stderr);
	ck_assert_msg(strstr(text, "where the frozen window goes"), "%s", text);
	ck_assert_msg(strstr(text, "lxc   post         "), "%s", text);
	ck_assert_msg(strstr(text, "   1.00 s    1.30 s"), "%s", text);
	free(text);
	json_decref(doc);
}
END_TEST

START_TEST(test_table_prints)
{
	json_t *doc = synthetic();
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	bench_analyze(doc);
	bench_print_table(doc, f);
	bench_print_targets(doc, f);
	fclose(f);
	if (getenv("SHOW_TABLE"))
		fputs(text, stderr);
	ck_assert(strstr(text, "25.00 s (20.00-30.00)"));
	ck_assert(strstr(text, "[MISS] pre-copy finishes"));
	ck_assert(strstr(text, "[ok  ] post-copy lazy window <= 3 x (RSS / link bandwidth)"));
	ck_assert(strstr(text, "1 GB 10 %/s"));
	ck_assert(strstr(text, "stop+relay"));
	ck_assert(strstr(text, "stop+tls"));
	free(text);
	json_decref(doc);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("bench_analyze");
	TCase *tc = tcase_create("bench_analyze");
	__do_free char *keep_util = xstrdup(""); /* links util.o, which analyze.o needs */

	tcase_add_test(tc, test_lazy_window_vs_link);
	tcase_add_test(tc, test_tls_and_lxc_post);
	tcase_add_test(tc, test_pre_finishes);
	tcase_add_test(tc, test_medians_ranges_samples);
	tcase_add_test(tc, test_table_prints);
	tcase_add_test(tc, test_frozen_split);
	suite_add_tcase(s, tc);
	return unit_run(s) ? 1 : 0;
}
