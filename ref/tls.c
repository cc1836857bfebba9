/* Mutually authenticated TLS (GnuTLS) for the crmig channel, and the small
 * PKI behind it: one CA, one certificate per host that serves both as TLS
 * server and client identity. ECDSA P-256 keys: accepted by every GnuTLS
 * that criu's --tls links against, and small and fast to generate.
 *
 * Errors are phrased for the person who has to fix them: which file, which
 * name, what the peer did. */
#include "tls.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include <limits.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>

#include "util.h"

#define TLS_HANDSHAKE_TIMEOUT_MS 30000
/* Certificates start an hour in the past: two lab hosts' clocks need not
 * agree to the second for a fresh certificate to be valid on both. */
#define CERT_BACKDATE_S 3600
#define CERT_MAX_DAYS 36500
#define CERT_MAX_CN 64             /* X.520 ub-common-name */
#define CERT_MAX_IPS 16
#define PEM_MAX_FILE (64 * 1024)   /* a CA certificate or key, with room */

struct tls_ctx {
	gnutls_certificate_credentials_t cred;
	bool has_identity;          /* a host certificate and key are loaded */
	unsigned int handshake_ms;  /* the whole handshake's deadline */
	char ca_path[PATH_MAX];     /* for error messages */
};

/* The session whose send timed out last (serve has one per process). */
static _Thread_local gnutls_session_t stalled;


void tls_paths_from_dir(struct tls_paths *p, const char *dir, char *store, size_t storelen)
{
	static const char *const names[] = { "ca.crt", "host.crt", "host.key" };
	const char **slots[] = { &p->ca, &p->cert, &p->key };
	size_t used = 0;

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		int n = store && storelen > used
			? snprintf(store + used, storelen - used, "%s/%s", dir, names[i]) : -1;

		/* A path that does not fit stays unset: tls_ctx_new says so. */
		if (n < 0 || (size_t)n >= storelen - used) {
			*slots[i] = NULL;
			continue;
		}
		*slots[i] = store + used;
		used += (size_t)n + 1;
	}
}

/* ---- credentials ---------------------------------------------------------- */

static int check_readable(const char *what, const char *path, char *err, size_t errlen)
{
	if (!path)
		return fail_why(err, errlen, "no %s configured", what);
	if (access(path, R_OK) < 0)
		return fail_why(err, errlen, "cannot read %s %s: %s", what, path, strerror(errno));
	return 0;
}

/* Loads every certificate of a PEM file (gnutls_free the list after
 * deinit'ing each). */
static int load_crts(const char *path, gnutls_x509_crt_t **crts, unsigned int *n)
{
	gnutls_datum_t data = { NULL, 0 };
	int ret = gnutls_load_file(path, &data);

	*crts = NULL;
	*n = 0;
	if (ret < 0)
		return ret;
	ret = gnutls_x509_crt_list_import2(crts, n, &data, GNUTLS_X509_FMT_PEM, 0);
	gnutls_free(data.data);
	return ret;
}

static void free_crts(gnutls_x509_crt_t *crts, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		gnutls_x509_crt_deinit(crts[i]);
	gnutls_free(crts);
}

static int own_cert_problem(const struct tls_paths *p, unsigned int status, char *err, size_t errlen)
{
	if (status & (GNUTLS_CERT_SIGNER_NOT_FOUND | GNUTLS_CERT_SIGNER_NOT_CA | GNUTLS_CERT_SIGNATURE_FAILURE))
		return fail_why(err, errlen, "%s is not signed by %s: both must come from the same CA",
				p->cert, p->ca);
	if (status & GNUTLS_CERT_EXPIRED)
		return fail_why(err, errlen, "this host's certificate expired: %s", p->cert);
	if (status & GNUTLS_CERT_NOT_ACTIVATED)
		return fail_why(err, errlen, "this host's certificate %s is not valid yet (check the clock)",
				p->cert);
	return 0;
}

/* Our own certificate, checked against our own CA at load time: a host.crt
 * from another CA, or an expired one, is a local configuration error and is
 * reported here instead of as a mysterious rejection by the peer. */
