/* What a failed migration's report says beyond crmig's reason: the last
 * error lines of every criu/lxc log (log_excerpt.c) and the known upstream
 * bug they match (known_bugs.c, the table crmig and the suite share). */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "known_bugs.h"
#include "log_excerpt.h"
#include "util.h"
#include "unit.h"

static char dir[] = "/tmp/crmig-test-excerpt-XXXXXX";

static void put(const char *rel, const char *text)
{
	__do_free char *path = xasprintf("%s/%s", dir, rel);

	ck_assert_int_eq(write_file(path, text, strlen(text), 0600), 0);
}

static void setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	remove_tree(dir);
	strcpy(dir + strlen(dir) - 6, "XXXXXX");
}

START_TEST(test_tail_keeps_the_last_error_lines_in_order)
{
	__do_free char *log = xstrdup("");
	json_t *lines;

	for (int i = 0; i < 30; i++) {
		char *more = xasprintf("%s(00.%02d) Error (criu/x.c:%d): e%d\n(00.%02d) fine\n", log, i, i, i, i);

		free(log);
		log = more;
	}
	put("dump.log", log);
	{
		__do_free char *path = xasprintf("%s/dump.log", dir);

		lines = log_error_tail(path, LOG_EXCERPT_LINES);
	}
	ck_assert_int_eq(json_array_size(lines), LOG_EXCERPT_LINES);
	ck_assert(strstr(json_string_value(json_array_get(lines, 0)), ": e10"));
	ck_assert(strstr(json_string_value(json_array_get(lines, LOG_EXCERPT_LINES - 1)), ": e29"));
	json_decref(lines);
}
END_TEST

START_TEST(test_excerpts_of_a_tree)
{
	__do_free char *sub = xasprintf("%s/final", dir), *dest = xasprintf("%s/destination", dir);
	json_t *ex;

	mkdir(sub, 0700);
	mkdir(dest, 0700);
	put("final/lxc.log", "lxc web1 1.0 INFO start\nlxc web1 1.1 ERROR criu - exec_criu - Failed getting freezer path\n");
	put("final/dump.log", "(00.1) all good\n");
	put("final/pages-1.img", "Error in an image is not a log line\n");
	put("destination/restore.log", "(00.2) Error (criu/cr-restore.c:1): on b\n");
	/* odd bytes in a log do not lose the line */
	put("final/odd.log", "(00.3) Error: \xff\xfe path\n");
	ex = log_excerpts(dir, "destination");
	ck_assert_int_eq(json_array_size(ex), 2);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(ex, 0), "file")), "final/lxc.log");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(ex, 1), "file")), "final/odd.log");
	ck_assert(strstr(json_string_value(json_array_get(json_object_get(json_array_get(ex, 1), "lines"), 0)), "??"));
	ck_assert(known_bug_find(KB_SEEN_CRMIG, "lxc",
				 json_string_value(json_array_get(json_object_get(json_array_get(ex, 0), "lines"), 0)),
				 (size_t)-1));
	json_decref(ex);
	ex = log_excerpts(dest, NULL);
	ck_assert_int_eq(json_array_size(ex), 1);
	json_decref(ex);
}
END_TEST

/* A log that grew without end (criu's restorer in a loop) is sent cut: its
 * start, a line saying what was left out, and its end, where the error is. */
START_TEST(test_trimmed_copy)
{
	__do_free char *path = xasprintf("%s/restore.log", dir);
	__do_free char *big = xmalloc(100001);
	__do_close int fd = -1, cut = -1;
	struct stat st;
	char *text;

	for (size_t i = 0; i < 100000; i++)
		big[i] = (char)('a' + i % 26);
	memcpy(big, "START", 5);
	memcpy(big + 100000 - 14, "Error (final)\n", 14);
	big[100000] = '\0';
	put("restore.log", big);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(log_trimmed_copy(fd, 100000), -1); /* not longer than max: sent as it is */
	cut = log_trimmed_copy(fd, 4000);
	ck_assert_int_ge(cut, 0);
	ck_assert_int_eq(fstat(cut, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	text = xzalloc((size_t)st.st_size + 1);
	ck_assert_int_eq(pread(cut, text, (size_t)st.st_size, 0), st.st_size);
	ck_assert(!strncmp(text, "START", 5));
	ck_assert(!strncmp(text + 5, big + 5, 995));               /* the first quarter */
	ck_assert_msg(strstr(text, "\n[crmig: 96000 bytes of this log left out here; it had 100000]\n"), "%.1200s", text);
	ck_assert(!strcmp(text + st.st_size - 3000, big + 100000 - 3000)); /* the last three quarters */
	ck_assert(st.st_size < 4100);
	free(text);
	ck_assert_int_eq(log_trimmed_copy(-1, 10), -1);
}
END_TEST

START_TEST(test_known_bug_table)
{
	const struct known_bug *k = known_bug_find(KB_SEEN_CRMIG, "lxc", "ERROR - Failed getting freezer path", (size_t)-1);

	ck_assert_ptr_nonnull(k);
	ck_assert(!strncmp(k->bug, "lxc#4643", 8));
	/* narrow: another mode, another text, or text only the suite sees */
	ck_assert_ptr_null(known_bug_find(KB_SEEN_CRMIG, "bare", "Failed getting freezer path", (size_t)-1));
	ck_assert_ptr_null(known_bug_find(KB_SEEN_CRMIG, "lxc", "Failed getting the freezer", (size_t)-1));
	ck_assert_ptr_null(known_bug_find(KB_SEEN_CRMIG, "lxc",
					  "cgroup2_mount was \"rw,relatime - cgroup2 cgroup2 rw,nsdelegate\"", (size_t)-1));
	ck_assert_ptr_nonnull(known_bug_find(KB_SEEN_SUITE, "lxc",
					     "cgroup2_mount was \"rw,relatime - cgroup2 cgroup2 rw,nsdelegate\"", (size_t)-1));
	ck_assert_ptr_null(known_bug_find(KB_SEEN_CRMIG, "lxc", NULL, 0));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("log_excerpt");
	TCase *tc = tcase_create("excerpts");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_tail_keeps_the_last_error_lines_in_order);
	tcase_add_test(tc, test_excerpts_of_a_tree);
	tcase_add_test(tc, test_known_bug_table);
	tcase_add_test(tc, test_trimmed_copy);
	suite_add_tcase(s, tc);
	return unit_run(s) ? 1 : 0;
}
