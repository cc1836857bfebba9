/* TLS and certificates: a CA and host certificates made in a temporary
 * directory; a server and a client over a socketpair (the server in a
 * thread). Every way the peer can be wrong must be refused, with a message
 * that names the problem. */
#include <check.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "ktls.h"
#include "proto.h"
#include "tls.h"
#include "util.h"
#include "unit.h"

static char root[] = "/tmp/crmig-test-tls-XXXXXX";
static char err[256];

/* root/NAME/FILE */
static char *path_of(const char *name, const char *file)
{
	return xasprintf("%s/%s/%s", root, name, file);
}

/* ---- the PKI, made once per run ------------------------------------------- */

/* Made before any test runs, where Check cannot report: fail loudly. */
#define PKI_CHECK(cond, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "test_tls setup failed at line %d: %s (%s)\n", __LINE__, #cond, err); \
		exit(2); \
	} } while (0)
#define PKI_EQ(a, b) PKI_CHECK((a) == (b))

/* A certificate for hostb from our CA, valid from 10 days ago until
 * yesterday: tls_ctx_new would refuse to load it, so the test serves it
 * with GnuTLS directly. */
static void make_expired(void)
{
	__do_free char *ca_crt = path_of("ca", "ca.crt"), *ca_key = path_of("ca", "ca.key");
	__do_free char *out = xasprintf("%s/expired", root);
	gnutls_x509_crt_t ca, crt;
	gnutls_x509_privkey_t cakey, key;
	gnutls_datum_t d, pem;
	unsigned char serial[8] = { 0x11, 2, 3, 4, 5, 6, 7, 8 };
	time_t now = time(NULL);

	PKI_EQ(mkdir(out, 0755), 0);
	PKI_EQ(gnutls_load_file(ca_crt, &d), 0);
	gnutls_x509_crt_init(&ca);
	PKI_EQ(gnutls_x509_crt_import(ca, &d, GNUTLS_X509_FMT_PEM), 0);
	gnutls_free(d.data);
	PKI_EQ(gnutls_load_file(ca_key, &d), 0);
	gnutls_x509_privkey_init(&cakey);
	PKI_EQ(gnutls_x509_privkey_import2(cakey, &d, GNUTLS_X509_FMT_PEM, NULL, 0), 0);
	gnutls_free(d.data);

	gnutls_x509_privkey_init(&key);
	PKI_EQ(gnutls_x509_privkey_generate2(key, GNUTLS_PK_ECDSA,
			 GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0, NULL, 0), 0);
	gnutls_x509_crt_init(&crt);
	gnutls_x509_crt_set_version(crt, 3);
	gnutls_x509_crt_set_serial(crt, serial, sizeof(serial));
	gnutls_x509_crt_set_activation_time(crt, now - 10 * 86400);
	gnutls_x509_crt_set_expiration_time(crt, now - 86400);
	gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, "hostb", 5);
	gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, "hostb", 5, GNUTLS_FSAN_APPEND);
	gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0);
	gnutls_x509_crt_set_key(crt, key);
	PKI_EQ(gnutls_x509_crt_sign2(crt, ca, cakey, GNUTLS_DIG_SHA256, 0), 0);

	PKI_EQ(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &pem), 0);
	free(out);
	out = path_of("expired", "host.crt");
	PKI_EQ(write_file(out, pem.data, pem.size, 0644), 0);
	gnutls_free(pem.data);
	PKI_EQ(gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &pem), 0);
	free(out);
	out = path_of("expired", "host.key");
	PKI_EQ(write_file(out, pem.data, pem.size, 0600), 0);
	gnutls_free(pem.data);

	gnutls_x509_crt_deinit(crt);
	gnutls_x509_privkey_deinit(key);
	gnutls_x509_crt_deinit(ca);
	gnutls_x509_privkey_deinit(cakey);
}

/* A CA bundle with both CAs: lets a client whose certificate comes from the
 * other CA still trust our server, so that it gets as far as presenting it. */
static void make_bundle(void)
{
	__do_free char *a = path_of("ca", "ca.crt"), *b = path_of("other-ca", "ca.crt");
	__do_free char *out = path_of("evil", "bundle.crt");
	__do_free char *ta = read_file(a, NULL), *tb = read_file(b, NULL);
	__do_free char *both = xasprintf("%s%s", tb, ta);

	PKI_EQ(write_file(out, both, strlen(both), 0644), 0);
}

static void make_pki(void)
{
	static const char *const ips_a[] = { "10.77.0.11", "127.0.0.1", NULL };
	static const char *const ips_b[] = { "10.77.0.12", "::1", NULL };
	__do_free char *ca = NULL, *other = NULL, *a = NULL, *b = NULL, *evil = NULL;

	signal(SIGPIPE, SIG_IGN); /* belt and braces: a test must not die of it */
	PKI_CHECK(mkdtemp(root));
	ca = xasprintf("%s/ca", root);
	other = xasprintf("%s/other-ca", root);
	a = xasprintf("%s/a", root);
	b = xasprintf("%s/b", root);
	evil = xasprintf("%s/evil", root);
	PKI_CHECK(cert_make_ca(ca, "crmig test CA", 30, err, sizeof(err)) == 0, "%s", err);
	PKI_CHECK(cert_make_host(ca, a, "hosta", ips_a, 30, err, sizeof(err)) == 0, "%s", err);
	PKI_CHECK(cert_make_host(ca, b, "hostb", ips_b, 30, err, sizeof(err)) == 0, "%s", err);
	PKI_CHECK(cert_make_ca(other, "some other CA", 30, err, sizeof(err)) == 0, "%s", err);
	/* same name as a, from the other CA */
	PKI_CHECK(cert_make_host(other, evil, "hosta", ips_a, 30, err, sizeof(err)) == 0, "%s", err);
	make_expired();
	make_bundle();
}

static void remove_pki(void)
{
	remove_tree(root);
}

