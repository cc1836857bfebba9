/* From raw samples to what the benchmark reports: medians per
 * configuration, the baselines per size, the targets; and the text table. */
#include <math.h>
#include <string.h>

#include "bench.h"
#include "util.h"

const char *const bench_strategies[] = { "stop", "pre", "post", "hybrid", NULL };

const struct bench_tls_row bench_tls_rows[BT_COUNT] = {
	[BT_OFF] = { "off", "", "", 1 },
	[BT_ON] = { "on", "+tls", " (page TLS on)", 1.6 },
	[BT_RELAY] = { "relay", "+relay", " (page TLS through the relay)", 1.6 },
};

enum bench_tls bench_tls_of(const json_t *o)
{
	const char *name = json_string_value(json_object_get(o, "page_tls_mode"));

	if (!name)
		return json_is_true(json_object_get(o, "page_tls")) ? BT_ON : BT_OFF;
	for (int t = 0; t < BT_COUNT; t++)
		if (!strcmp(name, bench_tls_rows[t].name))
			return t;
	return BT_OFF;
}

double jnum(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_number(v) ? json_number_value(v) : NAN;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double median(double *v, size_t n)
{
	size_t m = 0;

	for (size_t i = 0; i < n; i++)
		if (isfinite(v[i]))
			v[m++] = v[i];
	if (!m)
		return NAN;
	qsort(v, m, sizeof(*v), cmp_double);
	return m % 2 ? v[m / 2] : (v[m / 2 - 1] + v[m / 2]) / 2;
}

void fmt_ms(double ms, char *buf, size_t len)
{
	if (!isfinite(ms))
		snprintf(buf, len, "-");
	else if (ms < 1000)
		snprintf(buf, len, "%.0f ms", ms);
	else if (ms < 100000)
		snprintf(buf, len, "%.2f s", ms / 1000);
	else
		snprintf(buf, len, "%.0f s", ms / 1000);
}

void fmt_bytes(double b, char *buf, size_t len)
{
	if (!isfinite(b))
		snprintf(buf, len, "-");
	else if (b < 1e3)
		snprintf(buf, len, "%.0f B", b);
	else if (b < 1e6)
		snprintf(buf, len, "%.1f KB", b / 1e3);
	else if (b < 1e9)
		snprintf(buf, len, "%.1f MB", b / 1e6);
	else
		snprintf(buf, len, "%.2f GB", b / 1e9);
}

void fmt_size(int mb, char *buf, size_t len)
{
	if (mb >= 1024 && mb % 1024 == 0)
		snprintf(buf, len, "%d GB", mb / 1024);
	else
		snprintf(buf, len, "%d MB", mb);
}

void fmt_rate(int rate, char *buf, size_t len)
{
	if (rate == 0)
		snprintf(buf, len, "idle");
	else
		snprintf(buf, len, "%d %%/s", rate);
}

/* ---- medians per configuration ------------------------------------------- */

static bool same_config(const json_t *a, const json_t *b)
{
	return !strcmp(json_string_value(json_object_get(a, "strategy")) ?: "",
		       json_string_value(json_object_get(b, "strategy")) ?: "") &&
	       bench_tls_of(a) == bench_tls_of(b) &&
	       jnum(a, "size_mb") == jnum(b, "size_mb") && jnum(a, "dirty_rate") == jnum(b, "dirty_rate") &&
	       !strcmp(json_string_value(json_object_get(a, "container")) ?: "",
		       json_string_value(json_object_get(b, "container")) ?: "");
}

/* Median of key over the valid samples of one configuration (or baseline). */
static double med_of(json_t *samples, const char *key)
{
	size_t n = json_array_size(samples), i;
	double *v = xmalloc((n + 1) * sizeof(*v)), m;
	json_t *s;

	json_array_foreach(samples, i, s)
		v[i] = jnum(s, key);
	m = median(v, n);
	free(v);
	return m;
}

static json_t *num_or_null(double v)
{
	return isfinite(v) ? json_real(round(v * 10) / 10) : json_null();
}

/* [min, max] of key over the valid samples, or NULL when none has it. */
static json_t *range_of(json_t *samples, const char *key)
{
	double lo = NAN, hi = NAN;
	json_t *s;
	size_t i;

	json_array_foreach(samples, i, s) {
		double v = jnum(s, key);

		if (!isfinite(v))
			continue;
		if (!(v >= lo))
			lo = v;
		if (!(v <= hi))
			hi = v;
	}
	return isfinite(lo) ? json_pack("[o, o]", num_or_null(lo), num_or_null(hi)) : NULL;
}

/* Every sample stays in "runs"; a configuration shows its medians and, for
 * these, the spread of its valid repetitions. */
static const char *const range_keys[] = { "downtime_ms", "crmig_downtime_ms", "frozen_ms", "bytes_before_resume",
					  "bytes_total", "rounds", "lazy_ms", "total_ms", NULL };

static void set_ranges(json_t *c, json_t *valid, const char *const *keys)
{
	json_t *ranges = json_object();

	for (size_t k = 0; keys[k]; k++) {
		json_t *r = range_of(valid, keys[k]);

		if (r)
			json_object_set_new(ranges, keys[k], r);
	}
	json_object_set_new(c, "range", ranges);
}

/* How the pre-copy rounds of the attempts ended: "small" (converged) or the
 * reason the policy stopped them; the final dump sent the rest. */
static json_t *stop_reasons(json_t *all)
{
	json_t *counts = json_object(), *s;
	size_t i;

	json_array_foreach(all, i, s) {
		const char *why = json_string_value(json_object_get(s, "stop_reason"));

		if (why)
			json_object_set_new(counts, why, json_integer(json_integer_value(json_object_get(counts, why)) + 1));
	}
	return counts;
}

static json_t *int_or_null(double v)
{
	return isfinite(v) ? json_integer((json_int_t)llround(v)) : json_null();
}

static const char *const median_keys[] = { "downtime_ms", "crmig_downtime_ms", "frozen_ms", "bytes_before_resume",
					   "live_sync_bytes", "bytes_total", "rounds", "lazy_ms", "total_ms",
					   "final_round_pages", "final_round_pct", "page_stream_MBps", NULL };
static const bool median_int[] = { false, false, false, true, true, true, true, false, false, true, false, false };

/* The part of bytes_before_resume that crossed while the workload still ran:
 * crmig's "sync" phase (the workload's files; a container's config and
 * rootfs when the destination lacks them). Derived from the phases, so that
 * --replot of an older results.json has it too. */
static void derive_live_sync(json_t *sample)
{
	const json_t *sync = bench_phase(sample, "sync");

	json_object_set_new(sample, "live_sync_bytes", json_is_array(json_object_get(sample, "phases")) ?
			    json_real(sync ? jnum(sync, "bytes") : 0) : json_null());
}

/* Where the frozen window went (a container's fixed cost, issue 14): crmig's
 * frozen phases on the source's clock, and the destination's restore split
 * at criu's action-script calls on serve's clock, from the restore request:
 * "setup" before criu restores anything (liblxc: the container's rootfs
 * mount, network and cgroups; bare: serve's own checks), "criu" from
 * pre-restore to pre-resume, "resume" from there to the restore's reply
 * (the tasks let go, liblxc's monitor, serve's after-restore work). One row:
 * the sample key, the phase or restore milestones it spans. */
static const struct split_row {
	const char *key, *label;
	const char *phase;           /* a crmig phase's length, or */
	const char *from, *to;       /* destination_restore: to - from (NULL from: the request) */
} split_rows[] = {
	{ "split_dump_ms", "dump", "dump", NULL, NULL },
	{ "split_transfer_ms", "transfer", "transfer", NULL, NULL },
	{ "split_sync_frozen_ms", "sync-frz", "sync-frozen", NULL, NULL },
	{ "split_restore_ms", "restore", "restore", NULL, NULL },
	{ "split_dest_setup_ms", "b:setup", NULL, NULL, "pre-restore" },
	{ "split_dest_criu_ms", "b:criu", NULL, "pre-restore", "pre-resume" },
	{ "split_dest_resume_ms", "b:resume", NULL, "pre-resume", "restore_ms" },
};

static void derive_frozen_split(json_t *sample)
{
	json_t *dest = json_object_get(sample, "destination_restore");

	if (!json_is_array(json_object_get(sample, "phases")))
		return;
	for (size_t i = 0; i < ARRAY_SIZE(split_rows); i++) {
		const struct split_row *r = &split_rows[i];
		double v = NAN;

		if (r->phase) {
			const json_t *p = bench_phase(sample, r->phase);

			/* no sync-frozen phase: nothing was mirrored while frozen */
			v = p ? jnum(p, "end_ms") - jnum(p, "start_ms") : !strcmp(r->phase, "sync-frozen") ? 0 : NAN;
		} else if (json_is_object(dest)) {
			v = jnum(dest, r->to) - (r->from ? jnum(dest, r->from) : 0);
		}
		if (isfinite(v))
			json_object_set_new(sample, r->key, json_real(v));
	}
}

static json_t *aggregate_config(const json_t *first, json_t *valid, json_t *all)
{
	json_t *c = json_object();
	json_t *failures = json_array(), *s;
	size_t i;

	json_object_set(c, "strategy", json_object_get(first, "strategy"));
	json_object_set(c, "page_tls", json_object_get(first, "page_tls"));
	json_object_set_new(c, "page_tls_mode", json_string(bench_tls_rows[bench_tls_of(first)].name));
	json_object_set(c, "size_mb", json_object_get(first, "size_mb"));
	json_object_set(c, "dirty_rate", json_object_get(first, "dirty_rate"));
	json_object_set(c, "container", json_object_get(first, "container"));
	for (size_t k = 0; median_keys[k]; k++) {
		double m = med_of(valid, median_keys[k]);
		json_object_set_new(c, median_keys[k], median_int[k] ? int_or_null(m) : num_or_null(m));
	}
	{
		json_t *split = json_object();

		for (size_t k = 0; k < ARRAY_SIZE(split_rows); k++) {
			double m = med_of(valid, split_rows[k].key);

			if (isfinite(m))
				json_object_set_new(split, split_rows[k].label, num_or_null(m));
		}
		json_object_set_new(c, "frozen_split_ms", split);
	}
	set_ranges(c, valid, range_keys);
	json_object_set_new(c, "stop_reasons", stop_reasons(all));
	json_object_set_new(c, "repetitions", json_integer((json_int_t)json_array_size(valid)));
	json_object_set_new(c, "attempts", json_integer((json_int_t)json_array_size(all)));
	json_array_foreach(all, i, s)
		if (!json_is_true(json_object_get(s, "valid")))
			json_array_append_new(failures, json_pack("{s:I, s:s}", "rep", (json_int_t)jnum(s, "rep"), "reason",
								  json_string_value(json_object_get(s, "reason")) ?: "?"));
	json_object_set_new(c, "failures", failures);
	return c;
}

static void analyze_configs(json_t *doc)
{
	json_t *runs = json_object_get(doc, "runs"), *out = json_array(), *r;
	size_t n = json_array_size(runs), i;
	bool *done = xzalloc(n + 1);

	json_array_foreach(runs, i, r) {
		derive_live_sync(r);
		derive_frozen_split(r);
	}
	json_array_foreach(runs, i, r) {
		json_t *valid, *all, *o;
		size_t j;

		if (done[i])
			continue;
		valid = json_array();
		all = json_array();
		for (j = i; j < n; j++) {
			o = json_array_get(runs, j);
			if (done[j] || !same_config(r, o))
				continue;
			done[j] = true;
			json_array_append(all, o);
			if (json_is_true(json_object_get(o, "valid")))
				json_array_append(valid, o);
		}
		json_array_append_new(out, aggregate_config(r, valid, all));
		json_decref(valid);
		json_decref(all);
	}
	free(done);
	json_object_set_new(doc, "configurations", out);
}

/* ---- baselines ------------------------------------------------------------ */

/* The fastest median page stream of the stop rows (page TLS off): criu
 * dumping straight into the destination's page server over the bridge. */
static double fastest_page_stream(const json_t *doc)
{
	json_t *c;
	size_t i;
	double best = NAN;

	json_array_foreach(json_object_get(doc, "configurations"), i, c) {
		double v = jnum(c, "page_stream_MBps");

		if (bench_tls_of(c) == BT_OFF && isfinite(v) && !(v <= best))
			best = v;
	}
	return best;
}

/* The link bandwidth for the floor: the faster of nc's transfer and crmig's
 * own page streams. nc under TCG is syscall-bound (about a fifth of what
 * the page streams reach), and a floor built on it would be no floor. */
static double link_MBps(json_t *doc)
{
	json_t *link = json_object_get(doc, "link"), *v;
	json_t *samples = json_object_get(link, "samples_MBps");
	size_t n = json_array_size(samples), i;
	double *a = xmalloc((n + 1) * sizeof(*a)), nc, stream;

	json_array_foreach(samples, i, v)
		a[i] = json_number_value(v);
	nc = median(a, n);
	free(a);
	stream = fastest_page_stream(doc);
	json_object_set_new(link, "nc_MBps", num_or_null(nc));
	json_object_set_new(link, "page_stream_MBps", num_or_null(stream));
	json_object_set_new(link, "MBps", num_or_null(isfinite(stream) && !(stream <= nc) ? stream : nc));
	return jnum(link, "MBps");
}

/* floor = local dump + RSS / link bandwidth + local restore, per sample. */
static void analyze_baselines(json_t *doc)
{
	json_t *runs = json_object_get(doc, "baseline_runs"), *out = json_array(), *r;
	double bw = link_MBps(doc);
	size_t n = json_array_size(runs), i;
	bool *done = xzalloc(n + 1);

	json_array_foreach(runs, i, r) {
		double floor_ms = jnum(r, "dump_ms") + jnum(r, "rss_bytes") / (bw * 1e6) * 1000 + jnum(r, "local_restore_ms");

		json_object_set_new(r, "link_MBps", num_or_null(bw));
		json_object_set_new(r, "floor_transfer_ms", num_or_null(jnum(r, "rss_bytes") / (bw * 1e6) * 1000));
		json_object_set_new(r, "floor_downtime_ms", num_or_null(floor_ms));
	}
	json_array_foreach(runs, i, r) {
		json_t *valid, *failures, *b, *o;
		size_t j, attempts = 0;

		if (done[i])
			continue;
		valid = json_array();
		failures = json_array();
		for (j = i; j < n; j++) {
			o = json_array_get(runs, j);
			if (done[j] || jnum(o, "size_mb") != jnum(r, "size_mb") ||
			    strcmp(json_string_value(json_object_get(o, "container")) ?: "",
				   json_string_value(json_object_get(r, "container")) ?: ""))
				continue;
			done[j] = true;
			attempts++;
			if (json_is_true(json_object_get(o, "valid")))
				json_array_append(valid, o);
			else
				json_array_append_new(failures,
						      json_pack("{s:I, s:s}", "rep", (json_int_t)jnum(o, "rep"), "reason",
								json_string_value(json_object_get(o, "reason")) ?: "?"));
		}
		b = json_object();
		json_object_set(b, "size_mb", json_object_get(r, "size_mb"));
		json_object_set(b, "container", json_object_get(r, "container"));
		json_object_set(b, "dirty_rate", json_object_get(r, "dirty_rate"));
		json_object_set(b, "method", json_object_get(r, "method"));
		json_object_set_new(b, "baseline_user_downtime_ms", num_or_null(med_of(valid, "downtime_ms")));
		json_object_set_new(b, "floor_downtime_ms", num_or_null(med_of(valid, "floor_downtime_ms")));
		json_object_set_new(b, "user_steps_ms",
				    json_pack("{s:o, s:o, s:o, s:o}", "dump", num_or_null(med_of(valid, "dump_ms")), "copy",
					      num_or_null(med_of(valid, "copy_ms")), "restore",
					      num_or_null(med_of(valid, "restore_ms")), "script",
					      num_or_null(med_of(valid, "script_ms"))));
		json_object_set_new(b, "floor",
				    json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "dump_ms", num_or_null(med_of(valid, "dump_ms")),
					      "rss_bytes", int_or_null(med_of(valid, "rss_bytes")), "link_MBps",
					      num_or_null(bw), "transfer_ms", num_or_null(med_of(valid, "floor_transfer_ms")),
					      "local_restore_ms", num_or_null(med_of(valid, "local_restore_ms")),
					      "image_bytes", int_or_null(med_of(valid, "image_bytes"))));
		{
			static const char *const keys[] = { "downtime_ms", "floor_downtime_ms", NULL };
			set_ranges(b, valid, keys);
		}
		json_object_set_new(b, "repetitions", json_integer((json_int_t)json_array_size(valid)));
		json_object_set_new(b, "attempts", json_integer((json_int_t)attempts));
		json_object_set_new(b, "failures", failures);
		json_array_append_new(out, b);
		json_decref(valid);
	}
	free(done);
	json_object_set_new(doc, "baselines", out);
}

