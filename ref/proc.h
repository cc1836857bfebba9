/* Running programs from the harness: argv in, exit status and the two output
 * streams kept apart out, with a timeout. Used by the lab (qemu, ip, ssh) and
 * by the runner. */
#ifndef CRMIG_PROC_H
#define CRMIG_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <signal.h>
#include <sys/types.h>

struct proc_result {
	int status;        /* exit code; 128+N when killed by signal N; -1 if it never ran */
	bool timed_out;
	char *out;         /* NUL-terminated, never NULL after proc_run */
	char *err;
	size_t outlen, errlen;
};

struct proc_opts {
	int stdin_fd;          /* -1: /dev/null */
	int netns_fd;          /* -1: stay in the caller's network namespace */
	double timeout_s;      /* <= 0: none */
	bool pass_stderr;      /* copy the child's stderr to ours as it comes (progress) */
	size_t max_capture;    /* cap per stream (default 16 MiB); the rest is dropped */
	const char *stdout_path; /* write stdout to this file instead of capturing */
};

#define PROC_OPTS_DEFAULT { .stdin_fd = -1, .netns_fd = -1 }

/* Set from a signal handler to make running and future proc_run calls stop
 * their children at once (reported as timed out): Ctrl-C must not wait for
 * a long remote command to end. */
extern volatile sig_atomic_t proc_interrupted;

int proc_run(char *const argv[], const struct proc_opts *o, struct proc_result *r);
void proc_result_free(struct proc_result *r);
/* Convenience: run, return exit status; stderr shown on failure. */
int proc_simple(char *const argv[], double timeout_s);
/* What a status of proc_result (and of hook_serve) means, for a message:
 * "exited 3", or "was killed by SIGKILL" for 128+N; in buf, returned. */
const char *proc_status_text(int status, char *buf, size_t len);
/* "a b 'c d'": argv joined for humans and for a remote shell (POSIX quoting). */
char *argv_join_quoted(char *const argv[]);
char *shell_quote(const char *s);

#endif