static int check_own_cert(const struct tls_paths *p, char *err, size_t errlen)
{
	gnutls_x509_crt_t *mine = NULL, *cas = NULL;
	unsigned int nmine = 0, ncas = 0, status = 0;
	int ret;

	ret = load_crts(p->cert, &mine, &nmine);
	if (ret < 0 || !nmine) {
		free_crts(mine, nmine);
		return fail_why(err, errlen, "%s: %s", p->cert, ret < 0 ? gnutls_strerror(ret) : "no certificate");
	}
	ret = load_crts(p->ca, &cas, &ncas);
	if (ret >= 0)
		ret = gnutls_x509_crt_list_verify(mine, nmine, cas, ncas, NULL, 0, 0, &status);
	if (ret < 0)
		fail_why(err, errlen, "%s: %s", p->ca, gnutls_strerror(ret));
	else
		ret = own_cert_problem(p, status, err, errlen);
	free_crts(mine, nmine);
	free_crts(cas, ncas);
	return ret < 0 ? -1 : 0;
}

static int load_identity(struct tls_ctx *t, const struct tls_paths *p, char *err, size_t errlen)
{
	int ret;

	if (!p->cert && !p->key)
		return 0; /* a client without identity: the server will refuse it */
	if (check_readable("host certificate", p->cert, err, errlen) < 0 ||
	    check_readable("host key", p->key, err, errlen) < 0)
		return -1;
	ret = gnutls_certificate_set_x509_key_file(t->cred, p->cert, p->key, GNUTLS_X509_FMT_PEM);
	if (ret < 0)
		return fail_why(err, errlen, "cannot use %s with %s: %s", p->cert, p->key, gnutls_strerror(ret));
	if (check_own_cert(p, err, errlen) < 0)
		return -1;
	t->has_identity = true;
	return 0;
}

struct tls_ctx *tls_ctx_new(const struct tls_paths *p, char *err, size_t errlen)
{
	struct tls_ctx *t;
	int ret;

	if (check_readable("CA certificate", p->ca, err, errlen) < 0)
		return NULL;
	t = xzalloc(sizeof(*t));
	t->handshake_ms = TLS_HANDSHAKE_TIMEOUT_MS;
	snprintf(t->ca_path, sizeof(t->ca_path), "%s", p->ca);
	ret = gnutls_certificate_allocate_credentials(&t->cred);
	if (ret < 0) {
		fail_why(err, errlen, "TLS credentials: %s", gnutls_strerror(ret));
		free(t);
		return NULL;
	}
	ret = gnutls_certificate_set_x509_trust_file(t->cred, p->ca, GNUTLS_X509_FMT_PEM);
	if (ret <= 0) {
		fail_why(err, errlen, "%s: no usable CA certificate (%s)", p->ca,
			 ret < 0 ? gnutls_strerror(ret) : "the file holds none");
		tls_ctx_free(t);
		return NULL;
	}
	if (load_identity(t, p, err, errlen) < 0) {
		tls_ctx_free(t);
		return NULL;
	}
	return t;
}

void tls_ctx_free(struct tls_ctx *t)
{
	if (!t)
		return;
	if (t->cred)
		gnutls_certificate_free_credentials(t->cred);
	free(t);
}

/* ---- handshake and its errors --------------------------------------------- */

static bool is_ip_address(const char *s)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* "DNS a, IP 10.0.0.1": what the peer's certificate is valid for. */
static void describe_peer_names(gnutls_session_t s, char *out, size_t outlen)
{
	const gnutls_datum_t *certs;
	gnutls_x509_crt_t crt;
	unsigned int n = 0;
	size_t used = 0;

	out[0] = '\0';
	certs = gnutls_certificate_get_peers(s, &n);
	if (!certs || !n || gnutls_x509_crt_init(&crt) < 0)
		return;
	if (gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) == 0) {
		for (unsigned int i = 0; i < 8 && used < outlen; i++) {
			unsigned char san[256];
			char ip[INET6_ADDRSTRLEN];
			size_t size = sizeof(san) - 1;
			int type = gnutls_x509_crt_get_subject_alt_name(crt, i, san, &size, NULL);
			const char *text = NULL;

			if (type < 0)
				break;
			if (type == GNUTLS_SAN_DNSNAME) {
				san[size] = '\0';
				text = (const char *)san;
			} else if (type == GNUTLS_SAN_IPADDRESS && (size == 4 || size == 16)) {
				text = inet_ntop(size == 4 ? AF_INET : AF_INET6, san, ip, sizeof(ip));
			}
			if (text)
				used += snprintf(out + used, outlen - used, "%s%s %s", used ? ", " : "",
						 type == GNUTLS_SAN_DNSNAME ? "DNS" : "IP", text);
		}
	}
	gnutls_x509_crt_deinit(crt);
}

