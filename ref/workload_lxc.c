/* An LXC container, dumped by liblxc (which runs criu itself). liblxc has no
 * page-stream or lazy-pages options: those reach criu through a criu config
 * file named by CRIU_CONFIG_FILE, and the page stream through an inherited
 * descriptor. The exact criu command line comes back from liblxc's trace log. */
#include <fcntl.h>
#include <lxc/lxccontainer.h>
#include <sys/wait.h>

#include "migrate.h"
#include "util.h"

struct lxc_state {
	pid_t init_pid;         /* the container's init, as this host sees it */
	char lxcpath[PATH_MAX];
	char dir[PATH_MAX];     /* lxcpath/name: config and (dir backend) rootfs */
	char rootfs[PATH_MAX];
};

static struct lxc_container *open_container(const char *name, const char *lxcpath)
{
	return lxc_container_new(name, lxcpath && *lxcpath ? lxcpath : NULL);
}

static int lxc_preflight(struct migration *m)
{
	struct lxc_state *s = xzalloc(sizeof(*s));
	struct lxc_container *c;
	char *rootfs;

	m->wl_state = s;
	free(m->rep.workload);
	m->rep.workload = xasprintf("lxc:%s", m->o->lxc_name);
	if (!safe_name(m->o->lxc_name, 63))
		return mig_fail(m, "failed", "'%s' is not a container name", m->o->lxc_name);
	c = open_container(m->o->lxc_name, m->o->lxcpath);
	if (!c)
		return mig_fail(m, "failed", "liblxc cannot open container %s", m->o->lxc_name);
	if (!c->is_defined(c) || !c->is_running(c)) {
		lxc_container_put(c);
		return mig_fail(m, "failed", "container %s is not running here", m->o->lxc_name);
	}
	s->init_pid = c->init_pid(c);
	snprintf(s->lxcpath, sizeof(s->lxcpath), "%s", c->config_path);
	snprintf(s->dir, sizeof(s->dir), "%s/%s", c->config_path, c->name);
	rootfs = c->get_running_config_item(c, "lxc.rootfs.path");
	snprintf(s->rootfs, sizeof(s->rootfs), "%s", rootfs ? (strncmp(rootfs, "dir:", 4) ? rootfs : rootfs + 4) : "");
	free(rootfs);
	lxc_container_put(c);
	json_object_set_new(m->rep.extra, "rootfs", json_pack("{s:s, s:s}", "path", s->rootfs, "mode", m->o->rootfs));
	return 0;
}

static json_t *lxc_describe(struct migration *m)
{
	struct lxc_state *s = m->wl_state;

	return json_pack("{s:s, s:s, s:s}", "kind", "lxc", "name", m->o->lxc_name, "lxcpath", s->lxcpath);
}

static void lxc_sync_paths(struct migration *m, json_t *paths)
{
	struct lxc_state *s = m->wl_state;
	__do_free char *config = xasprintf("%s/config", s->dir);

	json_object_set_new(paths, config, json_string("changed"));
	if (!strcmp(m->o->rootfs, "sync")) {
		json_object_set_new(paths, s->dir, json_string("tree"));
		if (s->rootfs[0] && strncmp(s->rootfs, s->dir, strlen(s->dir)))
			json_object_set_new(paths, s->rootfs, json_string("tree"));
		/* What the container's processes write may change under an
		 * unchanged mtime (shared mappings): those files go again while frozen. */
		if (m->o->auto_sync && s->init_pid > 0 && s->rootfs[0]) {
			json_t *pids = json_array(), *tids = json_array();

			proc_collect_tree(s->init_pid, pids, tids);
			sync_add_held_files(paths, pids, s->rootfs);
			json_decref(pids);
			json_decref(tids);
		}
	}
}

static void child_dump(struct migration *m, const struct dump_spec *d)
{
	struct criu_call cc = { .action = d->action, .page_server = d->page_server, .ps_socket = d->ps_fd >= 0,
				.lazy = d->lazy };
	__do_free char *conf_text = criu_config_text(&cc);
	__do_free char *conf = xasprintf("%s/criu.conf", d->dir);
	__do_free char *log = xasprintf("%s/lxc.log", d->dir);
	struct migrate_opts opts = { .directory = (char *)d->dir, .verbose = true, .stop = d->action == CRIU_DUMP,
				     .predump_dir = (char *)d->prev, .action_script = m->hook.command };
	struct lxc_container *c;

	if (write_file(conf, conf_text, strlen(conf_text), 0600) < 0 || setenv("CRIU_CONFIG_FILE", conf, 1) < 0)
		_exit(125);
	if (d->ps_fd >= 0) {
		if (d->ps_fd != CRIU_PS_FD && dup2(d->ps_fd, CRIU_PS_FD) < 0)
			_exit(125);
		fcntl(CRIU_PS_FD, F_SETFD, 0);
	}
	c = open_container(m->o->lxc_name, m->o->lxcpath);
	if (!c)
		_exit(125);
	/* TRACE makes liblxc log the exact criu command line. */
	c->set_config_item(c, "lxc.log.file", log);
	c->set_config_item(c, "lxc.log.level", "TRACE");
	_exit(c->migrate(c, d->action == CRIU_DUMP ? MIGRATE_DUMP : MIGRATE_PRE_DUMP, &opts, sizeof(opts)) == 0 ? 0 : 1);
}

static pid_t lxc_dump_start(struct migration *m, const struct dump_spec *d)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0)
		child_dump(m, d);
	return pid;
}

/* "Using command line /usr/sbin/criu dump ... " from liblxc's trace log. */
static void record_lxc_argv(struct migration *m, const char *log_path, const char *host)
{
	__do_free char *log = read_file(log_path, NULL);
	const char *key = "Using command line ";
	char *p = log, *last = NULL;

	while (p && (p = strstr(p, key))) {
		last = p + strlen(key);
		p = last;
	}
	if (!last)
		return;
	last[strcspn(last, "\n")] = '\0';
	char *argv[256];
	size_t n = 0;
	for (char *save, *w = strtok_r(last, " ", &save); w && n < ARRAY_SIZE(argv) - 1; w = strtok_r(NULL, " ", &save))
		argv[n++] = w;
	argv[n] = NULL;
	report_add_argv(&m->rep, host, argv);
}

static void lxc_dump_done(struct migration *m, const struct dump_spec *d, int status)
{
	__do_free char *log = xasprintf("%s/lxc.log", d->dir);
	__do_free char *conf = xasprintf("%s/criu.conf", d->dir);
	__do_free char *conf_text = read_file(conf, NULL);
	__do_free char *criu_log = xasprintf("%s/%s.log", d->dir, criu_action_name(d->action));
	__do_free char *errors = NULL;

	record_lxc_argv(m, log, "source (liblxc; plus CRIU_CONFIG_FILE)");
	if (conf_text)
		json_object_set_new(m->rep.extra, "criu_config_file", json_string(conf_text));
	if (status == 0 || m->err[0])
		return;
	errors = criu_log_errors(criu_log, 5);
	snprintf(m->err, sizeof(m->err), "liblxc %s exited %d; %s says:\n%s", criu_action_name(d->action), status,
		 criu_log, *errors ? errors : "(no error lines; see lxc.log beside it)\n");
}

const struct workload_ops workload_lxc = {
	.kind = "lxc",
	.preflight = lxc_preflight,
	.describe = lxc_describe,
	.sync_paths = lxc_sync_paths,
	.dump_start = lxc_dump_start,
	.dump_done = lxc_dump_done,
};
