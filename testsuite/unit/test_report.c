/* The report: contract keys and their types after a round trip through a
 * file, error only when not ok, rounding, the human summary, and the
 * awkward inputs (unfinished phases, huge counters, non-UTF-8 argv). */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "report.h"
#include "util.h"
#include "unit.h"

static char tmpdir[] = "/tmp/crmig-test-report-XXXXXX";

static void setup_dir(void)
{
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown_dir(void)
{
	remove_tree(tmpdir);
	strcpy(tmpdir, "/tmp/crmig-test-report-XXXXXX");
}

/* A report as a pre-copy migration would leave it. */
static void build_sample(struct report *r)
{
	char *dump1[] = { "criu", "pre-dump", "-t", "1234", "--track-mem", NULL };
	char *restore[] = { "criu", "restore", "-D", "/var/lib/crmig/img", NULL };
	struct round_stat rs = { .round = 1, .pages_scanned = 51200, .pages_written = 51200,
				 .bytes = 210000000, .ms = 5123.44, .frozen_us = 2500 };
	size_t idx;

	report_init(r, "pre");
	r->workload = xstrdup("lxc:web1");
	r->source = xstrdup("10.77.0.11");
	r->destination = xstrdup("10.77.0.12");
	r->stop_reason = xstrdup("small");
	r->downtime_ms = 1234.56;
	r->frozen_ms = 1300.04;
	r->lazy_ms = 0;
	r->bytes_before_resume = 17825792; /* 17.0 MiB */
	r->bytes_total = 227825792;
	r->rounds = 2;
	idx = report_phase_begin(r, "round-1");
	report_phase_end(r, idx, 210000000);
	report_phase_add(r, "restore", 900.0, 1200.25, 0);
	report_add_argv(r, "10.77.0.11", dump1);
	report_add_argv(r, "10.77.0.12", restore);
	report_add_round(r, &rs);
	rs.round = 2;
	rs.final = true;
	rs.pages_written = 4000;
	report_add_round(r, &rs);
	r->versions = json_pack("{s:s, s:s, s:s}", "criu", "4.1.1", "lxc", "6.0.4", "kernel", "6.12.117");
	json_object_set_new(r->extra, "synced_files", json_integer(3));
	json_object_set_new(r->extra, "strategy", json_string("not-allowed-to-override"));
}

static json_t *round_trip(const struct report *r)
{
	__do_free char *path = xasprintf("%s/report.json", tmpdir);
	json_error_t jerr;
	struct stat st;
	json_t *j;

	ck_assert_int_eq(report_write_json(r, path), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0644);
	j = json_load_file(path, 0, &jerr);
	ck_assert_msg(j != NULL, "report does not parse: %s", jerr.text);
	ck_assert(json_is_object(j));
	return j;
}

static void assert_number(json_t *o, const char *key)
{
	ck_assert_msg(json_is_number(json_object_get(o, key)), "%s is not a number", key);
}

static void assert_integer(json_t *o, const char *key)
{
	ck_assert_msg(json_is_integer(json_object_get(o, key)), "%s is not an integer", key);
}

START_TEST(test_contract_keys)
{
	struct report r;
	json_t *j, *phases, *argv, *versions, *ph;
	size_t i;

	build_sample(&r);
	j = round_trip(&r);
	ck_assert_str_eq(json_string_value(json_object_get(j, "strategy")), "pre");
	ck_assert_str_eq(json_string_value(json_object_get(j, "result")), "ok");
	ck_assert_ptr_null(json_object_get(j, "error"));
	assert_number(j, "downtime_ms");
	assert_number(j, "frozen_ms");
	assert_number(j, "lazy_ms");
	assert_number(j, "total_ms");
	assert_integer(j, "bytes_before_resume");
	assert_integer(j, "bytes_total");
	assert_integer(j, "rounds");
	ck_assert_double_eq_tol(json_number_value(json_object_get(j, "downtime_ms")), 1234.6, 1e-9);
	ck_assert_double_eq_tol(json_number_value(json_object_get(j, "frozen_ms")), 1300.0, 1e-9);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "bytes_total")), 227825792);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "rounds")), 2);

	phases = json_object_get(j, "phases");
	ck_assert(json_is_array(phases));
	ck_assert_uint_eq(json_array_size(phases), 2);
	json_array_foreach(phases, i, ph) {
		ck_assert(json_is_string(json_object_get(ph, "name")));
		assert_number(ph, "start_ms");
		assert_number(ph, "end_ms");
		assert_integer(ph, "bytes");
		ck_assert_ptr_null(json_object_get(ph, "unfinished"));
	}
	ph = json_array_get(phases, 1);
	ck_assert_str_eq(json_string_value(json_object_get(ph, "name")), "restore");
	ck_assert_double_eq_tol(json_number_value(json_object_get(ph, "end_ms")), 1200.3, 1e-9);
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(phases, 0), "bytes")), 210000000);

	/* criu_argv: a list of lists of strings, exactly as run */
	argv = json_object_get(j, "criu_argv");
	ck_assert(json_is_array(argv));
	ck_assert_uint_eq(json_array_size(argv), 2);
	ck_assert(json_is_array(json_array_get(argv, 0)));
	ck_assert_uint_eq(json_array_size(json_array_get(argv, 0)), 5);
	ck_assert_str_eq(json_string_value(json_array_get(json_array_get(argv, 0), 1)), "pre-dump");
	ck_assert_str_eq(json_string_value(json_array_get(json_array_get(argv, 1), 3)),
			 "/var/lib/crmig/img");
	ck_assert_str_eq(json_string_value(json_object_get(
			 json_array_get(json_object_get(j, "criu_calls"), 1), "host")), "10.77.0.12");

	versions = json_object_get(j, "versions");
	ck_assert(json_is_object(versions));
	ck_assert_str_eq(json_string_value(json_object_get(versions, "criu")), "4.1.1");
	ck_assert_str_eq(json_string_value(json_object_get(versions, "lxc")), "6.0.4");
	ck_assert_str_eq(json_string_value(json_object_get(versions, "kernel")), "6.12.117");
	/* unknown destination versions: keys present, null */
	versions = json_object_get(j, "dest_versions");
	ck_assert(json_is_object(versions));
	ck_assert(json_is_null(json_object_get(versions, "criu")));
	ck_assert(json_is_null(json_object_get(versions, "kernel")));

	ck_assert_str_eq(json_string_value(json_object_get(j, "workload")), "lxc:web1");
	ck_assert_str_eq(json_string_value(json_object_get(j, "destination")), "10.77.0.12");
	ck_assert_str_eq(json_string_value(json_object_get(j, "stop_reason")), "small");
	ck_assert_uint_eq(json_array_size(json_object_get(j, "round_stats")), 2);
	ck_assert(json_is_true(json_object_get(json_array_get(json_object_get(j, "round_stats"), 1), "final")));
	ck_assert_double_eq_tol(json_number_value(json_object_get(
		json_array_get(json_object_get(j, "round_stats"), 0), "frozen_ms")), 2.5, 1e-9);
	/* extra merged in, contract keys untouched */
	ck_assert_int_eq(json_integer_value(json_object_get(j, "synced_files")), 3);
	json_decref(j);
	report_free(&r);
}
END_TEST

