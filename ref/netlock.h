/* Undoing criu's network lock when criu could not.
 *
 * For a dump with --tcp-established criu locks the tree's connections: each
 * socket goes into repair mode (TCP_REPAIR) and, outside a network
 * namespace, gets an iptables DROP rule marked 0xc114. A dump that fails
 * unlocks them, but a lazy dump (post-copy, hybrid) whose page transfer
 * fails resumes the tasks with their connections still locked: criu 4.1.1's
 * cr_dump_finish() runs network_unlock() before cr_lazy_mem_dump(), and only
 * when the dump itself failed. Measured in the lab (dst-restore:kill-self,
 * post, tcp workload): the resumed workload's recv() failed with EPERM, the
 * socket in repair mode, the rules still there. A criu killed after the lock
 * leaves the same.
 *
 * criu also locks a network namespace it dumps (a container's) from inside:
 * an nftables table "inet CRIU-<run id>" or an iptables and ip6tables chain
 * CRIU that INPUT and OUTPUT jump to, dropping every packet not marked
 * 0xc114. A criu killed after it (final dump, or a lazy dump's page
 * transfer) leaves it, and the resumed container's network is dead: every
 * packet dropped, its connections time out. */
#ifndef CRMIG_NETLOCK_H
#define CRMIG_NETLOCK_H

#include <sys/types.h>

/* Turns repair mode off on every TCP socket of root's tree that is in it
 * (borrowed with pidfd_getfd: the tree's own socket), so that the
 * connection goes on. Returns how many sockets, -1 if root is gone. */
int netlock_unrepair_tree(pid_t root);
/* Lifts criu's lock of root's network namespace if it is not ours: the
 * nftables tables, and with iptables (netns_lock not "nftables") the CRIU
 * chains. Returns how many it lifted, -1 if root's namespace is gone. */
int netlock_release_netns(pid_t root, const char *netns_lock);
/* The source keeps the workload after criu locked it: unrepair its tree,
 * lift the lock rules new since before (net_drop_criu_lock_rules) and the
 * lock of its own network namespace. Returns the sockets plus rules, for a
 * progress line. */
int netlock_release(pid_t root, const char *rules_before, const char *netns_lock);

#endif
