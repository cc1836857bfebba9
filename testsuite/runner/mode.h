/* A mode: how a workload runs on a lab host, as a bare process tree or in
 * an LXC container. One file and one row each (mode_bare.c, mode_lxc.c);
 * the case loader (the names), the instance, the soak and the bench read
 * the row instead of asking "is it a container?" wherever they differ. */
#ifndef CRMIG_SUITE_MODE_H
#define CRMIG_SUITE_MODE_H

#include <limits.h>
#include <stdbool.h>

#include "runner.h"

/* One workload as its mode knows it. */
struct mode_wl {
	char slug[96];       /* the instance id as a file and container name */
	char id[96];         /* the id the workload carries (--id), for the cleanup's pkill */
	char container[32];  /* lxc: the container's name */
	char addr[32];       /* an address of its own on the lab's bridge, or "" */
	char dir[PATH_MAX];  /* its directory (verdict, log), as the host sees it */
	int pid;             /* bare: the tree's root; lxc: the container's init */
};

/* What start() runs on host a. */
struct mode_start {
	const char *program; /* the workload's binary on the host */
	const char *with;    /* lxc: another program the container needs (a service), or NULL */
	const char *args;    /* the workload's arguments */
	int timeout_s;
};

struct suite_mode {
	const char *name;    /* "bare", "lxc": cases' modes =, ids, reports */
	const char *summary; /* for crmig-suite --help */
	unsigned bit;        /* MODE_BARE, MODE_LXC */
	int addr_base;       /* its addresses: LAB_SUBNET.(addr_base + n % 50) */
	bool own_addr;       /* always has an address of its own (a container's) */
	bool moves_addr;     /* an address of its own is bound by the workload and moved by crmig --move-ip */
	bool locks_netns;    /* criu dumps a network namespace of its own and locks it: the report's
			      * network_lock says how (nftables where both hosts' criu can) */
	const char *target_usage;   /* crmig migrate's target, for REPLAY.txt: "--pid PID" */
	const char *not_resumed;    /* after_killed's failure: "left the workload stopped" */
	double bench_fixed_s;       /* the bench's ETA: a migration's extra fixed seconds */
	const char *user_way;       /* the bench's baseline: what a user does by hand */

	/* Starts the workload on host a: fills dir and pid; -1 and why. */
	int (*start)(struct runner *r, struct mode_wl *w, const struct mode_start *s, char *why, size_t len);
	/* crmig migrate's target: "--pid 123", "--lxc cs7". */
	char *(*crmig_target)(const struct mode_wl *w);
	/* A shell word for the workload's pid on the host it runs on now. */
	char *(*pid_word)(const struct mode_wl *w);
	/* Exits 0 while the workload runs on the host (a zombie does not);
	 * with wait_for_gone, gives it up to 5 s to go first. */
	char *(*running_cmd)(const struct mode_wl *w, bool wait_for_gone);
	/* Exits 0 once the workload runs on (not stopped, not frozen), 10 s at most. */
	char *(*resumed_cmd)(const struct mode_wl *w);
	/* Removes everything of the workload from a host (its tree, container, address, directory). */
	char *(*cleanup_cmd)(struct runner *r, const struct mode_wl *w);

	/* The bench's baseline (bench/crmig-bench.c): the user's own way as one
	 * script on host a, dumping into img and restoring on bhost; it prints
	 * "STEPS dump_ms copy_ms restore_ms image_bytes". ssh_opts: ssh's options. */
	char *(*user_script)(const struct mode_wl *w, const char *img, const char *bhost, const char *ssh_opts);
	/* The same images restored on host a itself (the floor's local restore). */
	char *(*local_restore_cmd)(const struct mode_wl *w, const char *img);
	/* Before the freeze a user has this copied to b already (lxc: the container's directory), or NULL. */
	char *(*user_precopy)(const struct mode_wl *w, const char *bhost, const char *ssh_opts);
	/* Stops a restored copy (the floor's local restore, the copy on b). */
	char *(*stop_cmd)(const struct mode_wl *w);
};

extern const struct suite_mode mode_bare, mode_lxc;
/* Every mode, in expansion order; NULL-terminated. */
extern const struct suite_mode *const suite_modes[];
/* The mode of one bit, or NULL. */
const struct suite_mode *suite_mode_of(unsigned bit);
/* The i-th mode's bit, 0 past the last: for (unsigned i = 0, m; (m = suite_mode_bit(i)); i++) */
unsigned suite_mode_bit(size_t i);

#endif
