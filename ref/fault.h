/* Deterministic fault injection: named points in crmig migrate (the
 * source) and in crmig serve's session (the destination), and what to do
 * when the migration reaches one. Off unless asked for twice (see fault.c
 * for why):
 *
 *   CRMIG_FAULT_ENABLE=1 CRMIG_FAULT=POINT:ACTION crmig migrate ...
 *
 * A destination point (dst-...) given to crmig migrate travels to serve in
 * the prepare request; serve honours it only when it runs with
 * CRMIG_FAULT_ENABLE=1 itself, or when root put a file "fault-enable" in
 * its state directory (the lab's serve is started by the guest's init).
 * The table of points is fault_points[] in fault.c (and crmig(1)). */
#ifndef CRMIG_FAULT_H
#define CRMIG_FAULT_H

#include <stdbool.h>
#include <sys/types.h>

enum fault_action {
	FAULT_NONE,
	FAULT_KILL_CRIU,   /* SIGKILL the criu this side runs at the point, and its children */
	FAULT_KILL_SELF,   /* SIGKILL ourselves: crmig migrate, or serve's session */
	FAULT_CORRUPT,     /* one byte flipped in the page stream or an image */
	FAULT_STALL,       /* stop reading and writing, connections open */
	FAULT_EXEC,        /* run a shell command, wait for it, go on */
	FAULT_CUT,         /* cut the link to the peer (every packet dropped) for N seconds */
};

enum fault_side { FAULT_SRC = 1, FAULT_DST = 2 };

struct fault_point_info {
	const char *name;      /* "round-N" stands for round-1, round-2, ... */
	enum fault_side side;
	const char *strategies; /* where the point exists */
	const char *where;     /* what is going on there */
};

extern const struct fault_point_info fault_points[];

/* Parses "POINT:ACTION[:ARG]"; 0, or -1 with a message in err. */
int fault_parse(const char *spec, char *err, size_t errlen);
/* The source: reads CRMIG_FAULT when CRMIG_FAULT_ENABLE=1. Returns -1 on a
 * bad spec (err says why). Returns the spec for the destination (or NULL),
 * to pass on in the prepare request. */
int fault_init_source(const char **dst_spec, char *err, size_t errlen);
/* A serve session: spec from the source (may be NULL) or CRMIG_FAULT;
 * honoured when enabled (CRMIG_FAULT_ENABLE=1 or STATE/fault-enable). */
void fault_init_session(const char *remote_spec, const char *state_dir);

/* The other host's address, for cut: an IPv4 literal (else cut says it
 * cannot). The source: the destination; serve: its client. */
void fault_set_peer(const char *addr);

/* The migration reached point: acts if it is the configured one. criu is
 * the pid of this side's criu at that moment (0: none). Returns the action
 * taken (FAULT_CORRUPT: the caller damages what it holds). */
enum fault_action fault_at(const char *point, pid_t criu);
enum fault_action fault_at_round(const char *prefix, int round, pid_t criu);

/* At the end of crmig migrate or of serve's session: a cut link is put
 * back now (what crmig did while it was cut is what the test is about; the
 * detached child would put it back later anyway). */
void fault_end(void);

/* A corrupt fault of a page stream is configured (fired or not): the
 * streams must then go through relays, where the byte is flipped and the
 * relays' sums find it (relay_needed). */
bool fault_stream_corruption_planned(void);
/* Page relays: true once, for the first buffer after a corrupt fault fired. */
bool fault_take_corruption(void);
/* Flips one byte in the middle of a file (image corruption); 0 or -1. */
int fault_corrupt_file(const char *path);

#endif
