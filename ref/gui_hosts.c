/* crmig gui on real hosts.
 *
 * Data: one thread per host keeps a session with that host's `crmig serve`
 * (mutual TLS: the GUI presents a certificate of the hosts' CA) and asks it
 * "check" once and "tree" every poll_s; the model turns that into a
 * snapshot and then differences.
 *
 * Migrations: `crmig migrate ... --events 3 3>&1 1>&2` runs on the source
 * over ssh as root, its events come back on ssh's stdout; a cancel is a
 * "cancel" line on ssh's stdin, which the remote shell turns into SIGTERM
 * for crmig (see hosts_migrate). With --lab NAME
 * everything comes from the lab's state (build/lab/NAME/state.json): the
 * addresses, the ssh key, the network namespace the hosts live in (our
 * connections are made from inside it), crmig's prefix there; the client
 * identity is host a's, copied into a private temporary directory. */
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "gui.h"
#include "net.h"
#include "proc.h"
#include "proto.h"
#include "tls.h"
#include "util.h"

#define GUI_MAX_HOSTS 8

struct ghost {
	struct gui_hosts *g;
	char name[32];
	char addr[128];
	pthread_t th;
	bool want_check;           /* a preflight asked: reconnect, serve probes criu again (under g->mu) */
};

struct grun {                  /* one migration */
	struct gui_hosts *g;
	char id[16];
	int host;                  /* source index */
	int to;                    /* destination index */
	bool running;              /* until crmig migrate ended (under g->mu) */
	pid_t ssh;
	int out_fd, err_fd;
	int in_fd;                 /* the remote wrapper's stdin: "cancel" lines */
	pthread_t th;
};

struct gui_hosts {
	struct gui_state *st;
	struct ghost hosts[GUI_MAX_HOSTS];
	int n;
	char cert_dir[PATH_MAX];
	char tmp_certs[PATH_MAX];  /* ours to remove */
	char key[PATH_MAX];        /* ssh key, "" for the user's */
	char netns[PATH_MAX];      /* /run/netns/NAME or "" */
	char crmig[PATH_MAX];
	double poll_s;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	struct grun *run;
};

static int enter_netns(struct gui_hosts *g)
{
	int fd, ret;

	if (!g->netns[0])
		return 0;
	fd = open(g->netns, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ret = setns(fd, CLONE_NEWNET); /* this thread (or child) only */
	close(fd);
	return ret;
}

static bool wait_stop(struct gui_hosts *g, double s)
{
	struct timespec ts;
	bool stop;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)s;
	ts.tv_nsec += (long)((s - (time_t)s) * 1e9);
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&g->mu);
	if (!g->stop)
		pthread_cond_timedwait(&g->cv, &g->mu, &ts);
	stop = g->stop;
	pthread_mutex_unlock(&g->mu);
	return stop;
}

static json_t *ask(struct chan *ch, const char *op)
{
	json_t *req = json_pack("{s:s}", "op", op), *reply;

	if (chan_send_json(ch, MSG_REQUEST, req) < 0) {
		json_decref(req);
		return NULL;
	}
	json_decref(req);
	reply = chan_recv_json(ch, MSG_OK);
	return reply;
}

/* While a migration runs between them, its hosts' trees are asked for
 * rarely: a "tree" reads all of /proc on the host, and on a slow one (a
 * 1-CPU TCG guest) that every 2 s stretched criu's dump of 16 MB from ~4 s
 * to 16 s. The session stays alive; once crmig migrate ends, full rate. */
#define GUI_BUSY_POLL_S 15.0

static bool busy(struct ghost *h)
{
	struct gui_hosts *g = h->g;
	int i = (int)(h - g->hosts);
	bool b;

	pthread_mutex_lock(&g->mu);
	b = g->run && g->run->running && (g->run->host == i || g->run->to == i);
	pthread_mutex_unlock(&g->mu);
	return b;
}

/* A preflight wants this host's `crmig check` again: serve probes criu
 * when a session starts, so a new session is a fresh check (its answer is
 * the first thing a session asks). */
static bool preflight_due(struct ghost *h)
{
	bool due;

	pthread_mutex_lock(&h->g->mu);
	due = h->want_check;
	h->want_check = false;
	pthread_mutex_unlock(&h->g->mu);
	return due;
}

