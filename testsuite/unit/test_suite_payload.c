/* crmig-suite without --payload (payload.c): where the sources are, which
 * image needs a payload, the arguments of vm-images/build-payload, when the
 * payload there is up to date; and a whole build with a stand-in
 * build-payload script, built once and then found up to date. */
#include <check.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <utime.h>

#include "../runner/runner.h"
#include "util.h"
#include "unit.h"

static char tmp[] = "/tmp/crmig-test-payload-XXXXXX";
static char top[PATH_MAX], exe[PATH_MAX], img[PATH_MAX];

static void put(const char *path, const char *text, int mode)
{
	__do_free char *copy = xstrdup(path);

	*strrchr(copy, '/') = '\0';
	ck_assert_int_eq(mkdir_p(copy, 0755), 0);
	ck_assert_int_eq(write_file(path, text, strlen(text), mode), 0);
}

static void putf(const char *dir, const char *rel, const char *text, int mode)
{
	__do_free char *p = xasprintf("%s/%s", dir, rel);

	put(p, text, mode);
}

/* A checkout (Makefile, ref/crmig.c, vm-images/build-payload), its
 * build/host where crmig-suite lives, and an image of sid. */
static void setup(void)
{
	char real[PATH_MAX];

	ck_assert_ptr_nonnull(mkdtemp(tmp));
	ck_assert_ptr_nonnull(realpath(tmp, real));
	snprintf(top, sizeof(top), "%s/src", real);
	snprintf(exe, sizeof(exe), "%s/build/host", top);
	snprintf(img, sizeof(img), "%s/cache/sid-0123456789abcdef", real);
	putf(top, "Makefile", "all:\n", 0644);
	putf(top, "ref/crmig.c", "int main(void) { return 0; }\n", 0644);
	putf(top, "vm-images/build-payload", "#!/bin/sh\nexit 1\n", 0755);
	ck_assert_int_eq(mkdir_p(exe, 0755), 0);
	putf(img, "manifest.json", "{\"distro\": \"sid\", \"key\": \"0123456789abcdef\"}\n", 0644);
	putf(img, ".complete", "0123456789abcdef\n", 0644);
	{
		__do_free char *bin = xasprintf("%s/rootfs/usr/bin", img);
		ck_assert_int_eq(mkdir_p(bin, 0755), 0);
	}
	unsetenv("CRMIG_SUITE_DATA");
}

static void teardown(void)
{
	remove_tree(tmp);
	strcpy(tmp, "/tmp/crmig-test-payload-XXXXXX");
	unsetenv("CRMIG_SUITE_DATA");
}

START_TEST(test_source_tree)
{
	__do_free char *found = payload_source_tree(exe);
	__do_free char *none = payload_source_tree(img);
	__do_free char *from_env = NULL;

	ck_assert_str_eq(found, top);
	ck_assert_ptr_null(none);
	setenv("CRMIG_SUITE_DATA", top, 1);
	from_env = payload_source_tree("/nonexistent");
	ck_assert_str_eq(from_env, top);
	/* a data directory that is not a checkout (an installed crmig-tests) is no source */
	setenv("CRMIG_SUITE_DATA", img, 1);
	ck_assert_ptr_null(payload_source_tree("/nonexistent"));
}
END_TEST

