/* criu's action scripts (ref/hook.c). The script hook_server_open writes is
 * run the way criu runs it: execve of the file, no arguments, the action in
 * CRTOOLS_SCRIPT_ACTION. It execs /proc/self/exe, which is this test binary:
 * its main() answers "hook SOCKET" with hook_client_main(), the real client.
 *
 * "emulate-criu SCRIPT EXIT SLEEP_MS ACTION..." plays criu: it runs the script
 * once per action, prints "ACTION STATUS" for each, sleeps, then exits with
 * EXIT (a negative EXIT: killed by that signal). It is exec'd (not forked),
 * so that under valgrind it runs natively like a real criu would.
 *
 * "emulate-lxc-restore PIDFILE" plays liblxc's restore: it forks the monitor-
 * to-be, which forks "criu" and waits for it; criu never ends, and the first
 * process waits on a pipe nobody writes (liblxc's status pipe). PIDFILE gets
 * "MONITOR CRIU". */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hook.h"
#include "migrate.h"
#include "procfs.h"
#include "util.h"
#include "unit.h"

extern char **environ;

static char self[PATH_MAX], client[PATH_MAX]; /* client: the build's crmig-hook */
static char tmpdir[] = "/tmp/crmig-test-hook-XXXXXX";

static void setup_dir(void)
{
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown_dir(void)
{
	remove_tree(tmpdir);
	strcpy(tmpdir, "/tmp/crmig-test-hook-XXXXXX");
}

/* ---- playing criu ----------------------------------------------------------- */

/* As criu's run_scripts(): the script itself, no arguments, the action in the
 * environment (NULL: not set at all). Returns its exit status, 128+sig. */
static int run_action(const char *script, const char *action)
{
	size_t n = 0;
	pid_t pid;
	int st;

	while (environ[n])
		n++;
	char **env = xzalloc((n + 2) * sizeof(char *));
	char *var = action ? xasprintf("CRTOOLS_SCRIPT_ACTION=%s", action) : NULL;
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "CRTOOLS_SCRIPT_ACTION=", 22))
			env[k++] = environ[i];
	if (var)
		env[k++] = var;
	pid = fork();
	if (pid == 0) {
		char *argv[] = { (char *)script, NULL };

		execve(script, argv, env);
		_exit(126);
	}
	free(env);
	free(var);
	if (pid < 0)
		return -1;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int emulate_criu(int argc, char **argv)
{
	const char *script = argv[2];
	int code = atoi(argv[3]), sleep_ms = atoi(argv[4]);

	for (int i = 5; i < argc; i++) {
		printf("%s %d\n", argv[i], run_action(script, argv[i]));
		fflush(stdout);
	}
	usleep((useconds_t)sleep_ms * 1000);
	if (code < 0)
		kill(getpid(), -code);
	return code;
}

static int emulate_lxc_restore(const char *pidfile)
{
	int status_pipe[2];
	pid_t monitor;
	char c;

	if (pipe(status_pipe) < 0)
		return 125;
	monitor = fork();
	if (monitor == 0) {
		pid_t criu = fork();
		char pids[64];

		if (criu == 0)
			for (;;)
				pause();
		snprintf(pids, sizeof(pids), "%d %d\n", (int)getpid(), (int)criu);
		if (criu < 0 || write_file(pidfile, pids, strlen(pids), 0600) < 0)
			_exit(125);
		waitpid(criu, NULL, 0);
		_exit(0);
	}
	while (read(status_pipe[0], &c, 1) < 0 && errno == EINTR)
		;
	return 0;
}

/* Starts the emulated criu with its stdout in tmpdir/criu.out. */
static pid_t start_criu(const char *script, int code, int sleep_ms, const char *const *actions)
{
	__do_free char *out = xasprintf("%s/criu.out", tmpdir);
	char *argv[32] = { self, "emulate-criu", (char *)script };
	char codes[16], sleeps[16];
	size_t n = 3;
	pid_t pid;

	snprintf(codes, sizeof(codes), "%d", code);
	snprintf(sleeps, sizeof(sleeps), "%d", sleep_ms);
	argv[n++] = codes;
	argv[n++] = sleeps;
	for (size_t i = 0; actions && actions[i] && n < ARRAY_SIZE(argv) - 1; i++)
		argv[n++] = (char *)actions[i];
	argv[n] = NULL;
	pid = fork();
	if (pid == 0) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (fd < 0 || dup2(fd, 1) < 0)
			_exit(125);
		execv(self, argv);
		_exit(126);
	}
	ck_assert_int_gt(pid, 0);
	return pid;
}

