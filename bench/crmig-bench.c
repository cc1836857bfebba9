/* crmig-bench: how the strategies trade downtime against traffic, in one lab.
 *
 * Boots the two hosts (or attaches to a running lab), then for every size,
 * dirty rate and mode (bare, LXC) migrates the memory workload with each
 * strategy, several times (the suite's run_instance: start, migrate, probe
 * gap, crmig's report, every page verified, cleanup). Per size it measures
 * the baselines in the same run: what a user does without crmig
 * (lxc-checkpoint or criu dump, copy over ssh, restore) and the physical
 * floor (local dump + RSS / link bandwidth + local restore). Ratios within
 * one run are what the figures are for: these hosts are TCG guests.
 *
 * Writes OUT/results.json (raw samples, medians, baselines, targets), the
 * SVG plots and OUT/table.txt; prints the table and the targets. */
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>

#include "../testsuite/runner/mode.h"
#include "../testsuite/runner/runner.h"
#include "bench.h"
#include "util.h"

#define LINK_MB 128
#define LINK_PORT 7398
#define KEY_ON_A "/root/.ssh/crmig-bench-key"
/* crmig's own limit (its default, 900 s, can end a long post-copy lazy
 * window), and the runner's for the whole migration command. */
#define CRMIG_TIMEOUT_S 3000
#define INSTANCE_TIMEOUT_S 3300

struct bench_opts {
	const char *image, *payload, *lab_name, *distro, *out, *replot;
	int sizes[16], rates[16];
	size_t nsizes, nrates;
	unsigned modes, strategies;
	int reps, baseline_reps;
	int budget_min;         /* no more repetitions of a configuration past this (0: none) */
	bool quick, baselines, tls_rows;
	int mem_mb;
};

struct bench {
	struct bench_opts *o;
	struct runner *r;
	json_t *doc;
	char path[PATH_MAX];
	double t0;
	double weight_total, weight_done, t_work;  /* progress and ETA */
	size_t steps_total, steps_done;
	int failures;
	json_t *spent;          /* configuration -> seconds its repetitions took */
};

static void on_signal(int sig)
{
	(void)sig;
	runner_interrupted = 1;
	proc_interrupted = 1;
}

/* ---- progress ---------------------------------------------------------------- */

/* Expected seconds of a step (measured in this lab, TCG): the ETA scales
 * them by what the finished steps really took. Post-copy's lazy window with
 * a dirtying workload grows much faster than its size (criu's lazy-pages). */
static double weight_migration(int size_mb, unsigned strategy, int rate, unsigned mode)
{
	double w = 12 + size_mb * 0.04 + suite_mode_of(mode)->bench_fixed_s;

	if (strategy == ST_POST && rate > 0)
		w += size_mb * size_mb / 1500.0;
	return w;
}

static double step_weight(int size_mb, unsigned strategy, enum bench_tls tls, int rate, unsigned mode)
{
	return weight_migration(size_mb, strategy, rate, mode) * bench_tls_rows[tls].weight;
}

static double weight_baseline(int size_mb)
{
	return 15 + size_mb * 0.11;
}

static void progress(struct bench *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void progress(struct bench *b, const char *fmt, ...)
{
	double el = (now_ms() - b->t0) / 1000;
	char msg[1024], eta[32] = "?";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (b->weight_done > 0) {
		double left = (b->weight_total - b->weight_done) * (b->t_work / b->weight_done);
		snprintf(eta, sizeof(eta), "%.0f min", ceil(left / 60));
	}
	fprintf(stderr, "crmig-bench: [%zu/%zu %3.0f%% %02d:%02d elapsed, ETA %s] %s\n", b->steps_done, b->steps_total,
		b->weight_total > 0 ? 100 * b->weight_done / b->weight_total : 0, (int)el / 60, (int)el % 60, eta, msg);
}

/* ---- results document ------------------------------------------------------------ */

static void save(struct bench *b)
{
	json_t *copy = json_deep_copy(b->doc);
	char *text;

	bench_analyze(copy);
	json_object_set_new(copy, "duration_s", json_real(round((now_ms() - b->t0) / 100) / 10));
	text = json_dumps(copy, JSON_INDENT(1) | JSON_REAL_PRECISION(10));
	if (!text || write_file_atomic(b->path, text, strlen(text), 0644) < 0)
		fprintf(stderr, "crmig-bench: cannot write %s: %s\n", b->path, strerror(errno));
	free(text);
	json_decref(copy);
}

static json_t *int_list(const int *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_integer(v[i]));
	return a;
}

/* ---- one crmig migration ------------------------------------------------------ */

/* The final round's pages (the frozen dump of pre/hybrid; the only one of stop). */
static double final_round_pages(json_t *rep)
{
	json_t *rs, *last = NULL;
	size_t i;

	json_array_foreach(json_object_get(rep, "round_stats"), i, rs)
		if (json_is_true(json_object_get(rs, "final")))
			last = rs;
	return last ? jnum(last, "pages_written") : NAN;
}

/* Throughput of the page stream while frozen (stop): bytes / the dump phase. */
static double page_stream_MBps(json_t *rep)
{
	const json_t *p = bench_phase(rep, "dump");
	double ms = jnum(p, "end_ms") - jnum(p, "start_ms");

	if (!p || strcmp(json_string_value(json_object_get(rep, "strategy")) ?: "", "stop"))
		return NAN;
	return ms > 0 ? jnum(rep, "bytes_total") / 1e6 / (ms / 1000) : NAN;
}

static void set_num(json_t *o, const char *key, double v)
{
	json_object_set_new(o, key, isfinite(v) ? json_real(v) : json_null());
}