START_TEST(test_plan)
{
	struct payload_plan p;
	char err[2048] = "";
	char **argv;
	const char *want[] = { NULL, "--image", img, "--src", top, "--out", NULL, NULL };
	__do_free char *script = xasprintf("%s/vm-images/build-payload", top);
	__do_free char *out = xasprintf("%s/build/guest-sid", top);
	int i;

	ck_assert_int_eq(payload_plan(img, exe, &p, err, sizeof(err)), 1);
	ck_assert_str_eq(p.distro, "sid");
	ck_assert_str_eq(p.topdir, top);
	ck_assert_str_eq(p.script, script);
	ck_assert_str_eq(p.out, out);
	{
		__do_free char *disk = xasprintf("%s/payload.img", out);
		ck_assert_str_eq(p.payload, disk);
	}
	argv = payload_argv(&p);
	want[0] = script;
	want[6] = out;
	for (i = 0; want[i]; i++)
		ck_assert_str_eq(argv[i], want[i]);
	ck_assert_ptr_null(argv[i]);
	payload_argv_free(argv);
	/* with zdtm's tests, as make payload passes them */
	snprintf(p.zdtm, sizeof(p.zdtm), "/var/cache/crmig/zdtm/sid-x");
	argv = payload_argv(&p);
	ck_assert_str_eq(argv[7], "--zdtm");
	ck_assert_str_eq(argv[8], "/var/cache/crmig/zdtm/sid-x");
	ck_assert_ptr_null(argv[9]);
	payload_argv_free(argv);
}
END_TEST

START_TEST(test_plan_without_sources)
{
	struct payload_plan p;
	char err[2048] = "";

	ck_assert_int_eq(payload_plan(img, "/usr/libexec/installed-tests/crmig", &p, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "pass --payload FILE"), "%s", err);
	ck_assert_msg(strstr(err, "vm-images/build --distro sid --deb crmig_"), "%s", err);
	ck_assert_msg(strstr(err, img), "%s", err);
}
END_TEST

START_TEST(test_plan_image_kinds)
{
	struct payload_plan p;
	char err[2048] = "";
	__do_free char *manifest = xasprintf("%s/manifest.json", img);
	__do_free char *crmig = xasprintf("%s/rootfs/usr/bin/crmig", img);
	__do_free char *odd = xasprintf("%s/../weird", img);

	/* a distro that would make a path is not taken from the manifest */
	put(manifest, "{\"distro\": \"../../etc\"}", 0644);
	ck_assert_int_eq(payload_plan(img, exe, &p, err, sizeof(err)), 1);
	ck_assert_str_eq(p.distro, "sid");	/* from the directory's name */
	unlink(manifest);
	ck_assert_int_eq(payload_plan(img, exe, &p, err, sizeof(err)), 1);
	ck_assert_str_eq(p.distro, "sid");
	ck_assert_int_eq(mkdir_p(odd, 0755), 0);
	ck_assert_int_eq(payload_plan(odd, exe, &p, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "not an image of vm-images/build"), "%s", err);
	/* an image with crmig installed (built with --deb crmig_*.deb) needs none */
	put(crmig, "#!/bin/sh\n", 0755);
	ck_assert_int_eq(payload_plan(img, exe, &p, err, sizeof(err)), 0);
	ck_assert_int_eq(payload_plan(img, "/nowhere", &p, err, sizeof(err)), 0);
}
END_TEST

static void age(const char *path, time_t when)
{
	struct utimbuf t = { when, when };

	ck_assert_int_eq(utime(path, &t), 0);
}

static void age_rel(const char *rel, time_t when)
{
	__do_free char *p = xasprintf("%s/%s", top, rel);

	age(p, when);
}