json_t *bench_config(const json_t *doc, const char *strategy, enum bench_tls tls, int size_mb, int rate,
		     const char *container)
{
	json_t *c;
	size_t i;

	json_array_foreach(json_object_get(doc, "configurations"), i, c)
		if (!strcmp(json_string_value(json_object_get(c, "strategy")) ?: "", strategy) &&
		    bench_tls_of(c) == tls && jnum(c, "size_mb") == size_mb &&
		    jnum(c, "dirty_rate") == rate &&
		    !strcmp(json_string_value(json_object_get(c, "container")) ?: "", container))
			return c;
	return NULL;
}

json_t *bench_baseline(const json_t *doc, int size_mb, const char *container)
{
	json_t *b;
	size_t i;

	json_array_foreach(json_object_get(doc, "baselines"), i, b)
		if (jnum(b, "size_mb") == size_mb &&
		    !strcmp(json_string_value(json_object_get(b, "container")) ?: "", container))
			return b;
	return NULL;
}

/* ---- targets ---------------------------------------------------------------- */

const json_t *bench_phase(const json_t *report, const char *name)
{
	json_t *p;
	size_t i;

	json_array_foreach(json_object_get(report, "phases"), i, p)
		if (!strcmp(json_string_value(json_object_get(p, "name")) ?: "", name))
			return p;
	return NULL;
}

