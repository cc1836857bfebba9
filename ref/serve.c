/* crmig serve: the destination. It listens for authenticated sources; each
 * connection is a session in a process of its own, which runs the
 * destination's criu (page server, lazy-pages daemon, restore) on request and
 * cleans up after itself unless the workload was handed over. Everything the
 * peer sends is checked: names, sizes, roots, ids. */
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include "criu.h"
#include "digest.h"
#include "fault.h"
#include "hook.h"

#include "log_excerpt.h"
#include "migrate.h"
#include "net.h"
#include "proc.h"
#include "procfs.h"
#include "relay.h"
#include "serve_gui.h"
#include "serve_record.h"
#include "serve_step.h"
#include "util.h"
#include "version.h"

/* Watches the page server of the round in flight. When it dies before the
 * source's criu is done (a full disk, a crash), our copy of its stream, the
 * last one left, is closed at once: the kernel resets the connection and the
 * source's criu fails now, not after its stream's 30 s user timeout with the
 * workload frozen. (Over page TLS the relay ends the stream itself.) */
struct ps_watch {
	pthread_t thread;
	bool running;
	int pidfd, stop_fd, devnull, stream_fd;
};

struct serve_opts {
	const char *listen;
	const char *cert_dir;
	const char *criu;
	const char *state_dir;
	json_t *roots;
	bool once;
	int verbosity;
	int peer_timeout_s;       /* handshake, hello, a reply that cannot leave: each within it */
};

struct added_ip {
	char addr[64], ifname[32];
	int prefix;
};

struct session {
	const struct serve_opts *o;
	struct chan ch;
	gnutls_session_t tls;
	struct tls_paths tlsp;
	char tls_store[3 * PATH_MAX];
	struct criu_info criu;
	char peer_host[64];
	char local_addr[64];

	char id[40];
	char dir[PATH_MAX];
	int dir_fd;
	json_t *workload;
	json_t *image_sums;         /* images dir -> {file: SHA-256 as it arrived}, checked before the restore */
	bool page_tls;
	const struct workload_ops *kind;  /* the workload's, from prepare */
	char undo_dir[PATH_MAX];  /* made for the workload (a container's lxcpath/name): removed unless it stays */

	int data_lfd;
	pid_t ps_pid;
	struct ps_watch ps_watch;
	char ps_dir[64];
	int lazy_fd;
	int lazy_tcp;             /* our copy of the lazy stream's TCP socket, for byte counts */
	int last_tcp;             /* the same for the stream accepted last */
	pid_t lazy_pid;
	double restore_end;
	bool restored;
	pid_t restored_pid;       /* its root (a container's init), for ending it */
	bool restored_lazy;       /* post-copy: no way back once restored */
	bool committed;           /* the source lets criu end its copy: ours now */



	struct added_ip ips[MAX_LIST];
	int n_ips;

	struct tls_ctx *tls_ctx;
	struct relay *relays[64];
	int n_relays;
	struct relay *ps_relay;     /* the running page server's stream (page TLS) */
	struct relay *lazy_relay;   /* the lazy stream (page TLS): its close waits for the commit */
	bool gate_next;             /* the next page stream is the lazy one */
	struct relay *stream_relay; /* the last page stream's relay, NULL without page TLS */
	char stream_why[256];       /* why that stream has a relay */
};

