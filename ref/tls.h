/* Mutually authenticated TLS for the crmig channel (GnuTLS), and the
 * certificates: a CA per lab or site, and one certificate per host that
 * serves as both TLS server and client identity. criu's page server can use
 * the same files (--tls-cacert/--tls-cert/--tls-key). */
#ifndef CRMIG_TLS_H
#define CRMIG_TLS_H

#include <gnutls/gnutls.h>
#include <stdbool.h>

#include "proto.h"

#define CRMIG_CERT_DIR "/etc/crmig"   /* ca.crt, host.crt, host.key */

struct tls_paths {
	const char *ca;    /* CA certificate (PEM) */
	const char *cert;  /* this host's certificate (PEM) */
	const char *key;   /* its private key (PEM); cert and key NULL: a client without identity */
};

/* Fills paths from dir (ca.crt, host.crt, host.key); strings point into a
 * static buffer per call site argument `store` of at least 3*PATH_MAX. */
void tls_paths_from_dir(struct tls_paths *p, const char *dir, char *store, size_t storelen);

struct tls_ctx;
struct tls_ctx *tls_ctx_new(const struct tls_paths *p, char *err, size_t errlen);
void tls_ctx_free(struct tls_ctx *t);
/* The whole handshake must be done within ms (default 30 s, 0: default):
 * a peer that stops half-way is dropped then. */
void tls_ctx_set_handshake_timeout(struct tls_ctx *t, unsigned int ms);

/* Handshake on a connected socket and verify the peer's certificate chain
 * against the CA. The client also checks that the server's certificate names
 * `peer_name` (a DNS SAN, or an IP SAN when peer_name is an address); the
 * server requires a client certificate. Returns NULL and fills err on failure
 * (no certificate, wrong CA, expired, wrong name, handshake error). */
gnutls_session_t tls_accept(struct tls_ctx *t, int fd, char *err, size_t errlen);
gnutls_session_t tls_connect(struct tls_ctx *t, int fd, const char *peer_name, char *err, size_t errlen);
/* The verified peer's common name (static until the next call). */
const char *tls_peer_cn(gnutls_session_t s);
void tls_close(gnutls_session_t s); /* bye + deinit; does not close the fd */
/* A send on s failed because its socket's send timeout (SO_SNDTIMEO) passed:
 * the peer takes none of our data. Such a session is best dropped without
 * a goodbye (gnutls_deinit, and a reset: SO_LINGER 0). */
bool tls_send_stalled(gnutls_session_t s);

/* A channel whose byte stream is the TLS session. The session keeps a
 * pointer to c (for precise error messages): c must not move while in use. */
void chan_init_tls(struct chan *c, gnutls_session_t s);

/* Certificates. cert_make_ca writes ca.crt/ca.key into dir (mode 0600 key);
 * it refuses to overwrite an existing CA.
 * cert_make_host signs host.crt/host.key into out_dir with the CA of ca_dir,
 * CN = name, SANs: name (DNS) and each of ips (NULL-terminated, may be NULL).
 * Both usages (TLS web server and client auth). Validity `days`. ca.crt
 * (never ca.key) is copied into out_dir when missing there. */
int cert_make_ca(const char *dir, const char *cn, int days, char *err, size_t errlen);
int cert_make_host(const char *ca_dir, const char *out_dir, const char *name,
		   const char *const *ips, int days, char *err, size_t errlen);

#endif
