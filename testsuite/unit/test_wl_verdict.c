/* The files and datagrams a workload leaves for the runner: verdict and
 * ready written atomically and parsed back strictly, notes, the datagram
 * parser, addresses and ids. */
#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/wl.h"
#include "util.h"
#include "unit.h"

static char dir[] = "/tmp/test_wl_verdict.XXXXXX";
static char path[256];

static void setup(void)
{
	strcpy(dir, "/tmp/test_wl_verdict.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/verdict", dir);
}

static void teardown(void)
{
	remove_tree(dir);
}

static void put(const char *text)
{
	ck_assert_int_eq(wl_write_atomic(dir, "verdict", text, strlen(text)), 0);
}

START_TEST(test_pass_fail_roundtrip)
{
	char reason[WL_REASON_MAX], tmp[300];

	put("PASS\n");
	ck_assert_int_eq(wl_read_verdict(path, reason, sizeof(reason)), WL_VERDICT_PASS);
	ck_assert_str_eq(reason, "");
	put("FAIL: 3 of 16384 pages bad; first: page 7 is stale\nbad_pages=3\n");
	ck_assert_int_eq(wl_read_verdict(path, reason, sizeof(reason)), WL_VERDICT_FAIL);
	ck_assert_str_eq(reason, "3 of 16384 pages bad; first: page 7 is stale");
	ck_assert_int_eq(wl_read_verdict(path, NULL, 0), WL_VERDICT_FAIL);
	/* No temporary file is left behind. */
	snprintf(tmp, sizeof(tmp), "%s/.verdict.tmp", dir);
	ck_assert_int_eq(access(tmp, F_OK), -1);
}
END_TEST

START_TEST(test_missing_and_malformed)
{
	static const char *const bad[] = { "PASS", "", "\n", "pass\n", "FAIL:\n", "FAIL: \n", "FAIL x\n",
					   "PASS \n", "MAYBE\n", "FAILED: x\n" };
	char reason[WL_REASON_MAX];

	ck_assert_int_eq(wl_read_verdict(path, reason, sizeof(reason)), WL_VERDICT_NONE);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		put(bad[i]);
		ck_assert_msg(wl_read_verdict(path, reason, sizeof(reason)) == WL_VERDICT_ERROR, "'%s' accepted",
			      bad[i]);
		ck_assert_ptr_nonnull(strstr(reason, "malformed verdict"));
	}
	/* A directory in its place is unreadable, not missing. */
	unlink(path);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	ck_assert_int_eq(wl_read_verdict(path, reason, sizeof(reason)), WL_VERDICT_ERROR);
	rmdir(path);
}
END_TEST

START_TEST(test_notes)
{
	char v[64];

	put("PASS\nsent_bytes=123456\nreceived_bytes=99\ncorrupt_offset=7\n");
	ck_assert_int_eq(wl_read_verdict_note(path, "sent_bytes", v, sizeof(v)), 0);
	ck_assert_str_eq(v, "123456");
	ck_assert_int_eq(wl_read_verdict_note(path, "corrupt_offset", v, sizeof(v)), 0);
	ck_assert_str_eq(v, "7");
	ck_assert_int_eq(wl_read_verdict_note(path, "sent", v, sizeof(v)), -1);	/* a prefix is no key */
	ck_assert_int_eq(wl_read_verdict_note(path, "PASS", v, sizeof(v)), -1);	/* the verdict line is no note */
	put("FAIL: a=b\n");
	ck_assert_int_eq(wl_read_verdict_note(path, "FAIL: a", v, sizeof(v)), -1);
}
END_TEST

START_TEST(test_ready)
{
	static const char *const bad[] = { "pid=\n", "pid=12", "pid=-3\n", "pid=12x\n", "foo=1\n", "pid=0\n",
					   "pid=1\n\n", "pid= 5\n", "" };
	char ready[256];

	snprintf(ready, sizeof(ready), "%s/ready", dir);
	ck_assert_int_eq(wl_read_ready(ready), -1);
	ck_assert_int_eq(wl_write_atomic(dir, "ready", "pid=4242\n", 9), 0);
	ck_assert_int_eq(wl_read_ready(ready), 4242);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		ck_assert_int_eq(wl_write_atomic(dir, "ready", bad[i], strlen(bad[i])), 0);
		ck_assert_msg(wl_read_ready(ready) == -1, "'%s' accepted", bad[i]);
	}
}
END_TEST

/* A reader polling the file while it is rewritten never sees a partial
 * or mixed content: only one of the two complete versions. */
static const char *const versions[2] = {
	"PASS\nsent_bytes=1\n",
	"FAIL: a much longer reason, so that a torn write would show as a mix of the two\nx=y\nz=w\n",
};
static atomic_bool writer_done;
static atomic_int write_errors;

/* No ck_assert here: outside the test's thread it cannot report. */
static void *rewriter(void *arg)
{
	(void)arg;
	for (int i = 0; i < 200; i++)
		if (wl_write_atomic(dir, "verdict", versions[i % 2], strlen(versions[i % 2])) < 0)
			atomic_fetch_add(&write_errors, 1);
	atomic_store(&writer_done, true);
	return NULL;
}

START_TEST(test_atomic_under_rewrite)
{
	pthread_t t;
	int reads = 0;

	put(versions[0]);
	atomic_store(&writer_done, false);
	pthread_create(&t, NULL, rewriter, NULL);
	while (!atomic_load(&writer_done)) {
		__do_free char *text = read_file(path, NULL);

		ck_assert_ptr_nonnull(text);
		ck_assert_msg(strcmp(text, versions[0]) == 0 || strcmp(text, versions[1]) == 0, "torn read: '%s'",
			      text);
		reads++;
	}
	pthread_join(t, NULL);
	ck_assert_int_eq(atomic_load(&write_errors), 0);
	ck_assert_int_gt(reads, 0);
}
END_TEST

