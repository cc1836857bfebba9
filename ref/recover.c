/* When criu dies under crmig migrate (killed: the OOM killer, an admin, a
 * fault injection), it leaves undone what it would have done on its way
 * out: resume the tree it froze, or, after the handover, end the source's
 * copy. crmig does it instead, so that a dead criu never leaves the
 * workload frozen on the source, nor running twice. */
#include <lxc/lxccontainer.h>
#include <signal.h>
#include <sys/wait.h>

#include "migrate.h"
#include "util.h"

bool mig_criu_alive(struct migration *m)
{
	siginfo_t si = { 0 };

	if (m->criu_pid <= 0)
		return true;
	/* a zombie still answers kill(pid, 0): ask whether it exited */
	return waitid(P_PID, (id_t)m->criu_pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == 0;
}

static void signal_tree(pid_t root, int sig)
{
	json_t *pids = json_array(), *tids = json_array();
	size_t i;
	json_t *v;

	if (root > 1) {
		proc_collect_tree(root, pids, tids);
		json_array_foreach(pids, i, v)
			kill((pid_t)json_integer_value(v), sig);
	}
	json_decref(pids);
	json_decref(tids);
}

static void container_act(struct migration *m, bool end)
{
	struct lxc_container *c = lxc_container_new(m->o->lxc_name, m->o->lxcpath);

	if (!c)
		return;
	if (c->is_running(c)) {
		if (end) {
			c->stop(c);
		} else {
			c->unfreeze(c);
			signal_tree(c->init_pid(c), SIGCONT);
		}
	}
	lxc_container_put(c);
}

void mig_after_criu_killed(struct migration *m, const struct dump_spec *d, int status)
{
	/* Post-copy past the handover: the source still holds the only full
	 * memory, so it resumes (as criu itself does when it gives up serving
	 * pages); the destination's incomplete copy is ended there. */
	bool end = m->committed && !d->lazy;

	if (m->o->lxc_name)
		container_act(m, end);
	else
		signal_tree(m->o->pid, end ? SIGKILL : SIGCONT);
	mig_progress(m, "criu %s was killed (signal %d): %s", criu_action_name(d->action), status - 128,
		     end ? "the destination runs the workload, so crmig ended the source's copy"
			 : "crmig resumed the tree it had frozen");
}
