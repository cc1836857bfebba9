/* A hostile client of `crmig serve` (issue 12): garbage instead of a TLS
 * ClientHello, a huge frame length and garbage frames in an authenticated
 * session, a TLS handshake left half-done, a crowd of idle connections, a
 * client that sends requests and never reads the answers. Each attack must
 * end with serve closing the connection within a bound; while the last three
 * are held, a real request from a second client must still be answered.
 * Used by crmig-hostile (the program), the lab case flag `hostile` and
 * testsuite/unit/test_hostile.c. */
#ifndef CRMIG_HOSTILE_H
#define CRMIG_HOSTILE_H

#include <jansson.h>
#include <stdbool.h>

#define HOSTILE_MAX 8

struct hostile_opts {
	const char *host;       /* serve's address (also the name its certificate must carry) */
	int port;
	const char *cert_dir;   /* ca.crt, host.crt, host.key: an identity serve trusts */
	int idle_conns;         /* how many idle TCP connections at once (default 200) */
	double bound_s;         /* serve must have closed each connection this long after the attack (default 90) */
	double answer_s;        /* the real request must be answered within this (default 20) */
	bool verbose;           /* progress on stderr */
};

struct hostile_attack {
	const char *name;
	bool ok;
	double close_ms;        /* attack's last byte -> serve closed; -1: open at the bound */
	char what[320];         /* what serve did, in words */
};

struct hostile_report {
	struct hostile_attack a[HOSTILE_MAX];
	int n;
	bool answered;          /* the real request while the held attacks were held */
	double answer_ms;
	bool answered_after;    /* one more once every attack ended */
	char answer_err[256];
	bool ok;                /* every attack ok and both requests answered */
};

/* Runs every attack against serve; fills r; returns 0 when all went as they
 * must, -1 otherwise (r says which and why). */
int hostile_run(const struct hostile_opts *o, struct hostile_report *r);
json_t *hostile_report_json(const struct hostile_report *r);
/* One line per attack, for reasons and logs (malloc'ed). */
char *hostile_report_text(const struct hostile_report *r);

/* The lab case (flags = hostile, hostile_case.c): the attacks on `host`'s
 * serve with the other host's identity, serve's VmRSS, fds and children
 * sampled before and after (given a few seconds to settle), all of it under
 * details["hostile"]. -1 with why when an attack was not withstood, RSS grew
 * by more than HOSTILE_RSS_NOISE_KB, or fds or children stayed up. */
#define HOSTILE_RSS_NOISE_KB 2048
struct runner;
int hostile_case(struct runner *r, int host, json_t *details, char *why, size_t whylen);

#endif
