/* stop-and-copy: freeze, dump, the pages stream straight into the
 * destination's criu page server, the rest of the images follow over our
 * channel, restore. The simplest strategy and the baseline of the others. */
#include "migrate.h"
#include "proc.h"
#include "util.h"

static int stop_hook(void *ctx, const char *action)
{
	struct migration *m = ctx;

	return strcmp(action, "post-dump") ? 0 : mig_post_dump_commit(m, MIG_DIR_FINAL);
}

/* The final dump of stop, pre and hybrid: prev is the last pre-dump round. */
int strategy_final_dump(struct migration *m, const char *prev, int round)
{
	char how[48];
	__do_free char *dir = mig_local_dir(m, MIG_DIR_FINAL);
	json_t *args = json_pack("{s:s}", "dir", MIG_DIR_FINAL);
	struct dump_spec d = { .action = CRIU_DUMP, .dir = dir, .page_server = true, .track_mem = prev != NULL };
	double start;
	uint64_t before;
	int status;

	if (prev) {
		d.prev = xasprintf("../%s", prev);
		json_object_set_new(args, "prev", json_string(prev));
	}
	d.ps_fd = mig_page_channel(m, "page-server", args);
	if (d.ps_fd < 0) {
		free((char *)d.prev);
		return mig_fail(m, "failed", "%s", m->err);
	}
	start = report_now(&m->rep);
	before = mig_bytes(m);
	status = mig_dump(m, &d, stop_hook, NULL);
	m->t_released = report_now(&m->rep);
	mig_page_channel_close(d.ps_fd);
	free((char *)d.prev);
	mig_read_round_stats(m, dir, round, true, m->t_dumped - start, mig_bytes(m) - before);
	if (m->frozen)
		report_phase_add(&m->rep, "dump", m->t_freeze, m->t_dumped ? m->t_dumped : m->t_released, 0);
	if (m->committed && status == 0)
		return 0;
	if (m->committed)
		/* The destination runs it; criu only failed to clean up here. */
		return mig_progress(m, "warning: criu dump %s after the handover",
				    proc_status_text(status, how, sizeof(how))), 0;
	if (m->restore_failed)
		return mig_fail(m, "rolled-back", "%s; the source was resumed", m->err);
	if (!m->err[0])
		snprintf(m->err, sizeof(m->err), "criu dump failed (exit %d)", status);
	mig_page_server_blame(m);
	return mig_fail(m, m->frozen ? "rolled-back" : "failed", "%s", m->err);
}

static int stop_run(struct migration *m)
{
	return strategy_final_dump(m, NULL, 1);
}

const struct strategy strategy_stop = {
	.name = "stop",
	.summary = "freeze, copy everything, restore",
	.run = stop_run,
};