static json_t *sample_of(const struct suite_result *res, const char *strategy, enum bench_tls tls, int size, int rate,
			 unsigned mode, int rep)
{
	json_t *s = json_object(), *rep_json = res->crmig;
	const char *result = json_string_value(json_object_get(rep_json, "result"));
	const char *verdict = json_string_value(json_object_get(res->details, "verdict"));
	bool migrated = result && !strcmp(result, "ok");
	bool verified = verdict && !strncmp(verdict, "PASS", 4);
	bool valid = migrated && verified && res->probe_gap_ms > 0;
	double pages = final_round_pages(rep_json);

	json_object_set_new(s, "strategy", json_string(strategy));
	json_object_set_new(s, "page_tls", json_boolean(tls != BT_OFF));
	json_object_set_new(s, "page_tls_mode", json_string(bench_tls_rows[tls].name));
	json_object_set_new(s, "size_mb", json_integer(size));
	json_object_set_new(s, "dirty_rate", json_integer(rate));
	json_object_set_new(s, "container", json_string(mode_bit_name(mode)));
	json_object_set_new(s, "rep", json_integer(rep));
	json_object_set_new(s, "id", json_string(res->inst.id));
	json_object_set_new(s, "valid", json_boolean(valid));
	json_object_set_new(s, "outcome", json_string(outcome_name(res->outcome)));
	if (res->reason[0])
		json_object_set_new(s, "reason", json_string(res->reason));
	else if (!valid)
		json_object_set_new(s, "reason", json_string(!migrated ? "crmig did not migrate" : !verified ? "no PASS verdict" : "no probe gap"));
	if (res->known_bug[0])
		json_object_set_new(s, "known_bug", json_string(res->known_bug));
	set_num(s, "downtime_ms", res->probe_gap_ms > 0 ? res->probe_gap_ms : NAN);
	set_num(s, "crmig_downtime_ms", jnum(rep_json, "downtime_ms"));
	set_num(s, "frozen_ms", jnum(rep_json, "frozen_ms"));
	set_num(s, "bytes_before_resume", jnum(rep_json, "bytes_before_resume"));
	set_num(s, "bytes_total", jnum(rep_json, "bytes_total"));
	set_num(s, "rounds", jnum(rep_json, "rounds"));
	set_num(s, "lazy_ms", jnum(rep_json, "lazy_ms"));
	set_num(s, "total_ms", jnum(rep_json, "total_ms"));
	set_num(s, "final_round_pages", pages);
	set_num(s, "final_round_pct", pages * BENCH_PAGE / (size * BENCH_MIB) * 100);
	set_num(s, "page_stream_MBps", page_stream_MBps(rep_json));
	set_num(s, "instance_s", res->duration_ms / 1000);
	if (rep_json) {
		json_object_set(s, "phases", json_object_get(rep_json, "phases") ?: json_null());
		json_object_set(s, "round_stats", json_object_get(rep_json, "round_stats") ?: json_null());
		json_object_set(s, "stop_reason", json_object_get(rep_json, "stop_reason") ?: json_null());
		json_object_set(s, "destination_restore", json_object_get(rep_json, "destination_restore") ?: json_null());
	}
	return s;
}

static struct suite_case *make_case(int size, int rate, enum bench_tls tls)
{
	struct suite_case *c = xzalloc(sizeof(*c));

	snprintf(c->name, sizeof(c->name), "bench-memory");
	snprintf(c->description, sizeof(c->description), "the memory workload, %d MiB, dirtying %d %%/s", size, rate);
	snprintf(c->workload, sizeof(c->workload), "memory");
	snprintf(c->args, sizeof(c->args), "--size-mb %d --dirty-rate %d", size, rate);
	snprintf(c->crmig_args, sizeof(c->crmig_args), "--page-tls %s --timeout %d", bench_tls_rows[tls].name, CRMIG_TIMEOUT_S);
	c->modes = MODE_ALL;
	c->strategies = ST_ALL;
	snprintf(c->tier, sizeof(c->tier), "full");
	c->timeout_s = INSTANCE_TIMEOUT_S;
	snprintf(c->expect_result, sizeof(c->expect_result), "ok");
	return c;
}

/* A configuration's name in b->spent and the progress lines: "stop+tls:200:1:bare". */
static char *config_key(const char *strategy, enum bench_tls tls, int size, int rate, unsigned mode)
{
	return xasprintf("%s%s:%d:%d:%s", strategy, bench_tls_rows[tls].suffix, size, rate, mode_bit_name(mode));
}

/* A configuration whose repetitions already took the budget is not repeated
 * again (post-copy's lazy window can take many minutes at 1 GB): the
 * results say so. */
static bool over_budget(struct bench *b, unsigned strategy, enum bench_tls tls, int size, int rate, unsigned mode,
			int rep)
{
	__do_free char *key = config_key(strategy_bit_name(strategy), tls, size, rate, mode);
	double spent = jnum(b->spent, key);

	if (rep == 1 || !b->o->budget_min || !isfinite(spent) || spent < b->o->budget_min * 60)
		return false;
	json_array_append_new(json_object_get(b->doc, "capped"),
			      json_pack("{s:s, s:b, s:s, s:i, s:i, s:s, s:i, s:f}", "strategy", strategy_bit_name(strategy),
					"page_tls", tls != BT_OFF, "page_tls_mode", bench_tls_rows[tls].name, "size_mb", size,
					"dirty_rate", rate, "container", mode_bit_name(mode), "skipped_rep", rep, "spent_s",
					round(spent)));
	b->steps_total--;
	b->weight_total -= step_weight(size, strategy, tls, rate, mode);
	progress(b, "%s: its repetitions took %.0f min already (budget %d min): not repeated", key, spent / 60,
		 b->o->budget_min);
	return true;
}

