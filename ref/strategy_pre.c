/* pre-copy: pre-dump rounds copy the memory while the workload runs (criu
 * tracks what it dirties in between, soft-dirty), each into the destination's
 * page server on top of the previous round; the convergence policy decides
 * when the last round is small enough, or stops the rounds of a workload that
 * does not converge (traffic bound, the destination's free space); then a
 * frozen final dump sends only what is still dirty. */
#include "migrate.h"
#include "proc.h"
#include "util.h"

/* The destination's free space after a round, in our pages (its reply to
 * page-server-wait; older destinations do not say). */
static uint64_t dest_free_pages(const json_t *reply)
{
	const json_t *free_bytes = json_object_get(reply, "free_bytes");

	if (!json_is_integer(free_bytes) || json_integer_value(free_bytes) < 0)
		return POLICY_FREE_UNKNOWN;
	return (uint64_t)json_integer_value(free_bytes) / (uint64_t)sysconf(_SC_PAGESIZE);
}

static int pre_dump_round(struct migration *m, int round, uint64_t *pages, uint64_t *free_pages)
{
	char how[48];
	__do_free char *name = xasprintf(MIG_DIR_ROUND "%d", round);
	__do_free char *prev = round > 1 ? xasprintf(MIG_DIR_ROUND "%d", round - 1) : NULL;
	__do_free char *dir = mig_local_dir(m, name);
	__do_free char *prev_rel = prev ? xasprintf("../%s", prev) : NULL;
	json_t *args = json_pack("{s:s}", "dir", name);
	struct dump_spec d = { .action = CRIU_PRE_DUMP, .dir = dir, .prev = prev_rel, .page_server = true,
			       .track_mem = true };
	struct round_stat *rs;
	double start = report_now(&m->rep);
	uint64_t before = mig_bytes(m);
	json_t *reply;
	int status;

	if (prev)
		json_object_set_new(args, "prev", json_string(prev));
	d.ps_fd = mig_page_channel(m, "page-server", args);
	if (d.ps_fd < 0)
		return -1;
	mig_progress(m, "pre-dump round %d", round);
	report_phase_announce(&m->rep, name);
	status = mig_dump(m, &d, NULL, NULL);
	mig_page_channel_close(d.ps_fd);
	if (status != 0) {
		if (!m->err[0])
			snprintf(m->err, sizeof(m->err), "criu pre-dump %s", proc_status_text(status, how, sizeof(how)));
		mig_page_server_blame(m);
		return -1;
	}
	reply = mig_page_server_wait(m);
	if (!reply)
		return -1;
	*free_pages = dest_free_pages(reply);
	json_decref(reply);
	mig_read_round_stats(m, dir, round, false, report_now(&m->rep) - start, mig_bytes(m) - before);
	report_phase_add(&m->rep, name, start, report_now(&m->rep), mig_bytes(m) - before);
	rs = &m->rep.round_stats[m->rep.nrounds - 1];
	*pages = rs->pages_written;
	mig_progress(m, "round %d: %llu pages written, %llu unchanged since the last round", round,
		     (unsigned long long)rs->pages_written, (unsigned long long)rs->pages_skipped_parent);
	return 0;
}

int strategy_precopy_rounds(struct migration *m)
{
	uint64_t pages[64], free_pages = POLICY_FREE_UNKNOWN;
	int n = 0;

	for (;;) {
		enum converge_verdict v;

		if (n >= (int)ARRAY_SIZE(pages) || pre_dump_round(m, n + 1, &pages[n], &free_pages) < 0)
			return mig_fail(m, "failed", "pre-dump round %d: %s", n + 1, m->err);
		n++;
		if (mig_cancelled(m))
			return mig_fail(m, "rolled-back", "cancelled after pre-dump round %d; the source runs on", n);
		v = policy_decide_room(&m->o->policy, pages, (size_t)n, free_pages);
		if (v != CONVERGE_CONTINUE) {
			free(m->rep.stop_reason);
			/* The destination's room is a figure the user can act on: say it. */
			m->rep.stop_reason = v == CONVERGE_DEST_FULL
				? xasprintf("destination has %llu MB free",
					    (unsigned long long)(free_pages * (uint64_t)sysconf(_SC_PAGESIZE) >> 20))
				: xstrdup(policy_verdict_name(v));
			if (policy_converged(v))
				mig_progress(m, "converged after %d round%s: %s", n, n > 1 ? "s" : "", m->rep.stop_reason);
			else
				mig_progress(m, "pre-copy did not converge: rounds stopped after %d (%s); "
					     "the final dump sends what is still dirty", n, m->rep.stop_reason);
			break;
		}
	}
	m->rep.rounds = n;
	return n;
}

static int pre_run(struct migration *m)
{
	__do_free char *last = NULL;
	int rounds = strategy_precopy_rounds(m);

	if (rounds < 0)
		return -1;
	last = xasprintf(MIG_DIR_ROUND "%d", rounds);
	return strategy_final_dump(m, last, rounds + 1);
}

const struct strategy strategy_pre = {
	.name = "pre",
	.summary = "pre-dump rounds while running, then a short final dump",
	.needs_mem_track = true,
	.run = pre_run,
};
