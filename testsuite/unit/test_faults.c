/* crmig's fault points (ref/fault.h) end to end: every (point x action x
 * strategy) that exists, injected with CRMIG_FAULT into the real crmig
 * migrate and crmig serve over loopback with the fake criu (the harness of
 * test_e2e.c, included below). Each row states what must come of it:
 *   before the handover: the report says rolled-back (or failed before the
 *     final freeze), the workload runs on the source, unfrozen, and the
 *     destination keeps nothing (no process, no images under its state);
 *   after it: the documented outcome, nothing leaked;
 * and crmig exits within a bound, never hangs (a row that takes longer fails).
 * The table is the one in crmig(1) (FAULT INJECTION). */
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-variable"

#include <check.h>
#include <stdbool.h>

#include "fault.h"

static void fault_tests(Suite *s, bool ns, const char *why);
#define E2E_TESTS fault_tests
#include "test_e2e.c"

/* crmig migrate's --timeout in these runs: the bound of a stalled peer */
#define FAULT_TIMEOUT "10"
/* a stalled destination wakes up after crmig gave up on it, and cleans up */
#define STALL "stall:13"
/* how long a row may take: a stalled peer (crmig waits until --timeout),
 * any other fault */
#define BOUND_S 25.0
#define QUICK_S 5.0

enum src_after { SRC_RUNS, SRC_ENDED };

struct frow {
	const char *strategy;
	const char *fault;          /* CRMIG_FAULT */
	const char *result;         /* crmig's result; NULL: crmig was killed (no report) */
	const char *error;          /* a substring of its error, or NULL */
	enum src_after src;         /* the workload on the source afterwards */
	bool dest_keeps;            /* the restored copy stays on the destination */
	bool sessions;              /* serve without --once: a killed session is serve's child */
	bool plain;                 /* --page-tls off */
	const char *fake_fail;      /* FAKE_CRIU_FAIL on both hosts */
};

/* Processes of d's pid namespace whose comm is comm. */
static int ns_count(struct dest *d, const char *comm)
{
	__do_free char *nslink = xasprintf("/proc/%d/ns/pid", d->init);
	char ns[64] = "", other[64];
	ssize_t n = readlink(nslink, ns, sizeof(ns) - 1);
	DIR *proc = opendir("/proc");
	struct dirent *e;
	int count = 0;

	ck_assert_int_gt(n, 0);
	ns[n] = '\0';
	while (proc && (e = readdir(proc))) {
		__do_free char *link = NULL, *cpath = NULL, *c = NULL;

		if (!atoi(e->d_name))
			continue;
		link = xasprintf("/proc/%s/ns/pid", e->d_name);
		n = readlink(link, other, sizeof(other) - 1);
		if (n <= 0)
			continue;
		other[n] = '\0';
		cpath = xasprintf("/proc/%s/comm", e->d_name);
		c = read_file(cpath, NULL);
		if (!strcmp(ns, other) && c && !strncmp(c, comm, strlen(comm)) && c[strlen(comm)] == '\n')
			count++;
	}
	if (proc)
		closedir(proc);
	return count;
}

/* The dst-* directories under serve's state directory. */
static int dest_dirs(struct dest *d)
{
	DIR *dir = opendir(d->state);
	struct dirent *e;
	int n = 0;

	while (dir && (e = readdir(dir)))
		n += !strncmp(e->d_name, "dst-", 4);
	if (dir)
		closedir(dir);
	return n;
}

/* Polls up to 10 s for the destination to settle as wanted. */
static bool dest_settles(struct dest *d, int want_sleep)
{
	for (double deadline = now_ms() + 10000; now_ms() < deadline; usleep(50 * 1000))
		if (dest_dirs(d) == 0 && ns_count(d, "sleep") == want_sleep && ns_count(d, "fake-criu") == 0)
			return true;
	return false;
}

/* A corrupt fault of a page stream (any point but the image transfers',
 * which damage a file) flips a byte in a relay, and only where both ends of
 * the stream are relays do their sums find it: so both hosts carried every
 * page stream through one (relay_needed, page_tls_relay), whether their
 * kernels have TLS or not. */
