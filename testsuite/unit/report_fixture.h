/* A run's worth of results for the report tests (test_suite_reports.c) and
 * the browser check (report-fixture.c): the lab's twelve checks and its
 * teardown, a memory case bare and in LXC with every strategy (phases as
 * crmig reports them), a failure with hostile text and a kept bundle, the
 * known upstream bug criu#3029, skips with their reasons. Header-only: both
 * programs include it. */
#ifndef CRMIG_REPORT_FIXTURE_H
#define CRMIG_REPORT_FIXTURE_H

#include <stdio.h>
#include <string.h>

#include "../runner/suite.h"
#include "util.h"

static struct suite_case fixture_lab = { .name = "lab", .workload = "lab", .tier = "lean" };
static struct suite_case fixture_memory = { .name = "memory", .workload = "memory" };
static struct suite_case fixture_tcp = { .name = "tcp-stream", .workload = "tcp" };

#define FIXTURE_HOSTILE "<script>alert('x')</script> & \"q\" \x01\xff"

static struct suite_result *fixture_add(struct suite_result **v, size_t *n, struct suite_case *c, unsigned mode,
					unsigned strategy, enum outcome o, const char *reason)
{
	struct suite_result *r;

	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	r = &(*v)[(*n)++];
	memset(r, 0, sizeof(*r));
	r->inst.c = c;
	r->inst.mode = mode;
	r->inst.strategy = strategy;
	snprintf(r->inst.id, sizeof(r->inst.id), "%s:%s:%s", c->name, mode_bit_name(mode), strategy_bit_name(strategy));
	snprintf(r->distro, sizeof(r->distro), "trixie");
	r->outcome = o;
	snprintf(r->reason, sizeof(r->reason), "%s", reason);
	r->probe_gap_ms = -1;
	r->duration_ms = 20000;
	r->details = json_object();
	return r;
}

static void fixture_phase(json_t *phases, const char *name, double s, double e, double bytes)
{
	json_array_append_new(phases, json_pack("{s:s, s:f, s:f, s:I}", "name", name, "start_ms", s, "end_ms", e,
						"bytes", (json_int_t)bytes));
}

/* crmig's report for strategy, its figures scaled by f (bare 1, lxc a bit more). */
static json_t *fixture_report(unsigned strategy, double f)
{
	json_t *ph = json_array();
	double down = 0, before = 0, total = 0, lazy = 0;
	int rounds = 0;

	switch (strategy) {
	case ST_STOP:
		fixture_phase(ph, "frozen", 0, 2140 * f, 0);
		fixture_phase(ph, "dump", 0, 1800 * f, 67e6);
		fixture_phase(ph, "transfer", 1800 * f, 1900 * f, 4e4);
		fixture_phase(ph, "restore", 1900 * f, 2140 * f, 0);
		down = 2140 * f, before = total = 67.1e6;
		break;
	case ST_PRE:
		fixture_phase(ph, "round-1", 0, 3000 * f, 67e6);
		fixture_phase(ph, "round-2", 3000 * f, 3600 * f, 8e6);
		fixture_phase(ph, "frozen", 3600 * f, 4950 * f, 0);
		fixture_phase(ph, "dump", 3600 * f, 4400 * f, 3e6);
		fixture_phase(ph, "transfer", 4400 * f, 4500 * f, 4e4);
		fixture_phase(ph, "restore", 4500 * f, 4950 * f, 0);
		down = 1350 * f, before = 3.1e6, total = 78e6, rounds = 2;
		break;
	case ST_POST:
		fixture_phase(ph, "frozen", 0, 1050 * f, 0);
		fixture_phase(ph, "dump", 0, 700 * f, 5.4e4);
		fixture_phase(ph, "transfer", 700 * f, 750 * f, 4e3);
		fixture_phase(ph, "restore", 750 * f, 1050 * f, 0);
		fixture_phase(ph, "lazy", 1050 * f, 8600 * f, 67e6);
		down = 1050 * f, before = 5.8e4, total = 67.1e6, lazy = 7550 * f;
		break;
	case ST_HYBRID:
		fixture_phase(ph, "round-1", 0, 3000 * f, 67e6);
		fixture_phase(ph, "frozen", 3000 * f, 4390 * f, 0);
		fixture_phase(ph, "dump", 3000 * f, 3700 * f, 6e4);
		fixture_phase(ph, "restore", 3800 * f, 4390 * f, 0);
		fixture_phase(ph, "lazy", 4390 * f, 9300 * f, 9e6);
		down = 1390 * f, before = 6e4, total = 76e6, lazy = 4910 * f, rounds = 1;
		break;
	}
	return json_pack("{s:s, s:s, s:f, s:f, s:I, s:I, s:i, s:f, s:o, s:[], s:{s:s, s:s, s:s}}", "strategy",
			 strategy_bit_name(strategy), "result", "ok", "downtime_ms", down, "frozen_ms", down,
			 "bytes_before_resume", (json_int_t)before, "bytes_total", (json_int_t)total, "rounds", rounds,
			 "lazy_ms", lazy, "phases", ph, "criu_argv", "versions", "criu", "4.1.1-1", "lxc",
			 "1:6.0.4-4+deb13u4", "kernel", "6.12.117+deb13-amd64");
}

