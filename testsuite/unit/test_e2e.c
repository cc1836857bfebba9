/* crmig end to end on this host: the real `crmig migrate` and `crmig serve`
 * binaries over loopback, with mutually authenticated TLS, and
 * testsuite/unit/fake-criu standing in for criu (this kernel cannot run
 * criu; the lab's QEMU guests cover real criu). What is proven here is
 * crmig's own logic: the protocol between the two ends, the hooks, page
 * streams and their relays, the strategies' sequences, rollback, refusals,
 * the report's contract keys, and that both binaries run valgrind-clean.
 *
 * Both "hosts" are 127.0.0.1, so the destination would see the source's pids
 * as taken (serve refuses to restore over a live pid). Rather than a test
 * switch in crmig, the destination runs where a second host's processes
 * live: in a pid namespace of its own (this binary, run as
 * "--pidns-run STATUS LOG PROGRAM...", is that namespace's init and reports
 * serve's exit status; without root, inside a user namespace of its own).
 * The victim is a `sleep` in a session of its own. */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>

#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ktls.h"
#include "net.h"
#include "tls.h"
#include "util.h"
#include "unit.h"

extern char **environ;

static char self[PATH_MAX], crmig[PATH_MAX], fake[PATH_MAX];
static char root[] = "/tmp/crmig-test-e2e-XXXXXX";
static char certs_a[PATH_MAX], certs_b[PATH_MAX], certs_evil[PATH_MAX];
static char err[512];
static bool have_valgrind;
static const char *valgrind_why = "valgrind is not installed";

#define VALGRIND_ARGS "valgrind", "-q", "--error-exitcode=99", "--leak-check=full", \
	"--errors-for-leak-kinds=definite", "--trace-children=no"

/* ---- the pid namespace's init (runs as its own program) ---------------------- */

/* Puts status in path atomically, for the test to poll. */
static void put_status(const char *path, int status)
{
	__do_free char *tmp = xasprintf("%s.tmp", path);
	char text[16];

	snprintf(text, sizeof(text), "%d\n", status);
	if (write_file(tmp, text, strlen(text), 0600) == 0)
		rename(tmp, path);
}

/* self --pidns-run STATUS LOG PROGRAM ARGS...: PROGRAM runs as pid 2 of a new
 * pid namespace, its output appended to LOG; the namespace's init (pid 1)
 * writes its exit status to STATUS and stays until killed, so that what
 * PROGRAM leaves behind (restored processes) lives on. Prints the init's pid
 * as seen from here on stdout. Dies with the test. "--hostns-run" does the
 * same in this pid namespace. */
/* A new pid namespace for our next child; without CAP_SYS_ADMIN, inside a
 * user namespace of our own (ids mapped to themselves). */
static int new_pid_namespace(void)
{
	char map[64];
	__do_free char *uidmap = NULL, *gidmap = NULL;

	if (unshare(CLONE_NEWPID) == 0)
		return 0;
	snprintf(map, sizeof(map), "%d %d 1\n", (int)geteuid(), (int)geteuid());
	uidmap = xstrdup(map);
	snprintf(map, sizeof(map), "%d %d 1\n", (int)getegid(), (int)getegid());
	gidmap = xstrdup(map);
	if (unshare(CLONE_NEWUSER | CLONE_NEWPID) < 0 ||
	    write_file("/proc/self/setgroups", "deny", 4, 0) < 0 ||
	    write_file("/proc/self/uid_map", uidmap, strlen(uidmap), 0) < 0 ||
	    write_file("/proc/self/gid_map", gidmap, strlen(gidmap), 0) < 0)
		return -1;
	return 0;
}

static int pidns_run(int argc, char **argv, bool new_ns)
{
	const char *status = argv[2], *log = argv[3];
	pid_t init;
	int st;

	(void)argc;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (new_ns && new_pid_namespace() < 0) {
		fprintf(stderr, "cannot make a pid namespace: %s\n", strerror(errno));
		return 125;
	}
	init = fork();
	if (init == 0) {
		int null = open("/dev/null", O_RDWR);
		pid_t prog;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		/* its own /proc, as on a host of its own: serve recognises the
		 * processes it left by their /proc/PID/stat (serve_record.c) */
		if (new_ns && (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
			       mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0))
			fprintf(stderr, "the destination's pid namespace gets no /proc of its own: %s\n", strerror(errno));

		dup2(null, 1);
		prog = fork();
		if (prog == 0) {
			int out = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);

			dup2(null, 0);
			dup2(out, 1);
			dup2(out, 2);
			execvp(argv[4], argv + 4);
			_exit(127);
		}
		for (;;) {
			pid_t w = wait(&st);

			if (w == prog)
				put_status(status, WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
			if (w < 0 && errno == ECHILD)
				pause(); /* keep the namespace until the test is done with it */
		}
	}
	printf("%d\n", (int)init);
	fflush(stdout);
	if (init < 0)
		return 1;
	while (waitpid(init, &st, 0) < 0 && errno == EINTR)
		;
	return 0;
}

/* ---- processes and files ---------------------------------------------------------- */

/* environ plus the given NAME=VALUE strings (which win). */
static char **env_with(const char *const *extra)
{
	size_t n = 0, k = 0, m = 0;
	char **env;

	while (environ[n])
		n++;
	while (extra && extra[m])
		m++;
	env = xzalloc((n + m + 1) * sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		bool overridden = false;

		for (size_t j = 0; j < m; j++) {
			size_t len = strcspn(extra[j], "=") + 1;

			overridden |= !strncmp(environ[i], extra[j], len);
		}
		if (!overridden)
			env[k++] = environ[i];
	}
	for (size_t j = 0; j < m; j++)
		env[k++] = (char *)extra[j];
	return env;
}

/* Starts argv with stdin /dev/null and stdout/stderr to out (or a pipe's
 * write end when pipe_out >= 0). */
static pid_t spawn(char *const *argv, const char *const *env, const char *out, int pipe_out)
{
	char **envp = env_with(env);
	pid_t pid = fork();

	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		int fd = pipe_out >= 0 ? pipe_out : open(out, O_WRONLY | O_CREAT | O_APPEND, 0600);

		setpgid(0, 0); /* so that a timeout takes its children too */
		dup2(null, 0);
		dup2(fd, 1);
		if (pipe_out < 0)
			dup2(fd, 2);
		execvpe(argv[0], argv, envp);
		_exit(127);
	}
	free(envp);
	return pid;
}

/* Waits up to timeout_s; kills it then. Returns the exit status, 128+sig. */
static int wait_for(pid_t pid, double timeout_s)
{
	double deadline = now_ms() + timeout_s * 1000;
	int st;

	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		if (r < 0)
			return -1;
		if (now_ms() > deadline) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -2;
		}
		usleep(20 * 1000);
	}
}

static char *slurp(const char *path)
{
	char *text = read_file(path, NULL);

	return text ? text : xstrdup("");
}

/* /proc/PID/stat's state letter, or 0 when there is no such process. */
static char proc_state(pid_t pid)
{
	__do_free char *path = xasprintf("/proc/%d/stat", pid);
	__do_free char *stat = read_file(path, NULL);
	char *p = stat ? strrchr(stat, ')') : NULL;

	return p && p[1] == ' ' ? p[2] : 0;
}

/* ---- the victim -------------------------------------------------------------------- */

static pid_t victim_start(bool session_leader)
{
	pid_t pid = fork();

	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (session_leader)
			setsid();
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		execlp("sleep", "sleep", "1000", (char *)NULL);
		_exit(127);
	}
	ck_assert_int_gt(pid, 0);
	/* running sleep, not our fork any more */
	for (double deadline = now_ms() + 5000; now_ms() < deadline; usleep(5000)) {
		__do_free char *path = xasprintf("/proc/%d/comm", pid);
		__do_free char *comm = read_file(path, NULL);

		if (comm && !strcmp(comm, "sleep\n"))
			return pid;
	}
	ck_abort_msg("the victim did not start");
	return -1;
}

/* Killed by SIGKILL (what criu does to the source after the handover). */
static void expect_victim_killed(pid_t pid)
{
	int st = wait_for(pid, 10);

	ck_assert_msg(st == 128 + SIGKILL, "the victim on the source: status %d, want killed by SIGKILL", st);
}