static char *criu_out(void)
{
	__do_free char *out = xasprintf("%s/criu.out", tmpdir);
	char *text = read_file(out, NULL);

	ck_assert_ptr_nonnull(text);
	return text;
}

/* ---- the crmig side ----------------------------------------------------------- */

struct answer {
	const char *action;
	int rc;
};

struct record {
	char calls[1024];       /* "fn:ACTION after:ACTION ..." in order */
	int ticks;
	double tick_at[64];
	const struct answer *answers;
};

static void append(struct record *r, const char *what, const char *action)
{
	size_t used = strlen(r->calls);

	snprintf(r->calls + used, sizeof(r->calls) - used, "%s%s:%s", used ? " " : "", what, action);
}

static int on_hook(void *ctx, const char *action)
{
	struct record *r = ctx;

	append(r, "fn", action);
	for (const struct answer *a = r->answers; a && a->action; a++)
		if (!strcmp(a->action, action))
			return a->rc;
	return 0;
}

static void on_after(void *ctx, const char *action)
{
	struct record *r = ctx;

	if (action) {
		append(r, "after", action);
		return;
	}
	if (r->ticks < (int)ARRAY_SIZE(r->tick_at))
		r->tick_at[r->ticks] = now_ms();
	r->ticks++;
}

static void open_server(struct hook_server *h)
{
	__do_free char *run = xasprintf("%s/run/deeper", tmpdir);

	ck_assert_int_eq(hook_server_open(h, run), 0);
}

/* ---- tests ------------------------------------------------------------------ */

