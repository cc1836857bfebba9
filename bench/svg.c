/* SVG plotting helper: see svg.h. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svg.h"
#include "util.h"

struct svg {
	FILE *f;
	char *buf;
	size_t len;
	bool finished;
	int clip_id;
};

#define FONT "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\""

static void put_escaped(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		default:
			if ((unsigned char)*s >= 0x20 || *s == '\t')
				fputc(*s, f);
		}
	}
}

struct svg *svg_new(double width, double height, const char *title)
{
	struct svg *s = xzalloc(sizeof(*s));

	s->f = open_memstream(&s->buf, &s->len);
	if (!s->f) {
		free(s);
		return NULL;
	}
	fprintf(s->f,
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" " FONT ">\n",
		width, height, width, height);
	if (title) {
		fputs("<title>", s->f);
		put_escaped(s->f, title);
		fputs("</title>\n", s->f);
	}
	fprintf(s->f, "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"#ffffff\"/>\n", width, height);
	return s;
}

const char *svg_text_of(struct svg *s)
{
	if (!s->finished) {
		fputs("</svg>\n", s->f);
		fclose(s->f);
		s->f = NULL;
		s->finished = true;
	}
	return s->buf;
}

void svg_free(struct svg *s)
{
	if (!s)
		return;
	if (s->f)
		fclose(s->f);
	free(s->buf);
	free(s);
}

int svg_write(struct svg *s, const char *path)
{
	const char *text = svg_text_of(s);
	__do_free char *tmp = xasprintf("%s.tmp", path);

	if (write_file(tmp, text, strlen(text), 0644) < 0)
		return -1;
	if (rename(tmp, path) < 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

void svg_raw(struct svg *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(s->f, fmt, ap);
	va_end(ap);
}

void svg_text(struct svg *s, double x, double y, const char *anchor, double size, const char *color, bool bold,
	      const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	fprintf(s->f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" font-size=\"%.1f\" fill=\"%s\"%s>", x, y,
		anchor ? anchor : "start", size, color ? color : "#222222", bold ? " font-weight=\"bold\"" : "");
	put_escaped(s->f, text);
	fputs("</text>\n", s->f);
}

static void stroke_attrs(FILE *f, const struct svg_style *st)
{
	fprintf(f, " stroke=\"%s\" stroke-width=\"%.1f\"", st && st->color ? st->color : "#222222",
		st && st->width > 0 ? st->width : 1.8);
	if (st && st->dash)
		fprintf(f, " stroke-dasharray=\"%s\"", st->dash);
}

void svg_line(struct svg *s, double x1, double y1, double x2, double y2, const struct svg_style *st)
{
	fprintf(s->f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"", x1, y1, x2, y2);
	stroke_attrs(s->f, st);
	fputs("/>\n", s->f);
}

void svg_rect(struct svg *s, double x, double y, double w, double h, const char *fill, double opacity,
	      const char *stroke)
{
	fprintf(s->f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"", x, y, w < 0 ? 0 : w,
		h < 0 ? 0 : h, fill ? fill : "none");
	if (opacity < 1)
		fprintf(s->f, " fill-opacity=\"%.2f\"", opacity);
	if (stroke)
		fprintf(s->f, " stroke=\"%s\" stroke-width=\"1\"", stroke);
	fputs("/>\n", s->f);
}

void svg_marker(struct svg *s, enum svg_marker m, double x, double y, double r, const char *color)
{
	switch (m) {
	case MK_CIRCLE:
		fprintf(s->f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"%s\"/>\n", x, y, r, color);
		break;
	case MK_SQUARE:
		fprintf(s->f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>\n", x - r * 0.9,
			y - r * 0.9, r * 1.8, r * 1.8, color);
		break;
	case MK_TRIANGLE:
		fprintf(s->f, "<polygon points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f\" fill=\"%s\"/>\n", x, y - r * 1.2,
			x - r * 1.1, y + r * 0.8, x + r * 1.1, y + r * 0.8, color);
		break;
	case MK_DIAMOND:
		fprintf(s->f, "<polygon points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f %.1f,%.1f\" fill=\"%s\"/>\n", x,
			y - r * 1.3, x + r * 1.1, y, x, y + r * 1.3, x - r * 1.1, y, color);
		break;
	case MK_CROSS:
		fprintf(s->f,
			"<path d=\"M%.1f %.1fL%.1f %.1fM%.1f %.1fL%.1f %.1f\" stroke=\"%s\" stroke-width=\"2\"/>\n",
			x - r, y - r, x + r, y + r, x - r, y + r, x + r, y - r, color);
		break;
	case MK_NONE:
		break;
	}
}

/* ---- axes ------------------------------------------------------------------ */