/* ---- a server in a thread ------------------------------------------------- */

struct tls_paths_store {
	struct tls_paths p;
	char buf[3 * PATH_MAX];
};

static struct tls_ctx *ctx_for(const char *name)
{
	struct tls_paths_store st;
	__do_free char *dir = xasprintf("%s/%s", root, name);
	struct tls_ctx *t;

	tls_paths_from_dir(&st.p, dir, st.buf, sizeof(st.buf));
	t = tls_ctx_new(&st.p, err, sizeof(err));
	ck_assert_msg(t != NULL, "%s: %s", name, err);
	return t;
}

struct server {
	struct tls_ctx *t;
	int fd;
	bool ok;               /* handshake done and the exchange completed */
	char err[256];
	char peer_cn[80];
	uint64_t data_len;
	gnutls_session_t raw;  /* when set: a GnuTLS server made by the test */
};

/* The exchange: HELLO in, OK out (with the client's CN), a big DATA frame
 * in, OK out with its size, BYE in. */
static void serve(struct server *sv, gnutls_session_t s)
{
	struct chan c;
	json_t *hello, *reply;
	const char *cn = tls_peer_cn(s);
	void *buf = NULL;
	uint16_t type;
	uint32_t len;

	snprintf(sv->peer_cn, sizeof(sv->peer_cn), "%s", cn ? cn : "");
	chan_init_tls(&c, s);
	hello = chan_recv_json(&c, MSG_HELLO);
	if (!hello)
		goto out;
	json_decref(hello);
	reply = json_pack("{s:s}", "cn", sv->peer_cn);
	chan_send_json(&c, MSG_OK, reply);
	json_decref(reply);
	if (chan_recv(&c, &type, &buf, &len) < 0 || type != MSG_DATA)
		goto out;
	sv->data_len = len;
	reply = json_pack("{s:I}", "len", (json_int_t)len);
	chan_send_json(&c, MSG_OK, reply);
	json_decref(reply);
	free(buf);
	buf = NULL;
	if (chan_recv(&c, &type, &buf, &len) < 0 || type != MSG_BYE)
		goto out;
	sv->ok = c.bytes_recv > len;
out:
	if (!sv->ok)
		snprintf(sv->err, sizeof(sv->err), "%s", c.err);
	free(buf);
}

static void *server_main(void *arg)
{
	struct server *sv = arg;
	gnutls_session_t s;

	s = tls_accept(sv->t, sv->fd, sv->err, sizeof(sv->err));
	if (s) {
		serve(sv, s);
		tls_close(s);
	}
	/* whatever happened, the client must not wait for us */
	shutdown(sv->fd, SHUT_RDWR);
	return NULL;
}

struct conn {
	int fds[2];
	struct server sv;
	pthread_t thread;
};

static void start_server(struct conn *cn, struct tls_ctx *t, void *(*fn)(void *))
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, cn->fds), 0);
	cn->sv = (struct server){ .t = t, .fd = cn->fds[1] };
	ck_assert_int_eq(pthread_create(&cn->thread, NULL, fn, &cn->sv), 0);
}

static void stop_server(struct conn *cn)
{
	shutdown(cn->fds[0], SHUT_RDWR);
	pthread_join(cn->thread, NULL);
	close(cn->fds[0]);
	close(cn->fds[1]);
}

/* The client side of the exchange; 0 when all of it worked. */
static int client_exchange(gnutls_session_t s, char *why, size_t whylen)
{
	static char big[300 * 1024];
	struct chan c;
	json_t *hello = json_pack("{s:i}", "version", PROTO_VERSION), *reply;
	int ret = -1;

	chan_init_tls(&c, s);
	if (chan_send_json(&c, MSG_HELLO, hello) < 0 || !(reply = chan_recv_json(&c, MSG_OK)))
		goto out;
	json_decref(reply);
	memset(big, 'z', sizeof(big));
	if (chan_send(&c, MSG_DATA, big, sizeof(big)) < 0 || !(reply = chan_recv_json(&c, MSG_OK)))
		goto out;
	ret = json_int(reply, "len", -1) == (int64_t)sizeof(big) ? 0 : -1;
	json_decref(reply);
	if (ret == 0)
		ret = chan_send(&c, MSG_BYE, NULL, 0);
out:
	json_decref(hello);
	snprintf(why, whylen, "%s", c.err);
	return ret;
}

/* ---- handshakes that must work --------------------------------------------- */

static void connect_ok(const char *peer_name)
{
	struct tls_ctx *ta = ctx_for("a"), *tb = ctx_for("b");
	struct conn cn;
	gnutls_session_t s;
	char why[256];

	start_server(&cn, tb, server_main);
	s = tls_connect(ta, cn.fds[0], peer_name, err, sizeof(err));
	ck_assert_msg(s != NULL, "connect to %s: %s", peer_name, err);
	ck_assert_str_eq(tls_peer_cn(s), "hostb");
	ck_assert_msg(client_exchange(s, why, sizeof(why)) == 0, "exchange: %s", why);
	tls_close(s);
	stop_server(&cn);
	ck_assert_msg(cn.sv.ok, "server: %s", cn.sv.err);
	ck_assert_str_eq(cn.sv.peer_cn, "hosta");
	ck_assert_uint_eq(cn.sv.data_len, 300 * 1024);
	tls_ctx_free(ta);
	tls_ctx_free(tb);
}

START_TEST(test_handshake_by_dns_name)
{
	connect_ok("hostb");
}
END_TEST

START_TEST(test_handshake_by_ipv4_san)
{
	connect_ok("10.77.0.12");
}
END_TEST

START_TEST(test_handshake_by_ipv6_san)
{
	connect_ok("::1");
}
END_TEST

/* ---- handshakes that must fail ---------------------------------------------- */