/* The results, in the order crmig-suite reports them. keep: where the
 * failure's bundle directory is made (NULL: none). */
static size_t fixture_results(struct suite_result **out, const char *keep)
{
	static const char *const checks[] = { "host-a-answers", "host-b-answers", "hosts-reach-each-other",
					      "hosts-reach-the-harness", "criu-check-a", "criu-check-b",
					      "file-copy-round-trip", "cut-link-observed-and-restored",
					      "bridge-throughput-a-to-b", "bandwidth-limit-applies",
					      "ssh-backend-drives-the-hosts", "image-build-cache-hit" };
	static const unsigned strategies[] = { ST_STOP, ST_PRE, ST_POST, ST_HYBRID };
	struct suite_result *v = NULL, *r;
	size_t n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(checks); i++) {
		bool skip = !strcmp(checks[i], "image-build-cache-hit");

		r = fixture_add(&v, &n, &fixture_lab, 0, 0, skip ? OUTCOME_SKIP : OUTCOME_PASS,
				skip ? "the image holds candidate .debs (built with --deb): it cannot be rebuilt" : "");
		snprintf(r->inst.id, sizeof(r->inst.id), "lab:%s", checks[i]);
	}
	for (int m = 0; m < 2; m++)
		for (size_t s = 0; s < ARRAY_SIZE(strategies); s++) {
			unsigned mode = m ? MODE_LXC : MODE_BARE;

			r = fixture_add(&v, &n, &fixture_memory, mode, strategies[s], OUTCOME_PASS, "");
			r->crmig = fixture_report(strategies[s], m ? 1.9 : 1);
			r->probe_gap_ms = json_number_value(json_object_get(r->crmig, "downtime_ms")) * 1.08 + 60;
		}
	/* the known upstream bug: criu#3029 on an lxc instance */
	r = &v[n - 4 + 1];
	r->outcome = OUTCOME_FAIL;
	snprintf(r->reason, sizeof(r->reason), "host a changed: cgroup2_mount was \"rw,relatime - cgroup2 cgroup2 "
					       "rw,nsdelegate\", is now \"rw,relatime - cgroup2 cgroup2 rw\"");
	known_bug_classify(r);
	/* a failure of our own, with hostile text and a kept bundle */
	r = fixture_add(&v, &n, &fixture_tcp, MODE_BARE, ST_POST, OUTCOME_FAIL,
			"the harness's TCP peer: byte 1048576 differs " FIXTURE_HOSTILE REASON_SEP
			"host b changed: stray_processes was [], is now [\"criu\"]");
	r->crmig = fixture_report(ST_POST, 1.2);
	json_object_set_new(r->crmig, "result", json_string("failed"));
	json_object_set_new(r->crmig, "error", json_string("lazy-pages: connection reset " FIXTURE_HOSTILE));
	r->probe_gap_ms = 1480;
	json_object_set_new(r->details, "verdict", json_string("FAIL stream: seq 4096 expected 4095"));
	if (keep) {
		__do_free char *dir = xasprintf("%s/tcp-stream-bare-post", keep);
		__do_free char *replay = xasprintf("%s/REPLAY.txt", dir);

		mkdir_p(dir, 0755);
		write_file(replay, "To replay tcp-stream:bare:post by hand: ...\n", 44, 0644);
		json_object_set_new(r->details, "bundle", json_string(dir));
	}
	r = fixture_add(&v, &n, &fixture_tcp, MODE_BARE, ST_STOP, OUTCOME_PASS, "");
	r->crmig = fixture_report(ST_STOP, 0.6);
	r->probe_gap_ms = 1400;
	fixture_add(&v, &n, &fixture_tcp, MODE_BARE, ST_PRE, OUTCOME_SKIP,
		    "criu on host a lacks mem_dirty_track (criu check --feature mem_dirty_track)");
	fixture_add(&v, &n, &fixture_tcp, MODE_BARE, ST_HYBRID, OUTCOME_SKIP,
		    "criu on host a lacks mem_dirty_track (criu check --feature mem_dirty_track)");
	r = fixture_add(&v, &n, &fixture_lab, 0, 0, OUTCOME_PASS, "");
	snprintf(r->inst.id, sizeof(r->inst.id), "lab:teardown-leaves-nothing");
	*out = v;
	return n;
}

static void fixture_free(struct suite_result *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		json_decref(v[i].crmig);
		json_decref(v[i].details);
	}
	free(v);
}

#endif
