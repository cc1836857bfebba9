/* The benchmark's figures, from the results document alone:
 *   downtime_vs_size.svg             probe downtime per strategy and the baselines
 *   bytes_before_resume_vs_size.svg  what crossed before the workload ran again
 *   timeline.svg                     one migration per strategy, its phases */
#include <math.h>
#include <string.h>

#include "bench.h"
#include "svg.h"
#include "util.h"

struct series_def {
	const char *strategy;   /* NULL: a baseline */
	enum bench_tls tls;
	const char *label;
	struct svg_style style;
};

static const struct series_def strategy_series[] = {
	{ "stop", BT_OFF, "stop-and-copy", { "#d62728", NULL, 2, MK_CIRCLE } },
	{ "stop", BT_ON, "stop-and-copy, page TLS on", { "#ff9896", "6 3", 1.6, MK_CIRCLE } },
	{ "stop", BT_RELAY, "stop-and-copy, page TLS relay", { "#e7969c", "2 2", 1.6, MK_SQUARE } },
	{ "pre", BT_OFF, "pre-copy", { "#1f77b4", NULL, 2, MK_SQUARE } },
	{ "post", BT_OFF, "post-copy", { "#2ca02c", NULL, 2, MK_TRIANGLE } },
	{ "hybrid", BT_OFF, "hybrid", { "#9467bd", NULL, 2, MK_DIAMOND } },
};

static const struct svg_style user_style = { "#555555", "8 4", 2, MK_CROSS };
static const struct svg_style floor_style = { "#000000", "2 3", 2, MK_NONE };

#define PW 300.0     /* panel */
#define PH 220.0
#define ML 90.0      /* left margin */
#define GAPX 60.0
#define GAPY 80.0
#define MT 84.0
#define LEGEND_W 250.0

struct grid {
	int sizes[16], rates[16];
	const char *modes[2];
	size_t nsizes, nrates, nmodes;
	double xs[16];
};


static void grid_of(const json_t *doc, struct grid *g)
{
	json_t *v;
	size_t i;

	memset(g, 0, sizeof(*g));
	g->nsizes = matrix_axis(doc, "sizes", g->sizes, 16);
	g->nrates = matrix_axis(doc, "rates", g->rates, 16);
	json_array_foreach(json_object_get(json_object_get(doc, "matrix"), "modes"), i, v)
		if (g->nmodes < 2)
			g->modes[g->nmodes++] = json_string_value(v);
	for (size_t s = 0; s < g->nsizes; s++)
		g->xs[s] = g->sizes[s];
}

static struct svg_panel panel_at(const struct grid *g, size_t row, size_t col)
{
	struct svg_panel p = { 0 };

	(void)g;
	p.x = ML + col * (PW + GAPX);
	p.y = MT + row * (PH + GAPY);
	p.w = PW;
	p.h = PH;
	return p;
}

static void x_axis(const struct grid *g, struct svg_axis *a)
{
	memset(a, 0, sizeof(*a));
	a->log = true;
	a->min = g->nsizes ? g->sizes[0] / 1.4 : 10;
	a->max = g->nsizes ? g->sizes[g->nsizes - 1] * 1.4 : 100;
	for (size_t s = 0; s < g->nsizes; s++) {
		if (g->sizes[s] / 1.4 < a->min)
			a->min = g->sizes[s] / 1.4;
		if (g->sizes[s] * 1.4 > a->max)
			a->max = g->sizes[s] * 1.4;
	}
	a->ticks = g->xs;
	a->nticks = g->nsizes;
	a->fmt = svg_fmt_mb;
	a->label = "workload memory";
}

