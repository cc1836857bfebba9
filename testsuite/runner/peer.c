/* The harness end of the tcp workload's connection (seqstream.h): accept
 * exactly one connection, stream our sequence at a limited rate while
 * checking the workload's, and on its end of stream check its end marker,
 * send ours and shut down our write side.
 *
 * The connection goes silent while the workload is frozen and moved: that
 * is the point of the test, so silence is never an error here. Only the
 * caller's deadline in tcp_peer_finish() ends the wait. A damaged stream
 * does not stop the exchange either: we keep going so that the workload
 * finishes normally and its own verdict stays about its own checks.
 *
 * One thread does all the socket work; it holds the lock while it touches
 * the state, never while it waits. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "../lib/seqstream.h"
#include "suite.h"
#include "util.h"

#define TICK_MS 10
#define BURST_MS 100		/* rate budget saved up at most */
#define DEFAULT_KBPS 256
#define MAX_KBPS 1048576

struct tcp_peer {
	int listen_fd, conn_fd, wake_fd, port;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t changed;
	/* Under lock. */
	bool connected;		/* a connection came (it may be closed now) */
	bool rx_eof;		/* the workload shut down its write side */
	bool tx_done;		/* our end marker went out and our write side is shut */
	bool broken;		/* the connection failed (reset, ...): nothing more will come */
	char failure[256];	/* first irregular event (reset, second connection); "" if none */
	char remote[80];
	struct seq_state tx, rx;
	double per_ms, budget, last_ms;
	_Atomic uint64_t received;
};

/* ---------------------------------------------------------------- helpers */

