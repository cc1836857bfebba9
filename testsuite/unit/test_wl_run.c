/* The workloads for real, on this host, without a migration: started as the
 * runner starts them, sent the migration signal, they must pass; with
 * --corrupt they must fail (tcp: the peer's check must fail). Also the
 * process contract: daemonizing, SIGTERM, --linger, bad arguments, the
 * datagrams, and running as PID 1 of a new PID namespace when allowed.
 *
 * The binaries come from build/host/workloads (next to this test's
 * directory) or $CRMIG_WORKLOADS_DIR: `make` must have built them. */
#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../lib/seqstream.h"
#include "../lib/wl.h"
#include "util.h"
#include "unit.h"

#define SIGNAL_AFTER_MS 300
#define READY_MS 20000
#define EXIT_MS 30000

static char bindir[PATH_MAX];
static char tmp[PATH_MAX];
static int case_nr;

struct run {
	char dir[PATH_MAX + 64];
	char errfile[PATH_MAX + 64];
	char id[32];
	pid_t pid;
	int probe;
	char probe_arg[32];
	int status;	/* raw wait status */
	enum wl_verdict verdict;
	char reason[WL_REASON_MAX];
};

/* ---------------------------------------------------------------- helpers */

static void find_bindir(void)
{
	const char *env = getenv("CRMIG_WORKLOADS_DIR");
	char exe[PATH_MAX], probe[PATH_MAX + 16];
	ssize_t n;

	if (env) {
		snprintf(bindir, sizeof(bindir), "%s", env);
	} else {
		n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		ck_assert_int_gt(n, 0);
		exe[n] = '\0';
		snprintf(bindir, sizeof(bindir), "%s/../workloads", dirname(exe));
	}
	snprintf(probe, sizeof(probe), "%s/memory", bindir);
	ck_assert_msg(access(probe, X_OK) == 0, "no workload binaries in %s: run make first", bindir);
}

static void setup(void)
{
	find_bindir();
	snprintf(tmp, sizeof(tmp), "/tmp/test_wl_run.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmp));
}

static void teardown(void)
{
	if (!getenv("CRMIG_KEEP"))
		remove_tree(tmp);
}

static void run_init(struct run *r, const char *name)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);

	memset(r, 0, sizeof(*r));
	snprintf(r->id, sizeof(r->id), "%s-%d", name, ++case_nr);
	snprintf(r->dir, sizeof(r->dir), "%s/%s", tmp, r->id);
	snprintf(r->errfile, sizeof(r->errfile), "%s/%s.stderr", tmp, r->id);
	r->probe = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	ck_assert_int_ge(r->probe, 0);
	ck_assert_int_eq(bind(r->probe, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(r->probe, (struct sockaddr *)&a, &len), 0);
	snprintf(r->probe_arg, sizeof(r->probe_arg), "127.0.0.1:%u", ntohs(a.sin_port));
}

static void run_free(struct run *r)
{
	close_fd(&r->probe);
}

/* argv: the workload name, then its own options (NULL-terminated); the
 * common ones are added here. */
