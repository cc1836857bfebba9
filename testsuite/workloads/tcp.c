/* tcp: one established connection to the harness's peer, sequence-numbered
 * data streaming both ways (seqstream.h), kept across the migration.
 *
 *	tcp --dir DIR --peer ADDR:PORT [--listen PORT] [--bind IP] [--rate KBPS]
 *	    [--after-ms N] [--close-ms N] [--echo-ms N] [--size-mb N [--dirty-rate PCT]]
 *	    [common options]
 *
 * After the migration signal it streams for --after-ms more, checks the
 * connection is the same one (addresses, ports, still established), sends
 * its end marker and shuts down its write side, then waits (--close-ms) for
 * the peer's end marker and EOF. With --listen it also serves echo exchanges
 * after the signal and needs one within --echo-ms of it.
 * --corrupt skips one byte of the outgoing stream after the signal: only the
 * harness can see that (its check must fail); the workload's own verdict
 * stays about what it received.
 * --size-mb holds that much memory beside the stream (memregion.h: pattern
 * pages, a writer, every page checked with the stream). SIGUSR1 asks for a
 * round check without ending (the soak): the same connection, data from the
 * peer since the last round, every page; the answer is DIR/round. */
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../lib/memregion.h"
#include "../lib/seqstream.h"
#include "../lib/wl.h"
#include "util.h"

#define TICK_MS 10
#define BURST_MS 100	/* most rate budget saved up after a stall */
#define CONNECT_MS 10000
#define ECHO_IO_MS 2000
/* A round waits this long for the peer's data after a move: the peer's
 * retransmission timer backed off while we were frozen (RTO doubles, up to
 * 120 s), so after a freeze of ~20 s under TCG its next try can be ~20 s away. */
#define ROUND_DATA_MS 60000

static struct wl_addr peer, bind_ip;
static long listen_port, rate_kbps = 256, after_ms = 1000, close_ms = 10000, echo_ms = 10000;
static long size_mb, dirty_rate = 1;

static const struct wl_opt opts[] = {
	{ "peer", WL_OPT_ADDR, &peer, 0, 0, NULL, "ADDR:PORT  the harness's stream peer", true },
	{ "listen", WL_OPT_INT, &listen_port, 1, 65535, NULL, "PORT  serve echo exchanges after the signal" },
	{ "bind", WL_OPT_IP, &bind_ip, 0, 0, NULL, "IP  local address for the connection and the listener" },
	{ "rate", WL_OPT_INT, &rate_kbps, 1, 1048576, NULL, "KBPS  outgoing stream rate in KiB/s (default 256)" },
	{ "after-ms", WL_OPT_INT, &after_ms, 0, 600000, NULL, "N  keep streaming N ms after the signal (default 1000)" },
	{ "close-ms", WL_OPT_INT, &close_ms, 100, 600000, NULL, "N  wait for the peer's end (default 10000)" },
	{ "echo-ms", WL_OPT_INT, &echo_ms, 100, 600000, NULL, "N  wait for an echo client after the signal (default 10000)" },
	{ "size-mb", WL_OPT_INT, &size_mb, 0, 1024, NULL, "N  also hold N MiB of checked pages (default 0: none)" },
	{ "dirty-rate", WL_OPT_INT, &dirty_rate, 0, 100, NULL, "PCT  percent of those pages dirtied per second (default 1)" },
	{ NULL },
};

struct addrs {
	struct sockaddr_storage local, remote;
	socklen_t local_len, remote_len;
};

struct conn {
	int fd;
	struct seq_state tx, rx;
	struct addrs before;
	bool rx_eof, tx_shut;
	uint64_t tx_at_signal, rx_at_signal;
	double budget;		/* bytes we may send now */
	double last_ms;
};

static int listen_fd = -1;
static unsigned echo_done;

/* ---------------------------------------------------------------- setup */

static int bind_local(int fd, in_port_t port)
{
	struct wl_addr a = bind_ip;

	if (!a.set) {
		memset(&a, 0, sizeof(a));
		a.ss.ss_family = peer.ss.ss_family;
		a.len = peer.len;
	}
	if (a.ss.ss_family == AF_INET)
		((struct sockaddr_in *)&a.ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)&a.ss)->sin6_port = htons(port);
	return bind(fd, (struct sockaddr *)&a.ss, a.len);
}

