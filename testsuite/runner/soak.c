/* crmig-suite soak (soak.h): the pure parts first (parsing, strategy cycle,
 * leak verdict), then the run on the lab, built from instance.c's steps. */
#include <errno.h>

#include "instance.h"
#include "soak.h"
#include "util.h"

#define SOAK_MEM_MB 32          /* the workload's memory beside its stream */
#define ROUND_WAIT_S 120        /* for the workload's answer to a round check */
#define MIB (1024.0)            /* kB per MiB */

/* ---------------------------------------------------------------- pure */

static int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (!s || *s < '0' || *s > '9') /* strtol would take a sign or blanks */
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int soak_parse_rounds(const char *s, int *rounds)
{
	long v;

	if (parse_long(s, 1, SOAK_MAX_ROUNDS, &v) < 0)
		return -1;
	*rounds = (int)v;
	return 0;
}

unsigned soak_strategy_for_round(unsigned mask, int round)
{
	unsigned list[4], n = 0;

	for (unsigned bit = ST_STOP; bit <= ST_HYBRID; bit <<= 1)
		if (mask & bit)
			list[n++] = bit;
	return n && round >= 1 ? list[(unsigned)(round - 1) % n] : 0;
}

int soak_parse_sample(const char *text, struct soak_sample *s)
{
	static const char *const keys[] = { "pid", "rss_kb", "fds", "children", "files" };
	long *fields[] = { &s->pid, &s->rss_kb, &s->fds, &s->children, &s->files };
	bool seen[5] = { false };
	__do_free char *copy = xstrdup(text ? text : "");
	char *save;

	for (char *w = strtok_r(copy, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save)) {
		char *eq = strchr(w, '=');
		size_t k;

		if (!eq)
			return -1;
		*eq = '\0';
		for (k = 0; k < ARRAY_SIZE(keys) && strcmp(keys[k], w); k++)
			;
		if (k == ARRAY_SIZE(keys) || seen[k] || parse_long(eq + 1, 0, LONG_MAX, fields[k]) < 0)
			return -1;
		seen[k] = true;
	}
	for (size_t k = 0; k < ARRAY_SIZE(keys); k++)
		if (!seen[k])
			return -1;
	return s->pid > 0 ? 0 : -1;
}

int soak_parse_round(const char *text, unsigned n, char *why, size_t len)
{
	__do_free char *t = xstrdup(text ? text : "");
	char *p = t, *end;
	unsigned long got;

	t[strcspn(t, "\n")] = '\0';
	if (!strncmp(t, "verdict: ", 9)) {
		snprintf(why, len, "the workload ended with %s", t + 9);
		return 0;
	}
	errno = 0;
	got = strtoul(p, &end, 10);
	if (end == p || *end != ' ' || errno || *p == '-') {
		snprintf(why, len, "no answer to round check %u: %.300s", n, *t ? t : "(nothing)");
		return -1;
	}
	if (got != n) {
		snprintf(why, len, "the answer is for round check %lu, not %u", got, n);
		return -1;
	}
	if (!strcmp(end + 1, "PASS")) {
		snprintf(why, len, "intact");
		return 1;
	}
	if (!strncmp(end + 1, "FAIL: ", 6)) {
		snprintf(why, len, "%s", end + 7);
		return 0;
	}
	snprintf(why, len, "a malformed answer to round check %u: %.300s", n, t);
	return -1;
}

void soak_figures(const char *host, const struct soak_sample *a, const struct soak_sample *b, char *buf, size_t len)
{
	snprintf(buf, len, "serve on %s: rss %.1f\u2192%.1f MiB, fds %ld\u2192%ld, children %ld\u2192%ld, files %ld\u2192%ld", host,
		 a->rss_kb / MIB, b->rss_kb / MIB, a->fds, b->fds, a->children, b->children, a->files, b->files);
}

