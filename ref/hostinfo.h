/* What a host looks like to someone who wants to migrate from it: its
 * processes (with the reasons some of them cannot move) and what its criu
 * and kernel allow. `crmig tree` and `crmig check` print it; `crmig serve`
 * answers the "tree" and "check" requests of `crmig gui` with it. */
#ifndef CRMIG_HOSTINFO_H
#define CRMIG_HOSTINFO_H

#include <jansson.h>
#include <sys/types.h>

#include "criu.h"

/* Every process of this host (kernel threads too), a flat list of
 * {pid, ppid, name, cmdline, user, state, threads, rss_kb, tcp, container,
 *  container_init, kthread, tty, migratable, why_not, target}. target is
 * what `crmig migrate` is given ({"pid":N} or {"lxc":NAME}), null when
 * migratable is false. */
json_t *hostinfo_procs(void);
/* The subtree of root as nested {..., children:[...]} (crmig tree --json). */
json_t *hostinfo_nest(json_t *procs, pid_t root);
/* crmig check --json: versions, features, strategies, and for each
 * strategy this host cannot run the reason (why_disabled). */
json_t *hostinfo_check(const struct criu_info *ci);

#endif