/* The verification status, most fundamental problem first. */
static void describe_status(struct tls_ctx *t, gnutls_session_t s, unsigned int status, const char *peer_name,
			    char *err, size_t errlen)
{
	char names[256];
	gnutls_datum_t text = { NULL, 0 };

	if (status & (GNUTLS_CERT_SIGNER_NOT_FOUND | GNUTLS_CERT_SIGNER_NOT_CA)) {
		fail_why(err, errlen, "peer certificate not signed by our CA (%s)", t->ca_path);
	} else if (status & GNUTLS_CERT_EXPIRED) {
		fail_why(err, errlen, "peer certificate expired: renew it with the CA of %s", t->ca_path);
	} else if (status & GNUTLS_CERT_NOT_ACTIVATED) {
		fail_why(err, errlen, "peer certificate not valid yet: are the two hosts' clocks in step?");
	} else if (status & GNUTLS_CERT_UNEXPECTED_OWNER) {
		describe_peer_names(s, names, sizeof(names));
		fail_why(err, errlen, "name mismatch: expected %s, the peer's certificate is for %s",
			 peer_name ? peer_name : "?", names[0] ? names : "other names");
	} else if (status & GNUTLS_CERT_REVOKED) {
		fail_why(err, errlen, "peer certificate revoked");
	} else if (status & GNUTLS_CERT_INSECURE_ALGORITHM) {
		fail_why(err, errlen, "peer certificate uses an insecure algorithm");
	} else if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &text, 0) == 0) {
		fail_why(err, errlen, "peer certificate rejected: %s", (const char *)text.data);
		gnutls_free(text.data);
	} else {
		fail_why(err, errlen, "peer certificate rejected (status 0x%x)", status);
	}
}

static bool is_certificate_alert(gnutls_alert_description_t a)
{
	switch (a) {
	case GNUTLS_A_BAD_CERTIFICATE:
	case GNUTLS_A_UNSUPPORTED_CERTIFICATE:
	case GNUTLS_A_CERTIFICATE_REVOKED:
	case GNUTLS_A_CERTIFICATE_EXPIRED:
	case GNUTLS_A_CERTIFICATE_UNKNOWN:
	case GNUTLS_A_UNKNOWN_CA:
	case GNUTLS_A_CERTIFICATE_REQUIRED:
		return true;
	default:
		return false;
	}
}

/* A fatal alert from the peer: when it is about certificates, the peer did
 * not accept ours. */
static void describe_alert(gnutls_session_t s, char *err, size_t errlen)
{
	gnutls_alert_description_t a = gnutls_alert_get(s);
	const char *name = gnutls_alert_get_name(a);

	if (is_certificate_alert(a))
		fail_why(err, errlen, "the peer rejected our certificate (%s): are both hosts' certificates "
			 "from the same CA, and valid?", name ? name : "alert");
	else
		fail_why(err, errlen, "the peer aborted TLS (%s)", name ? name : "alert");
}

static void describe_handshake_error(struct tls_ctx *t, gnutls_session_t s, int ret, const char *peer_name,
				     char *err, size_t errlen)
{
	switch (ret) {
	case GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR:
		describe_status(t, s, gnutls_session_get_verify_cert_status(s), peer_name, err, errlen);
		break;
	case GNUTLS_E_NO_CERTIFICATE_FOUND:
	case GNUTLS_E_CERTIFICATE_REQUIRED:
		fail_why(err, errlen, "peer sent no certificate (it needs host.crt and host.key from our CA)");
		break;
	case GNUTLS_E_FATAL_ALERT_RECEIVED:
		describe_alert(s, err, errlen);
		break;
	case GNUTLS_E_PREMATURE_TERMINATION:
	case GNUTLS_E_PULL_ERROR:
	case GNUTLS_E_PUSH_ERROR:
		fail_why(err, errlen, "the peer closed the connection during the TLS handshake");
		break;
	case GNUTLS_E_UNEXPECTED_PACKET:
	case GNUTLS_E_UNEXPECTED_PACKET_LENGTH:
	case GNUTLS_E_UNSUPPORTED_VERSION_PACKET:
		fail_why(err, errlen, "the peer does not speak TLS here (%s): is it crmig, with TLS?",
			 gnutls_strerror(ret));
		break;
	case GNUTLS_E_TIMEDOUT:
		fail_why(err, errlen, "TLS handshake timed out after %.1f s", t->handshake_ms / 1000.0);
		break;
	default:
		fail_why(err, errlen, "TLS handshake failed: %s", gnutls_strerror(ret));
	}
}