size_t matrix_axis(const json_t *doc, const char *key, int *out, size_t max)
{
	json_t *v;
	size_t i, n = 0;

	json_array_foreach(json_object_get(json_object_get(doc, "matrix"), key), i, v)
		if (n < max)
			out[n++] = (int)json_integer_value(v);
	return n;
}

static size_t modes_of(const json_t *doc, const char **out)
{
	json_t *v;
	size_t i, n = 0;

	json_array_foreach(json_object_get(json_object_get(doc, "matrix"), "modes"), i, v)
		if (n < 2)
			out[n++] = json_string_value(v);
	return n;
}

/* The reference dirty rate for the targets: ~1 %/s if the run had it. */
static int ref_rate(const json_t *doc)
{
	int rates[16];
	size_t n = matrix_axis(doc, "rates", rates, 16);

	for (size_t i = 0; i < n; i++)
		if (rates[i] == 1)
			return 1;
	return n ? rates[0] : 1;
}

static void target(json_t *list, const char *id, const char *text, int size_mb, const char *container, int rate,
		   double measured, double limit, const char *unit, const char *detail)
{
	json_t *t = json_object();

	json_object_set_new(t, "id", json_string(id));
	json_object_set_new(t, "target", json_string(text));
	json_object_set_new(t, "size_mb", json_integer(size_mb));
	json_object_set_new(t, "container", json_string(container));
	if (rate >= 0)
		json_object_set_new(t, "dirty_rate", json_integer(rate));
	json_object_set_new(t, "measured", isfinite(measured) ? json_real(round(measured * 10000) / 10000) : json_null());
	json_object_set_new(t, "limit", json_real(limit));
	json_object_set_new(t, "unit", json_string(unit));
	json_object_set_new(t, "holds", isfinite(measured) ? json_boolean(measured <= limit) : json_null());
	json_object_set_new(t, "detail", json_string(isfinite(measured) ? detail : "not measured in this run"));
	json_array_append_new(list, t);
}

