/* crmig's report: what happened, measured on one clock (the source's
 * CLOCK_MONOTONIC, in ms from the start of `crmig migrate`). Written as JSON
 * (--json FILE, keys are a contract: see shared DESIGN) and as a short human
 * summary. */
#ifndef CRMIG_REPORT_H
#define CRMIG_REPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct phase {
	char *name;        /* freeze, dump, round-N, transfer, restore, resume, lazy, ... */
	double start_ms;
	double end_ms;
	uint64_t bytes;
};

struct round_stat {       /* one pre-dump round or the final dump, from stats-dump */
	int round;             /* 1.., the final dump last */
	bool final;
	uint64_t pages_scanned;
	uint64_t pages_written;
	uint64_t pages_skipped_parent;
	uint64_t pages_lazy;
	uint64_t bytes;         /* bytes that crossed the wire in this round */
	double ms;              /* wall time of the round */
	uint32_t frozen_us;     /* criu's own figure */
	uint32_t memdump_us;
	uint32_t memwrite_us;
};

struct report {
	double t0;                 /* now_ms() at start; all times relative to it */
	char *strategy;            /* stop | pre | post | hybrid */
	char *result;              /* ok | rolled-back | failed */
	char *error;               /* why, when not ok */
	char *workload;            /* "pid:1234" or "lxc:name" */
	char *source, *destination;
	double downtime_ms;        /* freeze -> resumed on the destination */
	double frozen_ms;          /* freeze -> source released (killed or resumed) */
	double lazy_ms;            /* resume -> all pages arrived (post-copy) */
	double total_ms;
	uint64_t bytes_before_resume;
	uint64_t bytes_total;
	int rounds;                /* pre-copy rounds (0 for stop/post) */
	char *stop_reason;         /* convergence policy's reason, pre/hybrid */
	struct phase *phases;
	size_t nphases;
	struct round_stat *round_stats;
	size_t nrounds;
	json_t *criu_argv;         /* array of {host, argv:[...]} exactly as run */
	json_t *versions;          /* {criu, lxc, kernel} of the source */
	json_t *dest_versions;     /* same for the destination */
	json_t *extra;             /* object merged in: synced files, rootfs mode, notes */
	int events_fd;             /* --events: newline-delimited JSON as it happens, -1 for none */
};

/* result starts as "ok": report_set_error() is the only way to change it. */
void report_init(struct report *r, const char *strategy);
void report_free(struct report *r);
/* Relative time of now. */
double report_now(const struct report *r);
/* Opens a phase at now; returns its index. */
size_t report_phase_begin(struct report *r, const char *name);
void report_phase_end(struct report *r, size_t idx, uint64_t bytes);
/* A phase measured elsewhere (e.g. on the destination, converted). */
void report_phase_add(struct report *r, const char *name, double start_ms, double end_ms, uint64_t bytes);
void report_add_argv(struct report *r, const char *host, char *const argv[]);
/* Appends a copy of one round's figures to round_stats. */
void report_add_round(struct report *r, const struct round_stat *rs);
/* Sets result (NULL means "failed") and replaces error. */
void report_set_error(struct report *r, const char *result, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* --events: one JSON object per line on events_fd, {event, t_ms, ...}:
 * phase-begin, phase-end (every phase, from report_phase_* too), round,
 * log, bytes, freeze, handover, cancel-refused, result. fields is stolen
 * (NULL: none). Nothing happens without an events_fd. */
void report_event(struct report *r, const char *event, json_t *fields);
/* A phase starts now, for the events only: the record comes with
 * report_phase_add once it is over (its figures are known then). */
void report_phase_announce(struct report *r, const char *name);

json_t *report_to_json(const struct report *r);
int report_write_json(const struct report *r, const char *path);
void report_print_summary(const struct report *r, FILE *out);

#endif
