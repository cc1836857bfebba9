/* One migration, seen from the source: the state shared by the command, the
 * strategies (ref/strategy_*.c) and the workload kinds (ref/workload_*.c). */
#ifndef CRMIG_MIGRATE_H
#define CRMIG_MIGRATE_H

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#include "criu.h"
#include "hook.h"
#include "policy.h"
#include "proto.h"
#include "report.h"
#include "relay.h"
#include "tls.h"

#define CRMIG_STATE_DIR "/var/lib/crmig"
#define WL_CONTAINER_MAX 63       /* a container's name */
#define MAX_LIST 32

struct mig_opts {
	const char *strategy;
	pid_t pid;
	const char *lxc_name;
	const char *lxcpath;
	const char *to;               /* HOST[:PORT] */
	const char *json_path;
	const char *keep_dir;
	const char *cert_dir;
	const char *criu;
	struct converge_policy policy;
	bool tcp_established;
	bool file_locks;
	bool shell_job;
	bool auto_sync;
	const char *rootfs;           /* "sync" | "shared" */
	const char *page_tls;         /* "on" | "relay" | "off" */
	const char *move_ips[MAX_LIST];
	int n_move_ips;
	const char *sync_paths[MAX_LIST];
	int n_sync;
	double timeout_s;
	int verbosity;                /* criu's -v for the calls on the source and the restore */
	int lazy_verbosity;           /* post-copy: the destination's lazy-pages daemon's -v */
	bool quiet;
	bool fail_restore;            /* testing: ask the destination to fail the restore */
	const char *events;           /* --events FILE|FD */
};

struct moved_ip {
	char addr[64];
	int prefix;
	char src_if[32];
	bool removed;                 /* taken off the source */
};

struct migration;

/* A kind of workload: how to find it, dump it, and what the destination
 * needs to restore it. One file each (workload_pid.c, workload_lxc.c). */
struct dump_spec {
	enum criu_action action;      /* CRIU_DUMP or CRIU_PRE_DUMP */
	const char *dir;              /* local images directory (absolute) */
	const char *prev;             /* --prev-images-dir, relative, or NULL */
	int ps_fd;                    /* page stream, -1 for none */
	bool page_server;             /* pages go to the destination's page server */
	bool lazy;                    /* post-copy: criu serves the pages afterwards */
	bool track_mem;
};

/* What the destination's half of a kind gets for a restore. */
struct dest_restore {
	const char *dir;              /* the images */
	json_t *req;                  /* the restore request: its workload and criu's options */
	const char *hook;             /* criu's --action-script */
	const char *criu;             /* for a criu run here: its binary and -v level */
	int verbosity;
	json_t *argvs;                /* each criu command line run here, for the report */
	void (*say)(void *ctx, const char *msg);  /* a line for serve's log */
	void *ctx;
};

/* A workload kind, both halves: the source's (crmig migrate) and the
 * destination's (crmig serve, dest_*). One row each, in its own file
 * (workload_pid.c, workload_lxc.c), listed in workloads.c. */
struct workload_ops {
	const char *kind;             /* "pid" | "lxc": the "kind" of describe() */
	int (*preflight)(struct migration *m);
	json_t *(*describe)(struct migration *m);  /* for "prepare" and "restore" */
	/* Absolute paths to mirror on the destination (files, trees). */
	void (*sync_paths)(struct migration *m, json_t *paths);
	pid_t (*dump_start)(struct migration *m, const struct dump_spec *d);
	void (*dump_done)(struct migration *m, const struct dump_spec *d, int status);
	/* Frees what wl_state holds besides itself (NULL: nothing); wl_state
	 * may be NULL (preflight never ran). */
	void (*release)(struct migration *m);

	/* The destination, for the workload describe() sent. Is it well
	 * formed (its pids, names and paths; nothing on the host looked at)?
	 * 0, or -1 with why: serve_step.c asks before anything else runs. */
	int (*dest_check)(json_t *wl, char *why, size_t len);
	/* Can this host take it? 0, or -1 with err. undo_dir gets a directory
	 * the restore will create for it ("" if none), removed unless the
	 * workload stays. */
	int (*dest_prepare)(json_t *wl, const char *host, char *undo_dir, size_t ulen, char *err, size_t errlen);
	/* Starts the restore: the process that ends when it is done (criu, or
	 * liblxc's restore), for hook_serve; -1 if it cannot start. */
	pid_t (*dest_restore)(const struct dest_restore *r);
	/* Once restored: the root of what runs (a container's init), or -1. */
	pid_t (*dest_root)(const char *dir, json_t *wl);
	/* Once restored, before the source is told (NULL: nothing to do). */
	void (*dest_after_restore)(const struct dest_restore *r, pid_t root, json_t *timing);
	/* Ends a copy restored here; root as dest_root said (0: not known). */
	void (*dest_end)(json_t *wl, pid_t root);
	/* For serve's log: "a process tree", a container's name. */
	const char *(*dest_name)(json_t *wl);
};

