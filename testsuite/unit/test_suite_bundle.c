/* Repro bundles (bundle.c, bundle_tar.c, replay.c): the manifest written for
 * a failed instance and checked on reading (tampered, missing, unsafe);
 * pack and unpack round trip; unpacking refuses malicious tarballs (paths
 * out of the destination, links, devices, duplicates, past the limits) and
 * leaves nothing behind; the reason comparison; the case and image a
 * replay takes from the bundle. */
#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "../runner/bundle.h"
#include "util.h"
#include "unit.h"

static char tmp[] = "/tmp/crmig-test-bundle-XXXXXX";
static struct suite_case the_case;

static const char case_text[] = "[case]\nworkload = memory\nargs = --size-mb 8\nmodes = bare\nstrategies = stop\n"
				"tier = lean\ncrmig_args = --page-tls off\ndescription = a test\n";

static char *at(const char *rel)
{
	return xasprintf("%s/%s", tmp, rel);
}

static void put(const char *rel, const char *text)
{
	__do_free char *p = at(rel);
	__do_free char *dir = xstrdup(p);

	*strrchr(dir, '/') = '\0';
	ck_assert_int_eq(mkdir_p(dir, 0755), 0);
	ck_assert_int_eq(write_file(p, text, strlen(text), 0644), 0);
}

/* A kept failure as keep_bundle leaves it, then its manifest. */
static void make_bundle(const char *rel, struct suite_result *res)
{
	__do_free char *dir = at(rel);
	char err[1024];

	put("cases/memory.case", case_text);
	{
		__do_free char *file = at("cases/memory.case");
		ck_assert_int_eq(case_load(file, &the_case, err, sizeof(err)), 0);
	}
	memset(res, 0, sizeof(*res));
	res->inst.c = &the_case;
	res->inst.mode = MODE_BARE;
	res->inst.strategy = ST_STOP;
	snprintf(res->inst.id, sizeof(res->inst.id), "memory:bare:stop");
	snprintf(res->distro, sizeof(res->distro), "trixie");
	res->outcome = OUTCOME_FAIL;
	snprintf(res->reason, sizeof(res->reason), "the workload failed its own checks on host b: FAIL page 4711 of 2048");
	{
		__do_free char *a = xasprintf("%s/REPLAY.txt", rel), *b = xasprintf("%s/manifest.json", rel);
		__do_free char *c = xasprintf("%s/logs/serve-b.log", rel), *d = xasprintf("%s/crmig-report.json", rel);
		put(a, "To replay memory:bare:stop by hand: ...\n");
		put(b, "{\"distro\": \"trixie\", \"key\": \"548b07fec9f23f0b\", \"inputs\": {\"debs\": []}, "
		       "\"versions\": {\"criu\": \"4.1.1-1\"}}");
		put(c, "serve: restore failed\n");
		put(d, "{\"result\": \"ok\", \"criu_argv\": []}");
	}
	ck_assert_int_eq(bundle_write_manifest(dir, &res->inst, res, err, sizeof(err)), 0);
}

static void setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(tmp));
}

static void teardown(void)
{
	remove_tree(tmp);
	strcpy(tmp, "/tmp/crmig-test-bundle-XXXXXX");
}

/* ---------------------------------------------------------------- paths */

START_TEST(test_path_ok)
{
	static const char *const good[] = { "a", "a/b", "./a/b.txt", "keep/x-y/REPLAY.txt", "d/", "..a", "a..b" };
	static const char *const evil[] = { "", "/etc/passwd", "..", "../x", "a/../../x", "a/..", "./", ".", "a//b",
					    "a/./b", "a\nb", "a\\..\\b", "x\x1b[31m" };

	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		ck_assert_msg(bundle_path_ok(good[i]), "%s refused", good[i]);
	for (size_t i = 0; i < ARRAY_SIZE(evil); i++)
		ck_assert_msg(!bundle_path_ok(evil[i]), "%s accepted", evil[i]);
	ck_assert(!bundle_path_ok(NULL));
	{
		char longp[BUNDLE_MAX_PATH + 2];
		memset(longp, 'a', sizeof(longp) - 1);
		longp[sizeof(longp) - 1] = '\0';
		ck_assert(!bundle_path_ok(longp));
	}
}
END_TEST

/* ---------------------------------------------------------------- manifest */