/* One session; returns when it broke (err says why), a preflight wants a
 * new one (err stays empty) or we stop. */
static void poll_session(struct ghost *h, struct tls_ctx *tls, char *err, size_t errlen)
{
	struct gui_hosts *g = h->g;
	char host[256];
	int port;
	__do_close int fd = -1;
	gnutls_session_t s = NULL;
	struct chan *ch = xzalloc(sizeof(*ch));
	json_t *hello, *reply;

	if (net_split_hostport(h->addr, host, sizeof(host), &port, CRMIG_DEFAULT_PORT) < 0) {
		snprintf(err, errlen, "address %s: want HOST[:PORT]", h->addr);
		goto out;
	}
	fd = net_connect(host, port, 10, err, errlen);
	if (fd < 0)
		goto out;
	net_stream_opts(fd, 30);
	s = tls_connect(tls, fd, host, err, errlen);
	if (!s)
		goto out;
	chan_init_tls(ch, s);
	hello = json_pack("{s:i, s:s, s:s}", "version", PROTO_VERSION, "role", "gui", "crmig", CRMIG_VERSION);
	chan_send_json(ch, MSG_HELLO, hello);
	json_decref(hello);
	hello = chan_recv_json(ch, MSG_HELLO);
	if (!hello) {
		snprintf(err, errlen, "hello: %s", ch->err);
		goto out;
	}
	json_decref(hello);
	reply = ask(ch, "check");
	if (!reply) {
		snprintf(err, errlen, "check: %s (is crmig serve there as new as this crmig?)", ch->err);
		goto out;
	}
	gui_host_update(g->st, h->name, h->addr, json_incref(json_object_get(reply, "check")), NULL);
	json_decref(reply);
	while (!wait_stop(g, 0)) {
		reply = ask(ch, "tree");
		if (!reply) {
			snprintf(err, errlen, "tree: %s", ch->err);
			goto out;
		}
		gui_tree_update(g->st, h->name, json_incref(json_object_get(reply, "procs") ?: json_array()));
		json_decref(reply);
		if (wait_stop(g, busy(h) ? GUI_BUSY_POLL_S : g->poll_s) || preflight_due(h))
			break;
	}
	chan_send(ch, MSG_BYE, NULL, 0);
out:
	if (s)
		tls_close(s);
	free(ch);
}

static void *poll_host(void *arg)
{
	struct ghost *h = arg;
	struct gui_hosts *g = h->g;
	char store[3 * PATH_MAX], err[1024];
	struct tls_paths tp;
	struct tls_ctx *tls;

	if (enter_netns(g) < 0) {
		gui_host_update(g->st, h->name, h->addr, NULL, "cannot enter the lab's network namespace (is the lab up?)");
		return NULL;
	}
	tls_paths_from_dir(&tp, g->cert_dir, store, sizeof(store));
	tls = tls_ctx_new(&tp, err, sizeof(err));
	if (!tls) {
		char msg[1200];

		snprintf(msg, sizeof(msg), "TLS: %s (give the GUI a certificate of the hosts' CA: --certs DIR)", err);
		gui_host_update(g->st, h->name, h->addr, NULL, msg);
		return NULL;
	}
	while (!wait_stop(g, 0)) {
		err[0] = '\0';
		poll_session(h, tls, err, sizeof(err));
		if (wait_stop(g, 0))
			break;
		if (!err[0])
			continue;  /* a preflight: connect again at once */
		gui_host_update(g->st, h->name, h->addr, NULL, err[0] ? err : "session ended");
		if (wait_stop(g, 5))
			break;
	}
	tls_ctx_free(tls);
	return NULL;
}

/* ---- ssh ----------------------------------------------------------------- */