static void spawn(struct run *r, const char *name, bool foreground, const char *const *opts)
{
	const char *argv[48];
	char bin[PATH_MAX + 32];
	int n = 0;

	snprintf(bin, sizeof(bin), "%s/%s", bindir, name);
	argv[n++] = bin;
	if (foreground)
		argv[n++] = "--foreground";
	argv[n++] = "--dir";
	argv[n++] = r->dir;
	argv[n++] = "--id";
	argv[n++] = r->id;
	argv[n++] = "--probe";
	argv[n++] = r->probe_arg;
	argv[n++] = "--hb-ms";
	argv[n++] = "10";
	for (; opts && *opts && n < 47; opts++)
		argv[n++] = *opts;
	argv[n] = NULL;
	r->pid = fork();
	ck_assert_int_ge(r->pid, 0);
	if (r->pid == 0) {
		int fd = open(r->errfile, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		dup2(fd, 1);
		dup2(fd, 2);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
}

/* Raw wait status, or -1 after killing it at the deadline. */
static int wait_exit(pid_t pid, int timeout_ms)
{
	double deadline = now_ms() + timeout_ms;
	int status;

	while (now_ms() < deadline) {
		pid_t w = waitpid(pid, &status, WNOHANG);

		if (w == pid)
			return status;
		ck_assert_int_eq(w, 0);
		usleep(5000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

static bool wait_file(const char *dir, const char *name, int timeout_ms)
{
	__do_free char *path = xasprintf("%s/%s", dir, name);
	double deadline = now_ms() + timeout_ms;

	for (;;) {
		if (access(path, F_OK) == 0)
			return true;
		if (now_ms() >= deadline)
			return false;
		usleep(5000);
	}
}

static long ready_pid(const struct run *r)
{
	__do_free char *path = xasprintf("%s/ready", r->dir);

	return wl_read_ready(path);
}

static void read_verdict(struct run *r)
{
	__do_free char *path = xasprintf("%s/verdict", r->dir);

	r->verdict = wl_read_verdict(path, r->reason, sizeof(r->reason));
}

static void note(const struct run *r, const char *key, char *buf, size_t len)
{
	__do_free char *path = xasprintf("%s/verdict", r->dir);

	ck_assert_msg(wl_read_verdict_note(path, key, buf, len) == 0, "no note %s", key);
}

static char *stderr_text(const struct run *r)
{
	char *t = read_file(r->errfile, NULL);

	return t ? t : xstrdup("");
}

/* What came to the probe: READY once with the pid, heartbeats in order,
 * the verdict as in the file. */
static void check_datagrams(const struct run *r, long pid)
{
	char buf[1024];
	struct wl_msg m;
	uint64_t last_seq = 0, last_counter = 0, hbs = 0;
	bool ready = false, verdict = false;
	ssize_t n;

	while ((n = recv(r->probe, buf, sizeof(buf), 0)) > 0) {
		ck_assert_msg(wl_parse_msg(buf, n, &m) == 0, "bad datagram '%.*s'", (int)n, buf);
		ck_assert_str_eq(m.id, r->id);
		if (m.kind == WL_MSG_READY) {
			ck_assert_int_eq(m.pid, pid);
			ready = true;
		} else if (m.kind == WL_MSG_HB) {
			if (hbs++)
				ck_assert_uint_gt(m.seq, last_seq);
			ck_assert_uint_ge(m.counter, last_counter);
			last_seq = m.seq;
			last_counter = m.counter;
		} else {
			ck_assert(m.pass == (r->verdict == WL_VERDICT_PASS));
			if (!m.pass)
				ck_assert_str_eq(m.reason, r->reason);
			verdict = true;
		}
	}
	ck_assert(ready && verdict);
	ck_assert_uint_ge(hbs, 5);
	ck_assert_uint_gt(last_counter, 0);
}

/* The usual life: start in the foreground, wait for ready, signal, wait. */
static void run_foreground(struct run *r, const char *name, const char *const *opts)
{
	run_init(r, name);
	spawn(r, name, true, opts);
	ck_assert_msg(wait_file(r->dir, "ready", READY_MS), "%s: never ready", r->id);
	ck_assert_int_eq(ready_pid(r), r->pid);
	usleep(SIGNAL_AFTER_MS * 1000);
	ck_assert_int_eq(kill(r->pid, SIGUSR2), 0);
	r->status = wait_exit(r->pid, EXIT_MS);
	read_verdict(r);
	check_datagrams(r, r->pid);
}

static void expect_pass(const struct run *r)
{
	ck_assert_msg(r->verdict == WL_VERDICT_PASS, "%s: verdict %d: %s", r->id, r->verdict, r->reason);
	ck_assert_msg(WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0, "%s: status 0x%x", r->id, r->status);
}

static void expect_fail(const struct run *r, const char *reason_part)
{
	ck_assert_msg(r->verdict == WL_VERDICT_FAIL, "%s: verdict %d, expected FAIL", r->id, r->verdict);
	ck_assert_msg(strstr(r->reason, reason_part), "%s: reason '%s' lacks '%s'", r->id, r->reason, reason_part);
	ck_assert_msg(WIFEXITED(r->status) && WEXITSTATUS(r->status) == 1, "%s: status 0x%x", r->id, r->status);
}

/* ---------------------------------------------------------------- memory */

START_TEST(test_memory_mappings)
{
	static const char *const kinds[] = { "anon", "shared", "file", "thp", "mixed" };

	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
		const char *opts[] = { "--size-mb", "16", "--dirty-rate", "20", "--mapping", kinds[i], NULL };
		struct run r;

		run_foreground(&r, "memory", opts);
		expect_pass(&r);
		run_free(&r);
	}
}
END_TEST

START_TEST(test_memory_idle)
{
	const char *opts[] = { "--size-mb", "16", "--dirty-rate", "0", NULL };
	struct run r;

	run_foreground(&r, "memory", opts);
	expect_pass(&r);
	run_free(&r);
}
END_TEST

START_TEST(test_memory_corrupt)
{
	const char *opts[] = { "--size-mb", "16", "--dirty-rate", "10", "--mapping", "mixed", "--corrupt", NULL };
	struct run r;

	run_foreground(&r, "memory", opts);
	expect_fail(&r, "1 of 4096 pages bad; first: page ");
	run_free(&r);
}
END_TEST

/* The answer in DIR/round: n of "n PASS", -n of "n FAIL: ...", 0 if none (yet). */
static long round_answer(const char *dir)
{
	__do_free char *path = xasprintf("%s/round", dir);
	__do_free char *text = read_file(path, NULL);
	unsigned n;
	char word[8];

	if (!text || sscanf(text, "%u %7s", &n, word) != 2)
		return 0;
	return strcmp(word, "PASS") ? -(long)n : (long)n;
}

/* Round checks (the soak): each SIGUSR1 is answered in DIR/round, the
 * workload keeps running and still passes at the end. */
START_TEST(test_memory_rounds)
{
	const char *opts[] = { "--size-mb", "16", "--dirty-rate", "20", NULL };
	struct run r;

	run_init(&r, "memory");
	spawn(&r, "memory", true, opts);
	ck_assert_msg(wait_file(r.dir, "ready", READY_MS), "%s: never ready", r.id);
	for (long n = 1; n <= 3; n++) {
		double deadline = now_ms() + EXIT_MS;

		usleep(100 * 1000);
		ck_assert_int_eq(kill(r.pid, SIGUSR1), 0);
		while (round_answer(r.dir) != n && now_ms() < deadline)
			usleep(5000);
		ck_assert_int_eq(round_answer(r.dir), n);
		ck_assert_int_eq(waitpid(r.pid, NULL, WNOHANG), 0); /* still running */
	}
	ck_assert_int_eq(kill(r.pid, SIGUSR2), 0);
	r.status = wait_exit(r.pid, EXIT_MS);
	read_verdict(&r);
	check_datagrams(&r, r.pid);
	expect_pass(&r);
	run_free(&r);
}
END_TEST

/* ---------------------------------------------------------------- files, tree */

START_TEST(test_files)
{
	struct run r;

	run_foreground(&r, "files", NULL);
	expect_pass(&r);
	run_free(&r);
}
END_TEST

START_TEST(test_files_corrupt)
{
	const char *opts[] = { "--corrupt", NULL };
	struct run r;

	run_foreground(&r, "files", opts);
	expect_fail(&r, "offsets (second open): offset 40001, expected 40000");
	run_free(&r);
}
END_TEST

START_TEST(test_tree)
{
	struct run r;

	run_foreground(&r, "tree", NULL);
	expect_pass(&r);
	run_free(&r);
}
END_TEST

START_TEST(test_tree_corrupt)
{
	const char *opts[] = { "--corrupt", NULL };
	struct run r;

	run_foreground(&r, "tree", opts);
	expect_fail(&r, "child group");
	run_free(&r);
}
END_TEST

/* ---------------------------------------------------------------- tcp and its peer */

struct peer {
	int lfd, fd;
	struct seq_state tx, rx;
	bool rx_eof, tx_shut;
	int echo_port;
	bool echoed;
	char echo_id[SEQ_ECHO_ID_MAX + 1];
	bool garbage_rejected;
	long rounds, rounds_done;	/* round checks to ask before the signal */
	bool round_asked;
};

static int listen_loopback(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(fd, 4), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

/* One request, one reply line (or -1). */
static ssize_t echo_roundtrip(int port, const char *req, size_t req_len, char *reply, size_t cap)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 .sin_port = htons(port) };
	struct timeval tv = { 5, 0 };
	__do_close int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	size_t n = 0;
	ssize_t got;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || write_full(fd, req, req_len) < 0)
		return -1;
	while (n < cap && (got = recv(fd, reply + n, cap - n, 0)) > 0) {
		n += got;
		if (reply[n - 1] == '\n')
			break;
	}
	return n;
}

static void peer_echo(struct peer *p, const char *want_id)
{
	char reply[SEQ_ECHO_LINE_MAX + 1], req[SEQ_ECHO_LINE_MAX + 1];
	ssize_t n;
	int len;

	/* Garbage first: answered with ERR, not counted. */
	n = echo_roundtrip(p->echo_port, "HELLO?\n", 7, reply, sizeof(reply));
	p->garbage_rejected = n >= 4 && memcmp(reply, "ERR ", 4) == 0;
	len = seq_echo_request(req, sizeof(req), "tok42");
	n = echo_roundtrip(p->echo_port, req, len, reply, sizeof(reply));
	p->echoed = n > 0 && seq_echo_parse_reply(reply, n, "tok42", p->echo_id) == 0 &&
		    strcmp(p->echo_id, want_id) == 0;
}

static void peer_receive(struct peer *p)
{
	while (!p->rx_eof) {
		ssize_t n = seq_recv(p->fd, &p->rx);

		if (n == 0)
			p->rx_eof = true;
		if (n < 0)
			ck_assert_msg(errno == EAGAIN, "peer: recv: %s", strerror(errno));
		if (n <= 0)
			break;
	}
}

/* Stream both ways until both ends are closed; signal the workload on the
 * way and do the echo exchange after the signal. */
static void peer_run(struct peer *p, struct run *r)
{
	double deadline = now_ms() + EXIT_MS, ready_at = 0, signalled_at = 0, sent_at = 0;

	while (!(p->tx_shut && p->rx_eof) && now_ms() < deadline) {
		struct pollfd pf = { .fd = p->fd, .events = p->rx_eof ? 0 : POLLIN };

		poll(&pf, 1, 10);
		peer_receive(p);
		/* Our end follows the workload's (the protocol in seqstream.h). */
		if (p->rx_eof)
			seq_end(&p->tx);
		/* About 800 KB/s: 8 KB at most every 10 ms. */
		if (!p->tx_shut && (p->rx_eof || now_ms() >= sent_at + 10)) {
			sent_at = now_ms();
			ck_assert_int_ge(seq_send(p->fd, &p->tx, 8192), 0);
			if (seq_remaining(&p->tx) == 0) {
				shutdown(p->fd, SHUT_WR);
				p->tx_shut = true;
			}
		}
		if (!ready_at && access(r->dir, F_OK) == 0 && ready_pid(r) > 0)
			ready_at = now_ms();
		if (ready_at && p->rounds_done < p->rounds && now_ms() > ready_at + SIGNAL_AFTER_MS) {
			if (!p->round_asked)
				p->round_asked = kill(r->pid, SIGUSR1) == 0;
			else if (round_answer(r->dir) == p->rounds_done + 1)
				p->rounds_done++, p->round_asked = false;
			continue;
		}
		if (ready_at && !signalled_at && now_ms() > ready_at + SIGNAL_AFTER_MS) {
			kill(r->pid, SIGUSR2);
			signalled_at = now_ms();
		}
		if (signalled_at && p->echo_port && !p->echoed && now_ms() > signalled_at + 50)
			peer_echo(p, r->id);
	}
}

/* rounds > 0: with 16 MiB of memory beside the stream, and that many round checks first. */
static void run_tcp_rounds(struct run *r, struct peer *p, bool corrupt, long rounds)
{
	char peer_arg[32], listen_arg[16];
	const char *opts[] = { "--peer", peer_arg, "--listen", listen_arg, "--rate", "512", "--after-ms", "300",
			       rounds ? "--size-mb" : NULL, "16", corrupt ? "--corrupt" : NULL, NULL };
	int port, lport, tmpfd = listen_loopback(&lport);
	struct pollfd pf;

	close(tmpfd);	/* a free port for the workload's listener */
	memset(p, 0, sizeof(*p));
	p->rounds = rounds;
	if (corrupt && !rounds)
		opts[8] = "--corrupt", opts[9] = NULL;
	seq_init(&p->tx);
	seq_init(&p->rx);
	p->lfd = listen_loopback(&port);
	p->echo_port = lport;
	snprintf(peer_arg, sizeof(peer_arg), "127.0.0.1:%d", port);
	snprintf(listen_arg, sizeof(listen_arg), "%d", lport);
	run_init(r, "tcp");
	spawn(r, "tcp", true, opts);
	pf = (struct pollfd){ .fd = p->lfd, .events = POLLIN };
	ck_assert_msg(poll(&pf, 1, READY_MS) == 1, "the tcp workload did not connect");
	p->fd = accept4(p->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	ck_assert_int_ge(p->fd, 0);
	peer_run(p, r);
	r->status = wait_exit(r->pid, EXIT_MS);
	read_verdict(r);
	check_datagrams(r, r->pid);
	close(p->fd);
	close(p->lfd);
}

static void run_tcp(struct run *r, struct peer *p, bool corrupt)
{
	run_tcp_rounds(r, p, corrupt, 0);
}

/* Memory beside the stream and round checks in between (the soak's workload). */
START_TEST(test_tcp_rounds)
{
	struct peer p;
	struct run r;
	char why[200];

	run_tcp_rounds(&r, &p, false, 3);
	expect_pass(&r);
	ck_assert_int_eq(p.rounds_done, 3);
	ck_assert_int_eq(round_answer(r.dir), 3);
	ck_assert_msg(seq_check_eof(&p.rx, NULL) == 0, "peer: %s", seq_strerror(&p.rx, why, sizeof(why)));
	run_free(&r);
}
END_TEST

START_TEST(test_tcp)
{
	struct peer p;
	struct run r;
	char v[32], why[200];

	run_tcp(&r, &p, false);
	expect_pass(&r);
	ck_assert_msg(seq_check_eof(&p.rx, NULL) == 0, "peer: %s", seq_strerror(&p.rx, why, sizeof(why)));
	ck_assert(p.echoed);
	ck_assert(p.garbage_rejected);
	note(&r, "sent_bytes", v, sizeof(v));
	ck_assert_uint_eq(strtoull(v, NULL, 10), p.rx.offset);
	note(&r, "received_bytes", v, sizeof(v));
	ck_assert_uint_eq(strtoull(v, NULL, 10), p.tx.offset);
	note(&r, "echo_exchanges", v, sizeof(v));
	ck_assert_str_eq(v, "1");
	ck_assert_uint_gt(p.rx.offset, 512 * 1024 * 3 / 10);	/* ~rate x time */
	run_free(&r);
}
END_TEST

/* The workload skips a byte: its own verdict is PASS, the peer's check
 * fails right where it says it skipped. */
START_TEST(test_tcp_corrupt)
{
	struct peer p;
	struct run r;
	char v[32];
	uint64_t skipped;

	run_tcp(&r, &p, true);
	expect_pass(&r);
	note(&r, "corrupt_offset", v, sizeof(v));
	skipped = strtoull(v, NULL, 10);
	ck_assert_int_eq(p.rx.error, SEQ_MISMATCH);
	ck_assert_uint_ge(p.rx.err_offset, skipped);
	ck_assert_uint_lt(p.rx.err_offset, skipped + 16);
	run_free(&r);
}
END_TEST

/* The peer goes away: the workload fails by itself. */
START_TEST(test_tcp_peer_reset)
{
	const char *opts[] = { "--peer", NULL, NULL };
	char peer_arg[32];
	struct linger lg = { 1, 0 };
	struct pollfd pf;
	struct run r;
	int port, lfd = listen_loopback(&port), fd;

	snprintf(peer_arg, sizeof(peer_arg), "127.0.0.1:%d", port);
	opts[1] = peer_arg;
	run_init(&r, "tcp");
	spawn(&r, "tcp", true, opts);
	pf = (struct pollfd){ .fd = lfd, .events = POLLIN };
	ck_assert_int_eq(poll(&pf, 1, READY_MS), 1);
	fd = accept(lfd, NULL, NULL);
	ck_assert(wait_file(r.dir, "ready", READY_MS));
	kill(r.pid, SIGUSR2);
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);	/* RST */
	close(lfd);
	r.status = wait_exit(r.pid, EXIT_MS);
	read_verdict(&r);
	ck_assert_int_eq(r.verdict, WL_VERDICT_FAIL);
	ck_assert_msg(strstr(r.reason, "reset") || strstr(r.reason, "without an end marker") ||
			      strstr(r.reason, "Broken pipe"),
		      "reason: %s", r.reason);
	run_free(&r);
}
END_TEST

/* ---------------------------------------------------------------- process contract */

/* By default the workload daemonizes: the started process exits 0 once
 * ready; the daemon (another pid, its own session) carries on. */
START_TEST(test_daemon)
{
	const char *opts[] = { "--size-mb", "16", NULL };
	struct run r;
	long pid;
	int status;

	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);	/* to reap the daemon */
	run_init(&r, "memory");
	spawn(&r, "memory", false, opts);
	status = wait_exit(r.pid, READY_MS);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "parent status 0x%x", status);
	ck_assert(wait_file(r.dir, "ready", 0));
	pid = ready_pid(&r);
	ck_assert_int_gt(pid, 0);
	ck_assert_int_ne(pid, r.pid);
	ck_assert_int_eq(getsid(pid), pid);
	usleep(SIGNAL_AFTER_MS * 1000);
	kill(pid, SIGUSR2);
	r.status = wait_exit(pid, EXIT_MS);
	read_verdict(&r);
	check_datagrams(&r, pid);
	expect_pass(&r);
	run_free(&r);
}
END_TEST