START_TEST(test_manifest_written_and_read)
{
	struct suite_result res;
	__do_free char *dir = at("keep/memory-bare-stop");
	char err[1024] = "";
	json_t *m, *files;

	make_bundle("keep/memory-bare-stop", &res);
	m = bundle_load(dir, err, sizeof(err));
	ck_assert_msg(m != NULL, "%s", err);
	ck_assert_str_eq(json_string_value(json_object_get(m, "format")), BUNDLE_FORMAT);
	ck_assert_str_eq(json_string_value(json_object_get(m, "instance")), "memory:bare:stop");
	ck_assert_str_eq(json_string_value(json_object_get(m, "mode")), "bare");
	ck_assert_str_eq(json_string_value(json_object_get(m, "strategy")), "stop");
	ck_assert_str_eq(json_string_value(json_object_get(m, "crmig_args")), "--page-tls off");
	ck_assert_str_eq(json_string_value(json_object_get(m, "image_key")), "548b07fec9f23f0b");
	ck_assert_str_eq(json_string_value(json_object_get(m, "distro")), "trixie");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(m, "case"), "text")), case_text);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(m, "case"), "file")), "memory.case");
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(m, "reason")), "FAIL page 4711"));
	files = json_object_get(m, "files");
	ck_assert_uint_eq(json_array_size(files), 4);	/* bundle.json does not list itself */
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(files, 0), "path")), "REPLAY.txt");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(files, 2), "path")), "logs/serve-b.log");
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(files, 2), "size")), 22);
	/* sha256 of "serve: restore failed\n" */
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(files, 2), "sha256")),
			 "41885d9c6cadc7ae64eea31e3dc30088562dc750fd743d4e89f1b3102e5a4b2c");
	json_decref(m);
}
END_TEST

static void expect_bad(const char *dir, const char *what)
{
	char err[1024] = "";
	json_t *m = bundle_load(dir, err, sizeof(err));

	ck_assert_msg(m == NULL, "accepted a bundle that should say: %s", what);
	ck_assert_msg(strstr(err, what), "said '%s', expected '%s'", err, what);
}

/* The manifest rewritten with one key changed. */
static void edit_manifest(const char *dir, const char *key, json_t *value)
{
	__do_free char *path = xasprintf("%s/" BUNDLE_MANIFEST, dir);
	json_t *m = json_load_file(path, 0, NULL);

	ck_assert_ptr_nonnull(m);
	json_object_set_new(m, key, value);
	ck_assert_int_eq(json_dump_file(m, path, 0), 0);
	json_decref(m);
}

START_TEST(test_manifest_tampered)
{
	struct suite_result res;
	__do_free char *dir = at("b");
	__do_free char *log = at("b/logs/serve-b.log");
	__do_free char *link = at("b/REPLAY.txt");

	make_bundle("b", &res);
	put("b/logs/serve-b.log", "serve: restore fAiled\n");	/* same size, other bytes */
	expect_bad(dir, "does not match its sha256");
	put("b/logs/serve-b.log", "serve: restore failed, and more\n");
	expect_bad(dir, "the manifest says");
	unlink(log);
	expect_bad(dir, "logs/serve-b.log is missing");
	make_bundle("b", &res);
	unlink(link);
	ck_assert_int_eq(symlink("/etc/passwd", link), 0);
	expect_bad(dir, "REPLAY.txt in the bundle is not a regular file");
	unlink(link);
	make_bundle("b", &res);
	edit_manifest(dir, "mode", json_string("kvm"));
	expect_bad(dir, "mode is not bare or lxc");
	make_bundle("b", &res);
	edit_manifest(dir, "strategy", json_string("stop,post"));
	expect_bad(dir, "strategy is not one of");
	make_bundle("b", &res);
	edit_manifest(dir, "format", json_string("crmig-bundle/0"));
	expect_bad(dir, "not of format");
	make_bundle("b", &res);
	edit_manifest(dir, "case", json_pack("{s:s, s:s}", "name", "../../etc/cron.d/x", "text", "[case]\n"));
	expect_bad(dir, "case.name missing or not a plain name");
	make_bundle("b", &res);
	edit_manifest(dir, "image_key", json_string("../../x"));
	expect_bad(dir, "image_key is not a hex key");
	make_bundle("b", &res);
	edit_manifest(dir, "files", json_pack("[{s:s, s:i, s:s}]", "path", "../outside", "size", 1, "sha256",
					      "0000000000000000000000000000000000000000000000000000000000000000"));
	expect_bad(dir, "unsafe path");
	make_bundle("b", &res);
	{
		__do_free char *p = xasprintf("%s/" BUNDLE_MANIFEST, dir);
		ck_assert_int_eq(write_file(p, "{not json", 9, 0644), 0);
	}
	expect_bad(dir, "line 1");
	{
		__do_free char *p = xasprintf("%s/" BUNDLE_MANIFEST, dir);
		unlink(p);
	}
	expect_bad(dir, "not a bundle: no bundle.json");
}
END_TEST

