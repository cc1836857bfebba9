/* The tcp peer against a fake workload (a thread speaking seqstream over
 * loopback): an intact exchange passes and the workload sees our stream
 * properly ended; a dropped byte, a duplicated range, an early end of
 * stream, a reset, a second connection, no connection and a stream that
 * never ends are each reported as such; seconds of silence mid-stream are
 * fine. Then echo_check against a tiny fake listener. */
#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../lib/seqstream.h"
#include "../runner/suite.h"
#include "util.h"
#include "unit.h"

#define STREAM_BYTES 65536
#define DAMAGE_AT 16000		/* a word boundary */

enum fake_mode { FAKE_GOOD, FAKE_DROP, FAKE_DUP, FAKE_EARLY_EOF, FAKE_SILENT, FAKE_RESET, FAKE_HANG };

struct fake_wl {
	int port;
	enum fake_mode mode;
	atomic_bool release;	/* FAKE_HANG: let go */
	/* Results. */
	bool connected;
	bool peer_stream_ok;	/* what we received from the peer was intact and ended */
	uint64_t sent, received;
};

static struct tcp_peer *peer;

static void setup_peer(void)
{
	char err[256];

	setenv("CRMIG_PEER_KBPS", "4096", 1);
	peer = tcp_peer_start("127.0.0.1", 0, err, sizeof(err));
	ck_assert_msg(peer != NULL, "%s", err);
	ck_assert_int_gt(tcp_peer_port(peer), 0);
}

static void teardown_peer(void)
{
	tcp_peer_stop(peer);
	peer = NULL;
	unsetenv("CRMIG_PEER_KBPS");
}

static int connect_loopback(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		close_fd(&fd);
	return fd;
}

/* Read what is there; false once the peer's stream ended or broke. */
static bool drain(int fd, struct seq_state *rx, bool *eof)
{
	for (;;) {
		ssize_t n = seq_recv(fd, rx);

		if (n > 0)
			continue;
		if (n == 0)
			*eof = true;
		return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
	}
}

/* The damage the mode calls for, once, when the stream gets there. */
static void maybe_damage(struct fake_wl *w, struct seq_state *tx, bool *done)
{
	if (*done || tx->offset != DAMAGE_AT)
		return;
	*done = true;
	if (w->mode == FAKE_DROP)
		tx->offset += 1;
	else if (w->mode == FAKE_DUP)
		tx->offset -= 96;
	else if (w->mode == FAKE_SILENT)
		usleep(2500 * 1000);	/* frozen: neither reads nor writes */
}

static void stream_for_a_while(struct fake_wl *w, int fd, struct seq_state *tx, struct seq_state *rx, bool *eof)
{
	double deadline = now_ms() + 10000;
	bool damaged = false;

	/* Long enough both ways that each side checks a real stream. */
	while ((tx->offset < STREAM_BYTES || rx->offset < STREAM_BYTES) && !*eof && now_ms() < deadline) {
		size_t max = tx->offset < STREAM_BYTES ? 4096 : 0;
		struct pollfd p = { .fd = fd, .events = POLLIN | (max ? POLLOUT : 0) };

		/* Stop exactly at the damage point, whatever the chunking. */
		if (!damaged && DAMAGE_AT - tx->offset < max)
			max = DAMAGE_AT - tx->offset;
		poll(&p, 1, 5);
		if (seq_send(fd, tx, max) < 0)
			return;
		maybe_damage(w, tx, &damaged);
		drain(fd, rx, eof);
	}
}

static void end_stream(int fd, struct seq_state *tx)
{
	double deadline = now_ms() + 5000;

	seq_end(tx);
	while (seq_remaining(tx) && now_ms() < deadline)
		if (seq_send(fd, tx, 64) < 0)
			return;
	shutdown(fd, SHUT_WR);
}

static void wait_peer_end(int fd, struct seq_state *rx, bool *eof, double ms)
{
	double deadline = now_ms() + ms;

	while (!*eof && now_ms() < deadline) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		poll(&p, 1, 10);
		if (!drain(fd, rx, eof) && !*eof)
			return;	/* error */
	}
}