static gnutls_session_t session_new(struct tls_ctx *t, int fd, bool server, const char *peer_name,
				    char *err, size_t errlen)
{
	gnutls_session_t s;
	int ret;

	/* GNUTLS_NO_SIGNAL: a vanished peer must be an error, not SIGPIPE.
	 * GNUTLS_NO_TICKETS: nothing but application data after the
	 * handshake, so that a page stream's session can go to the kernel
	 * (ktls.h), which takes no TLS 1.3 ticket; crmig never resumes. */
	ret = gnutls_init(&s, (server ? GNUTLS_SERVER : GNUTLS_CLIENT) | GNUTLS_NO_SIGNAL | GNUTLS_NO_TICKETS);
	if (ret < 0) {
		fail_why(err, errlen, "TLS session: %s", gnutls_strerror(ret));
		return NULL;
	}
	/* CRMIG_TLS_PRIORITY: a GnuTLS priority string, e.g. to prefer a cipher
	 * that is fast on the machine at hand. */
	ret = getenv("CRMIG_TLS_PRIORITY") ? gnutls_priority_set_direct(s, getenv("CRMIG_TLS_PRIORITY"), NULL)
					   : gnutls_set_default_priority(s);
	if (ret == 0)
		ret = gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, t->cred);
	if (ret == 0 && !server && peer_name && !is_ip_address(peer_name))
		ret = gnutls_server_name_set(s, GNUTLS_NAME_DNS, peer_name, strlen(peer_name));
	if (ret < 0) {
		fail_why(err, errlen, "TLS session: %s", gnutls_strerror(ret));
		gnutls_deinit(s);
		return NULL;
	}
	if (server) {
		gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUIRE);
		/* Without the list of acceptable CAs a client presents the
		 * certificate it has even when it is from another CA, and the
		 * error says exactly that instead of "no certificate". */
		gnutls_certificate_send_x509_rdn_sequence(s, 1);
	}
	/* Chain against our CA, validity, and (client side) the name: a
	 * textual IP address is matched against the IP SANs. */
	gnutls_session_set_verify_cert(s, server ? NULL : peer_name, 0);
	gnutls_handshake_set_timeout(s, t->handshake_ms);
	gnutls_transport_set_int(s, fd);
	return s;
}

static gnutls_session_t handshake(struct tls_ctx *t, int fd, bool server, const char *peer_name,
				  char *err, size_t errlen)
{
	gnutls_session_t s;
	int ret;

	if (!t) {
		fail_why(err, errlen, "no TLS context");
		return NULL;
	}
	s = session_new(t, fd, server, peer_name, err, errlen);
	if (!s)
		return NULL;
	do {
		ret = gnutls_handshake(s);
	} while (ret < 0 && !gnutls_error_is_fatal(ret));
	if (ret < 0) {
		describe_handshake_error(t, s, ret, peer_name, err, errlen);
		/* GnuTLS leaves the alert to us; without it the peer only sees
		 * the connection drop, and cannot tell the user why. */
		gnutls_alert_send_appropriate(s, ret);
		gnutls_deinit(s);
		return NULL;
	}
	return s;
}

void tls_ctx_set_handshake_timeout(struct tls_ctx *t, unsigned int ms)
{
	if (t)
		t->handshake_ms = ms ? ms : TLS_HANDSHAKE_TIMEOUT_MS;
}

gnutls_session_t tls_accept(struct tls_ctx *t, int fd, char *err, size_t errlen)
{
	if (t && !t->has_identity) {
		fail_why(err, errlen, "cannot serve TLS without a host certificate and key");
		return NULL;
	}
	return handshake(t, fd, true, NULL, err, errlen);
}

gnutls_session_t tls_connect(struct tls_ctx *t, int fd, const char *peer_name, char *err, size_t errlen)
{
	return handshake(t, fd, false, peer_name, err, errlen);
}

const char *tls_peer_cn(gnutls_session_t s)
{
	static _Thread_local char cn[CERT_MAX_CN * 4 + 1];
	const gnutls_datum_t *certs;
	gnutls_x509_crt_t crt;
	unsigned int n = 0;
	size_t size = sizeof(cn);
	int ret;

	certs = s ? gnutls_certificate_get_peers(s, &n) : NULL;
	if (!certs || !n || gnutls_x509_crt_init(&crt) < 0)
		return NULL;
	ret = gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER);
	if (ret == 0)
		ret = gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn, &size);
	gnutls_x509_crt_deinit(crt);
	if (ret < 0)
		return NULL;
	for (char *p = cn; *p; p++) /* it ends up in logs */
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return cn;
}