START_TEST(test_manifest_lists_through_a_link_dir)
{
	struct suite_result res;
	__do_free char *dir = at("c");
	__do_free char *logs = at("c/logs");
	__do_free char *elsewhere = at("elsewhere");

	make_bundle("c", &res);
	/* logs/ swapped for a link to a directory with the same file: a path out of the bundle */
	ck_assert_int_eq(rename(logs, elsewhere), 0);
	ck_assert_int_eq(symlink(elsewhere, logs), 0);
	expect_bad(dir, "leads out of the bundle");
}
END_TEST

/* ---------------------------------------------------------------- tarballs */

struct entry {
	const char *path;
	mode_t type;       /* AE_IFREG, AE_IFDIR, AE_IFLNK, AE_IFCHR, AE_IFIFO; 0: a hard link */
	const char *data;  /* file content, link target */
	size_t size;       /* for AE_IFREG: bytes of data (0: strlen) */
	mode_t perm;
};

static char *write_tar(const char *name, const struct entry *e, size_t n, bool gzip)
{
	__do_free char *path = at(name);
	struct archive *a = archive_write_new();

	archive_write_set_format_pax_restricted(a);
	if (gzip)
		archive_write_add_filter_gzip(a);
	ck_assert_int_eq(archive_write_open_filename(a, path), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *ae = archive_entry_new();
		size_t size = e[i].type == AE_IFREG ? (e[i].size ? e[i].size : strlen(e[i].data)) : 0;

		archive_entry_set_pathname(ae, e[i].path);
		archive_entry_set_perm(ae, e[i].perm ? e[i].perm : 0644);
		if (e[i].type == 0) {
			archive_entry_set_filetype(ae, AE_IFREG);
			archive_entry_set_hardlink(ae, e[i].data);
		} else {
			archive_entry_set_filetype(ae, e[i].type);
		}
		if (e[i].type == AE_IFLNK)
			archive_entry_set_symlink(ae, e[i].data);
		if (e[i].type == AE_IFCHR)
			archive_entry_set_rdev(ae, makedev(1, 3));
		archive_entry_set_size(ae, size);
		ck_assert_int_eq(archive_write_header(a, ae), ARCHIVE_OK);
		if (size) {
			__do_free char *buf = xzalloc(size);
			if (e[i].data)
				memcpy(buf, e[i].data, strlen(e[i].data) < size ? strlen(e[i].data) : size);
			ck_assert_int_eq(archive_write_data(a, buf, size), (la_ssize_t)size);
		}
		archive_entry_free(ae);
	}
	archive_write_close(a);
	archive_write_free(a);
	return move_ptr(path);
}

static void expect_refused(const char *what, const struct entry *e, size_t n, const struct bundle_limits *lim,
			   const char *why)
{
	__do_free char *tar = write_tar("evil.tar", e, n, false);
	__do_free char *dest = at("out");
	__do_free char *outside = at("evil");
	struct bundle_limits def = BUNDLE_LIMITS_DEFAULT;
	char err[1024] = "";

	ck_assert_msg(bundle_unpack(tar, dest, lim ? lim : &def, err, sizeof(err)) < 0, "%s: unpacked", what);
	ck_assert_msg(strstr(err, why), "%s: said '%s', expected '%s'", what, err, why);
	ck_assert_msg(access(dest, F_OK) < 0, "%s: left %s behind", what, dest);
	ck_assert_msg(access(outside, F_OK) < 0, "%s: wrote %s outside", what, outside);
	unlink(tar);
}

