/* results.html: the page a maintainer reads instead of the JSON. One
 * self-contained file: inline CSS and inline SVG (report_charts.c), no
 * script, no fetch; a Content-Security-Policy forbids both, so even a page
 * built from hostile reasons (which are escaped anyway) can only show text.
 *
 * Counts agree with TAP (report_tap.c): "ok" is a pass, "ok # SKIP" a skip,
 * "not ok # TODO known upstream bug" a known bug, any other "not ok" a
 * failure. Sections: summary (distro x mode x strategy), failures with their
 * repro bundles, downtime and bytes charts, a phase timeline per instance,
 * the lab's checks by name, skips, and every instance. */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <string.h>

#include "report_html.h"
#include "util.h"

static const char style[] =
	"body{font-family:system-ui,sans-serif;margin:0;color:#1d1d1f;background:#f6f7f9;font-size:14px}"
	"main{max-width:1400px;margin:0 auto;padding:1em 1.5em 3em}"
	"h1{font-size:1.6em;margin:.4em 0 .1em}h2{font-size:1.2em;margin:1.6em 0 .5em;border-bottom:1px solid #ccd;"
	"padding-bottom:.2em}h3{font-size:1em;margin:0 0 .3em}"
	"p.meta{color:#555;margin:.2em 0 .8em}nav a{margin-right:1em}a{color:#1a56b8}"
	"table{border-collapse:collapse;background:#fff;font-size:.92em}"
	"th,td{border:1px solid #d5d8de;padding:.25em .6em;text-align:left;vertical-align:top}"
	"th{background:#eceef2}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
	"table.all td:nth-child(-n+3){white-space:nowrap}"
	"td.zero{color:#aab}"
	".pass{background:#dcf3d6}.fail{background:#f8d3d3;font-weight:bold}.skip{background:#fbf0c9}"
	".known{background:#e6dcf5}"
	"td.reason{white-space:pre-wrap;overflow-wrap:anywhere;max-width:52em;font-family:ui-monospace,monospace;font-size:.9em}"
	".cards{display:flex;gap:.8em;flex-wrap:wrap;margin:.6em 0}"
	".card{padding:.5em 1em;border-radius:6px;min-width:7em;border:1px solid #d5d8de}"
	".card b{display:block;font-size:1.8em}"
	".verdict{display:inline-block;padding:.3em .8em;border-radius:4px;font-weight:bold;margin:.3em 0}"
	".verdict.ok{background:#2e7d32;color:#fff}.verdict.bad{background:#c62828;color:#fff}"
	".failure{background:#fff;border:1px solid #d5d8de;border-left:6px solid #c62828;padding:.6em 1em;"
	"margin:.6em 0;border-radius:4px}.failure.known{border-left-color:#7b52c1;background:#fff}"
	".failure ul{margin:.3em 0;padding-left:1.4em;font-family:ui-monospace,monospace;font-size:.9em;"
	"white-space:pre-wrap}.badge{display:inline-block;padding:0 .5em;border-radius:3px;font-size:.85em;"
	"font-weight:bold;margin-left:.5em}"
	".grid2{display:grid;grid-template-columns:repeat(auto-fill,minmax(660px,1fr));gap:.8em;align-items:start}"
	".tl{background:#fff;border:1px solid #d5d8de;border-radius:4px;padding:.5em .7em}"
	".tl p{margin:.1em 0 .3em;color:#444;font-size:.9em}"
	"svg.chart{background:#fff;border:1px solid #d5d8de;border-radius:4px;max-width:100%;height:auto;display:block}"
	".tl svg.chart{border:0}"
	"svg text{font-family:system-ui,sans-serif;font-size:11px;fill:#333}"
	"svg text.group{font-weight:bold;font-size:12px}svg text.tick{fill:#777;font-size:10px}"
	"svg text.bad{fill:#c62828;font-weight:bold}svg text.value{fill:#444;font-size:10.5px}"
	"svg line.grid{stroke:#e4e6ea}svg line.sep{stroke:#ccd}svg rect.frozen{fill:#d37295;fill-opacity:.15}"
	"p.none{color:#666;font-style:italic}";

