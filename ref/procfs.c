/* Processes as /proc shows them (procfs.h). */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "procfs.h"
#include "util.h"

int proc_stat_parse(const char *line, struct proc_stat *st)
{
	const char *open = line ? strchr(line, '(') : NULL;
	const char *close = line ? strrchr(line, ')') : NULL;
	int n;

	memset(st, 0, sizeof(*st));
	if (!open || !close || close < open)
		return -1;
	n = (int)(close - open - 1);
	snprintf(st->comm, sizeof(st->comm), "%.*s", n < (int)sizeof(st->comm) - 1 ? n : (int)sizeof(st->comm) - 1,
		 open + 1);
	for (char *p = st->comm; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
	/* 3 state, 4 ppid, 5 pgrp, 6 session, 7 tty_nr, 8 tpgid, 9 flags,
	 * 10-13 faults, 14-17 times, 18 priority, 19 nice, 20 num_threads,
	 * 21 itrealvalue, 22 starttime, 23 vsize, 24 rss */
	if (sscanf(close + 1, " %c %d %d %d %d %*d %u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %ld %*d %llu %*u %ld",
		   &st->state, &st->ppid, &st->pgrp, &st->sid, &st->tty, &st->flags, &st->threads, &st->start,
		   &st->rss) != 9)
		return -1;
	return 0;
}

int proc_stat_read(pid_t pid, struct proc_stat *st)
{
	__do_free char *path = xasprintf("/proc/%d/stat", pid);
	__do_free char *line = pid > 0 ? read_file(path, NULL) : NULL;

	return proc_stat_parse(line, st);
}

unsigned long long proc_start_time(pid_t pid)
{
	struct proc_stat st;

	return proc_stat_read(pid, &st) == 0 ? st.start : 0;
}

static void collect_tree(pid_t pid, json_t *pids, json_t *tids, int depth)
{
	__do_free char *taskdir = xasprintf("/proc/%d/task", pid);
	DIR *d = opendir(taskdir);
	struct dirent *e;

	if (!d || depth > 64) {
		if (d)
			closedir(d);
		return;
	}
	json_array_append_new(pids, json_integer(pid));
	while ((e = readdir(d))) {
		__do_free char *children = NULL;
		__do_free char *path = NULL;
		char *save, *tok;

		if (e->d_name[0] == '.')
			continue;
		json_array_append_new(tids, json_integer(atoi(e->d_name)));
		path = xasprintf("%s/%s/children", taskdir, e->d_name);
		children = read_file(path, NULL);
		for (tok = children ? strtok_r(children, " \n", &save) : NULL; tok; tok = strtok_r(NULL, " \n", &save))
			collect_tree(atoi(tok), pids, tids, depth + 1);
	}
	closedir(d);
}

void proc_collect_tree(pid_t pid, json_t *pids, json_t *tids)
{
	collect_tree(pid, pids, tids, 0);
}

void proc_signal_tree(pid_t root, int sig)
{
	json_auto_t *pids = json_array(), *tids = json_array();
	size_t i;
	json_t *v;

	if (root <= 1)
		return;
	proc_collect_tree(root, pids, tids);
	json_array_foreach(pids, i, v)
		kill((pid_t)json_integer_value(v), sig);
}

static bool has_pid(json_t *pids, json_int_t pid)
{
	size_t i;
	json_t *v;

	json_array_foreach(pids, i, v)
		if (json_integer_value(v) == pid)
			return true;
	return false;
}

/* SIGSTOP lands when its target next leaves the kernel: until then it may
 * fork once more, so the next walk waits for stopped[from..] to be stopped
 * for real (or gone), at most 500 ms. Without it a walk that found "nobody
 * new" could come before a fork in flight (test_procfs under ASan: one child
 * of a forking tree outlived the kill). A stopped process's children are
 * all in its children list: fork adds them before it returns. */
static void wait_stopped(json_t *stopped, size_t from)
{
	double until = now_ms() + 500;

	for (size_t i = from; i < json_array_size(stopped); i++) {
		pid_t pid = (pid_t)json_integer_value(json_array_get(stopped, i));
		struct proc_stat st;

		while (proc_stat_read(pid, &st) == 0 && !strchr("TtZX", st.state) && now_ms() < until)
			usleep(200);
	}
}

void proc_kill_tree(pid_t root)
{
	json_auto_t *stopped = json_array();
	size_t i;
	json_t *v;

	if (root <= 1)
		return;
	/* A process forks until its SIGSTOP lands: walk again until a walk
	 * finds nobody new (a tree that keeps growing gets 16 walks). */
	for (int walk = 0; walk < 16; walk++) {
		json_auto_t *pids = json_array(), *tids = json_array();
		size_t before = json_array_size(stopped);

		proc_collect_tree(root, pids, tids);
		json_array_foreach(pids, i, v) {
			if (has_pid(stopped, json_integer_value(v)))
				continue;
			kill((pid_t)json_integer_value(v), SIGSTOP);
			json_array_append(stopped, v);
		}
		if (json_array_size(stopped) == before)
			break;
		wait_stopped(stopped, before);
	}
	json_array_foreach(stopped, i, v)
		kill((pid_t)json_integer_value(v), SIGKILL);
}

int proc_fd_borrow(const struct proc_fd *f)
{
	return (int)syscall(SYS_pidfd_getfd, f->pidfd, f->num, 0);
}

int proc_each_fd(pid_t pid, int (*fn)(void *ctx, const struct proc_fd *f), void *ctx)
{
	__do_free char *dir = xasprintf("/proc/%d/fd", pid);
	__do_close int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	DIR *fds = pidfd >= 0 ? opendir(dir) : NULL;
	struct dirent *e;
	int ret = 0;

	if (!fds)
		return -1;
	while (!ret && (e = readdir(fds))) {
		__do_free char *link = NULL;
		struct proc_fd f = { .pidfd = pidfd };

		if (e->d_name[0] == '.')
			continue;
		link = xasprintf("%s/%s", dir, e->d_name);
		f.link = link;
		f.num = atoi(e->d_name);
		ret = fn(ctx, &f);
	}
	closedir(fds);
	return ret;
}
