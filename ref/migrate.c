/* crmig migrate: the source side. It connects to `crmig serve` on the
 * destination, checks that the chosen strategy can work on both hosts before
 * it touches the workload, then hands over to the strategy. The helpers here
 * are the steps strategies are made of. */
#include "migrate.h"

#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>


#include "fault.h"
#include "known_bugs.h"
#include "ktls.h"
#include "log_excerpt.h"
#include "net.h"
#include "netlock.h"
#include "stats.h"

#include "util.h"
#include "version.h"

void mig_progress(struct migration *m, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* The events' log tail gets every line, --quiet or not. */
	report_event(&m->rep, "log", json_pack("{s:s}", "msg", msg));
	if (!m->o->quiet)
		fprintf(stderr, "crmig [%7.1f s] %s\n", report_now(&m->rep) / 1000, msg);
}

/* ---- cancel -------------------------------------------------------------- */

/* SIGINT or SIGTERM to crmig migrate asks for a cancel. Before the handover
 * (the restore request) the strategies check it at their steps and roll
 * back: criu resumes the source. After it the destination may already run
 * the workload (post-copy: with its pages still here), so a cancel would
 * lose it: it is refused, said once, and the migration goes on. */
static volatile sig_atomic_t cancel_signal;
static bool past_handover, late_cancel_said;

static void on_cancel_signal(int sig)
{
	cancel_signal = sig;
}

static void note_late_cancel(struct migration *m)
{
	if (!cancel_signal || !past_handover || late_cancel_said)
		return;
	late_cancel_said = true;
	report_event(&m->rep, "cancel-refused",
		     json_pack("{s:s}", "reason", "too late to cancel: the destination already owns the workload"));
	mig_progress(m, "cancel refused: past the handover, the destination already owns the workload");
}

bool mig_cancelled(struct migration *m)
{
	if (!cancel_signal)
		return false;
	if (past_handover) {
		note_late_cancel(m);
		return false;
	}
	snprintf(m->err, sizeof(m->err), "cancelled");
	return true;
}

int mig_fail(struct migration *m, const char *result, const char *fmt, ...)
{
	char msg[sizeof(m->err)];
	va_list ap;

	/* fmt's arguments may include m->err itself. */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	memcpy(m->err, msg, sizeof(msg));
	report_set_error(&m->rep, result, "%s", m->err);
	return -1;
}

/* ---- the channel --------------------------------------------------------- */

/* A destination that stops answering while its connection stays open
 * (stalled, not dead: TCP keepalives still pass) must not hold the
 * migration, and the workload, forever: every reply is awaited at most
 * until --timeout runs out. */
static void arm_deadline(struct migration *m)
{
	double left = m->o->timeout_s * 1000 - report_now(&m->rep);

	if (m->sess)
		gnutls_record_set_timeout(m->sess, left > 1000 ? (unsigned)left : 1000);
}

/* A reply did not come before --timeout: the destination is stalled, and
 * asking it again (abort, finish, logs) would only wait again. */
static bool peer_silent;

json_t *mig_request(struct migration *m, json_t *req)
{
	json_t *reply;

	if (peer_silent) {
		snprintf(m->err, sizeof(m->err), "the destination stopped answering (nothing within --timeout)");
		json_decref(req);
		return NULL;
	}
	if (chan_send_json(&m->ch, MSG_REQUEST, req) < 0) {

		snprintf(m->err, sizeof(m->err), "lost the destination: %s", m->ch.err);
		json_decref(req);
		return NULL;
	}
	json_decref(req);
	arm_deadline(m);
	reply = chan_recv_json(&m->ch, MSG_OK);
	if (!reply) {
		snprintf(m->err, sizeof(m->err), "destination: %s", m->ch.err);
		peer_silent = report_now(&m->rep) >= m->o->timeout_s * 1000;
	}
	return reply;
}


int mig_call(struct migration *m, json_t *req)
{
	json_t *reply = mig_request(m, req);

	json_decref(reply);
	return reply ? 0 : -1;
}

void mig_page_server_blame(struct migration *m)
{
	char mine[sizeof(m->err)];
	size_t len;

	memcpy(mine, m->err, sizeof(mine));
	if (mig_call(m, json_pack("{s:s}", "op", "page-server-wait")) == 0) {
		memcpy(m->err, mine, sizeof(mine));
		return;
	}
	/* m->err is the destination's word now; ours goes first. */
	len = strlen(mine);
	snprintf(mine + len, sizeof(mine) - len, "%s%s", len ? "; the other side: " : "", m->err);
	memcpy(m->err, mine, sizeof(mine));
}

uint64_t mig_bytes(struct migration *m)
{
	uint64_t total = 0, s, r;

	net_tcp_bytes(m->ctl_fd, &s, &r);
	total += s + r;
	for (int i = 0; i < m->n_data; i++) {
		net_tcp_bytes(m->data_fds[i], &s, &r);
		total += s + r;
	}
	return total;
}

/* The destination's criu calls, as it ran them: its replies carry them. */
static void add_dest_argvs(struct migration *m, json_t *reply)
{
	size_t i, j;
	json_t *argv, *arg;

	json_array_foreach(json_object_get(reply, "criu_argv"), i, argv) {
		char **v = xzalloc((json_array_size(argv) + 1) * sizeof(char *));

		json_array_foreach(argv, j, arg)
			v[j] = (char *)(json_string_value(arg) ?: "");
		report_add_argv(&m->rep, "destination", v);
		free(v);
	}
}

/* One entry of the report's page_streams: how this host carried it. */
static void note_page_stream(struct migration *m, const char *op, bool kernel, const char *why)
{
	json_t *a = json_object_get(m->rep.extra, "page_streams");

	if (!a) {
		a = json_array();
		json_object_set_new(m->rep.extra, "page_streams", a);
	}
	json_array_append_new(a, json_pack("{s:s, s:s, s:s*}", "op", op, "source", kernel ? "kernel" : "relay",
					   "source_why", kernel ? NULL : why));
}

/* Why this host's end of every page stream goes through a relay, or NULL:
 * --page-tls relay, or a page-stream corrupt fault (the relays' sums, both
 * ends, find the flipped byte; the destination always relays). */
static const char *relay_wanted(struct migration *m)
{
	if (!strcmp(m->o->page_tls, "relay"))
		return "--page-tls relay";
	return relay_needed(false, true);
}

/* The destination's side of the stream just noted, from its reply. */
static void note_dest_stream(struct migration *m, json_t *ready)
{
	json_t *a = json_object_get(m->rep.extra, "page_streams");
	json_t *e = json_array_get(a, json_array_size(a) - 1);
	const char *via = json_str(ready, "page_tls");

	if (!e || !via)
		return; /* an older serve does not say */
	json_object_set_new(e, "destination", json_string(via));
	if (json_str(ready, "page_tls_why"))
		json_object_set_new(e, "destination_why", json_string(json_str(ready, "page_tls_why")));
}