static double cfg(const json_t *doc, const char *strategy, int size, int rate, const char *mode, const char *key)
{
	return jnum(bench_config(doc, strategy, false, size, rate, mode), key);
}

/* The workload's RSS as the baselines measured it, else its nominal size. */
static double workload_bytes(const json_t *doc, int size, const char *mode)
{
	double v = jnum(json_object_get(bench_baseline(doc, size, mode), "floor"), "rss_bytes");

	return isfinite(v) && v > 0 ? v : size * BENCH_MIB;
}

/* Post-copy's lazy window against what the link allows: RSS / bandwidth. */
static void target_lazy_window(const json_t *doc, json_t *list, int size, int rate, const char *mode, double limit)
{
	double lazy = cfg(doc, "post", size, rate, mode, "lazy_ms");
	double bw = jnum(json_object_get(doc, "link"), "MBps"), rss = workload_bytes(doc, size, mode);
	double ideal_ms = bw > 0 ? rss / (bw * 1e6) * 1000 : NAN;
	char d[256], a[32], b[32], r[32], text[96];

	fmt_ms(lazy, a, sizeof(a));
	fmt_ms(ideal_ms, b, sizeof(b));
	fmt_bytes(rss, r, sizeof(r));
	snprintf(d, sizeof(d), "post lazy window %s / (RSS %s / link %.1f MB/s = %s)", a, r, bw, b);
	snprintf(text, sizeof(text), "post-copy lazy window <= %g x (RSS / link bandwidth)", limit);
	target(list, "lazy_window_vs_link", text, size, mode, rate, lazy / ideal_ms, limit, "ratio", d);
}

