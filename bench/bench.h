/* crmig-bench: what the benchmark's pieces share. The run (crmig-bench.c)
 * collects raw samples into one JSON document; everything after that
 * (medians, baselines, targets, the table, the plots: analyze.c, plots.c)
 * works on that document alone, so `crmig-bench --replot FILE` can redo it
 * without a lab. */
#ifndef CRMIG_BENCH_H
#define CRMIG_BENCH_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#define BENCH_PAGE 4096.0
#define BENCH_MIB (1024.0 * 1024.0)

/* The strategies in the order tables and plots show them. */
extern const char *const bench_strategies[]; /* stop, pre, post, hybrid, NULL */

/* How a row's page stream is protected, one row each; the run (crmig's
 * --page-tls, ids, weights), the analysis and the plots read this table.
 * Every strategy runs with page TLS off; stop-and-copy also runs "on"
 * (crmig's default: kernel TLS on the source where the guest kernel has it,
 * else the relay) and "relay" (the user-space relay forced), so one run
 * shows what TLS costs and what the kernel's TLS saves of it. */
enum bench_tls { BT_OFF, BT_ON, BT_RELAY, BT_COUNT };
struct bench_tls_row {
	const char *name;   /* crmig's --page-tls value, results.json's "page_tls_mode" */
	const char *suffix; /* of the row's label and ids: "", "+tls", "+relay" */
	const char *label;  /* in progress lines and plot legends */
	double weight;      /* expected time against off (TCG emulates the cipher) */
};
extern const struct bench_tls_row bench_tls_rows[BT_COUNT];
/* What a sample or configuration ran with: its "page_tls_mode", or, in
 * results written before there was a relay row, the "page_tls" boolean. */
enum bench_tls bench_tls_of(const json_t *o);

/* A number from an object; NAN when absent or not a number. */
double jnum(const json_t *o, const char *key);
/* The median of the finite values; NAN when there is none. */
double median(double *v, size_t n);

/* analyze.c */
/* One axis of the run's matrix ("sizes", "rates") as results.json recorded it; at most max values. */
size_t matrix_axis(const json_t *doc, const char *key, int *out, size_t max);
/* The phase called name in a crmig report (or a sample that kept its phases), or NULL. */
const json_t *bench_phase(const json_t *report, const char *name);
/* Recomputes "configurations" and "baselines" (medians) from the samples
 * in doc["runs"] and doc["baseline_runs"], then "targets". */
void bench_analyze(json_t *doc);
/* The aggregated row of one configuration, or NULL. container "bare"|"lxc". */
json_t *bench_config(const json_t *doc, const char *strategy, enum bench_tls tls, int size_mb, int rate,
		     const char *container);
json_t *bench_baseline(const json_t *doc, int size_mb, const char *container);
/* The text table and the targets, as the run prints them. */
void bench_print_table(const json_t *doc, FILE *out);
/* A row's median of key with its valid repetitions' spread: "2.14 s (2.01-2.30)". */
void bench_fmt_ms_range(const json_t *row, const char *key, char *buf, size_t len);
void bench_print_targets(const json_t *doc, FILE *out);

/* plots.c: downtime_vs_size.svg, bytes_before_resume_vs_size.svg, timeline.svg in dir. */
int bench_plots(const json_t *doc, const char *dir);

/* Human figures. */
void fmt_ms(double ms, char *buf, size_t len);      /* "1.84 s", "420 ms", "-" */
void fmt_bytes(double b, char *buf, size_t len);    /* "47.1 KB", "210 MB", "-" */
void fmt_size(int mb, char *buf, size_t len);       /* "64 MB", "1 GB" */
void fmt_rate(int rate, char *buf, size_t len);     /* "idle", "1 %/s" */

#endif