START_TEST(test_unpack_refuses_malicious)
{
	const struct entry dotdot[] = { { "b/ok", AE_IFREG, "fine" }, { "../evil", AE_IFREG, "x" } };
	const struct entry deep[] = { { "b/../../evil", AE_IFREG, "x" } };
	const struct entry absolute[] = { { "/tmp/crmig-test-bundle-absolute", AE_IFREG, "x" } };
	const struct entry symlink_out[] = { { "b/link", AE_IFLNK, "/etc" }, { "b/link/passwd", AE_IFREG, "x" } };
	const struct entry hardlink[] = { { "b/h", 0, "/etc/passwd" } };
	const struct entry device[] = { { "b/null", AE_IFCHR, NULL } };
	const struct entry fifo[] = { { "b/fifo", AE_IFIFO, NULL } };
	const struct entry twice[] = { { "b/f", AE_IFREG, "one" }, { "b/f", AE_IFREG, "two" } };
	const struct entry control[] = { { "b/a\nb", AE_IFREG, "x" } };
	const struct entry big[] = { { "b/big", AE_IFREG, "x", 4096 } };
	const struct entry many[] = { { "b/1", AE_IFREG, "1" }, { "b/2", AE_IFREG, "2" }, { "b/3", AE_IFREG, "3" },
				      { "b/4", AE_IFREG, "4" } };
	const struct bundle_limits small = { .max_bytes = 1000, .max_entries = 100 };
	const struct bundle_limits few = { .max_bytes = 1 << 20, .max_entries = 3 };

	expect_refused("..", dotdot, 2, NULL, "unsafe path");
	expect_refused("a/../..", deep, 1, NULL, "unsafe path");
	expect_refused("absolute", absolute, 1, NULL, "unsafe path");
	ck_assert(access("/tmp/crmig-test-bundle-absolute", F_OK) < 0);
	expect_refused("symlink", symlink_out, 2, NULL, "a symbolic link");
	expect_refused("hardlink", hardlink, 1, NULL, "a hard link");
	expect_refused("device", device, 1, NULL, "neither a file nor a directory");
	expect_refused("fifo", fifo, 1, NULL, "neither a file nor a directory");
	expect_refused("twice", twice, 2, NULL, "in the tarball twice");
	expect_refused("control", control, 1, NULL, "unsafe path");
	expect_refused("too big", big, 1, &small, "more than 1000 bytes");
	expect_refused("too many", many, 4, &few, "more than 3 entries");
	{
		__do_free char *junk = at("junk.tar"), *dest = at("out");
		struct bundle_limits def = BUNDLE_LIMITS_DEFAULT;
		char err[1024];

		put("junk.tar", "this is not a tarball at all, just text that goes on for a while................");
		ck_assert_int_lt(bundle_unpack(junk, dest, &def, err, sizeof(err)), 0);
		ck_assert_msg(strstr(err, "not a readable tarball") || strstr(err, "cannot read"), "%s", err);
		ck_assert(access(dest, F_OK) < 0);
	}
}
END_TEST

