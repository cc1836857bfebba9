/* tree: a process tree with sessions, groups, threads, a zombie and pending
 * signals, checked by its leader after the migration signal.
 *
 *	tree --dir DIR [common options]
 *
 *   leader		session leader (daemonized); 3 worker threads
 *   child "session"	setsid(): its own session
 *   child "group"	setpgid(0, 0): its own process group
 *   child "parent"	stays in the leader's group; has a child:
 *   grandchild		joins the "group" child's process group
 *   zombie		exited with status 42, never reaped until the check
 *   pending signals	SIGUSR1 and SIGRTMIN+1 (queued twice, values 1001,
 *			1002) pending on the process; SIGRTMIN+2 (value 2001)
 *			pending on worker thread 0 only
 * Children answer pings on a shared pipe with {pid, ppid, pgid, sid}.
 * --corrupt kills the "group" child before the check. */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../lib/wl.h"
#include "util.h"

#define N_WORKERS 3
#define ZOMBIE_STATUS 42
#define ANSWER_MS 5000
#define TICK_MS 10

enum { C_SESSION, C_GROUP, C_PARENT, C_GRAND, N_CHILDREN };
static const char *const child_names[N_CHILDREN] = { "session", "group", "parent", "grandchild" };

struct child {
	pid_t pid;
	int cmd;	/* leader's write end of the child's command pipe */
	pid_t want_ppid, want_pgid, want_sid;
};

/* What a child says about itself; one write, atomic on a pipe. */
struct report {
	int32_t tag, pid, ppid, pgid, sid;
};

struct worker {
	pthread_t thread;
	atomic_int tid;
	_Atomic uint64_t ticks;
	atomic_bool tid_changed;
};

static struct child children[N_CHILDREN];
static int report_rd = -1, report_wr = -1;
static pid_t zombie;
static struct worker workers[N_WORKERS];
static atomic_bool stop_workers;
/* Worker 0's check of its own pending signal: 0 not yet, 1 ok, -1 bad. */
static atomic_int private_sig_result;
static atomic_bool private_sig_check;
static char private_sig_problem[200];

static int sig_private(void)
{
	return SIGRTMIN + 2;
}

static int sig_queued(void)
{
	return SIGRTMIN + 1;
}

/* ---------------------------------------------------------------- children */

static void send_report(int tag)
{
	struct report r = { tag, getpid(), getppid(), getpgid(0), getsid(0) };

	(void)!write(report_wr, &r, sizeof(r));
}

/* Answer pings until told to quit (or the leader is gone: end of file). */
static void child_loop(int tag, int cmd_rd)
{
	for (;;) {
		char c;
		ssize_t n = read(cmd_rd, &c, 1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || c == 'Q')
			return;
		if (c == 'P')
			send_report(tag);
	}
}

/* In a new child: keep only what it needs (its command pipe, the report
 * pipe's write end), so that the leader's death shows as end of file. */
static void child_close_leader_fds(void)
{
	wl_child_setup();
	for (int i = 0; i < N_CHILDREN; i++)
		if (children[i].cmd >= 0)
			close(children[i].cmd);
	close(report_rd);
}

static int grandchild_main(int cmd_rd)
{
	if (setpgid(0, children[C_GROUP].pid) < 0)
		return 3;
	child_loop(C_GRAND, cmd_rd);
	return 0;
}

static int parent_child_main(int cmd_rd, int grand_cmd_rd)
{
	pid_t g = fork();
	int status;

	if (g < 0)
		return 3;
	if (g == 0) {
		close(cmd_rd);
		_exit(grandchild_main(grand_cmd_rd));
	}
	close(grand_cmd_rd);
	child_loop(C_PARENT, cmd_rd);
	/* Quit only after the grandchild did, and say how it went. */
	if (waitpid(g, &status, 0) != g || !WIFEXITED(status) || WEXITSTATUS(status))
		return 4;
	return 0;
}

static int child_main(int tag, int cmd_rd, int grand_cmd_rd)
{
	if (tag == C_SESSION && setsid() < 0)
		return 3;
	if (tag == C_GROUP && setpgid(0, 0) < 0 && errno != EACCES)
		return 3;
	if (tag == C_PARENT)
		return parent_child_main(cmd_rd, grand_cmd_rd);
	child_loop(tag, cmd_rd);
	return 0;
}

static void new_cmd_pipe(int fds[2])
{
	if (pipe2(fds, O_CLOEXEC) < 0)
		wl_fail("pipe: %s", strerror(errno));
}

