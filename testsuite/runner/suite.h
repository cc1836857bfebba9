/* crmig-suite: the QA runner. Cases are INI files; each case expands into
 * instances (case x mode x strategy) that run across the two lab hosts. This
 * header holds what the runner's pieces share: cases, results, reports, the
 * heartbeat probe and the TCP peer. */
#ifndef CRMIG_SUITE_H
#define CRMIG_SUITE_H

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define SUITE_MAX_LIST 16

enum strategy_bit { ST_STOP = 1, ST_PRE = 2, ST_POST = 4, ST_HYBRID = 8, ST_ALL = 15 };
enum mode_bit { MODE_BARE = 1, MODE_LXC = 2, MODE_ALL = 3 }; /* each a row of its own: mode.h */

/* One case file (testsuite/cases/NAME.case):
 *   [case]
 *   workload = memory            ; memory | tcp | files | tree
 *   args = --size-mb 64 --dirty-rate 1
 *   modes = bare, lxc            ; default both
 *   strategies = stop, pre, post, hybrid   ; default all four
 *   requires = mem_dirty_track   ; criu check --feature NAME on both hosts, else SKIP
 *   flags = excl, nolazy, crfail, tcp-peer, listen, move-ip, pingpong   ; see cases.c
 *                                ; dest-full: b receives into a 4 MiB tmpfs over /var/lib/crmig

 *                                ; pingpong: A -> B, then back B -> A, checked after each leg
 *   tier = lean | full | faults  ; lean runs in make check; full (check-full) runs all; faults: the fault tier
 *                                ; (--tier faults: the cases with a fault key or tier faults)

 *   timeout = 300                ; seconds for the whole instance
 *   crmig_args = --page-tls off  ; extra arguments for crmig migrate
 *   expect = pass | fail         ; fail: a test of the tests (the workload must catch its own damage)
 *   expect_result = ok | rolled-back | failed   ; crmig's report result (default ok)
 *   expect_error = TEXT          ; a substring crmig's error must contain
 *   fault = POINT:ACTION         ; CRMIG_FAULT for crmig migrate (dst-* points: serve's session; see crmig(1))

 *   description = ...
 * Unknown keys and sections are errors (a typo must not silently pass). */
struct suite_case {
	char name[64];              /* file name without .case */
	char file[PATH_MAX];
	char description[256];
	char workload[32];
	char args[1024];
	char crmig_args[512];
	unsigned modes;             /* MODE_* */
	unsigned strategies;        /* ST_* */
	char requires[SUITE_MAX_LIST][32];
	int nrequires;
	char flags[SUITE_MAX_LIST][32];
	int nflags;
	char tier[16];
	int timeout_s;
	bool expect_fail;
	char expect_result[16];
	char expect_error[128];
	char fault[256];            /* CRMIG_FAULT for the migration, "" for none */

};

/* One instance to run: a case, a mode and a strategy. */
struct suite_instance {
	const struct suite_case *c;
	unsigned mode;              /* MODE_BARE or MODE_LXC */
	unsigned strategy;          /* one ST_* bit */
	char id[96];                /* "memory:bare:stop", unique in a run */
};

enum outcome { OUTCOME_PASS, OUTCOME_FAIL, OUTCOME_SKIP };

/* Between the reasons of one failure that has several. */
#define REASON_SEP " | also: "

struct suite_result {
	struct suite_instance inst;
	char distro[32];
	enum outcome outcome;
	char reason[2048];          /* why it failed or skipped; "" on pass */
	double probe_gap_ms;        /* longest heartbeat gap around the migration, -1 if none */
	double duration_ms;
	json_t *crmig;              /* crmig's report (owned), or NULL */
	json_t *details;            /* extra facts (owned): verdict text, host diffs, bundle path, replay */
	char known_bug[160];        /* a failure that is a known upstream bug: "criu#3029: ..." (TAP TODO) */
};

/* kinds.c: the workload kinds, one row each. */
struct workload_kind {
	const char *name;            /* the case file's workload = NAME */
	const char *binary;          /* workloads/BINARY (NULL: NAME) */
	const char *args;            /* arguments the kind always passes it, before the case's */
	const char *service;         /* a kv service (testsuite/lib/kv.c) the harness checks through its protocol */
	unsigned modes;              /* the modes it can run in (MODE_*) */
	bool sync_dir;               /* crmig --sync its work directory (its files are state too) */
	bool results;                /* it leaves DIR/results: per-part verdicts the runner keeps */
	const char *payload_file;    /* what it cannot run without, under the payload's root (NULL: nothing) */
	const char *summary;
};
const struct workload_kind *workload_kind(const char *name);   /* NULL if unknown */
const struct workload_kind *workload_kinds(size_t *n);

/* cases.c */
int case_load(const char *path, struct suite_case *c, char *err, size_t errlen);
/* Loads every *.case in dir, sorted by name; NULL-safe free with free(). */
int cases_load_dir(const char *dir, struct suite_case **out, size_t *n, char *err, size_t errlen);
bool case_has_flag(const struct suite_case *c, const char *flag);
const char *strategy_bit_name(unsigned bit);   /* "stop", ... */
const char *mode_bit_name(unsigned bit);       /* "bare", "lxc" */
int parse_strategies(const char *list, unsigned *bits);   /* "stop,post" or "all" -> bits; -1 on unknown/empty */
int parse_modes(const char *list, unsigned *bits);        /* "bare,lxc" -> bits; -1 on unknown/empty */
/* Expands the cases into instances filtered by: tier ("lean": lean only;
 * "full": all), a shell glob on the case name (NULL: all), strategies and
 * modes masks; then keeps shard index/count (1-based index; count 1 = all),
 * assigned round-robin over the expanded, stably ordered list. */