static void *fake_workload(void *arg)
{
	struct fake_wl *w = arg;
	struct seq_state tx, rx;
	bool eof = false;
	__do_close int fd = connect_loopback(w->port);

	if (fd < 0)
		return NULL;
	w->connected = true;
	fcntl(fd, F_SETFL, O_NONBLOCK);
	seq_init(&tx);
	seq_init(&rx);
	stream_for_a_while(w, fd, &tx, &rx, &eof);
	if (w->mode == FAKE_RESET) {
		struct linger reset = { .l_onoff = 1, .l_linger = 0 };

		setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
		return NULL;	/* the close resets */
	}
	if (w->mode == FAKE_HANG) {
		while (!atomic_load(&w->release))
			usleep(10000);
		return NULL;
	}
	if (w->mode == FAKE_EARLY_EOF)
		shutdown(fd, SHUT_WR);	/* no end marker */
	else
		end_stream(fd, &tx);
	wait_peer_end(fd, &rx, &eof, 10000);
	w->sent = tx.offset;
	w->received = rx.offset;
	w->peer_stream_ok = eof && seq_check_eof(&rx, NULL) == 0;
	return NULL;
}

static void run_fake(struct fake_wl *w, enum fake_mode mode, pthread_t *t)
{
	memset(w, 0, sizeof(*w));
	w->port = tcp_peer_port(peer);
	w->mode = mode;
	ck_assert_int_eq(pthread_create(t, NULL, fake_workload, w), 0);
}

/* The peer's verdict on a fake workload in mode; its return and why. */
static int verdict_for(enum fake_mode mode, struct fake_wl *w, char *why, size_t len)
{
	pthread_t t;
	int ret;

	run_fake(w, mode, &t);
	ret = tcp_peer_finish(peer, 20, why, len);
	pthread_join(t, NULL);
	return ret;
}

static uint64_t offset_in(const char *why)
{
	const char *s = strstr(why, "stream byte ");
	uint64_t off = UINT64_MAX;

	if (s)
		sscanf(s + 12, "%" SCNu64, &off);
	return off;
}

START_TEST(test_intact)
{
	struct fake_wl w;
	char why[512];

	ck_assert_msg(verdict_for(FAKE_GOOD, &w, why, sizeof(why)) == 0, "%s", why);
	ck_assert_ptr_nonnull(strstr(why, "stream intact"));
	ck_assert(w.connected);
	ck_assert_msg(w.peer_stream_ok, "the workload did not see our end marker");
	ck_assert_uint_eq(tcp_peer_received(peer), w.sent);
	ck_assert_uint_eq(w.sent % 8, 0);
	ck_assert_uint_ge(w.sent, STREAM_BYTES + 8);
	ck_assert_msg(w.received >= STREAM_BYTES + 8, "the workload got %" PRIu64 " bytes", w.received);
}
END_TEST

START_TEST(test_dropped_byte)
{
	struct fake_wl w;
	char why[512];
	uint64_t off;

	ck_assert_int_lt(verdict_for(FAKE_DROP, &w, why, sizeof(why)), 0);
	ck_assert_msg(strstr(why, "received stream") && strstr(why, "expected"), "%s", why);
	off = offset_in(why);
	ck_assert_msg(off >= DAMAGE_AT && off <= DAMAGE_AT + 15, "%s", why);
	ck_assert_msg(w.peer_stream_ok, "the peer still ends its stream properly");
}
END_TEST

START_TEST(test_duplicated_range)
{
	struct fake_wl w;
	char why[512];
	uint64_t off;

	ck_assert_int_lt(verdict_for(FAKE_DUP, &w, why, sizeof(why)), 0);
	ck_assert_msg(strstr(why, "received stream") && strstr(why, "expected"), "%s", why);
	off = offset_in(why);
	ck_assert_msg(off >= DAMAGE_AT && off <= DAMAGE_AT + 15, "%s", why);
}
END_TEST

START_TEST(test_early_eof)
{
	struct fake_wl w;
	char why[512];

	ck_assert_int_lt(verdict_for(FAKE_EARLY_EOF, &w, why, sizeof(why)), 0);
	ck_assert_msg(strstr(why, "without an end marker"), "%s", why);
	ck_assert_msg(w.peer_stream_ok, "the peer answers an early end with its own");
}
END_TEST