static void spawn(int tag)
{
	int cmd[2], grand[2] = { -1, -1 };
	pid_t pid;

	new_cmd_pipe(cmd);
	if (tag == C_PARENT) {
		new_cmd_pipe(grand);
		children[C_GRAND].cmd = grand[1];
	}
	pid = fork();
	if (pid < 0)
		wl_fail("fork: %s", strerror(errno));
	if (pid == 0) {
		close(cmd[1]);
		child_close_leader_fds();
		_exit(child_main(tag, cmd[0], grand[0]));
	}
	close(cmd[0]);
	if (grand[0] >= 0)
		close(grand[0]);
	children[tag].pid = pid;
	children[tag].cmd = cmd[1];
	/* Also from this side: the grandchild may join the group before the
	 * child has created it. */
	if (tag == C_GROUP)
		setpgid(pid, pid);
}

static void spawn_children(void)
{
	int r[2];

	for (int i = 0; i < N_CHILDREN; i++)
		children[i].cmd = -1;
	if (pipe2(r, O_CLOEXEC) < 0)
		wl_fail("pipe: %s", strerror(errno));
	report_rd = r[0];
	report_wr = r[1];
	spawn(C_SESSION);
	spawn(C_GROUP);
	spawn(C_PARENT);
	close(report_wr);
}

static void make_zombie(void)
{
	siginfo_t si = { 0 };

	zombie = fork();
	if (zombie < 0)
		wl_fail("fork: %s", strerror(errno));
	if (zombie == 0)
		_exit(ZOMBIE_STATUS);
	/* Wait until it has exited, without reaping it. */
	if (waitid(P_PID, zombie, &si, WEXITED | WNOWAIT) < 0)
		wl_fail("waitid on the zombie: %s", strerror(errno));
}

/* ---------------------------------------------------------------- asking the children */

static int read_report(struct report *r, double deadline)
{
	for (;;) {
		struct pollfd p = { .fd = report_rd, .events = POLLIN };
		int left = (int)(deadline - now_ms());

		if (left <= 0 || poll(&p, 1, left) <= 0)
			return -1;
		if (read_full(report_rd, r, sizeof(*r)) == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

static void compare_report(const struct report *r)
{
	const struct child *c = &children[r->tag];
	const char *name = child_names[r->tag];

	if (r->pid != c->pid)
		wl_problem("child %s: pid %d, expected %d", name, r->pid, c->pid);
	if (r->ppid != c->want_ppid)
		wl_problem("child %s: parent %d, expected %d", name, r->ppid, c->want_ppid);
	if (r->pgid != c->want_pgid)
		wl_problem("child %s: process group %d, expected %d", name, r->pgid, c->want_pgid);
	if (r->sid != c->want_sid)
		wl_problem("child %s: session %d, expected %d", name, r->sid, c->want_sid);
}

/* Ping every child; each must answer as what it was. */
static void check_children(void)
{
	bool answered[N_CHILDREN] = { false }, asked_ok[N_CHILDREN] = { false };
	double deadline = now_ms() + ANSWER_MS;
	int asked = 0;
	struct report r;

	for (int i = 0; i < N_CHILDREN; i++) {
		asked_ok[i] = write(children[i].cmd, "P", 1) == 1;
		if (asked_ok[i])
			asked++;
		else
			wl_problem("child %s (pid %d) is gone: %s", child_names[i], children[i].pid, strerror(errno));
	}
	while (asked > 0 && read_report(&r, deadline) == 0) {
		if (r.tag < 0 || r.tag >= N_CHILDREN || answered[r.tag]) {
			wl_problem("bad or repeated report (tag %d)", r.tag);
			continue;
		}
		answered[r.tag] = true;
		asked--;
		compare_report(&r);
	}
	for (int i = 0; i < N_CHILDREN; i++)
		if (asked_ok[i] && !answered[i])
			wl_problem("child %s (pid %d) did not answer within %d ms", child_names[i], children[i].pid,
				   ANSWER_MS);
}

static void expect_children(void)
{
	pid_t me = getpid(), sid = getsid(0), pgid = getpgid(0);
	pid_t s = children[C_SESSION].pid, g = children[C_GROUP].pid, p = children[C_PARENT].pid;

	children[C_SESSION].want_ppid = me;
	children[C_SESSION].want_pgid = children[C_SESSION].want_sid = s;
	children[C_GROUP].want_ppid = me;
	children[C_GROUP].want_pgid = g;
	children[C_GROUP].want_sid = sid;
	children[C_PARENT].want_ppid = me;
	children[C_PARENT].want_pgid = pgid;
	children[C_PARENT].want_sid = sid;
	children[C_GRAND].want_ppid = p;
	children[C_GRAND].want_pgid = g;
	children[C_GRAND].want_sid = sid;
}

/* The grandchild's pid is only known from its own report. */
static void learn_grandchild_pid(void)
{
	struct report r;

	children[C_GRAND].pid = -1;
	if (write(children[C_GRAND].cmd, "P", 1) != 1 || read_report(&r, now_ms() + ANSWER_MS) < 0 ||
	    r.tag != C_GRAND)
		wl_fail("the grandchild did not report");
	children[C_GRAND].pid = r.pid;
}

/* ---------------------------------------------------------------- threads */

static void check_private_signal(void)
{
	struct timespec zero = { 0 };
	sigset_t set, pending;
	siginfo_t si;

	sigemptyset(&set);
	sigaddset(&set, sig_private());
	sigpending(&pending);
	if (!sigismember(&pending, sig_private()))
		snprintf(private_sig_problem, sizeof(private_sig_problem), "thread 0: its SIGRTMIN+2 is no longer pending");
	else if (sigtimedwait(&set, &si, &zero) != sig_private() || si.si_code != SI_QUEUE ||
		 si.si_value.sival_int != 2001)
		snprintf(private_sig_problem, sizeof(private_sig_problem),
			 "thread 0: its SIGRTMIN+2 came back wrong (code %d, value %d)", si.si_code,
			 si.si_value.sival_int);
	atomic_store(&private_sig_result, private_sig_problem[0] ? -1 : 1);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	atomic_store(&w->tid, gettid());
	while (!atomic_load(&stop_workers)) {
		if (gettid() != atomic_load(&w->tid))
			atomic_store(&w->tid_changed, true);
		if (w == &workers[0] && atomic_load(&private_sig_check) && !atomic_load(&private_sig_result))
			check_private_signal();
		atomic_fetch_add(&w->ticks, 1);
		atomic_fetch_add(&wl_counter, 1);
		wl_sleep_ms(TICK_MS);
	}
	return NULL;
}

static void start_workers(void)
{
	for (int i = 0; i < N_WORKERS; i++)
		if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]))
			wl_fail("cannot start worker thread %d", i);
	for (int i = 0; i < N_WORKERS; i++)
		while (!atomic_load(&workers[i].tid))
			wl_sleep_ms(1);
}