/* The TLS handshake, then the session goes to the kernel (criu gets the TCP
 * socket) or to a relay thread, criu getting one end of a local socket pair
 * (relay.h). *relay: the relay, NULL in the kernel's case. */
static int page_stream_tls(struct migration *m, int fd, const char *op, struct relay **relay)
{
	char err[512], why[256];
	const char *need_relay = !strcmp(op, "lazy-channel") ? relay_needed(true, true) : relay_wanted(m);
	gnutls_session_t s;
	int pair[2];

	*relay = NULL;
	if (m->n_relays >= (int)ARRAY_SIZE(m->relays)) {
		close(fd);
		return -1;
	}
	s = tls_connect(m->tls, fd, m->host, err, sizeof(err));
	if (!s) {
		snprintf(m->err, sizeof(m->err), "TLS on the page stream: %s", err);
		close(fd);
		return -1;
	}
	if (!need_relay) {
		int k = ktls_install(s, fd, why, sizeof(why));

		if (k == 0) {
			gnutls_deinit(s); /* the kernel owns the session now */
			note_page_stream(m, op, true, NULL);
			return fd;
		}
		if (k == -2) {
			snprintf(m->err, sizeof(m->err), "TLS on the page stream: %s", why);
			gnutls_deinit(s);
			close(fd);
			return -1;
		}
		need_relay = why;
	}
	note_page_stream(m, op, false, need_relay);
	m->relays[m->n_relays] = NULL;
	if (relay_loopback_pair(pair) == 0 &&
	    !(m->relays[m->n_relays] = relay_start(pair[1], s, fd, relay_ps_iov_size(m->criu.version)))) {
		close(pair[0]);
		close(pair[1]);
	}
	if (!m->relays[m->n_relays]) {
		snprintf(m->err, sizeof(m->err), "cannot set up the page stream relay: %s", strerror(errno));
		tls_close(s);
		close(fd);
		return -1;
	}
	*relay = m->relays[m->n_relays++];
	return pair[0];
}

static void lazy_stream_broke(void *arg)
{
	mig_release_netlock(arg);
}

/* Two replies: the first says where to connect, the second that the
 * destination took the connection and started what needs it. */
int mig_page_channel(struct migration *m, const char *op, json_t *args)
{
	json_t *req = args ? args : json_object();
	json_t *where, *ready;
	struct relay *relay = NULL;
	int fd, criu_fd;

	json_object_set_new(req, "op", json_string(op));
	where = mig_request(m, req);
	if (!where)
		return -1;
	fd = net_data_connect(m->host, (int)json_int(where, "port", 0), json_str(where, "token") ?: "", 30,
			      m->err, sizeof(m->err));
	json_decref(where);
	if (fd < 0)
		return -1;
	/* A dead destination must fail criu, never hang it: 30 s of silence. */
	net_stream_opts(fd, 30);
	if (m->n_data < (int)ARRAY_SIZE(m->data_fds))
		m->data_fds[m->n_data++] = dup(fd);
	/* The handshake comes before the destination's second reply: it
	 * starts criu only once it holds an authenticated stream. */
	criu_fd = m->page_tls ? page_stream_tls(m, fd, op, &relay) : fd;
	if (criu_fd < 0)
		return -1;
	if (!strcmp(op, "page-server"))
		m->ps_relay = relay;
	/* A lazy stream that breaks makes criu resume the source with its
	 * network still locked (netlock.h): lifted first, while criu still
	 * holds the tree frozen. */
	if (!strcmp(op, "lazy-channel") && relay && m->o->tcp_established)
		relay_on_break(relay, lazy_stream_broke, m);
	arm_deadline(m);
	ready = chan_recv_json(&m->ch, MSG_OK);

	if (!ready) {
		snprintf(m->err, sizeof(m->err), "destination: %s", m->ch.err);
		close(criu_fd);
		return -1;
	}
	add_dest_argvs(m, ready);
	if (m->page_tls)
		note_dest_stream(m, ready);
	json_decref(ready);
	return criu_fd;
}

void mig_page_channel_close(int fd)
{
	/* our copy for byte counts (data_fds) keeps the connection open: the
	 * destination's page server would wait for criu's next request until
	 * its own timeout (123 s in the lab) when criu died mid-stream */
	shutdown(fd, SHUT_RDWR);
	close(fd);
}

json_t *mig_page_server_wait(struct migration *m)
{
	json_t *req = json_pack("{s:s}", "op", "page-server-wait");
	char hex[65];
	uint64_t bytes;

	/* criu had the page server's answer to its last message: every byte
	 * it wrote before went through our relay */
	if (m->ps_relay && relay_digest(m->ps_relay, true, hex, &bytes) == 0) {
		json_object_set_new(req, "stream_sha256", json_string(hex));
		json_object_set_new(req, "stream_bytes", json_integer((json_int_t)bytes));
	}
	m->ps_relay = NULL;
	return mig_request(m, req);
}

char *mig_local_dir(struct migration *m, const char *name)
{
	char *dir = xasprintf("%s/%s", m->dir, name);

	mkdir_p(dir, 0700);
	return dir;
}

/* ---- dumping ------------------------------------------------------------- */

struct dump_ctx {
	struct migration *m;
	const struct dump_spec *d;
	hook_fn on_hook;
	hook_after_fn after;
	int data_fd;
	pid_t criu;
	uint64_t last_bytes;

	double last_ms;
};

int mig_hook_bookkeeping(struct migration *m, const char *action)
{
	if (!strcmp(action, "pre-dump")) {
		m->t_freeze = report_now(&m->rep);
		m->frozen = true;
		report_event(&m->rep, "freeze", NULL);
		mig_progress(m, "workload frozen");
	} else if (!strcmp(action, "post-dump")) {
		m->t_dumped = report_now(&m->rep);
	}
	return 0;
}

/* Fault points inside a dump (fault.h): the tree is frozen at pre-dump (a
 * round's or the final dump's pages are about to stream), the dump is done
 * at post-dump (the images are about to cross). */
static void dump_fault_points(struct dump_ctx *dc, const char *action)
{
	const char *name = strrchr(dc->d->dir, '/');

	if (!strcmp(action, "pre-dump") && dc->d->action == CRIU_PRE_DUMP)
		fault_at(name ? name + 1 : dc->d->dir, dc->criu); /* round-N */
	else if (!strcmp(action, "pre-dump"))
		fault_at("final-dump", dc->criu);
	else if (!strcmp(action, "post-dump") && dc->d->action == CRIU_DUMP &&
		 fault_at("image-transfer", dc->criu) == FAULT_CORRUPT) {
		__do_free char *inv = xasprintf("%s/inventory.img", dc->d->dir);

		if (fault_corrupt_file(inv) < 0)
			mig_progress(dc->m, "fault injection: cannot corrupt %s: %s", inv, strerror(errno));
	}
}

