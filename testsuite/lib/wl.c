/* The runtime half of the workload library: options, daemonizing (or the
 * PID 1 shim), signals, heartbeats, ready and verdict. See wl.h. */
#include "wl.h"

#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

struct wl_common wl = { .hb_ms = 20 };
_Atomic uint64_t wl_counter;

#define MAX_NOTES 16
#define OPT_BASE 256

static int log_fd = -1;
static int probe_fd = -1;
static int notify_fd = -1;	/* daemon child -> parent: "R" ready, "F<reason>" failed */
static bool in_child;		/* a process the workload forked: never writes verdicts */
static atomic_bool migrated;
static atomic_uint round_requests;
static atomic_bool ready_done;
static atomic_flag verdict_taken = ATOMIC_FLAG_INIT;
static atomic_bool verdict_done;
static atomic_int verdict_code;

/* Precomputed for the SIGTERM handler, which may only make system calls. */
static char verdict_path[PATH_MAX], verdict_tmp[PATH_MAX];
static char term_before_file[96], term_after_file[96];
static char term_before_msg[192], term_after_msg[192];

static pthread_mutex_t notes_lock = PTHREAD_MUTEX_INITIALIZER;
static struct { char key[32]; char value[160]; } notes[MAX_NOTES];
static int n_notes;

/* ---------------------------------------------------------------- options */

static const struct option common_opts[] = {
	{ "id", required_argument, NULL, 'i' },
	{ "dir", required_argument, NULL, 'd' },
	{ "probe", required_argument, NULL, 'p' },
	{ "hb-ms", required_argument, NULL, 'b' },
	{ "corrupt", no_argument, NULL, 'c' },
	{ "linger", no_argument, NULL, 'l' },
	{ "foreground", no_argument, NULL, 'f' },
	{ "help", no_argument, NULL, 'h' },
};

static void usage(FILE *out, const struct wl_opt *extra)
{
	fprintf(out,
		"usage: %s --dir DIR [--id ID] [--probe ADDR:PORT] [--hb-ms N] [--corrupt]\n"
		"          [--linger] [--foreground] [workload options]\n"
		"  --dir DIR          work directory (created): ready, verdict, log\n"
		"  --id ID            case instance id in datagrams (default: %s)\n"
		"  --probe ADDR:PORT  UDP sink for HB/READY/VERDICT datagrams\n"
		"  --hb-ms N          heartbeat period in ms (default 20)\n"
		"  --corrupt          break own state after the migration signal (test of the tests)\n"
		"  --linger           keep running after the verdict\n"
		"  --foreground       do not daemonize\n",
		wl.prog, wl.prog);
	for (const struct wl_opt *o = extra; o && o->name; o++) {
		const char *help = o->help ? o->help : "", *gap = strstr(help, "  ");
		int meta = gap ? (int)(gap - help) : 0;
		char left[64];

		snprintf(left, sizeof(left), "--%s %.*s", o->name, meta, help);
		fprintf(out, "  %-18s %s%s\n", left, gap ? gap + 2 : help, o->required ? " (required)" : "");
	}
}

static __attribute__((noreturn, format(printf, 2, 3)))
void bad_args(const struct wl_opt *extra, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", wl.prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	usage(stderr, extra);
	exit(2);
}

static long parse_long(const char *name, const char *arg, long min, long max, const struct wl_opt *extra)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < min || v > max)
		bad_args(extra, "--%s must be an integer in %ld..%ld, got '%s'", name, min, max, arg);
	return v;
}

static void parse_extra(const struct wl_opt *o, const char *arg, const struct wl_opt *extra)
{
	switch (o->kind) {
	case WL_OPT_FLAG:
		*(bool *)o->dst = true;
		return;
	case WL_OPT_INT:
		*(long *)o->dst = parse_long(o->name, arg, o->min, o->max, extra);
		return;
	case WL_OPT_STR:
		*(const char **)o->dst = arg;
		return;
	case WL_OPT_CHOICE:
		for (int i = 0; o->choices[i]; i++) {
			if (strcmp(o->choices[i], arg) == 0) {
				*(int *)o->dst = i;
				return;
			}
		}
		bad_args(extra, "--%s: unknown value '%s'", o->name, arg);
	case WL_OPT_ADDR:
	case WL_OPT_IP:
		if (wl_parse_addr(arg, o->kind == WL_OPT_ADDR, o->dst) < 0)
			bad_args(extra, "--%s: expected a numeric %s, got '%s'", o->name,
				 o->kind == WL_OPT_ADDR ? "ADDR:PORT or [ADDR6]:PORT" : "IPv4 or IPv6 address", arg);
		return;
	}
}

