#include "proc.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "util.h"

volatile sig_atomic_t proc_interrupted;

struct capture {
	char *buf;
	size_t len, cap, max;
};

static void capture_add(struct capture *c, const char *data, size_t n)
{
	if (c->len >= c->max)
		return;
	if (n > c->max - c->len)
		n = c->max - c->len;
	if (c->len + n + 1 > c->cap) {
		c->cap = (c->len + n + 1) * 2;
		c->buf = xrealloc(c->buf, c->cap);
	}
	memcpy(c->buf + c->len, data, n);
	c->len += n;
	c->buf[c->len] = '\0';
}

static void child_exec(char *const argv[], const struct proc_opts *o, int out, int err)
{
	int in = o->stdin_fd >= 0 ? o->stdin_fd : open("/dev/null", O_RDONLY);

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (o->netns_fd >= 0 && setns(o->netns_fd, CLONE_NEWNET) < 0) {
		dprintf(err, "setns: %s\n", strerror(errno));
		_exit(127);
	}
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		_exit(127);
	/* A new process group, so that a timeout kills the whole subtree. */
	setpgid(0, 0);
	execvp(argv[0], argv);
	dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

static int wait_status(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + WTERMSIG(st);
}

int proc_run(char *const argv[], const struct proc_opts *o, struct proc_result *r)
{
	struct proc_opts defaults = PROC_OPTS_DEFAULT;
	struct capture cap[2] = { { .max = 16u << 20 }, { .max = 16u << 20 } };
	int pout[2], perr[2];
	double deadline;
	pid_t pid;

	if (!o)
		o = &defaults;
	if (o->max_capture)
		cap[0].max = cap[1].max = o->max_capture;
	memset(r, 0, sizeof(*r));
	r->status = -1;
	if (pipe2(pout, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(perr, O_CLOEXEC) < 0) {
		close(pout[0]);
		close(pout[1]);
		return -1;
	}
	if (o->stdout_path) {
		close(pout[1]);
		pout[1] = open(o->stdout_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	}
	pid = fork();
	if (pid == 0)
		child_exec(argv, o, pout[1], perr[1]);
	close(pout[1]);
	close(perr[1]);
	if (pid < 0) {
		close(pout[0]);
		close(perr[0]);
		return -1;
	}

	deadline = o->timeout_s > 0 ? now_ms() + o->timeout_s * 1000 : 0;
	struct pollfd pfd[2] = { { .fd = pout[0], .events = POLLIN }, { .fd = perr[0], .events = POLLIN } };
	int open_streams = 2;
	while (open_streams) {
		int wait = 500; /* wake up now and then to notice an interruption */
		if (proc_interrupted) {
			r->timed_out = true;
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			break;
		}
		if (deadline) {
			double left = deadline - now_ms();
			if (left <= 0) {
				r->timed_out = true;
				kill(-pid, SIGKILL);
				kill(pid, SIGKILL);
				break;
			}
			if ((int)left + 1 < wait)
				wait = (int)left + 1;
		}
		int n = poll(pfd, 2, wait);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		for (int i = 0; i < 2; i++) {
			char buf[8192];
			ssize_t got;

			if (pfd[i].fd < 0 || !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			got = read(pfd[i].fd, buf, sizeof(buf));
			if (got <= 0) {
				close(pfd[i].fd);
				pfd[i].fd = -1;
				open_streams--;
				continue;
			}
			capture_add(&cap[i], buf, got);
			if (i == 1 && o->pass_stderr)
				write_full(2, buf, got);
		}
	}
	for (int i = 0; i < 2; i++)
		if (pfd[i].fd >= 0)
			close(pfd[i].fd);
	r->status = wait_status(pid);
	r->out = cap[0].buf ? cap[0].buf : xstrdup("");
	r->err = cap[1].buf ? cap[1].buf : xstrdup("");
	r->outlen = cap[0].len;
	r->errlen = cap[1].len;
	return 0;
}

void proc_result_free(struct proc_result *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

int proc_simple(char *const argv[], double timeout_s)
{
	struct proc_opts o = PROC_OPTS_DEFAULT;
	struct proc_result r;
	int status;

	o.timeout_s = timeout_s;
	if (proc_run(argv, &o, &r) < 0)
		return -1;
	status = r.timed_out ? -1 : r.status;
	if (status != 0) {
		__do_free char *cmd = argv_join_quoted(argv);
		fprintf(stderr, "command failed (%s): %s\n%s", r.timed_out ? "timeout" : "exit status", cmd, r.err);
	}
	proc_result_free(&r);
	return status;
}

char *shell_quote(const char *s)
{
	size_t n = strlen(s);
	bool plain = n > 0;
	char *q, *p;

	for (const char *c = s; *c; c++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=:,+@%", *c))
			plain = false;
	if (plain)
		return xstrdup(s);
	p = q = xmalloc(n * 4 + 3);
	*p++ = '\'';
	for (const char *c = s; *c; c++) {
		if (*c == '\'') {
			memcpy(p, "'\\''", 4);
			p += 4;
		} else {
			*p++ = *c;
		}
	}
	*p++ = '\'';
	*p = '\0';
	return q;
}

char *argv_join_quoted(char *const argv[])
{
	char *out = xstrdup("");

	for (size_t i = 0; argv[i]; i++) {
		__do_free char *q = shell_quote(argv[i]);
		char *joined = xasprintf("%s%s%s", out, i ? " " : "", q);
		free(out);
		out = joined;
	}
	return out;
}

const char *proc_status_text(int status, char *buf, size_t len)
{
	const char *name = status > 128 && status < 128 + 65 ? sigabbrev_np(status - 128) : NULL;

	if (name)
		snprintf(buf, len, "was killed by SIG%s", name);
	else
		snprintf(buf, len, "exited %d", status);
	return buf;
}