/* --cases: one or more comma-separated fnmatch globs (NULL: everything). */
bool suite_glob_match(const char *globs, const char *name);
int instances_expand(const struct suite_case *cases, size_t ncases, const char *tier, const char *glob,
		     unsigned strategies, unsigned modes, int shard_index, int shard_count,
		     struct suite_instance **out, size_t *n);
int parse_shard(const char *s, int *index, int *count);   /* "2/4" */

/* report_tap.c, report_junit.c, report_json.c, report_html.c */
void tap_begin(FILE *f, size_t planned);   /* planned 0: the plan comes last, from tap_end() */
void tap_end(FILE *f, size_t count);
void tap_result(FILE *f, size_t number, const struct suite_result *r);  /* streamed as instances finish */
int junit_write(const char *path, const struct suite_result *r, size_t n);
/* The contract: a list of {case, strategy, distro, outcome, reason, probe_gap_ms, crmig, mode, ...}. */
json_t *results_json(const struct suite_result *r, size_t n);
int results_write_json(const char *path, const struct suite_result *r, size_t n);
int html_write(const char *path, const struct suite_result *r, size_t n, const char *title);
/* Counts as TAP gives them: "ok", "not ok", "not ok # TODO" (known bug), "ok # SKIP". */
struct result_tally {
	size_t pass, fail, known, skip, total;
};
void result_tally_add(struct result_tally *t, const struct suite_result *r);
const char *outcome_name(enum outcome o);
/* For progress lines: the outcome, or "known upstream bug" for a failure that is one (TAP says TODO). */
const char *result_label(const struct suite_result *r);
/* A failure that is a known upstream bug is reported (TAP "# TODO", JUnit
 * skipped, JSON known_bug) but does not fail the run. */
bool result_counts_as_failure(const struct suite_result *r);
/* known_bugs.c: fills r->known_bug when its failure matches a known bug. */
void known_bug_classify(struct suite_result *r);
/* Helpers the reports share (untrusted text in, well-formed text out):
 * utf8_decode: length (1..4) of the valid UTF-8 sequence at s (n bytes
 * available) and its code point, 0 if invalid (overlong, surrogate, > U+10FFFF,
 * truncated). The others return malloc'd strings in which invalid UTF-8
 * became U+FFFD: utf8_sanitize changes nothing else; xml_escape also
 * escapes markup, quotes, tab/CR/LF as character references and drops other
 * control characters to U+FFFD (XML 1.0 cannot carry them; for attributes,
 * text and HTML); yaml_quote gives a double-quoted YAML scalar. */
size_t utf8_decode(const char *s, size_t n, uint32_t *cp);
char *utf8_sanitize(const char *s);
char *xml_escape(const char *s);
char *yaml_quote(const char *s);

/* probe.c: the harness's UDP heartbeat sink (one clock for downtime). Lines
 * "HB <id> <seq> <counter>", "READY <id> <pid>", "VERDICT <id> PASS|FAIL ..." */
struct probe;
struct probe *probe_start(const char *addr, int port, char *err, size_t errlen);
void probe_stop(struct probe *p);
int probe_port(const struct probe *p);       /* the bound port (useful with port 0) */
long probe_rejected(struct probe *p);        /* datagrams ignored as malformed, oversized or over limits */
double probe_now(void);                      /* the probe's clock, ms */
/* Longest interval without a heartbeat from id between from_ms and to_ms
 * (including the edges: from the last beat before from_ms, to the first
 * after to_ms; without such a beat, from from_ms / to to_ms); -1 if id never
 * beat (or to_ms < from_ms). */
double probe_max_gap(struct probe *p, const char *id, double from_ms, double to_ms);
/* The same over n sorted arrival times (pure; what probe_max_gap computes). */
double probe_gap_of(const double *beats, size_t n, double from_ms, double to_ms);
long probe_beats(struct probe *p, const char *id);
/* kind "READY" or "VERDICT": the last such datagram of id (as received), waiting up to timeout_s. */
bool probe_wait_line(struct probe *p, const char *id, const char *kind, double timeout_s, char *line, size_t len);
void probe_forget(struct probe *p, const char *id);

/* peer.c: the harness end of the tcp workload's stream (seqstream.h). */
struct tcp_peer;
/* Listens on addr:port (port 0: any; see tcp_peer_port) and serves one connection in a thread. */
struct tcp_peer *tcp_peer_start(const char *addr, int port, char *err, size_t errlen);
int tcp_peer_port(const struct tcp_peer *p);
/* Waits until the workload ended its stream (its end marker and EOF), sends
 * ours, and says whether everything it received was intact. 0 pass. */
int tcp_peer_finish(struct tcp_peer *p, double timeout_s, char *why, size_t len);
void tcp_peer_stop(struct tcp_peer *p);
/* While the stream goes on: 0 if every byte so far was intact and the
 * connection stands (why: the counts), else -1 with why. */
int tcp_peer_check(struct tcp_peer *p, char *why, size_t len);
uint64_t tcp_peer_received(const struct tcp_peer *p);
/* Connects to a workload's --listen port and performs the echo exchange. */
int echo_check(const char *addr, int port, const char *expect_id, double timeout_s, char *why, size_t len);

#endif
