/* A process tree given by its root PID, dumped and restored by criu itself. */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "migrate.h"
#include "procfs.h"
#include "proc.h"
#include "util.h"
#include "workload_dump.h"

struct pid_state {
	json_t *tids;        /* every process and thread: criu restores them with their ids */
	json_t *pids;        /* processes only */
};

static int pid_preflight(struct migration *m)
{
	struct pid_state *s = xzalloc(sizeof(*s));
	pid_t pid = m->o->pid;
	struct proc_stat st;
	pid_t sid = proc_stat_read(pid, &st) == 0 ? st.sid : -1;

	m->wl_state = s;
	m->lock_root = pid;
	free(m->rep.workload);
	m->rep.workload = xasprintf("pid:%d", pid);
	if (sid < 0)
		return mig_fail(m, "failed", "no process %d here", pid);
	if (sid != pid && !m->o->shell_job)
		return mig_fail(m, "failed", "process %d is not a session leader (its session is %d): criu moves whole "
				"sessions; start it with setsid, or pass --shell-job if it belongs to a shell", pid, sid);
	s->pids = json_array();
	s->tids = json_array();
	proc_collect_tree(pid, s->pids, s->tids);
	return 0;
}

static json_t *pid_describe(struct migration *m)
{
	struct pid_state *s = m->wl_state;

	return json_pack("{s:s, s:i, s:O, s:O}", "kind", "pid", "pid", (int)m->o->pid, "pids", s->pids, "tids", s->tids);
}

/* The files the tree holds, and its working directories. */
static void pid_sync_paths(struct migration *m, json_t *paths)
{
	struct pid_state *s = m->wl_state;

	if (m->o->auto_sync)
		sync_add_held_files(paths, s->pids, "");
}

pid_t workload_dump_tree(struct migration *m, const struct dump_spec *d, pid_t root, char *const *extra, bool container)
{
	__do_free char *out = xasprintf("%s/criu.out", d->dir);
	struct criu_call c = {
		.action = d->action, .criu = m->o->criu, .images_dir = d->dir,
		.log_file = d->action == CRIU_DUMP ? "dump.log" : "pre-dump.log", .verbosity = m->o->verbosity,
		.pid = root, .prev_images_dir = d->prev, .track_mem = d->track_mem,
		.page_server = d->page_server, .ps_socket = d->ps_fd >= 0, .lazy = d->lazy,
		.tcp_established = container || m->o->tcp_established, .file_locks = container || m->o->file_locks,
		.shell_job = !container && m->o->shell_job, .action_script = m->hook.command, .extra = extra,
	};
	char **argv = criu_argv(&c);
	pid_t pid;

	report_add_argv(&m->rep, "source", argv);
	pid = criu_spawn(argv, d->ps_fd, out);
	criu_argv_free(argv);
	return pid;
}

static pid_t pid_dump_start(struct migration *m, const struct dump_spec *d)
{
	return workload_dump_tree(m, d, m->o->pid, NULL, false);
}

static void pid_dump_done(struct migration *m, const struct dump_spec *d, int status)
{
	char how[48];
	__do_free char *log = xasprintf("%s/%s", d->dir, d->action == CRIU_DUMP ? "dump.log" : "pre-dump.log");
	__do_free char *errors = NULL;

	if (status == 0 || m->err[0])
		return;
	errors = criu_log_errors(log, 5);
	snprintf(m->err, sizeof(m->err), "criu %s %s; %s says:\n%s", criu_action_name(d->action),
		 proc_status_text(status, how, sizeof(how)), log,
		 *errors ? errors : status > 128 ? "(no error lines: it was killed)\n" : "(no error lines)\n");
}

static void pid_release(struct migration *m)
{
	struct pid_state *s = m->wl_state;

	if (s) {
		json_decref(s->pids);
		json_decref(s->tids);
	}
}

/* ---- the destination's half ---------------------------------------------- */

static int pid_dest_check(json_t *wl, char *why, size_t len)
{
	size_t i;
	json_t *v;

	json_array_foreach(json_object_get(wl, "tids"), i, v) {
		json_int_t pid = json_integer_value(v);

		if (pid <= 1 || pid > 4194304) {
			snprintf(why, len, "bad pid %lld in the request", (long long)pid);
			return -1;
		}
	}
	return 0;
}

/* criu restores every process and thread with its own pid: each must be
 * free here. */
static int pid_dest_prepare(json_t *wl, const char *host, char *undo_dir, size_t ulen, char *err, size_t errlen)
{
	size_t i;
	json_t *v;

	(void)ulen;
	undo_dir[0] = '\0';
	if (pid_dest_check(wl, err, errlen) < 0)
		return -1;
	json_array_foreach(json_object_get(wl, "tids"), i, v) {
		json_int_t pid = json_integer_value(v);

		if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) {
			snprintf(err, errlen, "pid %lld is in use on %s: criu restores a process tree with its own "
				 "pids. Give the hosts disjoint pid ranges (kernel.ns_last_pid) or move a container instead",
				 (long long)pid, host);
			return -1;
		}
	}
	return 0;
}

static pid_t pid_dest_restore(const struct dest_restore *r)
{
	struct criu_call c = { .action = CRIU_RESTORE, .criu = r->criu, .verbosity = r->verbosity,
			       .images_dir = r->dir, .log_file = "restore.log", .restore_detached = true,
			       .pidfile = "restore.pid", .tcp_established = json_bool(r->req, "tcp_established", true),
			       .file_locks = json_bool(r->req, "file_locks", true), .lazy = json_bool(r->req, "lazy", false),
			       .action_script = r->hook };

	return criu_spawn_call(&c, -1, r->argvs);
}

/* criu's --pidfile: the tree's root as restored. */
static pid_t pid_dest_root(const char *dir, json_t *wl)
{
	__do_free char *pidfile = xasprintf("%s/restore.pid", dir);
	__do_free char *text = read_file(pidfile, NULL);

	(void)wl;
	return text ? atoi(text) : -1;
}

static void pid_dest_end(json_t *wl, pid_t root)
{
	(void)wl;
	proc_kill_tree(root);
}

static const char *pid_dest_name(json_t *wl)
{
	(void)wl;
	return "a process tree";
}

const struct workload_ops workload_pid = {
	.kind = "pid",
	.preflight = pid_preflight,
	.describe = pid_describe,
	.sync_paths = pid_sync_paths,
	.dump_start = pid_dump_start,
	.dump_done = pid_dump_done,
	.release = pid_release,
	.dest_check = pid_dest_check,
	.dest_prepare = pid_dest_prepare,
	.dest_restore = pid_dest_restore,
	.dest_root = pid_dest_root,
	.dest_end = pid_dest_end,
	.dest_name = pid_dest_name,
};
