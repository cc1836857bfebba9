/* Calling criu: the argv of every call is built here from a description, so
 * that it can be unit-tested, recorded in the report and replayed by hand. */
#ifndef CRMIG_CRIU_H
#define CRMIG_CRIU_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "tls.h"

/* Inside criu's argv the page-stream socket is always this descriptor. */
#define CRIU_PS_FD 3

enum criu_action {
	CRIU_DUMP,
	CRIU_PRE_DUMP,
	CRIU_RESTORE,
	CRIU_PAGE_SERVER,
	CRIU_LAZY_PAGES,
};

struct criu_call {
	enum criu_action action;
	const char *criu;            /* binary; NULL: $CRMIG_CRIU or "criu" */
	const char *images_dir;      /* -D */
	const char *log_file;        /* -o, relative to the images dir */
	int verbosity;               /* -vN; 0 leaves criu's default */
	pid_t pid;                   /* -t, dump and pre-dump */
	const char *prev_images_dir; /* --prev-images-dir, relative to images_dir */
	bool track_mem;              /* --track-mem */
	bool page_server;            /* dump/pre-dump: pages to the page server; lazy-pages: fetch from one */
	bool ps_socket;              /* --ps-socket CRIU_PS_FD: crmig's own connection */
	bool lazy;                   /* dump/restore --lazy-pages */
	bool tcp_established;
	bool file_locks;
	bool shell_job;
	bool restore_detached;       /* restore -d */
	const char *pidfile;         /* restore --pidfile */
	const char *action_script;   /* --action-script */
	const char *network_lock;    /* dump, pre-dump: --network-lock METHOD; NULL: criu's (iptables). A
				      * restore takes the dump's from the inventory image */
	const struct tls_paths *tls; /* --tls with these files, or NULL */
	char *const *extra;          /* more arguments from the user, NULL-terminated */
};

const char *criu_action_name(enum criu_action a);
const char *criu_binary(const char *override);
/* The argv, NULL-terminated and malloc'ed (free with criu_argv_free). */
char **criu_argv(const struct criu_call *c);
void criu_argv_free(char **argv);
/* The criu config file lines that carry the same options, for the calls that
 * liblxc makes itself (CRIU_CONFIG_FILE): only the options liblxc does not
 * pass. Returns malloc'ed text. */
char *criu_config_text(const struct criu_call *c);

/* Starts criu with ps_fd (if >= 0) as CRIU_PS_FD and stdout/stderr appended to
 * out_log (or /dev/null). Returns the pid, or -1. */
pid_t criu_spawn(char *const argv[], int ps_fd, const char *out_log);
/* The same for a call: its argv appended to argvs (a JSON array of arrays,
 * the report's record of what ran), stdout/stderr in IMAGES/criu.out. */
pid_t criu_spawn_call(const struct criu_call *c, int ps_fd, json_t *argvs);
/* Waits for pid; returns criu's exit code, or 128+signal. */
int criu_wait(pid_t pid);

/* What this host's criu can do. */
struct criu_info {
	char version[32];       /* "4.1.1", "" if criu is missing */
	bool present;
	bool mem_dirty_track;   /* pre-copy */
	bool uffd_noncoop;      /* post-copy of a process tree */
	bool lazy_pages;        /* 'criu check --feature lazy_pages' */
	bool tls;               /* built with GnuTLS */
	bool nft_lock;          /* 'criu check --feature network_lock_nftables' */
	char why_not[256];      /* when present is false, or a feature is missing */
};
void criu_probe(struct criu_info *info, const char *criu_override);
/* What the probe found, as crmig check --json and serve's hello say it:
 * {criu, mem_dirty_track, uffd_noncoop, tls, network_lock_nftables}; each
 * adds its own keys. */
json_t *criu_features_json(const struct criu_info *info);
/* How criu should lock a network namespace it dumps: "nftables" when this
 * host's criu and the peer's (its hello's features) both can, else NULL
 * (criu's default, iptables). A restore takes the dump's method from the
 * images, so one side is not enough. */
const char *criu_netns_lock_method(const struct criu_info *here, json_t *peer_features);

/* At most max_lines lines of a criu log that say what went wrong: "Error"
 * lines first, in the log's order, then other lines mentioning an error. */
char *criu_log_errors(const char *log_path, int max_lines);

#endif