static int dump_hook(void *ctx, const char *action)
{

	struct dump_ctx *dc = ctx;
	bool done = dc->d->action == CRIU_DUMP && !strcmp(action, "post-dump");
	int answer;

	/* pre-dump rounds freeze only briefly: only the final dump's freeze counts. */
	if (dc->d->action == CRIU_DUMP)
		mig_hook_bookkeeping(dc->m, action);
	if (done)
		mig_queue_stop(dc->m);
	dump_fault_points(dc, action);
	answer = dc->on_hook ? dc->on_hook(dc->m, action) : 0;
	/* criu resumes the tree now and lifts its own lock first; a dead criu
	 * leaves that to mig_after_criu_killed, the tree stopped till then */
	if (done && answer && mig_criu_alive(dc->m))
		mig_unqueue_stop(dc->m);
	return answer;
}


static void dump_after(void *ctx, const char *action)
{
	struct dump_ctx *dc = ctx;
	struct migration *m = dc->m;

	if (action) {
		if (dc->after)
			dc->after(m, action);
		return;
	}
	if (dc->data_fd >= 0) {
		uint64_t sent, recv;
		double now = report_now(&m->rep);

		net_tcp_bytes(dc->data_fd, &sent, &recv);
		if (sent + recv != dc->last_bytes) {
			double rate = (sent + recv - dc->last_bytes) / 1e3 / (now - dc->last_ms + 1e-9);

			report_event(&m->rep, "bytes", json_pack("{s:I, s:f}", "bytes", (json_int_t)mig_bytes(m),
								 "rate_mbps", rate));
			if (!m->o->quiet)
				mig_progress(m, "pages: %.1f MB moved (%.1f MB/s)", (sent + recv) / 1e6, rate);
		}
		dc->last_bytes = sent + recv;
		dc->last_ms = now;
	}
}

int mig_dump(struct migration *m, const struct dump_spec *d, hook_fn on_hook, hook_after_fn after)
{
	struct dump_ctx dc = { .m = m, .d = d, .on_hook = on_hook, .after = after, .data_fd = d->ps_fd,
			       .last_ms = report_now(&m->rep) };
	double left = m->o->timeout_s - report_now(&m->rep) / 1000;
	pid_t pid;
	int status;

	pid = m->wl->dump_start(m, d);
	if (pid < 0) {
		snprintf(m->err, sizeof(m->err), "cannot start the %s: %s", criu_action_name(d->action), strerror(errno));
		return -1;
	}
	dc.criu = m->criu_pid = pid;
	/* A pre-dump round's point (round-N): criu's pre-dump runs no "pre-dump"
	 * action script (only the fake criu did, so the lab's round faults never
	 * fired); here criu runs and its pages have not streamed yet. The hook
	 * below still tries, for a criu that does call it: a point fires once. */
	if (d->action == CRIU_PRE_DUMP) {
		const char *name = strrchr(d->dir, '/');

		fault_at(name ? name + 1 : d->dir, pid);
	}
	status = hook_serve(&m->hook, pid, dump_hook, dump_after, &dc, left > 10 ? left : 10);
	m->criu_pid = 0;
	if (status >= 128)
		mig_after_criu_killed(m, d, status);
	else
		mig_unqueue_stop(m); /* what criu resumed (a post-copy rollback) runs */
	m->wl->dump_done(m, d, status);
	return status;

}

/* ---- images, files, addresses ------------------------------------------- */

/* Sends every regular file of a local images directory but criu's logs and
 * the parent link (the destination makes its own). */
int mig_send_images(struct migration *m, const char *local_dir, const char *remote_name)
{
	__do_close int dfd = open(local_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	json_t *names = json_array();
	json_t *req, *reply;
	DIR *d;
	struct dirent *e;
	size_t i;
	json_t *v;

	if (dfd < 0 || !(d = fdopendir(dup(dfd)))) {
		json_decref(names);
		snprintf(m->err, sizeof(m->err), "cannot read %s: %s", local_dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d))) {
		struct stat st;

		if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (strstr(e->d_name, ".log") || !strcmp(e->d_name, "criu.out") || !strcmp(e->d_name, "criu.conf"))
			continue;
		json_array_append_new(names, json_string(e->d_name));
	}
	closedir(d);
	req = json_pack("{s:s, s:s, s:I}", "op", "images", "dir", remote_name, "count",
			(json_int_t)json_array_size(names));
	if (chan_send_json(&m->ch, MSG_REQUEST, req) < 0) {
		json_decref(req);
		json_decref(names);
		snprintf(m->err, sizeof(m->err), "lost the destination: %s", m->ch.err);
		return -1;
	}
	json_decref(req);
	json_array_foreach(names, i, v) {
		if (chan_send_file(&m->ch, dfd, json_string_value(v), json_string_value(v)) < 0) {
			json_decref(names);
			snprintf(m->err, sizeof(m->err), "sending images: %s", m->ch.err);
			return -1;
		}
	}
	json_decref(names);
	arm_deadline(m);
	reply = chan_recv_json(&m->ch, MSG_OK);

	if (!reply) {
		snprintf(m->err, sizeof(m->err), "destination: %s", m->ch.err);
		return -1;
	}
	json_decref(reply);
	return 0;
}

int mig_move_ips(struct migration *m, bool to_dest)
{
	for (int i = 0; i < m->n_ips; i++) {
		struct moved_ip *ip = &m->ips[i];

		if (to_dest && !ip->removed) {
			if (net_addr_del(ip->src_if, ip->addr, ip->prefix) < 0) {
				snprintf(m->err, sizeof(m->err), "cannot remove %s/%d from %s", ip->addr, ip->prefix, ip->src_if);
				return -1;
			}
			ip->removed = true;
		} else if (!to_dest && ip->removed) {
			if (net_addr_add(ip->src_if, ip->addr, ip->prefix) == 0)
				net_send_garp(ip->src_if, ip->addr, 3);
			ip->removed = false;
		}
	}
	return 0;
}

static json_t *ips_json(struct migration *m)
{
	json_t *a = json_array();

	for (int i = 0; i < m->n_ips; i++)
		json_array_append_new(a, json_pack("{s:s, s:i}", "addr", m->ips[i].addr, "prefix", m->ips[i].prefix));
	return a;
}

/* ---- restore and rollback ------------------------------------------------ */

