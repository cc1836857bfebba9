/* The lab: state, control channel (ssh), file copies and faults, common to
 * every backend. */
#include "lab.h"

#include <fcntl.h>
#include <jansson.h>
#include <sched.h>
#include <sys/stat.h>

#include "util.h"

static const struct lab_backend *const backends[] = { &lab_backend_qemu, &lab_backend_ssh };

static const struct lab_backend *backend_by_name(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(backends); i++)
		if (!strcmp(backends[i]->name, name))
			return backends[i];
	return NULL;
}

static void copy_str(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "");
}

int lab_host_index(const struct lab *l, const char *name)
{
	for (int i = 0; i < l->nhosts; i++)
		if (!strcmp(l->hosts[i].name, name) || !strcmp(l->hosts[i].addr, name))
			return i;
	return -1;
}

static char *state_path(const struct lab *l)
{
	return xasprintf("%s/state.json", l->dir);
}

int lab_save_state(const struct lab *l)
{
	__do_free char *path = state_path(l);
	json_t *hosts = json_array();
	json_t *st;
	int ret;

	for (int i = 0; i < l->nhosts; i++)
		json_array_append_new(hosts, json_pack("{s:s, s:s, s:I, s:s, s:s}",
			"name", l->hosts[i].name, "addr", l->hosts[i].addr,
			"qemu_pid", (json_int_t)l->hosts[i].qemu_pid,
			"console", l->hosts[i].console, "monitor", l->hosts[i].monitor));
	st = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:s}", "name", l->name,
		       "backend", l->backend, "netns", l->netns, "harness_addr", l->harness_addr,
		       "key", l->key, "image_dir", l->image_dir, "prefix", l->prefix, "hosts", hosts,
		       "accel", l->accel, "accel_why", l->accel_why);
	ret = json_dump_file(st, path, JSON_INDENT(2));
	json_decref(st);
	return ret;
}

static int load_state(struct lab *l, char *err, size_t errlen)
{
	__do_free char *path = state_path(l);
	json_error_t jerr;
	json_t *st = json_load_file(path, 0, &jerr);
	json_t *hosts, *h;
	size_t i;

	if (!st) {
		snprintf(err, errlen, "no lab '%s' here (%s: %s); start one with: make lab-up", l->name, path, jerr.text);
		return -1;
	}
	copy_str(l->backend, sizeof(l->backend), json_string_value(json_object_get(st, "backend")));
	copy_str(l->netns, sizeof(l->netns), json_string_value(json_object_get(st, "netns")));
	copy_str(l->harness_addr, sizeof(l->harness_addr), json_string_value(json_object_get(st, "harness_addr")));
	copy_str(l->key, sizeof(l->key), json_string_value(json_object_get(st, "key")));
	copy_str(l->image_dir, sizeof(l->image_dir), json_string_value(json_object_get(st, "image_dir")));
	copy_str(l->prefix, sizeof(l->prefix), json_string_value(json_object_get(st, "prefix")));
	copy_str(l->accel, sizeof(l->accel), json_string_value(json_object_get(st, "accel")));
	copy_str(l->accel_why, sizeof(l->accel_why), json_string_value(json_object_get(st, "accel_why")));
	hosts = json_object_get(st, "hosts");
	l->nhosts = 0;
	json_array_foreach(hosts, i, h) {
		struct lab_host *lh;

		if (i >= LAB_MAX_HOSTS)
			break;
		lh = &l->hosts[l->nhosts++];
		copy_str(lh->name, sizeof(lh->name), json_string_value(json_object_get(h, "name")));
		copy_str(lh->addr, sizeof(lh->addr), json_string_value(json_object_get(h, "addr")));
		copy_str(lh->console, sizeof(lh->console), json_string_value(json_object_get(h, "console")));
		copy_str(lh->monitor, sizeof(lh->monitor), json_string_value(json_object_get(h, "monitor")));
		lh->qemu_pid = (pid_t)json_integer_value(json_object_get(h, "qemu_pid"));
	}
	json_decref(st);
	if (!backend_by_name(l->backend) || l->nhosts != LAB_MAX_HOSTS) {
		snprintf(err, errlen, "lab state %s is damaged; remove it with: make lab-down", l->dir);
		return -1;
	}
	return 0;
}