/* Still ours, alive and running (not left frozen). */
static void expect_victim_running(pid_t pid)
{
	char state;
	int st;

	ck_assert_msg(waitpid(pid, &st, WNOHANG) == 0, "the victim on the source is gone");
	/* a frozen task resumes as soon as criu is gone; allow it a moment */
	for (double deadline = now_ms() + 5000; (state = proc_state(pid)) == 'T' && now_ms() < deadline;)
		usleep(10 * 1000);
	ck_assert_msg(state == 'S' || state == 'R', "the victim on the source is in state '%c'", state ? state : '?');
}

static void victim_end(pid_t pid)
{
	if (waitpid(pid, NULL, WNOHANG) == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
}

/* ---- the destination ---------------------------------------------------------------- */

struct dest {
	pid_t outer, init;
	int port;
	bool host_pids;
	char dir[PATH_MAX], log[PATH_MAX], status[PATH_MAX], state[PATH_MAX];
};

struct dest_opts {
	const char *certs;          /* default certs_b */
	bool many;                  /* without --once */
	bool valgrind;
	bool host_pids;             /* in our pid namespace: the source's pids are taken */
	const char *const *env;
};

/* A port that was free a moment ago (serve retries if it is not any more). */
static int free_port(void)
{
	int lfd = net_listen("127.0.0.1", 0, 1), port;

	ck_assert_int_ge(lfd, 0);
	port = net_local_port(lfd);
	close(lfd);
	return port;
}

static void dest_start(struct dest *d, const char *dir, const struct dest_opts *o)
{
	for (int attempt = 0; attempt < 5; attempt++) {
		char listen[64], pidline[32] = "";
		char *argv[32];
		int n = 0, p[2];
		ssize_t got;
		bool up = false;

		memset(d, 0, sizeof(*d));
		d->host_pids = o->host_pids;
		snprintf(d->dir, sizeof(d->dir), "%s", dir);
		snprintf(d->log, sizeof(d->log), "%s/serve.log", dir);
		snprintf(d->status, sizeof(d->status), "%s/serve.status", dir);
		snprintf(d->state, sizeof(d->state), "%s/state", dir);
		unlink(d->status);
		unlink(d->log); /* a fresh log: "listening on" must be this serve's */
		d->port = free_port();
		snprintf(listen, sizeof(listen), "127.0.0.1:%d", d->port);
		argv[n++] = self;
		argv[n++] = o->host_pids ? "--hostns-run" : "--pidns-run";
		argv[n++] = d->status;
		argv[n++] = d->log;
		if (o->valgrind) {
			static char vglog[PATH_MAX + 16];
			const char *vg[] = { VALGRIND_ARGS };

			snprintf(vglog, sizeof(vglog), "--log-file=%s/serve.valgrind", dir);
			for (size_t i = 0; i < ARRAY_SIZE(vg); i++)
				argv[n++] = (char *)vg[i];
			argv[n++] = vglog;
		}
		argv[n++] = crmig;
		argv[n++] = "serve";
		argv[n++] = "--listen";
		argv[n++] = listen;
		argv[n++] = "--certs";
		argv[n++] = (char *)(o->certs ? o->certs : certs_b);
		argv[n++] = "--state";
		argv[n++] = d->state;
		argv[n++] = "--criu";
		argv[n++] = fake;
		if (!o->many)
			argv[n++] = "--once";
		argv[n] = NULL;

		ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
		d->outer = spawn(argv, o->env, NULL, p[1]);
		close(p[1]);
		got = read(p[0], pidline, sizeof(pidline) - 1);
		close(p[0]);
		d->init = got > 0 ? atoi(pidline) : 0;
		ck_assert_msg(d->init > 0, "the destination's pid namespace did not start");
		/* up when it listens; gone when it wrote a status */
		for (double deadline = now_ms() + 60000; now_ms() < deadline; usleep(20 * 1000)) {
			__do_free char *log = slurp(d->log);

			if (strstr(log, "listening on")) {
				up = true;
				break;
			}
			if (access(d->status, F_OK) == 0)
				break;
		}
		if (up)
			return;
		{
			__do_free char *log = slurp(d->log);

			kill(d->init, SIGKILL);
			wait_for(d->outer, 10);
			ck_assert_msg(strstr(log, "cannot listen"), "crmig serve did not start:\n%s", log);
		}
	}
	ck_abort_msg("crmig serve found no free port");
}

/* serve's exit status (--once), -1 if it did not end within timeout_s. */
static int dest_exit_status(struct dest *d, double timeout_s)
{
	for (double deadline = now_ms() + timeout_s * 1000; now_ms() < deadline; usleep(20 * 1000)) {
		__do_free char *text = read_file(d->status, NULL);

		if (text)
			return atoi(text);
	}
	return -1;
}

/* Ends the namespace: serve and whatever it restored. */
static void dest_stop(struct dest *d)
{
	if (d->init > 0)
		kill(d->init, SIGKILL);
	if (d->outer > 0)
		wait_for(d->outer, 10);
	d->init = d->outer = 0;
}

/* The process restored in d's namespace as pid nspid, seen from here. */
static pid_t restored_process(struct dest *d, int nspid)
{
	__do_free char *nslink = xasprintf("/proc/%d/ns/pid", d->init);
	char ns[64] = "", other[64];
	DIR *proc;
	struct dirent *e;
	pid_t found = 0;
	ssize_t n = readlink(nslink, ns, sizeof(ns) - 1);

	ck_assert_int_gt(n, 0);
	ns[n] = '\0';
	proc = opendir("/proc");
	ck_assert_ptr_nonnull(proc);
	while (!found && (e = readdir(proc))) {
		__do_free char *link = NULL, *status = NULL, *text = NULL;
		char *line;
		int last = -1;

		if (!atoi(e->d_name))
			continue;
		link = xasprintf("/proc/%s/ns/pid", e->d_name);
		n = readlink(link, other, sizeof(other) - 1);
		if (n <= 0)
			continue;
		other[n] = '\0';
		if (strcmp(ns, other))
			continue;
		status = xasprintf("/proc/%s/status", e->d_name);
		text = read_file(status, NULL);
		line = text ? strstr(text, "\nNSpid:") : NULL;
		if (!line)
			continue;
		line += 7;
		for (char *end; *line && *line != '\n'; line = end) {
			last = (int)strtol(line, &end, 10);
			if (end == line)
				break;
		}
		if (last == nspid)
			found = atoi(e->d_name);
	}
	closedir(proc);
	return found;
}

/* ---- running crmig migrate -------------------------------------------------------- */

struct run {
	char dir[PATH_MAX];
	int status;
	json_t *report;
	char *out;        /* stdout and stderr together */
};

struct mig_opts {
	const char *strategy;
	const char *page_tls;       /* default "on" */
	const char *certs;          /* default certs_a */
	const char *to;             /* default 127.0.0.1:PORT of the destination */
	bool valgrind;
	bool fail_restore;
	const char *const *more;    /* further arguments */
	const char *const *env;
};

static void migrate(struct run *r, const char *dir, pid_t pid, struct dest *d, const struct mig_opts *o)
{
	char pidarg[16], to[64], json[PATH_MAX], keep[PATH_MAX], out[PATH_MAX], vglog[PATH_MAX + 16];
	char *argv[64];
	int n = 0;
	pid_t child;

	memset(r, 0, sizeof(*r));
	snprintf(r->dir, sizeof(r->dir), "%s", dir);
	snprintf(pidarg, sizeof(pidarg), "%d", pid);
	snprintf(to, sizeof(to), "127.0.0.1:%d", d ? d->port : 0);
	snprintf(json, sizeof(json), "%s/report.json", dir);
	snprintf(keep, sizeof(keep), "%s/src", dir);
	snprintf(out, sizeof(out), "%s/migrate.out", dir);
	unlink(json);
	if (o->valgrind) {
		const char *vg[] = { VALGRIND_ARGS };

		for (size_t i = 0; i < ARRAY_SIZE(vg); i++)
			argv[n++] = (char *)vg[i];
		snprintf(vglog, sizeof(vglog), "--log-file=%s/migrate.valgrind", dir);
		argv[n++] = vglog;
	}
	argv[n++] = crmig;
	argv[n++] = "migrate";
	if (o->strategy) {
		argv[n++] = "--strategy";
		argv[n++] = (char *)o->strategy;
	}
	argv[n++] = "--pid";
	argv[n++] = pidarg;
	if (!o->to || *o->to) {
		argv[n++] = "--to";
		argv[n++] = (char *)(o->to ? o->to : to);
	}
	argv[n++] = "--certs";
	argv[n++] = (char *)(o->certs ? o->certs : certs_a);
	argv[n++] = "--criu";
	argv[n++] = fake;
	argv[n++] = "--json";
	argv[n++] = json;
	argv[n++] = "--keep-images";
	argv[n++] = keep;
	argv[n++] = "--no-auto-sync";
	argv[n++] = "--page-tls";
	argv[n++] = (char *)(o->page_tls ? o->page_tls : "on");
	if (o->fail_restore)
		argv[n++] = "--test-fail-restore";
	for (size_t i = 0; o->more && o->more[i]; i++)
		argv[n++] = (char *)o->more[i];
	argv[n] = NULL;
	child = spawn(argv, o->env, out, -1);
	ck_assert_int_gt(child, 0);
	r->status = wait_for(child, o->valgrind ? 300 : 120);
	r->out = slurp(out);
	r->report = json_load_file(json, 0, NULL);
}

static void run_free(struct run *r)
{
	json_decref(r->report);
	free(r->out);
	r->report = NULL;
	r->out = NULL;
}

/* What went on, for a failure message. */
static char *story(struct run *r, struct dest *d)
{
	__do_free char *serve = d ? slurp(d->log) : xstrdup("");

	return xasprintf("--- crmig migrate (exit %d):\n%s--- crmig serve:\n%s", r->status, r->out, serve);
}

#define ck_run(cond, r, d, ...) do { \
	if (!(cond)) { \
		__do_free char *__s = story(r, d); \
		ck_abort_msg(__VA_ARGS__); \
	} } while (0)

