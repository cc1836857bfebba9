/* Undoing criu's network lock when criu could not (netlock.h). */
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "migrate.h"
#include "net.h"
#include "netlock.h"
#include "procfs.h"
#include "util.h"

#ifndef TCP_REPAIR
#define TCP_REPAIR 19
#endif

/* 1: fd was a TCP socket in repair mode and is out of it now. */
static int unrepair_fd(int fd)
{
	int proto = 0, on = 0, off = 0;
	socklen_t len = sizeof(proto);
	struct stat st;

	if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode) ||
	    getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) < 0 || proto != IPPROTO_TCP)
		return 0;
	len = sizeof(on);
	if (getsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &on, &len) < 0 || !on)
		return 0;
	/* TCP_REPAIR_OFF: the kernel sends a window probe, so the peer learns
	 * at once that this end is back */
	return setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &off, sizeof(off)) == 0;
}

static int unrepair_pid(pid_t pid)
{
	__do_free char *dir = xasprintf("/proc/%d/fd", pid);
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	DIR *fds = pidfd >= 0 ? opendir(dir) : NULL;
	struct dirent *e;
	int n = 0;

	while (fds && (e = readdir(fds))) {
		int fd;

		if (e->d_name[0] == '.')
			continue;
		fd = (int)syscall(SYS_pidfd_getfd, pidfd, atoi(e->d_name), 0);
		if (fd >= 0) {
			n += unrepair_fd(fd);
			close(fd);
		}
	}
	if (fds)
		closedir(fds);
	if (pidfd >= 0)
		close(pidfd);
	return n;
}

int netlock_unrepair_tree(pid_t root)
{
	json_auto_t *pids = json_array(), *tids = json_array();
	size_t i;
	json_t *v;
	int n = 0;

	if (root <= 1 || kill(root, 0) < 0)
		return -1;
	proc_collect_tree(root, pids, tids);
	json_array_foreach(pids, i, v)
		n += unrepair_pid((pid_t)json_integer_value(v));
	return n;
}

int netlock_release(pid_t root, const char *rules_before)
{
	int sockets = netlock_unrepair_tree(root);
	int rules = rules_before ? net_drop_criu_lock_rules(NULL, rules_before) : 0;

	return (sockets > 0 ? sockets : 0) + (rules > 0 ? rules : 0);
}
