/* /proc/PID/stat and process trees (ref/procfs.c): the one parser every
 * reader of a stat line uses, and ending a tree that forks while it dies. */
#include <check.h>
#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "procfs.h"
#include "util.h"
#include "unit.h"

/* A real line (kernel 6.12), its command name with a space and a ')'. */
static const char line[] = "4242 (a) b (c) S 17 4242 4242 34816 4242 4194560 120 0 0 0 3 1 0 0 20 0 3 0 "
			   "987654 12345678 512 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0";

START_TEST(test_parse_fields)
{
	struct proc_stat st;

	ck_assert_int_eq(proc_stat_parse(line, &st), 0);
	ck_assert_str_eq(st.comm, "a) b (c");
	ck_assert_int_eq(st.state, 'S');
	ck_assert_int_eq(st.ppid, 17);
	ck_assert_int_eq(st.pgrp, 4242);
	ck_assert_int_eq(st.sid, 4242);
	ck_assert_int_eq(st.tty, 34816);
	ck_assert_uint_eq(st.flags, 4194560);
	ck_assert_int_eq(st.threads, 3);
	ck_assert_uint_eq(st.start, 987654);
	ck_assert_int_eq(st.rss, 512);
}
END_TEST

START_TEST(test_parse_refuses)
{
	struct proc_stat st;
	char cut[sizeof(line)], ctl[] = "1 (x\x01y\x7f) R 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0 7";

	ck_assert_int_eq(proc_stat_parse(NULL, &st), -1);
	ck_assert_int_eq(proc_stat_parse("", &st), -1);
	ck_assert_int_eq(proc_stat_parse("1 x) S 0", &st), -1);   /* no '(' */
	ck_assert_int_eq(proc_stat_parse("1 )x( S 0", &st), -1);  /* ')' before '(' */
	snprintf(cut, sizeof(cut), "%.60s", line);               /* ends before starttime */
	ck_assert_int_eq(proc_stat_parse(cut, &st), -1);
	ck_assert_int_eq(proc_stat_parse(ctl, &st), 0);          /* control bytes shown as '?' */
	ck_assert_str_eq(st.comm, "x?y?");
	ck_assert_uint_eq(st.start, 5);
}
END_TEST

START_TEST(test_read_self)
{
	struct proc_stat st;

	ck_assert_int_eq(proc_stat_read(getpid(), &st), 0);
	ck_assert_int_eq(st.ppid, getppid());
	ck_assert_int_eq(st.pgrp, getpgrp());
	ck_assert_int_eq(st.state, 'R');
	ck_assert_uint_gt(proc_start_time(getpid()), 0);
	ck_assert_uint_eq(proc_start_time(getpid()), st.start);
	ck_assert_int_eq(proc_stat_read(0, &st), -1);
	ck_assert_uint_eq(proc_start_time(-1), 0);
}
END_TEST

/* Processes of process group pgrp that are not zombies. */
static int alive_in_group(pid_t pgrp)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d))) {
		struct proc_stat st;
		int pid = atoi(e->d_name);

		if (pid > 0 && proc_stat_read(pid, &st) == 0 && st.pgrp == pgrp && st.state != 'Z')
			n++;
	}
	if (d)
		closedir(d);
	return n;
}

/* A tree that forks while it is ended: one of its processes starts a new
 * child every half millisecond. Nobody may be left, not even the children
 * forked during the walk. The tree is a process group of its own, so that
 * the test can count what is left (and, should it fail, end it). */
START_TEST(test_kill_growing_tree)
{
	int ready[2];
	pid_t root;
	int left;
	char c;

	ck_assert_int_eq(pipe(ready), 0);
	root = fork();
	ck_assert_int_ge(root, 0);
	if (root == 0) {
		setpgid(0, 0);
		if (fork() == 0) {
			for (int i = 0; i < 400; i++) {
				if (fork() == 0)
					for (;;)
						pause();
				if (i == 20 && write(ready[1], "x", 1) != 1)
					_exit(1);
				usleep(500);
			}
			for (;;)
				pause();
		}
		for (;;)
			pause();
	}
	setpgid(root, root); /* either of us may get there first */
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	ck_assert_int_gt(alive_in_group(root), 20);
	proc_kill_tree(root);
	waitpid(root, NULL, 0);
	for (int i = 0; i < 300 && alive_in_group(root); i++)
		usleep(10 * 1000);
	left = alive_in_group(root);

	kill(-root, SIGKILL);
	ck_assert_msg(left == 0, "%d processes of the tree outlived the kill", left);
	close(ready[0]);
	close(ready[1]);
	proc_kill_tree(0); /* harmless */
	proc_kill_tree(1); /* never init */
}
END_TEST

int main(void)
{
	Suite *s = suite_create("procfs");
	TCase *tc = tcase_create("procfs");

	tcase_add_test(tc, test_parse_fields);
	tcase_add_test(tc, test_parse_refuses);
	tcase_add_test(tc, test_read_self);
	tcase_add_test(tc, test_kill_growing_tree);
	suite_add_tcase(s, tc);
	return unit_run(s) ? 1 : 0;
}