static void migrate_once(struct bench *b, unsigned strategy, enum bench_tls tls, int size, int rate, unsigned mode,
			 int rep)
{
	struct suite_case *c = make_case(size, rate, tls);
	struct suite_instance in = { .c = c, .mode = mode, .strategy = strategy };
	struct suite_result res;
	const char *sname = strategy_bit_name(strategy);
	double t = now_ms();
	json_t *s;
	char sz[16], rt[16], dt[16], cdt[16], br[16];

	snprintf(in.id, sizeof(in.id), "bench:%d:%d:%s:%s%s:r%d", size, rate, mode_bit_name(mode), sname,
		 bench_tls_rows[tls].suffix, rep);
	fmt_size(size, sz, sizeof(sz));
	fmt_rate(rate, rt, sizeof(rt));
	progress(b, "%s %s %s %s%s, repetition %d ...", sz, rt, mode_bit_name(mode), sname, bench_tls_rows[tls].label, rep);
	run_instance(b->r, &in, &res);
	s = sample_of(&res, sname, tls, size, rate, mode, rep);
	json_array_append_new(json_object_get(b->doc, "runs"), s);
	b->steps_done++;
	b->weight_done += step_weight(size, strategy, tls, rate, mode);
	b->t_work += (now_ms() - t) / 1000;
	{
		__do_free char *key = config_key(sname, tls, size, rate, mode);
		double spent = jnum(b->spent, key);
		json_object_set_new(b->spent, key, json_real((isfinite(spent) ? spent : 0) + (now_ms() - t) / 1000));
	}
	fmt_ms(jnum(s, "downtime_ms"), dt, sizeof(dt));
	fmt_ms(jnum(s, "crmig_downtime_ms"), cdt, sizeof(cdt));
	fmt_bytes(jnum(s, "bytes_before_resume"), br, sizeof(br));
	if (json_is_true(json_object_get(s, "valid")))
		progress(b, "  -> downtime %s (crmig %s), %s before resume, %.0f rounds, lazy %.2f s, %.0f s%s%s", dt, cdt,
			 br, jnum(s, "rounds"), jnum(s, "lazy_ms") / 1000, res.duration_ms / 1000,
			 res.known_bug[0] ? "; known bug: " : "", res.known_bug);
	else {
		b->failures++;
		progress(b, "  -> NOT COUNTED (%s): %.600s", outcome_name(res.outcome),
			 json_string_value(json_object_get(s, "reason")) ?: "");
	}
	json_decref(res.crmig);
	json_decref(res.details);
	free(c);
	save(b);
}

/* ---- the baselines: what a user does without crmig ------------------------------ */

struct baseline_ctx {
	struct bench *b;
	int size, rate, rep;
	const struct suite_mode *mode;
	struct mode_wl wl;      /* id, slug, container, address, directory, pid */
	char img[PATH_MAX];     /* the images (tmpfs) */
	json_t *s;
};

