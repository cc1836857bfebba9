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

#include "../runner/suite.h"
#include "util.h"

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
	r[0].details = json_pack("{s:s, s:s, s:i}", "verdict", "PASS", "outcome", "pass-forged", "hosts_diff", 0);
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
	ck_assert_ptr_nonnull(strstr(doc, "probe_gap_ms=412.2&#10;crmig_downtime_ms=398.5&#10;crmig_result=ok"));
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

START_TEST(test_html)
{
	struct suite_result r[3];
	__do_free char *path = xasprintf("%s/report.html", tmpdir);
	__do_free char *doc = NULL;

	make_results(r);
	ck_assert_int_eq(html_write(path, r, 3, "trixie <script>x</script>"), 0);
	doc = read_file(path, NULL);
	ck_assert_ptr_nonnull(doc);
	ck_assert_ptr_null(strstr(doc, "<script"));
	ck_assert_ptr_null(strstr(doc, "<SCRIPT"));
	ck_assert_ptr_nonnull(strstr(doc, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
	ck_assert_ptr_nonnull(strstr(doc, "<title>trixie &lt;script&gt;x&lt;/script&gt;</title>"));
	ck_assert_ptr_nonnull(strstr(doc, "3 instances: <span class=\"pass\">1 passed</span>, <span class=\"fail\">1 "
					  "failed</span>, <span class=\"skip\">1 skipped</span>"));
	ck_assert_ptr_nonnull(strstr(doc, "<td class=\"pass\">pass</td><td class=\"num\">412.2</td>"
					  "<td class=\"num\">398.5</td><td class=\"num\">67.0 MiB</td>"));
	ck_assert_ptr_nonnull(strstr(doc, "<td class=\"fail\">fail</td>"));
	ck_assert_ptr_nonnull(strstr(doc, "uffd-noncoop: unsupported</td>"));
	ck_assert_ptr_null(strstr(doc, "http://"));
	ck_assert_ptr_null(strstr(doc, "https://"));
	ck_assert_ptr_nonnull(strstr(doc, "Content-Security-Policy"));
	/* Every byte is valid UTF-8 and no forbidden control character slipped through. */
	for (size_t i = 0, n = strlen(doc); i < n;) {
		uint32_t cp;
		size_t k = utf8_decode(doc + i, n - i, &cp);

		ck_assert_uint_gt(k, 0);
		ck_assert(cp >= 0x20 || cp == '\n' || cp == '\t');
		i += k;
	}
	free_results(r, 3);
}
END_TEST

START_TEST(test_html_units)
{
	struct suite_result r[4];
	static const json_int_t sizes[] = { 0, 1023, 1536, (json_int_t)5 << 40 };
	static const char *const shown[] = { ">0 B<", ">1023 B<", ">1.5 KiB<", ">5.0 TiB<" };
	__do_free char *path = xasprintf("%s/units.html", tmpdir);
	__do_free char *doc = NULL;

	for (int i = 0; i < 4; i++) {
		make_result(&r[i], OUTCOME_PASS, ST_STOP, "");
		r[i].crmig = json_pack("{s:I}", "bytes_before_resume", sizes[i]);
	}
	ck_assert_int_eq(html_write(path, r, 4, NULL), 0);
	doc = read_file(path, NULL);
	for (int i = 0; i < 4; i++)
		ck_assert_msg(strstr(doc, shown[i]), "%s missing", shown[i]);
	free_results(r, 4);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("suite_reports");
	TCase *esc = tcase_create("escape"), *out = tcase_create("output");
	SRunner *sr;
	int failed;

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
	suite_add_tcase(s, out);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