static double axis_frac(const struct svg_axis *a, double v)
{
	double lo = a->min, hi = a->max;

	if (a->log) {
		if (v <= 0)
			v = lo;
		return (log10(v) - log10(lo)) / (log10(hi) - log10(lo));
	}
	return (v - lo) / (hi - lo);
}

static double clamp01(double f)
{
	return f < -0.02 ? -0.02 : f > 1.02 ? 1.02 : f;
}

double svg_px(const struct svg_panel *p, double v)
{
	return p->x + clamp01(axis_frac(&p->xa, v)) * p->w;
}

double svg_py(const struct svg_panel *p, double v)
{
	return p->y + p->h - clamp01(axis_frac(&p->ya, v)) * p->h;
}

/* Ticks: explicit ones, or 1-2-5 steps (log: per decade, thinned when dense). */
static size_t axis_ticks(const struct svg_axis *a, double *out, size_t max)
{
	size_t n = 0;

	if (a->ticks) {
		for (size_t i = 0; i < a->nticks && n < max; i++)
			if (a->ticks[i] >= a->min * (1 - 1e-9) && a->ticks[i] <= a->max * (1 + 1e-9))
				out[n++] = a->ticks[i];
		return n;
	}
	if (a->log) {
		double decades = log10(a->max) - log10(a->min);
		static const double all[] = { 1, 2, 5 }, ones[] = { 1 };
		const double *mult = decades > 3.5 ? ones : all;
		size_t nm = decades > 3.5 ? 1 : 3;

		for (double d = pow(10, floor(log10(a->min))); d <= a->max && n < max; d *= 10)
			for (size_t i = 0; i < nm && n < max; i++) {
				double v = d * mult[i];
				if (v >= a->min * (1 - 1e-9) && v <= a->max * (1 + 1e-9))
					out[n++] = v;
			}
		return n;
	}
	{
		double span = a->max - a->min, raw = span / 6, mag = pow(10, floor(log10(raw))), step;

		step = raw / mag < 1.5 ? mag : raw / mag < 3.5 ? 2 * mag : raw / mag < 7.5 ? 5 * mag : 10 * mag;
		for (double v = ceil(a->min / step) * step; v <= a->max + step * 1e-6 && n < max; v += step)
			out[n++] = fabs(v) < step * 1e-9 ? 0 : v;
	}
	return n;
}

static void fmt_tick(const struct svg_axis *a, double v, char *buf, size_t len)
{
	if (a->fmt)
		a->fmt(v, buf, len);
	else
		snprintf(buf, len, "%g", v);
}

void svg_axes(struct svg *s, const struct svg_panel *p)
{
	double ticks[64];
	size_t n;
	struct svg_style grid = { .color = "#e3e3e3", .width = 1 };
	char label[64];

	svg_rect(s, p->x, p->y, p->w, p->h, "#fcfcfc", 1, NULL);
	n = axis_ticks(&p->ya, ticks, ARRAY_SIZE(ticks));
	for (size_t i = 0; i < n; i++) {
		double y = svg_py(p, ticks[i]);
		svg_line(s, p->x, y, p->x + p->w, y, &grid);
		fmt_tick(&p->ya, ticks[i], label, sizeof(label));
		svg_text(s, p->x - 6, y + 4, "end", 11, "#444444", false, "%s", label);
	}
	n = axis_ticks(&p->xa, ticks, ARRAY_SIZE(ticks));
	for (size_t i = 0; i < n; i++) {
		double x = svg_px(p, ticks[i]);
		svg_line(s, x, p->y, x, p->y + p->h, &grid);
		fmt_tick(&p->xa, ticks[i], label, sizeof(label));
		svg_text(s, x, p->y + p->h + 16, "middle", 11, "#444444", false, "%s", label);
	}
	svg_rect(s, p->x, p->y, p->w, p->h, NULL, 1, "#888888");
	if (p->xa.label)
		svg_text(s, p->x + p->w / 2, p->y + p->h + 34, "middle", 12, "#222222", false, "%s", p->xa.label);
	if (p->ya.label) {
		double cx = p->x - 58, cy = p->y + p->h / 2;
		fprintf(s->f, "<g transform=\"rotate(-90 %.1f %.1f)\">\n", cx, cy);
		svg_text(s, cx, cy, "middle", 12, "#222222", false, "%s", p->ya.label);
		fputs("</g>\n", s->f);
	}
	if (p->title)
		svg_text(s, p->x + p->w / 2, p->y - 8, "middle", 13, "#111111", true, "%s", p->title);
}

