/* zdtm: a group of CRIU's zdtm static tests in one process tree, so that one
 * migration carries them all.
 *
 *	zdtm --dir DIR --tests NAME,NAME,... [--suid NAME,...] [--zdtm ZDIR] [common options]
 *
 * ZDIR (default /opt/crmig/zdtm: the payload, the same on both hosts) holds
 * static/ and tests.tsv from vm-images/build-zdtm. Each test starts the way
 * zdtm's Makefile starts it, with DIR as its working directory (its .pid,
 * .out and data files live there; DIR is what crmig --sync carries across)
 * and zdtm.py's environment (a non-root uid unless the test is `suid`). Its
 * launcher exits once the test is ready and the test is orphaned: as a child
 * subreaper we adopt it, so it stays in our tree. After the migration signal
 * every test gets its SIGTERM, checks itself and exits; we collect each .out.
 *
 * DIR/results, one line per test: NAME <TAB> PASS|FAIL|SKIP <TAB> reason.
 * The verdict is PASS once every test has a result line (a FAILed test is a
 * result, not a failure of this workload). --corrupt sends one test SIGKILL
 * before the migration signal is passed on (a test of the tests). */
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../lib/wl.h"
#include "../lib/zdtm_out.h"

#define MAX_TESTS 64
#define START_TIMEOUT_MS 60000
#define STOP_TIMEOUT_MS 60000

/* zdtm.py's identity for tests that are not suid ("numbers should match those in criu") */
#define ZDTM_UID "18943"
#define ZDTM_GID "58467"
#define ZDTM_GROUPS "27495 48244"

enum state { T_NEW, T_RUNNING, T_EXITED, T_DONE };

struct test {
	char name[64];
	char args[512];
	bool suid;
	pid_t pid;
	int status;
	enum state state;
	char verdict[8];
	char reason[600];
};

static const char *zdtm_dir = "/opt/crmig/zdtm";
static const char *test_list, *suid_list;
static struct test tests[MAX_TESTS];
static int ntests;