static void note_failure(struct tcp_peer *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note_failure(struct tcp_peer *p, const char *fmt, ...)
{
	va_list ap;

	if (p->failure[0])
		return;
	va_start(ap, fmt);
	vsnprintf(p->failure, sizeof(p->failure), fmt, ap);
	va_end(ap);
}

static const char *format_addr(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";
	int port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		port = ntohs(a->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		port = ntohs(a->sin6_port);
	}
	snprintf(buf, len, ss->ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d", host, port);
	return buf;
}

/* A numeric address and port; 0 or -1 with err. */
static int resolve(const char *addr, int port, struct addrinfo **ai, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
	char service[16];
	int e;

	if (port < 0 || port > 65535) {
		snprintf(err, errlen, "port %d out of range", port);
		return -1;
	}
	snprintf(service, sizeof(service), "%d", port);
	e = getaddrinfo(addr, service, &hints, ai);
	if (e) {
		snprintf(err, errlen, "'%s' is not a numeric IP address: %s", addr, gai_strerror(e));
		return -1;
	}
	return 0;
}

/* CRMIG_PEER_KBPS (tests speed things up with it), else 256 KiB/s. */
static int stream_rate(double *per_ms, char *err, size_t errlen)
{
	const char *env = getenv("CRMIG_PEER_KBPS");
	long kbps = DEFAULT_KBPS;

	if (env) {
		size_t digits = strspn(env, "0123456789");

		kbps = digits && digits <= 7 && !env[digits] ? strtol(env, NULL, 10) : -1;
		if (kbps < 1 || kbps > MAX_KBPS) {
			snprintf(err, errlen, "CRMIG_PEER_KBPS='%.20s': not a rate in 1..%d KiB/s", env, MAX_KBPS);
			return -1;
		}
	}
	*per_ms = kbps * 1024.0 / 1000.0;
	return 0;
}

/* ---------------------------------------------------------------- the connection */

static void close_connection(struct tcp_peer *p)
{
	close_fd(&p->conn_fd);
}

static void connection_error(struct tcp_peer *p, const char *what, int err)
{
	if (err == ECONNRESET || err == EPIPE)
		note_failure(p, "connection reset (%s at stream byte %" PRIu64 ")", what,
			     !strcmp(what, "receive") ? p->rx.offset : p->tx.offset);
	else
		note_failure(p, "%s at stream byte %" PRIu64 ": %s", what,
			     !strcmp(what, "receive") ? p->rx.offset : p->tx.offset, strerror(err));
	p->broken = true;
	close_connection(p);
}

/* The workload ended its stream: check its end, answer with ours. */
static void on_eof(struct tcp_peer *p)
{
	p->rx_eof = true;
	seq_check_eof(&p->rx, NULL);	/* records SEQ_EOF_EARLY when the marker is missing */
	seq_end(&p->tx);
}

static void receive_some(struct tcp_peer *p)
{
	for (int i = 0; i < 16 && !p->rx_eof && p->conn_fd >= 0; i++) {
		ssize_t n = seq_recv(p->conn_fd, &p->rx);

		if (n > 0) {
			atomic_fetch_add(&p->received, (uint64_t)n);
			continue;
		}
		if (n == 0)
			on_eof(p);
		else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			connection_error(p, "receive", errno);
		break;
	}
}

static void refill_budget(struct tcp_peer *p)
{
	double now = now_ms(), dt = now - p->last_ms;

	p->last_ms = now;
	p->budget += p->per_ms * (dt > BURST_MS ? BURST_MS : dt);
	if (p->budget > p->per_ms * BURST_MS)
		p->budget = p->per_ms * BURST_MS;
}

static void send_some(struct tcp_peer *p)
{
	bool ending = p->tx.end_word != SEQ_NO_END;
	ssize_t n;

	if (p->tx_done || p->conn_fd < 0)
		return;
	/* Once ending, the rest and the marker go out regardless of the rate. */
	n = seq_send(p->conn_fd, &p->tx, ending ? 64 : (size_t)p->budget);
	if (n < 0) {
		connection_error(p, "send", errno);
		return;
	}
	if (!ending) {
		p->budget -= n;
		return;
	}
	if (seq_remaining(&p->tx) == 0) {
		if (shutdown(p->conn_fd, SHUT_WR) < 0) {
			connection_error(p, "shutdown", errno);
			return;
		}
		p->tx_done = true;
		close_connection(p);	/* both directions ended: nothing more to read or write */
	}
}

static bool wants_output(const struct tcp_peer *p)
{
	return p->conn_fd >= 0 && !p->tx_done && (p->budget >= 1 || p->tx.end_word != SEQ_NO_END);
}

/* One connection only: any other is closed at once (with a reset) and
 * makes the run fail: a workload that reconnected lost its connection. */
static void accept_one(struct tcp_peer *p)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd = accept4(p->listen_fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
	struct linger reset = { .l_onoff = 1, .l_linger = 0 };
	char addr[80];

	if (fd < 0)
		return;
	if (!p->connected) {
		p->conn_fd = fd;
		p->connected = true;
		p->last_ms = now_ms();
		format_addr(&ss, p->remote, sizeof(p->remote));
		return;
	}
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
	close(fd);
	note_failure(p, "a second connection came from %s (refused; the first came from %s)",
		     format_addr(&ss, addr, sizeof(addr)), p->remote);
}

/* ---------------------------------------------------------------- thread */

static void *peer_thread(void *arg)
{
	struct tcp_peer *p = arg;

	for (;;) {
		struct pollfd fds[3] = {
			{ .fd = p->wake_fd, .events = POLLIN },
			{ .fd = p->listen_fd, .events = POLLIN },
			{ .fd = -1 },
		};

		pthread_mutex_lock(&p->lock);
		if (p->conn_fd >= 0) {
			fds[2].fd = p->conn_fd;
			fds[2].events = (p->rx_eof ? 0 : POLLIN) | (wants_output(p) ? POLLOUT : 0);
		}
		pthread_mutex_unlock(&p->lock);
		/* The tick only paces the rate limiter; with no connection, sleep until something comes. */
		if (poll(fds, 3, fds[2].fd >= 0 ? TICK_MS : -1) < 0 && errno != EINTR)
			break;
		if (fds[0].revents)
			break;
		pthread_mutex_lock(&p->lock);
		if (fds[1].revents & POLLIN)
			accept_one(p);
		if (p->conn_fd >= 0) {
			refill_budget(p);
			receive_some(p);
			send_some(p);
		}
		pthread_cond_broadcast(&p->changed);
		pthread_mutex_unlock(&p->lock);
	}
	return NULL;
}

/* ---------------------------------------------------------------- API */

static int listen_on(const char *addr, int port, int *bound, char *err, size_t errlen)
{
	struct addrinfo *ai;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	__do_close int fd = -1;
	int one = 1;

	if (resolve(addr, port, &ai, err, errlen) < 0)
		return -1;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 4) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		snprintf(err, errlen, "tcp peer: listen on %s port %d: %s", addr, port, strerror(errno));
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);
	*bound = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					       : ((struct sockaddr_in6 *)&ss)->sin6_port);
	return move_fd(fd);
}