static void expect_relays(struct run *r, struct dest *d, const struct frow *row)
{
	json_t *streams = json_object_get(r->report, "page_streams"), *e;
	size_t i;

	ck_run(json_array_size(streams) > 0, r, d, "%s %s: no page_streams in the report\n%s", row->strategy,
	       row->fault, __s);
	json_array_foreach(streams, i, e) {
		const char *sw = json_string_value(json_object_get(e, "source_why"));
		const char *dw = json_string_value(json_object_get(e, "destination_why"));
		bool lazy = !strcmp(json_string_value(json_object_get(e, "op")) ?: "", "lazy-channel");

		ck_run(!strcmp(str(e, "source"), "relay") && !strcmp(str(e, "destination"), "relay"), r, d,
		       "%s %s: stream %zu not relayed on both hosts\n%s", row->strategy, row->fault, i, __s);
		ck_run(lazy || (sw && strstr(sw, "corrupt fault") && dw), r, d,
		       "%s %s: stream %zu: why a relay: %s / %s\n%s", row->strategy, row->fault, i, sw ?: "-", dw ?: "-",
		       __s);
	}
}

static void run_row(const struct frow *row)
{
	__do_free char *dir = test_dir("fault");
	__do_free char *fault = xasprintf("CRMIG_FAULT=%s", row->fault);
	__do_free char *fake = xasprintf("FAKE_CRIU_FAIL=%s", row->fake_fail ?: "");
	const char *env[] = { "CRMIG_FAULT_ENABLE=1", fault, "FAKE_CRIU_LAZY_MS=40", fake, NULL };
	const char *denv[] = { "CRMIG_FAULT_ENABLE=1", "FAKE_CRIU_LAZY_MS=40", fake, NULL };
	const char *more[] = { "--timeout", FAULT_TIMEOUT, NULL };
	struct dest_opts dopt = { .env = denv, .many = row->sessions };
	struct mig_opts mopt = { .strategy = row->strategy, .env = env, .more = more,
				 .page_tls = row->plain ? "off" : "on" };
	struct dest d;
	struct run r;
	pid_t victim;
	double start, took;
	/* a fault must be noticed when it happens, not when --timeout runs out:
	 * only a stalled peer may take that long */
	double bound = strstr(row->fault, ":stall") ? BOUND_S : QUICK_S;

	dest_start(&d, dir, &dopt);
	victim = victim_start(true);
	start = now_ms();
	migrate(&r, dir, victim, &d, &mopt);
	took = (now_ms() - start) / 1000;
	ck_run(r.status >= 0, &r, &d, "%s %s: crmig migrate hung (killed after 120 s)\n%s", row->strategy, row->fault, __s);
	ck_run(took < bound, &r, &d, "%s %s: crmig took %.1f s (bound %.0f s)\n%s", row->strategy, row->fault, took,
	       bound, __s);
	if (!row->result) {
		ck_run(r.status == 128 + SIGKILL, &r, &d, "%s %s: exit %d, want killed\n%s", row->strategy, row->fault,
		       r.status, __s);
	} else {
		ck_run(r.status == (strcmp(row->result, "ok") ? 1 : 0), &r, &d, "%s %s: exit %d\n%s", row->strategy,
		       row->fault, r.status, __s);
		ck_run(r.report && !strcmp(str(r.report, "result"), row->result), &r, &d, "%s %s: result %s, want %s\n%s",
		       row->strategy, row->fault, r.report ? str(r.report, "result") : "(no report)", row->result, __s);
		check_contract_keys(r.report, row->strategy, row->result);
		ck_run(!row->error || strstr(str(r.report, "error"), row->error), &r, &d, "%s %s: error %s\nwant %s\n%s",
		       row->strategy, row->fault, str(r.report, "error"), row->error, __s);
		if (strstr(row->fault, ":corrupt") && !strstr(row->fault, "image-transfer") && !row->plain)
			expect_relays(&r, &d, row);
	}
	if (row->src == SRC_ENDED)
		expect_victim_killed(victim);
	else
		expect_victim_running(victim);
	ck_run(dest_settles(&d, row->dest_keeps ? 1 : 0), &r, &d,
	       "%s %s: the destination kept %d dst-* dirs, %d restored processes (want %d), %d criu\n%s", row->strategy,
	       row->fault, dest_dirs(&d), ns_count(&d, "sleep"), row->dest_keeps ? 1 : 0, ns_count(&d, "fake-criu"), __s);
	fprintf(stderr, "fault %-7s %-28s %-5s -> %-11s exit %3d in %5.2f s: source %s, destination %s\n", row->strategy,
		row->fault[0] ? row->fault : row->fake_fail, row->plain ? "plain" : "tls", r.report ? str(r.report, "result") : "(killed)", r.status, took,
		row->src == SRC_ENDED ? "ended" : "runs", row->dest_keeps ? "runs it" : "clean");
	victim_end(victim);
	run_free(&r);
	dest_stop(&d);
}

