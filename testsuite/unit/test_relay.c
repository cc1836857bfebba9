/* Page streams over crmig's TLS (ref/relay.c). Two relays, one per "host",
 * joined by a mutually authenticated TLS connection over loopback TCP, each
 * with a local socket pair standing for criu. The stream must arrive intact
 * both ways, an end must travel as a clean end; and when the TLS side breaks,
 * criu's side must get garbage, never a clean end that a lazy-pages criu
 * would take for a finished transfer. */
#include <check.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <time.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net.h"
#include "relay.h"
#include "tls.h"
#include "util.h"
#include "unit.h"

static char root[] = "/tmp/crmig-test-relay-XXXXXX";
static char err[256];

/* Made before any test runs, where Check cannot report: fail loudly. */
#define PKI_CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "test_relay setup failed at line %d: %s (%s)\n", __LINE__, #cond, err); \
		exit(2); \
	} } while (0)

static void make_pki(void)
{
	static const char *const ips[] = { "127.0.0.1", NULL };
	__do_free char *ca = NULL, *a = NULL, *b = NULL;

	PKI_CHECK(mkdtemp(root));
	ca = xasprintf("%s/ca", root);
	a = xasprintf("%s/a", root);
	b = xasprintf("%s/b", root);
	PKI_CHECK(cert_make_ca(ca, "crmig relay test CA", 30, err, sizeof(err)) == 0);
	PKI_CHECK(cert_make_host(ca, a, "hosta", ips, 30, err, sizeof(err)) == 0);
	PKI_CHECK(cert_make_host(ca, b, "hostb", ips, 30, err, sizeof(err)) == 0);
}

static struct tls_ctx *ctx_for(const char *name)
{
	__do_free char *dir = xasprintf("%s/%s", root, name);
	char store[3 * PATH_MAX];
	struct tls_paths p;
	struct tls_ctx *t;

	tls_paths_from_dir(&p, dir, store, sizeof(store));
	t = tls_ctx_new(&p, err, sizeof(err));
	ck_assert_msg(t != NULL, "%s: %s", name, err);
	return t;
}

/* ---- a TLS connection between "a" (client) and "b" (server) ----------------- */

struct link {
	struct tls_ctx *ta, *tb;
	int tcp_a, tcp_b;
	gnutls_session_t sa, sb;
};

struct accepting {
	struct tls_ctx *t;
	int fd;
	gnutls_session_t s;
	char err[256];
};

static void *accept_main(void *arg)
{
	struct accepting *ac = arg;

	ac->s = tls_accept(ac->t, ac->fd, ac->err, sizeof(ac->err));
	return NULL;
}

static void link_up(struct link *l)
{
	int lfd = net_listen("127.0.0.1", 0, 4);
	struct accepting ac = { 0 };
	pthread_t t;

	l->ta = ctx_for("a");
	l->tb = ctx_for("b");
	ck_assert_int_ge(lfd, 0);
	l->tcp_a = net_connect("127.0.0.1", net_local_port(lfd), 5, err, sizeof(err));
	ck_assert_msg(l->tcp_a >= 0, "%s", err);
	l->tcp_b = net_accept_timeout(lfd, 5);
	ck_assert_int_ge(l->tcp_b, 0);
	close(lfd);
	ac.t = l->tb;
	ac.fd = l->tcp_b;
	ck_assert_int_eq(pthread_create(&t, NULL, accept_main, &ac), 0);
	l->sa = tls_connect(l->ta, l->tcp_a, "127.0.0.1", err, sizeof(err));
	pthread_join(t, NULL);
	ck_assert_msg(l->sa != NULL, "client: %s", err);
	ck_assert_msg(ac.s != NULL, "server: %s", ac.err);
	l->sb = ac.s;
}

static void link_free_ctx(struct link *l)
{
	tls_ctx_free(l->ta);
	tls_ctx_free(l->tb);
}

/* criu's end of a relay on one side: returns the local fd, *r the relay. */
static int relay_side(gnutls_session_t s, int tcp, struct relay **r)
{
	int pair[2];

	ck_assert_int_eq(relay_loopback_pair(pair), 0);
	*r = relay_start(pair[1], s, tcp, 24);
	ck_assert_ptr_nonnull(*r);
	return pair[0];
}