static bool lab_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 20)
		return false;
	return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") == n;
}

static void lab_init(struct lab *l, const char *state_root, const char *name)
{
	memset(l, 0, sizeof(*l));
	l->netns_fd = -1;
	copy_str(l->name, sizeof(l->name), name && *name ? name : "default");
	snprintf(l->dir, sizeof(l->dir), "%s/%s", state_root && *state_root ? state_root : "build/lab", l->name);
}

int lab_open_netns(struct lab *l)
{
	char path[PATH_MAX];

	if (!l->netns[0] || l->netns_fd >= 0)
		return 0;
	snprintf(path, sizeof(path), "/run/netns/%s", l->netns);
	l->netns_fd = open(path, O_RDONLY | O_CLOEXEC);
	return l->netns_fd < 0 ? -1 : 0;
}

int lab_up(struct lab *l, const struct lab_config *cfg, char *err, size_t errlen)
{
	const struct lab_backend *be = backend_by_name(cfg->backend ? cfg->backend : "qemu");
	char abs[PATH_MAX];

	lab_init(l, cfg->state_root, cfg->name);
	if (!be) {
		snprintf(err, errlen, "unknown lab backend '%s' (qemu or ssh)", cfg->backend);
		return -1;
	}
	if (!lab_name_ok(l->name)) {
		snprintf(err, errlen, "lab name '%s': use up to 20 letters, digits, '-' or '_'", l->name);
		return -1;
	}
	if (mkdir_p(l->dir, 0755) < 0) {
		snprintf(err, errlen, "cannot create %s: %s", l->dir, strerror(errno));
		return -1;
	}
	if (realpath(l->dir, abs))
		copy_str(l->dir, sizeof(l->dir), abs);
	copy_str(l->backend, sizeof(l->backend), be->name);
	if (be->up(l, cfg, err, errlen) < 0) {
		be->down(l);
		return -1;
	}
	if (lab_save_state(l) < 0) {
		snprintf(err, errlen, "cannot write the lab state in %s", l->dir);
		be->down(l);
		return -1;
	}
	return 0;
}

int lab_attach(struct lab *l, const char *state_root, const char *name, char *err, size_t errlen)
{
	char abs[PATH_MAX];

	lab_init(l, state_root, name);
	if (realpath(l->dir, abs))
		copy_str(l->dir, sizeof(l->dir), abs);
	if (load_state(l, err, errlen) < 0)
		return -1;
	if (lab_open_netns(l) < 0) {
		snprintf(err, errlen, "lab '%s': its network namespace %s is gone; run: make lab-down && make lab-up",
			 l->name, l->netns);
		return -1;
	}
	return 0;
}

static void ssh_exit_masters(struct lab *l)
{
	for (int i = 0; i < l->nhosts; i++) {
		char **argv = lab_ssh_argv(l, i, false);
		struct proc_opts o = PROC_OPTS_DEFAULT;
		struct proc_result r;
		size_t n = 0;

		if (!argv)
			continue;
		while (argv[n])
			n++;
		/* ssh -O exit needs the options but not a command: put -O exit before the host. */
		argv = xrealloc(argv, (n + 3) * sizeof(char *));
		argv[n + 2] = NULL;
		argv[n + 1] = argv[n - 1];
		argv[n - 1] = xstrdup("-O");
		argv[n] = xstrdup("exit");
		o.netns_fd = l->netns_fd;
		o.timeout_s = 5;
		if (proc_run(argv, &o, &r) == 0)
			proc_result_free(&r);
		lab_free_argv(argv);
	}
}

void lab_down(struct lab *l)
{
	const struct lab_backend *be = backend_by_name(l->backend);

	lab_open_netns(l);
	ssh_exit_masters(l);
	if (be)
		be->down(l);
	lab_detach(l);
	__do_free char *path = state_path(l);
	unlink(path);
}

void lab_detach(struct lab *l)
{
	close_fd(&l->netns_fd);
}