bool soak_leak_verdict(const struct soak_sample *a, const struct soak_sample *b, const struct soak_limits *lim,
		       char *why, size_t len)
{
	const struct {
		const char *what;
		long first, last, allowed;
	} m[] = {
		{ "rss (kB)", a->rss_kb, b->rss_kb, lim->rss_kb }, { "open fds", a->fds, b->fds, lim->fds },
		{ "child processes", a->children, b->children, lim->children },
		{ "files under its state directory", a->files, b->files, lim->files },
	};
	size_t used = 0;

	why[0] = '\0';
	if (a->pid != b->pid) {
		snprintf(why, len, "crmig serve was restarted (pid %ld, now %ld)", a->pid, b->pid);
		return false;
	}
	for (size_t i = 0; i < ARRAY_SIZE(m); i++)
		if (m[i].last - m[i].first > m[i].allowed && used + 1 < len)
			used += (size_t)snprintf(why + used, len - used, "%s%s grew by %ld (%ld to %ld; allowed +%ld)",
						 used ? ", " : "", m[i].what, m[i].last - m[i].first, m[i].first,
						 m[i].last, m[i].allowed);
	return !why[0];
}

/* ---------------------------------------------------------------- on the lab */

/* crmig serve's main process (a serve whose parent is none), once its
 * session processes are gone (up to 10 s): soak_parse_sample's input. */
static const char sample_sh[] =
	"s() { p=; for q in $(pgrep -x crmig); do tr '\\0' ' ' </proc/$q/cmdline | grep -q ' serve' || continue; "
	"pp=$(cut -d' ' -f4 /proc/$q/stat); tr '\\0' ' ' </proc/$pp/cmdline 2>/dev/null | grep -q ' serve' || p=$q; done; "
	"[ -n \"$p\" ] || return 1; "
	"echo \"pid=$p rss_kb=$(awk '/^VmRSS:/{print $2}' /proc/$p/status) fds=$(ls /proc/$p/fd | wc -l) "
	"children=$(cat /proc/$p/task/*/children 2>/dev/null | wc -w) files=$(find /var/lib/crmig -mindepth 1 2>/dev/null | wc -l)\"; }; "
	"for i in $(seq 50); do o=$(s) || { echo 'no crmig serve runs on this host'; exit 1; }; "
	"case \"$o\" in *' children=0 '*) break;; esac; sleep 0.2; done; echo \"$o\"";

struct soak_run {
	struct inst_ctx x;
	struct suite_instance leg;   /* x.in: its strategy changes each round */
	int rounds, round;
	int done;                    /* round trips completed and checked */
	unsigned checks;             /* round checks asked so far */
	struct soak_sample first[2], last[2];
	json_t *log;                 /* details.rounds */
	double migrate_ms;           /* both legs of every round */
};

static json_t *sample_json(const struct soak_sample *s)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I}", "pid", (json_int_t)s->pid, "rss_kb", (json_int_t)s->rss_kb, "fds",
			 (json_int_t)s->fds, "children", (json_int_t)s->children, "files", (json_int_t)s->files);
}

static int sample_serve(struct soak_run *k, int host, struct soak_sample *s)
{
	struct proc_result res;
	int ok;

	if (host_sh(k->x.r, host, 60, &res, "%s", sample_sh) < 0)
		return inst_fail(&k->x, "cannot reach host %s to look at crmig serve", k->x.r->lab.hosts[host].name);
	ok = res.status == 0 && soak_parse_sample(res.out, s) == 0;
	if (!ok)
		inst_fail(&k->x, "cannot look at crmig serve on host %s: %.200s%.200s", k->x.r->lab.hosts[host].name,
			  res.out, res.err);
	proc_result_free(&res);
	return ok ? 0 : -1;
}

/* The reason so far, led by where it happened. */
static void name_round(struct soak_run *k, int from, int to)
{
	struct suite_result *res = k->x.res;
	char was[sizeof(res->reason)];

	snprintf(was, sizeof(was), "%s", res->reason);
	snprintf(res->reason, sizeof(res->reason), "round %d of %d (%s, %s \u2192 %s): %s", k->round, k->rounds,
		 strategy_bit_name(k->leg.strategy), k->x.r->lab.hosts[from].name, k->x.r->lab.hosts[to].name, was);
}

