/* Deterministic fault injection (see fault.h): zdtm's CRIU_FAULT for crmig
 * itself. One fault per run: CRMIG_FAULT=POINT:ACTION[:ARG].
 *
 * Why two switches: the actions kill criu, kill crmig and corrupt pages:
 * on a production host a CRMIG_FAULT left in an environment (a unit file, a
 * CI variable copied around) must not do that by accident. So CRMIG_FAULT
 * alone is refused with a message, and only CRMIG_FAULT_ENABLE=1 next to it
 * arms it. A destination honours a source's request for a fault only when
 * its own administrator enabled it (serve's environment, or a root-owned
 * STATE/fault-enable), never because a peer asked: a source holding a valid
 * certificate must not be able to make serve kill itself. Builds made with
 * -DCRMIG_NO_FAULTS refuse faults altogether (fault_parse says so), for
 * distributions that want the code out of production binaries; it costs
 * nothing when off (a string compare per point). */
#include "fault.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "migrate.h"
#include "proc.h"
#include "procfs.h"
#include "util.h"

const struct fault_point_info fault_points[] = {
	{ "round-N", FAULT_SRC, "pre hybrid", "pre-dump round N: the tree frozen, its pages about to stream" },
	{ "final-dump", FAULT_SRC, "stop pre post hybrid",
	  "the final dump: the tree frozen; stop/pre: its pages about to stream to the page server" },
	{ "image-transfer", FAULT_SRC, "stop pre post hybrid", "the dump is done (post-dump hook), the images about to cross" },
	{ "restore", FAULT_SRC, "stop pre post hybrid", "images and pages crossed, the restore request about to go" },
	{ "handover", FAULT_SRC, "stop pre post hybrid",
	  "the destination runs the workload; criu not yet told to end the source (stop, pre) / pages on demand (post, hybrid)" },
	{ "lazy-window", FAULT_SRC, "post hybrid", "after the handover, criu serves the remaining pages" },
	{ "dst-round-N", FAULT_DST, "pre hybrid", "the page server of round N started" },
	{ "dst-final-dump", FAULT_DST, "stop pre post hybrid",
	  "stop/pre: the final dump's page server started; post/hybrid: the lazy page stream accepted" },
	{ "dst-image-transfer", FAULT_DST, "stop pre post hybrid", "the images arrived, not yet acknowledged" },
	{ "dst-restore", FAULT_DST, "stop pre post hybrid", "criu restore runs (pre-restore hook)" },
	{ "dst-handover", FAULT_DST, "stop pre post hybrid", "restored and running here, the source not yet told" },
	{ "dst-lazy-window", FAULT_DST, "post hybrid", "the lazy-pages daemon fetches the remaining pages" },
	{ NULL, 0, NULL, NULL },
};

static const char *const action_names[] = {
	[FAULT_KILL_CRIU] = "kill-criu", [FAULT_KILL_SELF] = "kill-self", [FAULT_CORRUPT] = "corrupt",
	[FAULT_STALL] = "stall", [FAULT_EXEC] = "exec", [FAULT_CUT] = "cut",
};

/* cut's default: longer than a peer's silence takes to be noticed (serve's
 * --peer-timeout, the page streams' 30 s), shorter than the suite's wait
 * for the hosts to settle */
#define CUT_DEFAULT_S 40

static struct {
	char point[64];
	enum fault_action action;
	char arg[1024];
	bool fired;
} fault;

static atomic_bool corrupt_armed;
static char peer_addr[INET_ADDRSTRLEN];
static bool cut_active;

void fault_set_peer(const char *addr)
{
	struct in_addr a;

	peer_addr[0] = '\0';
	if (addr && inet_pton(AF_INET, addr, &a) == 1)
		inet_ntop(AF_INET, &a, peer_addr, sizeof(peer_addr));
}

static bool point_known(const char *point)
{
	for (const struct fault_point_info *p = fault_points; p->name; p++) {
		size_t n = strlen(p->name);

		if (n > 2 && !strcmp(p->name + n - 2, "-N")) {
			/* round-N: round-1, round-2, ... */
			if (!strncmp(point, p->name, n - 1) && point[n - 1] >= '1' && point[n - 1] <= '9' &&
			    strspn(point + n - 1, "0123456789") == strlen(point + n - 1))
				return true;
		} else if (!strcmp(point, p->name)) {
			return true;
		}
	}
	return false;
}

