/* post-copy: freeze and dump everything but the memory, which criu keeps
 * behind for the destination to pull on demand (userfaultfd). Only the small
 * images cross before the restore; the workload runs on the destination at
 * once, and its pages trickle in (faulted ones first) until all arrived. */
#include <sys/socket.h>

#include "fault.h"
#include "migrate.h"

#include "proc.h"
#include "util.h"

/* The pages stay with criu on the source: a criu that died after the dump
 * can serve none, so nothing is handed over. */
static bool criu_still_serving(struct migration *m)
{
	if (mig_criu_alive(m))
		return true;
	snprintf(m->err, sizeof(m->err), "criu on the source died after the dump: the pages it kept can no longer "
		 "come, so nothing was handed over");
	return false;
}

static int lazy_hook(void *ctx, const char *action)
{
	struct migration *m = ctx;

	if (strcmp(action, "post-dump"))
		return 0;
	/* Everything that must cross before the restore, while still frozen. */
	report_phase_announce(&m->rep, "transfer");
	if (mig_cancelled(m) || mig_sync(m, true) < 0 || mig_send_images(m, m->lazy_dir, MIG_DIR_FINAL) < 0 ||
	    !criu_still_serving(m)) {
		m->restore_failed = 1;
		mig_abort_dest(m);
		return 1;
	}
	report_phase_add(&m->rep, "transfer", m->t_dumped, report_now(&m->rep), 0);
	return 0;
}

/* criu is serving the pages now (status-ready): the destination may restore. */
static void lazy_after(void *ctx, const char *action)
{
	struct migration *m = ctx;

	if (!action || strcmp(action, "status-ready") || m->restore_failed)
		return;
	if (mig_cancelled(m) || mig_move_ips(m, true) < 0 || mig_restore(m, MIG_DIR_FINAL, true) < 0) {
		m->restore_failed = 1;
		mig_progress(m, "destination failed (%s): resuming the source", m->err);
		/* The destination breaks the page stream: criu stops serving and
		 * resumes the source (see DESIGN: post-copy rollback). */
		mig_abort_dest(m);
		mig_move_ips(m, false);
		return;
	}
	m->committed = true;
	report_phase_announce(&m->rep, "lazy");
	mig_progress(m, "pages follow on demand");
	fault_at("lazy-window", m->criu_pid);
}


static int wait_lazy_done(struct migration *m)
{
	json_t *reply = mig_request(m, json_pack("{s:s}", "op", "lazy-wait"));

	if (!reply) {
		/* criu resumed the source when it stopped serving (or crmig does,
		 * when criu was killed); the incomplete copy there was ended. */
		mig_settle_held_source(m, false);
		mig_move_ips(m, false);
		return mig_fail(m, "failed",
				"the workload resumed on %s but its memory did not all arrive: %s. Post-copy cannot "
				"hand over: the copy on %s was ended and the source resumed from its state at the "
				"freeze; what the workload did on %s since the restore is lost.",
				m->host, m->err, m->host, m->host);
	}

	mig_settle_held_source(m, true);
	m->rep.lazy_ms = json_real_value(json_object_get(reply, "lazy_ms"));
	report_phase_add(&m->rep, "lazy", m->t_resumed, m->t_resumed + m->rep.lazy_ms, 0);
	json_decref(reply);
	return 0;
}

int strategy_lazy_dump(struct migration *m, const char *prev, int round)
{
	char how[48];
	__do_free char *dir = mig_local_dir(m, MIG_DIR_FINAL);
	__do_free char *prev_rel = prev ? xasprintf("../%s", prev) : NULL;
	json_t *args = json_pack("{s:s}", "dir", MIG_DIR_FINAL);
	struct dump_spec d = { .action = CRIU_DUMP, .dir = dir, .prev = prev_rel, .lazy = true,
			       .track_mem = prev != NULL };
	double start;
	int status;

	if (prev)
		json_object_set_new(args, "prev", json_string(prev));
	d.ps_fd = mig_page_channel(m, "lazy-channel", args);
	if (d.ps_fd < 0)
		return mig_fail(m, "failed", "%s", m->err);
	m->lazy_dir = dir;
	start = report_now(&m->rep);
	status = mig_dump(m, &d, lazy_hook, lazy_after);
	m->t_released = report_now(&m->rep);
	m->lazy_dir = NULL;
	/* criu is gone: end the stream for the destination's lazy-pages daemon
	 * too, which would otherwise wait for pages forever (our duplicate of
	 * the socket, kept for byte counts, holds the connection open). */
	mig_page_channel_close(d.ps_fd);
	mig_read_round_stats(m, dir, round, true, (m->t_dumped ? m->t_dumped : m->t_released) - start, 0);
	if (m->frozen)
		report_phase_add(&m->rep, "dump", m->t_freeze, m->t_dumped ? m->t_dumped : m->t_released, 0);
	if (m->committed) {
		if (status != 0)
			mig_progress(m, "criu dump %s while serving pages", proc_status_text(status, how, sizeof(how)));
		return wait_lazy_done(m);
	}
	if (m->restore_failed)
		return mig_fail(m, "rolled-back", "%s; the source was resumed", m->err);
	if (!m->err[0] && status >= 128)
		snprintf(m->err, sizeof(m->err), "criu on the source died (signal %d) during the dump", status - 128);
	if (!m->err[0])
		snprintf(m->err, sizeof(m->err), "criu dump failed (exit %d)", status);
	return mig_fail(m, m->frozen ? "rolled-back" : "failed", "%s", m->err);
}

static int post_run(struct migration *m)
{
	return strategy_lazy_dump(m, NULL, 1);
}

const struct strategy strategy_post = {
	.name = "post",
	.summary = "restore at once, pages follow on demand (userfaultfd)",
	.needs_lazy = true,
	.run = post_run,
};