static void parse_common(int c, const char *arg, const struct wl_opt *extra)
{
	switch (c) {
	case 'i':
		if (!wl_valid_id(arg))
			bad_args(extra, "--id: 1..%d characters of [A-Za-z0-9._:-], got '%s'", WL_ID_MAX, arg);
		wl.id = arg;
		break;
	case 'd':
		wl.dir = arg;
		break;
	case 'p':
		if (wl_parse_addr(arg, true, &wl.probe) < 0)
			bad_args(extra, "--probe: expected ADDR:PORT or [ADDR6]:PORT, got '%s'", arg);
		break;
	case 'b':
		wl.hb_ms = parse_long("hb-ms", arg, 1, 60000, extra);
		break;
	case 'c':
		wl.corrupt = true;
		break;
	case 'l':
		wl.linger = true;
		break;
	case 'f':
		wl.foreground = true;
		break;
	case 'h':
		usage(stdout, extra);
		exit(0);
	}
}

static void parse_args(int argc, char **argv, const struct wl_opt *extra)
{
	size_t n_extra = 0, n_common = ARRAY_SIZE(common_opts);
	__do_free struct option *opts = NULL;
	__do_free bool *seen = NULL;
	int c;

	while (extra && extra[n_extra].name)
		n_extra++;
	opts = xzalloc((n_common + n_extra + 1) * sizeof(*opts));
	seen = xzalloc(n_extra + 1);
	memcpy(opts, common_opts, sizeof(common_opts));
	for (size_t i = 0; i < n_extra; i++)
		opts[n_common + i] = (struct option){ extra[i].name,
			extra[i].kind == WL_OPT_FLAG ? no_argument : required_argument, NULL, OPT_BASE + (int)i };

	opterr = 0;	/* our own messages, with the usage */
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == '?' || c == ':')
			bad_args(extra, "unknown option or missing argument: '%s'", argv[optind - 1]);
		if (c >= OPT_BASE) {
			parse_extra(&extra[c - OPT_BASE], optarg, extra);
			seen[c - OPT_BASE] = true;
		}
		else
			parse_common(c, optarg, extra);
	}
	if (optind < argc)
		bad_args(extra, "unexpected argument '%s'", argv[optind]);
	for (size_t i = 0; i < n_extra; i++)
		if (extra[i].required && !seen[i])
			bad_args(extra, "--%s is required", extra[i].name);
	if (!wl.dir)
		bad_args(extra, "--dir is required");
	if (!wl.id) {
		if (!wl_valid_id(wl.prog))
			bad_args(extra, "--id is required (program name '%s' is not a valid id)", wl.prog);
		wl.id = wl.prog;
	}
}

/* ---------------------------------------------------------------- logging */

void wl_log(const char *fmt, ...)
{
	char line[1024];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n;

	if (log_fd < 0)
		return;
	/* Wall clock: comparable across the two hosts, unlike CLOCK_MONOTONIC. */
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	n += snprintf(line + n, sizeof(line) - n, ".%03ldZ %s[%d]: ", ts.tv_nsec / 1000000, wl.id, (int)getpid());
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* One write on an O_APPEND fd: lines from threads and children do not interleave. */
	(void)!write(log_fd, line, n);
}

/* ---------------------------------------------------------------- datagrams */

static void send_probe(const char *msg, size_t len)
{
	if (probe_fd < 0)
		return;
	/* Unconnected and never bound explicitly: the kernel picks the route
	 * and source on every send, so it works again after the move. */
	(void)sendto(probe_fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL,
		     (const struct sockaddr *)&wl.probe.ss, wl.probe.len);
}

static void *heartbeat_main(void *arg)
{
	char msg[160];
	uint64_t seq = 0;

	(void)arg;
	for (;;) {
		int n = snprintf(msg, sizeof(msg), "HB %s %" PRIu64 " %" PRIu64, wl.id, seq++,
				 atomic_load(&wl_counter));
		send_probe(msg, n);
		wl_sleep_ms(wl.hb_ms);
	}
	return NULL;
}