int fault_parse(const char *spec, char *err, size_t errlen)
{
	const char *colon = spec ? strchr(spec, ':') : NULL;
	char action[32];
	const char *arg;
	size_t alen;

	memset(&fault, 0, sizeof(fault));
#ifdef CRMIG_NO_FAULTS
	snprintf(err, errlen, "CRMIG_FAULT: this crmig was built without fault injection (CRMIG_NO_FAULTS)");
	return -1;
#endif
	if (!colon || colon == spec || (size_t)(colon - spec) >= sizeof(fault.point)) {
		snprintf(err, errlen, "CRMIG_FAULT=%.100s: want POINT:ACTION (see crmig migrate --help)", spec ? spec : "");
		return -1;
	}
	memcpy(fault.point, spec, (size_t)(colon - spec));
	if (!point_known(fault.point)) {
		snprintf(err, errlen, "CRMIG_FAULT: unknown point '%s' (the points are listed in crmig(1))", fault.point);
		return -1;
	}
	arg = strchr(colon + 1, ':');
	alen = arg ? (size_t)(arg - colon - 1) : strlen(colon + 1);
	if (alen >= sizeof(action))
		alen = sizeof(action) - 1;
	memcpy(action, colon + 1, alen);
	action[alen] = '\0';
	for (size_t i = 1; i < ARRAY_SIZE(action_names); i++)
		if (!strcmp(action, action_names[i]))
			fault.action = (enum fault_action)i;
	if (fault.action == FAULT_NONE) {
		snprintf(err, errlen, "CRMIG_FAULT: unknown action '%s': kill-criu, kill-self, corrupt, stall[:SECONDS], "
			 "cut[:SECONDS], exec:COMMAND", action);
		return -1;
	}
	snprintf(fault.arg, sizeof(fault.arg), "%s", arg ? arg + 1 : "");
	if ((fault.action == FAULT_EXEC && !fault.arg[0]) ||
	    ((fault.action == FAULT_STALL || fault.action == FAULT_CUT) && fault.arg[0] &&
	     (strspn(fault.arg, "0123456789") != strlen(fault.arg) || strlen(fault.arg) > 5))) {
		snprintf(err, errlen, "CRMIG_FAULT: %s wants %s", action,
			 fault.action == FAULT_EXEC ? "a command: exec:COMMAND" : "whole seconds: stall:SECONDS, cut:SECONDS");
		memset(&fault, 0, sizeof(fault));
		return -1;
	}
	return 0;
}

static bool enabled_by_env(void)
{
	const char *e = getenv("CRMIG_FAULT_ENABLE");

	return e && !strcmp(e, "1");
}

int fault_init_source(const char **dst_spec, char *err, size_t errlen)
{
	const char *spec = getenv("CRMIG_FAULT");

	*dst_spec = NULL;
	memset(&fault, 0, sizeof(fault));
	if (!spec || !*spec)
		return 0;
	if (!enabled_by_env()) {
		snprintf(err, errlen, "CRMIG_FAULT is set but fault injection is off: set CRMIG_FAULT_ENABLE=1 too if "
			 "you mean it (it kills and corrupts on purpose), or unset CRMIG_FAULT");
		return -1;
	}
	if (fault_parse(spec, err, errlen) < 0)
		return -1;
	if (!strncmp(fault.point, "dst-", 4)) {
		/* serve's: it decides whether to honour it */
		*dst_spec = spec;
		memset(&fault, 0, sizeof(fault));
	}
	return 0;
}

/* STATE/fault-enable: a regular file owned by root (or by us), writable by
 * nobody else, as a peer could never make one. */
static bool enabled_by_file(const char *state_dir)
{
	__do_free char *path = state_dir ? xasprintf("%s/fault-enable", state_dir) : NULL;
	struct stat st;

	return path && lstat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_uid == 0 || st.st_uid == geteuid()) &&
	       !(st.st_mode & 022);
}

void fault_init_session(const char *remote_spec, const char *state_dir)
{
	const char *spec = remote_spec && *remote_spec ? remote_spec : getenv("CRMIG_FAULT");
	char err[256];

	memset(&fault, 0, sizeof(fault));
	if (!spec || !*spec)
		return;
	if (!enabled_by_env() && !enabled_by_file(state_dir)) {
		fprintf(stderr, "crmig serve: ignoring the fault %.100s: fault injection is not enabled here "
			"(CRMIG_FAULT_ENABLE=1 in serve's environment, or a file %s/fault-enable)\n", spec,
			state_dir ? state_dir : "STATE");
		return;
	}
	if (fault_parse(spec, err, sizeof(err)) < 0) {
		fprintf(stderr, "crmig serve: ignoring the fault: %s\n", err);
		return;
	}
	if (strncmp(fault.point, "dst-", 4))
		memset(&fault, 0, sizeof(fault)); /* the source's */
}

/* A cut's rules: every packet from the peer and every packet to it. */
static const struct {
	const char *chain, *dir;
} cut_rules[] = { { "INPUT", "-s" }, { "OUTPUT", "-d" } };

/* iptables -w ACTION (-I, -D) on cut rule i; its exit status. */
static int cut_rule(const char *action, size_t i)
{
	char *argv[] = { "iptables", "-w", (char *)action, (char *)cut_rules[i].chain, (char *)cut_rules[i].dir,
			 peer_addr, "-j", "DROP", NULL };

	return proc_simple(argv, 20);
}

