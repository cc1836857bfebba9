/* The report's charts, as inline SVG (no script, no fetch: the page's CSP
 * forbids both). Each chart is sized from its data: one row per instance or
 * phase, so a long run makes a taller chart rather than thinner bars. Every
 * text that came from a case, crmig or criu goes through xml_escape. */
#include <math.h>
#include <string.h>

#include "report_html.h"
#include "util.h"

/* ---- shared ------------------------------------------------------------- */

void html_fmt_ms(double ms, char *buf, size_t len)
{
	if (!(ms >= 0))
		snprintf(buf, len, "-");
	else if (ms < 1000)
		snprintf(buf, len, "%.0f ms", ms);
	else if (ms < 10000)
		snprintf(buf, len, "%.2f s", ms / 1000);
	else
		snprintf(buf, len, "%.1f s", ms / 1000);
}

void html_fmt_bytes(double b, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	size_t u = 0;

	if (!(b >= 0)) {
		snprintf(buf, len, "-");
		return;
	}
	while (b >= 1024 && u + 1 < ARRAY_SIZE(units)) {
		b /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%.0f B", b);
	else
		snprintf(buf, len, "%.1f %s", b, units[u]);
}

double html_report_number(const struct suite_result *r, const char *key)
{
	json_t *v = json_object_get(r->crmig, key);

	return json_is_number(v) && json_number_value(v) >= 0 ? json_number_value(v) : -1;
}

bool html_is_lab_check(const struct suite_result *r)
{
	return r->inst.c && !strcmp(r->inst.c->name, "lab") && !r->inst.mode && !r->inst.strategy;
}

bool html_report_first(const struct suite_result *r, const size_t *order, size_t k)
{
	for (size_t j = 0; r[order[k]].crmig && j < k; j++)
		if (r[order[j]].crmig == r[order[k]].crmig)
			return false;
	return true;
}

size_t html_report_shared(const struct suite_result *r, size_t n, const json_t *report)
{
	size_t k = 0;

	for (size_t i = 0; report && i < n; i++)
		k += r[i].crmig == report;
	return k ? k : 1;
}

const char *html_outcome_class(const struct suite_result *r)
{
	if (r->outcome == OUTCOME_FAIL)
		return r->known_bug[0] ? "known" : "fail";
	return outcome_name(r->outcome);
}

static const char *strategy_color(unsigned strategy)
{
	switch (strategy) {
	case ST_STOP: return "#4e79a7";
	case ST_PRE: return "#f28e2b";
	case ST_POST: return "#59a14f";
	case ST_HYBRID: return "#b07aa1";
	}
	return "#9c755f";
}

/* 1, 2 or 5 times a power of ten, so that about n steps cover max. */
static double nice_step(double max, int n)
{
	double raw = max / n, p = pow(10, floor(log10(raw))), m = raw / p;

	return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

/* Tick labels: "1.00 s" -> "1 s", "2.50 s" -> "2.5 s", "64.0 KiB" -> "64 KiB". */
static void trim_zeros(char *label)
{
	char *dot = strchr(label, '.'), *end;

	if (!strcmp(label, "0 ms") || !strcmp(label, "0 B")) {
		strcpy(label, "0");
		return;
	}
	if (!dot)
		return;
	end = dot + strspn(dot + 1, "0123456789") + 1;
	char *last = end;
	while (last > dot + 1 && last[-1] == '0')
		last--;
	if (last == dot + 1)
		last = dot;
	memmove(last, end, strlen(end) + 1);
}

static void svg_text(FILE *f, double x, double y, const char *anchor, const char *cls, const char *text)
{
	__do_free char *t = xml_escape(text);

	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" class=\"%s\">%s</text>\n", x, y, anchor, cls, t);
}

static void svg_open(FILE *f, double w, double h, const char *cls, const char *title)
{
	__do_free char *t = xml_escape(title);

	fprintf(f, "<svg class=\"chart %s\" width=\"%.0f\" height=\"%.0f\" "
		   "viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"%s\"><title>%s</title>\n",
		cls, w, h, w, h, t, t);
}

/* ---- bar charts, one row per instance ---------------------------------- */

struct bars {
	const char *cls, *title;
	bool log;                /* log4 scale (bytes), else linear from 0 (ms) */
	const char *key[2];      /* what the two bars show, for the legend */
	const char *key_short;   /* before the second figure in a row's label */
	double (*value)(const struct suite_result *r, int which);
	void (*fmt)(double v, char *buf, size_t len);
};

#define BAR_W 1340.0
#define BAR_LABEL 250.0
#define BAR_RIGHT 190.0
#define BAR_ROW 22.0
#define BAR_GROUP 24.0
#define BAR_TOP 34.0

static bool has_value(const struct bars *b, const struct suite_result *r)
{
	return b->value(r, 0) > (b->log ? 0 : -1) || b->value(r, 1) > (b->log ? 0 : -1);
}

static void group_label(const struct suite_result *r, bool with_distro, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s \xc2\xb7 %s", with_distro ? r->distro : "", with_distro ? " \xc2\xb7 " : "",
		 r->inst.c ? r->inst.c->name : "?", mode_bit_name(r->inst.mode));
}