#define RB "rolled-back"
#define FROZEN "the source was resumed"

/* The matrix. Rows per point and action; strategies where the point exists. */
static const struct frow rows[] = {
	/* pre-dump rounds: nothing is frozen for long; a round that fails is "failed", the source runs */
	{ "pre", "round-1:kill-criu", "failed", "pre-dump round 1", SRC_RUNS },
	{ "hybrid", "round-1:kill-criu", "failed", "pre-dump round 1", SRC_RUNS },
	{ "pre", "round-2:kill-criu", "failed", "pre-dump round 2", SRC_RUNS },
	{ "pre", "round-1:corrupt", "failed", "SHA-256 differ", SRC_RUNS },
	{ "hybrid", "round-2:corrupt", "failed", "SHA-256 differ", SRC_RUNS },
	{ "pre", "round-1:kill-self", NULL, NULL, SRC_RUNS },
	{ "hybrid", "round-1:kill-self", NULL, NULL, SRC_RUNS },
	{ "pre", "dst-round-1:kill-criu", "failed", "pre-dump round 1", SRC_RUNS },
	{ "hybrid", "dst-round-2:kill-criu", "failed", "pre-dump round 2", SRC_RUNS },
	{ "pre", "dst-round-1:kill-self", "failed", "pre-dump round 1", SRC_RUNS, false, true },
	{ "pre", "dst-round-1:" STALL, "failed", "pre-dump round 1", SRC_RUNS },
	/* the final dump: frozen */
	{ "stop", "final-dump:kill-criu", RB, NULL, SRC_RUNS },
	{ "pre", "final-dump:kill-criu", RB, NULL, SRC_RUNS },
	{ "post", "final-dump:kill-criu", RB, NULL, SRC_RUNS },
	{ "hybrid", "final-dump:kill-criu", RB, NULL, SRC_RUNS },
	{ "stop", "final-dump:corrupt", RB, "SHA-256 differ", SRC_RUNS },
	{ "pre", "final-dump:corrupt", RB, "SHA-256 differ", SRC_RUNS },
	{ "stop", "final-dump:kill-self", NULL, NULL, SRC_RUNS },
	{ "stop", "final-dump:kill-self", NULL, NULL, SRC_RUNS, false, false, true },
	{ "post", "final-dump:kill-self", NULL, NULL, SRC_RUNS },
	{ "stop", "dst-final-dump:kill-criu", RB, NULL, SRC_RUNS },
	{ "pre", "dst-final-dump:kill-criu", RB, NULL, SRC_RUNS },
	/* before the final freeze: nothing was frozen */
	{ "stop", "dst-final-dump:kill-self", "failed", NULL, SRC_RUNS, false, true },
	{ "post", "dst-final-dump:kill-self", "failed", NULL, SRC_RUNS, false, true },
	{ "post", "dst-final-dump:" STALL, "failed", "timed out", SRC_RUNS },
	/* the images cross (post-dump hook). A byte changed on the source after
	 * criu wrote it is nothing crmig can see (criu sums no image): here the
	 * fake's restore refuses it; a real criu may take it (the lab has no such case) */
	{ "stop", "image-transfer:kill-criu", RB, NULL, SRC_RUNS },
	{ "pre", "image-transfer:kill-criu", RB, NULL, SRC_RUNS },
	{ "post", "image-transfer:kill-criu", RB, NULL, SRC_RUNS },
	{ "hybrid", "image-transfer:kill-criu", RB, NULL, SRC_RUNS },
	{ "stop", "image-transfer:corrupt", RB, "inventory.img is damaged", SRC_RUNS },
	{ "pre", "image-transfer:corrupt", RB, "inventory.img is damaged", SRC_RUNS },
	{ "post", "image-transfer:corrupt", RB, "inventory.img is damaged", SRC_RUNS },
	{ "hybrid", "image-transfer:corrupt", RB, "inventory.img is damaged", SRC_RUNS },
	{ "stop", "image-transfer:kill-self", NULL, NULL, SRC_RUNS },
	{ "post", "image-transfer:kill-self", NULL, NULL, SRC_RUNS },
	{ "stop", "dst-image-transfer:corrupt", RB, "inventory.img is damaged: it changed here", SRC_RUNS },
	{ "post", "dst-image-transfer:corrupt", RB, "inventory.img is damaged: it changed here", SRC_RUNS },
	{ "stop", "dst-image-transfer:kill-self", RB, FROZEN, SRC_RUNS, false, true },
	{ "pre", "dst-image-transfer:kill-self", RB, FROZEN, SRC_RUNS, false, true },
	{ "post", "dst-image-transfer:kill-self", RB, FROZEN, SRC_RUNS, false, true },
	{ "stop", "dst-image-transfer:" STALL, RB, FROZEN, SRC_RUNS },
	/* the restore */
	{ "stop", "restore:kill-criu", RB, "criu on the source died", SRC_RUNS },
	{ "pre", "restore:kill-criu", RB, "criu on the source died", SRC_RUNS },
	{ "post", "restore:kill-criu", RB, "criu on the source died", SRC_RUNS },
	{ "hybrid", "restore:kill-criu", RB, "criu on the source died", SRC_RUNS },
	{ "stop", "restore:kill-self", NULL, NULL, SRC_RUNS },
	{ "post", "restore:kill-self", NULL, NULL, SRC_RUNS },
	{ "stop", "dst-restore:kill-criu", RB, FROZEN, SRC_RUNS },
	{ "pre", "dst-restore:kill-criu", RB, FROZEN, SRC_RUNS },
	{ "post", "dst-restore:kill-criu", RB, FROZEN, SRC_RUNS },
	{ "hybrid", "dst-restore:kill-criu", RB, FROZEN, SRC_RUNS },
	{ "stop", "dst-restore:kill-self", RB, FROZEN, SRC_RUNS, false, true },
	{ "post", "dst-restore:kill-self", RB, FROZEN, SRC_RUNS, false, true },
	/* the handover */
	{ "stop", "handover:kill-criu", "ok", NULL, SRC_ENDED, true },
	{ "pre", "handover:kill-criu", "ok", NULL, SRC_ENDED, true },
	/* post-copy: the pages the destination lacks die with criu, so no commit */
	{ "post", "handover:kill-criu", RB, "at the handover (it gave up or was killed), before the commit", SRC_RUNS },
	{ "hybrid", "handover:kill-criu", RB, "at the handover (it gave up or was killed), before the commit", SRC_RUNS },
	{ "stop", "handover:kill-self", NULL, NULL, SRC_RUNS },
	{ "pre", "handover:kill-self", NULL, NULL, SRC_RUNS },
	{ "stop", "dst-handover:kill-self", RB, FROZEN, SRC_RUNS, false, true },
	{ "pre", "dst-handover:kill-self", RB, FROZEN, SRC_RUNS, false, true },
	{ "post", "dst-handover:kill-self", RB, FROZEN, SRC_RUNS, false, true },
	{ "stop", "dst-handover:" STALL, RB, FROZEN, SRC_RUNS },
	/* the lazy window: past the point of no return */
	{ "post", "lazy-window:kill-criu", "failed", "did not all arrive", SRC_RUNS },
	{ "hybrid", "lazy-window:kill-criu", "failed", "did not all arrive", SRC_RUNS },
	{ "post", "lazy-window:corrupt", "failed", "did not all arrive", SRC_RUNS },
	{ "post", "dst-lazy-window:kill-criu", "failed", "did not all arrive", SRC_RUNS },
	{ "hybrid", "dst-lazy-window:kill-criu", "failed", "did not all arrive", SRC_RUNS },
	/* criu dies after it served the last page (no fault point: the fake
	 * dies by itself): the destination has every page and keeps the
	 * workload, the source held stopped meanwhile is ended, never resumed */
	{ "post", "", "ok", NULL, SRC_ENDED, true, false, false, "after-close" },
	{ "hybrid", "", "ok", NULL, SRC_ENDED, true, false, false, "after-close" },
	/* crmig migrate dies in the lazy window: its relay ends the page stream,
	 * criu resumes the source, the incomplete copy on the destination ends */
	{ "post", "lazy-window:kill-self", NULL, NULL, SRC_RUNS },
	{ "hybrid", "lazy-window:kill-self", NULL, NULL, SRC_RUNS },
	/* page streams in the clear (--page-tls off): criu holds the TCP
	 * connection itself, nothing of crmig's sits in between */
	{ "post", "restore:kill-self", NULL, NULL, SRC_RUNS, false, false, true },
	{ "post", "handover:kill-self", NULL, NULL, SRC_RUNS, false, false, true },
	{ "post", "lazy-window:kill-self", NULL, NULL, SRC_ENDED, true, false, true },
	{ "hybrid", "lazy-window:kill-self", NULL, NULL, SRC_ENDED, true, false, true },
	{ "post", "dst-lazy-window:kill-criu", "failed", "did not all arrive", SRC_RUNS, false, false, true },
	{ "stop", "dst-final-dump:kill-criu", RB, NULL, SRC_RUNS, false, false, true },
	{ "pre", "dst-round-2:kill-criu", "failed", "pre-dump round 2", SRC_RUNS, false, false, true },
	{ "stop", "handover:kill-criu", "ok", NULL, SRC_ENDED, true, false, true },
	{ "post", "handover:kill-criu", RB, "at the handover (it gave up or was killed), before the commit", SRC_RUNS, false, false, true },
	{ "stop", "dst-handover:kill-self", RB, FROZEN, SRC_RUNS, false, true, true },
	{ "post", "dst-handover:kill-self", RB, FROZEN, SRC_RUNS, false, true, true },
	/* criu killed while it streams pages on the TCP socket itself (as with
	 * page TLS in the kernel): the destination's page server must see the
	 * stream end then, not when its own timeout runs out (lab fault tier:
	 * 123 s before the source's end of the socket was shut down) */
	{ "stop", "final-dump:kill-criu", RB, NULL, SRC_RUNS, false, false, true },
	{ "pre", "round-1:kill-criu", "failed", NULL, SRC_RUNS, false, false, true },
};

