/* fake-criu: a stand-in for the criu binary, so that crmig migrate and crmig
 * serve can run end to end on a host whose kernel cannot run criu
 * (testsuite/unit/test_e2e.c; crmig --criu PATH or $CRMIG_CRIU).
 *
 * It follows the argv crmig builds and behaves like criu where crmig can
 * tell: exit statuses, the log given by -o (relative to -D, "Error" lines on
 * failure), the action script and its CRTOOLS_SCRIPT_ACTION, image files in
 * -D, a stats-dump in criu's format, the process it dumps (stopped while
 * "frozen", killed after a successful dump, resumed otherwise), a detached
 * "restored" process, the pid file. It refuses options it does not know and
 * descriptors it should not have inherited.
 *
 * Pages cross fd 3 (--ps-socket 3) in a format of its own, shared by its
 * dump, page-server and lazy-pages: a 24-byte header {u32 cmd, u32 nr_pages,
 * u64 vaddr, u64 id} in host order; ADD is followed by nr_pages pages of
 * 4 KiB whose contents are a function of (vaddr, id), so that any damage on
 * the way is caught; GET asks for pages (lazy); CLOSE is answered with a u32
 * 0. Real criu speaks page_server_iov: this is not it.
 *
 * Environment: FAKE_CRIU_NO_FEATURES=a,b makes `check --feature a` fail;
 * FAKE_CRIU_TRACE=FILE appends each argv (fields separated by \x1f) to FILE;
 * FAKE_CRIU_FAIL=serving makes a lazy dump fail after the first page it
 * served (the tasks resumed, as criu does); FAKE_CRIU_FAIL=disk-full makes
 * a page server fail on its first pages, as criu does when the disk is full;
 * FAKE_CRIU_FAIL=after-close makes a lazy dump die (SIGKILL) when the
 * lazy-pages daemon closes the stream, every page served, and that daemon
 * end without waiting for the answer (criu killed after the last page);
 * FAKE_CRIU_VERSION=V is what --version says (default 4.1.1);
 * FAKE_CRIU_FAIL=stray-pagemap makes a dump to a page server leave a
 * pagemap in -D too, as a directory left over from another migration would;
 * FAKE_CRIU_LAZY_MS=N makes the lazy-pages daemon wait 10 N ms before its
 * first request and N ms after each chunk (a lazy window long enough to
 * inject faults into).

 */

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "stats.pb-c.h"
#include "util.h"

#define PAGE 4096
#define VADDR 0x7f0000000000ull
#define PAGES_FULL 300     /* a dump without a parent */
#define PAGES_DIRTY 20     /* what is left dirty after a previous round */
#define CHUNK 16

enum { PS_ADD = 1, PS_GET = 7, PS_CLOSE = 0x1024 };

struct ps_hdr {
	uint32_t cmd;
	uint32_t nr_pages;
	uint64_t vaddr;
	uint64_t id;
};

struct opts {
	const char *action, *dir, *log, *prev, *pidfile, *script, *feature;
	pid_t pid;
	int ps_socket;
	bool track_mem, page_server, lazy, detached, tls;
};

static struct opts o = { .ps_socket = -1 };
static FILE *logf_;
static double t0;

/* ---- the log ------------------------------------------------------------------ */

static void logv(const char *kind, int line, const char *fmt, va_list ap)
{
	FILE *f = logf_ ? logf_ : stderr;

	fprintf(f, "(%09.6f) ", (now_ms() - t0) / 1000);
	if (kind)
		fprintf(f, "%s (fake-criu.c:%d): ", kind, line);
	vfprintf(f, fmt, ap);
	fputc('\n', f);
	fflush(f);
}

static void info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	logv(NULL, 0, fmt, ap);
	va_end(ap);
}