static void start_heartbeat(void)
{
	sigset_t all, old;
	pthread_t t;
	int err;

	if (probe_fd < 0)
		return;
	/* The heartbeat thread takes no signals: the migration signal and the
	 * workloads' own pending signals go to the workload's threads. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&t, NULL, heartbeat_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		wl_fail("cannot start the heartbeat thread: %s", strerror(err));
	pthread_detach(t);
}

/* ---------------------------------------------------------------- signals */

static void on_usr2(int sig)
{
	(void)sig;
	atomic_store(&migrated, true);
}

static void on_term(int sig)
{
	bool after = atomic_load(&migrated);

	(void)sig;
	if (atomic_flag_test_and_set(&verdict_taken)) {
		/* A verdict exists (lingering) or another thread is writing one. */
		if (atomic_load(&verdict_done))
			_exit(atomic_load(&verdict_code));
		return;
	}
	wl_write_atomic_paths(verdict_tmp, verdict_path, after ? term_after_file : term_before_file,
			      strlen(after ? term_after_file : term_before_file));
	send_probe(after ? term_after_msg : term_before_msg, strlen(after ? term_after_msg : term_before_msg));
	_exit(1);
}

static void set_handler(int sig, void (*fn)(int))
{
	struct sigaction sa = { .sa_handler = fn };

	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(sig, &sa, NULL);
}

static void install_handlers(void)
{
	static const char before[] = "terminated before migration signal";
	static const char after[] = "terminated after migration signal, before the verdict";

	snprintf(term_before_file, sizeof(term_before_file), "FAIL: %s\n", before);
	snprintf(term_after_file, sizeof(term_after_file), "FAIL: %s\n", after);
	snprintf(term_before_msg, sizeof(term_before_msg), "VERDICT %s FAIL %s", wl.id, before);
	snprintf(term_after_msg, sizeof(term_after_msg), "VERDICT %s FAIL %s", wl.id, after);
	set_handler(SIGUSR2, on_usr2);
	set_handler(SIGTERM, on_term);
	set_handler(SIGINT, on_term);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);	/* broken sockets show as EPIPE, checked */
}

static void on_usr1(int sig)
{
	(void)sig;
	atomic_fetch_add(&round_requests, 1);
}

void wl_rounds_enable(void)
{
	set_handler(SIGUSR1, on_usr1);
}

unsigned wl_round_requested(void)
{
	return atomic_load(&round_requests);
}

void wl_round_result(unsigned n, const char *fail_reason)
{
	char text[WL_REASON_MAX + 32];
	int len = fail_reason ? snprintf(text, sizeof(text), "%u FAIL: %s\n", n, fail_reason)
			      : snprintf(text, sizeof(text), "%u PASS\n", n);

	if (len >= (int)sizeof(text))
		len = (int)sizeof(text) - 1, text[len - 1] = '\n';
	if (wl_write_atomic(wl.dir, "round", text, (size_t)len) < 0)
		wl_log("cannot write %s/round: %s", wl.dir, strerror(errno));
	wl_log("round check %u: %s", n, fail_reason ? fail_reason : "PASS");
}

bool wl_migrated(void)
{
	return atomic_load(&migrated);
}

void wl_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	/* A relative sleep; on EINTR the remainder is slept. */
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

void wl_wait_migrated(void)
{
	/* Polling: the signal may land on any of the workload's threads. */
	while (!wl_migrated())
		wl_sleep_ms(5);
	wl_log("migration signal received (counter %" PRIu64 ")", atomic_load(&wl_counter));
}

/* ---------------------------------------------------------------- process setup */

static void close_inherited_fds(void)
{
	/* criu dumps every fd: a stray one from whoever started us (an ssh
	 * channel, the runner's sockets) could make the dump fail. */
	if (close_range(3, ~0U, 0) == 0)
		return;
	for (int fd = 3; fd < 4096; fd++)
		close(fd);
}