struct scale {
	bool log;
	double lo, hi, x0, x1;
};

static double scale_x(const struct scale *s, double v)
{
	double t;

	if (s->log) {
		if (v < s->lo)
			v = s->lo;
		t = (log(v) - log(s->lo)) / (log(s->hi) - log(s->lo));
	} else {
		t = v / s->hi;
	}
	return s->x0 + (t < 0 ? 0 : t > 1 ? 1 : t) * (s->x1 - s->x0);
}

static void bars_scale(const struct bars *b, const struct suite_result *r, const size_t *order, size_t n,
		       struct scale *s)
{
	double lo = INFINITY, hi = 0;

	for (size_t k = 0; k < n; k++)
		for (int w = 0; w < 2; w++) {
			double v = b->value(&r[order[k]], w);
			if (v > 0 && v < lo)
				lo = v;
			if (v > hi)
				hi = v;
		}
	s->log = b->log;
	s->x0 = BAR_LABEL;
	s->x1 = BAR_W - BAR_RIGHT;
	if (b->log) {
		/* powers of 4 give ticks with round binary labels: 64 KiB, 256 KiB, 1 MiB */
		s->lo = 1;
		while (s->lo * 4 <= lo)
			s->lo *= 4;
		s->hi = s->lo * 4;
		while (s->hi < hi)
			s->hi *= 4;
	} else {
		s->lo = 0;
		s->hi = hi > 0 ? ceil(hi / nice_step(hi, 5)) * nice_step(hi, 5) : 1;
	}
}

static void bars_axis(FILE *f, const struct bars *b, const struct scale *s, double bottom)
{
	double step = s->log ? 4 : nice_step(s->hi, 5);

	for (double v = s->log ? s->lo : 0; v <= s->hi * 1.0001; v = s->log ? v * step : v + step) {
		double x = scale_x(s, v);
		char label[32];

		b->fmt(v, label, sizeof(label));
		trim_zeros(label);
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>\n", x, BAR_TOP - 6, x,
			bottom);
		svg_text(f, x, BAR_TOP - 10, "middle", "tick", label);
	}
}

static void bars_legend(FILE *f, const struct bars *b, double y)
{
	fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"8\" fill=\"#555\"/>\n", BAR_LABEL, y - 8);
	svg_text(f, BAR_LABEL + 20, y, "start", "legend", b->key[0]);
	fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"5\" fill=\"#555\" fill-opacity=\"0.4\"/>\n",
		BAR_LABEL + 260, y - 6);
	svg_text(f, BAR_LABEL + 280, y, "start", "legend", b->key[1]);
	svg_text(f, BAR_W - 4, y, "end", "legend", "colour: strategy (stop, pre, post, hybrid)");
}

/* shared: how many results this row's migration judged (a zdtm group: one row for them all) */
static void bars_row(FILE *f, const struct bars *b, const struct scale *s, const struct suite_result *r, size_t shared,
		     double y)
{
	const char *color = strategy_color(r->inst.strategy);
	const char *cls = html_outcome_class(r);
	double v0 = b->value(r, 0), v1 = b->value(r, 1);
	char a[32], c[32], label[96];

	char times[32] = "";

	if (shared > 1)
		snprintf(times, sizeof(times), " \xc3\x97%zu", shared);
	snprintf(label, sizeof(label), "%s%s%s", strategy_bit_name(r->inst.strategy),
		 !strcmp(cls, "fail") ? " (failed)" : !strcmp(cls, "known") ? " (known bug)" : "", times);
	svg_text(f, BAR_LABEL - 8, y + 12, "end", !strcmp(cls, "pass") ? "rowlabel" : "rowlabel bad", label);
	if (v0 > (b->log ? 0 : -1))
		fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"9\" fill=\"%s\"/>\n", s->x0, y + 3,
			fmax(scale_x(s, v0) - s->x0, 1), color);
	if (v1 > (b->log ? 0 : -1))
		fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"5\" fill=\"%s\" fill-opacity=\"0.4\"/>\n",
			s->x0, y + 13, fmax(scale_x(s, v1) - s->x0, 1), color);
	b->fmt(v0, a, sizeof(a));
	b->fmt(v1, c, sizeof(c));
	snprintf(label, sizeof(label), "%s%s%s%s", v0 >= 0 ? a : "", v0 >= 0 && v1 >= 0 ? " \xc2\xb7 " : "",
		 v1 >= 0 ? b->key_short : "", v1 >= 0 ? c : "");
	svg_text(f, fmax(scale_x(s, v0), scale_x(s, v1 > 0 ? v1 : 0)) + 6, y + 13, "start", "value", label);
}