/* Page TLS (the default) against --page-tls off: stop-and-copy's downtime. */
static void target_tls(const json_t *doc, json_t *list, int size, const char *mode)
{
	double on = jnum(bench_config(doc, "stop", BT_ON, size, 1, mode), "downtime_ms");
	double off = cfg(doc, "stop", size, 1, mode, "downtime_ms");
	char d[256], a[32], b[32];

	fmt_ms(on, a, sizeof(a));
	fmt_ms(off, b, sizeof(b));
	snprintf(d, sizeof(d), "stop with page TLS %s / without %s (probe)", a, b);
	target(list, "tls_vs_plain", "page TLS on: stop-and-copy downtime <= 1.3 x page TLS off", size, mode, 1,
	       on / off, 1.3, "ratio", d);
}

/* A container's fixed cost: LXC post-copy downtime against a bare process's. */
static void target_lxc_post(const json_t *doc, json_t *list, int size, int rate)
{
	double lxc = cfg(doc, "post", size, rate, "lxc", "downtime_ms");
	double bare = cfg(doc, "post", size, rate, "bare", "downtime_ms");
	char d[256], a[32], b[32];

	fmt_ms(lxc, a, sizeof(a));
	fmt_ms(bare, b, sizeof(b));
	snprintf(d, sizeof(d), "LXC post %s / bare post %s (probe)", a, b);
	target(list, "lxc_post_vs_bare_post", "LXC post-copy downtime <= 1.5 x bare post-copy", size, "lxc", rate,
	       lxc / bare, 1.5, "ratio", d);
}

/* Pre-copy that does not converge must still finish: every attempt migrated,
 * and how its rounds ended (converged, or the policy's reason to stop). */
static void target_pre_finishes(const json_t *doc, json_t *list, int size, int rate, const char *mode)
{
	const json_t *c = bench_config(doc, "pre", false, size, rate, mode);
	double attempts = jnum(c, "attempts"), valid = jnum(c, "repetitions");
	const json_t *reasons = json_object_get(c, "stop_reasons"), *n;
	const char *why;
	char d[512];
	size_t o;

	o = snprintf(d, sizeof(d), "%.0f of %.0f attempts finished; rounds ended:", valid, attempts);
	json_object_foreach((json_t *)reasons, why, n)
		if (o < sizeof(d))
			o += snprintf(d + o, sizeof(d) - o, " %s%s x%lld", !strcmp(why, "small") ? "converged " : "stopped: ",
				      why, (long long)json_integer_value(n));
	if (!json_object_size(reasons) && o < sizeof(d))
		snprintf(d + o, sizeof(d) - o, " (no stop_reason recorded)");
	target(list, "pre_finishes", "pre-copy finishes (converges, or stops rounds and dumps the rest)", size, mode,
	       rate, attempts > 0 ? attempts - valid : NAN, 0, "failed runs", d);
}