int mig_restore(struct migration *m, const char *remote_dir, bool lazy)
{
	json_t *req = json_pack("{s:s, s:s, s:b, s:b, s:b, s:o, s:o, s:b}", "op", "restore", "dir", remote_dir,
				"lazy", lazy, "tcp_established", m->o->tcp_established, "file_locks", m->o->file_locks,
				"ips", ips_json(m), "workload", m->wl->describe(m), "fail", m->o->fail_restore);
	if (lazy)
		json_object_set_new(req, "lazy_verbosity", json_integer(m->o->lazy_verbosity));
	double start = report_now(&m->rep);
	uint64_t before = mig_bytes(m);
	json_t *reply;

	fault_at("restore", m->criu_pid);
	if (!mig_criu_alive(m)) {
		json_decref(req);
		snprintf(m->err, sizeof(m->err), "criu on the source died before the restore: not handing over");
		return -1;
	}

	mig_progress(m, "restoring on %s%s", m->host, lazy ? " (pages on demand)" : "");
	report_phase_announce(&m->rep, "restore");
	/* The handover: from here on the destination may run the workload. */
	past_handover = true;
	report_event(&m->rep, "handover", NULL);
	reply = mig_request(m, req);
	if (!reply) {
		report_phase_add(&m->rep, "restore", start, report_now(&m->rep), 0);
		return -1;
	}
	m->t_resumed = report_now(&m->rep);
	m->dest_restored = true;
	/* Post-copy: what had to cross before the workload could run is what
	 * crossed before the restore request plus the pages the restore faulted
	 * in, as the destination counted them on the lazy stream when the
	 * restore was complete; criu's background transfer starts after that
	 * and belongs to the lazy phase (bytes_total). */
	{
		json_t *t = json_object_get(reply, "timing");
		json_t *needed = json_object_get(t, "stream_bytes_restore");

		m->rep.bytes_before_resume = lazy && needed ? before + (uint64_t)json_integer_value(needed)
							    : mig_bytes(m);
	}
	report_phase_add(&m->rep, "restore", start, m->t_resumed, 0);
	add_dest_argvs(m, reply);
	json_object_set(m->rep.extra, "destination_pid", json_object_get(reply, "pid"));
	json_object_set(m->rep.extra, "destination_restore", json_object_get(reply, "timing"));
	mig_progress(m, "running on %s (pid %lld)", m->host, (long long)json_int(reply, "pid", 0));
	json_decref(reply);
	fault_at("handover", m->criu_pid);
	/* Post-copy: criu on the source serves the pages the destination still
	 * lacks, and a criu that died let the source run on (its ptrace is
	 * gone): no commit, the copy here is ended. One that ended well had
	 * served every page and ended the source (no gate: --page-tls off).
	 * (Stop and pre-copy commit: the destination holds every page, crmig
	 * ends the source itself.) */
	if (lazy && mig_criu_failed(m)) {
		snprintf(m->err, sizeof(m->err), "criu on the source was gone at the handover (it gave up or was killed), "
			 "before the commit: the pages %s lacks can no longer come, so the copy there is ended", m->host);
		return -1;
	}
	/* The destination keeps the workload only once we say so: just before
	 * criu is told to end the source (stop, pre) or while it starts serving
	 * the rest of the pages (post, hybrid). Should we die before, criu
	 * resumes the source (the hook's fallback; a lazy stream that breaks)
	 * and the destination ends its copy. */
	if (json_bool(json_object_get(m->peer, "features"), "commit", false) &&
	    mig_call(m, json_pack("{s:s, s:b}", "op", "finish", "commit", true)) < 0)
		return -1;

	return 0;
}

void mig_abort_dest(struct migration *m)
{
	json_t *req = json_pack("{s:s}", "op", "abort");
	char why[sizeof(m->err)];

	/* A destination that failed has often ended the session: the abort's
	 * own failure ("connection closed") must not replace why it failed. */
	memcpy(why, m->err, sizeof(why));
	json_decref(mig_request(m, req));
	memcpy(m->err, why, sizeof(why));
	/* and break the page streams from here too, should the destination be
	 * gone: a criu serving lazy pages fails at once and resumes the source */
	for (int i = 0; i < m->n_data; i++)
		shutdown(m->data_fds[i], SHUT_RDWR);
}


/* The images cross, addresses move, the destination restores. Called from
 * the post-dump hook, while criu holds the source frozen: the answer decides
 * whether criu kills the source (0) or resumes it (1). */
int mig_post_dump_commit(struct migration *m, const char *final_name)
{
	__do_free char *local = mig_local_dir(m, final_name);
	json_auto_t *ps_reply = NULL;
	double start = report_now(&m->rep);
	uint64_t before = mig_bytes(m);

	if (mig_cancelled(m))
		goto rollback;
	report_phase_announce(&m->rep, "transfer");
	if (mig_sync(m, true) < 0 || mig_send_images(m, local, final_name) < 0 ||
	    !(ps_reply = mig_page_server_wait(m))) {
		report_phase_add(&m->rep, "transfer", start, report_now(&m->rep), mig_bytes(m) - before);
		goto rollback;
	}
	report_phase_add(&m->rep, "transfer", start, report_now(&m->rep), mig_bytes(m) - before);
	if (mig_cancelled(m) || mig_move_ips(m, true) < 0 || mig_restore(m, final_name, false) < 0)
		goto rollback;
	m->committed = true;
	return 0;
rollback:
	m->restore_failed = 1;
	mig_progress(m, "destination failed (%s): resuming the source", m->err);
	mig_abort_dest(m);
	mig_move_ips(m, false);
	return 1;
}

void mig_read_round_stats(struct migration *m, const char *dir, int round, bool final, double ms, uint64_t bytes)
{
	__do_free char *path = xasprintf("%s/stats-dump", dir);
	struct round_stat rs = { .round = round, .final = final, .ms = ms, .bytes = bytes };
	struct dump_stats ds;
	char err[256];

	if (stats_read_dump(path, &ds, err, sizeof(err)) == 0) {
		rs.pages_scanned = ds.pages_scanned;
		rs.pages_written = ds.pages_written;
		rs.pages_skipped_parent = ds.pages_skipped_parent;
		rs.pages_lazy = ds.pages_lazy;
		rs.frozen_us = ds.frozen_time;
		rs.memdump_us = ds.memdump_time;
		rs.memwrite_us = ds.memwrite_time;
	} else {
		mig_progress(m, "no statistics for round %d: %s", round, err);
	}
	report_add_round(&m->rep, &rs);
}

/* ---- setting up ---------------------------------------------------------- */