/* A daemon that fails before ready: its parent says why and exits 1. */
START_TEST(test_daemon_setup_failure)
{
	const char *opts[] = { "--peer", NULL, NULL };
	char peer_arg[32];
	struct run r;
	int port, fd = listen_loopback(&port);
	__do_free char *err = NULL;

	close(fd);	/* nobody listens there now */
	snprintf(peer_arg, sizeof(peer_arg), "127.0.0.1:%d", port);
	opts[1] = peer_arg;
	run_init(&r, "tcp");
	spawn(&r, "tcp", false, opts);
	r.status = wait_exit(r.pid, READY_MS);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 1, "status 0x%x", r.status);
	err = stderr_text(&r);
	ck_assert_msg(strstr(err, "workload failed before ready: connect to the peer: Connection refused"), "%s",
		      err);
	read_verdict(&r);
	ck_assert_int_eq(r.verdict, WL_VERDICT_FAIL);
	run_free(&r);
}
END_TEST

START_TEST(test_sigterm_before_signal)
{
	struct run r;

	run_init(&r, "files");
	spawn(&r, "files", true, NULL);
	ck_assert(wait_file(r.dir, "ready", READY_MS));
	usleep(SIGNAL_AFTER_MS * 1000);
	kill(r.pid, SIGTERM);
	r.status = wait_exit(r.pid, EXIT_MS);
	read_verdict(&r);
	check_datagrams(&r, r.pid);
	expect_fail(&r, "terminated before migration signal");
	run_free(&r);
}
END_TEST