/* After a leg: the workload checks every page and that the stream flows
 * again; the harness, every byte it got and the heartbeats. */
static int check_round(struct soak_run *k, long beats_before, json_t *checks)
{
	struct inst_ctx *x = &k->x;
	struct proc_result res;
	char why[1024], peer[256];
	unsigned n = ++k->checks;
	int verdict;

	if (inst_signal(x, "USR1") < 0)
		return -1;
	if (host_sh(x->r, x->where, ROUND_WAIT_S + 30, &res,
		    "for i in $(seq %d); do r=$(cat %s/round 2>/dev/null); case \"$r\" in \"%u \"*) echo \"$r\"; exit 0;; esac; "
		    "if [ -s %s/verdict ]; then echo \"verdict: $(head -c 600 %s/verdict | tr '\\n' ' ')\"; exit 0; fi; "
		    "sleep 0.1; done; echo \"(none within %d s; last: $r)\"",
		    ROUND_WAIT_S * 10, x->wl.dir, n, x->wl.dir, x->wl.dir, ROUND_WAIT_S) < 0)
		return inst_fail(x, "cannot reach host %s for the round check", x->r->lab.hosts[x->where].name);
	verdict = soak_parse_round(res.out, n, why, sizeof(why));
	proc_result_free(&res);
	json_array_append_new(checks, json_string(why));
	if (verdict != 1)
		return inst_fail(x, "the workload's own check: %s", why);
	if (x->peer && tcp_peer_check(x->peer, peer, sizeof(peer)) < 0)
		return inst_fail(x, "the harness's TCP peer: %s", peer);
	if (probe_beats(x->r->probe, x->in->id) <= beats_before)
		return inst_fail(x, "no heartbeat from the workload after the move");
	return 0;
}

static int leg(struct soak_run *k, int from, int to, json_t *legs, json_t *checks)
{
	struct inst_ctx *x = &k->x;
	json_t *report = NULL;
	long beats = probe_beats(x->r->probe, x->in->id);
	double t0 = now_ms();
	bool moved;

	if (inst_migrate(x, from, to, &report) < 0) {
		name_round(k, from, to);
		return -1;
	}
	k->migrate_ms += now_ms() - t0;
	json_decref(x->res->crmig);
	x->res->crmig = report; /* the last leg's report */
	moved = inst_judge_leg(x, report, from, to);
	json_array_append_new(legs, json_pack("{s:s, s:s, s:O?, s:O?, s:f}", "from", x->r->lab.hosts[from].name, "to",
					      x->r->lab.hosts[to].name, "result", json_object_get(report, "result"),
					      "downtime_ms", json_object_get(report, "downtime_ms"), "seconds",
					      (now_ms() - t0) / 1000));
	if (x->res->outcome == OUTCOME_FAIL || !moved || check_round(k, beats, checks) < 0) {
		if (x->res->outcome != OUTCOME_FAIL)
			inst_fail(x, "crmig did not move the workload");
		name_round(k, from, to);
		return -1;
	}
	return 0;
}