START_TEST(test_write_errors)
{
	ck_assert_int_eq(wl_write_atomic("/nonexistent/dir", "verdict", "PASS\n", 5), -1);
	ck_assert_int_eq(wl_write_atomic_paths("/nonexistent/x.tmp", "/nonexistent/x", "PASS\n", 5), -1);
}
END_TEST

START_TEST(test_msg_parse)
{
	struct wl_msg m;
	const char *s;

	s = "HB mem-1 17 123456789012";
	ck_assert_int_eq(wl_parse_msg(s, strlen(s), &m), 0);
	ck_assert_int_eq(m.kind, WL_MSG_HB);
	ck_assert_str_eq(m.id, "mem-1");
	ck_assert_uint_eq(m.seq, 17);
	ck_assert_uint_eq(m.counter, 123456789012ULL);
	s = "READY case:a.b 4321";
	ck_assert_int_eq(wl_parse_msg(s, strlen(s), &m), 0);
	ck_assert_int_eq(m.kind, WL_MSG_READY);
	ck_assert_int_eq(m.pid, 4321);
	s = "VERDICT x PASS";
	ck_assert_int_eq(wl_parse_msg(s, strlen(s), &m), 0);
	ck_assert(m.kind == WL_MSG_VERDICT && m.pass);
	s = "VERDICT x FAIL 2 check(s) failed; first: child group (pid 9) is gone";
	ck_assert_int_eq(wl_parse_msg(s, strlen(s), &m), 0);
	ck_assert(!m.pass);
	ck_assert_str_eq(m.reason, "2 check(s) failed; first: child group (pid 9) is gone");
}
END_TEST

START_TEST(test_msg_garbage)
{
	static const char *const bad[] = {
		"", "HB", "HB x", "HB x 1", "HB x 1 2 3", "HB x -1 2", "HB x 1 2 ", "HB  x 1 2", "HB x 1 z",
		"HB x/y 1 2", "READY x", "READY x 0", "READY x 12a", "READY x 99999999999", "VERDICT x",
		"VERDICT x MAYBE", "VERDICT x PASS extra", "VERDICT x FAIL", "VERDICT x FAIL ", "hb x 1 2",
		"HB x 1 2\n", "HB x 99999999999999999999999 2",
	};
	struct wl_msg m;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		ck_assert_msg(wl_parse_msg(bad[i], strlen(bad[i]), &m) == -1, "'%s' accepted", bad[i]);
	ck_assert_int_eq(wl_parse_msg("HB x 1\0002", 8, &m), -1);
}
END_TEST

START_TEST(test_addr)
{
	struct wl_addr a;
	char buf[80];

	ck_assert_int_eq(wl_parse_addr("10.0.0.1:7000", true, &a), 0);
	ck_assert(a.set);
	ck_assert_str_eq(wl_format_addr((struct sockaddr *)&a.ss, buf, sizeof(buf)), "10.0.0.1:7000");
	ck_assert_int_eq(wl_parse_addr("[fd00::1]:65535", true, &a), 0);
	ck_assert_int_eq(a.ss.ss_family, AF_INET6);
	ck_assert_str_eq(wl_format_addr((struct sockaddr *)&a.ss, buf, sizeof(buf)), "[fd00::1]:65535");
	ck_assert_int_eq(wl_parse_addr("10.0.0.1", false, &a), 0);
	ck_assert_int_eq(wl_parse_addr("fd00::2", false, &a), 0);
	ck_assert_int_eq(wl_parse_addr("[fd00::2]", false, &a), 0);
	for (const char *const *b = (const char *const[]){ "10.0.0.1", "10.0.0.1:", "10.0.0.1:0", "10.0.0.1:65536",
							   "10.0.0.1:80x", "host:80", "fd00::1:80", "[fd00::1]",
							   "[fd00::1]80", "[fd00::1:80", ":80", "10.0.0.1:-1",
							   "10.0.0.1: 80", NULL };
	     *b; b++)
		ck_assert_msg(wl_parse_addr(*b, true, &a) == -1, "'%s' accepted", *b);
	ck_assert_int_eq(wl_parse_addr("10.0.0.1:80", false, &a), -1);
	ck_assert_int_eq(wl_parse_addr("localhost", false, &a), -1);
}
END_TEST

START_TEST(test_ids)
{
	char long_id[WL_ID_MAX + 2];

	ck_assert(wl_valid_id("memory"));
	ck_assert(wl_valid_id("case:tcp-1.x_2"));
	ck_assert(!wl_valid_id(""));
	ck_assert(!wl_valid_id("a b"));
	ck_assert(!wl_valid_id("a/b"));
	memset(long_id, 'a', WL_ID_MAX);
	long_id[WL_ID_MAX] = '\0';
	ck_assert(wl_valid_id(long_id));
	long_id[WL_ID_MAX] = 'a';
	long_id[WL_ID_MAX + 1] = '\0';
	ck_assert(!wl_valid_id(long_id));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("wl_verdict");
	TCase *tc = tcase_create("verdict");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_pass_fail_roundtrip);
	tcase_add_test(tc, test_missing_and_malformed);
	tcase_add_test(tc, test_notes);
	tcase_add_test(tc, test_ready);
	tcase_add_test(tc, test_atomic_under_rewrite);
	tcase_add_test(tc, test_write_errors);
	tcase_add_test(tc, test_msg_parse);
	tcase_add_test(tc, test_msg_garbage);
	tcase_add_test(tc, test_addr);
	tcase_add_test(tc, test_ids);
	suite_add_tcase(s, tc);
	return unit_run(s) ? 1 : 0;
}