/* Runs a client against a server and expects the connection to fail; the
 * client may only notice on its first read (TLS 1.3 lets the client finish
 * before the server has judged its certificate). */
static void expect_refusal(struct tls_ctx *client, struct tls_ctx *server, void *(*fn)(void *),
			   const char *peer_name, const char *server_says, const char *client_says)
{
	struct conn cn;
	gnutls_session_t s;
	char why[256] = "";

	start_server(&cn, server, fn);
	s = tls_connect(client, cn.fds[0], peer_name, err, sizeof(err));
	if (s) {
		ck_assert_msg(client_exchange(s, why, sizeof(why)) < 0, "the exchange worked");
		tls_close(s);
	} else {
		snprintf(why, sizeof(why), "%s", err);
	}
	stop_server(&cn);
	ck_assert_msg(!cn.sv.ok, "the server accepted");
	if (server_says)
		ck_assert_msg(strstr(cn.sv.err, server_says), "server said '%s', expected '%s'", cn.sv.err,
			      server_says);
	if (client_says)
		ck_assert_msg(strstr(why, client_says), "client said '%s', expected '%s'", why, client_says);
}

START_TEST(test_client_from_other_ca)
{
	__do_free char *bundle = path_of("evil", "bundle.crt");
	__do_free char *crt = path_of("evil", "host.crt"), *key = path_of("evil", "host.key");
	__do_free char *our_ca = path_of("b", "ca.crt");
	__do_free char *expect = xasprintf("peer certificate not signed by our CA (%s)", our_ca);
	struct tls_paths p = { .ca = bundle, .cert = crt, .key = key };
	struct tls_ctx *evil = tls_ctx_new(&p, err, sizeof(err)), *tb = ctx_for("b");

	ck_assert_msg(evil != NULL, "%s", err);
	expect_refusal(evil, tb, server_main, "hostb", expect, "rejected our certificate");
	tls_ctx_free(evil);
	tls_ctx_free(tb);
}
END_TEST

START_TEST(test_client_without_certificate)
{
	__do_free char *ca = path_of("ca", "ca.crt");
	struct tls_paths p = { .ca = ca };
	struct tls_ctx *anon = tls_ctx_new(&p, err, sizeof(err)), *tb = ctx_for("b");

	ck_assert_msg(anon != NULL, "%s", err);
	expect_refusal(anon, tb, server_main, "hostb", "peer sent no certificate", NULL);
	tls_ctx_free(anon);
	tls_ctx_free(tb);
}
END_TEST

START_TEST(test_server_name_mismatch)
{
	struct tls_ctx *ta = ctx_for("a"), *tb = ctx_for("b");

	expect_refusal(ta, tb, server_main, "10.77.0.99", NULL, "name mismatch: expected 10.77.0.99");
	ck_assert_ptr_nonnull(strstr(err, "DNS hostb"));
	ck_assert_ptr_nonnull(strstr(err, "IP 10.77.0.12"));
	expect_refusal(ta, tb, server_main, "hosta", NULL, "name mismatch: expected hosta");
	/* the server's IP SAN is not a DNS name, nor a name an IP */
	expect_refusal(ta, tb, server_main, "10.77.0.11", NULL, "name mismatch");
	tls_ctx_free(ta);
	tls_ctx_free(tb);
}
END_TEST

START_TEST(test_server_from_other_ca)
{
	__do_free char *bundle = path_of("evil", "bundle.crt");
	__do_free char *crt = path_of("evil", "host.crt"), *key = path_of("evil", "host.key");
	__do_free char *our_ca = path_of("b", "ca.crt");
	__do_free char *expect = xasprintf("peer certificate not signed by our CA (%s)", our_ca);
	struct tls_paths p = { .ca = bundle, .cert = crt, .key = key };
	struct tls_ctx *evil = tls_ctx_new(&p, err, sizeof(err)), *tb = ctx_for("b");

	ck_assert_msg(evil != NULL, "%s", err);
	/* evil's certificate is for "hosta": only the CA is wrong */
	expect_refusal(tb, evil, server_main, "hosta", NULL, expect);
	tls_ctx_free(evil);
	tls_ctx_free(tb);
}
END_TEST

/* A GnuTLS server with the expired certificate, built by hand since
 * tls_ctx_new refuses to load it. */
static void *expired_server_main(void *arg)
{
	struct server *sv = arg;
	__do_free char *crt = path_of("expired", "host.crt"), *key = path_of("expired", "host.key");
	gnutls_certificate_credentials_t cred;
	gnutls_session_t s;
	int ret;

	gnutls_certificate_allocate_credentials(&cred);
	gnutls_certificate_set_x509_key_file(cred, crt, key, GNUTLS_X509_FMT_PEM);
	gnutls_init(&s, GNUTLS_SERVER | GNUTLS_NO_SIGNAL);
	gnutls_set_default_priority(s);
	gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred);
	gnutls_transport_set_int(s, sv->fd);
	do {
		ret = gnutls_handshake(s);
	} while (ret < 0 && !gnutls_error_is_fatal(ret));
	snprintf(sv->err, sizeof(sv->err), "%s", gnutls_strerror(ret));
	gnutls_deinit(s);
	gnutls_certificate_free_credentials(cred);
	shutdown(sv->fd, SHUT_RDWR);
	return NULL;
}

START_TEST(test_server_certificate_expired)
{
	struct tls_ctx *ta = ctx_for("a");

	expect_refusal(ta, NULL, expired_server_main, "hostb", NULL, "certificate expired");
	tls_ctx_free(ta);
}
END_TEST

static void *garbage_server_main(void *arg)
{
	struct server *sv = arg;
	static const char junk[] = "SSH-2.0-OpenSSH_9.2\r\n";
	char sink[512];

	write_full(sv->fd, junk, sizeof(junk) - 1);
	(void)!read(sv->fd, sink, sizeof(sink));
	shutdown(sv->fd, SHUT_RDWR);
	return NULL;
}