START_TEST(test_up_to_date)
{
	struct payload_plan p;
	char err[2048] = "", why[PATH_MAX + 64];
	__do_free char *mark = NULL, *src = xasprintf("%s/ref/crmig.c", top);
	time_t now = time(NULL);

	ck_assert_int_eq(payload_plan(img, exe, &p, err, sizeof(err)), 1);
	ck_assert(!payload_up_to_date(&p, why, sizeof(why)));
	ck_assert_msg(strstr(why, "no "), "%s", why);
	put(p.payload, "disk", 0644);
	ck_assert(!payload_up_to_date(&p, why, sizeof(why)));	/* no record of its image */
	mark = xasprintf("%s/work/.image", p.out);
	put(mark, "fedcba9876543210\n", 0644);
	ck_assert(!payload_up_to_date(&p, why, sizeof(why)));
	ck_assert_msg(strstr(why, "another image"), "%s", why);
	put(mark, "0123456789abcdef\n", 0644);
	age(src, now - 100);
	age_rel("Makefile", now - 100);
	age(p.script, now - 100);
	age(p.payload, now - 10);
	ck_assert_msg(payload_up_to_date(&p, why, sizeof(why)), "%s", why);
	/* a source edited after the build */
	age(src, now - 5);
	ck_assert(!payload_up_to_date(&p, why, sizeof(why)));
	ck_assert_msg(strstr(why, "newer"), "%s", why);
	/* editor backups and dot files do not count (as in vm-images/build.mk) */
	age(src, now - 100);
	putf(top, "ref/crmig.c~", "x", 0644);
	putf(top, "ref/.crmig.c.swp", "x", 0644);
	ck_assert_msg(payload_up_to_date(&p, why, sizeof(why)), "%s", why);
	/* a payload that carries another criu source's zdtm tests */
	{
		__do_free char *carried = xasprintf("%s/zdtm.path", p.out);

		snprintf(p.zdtm, sizeof(p.zdtm), "/var/cache/crmig/zdtm/trixie-1111");
		put(carried, "/var/cache/crmig/zdtm/trixie-2222\n", 0644);
		ck_assert(!payload_up_to_date(&p, why, sizeof(why)));
		ck_assert_msg(strstr(why, "other zdtm tests"), "%s", why);
		put(carried, "/var/cache/crmig/zdtm/trixie-1111\n", 0644);
		ck_assert_msg(payload_up_to_date(&p, why, sizeof(why)), "%s", why);
	}
}
END_TEST

/* The whole way, with a build-payload that writes a disk and records each run. */
START_TEST(test_ensure_builds_once)
{
	char err[4096];
	__do_free char *first = NULL, *second = NULL, *runs = NULL;
	__do_free char *count = xasprintf("%s/runs", tmp);
	__do_free char *script = xasprintf(
		"#!/bin/sh\n"
		"while [ $# -gt 0 ]; do case $1 in --image) i=$2;; --src) s=$2;; --out) o=$2;; esac; shift 2; done\n"
		"echo \"run $i $s\" >> %s\n"
		"echo 'vm-images/build-payload: building for sid' >&2\n"
		"mkdir -p $o/work && cat $i/.complete > $o/work/.image && echo disk > $o/payload.img\n"
		"echo $o/payload.img\n", count);
	__do_free char *want = xasprintf("%s/build/guest-sid/payload.img", top);

	putf(top, "vm-images/build-payload", script, 0755);
	age_rel("vm-images/build-payload", time(NULL) - 100);
	age_rel("ref/crmig.c", time(NULL) - 100);
	age_rel("Makefile", time(NULL) - 100);
	setenv("CRMIG_SUITE_DATA", top, 1);
	first = payload_ensure(img, NULL, err, sizeof(err));
	ck_assert_msg(first != NULL, "%s", err);
	ck_assert_str_eq(first, want);
	second = payload_ensure(img, NULL, err, sizeof(err));
	ck_assert_msg(second != NULL, "%s", err);
	ck_assert_str_eq(second, want);
	runs = read_file(count, NULL);
	ck_assert_ptr_nonnull(runs);
	{
		__do_free char *once = xasprintf("run %s %s\n", img, top);
		ck_assert_str_eq(runs, once);	/* once: the second found it up to date */
	}
}
END_TEST

START_TEST(test_ensure_failure_says_how_to_rerun)
{
	char err[4096];
	__do_free char *got = NULL;

	setenv("CRMIG_SUITE_DATA", top, 1);
	got = payload_ensure(img, NULL, err, sizeof(err));	/* the setup's build-payload exits 1 */
	ck_assert_ptr_null(got);
	ck_assert_msg(strstr(err, "vm-images/build-payload failed (exit 1"), "%s", err);
	ck_assert_msg(strstr(err, "rerun it by hand:"), "%s", err);
	ck_assert_msg(strstr(err, "--src"), "%s", err);
}
END_TEST