/* FAULT_ROWS=TEXT runs only the rows whose fault (or FAKE_CRIU_FAIL) contains TEXT (debugging).
 * The valgrind pass of make check-unit (CK_FORK=no) checks this process,
 * not crmig's, so it takes every 4th row (rows with a stall excepted): the
 * plain pass runs them all. */
static bool sampled_out(int i)
{
	const char *fork = getenv("CK_FORK");

	return fork && !strcmp(fork, "no") && !getenv("FAULT_ROWS") && (i % 4 || strstr(rows[i].fault, ":stall"));
}

START_TEST(test_fault_row)
{
	const char *only = getenv("FAULT_ROWS");

	if (sampled_out(_i))
		return;
	if (!only || strstr(rows[_i].fault, only) || (rows[_i].fake_fail && strstr(rows[_i].fake_fail, only)))
		run_row(&rows[_i]);
}
END_TEST

/* A refused spec: a usage error before anything happens. */
START_TEST(test_fault_needs_enable)
{
	__do_free char *dir = test_dir("fault-off");
	const char *env[] = { "CRMIG_FAULT=final-dump:kill-criu", "CRMIG_FAULT_ENABLE=", NULL };
	struct mig_opts mopt = { .strategy = "stop", .to = "127.0.0.1:1", .env = env };
	struct run r;
	pid_t victim = victim_start(true);

	migrate(&r, dir, victim, NULL, &mopt);
	ck_assert_msg(r.status == 2, "exit %d, want 2:\n%s", r.status, r.out);
	ck_assert_msg(strstr(r.out, "set CRMIG_FAULT_ENABLE=1 too"), "%s", r.out);
	expect_victim_running(victim);
	victim_end(victim);
	run_free(&r);
}
END_TEST