/* Threads of this process per /proc, or -1 without /proc (a container may
 * have none). */
static int count_tasks(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void check_workers(int tasks_before)
{
	uint64_t before[N_WORKERS];
	int tasks = count_tasks();

	for (int i = 0; i < N_WORKERS; i++)
		before[i] = atomic_load(&workers[i].ticks);
	wl_sleep_ms(10 * TICK_MS);
	for (int i = 0; i < N_WORKERS; i++) {
		if (atomic_load(&workers[i].ticks) == before[i])
			wl_problem("worker thread %d is not running", i);
		if (atomic_load(&workers[i].tid_changed))
			wl_problem("worker thread %d: its thread id changed", i);
	}
	if (tasks_before < 0 || tasks < 0)
		wl_log("no /proc/self/task: thread count not checked");
	else if (tasks != tasks_before)
		wl_problem("%d threads, expected %d", tasks, tasks_before);
}

/* ---------------------------------------------------------------- signals */

static void block_test_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, sig_queued());
	sigaddset(&set, sig_private());
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static void raise_pending_signals(void)
{
	if (kill(getpid(), SIGUSR1) < 0 ||
	    sigqueue(getpid(), sig_queued(), (union sigval){ .sival_int = 1001 }) < 0 ||
	    sigqueue(getpid(), sig_queued(), (union sigval){ .sival_int = 1002 }) < 0)
		wl_fail("queueing pending signals: %s", strerror(errno));
	if (pthread_sigqueue(workers[0].thread, sig_private(), (union sigval){ .sival_int = 2001 }))
		wl_fail("pthread_sigqueue: %s", strerror(errno));
}

static void take_signal(int sig, int want_code, int want_value, const char *name)
{
	struct timespec zero = { 0 };
	sigset_t set;
	siginfo_t si;

	sigemptyset(&set);
	sigaddset(&set, sig);
	if (sigtimedwait(&set, &si, &zero) != sig)
		wl_problem("pending %s lost", name);
	else if (si.si_code != want_code || (want_code == SI_QUEUE && si.si_value.sival_int != want_value))
		wl_problem("pending %s: code %d value %d, expected code %d value %d", name, si.si_code,
			   si.si_value.sival_int, want_code, want_value);
}

