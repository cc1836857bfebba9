/* service: a real network service from a Debian package (redis-server,
 * memcached; testsuite/lib/kv.c), run as this workload's child so that one
 * process tree carries it.
 *
 *	service --dir DIR --service NAME [--port N] [--bind IP] [common options]
 *
 * The data and the client live on the harness: it loads the service through
 * its own protocol, keeps one connection open through the migration, writes
 * all along, and checks afterwards that every acknowledged write is there, the
 * service's digest is the same and the connection the same one (before it
 * sends the migration signal). This side checks what only the host can see:
 * the service is still our child, with the same pid, and answers locally. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../lib/kv.h"
#include "../lib/wl.h"

#define READY_MS 60000

static const char *service_name;
static long port;
static struct wl_addr bind_ip;

static const struct wl_opt opts[] = {
	{ "service", WL_OPT_STR, &service_name, 0, 0, NULL, "NAME  redis or memcached", true },
	{ "port", WL_OPT_INT, &port, 1, 65535, NULL, "N  its port (default: the service's row in kv.c)" },
	{ "bind", WL_OPT_IP, &bind_ip, 0, 0, NULL, "IP  the address it listens on (default 0.0.0.0)" },
	{ NULL },
};

static pid_t child;

static void stop_child(void)
{
	if (child > 0) {
		kill(child, SIGTERM);
		waitpid(child, NULL, 0);
		child = 0;
	}
}

int main(int argc, char **argv)
{
	const struct kv_service *svc;
	char addr[64] = "0.0.0.0", store[1024];
	char *args[40];
	struct kv_conn c;
	int status;

	wl_init(argc, argv, opts);
	svc = kv_service(service_name);
	if (!svc)
		wl_fail("unknown service '%s' (known: %s)", service_name, kv_service_names());
	if (!port)
		port = svc->port;
	if (bind_ip.set) {
		wl_format_addr((struct sockaddr *)&bind_ip.ss, addr, sizeof(addr));
		if (strrchr(addr, ':'))
			*strrchr(addr, ':') = '\0'; /* "IP:0" */
	}
	if (access(svc->binary, X_OK) < 0)
		wl_fail("%s: %s (is its Debian package in the image?)", svc->binary, strerror(errno));
	if (svc->argv(args, sizeof(args) / sizeof(args[0]), store, sizeof(store), addr, (int)port, wl.dir) < 0)
		wl_fail("cannot build %s's command line", svc->name);
	child = fork();
	if (child < 0)
		wl_fail("fork: %s", strerror(errno));
	if (child == 0) {
		wl_child_setup();
		signal(SIGUSR2, SIG_DFL);
		execv(svc->binary, args);
		fprintf(stderr, "exec %s: %s\n", svc->binary, strerror(errno));
		_exit(127);
	}
	wl_log("%s: pid %d on %s:%ld", svc->name, (int)child, addr, port);
	if (kv_connect(&c, strcmp(addr, "0.0.0.0") ? addr : "127.0.0.1", (int)port, READY_MS) < 0 || svc->ping(&c) < 0) {
		stop_child();
		wl_fail("%s did not come up on %s:%ld: %s (its log: %s/service.log)", svc->name, addr, port, c.err, wl.dir);
	}
	kv_close(&c);
	wl_ready();
	wl_wait_migrated();
	if (waitpid(child, &status, WNOHANG) != 0) {
		child = 0;
		wl_fail("%s is gone after the migration", svc->name);
	}
	if (kv_connect(&c, strcmp(addr, "0.0.0.0") ? addr : "127.0.0.1", (int)port, 5000) < 0 || svc->ping(&c) < 0) {
		stop_child();
		wl_fail("%s does not answer on %s:%ld after the migration: %s", svc->name, addr, port, c.err);
	}
	kv_close(&c);
	wl_note("service_pid", "%d", (int)child);
	/* The harness checked its data before it sent the signal: done. */
	stop_child();
	wl_pass();
}