START_TEST(test_fault_bad_spec)
{
	__do_free char *dir = test_dir("fault-bad");
	const char *env[] = { "CRMIG_FAULT=nowhere:kill-criu", "CRMIG_FAULT_ENABLE=1", NULL };
	struct mig_opts mopt = { .strategy = "stop", .to = "127.0.0.1:1", .env = env };
	struct run r;
	pid_t victim = victim_start(true);

	migrate(&r, dir, victim, NULL, &mopt);
	ck_assert_msg(r.status == 2 && strstr(r.out, "unknown point 'nowhere'"), "exit %d:\n%s", r.status, r.out);
	victim_end(victim);
	run_free(&r);
}
END_TEST

/* cut takes whole seconds or nothing (the link is cut on the lab, by the
 * fault tier: here there is no second host to cut) */
START_TEST(test_fault_cut_spec)
{
	char why[256];

	ck_assert_int_eq(fault_parse("final-dump:cut", why, sizeof(why)), 0);
	ck_assert_int_eq(fault_parse("dst-lazy-window:cut:25", why, sizeof(why)), 0);
	ck_assert_int_eq(fault_parse("final-dump:cut:soon", why, sizeof(why)), -1);
	ck_assert_msg(strstr(why, "whole seconds"), "%s", why);
	ck_assert_int_eq(fault_parse("final-dump:cut:999999", why, sizeof(why)), -1);
	ck_assert_int_eq(fault_parse("final-dump:snip", why, sizeof(why)), -1);
	ck_assert_msg(strstr(why, "cut[:SECONDS]"), "%s", why);
	fault_parse("", why, sizeof(why)); /* leave no fault armed */
}
END_TEST