/* ---- the report ---------------------------------------------------------------------- */

static double num(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	ck_assert_msg(json_is_number(v), "report: %s is not a number", key);
	return json_number_value(v);
}

static const char *str(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	ck_assert_msg(json_is_string(v), "report: %s is not a string", key);
	return json_string_value(v);
}

/* The contract keys (shared DESIGN) with their types, whatever the result. */
static void check_contract_keys(json_t *r, const char *strategy, const char *result)
{
	size_t i, j;
	json_t *v, *w;

	ck_assert_msg(json_is_object(r), "no JSON report");
	ck_assert_str_eq(str(r, "strategy"), strategy);
	ck_assert_str_eq(str(r, "result"), result);
	if (!strcmp(result, "ok"))
		ck_assert_ptr_null(json_object_get(r, "error"));
	else
		ck_assert(strlen(str(r, "error")) > 0);
	ck_assert(num(r, "downtime_ms") >= 0);
	ck_assert(num(r, "frozen_ms") >= 0);
	ck_assert(num(r, "lazy_ms") >= 0);
	ck_assert(json_is_integer(json_object_get(r, "bytes_before_resume")));
	ck_assert(json_is_integer(json_object_get(r, "bytes_total")));
	ck_assert(json_is_integer(json_object_get(r, "rounds")));
	ck_assert(json_is_array(json_object_get(r, "phases")));
	json_array_foreach(json_object_get(r, "phases"), i, v) {
		ck_assert(json_is_string(json_object_get(v, "name")));
		ck_assert(num(v, "end_ms") >= num(v, "start_ms"));
		ck_assert(json_is_integer(json_object_get(v, "bytes")));
	}
	ck_assert(json_is_array(json_object_get(r, "criu_argv")));
	json_array_foreach(json_object_get(r, "criu_argv"), i, v) {
		ck_assert_msg(json_is_array(v) && json_array_size(v) >= 2, "criu_argv[%zu] is not an argv", i);
		json_array_foreach(v, j, w)
			ck_assert_msg(json_is_string(w), "criu_argv[%zu][%zu] is not a string", i, j);
	}
	/* {criu, lxc, kernel}: null only when crmig never got as far as asking */
	v = json_object_get(r, "versions");
	ck_assert(json_is_object(v));
	ck_assert(json_object_get(v, "criu") && json_object_get(v, "lxc") && json_object_get(v, "kernel"));
	if (json_is_string(json_object_get(v, "criu")) || !strcmp(result, "ok")) {
		struct utsname u;

		uname(&u);
		ck_assert_str_eq(str(v, "criu"), "4.1.1");
		ck_assert_str_eq(str(v, "kernel"), u.release);
		ck_assert(json_is_string(json_object_get(v, "lxc")));
	}
}

/* criu_argv[i][1] for every call, space-separated. */
static char *actions_of(json_t *r)
{
	char *s = xstrdup("");
	size_t i;
	json_t *v;

	json_array_foreach(json_object_get(r, "criu_argv"), i, v) {
		char *n = xasprintf("%s%s%s", s, i ? " " : "", json_string_value(json_array_get(v, 1)));
		free(s);
		s = n;
	}
	return s;
}

/* Does the report's criu call for action (the first) have arg? */
static bool call_has_arg(json_t *r, const char *action, const char *arg)
{
	size_t i, j;
	json_t *v, *w;

	json_array_foreach(json_object_get(r, "criu_argv"), i, v) {
		if (strcmp(json_string_value(json_array_get(v, 1)) ?: "", action))
			continue;
		json_array_foreach(v, j, w)
			if (!strcmp(json_string_value(w), arg))
				return true;
		return false;
	}
	ck_abort_msg("no criu %s in the report", action);
	return false;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The report's argvs are exactly what the fake criu was run with (both
 * hosts), apart from crmig's feature probes. */