static void analyze_targets(json_t *doc)
{
	json_t *list = json_array();
	int sizes[16], rates[16], rate = ref_rate(doc);
	const char *modes[2];
	size_t nsizes = matrix_axis(doc, "sizes", sizes, 16), nrates = matrix_axis(doc, "rates", rates, 16), nmodes = modes_of(doc, modes);
	char d[512], a[32], b[32];

	for (size_t m = 0; m < nmodes; m++) {
		for (size_t s = 0; s < nsizes; s++) {
			int size = sizes[s];
			double stop = cfg(doc, "stop", size, rate, modes[m], "downtime_ms");

			/* post-copy: at most 64 KB before resume (200 MB and 1 GB; the talk: 116 KB), at every rate. */
			if (size == 200 || size == 1024) {
				double worst = NAN;
				int worst_rate = -1;
				for (size_t r = 0; r < nrates; r++) {
					double v = cfg(doc, "post", size, rates[r], modes[m], "bytes_before_resume");
					if (isfinite(v) && (!isfinite(worst) || v > worst)) {
						worst = v;
						worst_rate = rates[r];
					}
				}
				double live = cfg(doc, "post", size, worst_rate, modes[m], "live_sync_bytes");
				char l[32], c[32];

				fmt_bytes(worst, a, sizeof(a));
				fmt_rate(worst_rate, b, sizeof(b));
				fmt_bytes(live, l, sizeof(l));
				fmt_bytes(worst - live, c, sizeof(c));
				snprintf(d, sizeof(d),
					 "post-copy moved %s before resume (worst over the dirty rates: at %s): %s of files "
					 "synced while it ran, %s of checkpoint after the freeze", a, b, l, c);
				target(list, "post_bytes_before_resume", "post-copy moves <= 64 KB before resume", size,
				       modes[m], -1, worst / 1024, 64, "KiB", d);
			}
			/* post-copy downtime <= 0.10 x stop at 200 MB */
			if (size == 200) {
				double post = cfg(doc, "post", size, rate, modes[m], "downtime_ms");
				fmt_ms(post, a, sizeof(a));
				fmt_ms(stop, b, sizeof(b));
				snprintf(d, sizeof(d), "post %s / stop %s (probe)", a, b);
				target(list, "post_downtime_vs_stop", "post-copy downtime <= 0.10 x stop-and-copy", size,
				       modes[m], rate, post / stop, 0.10, "ratio", d);
			}
			/* pre-copy: final round <= 5 % of memory, downtime <= 0.35 x stop */
			{
				double pages = cfg(doc, "pre", size, rate, modes[m], "final_round_pages");
				double pct = pages * BENCH_PAGE / (size * BENCH_MIB) * 100;
				double pre = cfg(doc, "pre", size, rate, modes[m], "downtime_ms");
				double rounds = cfg(doc, "pre", size, rate, modes[m], "rounds");

				snprintf(d, sizeof(d), "final round %.0f pages of %.0f (%.0f pre-dump rounds)", pages,
					 size * BENCH_MIB / BENCH_PAGE, rounds);
				target(list, "pre_final_round", "pre-copy final round <= 5 % of the workload's memory", size,
				       modes[m], rate, pct, 5, "%", d);
				fmt_ms(pre, a, sizeof(a));
				fmt_ms(stop, b, sizeof(b));
				snprintf(d, sizeof(d), "pre %s / stop %s (probe)", a, b);
				target(list, "pre_downtime_vs_stop", "pre-copy downtime <= 0.35 x stop-and-copy", size, modes[m],
				       rate, pre / stop, 0.35, "ratio", d);
			}
			/* stop vs the baselines */
			{
				json_t *bl = bench_baseline(doc, size, modes[m]);
				double user = jnum(bl, "baseline_user_downtime_ms"), fl = jnum(bl, "floor_downtime_ms");
				int brate = bl ? (int)jnum(bl, "dirty_rate") : rate;
				double st = cfg(doc, "stop", size, brate, modes[m], "downtime_ms");
				const char *what = !strcmp(modes[m], "lxc") ? "lxc-checkpoint + ssh" : "criu dump + scp + restore";

				fmt_ms(st, a, sizeof(a));
				fmt_ms(user, b, sizeof(b));
				snprintf(d, sizeof(d), "crmig stop %s / %s %s (probe)", a, what, b);
				target(list, "stop_vs_user_baseline", "crmig stop-and-copy downtime <= 0.25 x the user's baseline",
				       size, modes[m], brate, st / user, 0.25, "ratio", d);
				fmt_ms(fl, b, sizeof(b));
				snprintf(d, sizeof(d), "crmig stop %s / floor %s", a, b);
				target(list, "stop_vs_floor", "crmig stop-and-copy downtime <= 1.2 x the physical floor", size,
				       modes[m], brate, st / fl, 1.2, "ratio", d);
			}
			/* hybrid's lazy window <= 0.25 x post's */
			{
				double h = cfg(doc, "hybrid", size, rate, modes[m], "lazy_ms");
				double p = cfg(doc, "post", size, rate, modes[m], "lazy_ms");

				fmt_ms(h, a, sizeof(a));
				fmt_ms(p, b, sizeof(b));
				snprintf(d, sizeof(d), "hybrid lazy %s / post lazy %s", a, b);
				target(list, "hybrid_lazy_vs_post", "hybrid's lazy window <= 0.25 x post-copy's", size, modes[m],
				       rate, h / p, 0.25, "ratio", d);
			}
			/* issue 14: the lazy window against the link, page TLS, pre-copy that ends */
			if (size == 1024) {
				target_lazy_window(doc, list, size, 1, modes[m], 3);
				target_lazy_window(doc, list, size, 10, modes[m], 5);
				target_pre_finishes(doc, list, size, 10, modes[m]);
			}
			if (size == 200 || size == 1024)
				target_tls(doc, list, size, modes[m]);
			if (!strcmp(modes[m], "lxc") && nmodes == 2)
				target_lxc_post(doc, list, size, rate);
		}
	}
	json_object_set_new(doc, "targets", list);
}

void bench_analyze(json_t *doc)
{
	analyze_configs(doc);
	analyze_baselines(doc);
	analyze_targets(doc);
}

/* ---- the text table ------------------------------------------------------- */

static void strategy_label(const json_t *c, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s", json_string_value(json_object_get(c, "strategy")) ?: "?",
		 bench_tls_rows[bench_tls_of(c)].suffix);
}

void bench_fmt_ms_range(const json_t *row, const char *key, char *buf, size_t len)
{
	const json_t *r = json_object_get(json_object_get(row, "range"), key);
	double m = jnum(row, key), lo = json_number_value(json_array_get(r, 0)), hi = json_number_value(json_array_get(r, 1));
	size_t o;

	fmt_ms(m, buf, len);
	if (!isfinite(m) || json_array_size(r) != 2 || lo == hi)
		return;
	/* the spread in the median's unit: "2.14 s (2.01-2.30)" */
	o = strlen(buf);
	if (m < 1000)
		snprintf(buf + o, len - o, " (%.0f-%.0f)", lo, hi);
	else if (m < 100000)
		snprintf(buf + o, len - o, " (%.2f-%.2f)", lo / 1000, hi / 1000);
	else
		snprintf(buf + o, len - o, " (%.0f-%.0f)", lo / 1000, hi / 1000);
}