static void setup_dir(void)
{
	char *abs;

	if (mkdir_p(wl.dir, 0755) < 0) {
		fprintf(stderr, "%s: cannot create %s: %s\n", wl.prog, wl.dir, strerror(errno));
		exit(1);
	}
	abs = realpath(wl.dir, NULL);
	if (!abs) {
		fprintf(stderr, "%s: %s: %s\n", wl.prog, wl.dir, strerror(errno));
		exit(1);
	}
	wl.dir = abs;	/* kept for the life of the process */
	snprintf(verdict_path, sizeof(verdict_path), "%s/verdict", wl.dir);
	snprintf(verdict_tmp, sizeof(verdict_tmp), "%s/.verdict.tmp", wl.dir);
	/* A previous run's files would mislead the runner. */
	for (const char *const *f = (const char *const[]){ "ready", "verdict", NULL }; *f; f++) {
		__do_free char *path = xasprintf("%s/%s", wl.dir, *f);

		if (unlink(path) < 0 && errno != ENOENT) {
			fprintf(stderr, "%s: cannot remove %s: %s\n", wl.prog, path, strerror(errno));
			exit(1);
		}
	}
	{
		__do_free char *path = xasprintf("%s/log", wl.dir);

		log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (log_fd < 0) {
			fprintf(stderr, "%s: cannot open %s: %s\n", wl.prog, path, strerror(errno));
			exit(1);
		}
	}
}

static void open_probe(void)
{
	if (!wl.probe.set)
		return;
	probe_fd = socket(wl.probe.ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (probe_fd < 0) {
		fprintf(stderr, "%s: probe socket: %s\n", wl.prog, strerror(errno));
		exit(1);
	}
}

/* No inherited terminal: stdin from /dev/null (or an empty file when the
 * container has no /dev/null), stdout and stderr into the log. */
static void redirect_stdio(void)
{
	int in = open("/dev/null", O_RDONLY | O_CLOEXEC);

	if (in < 0) {
		__do_free char *path = xasprintf("%s/stdin.empty", wl.dir);

		in = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
	}
	if (in >= 0) {
		dup2(in, STDIN_FILENO);
		if (in != STDIN_FILENO)
			close(in);
	} else {
		close(STDIN_FILENO);
	}
	dup2(log_fd, STDOUT_FILENO);
	dup2(log_fd, STDERR_FILENO);
	setvbuf(stdout, NULL, _IOLBF, 0);
}

/* Read the child's word: "R" (ready: exit 0) or "F<reason>" (exit 1).
 * Returns 0 at end of file (every writer is gone), -1 if nothing was read. */
static int take_word(int rfd)
{
	char buf[WL_REASON_MAX + 2];
	ssize_t n = read(rfd, buf, sizeof(buf) - 1);

	if (n <= 0)
		return n == 0 ? 0 : -1;
	buf[n] = '\0';
	if (buf[0] == 'R')
		exit(0);
	fprintf(stderr, "%s: workload failed before ready: %s\n", wl.prog, buf + 1);
	exit(1);
}

static __attribute__((noreturn)) void report_child_death(pid_t child, int status)
{
	if (WIFSIGNALED(status))
		fprintf(stderr, "%s: workload (pid %d) killed by signal %d before ready (see %s/log)\n",
			wl.prog, (int)child, WTERMSIG(status), wl.dir);
	else
		fprintf(stderr, "%s: workload (pid %d) exited with status %d before ready (see %s/log)\n",
			wl.prog, (int)child, WEXITSTATUS(status), wl.dir);
	exit(1);
}

/* The daemon's parent: exit 0 once the child is ready, 1 if it failed. The
 * child's death is noticed even if a grandchild still holds the pipe. */
static __attribute__((noreturn)) void wait_for_child(pid_t child, int rfd)
{
	int status;

	for (;;) {
		struct pollfd p = { .fd = rfd, .events = POLLIN };

		bool eof = poll(&p, 1, 200) > 0 && take_word(rfd) == 0;

		if (waitpid(child, &status, eof ? 0 : WNOHANG) == child) {
			p.revents = 0;
			if (poll(&p, 1, 0) > 0)
				take_word(rfd);	/* its last word, if any */
			report_child_death(child, status);
		}
	}
}

static void daemonize(void)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0) {
		fprintf(stderr, "%s: pipe: %s\n", wl.prog, strerror(errno));
		exit(1);
	}
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "%s: fork: %s\n", wl.prog, strerror(errno));
		exit(1);
	}
	if (pid > 0) {
		close(p[1]);
		wait_for_child(pid, p[0]);
	}
	close(p[0]);
	notify_fd = p[1];
	setsid();	/* cannot fail: a fresh child is no group leader */
}

