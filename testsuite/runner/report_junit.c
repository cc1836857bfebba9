/* JUnit XML for CI systems (GitLab, Jenkins): one testsuite "crmig", one
 * testcase per instance. Whatever a reason contains, the document stays
 * well-formed XML 1.0: see xml_escape(). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "suite.h"
#include "util.h"

/* ---------------------------------------------------------------- escaping */

/* XML 1.0 cannot carry most C0 controls, U+FFFE/U+FFFF, even as references. */
static bool xml_char_allowed(uint32_t cp)
{
	if (cp < 0x20)
		return cp == '\t' || cp == '\n' || cp == '\r';
	return cp != 0xfffe && cp != 0xffff;
}

/* The replacement for one code point, or NULL to copy it as it is. */
static const char *xml_replacement(uint32_t cp)
{
	switch (cp) {
	case '<': return "&lt;";
	case '>': return "&gt;";
	case '&': return "&amp;";
	case '"': return "&quot;";
	case '\'': return "&#39;";
	/* As references so that attribute values keep them (parsers normalize raw ones to spaces). */
	case '\t': return "&#9;";
	case '\n': return "&#10;";
	case '\r': return "&#13;";
	}
	return xml_char_allowed(cp) ? NULL : "\xef\xbf\xbd";
}

char *xml_escape(const char *s)
{
	size_t n = strlen(s), o = 0;
	char *out = xmalloc(n * 6 + 1);	/* "&quot;" is the longest growth per byte */

	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t k = utf8_decode(s + i, n - i, &cp);
		const char *rep = k ? xml_replacement(cp) : "\xef\xbf\xbd";

		if (rep) {
			size_t rl = strlen(rep);

			memcpy(out + o, rep, rl);
			o += rl;
		} else {
			memcpy(out + o, s + i, k);
			o += k;
		}
		i += k ? k : 1;
	}
	out[o] = '\0';
	return out;
}

/* ---------------------------------------------------------------- document */

static const char *crmig_string(const struct suite_result *r, const char *key)
{
	const char *s = json_string_value(json_object_get(r->crmig, key));

	return s ? s : "-";
}

/* A number from crmig's report as text, "-" when absent. */
static void crmig_number(const struct suite_result *r, const char *key, char *buf, size_t len)
{
	json_t *v = json_object_get(r->crmig, key);

	if (json_is_number(v))
		snprintf(buf, len, "%.1f", json_number_value(v));
	else
		snprintf(buf, len, "-");
}

static void write_system_out(FILE *f, const struct suite_result *r)
{
	__do_free char *distro = xml_escape(r->distro);
	__do_free char *result = xml_escape(crmig_string(r, "result"));
	/* which accelerator ran the hosts: figures under TCG and KVM differ a lot */
	__do_free char *accel = xml_escape(json_string_value(json_object_get(r->details, "accel")) ?: "-");
	char gap[32], downtime[32];

	if (r->probe_gap_ms >= 0)
		snprintf(gap, sizeof(gap), "%.1f", r->probe_gap_ms);
	else
		snprintf(gap, sizeof(gap), "-");
	crmig_number(r, "downtime_ms", downtime, sizeof(downtime));
	fprintf(f, "      <system-out>distro=%s&#10;accel=%s&#10;probe_gap_ms=%s&#10;crmig_downtime_ms=%s&#10;"
		   "crmig_result=%s&#10;</system-out>\n", distro, accel, gap, downtime, result);
}

static void write_testcase(FILE *f, const struct suite_result *r)
{
	__do_free char *name = xml_escape(r->inst.c ? r->inst.c->name : "");
	__do_free char *reason = xml_escape(r->reason[0] ? r->reason : "(no reason given)");

	fprintf(f, "    <testcase classname=\"crmig.%s\" name=\"%s/%s\" time=\"%.3f\">\n", name,
		mode_bit_name(r->inst.mode), strategy_bit_name(r->inst.strategy), r->duration_ms / 1000.0);
	if (r->outcome == OUTCOME_FAIL && r->known_bug[0]) {
		__do_free char *bug = xml_escape(r->known_bug);
		fprintf(f, "      <skipped message=\"known upstream bug %s: %s\"/>\n", bug, reason);
	} else if (r->outcome == OUTCOME_FAIL)
		fprintf(f, "      <failure message=\"%s\">%s</failure>\n", reason, reason);
	else if (r->outcome == OUTCOME_SKIP)
		fprintf(f, "      <skipped message=\"%s\"/>\n", reason);
	write_system_out(f, r);
	fprintf(f, "    </testcase>\n");
}

static void write_document(FILE *f, const struct suite_result *r, size_t n)
{
	size_t failures = 0, skipped = 0;
	double ms = 0;

	for (size_t i = 0; i < n; i++) {
		failures += result_counts_as_failure(&r[i]);
		skipped += r[i].outcome == OUTCOME_SKIP || (r[i].outcome == OUTCOME_FAIL && r[i].known_bug[0]);
		ms += r[i].duration_ms > 0 ? r[i].duration_ms : 0;
	}
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	fprintf(f, "<testsuites tests=\"%zu\" failures=\"%zu\" skipped=\"%zu\" time=\"%.3f\">\n", n, failures,
		skipped, ms / 1000.0);
	fprintf(f, "  <testsuite name=\"crmig\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"%zu\" "
		   "time=\"%.3f\">\n", n, failures, skipped, ms / 1000.0);
	for (size_t i = 0; i < n; i++)
		write_testcase(f, &r[i]);
	fprintf(f, "  </testsuite>\n</testsuites>\n");
}

int junit_write(const char *path, const struct suite_result *r, size_t n)
{
	__do_free char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int ret;

	if (!f)
		return -1;
	write_document(f, r, n);
	if (fclose(f) != 0) {
		errno = ENOMEM;
		return -1;
	}
	ret = write_file_atomic(path, buf, len, 0644);
	return ret;
}