static void get_addrs(int fd, struct addrs *a)
{
	a->local_len = sizeof(a->local);
	a->remote_len = sizeof(a->remote);
	if (getsockname(fd, (struct sockaddr *)&a->local, &a->local_len) < 0 ||
	    getpeername(fd, (struct sockaddr *)&a->remote, &a->remote_len) < 0)
		wl_fail("connection addresses: %s", strerror(errno));
}

static void wait_connected(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	int err = 0;
	socklen_t len = sizeof(err);

	if (poll(&p, 1, CONNECT_MS) != 1)
		wl_fail("connect to the peer: timed out after %d ms", CONNECT_MS);
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
	if (err)
		wl_fail("connect to the peer: %s", strerror(err));
}

static void connect_peer(struct conn *c)
{
	char l[80], r[80];

	c->fd = socket(peer.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		wl_fail("socket: %s", strerror(errno));
	if (bind_ip.set && bind_local(c->fd, 0) < 0)
		wl_fail("bind --bind address: %s", strerror(errno));
	if (connect(c->fd, (struct sockaddr *)&peer.ss, peer.len) < 0 && errno != EINPROGRESS)
		wl_fail("connect to the peer: %s", strerror(errno));
	wait_connected(c->fd);
	get_addrs(c->fd, &c->before);
	wl_log("connected %s -> %s", wl_format_addr((struct sockaddr *)&c->before.local, l, sizeof(l)),
	       wl_format_addr((struct sockaddr *)&c->before.remote, r, sizeof(r)));
	wl_note("local", "%s", l);
	wl_note("remote", "%s", r);
}

/* Listening from the start, so the socket is part of the migrated state;
 * clients are accepted only after the signal (an unaccepted connection
 * would be in flight during the dump). */
static void start_listener(void)
{
	int one = 1;

	if (!listen_port)
		return;
	listen_fd = socket(bind_ip.set ? bind_ip.ss.ss_family : peer.ss.ss_family,
			   SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (listen_fd < 0)
		wl_fail("listen socket: %s", strerror(errno));
	setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind_local(listen_fd, (in_port_t)listen_port) < 0 || listen(listen_fd, 8) < 0)
		wl_fail("listen on port %ld: %s", listen_port, strerror(errno));
	wl_log("listening on port %ld", listen_port);
}

/* ---------------------------------------------------------------- echo */

/* Read one request line (up to '\n'), with a deadline; its length or -1. */
static ssize_t read_line(int fd, char *buf, size_t cap)
{
	size_t n = 0;

	while (n < cap && (n == 0 || buf[n - 1] != '\n')) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (poll(&p, 1, ECHO_IO_MS) != 1)
			return -1;
		r = recv(fd, buf + n, cap - n, MSG_DONTWAIT);
		if (r <= 0)
			return r == 0 ? (ssize_t)n : -1;
		n += r;
	}
	return n;
}

static void serve_echo_client(int fd)
{
	char req[SEQ_ECHO_LINE_MAX + 1], reply[SEQ_ECHO_LINE_MAX + 1], token[SEQ_TOKEN_MAX + 1];
	ssize_t n = read_line(fd, req, sizeof(req) - 1);
	int len;

	if (n > 0 && seq_echo_parse_request(req, n, token) == 0 &&
	    (len = seq_echo_reply(reply, sizeof(reply), token, wl.id)) > 0) {
		if (send(fd, reply, len, MSG_NOSIGNAL) == len) {
			echo_done++;
			wl_log("echo exchange %u: token %s", echo_done, token);
			return;
		}
		wl_log("echo: reply not sent: %s", strerror(errno));
		return;
	}
	(void)!send(fd, "ERR bad request\n", 16, MSG_NOSIGNAL | MSG_DONTWAIT);
	wl_log("echo: bad request (%zd bytes) rejected", n);
}

static void accept_echo(void)
{
	__do_close int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd >= 0)
		serve_echo_client(fd);
}

/* ---------------------------------------------------------------- streaming */

static void refill_budget(struct conn *c)
{
	double now = now_ms(), dt = now - c->last_ms, per_ms = rate_kbps * 1024.0 / 1000.0;

	/* Clamp: across the move CLOCK_MONOTONIC jumps (either way). */
	if (dt < 0 || dt > BURST_MS)
		dt = dt < 0 ? 0 : BURST_MS;
	c->last_ms = now;
	c->budget += per_ms * dt;
	if (c->budget > per_ms * BURST_MS)
		c->budget = per_ms * BURST_MS;
}

