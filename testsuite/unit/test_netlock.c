/* Lifting what criu's network lock left (ref/netlock.c). A process holds
 * an established TCP connection in repair mode, as a tree criu resumed
 * after a failed lazy page transfer does (its recv() fails with EPERM);
 * netlock_unrepair_tree() must take that socket out of repair mode, leave
 * the others alone, and the connection must go on: bytes sent while it
 * was locked arrive.
 *
 * And a workload in its own network namespace (a container) that criu
 * locked from inside, as a criu killed after its network lock leaves it:
 * netlock_release_netns() must lift criu's nftables table or iptables
 * chain and nothing else, and the namespace's loopback must answer again. */
#include <check.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <nftables/libnftables.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "netlock.h"
#include "proc.h"
#include "util.h"
#include "unit.h"

#ifndef TCP_REPAIR
#define TCP_REPAIR 19
#endif

static int listener(struct sockaddr_in *sa)
{
	socklen_t len = sizeof(*sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	*sa = (struct sockaddr_in){ .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)sa, sizeof(*sa)), 0);
	ck_assert_int_eq(listen(fd, 4), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)sa, &len), 0);
	return fd;
}

static int connected(const struct sockaddr_in *sa)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0)
		_exit(10);
	return fd;
}

/* The child's report, one byte each: 'E' its recv failed with EPERM while
 * locked; then what it received once told to go on. */
START_TEST(test_unrepair)
{
	struct sockaddr_in sa;
	int lfd, ours[2], go[2], report[2], status, locked, plain;
	char got[8] = "";
	pid_t child;

	int probe;

	if (geteuid() != 0) {
		fprintf(stderr, "test_netlock: SKIP: TCP_REPAIR needs CAP_NET_ADMIN (run as root)\n");
		return;
	}
	probe = (int)syscall(SYS_pidfd_open, getpid(), 0);
	if (probe < 0 && errno == ENOSYS) {
		/* valgrind < 3.20 knows no pidfd_open: the plain pass ran it */
		fprintf(stderr, "test_netlock: SKIP: no pidfd_open here (valgrind < 3.20?)\n");
		return;
	}
	close(probe);
	lfd = listener(&sa);
	ck_assert_int_eq(pipe(go), 0);
	ck_assert_int_eq(pipe(report), 0);
	child = fork();
	if (child == 0) {
		int on = 1, fd = connected(&sa), other = connected(&sa);
		char c, buf[8] = "";

		alarm(20); /* never outlives a parent that failed */
		(void)other; /* a second connection, never in repair mode */
		if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &on, sizeof(on)) < 0)
			_exit(11);
		c = recv(fd, buf, 1, MSG_DONTWAIT) < 0 && errno == EPERM ? 'E' : '?';
		if (write(report[1], &c, 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(12);
		if (recv(fd, buf, 5, MSG_WAITALL) != 5 || write(report[1], buf, 5) != 5)
			_exit(13);
		_exit(0);
	}
	ck_assert_int_gt(child, 0);
	ours[0] = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	ours[1] = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	ck_assert(ours[0] >= 0 && ours[1] >= 0);
	ck_assert_int_eq(read(report[0], got, 1), 1);
	ck_assert_msg(got[0] == 'E', "the child's locked socket did not refuse recv with EPERM (%c)", got[0]);
	/* sent while the socket is in repair mode: it must still arrive */
	ck_assert_int_eq(send(ours[0], "hello", 5, 0), 5);
	locked = netlock_unrepair_tree(child);
	ck_assert_int_eq(locked, 1);
	plain = netlock_unrepair_tree(child); /* nothing left to do */
	ck_assert_int_eq(plain, 0);
	ck_assert_int_eq(write(go[1], "g", 1), 1);
	ck_assert_int_eq(read_full(report[0], got, 5), 0);
	ck_assert_int_eq(memcmp(got, "hello", 5), 0);
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
	ck_assert_int_eq(netlock_unrepair_tree(child), -1); /* gone */
	close(ours[0]);
	close(ours[1]);
	close(lfd);
}
END_TEST

/* In the caller's namespace: does a TCP connect to a loopback listener
 * complete within a second? A locked namespace drops the SYN. */
static char loopback_answers(void)
{
	struct sockaddr_in sa;
	int lfd = listener(&sa), fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), err = 0;
	socklen_t len = sizeof(err);
	struct pollfd p = { .fd = fd, .events = POLLOUT };

	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS)
		err = errno;
	else if (poll(&p, 1, 1000) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = ETIMEDOUT;
	close(fd);
	close(lfd);
	return err ? 'N' : 'Y';
}

static int nft_cmd(const char *cmd)
{
	struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
	int ret;

	nft_ctx_buffer_output(nft);
	nft_ctx_buffer_error(nft);
	ret = nft_run_cmd_from_buffer(nft, cmd);
	nft_ctx_free(nft);
	return ret;
}

/* criu's two locks, as criu/net.c sets them up, plus what is not criu's:
 * a table of the namespace's own and a CRIU-named table of another family */