/* The rules a cut puts in and takes out, through an iptables on PATH that
 * only writes down what it was asked: the cut's own, the healer's after
 * SECONDS, and fault_end's at once. */
static char *iptables_log_wait(const char *log, int lines, double ms)
{
	for (double deadline = now_ms() + ms;; usleep(20 * 1000)) {
		char *text = read_file(log, NULL);
		int n = 0;

		for (const char *p = text; p && (p = strchr(p, '\n')); p++)
			n++;
		if (n >= lines || now_ms() > deadline)
			return text ? text : xstrdup("");
		free(text);
	}
}

START_TEST(test_fault_cut_rules)
{
	__do_free char *dir = test_dir("fault-cut");
	__do_free char *fake = xasprintf("%s/iptables", dir);
	__do_free char *log = xasprintf("%s/iptables.log", dir);
	__do_free char *script = xasprintf("#!/bin/sh\necho \"$*\" >>%s\n", log);
	__do_free char *path = xasprintf("%s:%s", dir, getenv("PATH") ?: "/usr/bin:/bin");
	__do_free char *saved = xstrdup(getenv("PATH") ?: "/usr/bin:/bin");
	static const char ins[] = "-w -I INPUT -s 10.9.8.7 -j DROP\n-w -I OUTPUT -d 10.9.8.7 -j DROP\n";
	static const char del[] = "-w -D INPUT -s 10.9.8.7 -j DROP\n-w -D OUTPUT -d 10.9.8.7 -j DROP\n";
	__do_free char *want = xasprintf("%s%s", ins, del);
	char why[256];

	ck_assert_int_eq(write_file(fake, script, strlen(script), 0755), 0);
	setenv("PATH", path, 1);
	fault_set_peer("10.9.8.7");
	/* the healer puts the link back after its seconds */
	ck_assert_int_eq(fault_parse("final-dump:cut:1", why, sizeof(why)), 0);
	ck_assert_int_eq(fault_at("final-dump", 0), FAULT_CUT);
	{
		__do_free char *text = iptables_log_wait(log, 2, 5000);
		__do_free char *healed = iptables_log_wait(log, 4, 10000);

		ck_assert_str_eq(text, ins); /* nothing taken out before the second is up */
		ck_assert_str_eq(healed, want);
	}
	fault_end(); /* after the healer: its -D find no rule (harmless) */
	unlink(log);
	/* fault_end takes them out at once (the healer only later) */
	ck_assert_int_eq(fault_parse("final-dump:cut:3", why, sizeof(why)), 0);
	ck_assert_int_eq(fault_at("final-dump", 0), FAULT_CUT);
	fault_end();
	{
		__do_free char *text = iptables_log_wait(log, 4, 2000);

		ck_assert_str_eq(text, want);
	}
	fault_end(); /* twice is harmless */
	{
		__do_free char *healed = iptables_log_wait(log, 6, 10000); /* and the healer's, late and harmless */
		__do_free char *all = xasprintf("%s%s", want, del);

		ck_assert_str_eq(healed, all);
	}
	setenv("PATH", saved, 1);
	fault_set_peer("");
	fault_parse("", why, sizeof(why));
	remove_tree(dir);
}
END_TEST

