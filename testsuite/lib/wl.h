/* wl: the workload library (zdtm's test_init/test_daemon/test_waitsig/pass/fail
 * for crmig). A workload is one small self-checking program:
 *
 *	wl_init(argc, argv, my_opts);   // common options, daemonize, heartbeats
 *	...set up state...
 *	wl_ready();                      // DIR/ready, "READY" to the probe
 *	...keep working until...
 *	wl_wait_migrated();              // SIGUSR2 from the runner
 *	...verify...
 *	wl_pass(); / wl_fail("page %zu stale", i);
 *
 * Files in the work directory DIR (all written atomically: tmp + rename):
 *	ready	"pid=<pid>\n" (the pid as seen in the workload's own PID namespace)
 *	verdict	"PASS\n" or "FAIL: <reason>\n", then optional "key=value\n" notes
 *	log	the workload's log; stdout and stderr also point here
 *
 * UDP datagrams to the probe (no trailing newline, fields separated by one space):
 *	HB <id> <seq> <counter>		every --hb-ms; seq counts datagrams from 0
 *	READY <id> <pid>
 *	VERDICT <id> PASS
 *	VERDICT <id> FAIL <reason>	(reason may contain spaces, never a newline)
 * Datagrams can be lost: the verdict file is authoritative.
 *
 * Exit status: 0 pass (or daemon parent: child ready), 1 fail, 2 bad arguments.
 */
#ifndef CRMIG_WL_H
#define CRMIG_WL_H

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define WL_ID_MAX 64
#define WL_REASON_MAX 512

/* An IPv4 or IPv6 socket address parsed from "ADDR:PORT" or "[ADDR6]:PORT". */
struct wl_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	bool set;
};

/* Workload-specific options, a table ended by an entry with name == NULL. */
enum wl_opt_kind {
	WL_OPT_FLAG,	/* bool *dst */
	WL_OPT_INT,	/* long *dst, checked against [min, max] */
	WL_OPT_STR,	/* const char **dst */
	WL_OPT_CHOICE,	/* int *dst: index into choices (NULL-terminated) */
	WL_OPT_ADDR,	/* struct wl_addr *dst, "ADDR:PORT" */
	WL_OPT_IP,	/* struct wl_addr *dst, "ADDR" (port 0) */
};

struct wl_opt {
	const char *name;
	enum wl_opt_kind kind;
	void *dst;
	long min, max;
	const char *const *choices;
	const char *help;	/* "METAVAR  what it does" (METAVAR empty for flags) */
	bool required;
};

/* The common options, valid after wl_init(). */
struct wl_common {
	const char *prog;	/* basename of argv[0] */
	const char *id;		/* --id, default: prog */
	const char *dir;	/* --dir, absolute */
	struct wl_addr probe;	/* --probe */
	long hb_ms;		/* --hb-ms */
	bool corrupt;		/* --corrupt */
	bool linger;		/* --linger */
	bool foreground;	/* --foreground */
};
extern struct wl_common wl;

/* The workload's moving counter, shown in heartbeats. */
extern _Atomic uint64_t wl_counter;

/* Parse options, create DIR, daemonize (unless --foreground or PID 1), detach
 * from the terminal, install signal handlers, start the heartbeat thread.
 * Bad arguments: message on stderr, exit 2. Returns only in the workload. */
void wl_init(int argc, char **argv, const struct wl_opt *extra);

/* Say the state is set up: DIR/ready, READY datagram, release the daemon parent. */
void wl_ready(void);

/* Has SIGUSR2 (the migration signal) arrived? */
bool wl_migrated(void);
/* Sleep until it does; other threads keep working. */
void wl_wait_migrated(void);

/* Round checks (the soak: crmig-suite soak), for workloads that offer them:
 * after wl_rounds_enable(), each SIGUSR1 asks for one check of the state
 * without ending (the workload keeps running; SIGUSR2 still ends it).
 * wl_round_requested() says how many were asked; the workload checks and
 * answers with wl_round_result(), which writes DIR/round atomically:
 *	"<n> PASS\n"  or  "<n> FAIL: <reason>\n"
 * (n: the number of requests answered so far, from 1). Without
 * wl_rounds_enable() SIGUSR1 keeps its default action (the process dies,
 * so a request to a workload that cannot check is never lost silently). */
void wl_rounds_enable(void);
unsigned wl_round_requested(void);
void wl_round_result(unsigned n, const char *fail_reason);

/* Add "key=value" to the verdict file (at most 16 notes; later keys win). */
void wl_note(const char *key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Final verdict: write it, report it, exit 0 / 1 (or sleep forever with --linger).
 * Callable from any thread; the first verdict wins. */
__attribute__((noreturn)) void wl_pass(void);
__attribute__((noreturn, format(printf, 1, 2))) void wl_fail(const char *fmt, ...);

/* For workloads that run every check before judging: record a failed check
 * (logged), then wl_fail_on_problems() fails with "N check(s) failed; first:
 * <the first one>" if there was any. */
void wl_problem(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int wl_problem_count(void);
void wl_fail_on_problems(void);

/* Timestamped line in DIR/log. */
void wl_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* In a child process the workload forked: drop the library's signal handlers
 * (a child must never write the verdict) and its private file descriptors. */
void wl_child_setup(void);

/* Sleep ms milliseconds (relative: immune to the monotonic clock jumping
 * when the process lands on another host). */
void wl_sleep_ms(long ms);

/* ---- Helpers shared with the harness (pure, no global state) ---- */

/* "ADDR:PORT" / "[ADDR6]:PORT" (port_required) or "ADDR" / "ADDR6"; 0 or -1. */
int wl_parse_addr(const char *s, bool port_required, struct wl_addr *out);
/* "ADDR:PORT" into buf; returns buf. */
const char *wl_format_addr(const struct sockaddr *sa, char *buf, size_t len);

/* Write name in dir atomically: dir/.name.tmp, fsync, rename. 0 or -1 (errno). */
int wl_write_atomic(const char *dir, const char *name, const char *content, size_t len);
/* The same with both paths given; only system calls (async-signal-safe). */
int wl_write_atomic_paths(const char *tmp, const char *final, const char *content, size_t len);

enum wl_verdict {
	WL_VERDICT_ERROR = -1,	/* unreadable or malformed: reason says why */
	WL_VERDICT_NONE = 0,	/* no verdict file (yet) */
	WL_VERDICT_PASS = 1,
	WL_VERDICT_FAIL = 2,
};
/* Read a verdict file; reason (may be NULL) gets the FAIL reason or the error. */
enum wl_verdict wl_read_verdict(const char *path, char *reason, size_t reason_len);
/* A note "key=value" of a verdict file into buf; 0, or -1 if absent. */
int wl_read_verdict_note(const char *path, const char *key, char *buf, size_t len);
/* The pid of a ready file; -1 if missing or malformed. */
long wl_read_ready(const char *path);

/* A datagram the workload sent, parsed. */
enum wl_msg_kind { WL_MSG_HB, WL_MSG_READY, WL_MSG_VERDICT };
struct wl_msg {
	enum wl_msg_kind kind;
	char id[WL_ID_MAX + 1];
	uint64_t seq, counter;	/* HB */
	long pid;		/* READY */
	bool pass;		/* VERDICT */
	char reason[WL_REASON_MAX];	/* VERDICT FAIL */
};
/* 0, or -1 if buf is not a well-formed workload datagram. */
int wl_parse_msg(const char *buf, size_t len, struct wl_msg *out);
/* Is s a valid id (1..WL_ID_MAX of [A-Za-z0-9._:-])? */
bool wl_valid_id(const char *s);

#endif