struct tcp_peer *tcp_peer_start(const char *addr, int port, char *err, size_t errlen)
{
	struct tcp_peer *p = xzalloc(sizeof(*p));
	pthread_condattr_t ca;
	int e;

	p->conn_fd = p->wake_fd = -1;
	seq_init(&p->tx);
	seq_init(&p->rx);
	if (stream_rate(&p->per_ms, err, errlen) < 0 ||
	    (p->listen_fd = listen_on(addr, port, &p->port, err, errlen)) < 0) {
		free(p);
		return NULL;
	}
	p->wake_fd = eventfd(0, EFD_CLOEXEC);
	if (p->wake_fd < 0) {
		snprintf(err, errlen, "tcp peer: eventfd: %s", strerror(errno));
		close(p->listen_fd);
		free(p);
		return NULL;
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->changed, &ca);
	pthread_condattr_destroy(&ca);
	e = pthread_create(&p->thread, NULL, peer_thread, p);
	if (e) {
		snprintf(err, errlen, "tcp peer: thread: %s", strerror(e));
		p->thread = pthread_self();
		tcp_peer_stop(p);
		return NULL;
	}
	return p;
}

int tcp_peer_port(const struct tcp_peer *p)
{
	return p->port;
}

uint64_t tcp_peer_received(const struct tcp_peer *p)
{
	return atomic_load(&p->received);
}

static void deadline_after(double timeout_s, struct timespec *ts)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	timeout_s = timeout_s < 0 ? 0 : timeout_s > 1e6 ? 1e6 : timeout_s;
	ts->tv_sec += (time_t)timeout_s;
	ts->tv_nsec += (long)((timeout_s - (time_t)timeout_s) * 1e9);
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Nothing more will happen: the exchange completed or the connection broke. */
static bool settled(const struct tcp_peer *p)
{
	return p->broken || (p->rx_eof && p->tx_done);
}

/* The verdict from the state (under lock): 0, or -1 with why. */
static int judge(const struct tcp_peer *p, double timeout_s, char *why, size_t len)
{
	char stream[200];

	if (!p->connected) {
		snprintf(why, len, "no connection to the peer (port %d) within %.0f s", p->port, timeout_s);
		return -1;
	}
	if (p->rx.error) {
		snprintf(why, len, "received stream: %s%s%s", seq_strerror(&p->rx, stream, sizeof(stream)),
			 p->failure[0] ? "; " : "", p->failure);
		return -1;
	}
	if (p->failure[0]) {
		snprintf(why, len, "%s", p->failure);
		return -1;
	}
	if (!p->rx_eof) {
		snprintf(why, len, "stream never ended: %" PRIu64 " bytes received, no end of stream within %.0f s",
			 p->rx.offset, timeout_s);
		return -1;
	}
	if (!p->tx_done) {
		snprintf(why, len, "our end marker was not sent within %.0f s (%" PRIu64 " bytes sent)", timeout_s,
			 p->tx.offset);
		return -1;
	}
	snprintf(why, len, "stream intact: %" PRIu64 " bytes received, %" PRIu64 " sent, both ended",
		 p->rx.offset, p->tx.offset);
	return 0;
}

int tcp_peer_check(struct tcp_peer *p, char *why, size_t len)
{
	char stream[200];
	int ret = 0;

	pthread_mutex_lock(&p->lock);
	if (p->rx.error) {
		snprintf(why, len, "received stream: %s", seq_strerror(&p->rx, stream, sizeof(stream)));
		ret = -1;
	} else if (p->failure[0] || p->broken || !p->connected) {
		snprintf(why, len, "%s", p->failure[0] ? p->failure : p->connected ? "the connection broke" : "no connection");
		ret = -1;
	} else {
		snprintf(why, len, "%" PRIu64 " bytes received intact, %" PRIu64 " sent", p->rx.offset, p->tx.offset);
	}
	pthread_mutex_unlock(&p->lock);
	return ret;
}

int tcp_peer_finish(struct tcp_peer *p, double timeout_s, char *why, size_t len)
{
	struct timespec deadline;
	int e = 0, ret;

	deadline_after(timeout_s, &deadline);
	pthread_mutex_lock(&p->lock);
	while (!settled(p) && e != ETIMEDOUT)
		e = pthread_cond_timedwait(&p->changed, &p->lock, &deadline);
	ret = judge(p, timeout_s, why, len);
	pthread_mutex_unlock(&p->lock);
	return ret;
}

