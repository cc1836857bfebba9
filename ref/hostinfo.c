/* The process list of hostinfo.h, read from /proc. */
#include "hostinfo.h"

#include <dirent.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include "ktls.h"
#include "migrate.h"
#include "procfs.h"
#include "util.h"
#include "version.h"

#define PF_KTHREAD 0x00200000u

/* Established TCP sockets of one network namespace, by inode. */
struct netns_socks {
	char ns[64];
	unsigned long *inodes;
	size_t n;
};

struct scan {
	struct netns_socks *nets;
	size_t nnets;
	pid_t self;
};

static void add_established(struct netns_socks *ns, const char *path)
{
	__do_fclose FILE *f = fopen(path, "re");
	char line[512];

	if (!f || !fgets(line, sizeof(line), f)) /* header */
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned st;
		unsigned long ino;

		/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
		if (sscanf(line, "%*s %*s %*s %x %*s %*s %*s %*s %*s %lu", &st, &ino) == 2 && st == 1 && ino) {
			ns->inodes = xrealloc(ns->inodes, (ns->n + 1) * sizeof(*ns->inodes));
			ns->inodes[ns->n++] = ino;
		}
	}
}

static struct netns_socks *netns_of(struct scan *sc, pid_t pid)
{
	char link[64], ns[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/%d/ns/net", pid);
	n = readlink(link, ns, sizeof(ns) - 1);
	if (n <= 0)
		return NULL;
	ns[n] = '\0';
	for (size_t i = 0; i < sc->nnets; i++)
		if (!strcmp(sc->nets[i].ns, ns))
			return &sc->nets[i];
	sc->nets = xrealloc(sc->nets, (sc->nnets + 1) * sizeof(*sc->nets));
	struct netns_socks *s = &sc->nets[sc->nnets++];
	*s = (struct netns_socks){ 0 };
	snprintf(s->ns, sizeof(s->ns), "%s", ns);
	snprintf(link, sizeof(link), "/proc/%d/net/tcp", pid);
	add_established(s, link);
	snprintf(link, sizeof(link), "/proc/%d/net/tcp6", pid);
	add_established(s, link);
	return s;
}

static int count_tcp(struct scan *sc, pid_t pid)
{
	struct netns_socks *ns = netns_of(sc, pid);
	char path[64];
	DIR *d;
	struct dirent *e;
	int count = 0;

	if (!ns || !ns->n)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	while (d && (e = readdir(d))) {
		char link[96], target[64];
		unsigned long ino;
		ssize_t n;

		if (e->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/%s", path, e->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (sscanf(target, "socket:[%lu]", &ino) != 1)
			continue;
		for (size_t i = 0; i < ns->n; i++)
			if (ns->inodes[i] == ino) {
				count++;
				break;
			}
	}
	if (d)
		closedir(d);
	return count;
}

/* lxc 4+ puts a container's processes in lxc.payload.NAME and its monitor
 * in lxc.monitor.NAME; older ones use /lxc/NAME. */
static void container_of(pid_t pid, char *name, size_t len, bool *monitor)
{
	__do_free char *path = xasprintf("/proc/%d/cgroup", pid);
	__do_free char *cg = read_file(path, NULL);
	static const char *const marks[] = { "lxc.payload.", "lxc.monitor.", "/lxc/" };

	name[0] = '\0';
	*monitor = false;
	for (size_t i = 0; cg && i < ARRAY_SIZE(marks); i++) {
		char *p = strstr(cg, marks[i]);
		size_t n;

		if (!p)
			continue;
		p += strlen(marks[i]);
		n = strcspn(p, "/\n");
		if (!n)
			continue;
		snprintf(name, len, "%.*s", (int)n, p);
		*monitor = i == 1;
		return;
	}
}

static char *read_cmdline(pid_t pid)
{
	__do_free char *path = xasprintf("/proc/%d/cmdline", pid);
	size_t len = 0;
	char *s = read_file(path, &len);

	if (!s)
		return xstrdup("");
	if (len > 1024)
		len = 1024;
	s[len] = '\0';
	for (size_t i = 0; i + 1 < len; i++)
		if (s[i] == '\0')
			s[i] = ' ';
	/* JSON wants UTF-8: odd bytes become '?'. */
	for (char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x80)
			*p = '?';
	return s;
}

static bool is_crmig(pid_t pid, const char *comm, pid_t self)
{
	char link[64], exe[256];
	ssize_t n;
	const char *base;

	if (pid == self || !strcmp(comm, "crmig"))
		return true;
	snprintf(link, sizeof(link), "/proc/%d/exe", pid);
	n = readlink(link, exe, sizeof(exe) - 1);
	if (n <= 0)
		return false;
	exe[n] = '\0';
	base = strrchr(exe, '/');
	return !strcmp(base ? base + 1 : exe, "crmig");
}

static json_t *read_one(struct scan *sc, pid_t pid)
{
	__do_free char *path = xasprintf("/proc/%d", pid);
	__do_free char *cmdline = NULL;
	struct proc_stat ps;
	char user[64], container[128];
	struct stat st;
	bool monitor, kthread, container_init;
	const char *why_not = NULL, *note = NULL;
	json_t *o, *target = json_null();

	if (proc_stat_read(pid, &ps) < 0)
		return NULL;
	if (stat(path, &st) == 0) {
		struct passwd pw, *res = NULL;
		char buf[1024];

		if (getpwuid_r(st.st_uid, &pw, buf, sizeof(buf), &res) == 0 && res)
			snprintf(user, sizeof(user), "%s", res->pw_name);
		else
			snprintf(user, sizeof(user), "%u", (unsigned)st.st_uid);
	} else {
		snprintf(user, sizeof(user), "?");
	}
	kthread = (ps.flags & PF_KTHREAD) || pid == 2 || ps.ppid == 2;
	cmdline = kthread ? xstrdup("") : read_cmdline(pid);
	container_of(pid, container, sizeof(container), &monitor);
	/* A container's init: the first of its processes under its monitor. */
	container_init = false;
	if (container[0] && !monitor) {
		bool pmon = false;
		char pcont[128];

		container_of(ps.ppid, pcont, sizeof(pcont), &pmon);
		container_init = strcmp(pcont, container) || pmon;
	}
	if (kthread)
		why_not = "kernel thread";
	else if (pid == 1)
		why_not = "pid 1: this host's init";
	else if (is_crmig(pid, ps.comm, sc->self))
		why_not = "crmig itself";
	else if (!strcmp(ps.comm, "criu"))
		why_not = "criu: part of a migration";
	else if (ps.state == 'Z')
		why_not = "a zombie: nothing left to move";
	else if (monitor)
		why_not = "LXC's monitor: migrate the container (its init) instead";
	else if (container[0] && !container_init)
		why_not = "inside a container: migrate the container (its init) instead";
	if (!why_not) {
		if (container_init)
			target = json_pack("{s:s}", "lxc", container);
		else
			target = json_pack("{s:i}", "pid", pid);
		if (ps.tty && !container_init)
			note = "has a terminal: needs --shell-job";
	}
	o = json_pack("{s:i, s:i, s:s, s:s, s:s, s:s#, s:i, s:I, s:i, s:o, s:b, s:b, s:b, s:b, s:o, s:o}", "pid", pid,
		      "ppid", ps.ppid, "name", ps.comm, "cmdline", cmdline, "user", user, "state", &ps.state, (size_t)1,
		      "threads", (int)ps.threads, "rss_kb", (json_int_t)ps.rss * (sysconf(_SC_PAGESIZE) / 1024), "tcp",
		      kthread ? 0 : count_tcp(sc, pid), "container", container[0] ? json_string(container) : json_null(),
		      "container_init", container_init, "kthread", kthread, "tty", ps.tty != 0, "migratable", !why_not,
		      "why_not", why_not ? json_string(why_not) : json_null(), "target", target);
	if (note)
		json_object_set_new(o, "note", json_string(note));
	return o;
}

json_t *hostinfo_procs(void)
{
	struct scan sc = { .self = getpid() };
	json_t *list = json_array();
	DIR *d = opendir("/proc");
	struct dirent *e;

	while (d && (e = readdir(d))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		json_t *p;

		if (*end || pid <= 0)
			continue;
		p = read_one(&sc, (pid_t)pid);
		if (p)
			json_array_append_new(list, p);
	}
	if (d)
		closedir(d);
	for (size_t i = 0; i < sc.nnets; i++)
		free(sc.nets[i].inodes);
	free(sc.nets);
	return list;
}

static json_t *nest(json_t *procs, json_t *node, int depth)
{
	json_t *copy = json_copy(node), *children = json_array(), *p;
	pid_t pid = (pid_t)json_integer_value(json_object_get(node, "pid"));
	size_t i;

	json_array_foreach(procs, i, p) {
		pid_t cpid = (pid_t)json_integer_value(json_object_get(p, "pid"));

		if (json_integer_value(json_object_get(p, "ppid")) == pid && cpid != pid && depth < 256)
			json_array_append_new(children, nest(procs, p, depth + 1));
	}
	json_object_set_new(copy, "children", children);
	return copy;
}

json_t *hostinfo_nest(json_t *procs, pid_t root)
{
	json_t *p;
	size_t i;

	json_array_foreach(procs, i, p)
		if (json_integer_value(json_object_get(p, "pid")) == root)
			return nest(procs, p, 0);
	return json_pack("{s:i, s:s, s:[]}", "pid", (int)root, "name", "?", "children");
}

json_t *hostinfo_check(const struct criu_info *ci)
{
	struct utsname u;
	json_t *why = json_object();
	const char *os = NULL;
	__do_free char *osr = read_file("/etc/os-release", NULL);
	char distro[128] = "";

	/* PRETTY_NAME="Debian GNU/Linux 13 (trixie)" */
	if (osr && (os = strstr(osr, "PRETTY_NAME=\""))) {
		os += strlen("PRETTY_NAME=\"");
		snprintf(distro, sizeof(distro), "%.*s", (int)strcspn(os, "\"\n"), os);
	}
	json_t *can = json_object();

	for (const struct strategy *const *s = strategies_all; *s; s++) {
		const char *r = strategy_why_not(*s, ci);

		json_object_set_new(can, (*s)->name, json_boolean(!r));
		if (r)
			json_object_set_new(why, (*s)->name, json_string(r));
	}
	char ktls_why[160] = "";
	bool ktls = ktls_available(ktls_why, sizeof(ktls_why));

	json_t *features = criu_features_json(ci);

	/* kernel_tls: page TLS in the kernel (ktls.h), else a relay carries it */
	json_object_set_new(features, "kernel_tls", json_boolean(ktls));
	uname(&u);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:s?, s:o, s:s, s:o, s:o}", "crmig", CRMIG_VERSION,
			 "hostname", u.nodename, "distro", distro, "kernel", u.release, "criu", ci->version, "lxc",
			 lxc_version_string(), "features", features, "kernel_tls_why", ktls ? NULL : ktls_why, "strategies",
			 can, "why_not", ci->why_not, "why_disabled", why, "strategy_needs", strategies_json());
}
