/* crmig-suite soak: one workload that holds memory and a TCP stream moves
 * A -> B -> A for N round trips, cycling the strategies both hosts support,
 * its state checked after every leg (every page, every stream byte,
 * heartbeats); crmig serve on both hosts is watched for growth (RSS, open
 * fds, children, files under its state directory). The pure parts are here
 * for the unit tests (test_soak.c); suite_soak() drives the lab. */
#ifndef CRMIG_SOAK_H
#define CRMIG_SOAK_H

#include <stdbool.h>
#include <stddef.h>

#include "runner.h"

#define SOAK_MAX_ROUNDS 100000

/* What one look at crmig serve on a host found. */
struct soak_sample {
	long pid, rss_kb, fds, children, files;
};

/* Growth allowed from round 1 to the last round (after it settled). */
struct soak_limits {
	long rss_kb, fds, children, files;
};
#define SOAK_LIMITS_DEFAULT ((struct soak_limits){ .rss_kb = 4096, .fds = 0, .children = 0, .files = 0 })

/* "N" with 1 <= N <= SOAK_MAX_ROUNDS; 0 or -1. */
int soak_parse_rounds(const char *s, int *rounds);
/* The strategy of round (from 1): the strategies of mask in table order
 * (stop, pre, post, hybrid), one a round, again from the first; 0 if none. */
unsigned soak_strategy_for_round(unsigned mask, int round);
/* "pid=N rss_kb=N fds=N children=N files=N" (SOAK_SAMPLE_SH's output); 0 or -1. */
int soak_parse_sample(const char *text, struct soak_sample *s);
/* The answer to round check n (SOAK_ROUND_WAIT_SH's output): 1 passed, 0
 * failed (why says how), -1 no answer or not one for n (why says what came). */
int soak_parse_round(const char *text, unsigned n, char *why, size_t len);
/* "serve on a: rss 5.1→5.2 MiB, fds 9→9, children 0→0, files 3→3" */
void soak_figures(const char *host, const struct soak_sample *first, const struct soak_sample *last, char *buf,
		  size_t len);
/* Within the limits? false and why (what grew, by how much) if not. */
bool soak_leak_verdict(const struct soak_sample *first, const struct soak_sample *last, const struct soak_limits *lim,
		       char *why, size_t len);

/* Runs the soak on the lab, one result per mode in modes (MODE_*). */
void suite_soak(struct runner *r, int rounds, unsigned modes, unsigned strategies, struct suite_result **results,
		size_t *n);

#endif