void svg_series(struct svg *s, const struct svg_panel *p, const double *xs, const double *ys, size_t n,
		const struct svg_style *st)
{
	bool open = false;

	for (size_t i = 0; i < n; i++) {
		bool ok = isfinite(xs[i]) && isfinite(ys[i]) && (!p->ya.log || ys[i] > 0) && (!p->xa.log || xs[i] > 0);

		if (!ok) {
			if (open)
				fputs("\"/>\n", s->f);
			open = false;
			continue;
		}
		if (!open) {
			fputs("<polyline fill=\"none\"", s->f);
			stroke_attrs(s->f, st);
			fputs(" stroke-linejoin=\"round\" points=\"", s->f);
			open = true;
		}
		fprintf(s->f, "%.1f,%.1f ", svg_px(p, xs[i]), svg_py(p, ys[i]));
	}
	if (open)
		fputs("\"/>\n", s->f);
	for (size_t i = 0; st->marker != MK_NONE && i < n; i++)
		if (isfinite(xs[i]) && isfinite(ys[i]) && (!p->ya.log || ys[i] > 0))
			svg_marker(s, st->marker, svg_px(p, xs[i]), svg_py(p, ys[i]), 3.8, st->color);
}

void svg_hbar(struct svg *s, const struct svg_panel *p, double x0, double x1, double y, double h, const char *fill,
	      double opacity)
{
	double a = svg_px(p, x0), b = svg_px(p, x1);

	if (b - a < 1.5)
		b = a + 1.5; /* visible even when it is instantaneous */
	svg_rect(s, a, y, b - a, h, fill, opacity, NULL);
}

void svg_legend(struct svg *s, double x, double y, const struct svg_legend_entry *e, size_t n)
{
	double w = 0, row = 17;

	for (size_t i = 0; i < n; i++)
		if (strlen(e[i].label) * 6.4 + 40 > w)
			w = strlen(e[i].label) * 6.4 + 40;
	svg_rect(s, x, y, w, n * row + 8, "#ffffff", 0.92, "#bbbbbb");
	for (size_t i = 0; i < n; i++) {
		double cy = y + 4 + row * i + row / 2;

		if (e[i].box)
			svg_rect(s, x + 8, cy - 5, 22, 10, e[i].style.color, 0.85, NULL);
		else {
			svg_line(s, x + 6, cy, x + 32, cy, &e[i].style);
			svg_marker(s, e[i].style.marker, x + 19, cy, 3.8, e[i].style.color);
		}
		svg_text(s, x + 38, cy + 4, "start", 11, "#222222", false, "%s", e[i].label);
	}
}

void svg_range(struct svg_axis *a, const double *v, size_t n, bool include_zero)
{
	double lo = INFINITY, hi = -INFINITY;

	for (size_t i = 0; i < n; i++) {
		if (!isfinite(v[i]) || (a->log && v[i] <= 0))
			continue;
		if (v[i] < lo)
			lo = v[i];
		if (v[i] > hi)
			hi = v[i];
	}
	if (!isfinite(lo)) {
		lo = a->log ? 1 : 0;
		hi = a->log ? 10 : 1;
	}
	if (a->log) {
		a->min = pow(10, floor(log10(lo / 1.15) * 4) / 4);
		a->max = pow(10, ceil(log10(hi * 1.15) * 4) / 4);
		if (a->max / a->min < 10)
			a->max = a->min * 10;
	} else {
		if (include_zero && lo > 0)
			lo = 0;
		if (hi <= lo)
			hi = lo + 1;
		a->min = lo - (include_zero && lo == 0 ? 0 : (hi - lo) * 0.05);
		a->max = hi + (hi - lo) * 0.08;
	}
}

/* ---- formatters -------------------------------------------------------------- */

static void trim_num(double v, char *buf, size_t len, const char *unit)
{
	if (v >= 100 || fabs(v - round(v)) < 1e-9)
		snprintf(buf, len, "%.0f %s", v, unit);
	else if (v >= 10)
		snprintf(buf, len, "%.0f %s", v, unit);
	else
		snprintf(buf, len, "%.3g %s", v, unit);
}

void svg_fmt_ms(double v, char *buf, size_t len)
{
	if (v < 1000)
		trim_num(v, buf, len, "ms");
	else
		trim_num(v / 1000, buf, len, "s");
}

void svg_fmt_bytes(double v, char *buf, size_t len)
{
	if (v < 1000)
		trim_num(v, buf, len, "B");
	else if (v < 1e6)
		trim_num(v / 1e3, buf, len, "KB");
	else if (v < 1e9)
		trim_num(v / 1e6, buf, len, "MB");
	else
		trim_num(v / 1e9, buf, len, "GB");
}

void svg_fmt_mb(double v, char *buf, size_t len)
{
	if (v >= 1024 && fmod(v, 1024) == 0)
		snprintf(buf, len, "%.0f GB", v / 1024);
	else
		trim_num(v, buf, len, "MB");
}

void svg_fmt_s(double v, char *buf, size_t len)
{
	trim_num(v, buf, len, "s");
}