static char **ssh_argv(struct gui_hosts *g, int host, const char *cmd)
{
	char **v = xzalloc(24 * sizeof(char *));
	int n = 0;
	char host_only[256];
	int port;

	v[n++] = xstrdup("ssh");
	v[n++] = xstrdup("-T");
	if (g->key[0]) {
		v[n++] = xstrdup("-i");
		v[n++] = xstrdup(g->key);
		v[n++] = xstrdup("-o");
		v[n++] = xstrdup("StrictHostKeyChecking=no");
		v[n++] = xstrdup("-o");
		v[n++] = xstrdup("UserKnownHostsFile=/dev/null");
	}
	v[n++] = xstrdup("-o");
	v[n++] = xstrdup("BatchMode=yes");
	v[n++] = xstrdup("-o");
	v[n++] = xstrdup("LogLevel=ERROR");
	v[n++] = xstrdup("-o");
	v[n++] = xstrdup("ConnectTimeout=10");
	net_split_hostport(g->hosts[host].addr, host_only, sizeof(host_only), &port, CRMIG_DEFAULT_PORT);
	v[n++] = xasprintf("root@%s", host_only);
	v[n++] = xstrdup(cmd);
	return v;
}

static void free_argv(char **v)
{
	for (int i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* in: NULL for /dev/null, else the write end of a pipe to its stdin. */
static pid_t spawn(struct gui_hosts *g, char **argv, int *out, int *errfd, int *in)
{
	int po[2], pe[2], pi[2] = { -1, -1 };
	pid_t pid;

	if (in && pipe2(pi, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(po, O_CLOEXEC) < 0) {
		close_fd(&pi[0]);
		close_fd(&pi[1]);
		return -1;
	}
	if (pipe2(pe, O_CLOEXEC) < 0) {
		close(po[0]);
		close(po[1]);
		close_fd(&pi[0]);
		close_fd(&pi[1]);
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		dup2(in ? pi[0] : null, 0);
		dup2(po[1], 1);
		dup2(pe[1], 2);
		setsid();
		if (enter_netns(g) < 0)
			_exit(126);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	close_fd(&pi[0]);
	if (pid < 0) {
		close(po[0]);
		close(pe[0]);
		close_fd(&pi[1]);
		return -1;
	}
	*out = po[0];
	*errfd = pe[0];
	if (in)
		*in = pi[1];
	return pid;
}

static int host_index(struct gui_hosts *g, const char *name)
{
	for (int i = 0; i < g->n; i++)
		if (!strcmp(g->hosts[i].name, name))
			return i;
	return -1;
}

/* Reads the events (stdout) and crmig's own words (stderr) until both end. */
static void *watch_run(void *arg)
{
	struct grun *r = arg;
	struct gui_state *st = r->g->st;
	FILE *out = fdopen(r->out_fd, "r");
	char *line = NULL, tail[2048] = "";
	size_t cap = 0;
	bool result = false;
	int status;

	while (out && getline(&line, &cap, out) >= 0) {
		json_t *ev = json_loads(line, JSON_REJECT_DUPLICATES, NULL);

		if (!json_is_object(ev) || !json_str(ev, "event")) {
			json_decref(ev);
			continue;
		}
		result |= !strcmp(json_str(ev, "event"), "result");
		gui_mig_event(st, r->id, ev);
	}
	free(line);
	if (out)
		fclose(out);
	{
		ssize_t n = read(r->err_fd, tail, sizeof(tail) - 1);

		tail[n > 0 ? n : 0] = '\0';
		close(r->err_fd);
	}
	waitpid(r->ssh, &status, 0);
	pthread_mutex_lock(&r->g->mu);
	close_fd(&r->in_fd);
	r->running = false;
	pthread_cond_broadcast(&r->g->cv); /* the hosts' trees: at full rate again */
	pthread_mutex_unlock(&r->g->mu);
	if (!result) {
		char msg[2300];

		snprintf(msg, sizeof(msg), "crmig migrate ended without a report (exit %d)%s%s",
			 WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), tail[0] ? ": " : "", tail);
		gui_mig_fail(st, r->id, msg);
	}
	return NULL;
}

static int hosts_migrate(void *ctx, json_t *req, const char *id, char *err, size_t errlen, int *status)
{
	struct gui_hosts *g = ctx;
	int from = host_index(g, json_str(req, "from")), to = host_index(g, json_str(req, "to"));
	json_t *t = json_object_get(req, "target"), *o = json_object_get(req, "options");
	__do_free char *cmd = NULL, *what = NULL, *q_to = NULL, *q_ip = NULL, *q_crmig = NULL, *keep = NULL;
	char **argv;
	struct grun *r;
	char to_host[256];
	int port;

	if (from < 0 || to < 0) {
		*status = 404;
		snprintf(err, errlen, "unknown host");
		return -1;
	}
	if (json_is_integer(json_object_get(t, "pid")))
		what = xasprintf("--pid %lld", (long long)json_integer_value(json_object_get(t, "pid")));
	else {
		__do_free char *q = shell_quote(json_str(t, "lxc"));

		what = xasprintf("--lxc %s --rootfs %s", q, !strcmp(json_str(o, "rootfs") ?: "", "shared") ? "shared"
											     : "sync");
	}
	net_split_hostport(g->hosts[to].addr, to_host, sizeof(to_host), &port, CRMIG_DEFAULT_PORT);
	q_to = shell_quote(g->hosts[to].addr);
	q_ip = shell_quote(json_str(o, "move_ip") ?: "");
	q_crmig = shell_quote(g->crmig);
	/* a bundle's name is unique across GUI sessions (their ids start at m1 again) */
	keep = xasprintf("/var/lib/crmig/gui-%ld-%s", (long)time(NULL), id);
	/* The remote shell runs crmig in the background and turns a "cancel"
	 * line on its stdin (our pipe) into SIGTERM for crmig alone: a cancel
	 * costs no new ssh connection (seconds on a slow host), and criu, in
	 * crmig's process group, never gets the signal. */
	/* (a background list reads /dev/null unless told otherwise: hence 4) */
	cmd = xasprintf("exec 4<&0; %s migrate --strategy %s %s --to %s --page-tls %s%s%s%s%s --events 3 3>&1 1>&2 "
			"</dev/null 4<&- & p=$!; (while read -r l; do [ \"$l\" = cancel ] && kill -TERM $p; done) <&4 & r=$!; "
			"wait $p; s=$?; kill $r 2>/dev/null; exit $s", q_crmig,
			json_str(req, "strategy"), what, q_to, json_bool(o, "page_tls", true) ? "on" : "off",
			json_bool(o, "keep_images", false) ? " --keep-images " : "",
			json_bool(o, "keep_images", false) ? keep : "", *(json_str(o, "move_ip") ?: "") ? " --move-ip " : "",
			*(json_str(o, "move_ip") ?: "") ? q_ip : "");
	argv = ssh_argv(g, from, cmd);
	r = xzalloc(sizeof(*r));
	r->g = g;
	r->host = from;
	r->to = to;
	r->running = true;
	snprintf(r->id, sizeof(r->id), "%s", id);
	r->ssh = spawn(g, argv, &r->out_fd, &r->err_fd, &r->in_fd);
	free_argv(argv);
	if (r->ssh < 0) {
		free(r);
		*status = 500;
		snprintf(err, errlen, "cannot run ssh: %s", strerror(errno));
		return -1;
	}
	{
		/* the log says what runs, not the wrapper around it */
		const char *run = strncmp(cmd, "exec 4<&0; ", 11) ? cmd : cmd + 11;
		const char *end = strstr(run, " --events");
		__do_free char *msg = xasprintf("on %s: %.*s", g->hosts[from].name,
						(int)(end ? end - run : (long)strlen(run)), run);

		gui_mig_event(g->st, id, json_pack("{s:s, s:f, s:s}", "event", "log", "t_ms", 0.0, "msg", msg));
	}
	pthread_mutex_lock(&g->mu);
	if (g->run) {
		pthread_join(g->run->th, NULL);
		free(g->run);
	}
	g->run = r;
	pthread_create(&r->th, NULL, watch_run, r);
	pthread_mutex_unlock(&g->mu);
	return 0;
}

static int hosts_cancel(void *ctx, const char *id, char *err, size_t errlen)
{
	struct gui_hosts *g = ctx;
	json_t *snap = gui_snapshot(g->st), *m;
	int64_t pid = 0;
	size_t i;
	int ret = -1;

	json_array_foreach(json_object_get(snap, "migrations"), i, m)
		if (!strcmp(json_str(m, "id") ?: "", id))
			pid = json_integer_value(json_object_get(m, "crmig_pid"));
	json_decref(snap);
	/* before its start event crmig may not catch the signal yet */
	if (pid <= 1) {
		snprintf(err, errlen, "crmig migrate has not started yet: try again in a moment");
		return -1;
	}
	pthread_mutex_lock(&g->mu);
	if (!g->run || strcmp(g->run->id, id) || g->run->in_fd < 0)
		snprintf(err, errlen, "it is not running here any more");
	else if (write_full(g->run->in_fd, "cancel\n", 7) < 0)
		snprintf(err, errlen, "the ssh session to the source is gone: %s", strerror(errno));
	else
		ret = 0;
	pthread_mutex_unlock(&g->mu);
	return ret;
}

static int hosts_preflight(void *ctx, const char *name, char *err, size_t errlen)
{
	struct gui_hosts *g = ctx;
	int i = host_index(g, name);

	if (i < 0) {
		snprintf(err, errlen, "unknown host");
		return -1;
	}
	pthread_mutex_lock(&g->mu);
	g->hosts[i].want_check = true;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
	return 0;
}

/* ---- setting up ---------------------------------------------------------- */

static int parse_hosts(struct gui_hosts *g, const char *spec, char *err, size_t errlen)
{
	__do_free char *copy = xstrdup(spec);
	char *save = NULL;

	for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '=');

		if (!eq || eq == item || !eq[1] || g->n >= GUI_MAX_HOSTS || strlen(item) >= 100) {
			snprintf(err, errlen, "--hosts %s: want NAME=ADDR[:PORT],NAME=ADDR... (at most %d)", spec, GUI_MAX_HOSTS);
			return -1;
		}
		*eq = '\0';
		snprintf(g->hosts[g->n].name, sizeof(g->hosts[0].name), "%s", item);
		snprintf(g->hosts[g->n].addr, sizeof(g->hosts[0].addr), "%s", eq + 1);
		g->n++;
	}
	if (g->n < 2) {
		snprintf(err, errlen, "--hosts: name at least two hosts, e.g. a=10.0.0.11,b=10.0.0.12");
		return -1;
	}
	return 0;
}

/* The lab's host a has a certificate of the lab's CA: it is ours for now.
 * One ssh call for the three files (a new connection costs seconds on a
 * slow guest): PEM text, separated by a line PEM never has. */
static int fetch_lab_identity(struct gui_hosts *g, char *err, size_t errlen)
{
	static const char *const files[] = { "ca.crt", "host.crt", "host.key" };
	static const char sep[] = "\n@@crmig-gui@@\n";
	char tmpl[] = "/tmp/crmig-gui-certs-XXXXXX";
	char **argv = ssh_argv(g, 0, "cat /etc/crmig/ca.crt && echo && echo @@crmig-gui@@ && cat /etc/crmig/host.crt "
				    "&& echo && echo @@crmig-gui@@ && cat /etc/crmig/host.key");
	int out, errfd, status;
	pid_t p = spawn(g, argv, &out, &errfd, NULL);
	char *text = NULL, *at;
	size_t len = 0;
	char buf[8192];
	ssize_t n;

	free_argv(argv);
	if (p < 0) {
		snprintf(err, errlen, "cannot run ssh: %s", strerror(errno));
		return -1;
	}
	while ((n = read(out, buf, sizeof(buf))) > 0 && len < (1 << 20)) {
		text = xrealloc(text, len + (size_t)n + 1);
		memcpy(text + len, buf, (size_t)n);
		len += (size_t)n;
		text[len] = '\0';
	}
	close(out);
	close(errfd);
	waitpid(p, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) || !text) {
		free(text);
		snprintf(err, errlen, "cannot read /etc/crmig/{ca.crt,host.crt,host.key} on host %s over ssh (is the lab up? "
			 "make lab-up LAB=...)", g->hosts[0].name);
		return -1;
	}
	if (!mkdtemp(tmpl)) {
		free(text);
		snprintf(err, errlen, "mkdtemp: %s", strerror(errno));
		return -1;
	}
	snprintf(g->tmp_certs, sizeof(g->tmp_certs), "%s", tmpl);
	snprintf(g->cert_dir, sizeof(g->cert_dir), "%s", tmpl);
	at = text;
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		char *end = i + 1 < ARRAY_SIZE(files) ? strstr(at, sep) : at + strlen(at);
		__do_free char *path = xasprintf("%s/%s", tmpl, files[i]);

		if (!end || write_file(path, at, (size_t)(end - at), 0600) < 0) {
			free(text);
			snprintf(err, errlen, "host %s sent no usable certificates", g->hosts[0].name);
			return -1;
		}
		at = end + (i + 1 < ARRAY_SIZE(files) ? strlen(sep) : 0);
	}
	free(text);
	return 0;
}