static void become_session_leader(void)
{
	if (getsid(0) == getpid())
		return;
	/* Fails only for a process group leader (e.g. a shell job): criu then
	 * needs --shell-job, so say so. */
	if (setsid() < 0)
		wl_log("warning: --foreground: cannot become session leader: %s", strerror(errno));
}

static void write_shim_verdict(pid_t worker, int status)
{
	char text[WL_REASON_MAX];

	if (access(verdict_path, F_OK) == 0)
		return;
	if (WIFSIGNALED(status))
		snprintf(text, sizeof(text), "FAIL: workload (pid %d) killed by signal %d\n", (int)worker,
			 WTERMSIG(status));
	else
		snprintf(text, sizeof(text), "FAIL: workload (pid %d) exited with status %d without a verdict\n",
			 (int)worker, WEXITSTATUS(status));
	wl_write_atomic_paths(verdict_tmp, verdict_path, text, strlen(text));
	wl_log("init: %.*s", (int)strlen(text) - 1, text);
}

/* As a container's PID 1 we stay a minimal init: reap everything, forward
 * the runner's signals to the workload, leave with its exit status. The
 * workload itself then runs exactly as it does bare. */
static __attribute__((noreturn)) void run_init_shim(pid_t worker, const sigset_t *mask)
{
	redirect_stdio();
	wl_log("init: pid 1 shim, workload is pid %d", (int)worker);
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(mask, &si), status;
		pid_t pid;

		if (sig < 0)
			continue;
		if (sig != SIGCHLD) {
			/* lxc-stop's SIGPWR means "shut down": the workload's word for that is SIGTERM. */
			kill(worker, sig == SIGPWR ? SIGTERM : sig);
			continue;
		}
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			if (pid != worker)
				continue;
			write_shim_verdict(worker, status);
			_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
		}
	}
}

static void start_as_init(void)
{
	sigset_t mask, old;
	pid_t pid;

	sigemptyset(&mask);
	/* Blocked, so queued for sigwaitinfo(): an init's default-disposition
	 * signals would otherwise be dropped. */
	for (const int *s = (const int[]){ SIGCHLD, SIGUSR1, SIGUSR2, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPWR, 0 };
	     *s; s++)
		sigaddset(&mask, *s);
	sigprocmask(SIG_BLOCK, &mask, &old);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "%s: fork: %s\n", wl.prog, strerror(errno));
		exit(1);
	}
	if (pid > 0)
		run_init_shim(pid, &mask);
	sigprocmask(SIG_SETMASK, &old, NULL);
	setsid();
}

void wl_init(int argc, char **argv, const struct wl_opt *extra)
{
	const char *slash = strrchr(argv[0], '/');

	wl.prog = slash ? slash + 1 : argv[0];
	parse_args(argc, argv, extra);
	close_inherited_fds();
	setup_dir();
	open_probe();
	if (getpid() == 1)
		start_as_init();
	else if (!wl.foreground)
		daemonize();
	else
		become_session_leader();
	redirect_stdio();
	install_handlers();
	wl_log("start: %s pid %d", wl.prog, (int)getpid());
	start_heartbeat();
}

void wl_child_setup(void)
{
	in_child = true;
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGUSR2, SIG_IGN);
	if (notify_fd >= 0)
		close_fd(&notify_fd);
}

/* ---------------------------------------------------------------- ready and verdict */

void wl_ready(void)
{
	char text[64], msg[128];
	int n;

	n = snprintf(text, sizeof(text), "pid=%d\n", (int)getpid());
	if (wl_write_atomic(wl.dir, "ready", text, n) < 0)
		wl_fail("cannot write %s/ready: %s", wl.dir, strerror(errno));
	n = snprintf(msg, sizeof(msg), "READY %s %d", wl.id, (int)getpid());
	send_probe(msg, n);
	wl_log("ready");
	atomic_store(&ready_done, true);
	if (notify_fd >= 0) {
		(void)!write(notify_fd, "R", 1);
		close_fd(&notify_fd);	/* nothing of the daemon's parent stays in the dump */
	}
}