START_TEST(test_silence_tolerated)
{
	struct fake_wl w;
	char why[512];
	double t0 = now_ms();

	ck_assert_msg(verdict_for(FAKE_SILENT, &w, why, sizeof(why)) == 0, "%s", why);
	ck_assert_double_ge(now_ms() - t0, 2500);
	ck_assert(w.peer_stream_ok);
}
END_TEST

START_TEST(test_reset)
{
	struct fake_wl w;
	char why[512];

	ck_assert_int_lt(verdict_for(FAKE_RESET, &w, why, sizeof(why)), 0);
	ck_assert_msg(strstr(why, "connection reset"), "%s", why);
}
END_TEST

START_TEST(test_no_connection)
{
	char why[512];

	ck_assert_int_lt(tcp_peer_finish(peer, 0.3, why, sizeof(why)), 0);
	ck_assert_msg(strstr(why, "no connection"), "%s", why);
	ck_assert_uint_eq(tcp_peer_received(peer), 0);
}
END_TEST

START_TEST(test_never_ends)
{
	struct fake_wl w;
	char why[512];
	pthread_t t;

	run_fake(&w, FAKE_HANG, &t);
	ck_assert_int_lt(tcp_peer_finish(peer, 1, why, sizeof(why)), 0);
	atomic_store(&w.release, true);
	pthread_join(t, NULL);
	ck_assert_msg(strstr(why, "stream never ended"), "%s", why);
}
END_TEST

START_TEST(test_second_connection)
{
	struct fake_wl w;
	char why[512], byte;
	pthread_t t;
	double deadline = now_ms() + 10000;
	int second;

	run_fake(&w, FAKE_GOOD, &t);
	while (tcp_peer_received(peer) == 0 && now_ms() < deadline)
		usleep(1000);
	second = connect_loopback(tcp_peer_port(peer));
	ck_assert_int_ge(second, 0);
	ck_assert_int_le(recv(second, &byte, 1, 0), 0);	/* refused: reset or closed, nothing served */
	close(second);
	ck_assert_int_lt(tcp_peer_finish(peer, 20, why, sizeof(why)), 0);
	pthread_join(t, NULL);
	ck_assert_msg(strstr(why, "second connection"), "%s", why);
	ck_assert(w.peer_stream_ok);
}
END_TEST

START_TEST(test_start_errors)
{
	char err[256];

	ck_assert_ptr_null(tcp_peer_start("not-an-ip", 0, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "numeric"));
	ck_assert_ptr_null(tcp_peer_start("127.0.0.1", -1, err, sizeof(err)));
	setenv("CRMIG_PEER_KBPS", "fast", 1);
	ck_assert_ptr_null(tcp_peer_start("127.0.0.1", 0, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "CRMIG_PEER_KBPS"));
	setenv("CRMIG_PEER_KBPS", "0", 1);
	ck_assert_ptr_null(tcp_peer_start("127.0.0.1", 0, err, sizeof(err)));
	unsetenv("CRMIG_PEER_KBPS");
	tcp_peer_stop(NULL);
}
END_TEST

/* ---------------------------------------------------------------- echo */

enum listener_mode { ECHO_GOOD, ECHO_WRONG_TOKEN, ECHO_ERR, ECHO_SILENT };

struct fake_listener {
	int fd, port;
	enum listener_mode mode;
};

static void serve_one(struct fake_listener *l, int fd)
{
	char req[SEQ_ECHO_LINE_MAX + 1], reply[SEQ_ECHO_LINE_MAX + 1], token[SEQ_TOKEN_MAX + 1];
	ssize_t n = recv(fd, req, sizeof(req) - 1, 0);	/* one short line: one segment on loopback */
	int len = 0;

	if (n <= 0 || seq_echo_parse_request(req, (size_t)n, token) < 0)
		len = snprintf(reply, sizeof(reply), "ERR bad request\n");
	else if (l->mode == ECHO_GOOD)
		len = seq_echo_reply(reply, sizeof(reply), token, "wl-1");
	else if (l->mode == ECHO_WRONG_TOKEN)
		len = seq_echo_reply(reply, sizeof(reply), "stale-token", "wl-1");
	else if (l->mode == ECHO_ERR)
		len = snprintf(reply, sizeof(reply), "ERR bad request\n");
	else
		usleep(1000 * 1000);
	if (len > 0)
		(void)!send(fd, reply, len, MSG_NOSIGNAL);
}

