/* Case files: a file with every key, the defaults, each rejection with its
 * file:line and key, continuations; expansion order, nolazy, tier, glob,
 * masks; shards that partition the run; parse_shard and parse_strategies. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../runner/mode.h"
#include "../runner/suite.h"
#include "util.h"
#include "unit.h"

static char tmpdir[] = "/tmp/crmig-test-cases-XXXXXX";
static char err[1024];

static void setup_dir(void)
{
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown_dir(void)
{
	remove_tree(tmpdir);
	strcpy(tmpdir, "/tmp/crmig-test-cases-XXXXXX");
}

/* Writes name (in tmpdir) with text; returns the path (static buffer). */
static const char *put(const char *name, const char *text)
{
	static char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	ck_assert_int_eq(write_file(path, text, strlen(text), 0644), 0);
	return path;
}

static int load(const char *name, const char *text, struct suite_case *c)
{
	err[0] = '\0';
	return case_load(put(name, text), c, err, sizeof(err));
}

/* The case must be rejected with a message containing each of the given pieces. */
static void expect_reject(const char *text, const char *piece1, const char *piece2)
{
	struct suite_case c;

	ck_assert_msg(load("bad.case", text, &c) < 0, "accepted: %s", text);
	ck_assert_msg(strstr(err, piece1), "'%s' not in '%s'", piece1, err);
	if (piece2)
		ck_assert_msg(strstr(err, piece2), "'%s' not in '%s'", piece2, err);
	ck_assert_ptr_nonnull(strstr(err, "bad.case"));
}

START_TEST(test_all_keys)
{
	struct suite_case c;
	const char *text = "; a full case\n"
			   "[case]\n"
			   "workload = tcp\n"
			   "args = --rate 128 --after-ms 2000\n"
			   "modes = lxc\n"
			   "strategies = pre, post ; inline comment\n"
			   "requires = mem_dirty_track uffd-noncoop\n"
			   "flags = tcp-peer, listen,move-ip\n"
			   "tier = lean\n"
			   "timeout = 300\n"
			   "crmig_args = --page-tls off\n"
			   "expect = fail\n"
			   "expect_result = rolled-back\n"
			   "expect_error = lost the peer\n"
			   "description = TCP stream across the move\n";

	ck_assert_int_eq(load("tcp-stream.case", text, &c), 0);
	ck_assert_str_eq(c.name, "tcp-stream");
	ck_assert_ptr_nonnull(strstr(c.file, "/tcp-stream.case"));
	ck_assert_str_eq(c.workload, "tcp");
	ck_assert_str_eq(c.args, "--rate 128 --after-ms 2000");
	ck_assert_uint_eq(c.modes, MODE_LXC);
	ck_assert_uint_eq(c.strategies, ST_PRE | ST_POST);
	ck_assert_int_eq(c.nrequires, 2);
	ck_assert_str_eq(c.requires[0], "mem_dirty_track");
	ck_assert_str_eq(c.requires[1], "uffd-noncoop");
	ck_assert_int_eq(c.nflags, 3);
	ck_assert(case_has_flag(&c, "tcp-peer") && case_has_flag(&c, "listen") && case_has_flag(&c, "move-ip"));
	ck_assert(!case_has_flag(&c, "excl"));
	ck_assert_str_eq(c.tier, "lean");
	ck_assert_int_eq(c.timeout_s, 300);
	ck_assert_str_eq(c.crmig_args, "--page-tls off");
	ck_assert(c.expect_fail);
	ck_assert_str_eq(c.expect_result, "rolled-back");
	ck_assert_str_eq(c.expect_error, "lost the peer");
	ck_assert_str_eq(c.description, "TCP stream across the move");
}
END_TEST