static int load_lab(struct gui_hosts *g, const char *root, const char *name, char *err, size_t errlen)
{
	__do_free char *path = xasprintf("%s/%s/state.json", root ? root : "build/lab", name);
	json_error_t jerr;
	json_t *st = json_load_file(path, 0, &jerr), *h;
	size_t i;

	if (!st) {
		snprintf(err, errlen, "--lab %s: no lab state at %s (%s): boot it with make lab-up LAB=%s", name, path,
			 jerr.text, name);
		return -1;
	}
	json_array_foreach(json_object_get(st, "hosts"), i, h) {
		if (g->n >= GUI_MAX_HOSTS || !json_str(h, "name") || !json_str(h, "addr"))
			continue;
		snprintf(g->hosts[g->n].name, sizeof(g->hosts[0].name), "%s", json_str(h, "name"));
		snprintf(g->hosts[g->n].addr, sizeof(g->hosts[0].addr), "%s", json_str(h, "addr"));
		g->n++;
	}
	snprintf(g->key, sizeof(g->key), "%s", json_str(st, "key") ?: "");
	if (json_str(st, "netns") && *json_str(st, "netns"))
		snprintf(g->netns, sizeof(g->netns), "/run/netns/%s", json_str(st, "netns"));
	if (!g->crmig[0])
		snprintf(g->crmig, sizeof(g->crmig), "%s/bin/crmig", json_str(st, "prefix") ?: "/usr");
	json_decref(st);
	if (g->n < 2) {
		snprintf(err, errlen, "--lab %s: the state in %s names fewer than two hosts", name, path);
		return -1;
	}
	return 0;
}

