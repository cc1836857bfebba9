/* A hostile client of crmig serve: see hostile.h. Every attack's verdict is
 * what serve did with the connection: closed it (FIN), reset it, or left it
 * open past the bound (a hang: the attack fails). A connection's end is
 * seen without reading what serve sent (poll for POLLRDHUP/POLLHUP), so the
 * client that reads nothing really reads nothing. */
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/socket.h>

#include "hostile.h"
#include "net.h"
#include "proto.h"
#include "tls.h"
#include "util.h"

struct hx {
	const struct hostile_opts *o;
	struct hostile_report *r;
	struct tls_ctx *tls;
};

static void say(struct hx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct hx *x, const char *fmt, ...)
{
	va_list ap;

	if (!x->o->verbose)
		return;
	fprintf(stderr, "crmig-hostile: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static struct hostile_attack *attack(struct hx *x, const char *name)
{
	struct hostile_attack *a = &x->r->a[x->r->n++];

	*a = (struct hostile_attack){ .name = name, .close_ms = -1 };
	return a;
}

static void judge(struct hostile_attack *a, bool ok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void judge(struct hostile_attack *a, bool ok, const char *fmt, ...)
{
	va_list ap;

	a->ok = ok;
	va_start(ap, fmt);
	vsnprintf(a->what, sizeof(a->what), fmt, ap);
	va_end(ap);
}

/* Deterministic junk: the same bytes every run, so that a failure repeats. */
static void junk(unsigned char *buf, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++) {
		seed = seed * 1103515245u + 12345u;
		buf[i] = (unsigned char)(seed >> 16);
	}
}

static int tcp_to_serve(struct hx *x, char *err, size_t errlen)
{
	return net_connect(x->o->host, x->o->port, 10, err, errlen);
}

/* How a connection ended, without reading it. 1: reset or closed (why set),
 * 0: still open. */
static int gone(int fd, short revents, const char **why)
{
	int soerr = 0;
	socklen_t sl = sizeof(soerr);

	if (!(revents & (POLLRDHUP | POLLHUP | POLLERR)))
		return 0;
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
	*why = soerr == ECONNRESET || (revents & POLLERR) ? "reset" : "closed";
	return 1;
}

/* Waits until each of fds has been closed by serve, at most until deadline
 * (now_ms() clock). Fills ms[i] (since start) or -1, and why[i]. Returns
 * how many are still open. */
static int wait_gone(const int *fds, int n, double start, double deadline, double *ms, const char **why)
{
	__do_free struct pollfd *p = xzalloc(sizeof(*p) * (size_t)(n ? n : 1));
	int open_ = n;

	for (int i = 0; i < n; i++) {
		p[i] = (struct pollfd){ .fd = fds[i], .events = POLLRDHUP };
		ms[i] = -1;
		why[i] = "open";
	}
	while (open_ > 0) {
		double left = deadline - now_ms();
		int rc;

		if (left <= 0)
			break;
		rc = poll(p, (nfds_t)n, (int)(left < 1000 ? left + 1 : 1000));
		if (rc < 0 && errno != EINTR)
			break;
		for (int i = 0; i < n && rc > 0; i++) {
			if (p[i].fd < 0 || !gone(p[i].fd, p[i].revents, &why[i]))
				continue;
			ms[i] = now_ms() - start;
			p[i].fd = -1; /* poll ignores it from now on */
			open_--;
		}
	}
	return open_;
}

static int wait_one(int fd, double start, double bound_s, double *ms, const char **why)
{
	return wait_gone(&fd, 1, start, start + bound_s * 1000, ms, why);
}

/* A TLS session with the identity of cert_dir, and the hello of `role`. */
static gnutls_session_t session(struct hx *x, int fd, struct chan *ch, const char *role, char *err, size_t errlen)
{
	gnutls_session_t s = tls_connect(x->tls, fd, x->o->host, err, errlen);
	json_t *hello, *reply;

	if (!s)
		return NULL;
	chan_init_tls(ch, s);
	hello = json_pack("{s:i, s:s, s:s}", "version", PROTO_VERSION, "role", role, "crmig", "crmig-hostile");
	reply = chan_send_json(ch, MSG_HELLO, hello) == 0 ? chan_recv_json(ch, MSG_HELLO) : NULL;
	json_decref(hello);
	if (!reply) {
		snprintf(err, errlen, "hello: %s", ch->err);
		tls_close(s);
		return NULL;
	}
	json_decref(reply);
	return s;
}

/* A real request from a well-behaved client: a gui session's "check". */
static int real_request(struct hx *x, double *ms, char *err, size_t errlen)
{
	double start = now_ms();
	__do_close int fd = tcp_to_serve(x, err, errlen);
	struct chan ch;
	gnutls_session_t s;
	json_t *req, *reply;

	if (fd < 0)
		return -1;
	/* never hang here: the answer is due within answer_s */
	{
		struct timeval tv = { .tv_sec = (time_t)x->o->answer_s };

		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	s = session(x, fd, &ch, "gui", err, errlen);
	if (!s)
		return -1;
	gnutls_record_set_timeout(s, (unsigned int)(x->o->answer_s * 1000));
	req = json_pack("{s:s}", "op", "check");
	reply = chan_send_json(&ch, MSG_REQUEST, req) == 0 ? chan_recv_json(&ch, MSG_OK) : NULL;
	json_decref(req);
	if (!reply)
		snprintf(err, errlen, "check: %s", ch.err);
	else
		chan_send(&ch, MSG_BYE, NULL, 0);
	json_decref(reply);
	tls_close(s);
	*ms = now_ms() - start;
	return reply ? 0 : -1;
}

static void finish(struct hostile_attack *a, int still_open, double ms, const char *why, double bound_s,
		   const char *what)
{
	a->close_ms = ms;
	if (still_open)
		judge(a, false, "%s; serve still held the connection after %.0f s: a hang", what, bound_s);
	else
		judge(a, true, "%s; serve %s the connection after %.0f ms", what, why, ms);
}

/* ---- the attacks ------------------------------------------------------------ */

/* (1) Raw garbage where a TLS ClientHello belongs. */
static void garbage(struct hx *x)
{
	struct hostile_attack *a = attack(x, "garbage");
	unsigned char buf[4096];
	char err[256];
	__do_close int fd = tcp_to_serve(x, err, sizeof(err));
	const char *why;
	double ms, start;
	int open_;

	if (fd < 0)
		return judge(a, false, "cannot connect: %s", err);
	memcpy(buf, "GET / HTTP/1.0\r\n\r\n", 18);
	junk(buf + 18, sizeof(buf) - 18, 1);
	start = now_ms();
	if (send(fd, buf, sizeof(buf), MSG_NOSIGNAL) < 0 && errno != ECONNRESET && errno != EPIPE)
		return judge(a, false, "cannot send: %s", strerror(errno));
	open_ = wait_one(fd, start, x->o->bound_s, &ms, &why);
	finish(a, open_, ms, why, x->o->bound_s, "4 KiB of garbage instead of a ClientHello");
}

/* Raw bytes inside an authenticated session (serve sees them as frames). */
static void in_session(struct hx *x, const char *name, const void *head, size_t headlen, const char *what)
{
	struct hostile_attack *a = attack(x, name);
	unsigned char frames[16 * 1024];
	char err[512];
	__do_close int fd = tcp_to_serve(x, err, sizeof(err));
	struct chan ch;
	gnutls_session_t s;
	const char *why;
	double ms, start;
	int open_;

	if (fd < 0)
		return judge(a, false, "cannot connect: %s", err);
	s = session(x, fd, &ch, "source", err, sizeof(err));
	if (!s)
		return judge(a, false, "the mutual TLS session failed (is cert_dir an identity of serve's CA?): %s",
			     err);
	start = now_ms();
	if (head)
		gnutls_record_send(s, head, headlen);
	/* then garbage frames; serve may have gone already: errors are fine */
	for (uint32_t i = 0; i < 4; i++) {
		junk(frames, sizeof(frames), 100 + i);
		if (gnutls_record_send(s, frames, sizeof(frames)) < 0)
			break;
	}
	open_ = wait_one(fd, start, x->o->bound_s, &ms, &why);
	gnutls_deinit(s);
	finish(a, open_, ms, why, x->o->bound_s, what);
}

/* (2) A frame header that announces 4 GiB, then garbage frames. */
static void huge_length(struct hx *x)
{
	unsigned char h[PROTO_HDR_LEN] = { 'C', 'R', 'M', 'G', 0, MSG_REQUEST, 0, 0, 0xff, 0xff, 0xff, 0xff };

	in_session(x, "huge-length", h, sizeof(h), "mutual TLS and hello, then a frame of length 0xffffffff and garbage");
}

/* (2b) Garbage frames at once after the hello (bad magic). */
static void garbage_frames(struct hx *x)
{
	in_session(x, "garbage-frames", NULL, 0, "mutual TLS and hello, then 64 KiB of garbage frames");
}

/* ---- the held attacks: at once, with a real request among them ---------------- */

/* Watches every held connection from the moment it is opened, so that each
 * one's end is timed even while the next attack is being set up. */
struct watch {
	pthread_t thread;
	pthread_mutex_t mu;
	int n, cap;
	bool stop;
	int *fd;
	double *start, *end;  /* now_ms(); end < 0: open */
	const char **why;
};

static void *watch_main(void *arg)
{
	struct watch *w = arg;
	__do_free struct pollfd *p = xzalloc(sizeof(*p) * (size_t)w->cap);
	__do_free int *idx = xzalloc(sizeof(int) * (size_t)w->cap);

	for (;;) {
		int m = 0, rc;

		pthread_mutex_lock(&w->mu);
		if (w->stop) {
			pthread_mutex_unlock(&w->mu);
			return NULL;
		}
		for (int i = 0; i < w->n; i++)
			if (w->end[i] < 0) {
				p[m] = (struct pollfd){ .fd = w->fd[i], .events = POLLRDHUP };
				idx[m++] = i;
			}
		pthread_mutex_unlock(&w->mu);
		rc = poll(p, (nfds_t)m, 50);
		if (rc <= 0)
			continue;
		pthread_mutex_lock(&w->mu);
		for (int k = 0; k < m; k++)
			if (gone(p[k].fd, p[k].revents, &w->why[idx[k]]))
				w->end[idx[k]] = now_ms();
		pthread_mutex_unlock(&w->mu);
	}
}

static int watch_add(struct watch *w, int fd, double start)
{
	int i;

	pthread_mutex_lock(&w->mu);
	i = w->n < w->cap ? w->n++ : -1;
	if (i >= 0) {
		w->fd[i] = fd;
		w->start[i] = start;
		w->end[i] = -1;
		w->why[i] = "open";
	}
	pthread_mutex_unlock(&w->mu);
	return i;
}

/* Waits until slots [from, to) have all ended or the deadline passed; the
 * number still open, the latest end (ms after its start) in *worst. */
static int watch_wait(struct watch *w, int from, int to, double deadline, double *worst, int *resets)
{
	for (;;) {
		int open_ = 0;

		*worst = 0;
		*resets = 0;
		pthread_mutex_lock(&w->mu);
		for (int i = from; i < to; i++) {
			if (w->end[i] < 0)
				open_++;
			else if (w->end[i] - w->start[i] > *worst)
				*worst = w->end[i] - w->start[i];
			*resets += w->end[i] >= 0 && !strcmp(w->why[i], "reset");
		}
		pthread_mutex_unlock(&w->mu);
		if (!open_ || now_ms() >= deadline)
			return open_;
		usleep(20 * 1000);
	}
}

struct held {
	struct watch w;
	int half_fd;             /* (3) ClientHello sent, then nothing */
	gnutls_session_t half;
	gnutls_certificate_credentials_t half_cred;
	int silent_fd;           /* (3b) handshake done, then no hello */
	gnutls_session_t silent;
	int *idle;               /* (4) idle TCP connections */
	int n_idle, idle_from;
	int mute_fd;             /* (5) requests sent, answers never read */
	gnutls_session_t mute;
	struct chan mute_ch;
	long mute_sent;
	bool mute_full;          /* serve stopped taking our requests: it is blocked on us */
	int slot_half, slot_silent, slot_mute;
};

/* GnuTLS writes its ClientHello here and reads nothing: the handshake goes
 * one step only, however fast the server answers (over the socket itself a
 * slow client, under valgrind, found serve's whole answer there and went on). */
struct hello_buf {
	unsigned char b[16384];
	size_t len;
};

static ssize_t capture_push(gnutls_transport_ptr_t p, const void *data, size_t len)
{
	struct hello_buf *hb = p;

	if (len > sizeof(hb->b) - hb->len) {
		errno = ENOBUFS;
		return -1;
	}
	memcpy(hb->b + hb->len, data, len);
	hb->len += len;
	return (ssize_t)len;
}

static ssize_t nothing_to_pull(gnutls_transport_ptr_t p, void *data, size_t len)
{
	(void)p, (void)data, (void)len;
	errno = EAGAIN;
	return -1;
}

static int half_handshake(struct hx *x, struct held *h, char *err, size_t errlen)
{
	struct hello_buf hb = { .len = 0 };
	int ret;

	h->half_fd = tcp_to_serve(x, err, errlen);
	if (h->half_fd < 0)
		return -1;
	if (gnutls_certificate_allocate_credentials(&h->half_cred) < 0 ||
	    gnutls_init(&h->half, GNUTLS_CLIENT | GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL) < 0) {
		snprintf(err, errlen, "GnuTLS cannot make a session");
		return -1;
	}
	gnutls_set_default_priority(h->half);
	gnutls_credentials_set(h->half, GNUTLS_CRD_CERTIFICATE, h->half_cred);
	gnutls_transport_set_ptr(h->half, &hb);
	gnutls_transport_set_push_function(h->half, capture_push);
	gnutls_transport_set_pull_function(h->half, nothing_to_pull);
	ret = gnutls_handshake(h->half);
	if (ret != GNUTLS_E_AGAIN || !hb.len) {
		snprintf(err, errlen, "no ClientHello came out of GnuTLS: %s", gnutls_strerror(ret));
		return -1;
	}
	/* the ClientHello leaves; serve's answer is never read */
	if (write_full(h->half_fd, hb.b, hb.len) < 0) {
		snprintf(err, errlen, "sending the ClientHello: %s", strerror(errno));
		return -1;
	}
	h->slot_half = watch_add(&h->w, h->half_fd, now_ms());
	return 0;
}

/* The whole mutual TLS handshake, then not a byte: no hello. */
static int silent_session(struct hx *x, struct held *h, char *err, size_t errlen)
{
	h->silent_fd = tcp_to_serve(x, err, errlen);
	if (h->silent_fd < 0)
		return -1;
	h->silent = tls_connect(x->tls, h->silent_fd, x->o->host, err, errlen);
	if (!h->silent)
		return -1;
	h->slot_silent = watch_add(&h->w, h->silent_fd, now_ms());
	return 0;
}

static int idle_crowd(struct hx *x, struct held *h, char *err, size_t errlen)
{
	h->idle = xzalloc(sizeof(int) * (size_t)x->o->idle_conns);
	h->idle_from = h->w.n;
	for (h->n_idle = 0; h->n_idle < x->o->idle_conns; h->n_idle++) {
		h->idle[h->n_idle] = tcp_to_serve(x, err, errlen);
		if (h->idle[h->n_idle] < 0)
			return -1;
		watch_add(&h->w, h->idle[h->n_idle], now_ms());
	}
	return 0;
}

/* Requests ("check", as crmig gui asks) as fast as serve takes them, and
 * never a byte read: once both directions' buffers are full serve blocks
 * sending to us, and we stop when our own send blocks for 2 s. */
static int mute_client(struct hx *x, struct held *h, char *err, size_t errlen)
{
	static const char body[] = "{\"op\":\"check\"}";
	unsigned char rec[16 * 1024];
	size_t frame = PROTO_HDR_LEN + sizeof(body) - 1, per = sizeof(rec) / frame;
	double until;

	h->mute_fd = tcp_to_serve(x, err, errlen);
	if (h->mute_fd < 0)
		return -1;
	/* a small receive buffer: serve fills it soon */
	{
		int small = 16 * 1024;

		setsockopt(h->mute_fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	}
	h->mute = session(x, h->mute_fd, &h->mute_ch, "gui", err, errlen);
	if (!h->mute)
		return -1;
	for (size_t i = 0; i < per; i++) {
		unsigned char *f = rec + i * frame;
		uint32_t len = sizeof(body) - 1;

		memcpy(f, "CRMG", 4);
		f[4] = 0, f[5] = MSG_REQUEST, f[6] = 0, f[7] = 0;
		f[8] = (unsigned char)(len >> 24), f[9] = (unsigned char)(len >> 16), f[10] = (unsigned char)(len >> 8),
		f[11] = (unsigned char)len;
		memcpy(f + PROTO_HDR_LEN, body, len);
	}
	fcntl(h->mute_fd, F_SETFL, fcntl(h->mute_fd, F_GETFL) | O_NONBLOCK);
	h->slot_mute = watch_add(&h->w, h->mute_fd, now_ms());
	for (until = now_ms() + 60000; now_ms() < until;) {
		ssize_t n = gnutls_record_send(h->mute, rec, per * frame);
		struct pollfd p = { .fd = h->mute_fd, .events = POLLOUT };

		if (n > 0) {
			h->mute_sent += (long)per;
			continue;
		}
		if (n != GNUTLS_E_AGAIN && n != GNUTLS_E_INTERRUPTED)
			break; /* serve dropped us already */
		{
			double t0 = now_ms();
			int rc = poll(&p, 1, 2000);

			/* our send waited long: both buffers are full, serve is stuck on us */
			if (now_ms() - t0 > 500)
				h->mute_full = true;
			if (rc == 0)
				break;
		}
		/* GnuTLS wants the same record again */
		n = gnutls_record_send(h->mute, NULL, 0);
		if (n > 0)
			h->mute_sent += (long)per;
		else if (n != GNUTLS_E_AGAIN && n != GNUTLS_E_INTERRUPTED)
			break;
	}
	/* serve's clock for dropping us starts when its last reply stuck */
	pthread_mutex_lock(&h->w.mu);
	h->w.start[h->slot_mute] = now_ms();
	pthread_mutex_unlock(&h->w.mu);
	return 0;
}

static void held_free(struct held *h)
{
	if (h->half)
		gnutls_deinit(h->half);
	if (h->half_cred)
		gnutls_certificate_free_credentials(h->half_cred);
	close_fd(&h->half_fd);
	if (h->silent)
		gnutls_deinit(h->silent);
	close_fd(&h->silent_fd);
	for (int i = 0; i < h->n_idle; i++)
		close_fd(&h->idle[i]);
	free(h->idle);
	if (h->mute)
		gnutls_deinit(h->mute);
	close_fd(&h->mute_fd);
	free(h->w.fd);
	free(h->w.start);
	free(h->w.end);
	free(h->w.why);
	pthread_mutex_destroy(&h->w.mu);
}

static void judge_slot(struct hx *x, struct held *h, struct hostile_attack *a, int slot, const char *what)
{
	double worst;
	int resets, open_;

	if (slot < 0)
		return; /* judged when it could not be set up */
	open_ = watch_wait(&h->w, slot, slot + 1, h->w.start[slot] + x->o->bound_s * 1000, &worst, &resets);
	finish(a, open_, worst, h->w.why[slot], x->o->bound_s, what);
}

static void held_attacks(struct hx *x)
{
	struct hostile_attack *ah = attack(x, "half-handshake"), *as = attack(x, "silent-session"),
			      *ai = attack(x, "idle-connections"), *am = attack(x, "mute-client");
	struct held h = { .half_fd = -1, .silent_fd = -1, .mute_fd = -1, .slot_half = -1, .slot_silent = -1,
			  .slot_mute = -1 };
	char err[512] = "";
	double worst;
	int open_, resets;

	h.w.cap = x->o->idle_conns + 8;
	h.w.fd = xzalloc(sizeof(int) * (size_t)h.w.cap);
	h.w.start = xzalloc(sizeof(double) * (size_t)h.w.cap);
	h.w.end = xzalloc(sizeof(double) * (size_t)h.w.cap);
	h.w.why = xzalloc(sizeof(char *) * (size_t)h.w.cap);
	pthread_mutex_init(&h.w.mu, NULL);
	if (pthread_create(&h.w.thread, NULL, watch_main, &h.w) != 0) {
		judge(ah, false, "cannot start the watcher thread");
		held_free(&h);
		return;
	}
	if (half_handshake(x, &h, err, sizeof(err)) < 0)
		judge(ah, false, "%s", err);
	if (silent_session(x, &h, err, sizeof(err)) < 0)
		judge(as, false, "the mutual TLS handshake failed: %s", err);
	say(x, "half-done handshake and a silent session held; opening %d idle connections", x->o->idle_conns);
	if (idle_crowd(x, &h, err, sizeof(err)) < 0)
		judge(ai, false, "only %d of %d idle connections: %s", h.n_idle, x->o->idle_conns, err);
	say(x, "%d idle connections held; a client that reads nothing", h.n_idle);
	if (mute_client(x, &h, err, sizeof(err)) < 0)
		judge(am, false, "%s", err);
	say(x, "mute client: %ld requests sent, %s", h.mute_sent, h.mute_full ? "serve stopped taking them" : "not blocked");
	/* all of them held: a real client must still get its answer */
	if (real_request(x, &x->r->answer_ms, x->r->answer_err, sizeof(x->r->answer_err)) == 0)
		x->r->answered = true;
	say(x, "real request while held: %s (%.0f ms)", x->r->answered ? "answered" : x->r->answer_err,
	    x->r->answer_ms);

	judge_slot(x, &h, ah, h.slot_half, "a ClientHello, then silence");
	judge_slot(x, &h, as, h.slot_silent, "a complete mutual TLS handshake, then no hello");
	if (h.n_idle == x->o->idle_conns) {
		double deadline = h.w.start[h.idle_from + h.n_idle - 1] + x->o->bound_s * 1000;

		open_ = watch_wait(&h.w, h.idle_from, h.idle_from + h.n_idle, deadline, &worst, &resets);
		ai->close_ms = open_ ? -1 : worst;
		if (open_)
			judge(ai, false, "%d idle TCP connections at once; %d still held by serve after %.0f s: a hang",
			      h.n_idle, open_, x->o->bound_s);
		else
			judge(ai, true, "%d idle TCP connections at once; serve closed all (%d reset), the last after %.0f ms",
			      h.n_idle, resets, worst);
	}
	if (h.slot_mute >= 0) {
		char what[160];

		snprintf(what, sizeof(what), "%ld requests, no answer read (%s)", h.mute_sent,
			 h.mute_full ? "serve stopped taking them: blocked on us" : "serve never blocked");
		judge_slot(x, &h, am, h.slot_mute, what);
	}
	pthread_mutex_lock(&h.w.mu);
	h.w.stop = true;
	pthread_mutex_unlock(&h.w.mu);
	pthread_join(h.w.thread, NULL);
	held_free(&h);
}

/* ---- the report --------------------------------------------------------------- */

int hostile_run(const struct hostile_opts *opts, struct hostile_report *r)
{
	struct hostile_opts o = *opts;
	struct tls_paths tp;
	char store[3 * PATH_MAX], err[512];
	struct sigaction ign = { .sa_handler = SIG_IGN }, old;
	struct hx x = { .o = &o, .r = r };

	memset(r, 0, sizeof(*r));
	o.idle_conns = o.idle_conns > 0 ? o.idle_conns : 200;
	o.bound_s = o.bound_s > 0 ? o.bound_s : 90;
	o.answer_s = o.answer_s > 0 ? o.answer_s : 20;
	tls_paths_from_dir(&tp, o.cert_dir, store, sizeof(store));
	x.tls = tls_ctx_new(&tp, err, sizeof(err));
	if (!x.tls) {
		snprintf(r->answer_err, sizeof(r->answer_err), "TLS identity in %s: %s", o.cert_dir, err);
		return -1;
	}
	sigaction(SIGPIPE, &ign, &old);
	say(&x, "garbage");
	garbage(&x);
	say(&x, "huge length");
	huge_length(&x);
	say(&x, "garbage frames");
	garbage_frames(&x);
	held_attacks(&x);
	/* and afterwards serve works as before */
	{
		double ms;
		char e2[256] = "";

		r->answered_after = real_request(&x, &ms, e2, sizeof(e2)) == 0;
		if (!r->answered_after && !r->answer_err[0])
			snprintf(r->answer_err, sizeof(r->answer_err), "after the attacks: %s", e2);
	}
	sigaction(SIGPIPE, &old, NULL);
	tls_ctx_free(x.tls);
	r->ok = r->answered && r->answered_after;
	for (int i = 0; i < r->n; i++)
		r->ok = r->ok && r->a[i].ok;
	return r->ok ? 0 : -1;
}

json_t *hostile_report_json(const struct hostile_report *r)
{
	json_t *attacks = json_array();

	for (int i = 0; i < r->n; i++)
		json_array_append_new(attacks, json_pack("{s:s, s:b, s:f, s:s}", "attack", r->a[i].name, "ok",
							 r->a[i].ok, "close_ms", r->a[i].close_ms, "what",
							 r->a[i].what));
	return json_pack("{s:b, s:o, s:b, s:f, s:b, s:s}", "ok", r->ok, "attacks", attacks, "answered_while_held",
			 r->answered, "answer_ms", r->answer_ms, "answered_after", r->answered_after, "answer_error",
			 r->answer_err);
}

char *hostile_report_text(const struct hostile_report *r)
{
	char *text = xasprintf("real request while held: %s (%.0f ms)%s%s; afterwards: %s\n",
			       r->answered ? "answered" : "NOT answered", r->answer_ms, r->answer_err[0] ? ": " : "",
			       r->answer_err, r->answered_after ? "answered" : "NOT answered");

	for (int i = 0; i < r->n; i++) {
		char *more = xasprintf("%s%s %s: %s\n", text, r->a[i].ok ? "ok  " : "FAIL", r->a[i].name, r->a[i].what);

		free(text);
		text = more;
	}
	return text;
}
