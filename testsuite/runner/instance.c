/* One instance: a workload on host a, bare or in a container; crmig moves it
 * to host b; the workload checks itself; the runner checks the probe gap,
 * crmig's report and that both hosts are otherwise as they were.
 *
 *	start_workload -> migrate -> signal_workload -> wait_verdict -> check */
#include <fcntl.h>
#include <stdarg.h>

#include "bundle.h"
#include "hostile.h"
#include "instance.h"
#include "migrate.h"
#include "util.h"


static int fail(struct inst_ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The first reason leads; later ones are kept after it, so that a known
 * upstream bug can never hide another failure (see known_bugs.c). */
static int fail(struct inst_ctx *x, const char *fmt, ...)
{
	size_t used = strlen(x->res->reason);
	va_list ap;

	if (x->res->outcome == OUTCOME_FAIL && used + sizeof(REASON_SEP) < sizeof(x->res->reason)) {
		memcpy(x->res->reason + used, REASON_SEP, sizeof(REASON_SEP));
		used += sizeof(REASON_SEP) - 1;
	} else if (x->res->outcome == OUTCOME_FAIL) {
		return -1;
	}
	x->res->outcome = OUTCOME_FAIL;
	va_start(ap, fmt);
	vsnprintf(x->res->reason + used, sizeof(x->res->reason) - used, fmt, ap);
	va_end(ap);
	return -1;
}

static int skip(struct inst_ctx *x, const char *why)
{
	x->res->outcome = OUTCOME_SKIP;
	snprintf(x->res->reason, sizeof(x->res->reason), "%s", why);
	return -1;
}

static bool flag(struct inst_ctx *x, const char *f)
{
	return case_has_flag(x->in->c, f);
}

static const char *strategy(struct inst_ctx *x)
{
	return strategy_bit_name(x->in->strategy);
}

/* ---- preconditions -------------------------------------------------------- */

bool inst_strategy_supported(struct runner *r, unsigned strategy, char *why, size_t len)
{
	const struct strategy *st = strategy_by_name(strategy_bit_name(strategy));
	const char *needs[4];
	size_t n = st ? strategy_features(st, needs, ARRAY_SIZE(needs)) : 0;

	/* what the strategy needs of criu: its row in ref/strategies.c */
	for (size_t i = 0; i < n; i++)
		if (!runner_host_has_feature(r, needs[i], why, len))
			return false;
	return true;
}

static int check_requirements(struct inst_ctx *x)
{
	const struct suite_case *c = x->in->c;
	char why[256];

	if (!inst_strategy_supported(x->r, x->in->strategy, why, sizeof(why)))
		return skip(x, why);
	for (int i = 0; i < c->nrequires; i++)
		if (!runner_host_has_feature(x->r, c->requires[i], why, sizeof(why)))
			return skip(x, why);
	if (x->kind->payload_file) {
		/* a payload built without zdtm's tests (their source was not to be had) */
		__do_free char *path = guest_path(x->r, x->kind->payload_file);
		if (host_ok(x->r, HOST_A, 30, "test -e %s", path) != 0) {
			snprintf(why, sizeof(why), "the payload has no %s%s%.180s", x->kind->payload_file,
				 x->r->o->zdtm_missing ? ": " : " (built without zdtm's tests?)",
				 x->r->o->zdtm_missing ? x->r->o->zdtm_missing : "");
			return skip(x, why);
		}
	}
	return 0;
}

static json_t *host_state(struct inst_ctx *x, int host)
{
	__do_free char *fixture = guest_path(x->r, "libexec/installed-tests/crmig/crmig-fixture");
	struct proc_result res;
	json_t *st = NULL;

	if (host_sh(x->r, host, 60, &res, "%s state", fixture) == 0) {
		if (res.status == 0)
			st = json_loads(res.out, 0, NULL);
		proc_result_free(&res);
	}
	return st;
}

/* ---- the workload --------------------------------------------------------- */

static char *workload_args(struct inst_ctx *x)
{
	const struct suite_case *c = x->in->c;
	char *args = xasprintf("--id %s --probe %s:%d %s %s", x->in->id, x->r->lab.harness_addr, PROBE_PORT,
			       x->kind->args ? x->kind->args : "", c->args);

	if (x->peer) {
		char *more = xasprintf("%s --peer %s:%d", args, x->r->lab.harness_addr, tcp_peer_port(x->peer));
		free(args);
		args = more;
	}
	return args;
}

static int start_in_mode(struct inst_ctx *x, char *err, size_t errlen)
{
	__do_free char *bin = xasprintf("libexec/installed-tests/crmig/workloads/%s", x->kind->binary ?: x->kind->name);
	__do_free char *path = guest_path(x->r, bin);
	__do_free char *args = workload_args(x);
	const struct kv_service *svc = x->kind->service ? kv_service(x->kind->service) : NULL;
	struct mode_start s = { .program = path, .with = svc ? svc->binary : NULL, .args = args, .timeout_s = 180 };

	if (x->mode->start(x->r, &x->wl, &s, err, errlen) < 0)
		return fail(x, "%s", err);
	return 0;
}

static int start_workload(struct inst_ctx *x, char *err, size_t errlen)
{
	if (flag(x, "tcp-peer")) {
		x->peer = tcp_peer_start(x->r->lab.harness_addr, 0, err, errlen);
		if (!x->peer)
			return fail(x, "cannot start the harness's TCP peer: %s", err);
	}
	/* a service's clients reach it at its own address, which moves with it */
	if (x->mode->own_addr || flag(x, "move-ip") || x->kind->service)
		snprintf(x->wl.addr, sizeof(x->wl.addr), LAB_SUBNET ".%d", x->mode->addr_base + x->r->next_addr++ % 50);
	if (start_in_mode(x, err, errlen) < 0)
		return -1;
	if (x->kind->service && svc_check_start(&x->svc, x->kind->service, x->wl.addr, 0, SERVICE_KEYS, err, errlen) < 0)
		return fail(x, "%s", err);
	return 0;
}

/* A service kind: on the kept connection, before the workload's own check
 * (which stops the service). */
static void judge_service(struct inst_ctx *x)
{
	char why[1024];

	if (!x->svc.running)
		return;
	if (svc_check_finish(&x->svc, why, sizeof(why)) < 0)
		fail(x, "%s", why);
	json_object_set_new(x->res->details, "service", json_string(why));
}

/* ---- migration ------------------------------------------------------------ */

/* crmig migrate from one host to the other (the second leg of a ping-pong
 * case comes back); its report into *report. */
static int migrate(struct inst_ctx *x, int from, int to, json_t **report)
{
	__do_free char *crmig = guest_path(x->r, "bin/crmig");
	__do_free char *what = x->mode->crmig_target(&x->wl);
	__do_free char *move = x->mode->moves_addr && x->wl.addr[0] ? xasprintf("--move-ip %s/24", x->wl.addr) : xstrdup("");
	__do_free char *sync = x->kind->sync_dir ? xasprintf("--sync %s", x->wl.dir) : xstrdup("");
	struct proc_result res;
	const char *from_name = x->r->lab.hosts[from].name;
	bool first = from == HOST_A;
	bool dst_fault = first && !strncmp(x->in->c->fault, "dst-", 4);

	/* flags = via-gui: crmig gui does it, a browser drives it (via_gui.c) */
	if (flag(x, "via-gui")) {
		char why[2048];
		int rc;

		if (!first || x->mode != &mode_bare)
			return fail(x, "via-gui: only a bare workload from a to b");
		x->t_start = probe_now();
		rc = via_gui_migrate(x->r, x->wl.pid, strategy(x), x->in->c->timeout_s, report, x->crmig_out,
				     sizeof(x->crmig_out), why, sizeof(why));
		x->t_end = probe_now();
		if (rc == VIA_GUI_SKIP) {
			fprintf(stderr, "crmig-suite: %s: SKIP %s\n", x->in->id, why);
			return skip(x, why);
		}
		return rc < 0 ? fail(x, "%s", why) : 0;
	}

	/* the fault tier: CRMIG_FAULT for crmig migrate; serve honours a
	 * destination's fault only while the harness enables it on host b.
	 * Once per instance: the retry after a killed crmig runs clean. */
	if (first && x->in->c->fault[0] && !x->fault_done) {
		char *with = xasprintf("CRMIG_FAULT_ENABLE=1 CRMIG_FAULT=%s %s", x->in->c->fault, crmig);

		free(crmig);
		crmig = with;
	}
	/* flags = dest-full: the destination receives into a small filesystem
	 * (a 4 MiB tmpfs over serve's state directory, for this migration) */
	if (first && flag(x, "dest-full") &&
	    host_ok(x->r, to, 30, "mount -t tmpfs -o size=4m,mode=0700 crmig-dest-full /var/lib/crmig") != 0)
		return fail(x, "cannot mount a small filesystem over /var/lib/crmig on host b");
	if (dst_fault && host_ok(x->r, to, 30, "install -m 0600 /dev/null /var/lib/crmig/fault-enable") != 0)
		return fail(x, "cannot enable fault injection on host b (/var/lib/crmig/fault-enable)");

	/* flags = hostile: crmig-hostile's attacks on b's serve first
	 * (hostile_case.c); the migration after them must pass as usual */
	if (first && flag(x, "hostile")) {
		char why[3072];

		if (hostile_case(x->r, to, x->res->details, why, sizeof(why)) < 0)
			fail(x, "%s", why);
	}
	if (first)
		x->t_start = probe_now(); /* the probe's window spans both legs of a ping-pong */
	if (host_sh(x->r, from, x->in->c->timeout_s, &res,
		    "%s migrate --strategy %s %s --to %s --json %s/%s.report.json --keep-images %s/%s.bundle %s %s %s",
		    crmig, strategy(x), what, x->r->lab.hosts[to].addr, WORK_ROOT, x->wl.slug, WORK_ROOT, x->wl.slug, move,
		    sync, x->in->c->crmig_args) < 0)
		return fail(x, "cannot reach host %s", from_name);
	x->t_end = probe_now();
	if (dst_fault)
		host_ok(x->r, to, 30, "rm -f /var/lib/crmig/fault-enable");
	if (first && flag(x, "dest-full"))
		host_ok(x->r, to, 60, "umount /var/lib/crmig || umount -l /var/lib/crmig");


	snprintf(x->crmig_out, sizeof(x->crmig_out), "%s%s", res.out, res.err);
	json_object_set_new(x->res->details, "crmig_exit", json_integer(res.status));
	if (res.timed_out)
		fail(x, "crmig migrate did not finish in %d s", x->in->c->timeout_s);
	proc_result_free(&res);
	if (first && x->in->c->fault[0] && !x->fault_done++ && !strcmp(x->in->c->expect_result, "killed")) {
		/* the shell reports a command killed by SIGKILL as 128 + 9 */
		int status = (int)json_integer_value(json_object_get(x->res->details, "crmig_exit"));

		return status == 128 + SIGKILL ? 0
					       : fail(x, "crmig migrate was to die at %s, but exited %d: %.1000s",
						      x->in->c->fault, status, x->crmig_out);
	}
	if (host_sh(x->r, from, 30, &res, "cat %s/%s.report.json", WORK_ROOT, x->wl.slug) == 0) {
		if (res.status == 0)
			*report = json_loads(res.out, 0, NULL);
		proc_result_free(&res);
	}
	if (!*report)
		return fail(x, "crmig wrote no report; it said: %.1500s", x->crmig_out);
	return 0;
}

/* ---- after the migration -------------------------------------------------- */

int inst_signal(struct inst_ctx *x, const char *sig)
{
	__do_free char *who = x->mode->pid_word(&x->wl);

	if (host_ok(x->r, x->where, 30, "kill -%s %s", sig, who) != 0)
		return fail(x, "the workload is not running on host %s after the migration", x->r->lab.hosts[x->where].name);
	return 0;
}

/* A kind that reports per-part verdicts (zdtm: one per test) leaves them in DIR/results. */
static void fetch_results(struct inst_ctx *x)
{
	struct proc_result res;

	if (!x->kind->results)
		return;
	if (host_sh(x->r, x->where, 60, &res, "cat %s/results", x->wl.dir) == 0) {
		if (res.status == 0)
			json_object_set_new(x->res->details, "results", json_string(res.out));
		proc_result_free(&res);
	}
}

static int wait_verdict(struct inst_ctx *x, char *verdict, size_t len)
{
	if (host_wait_verdict(x->r, x->where, x->wl.dir, 120, verdict, len) == 0) {
		fetch_results(x);
		return 0;
	}
	return fail(x, "the workload gave no verdict within 120 s on host %s", x->r->lab.hosts[x->where].name);
}

/* The workload serves one echo exchange right after the signal (it waits
 * for it before its verdict): do it now, from the harness. */
static void echo_exchange(struct inst_ctx *x)
{
	char why[256] = "";
	bool ok;

	if (!flag(x, "listen") || !x->wl.addr[0])
		return;
	ok = echo_check(x->wl.addr, 7400, x->in->id, 20, why, sizeof(why)) == 0;
	json_object_set_new(x->res->details, "echo", json_string(ok ? "answered" : why));
	if (!ok && !x->in->c->expect_fail)
		fail(x, "the workload's listener on %s:7400 did not answer after the migration: %s", x->wl.addr, why);
}

/* The workload's and the harness's view, against what the case expects. */
/* A kind with per-part verdicts (zdtm: NAME<TAB>PASS|FAIL|SKIP<TAB>reason a
 * line): the parts that failed, into buf; true if none did. A caller that
 * judges each part itself (zdtm_run) sets the flag "parts-judged". */
static bool parts_ok(struct inst_ctx *x, char *buf, size_t len)
{
	const char *text = json_string_value(json_object_get(x->res->details, "results"));
	size_t used = 0;

	buf[0] = '\0';
	if (!x->kind->results || flag(x, "parts-judged") || !text)
		return true;
	for (const char *p = text; *p;) {
		const char *tab = strchr(p, '\t'), *nl = strchr(p, '\n');

		if (tab && (!nl || tab < nl) && !strncmp(tab, "\tFAIL\t", 6) && used + 1 < len)
			used += (size_t)snprintf(buf + used, len - used, "%s%.*s", used ? ", " : "", (int)(tab - p), p);
		if (!nl)
			break;
		p = nl + 1;
	}
	return !buf[0];
}

static void judge_workload(struct inst_ctx *x, const char *verdict)
{
	char why[1024] = "", failed_parts[512];
	bool parts = parts_ok(x, failed_parts, sizeof(failed_parts));
	bool workload_ok = !strncmp(verdict, "PASS", 4) && parts;
	bool peer_ok = true;

	if (x->peer) {
		peer_ok = tcp_peer_finish(x->peer, 60, why, sizeof(why)) == 0;
		json_object_set_new(x->res->details, "peer", json_string(peer_ok ? "intact" : why));
	}
	json_object_set_new(x->res->details, "verdict", json_string(verdict));
	if (x->in->c->expect_fail) {
		if (workload_ok && peer_ok)
			fail(x, "the damage done by the test was not detected (workload: %.200s)", verdict);
		return;
	}
	if (!parts)
		fail(x, "these parts failed their own checks on host %s: %s", x->r->lab.hosts[x->where].name, failed_parts);
	else if (!workload_ok)
		fail(x, "the workload failed its own checks on host %s: %.600s", x->r->lab.hosts[x->where].name, verdict);
	else if (!peer_ok)
		fail(x, "the harness's TCP peer: %s", why);
}

/* criu locks the workload's network namespace while it is frozen; with
 * nftables it does so in its own process, with iptables by running
 * iptables-restore several times (0.8 s at each end in a TCG guest). Where
 * both hosts' criu have nftables, crmig must have asked for it. */
static void judge_network_lock(struct inst_ctx *x, json_t *rep)
{
	const char *lock = json_string_value(json_object_get(rep, "network_lock"));
	char why[256];
	const char *want = runner_host_has_feature(x->r, "network_lock_nftables", why, sizeof(why)) ? "nftables" : "iptables";

	if (!lock || strcmp(lock, want))
		fail(x, "crmig's report says network_lock %s, expected %s (%s)", lock ? lock : "(none)", want,
		     !strcmp(want, "nftables") ? "criu on both hosts has network_lock_nftables" : why);
}

static void judge_report(struct inst_ctx *x, json_t *rep)
{
	const char *result = json_string_value(json_object_get(rep, "result"));
	const char *error = json_string_value(json_object_get(rep, "error"));
	char why[256];

	if (!crmig_report_complete(rep, why, sizeof(why))) {
		fail(x, "crmig's report is incomplete: %s", why);
		return;
	}
	/* killed: what is judged is the retry, which must succeed */
	const char *expect = strcmp(x->in->c->expect_result, "killed") ? x->in->c->expect_result : "ok";

	if (!result || strcmp(result, expect)) {
		fail(x, "crmig's result is %s, expected %s%s%.1000s", result ? result : "(none)", expect,
		     error ? ": " : "", error ? error : "");
		return;
	}
	if (x->in->c->expect_error[0] && (!error || !strstr(error, x->in->c->expect_error)))
		fail(x, "crmig's error does not say '%s': %.500s", x->in->c->expect_error, error ? error : "(none)");
	if (!strcmp(result, "ok") && x->mode->locks_netns)
		judge_network_lock(x, rep);
}

/* Is the workload still on host a? A zombie waiting for its reaper is not;
 * after a handover give criu's kill a few seconds to land. */
static bool on_host(struct inst_ctx *x, int host, bool wait_for_gone)
{
	__do_free char *cmd = x->mode->running_cmd(&x->wl, wait_for_gone);

	return host_ok(x->r, host, 30, "%s", cmd) == 0;
}

/* The source must be gone after a handover, and still there after a rollback. */
static void judge_source(struct inst_ctx *x, int from, int to, bool migrated)
{
	bool there = on_host(x, from, migrated);
	const char *f = x->r->lab.hosts[from].name, *t = x->r->lab.hosts[to].name;

	if (migrated && there)
		fail(x, "the workload still runs on host %s after crmig handed it to host %s", f, t);
	if (!migrated && !there)
		fail(x, "crmig did not migrate from host %s, but the workload is gone from there", f);
}

static bool report_ok(json_t *rep)
{
	return !strcmp(json_string_value(json_object_get(rep, "result")) ?: "", "ok");
}

bool inst_judge_leg(struct inst_ctx *x, json_t *report, int from, int to)
{
	bool ok = report_ok(report);

	x->where = ok ? to : from;
	judge_report(x, report);
	judge_source(x, from, to, ok);
	return ok;
}

/* crmig migrate was killed at its fault point: the workload runs on at a,
 * not stopped (criu's action script and page stream broke with crmig, and
 * criu resumed it); what the killed one left (its record, its images) is
 * what the next crmig migrate must find: run() migrates again, and the
 * host checks at the end see that nothing of either run stayed. */
static int after_killed(struct inst_ctx *x)
{
	__do_free char *resumed = x->mode->resumed_cmd(&x->wl);

	if (!on_host(x, HOST_A, false))
		return fail(x, "crmig migrate died at %s and the workload is gone from host a", x->in->c->fault);
	if (host_ok(x->r, HOST_A, 30, "%s", resumed) != 0)
		return fail(x, "crmig migrate died at %s and %s on host a", x->in->c->fault, x->mode->not_resumed);
	json_object_set_new(x->res->details, "killed_at", json_string(x->in->c->fault));
	fprintf(stderr, "crmig-suite: %s: crmig died at %s as asked; the workload runs on at a; migrating again\n",
		x->in->id, x->in->c->fault);
	return 0;
}

/* A ping-pong case comes back: B -> A with the same strategy, judged the
 * same way; the second report is kept under details.pingpong. */
static void migrate_back(struct inst_ctx *x)
{
	json_t *back = NULL;

	if (x->res->outcome == OUTCOME_FAIL || migrate(x, HOST_B, HOST_A, &back) < 0) {
		json_decref(back);
		return;
	}
	json_object_set(x->res->details, "pingpong", back);
	inst_judge_leg(x, back, HOST_B, HOST_A);
	json_decref(back);
}

static void judge_gap(struct inst_ctx *x, bool migrated)
{
	double gap = probe_max_gap(x->r->probe, x->in->id, x->t_start, x->t_end);

	x->res->probe_gap_ms = gap;
	if (migrated && !x->in->c->expect_fail && probe_beats(x->r->probe, x->in->id) > 0 && gap < 0)
		fail(x, "no heartbeat around the migration");
}

/* Everything but the containers list (cleanup removes ours) must be as before. */
#define HOST_SETTLE_S 60
static void judge_hosts(struct inst_ctx *x)
{
	static const char *const keys[] = { "cgroup2_mount", "iptables", "nft", "tainted", "stray_processes", "crmig_state" };

	for (int h = 0; h < 2; h++) {
		json_t *after = host_state(x, h);

		/* A peer cleans up on its own clock (a stalled destination wakes
		 * after crmig gave up on it, then ends its session): its criu and
		 * its state directory get a bounded while to go, never for ever. */
		for (int waited = 0; waited < HOST_SETTLE_S && after && x->state_before[h] &&
				     (!json_equal(json_object_get(after, "stray_processes"),
						  json_object_get(x->state_before[h], "stray_processes")) ||
				      !json_equal(json_object_get(after, "crmig_state"),
						  json_object_get(x->state_before[h], "crmig_state")));
		     waited += 3) {
			sleep(3);
			json_decref(after);
			after = host_state(x, h);
		}
		for (size_t k = 0; after && x->state_before[h] && k < ARRAY_SIZE(keys); k++) {
			json_t *b = json_object_get(x->state_before[h], keys[k]), *a = json_object_get(after, keys[k]);

			if (!json_equal(a, b)) {
				__do_free char *bs = json_dumps(b, JSON_ENCODE_ANY), *as = json_dumps(a, JSON_ENCODE_ANY);
				fail(x, "host %s changed: %s was %.300s, is now %.300s", x->r->lab.hosts[h].name, keys[k],
				     bs ? bs : "?", as ? as : "?");
			}
		}
		json_decref(after);
	}
}

/* ---- cleanup and repro bundle -------------------------------------------- */

static void cleanup(struct inst_ctx *x)
{
	__do_free char *cmd = x->mode->cleanup_cmd(x->r, &x->wl);

	for (int h = 0; h < 2; h++) {
		host_ok(x->r, h, 60, "%s", cmd);
		host_ok(x->r, h, 30, "rm -rf %s/%s.report.json %s/%s.bundle", WORK_ROOT, x->wl.slug, WORK_ROOT, x->wl.slug);
	}
	if (x->peer)
		tcp_peer_stop(x->peer);
	x->peer = NULL;
	svc_check_stop(&x->svc);
}

static void save_text(const char *dir, const char *name, const char *text)
{
	__do_free char *p = xasprintf("%s/%s", dir, name);

	write_file(p, text, strlen(text), 0644);
}

static void fetch_to(struct inst_ctx *x, int host, const char *remote, const char *dir, const char *name)
{
	__do_free char *p = xasprintf("%s/%s", dir, name);

	lab_copy_from(&x->r->lab, host, remote, p);
}

/* Everything needed to look at a failure later, and how to replay it. */
static void keep_bundle(struct inst_ctx *x, json_t *report)
{
	__do_free char *dir = xasprintf("%s/%s", x->r->o->keep, x->wl.slug);
	__do_free char *log = xasprintf("%s/log", x->wl.dir);
	__do_free char *remote_tar = xasprintf("%s/%s.bundle.tar", WORK_ROOT, x->wl.slug);
	__do_free char *manifest = xasprintf("%s/manifest.json", x->r->lab.image_dir);
	__do_free char *replay = NULL;

	if (!x->r->o->keep || mkdir_p(dir, 0755) < 0)
		return;
	if (host_ok(x->r, HOST_A, 60, "tar -C %s -cf %s %s.bundle 2>/dev/null", WORK_ROOT, remote_tar, x->wl.slug) == 0)
		fetch_to(x, HOST_A, remote_tar, dir, "crmig-bundle.tar");
	fetch_to(x, x->where, log, dir, "workload.log");
	fetch_to(x, HOST_A, "/var/log/crmig-serve.log", dir, "serve-a.log");
	fetch_to(x, HOST_B, "/var/log/crmig-serve.log", dir, "serve-b.log");
	for (int h = 0; h < 2; h++) {
		__do_free char *name = xasprintf("console-%s.log", x->r->lab.hosts[h].name);
		__do_free char *text = read_file(x->r->lab.hosts[h].console, NULL);
		if (text)
			save_text(dir, name, text);
	}
	{
		__do_free char *m = read_file(manifest, NULL);
		if (m)
			save_text(dir, "manifest.json", m);
	}
	save_text(dir, "crmig-output.txt", x->crmig_out);
	if (report) {
		__do_free char *rep = json_dumps(report, JSON_INDENT(2));
		if (rep)
			save_text(dir, "crmig-report.json", rep);
	}
	replay = xasprintf("To replay %s by hand:\n"
			   "  make lab-up && make lab-shell HOST=a\n"
			   "  # on a: start the workload as the case does (testsuite/cases/%s.case), then\n"
			   "  crmig migrate --strategy %s %s --to %s --keep-images /var/tmp/replay %s\n"
			   "  # on b: kill -USR2 <pid>; cat <dir>/verdict\n"
			   "crmig-bundle.tar holds every criu argv, log and image of the failed run.\n"
			   "Or in one command, on this machine or another: crmig-suite replay THIS_DIR [--shell]\n"
			   "(bundle.json says what the bundle is and holds; its .tar.gz next to it is the same, packed).\n",
			   x->in->id, x->in->c->name, strategy(x),
			   x->mode->target_usage, x->r->lab.hosts[HOST_B].addr,
			   x->in->c->crmig_args);
	save_text(dir, "REPLAY.txt", replay);
	host_ok(x->r, HOST_A, 30, "rm -f %s", remote_tar);
	json_object_set_new(x->res->details, "bundle", json_string(dir));
	fprintf(stderr, "crmig-suite: kept %s (see REPLAY.txt there)\n", dir);
}

static void slugify(const char *id, char *out, size_t len)
{
	snprintf(out, len, "%s", id);
	for (char *p = out; *p; p++)
		if (*p == ':')
			*p = '-';
}

bool inst_begin(struct inst_ctx *x, struct runner *r, const struct suite_instance *in, struct suite_result *res)
{
	*x = (struct inst_ctx){ .r = r, .in = in, .res = res, .kind = workload_kind(in->c->workload),
				.mode = suite_mode_of(in->mode), .svc.conn.fd = -1 };
	memset(res, 0, sizeof(*res));
	res->inst = *in;
	res->probe_gap_ms = -1;
	res->details = json_pack("{s:s}", "accel", r->lab.accel); /* which accelerator ran the hosts */
	snprintf(res->distro, sizeof(res->distro), "%s", r->distro);
	slugify(in->id, x->wl.slug, sizeof(x->wl.slug));
	snprintf(x->wl.id, sizeof(x->wl.id), "%s", in->id);
	snprintf(x->wl.container, sizeof(x->wl.container), "cs%d", r->next_addr % 1000);
	probe_forget(r->probe, in->id);
	if (!x->kind)
		fail(x, "unknown workload kind '%s'", in->c->workload);
	if (!x->mode)
		fail(x, "no mode of bit %u", in->mode);
	return x->kind && x->mode;
}

void inst_record_hosts(struct inst_ctx *x)
{
	x->state_before[HOST_A] = host_state(x, HOST_A);
	x->state_before[HOST_B] = host_state(x, HOST_B);
}

int inst_start_workload(struct inst_ctx *x, char *err, size_t errlen)
{
	return start_workload(x, err, errlen);
}

int inst_migrate(struct inst_ctx *x, int from, int to, json_t **report)
{
	return migrate(x, from, to, report);
}

void inst_final_check(struct inst_ctx *x, bool migrated)
{
	char verdict[2048] = "";

	judge_service(x);
	if (inst_signal(x, "USR2") == 0) {
		echo_exchange(x);
		if (wait_verdict(x, verdict, sizeof(verdict)) == 0)
			judge_workload(x, verdict);
	}
	judge_gap(x, migrated);
}

/* SIGINT kills the commands in flight: what they then "saw" (no report, no
 * tests.tsv, a host unreachable) is no verdict on the workload. */
void inst_interrupted(struct suite_result *res)
{
	char was[sizeof(res->reason)];

	if (!runner_interrupted || res->outcome != OUTCOME_FAIL)
		return;
	snprintf(was, sizeof(was), "%s", res->reason);
	res->outcome = OUTCOME_SKIP;
	snprintf(res->reason, sizeof(res->reason), "the run was interrupted before this one's verdict (in flight: %.600s)", was);
}

void inst_end(struct inst_ctx *x, json_t *report, bool ran)
{
	struct suite_result *res = x->res;

	if (!ran)
		goto out;
	if (res->outcome == OUTCOME_FAIL)
		keep_bundle(x, report);
	/* A debugging aid: look at the hosts before they are cleaned up. */
	if (res->outcome == OUTCOME_FAIL && getenv("CRMIG_SUITE_HOLD")) {
		fprintf(stderr, "crmig-suite: holding %s for %s s (CRMIG_SUITE_HOLD)\n", x->in->id, getenv("CRMIG_SUITE_HOLD"));
		sleep((unsigned)atoi(getenv("CRMIG_SUITE_HOLD")));
	}
	if (res->outcome == OUTCOME_FAIL && x->r->hold)
		x->r->hold(x->r, res);
	cleanup(x);
	if (x->state_before[HOST_A] && res->outcome != OUTCOME_SKIP)
		judge_hosts(x);
out:
	json_decref(x->state_before[HOST_A]);
	json_decref(x->state_before[HOST_B]);
	inst_interrupted(res);
	known_bug_classify(res);
	bundle_finish(res); /* a kept failure: its manifest (bundle.json, final reason) and tarball */
}

int inst_fail(struct inst_ctx *x, const char *fmt, ...)
{
	va_list ap;
	char text[2048];

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	return fail(x, "%s", text);
}

void run_instance(struct runner *r, const struct suite_instance *in, struct suite_result *res)
{
	struct inst_ctx x;
	double t0 = now_ms();
	json_t *report = NULL;
	char err[512];
	bool migrated = false, started = false;

	if (!inst_begin(&x, r, in, res) || check_requirements(&x) < 0)
		goto out;
	started = true;
	inst_record_hosts(&x);
	if (start_workload(&x, err, sizeof(err)) < 0)
		goto out;
	usleep(500 * 1000); /* a few heartbeats before the freeze */
	if (migrate(&x, HOST_A, HOST_B, &report) < 0)
		goto out;
	if (!report && after_killed(&x) < 0) /* expect_result = killed: crmig died, no report */
		goto out;
	if (!report && migrate(&x, HOST_A, HOST_B, &report) < 0)
		goto out;
	res->crmig = json_incref(report);
	/* Before the signal: the workload ends once it has given its verdict. */
	migrated = inst_judge_leg(&x, report, HOST_A, HOST_B);
	if (migrated && flag(&x, "pingpong"))
		migrate_back(&x);
	inst_final_check(&x, migrated);
out:
	inst_end(&x, report, started);
	json_decref(report);
	res->duration_ms = now_ms() - t0;
}

bool crmig_report_complete(json_t *rep, char *why, size_t len)
{
	static const struct {
		const char *key;
		json_type type;
	} keys[] = {
		{ "strategy", JSON_STRING }, { "result", JSON_STRING }, { "downtime_ms", JSON_REAL },
		{ "frozen_ms", JSON_REAL }, { "bytes_before_resume", JSON_INTEGER }, { "bytes_total", JSON_INTEGER },
		{ "rounds", JSON_INTEGER }, { "lazy_ms", JSON_REAL }, { "phases", JSON_ARRAY },
		{ "criu_argv", JSON_ARRAY }, { "versions", JSON_OBJECT },
	};
	const char *result = json_string_value(json_object_get(rep, "result"));

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		json_t *v = json_object_get(rep, keys[i].key);

		if (!v || (json_typeof(v) != keys[i].type && !(keys[i].type == JSON_REAL && json_is_integer(v)))) {
			snprintf(why, len, "key %s missing or of the wrong type", keys[i].key);
			return false;
		}
	}
	if (result && strcmp(result, "ok") && !json_is_string(json_object_get(rep, "error"))) {
		snprintf(why, len, "result %s without an error", result);
		return false;
	}
	if (result && !strcmp(result, "ok") && json_array_size(json_object_get(rep, "criu_argv")) == 0) {
		snprintf(why, len, "no criu call recorded");
		return false;
	}
	return true;
}
