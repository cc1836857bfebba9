/* crmig gui: a page on 127.0.0.1 that shows the hosts' process trees and
 * migrates by drag and drop (the talk's "CRIU Process Migration GUI").
 *
 * Pieces: gui_state.c keeps the model and the numbered event log the page
 * follows over Server-Sent Events; gui_http.c is the HTTP layer
 * (libmicrohttpd: routes, token, Host/Origin checks, CSP, SSE); gui_hosts.c
 * feeds the model from real hosts (their `crmig serve` over mutual TLS, and
 * `crmig migrate --events` over ssh); gui_replay.c feeds it from a recorded
 * fixture instead; gui.c is the command. */
#ifndef CRMIG_GUI_H
#define CRMIG_GUI_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define GUI_TOKEN_HEX 32           /* 128 bits of session token */
#define GUI_MAX_BODY (64 * 1024)   /* a POST body larger than this is refused (413) */
#define GUI_RING 4096              /* events kept for replay after a reconnect */

/* What starts and cancels migrations: real hosts or a replay. */
struct gui_backend {
	/* req is validated (from, to, strategy, target, options); fills id. 0,
	 * or -1 with err and the HTTP status to answer. */
	int (*migrate)(void *ctx, json_t *req, const char *id, char *err, size_t errlen, int *status);
	/* Called only before the handover; 0 if the cancel was passed on. */
	int (*cancel)(void *ctx, const char *id, char *err, size_t errlen);
	/* The preflight: asks host for a fresh `crmig check`; its answer comes
	 * later as a host event with a higher check_seq. 0, or -1 with err. */
	int (*preflight)(void *ctx, const char *host, char *err, size_t errlen);
	void *ctx;
};

struct gui_event {
	uint64_t id;
	char *text;                /* the whole SSE frame: "id: N\nevent: T\ndata: JSON\n\n" */
};

struct gui_state {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct gui_event *ring;
	size_t cap, count, head;   /* head: index of the oldest kept event */
	uint64_t last_id;          /* of the newest event, 0 before the first */
	json_t *hosts;             /* array of {name, addr, check, procs, error} in --hosts order */
	json_t *migrations;        /* array of {id, from, to, target, strategy, options, state, handover, events, report} */
	int next_mig;
	bool closing;
	struct gui_backend backend;
};

struct gui_state *gui_state_new(size_t ring_cap);
void gui_state_free(struct gui_state *st);
/* Wakes every waiting event stream: they end. */
void gui_state_close(struct gui_state *st);

/* Adds an event (data is stolen), applies it to the model, wakes the
 * streams; returns its id. Types: host, tree, tree-diff, mig-start,
 * mig-event, mig-end. */
uint64_t gui_emit(struct gui_state *st, const char *type, json_t *data);
/* A host's process list as it is now: the first one is sent whole (tree),
 * later ones as the difference (tree-diff: added, removed, changed), none
 * when nothing changed. procs is stolen. */
void gui_tree_update(struct gui_state *st, const char *host, json_t *procs);
/* Adds or updates a host (name, addr, check, error). A new check also
 * counts up the host's check_seq and stamps checked_ms (wall clock). */
void gui_host_update(struct gui_state *st, const char *name, const char *addr, json_t *check, const char *error);

/* The whole model, as the "snapshot" event carries it: {hosts, migrations, last_id}. */
json_t *gui_snapshot(struct gui_state *st);

/* For an event stream that has seen up to `after`: the frames of what came
 * since, concatenated (malloc'ed, "" when nothing) and *upto set to the last
 * one's id. When `after` is older than the ring (or from another run), a
 * snapshot frame comes first instead of the lost ones. Waits up to
 * timeout_ms for something new; NULL when the state is closing. */
char *gui_events_since(struct gui_state *st, uint64_t after, bool first, int timeout_ms, uint64_t *upto);

/* The requests of the page, validated. Return the HTTP status and fill
 * *reply (a JSON object: {id} or {error}). */
int gui_request_migrate(struct gui_state *st, json_t *req, json_t **reply);
int gui_request_cancel(struct gui_state *st, json_t *req, json_t **reply);
/* {from, to}: both hosts run `crmig check` again (202, {check_seq: {HOST:
 * N}}: the page waits for host events with a check_seq above N). */
int gui_request_preflight(struct gui_state *st, json_t *req, json_t **reply);

/* Which strategies the pair from -> to allows: {name: null | "reason"}. */
json_t *gui_pair_strategies(struct gui_state *st, const char *from, const char *to);

/* A migration's own events (crmig migrate --events lines), wrapped as
 * mig-event {id, ev}; a "result" event also ends it (mig-end). */
void gui_mig_event(struct gui_state *st, const char *id, json_t *ev);
/* Ends a migration that produced no result (crmig died): mig-end {id, report:null, error}. */
void gui_mig_fail(struct gui_state *st, const char *id, const char *error);
/* The migration's record (borrowed, under no lock: for the backends' own
 * thread, which is the only writer of its migrations). */
bool gui_mig_handover(struct gui_state *st, const char *id);

/* ---- the HTTP layer ------------------------------------------------------ */

struct gui_http;
struct gui_http_opts {
	const char *listen;        /* ADDR:PORT, port 0 for any free one */
	const char *token;         /* GUI_TOKEN_HEX hex digits */
};
/* Starts serving; *port gets the bound port. NULL with err on failure. */
struct gui_http *gui_http_start(struct gui_state *st, const struct gui_http_opts *o, int *port, char *err,
				size_t errlen);
void gui_http_stop(struct gui_http *h);
/* "ADDR:PORT" (port 0 allowed): 0, or -1 when it is not that. */
int gui_split_listen(const char *s, char *host, size_t hostlen, int *port);

/* Embedded assets (generated from ref/gui_assets/ at build time). */
struct gui_asset {
	const char *name;          /* "index.html" */
	const unsigned char *data;
	size_t len;
};
extern const struct gui_asset gui_assets[];
extern const size_t gui_assets_count;

/* ---- feeding the model --------------------------------------------------- */

struct gui_hosts_opts {
	const char *hosts;         /* "a=ADDR,b=ADDR" */
	const char *lab;           /* lab name: build/lab/NAME/state.json */
	const char *lab_root;      /* default build/lab */
	const char *cert_dir;      /* client identity for the hosts' crmig serve */
	const char *crmig;         /* crmig on the hosts (default: crmig, the lab's prefix/bin/crmig) */
	double poll_s;             /* tree refresh, default 2 */
};
struct gui_hosts;
struct gui_hosts *gui_hosts_start(struct gui_state *st, const struct gui_hosts_opts *o, char *err, size_t errlen);
void gui_hosts_stop(struct gui_hosts *h);

struct gui_replay;
/* fixture: see testsuite/gui/fixtures/README.md; speed: 1 plays in real time. */
struct gui_replay *gui_replay_start(struct gui_state *st, const char *fixture, double speed, char *err, size_t errlen);
void gui_replay_stop(struct gui_replay *r);

int cmd_gui(int argc, char **argv);

#endif