static void send_some(struct conn *c)
{
	ssize_t n;

	if (c->tx_shut)
		return;
	if (c->tx.end_word != SEQ_NO_END) {
		/* Ending: the last bytes and the marker go out regardless of rate. */
		n = seq_send(c->fd, &c->tx, 64);
		if (n >= 0 && seq_remaining(&c->tx) == 0) {
			if (shutdown(c->fd, SHUT_WR) < 0)
				wl_fail("shutdown(SHUT_WR): %s", strerror(errno));
			c->tx_shut = true;
			wl_log("sent %" PRIu64 " bytes with the end marker; write side shut down", c->tx.offset);
		}
	} else {
		n = seq_send(c->fd, &c->tx, (size_t)c->budget);
		if (n > 0)
			c->budget -= n;
	}
	if (n < 0)
		wl_fail("send at stream byte %" PRIu64 ": %s", c->tx.offset, strerror(errno));
	atomic_store(&wl_counter, c->tx.offset);
}

static void receive_all(struct conn *c)
{
	char why[200];

	for (int i = 0; i < 16 && !c->rx_eof; i++) {
		ssize_t n = seq_recv(c->fd, &c->rx);

		if (n == 0)
			c->rx_eof = true;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			break;
		if (n < 0)
			wl_fail("receive at stream byte %" PRIu64 ": %s", c->rx.offset, strerror(errno));
		if (c->rx.error)
			wl_fail("received %s", seq_strerror(&c->rx, why, sizeof(why)));
	}
	if (c->rx_eof && !wl_migrated())
		wl_fail("the peer closed the connection before the migration signal (%" PRIu64 " bytes in)",
			c->rx.offset);
}

/* One turn of the loop: wait up to a tick, then move data both ways. */
static void turn(struct conn *c)
{
	struct pollfd p[2] = { { .fd = c->fd }, { .fd = -1, .events = POLLIN } };

	/* At end of file the socket stays readable: stop asking, or we spin. */
	if (!c->rx_eof)
		p[0].events |= POLLIN;
	if (!c->tx_shut && (c->budget >= 1 || c->tx.end_word != SEQ_NO_END))
		p[0].events |= POLLOUT;
	if (listen_fd >= 0 && wl_migrated())
		p[1].fd = listen_fd;
	if (poll(p, 2, TICK_MS) < 0 && errno != EINTR)
		wl_fail("poll: %s", strerror(errno));
	refill_budget(c);
	receive_all(c);
	send_some(c);
	if (p[1].revents & POLLIN)
		accept_echo();
}

/* ---------------------------------------------------------------- checks */

static bool same_addr(const struct sockaddr_storage *a, socklen_t alen, const struct sockaddr_storage *b,
		      socklen_t blen)
{
	return alen == blen && memcmp(a, b, alen) == 0;
}

static void check_same_connection(struct conn *c)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	struct addrs now;
	char a[80], b[80];
	int err = 0;
	socklen_t elen = sizeof(err);

	get_addrs(c->fd, &now);
	if (!same_addr(&now.local, now.local_len, &c->before.local, c->before.local_len))
		wl_fail("local address changed: %s, was %s", wl_format_addr((struct sockaddr *)&now.local, a, sizeof(a)),
			wl_format_addr((struct sockaddr *)&c->before.local, b, sizeof(b)));
	if (!same_addr(&now.remote, now.remote_len, &c->before.remote, c->before.remote_len))
		wl_fail("peer address changed: %s, was %s",
			wl_format_addr((struct sockaddr *)&now.remote, a, sizeof(a)),
			wl_format_addr((struct sockaddr *)&c->before.remote, b, sizeof(b)));
	getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &elen);
	if (err)
		wl_fail("connection error after the migration: %s", strerror(err));
	if (getsockopt(c->fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 && ti.tcpi_state != 1 /* ESTABLISHED */)
		wl_fail("connection not established after the migration (TCP state %u)", ti.tcpi_state);
	wl_log("same connection after the migration; %" PRIu64 " bytes out, %" PRIu64 " in since the signal",
	       c->tx.offset - c->tx_at_signal, c->rx.offset - c->rx_at_signal);
}

static void on_signal(struct conn *c)
{
	c->tx_at_signal = c->tx.offset;
	c->rx_at_signal = c->rx.offset;
	if (wl.corrupt) {
		wl_log("--corrupt: skipping outgoing stream byte %" PRIu64, c->tx.offset);
		wl_note("corrupt_offset", "%" PRIu64, c->tx.offset);
		c->tx.offset++;
	}
}

static void run_until(struct conn *c, double deadline, bool (*done)(const struct conn *))
{
	while (!done(c) && now_ms() < deadline)
		turn(c);
}