static void slog(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void session_record(struct session *s);
static void end_restored(struct session *s);
static void say(void *ctx, const char *msg);

static void slog(struct session *s, const char *fmt, ...)
{
	va_list ap;
	time_t t = time(NULL);
	char ts[32];

	strftime(ts, sizeof(ts), "%H:%M:%S", localtime(&t));
	fprintf(stderr, "%s crmig serve [%s %s] ", ts, s->peer_host, s->id[0] ? s->id : "-");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int reply_ok(struct session *s, json_t *obj)
{
	json_t *o = obj ? obj : json_object();
	int ret = chan_send_json(&s->ch, MSG_OK, o);

	json_decref(o);
	return ret;
}

/* A kind's line for the log (struct dest_restore's say). */
static void say(void *ctx, const char *msg)
{
	slog(ctx, "%s", msg);
}

static int reply_err(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int reply_err(struct session *s, const char *fmt, ...)
{
	char msg[4096];
	json_t *obj;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	slog(s, "error: %s", msg);
	obj = json_pack("{s:s}", "error", msg);
	chan_send_json(&s->ch, MSG_ERROR, obj);
	json_decref(obj);
	return 0; /* the session goes on: the source decides */
}

/* ---- criu on this side --------------------------------------------------- */

static char *sub_dir(struct session *s, const char *name)
{
	return xasprintf("%s/%s", s->dir, name);
}

static pid_t spawn_criu(struct session *s, struct criu_call *c, int verbosity, int ps_fd, json_t *argvs)
{
	c->criu = s->o->criu;
	c->verbosity = verbosity;
	return criu_spawn_call(c, ps_fd, argvs);
}

/* Waits up to timeout_s for pid; -2 when it is still running. */
static int wait_timeout(pid_t pid, double timeout_s)
{
	double deadline = now_ms() + timeout_s * 1000;
	int st;

	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		if (r < 0 && errno != EINTR)
			return -1;
		if (now_ms() > deadline)
			return -2;
		usleep(20 * 1000);
	}
}

static void kill_child(pid_t *pid)
{
	if (*pid > 0) {
		kill(*pid, SIGKILL);
		waitpid(*pid, NULL, 0);
	}
	*pid = 0;
}

static int ensure_data_listener(struct session *s)
{
	if (s->data_lfd >= 0)
		return 0;
	s->data_lfd = net_listen(s->local_addr, 0, 4);
	return s->data_lfd < 0 ? -1 : 0;
}

/* criu gets one end of a local socket pair; a relay carries it over TLS.
 * Never kernel TLS at this end (ktls.h is the source's): criu's page server
 * polls its socket, then splices from it without blocking, and a kernel TLS
 * socket answers EAGAIN for a record not yet whole (CI, bookworm's 6.1:
 * "Can't read from socket: Resource temporarily unavailable").
 * s->stream_relay: the relay; s->stream_why: why a relay. */
static int page_stream_tls(struct session *s, int fd)
{
	char err[512];
	gnutls_session_t t;
	int pair[2];
	size_t iov = relay_ps_iov_size(s->criu.version);

	snprintf(s->stream_why, sizeof(s->stream_why), "%s",
		 relay_needed(s->gate_next, false)
			 ?: "criu's page server reads without blocking, which a kernel TLS socket refuses for a partial record");
	if (s->n_relays >= (int)ARRAY_SIZE(s->relays)) {
		close(fd);
		reply_err(s, "too many page streams");
		return -1;
	}
	t = tls_accept(s->tls_ctx, fd, err, sizeof(err));
	if (!t) {
		close(fd);
		reply_err(s, "TLS on the page stream: %s", err);
		return -1;
	}
	if (relay_loopback_pair(pair) == 0 &&
	    !(s->stream_relay = s->gate_next ? relay_start_gated(pair[1], t, fd, iov) : relay_start(pair[1], t, fd, iov))) {
		close(pair[0]);
		close(pair[1]);
	}
	if (!s->stream_relay) {
		tls_close(t);
		close(fd);
		reply_err(s, "cannot set up the page stream relay");
		return -1;
	}
	s->relays[s->n_relays++] = s->stream_relay;
	return pair[0];
}

/* The second reply of a page stream: criu's argv, and how page TLS runs here. */
static json_t *stream_reply(struct session *s, json_t *argvs)
{
	json_t *r = argvs ? json_pack("{s:o}", "criu_argv", argvs) : json_object();

	if (s->stream_relay) {
		json_object_set_new(r, "page_tls", json_string("relay"));
		json_object_set_new(r, "page_tls_why", json_string(s->stream_why));
	}
	return r;
}

/* First reply: where to connect; then the connection, checked by its token. */
static int accept_data(struct session *s)
{
	char token[2 * DATA_TOKEN_LEN + 1];
	char err[256];
	int fd;

	if (ensure_data_listener(s) < 0) {
		reply_err(s, "cannot listen for the page stream: %s", strerror(errno));
		return -1;
	}
	net_new_token(token);
	if (reply_ok(s, json_pack("{s:i, s:s}", "port", net_local_port(s->data_lfd), "token", token)) < 0)
		return -1;
	fd = net_data_accept(s->data_lfd, token, 30, err, sizeof(err));
	if (fd < 0) {
		reply_err(s, "%s", err);
		return -1;
	}
	net_stream_opts(fd, 30);
	close_fd(&s->last_tcp);
	s->last_tcp = dup(fd);
	s->stream_relay = NULL;
	return s->page_tls ? page_stream_tls(s, fd) : fd;
}

static const char *dir_arg(struct session *s, json_t *req, const char *key)
{
	const char *d = json_str(req, key);

	(void)s;
	return d && safe_name(d, 32) ? d : NULL;
}

static void *ps_watch_main(void *arg)
{
	struct ps_watch *w = arg;
	struct pollfd p[2] = { { .fd = w->pidfd, .events = POLLIN }, { .fd = w->stop_fd, .events = POLLIN } };
	siginfo_t si = { 0 };

	while (poll(p, 2, -1) < 0 && errno == EINTR)
		;
	if ((p[0].revents & POLLIN) && !(p[1].revents & POLLIN) &&
	    waitid(P_PIDFD, (id_t)w->pidfd, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid &&
	    !(si.si_code == CLD_EXITED && si.si_status == 0))
		dup2(w->devnull, w->stream_fd); /* closes the socket; the number stays valid */
	return NULL;
}

static void ps_watch_start(struct ps_watch *w, pid_t pid, int stream_fd)
{
	*w = (struct ps_watch){ .pidfd = pidfd_open(pid, 0), .stop_fd = eventfd(0, EFD_CLOEXEC),
				.devnull = open("/dev/null", O_RDWR | O_CLOEXEC), .stream_fd = stream_fd };
	w->running = w->pidfd >= 0 && w->stop_fd >= 0 && w->devnull >= 0 && stream_fd >= 0 &&
		     pthread_create(&w->thread, NULL, ps_watch_main, w) == 0;
	if (!w->running) {
		close_fd(&w->pidfd);
		close_fd(&w->stop_fd);
		close_fd(&w->devnull);
	}
}

static void ps_watch_stop(struct ps_watch *w)
{
	if (!w->running)
		return;
	if (eventfd_write(w->stop_fd, 1) == 0)
		pthread_join(w->thread, NULL);
	w->running = false;
	close_fd(&w->pidfd);
	close_fd(&w->stop_fd);
	close_fd(&w->devnull);
}

static int op_page_server(struct session *s, json_t *req)
{
	const char *dir = dir_arg(s, req, "dir"), *prev = json_str(req, "prev");
	__do_free char *path = NULL;
	__do_free char *prev_rel = NULL;
	__do_close int fd = -1;
	json_t *argvs = json_array();
	struct criu_call c = { .action = CRIU_PAGE_SERVER, .log_file = "page-server.log", .ps_socket = true };

	if (!dir || (prev && !safe_name(prev, 32)) || s->ps_pid > 0) {
		json_decref(argvs);
		return reply_err(s, s->ps_pid > 0 ? "a page server is still running" : "bad page-server request");
	}
	path = sub_dir(s, dir);
	mkdir(path, 0700);
	fd = accept_data(s);
	if (fd < 0) {
		json_decref(argvs);
		return 0;
	}
	s->ps_relay = s->stream_relay;
	c.images_dir = path;
	if (prev)
		c.prev_images_dir = prev_rel = xasprintf("../%s", prev);
	s->ps_pid = spawn_criu(s, &c, s->o->verbosity, fd, argvs);
	/* criu holds the TCP socket itself (no page TLS, or TLS in the kernel) */
	if (s->ps_pid > 0 && !s->ps_relay)
		ps_watch_start(&s->ps_watch, s->ps_pid, s->last_tcp);
	snprintf(s->ps_dir, sizeof(s->ps_dir), "%s", dir);
	slog(s, "page server for %s (pid %d)", dir, s->ps_pid);
	{
		__do_free char *point = xasprintf("dst-%s", strcmp(dir, "final") ? dir : "final-dump");

		fault_at(point, s->ps_pid);
	}

	return reply_ok(s, stream_reply(s, argvs));
}

static uint64_t pages_bytes(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	uint64_t total = 0;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		struct stat st;
		__do_free char *p = NULL;

		if (strncmp(e->d_name, "pages-", 6))
			continue;
		p = xasprintf("%s/%s", dir, e->d_name);
		if (stat(p, &st) == 0)
			total += (uint64_t)st.st_size;
	}
	closedir(d);
	return total;
}

/* Free bytes of the filesystem that holds the images, -1 if unknown: the
 * source stops pre-copy rounds that would not fit (every round stays here
 * until the restore). CRMIG_TEST_DEST_FREE_BYTES stands in for it in tests. */
static json_int_t images_free_bytes(const char *path)
{
	const char *fake = getenv("CRMIG_TEST_DEST_FREE_BYTES");
	struct statvfs st;

	if (fake && *fake)
		return (json_int_t)strtoll(fake, NULL, 10);
	if (statvfs(path, &st) < 0)
		return -1;
	return (json_int_t)st.f_bavail * (json_int_t)st.f_frsize;
}

/* The page server exited: it took every byte the source's criu sent. What
 * our relay gave it must be what criu gave the source's relay (the source
 * says, page-server-wait's stream_sha256); else the pages are refused
 * before anything is restored from them. True (and the reply sent) then. */
static bool stream_damaged(struct session *s, json_t *req)
{
	const char *want = json_str(req, "stream_sha256");
	int64_t want_bytes = json_int(req, "stream_bytes", -1);
	struct relay *r = s->ps_relay;
	char got[65];
	uint64_t got_bytes;

	s->ps_relay = NULL;
	if (!want || !r || relay_digest(r, false, got, &got_bytes) < 0)
		return false; /* an older source, or no page TLS: nothing to compare */
	if (!strcmp(want, got) && (int64_t)got_bytes == want_bytes)
		return false;
	slog(s, "SHA-256 of the page stream: %.16s... sent, %.16s... received", want, got);
	reply_err(s, "the pages of %s arrived damaged: the source's criu sent %lld bytes, our page server took %llu, "
		  "and their SHA-256 differ (something between the two page-stream relays changed them); nothing is "
		  "restored from them", s->ps_dir, (long long)want_bytes, (unsigned long long)got_bytes);
	return true;
}

static int op_page_server_wait(struct session *s, json_t *req)
{
	char how[48];
	__do_free char *path = NULL;
	__do_free char *log = NULL;
	__do_free char *errors = NULL;
	int status;

	(void)req;
	if (s->ps_pid <= 0)
		return reply_err(s, "no page server is running");
	status = wait_timeout(s->ps_pid, 120);
	ps_watch_stop(&s->ps_watch);
	if (status == -2)
		kill_child(&s->ps_pid);
	s->ps_pid = 0;
	path = sub_dir(s, s->ps_dir);
	if (status != 0) {
		log = xasprintf("%s/page-server.log", path);
		errors = criu_log_errors(log, 5);
		return reply_err(s, "criu page-server %s: %s", proc_status_text(status, how, sizeof(how)), errors);
	}
	if (stream_damaged(s, req))
		return 0; /* the source decides, as for any error */
	return reply_ok(s, json_pack("{s:I, s:I}", "pages_bytes", (json_int_t)pages_bytes(path),
				     "free_bytes", images_free_bytes(path)));
}

static int op_lazy_channel(struct session *s, json_t *req)
{
	const char *dir = dir_arg(s, req, "dir"), *prev = json_str(req, "prev");
	__do_free char *path = NULL;

	if (!dir || (prev && !safe_name(prev, 32)) || s->lazy_fd >= 0)
		return reply_err(s, "bad lazy-channel request");
	path = sub_dir(s, dir);
	mkdir(path, 0700);
	if (prev) {
		__do_free char *link = xasprintf("%s/parent", path);
		__do_free char *target = xasprintf("../%s", prev);

		unlink(link);
		if (symlink(target, link) < 0)
			return reply_err(s, "cannot link %s to its parent: %s", dir, strerror(errno));
	}
	s->gate_next = true;
	s->lazy_fd = accept_data(s);
	s->gate_next = false;
	if (s->lazy_fd < 0)
		return 0;
	s->lazy_relay = s->stream_relay;
	s->lazy_tcp = move_fd(s->last_tcp);
	fault_at("dst-final-dump", 0);
	return reply_ok(s, stream_reply(s, NULL));

}

/* Breaks the source's lazy page stream: its criu then fails while serving
 * and resumes the source. */
static void break_lazy_stream(struct session *s)
{
	static const unsigned char garbage[64] = { [0 ... 63] = 0xff };

	if (s->lazy_fd >= 0) {
		if (write_full(s->lazy_fd, garbage, sizeof(garbage)) < 0)
			shutdown(s->lazy_fd, SHUT_RDWR);
		close_fd(&s->lazy_fd);
	}
}

/* ---- restore ------------------------------------------------------------- */

struct restore_ctx {
	struct session *s;
	json_t *timing;
	double start;
	pid_t pid;
};


static int restore_hook(void *ctx, const char *action)
{
	struct restore_ctx *rc = ctx;

	json_object_set_new(rc->timing, action, json_real(now_ms() - rc->start));
	if (!strcmp(action, "pre-restore"))
		fault_at("dst-restore", rc->pid);

	/* What the lazy stream had carried when the restore was complete: the
	 * pages the restore itself faulted in. criu's background transfer starts
	 * only after that (lazy_pages_finish_restore follows post-restore), and
	 * the tasks are let go at pre-resume. */
	if ((!strcmp(action, "post-restore") || !strcmp(action, "pre-resume")) && rc->s->lazy_tcp >= 0) {
		uint64_t sent, recv;

		net_tcp_bytes(rc->s->lazy_tcp, &sent, &recv);
		json_object_set_new(rc->timing, action[1] == 'o' ? "stream_bytes_restore" : "stream_bytes_at_resume",
				    json_integer((json_int_t)(sent + recv)));
	}
	return 0;
}

/* Waits until the daemon pid has made its socket; -1 at once when the daemon
 * exits first (it failed: its log says why), or after timeout_s. */
static int wait_for_socket(pid_t *pid, const char *path, double timeout_s)
{
	double deadline = now_ms() + timeout_s * 1000;

	while (access(path, F_OK) < 0) {
		if (wait_timeout(*pid, 0) != -2) {
			*pid = 0;
			return -1;
		}
		if (now_ms() > deadline)
			return -1;
		usleep(10 * 1000);
	}
	return 0;
}

/* The daemon's log level is the source's to choose (crmig migrate
 * --lazy-verbosity), 2 unless it says: at -v4 criu logs every fault and
 * every page it copies, and in the lab (TCG, 200 MB dirtying 1 %/s) that
 * logging was half of the lazy window, in which the workload depends on
 * both hosts. */
static int start_lazy_daemon(struct session *s, const char *dir, json_t *req, json_t *argvs, char *err,
			     size_t errlen)
{
	__do_free char *sock = xasprintf("%s/lazy-pages.socket", dir);
	struct criu_call c = { .action = CRIU_LAZY_PAGES, .images_dir = dir, .log_file = "lazy-pages.log",
			       .page_server = true, .ps_socket = true };
	int level = (int)json_int(req, "lazy_verbosity", 2); /* 0 to 4: serve_step.c checked */

	if (s->lazy_fd < 0) {
		snprintf(err, errlen, "no lazy page stream from the source");
		return -1;
	}
	s->lazy_pid = spawn_criu(s, &c, level, s->lazy_fd, argvs);
	if (s->lazy_pid < 0 || wait_for_socket(&s->lazy_pid, sock, 20) < 0) {
		__do_free char *log = xasprintf("%s/lazy-pages.log", dir);
		__do_free char *errors = criu_log_errors(log, 5);

		snprintf(err, errlen, "criu lazy-pages did not start: %s", errors);
		kill_child(&s->lazy_pid);
		return -1;
	}
	return 0;
}

static int add_ips(struct session *s, json_t *ips, char *err, size_t errlen)
{
	size_t i;
	json_t *v;

	json_array_foreach(ips, i, v) {
		struct added_ip *ip;
		const char *addr = json_str(v, "addr");
		int prefix = (int)json_int(v, "prefix", 32);
		char check[64];
		int p;

		if (s->n_ips >= MAX_LIST || !addr || net_addr_parse(addr, check, sizeof(check), &p) < 0 ||
		    prefix < 1 || prefix > 32) {
			snprintf(err, errlen, "bad address in the request");
			return -1;
		}
		ip = &s->ips[s->n_ips];
		snprintf(ip->addr, sizeof(ip->addr), "%s", addr);
		ip->prefix = prefix;
		if (net_iface_for(addr, prefix, false, ip->ifname, sizeof(ip->ifname)) < 0) {
			snprintf(err, errlen, "no interface here is on the subnet of %s/%d", addr, prefix);
			return -1;
		}
		if (net_addr_add(ip->ifname, addr, prefix) < 0) {
			snprintf(err, errlen, "cannot add %s/%d to %s", addr, prefix, ip->ifname);
			return -1;
		}
		s->n_ips++;
	}
	return 0;
}

static void remove_ips(struct session *s)
{
	for (int i = 0; i < s->n_ips; i++)
		net_addr_del(s->ips[i].ifname, s->ips[i].addr, s->ips[i].prefix);
	s->n_ips = 0;
}

static void announce_ips(struct session *s)
{
	for (int i = 0; i < s->n_ips; i++)
		net_send_garp(s->ips[i].ifname, s->ips[i].addr, 3);
}

/* The images as they arrived (over TLS: as the source sent them), so that a
 * change before the restore (a failing disk, anything else writing there)
 * refuses the restore instead of feeding criu a damaged image. The page
 * server's own files are not in the list: they are checked as a stream. */
static void record_image_sums(struct session *s, const char *dir, int dirfd, json_t *names)
{
	json_t *sums = json_object();
	size_t i;
	json_t *v;

	json_array_foreach(names, i, v) {
		char hex[65];

		if (sha256_file_at(dirfd, json_string_value(v), hex, NULL) == 0)
			json_object_set_new(sums, json_string_value(v), json_string(hex));
	}
	if (!s->image_sums)
		s->image_sums = json_object();
	json_object_set_new(s->image_sums, dir, sums);
}

/* The name of the first image that changed since it arrived, or NULL. */
static const char *changed_image(struct session *s, const char *dir_name, const char *dir)
{
	json_t *sums = json_object_get(s->image_sums, dir_name);
	__do_close int dfd = sums ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	const char *name;
	json_t *want;

	json_object_foreach(sums, name, want) {
		char hex[65];

		if (dfd < 0 || sha256_file_at(dfd, name, hex, NULL) < 0 || strcmp(hex, json_string_value(want)))
			return name;
	}
	return NULL;
}

/* Test of the rollback path: damage the images so that criu itself fails. */
static void sabotage_images(const char *dir)
{
	__do_free char *inv = xasprintf("%s/inventory.img", dir);

	/* criu then fails on the empty inventory; if this fails, criu restores
	 * and the rollback case reports it. */
	if (truncate(inv, 0) < 0)
		fprintf(stderr, "crmig serve: cannot truncate %s: %s\n", inv, strerror(errno));
}

static int op_restore(struct session *s, json_t *req)
{
	char how[48];
	const char *dir_name = dir_arg(s, req, "dir");
	json_t *wl = json_object_get(req, "workload");
	bool lazy = json_bool(req, "lazy", false);
	__do_free char *dir = NULL;
	json_t *argvs = json_array();
	struct restore_ctx rc = { .s = s, .timing = json_object(), .start = now_ms() };
	struct hook_server hook;
	char err[2048] = "";
	const char *damaged;
	pid_t pid;
	int status = -1;

	struct dest_restore r = { .req = req, .criu = s->o->criu, .verbosity = s->o->verbosity, .argvs = argvs,
				  .say = say, .ctx = s };

	if (!dir_name || !wl || !s->kind || json_equal(wl, s->workload) != 1) {
		json_decref(argvs);
		json_decref(rc.timing);
		return reply_err(s, "bad restore request");
	}
	dir = sub_dir(s, dir_name);
	r.dir = dir;
	if ((damaged = changed_image(s, dir_name, dir))) {
		snprintf(err, sizeof(err), "%s is damaged: it changed here since it arrived (SHA-256 differs); "
			 "nothing was restored", damaged);
		json_decref(argvs);
		json_decref(rc.timing);
		return reply_err(s, "%s", err);
	}
	if (json_bool(req, "fail", false))
		sabotage_images(dir);
	if (hook_server_open(&hook, s->dir) < 0) {
		snprintf(err, sizeof(err), "cannot set up criu's action-script socket");
		goto fail;
	}
	if (lazy && start_lazy_daemon(s, dir, req, argvs, err, sizeof(err)) < 0)
		goto fail;
	if (add_ips(s, json_object_get(req, "ips"), err, sizeof(err)) < 0)
		goto fail;
	slog(s, "restoring %s%s", s->kind->dest_name(wl), lazy ? " (lazy pages)" : "");
	r.hook = hook.command;
	pid = s->kind->dest_restore(&r);
	rc.pid = pid;
	status = pid > 0 ? hook_serve(&hook, pid, restore_hook, NULL, &rc, 300) : -1;

	if (status != 0) {
		__do_free char *log = xasprintf("%s/restore.log", dir);
		__do_free char *errors = criu_log_errors(log, 6);

		snprintf(err, sizeof(err), "restore failed (criu %s); %s says:\n%s",
			 status < 0 ? "did not start" : proc_status_text(status, how, sizeof(how)), log,
			 *errors ? errors : "(no error lines)\n");
		goto fail;
	}
	s->restore_end = now_ms();
	s->restored = true;
	announce_ips(s);
	s->restored_pid = s->kind->dest_root(dir, wl);
	if (s->kind->dest_after_restore)
		s->kind->dest_after_restore(&r, s->restored_pid, rc.timing);
	json_object_set_new(rc.timing, "restore_ms", json_real(s->restore_end - rc.start));
	hook_server_close(&hook);
	slog(s, "restored in %.0f ms", s->restore_end - rc.start);
	s->restored_lazy = lazy;
	session_record(s);
	fault_at("dst-handover", 0);
	if (lazy) {
		/* Should the lazy-pages daemon die now (killed, a damaged page, a
		 * full disk), the source's criu must hear it at once, not after
		 * the --timeout with the workload frozen there: our copies of the
		 * stream close when it does (ps_watch, as for page servers). */
		close_fd(&s->lazy_tcp);
		ps_watch_start(&s->ps_watch, s->lazy_pid, s->lazy_fd);
	}
	return reply_ok(s, json_pack("{s:i, s:o, s:o}", "pid", s->restored_pid, "timing", rc.timing, "criu_argv",
				  argvs));

fail:
	hook_server_close(&hook);
	kill_child(&s->lazy_pid);
	break_lazy_stream(s);
	remove_ips(s);
	json_decref(argvs);
	json_decref(rc.timing);
	return reply_err(s, "%s", err);
}

static int op_lazy_wait(struct session *s, json_t *req)
{
	char how[48];
	double timeout = (double)json_int(req, "timeout", 3600);
	int status;

	if (s->lazy_pid <= 0)
		return reply_err(s, "no lazy-pages daemon");
	ps_watch_stop(&s->ps_watch);
	status = wait_timeout(s->lazy_pid, timeout > 0 ? timeout : 3600);
	if (status == -2)
		kill_child(&s->lazy_pid);
	s->lazy_pid = 0;
	if (status != 0) {
		__do_free char *log = xasprintf("%s/final/lazy-pages.log", s->dir);
		__do_free char *errors = criu_log_errors(log, 5);

		/* Its memory will never be complete: the copy here cannot go on
		 * (and criu resumed the source when it stopped serving). */
		end_restored(s);
		remove_ips(s);
		return reply_err(s, "criu lazy-pages %s before all pages arrived: %s", proc_status_text(status, how, sizeof(how)),
				 errors);

	}
	return reply_ok(s, json_pack("{s:f}", "lazy_ms", now_ms() - s->restore_end));
}

/* ---- files --------------------------------------------------------------- */

static bool root_allowed(struct session *s, const char *root)
{
	size_t i;
	json_t *v;

	json_array_foreach(s->o->roots, i, v)
		if (!strcmp(json_string_value(v), root))
			return true;
	return false;
}

/* names (may be NULL) gets the name of every file received. ps_dir: a page
 * server wrote into dirfd, and what it wrote is not to be overwritten. */
static int recv_files(struct session *s, int dirfd, int64_t count, bool subdirs, uint64_t *bytes, json_t *names,
		      const char *ps_dir)
{
	for (int64_t i = 0; i < count; i++) {
		json_t *hdr = chan_recv_json(&s->ch, MSG_FILE);
		const char *name = json_str(hdr, "name");
		int64_t n;

		if (!hdr)
			return -1;
		if (ps_dir && serve_page_server_file(name)) {
			snprintf(s->ch.err, sizeof(s->ch.err),
				 "the source sent %s/%s, which this session's page server wrote: refusing to overwrite "
				 "it (is the source's image directory left over from another migration?)",
				 ps_dir, name);
			json_decref(hdr);
			return -1;
		}
		n = chan_recv_file(&s->ch, dirfd, hdr, subdirs);
		if (n >= 0 && names)
			json_array_append(names, json_object_get(hdr, "name"));
		json_decref(hdr);
		if (n < 0)
			return -1;
		*bytes += (uint64_t)n;
	}
	return 0;
}

/* The files come whatever we answer: refuse only after reading them all. */
static int op_sync(struct session *s, json_t *req)
{
	const char *root = json_str(req, "root");
	int64_t count = json_int(req, "count", -1);
	__do_close int dfd = -1;
	uint64_t bytes = 0;
	bool ok = root && root_allowed(s, root) && count >= 0 && count <= 1000000;

	if (!ok) { /* the files that follow cannot be skipped: the session ends */
		reply_err(s, "refusing to mirror files beneath %s", root ? root : "(none)");
		return -1;
	}
	mkdir_p(root, 0755);
	dfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -1;
	if (recv_files(s, dfd, count, true, &bytes, NULL, NULL) < 0) {
		reply_err(s, "mirroring files: %s", s->ch.err);
		return -1;
	}
	return reply_ok(s, json_pack("{s:I, s:I}", "files", (json_int_t)count, "bytes", (json_int_t)bytes));
}

static int op_images(struct session *s, json_t *req)
{
	const char *dir = dir_arg(s, req, "dir");
	int64_t count = json_int(req, "count", -1);
	json_auto_t *names = json_array();
	__do_free char *path = NULL;
	__do_close int dfd = -1;
	uint64_t bytes = 0;

	if (!dir || count < 0 || count > 100000) {
		reply_err(s, "bad images request");
		return -1;
	}
	path = sub_dir(s, dir);
	mkdir(path, 0700);
	dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || recv_files(s, dfd, count, false, &bytes, names, strcmp(dir, s->ps_dir) ? NULL : dir) < 0) {
		reply_err(s, "receiving images: %s", s->ch.err);
		return -1;
	}
	record_image_sums(s, dir, dfd, names);
	if (fault_at("dst-image-transfer", s->ps_pid) == FAULT_CORRUPT) {
		__do_free char *inv = xasprintf("%s/inventory.img", path);

		fault_corrupt_file(inv);
	}
	return reply_ok(s, json_pack("{s:I}", "bytes", (json_int_t)bytes));

}

static bool is_log(const char *name)
{
	return strstr(name, ".log") || !strcmp(name, "criu.out") || !strcmp(name, "criu.conf");
}

/* Sends the files of subdir whose names pass keep(); returns count or -1. */
static int send_dir_files(struct session *s, const char *subdir, bool (*keep)(const char *), const char *prefix)
{
	__do_free char *path = sub_dir(s, subdir);
	__do_close int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = dfd >= 0 ? fdopendir(dup(dfd)) : NULL;
	struct dirent *e;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		struct stat st;
		__do_free char *name = NULL;
		__do_close int cut = -1;

		if (!keep(e->d_name) || fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			continue;
		name = prefix ? xasprintf("%s/%s", prefix, e->d_name) : xstrdup(e->d_name);
		if (keep == is_log && (size_t)st.st_size > LOG_SEND_MAX) {
			__do_close int fd = openat(dfd, e->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

			cut = fd >= 0 ? log_trimmed_copy(fd, LOG_SEND_MAX) : -1;
		}
		/* the count is announced: a log that cannot be cut goes whole */
		if ((cut >= 0 ? chan_send_open_file(&s->ch, cut, e->d_name, name)
			      : chan_send_file(&s->ch, dfd, e->d_name, name)) < 0)
			break;
		n++;
	}
	closedir(d);
	return n;
}

static int count_matching(struct session *s, const char *subdir, bool (*keep)(const char *))
{
	__do_free char *path = sub_dir(s, subdir);
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (e->d_type == DT_REG && keep(e->d_name))
			n++;
	closedir(d);
	return n;
}

static int op_logs(struct session *s, json_t *req)
{
	DIR *d = opendir(s->dir);
	json_t *subs = json_array();
	struct dirent *e;
	size_t i;
	json_t *v;
	int total = 0;

	(void)req;
	while (d && (e = readdir(d)))
		if (e->d_type == DT_DIR && e->d_name[0] != '.' && safe_name(e->d_name, 32))
			json_array_append_new(subs, json_string(e->d_name));
	if (d)
		closedir(d);
	json_array_foreach(subs, i, v)
		total += count_matching(s, json_string_value(v), is_log);
	if (reply_ok(s, json_pack("{s:i}", "count", total)) < 0) {
		json_decref(subs);
		return -1;
	}
	json_array_foreach(subs, i, v)
		send_dir_files(s, json_string_value(v), is_log, json_string_value(v));
	json_decref(subs);
	return 0;
}

static bool is_pagemap(const char *name)
{
	return !strncmp(name, "pagemap-", 8) || !strcmp(name, "inventory.img");
}

static int op_fetch_maps(struct session *s, json_t *req)
{
	const char *dir = dir_arg(s, req, "dir");
	__do_free char *path = NULL;
	json_t *sparse = json_array();
	DIR *d;
	struct dirent *e;

	if (!dir) {
		json_decref(sparse);
		return reply_err(s, "bad fetch request");
	}
	path = sub_dir(s, dir);
	d = opendir(path);
	while (d && (e = readdir(d))) {
		struct stat st;
		__do_free char *p = NULL;

		if (strncmp(e->d_name, "pages-", 6))
			continue;
		p = xasprintf("%s/%s", path, e->d_name);
		if (stat(p, &st) == 0)
			json_array_append_new(sparse, json_pack("{s:s, s:I}", "name", e->d_name, "size", (json_int_t)st.st_size));
	}
	if (d)
		closedir(d);
	if (reply_ok(s, json_pack("{s:i, s:o}", "count", count_matching(s, dir, is_pagemap), "sparse", sparse)) < 0)
		return -1;
	send_dir_files(s, dir, is_pagemap, NULL);
	return 0;
}

/* ---- the session's life -------------------------------------------------- */

/* What a restarted serve needs to clean up after this session (serve_record.c). */
static void session_record(struct session *s)
{
	json_t *rec = json_pack("{s:i, s:i, s:I, s:O, s:i, s:I, s:b, s:b}", "pid", (int)getpid(), "pgid",
				getpgrp() == getpid() ? (int)getpid() : 0, "start", (json_int_t)proc_start_time(getpid()),
				"workload", s->workload ?: json_null(),
				"restored_pid", (int)(s->restored ? s->restored_pid : 0), "restored_start",
				(json_int_t)(s->restored ? proc_start_time(s->restored_pid) : 0), "committed", s->committed,
				"lazy", s->restored && s->restored_lazy);

	if (s->dir[0] && rec_write(s->dir, rec) < 0)
		slog(s, "cannot record the session in %s: %s", s->dir, strerror(errno));
	json_decref(rec);
}

/* The source went back to its own copy: the one restored here must not run too. */
static void end_restored(struct session *s)
{
	json_t *wl = s->workload;

	if (!s->restored)
		return;
	ps_watch_stop(&s->ps_watch); /* before anything touches the lazy stream */
	if (s->restored_lazy && s->lazy_pid > 0 && wait_timeout(s->lazy_pid, 0) == 0) {
		/* every page had arrived: the source's criu has ended its copy */
		s->lazy_pid = 0;
		s->committed = true;
		session_record(s);
		slog(s, "all pages had arrived: the copy restored here is complete and stays");
		return;
	}
	/* a lazy copy: stop its pages first, so that the source's criu gives up
	 * serving (and resumes the source) rather than finish and end it */
	kill_child(&s->lazy_pid);
	break_lazy_stream(s);
	slog(s, "the source keeps the workload: ending the copy restored here (pid %d)", s->restored_pid);

	s->kind->dest_end(wl, s->restored_pid);
	s->restored = false;
	session_record(s);
}

static int op_prepare(struct session *s, json_t *req)
{
	const char *id = json_str(req, "id");
	json_t *wl = json_object_get(req, "workload");
	const char *kind = json_str(wl, "kind");
	char err[512] = "";

	if (s->dir_fd >= 0)
		return reply_err(s, "already prepared");
	if (!id || strlen(id) > 32 || strspn(id, "0123456789abcdef") != strlen(id) || !kind)
		return reply_err(s, "bad prepare request");
	snprintf(s->id, sizeof(s->id), "%s", id);
	s->kind = workload_by_kind(kind);
	if (!s->kind)
		return reply_err(s, "unknown workload kind");
	if (s->kind->dest_prepare(wl, s->local_addr, s->undo_dir, sizeof(s->undo_dir), err, sizeof(err)) < 0) {
		s->kind = NULL;
		return reply_err(s, "%s", err);
	}
	snprintf(s->dir, sizeof(s->dir), "%s/dst-%s", s->o->state_dir, s->id);
	if (mkdir_p(s->dir, 0700) < 0 || (s->dir_fd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return reply_err(s, "cannot create %s: %s", s->dir, strerror(errno));
	s->workload = json_incref(wl);
	s->page_tls = json_bool(req, "page_tls", false);
	fault_init_session(json_str(req, "fault"), s->o->state_dir);
	session_record(s);
	slog(s, "prepared %s migration of %s", kind, s->kind->dest_name(wl));
	return reply_ok(s, NULL);
}

static void cleanup_session(struct session *s, bool handed_over)
{
	kill_child(&s->ps_pid);
	ps_watch_stop(&s->ps_watch);
	if (!handed_over)
		kill_child(&s->lazy_pid);
	for (int i = 0; i < s->n_relays; i++)
		relay_stop(s->relays[i]);
	s->n_relays = 0;
	s->ps_relay = s->lazy_relay = NULL;
	if (!handed_over) {
		kill_child(&s->lazy_pid);
		break_lazy_stream(s);
		remove_ips(s);
		if (s->undo_dir[0])
			remove_tree(s->undo_dir);
	}
	s->undo_dir[0] = '\0';
	if (s->dir[0] && !getenv("CRMIG_KEEP_DEST"))
		remove_tree(s->dir);
}

static int op_abort(struct session *s, json_t *req)
{
	(void)req;
	slog(s, "abort: cleaning up");
	/* after a restore: the source resumed its own copy (criu died there, or
	 * it could not commit): this one must go */
	end_restored(s);

	kill_child(&s->ps_pid);
	kill_child(&s->lazy_pid);
	break_lazy_stream(s);
	remove_ips(s);
	if (s->undo_dir[0] && !s->restored)
		remove_tree(s->undo_dir);
	s->undo_dir[0] = '\0';
	return reply_ok(s, NULL);
}

static int op_finish(struct session *s, json_t *req)
{
	bool ok = json_bool(req, "ok", false);
	int status;

	if (json_bool(req, "commit", false)) {
		/* the source is about to let criu end its copy: ours from now on */
		if (!s->restored)
			return reply_err(s, "commit without a restored workload");
		s->committed = true;
		session_record(s);
		/* the lazy-pages daemon may now tell the source it has every page
		 * (and the source's criu end the source) */
		relay_open_gate(s->lazy_relay);
		slog(s, "committed: the workload stays here");
		status = reply_ok(s, NULL);
		/* The lazy window starts at the commit, not at the restore: a
		 * daemon killed between the two is a restore that failed before
		 * the handover (rolled back), and the source, racing it, might
		 * or might not have committed yet (test_faults saw both). */
		if (s->restored_lazy)
			fault_at("dst-lazy-window", s->lazy_pid);
		return status;
	}
	slog(s, "finished: %s", ok ? "the workload runs here" : "not migrated");

	cleanup_session(s, ok && s->restored);
	s->dir[0] = '\0';
	return reply_ok(s, NULL);
}

/* Indexed by serve_step.h's enum serve_op. */
static int (*const op_fns[SOP_COUNT])(struct session *s, json_t *req) = {
	[SOP_PREPARE] = op_prepare, [SOP_SYNC] = op_sync, [SOP_IMAGES] = op_images,
	[SOP_PAGE_SERVER] = op_page_server, [SOP_PAGE_SERVER_WAIT] = op_page_server_wait,
	[SOP_LAZY_CHANNEL] = op_lazy_channel, [SOP_RESTORE] = op_restore, [SOP_LAZY_WAIT] = op_lazy_wait,
	[SOP_FETCH_MAPS] = op_fetch_maps, [SOP_LOGS] = op_logs, [SOP_ABORT] = op_abort, [SOP_FINISH] = op_finish,
};

static json_t *hello_json(struct session *s)
{
	struct utsname u;

	uname(&u);
	/* commit: this serve keeps a restored workload only once the source
	 * commits it ("finish" with commit); a source that does not see it
	 * here (an older serve) does not send it */
	json_t *features = criu_features_json(&s->criu);

	json_object_set_new(features, "commit", json_true());
	return json_pack("{s:i, s:s, s:s, s:{s:s, s:s, s:s}, s:o, s:O}", "version", PROTO_VERSION, "role",
			 "destination", "crmig", CRMIG_VERSION, "versions", "criu", s->criu.version, "lxc",
			 lxc_version_string(), "kernel", u.release, "features", features, "sync_roots", s->o->roots);

}

/* serve_step() judges each frame; the ops act on what it let through. */
static int serve_requests(struct session *s)
{
	for (;;) {
		struct serve_step st;
		uint16_t type;
		void *buf = NULL;
		uint32_t len;
		int ret = 0;

		if (chan_recv(&s->ch, &type, &buf, &len) < 0) {
			slog(s, "channel closed: %s", s->ch.err);
			free(buf);
			return -1;
		}
		serve_step(s->dir_fd >= 0, type, buf, len, &st);
		free(buf);
		switch (st.verdict) {
		case SERVE_BYE:
			return 0;
		case SERVE_PROTOCOL_ERROR:
			slog(s, "protocol error: %s", st.why);
			ret = -1;
			break;
		case SERVE_REFUSE:
			ret = reply_err(s, "%s", st.why);
			break;
		case SERVE_REFUSE_END: /* the files that follow cannot be skipped: the session ends */
			reply_err(s, "%s", st.why);
			ret = -1;
			break;
		case SERVE_RUN:
			ret = op_fns[st.op](s, st.req);
			break;
		}
		json_decref(st.req);
		if (ret < 0)
			return -1;
	}
}

/* The source vanished in the lazy window (after its commit): whether the
 * copy here may live depends on its pages. All arrived: criu ended the
 * source, the workload is here. They stopped (the source's relay died with
 * crmig, and criu, its stream broken, resumed the source): it must go. */
static void lazy_after_loss(struct session *s)
{
	char how[48];
	int status;

	ps_watch_stop(&s->ps_watch);
	slog(s, "the source is gone in the lazy window: waiting for the rest of the pages");
	status = wait_timeout(s->lazy_pid, 3600);
	if (status == -2)
		kill_child(&s->lazy_pid);
	s->lazy_pid = 0;
	if (status == 0) {
		slog(s, "all pages arrived: the workload stays here");
		return;
	}
	slog(s, "the pages stopped (criu lazy-pages %s): the copy here is incomplete",
	     proc_status_text(status, how, sizeof(how)));
	end_restored(s);
}

static void run_session(const struct serve_opts *o, struct tls_ctx *tls, int fd, const char *peer)
{

	struct session s = { .o = o, .dir_fd = -1, .data_lfd = -1, .lazy_fd = -1, .lazy_tcp = -1, .last_tcp = -1,
			     .tls_ctx = tls };
	char err[512];
	json_t *hello;
	bool gui;

	snprintf(s.peer_host, sizeof(s.peer_host), "%s", peer);
	fault_set_peer(peer); /* a dst-...:cut cuts the link to this client */
	net_local_addr(fd, s.local_addr, sizeof(s.local_addr));
	/* A source that vanishes, or stops taking our replies, ends its session
	 * (and cleans up), never hangs it. */
	net_stream_opts(fd, 2 * o->peer_timeout_s);
	{
		/* a reply that cannot leave for peer_timeout_s: the peer reads
		 * nothing (tls_write turns it into an error; see below) */
		struct timeval tv = { .tv_sec = o->peer_timeout_s };

		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	tls_paths_from_dir(&s.tlsp, o->cert_dir, s.tls_store, sizeof(s.tls_store));
	s.tls = tls_accept(tls, fd, err, sizeof(err));
	if (!s.tls) {
		slog(&s, "refused: %s", err);
		return;
	}
	chan_init_tls(&s.ch, s.tls);
	/* A peer that got through the handshake and then says nothing would
	 * hold this process for ever: its hello is due at once. */
	gnutls_record_set_timeout(s.tls, (unsigned int)o->peer_timeout_s * 1000);
	hello = chan_recv_json(&s.ch, MSG_HELLO);
	gnutls_record_set_timeout(s.tls, 0);
	if (!hello) {
		slog(&s, "no hello: %s", s.ch.err);
		tls_close(s.tls);
		return;
	}
	gui = !strcmp(json_str(hello, "role") ?: "", "gui");
	json_decref(hello);
	criu_probe(&s.criu, o->criu);
	hello = hello_json(&s);
	chan_send_json(&s.ch, MSG_HELLO, hello);
	json_decref(hello);
	slog(&s, "session from %s (peer %s)%s", peer, tls_peer_cn(s.tls), gui ? ": crmig gui" : "");
	if (gui)
		serve_gui_session(&s.ch, &s.criu); /* tree and check only */
	else if (serve_requests(&s) < 0 && s.restored && s.committed && s.restored_lazy && s.lazy_pid > 0)
		lazy_after_loss(&s);
	/* The source vanished: a copy restored here stays only if it was
	 * handed over (committed); the source resumed its own otherwise. */
	if (s.restored && !s.committed)
		end_restored(&s);
	cleanup_session(&s, s.restored);
	fault_end();

	close_fd(&s.dir_fd);
	close_fd(&s.data_lfd);
	close_fd(&s.lazy_fd);
	close_fd(&s.lazy_tcp);
	close_fd(&s.last_tcp);
	json_decref(s.workload);
	json_decref(s.image_sums);
	if (tls_send_stalled(s.tls)) {
		/* A peer that reads nothing: no goodbye (it would wait as long
		 * again), and a reset rather than a FIN that would queue behind
		 * the replies it never took: it learns at once that we left. */
		struct linger l = { .l_onoff = 1, .l_linger = 0 };

		slog(&s, "dropped: the peer took none of our data for %d s", o->peer_timeout_s);
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
		gnutls_deinit(s.tls);
	} else {
		tls_close(s.tls);
	}
}

/* Socket activation (the sd_listen_fds protocol, without libsystemd): when
 * LISTEN_PID is ours and LISTEN_FDS >= 1, systemd passed the listening socket
 * as fd 3 (crmig.socket). Returns that fd, -1 when nothing was passed, -2 when
 * something was passed that is not a listening stream socket. */
static int inherited_listener(char *err, size_t errlen)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	int accepting = 0, type = 0;
	socklen_t len = sizeof(accepting), tlen = sizeof(type);
	char *end;
	long p, n;

	if (!pid || !fds)
		return -1;
	p = strtol(pid, &end, 10);
	if (*end || p != (long)getpid())
		return -1;
	n = strtol(fds, &end, 10);
	/* Not for our children: criu and the sessions must not see them. */
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (*end || n < 1) {
		snprintf(err, errlen, "LISTEN_FDS=%s: want at least one socket", fds);
		return -2;
	}
	if (getsockopt(3, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) < 0 ||
	    getsockopt(3, SOL_SOCKET, SO_TYPE, &type, &tlen) < 0 || !accepting || type != SOCK_STREAM) {
		snprintf(err, errlen, "fd 3 from systemd is not a listening stream socket (ListenStream= in crmig.socket)");
		return -2;
	}
	fcntl(3, F_SETFD, FD_CLOEXEC);
	return 3;
}

static void usage(FILE *f)
{
	fputs("usage: crmig serve [--listen ADDR:PORT] [--certs DIR] [--allow-sync DIR]... [--peer-timeout S] [--once]\n"
	      "  --listen ADDR:PORT   where to listen (default 0.0.0.0:7077)\n"
	      "  --certs DIR          CA and host certificate (default " CRMIG_CERT_DIR ")\n"
	      "  --allow-sync DIR     a directory beneath which sources may mirror files (repeatable;\n"
	      "                       default /var/lib/lxc /var/tmp /tmp /srv /home /root)\n"
	      "  --state DIR          where images are received (default " CRMIG_STATE_DIR ")\n"
	      "  --criu PATH          the criu binary (default: criu on PATH, or $CRMIG_CRIU)\n"
	      "  --peer-timeout S     a peer must finish its TLS handshake, and then its hello, within S s each;\n"
	      "                       one that takes none of our replies for S s is reset (default 30)\n"
	      "  --once               serve one session, then exit\n"
	      "Started by systemd's crmig.socket, it serves the socket passed to it (LISTEN_FDS) and ignores --listen.\n",
	      f);
}

int cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' }, { "certs", required_argument, NULL, 'c' },
		{ "allow-sync", required_argument, NULL, 'a' }, { "state", required_argument, NULL, 's' },
		{ "criu", required_argument, NULL, 'C' }, { "once", no_argument, NULL, 'o' },
		{ "peer-timeout", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	struct serve_opts o = { .listen = "0.0.0.0", .cert_dir = getenv("CRMIG_CERT_DIR") ?: CRMIG_CERT_DIR,
				.state_dir = CRMIG_STATE_DIR, .verbosity = 4, .roots = json_array(),
				.peer_timeout_s = 30 };
	struct tls_paths tp;
	char store[3 * PATH_MAX], err[512], host[256];
	struct tls_ctx *tls;
	int c, port, lfd;
	bool activated;

	while ((c = getopt_long(argc, argv, "l:c:a:s:C:oT:h", opts, NULL)) != -1) {
		switch (c) {
		case 'l': o.listen = optarg; break;
		case 'c': o.cert_dir = optarg; break;
		case 'a':
			if (optarg[0] != '/' || strstr(optarg, "..")) {
				fprintf(stderr, "crmig serve: --allow-sync wants an absolute path\n");
				return 2;
			}
			json_array_append_new(o.roots, json_string(optarg));
			break;
		case 's': o.state_dir = optarg; break;
		case 'C': o.criu = optarg; break;
		case 'o': o.once = true; break;
		case 'T': {
			char *end;
			long t = strtol(optarg, &end, 10);

			if (*end || t < 1 || t > 3600) {
				fprintf(stderr, "crmig serve: --peer-timeout %s: want whole seconds, 1 to 3600\n", optarg);
				json_decref(o.roots);
				return 2;
			}
			o.peer_timeout_s = (int)t;
			break;
		}
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!json_array_size(o.roots)) {
		static const char *const defaults[] = { "/var/lib/lxc", "/var/tmp", "/tmp", "/srv", "/home", "/root" };
		for (size_t i = 0; i < ARRAY_SIZE(defaults); i++)
			json_array_append_new(o.roots, json_string(defaults[i]));
	}
	if (net_split_hostport(o.listen, host, sizeof(host), &port, CRMIG_DEFAULT_PORT) < 0) {
		fprintf(stderr, "crmig serve: --listen %s: want ADDR or ADDR:PORT\n", o.listen);
		return 2;
	}
	tls_paths_from_dir(&tp, o.cert_dir, store, sizeof(store));
	tls = tls_ctx_new(&tp, err, sizeof(err));
	if (!tls) {
		fprintf(stderr, "crmig serve: TLS: %s\nmake certificates with: crmig cert ca DIR && crmig cert host ...\n", err);
		return 1;
	}
	tls_ctx_set_handshake_timeout(tls, (unsigned int)o.peer_timeout_s * 1000);
	lfd = inherited_listener(err, sizeof(err));
	if (lfd == -2) {
		fprintf(stderr, "crmig serve: %s\n", err);
		tls_ctx_free(tls);
		return 1;
	}
	activated = lfd >= 0;
	if (activated) {
		net_local_addr(lfd, host, sizeof(host));
		port = net_local_port(lfd);
	} else {
		/* room for a burst (200 connections at once): with a short
		 * queue the kernel drops SYNs and every client waits 1 s more */
		lfd = net_listen(host, port, 256);
	}
	if (lfd < 0) {
		fprintf(stderr, "crmig serve: cannot listen on %s:%d: %s\n", host, port, strerror(errno));
		tls_ctx_free(tls);
		return 1;
	}
	mkdir_p(o.state_dir, 0700);
	/* what sessions of an earlier serve (killed, crashed) left behind */
	rec_recover(o.state_dir, 0);

	signal(SIGPIPE, SIG_IGN);
	fprintf(stderr, "crmig serve: listening on %s:%d%s\n", host, port, activated ? " (socket from systemd)" : "");
	for (;;) {
		char peer[64];
		int fd;
		pid_t pid;

		int st;

		/* a session that died of a signal left its directory behind */
		while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
			if (WIFSIGNALED(st))
				rec_recover(o.state_dir, pid);

		fd = net_accept_timeout(lfd, 1);
		if (fd < 0)
			continue;
		net_peer_addr(fd, peer, sizeof(peer));
		fflush(NULL);
		pid = o.once ? 0 : fork();
		if (pid == 0) {
			/* its criu helpers in its own process group, for the
			 * clean-up should it die (serve_record.c) */
			if (!o.once) {
				setpgid(0, 0);
				close(lfd);
			}

			run_session(&o, tls, fd, peer);
			close(fd);
			if (!o.once)
				_exit(0);
			break;
		}
		close(fd);
	}
	close(lfd);
	tls_ctx_free(tls);
	json_decref(o.roots);
	return 0;
}