/* serve honours a source's fault only when its own side enabled faults. */
START_TEST(test_fault_dest_not_enabled)
{
	__do_free char *dir = test_dir("fault-dest-off");
	const char *env[] = { "CRMIG_FAULT_ENABLE=1", "CRMIG_FAULT=dst-restore:kill-self", NULL };
	struct dest_opts dopt = { 0 };
	struct mig_opts mopt = { .strategy = "stop", .env = env };
	__do_free char *log = NULL;
	struct dest d;
	struct run r;
	pid_t victim;

	dest_start(&d, dir, &dopt);
	victim = victim_start(true);
	migrate(&r, dir, victim, &d, &mopt);
	ck_run(r.status == 0, &r, &d, "exit %d\n%s", r.status, __s);
	log = slurp(d.log);
	ck_run(strstr(log, "ignoring the fault dst-restore:kill-self") != NULL, &r, &d, "serve log:\n%s", __s);
	expect_victim_killed(victim);
	run_free(&r);
	dest_stop(&d);
}
END_TEST

/* A serve killed in the middle of a session (--once: the session is serve)
 * leaves its directory; the next serve on that state cleans it up. */
START_TEST(test_fault_restarted_serve_cleans_up)
{
	__do_free char *dir = test_dir("fault-restart");
	const char *env[] = { "CRMIG_FAULT_ENABLE=1", "CRMIG_FAULT=dst-image-transfer:kill-self", NULL };
	const char *denv[] = { "CRMIG_FAULT_ENABLE=1", NULL };
	struct dest_opts dopt = { .env = denv };
	struct mig_opts mopt = { .strategy = "stop", .env = env };
	__do_free char *log = NULL;
	struct dest d;
	struct run r;
	pid_t victim;

	dest_start(&d, dir, &dopt);
	victim = victim_start(true);
	migrate(&r, dir, victim, &d, &mopt);
	ck_run(r.status == 1, &r, &d, "exit %d\n%s", r.status, __s);
	ck_assert_int_eq(dest_exit_status(&d, 30), 128 + SIGKILL);
	ck_assert_msg(dest_dirs(&d) == 1, "the killed serve left %d dst-* dirs, want 1", dest_dirs(&d));
	expect_victim_running(victim);
	run_free(&r);
	dest_stop(&d);
	/* the next serve, same state directory */
	dest_start(&d, dir, &dopt);
	ck_assert_msg(dest_dirs(&d) == 0, "the restarted serve left %d dst-* dirs", dest_dirs(&d));
	log = slurp(d.log);
	ck_assert_msg(strstr(log, "is gone: ended what it had restored"), "serve log:\n%s", log);
	/* and it migrates */
	mopt.env = NULL;
	migrate(&r, dir, victim, &d, &mopt);
	ck_run(r.status == 0, &r, &d, "migration after the restart: exit %d\n%s", r.status, __s);
	expect_victim_killed(victim);
	run_free(&r);
	dest_stop(&d);
}
END_TEST