/* --linger: the verdict is written, the process stays until killed, and
 * SIGTERM then ends it with the verdict's status without rewriting it. */
START_TEST(test_linger)
{
	const char *opts[] = { "--linger", NULL };
	struct run r;

	run_init(&r, "tree");
	spawn(&r, "tree", true, opts);
	ck_assert(wait_file(r.dir, "ready", READY_MS));
	kill(r.pid, SIGUSR2);
	ck_assert(wait_file(r.dir, "verdict", EXIT_MS));
	usleep(200 * 1000);
	ck_assert_int_eq(waitpid(r.pid, &r.status, WNOHANG), 0);	/* still there */
	kill(r.pid, SIGTERM);
	r.status = wait_exit(r.pid, EXIT_MS);
	read_verdict(&r);
	expect_pass(&r);
	run_free(&r);
}
END_TEST

START_TEST(test_bad_arguments)
{
	static const struct {
		const char *name;
		const char *opts[6];
		const char *message;
	} cases[] = {
		{ "memory", { "--size-mb", "8" }, "--size-mb must be an integer in 16..1024, got '8'" },
		{ "memory", { "--size-mb", "2048" }, "--size-mb must be an integer in 16..1024" },
		{ "memory", { "--dirty-rate", "x" }, "--dirty-rate must be an integer in 0..100, got 'x'" },
		{ "memory", { "--mapping", "huge" }, "--mapping: unknown value 'huge'" },
		{ "memory", { "--bogus" }, "unknown option or missing argument: '--bogus'" },
		{ "memory", { "stray" }, "unexpected argument 'stray'" },
		{ "tcp", { "--peer", "somehost:80" }, "--peer: expected a numeric ADDR:PORT" },
		{ "tcp", { "--peer", "127.0.0.1:1", "--rate", "0" }, "--rate must be an integer in 1..1048576" },
		{ "tcp", { "--rate", "10" }, "--peer is required" },
		{ "files", { "--hb-ms", "0" }, "--hb-ms must be an integer" },
		{ "tree", { "--id", "has space" }, "--id: 1..64 characters" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct run r;
		__do_free char *err = NULL;
		__do_free char *verdict = NULL;

		run_init(&r, cases[i].name);
		spawn(&r, cases[i].name, true, cases[i].opts);
		r.status = wait_exit(r.pid, EXIT_MS);
		ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 2, "case %zu: status 0x%x", i, r.status);
		err = stderr_text(&r);
		ck_assert_msg(strstr(err, cases[i].message), "case %zu: '%s' lacks '%s'", i, err, cases[i].message);
		ck_assert_ptr_nonnull(strstr(err, "usage: "));
		verdict = xasprintf("%s/verdict", r.dir);
		ck_assert_int_eq(access(verdict, F_OK), -1);	/* nothing started */
		run_free(&r);
	}
}
END_TEST