static int connect_dest(struct migration *m)
{
	char err[512];
	json_t *hello, *reply;
	struct utsname u;

	tls_paths_from_dir(&m->tlsp, m->o->cert_dir, m->tls_store, sizeof(m->tls_store));
	m->tls = tls_ctx_new(&m->tlsp, err, sizeof(err));
	if (!m->tls)
		return mig_fail(m, "failed", "TLS: %s (make certificates with: crmig cert)", err);
	fault_set_peer(m->host); /* ...:cut cuts the link to the destination */
	m->ctl_fd = net_connect(m->host, m->port, 15, err, sizeof(err));
	if (m->ctl_fd < 0)
		return mig_fail(m, "failed", "%s (is `crmig serve` running there?)", err);
	/* A destination that vanishes must end the migration, not hang it. */
	net_stream_opts(m->ctl_fd, 60);
	m->sess = tls_connect(m->tls, m->ctl_fd, m->host, err, sizeof(err));
	if (!m->sess)
		return mig_fail(m, "failed", "TLS with %s: %s", m->host, err);
	chan_init_tls(&m->ch, m->sess);
	uname(&u);
	hello = json_pack("{s:i, s:s, s:s, s:s, s:s}", "version", PROTO_VERSION, "role", "source", "crmig",
			  CRMIG_VERSION, "strategy", m->st->name, "host", u.nodename);
	if (chan_send_json(&m->ch, MSG_HELLO, hello) < 0) {
		json_decref(hello);
		return mig_fail(m, "failed", "hello: %s", m->ch.err);
	}
	json_decref(hello);
	reply = chan_recv_json(&m->ch, MSG_HELLO);
	if (!reply)
		return mig_fail(m, "failed", "hello: %s", m->ch.err);
	if (json_int(reply, "version", 0) != PROTO_VERSION) {
		json_decref(reply);
		return mig_fail(m, "failed", "the destination speaks protocol %lld, we speak %d: install the same crmig on both",
				(long long)json_int(reply, "version", 0), PROTO_VERSION);
	}
	m->peer = reply;
	m->rep.dest_versions = json_incref(json_object_get(reply, "versions"));
	return 0;
}

/* Before anything is frozen: can both hosts do what the strategy needs? */
static int check_strategy(struct migration *m)
{
	json_t *feat = json_object_get(m->peer, "features");

	if (!m->criu.present)
		return mig_fail(m, "failed", "no usable criu here: %s", m->criu.why_not);
	if (!json_bool(feat, "criu", false))
		return mig_fail(m, "failed", "no usable criu on %s", m->host);
	{
		/* every strategy streams pages between the two criu: their
		 * page-server requests must be the same (criu 4.2 changed them) */
		const char *there = json_str(json_object_get(m->peer, "versions"), "criu");

		if (there && *there && relay_ps_iov_size(there) != relay_ps_iov_size(m->criu.version))
			return mig_fail(m, "failed", "criu %s here and criu %s on %s speak different page-server "
					"protocols (criu 4.2 changed its page requests): install the same criu on both "
					"hosts", m->criu.version, there, m->host);
	}
	if (m->st->needs_mem_track && !m->criu.mem_dirty_track)
		return mig_fail(m, "failed", "strategy %s needs memory change tracking (soft-dirty), which this "
				"kernel lacks (criu check --feature mem_dirty_track); use --strategy stop or post",
				m->st->name);
	if (m->st->needs_lazy && !m->criu.uffd_noncoop)
		return mig_fail(m, "failed", "strategy %s needs userfaultfd here (criu check --feature uffd-noncoop)",
				m->st->name);
	if (m->st->needs_lazy && !json_bool(feat, "uffd_noncoop", false))
		return mig_fail(m, "failed", "strategy %s needs userfaultfd on %s (criu check --feature uffd-noncoop); "
				"use --strategy stop or pre", m->st->name, m->host);
	m->page_tls = strcmp(m->o->page_tls, "off") != 0;
	return 0;
}

static int collect_ips(struct migration *m)
{
	for (int i = 0; i < m->o->n_move_ips; i++) {
		struct moved_ip *ip = &m->ips[m->n_ips];

		if (net_addr_parse(m->o->move_ips[i], ip->addr, sizeof(ip->addr), &ip->prefix) < 0)
			return mig_fail(m, "failed", "--move-ip %s: want an IPv4 address with its prefix, e.g. 10.0.0.5/24",
					m->o->move_ips[i]);
		if (net_iface_for(ip->addr, ip->prefix, true, ip->src_if, sizeof(ip->src_if)) < 0)
			return mig_fail(m, "failed", "--move-ip %s: no interface here holds that address", m->o->move_ips[i]);
		m->n_ips++;
	}
	return 0;
}

/* CRMIG_FAULT for the destination's session: passed on in "prepare". */
static const char *fault_dst_spec;

static int prepare_dest(struct migration *m)
{

	json_t *req = json_pack("{s:s, s:s, s:o, s:b, s:o}", "op", "prepare", "id", m->id, "workload",
				m->wl->describe(m), "page_tls", m->page_tls, "ips", ips_json(m));

	if (fault_dst_spec)
		json_object_set_new(req, "fault", json_string(fault_dst_spec));
	return mig_call(m, req) < 0 ? mig_fail(m, "failed", "%s", m->err) : 0;

}

static void new_id(struct migration *m)
{
	char token[2 * DATA_TOKEN_LEN + 1];

	net_new_token(token);
	snprintf(m->id, sizeof(m->id), "%.12s", token);
}

static void versions_json(struct migration *m)
{
	struct utsname u;

	uname(&u);
	m->rep.versions = json_pack("{s:s, s:s, s:s, s:s}", "criu", m->criu.version, "lxc", lxc_version_string(),
				    "kernel", u.release, "crmig", CRMIG_VERSION);
}

/* ---- the end ------------------------------------------------------------- */

static void fetch_dest_logs(struct migration *m)
{
	__do_free char *dir = mig_local_dir(m, MIG_DIR_DEST);
	__do_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	json_t *req = json_pack("{s:s}", "op", "logs");
	json_t *reply = mig_request(m, req);
	int64_t count = reply ? json_int(reply, "count", 0) : 0;

	json_decref(reply);
	for (int64_t i = 0; i < count && i < 4096; i++) {
		json_t *hdr = chan_recv_json(&m->ch, MSG_FILE);

		if (!hdr || chan_recv_file(&m->ch, dfd, hdr, true) < 0) {
			json_decref(hdr);
			mig_progress(m, "fetching the destination's logs: %s", m->ch.err);
			return;
		}
		json_decref(hdr);
	}
}

/* The known upstream bug in crmig's error or in the logs' error lines. */
static const struct known_bug *find_known_bug(struct migration *m, json_t *excerpts)
{
	const char *mode = m->o->lxc_name ? "lxc" : "bare";
	const struct known_bug *k = known_bug_find(KB_SEEN_CRMIG, mode, m->rep.error, (size_t)-1);
	const char *host;
	json_t *files, *f, *line;
	size_t i, j;

	json_object_foreach(excerpts, host, files)
		json_array_foreach(files, i, f)
			json_array_foreach(json_object_get(f, "lines"), j, line)
				if (!k)
					k = known_bug_find(KB_SEEN_CRMIG, mode, json_string_value(line), (size_t)-1);
	return k;
}

/* A migration that did not succeed: what the logs of both hosts say
 * (criu_log_excerpts: {source: [{file, lines}], destination: [...]}, the
 * last error lines of each log, the destination's fetched by "logs"), the
 * known upstream bug it matches (known_bug) and where its repro bundle is
 * (bundle: {host, dir}; only with --keep-images). Before cleanup() removes
 * the logs. */