static const struct wl_opt opts[] = {
	{ "zdtm", WL_OPT_STR, &zdtm_dir, 0, 0, NULL, "ZDIR  the zdtm build (static/, tests.tsv)", false },
	{ "tests", WL_OPT_STR, &test_list, 0, 0, NULL, "A,B,...  the tests of this group", true },
	{ "suid", WL_OPT_STR, &suid_list, 0, 0, NULL, "A,B,...  those that run as root (zdtm's suid flag)", false },
	{ NULL, 0, NULL, 0, 0, NULL, NULL, false },
};

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void result(struct test *t, const char *verdict, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void result(struct test *t, const char *verdict, const char *fmt, ...)
{
	va_list ap;

	snprintf(t->verdict, sizeof(t->verdict), "%s", verdict);
	va_start(ap, fmt);
	vsnprintf(t->reason, sizeof(t->reason), fmt, ap);
	va_end(ap);
	for (char *c = t->reason; *c; c++)
		if (*c == '\t' || *c == '\n' || *c == '\r')
			*c = ' ';
	t->state = T_DONE;
	wl_log("%s: %s %s", t->name, verdict, t->reason);
}

/* tests.tsv: NAME <TAB> ARGS; the runner parsed the .desc files and names the suid tests. */
static void load_catalogue(void)
{
	char path[4096], line[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/tests.tsv", zdtm_dir);
	f = fopen(path, "r");
	if (!f)
		wl_fail("cannot read %s: %s (is the zdtm build in the payload?)", path, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		char *tab = strchr(line, '\t'), *nl = strchr(line, '\n');

		if (nl)
			*nl = '\0';
		if (!tab)
			continue;
		*tab = '\0';
		for (int i = 0; i < ntests; i++)
			if (!strcmp(tests[i].name, line))
				snprintf(tests[i].args, sizeof(tests[i].args), "%s", tab + 1);
	}
	fclose(f);
	if (suid_list)
		for (int i = 0; i < ntests; i++) {
			char padded[sizeof(tests[0].name) + 2], list[2048];

			snprintf(padded, sizeof(padded), ",%s,", tests[i].name);
			snprintf(list, sizeof(list), ",%s,", suid_list);
			tests[i].suid = strstr(list, padded) != NULL;
		}
}

static void parse_list(void)
{
	char *copy = strdup(test_list), *save = NULL;

	for (char *n = strtok_r(copy, ",", &save); n; n = strtok_r(NULL, ",", &save)) {
		if (ntests == MAX_TESTS)
			wl_fail("more than %d tests in one group", MAX_TESTS);
		if (!*n || strchr(n, '/') || n[0] == '.' || strlen(n) >= sizeof(tests[0].name))
			wl_fail("'%s' is not a zdtm test name", n);
		snprintf(tests[ntests++].name, sizeof(tests[0].name), "%s", n);
	}
	free(copy);
	if (!ntests)
		wl_fail("--tests names no test");
}

/* In the forked child: what zdtm.py gives a test, then exec. */
static __attribute__((noreturn)) void exec_test(const struct test *t, const char *bin, bool checkskip)
{
	char *argv[64];
	char args[sizeof(t->args)];
	sigset_t none;
	int argc = 0;

	wl_child_setup();
	signal(SIGUSR2, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Nothing of ours (probe socket, log) leaks into the test's dump. */
	syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
	setenv("TMPDIR", "/tmp", 1);
	setenv("ZDTM_THREAD_BOMB", "5", 1);
	if (!t->suid && !checkskip) {
		setenv("ZDTM_UID", ZDTM_UID, 1);
		setenv("ZDTM_GID", ZDTM_GID, 1);
		setenv("ZDTM_GROUPS", ZDTM_GROUPS, 1);
	}
	argv[argc++] = (char *)bin;
	snprintf(args, sizeof(args), "%s", checkskip ? "" : t->args);
	for (char *save = NULL, *a = strtok_r(args, " ", &save); a && argc < 63; a = strtok_r(NULL, " ", &save))
		argv[argc++] = a;
	argv[argc] = NULL;
	execv(bin, argv);
	fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
	_exit(127);
}

/* Runs path (a test's launcher or its checkskip script) and waits for it. */
static int run_and_wait(const struct test *t, const char *path, bool checkskip, long timeout_ms)
{
	long deadline = now_ms() + timeout_ms;
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (checkskip && chdir(zdtm_dir) < 0)
			_exit(127);
		exec_test(t, path, checkskip);
	}
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);

		if (w == pid)
			return status;
		if (w < 0 && errno != EINTR)
			return -1;
		if (now_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -2;
		}
		wl_sleep_ms(20);
	}
}

/* The last len-1 bytes of path: a test's verdict is its .out's last lines
 * (some log a line per object before them). */
static void read_text(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	ssize_t n = -1;

	if (fd >= 0 && fstat(fd, &st) == 0) {
		if (st.st_size > (off_t)(len - 1))
			lseek(fd, st.st_size - (off_t)(len - 1), SEEK_SET);
		n = read(fd, buf, len - 1);
	}
	buf[n > 0 ? n : 0] = '\0';
	if (fd >= 0)
		close(fd);
}

