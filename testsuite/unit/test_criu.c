/* Calling criu (ref/criu.c): the exact argv of every call crmig makes, in
 * order; the config-file text for the calls liblxc makes; the error lines
 * picked out of a log; and what a spawned criu inherits: the page stream on
 * fd 3, /dev/null on stdin, the log on stdout/stderr, and nothing else.
 *
 * The inheritance check runs this test binary itself as the "criu"
 * (argv[1] == "fd-report"): it lists its open descriptors into the log. */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "criu.h"
#include "log_excerpt.h"
#include "util.h"
#include "unit.h"

static char self[PATH_MAX];
static char tmpdir[] = "/tmp/crmig-test-criu-XXXXXX";

static void setup_dir(void)
{
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown_dir(void)
{
	remove_tree(tmpdir);
	strcpy(tmpdir, "/tmp/crmig-test-criu-XXXXXX");
}

/* ---- argv ----------------------------------------------------------------- */

static char *joined(char *const *v)
{
	char *s = xstrdup("");

	for (size_t i = 0; v && v[i]; i++) {
		char *n = xasprintf("%s%s'%s'", s, i ? " " : "", v[i]);
		free(s);
		s = n;
	}
	return s;
}

/* The argv of c must be exactly want (NULL-terminated), element by element. */
static void expect_argv(const struct criu_call *c, const char *const *want)
{
	char **got = criu_argv(c);
	__do_free char *g = joined(got);
	__do_free char *w = joined((char *const *)want);

	ck_assert_msg(!strcmp(g, w), "argv\n  got:  %s\n  want: %s", g, w);
	criu_argv_free(got);
}

#define ARGV(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define SCRIPT "/var/lib/crmig/src-0123/hook-AbCdEf/action"

/* Every field on: what the call template of each action keeps and drops. */
static struct criu_call everything(enum criu_action a)
{
	return (struct criu_call){ .action = a, .criu = "/usr/sbin/criu", .images_dir = "/img", .log_file = "x.log",
				   .verbosity = 4, .pid = 4242, .prev_images_dir = "../round-1", .track_mem = true,
				   .page_server = true, .ps_socket = true, .lazy = true, .tcp_established = true,
				   .file_locks = true, .shell_job = true, .restore_detached = true,
				   .pidfile = "restore.pid", .action_script = SCRIPT };
}

START_TEST(test_action_names)
{
	ck_assert_str_eq(criu_action_name(CRIU_DUMP), "dump");
	ck_assert_str_eq(criu_action_name(CRIU_PRE_DUMP), "pre-dump");
	ck_assert_str_eq(criu_action_name(CRIU_RESTORE), "restore");
	ck_assert_str_eq(criu_action_name(CRIU_PAGE_SERVER), "page-server");
	ck_assert_str_eq(criu_action_name(CRIU_LAZY_PAGES), "lazy-pages");
	ck_assert_str_eq(criu_action_name((enum criu_action)99), "?");
}
END_TEST

START_TEST(test_binary_choice)
{
	const char *saved = getenv("CRMIG_CRIU");
	__do_free char *keep = saved ? xstrdup(saved) : NULL;
	struct criu_call c = { .action = CRIU_PAGE_SERVER, .images_dir = "/img" };

	unsetenv("CRMIG_CRIU");
	ck_assert_str_eq(criu_binary(NULL), "criu");
	ck_assert_str_eq(criu_binary(""), "criu");
	expect_argv(&c, ARGV("criu", "page-server", "-D", "/img"));
	setenv("CRMIG_CRIU", "/opt/criu/sbin/criu", 1);
	ck_assert_str_eq(criu_binary(NULL), "/opt/criu/sbin/criu");
	expect_argv(&c, ARGV("/opt/criu/sbin/criu", "page-server", "-D", "/img"));
	ck_assert_str_eq(criu_binary("/usr/local/bin/criu"), "/usr/local/bin/criu"); /* --criu wins */
	c.criu = "./criu-dev";
	expect_argv(&c, ARGV("./criu-dev", "page-server", "-D", "/img"));
	setenv("CRMIG_CRIU", "", 1);
	ck_assert_str_eq(criu_binary(NULL), "criu");
	if (keep)
		setenv("CRMIG_CRIU", keep, 1);
	else
		unsetenv("CRMIG_CRIU");
}
END_TEST

/* stop (and the final dump of pre): pages into the destination's page server
 * over crmig's own connection on fd 3. */
START_TEST(test_dump_to_page_server)
{
	struct criu_call c = { .action = CRIU_DUMP, .criu = "/usr/sbin/criu", .images_dir = "/var/lib/crmig/src-0123/final",
			       .log_file = "dump.log", .verbosity = 4, .pid = 4242, .page_server = true,
			       .ps_socket = true, .tcp_established = true, .file_locks = true, .action_script = SCRIPT };

	expect_argv(&c, ARGV("/usr/sbin/criu", "dump", "-D", "/var/lib/crmig/src-0123/final", "-o", "dump.log", "-v4",
			     "-t", "4242", "--page-server", "--ps-socket", "3", "--tcp-established", "--file-locks",
			     "--action-script", SCRIPT));
	/* the final dump after pre-dump rounds */
	c.prev_images_dir = "../round-3";
	c.track_mem = true;
	expect_argv(&c, ARGV("/usr/sbin/criu", "dump", "-D", "/var/lib/crmig/src-0123/final", "-o", "dump.log", "-v4",
			     "-t", "4242", "--prev-images-dir", "../round-3", "--track-mem", "--page-server",
			     "--ps-socket", "3", "--tcp-established", "--file-locks", "--action-script", SCRIPT));
	/* --no-tcp-established --no-file-locks --shell-job */
	c.tcp_established = c.file_locks = false;
	c.shell_job = true;
	expect_argv(&c, ARGV("/usr/sbin/criu", "dump", "-D", "/var/lib/crmig/src-0123/final", "-o", "dump.log", "-v4",
			     "-t", "4242", "--prev-images-dir", "../round-3", "--track-mem", "--page-server",
			     "--ps-socket", "3", "--shell-job", "--action-script", SCRIPT));
}
END_TEST

START_TEST(test_pre_dump_rounds)
{
	struct criu_call c = { .action = CRIU_PRE_DUMP, .criu = "criu", .images_dir = "/s/round-1",
			       .log_file = "pre-dump.log", .verbosity = 4, .pid = 77, .track_mem = true,
			       .page_server = true, .ps_socket = true, .tcp_established = true, .file_locks = true,
			       .action_script = SCRIPT };

	expect_argv(&c, ARGV("criu", "pre-dump", "-D", "/s/round-1", "-o", "pre-dump.log", "-v4", "-t", "77",
			     "--track-mem", "--page-server", "--ps-socket", "3", "--tcp-established", "--file-locks",
			     "--action-script", SCRIPT));
	c.images_dir = "/s/round-2";
	c.prev_images_dir = "../round-1";
	expect_argv(&c, ARGV("criu", "pre-dump", "-D", "/s/round-2", "-o", "pre-dump.log", "-v4", "-t", "77",
			     "--prev-images-dir", "../round-1", "--track-mem", "--page-server", "--ps-socket", "3",
			     "--tcp-established", "--file-locks", "--action-script", SCRIPT));
	/* restore-only options never reach a pre-dump */
	c.restore_detached = true;
	c.lazy = true;
	expect_argv(&c, ARGV("criu", "pre-dump", "-D", "/s/round-2", "-o", "pre-dump.log", "-v4", "-t", "77",
			     "--prev-images-dir", "../round-1", "--track-mem", "--page-server", "--ps-socket", "3",
			     "--tcp-established", "--file-locks", "--action-script", SCRIPT));
}
END_TEST

/* post (and hybrid): criu keeps the pages and serves them on fd 3. */
START_TEST(test_lazy_dump)
{
	struct criu_call c = { .action = CRIU_DUMP, .criu = "criu", .images_dir = "/s/final", .log_file = "dump.log",
			       .verbosity = 4, .pid = 99, .ps_socket = true, .lazy = true, .tcp_established = true,
			       .file_locks = true, .action_script = SCRIPT };

	expect_argv(&c, ARGV("criu", "dump", "-D", "/s/final", "-o", "dump.log", "-v4", "-t", "99", "--ps-socket", "3",
			     "--lazy-pages", "--tcp-established", "--file-locks", "--action-script", SCRIPT));
	c.prev_images_dir = "../round-2";
	c.track_mem = true;
	expect_argv(&c, ARGV("criu", "dump", "-D", "/s/final", "-o", "dump.log", "-v4", "-t", "99", "--prev-images-dir",
			     "../round-2", "--track-mem", "--ps-socket", "3", "--lazy-pages", "--tcp-established",
			     "--file-locks", "--action-script", SCRIPT));
	/* a container's lock method (workload_lxc.c) goes to dumps only */
	c.network_lock = "nftables";
	expect_argv(&c, ARGV("criu", "dump", "-D", "/s/final", "-o", "dump.log", "-v4", "-t", "99", "--prev-images-dir",
			     "../round-2", "--track-mem", "--ps-socket", "3", "--lazy-pages", "--tcp-established",
			     "--file-locks", "--action-script", SCRIPT, "--network-lock", "nftables"));
	c.action = CRIU_RESTORE;
	c.prev_images_dir = NULL;
	c.track_mem = c.ps_socket = false;
	expect_argv(&c, ARGV("criu", "restore", "-D", "/s/final", "-o", "dump.log", "-v4", "--lazy-pages",
			     "--tcp-established", "--file-locks", "--action-script", SCRIPT));
}
END_TEST

/* nftables only when both criu's have it: the restore reads the method
 * from the images; an older serve says nothing, which means no. */
START_TEST(test_netns_lock_method)
{
	struct criu_info yes = { .present = true, .nft_lock = true }, no = { .present = true };
	json_auto_t *both = json_pack("{s:b}", "network_lock_nftables", 1);
	json_auto_t *peer_no = json_pack("{s:b}", "network_lock_nftables", 0);
	json_auto_t *old = json_pack("{s:b}", "criu", 1);

	ck_assert_str_eq(criu_netns_lock_method(&yes, both), "nftables");
	ck_assert_ptr_null(criu_netns_lock_method(&yes, peer_no));
	ck_assert_ptr_null(criu_netns_lock_method(&yes, old));
	ck_assert_ptr_null(criu_netns_lock_method(&yes, NULL));
	ck_assert_ptr_null(criu_netns_lock_method(&no, both));
}
END_TEST

/* The probe as the peer reads it: what its own hello's features say is
 * what criu_netns_lock_method decides by on the other side. */
START_TEST(test_features_json)
{
	struct criu_info yes = { .present = true, .uffd_noncoop = true, .tls = true, .nft_lock = true };
	json_auto_t *f = criu_features_json(&yes);

	ck_assert_int_eq(json_object_size(f), 5);
	ck_assert(json_is_true(json_object_get(f, "criu")) && json_is_true(json_object_get(f, "uffd_noncoop")));
	ck_assert(json_is_true(json_object_get(f, "tls")) && json_is_false(json_object_get(f, "mem_dirty_track")));
	ck_assert_str_eq(criu_netns_lock_method(&yes, f), "nftables");
	yes.nft_lock = false;
	json_auto_t *without = criu_features_json(&yes);

	ck_assert(json_is_false(json_object_get(without, "network_lock_nftables")));
}
END_TEST

START_TEST(test_restore)
{
	struct criu_call c = { .action = CRIU_RESTORE, .criu = "criu", .images_dir = "/d/dst-0123/final",
			       .log_file = "restore.log", .verbosity = 4, .restore_detached = true,
			       .pidfile = "restore.pid", .tcp_established = true, .file_locks = true,
			       .action_script = "/d/dst-0123/hook-x/action" };

	expect_argv(&c, ARGV("criu", "restore", "-D", "/d/dst-0123/final", "-o", "restore.log", "-v4",
			     "--tcp-established", "--file-locks", "--restore-detached", "--pidfile", "restore.pid",
			     "--action-script", "/d/dst-0123/hook-x/action"));
	c.lazy = true;
	expect_argv(&c, ARGV("criu", "restore", "-D", "/d/dst-0123/final", "-o", "restore.log", "-v4", "--lazy-pages",
			     "--tcp-established", "--file-locks", "--restore-detached", "--pidfile", "restore.pid",
			     "--action-script", "/d/dst-0123/hook-x/action"));
	/* a restore has no -t, whatever pid the description carries */
	c.pid = 1234;
	c.tcp_established = c.file_locks = c.lazy = false;
	expect_argv(&c, ARGV("criu", "restore", "-D", "/d/dst-0123/final", "-o", "restore.log", "-v4",
			     "--restore-detached", "--pidfile", "restore.pid", "--action-script",
			     "/d/dst-0123/hook-x/action"));
}
END_TEST

START_TEST(test_page_server)
{
	struct criu_call c = { .action = CRIU_PAGE_SERVER, .criu = "criu", .images_dir = "/d/round-1",
			       .log_file = "page-server.log", .verbosity = 4, .ps_socket = true };

	expect_argv(&c, ARGV("criu", "page-server", "-D", "/d/round-1", "-o", "page-server.log", "-v4", "--ps-socket",
			     "3"));
	c.images_dir = "/d/round-2";
	c.prev_images_dir = "../round-1";
	expect_argv(&c, ARGV("criu", "page-server", "-D", "/d/round-2", "-o", "page-server.log", "-v4",
			     "--prev-images-dir", "../round-1", "--ps-socket", "3"));
}
END_TEST

START_TEST(test_lazy_pages_daemon)
{
	struct criu_call c = { .action = CRIU_LAZY_PAGES, .criu = "criu", .images_dir = "/d/final",
			       .log_file = "lazy-pages.log", .verbosity = 4, .page_server = true, .ps_socket = true };

	expect_argv(&c, ARGV("criu", "lazy-pages", "-D", "/d/final", "-o", "lazy-pages.log", "-v4", "--page-server",
			     "--ps-socket", "3"));
}
END_TEST

/* Options that belong to other actions are dropped, whatever is set. */
START_TEST(test_options_per_action)
{
	struct criu_call ps = everything(CRIU_PAGE_SERVER), lp = everything(CRIU_LAZY_PAGES);
	struct criu_call rs = everything(CRIU_RESTORE), pd = everything(CRIU_PRE_DUMP);

	expect_argv(&ps, ARGV("/usr/sbin/criu", "page-server", "-D", "/img", "-o", "x.log", "-v4", "--prev-images-dir",
			      "../round-1", "--track-mem", "--ps-socket", "3", "--pidfile", "restore.pid",
			      "--action-script", SCRIPT));
	expect_argv(&lp, ARGV("/usr/sbin/criu", "lazy-pages", "-D", "/img", "-o", "x.log", "-v4", "--prev-images-dir",
			      "../round-1", "--track-mem", "--page-server", "--ps-socket", "3", "--pidfile",
			      "restore.pid", "--action-script", SCRIPT));
	expect_argv(&rs, ARGV("/usr/sbin/criu", "restore", "-D", "/img", "-o", "x.log", "-v4", "--prev-images-dir",
			      "../round-1", "--track-mem", "--page-server", "--ps-socket", "3", "--lazy-pages",
			      "--tcp-established", "--file-locks", "--shell-job", "--restore-detached", "--pidfile",
			      "restore.pid", "--action-script", SCRIPT));
	expect_argv(&pd, ARGV("/usr/sbin/criu", "pre-dump", "-D", "/img", "-o", "x.log", "-v4", "-t", "4242",
			      "--prev-images-dir", "../round-1", "--track-mem", "--page-server", "--ps-socket", "3",
			      "--tcp-established", "--file-locks", "--shell-job", "--pidfile", "restore.pid",
			      "--action-script", SCRIPT));
}
END_TEST

START_TEST(test_minimal_tls_and_extra)
{
	struct tls_paths tls = { .ca = "/etc/crmig/ca.crt", .cert = "/etc/crmig/host.crt", .key = "/etc/crmig/host.key" };
	char *const extra[] = { "--ghost-limit", "0", "--skip-in-flight", NULL };
	struct criu_call c = { .action = CRIU_DUMP, .images_dir = "/img", .criu = "criu", .pid = 1 };

	/* no log, default verbosity: neither -o nor -v */
	expect_argv(&c, ARGV("criu", "dump", "-D", "/img", "-t", "1"));
	c.verbosity = 2;
	c.tls = &tls;
	c.extra = extra;
	expect_argv(&c, ARGV("criu", "dump", "-D", "/img", "-v2", "-t", "1", "--tls", "--tls-cacert", "/etc/crmig/ca.crt",
			     "--tls-cert", "/etc/crmig/host.crt", "--tls-key", "/etc/crmig/host.key", "--ghost-limit",
			     "0", "--skip-in-flight"));
}
END_TEST

/* Each element is its own allocation: the argv outlives the description. */
START_TEST(test_argv_is_a_copy)
{
	char dir[] = "/img/aaa";
	struct criu_call c = { .action = CRIU_PAGE_SERVER, .criu = "criu", .images_dir = dir };
	char **argv = criu_argv(&c);

	dir[5] = 'z';
	ck_assert_str_eq(argv[3], "/img/aaa");
	ck_assert_ptr_null(argv[4]);
	criu_argv_free(argv);
	criu_argv_free(NULL);
}
END_TEST

/* ---- the config file for liblxc's calls ----------------------------------- */

START_TEST(test_config_text)
{
	struct tls_paths tls = { .ca = "/c/ca.crt", .cert = "/c/host.crt", .key = "/c/host.key" };
	struct criu_call pre = { .action = CRIU_PRE_DUMP, .page_server = true, .ps_socket = true };
	struct criu_call lazy = { .action = CRIU_DUMP, .ps_socket = true, .lazy = true };
	struct criu_call rst = { .action = CRIU_RESTORE, .lazy = true };
	struct criu_call plain = { .action = CRIU_RESTORE };
	struct criu_call ps = { .action = CRIU_PAGE_SERVER, .page_server = true, .tls = &tls };
	struct criu_call nft_dump = { .action = CRIU_DUMP, .network_lock = "nftables" };
	struct criu_call nft_restore = { .action = CRIU_RESTORE, .network_lock = "nftables" };
	struct { struct criu_call *c; const char *want; } cases[] = {
		{ &pre, "page-server\nps-socket 3\n" },
		{ &lazy, "ps-socket 3\nlazy-pages\n" },
		{ &rst, "lazy-pages\n" },
		{ &plain, "" },
		/* page-server is a dump option only */
		{ &ps, "tls\ntls-cacert /c/ca.crt\ntls-cert /c/host.crt\ntls-key /c/host.key\n" },
		/* liblxc's dump gets the lock method here; a restore takes the images' */
		{ &nft_dump, "network-lock nftables\n" },
		{ &nft_restore, "" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		__do_free char *text = criu_config_text(cases[i].c);

		ck_assert_msg(!strcmp(text, cases[i].want), "case %zu: got '%s', want '%s'", i, text, cases[i].want);
	}
}
END_TEST

/* ---- error lines from a log ----------------------------------------------- */

static const char sample_log[] =
	"(00.000012) Version: 4.1.1 (gitid 0)\n"
	"(00.001002) Warn  (criu/kerndat.c:1234): uffd probe: ignoring an error from the kernel\n"
	"(00.002111) Error (criu/files-reg.c:2104): Can't open file tmp/data on restore: No such file or directory\n"
	"(00.002150) Error (criu/cr-restore.c:1690): Unable to open fd=3 id=0x7\n"
	"(00.002900) 1: restore_task_with_children: error 1\n"
	"(00.003001) Error (criu/cr-restore.c:2447): Restoring FAILED.\n";

static char *write_sample(const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", tmpdir, name);

	ck_assert_int_eq(write_file(path, text, strlen(text), 0600), 0);
	return path;
}

START_TEST(test_log_errors)
{
	__do_free char *log = write_sample("restore.log", sample_log);
	__do_free char *all = criu_log_errors(log, 10);
	__do_free char *two = criu_log_errors(log, 2);
	__do_free char *none = criu_log_errors(log, 0);
	__do_free char *missing_path = xasprintf("%s/nope.log", tmpdir);
	__do_free char *missing = criu_log_errors(missing_path, 5);
	__do_free char *clean_log = write_sample("clean.log", "(00.1) Version: 4.1.1\n(00.2) Dumping finished successfully\n");
	__do_free char *clean = criu_log_errors(clean_log, 5);

	/* "Error" lines first, in the log's order (criu's first one is the
	 * cause, the rest its consequences); then lines that speak of an error. */
	ck_assert_str_eq(all,
			 "(00.002111) Error (criu/files-reg.c:2104): Can't open file tmp/data on restore: No such file or directory\n"
			 "(00.002150) Error (criu/cr-restore.c:1690): Unable to open fd=3 id=0x7\n"
			 "(00.003001) Error (criu/cr-restore.c:2447): Restoring FAILED.\n"
			 "(00.001002) Warn  (criu/kerndat.c:1234): uffd probe: ignoring an error from the kernel\n"
			 "(00.002900) 1: restore_task_with_children: error 1\n");
	/* a short excerpt still has the cause */
	ck_assert_str_eq(two,
			 "(00.002111) Error (criu/files-reg.c:2104): Can't open file tmp/data on restore: No such file or directory\n"
			 "(00.002150) Error (criu/cr-restore.c:1690): Unable to open fd=3 id=0x7\n");
	ck_assert_str_eq(none, "");
	ck_assert_str_eq(missing, "");
	ck_assert_str_eq(clean, "");
}
END_TEST

/* The restorer of criu <= 4.1.1 on a pages image shorter than its pagemap:
 * no error line ever, the same read for ever (lab soak: 800 MB in 4 min).
 * The excerpt says what it is; a log of many large lines is read cut. */
START_TEST(test_log_read_loop)
{
	__do_free char *text = xstrdup("(00.1) Version: 4.1.1\n(00.5) pie: 7:    `- skip pagemap\n");
	__do_free char *log = NULL, *errors = NULL, *big_errors = NULL, *big = NULL;
	__do_free char *bigpath = xasprintf("%s/big.log", tmpdir);
	__do_close int fd = -1;

	for (int i = 0; i < 40; i++) {
		char *more = xasprintf("%s(219.3) pie: 7: Preadv 0x4ee000:4096... (1 iovs)\n(219.3) pie: 7: `- returned 0\n", text);

		free(text);
		text = more;
	}
	log = write_sample("loop.log", text);
	errors = criu_log_errors(log, 6);
	ck_assert_msg(strstr(errors, "kept reading past the end of a pages image") && strstr(errors, "criu#2899"), "%s",
		      errors);
	/* a log with a real error is not this */
	{
		__do_free char *with_error = xasprintf("(00.0) Error (criu/x.c:1): something\n%s", text);
		__do_free char *p = write_sample("loop-error.log", with_error);
		__do_free char *e = criu_log_errors(p, 6);

		ck_assert_str_eq(e, "(00.0) Error (criu/x.c:1): something\n");
	}
	/* longer than LOG_SEND_MAX: read cut, and its last error still found */
	fd = open(bigpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	{
		__do_free char *chunk = xmalloc(1 << 20);

		memset(chunk, 'x', 1 << 20);
		for (size_t i = 99; i < 1 << 20; i += 100)
			chunk[i] = '\n';
		chunk[(1 << 20) - 1] = '\n';
		for (size_t i = 0; i < (LOG_SEND_MAX >> 20) * 2; i++)
			ck_assert_int_eq(write_full(fd, chunk, 1 << 20), 0);
		ck_assert_int_eq(write_full(fd, "(9.9) Error (criu/y.c:2): at the end\n", 37), 0);
	}
	big = log_read(bigpath);
	ck_assert_ptr_nonnull(big);
	big_errors = criu_log_errors(bigpath, 6);
	ck_assert_str_eq(big_errors, "(9.9) Error (criu/y.c:2): at the end\n");
}
END_TEST

/* ---- spawning ------------------------------------------------------------- */

/* The helper: "fd-report" lists "FD TARGET" for each open descriptor (but
 * the one it lists with), says hello on fd 3 when it has one, and exits 0. */
static int fd_report(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	bool has3 = false;

	if (!d)
		return 3;
	printf("fd-report start\n");
	while ((e = readdir(d))) {
		char link[64], target[PATH_MAX];
		ssize_t n;

		if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d))
			continue;
		snprintf(link, sizeof(link), "/proc/self/fd/%s", e->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = '\0';
		printf("fd %s %s\n", e->d_name, target);
		has3 |= atoi(e->d_name) == CRIU_PS_FD;
	}
	closedir(d);
	fflush(stdout);
	fprintf(stderr, "fd-report on stderr\n");
	if (has3 && write_full(CRIU_PS_FD, "hello from fd 3", 15) < 0)
		return 4;
	return 0;
}

/* Lines "fd N TARGET" of the log, as one string "N=TARGET;..." in fd order
 * (readdir of /proc/self/fd lists them in order). */
static char *fds_in_log(const char *log)
{
	__do_free char *text = read_file(log, NULL);
	char *out = xstrdup("");

	ck_assert_ptr_nonnull(text);
	for (char *save, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		int fd;
		char target[PATH_MAX];

		if (sscanf(l, "fd %d %4095s", &fd, target) != 2)
			continue;
		char *n = xasprintf("%s%d=%s;", out, fd, target);
		free(out);
		out = n;
	}
	return out;
}

/* Descriptors a careless caller might hold: inheritable, not close-on-exec. */
static void open_strays(int *a, int *b)
{
	int null = open("/dev/null", O_RDONLY);
	int p[2];

	ck_assert_int_ge(null, 0);
	ck_assert_int_eq(pipe(p), 0);
	*a = dup2(null, 40);
	*b = dup2(p[1], 41);
	ck_assert_int_eq(*a, 40);
	ck_assert_int_eq(*b, 41);
	close(null);
	close(p[0]);
	close(p[1]);
}

START_TEST(test_spawn_fds)
{
	__do_free char *log = xasprintf("%s/criu.out", tmpdir);
	__do_free char *fds = NULL, *want = NULL, *text = NULL;
	char *argv[] = { self, "fd-report", NULL };
	char hello[32] = "";
	int sp[2], a, b, in[2], saved0;
	pid_t pid;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	ck_assert_int_eq(write_file(log, "a line from before\n", 19, 0600), 0);
	open_strays(&a, &b);
	/* the page stream at a descriptor other than 3 */
	ck_assert_int_eq(dup3(sp[1], 50, O_CLOEXEC), 50);
	close(sp[1]);
	/* the caller's stdin is not criu's: make it something else than /dev/null */
	ck_assert_int_eq(pipe(in), 0);
	saved0 = fcntl(0, F_DUPFD_CLOEXEC, 100);
	ck_assert_int_eq(dup2(in[0], 0), 0);
	pid = criu_spawn(argv, 50, log);
	if (saved0 >= 0) {
		dup2(saved0, 0);
		close(saved0);
	}
	close(in[0]);
	close(in[1]);
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(criu_wait(pid), 0);
	close(50);
	close(a);
	close(b);
	ck_assert_int_eq(read(sp[0], hello, sizeof(hello) - 1), 15);
	ck_assert_str_eq(hello, "hello from fd 3");
	close(sp[0]);

	fds = fds_in_log(log);
	want = xasprintf("0=/dev/null;1=%s;2=%s;3=", log, log);
	ck_assert_msg(!strncmp(fds, want, strlen(want)), "inherited: %s", fds);
	ck_assert_msg(!strncmp(fds + strlen(want), "socket:[", 8), "fd 3 is not the socket: %s", fds);
	ck_assert_msg(!strchr(strchr(fds + strlen(want), ';') + 1, '='), "more than 0-3 inherited: %s", fds);
	/* appended: what was there stays, stdout and stderr both land */
	text = read_file(log, NULL);
	ck_assert_msg(!strncmp(text, "a line from before\nfd-report start\n", 35), "log: %s", text);
	ck_assert_ptr_nonnull(strstr(text, "fd-report on stderr\n"));
}
END_TEST

START_TEST(test_spawn_without_stream)
{
	__do_free char *log = xasprintf("%s/criu.out", tmpdir);
	__do_free char *fds = NULL, *want = NULL;
	char *argv[] = { self, "fd-report", NULL };
	int a, b;
	pid_t pid;

	open_strays(&a, &b);
	pid = criu_spawn(argv, -1, log);
	close(a);
	close(b);
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(criu_wait(pid), 0);
	fds = fds_in_log(log);
	want = xasprintf("0=/dev/null;1=%s;2=%s;", log, log);
	ck_assert_str_eq(fds, want);

	/* no log: the output goes nowhere, and still nothing else is inherited */
	pid = criu_spawn(argv, -1, NULL);
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(criu_wait(pid), 0);
}
END_TEST

/* A socket pair at descriptors 60 and 61, whatever is free below. */
static void high_pair(int sp[2])
{
	int low[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, low), 0);
	ck_assert_int_eq(dup3(low[0], 60, O_CLOEXEC), 60);
	ck_assert_int_eq(dup3(low[1], 61, O_CLOEXEC), 61);
	close(low[0]);
	close(low[1]);
	sp[0] = 60;
	sp[1] = 61;
}

/* Runs the helper with fd 3 of the caller set up by how3: "stream" puts the
 * page stream there, "free" leaves it closed (crmig's fd 3 can be free: a
 * session of crmig serve closes the listener it inherited). Check itself may
 * hold fd 3 (its message file): no assertion until it is given back. */
static void spawn_with_3(const char *how3)
{
	__do_free char *log = xasprintf("%s/criu.out", tmpdir);
	__do_free char *fds = NULL, *want = NULL;
	char *argv[] = { self, "fd-report", NULL };
	char hello[32] = "";
	int sp[2], saved3 = fcntl(3, F_DUPFD_CLOEXEC, 100), ps = -1;
	pid_t pid = -1;

	high_pair(sp);
	close(3);
	if (!strcmp(how3, "free"))
		ps = sp[1];
	else if (dup3(sp[1], 3, O_CLOEXEC) == 3)
		ps = 3;
	if (ps >= 0)
		pid = criu_spawn(argv, ps, log);
	close(3);
	if (saved3 >= 0) { /* give the caller's fd 3 back */
		dup3(saved3, 3, O_CLOEXEC);
		close(saved3);
	}
	ck_assert_int_ge(ps, 0);
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(criu_wait(pid), 0);
	close(sp[1]);
	fds = fds_in_log(log);
	ck_assert_msg(read(sp[0], hello, sizeof(hello) - 1) == 15, "fd 3 = %s: no hello on the stream; inherited %s", how3, fds);
	ck_assert_str_eq(hello, "hello from fd 3");
	close(sp[0]);
	want = xasprintf("0=/dev/null;1=%s;2=%s;3=socket:[", log, log);
	ck_assert_msg(!strncmp(fds, want, strlen(want)), "fd 3 = %s: inherited %s", how3, fds);
	ck_assert_msg(!strchr(strchr(fds + strlen(want), ';') + 1, '='), "more than 0-3 inherited: %s", fds);
}

START_TEST(test_spawn_stream_already_on_3)
{
	spawn_with_3("stream");
}
END_TEST

START_TEST(test_spawn_caller_without_3)
{
	spawn_with_3("free");
}
END_TEST

START_TEST(test_spawn_failures)
{
	__do_free char *log = xasprintf("%s/criu.out", tmpdir);
	__do_free char *text = NULL;
	char *missing[] = { "/nonexistent/criu", "dump", NULL };
	char *killed[] = { "/bin/sh", "-c", "kill -9 $$", NULL };
	char *status[] = { "/bin/sh", "-c", "exit 7", NULL };
	__do_free char *badlog = xasprintf("%s/no/such/dir/criu.out", tmpdir);

	ck_assert_int_eq(criu_wait(criu_spawn(missing, -1, log)), 127);
	text = read_file(log, NULL);
	ck_assert_ptr_nonnull(strstr(text, "crmig: cannot run /nonexistent/criu: No such file or directory"));
	ck_assert_int_eq(criu_wait(criu_spawn(killed, -1, log)), 128 + SIGKILL);
	ck_assert_int_eq(criu_wait(criu_spawn(status, -1, log)), 7);
	/* a log that cannot be opened: the child fails rather than run blind */
	ck_assert_int_eq(criu_wait(criu_spawn(status, -1, badlog)), 127);
	ck_assert_int_eq(criu_wait(999999999), -1);
}
END_TEST

int main(int argc, char **argv)
{
	Suite *s = suite_create("criu");
	TCase *args = tcase_create("argv"), *logs = tcase_create("logs"), *spawn = tcase_create("spawn");
	ssize_t n;

	if (argc == 2 && !strcmp(argv[1], "fd-report"))
		return fd_report();
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0) {
		perror("test_criu: /proc/self/exe");
		return 2;
	}
	self[n] = '\0';

	tcase_add_test(args, test_action_names);
	tcase_add_test(args, test_binary_choice);
	tcase_add_test(args, test_dump_to_page_server);
	tcase_add_test(args, test_pre_dump_rounds);
	tcase_add_test(args, test_lazy_dump);
	tcase_add_test(args, test_netns_lock_method);
	tcase_add_test(args, test_features_json);
	tcase_add_test(args, test_restore);
	tcase_add_test(args, test_page_server);
	tcase_add_test(args, test_lazy_pages_daemon);
	tcase_add_test(args, test_options_per_action);
	tcase_add_test(args, test_minimal_tls_and_extra);
	tcase_add_test(args, test_argv_is_a_copy);
	tcase_add_test(args, test_config_text);
	suite_add_tcase(s, args);

	tcase_add_checked_fixture(logs, setup_dir, teardown_dir);
	tcase_add_test(logs, test_log_errors);
	tcase_add_test(logs, test_log_read_loop);
	suite_add_tcase(s, logs);

	tcase_add_checked_fixture(spawn, setup_dir, teardown_dir);
	tcase_set_timeout(spawn, 60);
	tcase_add_test(spawn, test_spawn_fds);
	tcase_add_test(spawn, test_spawn_without_stream);
	tcase_add_test(spawn, test_spawn_stream_already_on_3);
	tcase_add_test(spawn, test_spawn_caller_without_3);
	tcase_add_test(spawn, test_spawn_failures);
	suite_add_tcase(s, spawn);

	return unit_run(s) ? 1 : 0;
}