/* ---- counting, as TAP does ---------------------------------------------- */

void result_tally_add(struct result_tally *t, const struct suite_result *r)
{
	t->total++;
	if (r->outcome == OUTCOME_PASS)
		t->pass++;
	else if (r->outcome == OUTCOME_SKIP)
		t->skip++;
	else if (result_counts_as_failure(r))
		t->fail++;
	else
		t->known++;
}

/* "criu#3029: text" -> "criu#3029" */
static void bug_id(const char *bug, char *buf, size_t len)
{
	size_t n = strcspn(bug, ": ");

	snprintf(buf, len, "%.*s", (int)n, bug);
}

/* What TAP says of it: pass, fail, skip, or "TODO known upstream bug ID". */
static void outcome_label(const struct suite_result *r, char *buf, size_t len)
{
	char id[64];

	if (r->outcome != OUTCOME_FAIL || !r->known_bug[0]) {
		snprintf(buf, len, "%s", outcome_name(r->outcome));
		return;
	}
	bug_id(r->known_bug, id, sizeof(id));
	snprintf(buf, len, "TODO known upstream bug %s", id);
}

/* ---- links to the repro bundles ----------------------------------------- */

/* Percent-encodes all but unreserved characters and '/'. */
static char *url_path(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = xmalloc(strlen(s) * 3 + 1), *o = out;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    strchr("-._~/", *p)) {
			*o++ = (char)*p;
		} else {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		}
	}
	*o = '\0';
	return out;
}

/* target as a path relative to the directory of the page (so that the
 * report and build/check/keep/ can move together); as given when either
 * cannot be resolved. */
static char *relative_to_page(const char *page, const char *target)
{
	__do_free char *copy = xstrdup(page);
	char dir[PATH_MAX], tgt[PATH_MAX];
	size_t common = 0, i;
	char *rel;

	if (!realpath(dirname(copy), dir) || !realpath(target, tgt))
		return xstrdup(target);
	/* the longest common prefix that ends on a component boundary */
	for (i = 0; dir[i] && dir[i] == tgt[i]; i++)
		if (dir[i] == '/')
			common = i;
	if (!dir[i] && (tgt[i] == '/' || !tgt[i]))
		common = i;
	rel = xstrdup("");
	for (const char *p = dir + common; *p; p++)
		if (*p == '/') {
			char *more = xasprintf("%s../", rel);
			free(rel);
			rel = more;
		}
	{
		char *more = xasprintf("%s%s", rel, tgt[common] == '/' ? tgt + common + 1 : tgt + common);
		free(rel);
		rel = more;
	}
	if (!*rel) {
		free(rel);
		rel = xstrdup(".");
	}
	return rel;
}

static void write_bundle_links(FILE *f, const char *page, const struct suite_result *r)
{
	const char *bundle = json_string_value(json_object_get(r->details, "bundle"));
	__do_free char *rel = NULL, *url = NULL, *shown = NULL;

	if (!bundle) {
		fprintf(f, "<p>No repro bundle: crmig-suite keeps one for a failed migration when run with --keep DIR "
			   "(a zdtm test that failed its own check after a migration that worked has none).</p>\n");
		return;
	}
	rel = relative_to_page(page, bundle);
	url = url_path(rel);
	shown = xml_escape(bundle);
	fprintf(f, "<p>Repro bundle: <a href=\"%s/\">%s/</a> \xc2\xb7 <a href=\"%s/REPLAY.txt\">REPLAY.txt</a> \xc2\xb7 "
		   "<a href=\"%s/crmig-report.json\">crmig-report.json</a> \xc2\xb7 "
		   "<a href=\"%s/workload.log\">workload.log</a> \xc2\xb7 replay: <code>crmig-suite replay %s</code></p>\n",
		url, shown, url, url, url, shown);
	if (json_is_string(json_object_get(r->details, "bundle_tar"))) {
		const char *tar = json_string_value(json_object_get(r->details, "bundle_tar"));
		__do_free char *trel = relative_to_page(page, tar);
		__do_free char *turl = url_path(trel);
		__do_free char *tshown = xml_escape(tar);

		fprintf(f, "<p>Packed, to hand on: <a href=\"%s\">%s</a> (<code>crmig-suite replay %s</code> "
			   "unpacks it safely and re-runs it)</p>\n", turl, tshown, tshown);
	}
}

