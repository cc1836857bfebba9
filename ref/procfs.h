/* Processes as /proc shows them: one parser for /proc/PID/stat, the tree
 * beneath a process, and signalling or ending that tree. */
#ifndef CRMIG_PROCFS_H
#define CRMIG_PROCFS_H

#include <jansson.h>
#include <sys/types.h>

struct proc_stat {
	char comm[64];                /* non-printable bytes as '?' */
	char state;                   /* R, S, D, T, Z, ... */
	pid_t ppid, pgrp, sid;
	int tty;
	unsigned flags;               /* PF_* */
	long threads, rss;            /* rss in pages */
	unsigned long long start;     /* clock ticks after boot */
};

/* One /proc/PID/stat line; -1 when it is not one. The command name may hold
 * spaces and parentheses: the fields start after the last ')'. */
int proc_stat_parse(const char *line, struct proc_stat *st);
/* -1 when there is no such process (or no /proc). */
int proc_stat_read(pid_t pid, struct proc_stat *st);
/* The start time that, with the pid, names one process; 0 if none. */
unsigned long long proc_start_time(pid_t pid);

/* The processes and threads of the tree rooted at pid. */
void proc_collect_tree(pid_t pid, json_t *pids, json_t *tids);
/* sig to every process of the tree rooted at root (none for root <= 1). */
void proc_signal_tree(pid_t root, int sig);
/* Ends the tree rooted at root: stops every process of it first, so that
 * none forks, or is orphaned away from the walk while its parent dies, and
 * then kills them all. For a child of ours, call it before reaping root. */
void proc_kill_tree(pid_t root);

/* One open descriptor of another process, met by proc_each_fd. */
struct proc_fd {
	const char *link;  /* /proc/PID/fd/N: stat it without opening the file */
	int num;           /* N */
	int pidfd;
};
/* A descriptor of our own for f's open file (pidfd_getfd: the same open
 * file description, its offset and flags); -1 with errno. */
int proc_fd_borrow(const struct proc_fd *f);
/* fn for each open descriptor of pid, until fn returns non-zero: that value,
 * 0 when every one was seen, -1 when pid cannot be looked at. */
int proc_each_fd(pid_t pid, int (*fn)(void *ctx, const struct proc_fd *f), void *ctx);

#endif