void tcp_peer_stop(struct tcp_peer *p)
{
	uint64_t one = 1;

	if (!p)
		return;
	if (!pthread_equal(p->thread, pthread_self())) {
		(void)!write(p->wake_fd, &one, sizeof(one));
		pthread_join(p->thread, NULL);
	}
	close_fd(&p->conn_fd);
	close_fd(&p->listen_fd);
	close_fd(&p->wake_fd);
	pthread_cond_destroy(&p->changed);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

/* ---------------------------------------------------------------- echo */

/* A connected socket, retrying refusals until the deadline (the restored
 * listener may be a moment late); -1 with why. */
static int connect_until(const struct addrinfo *ai, double deadline, char *why, size_t len)
{
	for (;;) {
		__do_close int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		int err = 0, left = (int)(deadline - now_ms());
		socklen_t elen = sizeof(err);

		if (fd < 0) {
			snprintf(why, len, "echo: socket: %s", strerror(errno));
			return -1;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS)
			err = errno;
		else if (poll(&pfd, 1, left > 0 ? left : 0) != 1)
			err = ETIMEDOUT;
		else
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen);
		if (!err)
			return move_fd(fd);
		if (err != ECONNREFUSED || now_ms() + 100 > deadline) {
			snprintf(why, len, "echo: connect: %s", strerror(err));
			return -1;
		}
		usleep(100 * 1000);
	}
}

/* One line (up to '\n', EOF or cap-1 bytes) before the deadline; its length or -1. */
static ssize_t read_reply(int fd, char *buf, size_t cap, double deadline)
{
	size_t n = 0;

	while (n < cap - 1 && (n == 0 || buf[n - 1] != '\n')) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int left = (int)(deadline - now_ms());
		ssize_t r;

		if (left <= 0 || poll(&pfd, 1, left) != 1)
			return -1;
		r = recv(fd, buf + n, cap - 1 - n, MSG_DONTWAIT);
		if (r == 0)
			break;
		if (r < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		n += r > 0 ? r : 0;
	}
	buf[n] = '\0';
	return n;
}

/* A token nobody could guess or have cached: the reply must be fresh. */
static void make_token(char *token, size_t len)
{
	uint64_t r = 0;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		r = (uint64_t)now_ms() ^ ((uint64_t)getpid() << 32);
	snprintf(token, len, "crmig-%016" PRIx64, r);
}

/* What came back, printable, for the message. */
static void printable(const char *s, size_t n, char *out, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 1 < len; i++)
		out[o++] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	out[o] = '\0';
}

static int echo_exchange(int fd, const char *expect_id, double deadline, char *why, size_t len)
{
	char token[SEQ_TOKEN_MAX + 1], req[SEQ_ECHO_LINE_MAX + 1], reply[SEQ_ECHO_LINE_MAX + 2];
	char id[SEQ_ECHO_ID_MAX + 1], shown[SEQ_ECHO_LINE_MAX + 1];
	int n;
	ssize_t got;

	make_token(token, sizeof(token));
	n = seq_echo_request(req, sizeof(req), token);
	if (n < 0 || send(fd, req, n, MSG_NOSIGNAL) != n) {
		snprintf(why, len, "echo: request not sent: %s", strerror(errno));
		return -1;
	}
	got = read_reply(fd, reply, sizeof(reply), deadline);
	if (got <= 0) {
		snprintf(why, len, "echo: no reply to token %s", token);
		return -1;
	}
	printable(reply, (size_t)got, shown, sizeof(shown));
	if (seq_echo_parse_reply(reply, (size_t)got, token, id) < 0) {
		snprintf(why, len, "echo: reply '%s' does not echo token %s", shown, token);
		return -1;
	}
	if (strcmp(id, expect_id) != 0) {
		snprintf(why, len, "echo: answered by id '%s', expected '%s'", id, expect_id);
		return -1;
	}
	snprintf(why, len, "echo: token %s answered by %s", token, id);
	return 0;
}

int echo_check(const char *addr, int port, const char *expect_id, double timeout_s, char *why, size_t len)
{
	double deadline = now_ms() + (timeout_s > 0 ? timeout_s * 1000 : 0);
	struct addrinfo *ai;
	__do_close int fd = -1;

	if (resolve(addr, port, &ai, why, len) < 0)
		return -1;
	fd = connect_until(ai, deadline, why, len);
	freeaddrinfo(ai);
	if (fd < 0)
		return -1;
	return echo_exchange(fd, expect_id, deadline, why, len);
}
