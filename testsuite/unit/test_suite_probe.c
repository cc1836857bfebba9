/* The heartbeat probe: the gap arithmetic at its edges (pure), then a live
 * probe on loopback: a pause between beats shows as the gap (compared with
 * the sender's own clock, so a loaded machine or valgrind cannot make it
 * flaky), garbage is counted and ignored, READY/VERDICT waits, forgetting,
 * and the id limit. */
#include <arpa/inet.h>
#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../runner/suite.h"
#include "util.h"
#include "unit.h"

/* ---------------------------------------------------------------- arithmetic */

START_TEST(test_gap_of)
{
	static const double beats[] = { 0, 10, 20, 100, 110 };
	static const double late[] = { 50, 60 };

	ck_assert(probe_gap_of(beats, 5, 5, 105) == 80);	/* 20 -> 100 */
	ck_assert(probe_gap_of(beats, 5, 25, 30) == 80);	/* the window inside the gap: its edges count */
	ck_assert(probe_gap_of(beats, 5, 10, 20) == 10);	/* beats exactly on the edges */
	ck_assert(probe_gap_of(beats, 5, 0, 5) == 10);
	ck_assert(probe_gap_of(beats, 5, 100, 200) == 90);	/* no beat after: up to to_ms */
	ck_assert(probe_gap_of(beats, 5, 500, 600) == 490);	/* silent since 110 */
	ck_assert(probe_gap_of(late, 2, 0, 55) == 50);		/* no beat before: from from_ms */
	ck_assert(probe_gap_of(beats, 0, 0, 100) == -1);
	ck_assert(probe_gap_of(beats, 5, 50, 40) == -1);
}
END_TEST

/* ---------------------------------------------------------------- live */

static struct probe *probe;
static int sender = -1;
static struct sockaddr_in probe_addr;

static void setup_probe(void)
{
	char err[256];

	probe = probe_start("127.0.0.1", 0, err, sizeof(err));
	ck_assert_msg(probe != NULL, "%s", err);
	ck_assert_int_gt(probe_port(probe), 0);
	probe_addr.sin_family = AF_INET;
	probe_addr.sin_port = htons(probe_port(probe));
	probe_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sender = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(sender, 0);
}

static void teardown_probe(void)
{
	probe_stop(probe);
	probe = NULL;
	close_fd(&sender);
}

static void send_raw(const void *buf, size_t len)
{
	ck_assert_int_eq(sendto(sender, buf, len, 0, (struct sockaddr *)&probe_addr, sizeof(probe_addr)), (ssize_t)len);
}

static void send_line(const char *s)
{
	send_raw(s, strlen(s));
}

static void beat(const char *id, int seq)
{
	char msg[128];

	snprintf(msg, sizeof(msg), "HB %s %d %d", id, seq, seq * 7);
	send_line(msg);
}

/* Until the probe has counted n beats of id (datagrams are handled in order). */
static void wait_beats(const char *id, long n)
{
	double deadline = probe_now() + 10000;

	while (probe_beats(probe, id) < n && probe_now() < deadline)
		usleep(2000);
	ck_assert_int_eq(probe_beats(probe, id), n);
}

START_TEST(test_live_gap)
{
	double start, before_pause, after_pause, end, gap, sent_gap;
	int seq = 0;

	start = probe_now();
	for (int i = 0; i < 10; i++, usleep(20000))
		beat("wl-gap", seq++);
	before_pause = probe_now();
	beat("wl-gap", seq++);
	usleep(400000);
	after_pause = probe_now();
	beat("wl-gap", seq++);
	for (int i = 0; i < 5; i++) {
		usleep(20000);
		beat("wl-gap", seq++);
	}
	end = probe_now();
	wait_beats("wl-gap", seq);
	gap = probe_max_gap(probe, "wl-gap", start, end);
	sent_gap = after_pause - before_pause;
	ck_assert_msg(sent_gap >= 400, "usleep(400 ms) slept %.1f ms", sent_gap);
	/* Arrival stamps lag the sends a little, but by about the same for both beats. */
	ck_assert_msg(gap > sent_gap - 100 && gap < sent_gap + 100, "gap %.1f ms, sender saw %.1f ms", gap, sent_gap);
	/* A window wholly before the pause has only short gaps. */
	ck_assert_double_lt(probe_max_gap(probe, "wl-gap", before_pause - 1, before_pause - 1),
			    probe_max_gap(probe, "wl-gap", start, end));
	ck_assert(probe_max_gap(probe, "unknown", start, end) == -1);
	ck_assert_int_eq(probe_rejected(probe), 0);
}
END_TEST