START_TEST(test_missing_dir_option)
{
	char bin[PATH_MAX + 16];
	pid_t pid;
	int status;

	snprintf(bin, sizeof(bin), "%s/files", bindir);
	pid = fork();
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);

		dup2(fd, 2);
		execl(bin, bin, "--foreground", (char *)NULL);
		_exit(127);
	}
	status = wait_exit(pid, EXIT_MS);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 2);
}
END_TEST

/* ---------------------------------------------------------------- as PID 1 */

/* In the new PID namespace's first process: become the workload, as a
 * container's init would (no --foreground: PID 1 never daemonizes). */
static void exec_as_pid1(struct run *r, const char *name, const char *const *opts)
{
	char bin[PATH_MAX + 32];
	const char *argv[32];
	int n = 0;

	snprintf(bin, sizeof(bin), "%s/%s", bindir, name);
	argv[n++] = bin;
	argv[n++] = "--dir";
	argv[n++] = r->dir;
	argv[n++] = "--id";
	argv[n++] = r->id;
	argv[n++] = "--probe";
	argv[n++] = r->probe_arg;
	for (; opts && *opts && n < 31; opts++)
		argv[n++] = *opts;
	argv[n] = NULL;
	execv(bin, (char *const *)argv);
}

static bool pid1_unsupported(pid_t helper, pid_t init)
{
	int status;

	if (init)
		return false;
	waitpid(helper, &status, 0);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 77, "pid-1 helper failed: 0x%x", status);
	fprintf(stderr, "NOTE: no new PID namespace allowed here: the PID-1 test did not run\n");
	return true;
}