/* Every packet to and from the peer dropped, connections left open (no
 * RST, no FIN: as when a cable is pulled), for secs seconds: a detached
 * child puts the link back, whatever becomes of us meanwhile. */
static void cut_link(int secs)
{
	__do_free char *heal = NULL;
	pid_t pid;

	if (!peer_addr[0]) {
		fprintf(stderr, "crmig: fault injection: cut: no peer address known here\n");
		return;
	}
	heal = xasprintf("sleep %d", secs);
	for (size_t i = 0; i < ARRAY_SIZE(cut_rules); i++) {
		/* peer_addr came out of inet_ntop: safe in a shell line */
		char *more = xasprintf("%s; iptables -w -D %s %s %s -j DROP", heal, cut_rules[i].chain,
				       cut_rules[i].dir, peer_addr);

		free(heal);
		heal = more;
	}
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		setsid();
		if (fork() == 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
			execl("/bin/sh", "sh", "-c", heal, (char *)NULL);
		}
		_exit(0);
	}
	while (pid > 0 && waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	for (size_t i = 0; i < ARRAY_SIZE(cut_rules); i++)
		if (cut_rule("-I", i) != 0)
			fprintf(stderr, "crmig: fault injection: cut: iptables -I %s failed\n", cut_rules[i].chain);
	cut_active = true;
	fprintf(stderr, "crmig: fault injection: the link to %s is cut for %d s\n", peer_addr, secs);
}

void fault_end(void)
{
	if (!cut_active)
		return;
	cut_active = false;
	for (size_t i = 0; i < ARRAY_SIZE(cut_rules); i++)
		cut_rule("-D", i);
	fprintf(stderr, "crmig: fault injection: the link to %s is back\n", peer_addr);
}

static void run_command(const char *cmd)
{
	pid_t pid;
	int st;

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		dup2(null, 0);
		dup2(2, 1);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
}

enum fault_action fault_at(const char *point, pid_t criu)
{
	if (fault.action == FAULT_NONE || fault.fired || strcmp(point, fault.point))
		return FAULT_NONE;
	fault.fired = true;
	fprintf(stderr, "crmig: fault injection at %s: %s%s%s\n", point, action_names[fault.action],
		fault.arg[0] ? " " : "", fault.arg);
	fflush(NULL);
	switch (fault.action) {
	case FAULT_KILL_CRIU:
		if (criu > 0) {
			siginfo_t si;

			/* criu and what it started: for a container the process we
			 * started is liblxc's, and criu runs beneath it */
			proc_signal_tree(criu, SIGKILL);
			kill(criu, SIGKILL);
			/* dead before we go on, as if it had died here (not reaped: its
			 * parent's wait still gets the status) */
			while (waitid(P_PID, (id_t)criu, &si, WEXITED | WNOWAIT) < 0 && errno == EINTR)
				;
		} else
			fprintf(stderr, "crmig: fault injection: no criu runs here at %s\n", point);
		break;
	case FAULT_KILL_SELF:
		raise(SIGKILL);
		break;
	case FAULT_CORRUPT:
		atomic_store(&corrupt_armed, true);
		break;
	case FAULT_STALL:
		/* everything stays open; nothing is read or written */
		if (fault.arg[0]) {
			double until = now_ms() + atof(fault.arg) * 1000;

			while (now_ms() < until)
				usleep(100 * 1000);
		} else {
			for (;;)
				pause();
		}
		break;
	case FAULT_EXEC:
		run_command(fault.arg);
		break;
	case FAULT_CUT:
		cut_link(fault.arg[0] ? atoi(fault.arg) : CUT_DEFAULT_S);
		break;
	case FAULT_NONE:
		break;
	}
	return fault.action;
}

enum fault_action fault_at_round(const char *prefix, int round, pid_t criu)
{
	char point[64];

	if (fault.action == FAULT_NONE)
		return FAULT_NONE;
	snprintf(point, sizeof(point), "%s%d", prefix, round);
	return fault_at(point, criu);
}

bool fault_stream_corruption_planned(void)
{
	/* image-transfer's corrupt damages an image file, every other point's
	 * the next bytes a relay sends */
	return fault.action == FAULT_CORRUPT && !strstr(fault.point, "image-transfer");
}

bool fault_take_corruption(void)
{
	bool t = true;

	return atomic_load(&corrupt_armed) && atomic_compare_exchange_strong(&corrupt_armed, &t, false);
}

int fault_corrupt_file(const char *path)
{
	__do_close int fd = open(path, O_RDWR | O_CLOEXEC);
	struct stat st;
	unsigned char b;
	off_t at;

	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size == 0)
		return -1;
	at = st.st_size / 2;
	if (pread(fd, &b, 1, at) != 1)
		return -1;
	b ^= 0x55;
	return pwrite(fd, &b, 1, at) == 1 ? 0 : -1;
}