/* Without crmig-hook (none beside this binary, no $CRMIG_HOOK): a script. */
START_TEST(test_script_file)
{
	struct hook_server h;
	struct stat st;
	__do_free char *want = NULL, *text = NULL, *prefix = xasprintf("%s/run/deeper/hook-", tmpdir);

	unsetenv("CRMIG_HOOK");
	open_server(&h);
	ck_assert_int_ge(h.lfd, 0);
	ck_assert_msg(!strncmp(h.dir, prefix, strlen(prefix)), "dir %s", h.dir);
	ck_assert_int_eq(stat(h.dir, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0700);
	ck_assert_int_eq(stat(h.sock, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_int_eq(stat(h.command, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_int_eq(st.st_mode & 0777, 0700);
	/* criu execs it itself: a script with an interpreter line, no arguments needed */
	text = read_file(h.command, NULL);
	want = xasprintf("#!/bin/sh\nexec %s hook %s\n", self, h.sock);
	ck_assert_str_eq(text, want);

	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", h.dir);
	hook_server_close(&h);
	ck_assert_int_eq(h.lfd, -1);
	ck_assert_ptr_null(h.command);
	ck_assert_int_eq(access(dir, F_OK), -1); /* nothing left behind */
	hook_server_close(&h);                   /* twice is harmless */
}
END_TEST

/* With crmig-hook, the action is a symlink to it, and it finds the socket
 * beside the name criu runs it by: the same round trip as the script's. */
START_TEST(test_client_binary)
{
	static const char *const actions[] = { "pre-dump", "post-dump", "status-ready", NULL };
	static const struct answer answers[] = { { "post-dump", 1 }, { "status-ready", 42 }, { NULL, 0 } };
	struct record r = { .answers = answers };
	struct hook_server h;
	struct stat st;
	char target[PATH_MAX];
	ssize_t n;
	__do_free char *out = NULL;

	setenv("CRMIG_HOOK", client, 1);
	open_server(&h);
	unsetenv("CRMIG_HOOK");
	ck_assert_int_eq(lstat(h.command, &st), 0);
	ck_assert_msg(S_ISLNK(st.st_mode), "%s is not a symlink", h.command);
	n = readlink(h.command, target, sizeof(target) - 1);
	ck_assert_int_gt(n, 0);
	target[n] = '\0';
	ck_assert_str_eq(target, client);
	ck_assert_int_eq(hook_serve(&h, start_criu(h.command, 5, 0, actions), on_hook, NULL, &r, 60), 5);
	ck_assert_str_eq(r.calls, "fn:pre-dump fn:post-dump fn:status-ready");
	out = criu_out();
	ck_assert_str_eq(out, "pre-dump 0\npost-dump 1\nstatus-ready 42\n");
	snprintf(target, sizeof(target), "%s", h.command);
	hook_server_close(&h);
	ck_assert_int_eq(lstat(target, &st), -1); /* the symlink goes with the server */
	ck_assert_int_eq(access(client, X_OK), 0); /* and only the symlink */
}
END_TEST

/* crmig-hook without its server: post-dump says no (criu then keeps the
 * workload), anything else goes on; people running it get a usage line. */
START_TEST(test_client_binary_alone)
{
	__do_free char *dir = xasprintf("%s/lonely", tmpdir);
	__do_free char *name = xasprintf("%s/action", dir);
	char *usage[] = { client, "a", "b", NULL };
	int st;
	pid_t pid;

	ck_assert_int_eq(mkdir(dir, 0700), 0);
	ck_assert_int_eq(symlink(client, name), 0);
	ck_assert_int_eq(run_action(name, "post-dump"), 1);
	ck_assert_int_eq(run_action(name, "pre-dump"), 0);
	ck_assert_int_eq(run_action(name, NULL), 0);
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 2);
		execv(client, usage);
		_exit(126);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_int_eq(WEXITSTATUS(st), 2);
}
END_TEST

/* Where crmig looks for crmig-hook: $CRMIG_HOOK (absolute, executable),
 * then beside crmig (a build tree), then PREFIX/libexec/crmig. */
START_TEST(test_client_lookup)
{
	__do_free char *bin = xasprintf("%s/usr/bin", tmpdir), *libexec = xasprintf("%s/usr/libexec/crmig", tmpdir);
	__do_free char *exe = xasprintf("%s/crmig", bin), *beside = xasprintf("%s/crmig-hook", bin);
	__do_free char *installed = xasprintf("%s/crmig-hook", libexec);
	__do_free char *got = NULL, *got2 = NULL, *got3 = NULL, *got4 = NULL, *got5 = NULL;

	unsetenv("CRMIG_HOOK");
	ck_assert_int_eq(mkdir_p(bin, 0700), 0);
	ck_assert_int_eq(mkdir_p(libexec, 0700), 0);
	ck_assert_ptr_null(hook_client_path(exe));
	ck_assert_ptr_null(hook_client_path("crmig"));
	ck_assert_int_eq(write_file(installed, "#!/bin/sh\n", 10, 0600), 0);
	ck_assert_ptr_null(hook_client_path(exe)); /* not executable */
	ck_assert_int_eq(chmod(installed, 0700), 0);
	got = hook_client_path(exe);
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, installed); /* resolved: no "bin/.." */
	ck_assert_int_eq(write_file(beside, "#!/bin/sh\n", 10, 0700), 0);
	got2 = hook_client_path(exe);
	ck_assert_str_eq(got2, beside);
	setenv("CRMIG_HOOK", installed, 1);
	got3 = hook_client_path(exe);
	ck_assert_str_eq(got3, installed);
	setenv("CRMIG_HOOK", "crmig-hook", 1); /* relative: refused, no guessing */
	got4 = hook_client_path(exe);
	ck_assert_ptr_null(got4);
	setenv("CRMIG_HOOK", "/no/such/crmig-hook", 1);
	got5 = hook_client_path(exe);
	ck_assert_ptr_null(got5);
	unsetenv("CRMIG_HOOK");
}
END_TEST

START_TEST(test_open_failures)
{
	struct hook_server h;
	__do_free char *file = xasprintf("%s/a-file", tmpdir);
	__do_free char *under_file = xasprintf("%s/a-file/run", tmpdir);
	char longdir[200];

	ck_assert_int_eq(write_file(file, "x", 1, 0600), 0);
	ck_assert_int_eq(hook_server_open(&h, under_file), -1);
	ck_assert_int_eq(h.lfd, -1);
	/* a socket path beyond sun_path's 108 bytes */
	snprintf(longdir, sizeof(longdir), "%s/%0120d", tmpdir, 0);
	ck_assert_int_eq(hook_server_open(&h, longdir), -1);
	ck_assert_int_eq(h.lfd, -1);
	ck_assert_ptr_null(h.command);
	/* and nothing of it is left behind: the run directory is empty */
	{
		DIR *d = opendir(longdir);
		struct dirent *e;
		int entries = 0;

		ck_assert_ptr_nonnull(d);
		while ((e = readdir(d)))
			entries += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
		closedir(d);
		ck_assert_int_eq(entries, 0);
	}
}
END_TEST

/* The whole round trip: each action reaches the callback, the script exits
 * with its answer, `after` follows each answer, the status comes back. */
START_TEST(test_actions_reach_the_callback)
{
	static const char *const actions[] = { "pre-dump", "network-lock", "post-dump", "status-ready", NULL };
	static const struct answer answers[] = { { "network-lock", 0 }, { "post-dump", 1 }, { "status-ready", 42 },
						  { NULL, 0 } };
	struct record r = { .answers = answers };
	struct hook_server h;
	__do_free char *out = NULL;
	pid_t pid;

	open_server(&h);
	pid = start_criu(h.command, 3, 0, actions);
	ck_assert_int_eq(hook_serve(&h, pid, on_hook, on_after, &r, 60), 3);
	hook_server_close(&h);
	ck_assert_str_eq(r.calls, "fn:pre-dump after:pre-dump fn:network-lock after:network-lock "
				  "fn:post-dump after:post-dump fn:status-ready after:status-ready");
	out = criu_out();
	ck_assert_str_eq(out, "pre-dump 0\nnetwork-lock 0\npost-dump 1\nstatus-ready 42\n");
}
END_TEST

/* Without `after`, the answers still go through. */
START_TEST(test_without_after)
{
	static const char *const actions[] = { "pre-restore", "post-restore", NULL };
	static const struct answer answers[] = { { "post-restore", 9 }, { NULL, 0 } };
	struct record r = { .answers = answers };
	struct hook_server h;
	__do_free char *out = NULL;

	open_server(&h);
	ck_assert_int_eq(hook_serve(&h, start_criu(h.command, 0, 0, actions), on_hook, NULL, &r, 60), 0);
	hook_server_close(&h);
	ck_assert_str_eq(r.calls, "fn:pre-restore fn:post-restore");
	out = criu_out();
	ck_assert_str_eq(out, "pre-restore 0\npost-restore 9\n");
}
END_TEST

/* While criu works without hooks, `after` gets a tick (action NULL) each second. */
START_TEST(test_progress_ticks)
{
	struct record r = { 0 };
	struct hook_server h;
	double start, took;

	open_server(&h);
	start = now_ms();
	ck_assert_int_eq(hook_serve(&h, start_criu(h.command, 0, 2600, NULL), on_hook, on_after, &r, 60), 0);
	took = now_ms() - start;
	hook_server_close(&h);
	ck_assert_str_eq(r.calls, "");
	/* a tick needs a full quiet second: at least one in 2.6 s, never more
	 * than one per second that passed */
	ck_assert_msg(r.ticks >= 1 && r.ticks <= (int)(took / 1000) + 1, "%d ticks in %.0f ms", r.ticks, took);
	ck_assert_msg(r.tick_at[0] - start >= 900, "first tick after %.0f ms", r.tick_at[0] - start);
	for (int i = 1; i < r.ticks && i < (int)ARRAY_SIZE(r.tick_at); i++)
		ck_assert_msg(r.tick_at[i] - r.tick_at[i - 1] >= 900, "ticks %.0f ms apart",
			      r.tick_at[i] - r.tick_at[i - 1]);
}
END_TEST

/* crmig gone: post-dump must say no (criu then resumes the workload instead
 * of killing it); every other action goes on. */
START_TEST(test_server_gone)
{
	struct hook_server h;

	open_server(&h);
	close_fd(&h.lfd);
	unlink(h.sock);
	ck_assert_int_eq(run_action(h.command, "post-dump"), 1);
	ck_assert_int_eq(run_action(h.command, "pre-dump"), 0);
	ck_assert_int_eq(run_action(h.command, "post-restore"), 0);
	ck_assert_int_eq(run_action(h.command, "network-unlock"), 0);
	ck_assert_int_eq(run_action(h.command, NULL), 0);
	hook_server_close(&h);
}
END_TEST

/* ---- a tree held through criu's death (mig_queue_stop) ----------------------- */

static char proc_state(pid_t pid)
{
	struct proc_stat st;

	return proc_stat_read(pid, &st) < 0 ? '?' : st.state;
}

/* Whether pid reaches state within ms (polled: a signal lands when it may). */
static bool reaches_state(pid_t pid, char state, int ms)
{
	for (int i = 0; i < ms / 10; i++, usleep(10000))
		if (proc_state(pid) == state)
			return true;
	return proc_state(pid) == state;
}

/* A child that counts in memory the test sees: it runs while it counts. */
static volatile unsigned long *counter;

static pid_t start_counter(void)
{
	pid_t pid;

	counter = mmap(NULL, sizeof(*counter), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne((void *)counter, MAP_FAILED);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		for (;;)
			(*counter)++;
	return pid;
}

static bool counting(int ms)
{
	unsigned long before = *counter;

	usleep(ms * 1000);
	return *counter != before;
}

/* Plays criu's hold: a process that seizes pid and interrupts it, as criu's
 * seize does, and then waits to be killed. */
static pid_t start_tracer(pid_t pid)
{
	int p[2];
	char c;
	pid_t t;

	ck_assert_int_eq(pipe(p), 0);
	t = fork();
	ck_assert_int_ge(t, 0);
	if (t == 0) {
		int st;

		if (ptrace(PTRACE_SEIZE, pid, NULL, NULL) < 0 || ptrace(PTRACE_INTERRUPT, pid, NULL, NULL) < 0 ||
		    waitpid(pid, &st, __WALL) != pid)
			_exit(1);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	ck_assert_int_eq(read(p[0], &c, 1), 1);
	close(p[0]);
	ck_assert_int_eq(proc_state(pid), 't');
	return t;
}

static void kill_tracer(pid_t t)
{
	kill(t, SIGKILL);
	ck_assert_int_eq(waitpid(t, NULL, 0), t);
}

/* A tracer's death lets its tracee run at once (what criu's death does to
 * the tree it dumped); with the stop queued while it was held, the tree
 * stops instead, until crmig continues it. */
START_TEST(test_queued_stop_outlives_the_tracer)
{
	static struct migration m;
	pid_t wl = start_counter();
	__do_free char *held = NULL, *text = NULL, *want = xasprintf("%d\n", (int)wl);

	ck_assert(counting(100));
	/* without: the tracer's death lets it run */
	kill_tracer(start_tracer(wl));
	ck_assert(counting(200));

	open_server(&m.hook);
	held = xasprintf("%s/" HOOK_HELD_FILE, m.hook.dir);
	m.lock_root = wl;
	pid_t tracer = start_tracer(wl);

	mig_queue_stop(&m);
	ck_assert(m.stop_queued);
	ck_assert_ptr_nonnull(text = read_file(held, NULL));
	ck_assert_str_eq(text, want);
	ck_assert_int_eq(proc_state(wl), 't'); /* still criu's: the stop waits */
	kill_tracer(tracer);
	ck_assert_msg(reaches_state(wl, 'T', 2000), "state %c after the tracer died", proc_state(wl));
	ck_assert(!counting(200));

	mig_unqueue_stop(&m);
	ck_assert(!m.stop_queued);
	ck_assert(counting(200));
	ck_assert_int_eq(access(held, F_OK), -1);
	mig_unqueue_stop(&m); /* once */

	kill(wl, SIGKILL);
	waitpid(wl, NULL, 0);
	hook_server_close(&m.hook);
}
END_TEST

/* crmig gone with a stop queued: the hook continues what it held before it
 * answers, so that the tree criu resumes runs; and only pids, every one a
 * whole line, are ever signalled. */
START_TEST(test_server_gone_continues_the_held)
{
	struct hook_server h;
	pid_t wl = start_counter();
	__do_free char *pids = xasprintf("%d\n", (int)wl), *cut = xasprintf("%d", (int)wl);
	__do_free char *junk = xasprintf("%dx\n", (int)wl);

	open_server(&h);
	close_fd(&h.lfd);
	unlink(h.sock);
	const char *bad[] = { cut, junk, "\n", "-1\n" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		kill(wl, SIGSTOP);
		ck_assert(reaches_state(wl, 'T', 2000));
		ck_assert_int_eq(hook_server_hold(&h, bad[i]), 0);
		ck_assert_int_eq(run_action(h.command, "post-dump"), 1);
		ck_assert_msg(!counting(100), "held file \"%s\" continued it", bad[i]);
		kill(wl, SIGCONT);
	}
	kill(wl, SIGSTOP);
	ck_assert(reaches_state(wl, 'T', 2000));
	ck_assert_int_eq(hook_server_hold(&h, pids), 0);
	ck_assert_int_eq(run_action(h.command, "post-dump"), 1);
	ck_assert(counting(200));

	/* none held: nothing continued */
	kill(wl, SIGSTOP);
	ck_assert(reaches_state(wl, 'T', 2000));
	ck_assert_int_eq(hook_server_hold(&h, NULL), 0);
	ck_assert_int_eq(hook_server_hold(&h, NULL), 0);
	ck_assert_int_eq(run_action(h.command, "post-dump"), 1);
	ck_assert(!counting(100));

	kill(wl, SIGKILL);
	waitpid(wl, NULL, 0);
	hook_server_close(&h);
}
END_TEST

/* crmig accepts, then dies before it answers. */
static void *accept_and_drop(void *arg)
{
	struct hook_server *h = arg;
	char buf[64];

	for (int i = 0; i < 2; i++) {
		int fd = accept(h->lfd, NULL, NULL);

		if (fd < 0)
			break;
		if (read(fd, buf, sizeof(buf)) < 0)
			buf[0] = '\0';
		close(fd);
	}
	return NULL;
}

START_TEST(test_server_dies_mid_answer)
{
	struct hook_server h;
	pthread_t t;

	open_server(&h);
	ck_assert_int_eq(pthread_create(&t, NULL, accept_and_drop, &h), 0);
	ck_assert_int_eq(run_action(h.command, "post-dump"), 1);
	ck_assert_int_eq(run_action(h.command, "pre-dump"), 0);
	pthread_join(t, NULL);
	hook_server_close(&h);
}
END_TEST

/* The client in this process, no script in between. */
START_TEST(test_client_direct)
{
	const char *saved = getenv("CRTOOLS_SCRIPT_ACTION");
	__do_free char *keep = saved ? xstrdup(saved) : NULL;
	__do_free char *gone = xasprintf("%s/no-such-socket", tmpdir);
	char toolong[300];

	memset(toolong, 'x', sizeof(toolong) - 1);
	toolong[0] = '/';
	toolong[sizeof(toolong) - 1] = '\0';
	unsetenv("CRTOOLS_SCRIPT_ACTION");
	ck_assert_int_eq(hook_client_main(gone), 0);
	setenv("CRTOOLS_SCRIPT_ACTION", "post-dump", 1);
	ck_assert_int_eq(hook_client_main(gone), 1);
	ck_assert_int_eq(hook_client_main(toolong), 1);
	setenv("CRTOOLS_SCRIPT_ACTION", "pre-dump", 1);
	ck_assert_int_eq(hook_client_main(gone), 0);
	ck_assert_int_eq(hook_client_main(toolong), 0);
	if (keep)
		setenv("CRTOOLS_SCRIPT_ACTION", keep, 1);
	else
		unsetenv("CRTOOLS_SCRIPT_ACTION");
}
END_TEST

START_TEST(test_exit_statuses)
{
	struct record r = { 0 };
	struct hook_server h;

	open_server(&h);
	ck_assert_int_eq(hook_serve(&h, start_criu(h.command, 7, 0, NULL), on_hook, on_after, &r, 60), 7);
	ck_assert_int_eq(hook_serve(&h, start_criu(h.command, -SIGTERM, 0, NULL), on_hook, on_after, &r, 60),
			 128 + SIGTERM);
	ck_assert_int_eq(hook_serve(&h, start_criu(h.command, 0, 0, NULL), on_hook, on_after, &r, 60), 0);
	/* no such process */
	ck_assert_int_eq(hook_serve(&h, 999999999, on_hook, on_after, &r, 60), -1);
	hook_server_close(&h);
}
END_TEST

/* A criu that does not finish in time is killed, and says so in the status. */
START_TEST(test_timeout_kills)
{
	static const char *const actions[] = { "pre-dump", NULL };
	struct record r = { 0 };
	struct hook_server h;
	double start, took;
	pid_t pid;

	open_server(&h);
	start = now_ms();
	pid = start_criu(h.command, 0, 60000, actions);
	ck_assert_int_eq(hook_serve(&h, pid, on_hook, on_after, &r, 1.5), 128 + SIGKILL);
	took = now_ms() - start;
	hook_server_close(&h);
	ck_assert_msg(took >= 1400 && took < 15000, "killed after %.0f ms", took);
	ck_assert_str_eq(r.calls, "fn:pre-dump after:pre-dump"); /* hooks were served until then */
	ck_assert_int_eq(kill(pid, 0), -1);                       /* and it was reaped */
}
END_TEST

/* Dead, or a zombie nobody reaped yet (orphans go to init). */
static bool gone(pid_t pid)
{
	struct proc_stat st;

	return proc_stat_read(pid, &st) < 0 || st.state == 'Z';
}

/* A restore that does not finish in time goes whole: the process we started
 * and everything beneath it (lab: an LXC restore's criu outlived the session
 * waiting in do_wait for 437 s, when only liblxc's first fork was killed). */
START_TEST(test_timeout_kills_the_tree)
{
	__do_free char *pidfile = xasprintf("%s/tree.pids", tmpdir);
	struct record r = { 0 };
	struct hook_server h;
	int monitor = 0, criu = 0;
	pid_t pid;

	open_server(&h);
	pid = fork();
	if (pid == 0) {
		execl(self, self, "emulate-lxc-restore", pidfile, (char *)NULL);
		_exit(126);
	}
	ck_assert_int_gt(pid, 0);
	for (int i = 0; i < 500; i++, usleep(10 * 1000)) {
		__do_free char *text = read_file(pidfile, NULL);

		if (text && strchr(text, '\n') && sscanf(text, "%d %d", &monitor, &criu) == 2)
			break;
	}
	ck_assert_msg(monitor > 0 && criu > 0, "the emulated restore did not start");
	ck_assert(!gone(monitor) && !gone(criu));
	ck_assert_int_eq(hook_serve(&h, pid, on_hook, on_after, &r, 1), 128 + SIGKILL);
	hook_server_close(&h);
	for (int i = 0; i < 500 && !(gone(monitor) && gone(criu)); i++)
		usleep(10 * 1000);
	ck_assert_msg(gone(monitor), "the monitor-to-be (pid %d) outlived the timeout", monitor);
	ck_assert_msg(gone(criu), "criu (pid %d) outlived the timeout", criu);
}
END_TEST

int main(int argc, char **argv)
{
	Suite *s = suite_create("hook");
	TCase *tc = tcase_create("hook");
	ssize_t n;

	if (argc == 3 && !strcmp(argv[1], "hook"))
		return hook_client_main(argv[2]);
	if (argc >= 5 && !strcmp(argv[1], "emulate-criu"))
		return emulate_criu(argc, argv);
	if (argc == 3 && !strcmp(argv[1], "emulate-lxc-restore"))
		return emulate_lxc_restore(argv[2]);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0) {
		perror("test_hook: /proc/self/exe");
		return 2;
	}
	self[n] = '\0';
	/* crmig-hook is in the build directory above unit/ */
	{
		__do_free char *path = xasprintf("%.*s/../crmig-hook", (int)(strrchr(self, '/') - self), self);

		if (!realpath(path, client)) {
			fprintf(stderr, "test_hook: %s: %s (make builds it first)\n", path, strerror(errno));
			return 2;
		}
	}

	tcase_add_checked_fixture(tc, setup_dir, teardown_dir);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_script_file);
	tcase_add_test(tc, test_client_binary);
	tcase_add_test(tc, test_client_binary_alone);
	tcase_add_test(tc, test_client_lookup);
	tcase_add_test(tc, test_open_failures);
	tcase_add_test(tc, test_actions_reach_the_callback);
	tcase_add_test(tc, test_without_after);
	tcase_add_test(tc, test_progress_ticks);
	tcase_add_test(tc, test_server_gone);
	tcase_add_test(tc, test_server_dies_mid_answer);
	tcase_add_test(tc, test_queued_stop_outlives_the_tracer);
	tcase_add_test(tc, test_server_gone_continues_the_held);
	tcase_add_test(tc, test_client_direct);
	tcase_add_test(tc, test_exit_statuses);
	tcase_add_test(tc, test_timeout_kills);
	tcase_add_test(tc, test_timeout_kills_the_tree);
	suite_add_tcase(s, tc);

	return unit_run(s) ? 1 : 0;
}
