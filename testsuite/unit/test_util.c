/* The helpers in ref/util.c that every file leans on: here, the one atomic
 * file write (reports, keys, session records all go through it). */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proc.h"
#include "util.h"
#include "unit.h"

static char dir[] = "/tmp/crmig-test-util-XXXXXX";

static void setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	remove_tree(dir);
	strcpy(dir, "/tmp/crmig-test-util-XXXXXX");
}

static int entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

START_TEST(test_atomic_write_replaces)
{
	__do_free char *path = xasprintf("%s/report.json", dir);
	__do_free char *text = NULL;
	struct stat st;
	mode_t old = umask(0077);

	ck_assert_int_eq(write_file(path, "old", 3, 0600), 0);
	ck_assert_int_eq(write_file_atomic(path, "new text\n", 9, 0644), 0);
	umask(old);
	text = read_file(path, NULL);
	ck_assert_str_eq(text, "new text\n");
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0644); /* the mode asked for, whatever the umask */
	ck_assert_int_eq(entries(dir), 1);          /* no temporary file left */
	ck_assert_int_eq(write_file_atomic(path, "", 0, 0600), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, 0);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
}
END_TEST

START_TEST(test_atomic_write_fails_cleanly)
{
	__do_free char *missing = xasprintf("%s/no/such/dir/file", dir);
	__do_free char *sub = xasprintf("%s/sub", dir);
	__do_free char *inner = xasprintf("%s/sub/keep", dir);

	errno = 0;
	ck_assert_int_eq(write_file_atomic(missing, "x", 1, 0644), -1);
	ck_assert_int_eq(errno, ENOENT);
	/* a directory in the way: the rename fails, the old content stays and
	 * the temporary file goes */
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	ck_assert_int_eq(write_file(inner, "kept", 4, 0600), 0);
	errno = 0;
	ck_assert_int_eq(write_file_atomic(sub, "x", 1, 0644), -1);
	ck_assert(errno == EISDIR || errno == ENOTEMPTY || errno == EEXIST);
	ck_assert_int_eq(entries(dir), 1);
	ck_assert_int_eq(entries(sub), 1);
}
END_TEST

/* Exit statuses in messages: a killed criu says so, rather than "exited 137". */
/* The reason goes into the caller's buffer, cut to its size, or nowhere. */
START_TEST(test_fail_why)
{
	char why[8] = "x";

	ck_assert_int_eq(fail_why(why, sizeof(why), "no %s here", "tls"), -1);
	ck_assert_str_eq(why, "no tls ");
	ck_assert_int_eq(fail_why(NULL, 0, "ignored %d", 1), -1);
	ck_assert_int_eq(fail_why(why, 0, "not written"), -1);
	ck_assert_str_eq(why, "no tls ");
}
END_TEST

START_TEST(test_status_text)
{
	char buf[48];

	ck_assert_str_eq(proc_status_text(0, buf, sizeof(buf)), "exited 0");
	ck_assert_str_eq(proc_status_text(1, buf, sizeof(buf)), "exited 1");
	ck_assert_str_eq(proc_status_text(128 + SIGKILL, buf, sizeof(buf)), "was killed by SIGKILL");
	ck_assert_str_eq(proc_status_text(128 + SIGSEGV, buf, sizeof(buf)), "was killed by SIGSEGV");
	ck_assert_str_eq(proc_status_text(128, buf, sizeof(buf)), "exited 128");
	ck_assert_str_eq(proc_status_text(255, buf, sizeof(buf)), "exited 255");
	ck_assert_str_eq(proc_status_text(-1, buf, sizeof(buf)), "exited -1");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("util");
	TCase *tc = tcase_create("util");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_atomic_write_replaces);
	tcase_add_test(tc, test_atomic_write_fails_cleanly);
	tcase_add_test(tc, test_status_text);
	tcase_add_test(tc, test_fail_why);
	suite_add_tcase(s, tc);
	return unit_run(s) ? 1 : 0;
}