static void explain_failure(struct migration *m)
{
	__do_free char *dest = xasprintf("%s/destination", m->dir);
	json_t *ex;
	const struct known_bug *k;

	if (!m->dir[0])
		return;
	ex = json_pack("{s:o, s:o}", "source", log_excerpts(m->dir, MIG_DIR_DEST), "destination",
		       log_excerpts(dest, NULL));
	k = find_known_bug(m, ex);
	json_object_set_new(m->rep.extra, "criu_log_excerpts", ex);
	if (k)
		json_object_set_new(m->rep.extra, "known_bug", json_string(k->bug));
	if (m->o->keep_dir) {
		char abs[PATH_MAX];

		json_object_set_new(m->rep.extra, "bundle", json_pack("{s:s, s:s}", "host", m->rep.source ?: "",
								      "dir", realpath(m->dir, abs) ? abs : m->dir));
	}
}

static void finish(struct migration *m)
{
	bool ok = m->rep.result && !strcmp(m->rep.result, "ok");

	if (m->ctl_fd >= 0 && m->sess) {
		/* a failure's report quotes the destination's logs too */
		if (m->o->keep_dir || (!ok && m->dir[0]))
			fetch_dest_logs(m);
		json_decref(mig_request(m, json_pack("{s:s, s:b}", "op", "finish", "ok", m->committed)));
		chan_send(&m->ch, MSG_BYE, NULL, 0);
	}
	m->rep.bytes_total = mig_bytes(m);
	m->rep.total_ms = report_now(&m->rep);
	if (m->frozen) {
		m->rep.frozen_ms = (m->t_released ? m->t_released : m->rep.total_ms) - m->t_freeze;
		if (m->committed)
			m->rep.downtime_ms = m->t_resumed - m->t_freeze;
		report_phase_add(&m->rep, "frozen", m->t_freeze, m->t_released ? m->t_released : m->rep.total_ms, 0);
	}
	json_object_set_new(m->rep.extra, "bytes_synced", json_integer((json_int_t)m->sync_bytes));
	json_object_set_new(m->rep.extra, "page_tls", json_boolean(m->page_tls));
	json_object_set_new(m->rep.extra, "id", json_string(m->id));
	if (!ok)
		explain_failure(m);
}

/* After the migration, whatever its end: lift criu's network lock left for
 * the moved addresses and for the tree's loopback connections (zdtm's
 * socket-tcp found those), none that was there before the migration. */
static void drop_lock_rules(struct migration *m, const char *before)
{
	for (int i = 0; i <= m->n_ips; i++) {
		const char *addr = i < m->n_ips ? m->ips[i].addr : "127.0.0.1";
		int n = net_drop_criu_lock_rules(addr, before);

		if (n > 0)
			mig_progress(m, "removed %d network-lock rule%s criu left for %s", n, n == 1 ? "" : "s", addr);
	}
}

static void cleanup(struct migration *m)
{
	if (m->sess)
		tls_close(m->sess);
	close_fd(&m->ctl_fd);
	for (int i = 0; i < m->n_relays; i++)
		relay_stop(m->relays[i]);
	for (int i = 0; i < m->n_data; i++)
		close_fd(&m->data_fds[i]);
	tls_ctx_free(m->tls);
	hook_server_close(&m->hook);
	json_decref(m->peer);
	json_decref(m->synced);
	if (!m->o->keep_dir && m->dir[0])
		remove_tree(m->dir);
	if (m->wl->release)
		m->wl->release(m);
	free(m->wl_state);
}

/* ---- the command --------------------------------------------------------- */

static void usage(FILE *f)
{
	fputs("usage: crmig migrate --strategy stop|pre|post|hybrid (--pid PID | --lxc NAME) --to HOST[:PORT]\n"
	      "                     [--json FILE] [--keep-images DIR] [options]\n"
	      "  --certs DIR            CA and host certificate (default " CRMIG_CERT_DIR ")\n"
	      "  --lxcpath DIR          LXC's container directory (default: liblxc's)\n"
	      "  --rootfs sync|shared   container rootfs: copy it, or trust it is already there (default sync)\n"
	      "  --sync PATH            also mirror this file or tree on the destination (repeatable)\n"
	      "  --no-auto-sync         do not mirror the files the process tree has open\n"
	      "  --move-ip ADDR/PREFIX  move this service address with the workload (repeatable)\n"
	      "  --no-tcp-established   do not checkpoint established TCP connections\n"
	      "  --no-file-locks        do not checkpoint file locks\n"
	      "  --shell-job            the tree was started from a shell (criu --shell-job)\n"
	      "  --max-rounds N         pre-copy: at most N pre-dump rounds (default 8)\n"
	      "  --converge-pages N     pre-copy: a round of <= N pages is small enough (default 256)\n"
	      "  --converge-fraction F  pre-copy: ... or <= F of the first round (default 0.02)\n"
	      "  --min-shrink F         pre-copy: stop when a round shrinks by less than F (default 0.10)\n"
	      "  --max-traffic F        pre-copy: the rounds send at most F x the first round (default 2)\n"
	      "  --page-tls on|relay|off page streams over crmig's TLS too (default on: in the kernel where\n"
	      "                         it has TLS, else relayed; relay: always relayed)\n"
	      "  --criu PATH            the criu binary (default: criu on PATH, or $CRMIG_CRIU)\n"
	      "  --timeout SECONDS      give up after this long (default 900)\n"
	      "  --verbosity N          criu's log level (-vN, 0-4) on this host (default 4)\n"
	      "  --lazy-verbosity N     post-copy: the destination's lazy-pages daemon's (default 2: at 4 it\n"
	      "                         logs each page it copies, which halves its rate under load)\n"
	      "  --quiet                no progress on stderr\n"
	      "testing: CRMIG_FAULT_ENABLE=1 CRMIG_FAULT=POINT:ACTION injects one fault (see crmig(1), FAULT INJECTION)\n"
	      "  points: round-N final-dump image-transfer restore handover lazy-window, dst-... of each on serve\n"
	      "  actions: kill-criu kill-self corrupt stall[:SECONDS] exec:COMMAND\n"

	      "  --events FILE|FD       newline-delimited JSON events as it goes (phases, bytes, log, result)\n"
	      "SIGINT or SIGTERM cancels before the handover (the source resumes: rolled-back, cancelled)\n"
	      "exit status: 0 migrated; 1 not migrated (source still running: result rolled-back or failed); 2 usage\n",
	      f);
}

enum { OPT_MAX_ROUNDS = 256, OPT_CONV_PAGES, OPT_CONV_FRAC, OPT_MIN_SHRINK, OPT_NO_TCP, OPT_NO_LOCKS,
       OPT_SHELL_JOB, OPT_NO_AUTO_SYNC, OPT_PAGE_TLS, OPT_MAX_TRAFFIC, OPT_CRIU, OPT_LXCPATH, OPT_FAIL_RESTORE, OPT_VERBOSITY, OPT_LAZY_VERBOSITY,
       OPT_EVENTS };