void tls_close(gnutls_session_t s)
{
	if (!s)
		return;
	if (s == stalled)
		stalled = NULL;
	/* SHUT_WR: say goodbye without waiting for the peer's reply. */
	gnutls_bye(s, GNUTLS_SHUT_WR);
	gnutls_deinit(s);
}

/* ---- the channel over TLS ------------------------------------------------- */

/* The channel that chan_init_tls bound to the session, to receive a precise
 * error message (c->err) instead of a bare errno. */
static void tls_io_error(gnutls_session_t s, int ret, const char *what)
{
	struct chan *c = gnutls_session_get_ptr(s);

	errno = EPROTO;
	if (!c)
		return;
	if (ret == GNUTLS_E_FATAL_ALERT_RECEIVED)
		describe_alert(s, c->err, sizeof(c->err));
	else if (ret == GNUTLS_E_PREMATURE_TERMINATION)
		snprintf(c->err, sizeof(c->err), "%s: the peer closed the connection without TLS close_notify",
			 what);
	else
		snprintf(c->err, sizeof(c->err), "%s: %s", what, gnutls_strerror(ret));
}

static int tls_read(void *ctx, void *buf, size_t len)
{
	gnutls_session_t s = ctx;
	char *p = buf;

	while (len) {
		ssize_t n = gnutls_record_recv(s, p, len);

		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
			continue;
		if (n == 0) {
			errno = EPIPE; /* orderly close: "connection closed by the peer" */
			return -1;
		}
		if (n < 0) {
			tls_io_error(s, (int)n, "receiving");
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* A send failed because the peer is gone. It usually said why first (an
 * alert about our certificate, sent just before it closed): read it, with
 * a short timeout since the connection is over anyway. */
static void pick_up_alert(gnutls_session_t s)
{
	char sink[256];
	ssize_t n;

	gnutls_record_set_timeout(s, 1000);
	do {
		n = gnutls_record_recv(s, sink, sizeof(sink));
	} while (n > 0 || n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED);
	gnutls_record_set_timeout(s, 0);
	tls_io_error(s, n == GNUTLS_E_FATAL_ALERT_RECEIVED ? (int)n : GNUTLS_E_PREMATURE_TERMINATION, "sending");
}

bool tls_send_stalled(gnutls_session_t s)
{
	return s && s == stalled;
}

/* The socket beneath is blocking and has a send timeout: an EAGAIN from
 * it means that timeout passed, not "try again". */
static bool send_timed_out(gnutls_session_t s)
{
	int fd = gnutls_transport_get_int(s);
	struct timeval tv = { 0 };
	socklen_t len = sizeof(tv);

	return fd >= 0 && !(fcntl(fd, F_GETFL) & O_NONBLOCK) &&
	       getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, &len) == 0 && (tv.tv_sec || tv.tv_usec);
}

static int tls_write(void *ctx, const void *buf, size_t len)
{
	gnutls_session_t s = ctx;
	const char *p = buf;

	while (len) {
		ssize_t n = gnutls_record_send(s, p, len);

		if (n == GNUTLS_E_INTERRUPTED)
			continue;
		if (n == GNUTLS_E_AGAIN && !(gnutls_record_get_direction(s) == 1 && send_timed_out(s)))
			continue;
		if (n == GNUTLS_E_AGAIN) {
			struct chan *c = gnutls_session_get_ptr(s);

			/* a blocking socket with a send timeout (SO_SNDTIMEO): the
			 * peer took none of our data for that long */
			stalled = s;
			errno = ETIMEDOUT;
			if (c)
				snprintf(c->err, sizeof(c->err), "sending: the peer takes none of our data (send timeout)");
			return -1;
		}
		if (n == GNUTLS_E_PUSH_ERROR) {
			pick_up_alert(s);
			return -1;
		}
		if (n < 0) {
			tls_io_error(s, (int)n, "sending");
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void chan_init_tls(struct chan *c, gnutls_session_t s)
{
	*c = (struct chan){
		.io = { .read = tls_read, .write = tls_write, .ctx = s },
	};
	gnutls_session_set_ptr(s, c);
}

/* ---- certificates --------------------------------------------------------- */

static int write_pem(const char *dir, const char *name, const gnutls_datum_t *data, mode_t mode,
		     char *err, size_t errlen)
{
	__do_free char *path = xasprintf("%s/%s", dir, name);

	if (write_file_atomic(path, data->data, data->size, (int)mode) < 0)
		return fail_why(err, errlen, "cannot write %s: %s", path, strerror(errno));
	return 0;
}

static int write_crt(const char *dir, const char *name, gnutls_x509_crt_t crt, char *err, size_t errlen)
{
	gnutls_datum_t pem = { NULL, 0 };
	int ret = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &pem);

	if (ret < 0)
		return fail_why(err, errlen, "cannot encode %s: %s", name, gnutls_strerror(ret));
	ret = write_pem(dir, name, &pem, 0644, err, errlen);
	gnutls_free(pem.data);
	return ret;
}

static int write_key(const char *dir, const char *name, gnutls_x509_privkey_t key, char *err, size_t errlen)
{
	gnutls_datum_t pem = { NULL, 0 };
	int ret = gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN, &pem);

	if (ret < 0)
		return fail_why(err, errlen, "cannot encode %s: %s", name, gnutls_strerror(ret));
	ret = write_pem(dir, name, &pem, 0600, err, errlen);
	gnutls_memset(pem.data, 0, pem.size);
	gnutls_free(pem.data);
	return ret;
}

static int new_key(gnutls_x509_privkey_t *key)
{
	int ret = gnutls_x509_privkey_init(key);

	if (ret < 0)
		return ret;
	ret = gnutls_x509_privkey_generate2(*key, GNUTLS_PK_ECDSA,
					    GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0, NULL, 0);
	if (ret < 0) {
		gnutls_x509_privkey_deinit(*key);
		*key = NULL;
	}
	return ret;
}

/* The parts every certificate shares: v3, a random positive serial of 16
 * bytes (RFC 5280 allows 20), the validity window, CN, key and its id. */
static int fill_common(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key, const char *cn, int days)
{
	unsigned char serial[16], key_id[64];
	size_t key_id_size = sizeof(key_id);
	time_t now = time(NULL);
	int ret;

	ret = gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial));
	if (ret < 0)
		return ret;
	serial[0] = (serial[0] & 0x7f) | 0x01; /* positive, and never a short encoding */
	if ((ret = gnutls_x509_crt_set_version(crt, 3)) < 0 ||
	    (ret = gnutls_x509_crt_set_serial(crt, serial, sizeof(serial))) < 0 ||
	    (ret = gnutls_x509_crt_set_activation_time(crt, now - CERT_BACKDATE_S)) < 0 ||
	    (ret = gnutls_x509_crt_set_expiration_time(crt, now + (time_t)days * 86400)) < 0 ||
	    (ret = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn, strlen(cn))) < 0 ||
	    (ret = gnutls_x509_crt_set_key(crt, key)) < 0 ||
	    (ret = gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA1, key_id, &key_id_size)) < 0 ||
	    (ret = gnutls_x509_crt_set_subject_key_id(crt, key_id, key_id_size)) < 0)
		return ret;
	return 0;
}

