#include "ktls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

#ifndef SOL_TLS
#define SOL_TLS 282
#endif


/* The 12-byte nonce base of TLS 1.3 (and of ChaCha20 in 1.2) is split by the
 * kernel into salt (4) and iv (8) for AES-GCM; TLS 1.2's AES-GCM has a 4-byte
 * implicit salt and an explicit nonce per record, which GnuTLS takes from the
 * sequence number and so does the kernel from iv onwards. */
int ktls_info_from(gnutls_session_t s, bool read, struct ktls_info *out, char *why, size_t whylen)
{
	gnutls_protocol_t ver = gnutls_protocol_get_version(s);
	gnutls_cipher_algorithm_t c = gnutls_cipher_get(s);
	gnutls_datum_t mac, iv, key;
	unsigned char seq[8];
	bool v13 = ver == GNUTLS_TLS1_3;

	memset(out, 0, sizeof(*out));
	if (ver != GNUTLS_TLS1_2 && !v13)
		return fail_why(why, whylen, "kernel TLS takes TLS 1.2 and 1.3, not %s", gnutls_protocol_get_name(ver) ?: "?");
	if (gnutls_record_get_state(s, read, &mac, &iv, &key, seq) < 0)
		return fail_why(why, whylen, "GnuTLS cannot export the %s keys", read ? "read" : "write");
	out->u.base.version = v13 ? TLS_1_3_VERSION : TLS_1_2_VERSION;
	switch (c) {
	case GNUTLS_CIPHER_AES_128_GCM:
	case GNUTLS_CIPHER_AES_256_GCM: {
		bool big = c == GNUTLS_CIPHER_AES_256_GCM;
		/* gcm128 and gcm256 share the layout of salt, iv, rec_seq; only key differs */
		unsigned char *salt = big ? out->u.gcm256.salt : out->u.gcm128.salt;
		unsigned char *ivp = big ? out->u.gcm256.iv : out->u.gcm128.iv;
		unsigned char *seqp = big ? out->u.gcm256.rec_seq : out->u.gcm128.rec_seq;
		unsigned char *keyp = big ? out->u.gcm256.key : out->u.gcm128.key;
		size_t keylen = big ? TLS_CIPHER_AES_GCM_256_KEY_SIZE : TLS_CIPHER_AES_GCM_128_KEY_SIZE;

		if (key.size != keylen || iv.size != (v13 ? 12u : 4u))
			return fail_why(why, whylen, "unexpected key or IV size for %s", gnutls_cipher_get_name(c));
		out->u.base.cipher_type = big ? TLS_CIPHER_AES_GCM_256 : TLS_CIPHER_AES_GCM_128;
		memcpy(salt, iv.data, 4);
		memcpy(ivp, v13 ? iv.data + 4 : seq, 8);
		memcpy(seqp, seq, 8);
		memcpy(keyp, key.data, keylen);
		out->len = big ? sizeof(out->u.gcm256) : sizeof(out->u.gcm128);
		return 0;
	}
	case GNUTLS_CIPHER_CHACHA20_POLY1305:
		if (key.size != TLS_CIPHER_CHACHA20_POLY1305_KEY_SIZE || iv.size != TLS_CIPHER_CHACHA20_POLY1305_IV_SIZE)
			return fail_why(why, whylen, "unexpected key or IV size for %s", gnutls_cipher_get_name(c));
		out->u.base.cipher_type = TLS_CIPHER_CHACHA20_POLY1305;
		memcpy(out->u.chacha.iv, iv.data, 12);
		memcpy(out->u.chacha.rec_seq, seq, 8);
		memcpy(out->u.chacha.key, key.data, 32);
		out->len = sizeof(out->u.chacha);
		return 0;
	default:
		return fail_why(why, whylen, "kernel TLS has no %s (crmig gives it AES-GCM and ChaCha20-Poly1305)",
			  gnutls_cipher_get_name(c) ?: "?");
	}
}

static const char *ulp_error(int e)
{
	switch (e) {
	case ENOENT:
		return "this kernel has no TLS (no tls module: CONFIG_TLS)";
	case EEXIST:
		return "the socket already has an upper-layer protocol";
	case ENOTCONN:
		return "the socket is not connected";
	default:
		return strerror(e);
	}
}

int ktls_install(gnutls_session_t s, int fd, char *why, size_t whylen)
{
	struct ktls_info tx, rx;

	if (ktls_info_from(s, false, &tx, why, whylen) < 0 || ktls_info_from(s, true, &rx, why, whylen) < 0)
		return -1;
	/* bytes GnuTLS already decrypted would be lost to criu */
	if (gnutls_record_check_pending(s) > 0)
		return fail_why(why, whylen, "GnuTLS holds bytes of the stream already");
	if (setsockopt(fd, SOL_TCP, TCP_ULP, "tls", sizeof("tls")) < 0)
		return fail_why(why, whylen, "TCP_ULP tls: %s", ulp_error(errno));
	/* With the ULP and no keys, the socket still passes bytes as they are:
	 * a refused TX leaves GnuTLS able to go on. */
	if (setsockopt(fd, SOL_TLS, TLS_TX, &tx.u, tx.len) < 0)
		return fail_why(why, whylen, "the kernel refused TLS_TX: %s", strerror(errno));
	if (setsockopt(fd, SOL_TLS, TLS_RX, &rx.u, rx.len) < 0) {
		snprintf(why, whylen, "the kernel took TLS_TX but refused TLS_RX: %s", strerror(errno));
		return -2;
	}
	explicit_bzero(&tx, sizeof(tx));
	explicit_bzero(&rx, sizeof(rx));
	return 0;
}

bool ktls_available(char *why, size_t whylen)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok = false;

	if (l < 0 || c < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 1) < 0 ||
	    getsockname(l, (struct sockaddr *)&a, &alen) < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)) < 0)
		snprintf(why, whylen, "cannot probe on loopback: %s", strerror(errno));
	else if (setsockopt(c, SOL_TCP, TCP_ULP, "tls", sizeof("tls")) < 0)
		snprintf(why, whylen, "%s", ulp_error(errno));
	else
		ok = true;
	if (l >= 0)
		close(l);
	if (c >= 0)
		close(c);
	return ok;
}