START_TEST(test_error_only_when_not_ok)
{
	struct report r;
	json_t *j;

	report_init(&r, "stop");
	j = report_to_json(&r);
	ck_assert_str_eq(json_string_value(json_object_get(j, "result")), "ok");
	ck_assert_ptr_null(json_object_get(j, "error"));
	json_decref(j);

	report_set_error(&r, "failed", "dump: criu exited with %d", 1);
	report_set_error(&r, "rolled-back", "dump: %s", "criu exited with 1; source resumed");
	j = report_to_json(&r);
	ck_assert_str_eq(json_string_value(json_object_get(j, "result")), "rolled-back");
	ck_assert_str_eq(json_string_value(json_object_get(j, "error")),
			 "dump: criu exited with 1; source resumed");
	json_decref(j);

	report_set_error(&r, NULL, "no result given");
	ck_assert_str_eq(r.result, "failed");
	free(r.error);
	r.error = NULL;
	j = report_to_json(&r);
	ck_assert(json_is_string(json_object_get(j, "error")));
	json_decref(j);
	report_free(&r);
}
END_TEST

START_TEST(test_rounding)
{
	const struct { double in, out; } cases[] = {
		{ 12.345, 12.3 }, { 12.36, 12.4 }, { 0.04, 0.0 }, { 0.05, 0.1 },
		{ -3.26, -3.3 }, { 99999.99, 100000.0 }, { 0, 0 },
	};
	struct report r;

	report_init(&r, "stop");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *j;

		r.downtime_ms = cases[i].in;
		j = report_to_json(&r);
		ck_assert_double_eq_tol(json_real_value(json_object_get(j, "downtime_ms")), cases[i].out, 1e-9);
		json_decref(j);
	}
	report_free(&r);
}
END_TEST

/* 12.3 must be written as 12.3, not 12.300000000000001. */
START_TEST(test_printed_precision)
{
	__do_free char *path = xasprintf("%s/p.json", tmpdir);
	__do_free char *text = NULL;
	struct report r;

	report_init(&r, "stop");
	r.downtime_ms = 12.3;
	r.frozen_ms = 86400000.15; /* a day, still to 0.1 ms */
	ck_assert_int_eq(report_write_json(&r, path), 0);
	text = read_file(path, NULL);
	ck_assert_ptr_nonnull(text);
	ck_assert_msg(strstr(text, "\"downtime_ms\": 12.3,"), "%s", text);
	ck_assert_msg(strstr(text, "\"frozen_ms\": 86400000.2,"), "%s", text);
	report_free(&r);
}
END_TEST