START_TEST(test_defaults)
{
	struct suite_case c;

	ck_assert_int_eq(load("memory.case", "[case]\nworkload = memory\n", &c), 0);
	ck_assert_str_eq(c.name, "memory");
	ck_assert_uint_eq(c.modes, MODE_ALL);
	ck_assert_uint_eq(c.strategies, ST_ALL);
	ck_assert_str_eq(c.tier, "full");
	ck_assert_int_eq(c.timeout_s, 600);
	ck_assert(!c.expect_fail);
	ck_assert_str_eq(c.expect_result, "ok");
	ck_assert_int_eq(c.nflags, 0);
	ck_assert_int_eq(c.nrequires, 0);
	ck_assert_str_eq(c.args, "");
	ck_assert_str_eq(c.expect_error, "");
}
END_TEST

/* Indented lines continue a value; CRLF and a BOM are fine; timeouts at the bounds. */
START_TEST(test_continuation_and_bounds)
{
	struct suite_case c;

	ck_assert_int_eq(load("long.case", "\xef\xbb\xbf[case]\r\nworkload = memory\r\nargs = --size-mb 64\r\n"
					   "   --dirty-rate 5\r\n\t--mapping thp\r\ntimeout = 10\r\n", &c), 0);
	ck_assert_str_eq(c.args, "--size-mb 64 --dirty-rate 5 --mapping thp");
	ck_assert_int_eq(c.timeout_s, 10);
	ck_assert_int_eq(load("t.case", "[case]\nworkload = tree\ntimeout = 7200\nrequires =\nflags =\n", &c), 0);
	ck_assert_int_eq(c.timeout_s, 7200);
	ck_assert_int_eq(c.nrequires, 0);
}
END_TEST

START_TEST(test_rejections)
{
	/* Unknown keys and sections, keys outside [case], duplicates. */
	expect_reject("[case]\nworkload = memory\nworklaod = tcp\n", "bad.case:3:", "worklaod: unknown key");
	expect_reject("[case]\nworkload = memory\n[extra]\n", "bad.case:3:", "unknown section [extra]");
	expect_reject("[case]\nworkload = memory\n[extra]\nfoo = 1\n", "bad.case:3:", "[extra]");
	expect_reject("workload = memory\n[case]\n", "bad.case:1:", "workload: outside the [case] section");
	expect_reject("[case]\nworkload = memory\n[case]\n", "bad.case:3:", "duplicate section");
	expect_reject("[case]\nworkload = memory\ntier = lean\ntier = full\n", "bad.case:4:",
		      "tier: duplicate key (first at line 3)");
	expect_reject("[case]\nworkload = memory\n[case\n", "bad.case:3:", "malformed section");
	expect_reject("[case]\nworkload = memory\njust words\n", "bad.case:3:", "syntax error");
	/* Unknown names. */
	expect_reject("[case]\nworkload = memroy\n", "bad.case:2:", "workload: unknown kind 'memroy'");
	expect_reject("[case]\nworkload = zdtm\nmodes = bare, lxc\n", "bad.case:3:", "modes: workload zdtm runs only bare");
	expect_reject("[case]\nworkload = memory\nstrategies = stop, lazy\n", "bad.case:3:",
		      "strategies: unknown name 'lazy'");
	expect_reject("[case]\nworkload = memory\nstrategies = stop stop\n", "strategies:", "listed twice");
	expect_reject("[case]\nworkload = memory\nstrategies = ,\n", "strategies:", "empty list");
	expect_reject("[case]\nworkload = memory\nmodes = bare, vm\n", "bad.case:3:", "modes: unknown name 'vm'");
	expect_reject("[case]\nworkload = memory\nflags = excl, turbo\n", "bad.case:3:", "flags: unknown name 'turbo'");
	expect_reject("[case]\nworkload = memory\nrequires = Mem.Track\n", "bad.case:3:", "requires: 'Mem.Track' is not");
	expect_reject("[case]\nworkload = memory\ntier = nightly\n", "bad.case:3:", "tier: unknown value 'nightly'");
	expect_reject("[case]\nworkload = memory\nexpect = maybe\n", "bad.case:3:", "expect: unknown value 'maybe'");
	expect_reject("[case]\nworkload = memory\nexpect_result = meh\n", "bad.case:3:", "expect_result: unknown");
	/* Timeouts. */
	expect_reject("[case]\nworkload = memory\ntimeout = 9\n", "bad.case:3:", "timeout: '9'");
	expect_reject("[case]\nworkload = memory\ntimeout = 7201\n", "bad.case:3:", "timeout:");
	expect_reject("[case]\nworkload = memory\ntimeout = 60s\n", "bad.case:3:", "timeout:");
	expect_reject("[case]\nworkload = memory\ntimeout = -60\n", "bad.case:3:", "timeout:");
	expect_reject("[case]\nworkload = memory\ntimeout = 99999999999999999999\n", "bad.case:3:", "timeout:");
	expect_reject("[case]\nworkload = memory\ntimeout =\n", "bad.case:3:", "timeout:");
	/* What no key says alone. */
	expect_reject("", "no [case] section", NULL);
	expect_reject("[case]\nargs = x\n", "workload: missing", NULL);
	expect_reject("[case]\nworkload = memory\nexpect_error = boom\n", "bad.case:3:", "expect_error:");
	expect_reject("[case]\nworkload = memory\nstrategies = post hybrid\nflags = nolazy\n", "bad.case:4:",
		      "nolazy");
	/* a bare listener the harness could not reach after the move */
	expect_reject("[case]\nworkload = tcp\nflags = tcp-peer, listen\n", "bad.case:3:", "listen needs move-ip");
	/* killed: crmig migrate must be the one that dies, at a source point */
	expect_reject("[case]\nworkload = memory\nexpect_result = killed\n", "bad.case:3:", "needs fault = POINT:kill-self");
	expect_reject("[case]\nworkload = memory\nfault = final-dump:kill-criu\nexpect_result = killed\n", "bad.case:4:",
		      "kill-self");
	expect_reject("[case]\nworkload = memory\nfault = dst-restore:kill-self\nexpect_result = killed\n",
		      "bad.case:4:", "a source point");
	/* Characters. */
	expect_reject("[case]\nworkload = memory\nargs = --x $(reboot)\n", "bad.case:3:", "args: character '$'");
	expect_reject("[case]\nworkload = memory\ncrmig_args = a;b\n", "bad.case:3:", "crmig_args: character ';'");
	expect_reject("[case]\nworkload = memory\ndescription = a\x01z\n", "bad.case:3:", "control character");
	expect_reject("[case]\nworkload = memory\ndescription = caf\xe9\n", "bad.case:3:", "invalid UTF-8");
}
END_TEST