/* ---- page parts ----------------------------------------------------------- */

static void write_head(FILE *f, const char *title)
{
	__do_free char *t = xml_escape(title ? title : "crmig-suite");

	fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
		   "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
		   "style-src 'unsafe-inline'; img-src data:\">\n"
		   "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
		   "<title>%s</title>\n<style>%s</style>\n</head>\n<body>\n<main>\n<h1>%s</h1>\n",
		t, style, t);
}

/* Distros and what their hosts ran, from crmig's reports. */
static void write_meta(FILE *f, const struct suite_result *r, size_t n)
{
	json_t *seen = json_object();
	const char *distro;
	json_t *v;

	for (size_t i = 0; i < n; i++) {
		json_t *ver = json_object_get(r[i].crmig, "versions");

		/* a crmig that stopped before it probed the host (auth refused)
		 * reports its versions as nulls: another result of the distro says them */
		if (!json_is_string(json_object_get(ver, "criu")))
			ver = NULL;
		if (r[i].distro[0] && (!json_object_get(seen, r[i].distro) || (json_is_null(json_object_get(seen, r[i].distro)) && ver)))
			json_object_set(seen, r[i].distro, ver ? ver : json_null());
	}
	fprintf(f, "<p class=\"meta\">");
	json_object_foreach(seen, distro, v) {
		__do_free char *d = xml_escape(distro);
		__do_free char *criu = xml_escape(json_string_value(json_object_get(v, "criu")) ?: "?");
		__do_free char *lxc = xml_escape(json_string_value(json_object_get(v, "lxc")) ?: "?");
		__do_free char *kernel = xml_escape(json_string_value(json_object_get(v, "kernel")) ?: "?");

		if (json_is_object(v))
			fprintf(f, "<b>%s</b>: criu %s, lxc %s, kernel %s. ", d, criu, lxc, kernel);
		else
			fprintf(f, "<b>%s</b>. ", d);
	}
	fprintf(f, "%zu results.</p>\n<nav><a href=\"#summary\">Summary</a><a href=\"#failures\">Failures</a>"
		   "<a href=\"#charts\">Charts</a><a href=\"#timelines\">Phase timelines</a>"
		   "<a href=\"#lab\">Lab checks</a><a href=\"#skips\">Skips</a><a href=\"#all\">All results</a></nav>\n", n);
	json_decref(seen);
}

static void write_cards(FILE *f, const struct result_tally *t)
{
	if (t->fail)
		fprintf(f, "<p class=\"verdict bad\">FAIL: %zu failure%s</p>\n", t->fail, t->fail == 1 ? "" : "s");
	else
		fprintf(f, "<p class=\"verdict ok\">PASS: no failure%s</p>\n",
			t->known ? " (known upstream bugs are reported, as TAP TODO)" : "");
	fprintf(f, "<div class=\"cards\" id=\"counts\" data-total=\"%zu\" data-pass=\"%zu\" data-fail=\"%zu\" "
		   "data-known=\"%zu\" data-skip=\"%zu\">\n"
		   "<div class=\"card pass\"><b>%zu</b>passed</div>\n"
		   "<div class=\"card fail\"><b>%zu</b>failed</div>\n"
		   "<div class=\"card known\"><b>%zu</b>known upstream bug%s (TAP TODO)</div>\n"
		   "<div class=\"card skip\"><b>%zu</b>skipped</div>\n"
		   "<div class=\"card\"><b>%zu</b>in all</div>\n</div>\n",
		t->total, t->pass, t->fail, t->known, t->skip, t->pass, t->fail, t->known, t->known == 1 ? "" : "s",
		t->skip, t->total);
}