static void check_argv_matches_trace(json_t *r, const char *trace_path)
{
	__do_free char *trace = slurp(trace_path);
	char *traced[64], *reported[64];
	size_t nt = 0, nr = 0, i, j;
	json_t *v, *w;

	for (char *save, *l = strtok_r(trace, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *action = strchr(l, '\x1f');

		if (!action || !strncmp(action + 1, "check\x1f", 6) || !strcmp(action + 1, "--version"))
			continue;
		ck_assert(nt < ARRAY_SIZE(traced));
		traced[nt++] = l;
	}
	json_array_foreach(json_object_get(r, "criu_argv"), i, v) {
		char *line = xstrdup("");

		json_array_foreach(v, j, w) {
			char *n = xasprintf("%s%s%s", line, j ? "\x1f" : "", json_string_value(w));
			free(line);
			line = n;
		}
		ck_assert(nr < ARRAY_SIZE(reported));
		reported[nr++] = line;
	}
	qsort(traced, nt, sizeof(char *), cmp_str);
	qsort(reported, nr, sizeof(char *), cmp_str);
	ck_assert_msg(nt == nr, "fake criu ran %zu times, the report has %zu argvs", nt, nr);
	for (i = 0; i < nr; i++) {
		ck_assert_msg(!strcmp(traced[i], reported[i]), "ran: %s\nreported: %s", traced[i], reported[i]);
		free(reported[i]);
	}
}

static bool has_phase(json_t *r, const char *name)
{
	size_t i;
	json_t *v;

	json_array_foreach(json_object_get(r, "phases"), i, v)
		if (!strcmp(json_string_value(json_object_get(v, "name")) ?: "", name))
			return true;
	return false;
}

/* ---- one test's directory -------------------------------------------------------------- */

static char *test_dir(const char *name)
{
	char *dir = xasprintf("%s/%s-XXXXXX", root, name);

	ck_assert_ptr_nonnull(mkdtemp(dir));
	return dir;
}

/* ---- migrations that work ------------------------------------------------------------ */

/* How each host carried each page stream: kernel TLS where this kernel
 * has it (ktls.h), else the relay with the kernel's reason; a lazy stream
 * always by the relay (its close is held), on both hosts. */
static void check_page_streams(json_t *rep, const char *strategy, const char *page_tls)
{
	bool tls = strcmp(page_tls, "off") != 0, forced = !strcmp(page_tls, "relay");
	json_t *a = json_object_get(rep, "page_streams"), *e;
	char why[256];
	bool kernel = ktls_available(why, sizeof(why));
	const char *want = !strcmp(strategy, "stop")  ? "page-server"
			   : !strcmp(strategy, "pre") ? "page-server page-server page-server"
			   : !strcmp(strategy, "post") ? "lazy-channel"
						       : "page-server page-server lazy-channel";
	char ops[256] = "";
	size_t i;

	if (!tls) {
		ck_assert_ptr_null(a);
		return;
	}
	ck_assert_msg(json_is_array(a), "no page_streams in the report");
	json_array_foreach(a, i, e) {
		bool lazy = !strcmp(str(e, "op"), "lazy-channel");
		const char *via = lazy || forced || !kernel ? "relay" : "kernel";

		snprintf(ops + strlen(ops), sizeof(ops) - strlen(ops), "%s%s", i ? " " : "", str(e, "op"));
		ck_assert_str_eq(str(e, "source"), via);
		ck_assert_str_eq(str(e, "destination"), "relay"); /* criu's page server cannot read kernel TLS */
		if (lazy) {
			/* each end says its own reason: the source's relay makes a
			 * break an error, the destination's holds the close */
			ck_assert_ptr_nonnull(strstr(str(e, "source_why"), "never a clean end"));
			ck_assert_ptr_nonnull(strstr(str(e, "destination_why"), "until the commit"));
		} else if (forced) {
			ck_assert_str_eq(str(e, "source_why"), "--page-tls relay");
		} else if (!kernel)
			ck_assert_ptr_nonnull(strstr(str(e, "source_why"), "TCP_ULP"));
	}
	ck_assert_str_eq(ops, want);
}

static void migrate_ok(const char *strategy, const char *page_tls)
{
	__do_free char *dir = test_dir(strategy);
	__do_free char *trace = xasprintf("%s/trace", dir);
	__do_free char *trace_env = xasprintf("FAKE_CRIU_TRACE=%s", trace);
	__do_free char *actions = NULL;
	const char *env[] = { trace_env, NULL };
	struct dest_opts dopt = { .env = env };
	struct mig_opts mopt = { .strategy = strategy, .page_tls = page_tls, .env = env };
	bool precopy = !strcmp(strategy, "pre") || !strcmp(strategy, "hybrid");
	bool lazy = !strcmp(strategy, "post") || !strcmp(strategy, "hybrid");
	struct dest d;
	struct run r;
	pid_t victim, restored;
	json_t *rep;
	const char *want;

	dest_start(&d, dir, &dopt);
	victim = victim_start(true);
	migrate(&r, dir, victim, &d, &mopt);
	rep = r.report;
	ck_run(r.status == 0, &r, &d, "%s/%s: crmig migrate exited %d\n%s", strategy, page_tls, r.status, __s);
	check_contract_keys(rep, strategy, "ok");

	/* the source: killed by criu after the handover */
	expect_victim_killed(victim);
	/* the destination: a new process from the restore, in its pid space */
	restored = restored_process(&d, (int)json_integer_value(json_object_get(rep, "destination_pid")));
	ck_assert_msg(restored > 0, "no restored process with the reported pid");
	{
		__do_free char *path = xasprintf("/proc/%d/comm", restored);
		__do_free char *comm = slurp(path);

		ck_assert_str_eq(comm, "sleep\n");
	}
	ck_assert_int_eq(dest_exit_status(&d, 30), 0); /* --once: it ended cleanly after the session */

	/* figures */
	ck_assert(num(rep, "downtime_ms") > 0);
	ck_assert(num(rep, "frozen_ms") >= num(rep, "downtime_ms") - 0.1);
	ck_assert(json_integer_value(json_object_get(rep, "bytes_before_resume")) > 0);
	ck_assert(json_integer_value(json_object_get(rep, "bytes_total")) >=
		  json_integer_value(json_object_get(rep, "bytes_before_resume")));
	/* the pages crossed: 300 of 4 KiB at least */
	ck_assert(json_integer_value(json_object_get(rep, "bytes_total")) > 300 * 4096);
	ck_assert_int_eq(json_integer_value(json_object_get(rep, "rounds")), precopy ? 2 : 0);
	if (precopy) /* 300 pages, then 20: the policy's "small" */
		ck_assert_str_eq(str(rep, "stop_reason"), "small");
	if (lazy)
		ck_assert(num(rep, "lazy_ms") > 0);
	else
		ck_assert(num(rep, "lazy_ms") == 0);
	ck_assert(json_is_true(json_object_get(rep, "page_tls")) == !!strcmp(page_tls, "off"));
	check_page_streams(rep, strategy, page_tls);
	ck_assert_str_eq(str(json_object_get(rep, "dest_versions"), "criu"), "4.1.1");
	ck_assert(has_phase(rep, "dump") && has_phase(rep, "restore") && has_phase(rep, "frozen"));
	ck_assert(!precopy || (has_phase(rep, "round-1") && has_phase(rep, "round-2")));
	ck_assert(!lazy || has_phase(rep, "lazy"));

	/* every criu call of both hosts, in order */
	actions = actions_of(rep);
	want = !strcmp(strategy, "stop")  ? "page-server dump restore"
	       : !strcmp(strategy, "pre") ? "page-server pre-dump page-server pre-dump page-server dump restore"
	       : !strcmp(strategy, "post") ? "dump lazy-pages restore"
					   : "page-server pre-dump page-server pre-dump dump lazy-pages restore";
	ck_assert_str_eq(actions, want);
	check_argv_matches_trace(rep, trace);
	/* -v4 for the bundle; the lazy-pages daemon at -v2 (serve.c start_lazy_daemon) */
	ck_assert(call_has_arg(rep, "dump", "-v4") && call_has_arg(rep, "restore", "-v4"));
	ck_assert(!lazy || (call_has_arg(rep, "lazy-pages", "-v2") && !call_has_arg(rep, "lazy-pages", "-v4")));

	run_free(&r);
	dest_stop(&d);
}

/* crmig migrate --lazy-verbosity reaches the destination's daemon. */
START_TEST(test_lazy_verbosity)
{
	__do_free char *dir = test_dir("lazy-v");
	const char *more[] = { "--lazy-verbosity", "4", NULL };
	struct dest_opts dopt = { 0 };
	struct mig_opts mopt = { .strategy = "post", .page_tls = "off", .more = more };
	struct dest d;
	struct run r;
	pid_t victim;

	dest_start(&d, dir, &dopt);
	victim = victim_start(true);
	migrate(&r, dir, victim, &d, &mopt);
	ck_run(r.status == 0, &r, &d, "crmig migrate exited %d\n%s", r.status, __s);
	ck_assert(call_has_arg(r.report, "lazy-pages", "-v4"));
	expect_victim_killed(victim);
	run_free(&r);
	dest_stop(&d);
}
END_TEST

/* A --keep-images directory used before: the earlier migration's images go
 * first, so that none of them travels with the new dump (lab soak: an old
 * pagemap sent over the page server's new one; criu's restorer then read
 * past the end of the pages for ever). A file of the user's stays. */
START_TEST(test_keep_images_reused)
{
	__do_free char *dir = test_dir("reuse");
	__do_free char *src = xasprintf("%s/src", dir);
	__do_free char *stale_map = xasprintf("%s/src/final/pagemap-4242.img", dir);
	__do_free char *stale_round = xasprintf("%s/src/round-9/pages-1.img", dir);
	__do_free char *stale_log = xasprintf("%s/src/destination/restore.log", dir);
	__do_free char *mine = xasprintf("%s/src/NOTES", dir);
	__do_free char *round9 = xasprintf("%s/src/round-9", dir);
	__do_free char *final = xasprintf("%s/src/final", dir);
	__do_free char *destination = xasprintf("%s/src/destination", dir);
	struct mig_opts mopt = { .strategy = "stop" };
	struct dest_opts dopt = { 0 };
	struct dest d;
	struct run r;
	pid_t victim;

	ck_assert_int_eq(mkdir(src, 0700), 0);
	ck_assert_int_eq(mkdir(final, 0700), 0);
	ck_assert_int_eq(mkdir(round9, 0700), 0);
	ck_assert_int_eq(mkdir(destination, 0700), 0);
	ck_assert_int_eq(write_file(stale_map, "old", 3, 0600), 0);
	ck_assert_int_eq(write_file(stale_round, "old", 3, 0600), 0);
	ck_assert_int_eq(write_file(stale_log, "old", 3, 0600), 0);
	ck_assert_int_eq(write_file(mine, "mine", 4, 0600), 0);
	dest_start(&d, dir, &dopt);
	victim = victim_start(true);
	migrate(&r, dir, victim, &d, &mopt);
	ck_run(r.status == 0, &r, &d, "crmig migrate exited %d\n%s", r.status, __s);
	ck_assert_msg(strstr(r.out, "held an earlier migration's bundle"), "output:\n%s", r.out);
	ck_assert_msg(access(stale_map, F_OK) < 0, "the old pagemap is still in the bundle");
	ck_assert_msg(access(stale_round, F_OK) < 0 && access(round9, F_OK) < 0, "round-9 is still there");
	ck_assert_msg(access(stale_log, F_OK) < 0, "the old destination log is still there");
	ck_assert_msg(access(mine, F_OK) == 0, "the user's file went");
	ck_assert_msg(access(final, F_OK) == 0, "no final images in the new bundle");
	expect_victim_killed(victim);
	ck_assert_int_eq(dest_exit_status(&d, 30), 0);
	run_free(&r);
	dest_stop(&d);
}
END_TEST

START_TEST(test_stop_tls)
{
	migrate_ok("stop", "on");
}
END_TEST

START_TEST(test_stop_plain)
{
	migrate_ok("stop", "off");
}
END_TEST

/* --page-tls relay: TLS through both hosts' relays, never the kernel's */
START_TEST(test_pre_relay)
{
	migrate_ok("pre", "relay");
}
END_TEST

START_TEST(test_pre_tls)
{
	migrate_ok("pre", "on");
}
END_TEST

START_TEST(test_pre_plain)
{
	migrate_ok("pre", "off");
}
END_TEST

START_TEST(test_post_tls)
{
	migrate_ok("post", "on");
}
END_TEST

START_TEST(test_post_plain)
{
	migrate_ok("post", "off");
}
END_TEST

START_TEST(test_hybrid_tls)
{
	migrate_ok("hybrid", "on");
}
END_TEST

START_TEST(test_hybrid_plain)
{
	migrate_ok("hybrid", "off");
}
END_TEST

/* ---- rollback ------------------------------------------------------------------------- */

/* The destination's restore fails (crmig --test-fail-restore empties the
 * images there, so criu itself fails): the source must be resumed. */
static void rollback(const char *strategy)
{
	__do_free char *dir = test_dir(strategy);
	struct dest_opts dopt = { 0 };
	struct mig_opts mopt = { .strategy = strategy, .fail_restore = true };
	struct dest d;
	struct run r;
	pid_t victim;
	const char *error;

	dest_start(&d, dir, &dopt);
	victim = victim_start(true);
	migrate(&r, dir, victim, &d, &mopt);
	ck_run(r.status == 1, &r, &d, "%s: crmig migrate exited %d, want 1\n%s", strategy, r.status, __s);
	check_contract_keys(r.report, strategy, "rolled-back");
	error = str(r.report, "error");
	/* the destination criu's own words reach the report */
	ck_assert_msg(strstr(error, "inventory.img is empty or missing"), "error: %s", error);
	ck_assert_msg(strstr(error, "the source was resumed"), "error: %s", error);
	/* and the destination's log excerpt (fetched by "logs" for a failure) */
	{
		json_t *ex = json_object_get(json_object_get(r.report, "criu_log_excerpts"), "destination");
		__do_free char *text = json_dumps(ex, 0);

		ck_assert_msg(json_array_size(ex) && strstr(text, "inventory.img is empty or missing"),
			      "criu_log_excerpts.destination: %s", text ?: "none");
		ck_assert(json_is_array(json_object_get(json_object_get(r.report, "criu_log_excerpts"), "source")));
	}
	ck_assert(num(r.report, "downtime_ms") == 0);
	ck_assert(num(r.report, "frozen_ms") > 0);
	/* a failed criu on the destination is noticed when it exits, not after a
	 * timeout (the lazy-pages daemon's is 20 s) */
	ck_assert_msg(num(r.report, "frozen_ms") < 15000, "frozen %.0f ms", num(r.report, "frozen_ms"));
	expect_victim_running(victim);
	ck_assert_int_eq(dest_exit_status(&d, 30), 0);
	victim_end(victim);
	run_free(&r);
	dest_stop(&d);
}

START_TEST(test_rollback_stop)
{
	rollback("stop");
}
END_TEST

START_TEST(test_rollback_pre)
{
	rollback("pre");
}
END_TEST

/* post-copy: the restore fails after criu began serving pages; the broken
 * stream must make the source's criu give up and resume the workload. */
START_TEST(test_rollback_post)
{
	rollback("post");
}
END_TEST

START_TEST(test_rollback_hybrid)
{
	rollback("hybrid");
}
END_TEST

/* Post-copy past the point of no return: the source's criu gives up while
 * serving pages, after the destination restored. crmig cannot roll back;
 * it must say that the memory did not all arrive, and say it at once. */
static void lazy_source_gives_up(const char *page_tls)
{
	__do_free char *dir = test_dir("lazy-dies");
	const char *env[] = { "FAKE_CRIU_FAIL=serving", NULL };
	struct dest_opts dopt = { 0 };
	struct mig_opts mopt = { .strategy = "post", .page_tls = page_tls, .env = env };
	struct dest d;
	struct run r;
	pid_t victim;
	double start;

	dest_start(&d, dir, &dopt);
	victim = victim_start(true);
	start = now_ms();
	migrate(&r, dir, victim, &d, &mopt);
	ck_run(r.status == 1, &r, &d, "page-tls %s: crmig migrate exited %d, want 1\n%s", page_tls, r.status, __s);
	ck_assert_msg(now_ms() - start < 60000, "took %.0f ms", now_ms() - start);
	/* criu gives up after its first page: before the commit (the restore
	 * still faulting that page in) nothing is handed over; after it, the
	 * copy there is ended. Which one depends on how fast the fake gives up;
	 * either way crmig says so at once and the source runs. */
	if (!strcmp(str(r.report, "result"), "rolled-back")) {
		check_contract_keys(r.report, "post", "rolled-back");
		ck_assert_msg(strstr(str(r.report, "error"), "before the commit"), "error: %s", str(r.report, "error"));
	} else {
		check_contract_keys(r.report, "post", "failed");
		ck_assert_msg(strstr(str(r.report, "error"), "but its memory did not all arrive"), "error: %s",
			      str(r.report, "error"));
	}
	expect_victim_running(victim);
	victim_end(victim);
	run_free(&r);
	dest_stop(&d);
}

/* The destination's page server dies (its disk is full) while the source
 * dumps into it: the source is resumed, and the report says why in the
 * destination's words, not only the source's broken stream. */
static void dest_disk_full(const char *strategy, const char *page_tls)
{
	__do_free char *dir = test_dir("disk-full");
	const char *env[] = { "FAKE_CRIU_FAIL=disk-full", NULL };
	struct dest_opts dopt = { .env = env };
	struct mig_opts mopt = { .strategy = strategy, .page_tls = page_tls };
	struct dest d;
	struct run r;
	pid_t victim;
	const char *error;
	double start;

	dest_start(&d, dir, &dopt);
	victim = victim_start(true);
	start = now_ms();
	migrate(&r, dir, victim, &d, &mopt);
	ck_run(r.status == 1, &r, &d, "%s, page-tls %s: crmig migrate exited %d, want 1\n%s", strategy, page_tls,
	       r.status, __s);
	/* at once, not after the page stream's 30 s user timeout */
	ck_assert_msg(now_ms() - start < 20000, "%s, page-tls %s: took %.0f ms", strategy, page_tls, now_ms() - start);
	error = str(r.report, "error");
	ck_assert_msg(strstr(error, "No space left on device"), "error: %s", error);
	expect_victim_running(victim);
	victim_end(victim);
	run_free(&r);
	dest_stop(&d);
}

START_TEST(test_dest_disk_full_stop)
{
	dest_disk_full("stop", "on");
	dest_disk_full("stop", "off");
}
END_TEST

START_TEST(test_dest_disk_full_pre)
{
	dest_disk_full("pre", "on");
	dest_disk_full("pre", "off");
}
END_TEST

/* A source whose image directory holds a pagemap although its pages went to
 * the page server (one left over from another migration; crmig migrate
 * clears a reused --keep-images now, but a destination trusts no source):
 * serve refuses to let it overwrite what its page server wrote, and the
 * source keeps the workload. Before, the stray pagemap replaced the page
 * server's and the restore read pages that were not there (lab: criu's
 * restorer looped for ever). */
START_TEST(test_stray_pagemap_refused)
{
	__do_free char *dir = test_dir("stray-pagemap");
	const char *env[] = { "FAKE_CRIU_FAIL=stray-pagemap", NULL };
	struct mig_opts mopt = { .strategy = "stop", .page_tls = "off", .env = env };
	struct dest d;
	struct run r;
	pid_t victim;
	struct dest_opts dopt = { 0 };
	const char *error;

	dest_start(&d, dir, &dopt);
	victim = victim_start(true);
	migrate(&r, dir, victim, &d, &mopt);
	ck_run(r.status == 1, &r, &d, "crmig migrate exited %d, want 1\n%s", r.status, __s);
	check_contract_keys(r.report, "stop", "rolled-back");
	error = str(r.report, "error");
	ck_run(strstr(error, "which this session's page server wrote"), &r, &d, "error: %s\n%s", error, __s);
	expect_victim_running(victim);
	victim_end(victim);
	run_free(&r);
	dest_stop(&d);
}
END_TEST

/* A workload that never converges (fake-criu's FAKE_CRIU_DIRTY: rounds that
 * shrink too little), or a destination without room for the rounds: the
 * policy stops the rounds, the final dump sends the rest, the migration
 * completes, and the report says why the rounds stopped. */
static void precopy_stops(const char *strategy, const char *src_env, const char *dest_env, int want_rounds,
			  const char *want_reason)
{
	__do_free char *dir = test_dir("precopy-stops");
	const char *senv[] = { src_env, NULL }, *denv[] = { dest_env, NULL };
	struct dest_opts dopt = { .env = dest_env ? denv : NULL };
	struct mig_opts mopt = { .strategy = strategy, .page_tls = "off", .env = src_env ? senv : NULL };
	bool lazy = !strcmp(strategy, "hybrid");
	__do_free char *actions = NULL, *want = NULL;
	struct dest d;
	struct run r;
	pid_t victim;

	dest_start(&d, dir, &dopt);
	victim = victim_start(true);
	migrate(&r, dir, victim, &d, &mopt);
	ck_run(r.status == 0, &r, &d, "%s (%s, %s): crmig migrate exited %d\n%s", strategy, src_env ?: "-",
	       dest_env ?: "-", r.status, __s);
	check_contract_keys(r.report, strategy, "ok");
	expect_victim_killed(victim);
	ck_assert_int_eq(json_integer_value(json_object_get(r.report, "rounds")), want_rounds);
	ck_assert_str_eq(str(r.report, "stop_reason"), want_reason);
	/* the rounds, then the final dump: nothing skipped, nothing repeated */
	actions = actions_of(r.report);
	want = xstrdup("");
	for (int i = 0; i < want_rounds; i++) {
		char *w = xasprintf("%spage-server pre-dump ", want);
		free(want);
		want = w;
	}
	{
		char *w = xasprintf("%s%s", want, lazy ? "dump lazy-pages restore" : "page-server dump restore");
		free(want);
		want = w;
	}
	ck_assert_str_eq(actions, want);
	run_free(&r);
	dest_stop(&d);
}

START_TEST(test_precopy_never_converges)
{
	/* 300 pages, then 260 and on: 13 % shrink, so not "not-shrinking", but a
	 * third round would take the rounds past 2 x the first */
	precopy_stops("pre", "FAKE_CRIU_DIRTY=260", NULL, 2, "traffic-bound");
	/* no shrink at all */
	precopy_stops("pre", "FAKE_CRIU_DIRTY=300", NULL, 2, "not-shrinking");
	precopy_stops("hybrid", "FAKE_CRIU_DIRTY=260", NULL, 2, "traffic-bound");
}
END_TEST

START_TEST(test_precopy_destination_full)
{
	/* 1 MiB free after round 1 (300 pages): no room for another round and the final dump */
	precopy_stops("pre", NULL, "CRMIG_TEST_DEST_FREE_BYTES=1048576", 1, "destination has 1 MB free");
	/* room enough: the workload converges as usual */
	precopy_stops("pre", NULL, "CRMIG_TEST_DEST_FREE_BYTES=1073741824", 2, "small");
}
END_TEST

START_TEST(test_lazy_source_gives_up_tls)
{
	lazy_source_gives_up("on");
}
END_TEST

START_TEST(test_lazy_source_gives_up_plain)
{
	lazy_source_gives_up("off");
}
END_TEST

/* ---- refusals and bad input -------------------------------------------------------------- */

/* A source whose certificate comes from another CA (it trusts ours, so it
 * gets as far as presenting it): the destination refuses it. */
START_TEST(test_foreign_certificate)
{
	__do_free char *dir = test_dir("foreign");
	__do_free char *log = NULL;
	struct dest_opts dopt = { 0 };
	struct mig_opts mopt = { .strategy = "stop", .certs = certs_evil };
	struct dest d;
	struct run r;
	pid_t victim;

	dest_start(&d, dir, &dopt);
	victim = victim_start(true);
	migrate(&r, dir, victim, &d, &mopt);
	ck_run(r.status == 1, &r, &d, "crmig migrate exited %d, want 1\n%s", r.status, __s);
	check_contract_keys(r.report, "stop", "failed");
	/* what the source hears depends on timing: the server's alert, or only
	 * its hanging up (TLS 1.3 finishes the client's handshake before the
	 * server has judged the client's certificate); serve's log is what counts */
	ck_assert_msg(strstr(str(r.report, "error"), "hello: ") &&
		      (strstr(str(r.report, "error"), "the peer rejected our certificate") ||
		       strstr(str(r.report, "error"), "the peer closed the connection")),
		      "error: %s", str(r.report, "error"));
	ck_assert_int_eq(dest_exit_status(&d, 30), 0);
	log = slurp(d.log);
	ck_assert_msg(strstr(log, "refused: peer certificate not signed by our CA"), "serve log:\n%s", log);
	ck_assert_msg(!strstr(log, "prepared"), "serve log:\n%s", log);
	expect_victim_running(victim);
	victim_end(victim);
	run_free(&r);
	dest_stop(&d);
}
END_TEST

static void usage_error(const struct mig_opts *mopt, const char *expect)
{
	__do_free char *dir = test_dir("usage");
	__do_free char *json = xasprintf("%s/report.json", dir);
	struct run r;
	pid_t victim = victim_start(true);

	migrate(&r, dir, victim, NULL, mopt);
	ck_assert_msg(r.status == 2, "exit %d, want 2:\n%s", r.status, r.out);
	ck_assert_msg(strstr(r.out, expect), "output:\n%s", r.out);
	ck_assert_ptr_null(r.report);
	expect_victim_running(victim);
	victim_end(victim);
	run_free(&r);
}

START_TEST(test_unknown_strategy)
{
	struct mig_opts mopt = { .strategy = "teleport", .to = "127.0.0.1:1" };

	usage_error(&mopt, "--strategy stop|pre|post|hybrid is required");
}
END_TEST

START_TEST(test_missing_strategy)
{
	struct mig_opts mopt = { .to = "127.0.0.1:1" };

	usage_error(&mopt, "--strategy stop|pre|post|hybrid is required");
}
END_TEST

START_TEST(test_missing_to)
{
	struct mig_opts mopt = { .strategy = "stop", .to = "" };

	usage_error(&mopt, "--to HOST[:PORT] is required");
}
END_TEST

START_TEST(test_bad_to)
{
	struct mig_opts mopt = { .strategy = "stop", .to = "127.0.0.1:99999" };

	usage_error(&mopt, "--to 127.0.0.1:99999: want HOST or HOST:PORT");
}
END_TEST

START_TEST(test_bad_lazy_verbosity)
{
	const char *more[] = { "--lazy-verbosity", "5", NULL };
	struct mig_opts mopt = { .strategy = "post", .to = "127.0.0.1:1", .more = more };

	usage_error(&mopt, "--lazy-verbosity 5: want a number from 0 to 4");
}
END_TEST

START_TEST(test_bad_page_tls)
{
	struct mig_opts mopt = { .strategy = "stop", .to = "127.0.0.1:1", .page_tls = "maybe" };

	usage_error(&mopt, "--page-tls on|relay|off");
}
END_TEST

/* Failures before anything is frozen: the report says failed, the victim
 * never noticed. */
static void fails_before_freeze(struct dest *d, const char *dir, pid_t victim, const struct mig_opts *mopt,
				const char *expect)
{
	struct run r;

	migrate(&r, dir, victim, d, mopt);
	/* restored against expectations in our own pid space: do not leave it behind */
	if (d && d->host_pids && json_integer_value(json_object_get(r.report, "destination_pid")) > 1)
		kill((pid_t)json_integer_value(json_object_get(r.report, "destination_pid")), SIGKILL);
	ck_run(r.status == 1, &r, d, "crmig migrate exited %d, want 1\n%s", r.status, __s);
	check_contract_keys(r.report, mopt->strategy, "failed");
	ck_assert_msg(strstr(str(r.report, "error"), expect), "error: %s\nwant: %s", str(r.report, "error"), expect);
	ck_assert(num(r.report, "frozen_ms") == 0);
	ck_assert_int_eq(json_array_size(json_object_get(r.report, "criu_argv")), 0);
	expect_victim_running(victim);
	run_free(&r);
}

START_TEST(test_not_a_session_leader)
{
	__do_free char *dir = test_dir("not-leader");
	__do_free char *expect = NULL;
	struct dest_opts dopt = { 0 };
	struct mig_opts mopt = { .strategy = "stop" };
	struct dest d;
	pid_t victim = victim_start(false);

	expect = xasprintf("process %d is not a session leader (its session is %d): criu moves whole sessions; "
			   "start it with setsid, or pass --shell-job if it belongs to a shell", victim, getsid(0));
	dest_start(&d, dir, &dopt);
	fails_before_freeze(&d, dir, victim, &mopt, expect);
	victim_end(victim);
	dest_stop(&d);
}
END_TEST

/* A pid that cannot exist: pids stay below pid_max. */
static pid_t impossible_pid(void)
{
	__do_free char *text = read_file("/proc/sys/kernel/pid_max", NULL);
	long max = text ? atol(text) : 0;

	return max > 1 && max <= 4194304 ? (pid_t)max : 4194304;
}

/* Without a pid space of its own, the destination sees the victim's pid as
 * taken and refuses before anything is frozen (criu restores with the
 * original pids). */
START_TEST(test_pid_in_use_there)
{
	__do_free char *dir = test_dir("pid-in-use");
	__do_free char *expect = NULL;
	struct dest_opts dopt = { .host_pids = true };
	struct mig_opts mopt = { .strategy = "stop" };
	struct dest d;
	pid_t victim = victim_start(true);

	expect = xasprintf("pid %d is in use on 127.0.0.1: criu restores a process tree with its own pids", victim);
	dest_start(&d, dir, &dopt);
	fails_before_freeze(&d, dir, victim, &mopt, expect);
	victim_end(victim);
	dest_stop(&d);
}
END_TEST

START_TEST(test_no_such_process)
{
	__do_free char *dir = test_dir("no-process");
	__do_free char *expect = NULL;
	struct dest_opts dopt = { 0 };
	struct mig_opts mopt = { .strategy = "stop" };
	struct dest d;
	struct run r;
	pid_t gone = impossible_pid();

	expect = xasprintf("no process %d here", gone);
	dest_start(&d, dir, &dopt);
	migrate(&r, dir, gone, &d, &mopt);
	ck_run(r.status == 1, &r, &d, "crmig migrate exited %d, want 1\n%s", r.status, __s);
	check_contract_keys(r.report, "stop", "failed");
	ck_assert_msg(strstr(str(r.report, "error"), expect), "error: %s", str(r.report, "error"));
	run_free(&r);
	dest_stop(&d);
}
END_TEST

START_TEST(test_unreachable_destination)
{
	__do_free char *dir = test_dir("unreachable");
	__do_free char *to = xasprintf("127.0.0.1:%d", free_port());
	struct mig_opts mopt = { .strategy = "stop", .to = to };
	pid_t victim = victim_start(true);

	fails_before_freeze(NULL, dir, victim, &mopt, "Connection refused (is `crmig serve` running there?)");
	victim_end(victim);
}
END_TEST

/* Strategies the hosts cannot do are refused before anything is frozen. */
START_TEST(test_no_dirty_tracking_here)
{
	__do_free char *dir = test_dir("no-soft-dirty");
	const char *env[] = { "FAKE_CRIU_NO_FEATURES=mem_dirty_track", NULL };
	struct dest_opts dopt = { 0 };
	struct mig_opts mopt = { .strategy = "pre", .env = env };
	struct dest d;
	pid_t victim = victim_start(true);

	dest_start(&d, dir, &dopt);
	fails_before_freeze(&d, dir, victim, &mopt, "strategy pre needs memory change tracking (soft-dirty)");
	mopt.strategy = "hybrid";
	dest_stop(&d);
	dest_start(&d, dir, &dopt);
	fails_before_freeze(&d, dir, victim, &mopt, "strategy hybrid needs memory change tracking");
	victim_end(victim);
	dest_stop(&d);
}
END_TEST

START_TEST(test_no_userfaultfd_there)
{
	__do_free char *dir = test_dir("no-uffd");
	const char *env[] = { "FAKE_CRIU_NO_FEATURES=uffd-noncoop", NULL };
	struct dest_opts dopt = { .env = env, .many = true };
	struct mig_opts mopt = { .strategy = "post" };
	struct dest d;
	pid_t victim = victim_start(true);

	dest_start(&d, dir, &dopt);
	fails_before_freeze(&d, dir, victim, &mopt,
			    "strategy post needs userfaultfd on 127.0.0.1 (criu check --feature uffd-noncoop)");
	/* the same serve takes the next session: stop needs nothing special */
	mopt.strategy = "stop";
	{
		struct run r;

		migrate(&r, dir, victim, &d, &mopt);
		ck_run(r.status == 0, &r, &d, "stop after a refused post: exit %d\n%s", r.status, __s);
		check_contract_keys(r.report, "stop", "ok");
		run_free(&r);
	}
	expect_victim_killed(victim);
	dest_stop(&d);
}
END_TEST

/* criu 4.1 here, 4.2 there: their page-server requests differ in size (4.2
 * made nr_pages a u64), so no page could cross; refused before the freeze. */
START_TEST(test_criu_protocols_differ)
{
	__do_free char *dir = test_dir("criu-versions");
	const char *env[] = { "FAKE_CRIU_VERSION=4.2.1", NULL };
	struct dest_opts dopt = { .env = env };
	struct mig_opts mopt = { .strategy = "stop" };
	struct dest d;
	pid_t victim = victim_start(true);

	dest_start(&d, dir, &dopt);
	fails_before_freeze(&d, dir, victim, &mopt,
			    "criu 4.1.1 here and criu 4.2.1 on 127.0.0.1 speak different page-server protocols");
	victim_end(victim);
	dest_stop(&d);
}
END_TEST

/* ---- valgrind ------------------------------------------------------------------------- */

/* Both binaries under valgrind, the busiest strategy (post-copy: relay
 * threads, the lazy stream, hooks on both sides). */
static void valgrind_clean(const char *strategy, const char *page_tls)
{
	__do_free char *dir = test_dir("valgrind");
	__do_free char *mvg = xasprintf("%s/migrate.valgrind", dir);
	__do_free char *svg = xasprintf("%s/serve.valgrind", dir);
	__do_free char *mtext = NULL, *stext = NULL;
	struct dest_opts dopt = { .valgrind = true };
	struct mig_opts mopt = { .strategy = strategy, .page_tls = page_tls, .valgrind = true };
	struct dest d;
	struct run r;
	pid_t victim;
	int serve_status;

	dest_start(&d, dir, &dopt);
	victim = victim_start(true);
	migrate(&r, dir, victim, &d, &mopt);
	serve_status = dest_exit_status(&d, 120);
	mtext = slurp(mvg);
	stext = slurp(svg);
	ck_run(r.status != 99, &r, &d, "valgrind found errors in crmig migrate:\n%s", mtext);
	ck_assert_msg(serve_status != 99, "valgrind found errors in crmig serve:\n%s", stext);
	ck_run(r.status == 0, &r, &d, "crmig migrate under valgrind exited %d\n%s", r.status, __s);
	ck_assert_msg(serve_status == 0, "crmig serve under valgrind exited %d:\n%s", serve_status, stext);
	check_contract_keys(r.report, strategy, "ok");
	expect_victim_killed(victim);
	run_free(&r);
	dest_stop(&d);
}

START_TEST(test_valgrind_post)
{
	valgrind_clean("post", "on");
}
END_TEST

START_TEST(test_valgrind_pre)
{
	valgrind_clean("pre", "off");
}
END_TEST

/* ---- setting up ---------------------------------------------------------------------------- */

#define SETUP_CHECK(cond, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "test_e2e setup failed at line %d: %s: ", __LINE__, #cond); \
		fprintf(stderr, __VA_ARGS__); \
		fputc('\n', stderr); \
		exit(2); \
	} } while (0)