START_TEST(test_overlong)
{
	char text[4096], big[2048];

	/* A line inih cannot hold whole. */
	memset(big, 'x', 300);
	big[300] = '\0';
	snprintf(text, sizeof(text), "[case]\nworkload = memory\ndescription = %s\n", big);
	expect_reject(text, "bad.case:3:", "line too long");
	/* Values longer than their field, built with continuations. */
	memset(big, 'a', 150);
	big[150] = '\0';
	snprintf(text, sizeof(text), "[case]\nworkload = memory\ndescription = %s\n %s\n", big, big);
	expect_reject(text, "bad.case:3:", "description: value too long (at most 255");
	snprintf(text, sizeof(text), "[case]\nworkload = memory\nexpect_result = failed\nexpect_error = %s\n", big);
	expect_reject(text, "bad.case:4:", "expect_error: value too long");
	/* args holds 1023 bytes, as much as a value with its continuations may have */
	snprintf(text, sizeof(text), "[case]\nworkload = memory\nargs = %s\n %s\n %s\n %s\n %s\n %s\n %s\n", big,
		 big, big, big, big, big, big);
	expect_reject(text, "args: value too long", NULL);
	expect_reject("[case]\nworkload = memory\nrequires = a_feature_name_far_too_long_for_the_field\n",
		      "bad.case:3:", "requires:");
	expect_reject("[case]\nworkload = memory\nrequires = a b c d e f g h i j k l m n o p q\n", "bad.case:3:",
		      "more than 16");
}
END_TEST