/* The frozen window of stop and post (page TLS off) at the reference rate,
 * split as split_rows says, per mode: a container's extra is the difference
 * between its rows and the bare ones. */
static void print_split(const json_t *doc, FILE *out, const int *sizes, size_t nsizes, const char **modes,
			size_t nmodes)
{
	static const char *const strategies[] = { "stop", "post" };
	int rate = ref_rate(doc);
	char rt[16];
	bool any = false;

	fmt_rate(rate, rt, sizeof(rt));
	for (size_t m = 0; m < nmodes; m++)
		for (size_t z = 0; z < nsizes; z++)
			for (size_t k = 0; k < ARRAY_SIZE(strategies); k++) {
				json_t *c = bench_config(doc, strategies[k], BT_OFF, sizes[z], rate, modes[m]);
				json_t *split = json_object_get(c, "frozen_split_ms");
				char sz[16], v[16];

				if (!json_object_size(split))
					continue;
				if (!any) {
					fprintf(out, "\nwhere the frozen window goes (%s, page TLS off; medians; b: the destination's "
						"restore, within \"restore\")\n%-6s %-5s %-8s %9s", rt, "size", "mode", "strategy",
						"frozen");
					for (size_t i = 0; i < ARRAY_SIZE(split_rows); i++)
						fprintf(out, " %9s", split_rows[i].label);
					fputc('\n', out);
					any = true;
				}
				fmt_size(sizes[z], sz, sizeof(sz));
				fmt_ms(jnum(c, "frozen_ms"), v, sizeof(v));
				fprintf(out, "%-6s %-5s %-8s %9s", sz, modes[m], strategies[k], v);
				for (size_t i = 0; i < ARRAY_SIZE(split_rows); i++) {
					fmt_ms(jnum(split, split_rows[i].label), v, sizeof(v));
					fprintf(out, " %9s", v);
				}
				fputc('\n', out);
			}
}

void bench_print_table(const json_t *doc, FILE *out)
{
	int sizes[16], rates[16];
	const char *modes[2];
	size_t nsizes = matrix_axis(doc, "sizes", sizes, 16), nrates = matrix_axis(doc, "rates", rates, 16), nmodes = modes_of(doc, modes);
	static const struct { const char *s; enum bench_tls tls; } order[] = {
		{ "stop", BT_OFF }, { "stop", BT_ON }, { "stop", BT_RELAY }, { "pre", BT_OFF }, { "post", BT_OFF }, { "hybrid", BT_OFF },
	};

	fprintf(out, "%-6s %-6s %-5s %-10s %22s %9s %10s %10s %6s %7s %20s %8s %4s\n", "size", "rate", "mode", "strategy",
		"downtime (min-max)", "crmig dt", "pre-resume", "total", "rounds", "final%", "lazy (min-max)", "time", "n");
	for (size_t m = 0; m < nmodes; m++)
		for (size_t s = 0; s < nsizes; s++)
			for (size_t r = 0; r < nrates; r++)
				for (size_t k = 0; k < ARRAY_SIZE(order); k++) {
					json_t *c = bench_config(doc, order[k].s, order[k].tls, sizes[s], rates[r], modes[m]);
					char sz[16], rt[16], dt[48], cdt[16], br[16], bt[16], lz[48], tt[16], fr[16], st[24];
					double pct = jnum(c, "final_round_pct");

					if (!c)
						continue;
					fmt_size(sizes[s], sz, sizeof(sz));
					fmt_rate(rates[r], rt, sizeof(rt));
					bench_fmt_ms_range(c, "downtime_ms", dt, sizeof(dt));
					fmt_ms(jnum(c, "crmig_downtime_ms"), cdt, sizeof(cdt));
					fmt_bytes(jnum(c, "bytes_before_resume"), br, sizeof(br));
					fmt_bytes(jnum(c, "bytes_total"), bt, sizeof(bt));
					if (jnum(c, "lazy_ms") > 0)
						bench_fmt_ms_range(c, "lazy_ms", lz, sizeof(lz));
					else
						snprintf(lz, sizeof(lz), "-");
					fmt_ms(jnum(c, "total_ms"), tt, sizeof(tt));
					if (isfinite(pct) && (!strcmp(order[k].s, "pre") || !strcmp(order[k].s, "hybrid")))
						snprintf(fr, sizeof(fr), "%.2f", pct);
					else
						snprintf(fr, sizeof(fr), "-");
					strategy_label(c, st, sizeof(st));
					fprintf(out, "%-6s %-6s %-5s %-10s %22s %9s %10s %10s %6.0f %7s %20s %8s %2.0f/%.0f\n", sz, rt,
						modes[m], st, dt, cdt, br, bt, jnum(c, "rounds"), fr, lz, tt,
						jnum(c, "repetitions"), jnum(c, "attempts"));
				}
	if (json_array_size(json_object_get(doc, "baselines"))) {
		json_t *link = json_object_get(doc, "link");

		fprintf(out, "\nbaselines (probe downtime; workload at %s; link a->b %.1f MB/s: the faster of nc, %.1f MB/s, "
			"and crmig's page streams, %.1f MB/s)\n", "1 %/s", jnum(link, "MBps"), jnum(link, "nc_MBps"),
			jnum(link, "page_stream_MBps"));
		fprintf(out, "%-6s %-5s %22s %8s %8s %8s   %20s %8s %9s %8s %9s %4s\n", "size", "mode", "user (min-max)", "dump",
			"copy", "restore", "floor (min-max)", "dump", "RSS/bw", "restore", "stop/usr", "n");
		for (size_t m = 0; m < nmodes; m++)
			for (size_t s = 0; s < nsizes; s++) {
				json_t *b = bench_baseline(doc, sizes[s], modes[m]), *st = json_object_get(b, "user_steps_ms"),
				       *fl = json_object_get(b, "floor");
				json_t *stop = bench_config(doc, "stop", false, sizes[s], (int)jnum(b, "dirty_rate"), modes[m]);
				char sz[16], u[48], d1[16], c1[16], r1[16], f[48], d2[16], t2[16], r2[16];
				json_t *row = NULL;

				if (!b)
					continue;
				fmt_size(sizes[s], sz, sizeof(sz));
				/* the ranges are keyed by the samples' names */
				row = json_pack("{s:O?, s:O?, s:O?}", "downtime_ms", json_object_get(b, "baseline_user_downtime_ms"),
						"floor_downtime_ms", json_object_get(b, "floor_downtime_ms"), "range",
						json_object_get(b, "range"));
				bench_fmt_ms_range(row, "downtime_ms", u, sizeof(u));
				fmt_ms(jnum(st, "dump"), d1, sizeof(d1));
				fmt_ms(jnum(st, "copy"), c1, sizeof(c1));
				fmt_ms(jnum(st, "restore"), r1, sizeof(r1));
				bench_fmt_ms_range(row, "floor_downtime_ms", f, sizeof(f));
				json_decref(row);
				fmt_ms(jnum(fl, "dump_ms"), d2, sizeof(d2));
				fmt_ms(jnum(fl, "transfer_ms"), t2, sizeof(t2));
				fmt_ms(jnum(fl, "local_restore_ms"), r2, sizeof(r2));
				fprintf(out, "%-6s %-5s %22s %8s %8s %8s   %20s %8s %9s %8s %9.2f %2.0f/%.0f\n", sz, modes[m], u,
					d1, c1, r1, f, d2, t2, r2,
					jnum(stop, "downtime_ms") / jnum(b, "baseline_user_downtime_ms"), jnum(b, "repetitions"),
					jnum(b, "attempts"));
			}
	}
	print_split(doc, out, sizes, nsizes, modes, nmodes);
	fprintf(out, "\ndowntime: the probe's heartbeat gap (the one clock); crmig dt: crmig's own freeze->resumed;\n"
		     "pre-resume: bytes that crossed before the workload ran again; final%%: the last (frozen) round's\n"
		     "pages as %% of the workload's memory; time: crmig migrate from start to end; n: valid/attempts.\n"
		     "Rows run with --page-tls off except stop+tls (on) and stop+relay. Medians over the valid repetitions, (min-max)\n"
		     "in the median's unit when they differ; every sample is in results.json (runs, baseline_runs).\n");
}