static int parse_number(const char *opt, const char *s, double lo, double hi, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (*end || end == s || v < lo || v > hi) {
		fprintf(stderr, "crmig migrate: %s %s: want a number from %g to %g\n", opt, s, lo, hi);
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_args(int argc, char **argv, struct mig_opts *o)
{
	static const struct option opts[] = {
		{ "strategy", required_argument, NULL, 's' }, { "pid", required_argument, NULL, 'p' },
		{ "lxc", required_argument, NULL, 'l' }, { "to", required_argument, NULL, 't' },
		{ "json", required_argument, NULL, 'j' }, { "keep-images", required_argument, NULL, 'k' },
		{ "certs", required_argument, NULL, 'c' }, { "rootfs", required_argument, NULL, 'r' },
		{ "sync", required_argument, NULL, 'S' }, { "move-ip", required_argument, NULL, 'i' },
		{ "timeout", required_argument, NULL, 'T' }, { "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "max-rounds", required_argument, NULL, OPT_MAX_ROUNDS },
		{ "converge-pages", required_argument, NULL, OPT_CONV_PAGES },
		{ "converge-fraction", required_argument, NULL, OPT_CONV_FRAC },
		{ "min-shrink", required_argument, NULL, OPT_MIN_SHRINK },
		{ "max-traffic", required_argument, NULL, OPT_MAX_TRAFFIC },
		{ "no-tcp-established", no_argument, NULL, OPT_NO_TCP },
		{ "no-file-locks", no_argument, NULL, OPT_NO_LOCKS },
		{ "shell-job", no_argument, NULL, OPT_SHELL_JOB },
		{ "no-auto-sync", no_argument, NULL, OPT_NO_AUTO_SYNC },
		{ "page-tls", required_argument, NULL, OPT_PAGE_TLS },
		{ "criu", required_argument, NULL, OPT_CRIU },
		{ "lxcpath", required_argument, NULL, OPT_LXCPATH },
		{ "verbosity", required_argument, NULL, OPT_VERBOSITY },
		{ "lazy-verbosity", required_argument, NULL, OPT_LAZY_VERBOSITY },
		{ "events", required_argument, NULL, OPT_EVENTS },
		{ "test-fail-restore", no_argument, NULL, OPT_FAIL_RESTORE },
		{ NULL, 0, NULL, 0 },
	};
	double v;
	int c;

	while ((c = getopt_long(argc, argv, "s:p:l:t:j:k:c:r:S:i:T:qh", opts, NULL)) != -1) {
		switch (c) {
		case 's': o->strategy = optarg; break;
		case 'p':
			if (parse_number("--pid", optarg, 1, 4194304, &v) < 0)
				return -1;
			o->pid = (pid_t)v;
			break;
		case 'l': o->lxc_name = optarg; break;
		case 't': o->to = optarg; break;
		case 'j': o->json_path = optarg; break;
		case 'k': o->keep_dir = optarg; break;
		case 'c': o->cert_dir = optarg; break;
		case 'r': o->rootfs = optarg; break;
		case 'S':
			if (o->n_sync >= MAX_LIST || optarg[0] != '/') {
				fprintf(stderr, "crmig migrate: --sync wants an absolute path (at most %d)\n", MAX_LIST);
				return -1;
			}
			o->sync_paths[o->n_sync++] = optarg;
			break;
		case 'i':
			if (o->n_move_ips >= MAX_LIST)
				return -1;
			o->move_ips[o->n_move_ips++] = optarg;
			break;
		case 'T':
			if (parse_number("--timeout", optarg, 10, 86400, &o->timeout_s) < 0)
				return -1;
			break;
		case 'q': o->quiet = true; break;
		case 'h': usage(stdout); exit(0);
		case OPT_MAX_ROUNDS:
			if (parse_number("--max-rounds", optarg, 1, 64, &v) < 0)
				return -1;
			o->policy.max_rounds = (int)v;
			break;
		case OPT_CONV_PAGES:
			if (parse_number("--converge-pages", optarg, 0, 1e12, &v) < 0)
				return -1;
			o->policy.small_pages = (uint64_t)v;
			break;
		case OPT_CONV_FRAC:
			if (parse_number("--converge-fraction", optarg, 0, 0.999, &o->policy.small_fraction) < 0)
				return -1;
			break;
		case OPT_MIN_SHRINK:
			if (parse_number("--min-shrink", optarg, 0, 0.999, &o->policy.min_shrink) < 0)
				return -1;
			break;
		case OPT_MAX_TRAFFIC:
			if (parse_number("--max-traffic", optarg, 1, 100, &o->policy.max_traffic) < 0)
				return -1;
			break;
		case OPT_NO_TCP: o->tcp_established = false; break;
		case OPT_NO_LOCKS: o->file_locks = false; break;
		case OPT_SHELL_JOB: o->shell_job = true; break;
		case OPT_NO_AUTO_SYNC: o->auto_sync = false; break;
		case OPT_PAGE_TLS: o->page_tls = optarg; break;
		case OPT_CRIU: o->criu = optarg; break;
		case OPT_LXCPATH: o->lxcpath = optarg; break;
		case OPT_FAIL_RESTORE: o->fail_restore = true; break;
		case OPT_EVENTS: o->events = optarg; break;
		case OPT_VERBOSITY:
			if (parse_number("--verbosity", optarg, 0, 4, &v) < 0)
				return -1;
			o->verbosity = (int)v;
			break;
		case OPT_LAZY_VERBOSITY:
			if (parse_number("--lazy-verbosity", optarg, 0, 4, &v) < 0)
				return -1;
			o->lazy_verbosity = (int)v;
			break;
		default: usage(stderr); return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "crmig migrate: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (!o->strategy || !strategy_by_name(o->strategy)) {
		fprintf(stderr, "crmig migrate: --strategy stop|pre|post|hybrid is required\n");
		return -1;
	}
	if (!o->pid == !o->lxc_name) {
		fprintf(stderr, "crmig migrate: give exactly one of --pid PID and --lxc NAME\n");
		return -1;
	}
	if (!o->to) {
		fprintf(stderr, "crmig migrate: --to HOST[:PORT] is required\n");
		return -1;
	}
	if (strcmp(o->rootfs, "sync") && strcmp(o->rootfs, "shared")) {
		fprintf(stderr, "crmig migrate: --rootfs sync|shared\n");
		return -1;
	}
	if (strcmp(o->page_tls, "on") && strcmp(o->page_tls, "relay") && strcmp(o->page_tls, "off")) {
		fprintf(stderr, "crmig migrate: --page-tls on|relay|off\n");
		return -1;
	}
	if (policy_check(&o->policy)) {
		fprintf(stderr, "crmig migrate: %s\n", policy_check(&o->policy));
		return -1;
	}
	return 0;
}

/* --events FD (digits: an inherited descriptor) or FILE. Not for criu. */
static int open_events(const struct mig_opts *o, struct report *r)
{
	const char *p = o->events;
	int fd;

	while (*p >= '0' && *p <= '9')
		p++;
	if (!*p && p != o->events) {
		fd = atoi(o->events);
		if (fcntl(fd, F_GETFD) < 0) {
			fprintf(stderr, "crmig migrate: --events %s: no such open descriptor (open it, e.g. %s>FILE)\n",
				o->events, o->events);
			return -1;
		}
	} else {
		fd = open(o->events, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0) {
			fprintf(stderr, "crmig migrate: --events %s: %s\n", o->events, strerror(errno));
			return -1;
		}
	}
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	r->events_fd = fd;
	return 0;
}

/* A --keep-images directory that an earlier migration used (the soak and
 * the suite reuse theirs) still holds that migration's images: criu then
 * dumped beside them, and every file of final/ went to the destination, an
 * old pagemap over the one the page server had just written (lab, soak
 * round 5: criu's restorer read pages past the end of the pages file, for
 * ever). A bundle is one migration: what crmig wrote there goes first; any
 * other file in DIR stays. */
static void clear_old_bundle(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d))) {
		const char *name = e->d_name;
		__do_free char *path = NULL;
		struct stat st;

		if (strcmp(name, MIG_DIR_FINAL) && strcmp(name, MIG_DIR_DEST) &&
		    strncmp(name, MIG_DIR_ROUND, strlen(MIG_DIR_ROUND)) && strncmp(name, MIG_DIR_HOOK, strlen(MIG_DIR_HOOK)))
			continue;
		path = xasprintf("%s/%s", dir, name);
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && remove_tree(path) == 0)
			n++;
	}
	if (d)
		closedir(d);
	if (n)
		fprintf(stderr, "crmig: %s held an earlier migration's bundle: its images and logs were removed\n", dir);
}