static void check_signals(void)
{
	sigset_t pending;

	sigpending(&pending);
	if (sigismember(&pending, sig_private()))
		wl_problem("thread 0's SIGRTMIN+2 became pending on the main thread or the process");
	take_signal(SIGUSR1, SI_USER, 0, "SIGUSR1");
	take_signal(sig_queued(), SI_QUEUE, 1001, "SIGRTMIN+1 (first)");
	take_signal(sig_queued(), SI_QUEUE, 1002, "SIGRTMIN+1 (second)");
	sigpending(&pending);
	if (sigismember(&pending, sig_queued()) || sigismember(&pending, SIGUSR1))
		wl_problem("more signals pending than were queued");
	atomic_store(&private_sig_check, true);
	for (int i = 0; i < 200 && !atomic_load(&private_sig_result); i++)
		wl_sleep_ms(5);
	if (atomic_load(&private_sig_result) != 1)
		wl_problem("%s", private_sig_problem[0] ? private_sig_problem : "thread 0 did not check its signal");
}

/* ---------------------------------------------------------------- zombie and end */

static void check_zombie(void)
{
	siginfo_t si = { 0 };
	int status;

	if (waitid(P_PID, zombie, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid != zombie) {
		wl_problem("zombie %d is no longer a waitable zombie", zombie);
		return;
	}
	if (si.si_code != CLD_EXITED || si.si_status != ZOMBIE_STATUS)
		wl_problem("zombie %d: code %d status %d, expected exit %d", zombie, si.si_code, si.si_status,
			   ZOMBIE_STATUS);
	if (waitpid(zombie, &status, 0) != zombie || !WIFEXITED(status) || WEXITSTATUS(status) != ZOMBIE_STATUS)
		wl_problem("zombie %d: reaped status 0x%x, expected exit %d", zombie, status, ZOMBIE_STATUS);
}

/* Children quit on 'Q' and must exit 0 (the "parent" child only after its
 * own child did). */
static void stop_children(void)
{
	for (int i = 0; i < N_CHILDREN; i++)
		(void)!write(children[i].cmd, "Q", 1);
	for (int i = 0; i < C_GRAND; i++) {
		double deadline = now_ms() + ANSWER_MS;
		int status = 0;
		pid_t r;

		while ((r = waitpid(children[i].pid, &status, WNOHANG)) == 0 && now_ms() < deadline)
			wl_sleep_ms(5);
		if (r != children[i].pid)
			wl_problem("child %s (pid %d) did not exit when told to", child_names[i], children[i].pid);
		else if (!WIFEXITED(status) || WEXITSTATUS(status))
			wl_problem("child %s (pid %d) ended with status 0x%x", child_names[i], children[i].pid, status);
	}
}

static void check_leader(pid_t pid, pid_t pgid, pid_t sid)
{
	if (getpid() != pid || getpgid(0) != pgid || getsid(0) != sid)
		wl_problem("leader: pid/pgid/sid %d/%d/%d, expected %d/%d/%d", getpid(), getpgid(0), getsid(0), pid,
			   pgid, sid);
}

int main(int argc, char **argv)
{
	pid_t pid, pgid, sid;
	int tasks_before;

	wl_init(argc, argv, NULL);
	pid = getpid();
	pgid = getpgid(0);
	sid = getsid(0);
	spawn_children();
	make_zombie();
	block_test_signals();
	start_workers();
	raise_pending_signals();
	learn_grandchild_pid();
	expect_children();
	check_children();
	if (wl_problem_count())
		wl_fail_on_problems();	/* the set-up itself is wrong */
	tasks_before = count_tasks();
	wl_log("children %d %d %d %d, zombie %d, %d threads", children[0].pid, children[1].pid, children[2].pid,
	       children[3].pid, zombie, tasks_before);
	wl_ready();

	wl_wait_migrated();
	if (wl.corrupt) {
		kill(children[C_GROUP].pid, SIGKILL);
		wl_log("--corrupt: killed child %s (pid %d)", child_names[C_GROUP], children[C_GROUP].pid);
		wl_sleep_ms(50);
	}
	check_leader(pid, pgid, sid);
	check_children();
	check_workers(tasks_before);
	check_signals();
	check_zombie();
	stop_children();
	atomic_store(&stop_workers, true);
	wl_fail_on_problems();
	wl_pass();
}