START_TEST(test_unpack_good)
{
	const struct entry good[] = { { "./b/", AE_IFDIR, NULL }, { "./b/REPLAY.txt", AE_IFREG, "replay" },
				      { "b/deep/er/x.log", AE_IFREG, "log" }, { "b/run.sh", AE_IFREG, "#!/bin/sh", 0, 04755 } };
	__do_free char *tar = write_tar("good.tar.gz", good, 4, true);
	__do_free char *dest = at("out");
	__do_free char *x = at("out/b/deep/er/x.log"), *run = at("out/b/run.sh");
	__do_free char *text = NULL;
	struct bundle_limits def = BUNDLE_LIMITS_DEFAULT;
	char err[1024] = "";
	struct stat st;

	ck_assert_msg(bundle_unpack(tar, dest, &def, err, sizeof(err)) == 0, "%s", err);
	text = read_file(x, NULL);
	ck_assert_str_eq(text, "log");
	ck_assert_int_eq(stat(run, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0755);	/* no setuid from a tarball */
	/* into an existing directory: refused, and it is left alone */
	ck_assert_int_lt(bundle_unpack(tar, dest, &def, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "exists already"));
	ck_assert_int_eq(access(x, F_OK), 0);
}
END_TEST

START_TEST(test_pack_round_trip)
{
	struct suite_result res;
	__do_free char *dir = at("keep/memory-bare-stop");
	__do_free char *tar = at("keep/memory-bare-stop.tar.gz");
	__do_free char *dest = at("unpacked");
	__do_free char *inner = at("unpacked/memory-bare-stop");
	struct bundle_limits def = BUNDLE_LIMITS_DEFAULT, tiny = { .max_bytes = 100, .max_entries = 100 };
	char err[1024] = "";
	json_t *m;

	make_bundle("keep/memory-bare-stop", &res);
	ck_assert_msg(bundle_pack(dir, tar, &def, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(bundle_unpack(tar, dest, &def, err, sizeof(err)) == 0, "%s", err);
	m = bundle_load(inner, err, sizeof(err));
	ck_assert_msg(m != NULL, "%s", err);
	json_decref(m);
	/* past the limit: refused with what to do */
	unlink(tar);
	ck_assert_int_lt(bundle_pack(dir, tar, &tiny, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "larger than the limit"), "%s", err);
	ck_assert(access(tar, F_OK) < 0);
	/* a directory without a manifest is no bundle */
	{
		__do_free char *plain = at("plain");
		put("plain/x", "x");
		ck_assert_int_lt(bundle_pack(plain, tar, &def, err, sizeof(err)), 0);
		ck_assert_ptr_nonnull(strstr(err, "not a bundle"));
	}
}
END_TEST

START_TEST(test_finish_after_instance)
{
	struct suite_result res;
	__do_free char *dir = at("keep/memory-bare-stop");
	__do_free char *tar = at("keep/memory-bare-stop.tar.gz");

	make_bundle("keep/memory-bare-stop", &res);
	res.details = json_pack("{s:s}", "bundle", dir);
	snprintf(res.reason, sizeof(res.reason), "a later reason" REASON_SEP "host a changed");
	bundle_finish(&res);
	ck_assert_str_eq(json_string_value(json_object_get(res.details, "bundle_tar")), tar);
	ck_assert_int_eq(access(tar, R_OK), 0);
	{
		char err[1024];
		json_t *m = bundle_load(dir, err, sizeof(err));
		ck_assert_ptr_nonnull(m);
		ck_assert_str_eq(json_string_value(json_object_get(m, "reason")), res.reason);	/* the final one */
		json_decref(m);
	}
	json_decref(res.details);
}
END_TEST

/* ---------------------------------------------------------------- replay */

START_TEST(test_reason_normalize)
{
	__do_free char *a = reason_normalize("FAIL page 4711 at 0x7f3a9c000000 after 1523.7 ms  (pid 2201)\n");
	__do_free char *b = reason_normalize("crmig serve on 10.77.0.12:7077 said deadbeefcafe1234");

	ck_assert_str_eq(a, "FAIL page # at #x# after # ms (pid #)");
	ck_assert_str_eq(b, "crmig serve on #:# said #");
}
END_TEST

START_TEST(test_replay_compare)
{
	struct suite_result got = { .outcome = OUTCOME_FAIL };
	const char *want = "the workload failed its own checks on host b: FAIL page 4711" REASON_SEP "host b changed";

	snprintf(got.reason, sizeof(got.reason), "the workload failed its own checks on host b: FAIL page 12");
	ck_assert_int_eq(replay_compare(want, NULL, &got), REPLAY_REPRODUCED);
	snprintf(got.reason, sizeof(got.reason), "crmig's result is failed" REASON_SEP
		 "the workload failed its own checks on host b: FAIL page 99");
	ck_assert_int_eq(replay_compare(want, NULL, &got), REPLAY_REPRODUCED);	/* among the reasons */
	snprintf(got.reason, sizeof(got.reason), "the workload failed its own checks on host a: FAIL page 12");
	ck_assert_int_eq(replay_compare(want, NULL, &got), REPLAY_DIFFERENT);	/* another host */
	snprintf(got.reason, sizeof(got.reason), "host b changed");
	ck_assert_int_eq(replay_compare(want, NULL, &got), REPLAY_DIFFERENT);	/* only the later reason */
	got.outcome = OUTCOME_SKIP;
	snprintf(got.reason, sizeof(got.reason), "criu on host a lacks mem_dirty_track");
	ck_assert_int_eq(replay_compare(want, NULL, &got), REPLAY_DIFFERENT);
	got.outcome = OUTCOME_PASS;
	got.reason[0] = '\0';
	ck_assert_int_eq(replay_compare(want, NULL, &got), REPLAY_PASSED);
	got.outcome = OUTCOME_FAIL;
	snprintf(got.reason, sizeof(got.reason), "host a changed: cgroup2_mount was x, is now y");
	snprintf(got.known_bug, sizeof(got.known_bug), "criu#3029: ...");
	ck_assert_int_eq(replay_compare("host a changed: cgroup2_mount was z", "criu#3029: ...", &got),
			 REPLAY_REPRODUCED);
	ck_assert_int_eq(replay_compare("", NULL, &got), REPLAY_DIFFERENT);
}
END_TEST

START_TEST(test_replay_case_and_image)
{
	struct suite_result res;
	__do_free char *dir = at("keep/memory-bare-stop");
	__do_free char *work = at("work");
	__do_free char *cache = at("cache");
	__do_free char *img = NULL;
	struct suite_case c;
	struct suite_instance in;
	char err[1024] = "";
	json_t *m;

	make_bundle("keep/memory-bare-stop", &res);
	m = bundle_load(dir, err, sizeof(err));
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(mkdir_p(work, 0700), 0);
	ck_assert_msg(replay_case(m, work, &c, &in, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(c.name, "memory");
	ck_assert_str_eq(c.args, "--size-mb 8");
	ck_assert_str_eq(c.crmig_args, "--page-tls off");
	ck_assert_str_eq(in.id, "memory:bare:stop");
	ck_assert_uint_eq(in.mode, MODE_BARE);
	ck_assert_uint_eq(in.strategy, ST_STOP);
	ck_assert_ptr_eq(in.c, &c);
	/* a case text that does not parse says so */
	json_object_set_new(json_object_get(m, "case"), "text", json_string("[case]\nbogus = 1\n"));
	ck_assert_int_lt(replay_case(m, work, &c, &in, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "does not load"), "%s", err);
	json_object_set_new(json_object_get(m, "case"), "text", json_null());
	ck_assert_int_lt(replay_case(m, work, &c, &in, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "no case text"), "%s", err);
	json_decref(m);
	/* the image by its key */
	ck_assert_ptr_null(replay_cached_image(cache, "trixie", "548b07fec9f23f0b"));
	put("cache/images/trixie-548b07fec9f23f0b/.complete", "548b07fec9f23f0b\n");
	img = replay_cached_image(cache, "trixie", "548b07fec9f23f0b");
	ck_assert_ptr_nonnull(img);
	ck_assert_ptr_nonnull(strstr(img, "/cache/images/trixie-548b07fec9f23f0b"));
	ck_assert_ptr_null(replay_cached_image(cache, "sid", "548b07fec9f23f0b"));
	ck_assert_ptr_null(replay_cached_image(cache, "trixie", NULL));
}
END_TEST

START_TEST(test_print_criu)
{
	json_t *rep = json_pack("{s:[{s:s, s:[s,s,s,s]}, {s:s, s:[s,s,s]}]}", "criu_argv", "host", "source", "argv",
				"criu", "dump", "-D", "/var/tmp/x y", "host", "destination", "argv", "criu", "restore",
				"--action-script=$(reboot)");
	json_t *none = json_pack("{s:[]}", "criu_argv");
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	replay_print_criu(f, rep);
	replay_print_criu(f, none);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(buf, "  [1] on host a (source):\n      criu dump -D '/var/tmp/x y'\n"));
	ck_assert_ptr_nonnull(strstr(buf, "  [2] on host b (destination):\n      criu restore '--action-script=$(reboot)'\n"));
	ck_assert_ptr_nonnull(strstr(buf, "records no criu command"));
	free(buf);
	json_decref(rep);
	json_decref(none);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("suite_bundle");
	TCase *tc = tcase_create("bundle");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_path_ok);
	tcase_add_test(tc, test_manifest_written_and_read);
	tcase_add_test(tc, test_manifest_tampered);
	tcase_add_test(tc, test_manifest_lists_through_a_link_dir);
	tcase_add_test(tc, test_unpack_refuses_malicious);
	tcase_add_test(tc, test_unpack_good);
	tcase_add_test(tc, test_pack_round_trip);
	tcase_add_test(tc, test_finish_after_instance);
	tcase_add_test(tc, test_reason_normalize);
	tcase_add_test(tc, test_replay_compare);
	tcase_add_test(tc, test_replay_case_and_image);
	tcase_add_test(tc, test_print_criu);
	suite_add_tcase(s, tc);
	return unit_run(s) ? EXIT_FAILURE : EXIT_SUCCESS;
}