/* One figure: rows = container modes, columns = dirty rates; y = key. */
static int size_figure(const json_t *doc, const char *dir, const char *file, const char *key, const char *title,
		       const char *ylabel, svg_fmt yfmt, bool baselines, bool bytes_refs)
{
	struct grid g;
	size_t nstrat = ARRAY_SIZE(strategy_series), nall, nv = 0;
	double *all;
	struct svg_axis ya = { 0 };
	struct svg *s;
	__do_free char *path = xasprintf("%s/%s", dir, file);
	struct svg_legend_entry legend[ARRAY_SIZE(strategy_series) + 4];
	size_t nl = 0;
	int ret;

	grid_of(doc, &g);
	if (!g.nsizes || !g.nrates || !g.nmodes)
		return 0;
	/* One y range for every panel, so they compare at a glance. */
	nall = g.nmodes * g.nrates * g.nsizes * (nstrat + 3);
	all = xmalloc(nall * sizeof(*all));
	for (size_t m = 0; m < g.nmodes; m++)
		for (size_t r = 0; r < g.nrates; r++)
			for (size_t z = 0; z < g.nsizes; z++) {
				for (size_t k = 0; k < nstrat; k++)
					all[nv++] = jnum(bench_config(doc, strategy_series[k].strategy, strategy_series[k].tls,
								      g.sizes[z], g.rates[r], g.modes[m]), key);
				if (baselines) {
					json_t *b = bench_baseline(doc, g.sizes[z], g.modes[m]);
					all[nv++] = jnum(b, "baseline_user_downtime_ms");
					all[nv++] = jnum(b, "floor_downtime_ms");
				}
				if (bytes_refs)
					all[nv++] = g.sizes[z] * BENCH_MIB;
			}
	if (bytes_refs)
		all[nv++] = 32 * 1024;
	ya.log = true;
	svg_range(&ya, all, nv, false);
	ya.fmt = yfmt;
	ya.label = ylabel;
	free(all);

	s = svg_new(ML + g.nrates * (PW + GAPX) + LEGEND_W, MT + g.nmodes * (PH + GAPY) + 10, title);
	svg_text(s, ML, 28, "start", 16, "#111111", true, "%s", title);
	svg_text(s, ML, 48, "start", 11.5, "#555555", false,
		 "medians over the valid repetitions; %s",
		 baselines ? "baselines measured with the workload dirtying 1 %/s" : "log scales");
	for (size_t m = 0; m < g.nmodes; m++)
		for (size_t r = 0; r < g.nrates; r++) {
			struct svg_panel p = panel_at(&g, m, r);
			char rate[16], ptitle[64];
			double ys[16];

			fmt_rate(g.rates[r], rate, sizeof(rate));
			snprintf(ptitle, sizeof(ptitle), "%s, %s%s", !strcmp(g.modes[m], "lxc") ? "LXC container" : "bare process",
				 g.rates[r] ? "dirtying " : "", rate);
			x_axis(&g, &p.xa);
			p.ya = ya;
			if (r > 0)
				p.ya.label = NULL; /* the first column says it */
			p.title = ptitle;
			svg_axes(s, &p);
			if (bytes_refs) {
				struct svg_style lim = { "#aaaaaa", "3 3", 1.2, MK_NONE }, mem = { "#bbbbbb", "1 3", 1.5, MK_NONE };
				double y64 = svg_py(&p, 64 * 1024);
				for (size_t z = 0; z < g.nsizes; z++)
					ys[z] = g.sizes[z] * BENCH_MIB;
				svg_series(s, &p, g.xs, ys, g.nsizes, &mem);
				svg_line(s, p.x, y64, p.x + p.w, y64, &lim);
				svg_text(s, p.x + p.w - 4, y64 - 4, "end", 10, "#888888", false, "64 KB");
			}
			if (baselines) {
				for (size_t z = 0; z < g.nsizes; z++)
					ys[z] = jnum(bench_baseline(doc, g.sizes[z], g.modes[m]), "baseline_user_downtime_ms");
				svg_series(s, &p, g.xs, ys, g.nsizes, &user_style);
				for (size_t z = 0; z < g.nsizes; z++)
					ys[z] = jnum(bench_baseline(doc, g.sizes[z], g.modes[m]), "floor_downtime_ms");
				svg_series(s, &p, g.xs, ys, g.nsizes, &floor_style);
			}
			for (size_t k = 0; k < nstrat; k++) {
				bool any = false;
				if (bytes_refs && strategy_series[k].tls != BT_OFF)
					continue; /* the same bytes as stop */
				for (size_t z = 0; z < g.nsizes; z++) {
					ys[z] = jnum(bench_config(doc, strategy_series[k].strategy, strategy_series[k].tls,
								  g.sizes[z], g.rates[r], g.modes[m]), key);
					any |= isfinite(ys[z]);
				}
				if (any)
					svg_series(s, &p, g.xs, ys, g.nsizes, &strategy_series[k].style);
			}
		}
	for (size_t k = 0; k < nstrat; k++) {
		if (!strcmp(key, "bytes_before_resume") && strategy_series[k].tls != BT_OFF)
			continue; /* the same bytes as stop */
		legend[nl++] = (struct svg_legend_entry){ strategy_series[k].label, strategy_series[k].style, false };
	}
	if (baselines) {
		legend[nl++] = (struct svg_legend_entry){ "user: lxc-checkpoint/criu + ssh", user_style, false };
		legend[nl++] = (struct svg_legend_entry){ "floor: dump + RSS/link + restore", floor_style, false };
	}
	if (bytes_refs)
		legend[nl++] = (struct svg_legend_entry){ "the workload's memory", { "#bbbbbb", "1 3", 1.5, MK_NONE }, false };
	svg_legend(s, ML + g.nrates * (PW + GAPX) - 10, MT, legend, nl);
	ret = svg_write(s, path);
	svg_free(s);
	return ret;
}

/* ---- timeline ----------------------------------------------------------------- */