/* A strategy: one file each. run() returns 0 when the destination owns the
 * workload, -1 otherwise (with the report's result and error set). */
struct strategy {
	const char *name;
	const char *summary;
	bool needs_mem_track;
	bool needs_lazy;
	int (*run)(struct migration *m);
};

extern const struct strategy strategy_stop, strategy_pre, strategy_post, strategy_hybrid;
extern const struct workload_ops workload_pid, workload_lxc;
/* workloads.c: every kind, and the one a request names (NULL: none). */
extern const struct workload_ops *const workloads_all[];   /* NULL-terminated */
const struct workload_ops *workload_by_kind(const char *kind);
/* strategies.c: the table of strategies and what each needs of criu. */
extern const struct strategy *const strategies_all[];   /* NULL-terminated, in the order users see them */
const struct strategy *strategy_by_name(const char *name);
/* The criu features (criu check --feature NAME) st needs, at most max: their count. */
size_t strategy_features(const struct strategy *st, const char **out, size_t max);
/* What a host with ci lacks for st (NULL: it can run it). */
const char *strategy_why_not(const struct strategy *st, const struct criu_info *ci);
/* {"stop": {"summary": ..., "needs": []}, "pre": {..., "needs": ["mem_dirty_track"]}, ...} */
json_t *strategies_json(void);

struct migration {
	const struct mig_opts *o;
	const struct strategy *st;
	const struct workload_ops *wl;
	void *wl_state;
	struct report rep;

	char host[256];
	int port;
	struct tls_paths tlsp;
	char tls_store[3 * PATH_MAX];
	struct tls_ctx *tls;
	gnutls_session_t sess;
	int ctl_fd;
	struct chan ch;
	json_t *peer;                 /* the destination's hello */
	struct criu_info criu;
	bool page_tls;

	char id[40];
	char dir[PATH_MAX];           /* local images root */
	struct hook_server hook;
	int data_fds[64];             /* our copies of every page stream, for byte counts */
	int n_data;
	struct relay *relays[64];     /* page streams over our TLS (--page-tls on) */
	int n_relays;
	struct relay *ps_relay;       /* the page server's stream now (its digest goes with page-server-wait) */

	struct moved_ip ips[MAX_LIST];
	int n_ips;
	json_t *synced;               /* path -> {size, mtime} sent before the freeze */
	uint64_t sync_bytes;

	double t_freeze, t_dumped, t_resumed, t_released;
	bool frozen, committed, dest_restored;
	bool source_held;             /* post-copy: criu died past the commit; the source is held stopped */
	bool stop_queued;             /* a SIGSTOP waits in the tree criu holds (mig_queue_stop) */
	unsigned long long queued_start; /* lock_root's start time then */
	char *rules_before;           /* iptables before the freeze: criu's lock rules are the new ones */
	pid_t lock_root;              /* the tree criu dumps: crmig lifts its lock, holds it stopped, if criu cannot */
	const char *netns_lock;       /* how criu locks the tree's own network namespace: "nftables", "iptables" */
	int restore_failed;           /* the destination refused: roll back */
	const char *lazy_dir;         /* post-copy: the local images of the lazy dump */
	pid_t criu_pid;               /* the dump or pre-dump running now, 0 for none */

	char err[2048];
};

/* Helpers for strategies (migrate.c). */
json_t *mig_request(struct migration *m, json_t *req);            /* steals req; NULL on error (m->err) */
int mig_call(struct migration *m, json_t *req); /* the same when only success matters: 0 or -1 */
/* After a dump or pre-dump into the destination's page server failed: the
 * page server's own error (a full disk, say) is appended to m->err. */
void mig_page_server_blame(struct migration *m);
int mig_page_channel(struct migration *m, const char *op, json_t *args); /* fd or -1 */
/* criu is done with a page stream (exited, whatever its status): the
 * stream ends now on both hosts, as a relay's would. */
void mig_page_channel_close(int fd);
/* The page server's work is done: its stream's digest with it (relay.h), so
 * that the destination can tell whether the pages arrived as criu sent them.
 * The reply (NULL on error, m->err) says how much it holds. */
json_t *mig_page_server_wait(struct migration *m);
/* The subdirectories of the source's images directory (m->dir; with
 * --keep-images, the bundle): the last dump, pre-copy's round-N, the
 * destination's logs fetched on a failure, criu's action-script sockets.
 * A reused --keep-images directory loses exactly these (clear_old_bundle). */