static int run_migration(struct migration *m)
{
	if (connect_dest(m) < 0)
		return -1;
	criu_probe(&m->criu, m->o->criu);
	versions_json(m);
	if (check_strategy(m) < 0 || m->wl->preflight(m) < 0 || collect_ips(m) < 0)
		return -1;
	new_id(m);
	if (m->o->keep_dir) {
		snprintf(m->dir, sizeof(m->dir), "%s", m->o->keep_dir);
		clear_old_bundle(m->dir);
	} else
		snprintf(m->dir, sizeof(m->dir), "%s/src-%s", mig_state_dir(), m->id);

	if (mkdir_p(m->dir, 0700) < 0)
		return mig_fail(m, "failed", "cannot create %s: %s", m->dir, strerror(errno));
	if (hook_server_open(&m->hook, m->dir) < 0)
		return mig_fail(m, "failed", "cannot set up criu's action-script socket in %s", m->dir);
	mig_record_source(m);

	if (prepare_dest(m) < 0)
		return -1;
	if (mig_sync(m, false) < 0)
		return mig_fail(m, "failed", "%s", m->err);
	mig_progress(m, "%s migration of %s to %s", m->st->name, m->rep.workload, m->host);
	if (mig_cancelled(m))
		return mig_fail(m, "rolled-back", "cancelled before anything was frozen; the source runs on");
	return m->st->run(m);
}

int cmd_migrate(int argc, char **argv)
{
	struct mig_opts o = {
		.cert_dir = getenv("CRMIG_CERT_DIR") ?: CRMIG_CERT_DIR, .tcp_established = true, .file_locks = true,
		.auto_sync = true, .rootfs = "sync", .page_tls = "on", .timeout_s = 900, .verbosity = 4, .lazy_verbosity = 2,
	};
	struct migration m = { .o = &o, .ctl_fd = -1 };
	int ret;

	policy_defaults(&o.policy);
	if (parse_args(argc, argv, &o) < 0)
		return 2;
	{
		char ferr[512];

		if (fault_init_source(&fault_dst_spec, ferr, sizeof(ferr)) < 0) {
			fprintf(stderr, "crmig migrate: %s\n", ferr);
			json_decref(m.synced);
			return 2;
		}
	}
	/* what an earlier crmig migrate, killed, left on this host */
	mig_recover_sources();
	m.st = strategy_by_name(o.strategy);


	m.wl = o.pid ? &workload_pid : &workload_lxc;
	report_init(&m.rep, m.st->name);
	m.synced = json_object();
	if (net_split_hostport(o.to, m.host, sizeof(m.host), &m.port, CRMIG_DEFAULT_PORT) < 0) {
		fprintf(stderr, "crmig migrate: --to %s: want HOST or HOST:PORT\n", o.to);
		report_free(&m.rep);
		json_decref(m.synced);
		return 2;
	}
	m.rep.destination = xstrdup(m.host);
	{
		struct utsname u;

		uname(&u);
		m.rep.source = xstrdup(u.nodename);
	}
	if (o.events && open_events(&o, &m.rep) < 0) {
		report_free(&m.rep);
		json_decref(m.synced);
		return 2;
	}
	{
		struct sigaction sa = { .sa_handler = on_cancel_signal, .sa_flags = SA_RESTART };

		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
	}
	report_event(&m.rep, "start", json_pack("{s:i, s:s, s:s, s:s}", "pid", (int)getpid(), "strategy",
						 m.st->name, "to", m.host, "source", m.rep.source));
	m.rules_before = net_iptables_snapshot();
	ret = run_migration(&m);
	note_late_cancel(&m);
	if (ret < 0 && !m.rep.error)
		mig_fail(&m, m.frozen ? "rolled-back" : "failed", "%s", m.err[0] ? m.err : "unknown error");
	/* after a handover, and after a rollback too: criu resumes the source but
	 * its lock rules for the tree's loopback connections stayed (zdtm's
	 * socket-tcp groups), leaving the resumed workload's connections dead;
	 * and a source that kept the workload gets every lock criu left lifted */
	drop_lock_rules(&m, m.rules_before);
	if (ret < 0 && m.o->tcp_established)
		mig_release_netlock(&m);
	finish(&m);
	if (o.json_path && report_write_json(&m.rep, o.json_path) < 0)
		fprintf(stderr, "crmig: cannot write %s: %s\n", o.json_path, strerror(errno));
	if (o.keep_dir) {
		__do_free char *p = xasprintf("%s/report.json", o.keep_dir);
		report_write_json(&m.rep, p);
	}
	report_event(&m.rep, "result", json_pack("{s:s, s:o}", "result", m.rep.result ? m.rep.result : "failed",
						  "report", report_to_json(&m.rep)));
	if (m.rep.events_fd > 2)
		close(m.rep.events_fd);
	report_print_summary(&m.rep, stdout);
	if (ret < 0)
		fprintf(stderr, "crmig: %s\n", m.rep.error ? m.rep.error : m.err);
	mig_forget_source(&m);
	cleanup(&m); /* the relays end here: a lazy one's break may still read rules_before */
	free(m.rules_before);
	fault_end();
	report_free(&m.rep);

	return ret < 0 ? 1 : 0;
}