void bench_print_targets(const json_t *doc, FILE *out)
{
	json_t *t;
	size_t i;

	static const char *const ids[] = { "post_bytes_before_resume", "post_downtime_vs_stop", "pre_final_round",
					   "pre_downtime_vs_stop", "stop_vs_user_baseline", "stop_vs_floor",
					   "hybrid_lazy_vs_post", "lazy_window_vs_link", "tls_vs_plain",
					   "lxc_post_vs_bare_post", "pre_finishes" };

	fprintf(out, "\ntargets (at the reference dirty rate unless a rate is given, page TLS off; medians)\n");
	for (size_t k = 0; k < ARRAY_SIZE(ids); k++)
	json_array_foreach(json_object_get(doc, "targets"), i, t) {
		json_t *holds = json_object_get(t, "holds");

		if (strcmp(json_string_value(json_object_get(t, "id")) ?: "", ids[k]))
			continue;
		const char *unit = json_string_value(json_object_get(t, "unit")) ?: "";
		bool ratio = !strcmp(unit, "ratio");
		char sz[16], meas[32], where[32];

		fmt_size((int)jnum(t, "size_mb"), sz, sizeof(sz));
		if (json_object_get(t, "dirty_rate")) {
			char rt[16];
			fmt_rate((int)jnum(t, "dirty_rate"), rt, sizeof(rt));
			snprintf(where, sizeof(where), "%s %s", sz, rt);
		} else {
			snprintf(where, sizeof(where), "%s", sz);
		}
		if (!isfinite(jnum(t, "measured")))
			snprintf(meas, sizeof(meas), "n/a");
		else if (ratio)
			snprintf(meas, sizeof(meas), "%.2f x", jnum(t, "measured"));
		else
			snprintf(meas, sizeof(meas), "%.2f %s", jnum(t, "measured"), unit);
		fprintf(out, "  [%s] %-66s %-13s %-4s %10s (limit %g %s) %s\n",
			json_is_true(holds) ? "ok  " : json_is_false(holds) ? "MISS" : " -- ",
			json_string_value(json_object_get(t, "target")), where,
			json_string_value(json_object_get(t, "container")), meas, jnum(t, "limit"),
			ratio ? "x" : unit, json_string_value(json_object_get(t, "detail")));
	}
}
