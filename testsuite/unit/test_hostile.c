/* crmig-hostile's attacks (testsuite/runner/hostile.c) against a real
 * `crmig serve` on loopback, with a short --peer-timeout: every attack must
 * end with serve dropping the connection within the bound, a real request
 * must be answered while the crowd is held and once more afterwards, and
 * serve must neither die nor keep anything: no session process, no fd, no
 * RSS growth beyond noise. A serve that hangs on any of them fails here
 * (e.g. one that waits for ever for the hello of a silent TLS session, or
 * blocks for ever on a client that reads nothing). */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../runner/hostile.h"
#include "net.h"
#include "tls.h"
#include "util.h"
#include "unit.h"

static char root[] = "/tmp/crmig-test-hostile-XXXXXX";
static char crmig[PATH_MAX];
static char err[512];

struct serve {
	pid_t pid;
	int port;
	char log[PATH_MAX];
};

static long count_lines(const char *text, const char *sep)
{
	long n = 0;

	for (const char *p = text; p && *p; p += strcspn(p, sep), p += strspn(p, sep))
		if (!strchr(sep, *p))
			n++;
	return n;
}

/* serve's own footprint: VmRSS, open fds, session processes (children) */
static void footprint(pid_t pid, long *rss_kb, long *fds, long *children)
{
	__do_free char *spath = xasprintf("/proc/%d/status", pid);
	__do_free char *kpath = xasprintf("/proc/%d/task/%d/children", pid, pid);
	__do_free char *dir = xasprintf("/proc/%d/fd", pid);
	__do_free char *status = read_file(spath, NULL);
	__do_free char *kids = read_file(kpath, NULL);
	const char *rss = status ? strstr(status, "VmRSS:") : NULL;
	DIR *d = opendir(dir);
	struct dirent *e;

	*rss_kb = rss ? atol(rss + 6) : -1;
	*children = count_lines(kids, " \n");
	*fds = 0;
	while (d && (e = readdir(d)))
		*fds += e->d_name[0] != '.';
	if (d)
		closedir(d);
}

