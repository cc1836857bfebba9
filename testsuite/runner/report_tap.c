/* TAP version 13, streamed while the run goes on. A skip is loud: its
 * reason is always printed (a skipped migration test counted as a silent
 * pass is the anti-pattern this suite exists to avoid). A failure carries a
 * YAML block with what a reader needs first. */
#include <string.h>

#include "suite.h"
#include "util.h"

/* ---------------------------------------------------------------- escaping */

/* The escape for one code point inside a double-quoted YAML scalar, into
 * buf; false if it goes as it is. */
static bool yaml_escape_one(uint32_t cp, char buf[12])
{
	switch (cp) {
	case '"': strcpy(buf, "\\\""); return true;
	case '\\': strcpy(buf, "\\\\"); return true;
	case '\n': strcpy(buf, "\\n"); return true;
	case '\r': strcpy(buf, "\\r"); return true;
	case '\t': strcpy(buf, "\\t"); return true;
	}
	/* C0, DEL, C1; the line and paragraph separators and the BOM that YAML
	 * readers treat specially; non-characters. */
	if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
		snprintf(buf, 12, "\\x%02x", (unsigned)cp);
		return true;
	}
	if (cp == 0x2028 || cp == 0x2029 || cp == 0xfeff || cp == 0xfffe || cp == 0xffff) {
		snprintf(buf, 12, "\\u%04x", (unsigned)cp);
		return true;
	}
	return false;
}

char *yaml_quote(const char *s)
{
	size_t n = strlen(s), o = 0;
	char *out = xmalloc(n * 6 + 3);	/* "\uffff" from 3 bytes, "\ufffd" from 1 bad byte */

	out[o++] = '"';
	for (size_t i = 0; i < n;) {
		char esc[12];
		uint32_t cp;
		size_t k = utf8_decode(s + i, n - i, &cp);

		if (!k) {
			strcpy(esc, "\\ufffd");
			k = 1;
		} else if (!yaml_escape_one(cp, esc)) {
			memcpy(out + o, s + i, k);
			o += k;
			i += k;
			continue;
		}
		memcpy(out + o, esc, strlen(esc));
		o += strlen(esc);
		i += k;
	}
	out[o++] = '"';
	out[o] = '\0';
	return out;
}

/* Text for the test line itself: one line, valid UTF-8, and no '#' in the
 * description (it would start a directive). */
static char *one_line(const char *s)
{
	char *clean = utf8_sanitize(s);

	for (char *p = clean; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	return clean;
}

static char *description(const struct suite_result *r)
{
	char *d = one_line(r->inst.id);

	for (char *p = d; *p; p++)
		if (*p == '#')
			*p = '_';
	return d;
}

/* ---------------------------------------------------------------- output */

void tap_begin(FILE *f, size_t planned)
{
	fprintf(f, "TAP version 13\n");
	if (planned)
		fprintf(f, "1..%zu\n", planned);
	fflush(f);
}

void tap_end(FILE *f, size_t count)
{
	fprintf(f, "1..%zu\n", count);
	fflush(f);
}

static void tap_failure_block(FILE *f, const struct suite_result *r)
{
	__do_free char *message = yaml_quote(r->reason[0] ? r->reason : "(no reason given)");
	const char *result = json_string_value(json_object_get(r->crmig, "result"));
	__do_free char *quoted_result = result ? yaml_quote(result) : NULL;

	fprintf(f, "  ---\n  message: %s\n", message);
	if (r->probe_gap_ms >= 0)
		fprintf(f, "  probe_gap_ms: %.1f\n", r->probe_gap_ms);
	else
		fprintf(f, "  probe_gap_ms: null\n");
	fprintf(f, "  crmig_result: %s\n  ...\n", quoted_result ? quoted_result : "null");
}

void tap_result(FILE *f, size_t number, const struct suite_result *r)
{
	__do_free char *desc = description(r);

	switch (r->outcome) {
	case OUTCOME_PASS:
		fprintf(f, "ok %zu - %s\n", number, desc);
		break;
	case OUTCOME_SKIP: {
		__do_free char *why = one_line(r->reason[0] ? r->reason : "(no reason given)");

		fprintf(f, "ok %zu - %s # SKIP %s\n", number, desc, why);
		break;
	}
	case OUTCOME_FAIL:
		if (r->known_bug[0]) {
			__do_free char *bug = one_line(r->known_bug);
			fprintf(f, "not ok %zu - %s # TODO known upstream bug %s\n", number, desc, bug);
		} else {
			fprintf(f, "not ok %zu - %s\n", number, desc);
		}
		tap_failure_block(f, r);
		break;
	}
	fflush(f);
}