START_TEST(test_garbage_ignored)
{
	char big[600], longid[128];
	static const char *const bad[] = {
		"XX wl 1 2", "HB bad/id 1 2", "HB wl", "HB wl 1", "HB wl x 2", "HB wl 1 2 3", "HB wl 1 2\n",
		"HB  wl 1 2", "HB wl 1 2 ", "READY wl", "READY wl 0", "VERDICT wl MAYBE", "VERDICT wl FAIL",
		"hb wl 1 2", "",
	};
	long expected = 0;

	memset(big, 'A', sizeof(big));
	memcpy(big, "HB wl 1 2 ", 10);
	send_raw(big, sizeof(big));	/* over 512 bytes */
	expected++;
	memset(longid, 'i', sizeof(longid));
	memcpy(longid, "HB ", 3);
	snprintf(longid + 3 + 100, sizeof(longid) - 103, " 1 2");	/* a 100-character id */
	send_line(longid);
	expected++;
	send_raw("HB wl\0 1 2", 10);	/* a NUL inside */
	expected++;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++, expected++)
		send_line(bad[i]);
	beat("wl", 0);
	wait_beats("wl", 1);
	ck_assert_int_eq(probe_rejected(probe), expected);
	ck_assert_int_eq(probe_beats(probe, "bad/id"), 0);
	ck_assert(!probe_wait_line(probe, "wl", "READY", 0, NULL, 0));
	ck_assert(!probe_wait_line(probe, "wl", "VERDICT", 0, NULL, 0));
}
END_TEST

struct delayed {
	const char *line;
	int delay_ms;
};

static void *send_later(void *arg)
{
	struct delayed *d = arg;

	usleep(d->delay_ms * 1000);
	send_line(d->line);
	return NULL;
}

START_TEST(test_ready_verdict)
{
	struct delayed d = { "VERDICT wl-r FAIL page 12: generation 3, expected 4", 150 };
	char line[600];
	pthread_t t;
	double t0;

	t0 = probe_now();
	ck_assert(!probe_wait_line(probe, "wl-r", "READY", 0.2, line, sizeof(line)));
	ck_assert_double_ge(probe_now() - t0, 190);
	send_line("READY wl-r 4242");
	ck_assert(probe_wait_line(probe, "wl-r", "READY", 5, line, sizeof(line)));
	ck_assert_str_eq(line, "READY wl-r 4242");
	ck_assert(!probe_wait_line(probe, "wl-r", "HB", 0, line, sizeof(line)));
	/* Wait while the line is on its way. */
	ck_assert_int_eq(pthread_create(&t, NULL, send_later, &d), 0);
	t0 = probe_now();
	ck_assert(probe_wait_line(probe, "wl-r", "VERDICT", 10, line, sizeof(line)));
	ck_assert_double_lt(probe_now() - t0, 9000);
	pthread_join(t, NULL);
	ck_assert_str_eq(line, d.line);
	/* The last line counts; a short buffer truncates. */
	send_line("VERDICT wl-r PASS");
	beat("wl-r", 0);
	wait_beats("wl-r", 1);
	ck_assert(probe_wait_line(probe, "wl-r", "VERDICT", 0, line, 8));
	ck_assert_str_eq(line, "VERDICT");
	/* Forgotten: a fresh start for the id. */
	probe_forget(probe, "wl-r");
	ck_assert_int_eq(probe_beats(probe, "wl-r"), 0);
	ck_assert(!probe_wait_line(probe, "wl-r", "READY", 0, line, sizeof(line)));
	probe_forget(probe, "never-seen");
}
END_TEST

/* At most 1024 ids: the 1025th is refused, known ids still count. */
START_TEST(test_id_limit)
{
	char id[32];

	for (int i = 0; i < 1024; i++) {
		snprintf(id, sizeof(id), "id-%d", i);
		beat(id, 0);
		if (i % 64 == 63)	/* let the probe keep up: UDP drops what does not fit */
			wait_beats(id, 1);
	}
	wait_beats("id-1023", 1);
	beat("one-too-many", 0);
	beat("id-0", 1);
	wait_beats("id-0", 2);
	ck_assert_int_eq(probe_beats(probe, "one-too-many"), 0);
	ck_assert_int_eq(probe_rejected(probe), 1);
}
END_TEST

START_TEST(test_start_errors)
{
	char err[256];
	struct probe *p;

	ck_assert_ptr_null(probe_start("localhost", 0, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "numeric"));
	ck_assert_ptr_null(probe_start("127.0.0.1", 70000, err, sizeof(err)));
	ck_assert_ptr_null(probe_start("192.0.2.1", 0, err, sizeof(err)));	/* not ours to bind */
	ck_assert_ptr_nonnull(strstr(err, "bind"));
	p = probe_start("::1", 0, err, sizeof(err));
	if (p)	/* IPv6 may be disabled in a build container */
		ck_assert_int_gt(probe_port(p), 0);
	probe_stop(p);
	probe_stop(NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("suite_probe");
	TCase *pure = tcase_create("pure"), *live = tcase_create("live");

	tcase_add_test(pure, test_gap_of);
	tcase_add_test(pure, test_start_errors);
	suite_add_tcase(s, pure);
	tcase_add_checked_fixture(live, setup_probe, teardown_probe);
	tcase_set_timeout(live, 60);
	tcase_add_test(live, test_live_gap);
	tcase_add_test(live, test_garbage_ignored);
	tcase_add_test(live, test_ready_verdict);
	tcase_add_test(live, test_id_limit);
	suite_add_tcase(s, live);
	return unit_run(s) ? EXIT_FAILURE : EXIT_SUCCESS;
}