int lab_enter_netns(struct lab *l)
{
	if (!l->netns[0])
		return 0;
	if (lab_open_netns(l) < 0)
		return -1;
	return setns(l->netns_fd, CLONE_NEWNET);
}

void lab_free_argv(char **argv)
{
	if (!argv)
		return;
	for (size_t i = 0; argv[i]; i++)
		free(argv[i]);
	free(argv);
}

char **lab_ssh_argv(struct lab *l, int host, bool tty)
{
	const char *opts[] = {
		"BatchMode=yes", "StrictHostKeyChecking=no", "UserKnownHostsFile=/dev/null",
		"LogLevel=ERROR", "ControlMaster=auto", "ControlPersist=600", "ConnectTimeout=10",
		"ServerAliveInterval=5", "ServerAliveCountMax=6",
	};
	char **argv;
	size_t n = 0;

	if (host < 0 || host >= l->nhosts)
		return NULL;
	argv = xzalloc((ARRAY_SIZE(opts) * 2 + 10) * sizeof(char *));
	argv[n++] = xstrdup("ssh");
	argv[n++] = xstrdup(tty ? "-t" : "-T");
	if (l->key[0]) {
		argv[n++] = xstrdup("-i");
		argv[n++] = xstrdup(l->key);
	}
	for (size_t i = 0; i < ARRAY_SIZE(opts); i++) {
		argv[n++] = xstrdup("-o");
		argv[n++] = xstrdup(opts[i]);
	}
	/* Short, per lab and per host: unix socket paths are limited to 108 bytes,
	 * and two labs use the same guest addresses in different namespaces. */
	argv[n++] = xstrdup("-o");
	argv[n++] = xasprintf("ControlPath=/run/crmig-lab/%s-%s.ssh", l->name, l->hosts[host].name);
	argv[n++] = xasprintf("root@%s", l->hosts[host].addr);
	mkdir("/run/crmig-lab", 0700);
	return argv;
}

/* ssh ... HOST -- remote_cmd */
static char **ssh_command(struct lab *l, int host, const char *remote_cmd)
{
	char **argv = lab_ssh_argv(l, host, false);
	size_t n = 0;

	if (!argv)
		return NULL;
	while (argv[n])
		n++;
	argv = xrealloc(argv, (n + 3) * sizeof(char *));
	argv[n++] = xstrdup("--");
	argv[n++] = xstrdup(remote_cmd);
	argv[n] = NULL;
	return argv;
}

int lab_sh(struct lab *l, int host, const char *cmdline, double timeout_s, struct proc_result *res)
{
	struct proc_opts o = PROC_OPTS_DEFAULT;
	__do_free char *remote = NULL;
	char **argv;
	int ret;

	/* The remote side enforces the timeout too, so a command never outlives it. */
	if (timeout_s > 0) {
		__do_free char *quoted = shell_quote(cmdline);
		remote = xasprintf("timeout -k 5 %d sh -c %s", (int)timeout_s + 1, quoted);
	} else {
		remote = xstrdup(cmdline);
	}
	argv = ssh_command(l, host, remote);
	if (!argv) {
		memset(res, 0, sizeof(*res));
		res->status = -1;
		res->out = xstrdup("");
		res->err = xasprintf("no host %d in lab %s\n", host, l->name);
		return -1;
	}
	o.netns_fd = l->netns_fd;
	o.timeout_s = timeout_s > 0 ? timeout_s + 15 : 0;
	ret = proc_run(argv, &o, res);
	lab_free_argv(argv);
	return ret;
}

int lab_run(struct lab *l, int host, char *const argv[], double timeout_s, struct proc_result *res)
{
	__do_free char *cmd = argv_join_quoted(argv);

	return lab_sh(l, host, cmd, timeout_s, res);
}

