/* An LXC container, dumped by liblxc (which runs criu itself). liblxc has no
 * page-stream or lazy-pages options: those reach criu through a criu config
 * file named by CRIU_CONFIG_FILE, and the page stream through an inherited
 * descriptor. The exact criu command line comes back from liblxc's trace log.
 *
 * lxc#4643: liblxc loses the cgroup of a container it restored (its monitor
 * cannot name it: "Failed getting freezer path"), so it cannot checkpoint
 * that container again, and a container could never come back. For such a
 * container crmig runs criu itself with the command line liblxc builds
 * (lxc_args below, the cgroup read from the init's /proc/PID/cgroup): the
 * images are the same, and the destination restores them with liblxc. */
#include <fcntl.h>
#include <lxc/lxccontainer.h>
#include <net/if.h>
#include <sys/wait.h>

#include "migrate.h"
#include "net.h"
#include "procfs.h"
#include "proc.h"
#include "util.h"
#include "workload_dump.h"

struct lxc_state {
	pid_t init_pid;         /* the container's init, as this host sees it */
	char lxcpath[PATH_MAX];
	char dir[PATH_MAX];     /* lxcpath/name: config and (dir backend) rootfs */
	char rootfs[PATH_MAX];
	bool direct;            /* lxc#4643: criu by crmig, not by liblxc */
	char cgroup[PATH_MAX];  /* the init's cgroup (v2), relative to /sys/fs/cgroup */
	char controllers[256];  /* its controllers, comma-separated */
};

static struct lxc_container *open_container(const char *name, const char *lxcpath)
{
	return lxc_container_new(name, lxcpath && *lxcpath ? lxcpath : NULL);
}

/* Does liblxc know where the running container's cgroup is? (After its own
 * restore it does not: lxc#4643.) */
static bool liblxc_knows_cgroup(struct lxc_container *c)
{
	char buf[256];

	return c->get_cgroup_item(c, "cgroup.procs", buf, sizeof(buf)) >= 0;
}

/* The container's cgroup as its init sees it ("0::/lxc.payload.NAME") and
 * the controllers there, as liblxc would pass them to criu. */