START_TEST(test_runner_opts)
{
	struct runner_opts o = { .payload = "given.img", .image = img };
	char *built = (char *)"sentinel";

	ck_assert_int_eq(runner_ensure_payload(&o, &built), 0);
	ck_assert_ptr_null(built);
	ck_assert_str_eq(o.payload, "given.img");
	o = (struct runner_opts){ .lab_name = "default" };	/* an attached lab has its crmig */
	ck_assert_int_eq(runner_ensure_payload(&o, &built), 0);
	ck_assert_ptr_null(o.payload);
	/* another criu's zdtm tests go into a payload the suite builds: not with one given */
	o = (struct runner_opts){ .payload = "given.img", .image = img, .criu_src = "/tmp/criu.tar.xz" };
	ck_assert_int_eq(runner_ensure_payload(&o, &built), -1);
	o = (struct runner_opts){ .lab_name = "default", .criu_src = "/tmp/criu" };
	ck_assert_int_eq(runner_ensure_payload(&o, &built), -1);
}
END_TEST

/* zdtm's tests could not be built (bookworm here: the mirror has no
 * criu_3.17.1.orig.tar.xz): the payload still comes, and the run knows
 * why it has no zdtm tests, in build-zdtm's own words, for the zdtm skip;
 * once they build, that reason is gone. */
START_TEST(test_zdtm_missing_says_why)
{
	const char *payload = "#!/bin/sh\n"
			      "# knows --zdtm)\n"
			      "while [ $# -gt 0 ]; do case $1 in --out) o=$2;; esac; shift 2; done\n"
			      "mkdir -p $o && echo disk > $o/payload.img && echo $o/payload.img\n";
	const char *zdtm_fails = "#!/bin/sh\n"
				 "printf '%s\\n' 'downloading criu_3.17.1.orig.tar.xz failed' > \"$CRMIG_ZDTM_WHY\"\n"
				 "exit 1\n";
	__do_free char *zdtm_dir = xasprintf("%s/zdtm-built", tmp);
	__do_free char *zdtm_builds = xasprintf("#!/bin/sh\nmkdir -p %s && echo %s\n", zdtm_dir, zdtm_dir);
	struct runner_opts o = { .image = img };
	char *built = NULL;

	putf(top, "vm-images/build-payload", payload, 0755);
	putf(top, "vm-images/build-zdtm", zdtm_fails, 0755);
	setenv("CRMIG_SUITE_DATA", top, 1);
	ck_assert_int_eq(runner_ensure_payload(&o, &built), 0);
	ck_assert_ptr_nonnull(built);
	ck_assert_ptr_nonnull(o.zdtm_missing);
	ck_assert_str_eq(o.zdtm_missing, "downloading criu_3.17.1.orig.tar.xz failed");
	free(built);
	/* a build-zdtm that fails without a word */
	putf(top, "vm-images/build-zdtm", "#!/bin/sh\nexit 3\n", 0755);
	o.payload = NULL;
	ck_assert_int_eq(runner_ensure_payload(&o, &built), 0);
	ck_assert_ptr_nonnull(o.zdtm_missing);
	ck_assert_str_eq(o.zdtm_missing, "vm-images/build-zdtm failed");
	free(built);
	putf(top, "vm-images/build-zdtm", zdtm_builds, 0755);
	o.payload = NULL;
	ck_assert_int_eq(runner_ensure_payload(&o, &built), 0);
	ck_assert_ptr_null(o.zdtm_missing);
	free(built);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("suite_payload");
	TCase *tc = tcase_create("payload");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_source_tree);
	tcase_add_test(tc, test_plan);
	tcase_add_test(tc, test_plan_without_sources);
	tcase_add_test(tc, test_plan_image_kinds);
	tcase_add_test(tc, test_up_to_date);
	tcase_add_test(tc, test_ensure_builds_once);
	tcase_add_test(tc, test_ensure_failure_says_how_to_rerun);
	tcase_add_test(tc, test_runner_opts);
	tcase_add_test(tc, test_zdtm_missing_says_why);
	suite_add_tcase(s, tc);
	return unit_run(s) ? EXIT_FAILURE : EXIT_SUCCESS;
}
