/* One self-contained HTML page for people: a summary line and a table of
 * every instance. Inline CSS only; a Content-Security-Policy forbids scripts
 * and any network fetch, so even a page built from hostile reasons (which
 * are escaped anyway) cannot do anything but show text. */
#include <errno.h>
#include <string.h>

#include "suite.h"
#include "util.h"

static const char style[] =
	"body{font-family:sans-serif;margin:1.5em;color:#222}"
	"table{border-collapse:collapse;font-size:0.9em}"
	"th,td{border:1px solid #ccc;padding:0.25em 0.6em;text-align:left;vertical-align:top}"
	"th{background:#eee}td.num{text-align:right;font-variant-numeric:tabular-nums}"
	".pass{background:#d8f5d0}.fail{background:#f9d0d0;font-weight:bold}.skip{background:#fcefc4}"
	"td.reason{white-space:pre-wrap;max-width:60em;font-family:monospace}";

/* 1536 -> "1.5 KiB"; "-" when unknown. */
static void human_bytes(json_t *v, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double b;
	size_t u = 0;

	if (!json_is_number(v) || json_number_value(v) < 0) {
		snprintf(buf, len, "-");
		return;
	}
	b = json_number_value(v);
	while (b >= 1024 && u + 1 < ARRAY_SIZE(units)) {
		b /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%.0f B", b);
	else
		snprintf(buf, len, "%.1f %s", b, units[u]);
}

static void milliseconds(double ms, char *buf, size_t len)
{
	if (ms >= 0)
		snprintf(buf, len, "%.1f", ms);
	else
		snprintf(buf, len, "-");
}

static void write_head(FILE *f, const char *title)
{
	__do_free char *t = xml_escape(title ? title : "crmig-suite");

	fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
		   "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
		   "style-src 'unsafe-inline'\">\n<title>%s</title>\n<style>%s</style>\n</head>\n<body>\n"
		   "<h1>%s</h1>\n", t, style, t);
}

static void write_summary(FILE *f, const struct suite_result *r, size_t n)
{
	size_t count[3] = { 0, 0, 0 };

	for (size_t i = 0; i < n; i++)
		if ((unsigned)r[i].outcome < 3)
			count[r[i].outcome]++;
	fprintf(f, "<p class=\"summary\">%zu instances: <span class=\"pass\">%zu passed</span>, "
		   "<span class=\"fail\">%zu failed</span>, <span class=\"skip\">%zu skipped</span></p>\n",
		n, count[OUTCOME_PASS], count[OUTCOME_FAIL], count[OUTCOME_SKIP]);
}

static void write_row(FILE *f, const struct suite_result *r)
{
	json_t *downtime = json_object_get(r->crmig, "downtime_ms");
	__do_free char *name = xml_escape(r->inst.c ? r->inst.c->name : "");
	__do_free char *distro = xml_escape(r->distro);
	__do_free char *reason = xml_escape(r->outcome == OUTCOME_PASS ? "" : r->reason);
	const char *outcome = outcome_name(r->outcome);
	char gap[32], dt[32], bytes[32];

	milliseconds(r->probe_gap_ms, gap, sizeof(gap));
	milliseconds(json_is_number(downtime) ? json_number_value(downtime) : -1, dt, sizeof(dt));
	human_bytes(json_object_get(r->crmig, "bytes_before_resume"), bytes, sizeof(bytes));
	fprintf(f, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td class=\"%s\">%s</td>"
		   "<td class=\"num\">%s</td><td class=\"num\">%s</td><td class=\"num\">%s</td>"
		   "<td class=\"reason\">%s</td></tr>\n",
		name, mode_bit_name(r->inst.mode), strategy_bit_name(r->inst.strategy), distro, outcome, outcome,
		gap, dt, bytes, reason);
}

static void write_table(FILE *f, const struct suite_result *r, size_t n)
{
	fprintf(f, "<table>\n<thead><tr><th>case</th><th>mode</th><th>strategy</th><th>distro</th>"
		   "<th>outcome</th><th>probe gap (ms)</th><th>crmig downtime (ms)</th>"
		   "<th>bytes before resume</th><th>reason</th></tr></thead>\n<tbody>\n");
	for (size_t i = 0; i < n; i++)
		write_row(f, &r[i]);
	fprintf(f, "</tbody>\n</table>\n");
}

int html_write(const char *path, const struct suite_result *r, size_t n, const char *title)
{
	__do_free char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return -1;
	write_head(f, title);
	write_summary(f, r, n);
	write_table(f, r, n);
	fprintf(f, "</body>\n</html>\n");
	if (fclose(f) != 0) {
		errno = ENOMEM;
		return -1;
	}
	return report_write_atomic(path, buf, len);
}
