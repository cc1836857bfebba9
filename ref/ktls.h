/* Kernel TLS for a page stream. After crmig's own handshake (tls.c: mutual
 * authentication, the same as for the relay), the session's keys go to the
 * kernel (TCP_ULP "tls", TLS_TX, TLS_RX) and criu gets the TCP socket itself
 * (--ps-socket): the kernel encrypts what criu splices into it and decrypts
 * what it reads, where the relay (relay.h) copies every byte through a
 * thread, GnuTLS and a socket pair on each host. The wire is TLS either
 * way, so the source's kernel TLS and the destination's relay interoperate.
 * Only the source's end: criu's page server (the destination) polls, then
 * reads without blocking, which a kernel TLS socket refuses (EAGAIN) for a
 * record not yet whole. The relay stays where crmig must see the stream: a
 * lazy one (its close is held, relay.h) and one a corrupt fault damages. */
#ifndef CRMIG_KTLS_H
#define CRMIG_KTLS_H

#include <gnutls/gnutls.h>
#include <linux/tls.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* One direction of a session as the kernel takes it (setsockopt SOL_TLS). */
struct ktls_info {
	union {
		struct tls_crypto_info base;
		struct tls12_crypto_info_aes_gcm_128 gcm128;
		struct tls12_crypto_info_aes_gcm_256 gcm256;
		struct tls12_crypto_info_chacha20_poly1305 chacha;
	} u;
	socklen_t len;
};

/* The kernel's parameters for reading (read) or writing the session from
 * here on: its cipher, keys, implicit IV and record sequence number. 0, or
 * -1 with why (a TLS version or cipher the kernel cannot take). Nothing is
 * changed in the session. */
int ktls_info_from(gnutls_session_t s, bool read, struct ktls_info *out, char *why, size_t whylen);

/* Moves the established session s on TCP socket fd into the kernel, both
 * ways. 0: done; from now on fd is read and written plainly (the kernel
 * does TLS) and s must only be gnutls_deinit()ed, never used. -1: nothing
 * changed (why says why: no TLS in this kernel, a cipher it lacks, bytes
 * already buffered by GnuTLS); the caller goes on with s in user space.
 * -2: the kernel took one direction and refused the other: the stream is
 * unusable (why says so). */
int ktls_install(gnutls_session_t s, int fd, char *why, size_t whylen);

/* Whether this kernel can do TLS on a TCP socket (a loopback probe of
 * TCP_ULP "tls", which loads the tls module where it is one); why when not.
 * For crmig check. */
bool ktls_available(char *why, size_t whylen);

#endif