START_TEST(test_peer_not_tls)
{
	struct tls_ctx *ta = ctx_for("a");
	struct conn cn;

	start_server(&cn, NULL, garbage_server_main);
	ck_assert_ptr_null(tls_connect(ta, cn.fds[0], "hostb", err, sizeof(err)));
	ck_assert_msg(err[0], "no reason given");
	stop_server(&cn);
	tls_ctx_free(ta);
}
END_TEST

START_TEST(test_server_needs_identity)
{
	__do_free char *ca = path_of("ca", "ca.crt");
	struct tls_paths p = { .ca = ca };
	struct tls_ctx *anon = tls_ctx_new(&p, err, sizeof(err));
	int fds[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	ck_assert_ptr_null(tls_accept(anon, fds[0], err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "without a host certificate"));
	close(fds[0]);
	close(fds[1]);
	tls_ctx_free(anon);
	tls_close(NULL);
	tls_ctx_free(NULL);
}
END_TEST

/* ---- loading credentials ---------------------------------------------------- */

static void ctx_fails(const char *ca, const char *cert, const char *key, const char *needle)
{
	struct tls_paths p = { .ca = ca, .cert = cert, .key = key };
	struct tls_ctx *t = tls_ctx_new(&p, err, sizeof(err));

	ck_assert_msg(t == NULL, "loaded (%s, %s, %s)", ca, cert, key);
	ck_assert_msg(strstr(err, needle), "'%s' does not mention '%s'", err, needle);
}

START_TEST(test_ctx_errors)
{
	__do_free char *ca = path_of("ca", "ca.crt"), *missing = path_of("ca", "nope.crt");
	__do_free char *a_crt = path_of("a", "host.crt"), *a_key = path_of("a", "host.key");
	__do_free char *b_key = path_of("b", "host.key");
	__do_free char *evil_crt = path_of("evil", "host.crt"), *evil_key = path_of("evil", "host.key");
	__do_free char *old_crt = path_of("expired", "host.crt"), *old_key = path_of("expired", "host.key");
	__do_free char *junk = path_of("ca", "junk.crt");

	ck_assert_int_eq(write_file(junk, "not a certificate\n", 18, 0644), 0);
	ctx_fails(NULL, a_crt, a_key, "no CA certificate configured");
	ctx_fails(missing, a_crt, a_key, "cannot read CA certificate");
	ctx_fails(missing, a_crt, a_key, "No such file");
	ctx_fails(junk, a_crt, a_key, "no usable CA certificate");
	ctx_fails(ca, a_crt, NULL, "no host key configured");
	ctx_fails(ca, a_crt, b_key, "cannot use");
	ctx_fails(ca, evil_crt, evil_key, "is not signed by");
	ctx_fails(ca, old_crt, old_key, "this host's certificate expired");
}
END_TEST

START_TEST(test_paths_from_dir)
{
	struct tls_paths p;
	char store[3 * PATH_MAX], tiny[20];

	tls_paths_from_dir(&p, "/etc/crmig", store, sizeof(store));
	ck_assert_str_eq(p.ca, "/etc/crmig/ca.crt");
	ck_assert_str_eq(p.cert, "/etc/crmig/host.crt");
	ck_assert_str_eq(p.key, "/etc/crmig/host.key");
	/* what does not fit is left unset, never truncated */
	tls_paths_from_dir(&p, "/etc/crmig", tiny, sizeof(tiny));
	ck_assert_str_eq(p.ca, "/etc/crmig/ca.crt");
	ck_assert_ptr_null(p.cert);
	ck_assert_ptr_null(p.key);
	tls_paths_from_dir(&p, "/etc/crmig", NULL, 0);
	ck_assert_ptr_null(p.ca);
}
END_TEST

/* ---- the certificates themselves --------------------------------------------- */

static gnutls_x509_crt_t load(const char *name, const char *file)
{
	__do_free char *path = path_of(name, file);
	gnutls_x509_crt_t crt;
	gnutls_datum_t d;

	ck_assert_int_eq(gnutls_load_file(path, &d), 0);
	gnutls_x509_crt_init(&crt);
	ck_assert_int_eq(gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM), 0);
	gnutls_free(d.data);
	return crt;
}

static void assert_mode(const char *name, const char *file, mode_t mode)
{
	__do_free char *path = path_of(name, file);
	struct stat st;

	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_msg((st.st_mode & 0777) == mode, "%s: mode %o, expected %o", path, st.st_mode & 0777, mode);
}

START_TEST(test_file_modes)
{
	assert_mode("ca", "ca.key", 0600);
	assert_mode("ca", "ca.crt", 0644);
	assert_mode("a", "host.key", 0600);
	assert_mode("a", "host.crt", 0644);
	assert_mode("a", "ca.crt", 0644); /* copied: a is a complete identity dir */
	ck_assert_int_eq(faccessat(AT_FDCWD, root, F_OK, 0), 0);
}
END_TEST

START_TEST(test_ca_certificate)
{
	gnutls_x509_crt_t ca = load("ca", "ca.crt");
	unsigned int is_ca = 0, bits = 0;
	int pathlen = -2;

	ck_assert_int_eq(gnutls_x509_crt_get_basic_constraints(ca, NULL, &is_ca, &pathlen), 1);
	ck_assert_uint_eq(is_ca, 1);
	ck_assert_int_eq(pathlen, 0);
	ck_assert_int_eq(gnutls_x509_crt_get_pk_algorithm(ca, &bits), GNUTLS_PK_ECDSA);
	ck_assert_uint_eq(bits, 256);
	gnutls_x509_crt_deinit(ca);
}
END_TEST

