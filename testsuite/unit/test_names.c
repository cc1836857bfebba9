/* The one rule for names from outside (util.c safe_name, safe_abs_path), the
 * NUL a JSON string can hide (proto.c json_str), and the destination's step
 * function (serve_step.c): what a frame asks for, refused or let through. */
#include <check.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "migrate.h"
#include "proto.h"
#include "serve_step.h"
#include "util.h"
#include "unit.h"

START_TEST(test_safe_name)
{
	char longest[NAME_MAX + 2];

	ck_assert(safe_name("round-1", 32));
	ck_assert(safe_name("web1.example_2", 63));
	ck_assert(safe_name("a..b", 32)); /* one component: harmless */
	ck_assert(!safe_name(NULL, 32));
	ck_assert(!safe_name("", 32));
	ck_assert(!safe_name(".", 32));
	ck_assert(!safe_name("..", 32));
	ck_assert(!safe_name(".hidden", 32));
	ck_assert(!safe_name("a/b", 32));
	ck_assert(!safe_name("/etc", 32));
	ck_assert(!safe_name("a\nb", 32));
	ck_assert(!safe_name("a b", 32));
	ck_assert(!safe_name("caf\xc3\xa9", 32));
	ck_assert(!safe_name("abcd", 3));
	ck_assert(safe_name("abc", 3));
	memset(longest, 'a', sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = '\0';
	ck_assert(!safe_name(longest, (size_t)-1)); /* NAME_MAX + 1: over the cap whatever max says */
	longest[NAME_MAX] = '\0';
	ck_assert(safe_name(longest, (size_t)-1));
}
END_TEST

START_TEST(test_safe_abs_path)
{
	__do_free char *huge = xmalloc(PATH_MAX + 1);

	ck_assert(safe_abs_path("/var/lib/lxc"));
	ck_assert(safe_abs_path("/"));
	ck_assert(safe_abs_path("/srv/a..b/"));
	ck_assert(!safe_abs_path(NULL));
	ck_assert(!safe_abs_path(""));
	ck_assert(!safe_abs_path("var/lib/lxc"));
	ck_assert(!safe_abs_path("/var/lib/../../etc"));
	ck_assert(!safe_abs_path("/var/.."));
	ck_assert(!safe_abs_path("/var/./lib"));
	ck_assert(!safe_abs_path("/var/lib\n/x"));
	memset(huge, 'a', PATH_MAX);
	huge[0] = '/';
	huge[PATH_MAX] = '\0';
	ck_assert(!safe_abs_path(huge));
}
END_TEST

START_TEST(test_json_str_nul)
{
	json_t *o = json_loads("{\"a\": \"round-1\", \"b\": \"x\\u0000/../y\", \"c\": 3}", JSON_ALLOW_NUL, NULL);

	ck_assert_ptr_nonnull(o);
	ck_assert_str_eq(json_str(o, "a"), "round-1");
	ck_assert_ptr_null(json_str(o, "b")); /* would have read as "x" */
	ck_assert_ptr_null(json_str(o, "c"));
	ck_assert_ptr_null(json_str(o, "missing"));
	json_decref(o);
}
END_TEST

/* serve_step on one JSON request (or a frame of another type). */
static enum serve_verdict step(bool prepared, uint16_t type, const char *text, struct serve_step *st)
{
	serve_step(prepared, type, text, text ? (uint32_t)strlen(text) : 0, st);
	json_decref(st->req);
	st->req = NULL;
	return st->verdict;
}

START_TEST(test_serve_step_frames)
{
	struct serve_step st;

	ck_assert_int_eq(step(false, MSG_BYE, NULL, &st), SERVE_BYE);
	ck_assert_int_eq(step(true, MSG_OK, "{\"op\": \"logs\"}", &st), SERVE_PROTOCOL_ERROR);
	ck_assert_int_eq(step(true, MSG_REQUEST, "not json", &st), SERVE_PROTOCOL_ERROR);
	ck_assert_int_eq(step(true, MSG_REQUEST, "{\"op\": 3}", &st), SERVE_PROTOCOL_ERROR);
	ck_assert_int_eq(step(true, MSG_REQUEST, "{\"op\": \"logs\", \"op\": \"abort\"}", &st), SERVE_PROTOCOL_ERROR);
	ck_assert_int_eq(step(true, MSG_REQUEST, "{\"op\": \"nope\"}", &st), SERVE_REFUSE);
	ck_assert_str_eq(st.why, "unknown request 'nope'");
	ck_assert_int_eq(step(false, MSG_REQUEST, "{\"op\": \"logs\"}", &st), SERVE_REFUSE);
	ck_assert_str_eq(st.why, "logs before prepare");
	ck_assert_int_eq(step(true, MSG_REQUEST, "{\"op\": \"logs\"}", &st), SERVE_RUN);
	ck_assert_int_eq(st.op, SOP_LOGS);
	ck_assert_str_eq(serve_op_name(st.op), "logs");
}
END_TEST

START_TEST(test_serve_step_prepare)
{
	struct serve_step st;

	ck_assert_int_eq(step(false, MSG_REQUEST,
			      "{\"op\": \"prepare\", \"id\": \"0a1b\", \"workload\": {\"kind\": \"pid\", \"tids\": [4242]}}", &st),
			 SERVE_RUN);
	ck_assert_int_eq(st.op, SOP_PREPARE);
	ck_assert_int_eq(step(true, MSG_REQUEST,
			      "{\"op\": \"prepare\", \"id\": \"0a1b\", \"workload\": {\"kind\": \"pid\"}}", &st),
			 SERVE_REFUSE);
	ck_assert_str_eq(st.why, "already prepared");
	ck_assert_int_eq(step(false, MSG_REQUEST, "{\"op\": \"prepare\", \"id\": \"../x\", \"workload\": {\"kind\": \"pid\"}}", &st),
			 SERVE_REFUSE);
	ck_assert_int_eq(step(false, MSG_REQUEST, "{\"op\": \"prepare\", \"id\": \"\", \"workload\": {\"kind\": \"pid\"}}", &st),
			 SERVE_REFUSE);
	ck_assert_int_eq(step(false, MSG_REQUEST,
			      "{\"op\": \"prepare\", \"id\": \"ab\", \"workload\": {\"kind\": \"pid\", \"tids\": [1]}}", &st),
			 SERVE_REFUSE);
	ck_assert_str_eq(st.why, "bad pid 1 in the request");
	ck_assert_int_eq(step(false, MSG_REQUEST, "{\"op\": \"prepare\", \"id\": \"ab\", \"workload\": {\"kind\": \"vm\"}}", &st),
			 SERVE_REFUSE);
	ck_assert_str_eq(st.why, "unknown workload kind");
	ck_assert_int_eq(step(false, MSG_REQUEST,
			      "{\"op\": \"prepare\", \"id\": \"ab\", \"workload\": {\"kind\": \"lxc\", \"name\": \"web1\", "
			      "\"lxcpath\": \"/var/lib/lxc\"}}", &st),
			 SERVE_RUN);
	ck_assert_int_eq(step(false, MSG_REQUEST,
			      "{\"op\": \"prepare\", \"id\": \"ab\", \"workload\": {\"kind\": \"lxc\", \"name\": \"../web1\", "
			      "\"lxcpath\": \"/var/lib/lxc\"}}", &st),
			 SERVE_REFUSE);
	ck_assert_str_eq(st.why, "bad container in the request");
	ck_assert_int_eq(step(false, MSG_REQUEST,
			      "{\"op\": \"prepare\", \"id\": \"ab\", \"workload\": {\"kind\": \"lxc\", \"name\": \"web1\", "
			      "\"lxcpath\": \"/var/lib/lxc/../../etc\"}}", &st),
			 SERVE_REFUSE);
}
END_TEST

/* A workload kind is one row with both halves: what the destination needs
 * of every kind is there, and a request names a kind only by its row. */
START_TEST(test_kind_table)
{
	char why[256];
	size_t n = 0;

	for (const struct workload_ops *const *k = workloads_all; *k; k++, n++) {
		ck_assert_ptr_eq(workload_by_kind((*k)->kind), *k);
		ck_assert_msg((*k)->preflight && (*k)->describe && (*k)->dump_start && (*k)->dump_done, "%s", (*k)->kind);
		ck_assert_msg((*k)->dest_check && (*k)->dest_prepare && (*k)->dest_restore && (*k)->dest_root &&
				      (*k)->dest_end && (*k)->dest_name,
			      "%s lacks part of its destination half", (*k)->kind);
	}
	ck_assert_uint_eq(n, 2);
	ck_assert_ptr_null(workload_by_kind(NULL));
	ck_assert_ptr_null(workload_by_kind("vm"));
	ck_assert_ptr_null(workload_by_kind("PID"));
	{
		json_auto_t *ok = json_pack("{s:s, s:[i, i]}", "kind", "pid", "tids", 4242, 4243);
		json_auto_t *bad = json_pack("{s:s, s:[i]}", "kind", "pid", "tids", 0);
		json_auto_t *ct = json_pack("{s:s, s:s, s:s}", "kind", "lxc", "name", "web1", "lxcpath", "/var/lib/lxc");
		json_auto_t *ct_bad = json_pack("{s:s, s:s, s:s}", "kind", "lxc", "name", "web1", "lxcpath", "lxc");

		ck_assert_int_eq(workload_pid.dest_check(ok, why, sizeof(why)), 0);
		ck_assert_int_eq(workload_pid.dest_check(bad, why, sizeof(why)), -1);
		ck_assert_str_eq(why, "bad pid 0 in the request");
		ck_assert_int_eq(workload_lxc.dest_check(ct, why, sizeof(why)), 0);
		ck_assert_int_eq(workload_lxc.dest_check(ct_bad, why, sizeof(why)), -1);
		ck_assert_str_eq(why, "bad container in the request");
		ck_assert_str_eq(workload_pid.dest_name(ok), "a process tree");
		ck_assert_str_eq(workload_lxc.dest_name(ct), "web1");
	}
}
END_TEST

/* The files a page server writes, which no image transfer may replace. */
START_TEST(test_page_server_files)
{
	ck_assert(serve_page_server_file("pagemap-1234.img"));
	ck_assert(serve_page_server_file("pages-1.img"));
	ck_assert(serve_page_server_file("pagemap-shmem-7.img"));
	ck_assert(!serve_page_server_file("inventory.img"));
	ck_assert(!serve_page_server_file("core-1234.img"));
	ck_assert(!serve_page_server_file("mm-1234.img"));
	ck_assert(!serve_page_server_file("pagesX.img"));
	ck_assert(!serve_page_server_file(""));
	ck_assert(!serve_page_server_file(NULL));
}
END_TEST

START_TEST(test_serve_step_names)
{
	struct serve_step st;

	ck_assert_int_eq(step(true, MSG_REQUEST, "{\"op\": \"page-server\", \"dir\": \"round-2\", \"prev\": \"round-1\"}", &st),
			 SERVE_RUN);
	ck_assert_int_eq(step(true, MSG_REQUEST, "{\"op\": \"page-server\", \"dir\": \"round-2\", \"prev\": \"../x\"}", &st),
			 SERVE_REFUSE);
	ck_assert_str_eq(st.why, "bad page-server request");
	ck_assert_int_eq(step(true, MSG_REQUEST, "{\"op\": \"page-server\", \"dir\": \"round-2\", \"prev\": 7}", &st),
			 SERVE_REFUSE);
	ck_assert_int_eq(step(true, MSG_REQUEST, "{\"op\": \"lazy-channel\", \"dir\": \"..\"}", &st), SERVE_REFUSE);
	/* jansson refuses \u0000 unless asked (JSON_ALLOW_NUL): not even a request */
	ck_assert_int_eq(step(true, MSG_REQUEST, "{\"op\": \"fetch-maps\", \"dir\": \"round-1\\u0000/../..\"}", &st),
			 SERVE_PROTOCOL_ERROR);
	ck_assert_int_eq(step(true, MSG_REQUEST, "{\"op\": \"fetch-maps\", \"dir\": \"round-1\"}", &st), SERVE_RUN);
	/* files follow these: a refusal ends the session */
	ck_assert_int_eq(step(true, MSG_REQUEST, "{\"op\": \"images\", \"dir\": \"/tmp\", \"count\": 1}", &st),
			 SERVE_REFUSE_END);
	ck_assert_int_eq(step(true, MSG_REQUEST, "{\"op\": \"images\", \"dir\": \"final\", \"count\": 100001}", &st),
			 SERVE_REFUSE_END);
	ck_assert_int_eq(step(true, MSG_REQUEST, "{\"op\": \"images\", \"dir\": \"final\", \"count\": 3}", &st), SERVE_RUN);
	ck_assert_int_eq(step(true, MSG_REQUEST, "{\"op\": \"sync\", \"root\": \"var/lib\", \"count\": 3}", &st),
			 SERVE_REFUSE_END);
	ck_assert_str_eq(st.why, "refusing to mirror files beneath var/lib");
	ck_assert_int_eq(step(true, MSG_REQUEST, "{\"op\": \"sync\", \"root\": \"/var/lib/lxc\", \"count\": -1}", &st),
			 SERVE_REFUSE_END);
	ck_assert_int_eq(step(true, MSG_REQUEST, "{\"op\": \"sync\", \"root\": \"/var/lib/lxc\", \"count\": 0}", &st), SERVE_RUN);
	ck_assert_int_eq(step(true, MSG_REQUEST,
			      "{\"op\": \"restore\", \"dir\": \"final\", \"workload\": {}, \"ips\": [{\"addr\": \"10.0.0.5\", \"prefix\": 24}]}", &st),
			 SERVE_RUN);
	ck_assert_int_eq(step(true, MSG_REQUEST,
			      "{\"op\": \"restore\", \"dir\": \"final\", \"workload\": {}, \"ips\": [{\"addr\": \"10.0.0.5; reboot\"}]}", &st),
			 SERVE_REFUSE);
	ck_assert_str_eq(st.why, "bad restore request");
	ck_assert_int_eq(step(true, MSG_REQUEST, "{\"op\": \"restore\", \"dir\": \"final\"}", &st), SERVE_REFUSE);
	/* the lazy-pages daemon's -v: 0 to 4, an integer */
	ck_assert_int_eq(step(true, MSG_REQUEST,
			      "{\"op\": \"restore\", \"dir\": \"final\", \"workload\": {}, \"lazy_verbosity\": 4}", &st),
			 SERVE_RUN);
	ck_assert_int_eq(step(true, MSG_REQUEST,
			      "{\"op\": \"restore\", \"dir\": \"final\", \"workload\": {}, \"lazy_verbosity\": 5}", &st),
			 SERVE_REFUSE);
	ck_assert_int_eq(step(true, MSG_REQUEST,
			      "{\"op\": \"restore\", \"dir\": \"final\", \"workload\": {}, \"lazy_verbosity\": \"4; x\"}", &st),
			 SERVE_REFUSE);
	ck_assert_int_eq(step(true, MSG_REQUEST,
			      "{\"op\": \"restore\", \"dir\": \"final\", \"workload\": {}, \"lazy_verbosity\": -1}", &st),
			 SERVE_REFUSE);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("names");
	TCase *tc = tcase_create("names"), *step_tc = tcase_create("serve_step");

	tcase_add_test(tc, test_safe_name);
	tcase_add_test(tc, test_safe_abs_path);
	tcase_add_test(tc, test_json_str_nul);
	suite_add_tcase(s, tc);
	tcase_add_test(step_tc, test_serve_step_frames);
	tcase_add_test(step_tc, test_serve_step_prepare);
	tcase_add_test(step_tc, test_serve_step_names);
	tcase_add_test(step_tc, test_kind_table);
	tcase_add_test(step_tc, test_page_server_files);
	suite_add_tcase(s, step_tc);
	return unit_run(s) ? EXIT_FAILURE : EXIT_SUCCESS;
}
