/* The criu dump call of a process tree, shared by the workload kinds: a
 * process tree (workload_pid.c) and a container whose liblxc cannot
 * checkpoint it (workload_lxc.c, lxc#4643), which adds liblxc's options. */
#ifndef CRMIG_WORKLOAD_DUMP_H
#define CRMIG_WORKLOAD_DUMP_H

#include "migrate.h"

/* criu dump or pre-dump of the tree at root as d says, recorded in the
 * report as run on the source; extra: more arguments (NULL-terminated, may
 * be NULL); container: the tree holds TCP connections and locks whatever
 * the options say (as liblxc always assumes). criu's pid, or -1. */
pid_t workload_dump_tree(struct migration *m, const struct dump_spec *d, pid_t root, char *const *extra, bool container);

#endif