struct gui_hosts *gui_hosts_start(struct gui_state *st, const struct gui_hosts_opts *o, char *err, size_t errlen)
{
	struct gui_hosts *g = xzalloc(sizeof(*g));

	g->st = st;
	g->poll_s = o->poll_s > 0 ? o->poll_s : 2;
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->cv, NULL);
	if (o->crmig)
		snprintf(g->crmig, sizeof(g->crmig), "%s", o->crmig);
	if (o->lab ? load_lab(g, o->lab_root, o->lab, err, errlen) < 0 : parse_hosts(g, o->hosts, err, errlen) < 0)
		goto fail;
	if (!g->crmig[0])
		snprintf(g->crmig, sizeof(g->crmig), "crmig");
	if (o->cert_dir)
		snprintf(g->cert_dir, sizeof(g->cert_dir), "%s", o->cert_dir);
	else if (o->lab) {
		if (fetch_lab_identity(g, err, errlen) < 0)
			goto fail;
	} else
		snprintf(g->cert_dir, sizeof(g->cert_dir), "%s", getenv("CRMIG_CERT_DIR") ?: CRMIG_CERT_DIR);
	for (int i = 0; i < g->n; i++) {
		g->hosts[i].g = g;
		gui_host_update(st, g->hosts[i].name, g->hosts[i].addr, NULL, "connecting");
	}
	st->backend = (struct gui_backend){ .migrate = hosts_migrate, .cancel = hosts_cancel,
					    .preflight = hosts_preflight, .ctx = g };
	for (int i = 0; i < g->n; i++)
		pthread_create(&g->hosts[i].th, NULL, poll_host, &g->hosts[i]);
	return g;
fail:
	if (g->tmp_certs[0])
		remove_tree(g->tmp_certs);
	pthread_cond_destroy(&g->cv);
	pthread_mutex_destroy(&g->mu);
	free(g);
	return NULL;
}

void gui_hosts_stop(struct gui_hosts *g)
{
	if (!g)
		return;
	pthread_mutex_lock(&g->mu);
	g->stop = true;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
	for (int i = 0; i < g->n; i++)
		pthread_join(g->hosts[i].th, NULL);
	if (g->run) {
		kill(g->run->ssh, SIGTERM);
		pthread_join(g->run->th, NULL);
		free(g->run);
	}
	if (g->tmp_certs[0])
		remove_tree(g->tmp_certs);
	pthread_cond_destroy(&g->cv);
	pthread_mutex_destroy(&g->mu);
	free(g);
}
