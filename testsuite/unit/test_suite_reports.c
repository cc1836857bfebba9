/* The reports: exact TAP lines for pass, fail and skip; the escape
 * functions against hostile strings (markup, quotes, control characters,
 * invalid UTF-8); JUnit stays well-formed XML whatever a reason holds
 * (checked by a small XML checker here, and by xmllint where installed);
 * the JSON contract keys and types after a round trip; HTML shows hostile
 * text escaped and never carries a raw <script>. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../runner/report_html.h"
#include "../runner/suite.h"
#include "report_fixture.h"
#include "util.h"
#include "unit.h"

static char tmpdir[] = "/tmp/crmig-test-reports-XXXXXX";

/* Markup, entity-lookalikes, quotes, a CDATA end, C0 controls, DEL, C1,
 * invalid UTF-8 (stray continuation, overlong '/', surrogate, > U+10FFFF,
 * truncated sequence), U+FFFE, a line separator. */
static const char hostile[] = "<script>alert('x')</script> & &amp; \"q\" ]]> \x01\x02\x1b[31m\x7f \xc2\x85 "
			      "\xff\xfe \x80 \xc0\xaf \xed\xa0\x80 \xf4\x90\x80\x80 \xef\xbf\xbe \xe2\x80\xa8 "
			      "tab\there\r\nnew line \\ back \xe2\x82\xac \xe4\xb8";

static void setup_dir(void)
{
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown_dir(void)
{
	remove_tree(tmpdir);
	strcpy(tmpdir, "/tmp/crmig-test-reports-XXXXXX");
}

static struct suite_case the_case = { .name = "memory" };

static void make_result(struct suite_result *r, enum outcome o, unsigned strategy, const char *reason)
{
	memset(r, 0, sizeof(*r));
	r->inst.c = &the_case;
	r->inst.mode = MODE_BARE;
	r->inst.strategy = strategy;
	snprintf(r->inst.id, sizeof(r->inst.id), "memory:bare:%s", strategy_bit_name(strategy));
	snprintf(r->distro, sizeof(r->distro), "trixie");
	r->outcome = o;
	snprintf(r->reason, sizeof(r->reason), "%s", reason);
	r->probe_gap_ms = -1;
	r->duration_ms = 1250;
}

/* Three results: a pass with crmig's report, a hostile failure, a skip. */
static void make_results(struct suite_result r[3])
{
	make_result(&r[0], OUTCOME_PASS, ST_STOP, "");
	r[0].probe_gap_ms = 412.25;
	r[0].crmig = json_pack("{s:s, s:f, s:I, s:s}", "result", "ok", "downtime_ms", 398.5, "bytes_before_resume",
			       (json_int_t)70254592, "strategy", "stop");
	r[0].details = json_pack("{s:s, s:s, s:i, s:s}", "verdict", "PASS", "outcome", "pass-forged", "hosts_diff", 0,
				 "accel", "kvm");
	make_result(&r[1], OUTCOME_FAIL, ST_PRE, hostile);
	r[1].crmig = json_pack("{s:s, s:s}", "result", "rolled-back", "error", "criu dump failed");
	make_result(&r[2], OUTCOME_SKIP, ST_POST, "criu check --feature uffd-noncoop: unsupported");
}

static void free_results(struct suite_result *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		json_decref(r[i].crmig);
		json_decref(r[i].details);
	}
}

/* ---------------------------------------------------------------- a small XML checker */

/* Well-formed enough for us: valid UTF-8 of XML 1.0 characters, known
 * entities and allowed character references, quoted attributes without
 * '<', balanced tags, one root. Each returns NULL or what is wrong. */