static int read_cgroup(struct lxc_state *s)
{
	__do_free char *path = xasprintf("/proc/%d/cgroup", (int)s->init_pid);
	__do_free char *text = read_file(path, NULL);
	__do_free char *ctl_path = NULL, *ctl = NULL;
	char *line = text ? strstr(text, "0::/") : NULL;

	if (!line || (line != text && line[-1] != '\n'))
		return -1;
	line += 4;
	snprintf(s->cgroup, sizeof(s->cgroup), "%.*s", (int)strcspn(line, "\n"), line);
	if (!s->cgroup[0] || strstr(s->cgroup, ".."))
		return -1;
	ctl_path = xasprintf("/sys/fs/cgroup/%s/cgroup.controllers", s->cgroup);
	ctl = read_file(ctl_path, NULL);
	snprintf(s->controllers, sizeof(s->controllers), "%s", ctl ? ctl : "");
	s->controllers[strcspn(s->controllers, "\n")] = '\0';
	for (char *p = s->controllers; *p; p++)
		if (*p == ' ')
			*p = ',';
	return 0;
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
	s->init_pid = m->lock_root = c->init_pid(c);
	s->direct = !liblxc_knows_cgroup(c);
	snprintf(s->lxcpath, sizeof(s->lxcpath), "%s", c->config_path);
	snprintf(s->dir, sizeof(s->dir), "%s/%s", c->config_path, c->name);
	rootfs = c->get_running_config_item(c, "lxc.rootfs.path");
	snprintf(s->rootfs, sizeof(s->rootfs), "%s", rootfs ? (strncmp(rootfs, "dir:", 4) ? rootfs : rootfs + 4) : "");
	free(rootfs);
	lxc_container_put(c);
	if (s->direct && read_cgroup(s) < 0)
		return mig_fail(m, "failed", "liblxc lost container %s's cgroup (lxc#4643), and its init %d shows no cgroup2 "
				"path in /proc/%d/cgroup: restart the container (lxc-stop, lxc-start) to migrate it",
				m->o->lxc_name, (int)s->init_pid, (int)s->init_pid);
	if (s->direct)
		json_object_set_new(m->rep.extra, "lxc_dump",
				    json_pack("{s:s, s:s}", "by", "criu (crmig)", "why",
					      "lxc#4643: liblxc lost the cgroup of the container it restored"));
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

/* criu locks a container's network namespace while it dumps it. With
 * iptables (criu's default) that is two iptables-restore runs in the dump
 * and five commands at the restore's unlock, each a fork and an exec while
 * the container is frozen (in a TCG guest 0.82 s at the dump and 0.86 s at
 * the restore); libnftables does it in criu's own process. The restore
 * takes the method from the images, so both hosts' criu must have it. */
static const char *lxc_network_lock(struct migration *m)
{
	const char *method = criu_netns_lock_method(&m->criu, json_object_get(m->peer, "features"));

	m->netns_lock = method ? method : "iptables";
	json_object_set_new(m->rep.extra, "network_lock", json_string(m->netns_lock));
	return method;
}

static void child_dump(struct migration *m, const struct dump_spec *d, const char *lock)
{
	struct criu_call cc = { .action = d->action, .page_server = d->page_server, .ps_socket = d->ps_fd >= 0,
				.lazy = d->lazy, .network_lock = lock };
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

/* What liblxc adds to criu's command line for a dump (lxc's criu.c, 6.0). */
static pid_t direct_dump_start(struct migration *m, const struct dump_spec *d, const char *lock)
{
	struct lxc_state *s = m->wl_state;
	__do_free char *root = xasprintf("%s%s%s", s->controllers, s->controllers[0] ? ":" : "", s->cgroup);
	__do_free char *freeze = xasprintf("/sys/fs/cgroup/%s", s->cgroup);
	char *const lxc_args[] = { "--link-remap", "--manage-cgroups=full", "--ext-mount-map", "auto",
				   "--enable-external-sharing", "--enable-external-masters", "--enable-fs", "hugetlbfs",
				   "--enable-fs", "tracefs", "--cgroup-root", root, "--skip-in-flight",
				   "--freeze-cgroup", freeze, "--force-irmap", lock ? "--network-lock" : NULL,
				   (char *)lock, NULL };

	return workload_dump_tree(m, d, s->init_pid, lxc_args, true);
}

static pid_t lxc_dump_start(struct migration *m, const struct dump_spec *d)
{
	struct lxc_state *s = m->wl_state;
	const char *lock = lxc_network_lock(m);
	pid_t pid;

	if (s->direct)
		return direct_dump_start(m, d, lock);

	fflush(NULL);
	pid = fork();
	if (pid == 0)
		child_dump(m, d, lock);
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
	char how[48];
	__do_free char *log = xasprintf("%s/lxc.log", d->dir);
	__do_free char *conf = xasprintf("%s/criu.conf", d->dir);
	__do_free char *conf_text = read_file(conf, NULL);
	__do_free char *criu_log = xasprintf("%s/%s.log", d->dir, criu_action_name(d->action));
	__do_free char *errors = NULL;
	struct lxc_state *s = m->wl_state;

	if (s->direct) {
		if (status != 0 && !m->err[0]) {
			errors = criu_log_errors(criu_log, 5);
			snprintf(m->err, sizeof(m->err), "criu %s (run by crmig: lxc#4643) %s; %s says:\n%s",
				 criu_action_name(d->action), proc_status_text(status, how, sizeof(how)), criu_log,
				 *errors ? errors : "(no error lines)\n");
		}
		return;
	}
	record_lxc_argv(m, log, "source (liblxc; plus CRIU_CONFIG_FILE)");
	if (conf_text)
		json_object_set_new(m->rep.extra, "criu_config_file", json_string(conf_text));
	if (status == 0 || m->err[0])
		return;
	errors = criu_log_errors(criu_log, 5);
	snprintf(m->err, sizeof(m->err), "liblxc %s %s; %s says:\n%s", criu_action_name(d->action),
		 proc_status_text(status, how, sizeof(how)), criu_log,
		 *errors ? errors : "(no error lines; see lxc.log beside it)\n");
}

/* ---- the destination's half ---------------------------------------------- */

static int lxc_dest_check(json_t *wl, char *why, size_t len)
{
	if (safe_name(json_str(wl, "name"), WL_CONTAINER_MAX) && safe_abs_path(json_str(wl, "lxcpath")))
		return 0;
	snprintf(why, len, "bad container in the request");
	return -1;
}

static int lxc_dest_prepare(json_t *wl, const char *host, char *undo_dir, size_t ulen, char *err, size_t errlen)
{
	const char *name = json_str(wl, "name"), *lxcpath = json_str(wl, "lxcpath");
	struct lxc_container *c;
	bool running;

	undo_dir[0] = '\0';
	if (lxc_dest_check(wl, err, errlen) < 0)
		return -1;
	c = lxc_container_new(name, lxcpath);
	running = c && c->is_running(c);
	if (c)
		lxc_container_put(c);
	if (running) {
		snprintf(err, errlen, "a container named %s already runs on %s", name, host);
		return -1;
	}
	/* the config and rootfs arrive there: ours to remove unless it stays */
	{
		__do_free char *dir = xasprintf("%s/%s", lxcpath, name);

		if (access(dir, F_OK) < 0)
			snprintf(undo_dir, ulen, "%s", dir);
	}
	return 0;
}

/* liblxc restores it (c->migrate), with crmig's criu options in a config
 * file: in a child, since liblxc forks the container's monitor from the
 * process that calls it. */
static pid_t lxc_dest_restore(const struct dest_restore *r)
{
	json_t *wl = json_object_get(r->req, "workload");
	const char *name = json_str(wl, "name"), *lxcpath = json_str(wl, "lxcpath");
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid != 0)
		return pid;
	/* The monitor outlives the session: whatever it inherits stays open as
	 * long as the container runs. It held the lazy-pages daemon's end of
	 * the page stream, so a daemon that died never broke the stream (the
	 * source's criu waited 10 min for pages; lab, dst-lazy-window:kill-criu
	 * with LXC), and the session's TLS connection, so a session that died
	 * never closed it. Nothing of ours is for the container: only 0-2 go. */
	close_range(3, ~0U, 0);
	{
		struct criu_call cc = { .action = CRIU_RESTORE, .lazy = json_bool(r->req, "lazy", false) };
		__do_free char *conf_text = criu_config_text(&cc);
		__do_free char *conf = xasprintf("%s/criu.conf", r->dir);
		__do_free char *log = xasprintf("%s/lxc.log", r->dir);
		struct migrate_opts opts = { .directory = (char *)r->dir, .verbose = true,
					     .action_script = (char *)r->hook };
		struct lxc_container *c;

		if (write_file(conf, conf_text, strlen(conf_text), 0600) < 0 || setenv("CRIU_CONFIG_FILE", conf, 1) < 0)
			_exit(125);
		c = lxc_container_new(name, lxcpath);
		if (!c)
			_exit(125);
		c->set_config_item(c, "lxc.log.file", log);
		c->set_config_item(c, "lxc.log.level", "TRACE");
		_exit(c->migrate(c, MIGRATE_RESTORE, &opts, sizeof(opts)) == 0 ? 0 : 1);
	}
}

static pid_t lxc_dest_root(const char *dir, json_t *wl)
{
	struct lxc_container *c = lxc_container_new(json_str(wl, "name"), json_str(wl, "lxcpath"));
	pid_t pid = c ? c->init_pid(c) : -1;

	(void)dir;
	if (c)
		lxc_container_put(c);
	return pid;
}

/* criu recreates the host end of a container's veth with the default MTU
 * (1500) whatever the container end had: on a jumbo-frame bridge the
 * container then silently drops every large frame sent to it (its TCP
 * connections stall). Give each host end its container end's MTU. */
static void lxc_dest_after_restore(const struct dest_restore *r, pid_t root, json_t *timing)
{
	__do_free char *target = xasprintf("%d", root);
	char *argv[] = { "nsenter", "-t", target, "-n", "ip", "-o", "link", "show", "type", "veth", NULL };
	struct proc_opts o = PROC_OPTS_DEFAULT;
	struct proc_result res;
	json_auto_t *fixed = json_array();
	char *save;

	o.timeout_s = 10;
	if (root <= 0 || proc_run(argv, &o, &res) < 0)
		return;
	/* "2: eth0@if5: <...> mtu 9000 qdisc ..." */
	for (char *line = res.status == 0 ? strtok_r(res.out, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
		char *at = strstr(line, "@if"), *mtu = strstr(line, " mtu ");
		char host_if[IF_NAMESIZE] = "";
		int peer, want;

		if (!at || !mtu || sscanf(at + 3, "%d", &peer) != 1 || sscanf(mtu + 5, "%d", &want) != 1)
			continue;
		if (!if_indextoname((unsigned)peer, host_if) || net_get_mtu(host_if) == want)
			continue;
		if (net_set_mtu(host_if, want) == 0) {
			__do_free char *msg = xasprintf("set %s's MTU to %d like its container end (criu restored it "
							"with the default)", host_if, want);

			r->say(r->ctx, msg);
			json_array_append_new(fixed, json_pack("{s:s, s:i}", "if", host_if, "mtu", want));
		}
	}
	proc_result_free(&res);
	if (json_array_size(fixed))
		json_object_set(timing, "veth_mtu_fixed", fixed);
}

static void lxc_dest_end(json_t *wl, pid_t root)
{
	const char *name = json_str(wl, "name"), *lxcpath = json_str(wl, "lxcpath");
	struct lxc_container *c = name && lxcpath ? lxc_container_new(name, lxcpath) : NULL;

	(void)root;
	if (!c)
		return;
	if (c->is_running(c))
		c->stop(c);
	lxc_container_put(c);
}

static const char *lxc_dest_name(json_t *wl)
{
	return json_str(wl, "name") ?: "a container";
}

const struct workload_ops workload_lxc = {
	.kind = "lxc",
	.preflight = lxc_preflight,
	.describe = lxc_describe,
	.sync_paths = lxc_sync_paths,
	.dump_start = lxc_dump_start,
	.dump_done = lxc_dump_done,
	.dest_check = lxc_dest_check,
	.dest_prepare = lxc_dest_prepare,
	.dest_restore = lxc_dest_restore,
	.dest_root = lxc_dest_root,
	.dest_after_restore = lxc_dest_after_restore,
	.dest_end = lxc_dest_end,
	.dest_name = lxc_dest_name,
};