static void count_cell(FILE *f, size_t v, const char *cls)
{
	fprintf(f, "<td class=\"num %s\">%zu</td>", v ? cls : "zero", v);
}

static void write_tally_cells(FILE *f, const struct result_tally *t)
{
	count_cell(f, t->pass, "pass");
	count_cell(f, t->fail, "fail");
	count_cell(f, t->known, "known");
	count_cell(f, t->skip, "skip");
	fprintf(f, "<td class=\"num\">%zu</td>", t->total);
}

/* One row per distro x mode x strategy, in display order (order[] is sorted by them). */
static void write_matrix(FILE *f, const struct suite_result *r, const size_t *order, size_t n)
{
	struct result_tally all = { 0 };

	fprintf(f, "<h2 id=\"summary\">Summary by distro \xc3\x97 mode \xc3\x97 strategy</h2>\n<table class=\"matrix\">\n"
		   "<thead><tr><th>distro</th><th>mode</th><th>strategy</th><th class=\"num\">pass</th>"
		   "<th class=\"num\">fail</th><th class=\"num\">known bug</th><th class=\"num\">skip</th>"
		   "<th class=\"num\">total</th></tr></thead>\n<tbody>\n");
	for (size_t k = 0; k < n;) {
		const struct suite_result *first = &r[order[k]];
		struct result_tally t = { 0 };
		bool lab = html_is_lab_check(first);
		__do_free char *distro = xml_escape(first->distro);

		for (; k < n; k++) {
			const struct suite_result *x = &r[order[k]];
			if (strcmp(x->distro, first->distro) || x->inst.mode != first->inst.mode ||
			    x->inst.strategy != first->inst.strategy || html_is_lab_check(x) != lab)
				break;
			result_tally_add(&t, x);
			result_tally_add(&all, x);
		}
		if (lab)
			fprintf(f, "<tr><td>%s</td><td colspan=\"2\">the lab's own checks</td>", distro);
		else
			fprintf(f, "<tr><td>%s</td><td>%s</td><td>%s</td>", distro, mode_bit_name(first->inst.mode),
				strategy_bit_name(first->inst.strategy));
		write_tally_cells(f, &t);
		fprintf(f, "</tr>\n");
	}
	fprintf(f, "</tbody>\n<tfoot><tr><th colspan=\"3\">all</th>");
	write_tally_cells(f, &all);
	fprintf(f, "</tr></tfoot>\n</table>\n");
}

static void write_reasons(FILE *f, const char *reason)
{
	const char *p = reason[0] ? reason : "(no reason given)";

	fprintf(f, "<ul class=\"reasons\">");
	for (;;) {
		const char *sep = strstr(p, REASON_SEP);
		__do_free char *one = xstrdup(p);
		__do_free char *esc = NULL;

		if (sep)
			one[sep - p] = '\0';
		esc = xml_escape(one);
		fprintf(f, "<li>%s</li>", esc);
		if (!sep)
			break;
		p = sep + strlen(REASON_SEP);
	}
	fprintf(f, "</ul>\n");
}

static void write_failure(FILE *f, const char *page, const struct suite_result *r, size_t idx)
{
	__do_free char *id = xml_escape(r->inst.id);
	const char *error = json_string_value(json_object_get(r->crmig, "error"));
	const char *result = json_string_value(json_object_get(r->crmig, "result"));
	const char *verdict = json_string_value(json_object_get(r->details, "verdict"));

	fprintf(f, "<div class=\"failure%s\" id=\"fail-%zu\">\n<h3>%s", r->known_bug[0] ? " known" : "", idx, id);
	if (r->known_bug[0]) {
		__do_free char *bug = xml_escape(r->known_bug);
		char bid[64];
		__do_free char *bide = NULL;

		bug_id(r->known_bug, bid, sizeof(bid));
		bide = xml_escape(bid);
		fprintf(f, "<span class=\"badge known\">TODO known upstream bug %s</span></h3>\n<p>%s (TAP: "
			   "<code>not ok # TODO known upstream bug %s</code>; it does not fail the run)</p>\n",
			bide, bug, bug);
	} else {
		fprintf(f, "<span class=\"badge fail\">FAIL</span></h3>\n");
	}
	write_reasons(f, r->reason);
	if (result || error) {
		__do_free char *re = xml_escape(result ? result : "?");
		__do_free char *ee = xml_escape(error ? error : "");

		fprintf(f, "<p>crmig's result: <b>%s</b>%s%s</p>\n", re, error ? ": " : "", ee);
	}
	if (verdict) {
		__do_free char *ve = xml_escape(verdict);
		fprintf(f, "<p>workload's verdict: <code>%s</code></p>\n", ve);
	}
	write_bundle_links(f, page, r);
	fprintf(f, "</div>\n");
}