START_TEST(test_unfinished_phase)
{
	struct report r;
	json_t *j, *ph;

	report_init(&r, "post");
	report_phase_begin(&r, "lazy");
	report_phase_end(&r, 17, 5); /* out of range: ignored */
	r.total_ms = 4321.0;
	j = report_to_json(&r);
	ph = json_array_get(json_object_get(j, "phases"), 0);
	ck_assert(json_is_number(json_object_get(ph, "end_ms")));
	ck_assert_double_eq_tol(json_number_value(json_object_get(ph, "end_ms")), 4321.0, 1e-9);
	ck_assert(json_is_true(json_object_get(ph, "unfinished")));
	json_decref(j);
	report_free(&r);
}
END_TEST

START_TEST(test_awkward_values)
{
	char *odd[] = { "criu", "dump", "-D", "/tmp/\xff\xfe", NULL };
	struct report r;
	json_t *j, *argv;

	report_init(&r, "stop");
	r.bytes_total = UINT64_MAX;
	report_add_argv(&r, NULL, odd);
	/* a caller that stored plain argv lists is understood too */
	json_array_append_new(r.criu_argv, json_pack("[s, s]", "criu", "check"));
	json_decref(r.extra);
	r.extra = json_string("not an object");
	j = report_to_json(&r);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "bytes_total")), INT64_MAX);
	argv = json_object_get(j, "criu_argv");
	ck_assert_uint_eq(json_array_size(argv), 2);
	ck_assert_uint_eq(json_array_size(json_array_get(argv, 0)), 4);
	ck_assert_str_eq(json_string_value(json_array_get(json_array_get(argv, 0), 3)), "/tmp/??");
	ck_assert_str_eq(json_string_value(json_array_get(json_array_get(argv, 1), 1)), "check");
	ck_assert(json_is_null(json_object_get(json_array_get(json_object_get(j, "criu_calls"), 0), "host")));
	json_decref(j);
	report_free(&r);
}
END_TEST

START_TEST(test_write_failure)
{
	__do_free char *path = xasprintf("%s/missing-dir/report.json", tmpdir);
	struct report r;

	report_init(&r, "stop");
	ck_assert_int_eq(report_write_json(&r, path), -1);
	ck_assert_int_eq(errno, ENOENT);
	report_free(&r);
}
END_TEST

START_TEST(test_no_temp_left)
{
	__do_free char *path = xasprintf("%s/r.json", tmpdir);
	__do_free char *cmd = xasprintf("ls -A %s | wc -l", tmpdir);
	struct report r;
	char line[16] = "";
	FILE *p;

	report_init(&r, "stop");
	ck_assert_int_eq(report_write_json(&r, path), 0);
	ck_assert_int_eq(report_write_json(&r, path), 0); /* replaces */
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), p));
	pclose(p);
	ck_assert_int_eq(atoi(line), 1);
	report_free(&r);
}
END_TEST

START_TEST(test_summary)
{
	struct report r;
	char *text = NULL;
	size_t len = 0;
	FILE *out;

	build_sample(&r);
	out = open_memstream(&text, &len);
	report_print_summary(&r, out);
	fclose(out);
	ck_assert_ptr_nonnull(strstr(text, "pre, ok"));
	ck_assert_ptr_nonnull(strstr(text, "downtime"));
	ck_assert_ptr_nonnull(strstr(text, "1.23 s"));
	ck_assert_ptr_nonnull(strstr(text, "1.30 s"));
	ck_assert_ptr_nonnull(strstr(text, "17.0 MiB"));
	ck_assert_ptr_nonnull(strstr(text, "217.3 MiB"));
	ck_assert_ptr_nonnull(strstr(text, "2 (stopped: small)"));
	ck_assert_ptr_nonnull(strstr(text, "round-1"));
	ck_assert_ptr_nonnull(strstr(text, "restore"));
	ck_assert_ptr_nonnull(strstr(text, "300.3 ms")); /* restore phase duration */
	ck_assert_ptr_nonnull(strstr(text, "lxc:web1"));
	ck_assert_ptr_null(strstr(text, "error"));
	free(text);

	report_set_error(&r, "failed", "restore on %s: criu exited with 1", "10.77.0.12");
	out = open_memstream(&text, &len);
	report_print_summary(&r, out);
	fclose(out);
	ck_assert_ptr_nonnull(strstr(text, "pre, failed"));
	ck_assert_ptr_nonnull(strstr(text, "restore on 10.77.0.12: criu exited with 1"));
	free(text);
	report_free(&r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("report");
	TCase *tc = tcase_create("report");

	tcase_add_checked_fixture(tc, setup_dir, teardown_dir);
	tcase_add_test(tc, test_contract_keys);
	tcase_add_test(tc, test_error_only_when_not_ok);
	tcase_add_test(tc, test_rounding);
	tcase_add_test(tc, test_printed_precision);
	tcase_add_test(tc, test_unfinished_phase);
	tcase_add_test(tc, test_awkward_values);
	tcase_add_test(tc, test_write_failure);
	tcase_add_test(tc, test_no_temp_left);
	tcase_add_test(tc, test_summary);
	suite_add_tcase(s, tc);
	return unit_run(s) ? 1 : 0;
}
