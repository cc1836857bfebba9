/* Undoing criu's network lock when criu could not (netlock.h). */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>

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

static int unrepair_one(void *ctx, const struct proc_fd *f)
{
	int *n = ctx, fd = proc_fd_borrow(f);

	if (fd >= 0) {
		*n += unrepair_fd(fd);
		close(fd);
	}
	return 0;
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
		proc_each_fd((pid_t)json_integer_value(v), unrepair_one, &n);
	return n;
}

int netlock_release(pid_t root, const char *rules_before)
{
	int sockets = netlock_unrepair_tree(root);
	int rules = rules_before ? net_drop_criu_lock_rules(NULL, rules_before) : 0;

	return (sockets > 0 ? sockets : 0) + (rules > 0 ? rules : 0);
}
