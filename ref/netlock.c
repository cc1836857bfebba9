/* Undoing criu's network lock when criu could not (netlock.h). */
#include <ctype.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nftables/libnftables.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "migrate.h"
#include "net.h"
#include "netlock.h"
#include "proc.h"
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

/* criu's table is "CRIU-" and its run id (criu 3.19+; the root's pid before):
 * nothing else is ours to delete, and the name goes into a command. */
static bool criu_table_name(const char *name)
{
	if (!name || strncmp(name, "CRIU-", 5) || !name[5] || strlen(name) > 64)
		return false;
	for (const char *p = name + 5; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
			return false;
	return true;
}

struct nft_job {
	int nsfd;
	int lifted;
};

/* A thread of its own, because setns() moves only the calling thread and
 * libnftables' netlink socket stays in the namespace it was opened in. */
static void *lift_nft_tables(void *arg)
{
	struct nft_job *j = arg;
	json_auto_t *list = NULL;
	struct nft_ctx *nft;
	size_t i;
	json_t *v;

	if (setns(j->nsfd, CLONE_NEWNET) < 0 || !(nft = nft_ctx_new(NFT_CTX_DEFAULT)))
		return NULL;
	nft_ctx_output_set_flags(nft, NFT_CTX_OUTPUT_JSON);
	nft_ctx_buffer_output(nft);
	nft_ctx_buffer_error(nft);
	if (nft_run_cmd_from_buffer(nft, "list tables inet") == 0)
		list = json_loads(nft_ctx_get_output_buffer(nft), 0, NULL);
	json_array_foreach(json_object_get(list, "nftables"), i, v) {
		const char *name = json_string_value(json_object_get(json_object_get(v, "table"), "name"));
		__do_free char *cmd = NULL;

		if (!criu_table_name(name))
			continue;
		cmd = xasprintf("delete table inet %s", name);
		if (nft_run_cmd_from_buffer(nft, cmd) == 0)
			j->lifted++;
	}
	nft_ctx_free(nft);
	return NULL;
}

/* criu's unlock of its iptables lock (criu/net.c), for one of iptables and
 * ip6tables, when its chain is there. */
static int lift_iptables_chain(int nsfd, const char *tool)
{
	static const char unlock[] = "*filter\n"
				     ":CRIU - [0:0]\n"
				     "-D INPUT -j CRIU\n"
				     "-D OUTPUT -j CRIU\n"
				     "-X CRIU\n"
				     "COMMIT\n";
	__do_free char *restore = xasprintf("%s-restore", tool);
	char *check[] = { (char *)tool, "-w", "-t", "filter", "-S", "CRIU", NULL };
	char *apply[] = { restore, "-w", "--noflush", NULL };
	struct proc_opts o = PROC_OPTS_DEFAULT;
	struct proc_result r;
	__do_close int in = memfd_create("crmig-unlock", MFD_CLOEXEC);
	int status;

	o.netns_fd = nsfd;
	o.timeout_s = 20;
	if (proc_run(check, &o, &r) < 0)
		return 0;
	status = r.status;
	proc_result_free(&r);
	if (status != 0 || in < 0 || write_full(in, unlock, strlen(unlock)) < 0 || lseek(in, 0, SEEK_SET) < 0)
		return 0; /* no chain CRIU: criu did not lock, or unlocked */
	o.stdin_fd = in;
	if (proc_run(apply, &o, &r) < 0)
		return 0;
	status = r.status;
	if (status != 0)
		fprintf(stderr, "crmig: %s could not lift criu's lock in the workload's network namespace: %s", restore,
			r.err);
	proc_result_free(&r);
	return status == 0;
}

int netlock_release_netns(pid_t root, const char *netns_lock)
{
	__do_free char *path = xasprintf("/proc/%d/ns/net", root);
	__do_close int nsfd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat ours, theirs;
	struct nft_job job = { .nsfd = nsfd };
	pthread_t t;

	if (nsfd < 0 || fstat(nsfd, &theirs) < 0)
		return -1;
	if (stat("/proc/self/ns/net", &ours) == 0 && ours.st_ino == theirs.st_ino && ours.st_dev == theirs.st_dev)
		return 0; /* the host's: its rules are net_drop_criu_lock_rules' */
	if (pthread_create(&t, NULL, lift_nft_tables, &job) == 0)
		pthread_join(t, NULL);
	if (!netns_lock || strcmp(netns_lock, "nftables"))
		job.lifted += lift_iptables_chain(nsfd, "iptables") + lift_iptables_chain(nsfd, "ip6tables");
	return job.lifted;
}

int netlock_release(pid_t root, const char *rules_before, const char *netns_lock)
{
	int sockets = netlock_unrepair_tree(root);
	int rules = rules_before ? net_drop_criu_lock_rules(NULL, rules_before) : 0;
	int netns = root > 1 ? netlock_release_netns(root, netns_lock) : 0;

	return (sockets > 0 ? sockets : 0) + (rules > 0 ? rules : 0) + (netns > 0 ? netns : 0);
}
