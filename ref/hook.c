#include "hook.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "procfs.h"
#include "util.h"

static int self_exe(char *buf, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", buf, len - 1);

	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

/* Each hook costs criu a fork and an exec while the workload is frozen: in
 * a TCG guest `crmig hook` (a shell, then crmig and its ~20 libraries) took
 * 240 ms, crmig-hook (libc only) 20 ms; a container's restore runs seven. */
static char *executable(char *path)
{
	char real[PATH_MAX];
	char *found = access(path, X_OK) == 0 && realpath(path, real) ? xstrdup(real) : NULL;

	free(path);
	return found;
}

char *hook_client_path(const char *exe)
{
	const char *env = getenv("CRMIG_HOOK");
	__do_free char *dir = xstrdup(exe);
	char *slash = strrchr(dir, '/'), *found;

	if (env && *env)
		return env[0] == '/' ? executable(xstrdup(env)) : NULL;
	if (!slash)
		return NULL;
	*slash = '\0';
	found = executable(xasprintf("%s/crmig-hook", dir)); /* a build tree */
	return found ? found : executable(xasprintf("%s/../libexec/crmig/crmig-hook", dir)); /* PREFIX/bin */
}

int hook_server_open(struct hook_server *h, const char *run_dir)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char exe[PATH_MAX];

	memset(h, 0, sizeof(*h));
	h->lfd = -1;
	if (self_exe(exe, sizeof(exe)) < 0 || strchr(exe, '\'') || strchr(exe, ' '))
		return -1;
	snprintf(h->dir, sizeof(h->dir), "%s/" HOOK_DIR_PREFIX "XXXXXX", run_dir);
	if (mkdir_p(run_dir, 0700) < 0 || !mkdtemp(h->dir))
		return -1;
	snprintf(h->sock, sizeof(h->sock), "%s/sock", h->dir);
	if (strlen(h->sock) >= sizeof(sa.sun_path)) {
		hook_server_close(h); /* removes the directory just made */
		return -1;
	}
	strcpy(sa.sun_path, h->sock);
	h->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (h->lfd < 0 || bind(h->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(h->lfd, 8) < 0) {
		hook_server_close(h);
		return -1;
	}
	/* criu execs the action script itself, with no arguments: crmig-hook
	 * finds the socket beside the name it was run by, so the action is a
	 * symlink to it. Without crmig-hook, a two-line script carries the
	 * arguments to `crmig hook`, which costs a shell and crmig's libraries
	 * at every phase. */
	h->command = xasprintf("%s/action", h->dir);
	{
		__do_free char *client = hook_client_path(exe);
		__do_free char *text = xasprintf("#!/bin/sh\nexec %s hook %s\n", exe, h->sock);

		if (client && symlink(client, h->command) == 0)
			return 0;
		if (write_file(h->command, text, strlen(text), 0700) < 0) {
			hook_server_close(h);
			return -1;
		}
	}
	return 0;
}

static char *held_path(const struct hook_server *h)
{
	return xasprintf("%s/" HOOK_HELD_FILE, h->dir);
}

int hook_server_hold(struct hook_server *h, const char *pids)
{
	__do_free char *path = h->dir[0] ? held_path(h) : NULL;

	if (!path)
		return -1;
	if (!pids)
		return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
	return write_file_atomic(path, pids, strlen(pids), 0600);
}

void hook_server_close(struct hook_server *h)
{
	if (h->dir[0])
		hook_server_hold(h, NULL);
	close_fd(&h->lfd);
	if (h->sock[0])
		unlink(h->sock);
	if (h->command)
		unlink(h->command);
	if (h->dir[0])
		rmdir(h->dir);
	free(h->command);
	h->command = NULL;
	h->sock[0] = h->dir[0] = '\0';
}

static int answer_one(struct hook_server *h, hook_fn fn, void *ctx, char *action, size_t len)
{
	__do_close int fd = accept4(h->lfd, NULL, NULL, SOCK_CLOEXEC);
	struct timeval tv = { .tv_sec = 5 };
	size_t used = 0;
	char reply[16];
	int rc;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (used + 1 < len) {
		ssize_t n = read(fd, action + used, len - 1 - used);
		if (n <= 0)
			break;
		used += n;
		if (memchr(action, '\n', used))
			break;
	}
	action[used] = '\0';
	action[strcspn(action, "\n")] = '\0';
	if (!*action)
		return -1;
	rc = fn(ctx, action);
	snprintf(reply, sizeof(reply), "%d\n", rc);
	write_full(fd, reply, strlen(reply));
	return 0;
}

int hook_serve(struct hook_server *h, pid_t pid, hook_fn fn, hook_after_fn after, void *ctx, double timeout_s)
{
	/* Without pidfd_open (Linux < 5.3, valgrind < 3.20) the child is
	 * polled with waitpid every 100 ms instead. */
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	double deadline = timeout_s > 0 ? now_ms() + timeout_s * 1000 : 0;
	double next_tick = now_ms() + 1000;
	bool reaped = false;
	int status;

	for (;;) {
		struct pollfd p[2] = { { .fd = pidfd, .events = POLLIN }, { .fd = h->lfd, .events = POLLIN } };
		int wait_ms = deadline ? (int)(deadline - now_ms()) : 1000;
		char action[64];
		int rc;

		if (deadline && wait_ms <= 0) {
			fprintf(stderr, "crmig: criu (pid %d) did not finish in %.0f s: killing it and what it started\n",
				pid, timeout_s);
			/* its tree, while it is still whole: an LXC restore is
			 * liblxc's fork, its monitor-to-be, criu and the tasks,
			 * and killing only the first left criu waiting forever */
			proc_kill_tree(pid);
			break;
		}
		if (wait_ms > 1000)
			wait_ms = 1000;
		if (pidfd < 0 && wait_ms > 100)
			wait_ms = 100;
		rc = poll(p, 2, wait_ms);
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pidfd < 0 && !(p[1].revents & POLLIN)) {
			pid_t r = waitpid(pid, &status, WNOHANG);

			if (r == pid) {
				reaped = true;
				break;
			}
			if (r < 0 && errno != EINTR)
				return -1; /* not a child of ours */
		}
		if (rc == 0) { /* a quiet second passed: time for progress */
			if (now_ms() >= next_tick) {
				next_tick = now_ms() + 1000;
				if (after)
					after(ctx, NULL);
			}
			continue;
		}
		/* Hooks first: criu may be waiting on one while it exits. */
		if (p[1].revents & POLLIN) {
			if (answer_one(h, fn, ctx, action, sizeof(action)) == 0 && after)
				after(ctx, action);
			next_tick = now_ms() + 1000;
			continue;
		}
		if (p[0].revents & POLLIN)
			break;
	}
	if (pidfd >= 0)
		close(pidfd);
	while (!reaped && waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