static int lock_nftables(void)
{
	return nft_cmd("add table inet CRIU-4242-1733\n"
		       "add chain inet CRIU-4242-1733 input { type filter hook input priority 0; policy drop; }\n"
		       "add chain inet CRIU-4242-1733 output { type filter hook output priority 0; policy drop; }\n"
		       "add table inet keep\n"
		       "add table ip CRIU-not-inet\n");
}

static int lock_iptables(void)
{
	char *rules[][11] = {
		{ "iptables", "-w", "-N", "CRIU", NULL },
		{ "iptables", "-w", "-I", "INPUT", "-j", "CRIU", NULL },
		{ "iptables", "-w", "-I", "OUTPUT", "-j", "CRIU", NULL },
		{ "iptables", "-w", "-A", "CRIU", "-m", "mark", "--mark", "0xc114", "-j", "ACCEPT", NULL },
		{ "iptables", "-w", "-A", "CRIU", "-j", "DROP", NULL },
	};

	for (size_t i = 0; i < ARRAY_SIZE(rules); i++)
		if (proc_simple(rules[i], 20) != 0)
			return -1;
	return 0;
}

/* A child in a namespace of its own with loopback up, locked by lock();
 * its report: whether loopback answered while locked, after the parent's
 * go, and (nftables) whether its own table is still there. */
static void locked_namespace_child(int (*lock)(void), int ready, int go)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int fd;
	char r[3], c;

	alarm(30);
	if (unshare(CLONE_NEWNET) < 0)
		_exit(20);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		_exit(21);
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		_exit(22);
	if (loopback_answers() != 'Y' || lock() < 0)
		_exit(23);
	r[0] = loopback_answers();
	if (write(ready, r, 1) != 1 || read(go, &c, 1) != 1)
		_exit(24);
	r[1] = loopback_answers();
	r[2] = nft_cmd("list table inet keep") == 0 ? 'K' : '-';
	_exit(write(ready, r + 1, 2) == 2 ? 0 : 25);
}

static void check_netns_lock(int (*lock)(void), const char *method, int expect_lifted, bool expect_keep)
{
	int ready[2], go[2], status;
	char got[3] = "";
	pid_t child;

	ck_assert_int_eq(pipe(ready), 0);
	ck_assert_int_eq(pipe(go), 0);
	child = fork();
	if (child == 0)
		locked_namespace_child(lock, ready[1], go[0]);
	ck_assert_int_gt(child, 0);
	close(ready[1]);
	ck_assert_msg(read(ready[0], got, 1) == 1, "the child could not make a locked namespace");
	ck_assert_msg(got[0] == 'N', "%s: loopback answered through the lock", method);
	ck_assert_int_eq(netlock_release_netns(child, method), expect_lifted);
	ck_assert_int_eq(netlock_release_netns(child, method), 0); /* nothing left */
	ck_assert_int_eq(write(go[1], "g", 1), 1);
	ck_assert_int_eq(read_full(ready[0], got + 1, 2), 0);
	ck_assert_msg(got[1] == 'Y', "%s: the namespace's loopback is still dead after the release", method);
	ck_assert_msg(got[2] == (expect_keep ? 'K' : '-'), "%s: a table that is not criu's went (%c)", method, got[2]);
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
	ck_assert_int_eq(netlock_release_netns(child, method), -1); /* gone */
	close(ready[0]);
	close(go[0]);
	close(go[1]);
}

static bool can_unshare_net(const char *what)
{
	pid_t pid;
	int status;

	if (geteuid() != 0) {
		fprintf(stderr, "test_netlock: SKIP %s: a network namespace needs CAP_SYS_ADMIN (run as root)\n", what);
		return false;
	}
	pid = fork();
	if (pid == 0)
		_exit(unshare(CLONE_NEWNET) == 0 ? 0 : 1);
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "test_netlock: SKIP %s: unshare(CLONE_NEWNET) is refused here\n", what);
		return false;
	}
	return true;
}

START_TEST(test_netns_nftables)
{
	if (can_unshare_net("nftables"))
		check_netns_lock(lock_nftables, "nftables", 1, true);
}
END_TEST

START_TEST(test_netns_iptables)
{
	char *probe[] = { "iptables", "-w", "-S", "INPUT", NULL };

	if (!can_unshare_net("iptables"))
		return;
	if (proc_simple(probe, 20) != 0) {
		fprintf(stderr, "test_netlock: SKIP iptables: no working iptables here (apt install iptables)\n");
		return;
	}
	check_netns_lock(lock_iptables, "iptables", 1, false);
}
END_TEST

START_TEST(test_netns_host)
{
	/* the host's namespace: its rules are net_drop_criu_lock_rules' */
	ck_assert_int_eq(netlock_release_netns(getpid(), "nftables"), 0);
	ck_assert_int_eq(netlock_release_netns(0x7ffffff0, "nftables"), -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("netlock");
	TCase *tc = tcase_create("netlock");

	tcase_add_test(tc, test_unrepair);
	tcase_add_test(tc, test_netns_nftables);
	tcase_add_test(tc, test_netns_iptables);
	tcase_add_test(tc, test_netns_host);
	suite_add_tcase(s, tc);
	return unit_run(s) ? 1 : 0;
}