static void error_at(int line, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void error_at(int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	logv("Error", line, fmt, ap);
	va_end(ap);
}
#define error(...) error_at(__LINE__, __VA_ARGS__)

static char *in_dir(const char *name)
{
	return xasprintf("%s/%s", o.dir, name);
}

/* ---- arguments ------------------------------------------------------------------ */

static void trace_argv(int argc, char **argv)
{
	const char *path = getenv("FAKE_CRIU_TRACE");
	__do_free char *line = xstrdup("");
	int fd;

	if (!path || !*path)
		return;
	for (int i = 0; i < argc; i++) {
		char *n = xasprintf("%s%s%s", line, i ? "\x1f" : "", argv[i]);
		free(line);
		line = n;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd >= 0) {
		char *n = xasprintf("%s\n", line);
		write_full(fd, n, strlen(n));
		free(n);
		close(fd);
	}
}

static int parse(int argc, char **argv)
{
	static const char *const with_arg[] = { "-D", "-o", "-t", "--prev-images-dir", "--ps-socket", "--pidfile",
						"--action-script", "--feature", "--tls-cacert", "--tls-cert", "--tls-key" };
	static const char *const flags[] = { "--track-mem", "--page-server", "--lazy-pages", "--tcp-established",
					     "--file-locks", "--shell-job", "--restore-detached", "-d", "--tls",
					     "--version" };

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = NULL;
		bool known = false;

		if (a[0] != '-') {
			if (o.action) {
				error("unexpected argument '%s'", a);
				return -1;
			}
			o.action = a;
			continue;
		}
		if (!strncmp(a, "-v", 2) && strspn(a + 2, "0123456789") == strlen(a + 2))
			continue;
		for (size_t k = 0; k < ARRAY_SIZE(with_arg); k++) {
			if (strcmp(a, with_arg[k]))
				continue;
			if (i + 1 >= argc) {
				error("option '%s' requires an argument", a);
				return -1;
			}
			v = argv[++i];
			known = true;
		}
		for (size_t k = 0; k < ARRAY_SIZE(flags); k++)
			known |= !strcmp(a, flags[k]);
		if (!known) {
			error("unknown option '%s'", a);
			return -1;
		}
		if (!strcmp(a, "-D")) o.dir = v;
		else if (!strcmp(a, "-o")) o.log = v;
		else if (!strcmp(a, "-t")) o.pid = atoi(v);
		else if (!strcmp(a, "--prev-images-dir")) o.prev = v;
		else if (!strcmp(a, "--ps-socket")) o.ps_socket = atoi(v);
		else if (!strcmp(a, "--pidfile")) o.pidfile = v;
		else if (!strcmp(a, "--action-script")) o.script = v;
		else if (!strcmp(a, "--feature")) o.feature = v;
		else if (!strcmp(a, "--track-mem")) o.track_mem = true;
		else if (!strcmp(a, "--page-server")) o.page_server = true;
		else if (!strcmp(a, "--lazy-pages")) o.lazy = true;
		else if (!strcmp(a, "--restore-detached") || !strcmp(a, "-d")) o.detached = true;
		else if (!strcmp(a, "--tls")) o.tls = true;
		else if (!strcmp(a, "--version")) o.action = "--version";
	}
	return 0;
}

/* Only 0-2 and, with --ps-socket, the page stream: crmig promises criu
 * nothing else (a stray descriptor would be dumped with the workload). */
static int check_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int bad = 0;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);
		char link[64], target[PATH_MAX] = "";
		ssize_t n;

		if (e->d_name[0] == '.' || fd == dirfd(d) || fd <= 2 || (fd == 3 && o.ps_socket == 3))
			continue;
		if (logf_ && fd == fileno(logf_))
			continue;
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		n = readlink(link, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = '\0';
		error("inherited descriptor %d (%s)", fd, target);
		bad = -1;
	}
	closedir(d);
	if (o.ps_socket >= 0) {
		struct stat st;

		if (o.ps_socket != 3 || fstat(3, &st) < 0 || !S_ISSOCK(st.st_mode)) {
			error("--ps-socket %d is not a socket on fd 3", o.ps_socket);
			bad = -1;
		}
	}
	return bad;
}