static void write_failures(FILE *f, const char *page, const struct suite_result *r, const size_t *order, size_t n)
{
	size_t shown = 0;

	fprintf(f, "<h2 id=\"failures\">Failures and known upstream bugs</h2>\n");
	for (size_t pass = 0; pass < 2; pass++)	/* real failures first */
		for (size_t k = 0; k < n; k++) {
			const struct suite_result *x = &r[order[k]];

			if (x->outcome == OUTCOME_FAIL && (pass == 0) == result_counts_as_failure(x)) {
				write_failure(f, page, x, order[k]);
				shown++;
			}
		}
	if (!shown)
		fprintf(f, "<p class=\"none\">None.</p>\n");
}

static void write_timelines(FILE *f, const struct suite_result *r, const size_t *order, size_t n)
{
	size_t shown = 0;

	fprintf(f, "<h2 id=\"timelines\">Phase timelines (crmig's phases; the frozen window shaded)</h2>\n"
		   "<div class=\"grid2\">\n");
	for (size_t k = 0; k < n; k++) {
		const struct suite_result *x = &r[order[k]];
		__do_free char *id = NULL, *title = NULL;
		char gap[32], dt[32], before[32], total[32], lazy[32], label[96];
		char *buf = NULL;
		size_t len = 0, shared;
		FILE *svg;

		if (!json_is_array(json_object_get(x->crmig, "phases")) || !html_report_first(r, order, k))
			continue;
		/* Drawn aside first: an instance without a usable phase gets no card. */
		svg = open_memstream(&buf, &len);
		if (!svg)
			continue;
		title = xasprintf("phases of %s", x->inst.id);
		if (html_chart_phases(svg, x->crmig, title) < 0) {
			fclose(svg);
			free(buf);
			continue;
		}
		fclose(svg);
		shared = html_report_shared(r, n, x->crmig);
		{
			__do_free char *named = shared > 1 ? xasprintf("%s and %zu more judged by this migration", x->inst.id,
								      shared - 1)
							   : xstrdup(x->inst.id);
			id = xml_escape(named);
		}
		outcome_label(x, label, sizeof(label));
		html_fmt_ms(x->probe_gap_ms, gap, sizeof(gap));
		html_fmt_ms(html_report_number(x, "downtime_ms"), dt, sizeof(dt));
		html_fmt_bytes(html_report_number(x, "bytes_before_resume"), before, sizeof(before));
		html_fmt_bytes(html_report_number(x, "bytes_total"), total, sizeof(total));
		html_fmt_ms(html_report_number(x, "lazy_ms"), lazy, sizeof(lazy));
		fprintf(f, "<div class=\"tl\" id=\"tl-%zu\"><h3>%s <span class=\"badge %s\">%s</span></h3>\n"
			   "<p>probe gap %s \xc2\xb7 downtime %s \xc2\xb7 before resume %s \xc2\xb7 total %s",
			order[k], id, html_outcome_class(x), label, gap, dt, before, total);
		if (html_report_number(x, "rounds") > 0)
			fprintf(f, " \xc2\xb7 %.0f pre-copy round%s", html_report_number(x, "rounds"),
				html_report_number(x, "rounds") == 1 ? "" : "s");
		if (html_report_number(x, "lazy_ms") > 0)
			fprintf(f, " \xc2\xb7 lazy window %s", lazy);
		fprintf(f, "</p>\n%s</div>\n", buf);
		free(buf);
		shown++;
	}
	fprintf(f, "</div>\n");
	if (!shown)
		fprintf(f, "<p class=\"none\">No crmig report with phases.</p>\n");
}