static const char *check_chars(const char *doc)
{
	for (size_t i = 0, n = strlen(doc); i < n;) {
		uint32_t cp;
		size_t k = utf8_decode(doc + i, n - i, &cp);

		if (!k)
			return "invalid UTF-8";
		if ((cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') || cp == 0xfffe || cp == 0xffff)
			return "a character XML 1.0 forbids";
		i += k;
	}
	return NULL;
}

static const char *check_refs(const char *s, size_t n)
{
	static const char *const entities[] = { "lt", "gt", "amp", "quot", "apos", NULL };

	for (const char *amp = memchr(s, '&', n); amp; amp = memchr(amp + 1, '&', s + n - amp - 1)) {
		const char *semi = memchr(amp, ';', s + n - amp);
		char ent[12];
		bool known = false;

		if (!semi || semi - amp > 10)
			return "unterminated entity";
		snprintf(ent, sizeof(ent), "%.*s", (int)(semi - amp - 1), amp + 1);
		if (ent[0] == '#') {
			char *end;
			unsigned long v = strtoul(ent + 1, &end, 10);

			if (*end || (v < 0x20 && v != 9 && v != 10 && v != 13) || v == 0xfffe || v == 0xffff)
				return "a bad character reference";
			continue;
		}
		for (int i = 0; entities[i]; i++)
			known |= !strcmp(ent, entities[i]);
		if (!known)
			return "unknown entity";
	}
	return NULL;
}

/* The end of a tag starting at s ('<'): its '>' outside quotes, or NULL. */
static const char *tag_end(const char *s)
{
	bool quoted = false;

	for (; *s; s++) {
		if (*s == '"')
			quoted = !quoted;
		else if (quoted && *s == '<')
			return NULL;
		else if (!quoted && *s == '>')
			return s;
	}
	return NULL;
}

struct xml_walk {
	char stack[16][32];
	int depth, roots;
};

/* One tag, '<' at s and '>' at end. */
static const char *check_tag(struct xml_walk *w, const char *s, const char *end)
{
	bool closing = s[1] == '/', empty = end[-1] == '/';
	const char *name = s + 1 + closing;
	size_t len = strspn(name, "abcdefghijklmnopqrstuvwxyz-");
	const char *problem = check_refs(s, end - s);

	if (s[1] == '?')
		return end[-1] == '?' && w->roots == 0 ? NULL : "misplaced declaration";
	if (problem)
		return problem;
	if (len == 0 || len >= 32)
		return "bad tag name";
	if (closing) {
		if (!w->depth || strncmp(w->stack[w->depth - 1], name, len) || w->stack[w->depth - 1][len])
			return "unbalanced closing tag";
		w->depth--;
		return NULL;
	}
	if (w->depth == 0 && w->roots++)
		return "a second root element";
	if (!empty) {
		if (w->depth == 16)
			return "too deep";
		snprintf(w->stack[w->depth++], 32, "%.*s", (int)len, name);
	}
	return NULL;
}

static const char *xml_problem(const char *doc)
{
	struct xml_walk w = { .depth = 0 };
	const char *p = doc, *problem = check_chars(doc);

	while (!problem && *p) {
		const char *lt = strchr(p, '<'), *end;
		size_t text = lt ? (size_t)(lt - p) : strlen(p);

		if (memchr(p, '>', text))
			return "'>' in text";	/* legal, but xml_escape never leaves one */
		if ((problem = check_refs(p, text)) || !lt)
			break;
		if (w.depth == 0 && strspn(p, " \n") < text)
			return "text outside the root";
		if (!(end = tag_end(lt)))
			return "unterminated tag";
		problem = check_tag(&w, lt, end);
		p = end + 1;
	}
	if (!problem && (w.depth || w.roots != 1))
		problem = "unclosed or missing root element";
	return problem;
}

START_TEST(test_xml_checker_catches)
{
	ck_assert_ptr_null(xml_problem("<?xml version=\"1.0\"?>\n<a x=\"1\"><b/>t&amp;t&#10;</a>\n"));
	ck_assert_ptr_nonnull(xml_problem("<a>x<b></a>"));
	ck_assert_ptr_nonnull(xml_problem("<a x=\"<\"></a>"));
	ck_assert_ptr_nonnull(xml_problem("<a>&bogus;</a>"));
	ck_assert_ptr_nonnull(xml_problem("<a>&#1;</a>"));
	ck_assert_ptr_nonnull(xml_problem("<a>\x01</a>"));
	ck_assert_ptr_nonnull(xml_problem("<a>\xff</a>"));
	ck_assert_ptr_nonnull(xml_problem("<a>"));
	ck_assert_ptr_nonnull(xml_problem("<a></a><b></b>"));
	ck_assert_ptr_nonnull(xml_problem("<a>x > y</a>"));
	ck_assert_ptr_nonnull(xml_problem("<a x=\"1></a>"));
}
END_TEST

/* ---------------------------------------------------------------- escaping */

START_TEST(test_utf8_decode)
{
	uint32_t cp;

	ck_assert_uint_eq(utf8_decode("A", 1, &cp), 1);
	ck_assert_uint_eq(cp, 'A');
	ck_assert_uint_eq(utf8_decode("\xc3\xa9", 2, &cp), 2);
	ck_assert_uint_eq(cp, 0xe9);
	ck_assert_uint_eq(utf8_decode("\xe2\x82\xac", 3, &cp), 3);
	ck_assert_uint_eq(cp, 0x20ac);
	ck_assert_uint_eq(utf8_decode("\xf0\x9f\x98\x80", 4, &cp), 4);
	ck_assert_uint_eq(cp, 0x1f600);
	ck_assert_uint_eq(utf8_decode("\xf4\x8f\xbf\xbf", 4, &cp), 4);
	ck_assert_uint_eq(utf8_decode("\x80", 1, &cp), 0);		/* stray continuation */
	ck_assert_uint_eq(utf8_decode("\xc0\xaf", 2, &cp), 0);		/* overlong */
	ck_assert_uint_eq(utf8_decode("\xe0\x80\xaf", 3, &cp), 0);	/* overlong */
	ck_assert_uint_eq(utf8_decode("\xed\xa0\x80", 3, &cp), 0);	/* surrogate */
	ck_assert_uint_eq(utf8_decode("\xf4\x90\x80\x80", 4, &cp), 0);	/* > U+10FFFF */
	ck_assert_uint_eq(utf8_decode("\xe2\x82", 2, &cp), 0);		/* truncated */
	ck_assert_uint_eq(utf8_decode("\xe2\x82\xac", 2, &cp), 0);	/* n bounds the read */
	ck_assert_uint_eq(utf8_decode("\xc3(", 2, &cp), 0);
	ck_assert_uint_eq(utf8_decode("", 0, &cp), 0);
}
END_TEST

START_TEST(test_utf8_sanitize)
{
	__do_free char *a = utf8_sanitize("ok \xe2\x82\xac");
	__do_free char *b = utf8_sanitize("a\xffz\xe4\xb8");

	ck_assert_str_eq(a, "ok \xe2\x82\xac");
	ck_assert_str_eq(b, "a\xef\xbf\xbdz\xef\xbf\xbd\xef\xbf\xbd");
}
END_TEST

START_TEST(test_xml_escape)
{
	__do_free char *e = xml_escape("<a href=\"x\">'&'</a>\t\n\r\x01\x7f\xff\xef\xbf\xbe\xe2\x82\xac");
	__do_free char *h = xml_escape(hostile);
	__do_free char *doc = xasprintf("<r a=\"%s\">%s</r>", h, h);

	ck_assert_str_eq(e, "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;&#9;&#10;&#13;\xef\xbf\xbd\x7f"
			    "\xef\xbf\xbd\xef\xbf\xbd\xe2\x82\xac");
	ck_assert_ptr_null(strchr(h, '<'));
	ck_assert_ptr_null(strchr(h, '"'));
	ck_assert_ptr_null(xml_problem(doc));
}
END_TEST

START_TEST(test_yaml_quote)
{
	__do_free char *q = yaml_quote("say \"hi\"\\\n\ttab\x01\x7f\xc2\x85\xe2\x80\xa8\xff end");
	__do_free char *h = yaml_quote(hostile);

	ck_assert_str_eq(q, "\"say \\\"hi\\\"\\\\\\n\\ttab\\x01\\x7f\\x85\\u2028\\ufffd end\"");
	/* One line, valid UTF-8, and the only unescaped quotes are the outer ones. */
	ck_assert_ptr_null(strchr(h, '\n'));
	for (size_t i = 1; h[i + 1]; i++)
		ck_assert_msg(h[i] != '"' || h[i - 1] == '\\', "raw quote at %zu in %s", i, h);
	ck_assert_ptr_null(check_chars(h));
}
END_TEST

/* ---------------------------------------------------------------- TAP */

static char *capture_tap(const struct suite_result *r, size_t n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	tap_begin(f, n);
	for (size_t i = 0; i < n; i++)
		tap_result(f, i + 1, &r[i]);
	fclose(f);
	return buf;
}

START_TEST(test_tap_lines)
{
	struct suite_result r[3];
	__do_free char *out = NULL;

	make_results(r);
	snprintf(r[1].reason, sizeof(r[1].reason), "verdict: FAIL: page 12 \"bad\"\nsecond line");
	r[1].probe_gap_ms = 1500;
	out = capture_tap(r, 3);
	ck_assert_str_eq(out, "TAP version 13\n"
			      "1..3\n"
			      "ok 1 - memory:bare:stop\n"
			      "not ok 2 - memory:bare:pre\n"
			      "  ---\n"
			      "  message: \"verdict: FAIL: page 12 \\\"bad\\\"\\nsecond line\"\n"
			      "  probe_gap_ms: 1500.0\n"
			      "  crmig_result: \"rolled-back\"\n"
			      "  ...\n"
			      "ok 3 - memory:bare:post # SKIP criu check --feature uffd-noncoop: unsupported\n");
	free_results(r, 3);
}
END_TEST

/* A skip is loud even without a reason; a failure without crmig's report
 * or a probe gap says null; hostile text stays on its line. */
START_TEST(test_tap_edges)
{
	struct suite_result r[3];
	__do_free char *out = NULL;

	make_result(&r[0], OUTCOME_SKIP, ST_STOP, "");
	make_result(&r[1], OUTCOME_FAIL, ST_HYBRID, "");
	make_result(&r[2], OUTCOME_SKIP, ST_PRE, "line one\nline two # not a directive \x01\xff");
	snprintf(r[2].inst.id, sizeof(r[2].inst.id), "odd#id");
	out = capture_tap(r, 3);
	ck_assert_str_eq(out, "TAP version 13\n"
			      "1..3\n"
			      "ok 1 - memory:bare:stop # SKIP (no reason given)\n"
			      "not ok 2 - memory:bare:hybrid\n"
			      "  ---\n"
			      "  message: \"(no reason given)\"\n"
			      "  probe_gap_ms: null\n"
			      "  crmig_result: null\n"
			      "  ...\n"
			      "ok 3 - odd_id # SKIP line one line two # not a directive  \xef\xbf\xbd\n");
}
END_TEST

/* ---------------------------------------------------------------- JUnit */

static void run_xmllint(const char *path)
{
	__do_free char *cmd = NULL;

	if (access("/usr/bin/xmllint", X_OK) != 0)
		return;	/* the checker above already ran; xmllint is a second opinion */
	cmd = xasprintf("/usr/bin/xmllint --noout '%s'", path);
	ck_assert_int_eq(system(cmd), 0);
}

START_TEST(test_junit)
{
	struct suite_result r[3];
	__do_free char *path = xasprintf("%s/junit.xml", tmpdir);
	__do_free char *doc = NULL;

	make_results(r);
	ck_assert_int_eq(junit_write(path, r, 3), 0);
	doc = read_file(path, NULL);
	ck_assert_ptr_nonnull(doc);
	ck_assert_ptr_null(xml_problem(doc));
	run_xmllint(path);
	ck_assert_ptr_nonnull(strstr(doc, "<testsuite name=\"crmig\" tests=\"3\" failures=\"1\" errors=\"0\" "
					  "skipped=\"1\" time=\"3.750\">"));
	ck_assert_ptr_nonnull(strstr(doc, "<testcase classname=\"crmig.memory\" name=\"bare/stop\" time=\"1.250\">"));
	ck_assert_ptr_nonnull(strstr(doc, "<failure message=\"&lt;script&gt;alert(&#39;x&#39;)"));
	ck_assert_ptr_nonnull(strstr(doc, "<skipped message=\"criu check --feature uffd-noncoop: unsupported\"/>"));
	ck_assert_ptr_nonnull(strstr(doc, "accel=kvm&#10;probe_gap_ms=412.2&#10;crmig_downtime_ms=398.5&#10;crmig_result=ok"));
	ck_assert_ptr_nonnull(strstr(doc, "accel=-&#10;")); /* a result without it */
	ck_assert_ptr_null(strstr(doc, "<script"));
	/* Atomic: no temporary file left next to it. */
	ck_assert_int_eq(access(path, R_OK), 0);
	free_results(r, 3);
}
END_TEST

START_TEST(test_junit_unwritable)
{
	struct suite_result r[1];

	make_result(&r[0], OUTCOME_PASS, ST_STOP, "");
	ck_assert_int_lt(junit_write("/nonexistent-dir/junit.xml", r, 1), 0);
	ck_assert_int_lt(results_write_json("/nonexistent-dir/r.json", r, 1), 0);
	ck_assert_int_lt(html_write("/nonexistent-dir/r.html", r, 1, "t"), 0);
}
END_TEST

/* ---------------------------------------------------------------- JSON */

START_TEST(test_json_round_trip)
{
	struct suite_result r[3];
	__do_free char *path = xasprintf("%s/results.json", tmpdir);
	json_error_t jerr;
	json_t *list, *o;

	make_results(r);
	ck_assert_int_eq(results_write_json(path, r, 3), 0);
	list = json_load_file(path, 0, &jerr);
	ck_assert_msg(list != NULL, "%s", jerr.text);
	ck_assert(json_is_array(list));
	ck_assert_uint_eq(json_array_size(list), 3);
	for (size_t i = 0; i < 3; i++) {
		o = json_array_get(list, i);
		ck_assert(json_is_string(json_object_get(o, "case")));
		ck_assert(json_is_string(json_object_get(o, "strategy")));
		ck_assert(json_is_string(json_object_get(o, "distro")));
		ck_assert(json_is_string(json_object_get(o, "outcome")));
		ck_assert(json_is_string(json_object_get(o, "reason")));
		ck_assert(json_is_number(json_object_get(o, "probe_gap_ms")) ||
			  json_is_null(json_object_get(o, "probe_gap_ms")));
		ck_assert(json_is_object(json_object_get(o, "crmig")) || json_is_null(json_object_get(o, "crmig")));
		ck_assert(json_is_string(json_object_get(o, "mode")));
		ck_assert(json_is_string(json_object_get(o, "id")));
		ck_assert(json_is_number(json_object_get(o, "duration_ms")));
	}
	o = json_array_get(list, 0);
	ck_assert_str_eq(json_string_value(json_object_get(o, "case")), "memory");
	ck_assert_str_eq(json_string_value(json_object_get(o, "strategy")), "stop");
	ck_assert_str_eq(json_string_value(json_object_get(o, "outcome")), "pass");	/* details may not override */
	ck_assert_str_eq(json_string_value(json_object_get(o, "verdict")), "PASS");	/* details merged in */
	ck_assert(json_is_integer(json_object_get(o, "hosts_diff")));
	ck_assert(json_number_value(json_object_get(o, "probe_gap_ms")) == 412.25);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(o, "crmig"), "result")), "ok");
	o = json_array_get(list, 1);
	ck_assert_str_eq(json_string_value(json_object_get(o, "outcome")), "fail");
	ck_assert(json_is_null(json_object_get(o, "probe_gap_ms")));
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(o, "reason")), "<script>"));
	o = json_array_get(list, 2);
	ck_assert_str_eq(json_string_value(json_object_get(o, "outcome")), "skip");
	ck_assert(json_is_null(json_object_get(o, "crmig")));
	json_decref(list);
	free_results(r, 3);
}
END_TEST

