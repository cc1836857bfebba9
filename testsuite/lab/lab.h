/* The lab: two Linux hosts the migrator and the suite drive.
 *
 * Backends behind one interface:
 *  - qemu (default): a network namespace of its own with a bridge (MTU 9000)
 *    on which the harness has an address, and two QEMU guests (KVM where a
 *    boot probe proves it works, else TCG: lab_accel.h) on taps, each on a
 *    throwaway overlay of a cached image.
 *  - ssh: two existing machines given by address.
 * Control: ssh with a per-image key and connection reuse; argv in, exit code,
 * stdout and stderr out, timeout. A lab's state lives in a directory so that
 * `crmig-lab up` and `crmig-lab down` can be separate commands. */
#ifndef CRMIG_LAB_H
#define CRMIG_LAB_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#include "proc.h"

#define LAB_MAX_HOSTS 2
#define LAB_SUBNET "10.77.0"   /* .1 harness, .11/.12 hosts, .100+ workloads */

struct lab_host {
	char name[16];          /* "a", "b" */
	char addr[64];          /* control and migration address */
	pid_t qemu_pid;         /* qemu backend */
	char console[PATH_MAX]; /* console log (qemu backend) */
	char monitor[PATH_MAX]; /* HMP monitor socket (qemu backend) */
};

struct lab_config {
	const char *name;       /* unique per concurrent lab; default "default" */
	const char *backend;    /* "qemu" | "ssh" */
	const char *state_root; /* default build/lab */
	/* qemu */
	const char *image_dir;  /* vm-images/build output */
	const char *payload;    /* payload.img with /opt/crmig, or NULL (installed package) */
	int mem_mb;             /* per guest, default 2048 */
	int boot_timeout_s;     /* default 300 */
	bool persistent;        /* survive the process that booted it (crmig-lab up) */
	/* ssh */
	const char *hosts[LAB_MAX_HOSTS]; /* addresses of the two machines */
	const char *ssh_key;    /* key for root@host */
	const char *harness_addr; /* our address as the hosts see it */
	const char *guest_prefix; /* where crmig lives on the hosts (default /usr) */
};

struct lab {
	char name[64];
	char backend[16];
	char dir[PATH_MAX];        /* state directory */
	char netns[64];            /* qemu backend: the namespace, "" otherwise */
	int netns_fd;              /* open while attached, -1 otherwise */
	char harness_addr[64];
	char key[PATH_MAX];        /* ssh private key */
	char image_dir[PATH_MAX];
	char prefix[PATH_MAX];     /* crmig install prefix on the hosts */
	int nhosts;
	struct lab_host hosts[LAB_MAX_HOSTS];
	char accel[8];             /* qemu backend: "kvm" | "tcg"; "none" for real machines */
	char accel_why[1024];      /* how that was decided (the probe's verdict) */
};

/* Boots (or connects to) the hosts and waits until both answer. On failure
 * nothing is left behind and err says what to do. */
int lab_up(struct lab *l, const struct lab_config *cfg, char *err, size_t errlen);
/* Re-opens a lab booted earlier (crmig-lab up) from its state directory. */
int lab_attach(struct lab *l, const char *state_root, const char *name, char *err, size_t errlen);
/* Stops the qemu processes, removes taps, bridge and namespace, and the
 * overlays. Safe to call twice and on a half-built lab. */
void lab_down(struct lab *l);
/* Releases the process's handles without stopping anything. */
void lab_detach(struct lab *l);

/* Move the calling process into the lab's network (so that its sockets sit
 * on the bridge). No-op for the ssh backend. */
int lab_enter_netns(struct lab *l);
/* Opens l->netns_fd (children are started inside the namespace). */
int lab_open_netns(struct lab *l);

int lab_host_index(const struct lab *l, const char *name); /* -1 if unknown */

/* Runs argv on a host. res->status is the remote exit code, 255 for an ssh
 * failure; timed_out is set when timeout_s passed. */
int lab_run(struct lab *l, int host, char *const argv[], double timeout_s, struct proc_result *res);
/* The same with a shell command line (for pipelines and redirections). */
int lab_sh(struct lab *l, int host, const char *cmdline, double timeout_s, struct proc_result *res);
/* ssh argv prefix for host (for an interactive shell: append nothing). */
char **lab_ssh_argv(struct lab *l, int host, bool tty);
void lab_free_argv(char **argv);

int lab_copy_to(struct lab *l, int host, const char *local, const char *remote, int mode);
int lab_copy_from(struct lab *l, int host, const char *remote, const char *local);

/* Faults. cut: the host's link goes down (qemu: the NIC loses its carrier;
 * ssh: the host drops its peer's traffic). limit: egress rate of the host's
 * link, e.g. "100mbit"; NULL removes the limit. */
int lab_cut_link(struct lab *l, int host, bool cut);
int lab_limit_bw(struct lab *l, int host, const char *rate);

/* The last lines of a host's console (qemu), malloc'ed; "" if none. */
char *lab_console_tail(const struct lab *l, int host, int lines);
/* The guest init an image boots (its manifest's "init"), malloc'ed. */
char *lab_image_init(const char *image_dir);
/* Path of a file beneath the install prefix on the hosts. */
char *lab_guest_path(const struct lab *l, const char *rel);

/* Internal backend table. */
struct lab_backend {
	const char *name;
	int (*up)(struct lab *l, const struct lab_config *cfg, char *err, size_t errlen);
	void (*down)(struct lab *l);
	int (*cut_link)(struct lab *l, int host, bool cut);
};
extern const struct lab_backend lab_backend_qemu;
extern const struct lab_backend lab_backend_ssh;

int lab_save_state(const struct lab *l);
int lab_wait_ssh(struct lab *l, int host, double timeout_s, char *err, size_t errlen);

#endif