/* A killed crmig migrate leaves its record (STATE/src-ID.json); the next
 * crmig migrate on the host finds it at start, resumes the workload if it
 * was left stopped (criu gone too) and removes what it left. */
START_TEST(test_fault_restarted_migrate_recovers)
{
	__do_free char *dir = test_dir("fault-remigrate");
	__do_free char *state = xasprintf("%s/source-state", root);
	__do_free char *leftover = NULL;
	const char *env[] = { "CRMIG_FAULT_ENABLE=1", "CRMIG_FAULT=image-transfer:kill-self", NULL };
	const char *denv[] = { "CRMIG_FAULT_ENABLE=1", NULL };
	struct dest_opts dopt = { .env = denv };
	struct mig_opts mopt = { .strategy = "stop", .env = env };
	struct dest d;
	struct run r;
	pid_t victim;
	DIR *sd;
	struct dirent *e;
	int records = 0;

	dest_start(&d, dir, &dopt);
	victim = victim_start(true);
	migrate(&r, dir, victim, &d, &mopt);
	ck_run(r.status == 128 + SIGKILL, &r, &d, "exit %d, want killed\n%s", r.status, __s);
	run_free(&r);
	dest_stop(&d);
	sd = opendir(state);
	while (sd && (e = readdir(sd)))
		if (!strncmp(e->d_name, "src-", 4) && strstr(e->d_name, ".json"))
			leftover = xasprintf("%s/%s", state, e->d_name), records++;
	if (sd)
		closedir(sd);
	ck_assert_msg(records == 1 && leftover, "the killed crmig left %d records in %s, want 1", records, state);
	/* as if criu had died too, with the tree stopped */
	kill(victim, SIGSTOP);
	for (double deadline = now_ms() + 5000; proc_state(victim) != 'T' && now_ms() < deadline;)
		usleep(10 * 1000);
	/* the next crmig migrate (to nowhere: it fails to connect) cleans up first */
	mopt.env = NULL;
	mopt.to = "127.0.0.1:1";
	migrate(&r, dir, victim, NULL, &mopt);
	ck_assert_msg(r.status == 1, "exit %d:\n%s", r.status, r.out);
	ck_assert_msg(strstr(r.out, "died mid-migration: resumed its stopped workload"), "output:\n%s", r.out);
	ck_assert_msg(access(leftover, F_OK) < 0, "%s is still there", leftover);
	expect_victim_running(victim);
	victim_end(victim);
	run_free(&r);
}
END_TEST

static void fault_tests(Suite *s, bool ns, const char *why)
{
	TCase *matrix = tcase_create("matrix"), *misc = tcase_create("switches");

	tcase_set_timeout(matrix, 60);
	if (ns && sampled_out(1))
		fprintf(stderr, "*** test_faults: CK_FORK=no (the valgrind pass): every 4th row of the matrix ***\n");
	if (ns)
		tcase_add_loop_test(matrix, test_fault_row, 0, (int)ARRAY_SIZE(rows));
	else
		fprintf(stderr, "*** SKIP test_faults matrix (%zu rows): %s ***\n", ARRAY_SIZE(rows), why), skipped++;
	suite_add_tcase(s, matrix);
	tcase_set_timeout(misc, 120);
	add_or_skip(misc, test_fault_needs_enable, true, NULL);
	add_or_skip(misc, test_fault_bad_spec, true, NULL);
	add_or_skip(misc, test_fault_cut_spec, true, NULL);
	add_or_skip(misc, test_fault_cut_rules, true, NULL);
	add_or_skip(misc, test_fault_dest_not_enabled, ns, why);
	add_or_skip(misc, test_fault_restarted_serve_cleans_up, ns, why);
	add_or_skip(misc, test_fault_restarted_migrate_recovers, ns, why);
	suite_add_tcase(s, misc);
}