/* sig: sent to the PID 1 shim; 0: SIGKILL the workload under it instead. */
static void run_pid1(struct run *r, const char *name, const char *const *opts, int sig)
{
	pid_t helper, init;
	int p[2];

	run_init(r, name);
	ck_assert_int_eq(pipe(p), 0);
	helper = fork();
	ck_assert_int_ge(helper, 0);
	if (helper == 0) {
		int status;

		close(p[0]);
		if (unshare(CLONE_NEWPID) < 0)
			_exit(77);
		init = fork();
		if (init == 0) {
			exec_as_pid1(r, name, opts);
			_exit(127);
		}
		(void)!write(p[1], &init, sizeof(init));
		waitpid(init, &status, 0);
		_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	}
	close(p[1]);
	init = 0;
	if (read(p[0], &init, sizeof(init)) != sizeof(init))
		init = 0;
	close(p[0]);
	if (pid1_unsupported(helper, init)) {
		r->verdict = WL_VERDICT_NONE;
		return;
	}
	ck_assert_msg(wait_file(r->dir, "ready", READY_MS), "never ready as PID 1");
	ck_assert_int_eq(ready_pid(r), 2);	/* the workload under the PID 1 shim */
	usleep(SIGNAL_AFTER_MS * 1000);
	if (!sig) {
		__do_free char *children = xasprintf("/proc/%d/task/%d/children", init, init);
		__do_free char *text = read_file(children, NULL);

		ck_assert_ptr_nonnull(text);
		kill(atoi(text), SIGKILL);
	} else {
		kill(init, sig);	/* forwarded by the shim */
	}
	r->status = wait_exit(helper, EXIT_MS);
	read_verdict(r);
}