static void serve_start(struct serve *s)
{
	__do_free char *certs = xasprintf("%s/b", root);
	__do_free char *state = xasprintf("%s/state", root);

	snprintf(s->log, sizeof(s->log), "%s/serve.log", root);
	for (int attempt = 0; attempt < 5; attempt++) {
		int lfd = net_listen("127.0.0.1", 0, 1);
		char listen[64];

		ck_assert_int_ge(lfd, 0);
		s->port = net_local_port(lfd);
		close(lfd);
		snprintf(listen, sizeof(listen), "127.0.0.1:%d", s->port);
		unlink(s->log);
		fflush(NULL);
		s->pid = fork();
		ck_assert_int_ge(s->pid, 0);
		if (s->pid == 0) {
			int fd = open(s->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

			dup2(fd, 1);
			dup2(fd, 2);
			execl(crmig, crmig, "serve", "--listen", listen, "--certs", certs, "--state", state, "--criu",
			      "/bin/false", "--peer-timeout", "1", (char *)NULL);
			_exit(127);
		}
		for (double deadline = now_ms() + 20000; now_ms() < deadline; usleep(20 * 1000)) {
			__do_free char *log = read_file(s->log, NULL);

			if (log && strstr(log, "listening on"))
				return;
			if (waitpid(s->pid, NULL, WNOHANG) == s->pid)
				break;
		}
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
	}
	ck_abort_msg("crmig serve did not start (%s):\n%s", crmig, read_file(s->log, NULL));
}

static void serve_stop(struct serve *s)
{
	kill(s->pid, SIGTERM);
	waitpid(s->pid, NULL, 0);
}

START_TEST(test_serve_withstands)
{
	struct serve s;
	struct hostile_report r;
	__do_free char *certs = xasprintf("%s/a", root);
	struct hostile_opts o = { .host = "127.0.0.1", .cert_dir = certs, .idle_conns = 200, .bound_s = 10,
				  .answer_s = 10 };
	long rss0, fds0, kids0, rss1 = 0, fds1 = 0, kids1 = 0;
	__do_free char *text = NULL;
	__do_free char *log = NULL;
	int st;

	serve_start(&s);
	o.port = s.port;
	footprint(s.pid, &rss0, &fds0, &kids0);
	hostile_run(&o, &r);
	text = hostile_report_text(&r);
	/* its sessions end on their own, at once or nearly */
	for (double settle = now_ms() + 5000; now_ms() < settle; usleep(50 * 1000)) {
		footprint(s.pid, &rss1, &fds1, &kids1);
		if (kids1 <= kids0 && fds1 <= fds0)
			break;
	}
	ck_assert_msg(waitpid(s.pid, &st, WNOHANG) == 0, "crmig serve died under attack:\n%s", text);
	log = read_file(s.log, NULL);
	serve_stop(&s);
	ck_assert_msg(r.ok, "serve did not withstand every attack:\n%s--- serve:\n%.3000s", text, log);
	ck_assert_int_eq(r.n, 7);
	for (int i = 0; i < r.n; i++) /* each one really ended (and not only because we gave up) */
		ck_assert_msg(r.a[i].close_ms >= 0 && r.a[i].close_ms < 10000, "%s: %s", r.a[i].name, r.a[i].what);
	ck_assert_msg(strstr(text, "blocked on us"), "the mute client never made serve block:\n%s", text);
	ck_assert_msg(strstr(log, "dropped: the peer took none of our data"), "serve log:\n%.3000s", log);
	ck_assert_msg(strstr(log, "no hello"), "serve log:\n%.3000s", log);
	ck_assert_msg(kids1 <= kids0, "%ld session processes stayed (before: %ld)", kids1, kids0);
	ck_assert_msg(fds1 <= fds0, "serve holds %ld fds (before: %ld)", fds1, fds0);
	ck_assert_msg(rss1 - rss0 <= HOSTILE_RSS_NOISE_KB, "serve's RSS grew from %ld to %ld kB", rss0, rss1);
}
END_TEST

/* Nobody listening: each attack says so, none passes, and nothing hangs. */
START_TEST(test_nobody_there)
{
	struct hostile_report r;
	__do_free char *certs = xasprintf("%s/a", root);
	int lfd = net_listen("127.0.0.1", 0, 1);
	struct hostile_opts o = { .host = "127.0.0.1", .cert_dir = certs, .idle_conns = 3, .bound_s = 2 };
	double start = now_ms();

	o.port = net_local_port(lfd);
	close(lfd);
	ck_assert_int_eq(hostile_run(&o, &r), -1);
	ck_assert(!r.ok && !r.answered);
	for (int i = 0; i < r.n; i++)
		ck_assert_msg(!r.a[i].ok && strstr(r.a[i].what, "connect"), "%s: %s", r.a[i].name, r.a[i].what);
	ck_assert_double_lt(now_ms() - start, 15000);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("hostile");
	TCase *tc = tcase_create("serve");
	char self[PATH_MAX], ca[PATH_MAX + 8], a[PATH_MAX + 8], b[PATH_MAX + 8];
	const char *ips[] = { "127.0.0.1", NULL };
	ssize_t n;
	int failed;

	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 2;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return 2;
	self[n] = '\0';
	/* BUILD/unit/test_hostile: crmig is BUILD/crmig */
	*strrchr(self, '/') = '\0';
	*strrchr(self, '/') = '\0';
	snprintf(crmig, sizeof(crmig), "%s/crmig", self);
	snprintf(ca, sizeof(ca), "%s/ca", root);
	snprintf(a, sizeof(a), "%s/a", root);
	snprintf(b, sizeof(b), "%s/b", root);
	if (cert_make_ca(ca, "crmig hostile test CA", 2, err, sizeof(err)) < 0 ||
	    cert_make_host(ca, a, "a", ips, 2, err, sizeof(err)) < 0 ||
	    cert_make_host(ca, b, "b", ips, 2, err, sizeof(err)) < 0) {
		fprintf(stderr, "test_hostile: certificates: %s\n", err);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_serve_withstands);
	tcase_add_test(tc, test_nobody_there);
	suite_add_tcase(su, tc);
	failed = unit_run(su);
	{
		__do_free char *cmd = xasprintf("rm -rf %s", root);

		if (system(cmd) != 0)
			fprintf(stderr, "test_hostile: cannot remove %s\n", root);
	}
	return failed ? 1 : 0;
}