static bool cn_ok(const char *cn)
{
	size_t len = cn ? strlen(cn) : 0;

	if (len == 0 || len > CERT_MAX_CN)
		return false;
	for (const char *p = cn; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

static bool days_ok(int days)
{
	return days >= 1 && days <= CERT_MAX_DAYS;
}

/* An existing CA key is never overwritten: every host certificate it
 * signed would silently stop verifying. */
static int refuse_existing_ca(const char *dir, char *err, size_t errlen)
{
	__do_free char *crt = xasprintf("%s/ca.crt", dir);
	__do_free char *key = xasprintf("%s/ca.key", dir);

	if (!access(crt, F_OK) || !access(key, F_OK))
		return fail_why(err, errlen, "a CA already exists in %s: remove ca.crt and ca.key first", dir);
	return 0;
}

int cert_make_ca(const char *dir, const char *cn, int days, char *err, size_t errlen)
{
	gnutls_x509_privkey_t key = NULL;
	gnutls_x509_crt_t crt = NULL;
	int ret;

	if (!dir || !cn_ok(cn))
		return fail_why(err, errlen, "CA name must be 1 to %d printable characters", CERT_MAX_CN);
	if (!days_ok(days))
		return fail_why(err, errlen, "validity must be 1 to %d days", CERT_MAX_DAYS);
	if (mkdir_p(dir, 0755) < 0)
		return fail_why(err, errlen, "cannot create %s: %s", dir, strerror(errno));
	if (refuse_existing_ca(dir, err, errlen) < 0)
		return -1;
	if ((ret = new_key(&key)) < 0 || (ret = gnutls_x509_crt_init(&crt)) < 0 ||
	    (ret = fill_common(crt, key, cn, days)) < 0 ||
	    /* path length 0: this CA signs host certificates, never other CAs */
	    (ret = gnutls_x509_crt_set_basic_constraints(crt, 1, 0)) < 0 ||
	    (ret = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN)) < 0 ||
	    (ret = gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0)) < 0) {
		fail_why(err, errlen, "cannot make the CA certificate: %s", gnutls_strerror(ret));
		ret = -1;
	} else {
		ret = write_key(dir, "ca.key", key, err, errlen);
		if (ret == 0)
			ret = write_crt(dir, "ca.crt", crt, err, errlen);
	}
	if (crt)
		gnutls_x509_crt_deinit(crt);
	if (key)
		gnutls_x509_privkey_deinit(key);
	return ret < 0 ? -1 : 0;
}