static void write_lab_checks(FILE *f, const struct suite_result *r, size_t n)
{
	size_t shown = 0;

	fprintf(f, "<h2 id=\"lab\">Lab checks</h2>\n<table class=\"lab\">\n<thead><tr><th>check</th><th>distro</th>"
		   "<th>outcome</th><th>reason</th></tr></thead>\n<tbody>\n");
	for (size_t i = 0; i < n; i++) {
		const struct suite_result *x = &r[i];
		const char *name = x->inst.id;
		__do_free char *ne = NULL, *de = NULL, *re = NULL;
		char label[96];

		if (!html_is_lab_check(x))
			continue;
		if (!strncmp(name, "lab:", 4))
			name += 4;
		ne = xml_escape(name[0] ? name : "(unnamed)");
		de = xml_escape(x->distro);
		re = xml_escape(x->outcome == OUTCOME_PASS ? "" : x->reason);
		outcome_label(x, label, sizeof(label));
		fprintf(f, "<tr><td>%s</td><td>%s</td><td class=\"%s\">%s</td><td class=\"reason\">%s</td></tr>\n", ne, de,
			html_outcome_class(x), label, re);
		shown++;
	}
	fprintf(f, "</tbody>\n</table>\n");
	if (!shown)
		fprintf(f, "<p class=\"none\">The lab's checks did not run (--no-lab-checks, or an attached lab).</p>\n");
}

static void write_skips(FILE *f, const struct suite_result *r, const size_t *order, size_t n)
{
	size_t shown = 0;

	fprintf(f, "<h2 id=\"skips\">Skips (each says why)</h2>\n");
	for (size_t k = 0; k < n; k++) {
		const struct suite_result *x = &r[order[k]];
		__do_free char *id = NULL, *why = NULL;

		if (x->outcome != OUTCOME_SKIP)
			continue;
		if (!shown++)
			fprintf(f, "<table class=\"skips\">\n<thead><tr><th>instance</th><th>reason</th></tr></thead>\n<tbody>\n");
		id = xml_escape(x->inst.id);
		why = xml_escape(x->reason[0] ? x->reason : "(no reason given)");
		fprintf(f, "<tr><td>%s</td><td class=\"reason\">%s</td></tr>\n", id, why);
	}
	if (shown)
		fprintf(f, "</tbody>\n</table>\n");
	else
		fprintf(f, "<p class=\"none\">None.</p>\n");
}

static void write_row(FILE *f, const struct suite_result *r, size_t idx)
{
	__do_free char *id = xml_escape(r->inst.id);
	__do_free char *distro = xml_escape(r->distro);
	/* a pass has no reason, but for what it measured (the soak's figures) */
	__do_free char *reason = xml_escape(r->reason);
	char gap[32], dt[32], bytes[32], took[32], label[96];

	outcome_label(r, label, sizeof(label));
	html_fmt_ms(r->probe_gap_ms, gap, sizeof(gap));
	html_fmt_ms(html_report_number(r, "downtime_ms"), dt, sizeof(dt));
	html_fmt_bytes(html_report_number(r, "bytes_before_resume"), bytes, sizeof(bytes));
	html_fmt_ms(r->duration_ms > 0 ? r->duration_ms : -1, took, sizeof(took));
	fprintf(f, "<tr><td>%s</td><td>%s</td><td class=\"%s\">", id, distro, html_outcome_class(r));
	if (r->outcome == OUTCOME_FAIL)
		fprintf(f, "<a href=\"#fail-%zu\">%s</a>", idx, label);
	else
		fprintf(f, "%s", label);
	fprintf(f, "</td><td class=\"num\">%s</td><td class=\"num\">%s</td><td class=\"num\">%s</td>"
		   "<td class=\"num\">%s</td><td class=\"reason\">%s</td></tr>\n", gap, dt, bytes, took, reason);
}