static void make_pki(void)
{
	static const char *const ips[] = { "127.0.0.1", NULL };
	__do_free char *ca = xasprintf("%s/ca", root), *other = xasprintf("%s/other-ca", root);
	__do_free char *ours = NULL, *theirs = NULL, *bundle = NULL, *bundle_path = NULL;

	snprintf(certs_a, sizeof(certs_a), "%s/a", root);
	snprintf(certs_b, sizeof(certs_b), "%s/b", root);
	snprintf(certs_evil, sizeof(certs_evil), "%s/evil", root);
	SETUP_CHECK(cert_make_ca(ca, "crmig e2e CA", 30, err, sizeof(err)) == 0, "%s", err);
	SETUP_CHECK(cert_make_host(ca, certs_a, "hosta", ips, 30, err, sizeof(err)) == 0, "%s", err);
	SETUP_CHECK(cert_make_host(ca, certs_b, "hostb", ips, 30, err, sizeof(err)) == 0, "%s", err);
	SETUP_CHECK(cert_make_ca(other, "another CA", 30, err, sizeof(err)) == 0, "%s", err);
	SETUP_CHECK(cert_make_host(other, certs_evil, "hosta", ips, 30, err, sizeof(err)) == 0, "%s", err);
	/* the impostor trusts both CAs, so that it presents its certificate */
	ours = xasprintf("%s/ca.crt", ca);
	theirs = xasprintf("%s/ca.crt", other);
	{
		__do_free char *a = read_file(ours, NULL), *b = read_file(theirs, NULL);

		SETUP_CHECK(a && b, "CA certificates");
		bundle = xasprintf("%s%s", b, a);
	}
	bundle_path = xasprintf("%s/ca.crt", certs_evil);
	SETUP_CHECK(write_file(bundle_path, bundle, strlen(bundle), 0644) == 0, "%s", strerror(errno));
}

