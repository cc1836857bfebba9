#include "relay.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <gnutls/crypto.h>

#include "digest.h"
#include "fault.h"
#include "tls.h"
#include "util.h"


/* criu's page-server protocol, as the lazy-pages daemon speaks it to the
 * source: fixed records of struct page_server_iov { u32 cmd; u32 nr_pages;
 * u64 vaddr; u64 dst_id; } (criu/page-xfer.c), the command in cmd's low 16
 * bits; it ends with PS_IOV_FLUSH_N_CLOSE (or PS_IOV_FLUSH) and waits for a
 * status. 24 bytes up to criu 4.1; criu 4.2 made nr_pages a u64, and with
 * the padding after cmd a record is 32 bytes (relay_ps_iov_size). A relay
 * that framed 4.2's records by 24 held the last 8 bytes of each request
 * back (lab, sid: the first lazy page never came, restore killed after
 * 300 s). */
#define PS_IOV_SIZE_MAX 32
#define PS_IOV_FLUSH 0x1023
#define PS_IOV_FLUSH_N_CLOSE 0x1024

struct relay {
	pthread_t thread;
	int plain;
	int tcp;
	gnutls_session_t s;
	/* What crosses, each way, as the relay's two ends see it: criu's bytes
	 * before they are sent (sent), the bytes given to criu (received). */
	pthread_mutex_t lock;
	gnutls_hash_hd_t sent, received;
	uint64_t sent_bytes, received_bytes;
	/* A gated relay (relay_start_gated) holds criu's closing request until
	 * relay_open_gate(); bytes not yet sent wait in pend. */
	bool gated;
	atomic_bool gate_open;
	int wake;                 /* eventfd: the gate opened */
	unsigned char pend[65536 + PS_IOV_SIZE_MAX];
	size_t iov;               /* criu's page_server_iov size on this stream */
	size_t pend_len;
	bool closing;             /* criu here sent its closing request (held in pend while the gate is shut) */
	void (*on_break)(void *); /* relay_on_break() */
	void *break_arg;
	/* With on_break: the peer's requests (a lazy-pages daemon's, 24 bytes
	 * each) as they reach criu, to know whether its close went through */
	atomic_bool watching;
	uint64_t rx_off;
	unsigned char rx_cmd[4];
	bool peer_closed;
};

static void account(struct relay *r, gnutls_hash_hd_t h, uint64_t *count, const void *buf, size_t n)
{
	pthread_mutex_lock(&r->lock);
	if (h)
		gnutls_hash(h, buf, n);
	*count += n;
	pthread_mutex_unlock(&r->lock);
}

int relay_digest(struct relay *r, bool sent, char hex[65], uint64_t *bytes)
{
	unsigned char d[32];
	gnutls_hash_hd_t copy;

	if (!r)
		return -1;
	pthread_mutex_lock(&r->lock);
	copy = sent ? r->sent : r->received;
	copy = copy ? gnutls_hash_copy(copy) : NULL;
	*bytes = sent ? r->sent_bytes : r->received_bytes;
	pthread_mutex_unlock(&r->lock);
	if (!copy)
		return -1;
	gnutls_hash_deinit(copy, d);
	hex_encode(d, sizeof(d), hex);
	return 0;
}

const char *relay_needed(bool lazy, bool source)
{
	if (lazy && source)
		return "the lazy page stream (its relay makes a break an error for criu, never a clean end that would "
		       "end the source)";
	if (lazy)
		return "the lazy page stream (its relay holds the daemon's close until the commit)";
	if (fault_stream_corruption_planned())
		return "a corrupt fault is set (it damages the relay's bytes)";
	return NULL;
}

int relay_loopback_pair(int fds[2])
{
	/* A unix socket pair, not loopback TCP: criu corks its page socket, and
	 * on loopback (64 KiB segments) a corked partial segment waits 200 ms,
	 * which makes a lazy stream crawl. On a unix socket criu's TCP_CORK just
	 * fails with a warning in its log. */
	return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds);
}

static void poison(int fd)
{
	static const unsigned char garbage[64] = { [0 ... 63] = 0xff };

	write_full(fd, garbage, sizeof(garbage));
}

/* criu's bytes to the peer: summed first (relay_digest), then sent. -1 if
 * the TLS side failed. */