/* A host name for a DNS SAN: letters, digits, '-', '.', '_'. */
static bool dns_name_ok(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > CERT_MAX_CN || name[0] == '.' || name[0] == '-')
		return false;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '-' || *p == '.' || *p == '_'))
			return false;
	return true;
}

/* Adds an IP SAN from its text form; 0, or -1 when it is not an address. */
static int add_ip_san(gnutls_x509_crt_t crt, const char *text)
{
	unsigned char addr[16];
	unsigned int size;

	if (inet_pton(AF_INET, text, addr) == 1)
		size = 4;
	else if (inet_pton(AF_INET6, text, addr) == 1)
		size = 16;
	else
		return -1;
	return gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, addr, size, GNUTLS_FSAN_APPEND) < 0
		? -1 : 0;
}

struct ca {
	gnutls_x509_crt_t crt;
	gnutls_x509_privkey_t key;
};

static void ca_free(struct ca *ca)
{
	if (ca->crt)
		gnutls_x509_crt_deinit(ca->crt);
	if (ca->key)
		gnutls_x509_privkey_deinit(ca->key);
}

/* A PEM file of bounded size into a datum (gnutls_free it). */
static int load_pem(const char *path, gnutls_datum_t *d, char *err, size_t errlen)
{
	struct stat st;
	int ret;

	if (stat(path, &st) < 0)
		return fail_why(err, errlen, "cannot read %s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode) || st.st_size > PEM_MAX_FILE)
		return fail_why(err, errlen, "%s is not a PEM file of at most %d bytes", path, PEM_MAX_FILE);
	ret = gnutls_load_file(path, d);
	if (ret < 0)
		return fail_why(err, errlen, "cannot read %s: %s", path, gnutls_strerror(ret));
	return 0;
}

static int ca_load(struct ca *ca, const char *ca_dir, char *err, size_t errlen)
{
	__do_free char *crt_path = xasprintf("%s/ca.crt", ca_dir);
	__do_free char *key_path = xasprintf("%s/ca.key", ca_dir);
	unsigned char crt_id[64], key_id[64];
	size_t crt_id_size = sizeof(crt_id), key_id_size = sizeof(key_id);
	gnutls_datum_t d = { NULL, 0 };
	int ret;

	*ca = (struct ca){ 0 };
	if (load_pem(crt_path, &d, err, errlen) < 0)
		return -1;
	ret = gnutls_x509_crt_init(&ca->crt);
	if (ret == 0)
		ret = gnutls_x509_crt_import(ca->crt, &d, GNUTLS_X509_FMT_PEM);
	gnutls_free(d.data);
	if (ret < 0)
		return fail_why(err, errlen, "%s: %s", crt_path, gnutls_strerror(ret));
	if (load_pem(key_path, &d, err, errlen) < 0)
		return -1;
	ret = gnutls_x509_privkey_init(&ca->key);
	if (ret == 0)
		ret = gnutls_x509_privkey_import2(ca->key, &d, GNUTLS_X509_FMT_PEM, NULL, 0);
	gnutls_memset(d.data, 0, d.size);
	gnutls_free(d.data);
	if (ret < 0)
		return fail_why(err, errlen, "%s: %s", key_path, gnutls_strerror(ret));
	if (gnutls_x509_crt_get_key_id(ca->crt, GNUTLS_KEYID_USE_SHA256, crt_id, &crt_id_size) < 0 ||
	    gnutls_x509_privkey_get_key_id(ca->key, GNUTLS_KEYID_USE_SHA256, key_id, &key_id_size) < 0 ||
	    crt_id_size != key_id_size || memcmp(crt_id, key_id, crt_id_size))
		return fail_why(err, errlen, "%s does not belong to %s", key_path, crt_path);
	return 0;
}

/* Names, key purposes and the link to the CA of a host certificate. */
static int fill_host(gnutls_x509_crt_t crt, const struct ca *ca, const char *name, const char *const *ips)
{
	unsigned char ca_id[64];
	size_t ca_id_size = sizeof(ca_id);
	int ret;

	/* A host known by address gets an IP SAN for it, not a DNS SAN. */
	if (add_ip_san(crt, name) < 0) {
		ret = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, name, strlen(name),
							   GNUTLS_FSAN_APPEND);
		if (ret < 0)
			return ret;
	}
	for (size_t i = 0; ips && ips[i]; i++)
		if (add_ip_san(crt, ips[i]) < 0)
			return GNUTLS_E_INVALID_REQUEST;
	if ((ret = gnutls_x509_crt_set_basic_constraints(crt, 0, -1)) < 0 ||
	    (ret = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE)) < 0 ||
	    (ret = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0)) < 0 ||
	    (ret = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_CLIENT, 0)) < 0)
		return ret;
	if (gnutls_x509_crt_get_subject_key_id(ca->crt, ca_id, &ca_id_size, NULL) == 0 &&
	    (ret = gnutls_x509_crt_set_authority_key_id(crt, ca_id, ca_id_size)) < 0)
		return ret;
	return gnutls_x509_crt_sign2(crt, ca->crt, ca->key, GNUTLS_DIG_SHA256, 0);
}

