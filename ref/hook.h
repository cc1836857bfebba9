/* criu's action scripts, answered by crmig. criu runs `crmig hook SOCKET` at
 * each phase (pre-dump, post-dump, status-ready, post-restore, ...); the hook
 * asks the crmig process that started criu, which decides. Its answer to
 * post-dump is the migration's point of no return: 0 lets criu kill the
 * source, anything else makes criu resume it (rollback). */
#ifndef CRMIG_HOOK_H
#define CRMIG_HOOK_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#define HOOK_DIR_PREFIX "hook-" /* the server's directory under run_dir: + mkdtemp's suffix */
#define HOOK_HELD_FILE "held"    /* beside the socket: pids crmig queued a SIGSTOP to */

struct hook_server {
	int lfd;
	char dir[PATH_MAX];
	char sock[PATH_MAX];
	char *command;        /* what to pass to --action-script */
};

/* Returns what the hook tells criu: 0 go on, non-zero roll back. */
typedef int (*hook_fn)(void *ctx, const char *action);
/* Called after a hook was answered, outside criu's critical path, and with
 * action NULL once a second while criu runs (progress). */
typedef void (*hook_after_fn)(void *ctx, const char *action);

int hook_server_open(struct hook_server *h, const char *run_dir);
void hook_server_close(struct hook_server *h);
/* The pids (one per line) crmig queued a SIGSTOP to while criu holds them
 * (mig_queue_stop): should crmig be gone when criu next asks, the client
 * sends them SIGCONT before it answers, so that what criu resumes runs.
 * NULL: none any more. 0 or -1. */
int hook_server_hold(struct hook_server *h, const char *pids);
/* Serves hooks until pid exits or timeout_s passes (then kills it);
 * returns its exit status (128+sig when killed). */
int hook_serve(struct hook_server *h, pid_t pid, hook_fn fn, hook_after_fn after, void *ctx, double timeout_s);

/* The hook client criu runs (crmig-hook, ref/crmig_hook.c), as an absolute
 * path: $CRMIG_HOOK, else crmig-hook beside exe (a build tree), else
 * ../libexec/crmig/crmig-hook from exe's directory (an install); NULL: none
 * (the hook then runs `crmig hook SOCKET` from a script). */
char *hook_client_path(const char *exe);

/* The client's side (ref/hook_client.c, libc only): relays
 * CRTOOLS_SCRIPT_ACTION to the socket, returns the answer to exit with;
 * with crmig gone, continues what it held (HOOK_HELD_FILE) and answers
 * post-dump with a rollback. */
int hook_client_main(const char *sock);

#endif