void wl_note(const char *key, const char *fmt, ...)
{
	va_list ap;
	int i;

	pthread_mutex_lock(&notes_lock);
	for (i = 0; i < n_notes && strcmp(notes[i].key, key) != 0; i++)
		;
	if (i < MAX_NOTES) {
		snprintf(notes[i].key, sizeof(notes[i].key), "%s", key);
		va_start(ap, fmt);
		vsnprintf(notes[i].value, sizeof(notes[i].value), fmt, ap);
		va_end(ap);
		if (i == n_notes)
			n_notes++;
	}
	pthread_mutex_unlock(&notes_lock);
}

/* Verdict text: first line, then the notes. */
static size_t format_verdict(bool pass, const char *reason, char *buf, size_t len)
{
	size_t n = pass ? (size_t)snprintf(buf, len, "PASS\n") : (size_t)snprintf(buf, len, "FAIL: %s\n", reason);

	pthread_mutex_lock(&notes_lock);
	for (int i = 0; i < n_notes && n < len; i++)
		n += snprintf(buf + n, len - n, "%s=%s\n", notes[i].key, notes[i].value);
	pthread_mutex_unlock(&notes_lock);
	return n < len ? n : len - 1;
}

static __attribute__((noreturn)) void finish(bool pass, const char *reason)
{
	char text[WL_REASON_MAX + MAX_NOTES * 200], msg[WL_REASON_MAX + 128];
	size_t n;

	if (in_child)
		_exit(pass ? 0 : 1);
	if (atomic_flag_test_and_set(&verdict_taken)) {
		/* Another thread's verdict is being written; it will end us. */
		for (;;)
			pause();
	}
	n = format_verdict(pass, reason, text, sizeof(text));
	if (wl_write_atomic_paths(verdict_tmp, verdict_path, text, n) < 0)
		wl_log("cannot write %s: %s", verdict_path, strerror(errno));
	n = pass ? (size_t)snprintf(msg, sizeof(msg), "VERDICT %s PASS", wl.id)
		 : (size_t)snprintf(msg, sizeof(msg), "VERDICT %s FAIL %s", wl.id, reason);
	send_probe(msg, n < sizeof(msg) ? n : sizeof(msg) - 1);
	wl_log("verdict: %s%s", pass ? "PASS" : "FAIL: ", pass ? "" : reason);
	if (notify_fd >= 0 && !atomic_load(&ready_done)) {
		n = (size_t)snprintf(msg, sizeof(msg), "F%s", reason);
		(void)!write(notify_fd, msg, n < sizeof(msg) ? n : sizeof(msg) - 1);
	}
	atomic_store(&verdict_code, pass ? 0 : 1);
	atomic_store(&verdict_done, true);
	if (wl.linger && atomic_load(&ready_done)) {
		wl_log("lingering");
		for (;;)
			pause();
	}
	exit(pass ? 0 : 1);
}

static pthread_mutex_t problems_lock = PTHREAD_MUTEX_INITIALIZER;
static char first_problem[WL_REASON_MAX];
static int n_problems;

void wl_problem(const char *fmt, ...)
{
	char text[WL_REASON_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	wl_log("check failed: %s", text);
	pthread_mutex_lock(&problems_lock);
	if (n_problems++ == 0)
		snprintf(first_problem, sizeof(first_problem), "%s", text);
	pthread_mutex_unlock(&problems_lock);
}

int wl_problem_count(void)
{
	pthread_mutex_lock(&problems_lock);
	int n = n_problems;
	pthread_mutex_unlock(&problems_lock);
	return n;
}

void wl_fail_on_problems(void)
{
	int n = wl_problem_count();

	wl_note("failed_checks", "%d", n);
	if (n)
		wl_fail("%d check(s) failed; first: %s", n, first_problem);
}

void wl_pass(void)
{
	finish(true, NULL);
}

void wl_fail(const char *fmt, ...)
{
	char reason[WL_REASON_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	/* One line: the verdict file and the datagram are line-based. */
	for (char *p = reason; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	if (!reason[0])
		snprintf(reason, sizeof(reason), "unspecified failure");
	finish(false, reason);
}