static int check_host_args(const char *name, const char *const *ips, int days, char *err, size_t errlen)
{
	size_t n = 0;

	if (!name || (!is_ip_address(name) && !dns_name_ok(name)))
		return fail_why(err, errlen, "'%s' is not a host name or IP address usable in a certificate",
				name && cn_ok(name) ? name : "?");
	for (; ips && ips[n]; n++)
		if (!is_ip_address(ips[n]))
			return fail_why(err, errlen, "not an IP address: %s", cn_ok(ips[n]) ? ips[n] : "?");
	if (n > CERT_MAX_IPS)
		return fail_why(err, errlen, "at most %d IP addresses per certificate", CERT_MAX_IPS);
	if (!days_ok(days))
		return fail_why(err, errlen, "validity must be 1 to %d days", CERT_MAX_DAYS);
	return 0;
}

/* out_dir becomes a complete identity directory (tls_paths_from_dir): the
 * CA certificate, never its key, is copied there when missing. */
static int copy_ca_crt(const char *out_dir, const struct ca *ca, char *err, size_t errlen)
{
	__do_free char *dst = xasprintf("%s/ca.crt", out_dir);

	if (!access(dst, F_OK))
		return 0;
	return write_crt(out_dir, "ca.crt", ca->crt, err, errlen);
}

int cert_make_host(const char *ca_dir, const char *out_dir, const char *name,
		   const char *const *ips, int days, char *err, size_t errlen)
{
	gnutls_x509_privkey_t key = NULL;
	gnutls_x509_crt_t crt = NULL;
	struct ca ca;
	int ret;

	if (check_host_args(name, ips, days, err, errlen) < 0)
		return -1;
	if (ca_load(&ca, ca_dir, err, errlen) < 0) {
		ca_free(&ca);
		return -1;
	}
	if ((ret = new_key(&key)) < 0 || (ret = gnutls_x509_crt_init(&crt)) < 0 ||
	    (ret = fill_common(crt, key, name, days)) < 0 || (ret = fill_host(crt, &ca, name, ips)) < 0) {
		fail_why(err, errlen, "cannot make the certificate for %s: %s", name, gnutls_strerror(ret));
		ret = -1;
	} else if (mkdir_p(out_dir, 0755) < 0) {
		ret = fail_why(err, errlen, "cannot create %s: %s", out_dir, strerror(errno));
	} else {
		ret = write_key(out_dir, "host.key", key, err, errlen);
		if (ret == 0)
			ret = write_crt(out_dir, "host.crt", crt, err, errlen);
		if (ret == 0)
			ret = copy_ca_crt(out_dir, &ca, err, errlen);
	}
	if (crt)
		gnutls_x509_crt_deinit(crt);
	if (key)
		gnutls_x509_privkey_deinit(key);
	ca_free(&ca);
	return ret < 0 ? -1 : 0;
}