static void write_table(FILE *f, const struct suite_result *r, size_t n)
{
	fprintf(f, "<h2 id=\"all\">All results, in the order they ran</h2>\n<table class=\"all\">\n<thead><tr>"
		   "<th>instance</th><th>distro</th><th>outcome</th><th class=\"num\">probe gap</th>"
		   "<th class=\"num\">crmig downtime</th><th class=\"num\">bytes before resume</th>"
		   "<th class=\"num\">took</th><th>reason</th></tr></thead>\n<tbody>\n");
	for (size_t i = 0; i < n; i++)
		write_row(f, &r[i], i);
	fprintf(f, "</tbody>\n</table>\n");
}

/* ---- order ---------------------------------------------------------------- */

static int display_cmp(const void *a, const void *b, void *ctx)
{
	const struct suite_result *r = ctx, *x = &r[*(const size_t *)a], *y = &r[*(const size_t *)b];
	int c;

	/* The lab's checks first, in the order they ran. */
	if (html_is_lab_check(x) != html_is_lab_check(y))
		return html_is_lab_check(x) ? -1 : 1;
	if ((c = strcmp(x->distro, y->distro)))
		return c;
	if (html_is_lab_check(x))
		return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
	if ((c = strcmp(x->inst.c ? x->inst.c->name : "", y->inst.c ? y->inst.c->name : "")))
		return c;
	if (x->inst.mode != y->inst.mode)
		return x->inst.mode < y->inst.mode ? -1 : 1;
	if (x->inst.strategy != y->inst.strategy)
		return x->inst.strategy < y->inst.strategy ? -1 : 1;
	return *(const size_t *)a < *(const size_t *)b ? -1 : *(const size_t *)a > *(const size_t *)b;
}

/* Matrix rows need distro, mode, strategy adjacent: the lab's checks, then by those. */
static int matrix_cmp(const void *a, const void *b, void *ctx)
{
	const struct suite_result *r = ctx, *x = &r[*(const size_t *)a], *y = &r[*(const size_t *)b];
	int c;

	if ((c = strcmp(x->distro, y->distro)))
		return c;
	if (html_is_lab_check(x) != html_is_lab_check(y))
		return html_is_lab_check(x) ? -1 : 1;
	if (x->inst.mode != y->inst.mode)
		return x->inst.mode < y->inst.mode ? -1 : 1;
	if (x->inst.strategy != y->inst.strategy)
		return x->inst.strategy < y->inst.strategy ? -1 : 1;
	return *(const size_t *)a < *(const size_t *)b ? -1 : *(const size_t *)a > *(const size_t *)b;
}

int html_write(const char *path, const struct suite_result *r, size_t n, const char *title)
{
	__do_free char *buf = NULL;
	__do_free size_t *order = xmalloc((n + 1) * sizeof(*order));
	__do_free size_t *morder = xmalloc((n + 1) * sizeof(*morder));
	struct result_tally t = { 0 };
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return -1;
	for (size_t i = 0; i < n; i++) {
		order[i] = morder[i] = i;
		result_tally_add(&t, &r[i]);
	}
	qsort_r(order, n, sizeof(*order), display_cmp, (void *)r);
	qsort_r(morder, n, sizeof(*morder), matrix_cmp, (void *)r);
	write_head(f, title);
	write_meta(f, r, n);
	write_cards(f, &t);
	write_matrix(f, r, morder, n);
	write_failures(f, path, r, order, n);
	fprintf(f, "<h2 id=\"charts\">Downtime per case and strategy</h2>\n");
	html_chart_downtime(f, r, order, n);
	fprintf(f, "<h2>Bytes before resume per case and strategy</h2>\n");
	html_chart_bytes(f, r, order, n);
	write_timelines(f, r, order, n);
	write_lab_checks(f, r, n);
	write_skips(f, r, order, n);
	write_table(f, r, n);
	fprintf(f, "</main>\n</body>\n</html>\n");
	if (fclose(f) != 0) {
		errno = ENOMEM;
		return -1;
	}
	return write_file_atomic(path, buf, len, 0644);
}