static int one_round(struct soak_run *k)
{
	struct inst_ctx *x = &k->x;
	json_t *legs = json_array(), *checks = json_array(), *serve = json_object();
	double t0 = now_ms(), gap;
	int ret = leg(k, HOST_A, HOST_B, legs, checks) == 0 && leg(k, HOST_B, HOST_A, legs, checks) == 0 ? 0 : -1;
	struct soak_sample s[2];

	gap = probe_max_gap(x->r->probe, x->in->id, x->t_start, x->t_end);
	if (gap > x->res->probe_gap_ms)
		x->res->probe_gap_ms = gap;
	for (int h = 0; ret == 0 && h < 2; h++) {
		if (sample_serve(k, h, &s[h]) < 0) {
			ret = -1;
			break;
		}
		json_object_set_new(serve, x->r->lab.hosts[h].name, sample_json(&s[h]));
		if (k->round == 1)
			k->first[h] = s[h];
		k->last[h] = s[h];
	}
	if (ret == 0)
		k->done = k->round;
	json_array_append_new(k->log, json_pack("{s:i, s:s, s:f, s:f, s:o, s:o, s:o}", "round", k->round, "strategy",
						strategy_bit_name(k->leg.strategy), "seconds", (now_ms() - t0) / 1000,
						"probe_gap_ms", gap, "legs", legs, "checks", checks, "serve", serve));
	{
		char line[512];
		int used = snprintf(line, sizeof(line), "soak %s round %d/%d (%s): %s, %.1f s, probe gap %.0f ms",
				    mode_bit_name(k->leg.mode), k->round, k->rounds, strategy_bit_name(k->leg.strategy),
				    ret == 0 ? "intact" : runner_interrupted ? "interrupted, not judged" : "FAILED",
				    (now_ms() - t0) / 1000, gap);

		for (int h = 0; ret == 0 && h < 2 && used > 0 && (size_t)used < sizeof(line); h++)
			used += snprintf(line + used, sizeof(line) - used, "; serve %s rss %.1f MiB fds %ld children %ld files %ld",
					 x->r->lab.hosts[h].name, s[h].rss_kb / MIB, s[h].fds, s[h].children, s[h].files);
		fprintf(stderr, "crmig-suite: %s\n", line);
	}
	return ret;
}

/* Which of the asked strategies both hosts' criu supports (the skipped ones, why, into skipped). */
static unsigned supported(struct runner *r, unsigned asked, json_t *skipped)
{
	unsigned ok = 0;
	char why[256];

	for (unsigned bit = ST_STOP; bit <= ST_HYBRID; bit <<= 1) {
		if (!(asked & bit))
			continue;
		if (inst_strategy_supported(r, bit, why, sizeof(why)))
			ok |= bit;
		else
			json_object_set_new(skipped, strategy_bit_name(bit), json_string(why));
	}
	return ok;
}

/* serve's figures against the limits: a failure, or the pass's reason into summary. */
static void summarize(struct soak_run *k, const char *cycle, char *summary, size_t len)
{
	struct suite_result *res = k->x.res;
	struct soak_limits lim = SOAK_LIMITS_DEFAULT;
	char fig[2][256], why[2][512], grew[1100] = "";
	bool ok[2];

	for (int h = 0; h < 2; h++) {
		soak_figures(k->x.r->lab.hosts[h].name, &k->first[h], &k->last[h], fig[h], sizeof(fig[h]));
		ok[h] = soak_leak_verdict(&k->first[h], &k->last[h], &lim, why[h], sizeof(why[h]));
	}
	json_object_set_new(res->details, "serve_limits",
			    json_pack("{s:I, s:I, s:I, s:I}", "rss_kb", (json_int_t)lim.rss_kb, "fds", (json_int_t)lim.fds,
				      "children", (json_int_t)lim.children, "files", (json_int_t)lim.files));
	for (int h = 0; h < 2; h++)
		if (!ok[h])
			snprintf(grew + strlen(grew), sizeof(grew) - strlen(grew), "%son %s: %s", grew[0] ? "; " : "",
				 k->x.r->lab.hosts[h].name, why[h]);
	if (grew[0])
		inst_fail(&k->x, "crmig serve grew over %d round trips: %s; %s; %s", k->done, grew, fig[0], fig[1]);
	snprintf(summary, len, "%d round trips (%s), 0 corruption, %.1f s per round trip; %s; %s", k->done, cycle,
		 k->migrate_ms / 1000 / k->done, fig[0], fig[1]);
}

