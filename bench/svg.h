/* A small SVG plotting helper for the benchmark's figures: a document,
 * panels with linear or log axes, lines with markers, horizontal bars,
 * legends. Text is escaped; numbers are printed with fixed precision so the
 * output is stable from run to run. */
#ifndef CRMIG_BENCH_SVG_H
#define CRMIG_BENCH_SVG_H

#include <stdbool.h>
#include <stddef.h>

struct svg;

enum svg_marker { MK_NONE, MK_CIRCLE, MK_SQUARE, MK_TRIANGLE, MK_DIAMOND, MK_CROSS };

struct svg_style {
	const char *color;      /* "#rrggbb" */
	const char *dash;       /* stroke-dasharray, NULL: solid */
	double width;           /* stroke width, 0: 1.8 */
	enum svg_marker marker;
};

/* Formats a tick value for an axis ("64 MB", "1 s"). */
typedef void (*svg_fmt)(double v, char *buf, size_t len);

struct svg_axis {
	double min, max;        /* data range (> 0 for log) */
	bool log;
	const char *label;
	svg_fmt fmt;            /* NULL: %g */
	const double *ticks;    /* explicit ticks (NULL: automatic) */
	size_t nticks;
};

struct svg_panel {
	double x, y, w, h;      /* the plot area in document units */
	struct svg_axis xa, ya;
	const char *title;
};

struct svg *svg_new(double width, double height, const char *title);
void svg_free(struct svg *s);
/* Writes the document to path (atomically); 0 or -1. */
int svg_write(struct svg *s, const char *path);
const char *svg_text_of(struct svg *s);

/* Primitives (document units). anchor: "start" | "middle" | "end". */
void svg_text(struct svg *s, double x, double y, const char *anchor, double size, const char *color,
	      bool bold, const char *fmt, ...) __attribute__((format(printf, 8, 9)));
void svg_line(struct svg *s, double x1, double y1, double x2, double y2, const struct svg_style *st);
void svg_rect(struct svg *s, double x, double y, double w, double h, const char *fill, double opacity,
	      const char *stroke);
void svg_marker(struct svg *s, enum svg_marker m, double x, double y, double r, const char *color);
void svg_raw(struct svg *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Panels: map data to document units (clamped to the panel's range). */
double svg_px(const struct svg_panel *p, double v);
double svg_py(const struct svg_panel *p, double v);
/* Frame, grid, ticks with labels, axis labels and title. */
void svg_axes(struct svg *s, const struct svg_panel *p);
/* A line through the points (skipping NaN, which breaks the line), with markers. */
void svg_series(struct svg *s, const struct svg_panel *p, const double *xs, const double *ys, size_t n,
		const struct svg_style *st);
/* A horizontal bar from data x0 to x1 in document rows y..y+h. */
void svg_hbar(struct svg *s, const struct svg_panel *p, double x0, double x1, double y, double h, const char *fill,
	      double opacity);

/* A legend box at (x, y): one row per entry, a line sample with its marker. */
struct svg_legend_entry {
	const char *label;
	struct svg_style style;
	bool box;               /* a filled box instead of a line (bars) */
};
void svg_legend(struct svg *s, double x, double y, const struct svg_legend_entry *e, size_t n);

/* Range helpers: min/max of the finite, positive (for log) values, padded. */
void svg_range(struct svg_axis *a, const double *v, size_t n, bool include_zero);

/* Tick formatters the bench uses. */
void svg_fmt_ms(double v, char *buf, size_t len);      /* 250 ms, 1.5 s, 40 s */
void svg_fmt_bytes(double v, char *buf, size_t len);   /* 4 KB, 1.2 MB, 1 GB */
void svg_fmt_mb(double v, char *buf, size_t len);      /* 64 MB, 1 GB (value in MB) */
void svg_fmt_s(double v, char *buf, size_t len);       /* 0 s, 2.5 s (value in s) */

#endif