START_TEST(test_host_certificate)
{
	gnutls_x509_crt_t b = load("b", "host.crt"), a = load("a", "host.crt"), ca = load("ca", "ca.crt");
	unsigned char ip[16], sa[32], sb[32], ipv6_loopback[16] = { [15] = 1 };
	size_t size, la = sizeof(sa), lb = sizeof(sb);
	unsigned int is_ca = 1, status = 1;
	char name[64];

	ck_assert_int_eq(gnutls_x509_crt_get_basic_constraints(b, NULL, &is_ca, NULL), 0);
	size = sizeof(name);
	ck_assert_int_eq(gnutls_x509_crt_get_subject_alt_name(b, 0, name, &size, NULL), GNUTLS_SAN_DNSNAME);
	ck_assert_str_eq(name, "hostb");
	size = sizeof(ip);
	ck_assert_int_eq(gnutls_x509_crt_get_subject_alt_name(b, 1, ip, &size, NULL), GNUTLS_SAN_IPADDRESS);
	ck_assert_uint_eq(size, 4);
	ck_assert(!memcmp(ip, "\x0a\x4d\x00\x0c", 4));
	size = sizeof(ip);
	ck_assert_int_eq(gnutls_x509_crt_get_subject_alt_name(b, 2, ip, &size, NULL), GNUTLS_SAN_IPADDRESS);
	ck_assert_uint_eq(size, 16);
	ck_assert(!memcmp(ip, ipv6_loopback, 16));
	ck_assert(gnutls_x509_crt_check_key_purpose(b, GNUTLS_KP_TLS_WWW_SERVER, 0));
	ck_assert(gnutls_x509_crt_check_key_purpose(b, GNUTLS_KP_TLS_WWW_CLIENT, 0));
	ck_assert(gnutls_x509_crt_check_hostname(b, "hostb"));
	ck_assert(gnutls_x509_crt_check_ip(b, (unsigned char *)"\x0a\x4d\x00\x0c", 4, 0));
	ck_assert_int_eq(gnutls_x509_crt_verify(b, &ca, 1, 0, &status), 0);
	ck_assert_uint_eq(status, 0);
	/* random serials: 16 bytes, positive, different */
	ck_assert_int_eq(gnutls_x509_crt_get_serial(a, sa, &la), 0);
	ck_assert_int_eq(gnutls_x509_crt_get_serial(b, sb, &lb), 0);
	ck_assert_uint_eq(la, 16);
	ck_assert_uint_eq(lb, 16);
	ck_assert(!(sa[0] & 0x80));
	ck_assert(memcmp(sa, sb, 16));
	gnutls_x509_crt_deinit(a);
	gnutls_x509_crt_deinit(b);
	gnutls_x509_crt_deinit(ca);
}
END_TEST

START_TEST(test_host_named_by_address)
{
	__do_free char *ca = xasprintf("%s/ca", root), *dir = xasprintf("%s/byip", root);
	gnutls_x509_crt_t crt;
	unsigned char ip[16];
	size_t size = sizeof(ip);

	ck_assert_msg(cert_make_host(ca, dir, "10.77.0.13", NULL, 1, err, sizeof(err)) == 0, "%s", err);
	crt = load("byip", "host.crt");
	ck_assert_int_eq(gnutls_x509_crt_get_subject_alt_name(crt, 0, ip, &size, NULL), GNUTLS_SAN_IPADDRESS);
	ck_assert_uint_eq(size, 4);
	gnutls_x509_crt_deinit(crt);
}
END_TEST