/* ---- hooks, pages, images --------------------------------------------------------- */

/* As criu: execve of the script itself, no arguments, the action in the env. */
static int run_script(const char *action)
{
	pid_t pid;
	int st;

	if (!o.script)
		return 0;
	info("Running %s scripts", action);
	pid = fork();
	if (pid == 0) {
		char *argv[] = { (char *)o.script, NULL };

		setenv("CRTOOLS_SCRIPT_ACTION", action, 1);
		if (o.dir)
			setenv("CRTOOLS_IMAGE_DIR", o.dir, 1);
		execv(o.script, argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return -1;
	st = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	if (st)
		info("%s script exited with %d", action, st);
	return st;
}

static void fill_page(unsigned char *p, uint64_t vaddr, uint64_t id)
{
	for (size_t i = 0; i < PAGE / 8; i++) {
		uint64_t w = vaddr ^ (id << 40) ^ (i * 0x9e3779b97f4a7c15ull);

		memcpy(p + i * 8, &w, 8);
	}
}

/* Header and pages in one write: no small segment waits for an ACK. */
static int send_pages(int fd, uint64_t vaddr, uint32_t nr, uint64_t id)
{
	struct ps_hdr h = { .cmd = PS_ADD, .nr_pages = nr, .vaddr = vaddr, .id = id };
	__do_free unsigned char *buf = xmalloc(sizeof(h) + (size_t)nr * PAGE);

	memcpy(buf, &h, sizeof(h));
	for (uint32_t i = 0; i < nr; i++)
		fill_page(buf + sizeof(h) + (size_t)i * PAGE, vaddr + (uint64_t)i * PAGE, id);
	return write_full(fd, buf, sizeof(h) + (size_t)nr * PAGE);
}

/* Receives the pages announced by h into out (may be -1), checking each.
 * Like real criu, the page server stores a damaged page as it came (its log
 * says so here; real criu cannot tell): only crmig's stream check can stop
 * it. The lazy-pages daemon refuses one (strict), standing in for the
 * restored workload that would find it. */
static int recv_pages(int fd, const struct ps_hdr *h, int out, bool strict)
{
	unsigned char page[PAGE], want[PAGE];

	for (uint32_t i = 0; i < h->nr_pages; i++) {
		uint64_t va = h->vaddr + (uint64_t)i * PAGE;

		if (read_full(fd, page, PAGE) < 0) {
			error("page stream: %s", strerror(errno));
			return -1;
		}
		fill_page(want, va, h->id);
		if (memcmp(page, want, PAGE) && strict) {
			error("page 0x%llx arrived damaged", (unsigned long long)va);
			return -1;
		}
		if (memcmp(page, want, PAGE))
			info("page 0x%llx differs from what the fake's source sends (stored as it came)",
			     (unsigned long long)va);
		if (out >= 0 && write_full(out, page, PAGE) < 0)
			return -1;
	}
	return 0;
}

static int send_close(int fd)
{
	struct ps_hdr h = { .cmd = PS_CLOSE };
	uint32_t answer = 1;

	if (write_full(fd, &h, sizeof(h)) < 0 || read_full(fd, &answer, sizeof(answer)) < 0 || answer != 0) {
		error("the page server did not confirm the close: %s", errno ? strerror(errno) : "bad answer");
		return -1;
	}
	return 0;
}

static int write_image(const char *name, const char *text)
{
	__do_free char *path = in_dir(name);

	if (write_file(path, text, strlen(text), 0600) < 0) {
		error("cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int write_stats(uint64_t scanned, uint64_t skipped, uint64_t written, uint64_t lazy)
{
	Crmig__StatsEntry e = CRMIG__STATS_ENTRY__INIT;
	Crmig__DumpStatsEntry d = CRMIG__DUMP_STATS_ENTRY__INIT;
	__do_free char *path = in_dir("stats-dump");
	__do_free unsigned char *buf = NULL;
	uint32_t hdr[3] = { 0x55105940u, 0x57093306u, 0 };
	size_t len;

	d.freezing_time = 1200;
	d.frozen_time = 45000;
	d.memdump_time = 3000;
	d.memwrite_time = 2000;
	d.pages_scanned = scanned;
	d.pages_skipped_parent = skipped;
	d.pages_written = written;
	d.has_pages_lazy = true;
	d.pages_lazy = lazy;
	e.dump = &d;
	len = crmig__stats_entry__get_packed_size(&e);
	buf = xmalloc(sizeof(hdr) + len);
	hdr[2] = (uint32_t)len;
	memcpy(buf, hdr, sizeof(hdr));
	crmig__stats_entry__pack(&e, buf + sizeof(hdr));
	if (write_file(path, buf, sizeof(hdr) + len, 0600) < 0) {
		error("cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* "pages ID VADDR N" from the pagemap-*.img of dir; 0 or -1. */
static int read_pagemap(const char *dir, uint64_t *id, uint64_t *vaddr, uint32_t *nr)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int ret = -1;

	while (d && (e = readdir(d))) {
		__do_free char *path = NULL, *text = NULL;
		unsigned long long i, v;
		unsigned n;

		if (strncmp(e->d_name, "pagemap-", 8))
			continue;
		path = xasprintf("%s/%s", dir, e->d_name);
		text = read_file(path, NULL);
		if (text && sscanf(text, "pages %llu %llx %u", &i, &v, &n) == 3) {
			*id = i;
			*vaddr = v;
			*nr = n;
			ret = 0;
		}
	}
	if (d)
		closedir(d);
	return ret;
}

static int link_parent(void)
{
	__do_free char *link = in_dir("parent");
	__do_free char *target = in_dir(o.prev);
	struct stat st;

	if (stat(target, &st) < 0 || !S_ISDIR(st.st_mode)) {
		error("parent images %s: %s", target, strerror(errno ? errno : ENOTDIR));
		return -1;
	}
	unlink(link);
	if (symlink(o.prev, link) < 0) {
		error("cannot link %s: %s", link, strerror(errno));
		return -1;
	}
	return 0;
}

/* Pages a dump with a parent writes. FAKE_CRIU_DIRTY=N2,N3,... is a workload
 * that dirties that many pages before round 2, 3, ... (-D .../round-K; the
 * last value repeats, and the final dump writes it too): one that never
 * converges. Unset: PAGES_DIRTY, a workload that does. */
static uint32_t dirty_pages(void)
{
	const char *list = getenv("FAKE_CRIU_DIRTY"), *base = strrchr(o.dir ? o.dir : "", '/');
	int round = 0, k = 2;
	uint32_t v = PAGES_DIRTY;

	if (!list || !*list)
		return PAGES_DIRTY;
	if (base && sscanf(base, "/round-%d", &round) != 1)
		round = 0;
	for (const char *p = list; *p; k++) {
		char *end;
		unsigned long n = strtoul(p, &end, 10);

		if (end == p || n > PAGES_FULL)
			break;
		v = (uint32_t)n;
		if (k == round)
			break;
		p = *end == ',' ? end + 1 : end;
	}
	return v;
}

/* ---- the actions -------------------------------------------------------------- */

/* Frozen after pre-dump: resumed on any failure, as criu does. */
static int dump_failed(void)
{
	if (o.pid > 0)
		kill(o.pid, SIGCONT);
	error("Dumping FAILED.");
	return 1;
}

/* Lazy: serve GETs on fd 3 until the destination closes. */
static int serve_lazy(uint64_t id, uint32_t nr)
{
	for (;;) {
		struct ps_hdr h;

		if (read_full(3, &h, sizeof(h)) < 0) {
			error("lazy page stream ended without a close: %s", strerror(errno));
			return -1;
		}
		if (h.cmd == PS_CLOSE) {
			uint32_t zero = 0;

			if (!strcmp(getenv("FAKE_CRIU_FAIL") ?: "", "after-close")) {
				info("every page served; dying before the answer (FAKE_CRIU_FAIL=after-close)");
				raise(SIGKILL);
			}
			info("the lazy-pages daemon closed the stream");
			return write_full(3, &zero, sizeof(zero));
		}
		if (h.cmd != PS_GET || h.id != id || h.vaddr < VADDR || h.nr_pages > CHUNK ||
		    h.vaddr + (uint64_t)h.nr_pages * PAGE > VADDR + (uint64_t)nr * PAGE) {
			error("bad page request: cmd 0x%x id %llu vaddr 0x%llx nr %u", h.cmd, (unsigned long long)h.id,
			      (unsigned long long)h.vaddr, h.nr_pages);
			return -1;
		}
		if (send_pages(3, h.vaddr, h.nr_pages, id) < 0) {
			error("sending lazy pages: %s", strerror(errno));
			return -1;
		}
		if (!strcmp(getenv("FAKE_CRIU_FAIL") ?: "", "serving")) {
			error("giving up while serving pages (FAKE_CRIU_FAIL=serving)");
			return -1;
		}
	}
}

static int do_dump(bool pre)
{
	uint32_t nr = o.prev ? dirty_pages() : PAGES_FULL;
	__do_free char *pstree = NULL, *core = NULL, *map = NULL;

	if (o.pid <= 1 || kill(o.pid, 0) < 0) {
		error("No process %d to dump", o.pid);
		return 1;
	}
	if ((o.page_server && o.ps_socket != 3) || (pre && (o.lazy || !o.track_mem)) || (o.lazy && o.page_server) ||
	    (o.prev && !o.track_mem)) {
		error("unsupported combination of options");
		return 1;
	}
	/* like criu 4.1 (lab): a pre-dump runs no "pre-dump" action script */
	if (!pre && run_script("pre-dump") != 0) {
		error("pre-dump script failed");
		return 1;
	}
	kill(o.pid, SIGSTOP);
	info("Seized and froze task %d", o.pid);
	if (o.prev) {
		/* a lazy dump reads what the parent holds from its page maps */
		__do_free char *pdir = in_dir(o.prev);
		uint64_t id, va;
		uint32_t n;

		if (link_parent() < 0)
			return dump_failed();
		if (o.lazy && read_pagemap(pdir, &id, &va, &n) < 0) {
			error("no page map in the parent images %s", pdir);
			return dump_failed();
		}
	}
	pstree = xasprintf("pid %d\n", o.pid);
	core = xasprintf("core-%d.img", o.pid);
	if (write_image("inventory.img", "fake-criu inventory\n") < 0 || write_image("pstree.img", pstree) < 0 ||
	    write_image(core, "fake-criu core\n") < 0 ||
	    write_stats(PAGES_FULL, PAGES_FULL - nr, o.lazy ? 0 : nr, o.lazy ? nr : 0) < 0)
		return dump_failed();
	if (o.lazy) {
		__do_free char *name = xasprintf("pagemap-%d.img", o.pid);
		__do_free char *text = xasprintf("pages %d %llx %u lazy\n", o.pid, VADDR, nr);

		if (write_image(name, text) < 0)
			return dump_failed();
	}
	if (o.page_server && !strcmp(getenv("FAKE_CRIU_FAIL") ?: "", "stray-pagemap")) {
		/* what an image directory left over from another migration holds */
		__do_free char *name = xasprintf("pagemap-%d.img", o.pid);

		if (write_image(name, "pages 0 0 0 stray\n") < 0)
			return dump_failed();
	}
	if (o.page_server) {
		for (uint32_t i = 0; i < nr; i += CHUNK) {
			uint32_t n = nr - i < CHUNK ? nr - i : CHUNK;

			if (send_pages(3, VADDR + (uint64_t)i * PAGE, n, (uint64_t)o.pid) < 0) {
				error("writing pages to the page server: %s", strerror(errno));
				return dump_failed();
			}
		}
		if (send_close(3) < 0)
			return dump_failed();
		info("%u pages went to the page server", nr);
	}
	if (pre) {
		kill(o.pid, SIGCONT);
		info("Pre-dumping finished successfully");
		return 0;
	}
	if (run_script("post-dump") != 0) {
		info("post-dump script said no: resuming the tasks");
		kill(o.pid, SIGCONT);
		return 1;
	}
	if (o.lazy && (run_script("status-ready") != 0 || serve_lazy((uint64_t)o.pid, nr) < 0))
		return dump_failed();
	kill(o.pid, SIGKILL);
	info("Dumping finished successfully");
	return 0;
}

static int do_page_server(void)
{
	__do_free char *pages = in_dir("pages-1.img");
	__do_close int out = -1;
	uint64_t id = 0, first = 0;
	uint32_t total = 0;

	if (o.ps_socket != 3) {
		error("page-server without --ps-socket 3");
		return 1;
	}
	if (o.prev && link_parent() < 0)
		return 1;
	out = open(pages, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0) {
		error("cannot create %s: %s", pages, strerror(errno));
		return 1;
	}
	for (;;) {
		struct ps_hdr h;

		if (read_full(3, &h, sizeof(h)) < 0) {
			error("page stream ended without a close: %s", strerror(errno));
			return 1;
		}
		if (h.cmd == PS_CLOSE) {
			__do_free char *name = xasprintf("pagemap-%llu.img", (unsigned long long)id);
			__do_free char *text = xasprintf("pages %llu %llx %u\n", (unsigned long long)id,
							 (unsigned long long)first, total);
			uint32_t zero = 0;

			if (total && write_image(name, text) < 0)
				return 1;
			info("%u pages received", total);
			return write_full(3, &zero, sizeof(zero)) < 0 ? 1 : 0;
		}
		if (h.cmd != PS_ADD || h.nr_pages > CHUNK || (total && h.id != id)) {
			error("bad page stream command 0x%x", h.cmd);
			return 1;
		}
		if (!total) {
			id = h.id;
			first = h.vaddr;
		}
		if (!strcmp(getenv("FAKE_CRIU_FAIL") ?: "", "disk-full")) {
			error("Can't write pages: No space left on device (FAKE_CRIU_FAIL=disk-full)");
			return 1;
		}
		if (recv_pages(3, &h, out, false) < 0)
			return 1;
		total += h.nr_pages;
	}
}

static int check_inventory(void);

static int do_lazy_pages(void)
{
	__do_free char *sock = in_dir("lazy-pages.socket");
	__do_free char *pages = in_dir("pages-lazy.img");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	__do_close int lfd = -1, c = -1, out = -1;
	struct pollfd p;
	uint64_t id, vaddr;
	uint32_t nr;
	char line[64];

	if (o.ps_socket != 3 || !o.page_server) {
		error("lazy-pages without --page-server --ps-socket 3");
		return 1;
	}
	if (check_inventory() < 0)
		return 1;
	if (read_pagemap(o.dir, &id, &vaddr, &nr) < 0) {
		error("no lazy page map in %s", o.dir);
		return 1;
	}
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (strlen(sock) >= sizeof(sa.sun_path) || lfd < 0)
		return 1;
	strcpy(sa.sun_path, sock);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 1) < 0) {
		error("cannot listen on %s: %s", sock, strerror(errno));
		return 1;
	}
	/* the restore connects when its tasks exist */
	p = (struct pollfd){ .fd = lfd, .events = POLLIN };
	if (poll(&p, 1, 60000) <= 0 || (c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0) {
		error("no restore connected to %s", sock);
		return 1;
	}
	if (read(c, line, sizeof(line)) <= 0) {
		error("the restore hung up");
		return 1;
	}
	out = open(pages, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0)
		return 1;
	/* a lazy window that outlasts the restore's answer, however slow the
	 * machine: 10 chunks' worth before the first request */
	if (getenv("FAKE_CRIU_LAZY_MS"))
		usleep((useconds_t)atoi(getenv("FAKE_CRIU_LAZY_MS")) * 10000);
	for (uint32_t i = 0; i < nr; i += CHUNK) {

		struct ps_hdr want = { .cmd = PS_GET, .nr_pages = nr - i < CHUNK ? nr - i : CHUNK,
				       .vaddr = vaddr + (uint64_t)i * PAGE, .id = id };
		struct ps_hdr h;

		if (write_full(3, &want, sizeof(want)) < 0 || read_full(3, &h, sizeof(h)) < 0) {
			error("lazy page stream: %s", strerror(errno));
			return 1;
		}
		if (h.cmd != PS_ADD || h.vaddr != want.vaddr || h.nr_pages != want.nr_pages || h.id != id) {
			error("unexpected answer to a page request: cmd 0x%x", h.cmd);
			return 1;
		}
		if (recv_pages(3, &h, out, true) < 0)
			return 1;
		if (getenv("FAKE_CRIU_LAZY_MS"))
			usleep((useconds_t)atoi(getenv("FAKE_CRIU_LAZY_MS")) * 1000);
	}
	/* a source that dies after the last page answers no close: every page
	 * is here all the same */
	if (!strcmp(getenv("FAKE_CRIU_FAIL") ?: "", "after-close")) {
		struct ps_hdr h = { .cmd = PS_CLOSE };

		if (write_full(3, &h, sizeof(h)) < 0)
			return 1;
	} else if (send_close(3) < 0) {
		return 1;
	}
	info("all %u lazy pages arrived", nr);

	return 0;
}

/* The "restored" tree: `sleep 1000` in a session of its own, reparented.
 * Returns once it runs sleep (criu -d exits with its tasks resumed): the
 * pipe's close-on-exec end closes at the exec. */
static pid_t start_restored(void)
{
	int p[2];
	pid_t child, pid = -1;
	char c;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	child = fork();
	if (child == 0) {
		pid_t g;

		setsid();
		g = fork();
		if (g == 0) {
			int null = open("/dev/null", O_RDWR);

			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
			execlp("sleep", "sleep", "1000", (char *)NULL);
			_exit(127);
		}
		write_full(p[1], &g, sizeof(g));
		_exit(g > 0 ? 0 : 1);
	}
	close(p[1]);
	if (child > 0) {
		if (read_full(p[0], &pid, sizeof(pid)) < 0)
			pid = -1;
		while (read(p[0], &c, 1) > 0) /* until the exec */
			;
		waitpid(child, NULL, 0);
	}
	close(p[0]);
	return pid;
}

static int connect_lazy_daemon(void)
{
	__do_free char *sock = in_dir("lazy-pages.socket");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	__do_close int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	double deadline = now_ms() + 10000;

	if (fd < 0 || strlen(sock) >= sizeof(sa.sun_path))
		return -1;
	strcpy(sa.sun_path, sock);
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (now_ms() > deadline) {
			error("cannot connect to the lazy-pages daemon at %s: %s", sock, strerror(errno));
			return -1;
		}
		usleep(20 * 1000);
	}
	return write_full(fd, "restored\n", 9);
}

/* Real criu reads the inventory first, in restore and in lazy-pages alike. */
static int check_inventory(void)
{
	__do_free char *inv = in_dir("inventory.img");
	struct stat st;

	__do_free char *text = NULL;

	if (stat(inv, &st) < 0 || st.st_size == 0) {
		error("inventory.img is empty or missing (%s)", errno ? strerror(errno) : "0 bytes");
		return -1;
	}
	/* as criu checks an image's magic: a damaged image is refused */
	text = read_file(inv, NULL);
	if (!text || strcmp(text, "fake-criu inventory\n")) {
		error("inventory.img is damaged: unexpected contents");
		return -1;
	}
	return 0;

}

static int do_restore(void)
{
	__do_free char *parent = in_dir("parent");
	__do_free char *pidtext = NULL, *pidfile = NULL;
	struct stat st;
	uint64_t id, vaddr;
	uint32_t nr;
	pid_t pid;

	if (!o.detached || !o.pidfile) {
		error("restore wants --restore-detached and --pidfile here");
		return 1;
	}
	if (check_inventory() < 0) {
		error("Restoring FAILED.");
		return 1;
	}
	if (read_pagemap(o.dir, &id, &vaddr, &nr) < 0) {
		error("no page map in %s: the pages did not arrive", o.dir);
		return 1;
	}
	if (lstat(parent, &st) == 0 && stat(parent, &st) < 0) {
		error("the parent images link is broken: %s", strerror(errno));
		return 1;
	}
	if (run_script("pre-restore") != 0)
		return 1;
	if (o.lazy && connect_lazy_daemon() < 0)
		return 1;
	if (run_script("post-restore") != 0 || run_script("pre-resume") != 0 || run_script("post-resume") != 0) {
		error("a restore script failed");
		return 1;
	}
	pid = start_restored();
	if (pid <= 0) {
		error("cannot start the restored task");
		return 1;
	}
	pidtext = xasprintf("%d", pid);
	pidfile = in_dir(o.pidfile);
	if (write_file(pidfile, pidtext, strlen(pidtext), 0600) < 0) {
		error("cannot write %s: %s", pidfile, strerror(errno));
		kill(pid, SIGKILL);
		return 1;
	}
	info("Restore finished successfully. Tasks resumed. Root task %d", pid);
	return 0;
}

static int do_check(void)
{
	const char *no = getenv("FAKE_CRIU_NO_FEATURES");

	if (!o.feature) {
		puts("Looks good.");
		return 0;
	}
	if (no) {
		__do_free char *list = xasprintf(",%s,", no);
		__do_free char *item = xasprintf(",%s,", o.feature);

		if (strstr(list, item)) {
			printf("Feature %s is not supported\n", o.feature);
			return 1;
		}
	}
	printf("%s is supported\n", o.feature);
	return 0;
}

int main(int argc, char **argv)
{
	t0 = now_ms();
	signal(SIGPIPE, SIG_IGN);
	trace_argv(argc, argv);
	if (parse(argc, argv) < 0)
		return 1;
	if (!o.action) {
		error("no action given");
		return 1;
	}
	if (!strcmp(o.action, "--version")) {
		printf("Version: %s\n", getenv("FAKE_CRIU_VERSION") ?: "4.1.1");
		return 0;
	}
	if (!strcmp(o.action, "check"))
		return do_check();
	if (!o.dir) {
		error("%s without -D", o.action);
		return 1;
	}
	if (o.log) {
		__do_free char *path = in_dir(o.log);

		logf_ = fopen(path, "we");
		if (!logf_) {
			error("cannot open the log %s: %s", path, strerror(errno));
			return 1;
		}
	}
	info("fake-criu %s, pid %d", o.action, (int)getpid());
	if (o.tls) {
		error("--tls cannot be combined with --ps-socket (and is not faked)");
		return 1;
	}
	if (check_fds() < 0)
		return 1;
	if (!strcmp(o.action, "dump"))
		return do_dump(false);
	if (!strcmp(o.action, "pre-dump"))
		return do_dump(true);
	if (!strcmp(o.action, "page-server"))
		return do_page_server();
	if (!strcmp(o.action, "lazy-pages"))
		return do_lazy_pages();
	if (!strcmp(o.action, "restore"))
		return do_restore();
	error("unknown action '%s'", o.action);
	return 1;
}