static void soak_mode(struct runner *r, int rounds, unsigned mode, unsigned strategies, struct suite_result *res)
{
	struct suite_case c = { .name = "soak", .workload = "tcp", .timeout_s = 600, .expect_result = "ok",
				.tier = "soak", .modes = mode, .strategies = strategies,
				.flags = { "tcp-peer", "move-ip" }, .nflags = 2 };
	struct soak_run k = { .rounds = rounds, .log = json_array() };
	json_t *skipped = json_object();
	char err[512], cycle[64] = "", summary[1024] = "";
	unsigned mask;
	double t0 = now_ms();
	bool ran = false;

	snprintf(c.args, sizeof(c.args), "--size-mb %d --dirty-rate 1", SOAK_MEM_MB);
	snprintf(c.description, sizeof(c.description), "%d MiB of checked pages and a TCP stream, A \u2192 B \u2192 A %d times",
		 SOAK_MEM_MB, rounds);
	k.leg = (struct suite_instance){ .c = &c, .mode = mode };
	snprintf(k.leg.id, sizeof(k.leg.id), "soak:%s", mode_bit_name(mode));
	if (!inst_begin(&k.x, r, &k.leg, res))
		goto out;
	mask = supported(r, strategies, skipped);
	for (unsigned bit = ST_STOP; bit <= ST_HYBRID; bit <<= 1)
		if (mask & bit)
			snprintf(cycle + strlen(cycle), sizeof(cycle) - strlen(cycle), "%s%s", cycle[0] ? "," : "",
				 strategy_bit_name(bit));
	json_object_set_new(res->details, "strategies", json_string(cycle));
	json_object_set(res->details, "strategies_skipped", skipped);
	json_object_set(res->details, "rounds", k.log);
	json_object_set_new(res->details, "rounds_asked", json_integer(rounds));
	if (!mask) {
		res->outcome = OUTCOME_SKIP;
		snprintf(res->reason, sizeof(res->reason), "no strategy asked for runs on both hosts");
		goto out;
	}
	ran = true;
	inst_record_hosts(&k.x);
	if (inst_start_workload(&k.x, err, sizeof(err)) < 0)
		goto out;
	usleep(500 * 1000); /* a few heartbeats before the first freeze */
	for (k.round = 1; k.round <= rounds && !runner_interrupted; k.round++) {
		k.leg.strategy = soak_strategy_for_round(mask, k.round);
		if (one_round(&k) < 0)
			break;
	}
	if (runner_interrupted) {
		/* Ctrl-C cut the round short (its migration was stopped): not a
		 * failure of that round; what was done before it counts. */
		res->outcome = OUTCOME_FAIL;
		snprintf(res->reason, sizeof(res->reason), "interrupted in round %d of %d: %d round trips done before, "
			 "each intact", k.round <= rounds ? k.round : rounds, rounds, k.done);
		if (k.done > 0)
			summarize(&k, cycle, summary, sizeof(summary));
	} else if (res->outcome != OUTCOME_FAIL) {
		double gap = res->probe_gap_ms;

		summarize(&k, cycle, summary, sizeof(summary));
		inst_final_check(&k.x, true); /* the stream's end, every page once more, the verdict */
		if (gap > res->probe_gap_ms)
			res->probe_gap_ms = gap; /* the longest of all rounds, not the last one's */
	}
	if (res->outcome == OUTCOME_FAIL && !runner_interrupted && k.round >= 1 && k.round <= rounds)
		json_object_set_new(res->details, "failed_round", json_integer(k.round));
	json_object_set_new(res->details, "rounds_done", json_integer(k.done));
out:
	inst_end(&k.x, res->crmig, ran); /* the hosts compared, a known bug named: the reason is final now */
	if (summary[0] && res->outcome == OUTCOME_PASS)
		snprintf(res->reason, sizeof(res->reason), "%s", summary);
	else if (summary[0] && strlen(res->reason) + 16 < sizeof(res->reason))
		snprintf(res->reason + strlen(res->reason), sizeof(res->reason) - strlen(res->reason), " [soak: %s]", summary);
	json_object_set_new(res->details, "soak", json_string(summary));
	json_decref(skipped);
	json_decref(k.log);
	res->duration_ms = now_ms() - t0;
}

void suite_soak(struct runner *r, int rounds, unsigned modes, unsigned strategies, struct suite_result **results,
		size_t *n)
{
	*n = 0;
	*results = xzalloc(2 * sizeof(**results));
	for (unsigned mi = 0, mode; (mode = suite_mode_bit(mi)) != 0 && !runner_interrupted; mi++)
		if (modes & mode)
			soak_mode(r, rounds, mode, strategies, &(*results)[(*n)++]);
}