/* Whether this process may make pid namespaces (the destination's). */
static bool can_pidns(char *why, size_t len)
{
	char *argv[] = { self, "--pidns-probe", NULL };
	pid_t pid = spawn(argv, NULL, "/dev/null", -1);
	int st = wait_for(pid, 30);

	if (st != 0)
		snprintf(why, len, "cannot make a pid namespace for the destination (unshare(CLONE_NEWPID) needs "
			 "CAP_SYS_ADMIN or unprivileged user namespaces)");
	return st == 0;
}

static bool on_path(const char *prog)
{
	const char *path = getenv("PATH");
	__do_free char *copy = xstrdup(path ? path : "/usr/bin:/bin");

	for (char *save, *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		__do_free char *p = xasprintf("%s/%s", d, prog);

		if (access(p, X_OK) == 0)
			return true;
	}
	return false;
}

static int skipped;

static void add_or_skip(TCase *tc, const TTest *t, bool ok, const char *why)
{
	if (ok) {
		tcase_add_test(tc, t);
		return;
	}
	fprintf(stderr, "*** SKIP test_e2e %s: %s ***\n", t->name, why);
	skipped++;
}

int main(int argc, char **argv)
{
	Suite *s = suite_create("e2e");
	TCase *ok = tcase_create("migrations"), *back = tcase_create("rollback"), *bad = tcase_create("refusals"),
	      *vg = tcase_create("valgrind");
	char why[256] = "", dir[PATH_MAX];
	bool ns;
	int failed;
	ssize_t n;

	if (argc >= 5 && !strcmp(argv[1], "--pidns-run"))
		return pidns_run(argc, argv, true);
	if (argc >= 5 && !strcmp(argv[1], "--hostns-run"))
		return pidns_run(argc, argv, false);
	if (argc == 2 && !strcmp(argv[1], "--pidns-probe"))
		return new_pid_namespace() == 0 ? 0 : 1;
	signal(SIGPIPE, SIG_IGN);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	SETUP_CHECK(n > 0, "/proc/self/exe: %s", strerror(errno));
	self[n] = '\0';
	/* BUILD/unit/test_e2e: crmig is BUILD/crmig, the fake BUILD/unit/fake-criu */
	snprintf(dir, sizeof(dir), "%s", self);
	*strrchr(dir, '/') = '\0';
	snprintf(fake, sizeof(fake), "%s/fake-criu", dir);
	*strrchr(dir, '/') = '\0';
	snprintf(crmig, sizeof(crmig), "%s/crmig", dir);
	SETUP_CHECK(access(crmig, X_OK) == 0, "%s: %s (make builds it)", crmig, strerror(errno));
	SETUP_CHECK(access(fake, X_OK) == 0, "%s: %s (make check-unit builds it)", fake, strerror(errno));
	SETUP_CHECK(mkdtemp(root), "%s", strerror(errno));
	{
		/* crmig migrate's records (src-ID.json) stay out of this host's /var/lib/crmig */
		__do_free char *state = xasprintf("%s/source-state", root);

		setenv("CRMIG_STATE_DIR", state, 1);
	}

	make_pki();
	ns = can_pidns(why, sizeof(why));
	have_valgrind = on_path("valgrind");
#ifdef __SANITIZE_ADDRESS__
	/* An ASan build (make check-sanitize) cannot run under valgrind. */
	have_valgrind = false;
	valgrind_why = "built with ASan, which valgrind cannot run";
#endif

#ifdef E2E_TESTS
	/* another binary's tests on this harness (test_faults.c) */
	/* this binary's tcases stay empty (the suite frees them) */
	suite_add_tcase(s, ok);
	suite_add_tcase(s, back);
	suite_add_tcase(s, bad);
	suite_add_tcase(s, vg);
	E2E_TESTS(s, ns, why);

#else
	tcase_set_timeout(ok, 180);

	add_or_skip(ok, test_stop_tls, ns, why);
	add_or_skip(ok, test_stop_plain, ns, why);
	add_or_skip(ok, test_pre_tls, ns, why);
	add_or_skip(ok, test_pre_plain, ns, why);
	add_or_skip(ok, test_pre_relay, ns, why);
	add_or_skip(ok, test_post_tls, ns, why);
	add_or_skip(ok, test_post_plain, ns, why);
	add_or_skip(ok, test_lazy_verbosity, ns, why);
	add_or_skip(ok, test_hybrid_tls, ns, why);
	add_or_skip(ok, test_hybrid_plain, ns, why);
	add_or_skip(ok, test_keep_images_reused, ns, why);
	suite_add_tcase(s, ok);

	tcase_set_timeout(back, 180);
	add_or_skip(back, test_rollback_stop, ns, why);
	add_or_skip(back, test_rollback_pre, ns, why);
	add_or_skip(back, test_rollback_post, ns, why);
	add_or_skip(back, test_rollback_hybrid, ns, why);
	add_or_skip(back, test_dest_disk_full_stop, ns, why);
	add_or_skip(back, test_dest_disk_full_pre, ns, why);
	add_or_skip(back, test_stray_pagemap_refused, ns, why);
	add_or_skip(back, test_precopy_never_converges, ns, why);
	add_or_skip(back, test_precopy_destination_full, ns, why);
	add_or_skip(back, test_lazy_source_gives_up_tls, ns, why);
	add_or_skip(back, test_lazy_source_gives_up_plain, ns, why);
	suite_add_tcase(s, back);

	tcase_set_timeout(bad, 180);
	add_or_skip(bad, test_foreign_certificate, ns, why);
	add_or_skip(bad, test_criu_protocols_differ, ns, why);
	add_or_skip(bad, test_unknown_strategy, true, NULL);
	add_or_skip(bad, test_missing_strategy, true, NULL);
	add_or_skip(bad, test_missing_to, true, NULL);
	add_or_skip(bad, test_bad_to, true, NULL);
	add_or_skip(bad, test_bad_page_tls, true, NULL);
	add_or_skip(bad, test_bad_lazy_verbosity, true, NULL);
	add_or_skip(bad, test_not_a_session_leader, ns, why);
	add_or_skip(bad, test_no_such_process, ns, why);
	add_or_skip(bad, test_pid_in_use_there, true, NULL);
	add_or_skip(bad, test_unreachable_destination, true, NULL);
	add_or_skip(bad, test_no_dirty_tracking_here, ns, why);
	add_or_skip(bad, test_no_userfaultfd_there, ns, why);
	suite_add_tcase(s, bad);

	tcase_set_timeout(vg, 600);
	add_or_skip(vg, test_valgrind_post, ns && have_valgrind, ns ? valgrind_why : why);
	add_or_skip(vg, test_valgrind_pre, ns && have_valgrind, ns ? valgrind_why : why);
	suite_add_tcase(s, vg);
#endif

	failed = unit_run(s);
	if (skipped)
		fprintf(stderr, "*** test_e2e: %d test%s SKIPPED (not run, not passed) ***\n", skipped,
			skipped == 1 ? "" : "s");
	if (!getenv("CRMIG_KEEP"))
		remove_tree(root);
	else
		fprintf(stderr, "test_e2e: kept %s\n", root);
	return failed ? 1 : 0;
}
