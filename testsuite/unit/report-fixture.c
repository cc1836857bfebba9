/* report-fixture OUTDIR: writes the reports of a fixed run (report_fixture.h)
 * into OUTDIR — results.html, results.tap, results.json and keep/ with the
 * failure's bundle — for the browser check (testsuite/unit/check-report),
 * which renders the page in headless chromium and compares its counts with
 * the TAP. No lab needed. */
#include <stdlib.h>

#include "report_fixture.h"

int main(int argc, char **argv)
{
	struct suite_result *v = NULL;
	__do_free char *keep = NULL, *html = NULL, *tap = NULL, *json = NULL;
	FILE *f;
	size_t n;
	int ret = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: report-fixture OUTDIR\n");
		return 2;
	}
	keep = xasprintf("%s/keep", argv[1]);
	html = xasprintf("%s/results.html", argv[1]);
	tap = xasprintf("%s/results.tap", argv[1]);
	json = xasprintf("%s/results.json", argv[1]);
	if (mkdir_p(keep, 0755) < 0) {
		fprintf(stderr, "report-fixture: cannot make %s: %s\n", keep, strerror(errno));
		return 1;
	}
	n = fixture_results(&v, keep);
	f = fopen(tap, "w");
	if (!f) {
		fprintf(stderr, "report-fixture: cannot write %s: %s\n", tap, strerror(errno));
		fixture_free(v, n);
		return 1;
	}
	tap_begin(f, n);
	for (size_t i = 0; i < n; i++)
		tap_result(f, i + 1, &v[i]);
	fclose(f);
	if (html_write(html, v, n, "crmig-suite: trixie (fixture)") < 0 || results_write_json(json, v, n) < 0) {
		fprintf(stderr, "report-fixture: cannot write the reports in %s: %s\n", argv[1], strerror(errno));
		ret = 1;
	}
	fixture_free(v, n);
	return ret;
}