static bool never(const struct conn *c)
{
	(void)c;
	return false;
}

static bool closed(const struct conn *c)
{
	return c->tx_shut && c->rx_eof;
}

static bool echoed(const struct conn *c)
{
	(void)c;
	return echo_done > 0;
}

/* ---------------------------------------------------------------- rounds */

static uint64_t rx_at_round;

static bool new_data(const struct conn *c)
{
	return c->rx.offset > rx_at_round;
}

/* Memory beside the stream: every page against its record (writer paused). */
static bool memory_intact(char *text, size_t len)
{
	bool ok;

	if (!size_mb)
		return true;
	mr_writer_stop();
	ok = mr_verify(text, len) == 0;
	mr_writer_start(dirty_rate, false);
	return ok;
}

/* Each request: the same connection (else the verdict fails), the peer's
 * stream flowing again (every byte of it was checked as it came), every page. */
static void answer_rounds(struct conn *c, unsigned *answered)
{
	char text[400];

	while (*answered < wl_round_requested()) {
		check_same_connection(c);
		run_until(c, now_ms() + ROUND_DATA_MS, new_data);
		if (!new_data(c)) {
			struct tcp_info ti = { 0 };
			socklen_t len = sizeof(ti);

			getsockopt(c->fd, IPPROTO_TCP, TCP_INFO, &ti, &len);
			snprintf(text, sizeof(text),
				 "no data from the peer within %d ms of the round (%" PRIu64 " bytes in; socket: state %u, "
				 "rto %u ms, retransmits %u, unacked %u, lost %u, rcv_wnd %u)",
				 ROUND_DATA_MS, c->rx.offset, ti.tcpi_state, ti.tcpi_rto / 1000, ti.tcpi_retransmits,
				 ti.tcpi_unacked, ti.tcpi_lost, ti.tcpi_rcv_space);
		}
		else if (memory_intact(text, sizeof(text)))
			text[0] = '\0';
		rx_at_round = c->rx.offset;
		wl_round_result(++*answered, text[0] ? text : NULL);
	}
}

static void finish_stream(struct conn *c)
{
	char why[200];

	check_same_connection(c);
	seq_end(&c->tx);
	run_until(c, now_ms() + close_ms, closed);
	if (!c->tx_shut)
		wl_fail("could not send the end of the stream within %ld ms", close_ms);
	if (!c->rx_eof)
		wl_fail("the peer did not end its stream within %ld ms (%" PRIu64 " bytes in)", close_ms, c->rx.offset);
	if (seq_check_eof(&c->rx, NULL) < 0)
		wl_fail("received %s", seq_strerror(&c->rx, why, sizeof(why)));
	if (c->rx.offset - 8 <= c->rx_at_signal)
		wl_fail("no data received after the migration signal");
	wl_log("peer's stream intact: %" PRIu64 " bytes with its end marker", c->rx.offset);
}

int main(int argc, char **argv)
{
	struct conn c = { .fd = -1 };
	double signal_ms;
	unsigned answered = 0;
	char text[400];

	wl_init(argc, argv, opts);
	if (bind_ip.set && bind_ip.ss.ss_family != peer.ss.ss_family)
		wl_fail("--bind and --peer must be the same address family");
	seq_init(&c.tx);
	seq_init(&c.rx);
	connect_peer(&c);
	start_listener();
	c.last_ms = now_ms();
	if (size_mb) {
		mr_setup(size_mb, MR_ANON, wl.dir);
		mr_writer_start(dirty_rate, false);
	}
	wl_rounds_enable();
	wl_ready();

	while (!wl_migrated()) {
		turn(&c);
		answer_rounds(&c, &answered);
	}
	wl_log("migration signal received (%" PRIu64 " bytes out, %" PRIu64 " in)", c.tx.offset, c.rx.offset);
	signal_ms = now_ms();
	on_signal(&c);
	run_until(&c, signal_ms + after_ms, never);
	finish_stream(&c);
	if (listen_fd >= 0 && !echo_done) {
		run_until(&c, signal_ms + echo_ms, echoed);
		if (!echo_done)
			wl_fail("no echo exchange on port %ld within %ld ms of the signal", listen_port, echo_ms);
	}
	if (size_mb && !memory_intact(text, sizeof(text)))
		wl_fail("memory beside the stream: %s", text);
	wl_note("sent_bytes", "%" PRIu64, c.tx.offset);
	wl_note("received_bytes", "%" PRIu64, c.rx.offset);
	wl_note("echo_exchanges", "%u", echo_done);
	wl_pass();
}