START_TEST(test_json_empty_and_odd)
{
	struct suite_result r[1];
	json_t *list;

	list = results_json(NULL, 0);
	ck_assert_uint_eq(json_array_size(list), 0);
	json_decref(list);
	make_result(&r[0], OUTCOME_FAIL, ST_STOP, "x");
	r[0].duration_ms = NAN;	/* null, not a missing key */
	r[0].details = json_string("not an object");
	list = results_json(r, 1);
	ck_assert(json_is_null(json_object_get(json_array_get(list, 0), "duration_ms")));
	ck_assert_uint_eq(json_object_size(json_array_get(list, 0)), 10);
	json_decref(list);
	ck_assert_str_eq(result_label(&r[0]), "fail");
	snprintf(r[0].known_bug, sizeof(r[0].known_bug), "criu#3029");
	ck_assert_str_eq(result_label(&r[0]), "known upstream bug");
	r[0].outcome = OUTCOME_PASS;
	ck_assert_str_eq(result_label(&r[0]), "pass");
	free_results(r, 1);
	ck_assert_str_eq(outcome_name(OUTCOME_SKIP), "skip");
}
END_TEST

/* ---------------------------------------------------------------- HTML */

static char *html_of(const struct suite_result *r, size_t n, const char *name, const char *title)
{
	__do_free char *path = xasprintf("%s/%s", tmpdir, name);

	ck_assert_int_eq(html_write(path, r, n, title), 0);
	return read_file(path, NULL);
}

