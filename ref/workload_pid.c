/* A process tree given by its root PID, dumped and restored by criu itself. */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "migrate.h"
#include "util.h"

struct pid_state {
	json_t *tids;        /* every process and thread: criu restores them with their ids */
	json_t *pids;        /* processes only */
};

static void collect_tree(pid_t pid, json_t *pids, json_t *tids, int depth)
{
	__do_free char *taskdir = xasprintf("/proc/%d/task", pid);
	DIR *d = opendir(taskdir);
	struct dirent *e;

	if (!d || depth > 64) {
		if (d)
			closedir(d);
		return;
	}
	json_array_append_new(pids, json_integer(pid));
	while ((e = readdir(d))) {
		__do_free char *children = NULL;
		__do_free char *path = NULL;
		char *save, *tok;

		if (e->d_name[0] == '.')
			continue;
		json_array_append_new(tids, json_integer(atoi(e->d_name)));
		path = xasprintf("%s/%s/children", taskdir, e->d_name);
		children = read_file(path, NULL);
		for (tok = children ? strtok_r(children, " \n", &save) : NULL; tok; tok = strtok_r(NULL, " \n", &save))
			collect_tree(atoi(tok), pids, tids, depth + 1);
	}
	closedir(d);
}

/* Field 6 of /proc/PID/stat, after the parenthesised command name. */
static pid_t session_of(pid_t pid)
{
	__do_free char *path = xasprintf("/proc/%d/stat", pid);
	__do_free char *stat = read_file(path, NULL);
	char *p = stat ? strrchr(stat, ')') : NULL;
	int ppid, pgrp, sid;
	char state;

	if (!p || sscanf(p + 1, " %c %d %d %d", &state, &ppid, &pgrp, &sid) != 4)
		return -1;
	return sid;
}

static int pid_preflight(struct migration *m)
{
	struct pid_state *s = xzalloc(sizeof(*s));
	pid_t pid = m->o->pid;
	pid_t sid = session_of(pid);

	m->wl_state = s;
	free(m->rep.workload);
	m->rep.workload = xasprintf("pid:%d", pid);
	if (sid < 0)
		return mig_fail(m, "failed", "no process %d here", pid);
	if (sid != pid && !m->o->shell_job)
		return mig_fail(m, "failed", "process %d is not a session leader (its session is %d): criu moves whole "
				"sessions; start it with setsid, or pass --shell-job if it belongs to a shell", pid, sid);
	s->pids = json_array();
	s->tids = json_array();
	collect_tree(pid, s->pids, s->tids, 0);
	return 0;
}

static json_t *pid_describe(struct migration *m)
{
	struct pid_state *s = m->wl_state;

	return json_pack("{s:s, s:i, s:O, s:O}", "kind", "pid", "pid", (int)m->o->pid, "pids", s->pids, "tids", s->tids);
}

/* Files under these are the system's and assumed identical on both hosts. */
static bool system_path(const char *p)
{
	static const char *const prefixes[] = { "/usr/", "/lib", "/bin/", "/sbin/", "/etc/", "/opt/", "/boot/",
						 "/proc/", "/sys/", "/dev/", "/run/", CRMIG_STATE_DIR "/" };

	for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++)
		if (!strncmp(p, prefixes[i], strlen(prefixes[i])))
			return true;
	return false;
}

static void add_link_target(json_t *paths, const char *link, const char *kind)
{
	char target[PATH_MAX];
	ssize_t n = readlink(link, target, sizeof(target) - 1);
	struct stat st;

	if (n <= 0)
		return;
	target[n] = '\0';
	if (target[0] != '/' || strstr(target, " (deleted)") || system_path(target))
		return;
	if (stat(target, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISFIFO(st.st_mode) || S_ISDIR(st.st_mode)))
		return;
	json_object_set_new(paths, target, json_string(kind));
}

static void add_dir_links(json_t *paths, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		__do_free char *link = NULL;

		if (e->d_name[0] == '.')
			continue;
		link = xasprintf("%s/%s", dir, e->d_name);
		add_link_target(paths, link, "open");
	}
	closedir(d);
}

/* The files the tree has open or mapped, and its working directories. */
static void pid_sync_paths(struct migration *m, json_t *paths)
{
	struct pid_state *s = m->wl_state;
	size_t i;
	json_t *v;

	if (!m->o->auto_sync)
		return;
	json_array_foreach(s->pids, i, v) {
		pid_t pid = (pid_t)json_integer_value(v);
		__do_free char *fd = xasprintf("/proc/%d/fd", pid);
		__do_free char *maps = xasprintf("/proc/%d/map_files", pid);
		__do_free char *cwd = xasprintf("/proc/%d/cwd", pid);

		add_dir_links(paths, fd);
		add_dir_links(paths, maps);
		add_link_target(paths, cwd, "dir");
	}
}

static pid_t pid_dump_start(struct migration *m, const struct dump_spec *d)
{
	__do_free char *out = xasprintf("%s/criu.out", d->dir);
	struct criu_call c = {
		.action = d->action, .criu = m->o->criu, .images_dir = d->dir,
		.log_file = d->action == CRIU_DUMP ? "dump.log" : "pre-dump.log", .verbosity = m->o->verbosity,
		.pid = m->o->pid, .prev_images_dir = d->prev, .track_mem = d->track_mem,
		.page_server = d->page_server, .ps_socket = d->ps_fd >= 0, .lazy = d->lazy,
		.tcp_established = m->o->tcp_established, .file_locks = m->o->file_locks,
		.shell_job = m->o->shell_job, .action_script = m->hook.command,
	};
	char **argv = criu_argv(&c);
	pid_t pid;

	report_add_argv(&m->rep, "source", argv);
	pid = criu_spawn(argv, d->ps_fd, out);
	criu_argv_free(argv);
	return pid;
}

static void pid_dump_done(struct migration *m, const struct dump_spec *d, int status)
{
	__do_free char *log = xasprintf("%s/%s", d->dir, d->action == CRIU_DUMP ? "dump.log" : "pre-dump.log");
	__do_free char *errors = NULL;

	if (status == 0 || m->err[0])
		return;
	errors = criu_log_errors(log, 5);
	snprintf(m->err, sizeof(m->err), "criu %s exited %d; %s says:\n%s", criu_action_name(d->action), status, log,
		 *errors ? errors : "(no error lines)\n");
}

static void pid_release(struct migration *m)
{
	struct pid_state *s = m->wl_state;

	if (s) {
		json_decref(s->pids);
		json_decref(s->tids);
	}
}

const struct workload_ops workload_pid = {
	.kind = "pid",
	.preflight = pid_preflight,
	.describe = pid_describe,
	.sync_paths = pid_sync_paths,
	.dump_start = pid_dump_start,
	.dump_done = pid_dump_done,
	.release = pid_release,
};