static void bars_draw(FILE *f, const struct bars *b, const struct suite_result *r, const size_t *order, size_t n)
{
	__do_free size_t *rows = xmalloc((n + 1) * sizeof(*rows));
	size_t nrows = 0, groups = 0;
	bool distros = false;
	struct scale s;
	char prev[256] = "", label[256];
	double y, h;

	for (size_t k = 0; k < n; k++)
		if (!html_is_lab_check(&r[order[k]]) && has_value(b, &r[order[k]]) && html_report_first(r, order, k)) {
			rows[nrows++] = order[k];
			distros |= strcmp(r[order[k]].distro, r[rows[0]].distro) != 0;
		}
	if (!nrows) {
		fprintf(f, "<p class=\"none\">No instance has these figures (every one skipped or failed early).</p>\n");
		return;
	}
	for (size_t k = 0; k < nrows; k++) {
		group_label(&r[rows[k]], distros, label, sizeof(label));
		groups += strcmp(label, prev) != 0;
		snprintf(prev, sizeof(prev), "%s", label);
	}
	bars_scale(b, r, rows, nrows, &s);
	h = BAR_TOP + nrows * BAR_ROW + groups * BAR_GROUP + 30;
	svg_open(f, BAR_W, h, b->cls, b->title);
	bars_axis(f, b, &s, h - 30);
	prev[0] = '\0';
	y = BAR_TOP;
	for (size_t k = 0; k < nrows; k++) {
		group_label(&r[rows[k]], distros, label, sizeof(label));
		if (strcmp(label, prev)) {
			fprintf(f, "<line x1=\"4\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"sep\"/>\n", y + 2, BAR_W - 4,
				y + 2);
			svg_text(f, 6, y + 17, "start", "group", label);
			snprintf(prev, sizeof(prev), "%s", label);
			y += BAR_GROUP;
		}
		bars_row(f, b, &s, &r[rows[k]], html_report_shared(r, n, r[rows[k]].crmig), y);
		y += BAR_ROW;
	}
	bars_legend(f, b, h - 10);
	fprintf(f, "</svg>\n");
}

static double downtime_value(const struct suite_result *r, int which)
{
	return which == 0 ? (r->probe_gap_ms >= 0 ? r->probe_gap_ms : -1) : html_report_number(r, "downtime_ms");
}

static double bytes_value(const struct suite_result *r, int which)
{
	return html_report_number(r, which == 0 ? "bytes_before_resume" : "bytes_total");
}

void html_chart_downtime(FILE *f, const struct suite_result *r, const size_t *order, size_t n)
{
	const struct bars b = { .cls = "downtime", .title = "Downtime per case and strategy",
				.key = { "probe gap (the harness's heartbeat clock)", "crmig's downtime_ms" }, .key_short = "crmig ",
				.value = downtime_value, .fmt = html_fmt_ms };

	bars_draw(f, &b, r, order, n);
}

void html_chart_bytes(FILE *f, const struct suite_result *r, const size_t *order, size_t n)
{
	const struct bars b = { .cls = "bytes", .title = "Bytes before resume per case and strategy", .log = true,
				.key = { "bytes before resume", "bytes in total" }, .key_short = "total ", .value = bytes_value,
				.fmt = html_fmt_bytes };

	bars_draw(f, &b, r, order, n);
}

/* ---- a phase timeline ---------------------------------------------------- */

#define TL_W 660.0
#define TL_LABEL 96.0
#define TL_RIGHT 150.0
#define TL_LANE 17.0
#define TL_TOP 22.0
#define TL_MAX_LANES 40