START_TEST(test_file_names)
{
	struct suite_case c;

	ck_assert_int_lt(load("Bad_Name.case", "[case]\nworkload = memory\n", &c), 0);
	ck_assert_ptr_nonnull(strstr(err, "case name"));
	ck_assert_int_lt(load("memory.ini", "[case]\nworkload = memory\n", &c), 0);
	ck_assert_ptr_nonnull(strstr(err, ".case"));
	ck_assert_int_lt(load("a234567890123456789012345678901234567890x.case", "[case]\nworkload = memory\n", &c),
			 0);
	ck_assert_int_eq(load("a234567890123456789012345678901234567890.case", "[case]\nworkload = memory\n", &c),
			 0);
	ck_assert_int_lt(case_load("/nonexistent/x.case", &c, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/x.case"));
}
END_TEST

START_TEST(test_big_file)
{
	struct suite_case c;
	size_t n = 70000;
	__do_free char *text = xmalloc(n + 1);

	memset(text, '\n', n);
	memcpy(text, "[case]\nworkload = memory\n", 25);
	text[n] = '\0';
	ck_assert_int_lt(load("big.case", text, &c), 0);
	ck_assert_ptr_nonnull(strstr(err, "larger than"));
}
END_TEST

START_TEST(test_load_dir)
{
	struct suite_case *cases;
	size_t n;

	put("zeta.case", "[case]\nworkload = memory\n");
	put("alpha.case", "[case]\nworkload = tree\n");
	put("notes.txt", "not a case");
	put(".hidden.case", "garbage");
	ck_assert_int_eq(cases_load_dir(tmpdir, &cases, &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(cases[0].name, "alpha");
	ck_assert_str_eq(cases[1].name, "zeta");
	free(cases);
	put("mid.case", "[case]\nworkload = nope\n");
	ck_assert_int_lt(cases_load_dir(tmpdir, &cases, &n, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "mid.case:2:"));
	ck_assert_ptr_null(cases);
	ck_assert_int_lt(cases_load_dir("/nonexistent-dir", &cases, &n, err, sizeof(err)), 0);
}
END_TEST

/* Every case this tree ships loads (make runs the units from the top of the
 * tree): a case that does not parse would fail the lab's run, not this. */
START_TEST(test_shipped_cases_load)
{
	struct suite_case *cases = NULL;
	size_t n = 0;

	ck_assert_msg(cases_load_dir("testsuite/cases", &cases, &n, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_ge(n, 40);
	free(cases);
}
END_TEST

/* ---------------------------------------------------------------- expansion */

static struct suite_case cases[3];

static void setup_cases(void)
{
	setup_dir();
	/* Deliberately not in name order. */
	ck_assert_int_eq(load("mem.case", "[case]\nworkload = memory\ntier = lean\n", &cases[0]), 0);
	ck_assert_int_eq(load("files.case", "[case]\nworkload = files\nflags = nolazy\n", &cases[1]), 0);
	ck_assert_int_eq(load("tcp.case", "[case]\nworkload = tcp\nmodes = bare\nstrategies = post, stop\n",
			      &cases[2]), 0);
}

static size_t expand(const char *tier, const char *glob, unsigned st, unsigned modes, int i, int n,
		     struct suite_instance **out)
{
	size_t count;

	ck_assert_int_eq(instances_expand(cases, 3, tier, glob, st, modes, i, n, out, &count), 0);
	return count;
}

/* --cases takes several globs, comma-separated */
START_TEST(test_glob_list)
{
	struct suite_instance *in;

	ck_assert(suite_glob_match(NULL, "anything"));
	ck_assert(suite_glob_match("tcp*,zdtm/static/file_lease*", "zdtm/static/file_lease03"));
	ck_assert(suite_glob_match("tcp*,zdtm/static/file_lease*", "tcp-all"));
	ck_assert(!suite_glob_match("tcp*,zdtm/static/file_lease*", "zdtm/static/console"));
	ck_assert(suite_glob_match(",,zdtm/static/vt,", "zdtm/static/vt"));
	ck_assert(!suite_glob_match("", "mem"));
	ck_assert(!suite_glob_match(",", "mem"));
	ck_assert_uint_eq(expand("full", "mem,tcp", ST_STOP, MODE_BARE, 1, 1, &in), 2);
	ck_assert_str_eq(in[0].id, "mem:bare:stop");
	ck_assert_str_eq(in[1].id, "tcp:bare:stop");
	free(in);
}
END_TEST

START_TEST(test_expand_order)
{
	static const char *const want[] = {
		"files:bare:stop", "files:bare:pre", "files:lxc:stop", "files:lxc:pre",
		"mem:bare:stop", "mem:bare:pre", "mem:bare:post", "mem:bare:hybrid",
		"mem:lxc:stop", "mem:lxc:pre", "mem:lxc:post", "mem:lxc:hybrid",
		"tcp:bare:stop", "tcp:bare:post",
	};
	struct suite_instance *in;
	size_t n = expand("full", NULL, ST_ALL, MODE_ALL, 1, 1, &in);

	ck_assert_uint_eq(n, ARRAY_SIZE(want));
	for (size_t i = 0; i < n; i++)
		ck_assert_str_eq(in[i].id, want[i]);
	ck_assert_ptr_eq(in[0].c, &cases[1]);
	ck_assert_uint_eq(in[2].mode, MODE_LXC);
	ck_assert_uint_eq(in[3].strategy, ST_PRE);
	free(in);
}
END_TEST

START_TEST(test_expand_filters)
{
	struct suite_instance *in;
	size_t n;

	n = expand("lean", NULL, ST_ALL, MODE_ALL, 1, 1, &in);
	ck_assert_uint_eq(n, 8);
	ck_assert_str_eq(in[0].id, "mem:bare:stop");
	free(in);
	n = expand("full", "t*", ST_ALL, MODE_ALL, 1, 1, &in);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(in[1].id, "tcp:bare:post");
	free(in);
	n = expand("full", "[fm]*", ST_POST | ST_HYBRID, MODE_LXC, 1, 1, &in);
	ck_assert_uint_eq(n, 2);	/* files is nolazy */
	ck_assert_str_eq(in[0].id, "mem:lxc:post");
	ck_assert_str_eq(in[1].id, "mem:lxc:hybrid");
	free(in);
	n = expand("full", "nothing*", ST_ALL, MODE_ALL, 1, 1, &in);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_null(in);
	n = expand(NULL, NULL, ST_HYBRID, MODE_BARE, 1, 1, &in);
	ck_assert_uint_eq(n, 1);
	free(in);
	ck_assert_int_lt(instances_expand(cases, 3, "nightly", NULL, ST_ALL, MODE_BARE, 1, 1, &in, &n), 0);
	ck_assert_int_lt(instances_expand(cases, 3, "full", NULL, ST_ALL, MODE_BARE, 0, 2, &in, &n), 0);
	ck_assert_int_lt(instances_expand(cases, 3, "full", NULL, ST_ALL, MODE_BARE, 3, 2, &in, &n), 0);
	ck_assert_int_lt(instances_expand(cases, 3, "full", NULL, ST_ALL, MODE_BARE, 1, 0, &in, &n), 0);
}
END_TEST

/* fault = POINT:ACTION: checked as crmig checks it; --tier faults takes the
 * cases that inject one, --tier lean only the lean ones, full all. */
START_TEST(test_fault_key)
{
	struct suite_case c[2];
	struct suite_instance *in;
	size_t n;

	ck_assert_int_eq(load("f.case", "[case]\nworkload = memory\nfault = dst-restore:kill-self\n"
				      "expect_result = rolled-back\nmodes = bare\nstrategies = stop\n", &c[0]), 0);
	ck_assert_str_eq(c[0].fault, "dst-restore:kill-self");
	ck_assert_int_eq(load("g.case", "[case]\nworkload = memory\nmodes = bare\nstrategies = stop\n", &c[1]), 0);
	ck_assert_str_eq(c[1].fault, "");
	ck_assert_int_eq(instances_expand(c, 2, "faults", NULL, ST_ALL, MODE_BARE, 1, 1, &in, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(in[0].id, "f:bare:stop");
	free(in);
	ck_assert_int_eq(instances_expand(c, 2, "full", NULL, ST_ALL, MODE_BARE, 1, 1, &in, &n), 0);
	ck_assert_uint_eq(n, 2);
	free(in);
	expect_reject("[case]\nworkload = memory\nfault = nowhere:kill-criu\n", "unknown point 'nowhere'", ":3");
	expect_reject("[case]\nworkload = memory\nfault = restore:explode\n", "unknown action 'explode'", NULL);
	expect_reject("[case]\nworkload = memory\nfault = restore:exec:reboot\n", "exec is not for cases", NULL);
	expect_reject("[case]\nworkload = memory\nfault = restore:kill-criu; rm -rf /\n", "want POINT:ACTION", NULL);
}
END_TEST

/* Every shard count from 1 to 16: the shards are disjoint, their union is

 * the whole run, and each takes every N-th instance in order. */
START_TEST(test_shards)
{
	struct suite_instance *all;
	size_t total = expand("full", NULL, ST_ALL, MODE_ALL, 1, 1, &all);

	for (int count = 1; count <= 16; count++) {
		int *seen = xzalloc(total * sizeof(int));

		for (int index = 1; index <= count; index++) {
			struct suite_instance *part;
			size_t n = expand("full", NULL, ST_ALL, MODE_ALL, index, count, &part);

			for (size_t j = 0; j < n; j++) {
				size_t k = (size_t)(index - 1) + j * (size_t)count;

				ck_assert_uint_lt(k, total);
				ck_assert_str_eq(part[j].id, all[k].id);
				seen[k]++;
			}
			free(part);
		}
		for (size_t k = 0; k < total; k++)
			ck_assert_int_eq(seen[k], 1);
		free(seen);
	}
	free(all);
}
END_TEST

START_TEST(test_parse_shard)
{
	static const char *const bad[] = { "0/4", "5/4", "1/0", "0/0", "", "/", "1/", "/4", "a/4", "1/4x",
					   " 1/4", "1 /4", "+1/4", "-1/4", "1/-4", "1/4/5", "1", "1/1234567",
					   "99999999999/3", NULL };
	int i, n;

	ck_assert_int_eq(parse_shard("2/4", &i, &n), 0);
	ck_assert_int_eq(i, 2);
	ck_assert_int_eq(n, 4);
	ck_assert_int_eq(parse_shard("1/1", &i, &n), 0);
	ck_assert_int_eq(parse_shard("4/4", &i, &n), 0);
	ck_assert_int_eq(parse_shard("007/10", &i, &n), 0);
	ck_assert_int_eq(i, 7);
	for (int k = 0; bad[k]; k++)
		ck_assert_msg(parse_shard(bad[k], &i, &n) < 0, "accepted '%s'", bad[k]);
}
END_TEST

START_TEST(test_names)
{
	unsigned bits;

	ck_assert_int_eq(parse_strategies("stop,post", &bits), 0);
	ck_assert_uint_eq(bits, ST_STOP | ST_POST);
	ck_assert_int_eq(parse_strategies("hybrid pre", &bits), 0);
	ck_assert_uint_eq(bits, ST_HYBRID | ST_PRE);
	ck_assert_int_eq(parse_strategies("all", &bits), 0);
	ck_assert_uint_eq(bits, ST_ALL);
	ck_assert_int_lt(parse_strategies("stop,lazy", &bits), 0);
	ck_assert_int_lt(parse_strategies("", &bits), 0);
	ck_assert_int_lt(parse_strategies("stop,stop", &bits), 0);
	ck_assert_str_eq(strategy_bit_name(ST_HYBRID), "hybrid");
	ck_assert_str_eq(strategy_bit_name(ST_ALL), "?");
	ck_assert_str_eq(mode_bit_name(MODE_LXC), "lxc");
	/* the lab's own checks have neither mode nor strategy */
	ck_assert_str_eq(mode_bit_name(0), "-");
	ck_assert_str_eq(strategy_bit_name(0), "-");
}
END_TEST

/* The modes are rows (mode_bare.c, mode_lxc.c): the names the parsers
 * take, the order expansion follows, and what each row tells crmig and the
 * shell, come from them. */
START_TEST(test_mode_rows)
{
	struct mode_wl w = { .id = "memory:bare:stop", .container = "cs7", .addr = "10.77.0.101", .dir = "/w", .pid = 4242 };
	unsigned bits, all = 0, n = 0;

	for (unsigned i = 0, m; (m = suite_mode_bit(i)); i++, n++) {
		const struct suite_mode *mode = suite_mode_of(m);
		ck_assert_ptr_nonnull(mode);
		ck_assert_int_eq(parse_modes(mode->name, &bits), 0);
		ck_assert_uint_eq(bits, m);
		ck_assert_str_eq(mode_bit_name(m), mode->name);
		ck_assert_msg(mode->start && mode->crmig_target && mode->pid_word && mode->running_cmd &&
				      mode->resumed_cmd && mode->cleanup_cmd && mode->user_script && mode->local_restore_cmd &&
				      mode->stop_cmd && mode->user_way && mode->target_usage && mode->not_resumed,
			      "mode %s: a row without all its parts", mode->name);
		all |= m;
	}
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(all, MODE_ALL);
	ck_assert_ptr_null(suite_mode_of(MODE_ALL));
	ck_assert_int_eq(parse_modes("lxc,bare", &bits), 0);
	ck_assert_uint_eq(bits, MODE_ALL);
	{
		__do_free char *bare = mode_bare.crmig_target(&w), *lxc = mode_lxc.crmig_target(&w);
		__do_free char *bpid = mode_bare.pid_word(&w), *lpid = mode_lxc.pid_word(&w);
		__do_free char *clean = mode_bare.cleanup_cmd(NULL, &w);
		ck_assert_str_eq(bare, "--pid 4242");
		ck_assert_str_eq(lxc, "--lxc cs7");
		ck_assert_str_eq(bpid, "4242");
		ck_assert_str_eq(lpid, "$(lxc-info -n cs7 -p -H)");
		/* a bare workload's cleanup: its tree, anything with its id, its directory, its address */
		ck_assert_msg(strstr(clean, "k 4242") && strstr(clean, "'[-]-id memory:bare:stop( |$)'") &&
				      strstr(clean, "rm -rf /w;") && strstr(clean, "ip addr del 10.77.0.101/24 dev br0"),
			      "%s", clean);
	}
	/* only a bare workload binds and moves an address; a container always has one */
	ck_assert(mode_bare.moves_addr && !mode_bare.own_addr);
	ck_assert(!mode_lxc.moves_addr && mode_lxc.own_addr);
	/* only a container has a network namespace of its own for criu to lock */
	ck_assert(mode_lxc.locks_netns && !mode_bare.locks_netns);
	ck_assert_ptr_null(mode_bare.user_precopy);
	ck_assert_ptr_nonnull(mode_lxc.user_precopy);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("suite_cases");
	TCase *load_tc = tcase_create("load"), *exp_tc = tcase_create("expand"), *misc = tcase_create("misc");

	tcase_add_checked_fixture(load_tc, setup_dir, teardown_dir);
	tcase_add_test(load_tc, test_all_keys);
	tcase_add_test(load_tc, test_defaults);
	tcase_add_test(load_tc, test_continuation_and_bounds);
	tcase_add_test(load_tc, test_rejections);
	tcase_add_test(load_tc, test_overlong);
	tcase_add_test(load_tc, test_file_names);
	tcase_add_test(load_tc, test_big_file);
	tcase_add_test(load_tc, test_load_dir);
	tcase_add_test(load_tc, test_shipped_cases_load);
	suite_add_tcase(s, load_tc);
	tcase_add_checked_fixture(exp_tc, setup_cases, teardown_dir);
	tcase_add_test(exp_tc, test_expand_order);
	tcase_add_test(exp_tc, test_glob_list);
	tcase_add_test(exp_tc, test_expand_filters);
	tcase_add_test(exp_tc, test_shards);
	tcase_add_test(exp_tc, test_fault_key);

	suite_add_tcase(s, exp_tc);
	tcase_add_test(misc, test_parse_shard);
	tcase_add_test(misc, test_names);
	tcase_add_test(misc, test_mode_rows);
	suite_add_tcase(s, misc);
	return unit_run(s) ? EXIT_FAILURE : EXIT_SUCCESS;
}
