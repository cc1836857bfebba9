/* crmig-suite's JSON results (the contract other pipelines read), and the
 * helpers every report shares: UTF-8 validation and atomic writes.
 * Reasons come from workloads, crmig and criu logs: any bytes at all. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "suite.h"
#include "util.h"

const char *outcome_name(enum outcome o)
{
	switch (o) {
	case OUTCOME_PASS:
		return "pass";
	case OUTCOME_FAIL:
		return "fail";
	case OUTCOME_SKIP:
		return "skip";
	}
	return "?";
}

const char *result_label(const struct suite_result *r)
{
	return r->outcome == OUTCOME_FAIL && r->known_bug[0] ? "known upstream bug" : outcome_name(r->outcome);
}

/* ---------------------------------------------------------------- UTF-8 */

static bool continuation(unsigned char c)
{
	return (c & 0xc0) == 0x80;
}

size_t utf8_decode(const char *s, size_t n, uint32_t *cp)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t len;
	uint32_t v, min;

	if (n == 0)
		return 0;
	if (u[0] < 0x80) {
		*cp = u[0];
		return 1;
	}
	if (u[0] >= 0xc2 && u[0] <= 0xdf)
		len = 2, v = u[0] & 0x1f, min = 0x80;
	else if (u[0] >= 0xe0 && u[0] <= 0xef)
		len = 3, v = u[0] & 0x0f, min = 0x800;
	else if (u[0] >= 0xf0 && u[0] <= 0xf4)
		len = 4, v = u[0] & 0x07, min = 0x10000;
	else
		return 0;	/* a continuation byte, 0xc0/0xc1 (always overlong) or > 0xf4 */
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if (!continuation(u[i]))
			return 0;
		v = v << 6 | (u[i] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return len;
}

char *utf8_sanitize(const char *s)
{
	size_t n = strlen(s), o = 0;
	char *out = xmalloc(n * 3 + 1);	/* each bad byte grows to 3 */

	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t k = utf8_decode(s + i, n - i, &cp);

		if (k) {
			memcpy(out + o, s + i, k);
			o += k;
			i += k;
		} else {
			memcpy(out + o, "\xef\xbf\xbd", 3);	/* U+FFFD */
			o += 3;
			i++;
		}
	}
	out[o] = '\0';
	return out;
}

/* ---------------------------------------------------------------- JSON */

static json_t *text_value(const char *s)
{
	__do_free char *clean = utf8_sanitize(s);

	return json_string(clean);
}

/* json_real() refuses NaN and infinities: those become null, as does -1 (unknown). */
static json_t *number_or_null(double v)
{
	return isfinite(v) && v >= 0 ? json_real(v) : json_null();
}

static json_t *result_object(const struct suite_result *r)
{
	const struct suite_instance *in = &r->inst;
	json_t *o = json_object();

	json_object_set_new(o, "case", text_value(in->c ? in->c->name : ""));
	json_object_set_new(o, "strategy", json_string(strategy_bit_name(in->strategy)));
	json_object_set_new(o, "distro", text_value(r->distro));
	json_object_set_new(o, "outcome", json_string(outcome_name(r->outcome)));
	json_object_set_new(o, "reason", text_value(r->reason));
	json_object_set_new(o, "probe_gap_ms", number_or_null(r->probe_gap_ms));
	json_object_set_new(o, "crmig", r->crmig ? json_incref(r->crmig) : json_null());
	json_object_set_new(o, "mode", json_string(mode_bit_name(in->mode)));
	json_object_set_new(o, "id", text_value(in->id));
	json_object_set_new(o, "duration_ms", number_or_null(r->duration_ms));
	/* Extra facts may not shadow the contract's keys. */
	if (r->known_bug[0])
		json_object_set_new(o, "known_bug", text_value(r->known_bug));
	if (json_is_object(r->details))
		json_object_update_missing(o, r->details);
	return o;
}

json_t *results_json(const struct suite_result *r, size_t n)
{
	json_t *list = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, result_object(&r[i]));
	return list;
}

int results_write_json(const char *path, const struct suite_result *r, size_t n)
{
	json_t *list = results_json(r, n);
	__do_free char *text = json_dumps(list, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
	__do_free char *file = text ? xasprintf("%s\n", text) : NULL;

	json_decref(list);
	if (!file) {
		errno = ENOMEM;
		return -1;
	}
	return write_file_atomic(path, file, strlen(file), 0644);
}