static int send_out(struct relay *r, unsigned char *buf, size_t n)
{
	account(r, r->sent, &r->sent_bytes, buf, n);
	if (fault_take_corruption()) /* CRMIG_FAULT=...:corrupt */
		buf[n / 2] ^= 0x55;
	for (size_t off = 0; off < n;) {
		ssize_t w = gnutls_record_send(r->s, buf + off, n - off);

		if (w == GNUTLS_E_AGAIN || w == GNUTLS_E_INTERRUPTED)
			continue;
		if (w < 0)
			return -1;
		off += (size_t)w;
	}
	return 0;
}

static bool is_closing(const unsigned char *rec)
{
	uint32_t cmd;

	memcpy(&cmd, rec, sizeof(cmd)); /* criu's own byte order: the same host kind both ends */
	cmd &= 0xffff;
	return cmd == PS_IOV_FLUSH || cmd == PS_IOV_FLUSH_N_CLOSE;
}

/* Gated: sends the whole records in pend up to the closing request (held
 * until the gate opens), or everything once it is open. -1 on a TLS failure. */
static int send_pending(struct relay *r)
{
	bool open = atomic_load(&r->gate_open);
	size_t n = 0;

	/* whole records only: a closing request is seen whole, and a partial
	 * one waits for its rest */
	while (r->pend_len - n >= r->iov) {
		if (is_closing(r->pend + n))
			r->closing = true;
		if (r->closing && !open)
			break; /* held, and whatever follows it */
		n += r->iov;
	}
	if (n && send_out(r, r->pend, n) < 0)
		return -1;
	memmove(r->pend, r->pend + n, r->pend_len - n);
	r->pend_len -= n;
	return 0;
}

/* The peer's stream as a sequence of page_server_iov requests: the close
 * (PS_IOV_FLUSH_N_CLOSE) seen? */
static void watch_requests(struct relay *r, const unsigned char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++, r->rx_off++) {
		size_t at = r->rx_off % r->iov;

		if (at < sizeof(r->rx_cmd))
			r->rx_cmd[at] = buf[i];
		if (at == sizeof(r->rx_cmd) - 1 && is_closing(r->rx_cmd))
			r->peer_closed = true;
	}
}

static void *relay_main(void *arg)
{
	struct relay *r = arg;
	bool plain_open = true, tls_open = true, failed = false, drain = false;
	char buf[65536];

	while ((plain_open || tls_open) && !failed) {
		bool gating = r->gated && !atomic_load(&r->gate_open);
		struct pollfd p[3] = { { .fd = plain_open && r->pend_len < sizeof(buf) ? r->plain : -1, .events = POLLIN },
				       { .fd = tls_open ? r->tcp : -1, .events = POLLIN },
				       { .fd = gating ? r->wake : -1, .events = POLLIN } };

		/* Records already decrypted by GnuTLS do not show on the socket. */
		if (!(tls_open && gnutls_record_check_pending(r->s)) && poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[2].revents & POLLIN) { /* the gate opened: what it held goes now */
			uint64_t one;

			if (read(r->wake, &one, sizeof(one)) < 0 && errno != EAGAIN)
				break;
			if (send_pending(r) < 0)
				failed = true;
		}
		if (plain_open && !failed && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t n = read(r->plain, r->gated ? (char *)r->pend + r->pend_len : buf,
					 r->gated ? sizeof(buf) - r->pend_len : sizeof(buf));

			if (n <= 0 && r->gated && (!atomic_load(&r->gate_open) || !r->closing)) {
				/* criu here ended before the gate opened (the session
				 * is going, the workload not handed over), or without
				 * its closing request (the lazy-pages daemon died): the
				 * peer must see a broken stream, never a finished one
				 * (criu takes a clean end for "every page sent" and ends
				 * the source), so that its criu resumes the source */
				shutdown(r->tcp, SHUT_RDWR);
				plain_open = tls_open = false;
			} else if (n <= 0) {
				plain_open = false;
				if (r->pend_len && send_pending(r) < 0)
					failed = true;
				else
					gnutls_bye(r->s, GNUTLS_SHUT_WR);
			} else if (r->gated) {
				r->pend_len += (size_t)n;
				if (send_pending(r) < 0)
					failed = true;
			} else if (send_out(r, (unsigned char *)buf, (size_t)n) < 0) {
				failed = true;
			}
		}
		if (tls_open && !failed && (gnutls_record_check_pending(r->s) || (p[1].revents & (POLLIN | POLLHUP | POLLERR)))) {
			ssize_t n = gnutls_record_recv(r->s, buf, sizeof(buf));

			if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
				continue;
			if (n == 0) {
				tls_open = false;
				shutdown(r->plain, SHUT_WR);
			} else if (n < 0) {
				failed = true;
				tls_open = false;
			} else if (!drain && write_full(r->plain, buf, (size_t)n) < 0) {
				/* criu's end is gone (a page server that died: a full
				 * disk). Taking no more would leave the peer's relay
				 * blocked in its send, and its criu, with the workload
				 * frozen, for ever: its bytes are taken and dropped
				 * instead, and the end of our plain side (the bye above)
				 * tells its criu that nobody answers any more. */
				drain = true;
			} else if (!drain) {
				account(r, r->received, &r->received_bytes, buf, (size_t)n);
				if (atomic_load(&r->watching))
					watch_requests(r, (unsigned char *)buf, (size_t)n);
			}
		}
	}
	if (failed) {
		void (*fn)(void *);
		void *arg;

		pthread_mutex_lock(&r->lock);
		fn = r->on_break;
		arg = r->break_arg;
		pthread_mutex_unlock(&r->lock);
		/* before criu learns of it; not once the daemon's close went
		 * through: criu then ends the source, it resumes nothing */
		if (fn && !r->peer_closed)
			fn(arg);
		poison(r->plain);
	}
	return NULL;
}