START_TEST(test_make_errors)
{
	static const char *const bad_ip[] = { "10.0.0.300", NULL };
	static const char *const words[] = { "localhost", NULL };
	__do_free char *ca = xasprintf("%s/ca", root), *out = xasprintf("%s/never", root);
	__do_free char *nowhere = xasprintf("%s/no-such-ca", root), *mixed = xasprintf("%s/mixed", root);
	__do_free char *mixed_crt = path_of("mixed", "ca.crt"), *mixed_key = path_of("mixed", "ca.key");
	__do_free char *ca_path = path_of("ca", "ca.crt"), *other_path = path_of("other-ca", "ca.key");
	__do_free char *ca_text = NULL, *other_key = NULL;

	ck_assert_int_eq(cert_make_ca(ca, "again", 30, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "already exists"));
	ck_assert_int_eq(cert_make_ca(out, "", 30, err, sizeof(err)), -1);
	ck_assert_int_eq(cert_make_ca(out, "ok", 0, err, sizeof(err)), -1);
	ck_assert_int_eq(cert_make_host(ca, out, "hostc", bad_ip, 30, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "not an IP address: 10.0.0.300");
	ck_assert_int_eq(cert_make_host(ca, out, "hostc", words, 30, err, sizeof(err)), -1);
	ck_assert_int_eq(cert_make_host(ca, out, "bad name!", NULL, 30, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "not a host name"));
	ck_assert_int_eq(cert_make_host(ca, out, "hostc", NULL, -5, err, sizeof(err)), -1);
	ck_assert_int_eq(cert_make_host(nowhere, out, "hostc", NULL, 30, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "No such file"));
	ck_assert_int_eq(faccessat(AT_FDCWD, out, F_OK, 0), -1); /* nothing written */

	/* a CA directory whose key belongs to another CA */
	ck_assert_int_eq(mkdir(mixed, 0700), 0);
	ca_text = read_file(ca_path, NULL);
	other_key = read_file(other_path, NULL);
	ck_assert_int_eq(write_file(mixed_crt, ca_text, strlen(ca_text), 0644), 0);
	ck_assert_int_eq(write_file(mixed_key, other_key, strlen(other_key), 0600), 0);
	ck_assert_int_eq(cert_make_host(mixed, out, "hostc", NULL, 30, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "does not belong to"));
}
END_TEST

/* ---- kernel TLS (ktls.h) ------------------------------------------------------ */

/* What ktls_info_from gives the kernel, used the way the kernel uses it
 * (net/tls: the nonce from salt, iv and the record sequence number, the
 * additional data of TLS 1.2 and 1.3): a record sealed or opened by these
 * helpers is what the kernel would put on the wire or accept from it. */
struct kparams {
	gnutls_cipher_algorithm_t alg;
	bool v13;
	unsigned char key[32], nonce[12], seq[8];
	unsigned int keylen;
	unsigned char explicit_iv[8]; /* TLS 1.2 AES-GCM: the first record's explicit nonce */
	bool has_explicit;
};

static void kparams_of(const struct ktls_info *k, struct kparams *p)
{
	memset(p, 0, sizeof(*p));
	p->v13 = k->u.base.version == TLS_1_3_VERSION;
	switch (k->u.base.cipher_type) {
	case TLS_CIPHER_AES_GCM_128:
		p->alg = GNUTLS_CIPHER_AES_128_GCM, p->keylen = 16;
		memcpy(p->key, k->u.gcm128.key, 16);
		memcpy(p->nonce, k->u.gcm128.salt, 4);
		memcpy(p->nonce + 4, k->u.gcm128.iv, 8);
		memcpy(p->seq, k->u.gcm128.rec_seq, 8);
		break;
	case TLS_CIPHER_AES_GCM_256:
		p->alg = GNUTLS_CIPHER_AES_256_GCM, p->keylen = 32;
		memcpy(p->key, k->u.gcm256.key, 32);
		memcpy(p->nonce, k->u.gcm256.salt, 4);
		memcpy(p->nonce + 4, k->u.gcm256.iv, 8);
		memcpy(p->seq, k->u.gcm256.rec_seq, 8);
		break;
	case TLS_CIPHER_CHACHA20_POLY1305:
		p->alg = GNUTLS_CIPHER_CHACHA20_POLY1305, p->keylen = 32;
		memcpy(p->key, k->u.chacha.key, 32);
		memcpy(p->nonce, k->u.chacha.iv, 12);
		memcpy(p->seq, k->u.chacha.rec_seq, 8);
		break;
	default:
		ck_abort_msg("unexpected cipher type %u", k->u.base.cipher_type);
	}
	/* TLS 1.2 AES-GCM: salt || explicit nonce (sent in the record, iv
	 * onwards); TLS 1.3 and ChaCha20: the 12 bytes XOR the sequence */
	p->has_explicit = !p->v13 && p->alg != GNUTLS_CIPHER_CHACHA20_POLY1305;
	if (p->has_explicit)
		memcpy(p->explicit_iv, p->nonce + 4, 8);
	else
		for (int i = 0; i < 8; i++)
			p->nonce[4 + i] ^= p->seq[i];
}

static gnutls_aead_cipher_hd_t kaead(const struct kparams *p)
{
	gnutls_datum_t key = { (unsigned char *)p->key, p->keylen };
	gnutls_aead_cipher_hd_t h;

	ck_assert_int_eq(gnutls_aead_cipher_init(&h, p->alg, &key), 0);
	return h;
}

/* TLS 1.2's additional data: seq, type, version, the plaintext's length */
static void aad12(const struct kparams *p, size_t plain_len, unsigned char aad[13])
{
	memcpy(aad, p->seq, 8);
	aad[8] = 0x17, aad[9] = 3, aad[10] = 3, aad[11] = (unsigned char)(plain_len >> 8), aad[12] = (unsigned char)plain_len;
}

/* One application-data record of plain (first record of the direction). */
static size_t kseal(const struct kparams *p, const char *plain, unsigned char *rec)
{
	gnutls_aead_cipher_hd_t h = kaead(p);
	size_t n = strlen(plain), body = 0, ct_len;
	unsigned char in[256], aad[13];

	ck_assert_uint_lt(n, sizeof(in) - 1);
	memcpy(in, plain, n);
	if (p->v13)
		in[n++] = 0x17; /* the inner content type */
	if (p->has_explicit)
		body = 8;
	ct_len = n + 16;
	rec[0] = 0x17, rec[1] = 3, rec[2] = 3;
	rec[3] = (unsigned char)((body + ct_len) >> 8), rec[4] = (unsigned char)(body + ct_len);
	if (p->has_explicit) {
		unsigned char nonce[12];

		memcpy(nonce, p->nonce, 4);
		memcpy(nonce + 4, p->explicit_iv, 8);
		memcpy(rec + 5, p->explicit_iv, 8);
		aad12(p, n, aad);
		ck_assert_int_eq(gnutls_aead_cipher_encrypt(h, nonce, 12, aad, 13, 16, in, n, rec + 13, &ct_len), 0);
	} else if (p->v13) {
		ck_assert_int_eq(gnutls_aead_cipher_encrypt(h, p->nonce, 12, rec, 5, 16, in, n, rec + 5, &ct_len), 0);
	} else {
		aad12(p, n, aad);
		ck_assert_int_eq(gnutls_aead_cipher_encrypt(h, p->nonce, 12, aad, 13, 16, in, n, rec + 5, &ct_len), 0);
	}
	gnutls_aead_cipher_deinit(h);
	return 5 + body + ct_len;
}

/* Opens one record read raw off the socket; its plaintext, NUL-ended. */
static void kopen(const struct kparams *p, int fd, char *out, size_t outlen)
{
	gnutls_aead_cipher_hd_t h = kaead(p);
	unsigned char rec[16384 + 256], aad[13], nonce[12];
	size_t len, pt_len = sizeof(rec);
	const unsigned char *ct;

	ck_assert_int_eq(read_full(fd, rec, 5), 0);
	ck_assert_uint_eq(rec[0], 0x17); /* application data: no ticket, nothing else before it */
	len = (size_t)rec[3] << 8 | rec[4];
	ck_assert_uint_le(len, sizeof(rec) - 5);
	ck_assert_int_eq(read_full(fd, rec + 5, len), 0);
	ct = rec + 5;
	memcpy(nonce, p->nonce, 12);
	if (p->has_explicit) {
		memcpy(nonce + 4, rec + 5, 8);
		ct += 8, len -= 8;
	}
	if (p->v13)
		ck_assert_int_eq(gnutls_aead_cipher_decrypt(h, nonce, 12, rec, 5, 16, ct, len, out, &pt_len), 0);
	else {
		aad12(p, len - 16, aad);
		ck_assert_int_eq(gnutls_aead_cipher_decrypt(h, nonce, 12, aad, 13, 16, ct, len, out, &pt_len), 0);
	}
	if (p->v13) {
		ck_assert_uint_ge(pt_len, 1);
		ck_assert_uint_eq((unsigned char)out[--pt_len], 0x17);
	}
	ck_assert_uint_lt(pt_len, outlen);
	out[pt_len] = 0;
	gnutls_aead_cipher_deinit(h);
}

/* The server: one record to the client through GnuTLS, then one from it. */
static void *ktls_peer_main(void *arg)
{
	struct server *sv = arg;
	static const char hello[] = "pages from the server";
	gnutls_session_t s = tls_accept(sv->t, sv->fd, sv->err, sizeof(sv->err));
	ssize_t n;

	if (!s)
		return NULL;
	if (gnutls_record_send(s, hello, sizeof(hello) - 1) == sizeof(hello) - 1) {
		do
			n = gnutls_record_recv(s, sv->peer_cn, sizeof(sv->peer_cn) - 1);
		while (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED);
		if (n >= 0) {
			sv->peer_cn[n] = 0;
			sv->ok = true;
		} else
			snprintf(sv->err, sizeof(sv->err), "%s", gnutls_strerror((int)n));
	}
	gnutls_deinit(s);
	return NULL;
}

static const struct {
	const char *priority;
	unsigned int version;
	unsigned int cipher;
} ktls_cases[] = {
	{ NULL, TLS_1_3_VERSION, 0 }, /* what crmig negotiates by default (0: any cipher the kernel takes) */
	{ "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM", TLS_1_3_VERSION, TLS_CIPHER_AES_GCM_128 },
	{ "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-256-GCM", TLS_1_3_VERSION, TLS_CIPHER_AES_GCM_256 },
	{ "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+CHACHA20-POLY1305", TLS_1_3_VERSION, TLS_CIPHER_CHACHA20_POLY1305 },
	{ "NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-GCM", TLS_1_2_VERSION, TLS_CIPHER_AES_GCM_128 },
	{ "NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+AES-256-GCM", TLS_1_2_VERSION, TLS_CIPHER_AES_GCM_256 },
	{ "NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+CHACHA20-POLY1305", TLS_1_2_VERSION, TLS_CIPHER_CHACHA20_POLY1305 },
};

/* Both directions' parameters, right after crmig's handshake, are the ones
 * the peer's GnuTLS uses: a record the server's GnuTLS sent opens with the
 * read side's, and one sealed with the write side's is accepted by it. A
 * wrong salt/iv split, sequence number or key fails here, not in the lab. */
START_TEST(test_ktls_params_match_the_session)
{
	struct tls_ctx *ta, *tb;
	struct ktls_info rx, tx;
	struct kparams p;
	struct conn cn;
	gnutls_session_t s;
	unsigned char rec[512];
	char got[256], why[256];
	size_t n;

	if (ktls_cases[_i].priority)
		setenv("CRMIG_TLS_PRIORITY", ktls_cases[_i].priority, 1);
	ta = ctx_for("a");
	tb = ctx_for("b");
	start_server(&cn, tb, ktls_peer_main);
	s = tls_connect(ta, cn.fds[0], "hostb", err, sizeof(err));
	ck_assert_msg(s != NULL, "%s: %s", ktls_cases[_i].priority ?: "default", err);
	ck_assert_msg(ktls_info_from(s, true, &rx, why, sizeof(why)) == 0, "read side: %s", why);
	ck_assert_msg(ktls_info_from(s, false, &tx, why, sizeof(why)) == 0, "write side: %s", why);
	ck_assert_uint_eq(rx.u.base.version, ktls_cases[_i].version);
	if (ktls_cases[_i].cipher)
		ck_assert_uint_eq(rx.u.base.cipher_type, ktls_cases[_i].cipher);
	ck_assert_uint_eq(tx.u.base.cipher_type, rx.u.base.cipher_type);
	ck_assert_uint_gt(rx.len, sizeof(rx.u.base));

	kparams_of(&rx, &p);
	kopen(&p, cn.fds[0], got, sizeof(got));
	ck_assert_str_eq(got, "pages from the server");
	kparams_of(&tx, &p);
	n = kseal(&p, "pages from the client", rec);
	ck_assert_int_eq(write_full(cn.fds[0], rec, n), 0);
	pthread_join(cn.thread, NULL);
	ck_assert_msg(cn.sv.ok, "the server's GnuTLS refused the kernel-style record: %s", cn.sv.err);
	ck_assert_str_eq(cn.sv.peer_cn, "pages from the client");
	gnutls_deinit(s);
	close(cn.fds[0]);
	close(cn.fds[1]);
	tls_ctx_free(ta);
	tls_ctx_free(tb);
	unsetenv("CRMIG_TLS_PRIORITY");
}
END_TEST

/* A cipher the kernel is not given: ktls_info_from says so, and
 * ktls_install leaves the session to GnuTLS (the relay's path). */
START_TEST(test_ktls_refuses_other_ciphers)
{
	struct tls_ctx *ta, *tb;
	struct ktls_info k;
	struct conn cn;
	gnutls_session_t s;
	char why[256], buf[64];
	ssize_t n;

	setenv("CRMIG_TLS_PRIORITY", "NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-CBC:-MAC-ALL:+SHA256", 1);
	ta = ctx_for("a");
	tb = ctx_for("b");
	start_server(&cn, tb, ktls_peer_main);
	s = tls_connect(ta, cn.fds[0], "hostb", err, sizeof(err));
	ck_assert_msg(s != NULL, "%s", err);
	ck_assert_int_eq(ktls_info_from(s, false, &k, why, sizeof(why)), -1);
	ck_assert_msg(strstr(why, "AES-128-CBC"), "%s", why);
	ck_assert_int_eq(ktls_install(s, cn.fds[0], why, sizeof(why)), -1);
	/* untouched: GnuTLS goes on */
	do
		n = gnutls_record_recv(s, buf, sizeof(buf) - 1);
	while (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED);
	ck_assert_int_eq(n, (ssize_t)strlen("pages from the server"));
	ck_assert_int_eq(gnutls_record_send(s, "ok", 2), 2);
	pthread_join(cn.thread, NULL);
	ck_assert_msg(cn.sv.ok, "%s", cn.sv.err);
	gnutls_deinit(s);
	close(cn.fds[0]);
	close(cn.fds[1]);
	tls_ctx_free(ta);
	tls_ctx_free(tb);
	unsetenv("CRMIG_TLS_PRIORITY");
}
END_TEST

/* On a real TCP connection: where the kernel has TLS, the socket is then
 * read and written plainly while the peer's GnuTLS sees TLS; where it has
 * none (this project's CI host), -1 says why and GnuTLS still works on it.
 * Either way ktls_available() agrees. */
START_TEST(test_ktls_install_on_tcp)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	struct tls_ctx *ta = ctx_for("b"), *tb = ctx_for("a"); /* a's certificate names 127.0.0.1 */
	struct conn cn = { 0 };
	gnutls_session_t s;
	char why[256], probe_why[256], buf[64];
	int l = socket(AF_INET, SOCK_STREAM, 0), c = socket(AF_INET, SOCK_STREAM, 0), k;
	bool avail = ktls_available(probe_why, sizeof(probe_why));
	ssize_t n;

	ck_assert_int_eq(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(l, 1), 0);
	ck_assert_int_eq(getsockname(l, (struct sockaddr *)&a, &alen), 0);
	ck_assert_int_eq(connect(c, (struct sockaddr *)&a, sizeof(a)), 0);
	cn.fds[0] = c;
	cn.fds[1] = accept(l, NULL, NULL);
	ck_assert_int_ge(cn.fds[1], 0);
	cn.sv = (struct server){ .t = tb, .fd = cn.fds[1] };
	ck_assert_int_eq(pthread_create(&cn.thread, NULL, ktls_peer_main, &cn.sv), 0);
	s = tls_connect(ta, c, "127.0.0.1", err, sizeof(err));
	ck_assert_msg(s != NULL, "%s", err);
	k = ktls_install(s, c, why, sizeof(why));
	ck_assert_int_ne(k, -2);
	ck_assert_msg((k == 0) == avail, "install %d (%s) but the probe says %d (%s)", k, why, avail, probe_why);
	if (k == 0) {
		gnutls_deinit(s);
		s = NULL;
		ck_assert_int_eq(read_full(c, buf, strlen("pages from the server")), 0);
		ck_assert_int_eq(write_full(c, "plain in, TLS out", strlen("plain in, TLS out")), 0);
	} else {
		fprintf(stderr, "test_ktls_install_on_tcp: no kernel TLS here (%s): checked the fallback only\n", why);
		ck_assert_msg(strstr(why, "TCP_ULP"), "%s", why);
		do
			n = gnutls_record_recv(s, buf, sizeof(buf) - 1);
		while (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED);
		ck_assert_int_eq(n, (ssize_t)strlen("pages from the server"));
		ck_assert_int_eq(gnutls_record_send(s, "plain in, TLS out", strlen("plain in, TLS out")), 17);
	}
	pthread_join(cn.thread, NULL);
	ck_assert_msg(cn.sv.ok, "%s", cn.sv.err);
	ck_assert_str_eq(cn.sv.peer_cn, "plain in, TLS out");
	if (s)
		gnutls_deinit(s);
	close(c);
	close(cn.fds[1]);
	close(l);
	tls_ctx_free(ta);
	tls_ctx_free(tb);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tls");
	TCase *hs = tcase_create("handshake");
	TCase *certs = tcase_create("certificates");
	int failed;

	/* One PKI for the whole run (key generation is the slow part under
	 * valgrind); the tests only read it, apart from their own subdirs. */
	make_pki();

	tcase_set_timeout(hs, 120);
	tcase_add_test(hs, test_handshake_by_dns_name);
	tcase_add_test(hs, test_handshake_by_ipv4_san);
	tcase_add_test(hs, test_handshake_by_ipv6_san);
	tcase_add_test(hs, test_client_from_other_ca);
	tcase_add_test(hs, test_client_without_certificate);
	tcase_add_test(hs, test_server_name_mismatch);
	tcase_add_test(hs, test_server_from_other_ca);
	tcase_add_test(hs, test_server_certificate_expired);
	tcase_add_test(hs, test_peer_not_tls);
	tcase_add_test(hs, test_server_needs_identity);
	tcase_add_loop_test(hs, test_ktls_params_match_the_session, 0, (int)ARRAY_SIZE(ktls_cases));
	tcase_add_test(hs, test_ktls_refuses_other_ciphers);
	tcase_add_test(hs, test_ktls_install_on_tcp);
	suite_add_tcase(s, hs);

	tcase_set_timeout(certs, 120);
	tcase_add_test(certs, test_ctx_errors);
	tcase_add_test(certs, test_paths_from_dir);
	tcase_add_test(certs, test_file_modes);
	tcase_add_test(certs, test_ca_certificate);
	tcase_add_test(certs, test_host_certificate);
	tcase_add_test(certs, test_host_named_by_address);
	tcase_add_test(certs, test_make_errors);
	suite_add_tcase(s, certs);

	failed = unit_run(s);
	remove_pki();
	return failed ? 1 : 0;
}