static const struct {
	const char *prefix;
	const char *color;
} phase_colors[] = {
	{ "round", "#1f77b4" }, { "dump", "#d62728" },     { "transfer", "#ff7f0e" }, { "restore", "#8c564b" },
	{ "lazy", "#2ca02c" },  { "sync", "#7f7f7f" },    { "frozen", "#e377c2" },   { NULL, "#bcbd22" },
};

static const char *phase_color(const char *name)
{
	size_t i;

	for (i = 0; phase_colors[i].prefix; i++)
		if (!strncmp(name, phase_colors[i].prefix, strlen(phase_colors[i].prefix)))
			return phase_colors[i].color;
	return phase_colors[i].color;
}

/* The sample shown for a strategy: the valid repetition with the median downtime. */
static json_t *median_sample(const json_t *doc, const char *strategy, int size, int rate, const char *mode)
{
	json_t *runs = json_object_get(doc, "runs"), *r, *pick[64];
	size_t i, n = 0;

	json_array_foreach(runs, i, r)
		if (n < 64 && json_is_true(json_object_get(r, "valid")) &&
		    !strcmp(json_string_value(json_object_get(r, "strategy")) ?: "", strategy) &&
		    bench_tls_of(r) == BT_OFF && jnum(r, "size_mb") == size &&
		    jnum(r, "dirty_rate") == rate && !strcmp(json_string_value(json_object_get(r, "container")) ?: "", mode))
			pick[n++] = r;
	for (size_t a = 1; a < n; a++)
		for (size_t b = a; b > 0 && jnum(pick[b], "downtime_ms") < jnum(pick[b - 1], "downtime_ms"); b--) {
			json_t *t = pick[b];
			pick[b] = pick[b - 1];
			pick[b - 1] = t;
		}
	return n ? pick[n / 2] : NULL;
}