int lab_copy_to(struct lab *l, int host, const char *local, const char *remote, int mode)
{
	__do_close int fd = open(local, O_RDONLY | O_CLOEXEC);
	__do_free char *qr = shell_quote(remote);
	__do_free char *cmd = xasprintf("mkdir -p \"$(dirname %s)\" && cat > %s.part && chmod %o %s.part && mv -f %s.part %s",
					qr, qr, mode, qr, qr, qr);
	char **argv = fd >= 0 ? ssh_command(l, host, cmd) : NULL;
	struct proc_opts o = PROC_OPTS_DEFAULT;
	struct proc_result r;
	int ret;

	if (!argv)
		return -1;
	o.netns_fd = l->netns_fd;
	o.stdin_fd = fd;
	o.timeout_s = 600;
	ret = proc_run(argv, &o, &r);
	lab_free_argv(argv);
	if (ret == 0) {
		ret = r.status == 0 ? 0 : -1;
		if (ret)
			fprintf(stderr, "lab: copy %s to %s:%s failed: %s", local, l->hosts[host].name, remote, r.err);
		proc_result_free(&r);
	}
	return ret;
}

int lab_copy_from(struct lab *l, int host, const char *remote, const char *local)
{
	__do_free char *qr = shell_quote(remote);
	__do_free char *cmd = xasprintf("cat %s", qr);
	__do_free char *tmp = xasprintf("%s.part", local);
	char **argv = ssh_command(l, host, cmd);
	struct proc_opts o = PROC_OPTS_DEFAULT;
	struct proc_result r;
	int ret;

	if (!argv)
		return -1;
	o.netns_fd = l->netns_fd;
	o.stdout_path = tmp;
	o.timeout_s = 600;
	ret = proc_run(argv, &o, &r);
	lab_free_argv(argv);
	if (ret < 0)
		return -1;
	ret = r.status == 0 ? rename(tmp, local) : -1;
	if (r.status != 0) {
		fprintf(stderr, "lab: copy %s:%s failed: %s", l->hosts[host].name, remote, r.err);
		unlink(tmp);
	}
	proc_result_free(&r);
	return ret;
}

int lab_cut_link(struct lab *l, int host, bool cut)
{
	const struct lab_backend *be = backend_by_name(l->backend);

	if (!be || host < 0 || host >= l->nhosts)
		return -1;
	return be->cut_link(l, host, cut);
}

int lab_limit_bw(struct lab *l, int host, const char *rate)
{
	struct proc_result r;
	__do_free char *cmd = NULL;
	int ret;

	if (rate) {
		__do_free char *q = shell_quote(rate);
		cmd = xasprintf("tc qdisc replace dev eth0 root tbf rate %s burst 256kb latency 100ms", q);
	} else {
		cmd = xstrdup("tc qdisc del dev eth0 root 2>/dev/null; true");
	}
	if (lab_sh(l, host, cmd, 30, &r) < 0)
		return -1;
	ret = r.status == 0 ? 0 : -1;
	if (ret)
		fprintf(stderr, "lab: limiting %s's link failed: %s", l->hosts[host].name, r.err);
	proc_result_free(&r);
	return ret;
}

char *lab_console_tail(const struct lab *l, int host, int lines)
{
	__do_free char *all = NULL;
	size_t len;
	char *p;

	if (host < 0 || host >= l->nhosts || !l->hosts[host].console[0])
		return xstrdup("");
	all = read_file(l->hosts[host].console, &len);
	if (!all)
		return xstrdup("");
	p = all + len;
	while (p > all && lines >= 0) {
		p--;
		if (*p == '\n')
			lines--;
	}
	return xstrdup(p == all ? p : p + 1);
}

char *lab_guest_path(const struct lab *l, const char *rel)
{
	return xasprintf("%s/%s", l->prefix[0] ? l->prefix : "/usr", rel);
}

int lab_wait_ssh(struct lab *l, int host, double timeout_s, char *err, size_t errlen)
{
	double deadline = now_ms() + timeout_s * 1000;
	struct proc_result r = { 0 };

	for (;;) {
		if (lab_sh(l, host, "true", 15, &r) == 0 && r.status == 0) {
			proc_result_free(&r);
			return 0;
		}
		if (now_ms() > deadline) {
			snprintf(err, errlen, "host %s (%s) does not answer ssh: %s", l->hosts[host].name,
				 l->hosts[host].addr, r.err ? r.err : "");
			proc_result_free(&r);
			return -1;
		}
		proc_result_free(&r);
		usleep(500 * 1000);
	}
}
