/* Pieces of the HTML report (report_html.c) that draw: inline SVG charts
 * built from the results, with every label escaped. Internal to the report. */
#ifndef CRMIG_REPORT_HTML_H
#define CRMIG_REPORT_HTML_H

#include <stdio.h>

#include "suite.h"

/* Human figures: "850 ms", "1.35 s", "12.3 s"; "1.5 KiB". "-" when unknown (< 0). */
void html_fmt_ms(double ms, char *buf, size_t len);
void html_fmt_bytes(double bytes, char *buf, size_t len);
/* A number of crmig's report, -1 when absent. */
double html_report_number(const struct suite_result *r, const char *key);
/* The lab's own checks (case "lab"): they have no figures. */
bool html_is_lab_check(const struct suite_result *r);
/* Several results may share one crmig report (a zdtm group's migration
 * judges each of its tests): charts and timelines show it once. First:
 * no earlier result in order shares result order[k]'s report; shared: how
 * many of the n results have this report (1 without one). */
bool html_report_first(const struct suite_result *r, const size_t *order, size_t k);
size_t html_report_shared(const struct suite_result *r, size_t n, const json_t *report);
/* The CSS class of an outcome: pass, fail, known, skip. */
const char *html_outcome_class(const struct suite_result *r);

/* Downtime per case and strategy: the probe's gap and crmig's downtime_ms,
 * one row per instance that has either, grouped by case and mode. order[]
 * lists result indices sorted for display. Writes nothing without data. */
void html_chart_downtime(FILE *f, const struct suite_result *r, const size_t *order, size_t n);
/* Bytes before resume (and in total) per instance, on a log scale. */
void html_chart_bytes(FILE *f, const struct suite_result *r, const size_t *order, size_t n);
/* crmig's phases (name, start_ms, end_ms, bytes) of one report as lanes on
 * a time axis; the frozen window shaded across them. 0, or -1 if the report
 * has no usable phase (nothing written). */
int html_chart_phases(FILE *f, json_t *report, const char *title);

#endif