static int bl_fail(struct baseline_ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bl_fail(struct baseline_ctx *x, const char *fmt, ...)
{
	char why[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (!json_object_get(x->s, "reason"))
		json_object_set_new(x->s, "reason", json_string(why));
	return -1;
}

static int bl_start(struct baseline_ctx *x)
{
	struct runner *r = x->b->r;
	__do_free char *wl = guest_path(r, "libexec/installed-tests/crmig/workloads/memory");
	__do_free char *args = xasprintf("--id %s --probe %s:%d --size-mb %d --dirty-rate %d", x->wl.id, r->lab.harness_addr,
					 PROBE_PORT, x->size, x->rate);
	struct mode_start st = { .program = wl, .args = args, .timeout_s = 300 };
	char why[1024];

	if (x->mode->start(r, &x->wl, &st, why, sizeof(why)) < 0)
		return bl_fail(x, "%s", why);
	return 0;
}

/* RSS of the workload's process tree on host a, in bytes (ps, kB). */
static double tree_rss(struct baseline_ctx *x)
{
	struct proc_result res;
	double total = NAN;

	if (host_sh(x->b->r, HOST_A, 30, &res, "ps -e -o pid=,ppid=,rss=") == 0 && res.status == 0) {
		int pids[4096], ppids[4096];
		double rss[4096];
		bool in[4096] = { false };
		size_t n = 0;
		char *save, *line;

		for (line = strtok_r(res.out, "\n", &save); line && n < 4096; line = strtok_r(NULL, "\n", &save))
			if (sscanf(line, "%d %d %lf", &pids[n], &ppids[n], &rss[n]) == 3)
				n++;
		total = 0;
		/* The root and its descendants (a few passes: the tree is shallow). */
		for (int pass = 0; pass < 8; pass++)
			for (size_t i = 0; i < n; i++) {
				if (in[i])
					continue;
				if (pids[i] == x->wl.pid)
					in[i] = true;
				for (size_t j = 0; !in[i] && j < n; j++)
					if (in[j] && pids[j] == ppids[i])
						in[i] = true;
			}
		for (size_t i = 0; i < n; i++)
			if (in[i])
				total += rss[i] * 1024;
	}
	if (res.out)
		proc_result_free(&res);
	return total;
}

#define SSH_OPTS "-i " KEY_ON_A " -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"

/* Restores the same images on a itself: the floor's "local restore". */
static int local_restore(struct baseline_ctx *x)
{
	struct runner *r = x->b->r;
	struct proc_result res;
	double ms = NAN;

	__do_free char *cmd = x->mode->local_restore_cmd(&x->wl, x->img);
	__do_free char *stop = x->mode->stop_cmd(&x->wl);

	/* The copy on b has given its verdict and exited: nothing else is
	 * using the container's address or the workload's id now. */
	host_ok(r, HOST_B, 60, "%s", stop);

	if (host_sh(r, HOST_A, 600, &res,
		    "s=$(date +%%s%%N); %s; rc=$?; e=$(date +%%s%%N); echo \"RESTORE $rc $(( (e - s) / 1000000 ))\"", cmd) < 0)
		return bl_fail(x, "cannot reach host a");
	{
		int rc = -1;
		char *line = strstr(res.out, "RESTORE ");
		if (line && sscanf(line, "RESTORE %d %lf", &rc, &ms) == 2 && rc == 0)
			set_num(x->s, "local_restore_ms", ms);
		else
			bl_fail(x, "local restore on a failed (%s)", line ? line : res.err);
	}
	proc_result_free(&res);
	/* and stop it again */
	host_ok(r, HOST_A, 60, "%s", stop);
	return isfinite(ms) ? 0 : -1;
}

static void bl_cleanup(struct baseline_ctx *x)
{
	struct runner *r = x->b->r;
	__do_free char *cmd = x->mode->cleanup_cmd(r, &x->wl);

	for (int h = 0; h < 2; h++) {
		host_ok(r, h, 120, "%s >/dev/null 2>&1; true", cmd);
		host_ok(r, h, 60, "rm -rf %s %s.*; true", x->img, x->img);
	}
	probe_forget(r->probe, x->wl.id);
}

static void baseline_once(struct bench *b, int size, int rate, unsigned mode, int rep)
{
	struct runner *r = b->r;
	struct baseline_ctx x = { .b = b, .size = size, .rate = rate, .mode = suite_mode_of(mode), .rep = rep };
	struct proc_result res = { 0 };
	__do_free char *script = NULL;
	double t_start, t_end, t = now_ms();
	char verdict[1024] = "", sz[16], dt[16], fl[16];
	int n = r->next_addr++;
	bool restored = false;

	x.s = json_object();
	snprintf(x.wl.id, sizeof(x.wl.id), "bench:%d:%d:%s:user:r%d", size, rate, x.mode->name, rep);
	snprintf(x.wl.slug, sizeof(x.wl.slug), "bench-user-%d-%s-r%d", size, x.mode->name, rep);
	snprintf(x.wl.container, sizeof(x.wl.container), "cb%d", n % 1000);
	if (x.mode->own_addr)
		snprintf(x.wl.addr, sizeof(x.wl.addr), LAB_SUBNET ".%d", x.mode->addr_base + n % 50);
	snprintf(x.img, sizeof(x.img), "/tmp/crmig-bench-img-%s", x.wl.slug);
	json_object_set_new(x.s, "size_mb", json_integer(size));
	json_object_set_new(x.s, "dirty_rate", json_integer(rate));
	json_object_set_new(x.s, "container", json_string(mode_bit_name(mode)));
	json_object_set_new(x.s, "rep", json_integer(rep));
	json_object_set_new(x.s, "method", json_string(x.mode->user_way));
	fmt_size(size, sz, sizeof(sz));
	progress(b, "%s %s baseline (%s), repetition %d ...", sz, x.mode->name, x.mode->user_way, rep);
	probe_forget(r->probe, x.wl.id);
	if (bl_start(&x) < 0)
		goto out;
	usleep(500 * 1000);
	set_num(x.s, "rss_bytes", tree_rss(&x));
	/* A user would have the container's directory on b before the freeze. */
	if (x.mode->user_precopy) {
		__do_free char *pre = x.mode->user_precopy(&x.wl, r->lab.hosts[HOST_B].addr, SSH_OPTS);
		if (host_ok(r, HOST_A, 600, "%s", pre) != 0) {
			bl_fail(&x, "cannot copy the workload's directory to b before the freeze: %s", pre);
			goto out;
		}
	}
	script = x.mode->user_script(&x.wl, x.img, r->lab.hosts[HOST_B].addr, SSH_OPTS);
	t_start = probe_now();
	if (host_sh(r, HOST_A, 1800, &res, "%s", script) < 0) {
		bl_fail(&x, "cannot reach host a");
		goto out;
	}
	t_end = probe_now();
	{
		double d, c, rs, bytes;
		char *line = strstr(res.out, "STEPS ");

		if (line && sscanf(line, "STEPS %lf %lf %lf %lf", &d, &c, &rs, &bytes) == 4) {
			restored = true;
			set_num(x.s, "dump_ms", d);
			set_num(x.s, "copy_ms", c);
			set_num(x.s, "restore_ms", rs);
			set_num(x.s, "image_bytes", bytes);
			set_num(x.s, "script_ms", t_end - t_start);
		} else
			bl_fail(&x, "%.800s%.800s", res.out, res.err);
	}
	proc_result_free(&res);
	if (!restored)
		goto out;
	/* Verify the workload on b, as the suite does. */
	{
		__do_free char *who = x.mode->pid_word(&x.wl);

		if (host_ok(r, HOST_B, 30, "kill -USR2 %s", who) != 0)
			bl_fail(&x, "the workload does not run on b after the restore");
		else if (host_wait_verdict(x.b->r, HOST_B, x.wl.dir, 180, verdict, sizeof(verdict)) < 0)
			bl_fail(&x, "no verdict from the workload on b");
		else if (strncmp(verdict, "PASS", 4))
			bl_fail(&x, "the workload failed its checks on b: %.300s", verdict);
		json_object_set_new(x.s, "verdict", json_string(verdict));
	}
	set_num(x.s, "downtime_ms", probe_max_gap(r->probe, x.wl.id, t_start, t_end));
	host_ok(r, HOST_B, 60, "rm -rf %s %s.*; true", x.img, x.img); /* free b's memory */
	local_restore(&x);
out:
	json_object_set_new(x.s, "valid", json_boolean(!json_object_get(x.s, "reason") && jnum(x.s, "downtime_ms") > 0));
	bl_cleanup(&x);
	json_array_append_new(json_object_get(b->doc, "baseline_runs"), x.s);
	b->steps_done++;
	b->weight_done += weight_baseline(size);
	b->t_work += (now_ms() - t) / 1000;
	fmt_ms(jnum(x.s, "downtime_ms"), dt, sizeof(dt));
	fmt_ms(jnum(x.s, "dump_ms") + jnum(x.s, "local_restore_ms"), fl, sizeof(fl));
	if (json_is_true(json_object_get(x.s, "valid")))
		progress(b, "  -> downtime %s (dump %.2f s, copy %.2f s, restore %.2f s); local restore %.2f s, RSS %.0f MB",
			 dt, jnum(x.s, "dump_ms") / 1000, jnum(x.s, "copy_ms") / 1000, jnum(x.s, "restore_ms") / 1000,
			 jnum(x.s, "local_restore_ms") / 1000, jnum(x.s, "rss_bytes") / 1e6);
	else {
		b->failures++;
		progress(b, "  -> NOT COUNTED: %.600s", json_string_value(json_object_get(x.s, "reason")) ?: "?");
	}
	save(b);
}

/* ---- the link -------------------------------------------------------------------- */

/* MB/s from a to b with nc (what the floor divides by). */
static double link_push(struct bench *b)
{
	struct runner *r = b->r;
	struct proc_result res;
	double mbps = NAN;

	if (host_ok(r, HOST_B, 20, "(timeout 120 nc -l -p %d >/dev/null </dev/null 2>&1 &); sleep 0.3", LINK_PORT) != 0)
		return NAN;
	if (host_sh(r, HOST_A, 150,
		    &res, "s=$(date +%%s%%N); head -c %dM /dev/zero | nc -N %s %d && e=$(date +%%s%%N) && echo $(( (e - s) / 1000000 ))",
		    LINK_MB, r->lab.hosts[HOST_B].addr, LINK_PORT) == 0) {
		if (res.status == 0 && atof(res.out) > 0)
			mbps = LINK_MB * BENCH_MIB / 1e6 / (atof(res.out) / 1000);
		proc_result_free(&res);
	}
	host_ok(r, HOST_B, 10, "pkill -f 'nc -l -p %d' ; true", LINK_PORT);
	return mbps;
}

static void measure_link(struct bench *b, int times)
{
	json_t *link = json_object_get(b->doc, "link");

	for (int i = 0; i < times && !runner_interrupted; i++) {
		double v = link_push(b);

		if (isfinite(v)) {
			json_array_append_new(json_object_get(link, "samples_MBps"), json_real(round(v * 100) / 100));
			progress(b, "link a->b: %.1f MB/s (nc, %d MiB)", v, LINK_MB);
		} else
			progress(b, "link a->b: measurement failed");
	}
}

/* ---- the lab ------------------------------------------------------------------- */

static void lab_facts(struct bench *b)
{
	struct runner *r = b->r;
	__do_free char *path = xasprintf("%s/manifest.json", r->lab.image_dir);
	json_t *m = json_load_file(path, 0, NULL), *lab = json_object();
	struct proc_result res;

	json_object_set_new(lab, "image", json_string(r->lab.image_dir));
	json_object_set(lab, "distro", json_object_get(m, "distro") ?: json_null());
	json_object_set(lab, "versions", json_object_get(m, "versions") ?: json_null());
	json_object_set_new(lab, "guest_mem_mb", json_integer(b->o->mem_mb));
	json_object_set_new(lab, "accel", json_string(r->lab.accel));
	json_object_set_new(lab, "accel_why", json_string(r->lab.accel_why));
	if (host_sh(r, HOST_A, 30, &res, "uname -r; criu --version | head -n 1; nproc") == 0) {
		json_object_set_new(lab, "host_a", json_string(res.out));
		proc_result_free(&res);
	}
	snprintf(r->distro, sizeof(r->distro), "%s", json_string_value(json_object_get(m, "distro")) ?: b->o->distro);
	json_object_set_new(b->doc, "lab", lab);
	json_decref(m);
}

/* a may ssh to b with the lab's key (the baselines copy with scp). */
static int give_a_the_key(struct bench *b)
{
	struct runner *r = b->r;

	if (lab_copy_to(&r->lab, HOST_A, r->lab.key, KEY_ON_A, 0600) < 0)
		return -1;
	return host_ok(r, HOST_A, 60, "ssh " SSH_OPTS " %s true", r->lab.hosts[HOST_B].addr);
}

/* ---- the run --------------------------------------------------------------------- */

/* Stop-and-copy's page TLS rows (on, relay) run at the reference rate only. */
static bool tls_rows_at(const struct bench_opts *o, size_t rate_index)
{
	return o->tls_rows && (o->strategies & ST_STOP) && o->rates[rate_index] == 1;
}

static void plan(struct bench *b)
{
	struct bench_opts *o = b->o;
	static const unsigned all[] = { ST_STOP, ST_PRE, ST_POST, ST_HYBRID };

	for (size_t s = 0; s < o->nsizes; s++) {
		for (size_t r = 0; r < o->nrates; r++)
			for (unsigned mi = 0, m; (m = suite_mode_bit(mi)) != 0; mi++) {
				if (!(o->modes & m))
					continue;
				for (size_t k = 0; k < ARRAY_SIZE(all); k++)
					if (o->strategies & all[k]) {
						b->steps_total += o->reps;
						b->weight_total += o->reps * weight_migration(o->sizes[s], all[k], o->rates[r], m);
					}
				if (tls_rows_at(o, r))
					for (enum bench_tls t = BT_ON; t < BT_COUNT; t++) {
						b->steps_total += o->reps;
						b->weight_total += o->reps * step_weight(o->sizes[s], ST_STOP, t, 1, m);
					}
			}
		if (o->baselines)
			for (unsigned mi = 0, m; (m = suite_mode_bit(mi)) != 0; mi++)
				if (o->modes & m) {
					b->steps_total += o->baseline_reps;
					b->weight_total += o->baseline_reps * weight_baseline(o->sizes[s]);
				}
	}
}

/* Repetitions of a configuration that over_budget() lets run, if each takes w s. */
static int reps_within_budget(const struct bench_opts *o, double w)
{
	int n = 1;

	while (n < o->reps && (!o->budget_min || n * w < o->budget_min * 60))
		n++;
	return n;
}

/* The run's expected length under TCG in this lab (the steps' weights, the
 * budget's caps), before the ETA learns from the real steps. */
static double planned_s(const struct bench_opts *o)
{
	static const unsigned all[] = { ST_STOP, ST_PRE, ST_POST, ST_HYBRID };
	double t = 0;

	for (size_t s = 0; s < o->nsizes; s++) {
		for (size_t r = 0; r < o->nrates; r++)
			for (unsigned mi = 0, m; (m = suite_mode_bit(mi)) != 0; mi++) {
				if (!(o->modes & m))
					continue;
				for (size_t k = 0; k < ARRAY_SIZE(all); k++)
					if (o->strategies & all[k]) {
						double w = weight_migration(o->sizes[s], all[k], o->rates[r], m);
						t += reps_within_budget(o, w) * w;
					}
				if (tls_rows_at(o, r))
					for (enum bench_tls tl = BT_ON; tl < BT_COUNT; tl++) {
						double w = step_weight(o->sizes[s], ST_STOP, tl, 1, m);
						t += reps_within_budget(o, w) * w;
					}
			}
		if (o->baselines)
			for (unsigned mi = 0, m; (m = suite_mode_bit(mi)) != 0; mi++)
				if (o->modes & m)
					t += o->baseline_reps * weight_baseline(o->sizes[s]);
	}
	return t + 120; /* the lab's boot and provisioning, the link measurements */
}

static int baseline_rate(struct bench_opts *o)
{
	for (size_t r = 0; r < o->nrates; r++)
		if (o->rates[r] == 1)
			return 1;
	return o->nrates ? o->rates[0] : 1;
}

static void run_matrix(struct bench *b)
{
	struct bench_opts *o = b->o;
	static const unsigned order[] = { ST_STOP, ST_PRE, ST_POST, ST_HYBRID };

	for (size_t s = 0; s < o->nsizes && !runner_interrupted; s++) {
		int size = o->sizes[s];

		for (size_t r = 0; r < o->nrates && !runner_interrupted; r++)
			for (unsigned mi = 0, m; (m = suite_mode_bit(mi)) != 0 && !runner_interrupted; mi++) {
				if (!(o->modes & m))
					continue;
				for (int rep = 1; rep <= o->reps && !runner_interrupted; rep++) {
					/* Each repetition starts with another strategy: drift in
					 * the hosts does not always favour the same one. */
					for (size_t k = 0; k < ARRAY_SIZE(order) && !runner_interrupted; k++) {
						unsigned st = order[(k + rep - 1) % ARRAY_SIZE(order)];
						if ((o->strategies & st) && !over_budget(b, st, BT_OFF, size, o->rates[r], m, rep))
							migrate_once(b, st, BT_OFF, size, o->rates[r], m, rep);
					}
					for (enum bench_tls t = BT_ON; tls_rows_at(o, r) && t < BT_COUNT && !runner_interrupted; t++)
						if (!over_budget(b, ST_STOP, t, size, o->rates[r], m, rep))
							migrate_once(b, ST_STOP, t, size, o->rates[r], m, rep);
				}
			}
		if (o->baselines && !runner_interrupted) {
			measure_link(b, 1);
			for (unsigned mi = 0, m; (m = suite_mode_bit(mi)) != 0 && !runner_interrupted; mi++)
				for (int rep = 1; o->modes & m && rep <= o->baseline_reps && !runner_interrupted; rep++)
					baseline_once(b, size, baseline_rate(o), m, rep);
		}
	}
}

static int finish(json_t *doc, const char *out_dir)
{
	__do_free char *table = xasprintf("%s/table.txt", out_dir);
	FILE *f;
	int ret = 0;

	bench_analyze(doc);
	bench_print_table(doc, stdout);
	bench_print_targets(doc, stdout);
	f = fopen(table, "w");
	if (f) {
		bench_print_table(doc, f);
		bench_print_targets(doc, f);
		fclose(f);
	}
	if (bench_plots(doc, out_dir) < 0) {
		fprintf(stderr, "crmig-bench: cannot write the plots in %s\n", out_dir);
		ret = -1;
	}
	return ret;
}

static int cmd_replot(struct bench_opts *o)
{
	json_error_t e;
	json_t *doc = json_load_file(o->replot, 0, &e);
	__do_free char *path = NULL;
	char *text;
	int ret;

	if (!doc) {
		fprintf(stderr, "crmig-bench: %s: %s (line %d)\n", o->replot, e.text, e.line);
		return 1;
	}
	if (mkdir_p(o->out, 0755) < 0) {
		fprintf(stderr, "crmig-bench: cannot create %s\n", o->out);
		return 1;
	}
	ret = finish(doc, o->out) < 0;
	path = xasprintf("%s/results.json", o->out);
	text = json_dumps(doc, JSON_INDENT(1) | JSON_REAL_PRECISION(10));
	if (!text || write_file_atomic(path, text, strlen(text), 0644) < 0)
		ret = 1;
	free(text);
	json_decref(doc);
	return ret;
}

static int cmd_run(struct bench_opts *o)
{
	struct runner_opts ro = { .distro = o->distro, .image = o->image, .payload = o->payload,
				  .lab_name = o->lab_name, .tier = "full", .strategies = ST_ALL,
				  .modes = MODE_ALL, .shard_index = 1, .shard_count = 1,
				  .mem_mb = o->mem_mb };
	struct runner r = { .o = &ro, .features = json_object() };
	struct bench b = { .o = o, .r = &r, .t0 = now_ms(), .spent = json_object() };
	char err[8192], stamp[64];
	time_t now = time(NULL);
	int ret = 1;

	if (mkdir_p(o->out, 0755) < 0) {
		fprintf(stderr, "crmig-bench: cannot create %s: %s\n", o->out, strerror(errno));
		return 1;
	}
	snprintf(b.path, sizeof(b.path), "%s/results.json", o->out);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	b.doc = json_pack("{s:s, s:s, s:s, s:b, s:{s:o, s:o, s:o, s:o, s:i, s:i, s:b}, s:{s:s, s:[]}, s:[], s:[]}",
			  "bench", "crmig-bench", "version", CRMIG_VERSION, "started", stamp, "quick", o->quick, "matrix",
			  "sizes", int_list(o->sizes, o->nsizes), "rates", int_list(o->rates, o->nrates), "modes",
			  json_pack("[]"), "strategies", json_pack("[]"), "repetitions", o->reps, "baseline_repetitions",
			  o->baselines ? o->baseline_reps : 0, "tls_rows", o->tls_rows, "link", "method",
			  "nc a->b, " "128 MiB of zeros, timed on a", "samples_MBps", "runs", "baseline_runs");
	json_object_set_new(json_object_get(b.doc, "matrix"), "budget_min_per_configuration", json_integer(o->budget_min));
	json_object_set_new(b.doc, "capped", json_array());
	for (unsigned mi = 0, m; (m = suite_mode_bit(mi)) != 0; mi++)
		if (o->modes & m)
			json_array_append_new(json_object_get(json_object_get(b.doc, "matrix"), "modes"),
					      json_string(mode_bit_name(m)));
	for (unsigned st = ST_STOP; st <= ST_HYBRID; st <<= 1)
		if (o->strategies & st)
			json_array_append_new(json_object_get(json_object_get(b.doc, "matrix"), "strategies"),
					      json_string(strategy_bit_name(st)));
	plan(&b);
	snprintf(r.tmp, sizeof(r.tmp), "/tmp/crmig-bench-XXXXXX");
	if (!mkdtemp(r.tmp))
		goto out;
	r.tap = fopen("/dev/null", "w");
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	progress(&b, "%zu steps planned, about %.1f h under TCG (less under KVM); bringing the lab up (guests with %d MB each)",
		 b.steps_total, planned_s(o) / 3600, o->mem_mb);
	if (runner_lab_up(&r, err, sizeof(err)) < 0 || lab_provision_crmig(&r.lab, err, sizeof(err)) < 0) {
		fprintf(stderr, "crmig-bench: %s\n", err);
		proc_interrupted = 0;
		runner_lab_down(&r);
		goto out;
	}
	b.t0 = now_ms();
	lab_facts(&b);
	if (o->baselines && give_a_the_key(&b) != 0) {
		fprintf(stderr, "crmig-bench: host a cannot ssh to b with the lab's key: the baselines would fail\n");
		proc_interrupted = 0;
		runner_lab_down(&r);
		goto out;
	}
	if (o->baselines)
		measure_link(&b, 2);
	run_matrix(&b);
	if (runner_interrupted)
		fprintf(stderr, "crmig-bench: interrupted: writing what was measured, tearing the lab down\n");
	proc_interrupted = 0;
	if (o->baselines && !runner_interrupted)
		measure_link(&b, 1);
	host_ok(&r, HOST_A, 30, "rm -f " KEY_ON_A);
	runner_lab_down(&r);
	now = time(NULL);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	json_object_set_new(b.doc, "finished", json_string(stamp));
	json_object_set_new(b.doc, "interrupted", json_boolean(runner_interrupted));
	save(&b);
	{
		json_t *doc = json_load_file(b.path, 0, NULL);
		if (doc) {
			printf("\ncrmig-bench: %s, %.0f min, %d repetition(s) not counted\n\n", o->quick ? "quick run" : "run",
			       (now_ms() - b.t0) / 60000, b.failures);
			ret = finish(doc, o->out) < 0 || runner_interrupted;
			json_decref(doc);
		}
	}
	fprintf(stderr, "crmig-bench: wrote %s, the plots and table.txt in %s\n", b.path, o->out);
out:
	if (r.tap)
		fclose(r.tap);
	if (r.tmp[0] && strcmp(r.tmp, "/tmp/crmig-bench-XXXXXX"))
		remove_tree(r.tmp);
	json_decref(r.features);
	json_decref(b.doc);
	json_decref(b.spent);
	return runner_interrupted ? 130 : ret;
}

/* ---- options ------------------------------------------------------------------------ */

static void usage(FILE *f)
{
	fputs("usage: crmig-bench [--quick] (--image DIR --payload FILE | --lab NAME) [--out DIR]\n"
	      "                   [--sizes MB,...] [--rates PCT,...] [--mode bare,lxc] [--strategy S,...]\n"
	      "                   [--reps N] [--baseline-reps N] [--no-baselines] [--no-tls-rows] [--mem MB]\n"
	      "                   [--budget MIN]\n"
	      "       crmig-bench --replot results.json [--out DIR]\n"
	      "Migrates the memory workload at each size x dirty rate x mode with each strategy, --reps times,\n"
	      "and measures the baselines per size; writes DIR/results.json, DIR/*.svg, DIR/table.txt\n"
	      "(default bench/out). Defaults: sizes 64,200,1024; rates 0,1,10; both modes; all strategies;\n"
	      "3 repetitions; guests with 3072 MB. --quick: sizes 64,200, rate 1, 1 repetition.\n"
	      "--budget: a configuration is not repeated once its repetitions took MIN minutes (10; 0: no limit).\n"
	      "--replot redoes the medians, targets, table and plots from a results.json without a lab.\n"
	      "--plan prints the steps and the expected time of a run with these options, and exits.\n",
	      f);
}

static int parse_ints(const char *s, int *out, size_t *n, int lo, int hi)
{
	__do_free char *copy = xstrdup(s);
	char *save, *end;

	*n = 0;
	for (char *w = strtok_r(copy, ", ", &save); w; w = strtok_r(NULL, ", ", &save)) {
		long v = strtol(w, &end, 10);
		if (*end || v < lo || v > hi || *n >= 16)
			return -1;
		out[(*n)++] = (int)v;
	}
	return *n ? 0 : -1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "quick", no_argument, NULL, 'q' }, { "image", required_argument, NULL, 'i' },
		{ "payload", required_argument, NULL, 'p' }, { "lab", required_argument, NULL, 'l' },
		{ "distro", required_argument, NULL, 'd' }, { "out", required_argument, NULL, 'o' },
		{ "sizes", required_argument, NULL, 'z' }, { "rates", required_argument, NULL, 'r' },
		{ "mode", required_argument, NULL, 'm' }, { "strategy", required_argument, NULL, 's' },
		{ "reps", required_argument, NULL, 'n' }, { "baseline-reps", required_argument, NULL, 'N' },
		{ "no-baselines", no_argument, NULL, 'B' }, { "no-tls-rows", no_argument, NULL, 'T' },
		{ "mem", required_argument, NULL, 'M' }, { "replot", required_argument, NULL, 'R' },
		{ "budget", required_argument, NULL, 'b' }, { "help", no_argument, NULL, 'h' },
		{ "plan", no_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	struct bench_opts o = { .distro = "trixie", .out = "bench/out", .modes = MODE_ALL,
				.strategies = ST_ALL, .reps = -1, .baseline_reps = -1, .baselines = true,
				.tls_rows = true, .mem_mb = 3072, .budget_min = 10 };
	bool sizes_set = false, rates_set = false, plan_only = false;
	int c;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((c = getopt_long(argc, argv, "qi:p:l:d:o:z:r:m:s:n:N:BTM:R:b:hP", opts, NULL)) != -1) {
		switch (c) {
		case 'q': o.quick = true; break;
		case 'i': o.image = optarg; break;
		case 'p': o.payload = optarg; break;
		case 'l': o.lab_name = optarg; break;
		case 'd': o.distro = optarg; break;
		case 'o': o.out = optarg; break;
		case 'z':
			if (parse_ints(optarg, o.sizes, &o.nsizes, 16, 1024) < 0) {
				fprintf(stderr, "crmig-bench: --sizes: MiB, 16..1024, comma-separated\n");
				return 2;
			}
			sizes_set = true;
			break;
		case 'r':
			if (parse_ints(optarg, o.rates, &o.nrates, 0, 100) < 0) {
				fprintf(stderr, "crmig-bench: --rates: percent of pages per second, 0..100\n");
				return 2;
			}
			rates_set = true;
			break;
		case 'm':
			if (parse_modes(optarg, &o.modes) < 0) {
				fprintf(stderr, "crmig-bench: --mode: bare, lxc\n");
				return 2;
			}
			break;
		case 's':
			if (parse_strategies(optarg, &o.strategies) < 0) {
				fprintf(stderr, "crmig-bench: --strategy: stop, pre, post, hybrid\n");
				return 2;
			}
			break;
		case 'n': o.reps = atoi(optarg); break;
		case 'N': o.baseline_reps = atoi(optarg); break;
		case 'B': o.baselines = false; break;
		case 'T': o.tls_rows = false; break;
		case 'M': o.mem_mb = atoi(optarg); break;
		case 'R': o.replot = optarg; break;
		case 'b': o.budget_min = atoi(optarg); break;
		case 'P': plan_only = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "crmig-bench: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (o.replot)
		return cmd_replot(&o);
	if (!sizes_set) {
		static const int full[] = { 64, 200, 1024 }, quick[] = { 64, 200 };
		o.nsizes = o.quick ? ARRAY_SIZE(quick) : ARRAY_SIZE(full);
		memcpy(o.sizes, o.quick ? quick : full, o.nsizes * sizeof(int));
	}
	if (!rates_set) {
		static const int full[] = { 0, 1, 10 }, quick[] = { 1 };
		o.nrates = o.quick ? ARRAY_SIZE(quick) : ARRAY_SIZE(full);
		memcpy(o.rates, o.quick ? quick : full, o.nrates * sizeof(int));
	}
	if (o.reps < 0)
		o.reps = o.quick ? 1 : 3;
	if (o.baseline_reps < 0)
		o.baseline_reps = o.quick ? 1 : o.reps;
	if (o.reps < 1 || o.baseline_reps < 1 || o.mem_mb < 512) {
		fprintf(stderr, "crmig-bench: --reps and --baseline-reps >= 1, --mem >= 512\n");
		return 2;
	}
	if (plan_only) {
		struct bench b = { .o = &o };

		plan(&b);
		printf("%zu migrations and baselines, %d repetition(s) (%d of the baselines), budget %d min per "
		       "configuration: about %.1f h under TCG\n", b.steps_total, o.reps, o.baseline_reps, o.budget_min,
		       planned_s(&o) / 3600);
		return 0;
	}
	if (!o.lab_name && (!o.image || !o.payload)) {
		fprintf(stderr, "crmig-bench: give --image DIR --payload FILE (make bench does), or --lab NAME\n");
		usage(stderr);
		return 2;
	}
	return cmd_run(&o);
}