static void *fake_listener(void *arg)
{
	struct fake_listener *l = arg;
	__do_close int fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd >= 0)
		serve_one(l, fd);
	return NULL;
}

static int echo_with(enum listener_mode mode, const char *expect_id, double timeout_s, char *why, size_t len)
{
	struct fake_listener l = { .mode = mode };
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	pthread_t t;
	int ret;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(l.fd, 0);
	ck_assert_int_eq(bind(l.fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(l.fd, 1), 0);
	getsockname(l.fd, (struct sockaddr *)&a, &alen);
	l.port = ntohs(a.sin_port);
	ck_assert_int_eq(pthread_create(&t, NULL, fake_listener, &l), 0);
	ret = echo_check("127.0.0.1", l.port, expect_id, timeout_s, why, len);
	pthread_join(t, NULL);
	close(l.fd);
	return ret;
}

START_TEST(test_echo)
{
	char why[512];

	ck_assert_msg(echo_with(ECHO_GOOD, "wl-1", 5, why, sizeof(why)) == 0, "%s", why);
	ck_assert_ptr_nonnull(strstr(why, "answered by wl-1"));
	ck_assert_int_lt(echo_with(ECHO_WRONG_TOKEN, "wl-1", 5, why, sizeof(why)), 0);
	ck_assert_msg(strstr(why, "does not echo token"), "%s", why);
	ck_assert_int_lt(echo_with(ECHO_GOOD, "wl-2", 5, why, sizeof(why)), 0);
	ck_assert_msg(strstr(why, "expected 'wl-2'"), "%s", why);
	ck_assert_int_lt(echo_with(ECHO_ERR, "wl-1", 5, why, sizeof(why)), 0);
	ck_assert_msg(strstr(why, "'ERR bad request?'"), "%s", why);
	ck_assert_int_lt(echo_with(ECHO_SILENT, "wl-1", 0.3, why, sizeof(why)), 0);
	ck_assert_msg(strstr(why, "no reply"), "%s", why);
}
END_TEST

START_TEST(test_echo_refused)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	char why[512];
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	double t0 = now_ms();

	/* A port that was just free: bound, not listening, closed. */
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	getsockname(fd, (struct sockaddr *)&a, &alen);
	close(fd);
	ck_assert_int_lt(echo_check("127.0.0.1", ntohs(a.sin_port), "wl-1", 0.5, why, sizeof(why)), 0);
	ck_assert_msg(strstr(why, "connect") && strstr(why, "refused"), "%s", why);
	ck_assert_double_lt(now_ms() - t0, 3000);
	ck_assert_int_lt(echo_check("nowhere", 1, "wl-1", 0.5, why, sizeof(why)), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("suite_peer");
	TCase *stream = tcase_create("stream"), *echo = tcase_create("echo");

	tcase_add_checked_fixture(stream, setup_peer, teardown_peer);
	tcase_set_timeout(stream, 60);
	tcase_add_test(stream, test_intact);
	tcase_add_test(stream, test_dropped_byte);
	tcase_add_test(stream, test_duplicated_range);
	tcase_add_test(stream, test_early_eof);
	tcase_add_test(stream, test_silence_tolerated);
	tcase_add_test(stream, test_reset);
	tcase_add_test(stream, test_no_connection);
	tcase_add_test(stream, test_never_ends);
	tcase_add_test(stream, test_second_connection);
	suite_add_tcase(s, stream);
	tcase_set_timeout(echo, 30);
	tcase_add_test(echo, test_start_errors);
	tcase_add_test(echo, test_echo);
	tcase_add_test(echo, test_echo_refused);
	suite_add_tcase(s, echo);
	return unit_run(s) ? EXIT_FAILURE : EXIT_SUCCESS;
}
