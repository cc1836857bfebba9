/* The JSON crmig writes and the suite reads back (testsuite/runner:
 * crmig_report_complete, known_bug_classify, the JSON, TAP, JUnit and HTML
 * reports with their charts of the report's phases and rounds). Input: the
 * report, then optionally a NUL and the failure's reason; the first byte
 * picks outcome, mode and strategy. */
#include "fuzz.h"
#include "../runner/runner.h"
#include "../runner/suite.h"

static struct fuzz_dir dir;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static const struct suite_case kase = { .name = "fuzz", .tier = "lean", .timeout_s = 60 };
	static const unsigned strategies[] = { ST_STOP, ST_PRE, ST_POST, ST_HYBRID, 0 };
	__do_free char *junit = NULL, *html = NULL, *tap = NULL;
	const uint8_t *nul;
	size_t jlen, tlen = 0;
	struct suite_result r = { 0 };
	char why[256];
	json_t *all;
	FILE *f;

	if (len < 1)
		return 0;
	fuzz_dir_init(&dir);
	nul = memchr(data + 1, '\0', len - 1);
	jlen = nul ? (size_t)(nul - data - 1) : len - 1;
	r.crmig = json_loadb((const char *)data + 1, jlen, 0, NULL);
	if (r.crmig)
		crmig_report_complete(r.crmig, why, sizeof(why));
	r.inst.c = &kase;
	r.inst.mode = data[0] & 1 ? MODE_LXC : MODE_BARE;
	r.inst.strategy = strategies[(data[0] >> 1) % ARRAY_SIZE(strategies)];
	snprintf(r.inst.id, sizeof(r.inst.id), "fuzz:%s:%s", mode_bit_name(r.inst.mode),
		 strategy_bit_name(r.inst.strategy));
	snprintf(r.distro, sizeof(r.distro), "trixie");
	r.outcome = (enum outcome)((data[0] >> 4) % 3);
	r.probe_gap_ms = data[0] & 0x80 ? -1 : 1234.5;
	r.details = json_object();
	if (nul)
		snprintf(r.reason, sizeof(r.reason), "%.*s", (int)(len - 2 - jlen), (const char *)nul + 1);
	known_bug_classify(&r);
	all = results_json(&r, 1);
	free(json_dumps(all, JSON_COMPACT));
	json_decref(all);
	f = open_memstream(&tap, &tlen);
	tap_begin(f, 1);
	tap_result(f, 1, &r);
	fclose(f);
	junit = xasprintf("%s/junit.xml", dir.sentinel);
	html = xasprintf("%s/results.html", dir.sentinel);
	junit_write(junit, &r, 1);
	html_write(html, &r, 1, "fuzz");
	json_decref(r.crmig);
	json_decref(r.details);
	return 0;
}