START_TEST(test_pid1_tree)
{
	struct run r;

	run_pid1(&r, "tree", NULL, SIGUSR2);
	if (r.verdict != WL_VERDICT_NONE)
		expect_pass(&r);
	run_free(&r);
}
END_TEST

START_TEST(test_pid1_memory_corrupt)
{
	const char *opts[] = { "--size-mb", "16", "--corrupt", NULL };
	struct run r;

	run_pid1(&r, "memory", opts, SIGUSR2);
	if (r.verdict != WL_VERDICT_NONE)
		expect_fail(&r, "1 of 4096 pages bad");
	run_free(&r);
}
END_TEST

/* The workload dies without a verdict: the shim writes one. */
START_TEST(test_pid1_worker_killed)
{
	struct run r;

	run_pid1(&r, "files", NULL, 0);
	if (r.verdict != WL_VERDICT_NONE) {
		ck_assert_int_eq(r.verdict, WL_VERDICT_FAIL);
		ck_assert_str_eq(r.reason, "workload (pid 2) killed by signal 9");
		ck_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 128 + 9);
	}
	run_free(&r);
}
END_TEST

/* lxc-stop: SIGPWR to the container's init ends the case (as SIGTERM). */
START_TEST(test_pid1_sigpwr)
{
	struct run r;

	run_pid1(&r, "tree", NULL, SIGPWR);
	if (r.verdict != WL_VERDICT_NONE)
		expect_fail(&r, "terminated before migration signal");
	run_free(&r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("wl_run");
	TCase *tc = tcase_create("run");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_memory_mappings);
	tcase_add_test(tc, test_memory_idle);
	tcase_add_test(tc, test_memory_corrupt);
	tcase_add_test(tc, test_memory_rounds);
	tcase_add_test(tc, test_tcp_rounds);
	tcase_add_test(tc, test_files);
	tcase_add_test(tc, test_files_corrupt);
	tcase_add_test(tc, test_tree);
	tcase_add_test(tc, test_tree_corrupt);
	tcase_add_test(tc, test_tcp);
	tcase_add_test(tc, test_tcp_corrupt);
	tcase_add_test(tc, test_tcp_peer_reset);
	tcase_add_test(tc, test_daemon);
	tcase_add_test(tc, test_daemon_setup_failure);
	tcase_add_test(tc, test_sigterm_before_signal);
	tcase_add_test(tc, test_linger);
	tcase_add_test(tc, test_bad_arguments);
	tcase_add_test(tc, test_missing_dir_option);
	tcase_add_test(tc, test_pid1_tree);
	tcase_add_test(tc, test_pid1_memory_corrupt);
	tcase_add_test(tc, test_pid1_worker_killed);
	tcase_add_test(tc, test_pid1_sigpwr);
	suite_add_tcase(s, tc);
	return unit_run(s) ? 1 : 0;
}
