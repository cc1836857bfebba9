/* The steps of one instance (instance.c), for callers that compose them
 * differently than run_instance() does: the soak (soak.c) starts one
 * workload and moves it back and forth many times. */
#ifndef CRMIG_INSTANCE_H
#define CRMIG_INSTANCE_H

#include "mode.h"
#include "runner.h"
#include "service_check.h"

struct inst_ctx {
	struct runner *r;
	const struct suite_instance *in;
	const struct workload_kind *kind;
	const struct suite_mode *mode; /* bare or lxc: its row (mode.h) */
	struct suite_result *res;
	struct mode_wl wl;        /* the workload as its mode knows it: slug, dir, container, addr, pid */
	int where;                /* host the workload runs on now */
	struct tcp_peer *peer;
	struct svc_check svc;     /* a service kind: the harness's client, kept connected */
	json_t *state_before[2];
	double t_start, t_end;    /* the migration on the probe's clock */
	int fault_done;           /* the case's fault was injected (once: a retry runs clean) */
	char crmig_out[8192];
};

/* res reset for in; false (res says why) if the instance cannot run. */
bool inst_begin(struct inst_ctx *x, struct runner *r, const struct suite_instance *in, struct suite_result *res);
/* The strategy's needs of criu (ref/strategies.c) on both hosts; false and why if not. */
bool inst_strategy_supported(struct runner *r, unsigned strategy, char *why, size_t len);
/* Both hosts' state before (for inst_end's comparison). */
void inst_record_hosts(struct inst_ctx *x);
int inst_start_workload(struct inst_ctx *x, char *err, size_t errlen);
/* One leg with x->in->strategy; its report into *report (owned). -1: no report. */
int inst_migrate(struct inst_ctx *x, int from, int to, json_t **report);
/* A leg's report and source judged; true if the workload now runs on to. */
bool inst_judge_leg(struct inst_ctx *x, json_t *report, int from, int to);
/* kill -SIG the workload where it runs (a container's init forwards it). */
int inst_signal(struct inst_ctx *x, const char *sig);
/* The final check: signal, echo, verdict, peer, heartbeats. */
void inst_final_check(struct inst_ctx *x, bool migrated);
/* Once it ran (ran): a failure is kept (bundle), the hosts cleaned and
 * compared with inst_record_hosts(); then the result is classified. */
void inst_end(struct inst_ctx *x, json_t *report, bool ran);
int inst_fail(struct inst_ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Interrupted (SIGINT) while it ran: a failure becomes a skip that says so. */
void inst_interrupted(struct suite_result *res);

#endif