void relay_on_break(struct relay *r, void (*fn)(void *), void *arg)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->on_break = fn;
	r->break_arg = arg;
	pthread_mutex_unlock(&r->lock);
	atomic_store(&r->watching, fn != NULL);
}

static void relay_free(struct relay *r)
{
	if (r->sent)
		gnutls_hash_deinit(r->sent, NULL);
	if (r->received)
		gnutls_hash_deinit(r->received, NULL);
	pthread_mutex_destroy(&r->lock);
	if (r->wake >= 0)
		close(r->wake);
	free(r);
}

size_t relay_ps_iov_size(const char *criu_version)
{
	unsigned major = 0, minor = 0;

	if (!criu_version || sscanf(criu_version, "%u.%u", &major, &minor) < 1)
		return 24;
	return major > 4 || (major == 4 && minor >= 2) ? 32 : 24;
}

static struct relay *start(int plain_fd, gnutls_session_t s, int tcp_fd, size_t iov, bool gated)
{
	struct relay *r = xzalloc(sizeof(*r));

	r->iov = iov == 32 ? 32 : 24;

	r->plain = plain_fd;
	r->s = s;
	r->tcp = tcp_fd;
	r->gated = gated;
	r->wake = gated ? eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) : -1;
	if (gated && r->wake < 0) {
		free(r);
		return NULL;
	}
	pthread_mutex_init(&r->lock, NULL);
	/* without a hash (it cannot fail but for memory) the stream still flows;
	 * relay_digest() then says it has none */
	if (gnutls_hash_init(&r->sent, GNUTLS_DIG_SHA256) < 0)
		r->sent = NULL;
	if (gnutls_hash_init(&r->received, GNUTLS_DIG_SHA256) < 0)
		r->received = NULL;
	/* Each read is forwarded at once as one record: Nagle would hold back
	 * the small requests of a lazy stream behind unacknowledged data. */
	setsockopt(tcp_fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	if (pthread_create(&r->thread, NULL, relay_main, r) != 0) {
		relay_free(r);
		return NULL;
	}
	return r;
}

struct relay *relay_start(int plain_fd, gnutls_session_t s, int tcp_fd, size_t ps_iov)
{
	return start(plain_fd, s, tcp_fd, ps_iov, false);
}

struct relay *relay_start_gated(int plain_fd, gnutls_session_t s, int tcp_fd, size_t ps_iov)
{
	return start(plain_fd, s, tcp_fd, ps_iov, true);
}

void relay_open_gate(struct relay *r)
{
	if (!r || !r->gated || atomic_exchange(&r->gate_open, true))
		return;
	if (write(r->wake, &(uint64_t){ 1 }, sizeof(uint64_t)) < 0)
		perror("crmig: relay: waking the relay"); /* an eventfd write cannot fail but for overflow */
}

void relay_join(struct relay *r)
{
	if (!r)
		return;
	pthread_join(r->thread, NULL);
	close(r->plain);
	tls_close(r->s);
	close(r->tcp);
	relay_free(r);
}

void relay_stop(struct relay *r)
{
	if (!r)
		return;
	shutdown(r->tcp, SHUT_RDWR);
	shutdown(r->plain, SHUT_RDWR);
	relay_join(r);
}
