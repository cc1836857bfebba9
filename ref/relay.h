/* A page stream over crmig's own TLS. criu's --tls cannot be combined with
 * --ps-socket (criu skips its TLS handshake on a socket it is given and then
 * crashes: criu/page-xfer.c, connect_to_page_server), so criu talks plain TCP
 * over loopback to a relay thread of crmig, which carries the bytes over a
 * mutually authenticated TLS connection to the other host's relay. On the
 * source, where the kernel has TLS, crmig hands it the session instead
 * (ktls.h) and criu gets the TCP socket, but for the streams relay_needed()
 * names. */
#ifndef CRMIG_RELAY_H
#define CRMIG_RELAY_H

#include <gnutls/gnutls.h>
#include <stdbool.h>
#include <stdint.h>

struct relay;

/* Whether this host's end of a page stream must go through a relay rather
 * than kernel TLS (ktls.h), and why: a corrupt fault is set (it damages the
 * relay's bytes), or the lazy stream, at both ends: on the destination
 * relay_start_gated holds the daemon's close until the commit; on the
 * source a break must reach criu as garbage, never as a clean end, which a
 * kernel TLS socket makes of a FIN without close_notify and which criu's
 * lazy page server takes for "every page sent" (it ends the source). NULL:
 * the kernel may carry it. */
const char *relay_needed(bool lazy, bool source);
/* A connected pair of local stream sockets, one for criu, one for the relay. */
int relay_loopback_pair(int fds[2]);
/* Starts relaying between plain_fd and the TLS session (over tcp_fd) in a
 * thread; takes ownership of plain_fd, the session and tcp_fd. If the TLS
 * side fails, criu's side gets garbage rather than a clean end, so that a
 * criu serving lazy pages fails (and resumes its tasks) instead of taking a
 * broken stream for a finished one. */
struct relay *relay_start(int plain_fd, gnutls_session_t s, int tcp_fd, size_t ps_iov);
/* ps_iov: the size of criu's page-server request (struct page_server_iov)
 * on this stream, by which a lazy stream's requests are told apart: 24 up
 * to criu 4.1, 32 from 4.2 (its nr_pages became a u64). */
size_t relay_ps_iov_size(const char *criu_version);
/* SHA-256 (hex) and count of the bytes relayed so far: sent, criu's bytes
 * as read from it (before they go out); else the bytes given to criu. A
 * page server that exited has taken every byte its peer's criu sent, so
 * the two sides' digests must agree then: a page stream's end-to-end
 * check. 0, or -1 (no relay, no hash). */
int relay_digest(struct relay *r, bool sent, char hex[65], uint64_t *bytes);
/* The same for the destination's end of a lazy page stream: the lazy-pages
 * daemon's closing request (criu's PS_IOV_FLUSH_N_CLOSE, after which the
 * source's criu counts the transfer done and ends the source) is held until
 * relay_open_gate(), which serve calls once the source committed. A session
 * that dies before (killed, or it ends the copy it restored) leaves the
 * source's criu a broken stream, never a finished one: it resumes the
 * source. Before, a hybrid migration whose last pages had all arrived when
 * the session died lost the workload on both hosts. */
struct relay *relay_start_gated(int plain_fd, gnutls_session_t s, int tcp_fd, size_t ps_iov);
void relay_open_gate(struct relay *r);
/* fn(arg) runs in the relay's thread when the peer's side breaks, before
 * criu's side is poisoned: what must be done while criu still holds the
 * tree frozen (post-copy: lift criu's network lock, which criu 4.1 leaves
 * on a tree it resumes after a failed page transfer; netlock.h). */
void relay_on_break(struct relay *r, void (*fn)(void *), void *arg);
/* Waits for the relay to end (both ways closed) and frees it. */
void relay_join(struct relay *r);
/* Ends it now (both sockets shut down), then joins. */
void relay_stop(struct relay *r);

#endif