static int timeline(const json_t *doc, const char *dir)
{
	struct grid g;
	int size, rate;
	const char *mode;
	json_t *samples[4];
	double tmax = 0, ends[4] = { 0 }, y;
	size_t rows = 0;
	__do_free char *path = xasprintf("%s/timeline.svg", dir);
	struct svg *s;
	struct svg_panel p = { 0 };
	char sz[16], rt[16], title[160];
	int ret;

	grid_of(doc, &g);
	if (!g.nsizes || !g.nrates || !g.nmodes)
		return 0;
	/* The migration shown: 200 MB (or the nearest size), ~1 %/s, bare. */
	size = g.sizes[0];
	for (size_t z = 0; z < g.nsizes; z++)
		if (fabs(log((double)g.sizes[z] / 200)) < fabs(log((double)size / 200)))
			size = g.sizes[z];
	rate = g.rates[0];
	for (size_t r = 0; r < g.nrates; r++)
		if (g.rates[r] == 1)
			rate = 1;
	mode = g.modes[0];
	for (size_t m = 0; m < g.nmodes; m++)
		if (!strcmp(g.modes[m], "bare"))
			mode = "bare";
	for (size_t k = 0; bench_strategies[k]; k++) {
		json_t *ph, *x;
		size_t i;

		samples[k] = median_sample(doc, bench_strategies[k], size, rate, mode);
		ph = json_object_get(samples[k], "phases");
		rows += json_array_size(ph) + 1;
		json_array_foreach(ph, i, x)
			if (jnum(x, "end_ms") > ends[k])
				ends[k] = jnum(x, "end_ms");
		if (jnum(samples[k], "total_ms") > ends[k])
			ends[k] = jnum(samples[k], "total_ms");
	}
	/* One very long migration (post-copy's lazy window) would squash the
	 * others: the axis ends at 3x the second longest, longer bars are cut. */
	{
		double first = 0, second = 0;
		for (size_t k = 0; k < 4; k++) {
			if (ends[k] > first) {
				second = first;
				first = ends[k];
			} else if (ends[k] > second)
				second = ends[k];
		}
		tmax = second > 0 && first > 3 * second ? 3 * second : first;
	}
	fmt_size(size, sz, sizeof(sz));
	fmt_rate(rate, rt, sizeof(rt));
	snprintf(title, sizeof(title), "One migration per strategy: %s, dirtying %s, %s (page TLS off)", sz, rt,
		 !strcmp(mode, "lxc") ? "LXC container" : "bare process");
	p.x = 190;
	p.y = 80;
	p.w = 760;
	p.h = rows * 18 + 4 * 26;
	p.xa = (struct svg_axis){ .min = 0, .max = tmax > 0 ? tmax / 1000 * 1.02 : 1, .fmt = svg_fmt_s,
				  .label = "seconds since crmig migrate started (the source's clock)" };
	p.ya = (struct svg_axis){ .min = 0, .max = 1 };
	s = svg_new(p.x + p.w + 150, p.y + p.h + 70, title);
	svg_text(s, 20, 28, "start", 16, "#111111", true, "%s", title);
	svg_text(s, 20, 48, "start", 11.5, "#555555", false,
		 "the repetition with the median downtime; shaded: freeze to resumed on the destination (crmig's downtime)");
	{
		/* x grid and ticks only: the rows carry their own labels. */
		struct svg_panel frame = p;
		frame.ya = (struct svg_axis){ .min = 0, .max = 1, .ticks = (const double[]){ 0 }, .nticks = 0 };
		svg_axes(s, &frame);
	}
	y = p.y + 6;
	for (size_t k = 0; bench_strategies[k]; k++) {
		json_t *ph = json_object_get(samples[k], "phases"), *sorted[64], *x;
		double freeze = NAN, dt = jnum(samples[k], "crmig_downtime_ms");
		size_t n = 0, i;
		char d[16], b[16], extra[64] = "";

		svg_text(s, 20, y + 13, "start", 13, "#111111", true, "%s", bench_strategies[k]);
		if (!samples[k]) {
			svg_text(s, p.x + 6, y + 13, "start", 11, "#999999", false, "no valid run");
			y += 18 + 26;
			continue;
		}
		/* Rows in the order the phases began. */
		json_array_foreach(ph, i, x) {
			if (n < 64)
				sorted[n++] = x;
			if (!strcmp(json_string_value(json_object_get(x, "name")) ?: "", "frozen"))
				freeze = jnum(x, "start_ms");
		}
		for (size_t a = 1; a < n; a++)
			for (size_t c = a; c > 0 && jnum(sorted[c], "start_ms") < jnum(sorted[c - 1], "start_ms"); c--) {
				json_t *t = sorted[c];
				sorted[c] = sorted[c - 1];
				sorted[c - 1] = t;
			}
		fmt_ms(jnum(samples[k], "downtime_ms"), d, sizeof(d));
		fmt_bytes(jnum(samples[k], "bytes_before_resume"), b, sizeof(b));
		if (jnum(samples[k], "rounds") > 0)
			snprintf(extra, sizeof(extra), ", %.0f pre-dump round%s", jnum(samples[k], "rounds"),
				 jnum(samples[k], "rounds") == 1 ? "" : "s");
		if (jnum(samples[k], "lazy_ms") > 0) {
			char lz[16];
			fmt_ms(jnum(samples[k], "lazy_ms"), lz, sizeof(lz));
			snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra), ", lazy window %s", lz);
		}
		svg_text(s, p.x + 6, y + 13, "start", 11, "#333333", false, "probe downtime %s, %s before resume%s", d, b,
			 extra);
		if (isfinite(freeze) && isfinite(dt))
			svg_hbar(s, &p, freeze / 1000, (freeze + dt) / 1000, y + 18, n * 18 + 2, "#ffdd88", 0.45);
		y += 18;
		for (i = 0; i < n; i++) {
			const char *name = json_string_value(json_object_get(sorted[i], "name")) ?: "?";
			char bytes[64] = "";

			if (jnum(sorted[i], "bytes") > 0)
				fmt_bytes(jnum(sorted[i], "bytes"), bytes, sizeof(bytes));
			svg_text(s, p.x - 8, y + 12, "end", 11, "#333333", false, "%s", name);
			{
				double end = jnum(sorted[i], "end_ms") / 1000, shown = end > p.xa.max ? p.xa.max : end;
				svg_hbar(s, &p, jnum(sorted[i], "start_ms") / 1000, shown, y + 3, 12, phase_color(name), 0.9);
				if (end > p.xa.max) {
					char until[16];
					fmt_ms(end * 1000, until, sizeof(until));
					snprintf(bytes + strlen(bytes), sizeof(bytes) - strlen(bytes), "%s>> ends at %s",
						 bytes[0] ? " " : "", until);
				}
				if (bytes[0])
					svg_text(s, svg_px(&p, shown) + 4, y + 13, "start", 10, "#555555", false, "%s", bytes);
			}
			y += 18;
		}
		svg_line(s, 20, y + 7, p.x + p.w, y + 7, &(struct svg_style){ "#cccccc", NULL, 1, MK_NONE });
		y += 26;
	}
	ret = svg_write(s, path);
	svg_free(s);
	return ret;
}

int bench_plots(const json_t *doc, const char *dir)
{
	int ret = 0;

	ret |= size_figure(doc, dir, "downtime_vs_size.svg", "downtime_ms", "Downtime vs memory size (probe heartbeat gap)",
			   "downtime", svg_fmt_ms, true, false);
	ret |= size_figure(doc, dir, "bytes_before_resume_vs_size.svg", "bytes_before_resume",
			   "Bytes before resume vs memory size", "bytes before resume", svg_fmt_bytes, false, true);
	ret |= timeline(doc, dir);
	return ret;
}