/* ---- moving data -------------------------------------------------------------- */

static unsigned char pattern_byte(uint64_t i, unsigned seed)
{
	return (unsigned char)((i * 2654435761u + seed) >> 7);
}

struct pump {
	int fd;
	uint64_t len;
	unsigned seed;
	bool shut;          /* shutdown(SHUT_WR) when done */
	/* reader results */
	uint64_t got;
	bool intact;
	bool clean_end;
};

/* Writes len pattern bytes in chunks of varying size, then ends its side. */
static void *writer_main(void *arg)
{
	struct pump *p = arg;
	unsigned char buf[70000];
	uint64_t off = 0;
	size_t step = 1;

	while (off < p->len) {
		size_t n = step < p->len - off ? step : (size_t)(p->len - off);

		for (size_t i = 0; i < n; i++)
			buf[i] = pattern_byte(off + i, p->seed);
		if (write_full(p->fd, buf, n) < 0)
			break;
		off += n;
		step = step * 7 % sizeof(buf) + 1;
	}
	if (p->shut)
		shutdown(p->fd, SHUT_WR);
	return NULL;
}

/* Reads until EOF, checking every byte against the pattern. */
static void *reader_main(void *arg)
{
	struct pump *p = arg;
	unsigned char buf[32768];
	ssize_t n;

	p->intact = true;
	while ((n = read(p->fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != pattern_byte(p->got + (uint64_t)i, p->seed))
				p->intact = false;
		p->got += (uint64_t)n;
	}
	p->clean_end = n == 0;
	return NULL;
}

START_TEST(test_both_ways_intact)
{
	struct link l;
	struct relay *ra, *rb;
	int fa, fb;
	struct pump a2b_w, a2b_r, b2a_w, b2a_r;
	pthread_t t[4];

	link_up(&l);
	fa = relay_side(l.sa, l.tcp_a, &ra);
	fb = relay_side(l.sb, l.tcp_b, &rb);
	a2b_w = (struct pump){ .fd = fa, .len = (1u << 20) + 4099, .seed = 1, .shut = true };
	b2a_w = (struct pump){ .fd = fb, .len = 777777, .seed = 2, .shut = true };
	a2b_r = (struct pump){ .fd = fb, .seed = 1 };
	b2a_r = (struct pump){ .fd = fa, .seed = 2 };
	ck_assert_int_eq(pthread_create(&t[0], NULL, writer_main, &a2b_w), 0);
	ck_assert_int_eq(pthread_create(&t[1], NULL, writer_main, &b2a_w), 0);
	ck_assert_int_eq(pthread_create(&t[2], NULL, reader_main, &a2b_r), 0);
	ck_assert_int_eq(pthread_create(&t[3], NULL, reader_main, &b2a_r), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	{
		/* each way, what one relay took from its end is what the other gave
		 * to its own: the page stream's end-to-end check (serve's
		 * page-server-wait) compares exactly these */
		char sent[65], got[65];
		uint64_t ns, ng;

		ck_assert_int_eq(relay_digest(ra, true, sent, &ns), 0);
		ck_assert_int_eq(relay_digest(rb, false, got, &ng), 0);
		ck_assert_uint_eq(ns, a2b_w.len);
		ck_assert_uint_eq(ng, a2b_w.len);
		ck_assert_str_eq(sent, got);
		ck_assert_int_eq(relay_digest(rb, true, sent, &ns), 0);
		ck_assert_int_eq(relay_digest(ra, false, got, &ng), 0);
		ck_assert_uint_eq(ns, b2a_w.len);
		ck_assert_str_eq(sent, got);
		/* and the two ways differ (different bytes) */
		ck_assert_int_eq(relay_digest(ra, true, got, &ng), 0);
		ck_assert_str_ne(sent, got);
		ck_assert_int_eq(relay_digest(NULL, true, got, &ng), -1);
	}
	/* both ways ended cleanly: the relays finish on their own */
	relay_join(ra);
	relay_join(rb);
	close(fa);
	close(fb);
	link_free_ctx(&l);
	ck_assert_uint_eq(a2b_r.got, a2b_w.len);
	ck_assert_uint_eq(b2a_r.got, b2a_w.len);
	ck_assert_msg(a2b_r.intact && b2a_r.intact, "corrupted: a->b %d, b->a %d", a2b_r.intact, b2a_r.intact);
	ck_assert(a2b_r.clean_end && b2a_r.clean_end);
}
END_TEST

/* The receiving criu dies mid-stream (a page server on a full disk): the
 * sending criu must not stay blocked (the workload frozen with it). Its
 * relay keeps being read (the bytes dropped), and the end of the other
 * side reaches it: its read sees the end. Before, the receiving relay
 * stopped reading and the sender's write blocked for ever. */
START_TEST(test_receiver_gone)
{
	struct link l;
	struct relay *ra, *rb;
	int fa, fb;
	struct pump w;
	pthread_t t;
	struct timespec until;
	struct pollfd p;
	char c;

	link_up(&l);
	fa = relay_side(l.sa, l.tcp_a, &ra);
	fb = relay_side(l.sb, l.tcp_b, &rb);
	close(fb); /* criu on b is gone before the stream starts */
	w = (struct pump){ .fd = fa, .len = 48u << 20, .seed = 3 }; /* far more than every buffer on the way */
	ck_assert_int_eq(pthread_create(&t, NULL, writer_main, &w), 0);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 60;
	ck_assert_msg(pthread_timedjoin_np(t, NULL, &until) == 0, "the sender is still blocked after 60 s");
	p = (struct pollfd){ .fd = fa, .events = POLLIN };
	ck_assert_int_eq(poll(&p, 1, 20000), 1);
	ck_assert_int_le(read(fa, &c, 1), 0); /* the end, not data */
	close(fa);
	relay_stop(ra);
	relay_stop(rb);
	link_free_ctx(&l);
}
END_TEST

/* The destination's end of a lazy stream holds the lazy-pages daemon's
 * closing request until the commit: page requests pass at once; the close
 * only after relay_open_gate(). A daemon that ends before it (its session
 * is going) leaves the source's side a broken stream (the relay there
 * poisons criu), never a clean end that criu takes for "all pages sent". */
static void ps_record(unsigned char rec[32], uint32_t cmd)
{
	memset(rec, 0, 32);
	memcpy(rec, &cmd, sizeof(cmd));
	rec[8] = (unsigned char)cmd; /* vaddr: tells the records apart */
}

/* b's end as serve makes it for a lazy stream: gated; criu's fd returned. */
static int gated_side(struct link *l, struct relay **rb, size_t iov)
{
	int pair[2];

	ck_assert_int_eq(relay_loopback_pair(pair), 0);
	*rb = relay_start_gated(pair[1], l->sb, l->tcp_b, iov);
	ck_assert_ptr_nonnull(*rb);
	return pair[0];
}

static bool readable_within(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1;
}

/* Records of iov bytes: criu 4.1's 24, or criu 4.2's 32 (each request must
 * pass whole: a relay framing 4.2's by 24 held 8 bytes of each back). */
static void gate_holds_the_close(size_t iov)
{
	struct link l;
	struct relay *ra, *rb;
	int fa, fb;
	unsigned char rec[32], got[96];

	link_up(&l);
	fa = relay_side(l.sa, l.tcp_a, &ra);
	fb = gated_side(&l, &rb, iov);
	/* two page requests, cut across writes, then the close */
	ps_record(rec, 8 | (1u << 16)); /* PS_IOV_GET with a flag */
	ck_assert_int_eq(write_full(fb, rec, 10), 0);
	ck_assert(!readable_within(fa, 200)); /* a partial record waits */
	ck_assert_int_eq(write_full(fb, rec + 10, iov - 10), 0);
	ck_assert(readable_within(fa, 5000)); /* a whole one goes at once */
	ck_assert_int_eq(read_full(fa, got, iov), 0);
	ps_record(rec, 8);
	ck_assert_int_eq(write_full(fb, rec, iov), 0);
	ps_record(rec, 0x1024); /* PS_IOV_FLUSH_N_CLOSE */
	ck_assert_int_eq(write_full(fb, rec, iov), 0);
	ck_assert_int_eq(read_full(fa, got, iov), 0);
	ck_assert_uint_eq(got[8], 8);
	ck_assert(!readable_within(fa, 300)); /* the close is held */
	relay_open_gate(rb);
	ck_assert(readable_within(fa, 5000));
	ck_assert_int_eq(read_full(fa, got, iov), 0);
	ck_assert_uint_eq(got[0], 0x24);
	ck_assert_uint_eq(got[1], 0x10);
	close(fb);
	close(fa);
	relay_stop(ra);
	relay_stop(rb);
	link_free_ctx(&l);
}

START_TEST(test_gate_holds_the_close)
{
	gate_holds_the_close(24);
}
END_TEST

START_TEST(test_gate_holds_the_close_criu42)
{
	gate_holds_the_close(32);
}
END_TEST

START_TEST(test_ps_iov_size)
{
	ck_assert_uint_eq(relay_ps_iov_size("3.17.1"), 24);
	ck_assert_uint_eq(relay_ps_iov_size("4.1.1"), 24);
	ck_assert_uint_eq(relay_ps_iov_size("4.2"), 32);
	ck_assert_uint_eq(relay_ps_iov_size("4.2.1"), 32);
	ck_assert_uint_eq(relay_ps_iov_size("5.0"), 32);
	ck_assert_uint_eq(relay_ps_iov_size(""), 24);
	ck_assert_uint_eq(relay_ps_iov_size(NULL), 24);
}
END_TEST

START_TEST(test_gate_closed_daemon_gone)
{
	struct link l;
	struct relay *ra, *rb;
	int fa, fb;
	unsigned char rec[32], c;
	ssize_t n;

	link_up(&l);
	fa = relay_side(l.sa, l.tcp_a, &ra);
	fb = gated_side(&l, &rb, 24);
	ps_record(rec, 0x1024);
	ck_assert_int_eq(write_full(fb, rec, 24), 0);
	close(fb); /* the daemon is gone before the commit */
	ck_assert(readable_within(fa, 10000));
	n = read(fa, &c, 1);
	/* garbage (the relay's poison), not the close and not a clean end */
	ck_assert_int_eq(n, 1);
	ck_assert_uint_eq(c, 0xff);
	close(fa);
	relay_stop(ra);
	relay_stop(rb);
	link_free_ctx(&l);
}
END_TEST

/* After the commit too: a lazy-pages daemon that dies (killed in the lazy
 * window) without its closing request leaves a broken stream, not a clean
 * end: real criu would take that for "every page sent" and end the source
 * while the copy here lacks pages (lab: dst-lazy-window:kill-criu). */
START_TEST(test_gate_open_daemon_dies)
{
	struct link l;
	struct relay *ra, *rb;
	int fa, fb;
	unsigned char rec[32], got[24], c;

	link_up(&l);
	fa = relay_side(l.sa, l.tcp_a, &ra);
	fb = gated_side(&l, &rb, 24);
	relay_open_gate(rb);
	ps_record(rec, 8);
	ck_assert_int_eq(write_full(fb, rec, 24), 0);
	ck_assert_int_eq(read_full(fa, got, 24), 0);
	close(fb);
	ck_assert(readable_within(fa, 10000));
	ck_assert_int_eq(read(fa, &c, 1), 1);
	ck_assert_uint_eq(c, 0xff);
	close(fa);
	relay_stop(ra);
	relay_stop(rb);
	link_free_ctx(&l);
}
END_TEST

/* One side ends, the other still talks, then ends too (a page server that
 * answers after the dump side has said all it had to say). */
START_TEST(test_half_close)
{
	struct link l;
	struct relay *ra, *rb;
	int fa, fb;
	char buf[64];

	link_up(&l);
	fa = relay_side(l.sa, l.tcp_a, &ra);
	fb = relay_side(l.sb, l.tcp_b, &rb);
	ck_assert_int_eq(write_full(fa, "close", 5), 0);
	shutdown(fa, SHUT_WR);
	ck_assert_int_eq(read_full(fb, buf, 5), 0);
	ck_assert_int_eq(memcmp(buf, "close", 5), 0);
	ck_assert_int_eq(read(fb, buf, sizeof(buf)), 0);  /* a's end arrived as an end */
	ck_assert_int_eq(write_full(fb, "answer", 6), 0); /* b still answers */
	ck_assert_int_eq(read_full(fa, buf, 6), 0);
	ck_assert_int_eq(memcmp(buf, "answer", 6), 0);
	shutdown(fb, SHUT_WR);
	ck_assert_int_eq(read(fa, buf, sizeof(buf)), 0);
	relay_join(ra);
	relay_join(rb);
	close(fa);
	close(fb);
	link_free_ctx(&l);
}
END_TEST

/* ---- the TLS side breaks --------------------------------------------------------- */

enum breakage { BREAK_FIN, BREAK_RESET, BREAK_GARBAGE };

/* relay_on_break's callback: how often it ran, and whether criu's side had
 * heard of the break by then (it must not have). */
struct break_seen {
	int fd;
	atomic_int calls;
	atomic_bool criu_knew;
};

static void on_break(void *arg)
{
	struct break_seen *b = arg;
	struct pollfd p = { .fd = b->fd, .events = POLLIN };

	atomic_fetch_add(&b->calls, 1);
	if (poll(&p, 1, 0) > 0)
		atomic_store(&b->criu_knew, true);
}

/* Relay on a only; b is the test with a bare TLS session. After some good
 * data, b's side breaks; criu's end of a must see the good data, then
 * garbage, and only then (once the relay is joined) the end. The relay's
 * on_break runs once, before the garbage; not at all when the peer's
 * requests had ended with the lazy-pages daemon's close (closed). */
static void broken_peer(enum breakage how, bool closed)
{
	/* a page_server_iov: PS_IOV_FLUSH_N_CLOSE, or some other request */
	unsigned char req[24] = { closed ? 0x24 : 0x01, closed ? 0x10 : 0x00 };
	struct link l;
	struct relay *ra;
	unsigned char buf[256];
	size_t got = 0, junk = 0;
	bool all_ff = true;
	struct timeval tv = { .tv_sec = 20 };
	struct break_seen seen = { 0 };
	int fa;
	ssize_t n;

	link_up(&l);
	fa = relay_side(l.sa, l.tcp_a, &ra);
	seen.fd = fa;
	relay_on_break(ra, on_break, &seen);
	setsockopt(fa, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ck_assert_int_eq(gnutls_record_send(l.sb, req, sizeof(req)), sizeof(req));
	ck_assert_int_eq(read_full(fa, buf, sizeof(req)), 0);
	ck_assert_int_eq(memcmp(buf, req, sizeof(req)), 0);
	switch (how) {
	case BREAK_FIN: /* the peer's TCP ends without a TLS close_notify */
		shutdown(l.tcp_b, SHUT_RDWR);
		break;
	case BREAK_RESET:
		setsockopt(l.tcp_b, SOL_SOCKET, SO_LINGER, &(struct linger){ .l_onoff = 1, .l_linger = 0 },
			   sizeof(struct linger));
		close(l.tcp_b);
		l.tcp_b = -1;
		break;
	case BREAK_GARBAGE: /* bytes that are no TLS record of this session */
		memset(buf, 0x17, sizeof(buf));
		ck_assert_int_eq(write_full(l.tcp_b, buf, sizeof(buf)), 0);
		break;
	}
	/* garbage first, however long the relay takes to notice */
	while (got < 64 && (n = read(fa, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++)
			all_ff &= buf[i] == 0xff;
		got += (size_t)n;
	}
	ck_assert_msg(got > 0, "criu's side got a clean end instead of garbage");
	ck_assert_msg(all_ff, "unexpected bytes");
	relay_join(ra);
	/* then the end (the relay closed its side) */
	while ((n = read(fa, buf, sizeof(buf))) > 0)
		junk += (size_t)n;
	ck_assert_int_eq(n, 0);
	ck_assert_uint_eq(got + junk, 64);
	ck_assert_int_eq(atomic_load(&seen.calls), closed ? 0 : 1);
	ck_assert_msg(!atomic_load(&seen.criu_knew), "on_break ran after criu's side heard of the break");
	close(fa);
	tls_close(l.sb);
	if (l.tcp_b >= 0)
		close(l.tcp_b);
	link_free_ctx(&l);
}

START_TEST(test_peer_ends_without_close_notify)
{
	broken_peer(BREAK_FIN, false);
}
END_TEST

START_TEST(test_peer_resets)
{
	broken_peer(BREAK_RESET, false);
}
END_TEST

START_TEST(test_peer_sends_garbage)
{
	broken_peer(BREAK_GARBAGE, false);
}
END_TEST

/* The daemon's close went through, then the link broke: criu ends the
 * source, so nothing of it is unlocked (on_break does not run). */
START_TEST(test_peer_breaks_after_close)
{
	broken_peer(BREAK_RESET, true);
}
END_TEST

/* A clean TLS end is a clean end: no garbage after a close_notify. */
START_TEST(test_peer_closes_cleanly)
{
	struct link l;
	struct relay *ra;
	char buf[16];
	int fa;

	link_up(&l);
	fa = relay_side(l.sa, l.tcp_a, &ra);
	ck_assert_int_eq(gnutls_record_send(l.sb, "last", 4), 4);
	ck_assert_int_eq(gnutls_bye(l.sb, GNUTLS_SHUT_WR), 0);
	ck_assert_int_eq(read_full(fa, buf, 4), 0);
	ck_assert_int_eq(read(fa, buf, sizeof(buf)), 0);
	shutdown(fa, SHUT_WR); /* and criu's end travels back as a close_notify */
	ck_assert_int_eq(gnutls_record_recv(l.sb, buf, sizeof(buf)), 0);
	relay_join(ra);
	close(fa);
	tls_close(l.sb);
	close(l.tcp_b);
	link_free_ctx(&l);
}
END_TEST

/* relay_stop ends an idle relay at once (crmig's cleanup). */
START_TEST(test_stop_idle)
{
	struct link l;
	struct relay *ra, *rb;
	char buf[16];
	int fa, fb;
	double start;

	link_up(&l);
	fa = relay_side(l.sa, l.tcp_a, &ra);
	fb = relay_side(l.sb, l.tcp_b, &rb);
	start = now_ms();
	relay_stop(ra);
	relay_stop(rb);
	ck_assert_msg(now_ms() - start < 5000, "relay_stop took %.0f ms", now_ms() - start);
	ck_assert_int_le(read(fa, buf, sizeof(buf)), 64); /* whatever came, it ends */
	close(fa);
	close(fb);
	link_free_ctx(&l);
	relay_stop(NULL);
	relay_join(NULL);
}
END_TEST

START_TEST(test_loopback_pair)
{
	int p[2];
	char c = 0;

	ck_assert_int_eq(relay_loopback_pair(p), 0);
	ck_assert(fcntl(p[0], F_GETFD) & FD_CLOEXEC);
	ck_assert(fcntl(p[1], F_GETFD) & FD_CLOEXEC);
	ck_assert_int_eq(write(p[0], "x", 1), 1);
	ck_assert_int_eq(read(p[1], &c, 1), 1);
	ck_assert_int_eq(c, 'x');
	close(p[0]);
	close(p[1]);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("relay");
	TCase *tc = tcase_create("relay");
	int failed;

	signal(SIGPIPE, SIG_IGN);
	make_pki();
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_loopback_pair);
	tcase_add_test(tc, test_both_ways_intact);
	tcase_add_test(tc, test_half_close);
	tcase_add_test(tc, test_receiver_gone);
	tcase_add_test(tc, test_gate_holds_the_close);
	tcase_add_test(tc, test_gate_holds_the_close_criu42);
	tcase_add_test(tc, test_ps_iov_size);
	tcase_add_test(tc, test_gate_closed_daemon_gone);
	tcase_add_test(tc, test_gate_open_daemon_dies);
	tcase_add_test(tc, test_peer_closes_cleanly);
	tcase_add_test(tc, test_peer_ends_without_close_notify);
	tcase_add_test(tc, test_peer_resets);
	tcase_add_test(tc, test_peer_sends_garbage);
	tcase_add_test(tc, test_peer_breaks_after_close);
	tcase_add_test(tc, test_stop_idle);
	suite_add_tcase(s, tc);

	failed = unit_run(s);
	remove_tree(root);
	return failed ? 1 : 0;
}