#define MIG_DIR_FINAL "final"
#define MIG_DIR_ROUND "round-"      /* + the round's number */
#define MIG_DIR_DEST "destination"
#define MIG_DIR_HOOK HOOK_DIR_PREFIX /* hook.h */
char *mig_local_dir(struct migration *m, const char *name);        /* creates it */
/* Runs one dump with the hook handler `on_hook` (NULL: default bookkeeping). */
int mig_dump(struct migration *m, const struct dump_spec *d, hook_fn on_hook, hook_after_fn after);
int mig_send_images(struct migration *m, const char *local_dir, const char *remote_name);
int mig_sync(struct migration *m, bool after_freeze);
/* The files, FIFOs and working directories the processes hold, for
 * mirroring: root is their root directory on this host ("" for ours). Files
 * open for writing and shared writable mappings are resent while frozen. */
void sync_add_held_files(json_t *paths, json_t *pids, const char *root);
/* What a --sync tree holds to mirror (path -> "changed"): files, directories,
 * symlinks, FIFOs, terminal and null-like device nodes (proto_chardev_ok);
 * never sockets or other devices. -1 past SYNC_MAX_ENTRIES. */
int sync_walk_tree(json_t *entries, const char *root);
/* A regular file opened for mirroring (read-only, never blocking); one
 * that another process holds a write lease on is read through that
 * process's own description instead (pidfd_getfd), so that the lease is
 * not broken. -1 with errno. */
int sync_open_for_copy(const char *path);
int mig_move_ips(struct migration *m, bool to_dest);
int mig_restore(struct migration *m, const char *remote_dir, bool lazy);
void mig_abort_dest(struct migration *m);
uint64_t mig_bytes(struct migration *m);
void mig_read_round_stats(struct migration *m, const char *dir, int round, bool final, double ms, uint64_t bytes);
int mig_fail(struct migration *m, const char *result, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void mig_progress(struct migration *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The common post-dump step of stop, pre and hybrid: the images cross, the
 * destination restores; 0 commits, 1 rolls back. */
int mig_post_dump_commit(struct migration *m, const char *final_name);
/* The final, freezing dump into the destination's page server, after the
 * pre-dump round `prev` (NULL for none); round is its number in the report. */
int strategy_final_dump(struct migration *m, const char *prev, int round);
/* Pre-dump rounds until the convergence policy says stop; returns the number
 * of rounds done (the last one is round-N), or -1. */
int strategy_precopy_rounds(struct migration *m);
/* The final dump of post and hybrid: criu serves the pages afterwards. */
int strategy_lazy_dump(struct migration *m, const char *prev, int round);
/* Hybrid: bring the rounds' page maps back from the destination. */
int mig_fetch_pagemaps(struct migration *m, int rounds);
/* A cancel (SIGINT/SIGTERM) came before the handover: m->err says
 * "cancelled" and the caller rolls back. After the handover: false (the
 * refusal is reported once). */
bool mig_cancelled(struct migration *m);
/* recover.c: whether the dump in flight (m->criu_pid) is still alive (true
 * when none runs); after criu was killed under us (status 128+sig), what
 * criu could no longer do: resume the tree it froze, or end the source's
 * copy after a handover. */
bool mig_criu_alive(struct migration *m);
/* The dump in flight ended, and not well (killed, or it gave up): a lazy
 * dump that ended well served every page and ended the source itself. */
bool mig_criu_failed(struct migration *m);
void mig_after_criu_killed(struct migration *m, const struct dump_spec *d, int status);
/* Post-copy, criu killed past the commit: the source was held stopped
 * (m->source_held) until the destination said whether every page had
 * arrived. end: it had (the destination keeps the workload, the source's
 * copy is ended); else the source resumes. */
void mig_settle_held_source(struct migration *m, bool end);
/* Once a dump is done (post-dump), a SIGSTOP queued to every process of the
 * tree criu holds, so that a criu that dies, or resumes the tree, lets go of
 * a stopped tree rather than a running one with its sockets in repair mode;
 * and continuing it: when crmig answers criu with a rollback (criu alive),
 * after criu exited on its own. Consumed by mig_after_criu_killed's acts. */
void mig_queue_stop(struct migration *m);
void mig_unqueue_stop(struct migration *m);
/* The source keeps the workload after criu locked its network: lift what
 * criu left (netlock.h). Safe to repeat, and from the relay's thread. */
void mig_release_netlock(struct migration *m);
/* $CRMIG_STATE_DIR or CRMIG_STATE_DIR; the record of a running migration
 * (STATE/src-ID.json), and at start the clean-up after earlier ones that
 * were killed (their workload resumed if left stopped, their images). */
const char *mig_state_dir(void);
void mig_record_source(struct migration *m);
void mig_forget_source(struct migration *m);
void mig_recover_sources(void);

/* Default hook bookkeeping (freeze/dump timestamps). */

int mig_hook_bookkeeping(struct migration *m, const char *action);

int cmd_migrate(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_tree(int argc, char **argv);
int cmd_cert(int argc, char **argv);

#endif