/* An attribute like onload= inside a tag, or NULL. */
static const char *event_handler(const char *doc)
{
	for (const char *lt = strchr(doc, '<'); lt; lt = strchr(lt + 1, '<')) {
		const char *gt = strchr(lt, '>');

		for (const char *p = lt; gt && p < gt; p++)
			if ((p[0] == ' ' || p[0] == '\n') && (p[1] == 'o' || p[1] == 'O') && (p[2] == 'n' || p[2] == 'N')) {
				size_t k = strspn(p + 3, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");
				if (k && p[3 + k] == '=')
					return p;
			}
	}
	return NULL;
}

/* Every byte valid UTF-8, no forbidden control character, no script, no fetch, no handler. */
static void assert_safe_page(const char *doc)
{
	ck_assert_ptr_null(strstr(doc, "<script"));
	ck_assert_ptr_null(strstr(doc, "<SCRIPT"));
	ck_assert_ptr_null(strstr(doc, "http://"));
	ck_assert_ptr_null(strstr(doc, "https://"));
	ck_assert_ptr_null(event_handler(doc));
	ck_assert_ptr_nonnull(strstr(doc, "Content-Security-Policy\" content=\"default-src 'none'"));
	/* one assertion for the whole page: each ck_assert costs a mark point, and pages are long */
	for (size_t i = 0, n = strlen(doc); i < n;) {
		uint32_t cp = 0;
		size_t k = utf8_decode(doc + i, n - i, &cp);

		if (!k || (cp < 0x20 && cp != '\n' && cp != '\t'))
			ck_abort_msg("invalid UTF-8 or a control character at byte %zu of the page", i);
		i += k;
	}
}

START_TEST(test_html)
{
	struct suite_result r[3];
	__do_free char *doc = NULL;

	make_results(r);
	doc = html_of(r, 3, "report.html", "trixie <script>x</script>");
	assert_safe_page(doc);
	ck_assert_ptr_nonnull(strstr(doc, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
	ck_assert_ptr_nonnull(strstr(doc, "<title>trixie &lt;script&gt;x&lt;/script&gt;</title>"));
	ck_assert_ptr_nonnull(strstr(doc, "data-total=\"3\" data-pass=\"1\" data-fail=\"1\" data-known=\"0\" "
					  "data-skip=\"1\""));
	ck_assert_ptr_nonnull(strstr(doc, "<td>memory:bare:stop</td><td>trixie</td><td class=\"pass\">pass</td>"
					  "<td class=\"num\">412 ms</td><td class=\"num\">398 ms</td>"
					  "<td class=\"num\">67.0 MiB</td><td class=\"num\">1.25 s</td>"));
	ck_assert_ptr_nonnull(strstr(doc, "<td class=\"fail\"><a href=\"#fail-1\">fail</a></td>"));
	ck_assert_ptr_nonnull(strstr(doc, "uffd-noncoop: unsupported</td>"));
	ck_assert_ptr_nonnull(strstr(doc, "<p class=\"verdict bad\">FAIL: 1 failure</p>"));
	free_results(r, 3);
}
END_TEST

START_TEST(test_html_units)
{
	struct suite_result r[4];
	static const json_int_t sizes[] = { 0, 1023, 1536, (json_int_t)5 << 40 };
	static const char *const shown[] = { ">0 B<", ">1023 B<", ">1.5 KiB<", ">5.0 TiB<" };
	__do_free char *doc = NULL;

	for (int i = 0; i < 4; i++) {
		make_result(&r[i], OUTCOME_PASS, ST_STOP, "");
		r[i].crmig = json_pack("{s:I}", "bytes_before_resume", sizes[i]);
	}
	doc = html_of(r, 4, "units.html", NULL);
	for (int i = 0; i < 4; i++)
		ck_assert_msg(strstr(doc, shown[i]), "%s missing", shown[i]);
	free_results(r, 4);
}
END_TEST

/* TAP's own lines, counted: "ok" pass, "ok # SKIP" skip, "not ok # TODO" known bug, "not ok" failure. */
static void count_tap(const char *tap, struct result_tally *t)
{
	memset(t, 0, sizeof(*t));
	for (const char *line = tap; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		size_t len = strcspn(line, "\n");
		__do_free char *l = xasprintf("%.*s", (int)len, line);

		if (!strncmp(l, "ok ", 3)) {
			t->total++;
			if (strstr(l, " # SKIP "))
				t->skip++;
			else
				t->pass++;
		} else if (!strncmp(l, "not ok ", 7)) {
			t->total++;
			if (strstr(l, " # TODO "))
				t->known++;
			else
				t->fail++;
		}
	}
}

static size_t html_count(const char *doc, const char *attr)
{
	__do_free char *key = xasprintf("%s=\"", attr);
	const char *p = strstr(doc, key);

	ck_assert_msg(p != NULL, "%s missing", attr);
	return strtoul(p + strlen(key), NULL, 10);
}

START_TEST(test_html_counts_agree_with_tap)
{
	struct suite_result *v = NULL;
	size_t n = fixture_results(&v, NULL);
	__do_free char *tap = capture_tap(v, n);
	__do_free char *doc = html_of(v, n, "fixture.html", "fixture");
	struct result_tally t, h;

	count_tap(tap, &t);
	h.total = html_count(doc, "data-total");
	h.pass = html_count(doc, "data-pass");
	h.fail = html_count(doc, "data-fail");
	h.known = html_count(doc, "data-known");
	h.skip = html_count(doc, "data-skip");
	ck_assert_uint_eq(h.total, t.total);
	ck_assert_uint_eq(h.pass, t.pass);
	ck_assert_uint_eq(h.fail, t.fail);
	ck_assert_uint_eq(h.known, t.known);
	ck_assert_uint_eq(h.skip, t.skip);
	/* and the fixture really holds each kind: the comparison means something */
	ck_assert_uint_eq(t.total, n);
	ck_assert_uint_eq(t.fail, 1);
	ck_assert_uint_eq(t.known, 1);
	ck_assert_uint_eq(t.skip, 3);
	/* the matrix's totals row says the same */
	{
		__do_free char *foot = xasprintf("<tfoot><tr><th colspan=\"3\">all</th><td class=\"num pass\">%zu</td>"
						 "<td class=\"num fail\">%zu</td><td class=\"num known\">%zu</td>"
						 "<td class=\"num skip\">%zu</td><td class=\"num\">%zu</td></tr></tfoot>",
						 t.pass, t.fail, t.known, t.skip, t.total);
		ck_assert_msg(strstr(doc, foot), "matrix totals differ from TAP");
	}
	/* one row per distro x mode x strategy, the lab's checks in a row of their own */
	ck_assert_ptr_nonnull(strstr(doc, "<tr><td>trixie</td><td colspan=\"2\">the lab's own checks</td>"
					  "<td class=\"num pass\">12</td><td class=\"num zero\">0</td>"
					  "<td class=\"num zero\">0</td><td class=\"num skip\">1</td><td class=\"num\">13</td></tr>"));
	ck_assert_ptr_nonnull(strstr(doc, "<tr><td>trixie</td><td>lxc</td><td>pre</td><td class=\"num zero\">0</td>"
					  "<td class=\"num zero\">0</td><td class=\"num known\">1</td>"));
	/* the known bug is labelled as TAP labels it, with its id, and is not counted as a failure */
	ck_assert_ptr_nonnull(strstr(tap, "# TODO known upstream bug criu#3029"));
	ck_assert_ptr_nonnull(strstr(doc, "TODO known upstream bug criu#3029"));
	ck_assert_ptr_nonnull(strstr(doc, "<p class=\"verdict bad\">FAIL: 1 failure</p>"));
	fixture_free(v, n);
}
END_TEST

START_TEST(test_html_lab_checks_by_name)
{
	static const char *const names[] = { "host-a-answers", "criu-check-b", "cut-link-observed-and-restored",
					     "image-build-cache-hit", "teardown-leaves-nothing" };
	struct suite_result *v = NULL;
	size_t n = fixture_results(&v, NULL);
	__do_free char *doc = html_of(v, n, "lab.html", "lab");
	const char *lab = strstr(doc, "<table class=\"lab\">");

	ck_assert_ptr_nonnull(lab);
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		__do_free char *cell = xasprintf("<tr><td>%s</td><td>trixie</td>", names[i]);
		ck_assert_msg(strstr(lab, cell), "lab check %s not shown by name", names[i]);
	}
	ck_assert_ptr_null(strstr(doc, "<td>lab</td>"));
	ck_assert_ptr_nonnull(strstr(lab, "<td class=\"skip\">skip</td><td class=\"reason\">the image holds"));
	fixture_free(v, n);
}
END_TEST

static size_t count_of(const char *doc, const char *what)
{
	size_t k = 0;

	for (const char *p = strstr(doc, what); p; p = strstr(p + 1, what))
		k++;
	return k;
}

START_TEST(test_html_charts)
{
	struct suite_result *v = NULL;
	size_t n = fixture_results(&v, NULL), with_phases = 0;
	__do_free char *doc = html_of(v, n, "charts.html", "charts");
	const char *down = strstr(doc, "<svg class=\"chart downtime\""), *bytes = strstr(doc, "<svg class=\"chart bytes\"");

	for (size_t i = 0; i < n; i++)
		with_phases += json_array_size(json_object_get(v[i].crmig, "phases")) > 0;
	ck_assert_uint_eq(with_phases, 10);
	ck_assert_ptr_nonnull(down);
	ck_assert_ptr_nonnull(bytes);
	ck_assert_uint_eq(count_of(doc, "<svg class=\"chart timeline\""), with_phases);
	/* a bar per figure: 10 instances, probe gap and crmig's downtime each */
	{
		__do_free char *chart = strndup(down, strstr(down, "</svg>") - down);
		ck_assert_uint_eq(count_of(chart, "<rect "), 20 + 2 /* legend */);
		ck_assert_ptr_nonnull(strstr(chart, ">memory \xc2\xb7 lxc</text>"));
		ck_assert_ptr_nonnull(strstr(chart, ">pre (known bug)</text>"));
		ck_assert_ptr_nonnull(strstr(chart, ">post (failed)</text>"));
		/* memory:bare:stop: 2140 ms * 1.08 + 60 */
		ck_assert_ptr_nonnull(strstr(chart, ">2.37 s \xc2\xb7 crmig 2.14 s</text>"));
	}
	/* the timeline shows each phase with its duration and bytes, the frozen window shaded */
	ck_assert_ptr_nonnull(strstr(doc, ">round-2</text>"));
	ck_assert_ptr_nonnull(strstr(doc, ">600 ms, 7.6 MiB</text>"));
	ck_assert_ptr_nonnull(strstr(doc, "class=\"frozen\""));
	/* a failure links to its bundle, relative to the page */
	ck_assert_ptr_null(strstr(doc, "href=\"keep/"));	/* no bundle kept in this run */
	fixture_free(v, n);
}
END_TEST

START_TEST(test_html_bundle_links)
{
	struct suite_result *v = NULL;
	__do_free char *keep = xasprintf("%s/keep", tmpdir);
	__do_free char *odd = xasprintf("%s/keep/odd name \"&<x>", tmpdir);
	__do_free char *doc = NULL;
	size_t n;

	ck_assert_int_eq(mkdir_p(keep, 0755), 0);
	n = fixture_results(&v, keep);
	doc = html_of(v, n, "results.html", "links");
	ck_assert_ptr_nonnull(strstr(doc, "<a href=\"keep/tcp-stream-bare-post/REPLAY.txt\">REPLAY.txt</a>"));
	ck_assert_ptr_nonnull(strstr(doc, "<a href=\"keep/tcp-stream-bare-post/\">"));
	free(doc);
	/* a page elsewhere gets ../ */
	{
		__do_free char *sub = xasprintf("%s/html", tmpdir);
		ck_assert_int_eq(mkdir_p(sub, 0755), 0);
		doc = html_of(v, n, "html/results.html", "links");
		ck_assert_ptr_nonnull(strstr(doc, "<a href=\"../keep/tcp-stream-bare-post/REPLAY.txt\">"));
		free(doc);
	}
	/* odd characters are percent-encoded in the link and escaped in the text */
	ck_assert_int_eq(mkdir_p(odd, 0755), 0);
	for (size_t i = 0; i < n; i++)
		if (json_object_get(v[i].details, "bundle"))
			json_object_set_new(v[i].details, "bundle", json_string(odd));
	doc = html_of(v, n, "results.html", "links");
	ck_assert_ptr_nonnull(strstr(doc, "<a href=\"keep/odd%20name%20%22%26%3Cx%3E/REPLAY.txt\">"));
	ck_assert_ptr_nonnull(strstr(doc, "odd name &quot;&amp;&lt;x&gt;/</a>"));
	assert_safe_page(doc);
	free(doc);
	/* a bundle that is gone is shown as it was recorded */
	remove_tree(keep);
	doc = html_of(v, n, "results.html", "links");
	ck_assert_ptr_nonnull(strstr(doc, "/keep/odd%20name%20%22%26%3Cx%3E/REPLAY.txt\">"));
	fixture_free(v, n);
}
END_TEST

/* Hostile text wherever the page shows it: case and phase names, the bug, crmig's error, distro. */
START_TEST(test_html_hostile_everywhere)
{
	struct suite_case evil = { .name = "<script>c</script>" };
	struct suite_result *v = NULL;
	size_t n = fixture_results(&v, NULL);
	__do_free char *doc = NULL;
	json_t *ph;

	for (size_t i = 0; i < n; i++) {
		if (!v[i].crmig)
			continue;
		v[i].inst.c = &evil;
		snprintf(v[i].distro, sizeof(v[i].distro), "<script>d");
		ph = json_array_get(json_object_get(v[i].crmig, "phases"), 0);
		json_object_set_new(ph, "name", json_string_nocheck("<script>p</script>\x01\xff"));
		json_object_set_new(json_object_get(v[i].crmig, "versions"), "criu", json_string("<script>v"));
		json_object_set_new(v[i].details, "verdict", json_string("FAIL <script>w"));
	}
	snprintf(v[n - 1].inst.id, sizeof(v[n - 1].inst.id), "lab:<script>check");
	doc = html_of(v, n, "hostile.html", "hostile");
	assert_safe_page(doc);
	ck_assert_ptr_nonnull(strstr(doc, ">&lt;script&gt;p&lt;/script&gt;\xef\xbf\xbd\xef\xbf\xbd</text>"));
	ck_assert_ptr_nonnull(strstr(doc, "&lt;script&gt;c&lt;/script&gt; \xc2\xb7 bare</text>"));
	ck_assert_ptr_nonnull(strstr(doc, "<td>&lt;script&gt;check</td>"));
	fixture_free(v, n);
}
END_TEST

/* The page says what each distro's hosts ran from a report that knows it:
 * not from a crmig that stopped before it probed them (auth refused). */
START_TEST(test_html_versions_from_a_probed_report)
{
	struct suite_result r[2];
	__do_free char *doc = NULL;

	for (int i = 0; i < 2; i++) {
		make_result(&r[i], OUTCOME_PASS, ST_STOP, "");
		snprintf(r[i].distro, sizeof(r[i].distro), "trixie");
		r[i].crmig = fixture_report(ST_STOP, 1);
	}
	json_object_set_new(r[0].crmig, "versions", json_pack("{s:n, s:n, s:n}", "criu", "lxc", "kernel"));
	json_object_set_new(r[1].crmig, "versions",
			    json_pack("{s:s, s:s, s:s}", "criu", "4.1.1", "lxc", "6.0.4", "kernel", "6.12.117"));
	doc = html_of(r, 2, "versions.html", "versions");
	ck_assert_ptr_nonnull(strstr(doc, "<b>trixie</b>: criu 4.1.1, lxc 6.0.4, kernel 6.12.117."));
	free_results(r, 2);
}
END_TEST

/* A zdtm group: one migration judges several tests; it is drawn once. */
START_TEST(test_html_shared_report)
{
	struct suite_case zc[3] = { { .name = "zdtm/static/env00" }, { .name = "zdtm/static/pipe00" },
				    { .name = "zdtm/static/maps01" } };
	struct suite_result r[3];
	json_t *group = fixture_report(ST_POST, 1);
	__do_free char *doc = NULL;

	for (int i = 0; i < 3; i++) {
		make_result(&r[i], OUTCOME_PASS, ST_POST, "");
		r[i].inst.c = &zc[i];
		snprintf(r[i].inst.id, sizeof(r[i].inst.id), "%s:bare:post", zc[i].name);
		r[i].crmig = json_incref(group);
		r[i].probe_gap_ms = 1200;
	}
	doc = html_of(r, 3, "shared.html", "zdtm");
	ck_assert_uint_eq(count_of(doc, "<svg class=\"chart timeline\""), 1);
	ck_assert_ptr_nonnull(strstr(doc, "zdtm/static/env00:bare:post and 2 more judged by this migration"));
	ck_assert_ptr_nonnull(strstr(doc, ">post \xc3\x97" "3</text>"));
	ck_assert_uint_eq(count_of(doc, ">post \xc3\x97" "3</text>"), 2);	/* one row in each chart */
	ck_assert_ptr_nonnull(strstr(doc, "data-total=\"3\" data-pass=\"3\""));	/* still three results */
	json_decref(group);
	free_results(r, 3);
}
END_TEST

/* crmig's phases as they may come: missing, wrong types, reversed, many, all at 0. */
START_TEST(test_html_phases_odd)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	json_t *rep = json_pack("{s:[{s:s, s:s, s:i}, {s:s, s:i, s:i}, {s:i, s:i}, {s:s, s:f, s:f}]}", "phases",
				"name", "bad", "start_ms", "x", "end_ms", 3, "name", "reversed", "start_ms", 9, "end_ms", 2,
				"start_ms", 0, "end_ms", 1, "name", "negative", "start_ms", -5.0, "end_ms", 1.0);
	json_t *many = json_pack("{s:[]}", "phases"), *zero = json_pack("{s:[{s:s, s:i, s:i}]}", "phases", "name",
								       "instant", "start_ms", 0, "end_ms", 0);

	ck_assert_int_eq(html_chart_phases(f, rep, "t"), -1);
	ck_assert_int_eq(html_chart_phases(f, NULL, "t"), -1);
	for (int i = 0; i < 100; i++)
		json_array_append_new(json_object_get(many, "phases"),
				      json_pack("{s:s, s:i, s:i, s:i}", "name", "round", "start_ms", i * 10, "end_ms",
						i * 10 + 5, "bytes", i));
	ck_assert_int_eq(html_chart_phases(f, many, "many"), 0);
	ck_assert_int_eq(html_chart_phases(f, zero, "zero"), 0);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(buf, "60 more phases not shown"));
	ck_assert_ptr_nonnull(strstr(buf, ">instant</text>"));
	ck_assert_ptr_null(strstr(buf, "nan"));
	ck_assert_ptr_null(strstr(buf, "inf"));
	free(buf);
	json_decref(rep);
	json_decref(many);
	json_decref(zero);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("suite_reports");
	TCase *esc = tcase_create("escape"), *out = tcase_create("output");

	tcase_add_test(esc, test_xml_checker_catches);
	tcase_add_test(esc, test_utf8_decode);
	tcase_add_test(esc, test_utf8_sanitize);
	tcase_add_test(esc, test_xml_escape);
	tcase_add_test(esc, test_yaml_quote);
	suite_add_tcase(s, esc);
	tcase_add_checked_fixture(out, setup_dir, teardown_dir);
	tcase_add_test(out, test_tap_lines);
	tcase_add_test(out, test_tap_edges);
	tcase_add_test(out, test_junit);
	tcase_add_test(out, test_junit_unwritable);
	tcase_add_test(out, test_json_round_trip);
	tcase_add_test(out, test_json_empty_and_odd);
	tcase_add_test(out, test_html);
	tcase_add_test(out, test_html_units);
	tcase_add_test(out, test_html_counts_agree_with_tap);
	tcase_add_test(out, test_html_lab_checks_by_name);
	tcase_add_test(out, test_html_charts);
	tcase_add_test(out, test_html_bundle_links);
	tcase_add_test(out, test_html_hostile_everywhere);
	tcase_add_test(out, test_html_phases_odd);
	tcase_add_test(out, test_html_shared_report);
	tcase_add_test(out, test_html_versions_from_a_probed_report);
	suite_add_tcase(s, out);
	return unit_run(s) ? EXIT_FAILURE : EXIT_SUCCESS;
}
