/* When criu dies under crmig migrate (killed: the OOM killer, an admin, a
 * fault injection), it leaves undone what it would have done on its way
 * out: resume the tree it froze, or, after the handover, end the source's
 * copy. crmig does it instead, so that a dead criu never leaves the
 * workload frozen on the source, nor running twice. */
#include <lxc/lxccontainer.h>
#include <signal.h>
#include <sys/wait.h>

#include "migrate.h"
#include "netlock.h"
#include "procfs.h"
#include "util.h"

bool mig_criu_alive(struct migration *m)
{
	siginfo_t si = { 0 };

	if (m->criu_pid <= 0)
		return true;
	/* a zombie still answers kill(pid, 0): ask whether it exited */
	return waitid(P_PID, (id_t)m->criu_pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == 0;
}

bool mig_criu_failed(struct migration *m)
{
	siginfo_t si = { 0 };

	if (m->criu_pid <= 0 || waitid(P_PID, (id_t)m->criu_pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || !si.si_pid)
		return false;
	return !(si.si_code == CLD_EXITED && si.si_status == 0);
}

enum source_act { RESUME, END, HOLD };

static void container_act(struct migration *m, enum source_act act)
{
	struct lxc_container *c = lxc_container_new(m->o->lxc_name, m->o->lxcpath);

	if (!c)
		return;
	if (c->is_running(c)) {
		if (act == END) {
			c->stop(c);
		} else if (act == HOLD) {
			c->freeze(c);
		} else {
			c->unfreeze(c);
			proc_signal_tree(c->init_pid(c), SIGCONT);
		}
	}
	lxc_container_put(c);
}

void mig_release_netlock(struct migration *m)
{
	int n = m->lock_root > 1 ? netlock_release(m->lock_root, m->rules_before, m->netns_lock) : 0;

	if (n > 0)
		fprintf(stderr, "crmig: lifted %d of criu's network locks (repair mode, iptables, nftables) from the "
			"source's tree: criu resumed it without\n", n);
}

/* criu holds the tree with ptrace alone once it has seized it: it thaws a
 * container's freezer at once (criu/seize.c), and a bare tree has none. A
 * tracer's death lets every tracee run that instant, its TCP sockets still
 * in repair mode (a recv() fails with EPERM) and its namespace still locked,
 * before crmig can lift either: measured in the lab, a TCP workload dead of
 * EPERM after criu was killed at image-transfer, bare and in a container.
 * A SIGSTOP sent to a task that criu holds waits: the task takes it first
 * thing when criu lets it go, by dying or by resuming it, and stops before
 * it runs an instruction of its own. Only once the dump is done: before,
 * criu runs its parasite code in the tasks, which a stop would break. */
void mig_queue_stop(struct migration *m)
{
	json_auto_t *pids = json_array(), *tids = json_array();
	__do_free char *text = NULL;
	size_t i, len = 0;
	json_t *v;
	FILE *f;

	if (m->stop_queued || m->lock_root <= 1 || kill(m->lock_root, 0) < 0 || !(f = open_memstream(&text, &len)))
		return;
	m->queued_start = proc_start_time(m->lock_root);
	proc_collect_tree(m->lock_root, pids, tids);
	json_array_foreach(pids, i, v)
		if (kill((pid_t)json_integer_value(v), SIGSTOP) == 0)
			fprintf(f, "%d\n", (int)json_integer_value(v));
	fclose(f);
	m->stop_queued = true;
	/* should crmig die, its hook continues them (hook_client.c) */
	if (hook_server_hold(&m->hook, text) < 0)
		mig_progress(m, "warning: cannot record the held tree for the hook: %s", strerror(errno));
}

static void stop_consumed(struct migration *m)
{
	if (m->stop_queued)
		hook_server_hold(&m->hook, NULL);
	m->stop_queued = false;
}

void mig_unqueue_stop(struct migration *m)
{
	if (!m->stop_queued)
		return;
	stop_consumed(m);
	/* gone when criu ended it (the handover); a pid taken again is not ours */
	if (proc_start_time(m->lock_root) == m->queued_start)
		proc_signal_tree(m->lock_root, SIGCONT);
}

static void source_act(struct migration *m, enum source_act act)
{
	static const int sig[] = { [RESUME] = SIGCONT, [END] = SIGKILL, [HOLD] = SIGSTOP };

	/* each act decides the queued stop: ended, kept (HOLD), continued */
	stop_consumed(m);
	/* unlocked before it runs again, so no recv() of it fails with EPERM */
	if (act == RESUME)
		mig_release_netlock(m);
	if (m->o->lxc_name)
		container_act(m, act);
	else
		proc_signal_tree(m->o->pid, sig[act]);
}

void mig_after_criu_killed(struct migration *m, const struct dump_spec *d, int status)
{
	/* Post-copy past the commit: the destination runs the workload, and
	 * which copy must live depends on whether every page had crossed before
	 * criu died (measured with criu 4.1 and hybrid: the lazy-pages daemon had
	 * them all and ended well, and resuming the source ran it twice). Only
	 * the destination knows (lazy-wait): the source is held stopped until it
	 * answers (criu's freezer keeps a container frozen; a tree that criu's
	 * ptrace let go is stopped again). */
	if (m->committed && d->lazy) {
		source_act(m, HOLD);
		m->source_held = true;
		mig_progress(m, "criu %s was killed (signal %d) while serving pages: the source is held stopped "
				"until %s says whether every page arrived", criu_action_name(d->action), status - 128,
			     m->host);
		return;
	}
	/* Stop and pre-copy past the commit: the destination holds the whole
	 * workload, the source's copy is ended; before it, the source resumes. */
	source_act(m, m->committed ? END : RESUME);
	mig_progress(m, "criu %s was killed (signal %d): %s", criu_action_name(d->action), status - 128,
		     m->committed ? "the destination runs the workload, so crmig ended the source's copy"
				  : "crmig resumed the tree it had frozen");
}

void mig_settle_held_source(struct migration *m, bool end)
{
	if (!m->source_held)
		return;
	m->source_held = false;
	source_act(m, end ? END : RESUME);
	mig_progress(m, "%s", end ? "every page had arrived before criu died: crmig ended the source's copy"
				  : "crmig resumed the source it held");
}

/* ---- what a killed crmig migrate left ------------------------------------- */

/* Each crmig migrate records itself in STATE/src-ID.json while it runs: who
 * it is, the workload, where its images are. A crmig that was killed leaves
 * the record; the next crmig migrate on this host finds it at start. criu
 * itself resumes the workload when crmig is gone (the post-dump hook's
 * fallback, a broken page stream), so what is left is usually only the
 * images; but should criu have died too with the tree stopped, the tree is
 * resumed (unless a tracer, a criu still at work, holds it). */
#include "serve_record.h"

#include <dirent.h>

const char *mig_state_dir(void)
{
	const char *d = getenv("CRMIG_STATE_DIR");

	return d && d[0] == '/' ? d : CRMIG_STATE_DIR;
}

static char *record_path(const char *id)
{
	return xasprintf("%s/src-%s.json", mig_state_dir(), id);
}

void mig_record_source(struct migration *m)
{
	__do_free char *path = record_path(m->id);
	json_t *rec = json_pack("{s:i, s:I, s:i, s:I, s:s?, s:s?, s:s, s:b}", "pid", (int)getpid(), "start",
				(json_int_t)proc_start_time(getpid()), "workload_pid", (int)m->o->pid, "workload_start",
				(json_int_t)proc_start_time(m->o->pid), "lxc",
				m->o->lxc_name, "lxcpath", m->o->lxcpath, "dir", m->dir, "keep", m->o->keep_dir != NULL);

	mkdir_p(mig_state_dir(), 0700);
	if (json_dump_file(rec, path, JSON_COMPACT) < 0)
		mig_progress(m, "cannot record this migration in %s: %s", path, strerror(errno));
	json_decref(rec);
}

void mig_forget_source(struct migration *m)
{
	__do_free char *path = m->id[0] ? record_path(m->id) : NULL;

	if (path)
		unlink(path);
}

/* "T" and no tracer: stopped by a criu that is gone. */
static bool stopped_untraced(pid_t pid)
{
	__do_free char *path = xasprintf("/proc/%d/status", pid);
	__do_free char *text = pid > 1 ? read_file(path, NULL) : NULL;
	const char *state = text ? strstr(text, "\nState:\t") : NULL;
	const char *tracer = text ? strstr(text, "\nTracerPid:\t") : NULL;

	return state && tracer && state[8] == 'T' && atoi(tracer + 12) == 0;
}

static void recover_one_source(const char *path)
{
	json_t *rec = json_load_file(path, 0, NULL);
	pid_t owner = (pid_t)json_integer_value(json_object_get(rec, "pid"));
	pid_t wl = (pid_t)json_integer_value(json_object_get(rec, "workload_pid"));
	const char *lxc = json_string_value(json_object_get(rec, "lxc"));
	const char *dir = json_string_value(json_object_get(rec, "dir"));
	const char *what = "its workload was running";

	if (!rec)
		return;
	if (owner > 1 && proc_start_time(owner) == (unsigned long long)json_integer_value(json_object_get(rec, "start"))) {
		json_decref(rec);
		return; /* it still runs */
	}
	if (lxc) {
		struct lxc_container *c = lxc_container_new(lxc, json_string_value(json_object_get(rec, "lxcpath")));

		if (c && c->is_running(c) && !strcmp(c->state(c), "FROZEN")) {
			c->unfreeze(c);
			what = "thawed its container";
		}
		if (c)
			lxc_container_put(c);
	} else if (wl > 1 && proc_start_time(wl) == (unsigned long long)json_integer_value(json_object_get(rec, "workload_start")) &&
		   stopped_untraced(wl)) {
		proc_signal_tree(wl, SIGCONT);
		what = "resumed its stopped workload";
	}
	if (dir && !json_is_true(json_object_get(rec, "keep")) && !strncmp(dir, mig_state_dir(), strlen(mig_state_dir())))
		remove_tree(dir);
	fprintf(stderr, "crmig: an earlier crmig migrate (pid %d) died mid-migration: %s; cleaned up %s\n", (int)owner,
		what, dir ? dir : path);
	unlink(path);
	json_decref(rec);
}

void mig_recover_sources(void)
{
	DIR *d = opendir(mig_state_dir());
	struct dirent *e;

	while (d && (e = readdir(d))) {
		size_t n = strlen(e->d_name);

		if (!strncmp(e->d_name, "src-", 4) && n > 9 && !strcmp(e->d_name + n - 5, ".json")) {
			__do_free char *path = xasprintf("%s/%s", mig_state_dir(), e->d_name);

			recover_one_source(path);
		}
	}
	if (d)
		closedir(d);
}