static void start_test(struct test *t)
{
	char bin[4096], path[4096 + 16], out[8192];
	struct stat st;
	int status;

	if (!t->args[0]) {
		result(t, "FAIL", "not in %s/tests.tsv (not built for this criu?)", zdtm_dir);
		return;
	}
	snprintf(bin, sizeof(bin), "%s/static/%s", zdtm_dir, t->name);
	snprintf(path, sizeof(path), "%s.checkskip", bin);
	if (stat(path, &st) == 0 && (status = run_and_wait(t, path, true, 30000)) != 0) {
		result(t, "SKIP", "its checkskip script says this host cannot run it (exit %d)",
		       status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		return;
	}
	status = run_and_wait(t, bin, false, START_TIMEOUT_MS);
	snprintf(path, sizeof(path), "%s.pid", t->name);
	read_text(path, out, sizeof(out));
	if (status == 0 && (t->pid = (pid_t)atoi(out)) > 0) {
		t->state = T_RUNNING;
		wl_log("%s: started, pid %d", t->name, (int)t->pid);
		return;
	}
	snprintf(path, sizeof(path), "%s.out", t->name);
	read_text(path, out, sizeof(out));
	if (!out[0]) {
		snprintf(path, sizeof(path), "%s.out.inprogress", t->name);
		read_text(path, out, sizeof(out));
	}
	{
		char why[400];
		zdtm_out_passed(out, why, sizeof(why));
		result(t, "FAIL", "did not start (%s): %s", status == -2 ? "timed out" : "launcher failed", why);
	}
}

/* Reaps everything (we are a subreaper: tests' orphans come to us too). */
static void reap(void)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		for (int i = 0; i < ntests; i++)
			if (tests[i].pid == pid && tests[i].state == T_RUNNING) {
				tests[i].state = T_EXITED;
				tests[i].status = status;
			}
}

static void stop_tests(void)
{
	long deadline = now_ms() + STOP_TIMEOUT_MS;
	int left;

	for (int i = 0; i < ntests; i++)
		if (tests[i].state == T_RUNNING && kill(tests[i].pid, SIGTERM) < 0)
			result(&tests[i], "FAIL", "gone before its SIGTERM (pid %d): %s", (int)tests[i].pid, strerror(errno));
	do {
		reap();
		left = 0;
		for (int i = 0; i < ntests; i++)
			left += tests[i].state == T_RUNNING;
		if (left)
			wl_sleep_ms(50);
	} while (left && now_ms() < deadline);
	for (int i = 0; i < ntests; i++) {
		struct test *t = &tests[i];
		char path[128], out[16384], why[500];

		if (t->state == T_RUNNING) {
			kill(t->pid, SIGKILL);
			result(t, "FAIL", "did not exit within %d s of its SIGTERM", STOP_TIMEOUT_MS / 1000);
			continue;
		}
		if (t->state != T_EXITED)
			continue;
		snprintf(path, sizeof(path), "%s.out", t->name);
		read_text(path, out, sizeof(out));
		if (zdtm_out_passed(out, why, sizeof(why)))
			result(t, "PASS", "%s", "");
		else if (WIFSIGNALED(t->status))
			result(t, "FAIL", "killed by signal %d; %s", WTERMSIG(t->status), why);
		else
			result(t, "FAIL", "%s (exit %d)", why, WEXITSTATUS(t->status));
	}
}

static void write_results(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	for (int i = 0; f && i < ntests; i++)
		fprintf(f, "%s\t%s\t%s\n", tests[i].name, tests[i].verdict[0] ? tests[i].verdict : "FAIL",
			tests[i].verdict[0] ? tests[i].reason : "no result");
	if (!f || fclose(f) != 0 || wl_write_atomic(wl.dir, "results", text, len) < 0)
		wl_fail("cannot write %s/results: %s", wl.dir, strerror(errno));
	free(text);
}

int main(int argc, char **argv)
{
	wl_init(argc, argv, opts);
	parse_list();
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		wl_fail("PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
	/* Tests that drop to zdtm's uid write their .pid and .out here. */
	if (chdir(wl.dir) < 0 || chmod(wl.dir, 0777) < 0)
		wl_fail("cannot work in %s: %s", wl.dir, strerror(errno));
	load_catalogue();
	for (int i = 0; i < ntests; i++)
		start_test(&tests[i]);
	wl_ready();
	while (!wl_migrated()) {
		reap();
		wl_sleep_ms(100);
	}
	if (wl.corrupt)
		for (int i = 0; i < ntests; i++)
			if (tests[i].state == T_RUNNING) {
				kill(tests[i].pid, SIGKILL);
				break;
			}
	stop_tests();
	write_results();
	wl_pass();
}
