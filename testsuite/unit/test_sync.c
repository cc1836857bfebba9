/* Which files crmig mirrors for a process tree: what the processes hold
 * (open for writing: sent again while frozen; only read: when changed; the
 * working directory: the directory itself), and that a tree the user named
 * with --sync is never narrowed to its directory because a process works in
 * it (zdtm's tests lost their files that way). */
#include <check.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/un.h>
#include <unistd.h>

#include "migrate.h"
#include "util.h"
#include "unit.h"

static char dir[] = "/var/tmp/test_sync-XXXXXX";
static char old_cwd[PATH_MAX];

static void setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_ptr_nonnull(getcwd(old_cwd, sizeof(old_cwd)));
	ck_assert_int_eq(chdir(dir), 0);
}

static void teardown(void)
{
	ck_assert_int_eq(chdir(old_cwd), 0);
	remove_tree(dir);
	strcpy(dir, "/var/tmp/test_sync-XXXXXX");
}

static const char *kind_of(json_t *paths, const char *name)
{
	__do_free char *p = name ? xasprintf("%s/%s", dir, name) : xstrdup(dir);

	return json_string_value(json_object_get(paths, p));
}

START_TEST(test_held)
{
	json_auto_t *paths = json_object(), *pids = json_pack("[i]", (int)getpid());
	int w = open("written", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	int r;

	ck_assert_int_ge(w, 0);
	ck_assert_int_eq(write_file("read", "x", 1, 0644), 0);
	r = open("read", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(r, 0);
	sync_add_held_files(paths, pids, "");
	ck_assert_str_eq(kind_of(paths, "written"), "always");
	ck_assert_str_eq(kind_of(paths, "read"), "changed");
	ck_assert_str_eq(kind_of(paths, NULL), "dir");
	close(w);
	close(r);
}
END_TEST

START_TEST(test_named_tree_stays_a_tree)
{
	json_auto_t *paths = json_object(), *pids = json_pack("[i]", (int)getpid());

	json_object_set_new(paths, dir, json_string("tree"));
	sync_add_held_files(paths, pids, "");
	ck_assert_str_eq(kind_of(paths, NULL), "tree");
}
END_TEST

START_TEST(test_tree_skips_sockets)
{
	json_auto_t *entries = json_object();
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_eq(mkdir("sub", 0755), 0);
	ck_assert_int_eq(write_file("sub/file", "x", 1, 0644), 0);
	ck_assert_int_eq(mkfifo("fifo", 0600), 0);
	ck_assert_int_eq(symlink("sub/file", "link"), 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/sock", dir);
	ck_assert_int_eq(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(sync_walk_tree(entries, dir), 0);
	ck_assert_ptr_nonnull(kind_of(entries, "sub/file"));
	ck_assert_ptr_nonnull(kind_of(entries, "sub"));
	ck_assert_ptr_nonnull(kind_of(entries, "fifo"));
	ck_assert_ptr_nonnull(kind_of(entries, "link"));
	/* criu binds a unix socket again on restore: mirroring one failed the whole migration */
	ck_assert_ptr_null(kind_of(entries, "sock"));
	close(s);
}
END_TEST

/* zdtm's console and vt make a terminal node in their own directory: it is
 * mirrored; /dev/mem's numbers are not. */
START_TEST(test_tree_device_nodes)
{
	json_auto_t *entries = json_object();

	if (geteuid() != 0) {
		fprintf(stderr, "SKIP test_tree_device_nodes: mknod needs root\n");
		return;
	}
	ck_assert_int_eq(mknod("null", S_IFCHR | 0600, makedev(1, 3)), 0);
	ck_assert_int_eq(mknod("mem", S_IFCHR | 0600, makedev(1, 1)), 0);
	ck_assert_int_eq(sync_walk_tree(entries, dir), 0);
	ck_assert_ptr_nonnull(kind_of(entries, "null"));
	ck_assert_ptr_null(kind_of(entries, "mem"));
}
END_TEST

/* A child holds a write lease on a file (zdtm's file_lease tests). Opening
 * it would block, and break the lease; the mirror reads it through the
 * holder's own description instead, and the holder keeps its lease and its
 * offset. */
static volatile sig_atomic_t lease_broken;

static void on_sigio(int sig)
{
	(void)sig;
	lease_broken = 1;
}

START_TEST(test_leased_file_is_read_without_breaking_the_lease)
{
	int ready[2], done[2];
	char buf[32] = "", status = 0;
	int fd, wstatus, pidfd;
	pid_t child;

	pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	if (pidfd < 0) {
		fprintf(stderr, "SKIP test_leased_file_is_read_without_breaking_the_lease: no pidfd_open here (%s; "
			"valgrind < 3.20 lacks it)\n", strerror(errno));
		return;
	}
	close(pidfd);
	ck_assert_int_eq(write_file("leased", "lease data 123", 14, 0644), 0);
	ck_assert_int_eq(pipe(ready), 0);
	ck_assert_int_eq(pipe(done), 0);
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		int lfd = open("leased", O_RDWR);
		char ok;

		signal(SIGIO, on_sigio);
		ok = lfd >= 0 && lseek(lfd, 5, SEEK_SET) == 5 && fcntl(lfd, F_SETLEASE, F_WRLCK) == 0 ? 'y' : 'n';
		if (write(ready[1], &ok, 1) != 1 || read(done[0], &ok, 1) != 1)
			_exit(3);
		/* still ours, never told to give it up, the offset where we left it */
		_exit(fcntl(lfd, F_GETLEASE) == F_WRLCK && !lease_broken && lseek(lfd, 0, SEEK_CUR) == 5 ? 0 : 1);
	}
	ck_assert_int_eq(read(ready[0], &status, 1), 1);
	ck_assert_msg(status == 'y', "the child could not take a write lease");
	/* (any open(), even O_NONBLOCK, would start breaking the lease: what the mirror did before) */
	fd = sync_open_for_copy("leased");
	ck_assert_msg(fd >= 0, "sync_open_for_copy: %s", strerror(errno));
	ck_assert_int_eq(pread(fd, buf, sizeof(buf) - 1, 0), 14);
	ck_assert_str_eq(buf, "lease data 123");
	close(fd);
	ck_assert_int_eq(write(done[1], "x", 1), 1);
	ck_assert_int_eq(waitpid(child, &wstatus, 0), child);
	ck_assert_msg(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0, "the holder lost its lease or its offset (%d)",
		      wstatus);
	/* an empty file the holder has open for writing only: nothing to
	 * borrow that reads, and nothing to read either */
	ck_assert_int_eq(write_file("wronly", "", 0, 0644), 0);
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		int lfd = open("wronly", O_WRONLY);
		char ok;

		signal(SIGIO, on_sigio);
		ok = lfd >= 0 && fcntl(lfd, F_SETLEASE, F_WRLCK) == 0 ? 'y' : 'n';
		if (write(ready[1], &ok, 1) != 1 || read(done[0], &ok, 1) != 1)
			_exit(3);
		_exit(fcntl(lfd, F_GETLEASE) == F_WRLCK && !lease_broken ? 0 : 1);
	}
	ck_assert_int_eq(read(ready[0], &status, 1), 1);
	ck_assert(status == 'y');
	fd = sync_open_for_copy("wronly");
	ck_assert_msg(fd >= 0, "sync_open_for_copy(wronly): %s", strerror(errno));
	{
		struct stat st;

		ck_assert_int_eq(fstat(fd, &st), 0);
		ck_assert(S_ISREG(st.st_mode) && st.st_size == 0);
	}
	close(fd);
	ck_assert_int_eq(write(done[1], "x", 1), 1);
	ck_assert_int_eq(waitpid(child, &wstatus, 0), child);
	ck_assert_msg(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0, "the holder lost its lease or its offset (%d)",
		      wstatus);
	close(ready[0]);
	close(ready[1]);
	close(done[0]);
	close(done[1]);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sync");
	TCase *tc = tcase_create("sync");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_held);
	tcase_add_test(tc, test_named_tree_stays_a_tree);
	tcase_add_test(tc, test_tree_skips_sockets);
	tcase_add_test(tc, test_tree_device_nodes);
	tcase_add_test(tc, test_leased_file_is_read_without_breaking_the_lease);
	suite_add_tcase(s, tc);
	return unit_run(s) ? 1 : 0;
}
