/* Lifting what criu's network lock left (ref/netlock.c). A process holds
 * an established TCP connection in repair mode, as a tree criu resumed
 * after a failed lazy page transfer does (its recv() fails with EPERM);
 * netlock_unrepair_tree() must take that socket out of repair mode, leave
 * the others alone, and the connection must go on: bytes sent while it
 * was locked arrive. */
#include <check.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "netlock.h"
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

int main(void)
{
	Suite *s = suite_create("netlock");
	TCase *tc = tcase_create("netlock");

	tcase_add_test(tc, test_unrepair);
	suite_add_tcase(s, tc);
	return unit_run(s) ? 1 : 0;
}
