#include "relay.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>

#include "fault.h"
#include "tls.h"
#include "util.h"


struct relay {
	pthread_t thread;
	int plain;
	int tcp;
	gnutls_session_t s;
};

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

static void *relay_main(void *arg)
{
	struct relay *r = arg;
	bool plain_open = true, tls_open = true, failed = false;
	char buf[65536];

	while ((plain_open || tls_open) && !failed) {
		struct pollfd p[2] = { { .fd = plain_open ? r->plain : -1, .events = POLLIN },
				       { .fd = tls_open ? r->tcp : -1, .events = POLLIN } };

		/* Records already decrypted by GnuTLS do not show on the socket. */
		if (!(tls_open && gnutls_record_check_pending(r->s)) && poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (plain_open && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t n = read(r->plain, buf, sizeof(buf));

			if (n <= 0) {
				plain_open = false;
				gnutls_bye(r->s, GNUTLS_SHUT_WR);
			} else {
				if (fault_take_corruption()) /* CRMIG_FAULT=...:corrupt */
					buf[n / 2] ^= 0x55;

				for (ssize_t off = 0; off < n;) {
					ssize_t w = gnutls_record_send(r->s, buf + off, (size_t)(n - off));
					if (w == GNUTLS_E_AGAIN || w == GNUTLS_E_INTERRUPTED)
						continue;
					if (w < 0) {
						failed = true;
						break;
					}
					off += w;
				}
			}
		}
		if (tls_open && !failed && (gnutls_record_check_pending(r->s) || (p[1].revents & (POLLIN | POLLHUP | POLLERR)))) {
			ssize_t n = gnutls_record_recv(r->s, buf, sizeof(buf));

			if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
				continue;
			if (n == 0) {
				tls_open = false;
				shutdown(r->plain, SHUT_WR);
			} else if (n < 0 || write_full(r->plain, buf, (size_t)n) < 0) {
				failed = n < 0;
				tls_open = false;
			}
		}
	}
	if (failed)
		poison(r->plain);
	return NULL;
}

struct relay *relay_start(int plain_fd, gnutls_session_t s, int tcp_fd)
{
	struct relay *r = xzalloc(sizeof(*r));

	r->plain = plain_fd;
	r->s = s;
	r->tcp = tcp_fd;
	/* Each read is forwarded at once as one record: Nagle would hold back
	 * the small requests of a lazy stream behind unacknowledged data. */
	setsockopt(tcp_fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	if (pthread_create(&r->thread, NULL, relay_main, r) != 0) {
		free(r);
		return NULL;
	}
	return r;
}

void relay_join(struct relay *r)
{
	if (!r)
		return;
	pthread_join(r->thread, NULL);
	close(r->plain);
	tls_close(r->s);
	close(r->tcp);
	free(r);
}

void relay_stop(struct relay *r)
{
	if (!r)
		return;
	shutdown(r->tcp, SHUT_RDWR);
	shutdown(r->plain, SHUT_RDWR);
	relay_join(r);
}