static const char *phase_color(const char *name)
{
	static const struct {
		const char *prefix, *color;
	} colors[] = {
		{ "round", "#4e79a7" }, { "dump", "#e15759" },  { "transfer", "#f28e2b" }, { "restore", "#9c755f" },
		{ "lazy", "#59a14f" },  { "sync", "#79706e" },  { "frozen", "#d37295" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(colors); i++)
		if (!strncmp(name, colors[i].prefix, strlen(colors[i].prefix)))
			return colors[i].color;
	return "#b6992d";
}

struct phase {
	const char *name;
	double start, end, bytes;
	bool unfinished;
};

static int by_start(const void *a, const void *b)
{
	const struct phase *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

static size_t read_phases(json_t *report, struct phase *out, size_t max, double *tmax)
{
	json_t *list = json_object_get(report, "phases"), *p;
	size_t i, n = 0;

	*tmax = 0;
	json_array_foreach(list, i, p) {
		json_t *s = json_object_get(p, "start_ms"), *e = json_object_get(p, "end_ms");
		const char *name = json_string_value(json_object_get(p, "name"));

		if (n == max || !name || !json_is_number(s) || !json_is_number(e) || !isfinite(json_number_value(s)) ||
		    !isfinite(json_number_value(e)) || json_number_value(e) < json_number_value(s) ||
		    json_number_value(s) < 0)
			continue;
		out[n] = (struct phase){ .name = name, .start = json_number_value(s), .end = json_number_value(e),
					 .bytes = json_is_number(json_object_get(p, "bytes")) ?
							  json_number_value(json_object_get(p, "bytes")) : 0,
					 .unfinished = json_is_true(json_object_get(p, "unfinished")) };
		if (out[n].end > *tmax)
			*tmax = out[n].end;
		n++;
	}
	qsort(out, n, sizeof(*out), by_start);
	return n;
}

static double tl_x(double t, double tmax)
{
	return TL_LABEL + t / tmax * (TL_W - TL_LABEL - TL_RIGHT);
}

int html_chart_phases(FILE *f, json_t *report, const char *title)
{
	struct phase ph[TL_MAX_LANES];
	double tmax, step, h;
	size_t n = read_phases(report, ph, TL_MAX_LANES, &tmax);
	size_t all = json_array_size(json_object_get(report, "phases"));

	if (!n)
		return -1;
	if (tmax <= 0)
		tmax = 1;
	step = nice_step(tmax, 6);
	tmax = ceil(tmax / step) * step;
	h = TL_TOP + n * TL_LANE + (all > n ? 16 : 6);
	svg_open(f, TL_W, h, "timeline", title);
	for (double t = 0; t <= tmax * 1.0001; t += step) {
		char label[32];

		html_fmt_ms(t, label, sizeof(label));
		trim_zeros(label);
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>\n", tl_x(t, tmax),
			TL_TOP - 4, tl_x(t, tmax), TL_TOP + n * TL_LANE);
		svg_text(f, tl_x(t, tmax), TL_TOP - 8, "middle", "tick", label);
	}
	/* The workload was frozen here: shade it across every lane. */
	for (size_t i = 0; i < n; i++)
		if (!strcmp(ph[i].name, "frozen"))
			fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" class=\"frozen\"/>\n",
				tl_x(ph[i].start, tmax), TL_TOP - 2, fmax(tl_x(ph[i].end, tmax) - tl_x(ph[i].start, tmax), 1),
				n * TL_LANE + 2);
	for (size_t i = 0; i < n; i++) {
		double y = TL_TOP + i * TL_LANE, x0 = tl_x(ph[i].start, tmax), x1 = tl_x(ph[i].end, tmax);
		char d[32], b[32], label[80];

		svg_text(f, TL_LABEL - 6, y + 12, "end", "rowlabel", ph[i].name);
		fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"11\" fill=\"%s\"%s/>\n", x0, y + 3,
			fmax(x1 - x0, 1.5), phase_color(ph[i].name),
			ph[i].unfinished ? " stroke=\"#000\" stroke-dasharray=\"3 2\"" : "");
		html_fmt_ms(ph[i].end - ph[i].start, d, sizeof(d));
		html_fmt_bytes(ph[i].bytes, b, sizeof(b));
		snprintf(label, sizeof(label), "%s%s%s%s", d, ph[i].bytes > 0 ? ", " : "", ph[i].bytes > 0 ? b : "",
			 ph[i].unfinished ? " (unfinished)" : "");
		svg_text(f, x1 + 4, y + 12, "start", "value", label);
	}
	if (all > n) {
		char more[64];

		snprintf(more, sizeof(more), "%zu more phases not shown (see the JSON)", all - n);
		svg_text(f, TL_LABEL, h - 4, "start", "legend", more);
	}
	fprintf(f, "</svg>\n");
	return 0;
}
