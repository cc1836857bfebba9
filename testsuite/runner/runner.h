/* The runner's own state: the lab it drives, the harness's probe, and the
 * helpers that make each instance read as intent (start the workload,
 * migrate, signal, collect the verdict, check the hosts). */
#ifndef CRMIG_RUNNER_H
#define CRMIG_RUNNER_H

#include <jansson.h>
#include <signal.h>

#include "../lab/lab.h"
#include "suite.h"

#define PROBE_PORT 7300
#define HOST_A 0
#define HOST_B 1
#define WORK_ROOT "/var/tmp/crmig-suite"
#define RUNNER_LAB_CHECKS 12 /* results runner_lab_checks() reports */
#define SERVICE_KEYS 1000    /* keys a service kind is loaded with before the migration */

struct runner_opts {
	const char *distro;
	const char *image;
	const char *payload;
	const char *lab_name;       /* attach to this running lab instead of booting one */
	const char *cases_dir;
	const char *glob;
	const char *tier;
	unsigned strategies, modes;
	int shard_index, shard_count;
	const char *tap, *junit, *json, *html, *keep;
	int mem_mb;
	bool lab_checks;
	bool suite_cases, suite_zdtm;   /* --suite cases|zdtm|all (default all: the case files and zdtm) */
	bool suite_given;               /* --suite named zdtm: its tests missing is a failure, not a skip */
	const char *criu_src;           /* --criu-src DIR|TARBALL: zdtm's tests from this criu source */
	char *zdtm_missing;             /* why the payload built for the run carries no zdtm tests, or NULL */
	int rounds;                     /* soak --rounds N */
	const char *payload_out;        /* build the payload there (default TOPDIR/build/guest-DISTRO) */
	const char *lab_prefix;         /* an own lab is named PREFIX-PID (default "suite"; validate: "val") */
};

struct runner {
	const struct runner_opts *o;
	struct lab lab;
	bool own_lab;               /* booted by us: torn down by us */
	struct probe *probe;
	char distro[32];
	char tmp[PATH_MAX];         /* local scratch */
	json_t *features;           /* feature name -> {a: bool, b: bool}, cache of criu check --feature */
	int next_addr;
	FILE *tap;
	size_t tap_n;
	/* Called at the point of a failure, before its cleanup (crmig-suite replay --shell). */
	void (*hold)(struct runner *r, const struct suite_result *res);
};

extern volatile sig_atomic_t runner_interrupted;

/* Where the suite's data lives (cases, vm-images): $CRMIG_SUITE_DATA, next to
 * the binary when installed, or the source tree. malloc'ed, NULL if absent. */
char *suite_data_dir(const char *what);

/* lab_setup.c */
int runner_lab_up(struct runner *r, char *err, size_t errlen);
void runner_lab_down(struct runner *r);
/* Certificates for both hosts (and a rogue identity on a), `crmig serve` running. */
int lab_provision_crmig(struct lab *lab, char *err, size_t errlen);
/* The lab's own checks, as TAP results; returns the number that failed. */
int runner_lab_checks(struct runner *r, struct suite_result **results, size_t *n);
/* After teardown: nothing of the lab may be left. */
void runner_teardown_check(struct runner *r, struct suite_result *res);
bool runner_host_has_feature(struct runner *r, const char *feature, char *why, size_t len);

/* ssh helpers: run a command line on a host; output into r->out (freed by caller). */
int host_sh(struct runner *r, int host, double timeout_s, struct proc_result *res, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* The same when only the exit status matters (stderr shown on failure). */
int host_ok(struct runner *r, int host, double timeout_s, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Polls DIR/verdict on a host (a workload writes it once it has checked its state): 0 and the
 * verdict's text, or -1 after timeout_s or an interrupt. */
int host_wait_verdict(struct runner *r, int host, const char *dir, double timeout_s, char *verdict, size_t len);
char *guest_path(struct runner *r, const char *rel);

/* via_gui.c (flags = via-gui): the migration a -> b through crmig gui, a
 * headless browser driving it; crmig's report from the page into *report.
 * 0, VIA_GUI_SKIP (chromium, chromedriver or selenium missing: why says
 * what to install) or -1 (why says what failed); out: what it printed. */
#define VIA_GUI_SKIP 77
int via_gui_migrate(struct runner *r, int pid, const char *strategy, double timeout_s, json_t **report, char *out,
		    size_t outlen, char *why, size_t whylen);

/* payload.c: crmig for the guests when no --payload was given (vm-images/build-payload). */
struct payload_plan {
	char image[PATH_MAX];
	char topdir[PATH_MAX];      /* the project's sources */
	char script[PATH_MAX];      /* TOPDIR/vm-images/build-payload */
	char out[PATH_MAX];         /* TOPDIR/build/guest-DISTRO, as make payload */
	char payload[PATH_MAX];     /* OUT/payload.img */
	char zdtm[PATH_MAX];        /* zdtm's tests built for the image (vm-images/build-zdtm), "" if none */
	char distro[32];
};
/* The source tree crmig-suite runs from ($CRMIG_SUITE_DATA, or two levels up
 * from exe_dir as in build/host/crmig-suite), malloc'ed; NULL if none. */
char *payload_source_tree(const char *exe_dir);
/* 1: a payload must be built, as p says; 0: none needed (the image has
 * /usr/bin/crmig); -1: it cannot be (err says what to pass instead). */
int payload_plan(const char *image_dir, const char *exe_dir, struct payload_plan *p, char *err, size_t errlen);
char **payload_argv(const struct payload_plan *p);   /* NULL-terminated, each string malloc'ed */
void payload_argv_free(char **argv);
bool payload_up_to_date(const struct payload_plan *p, char *why, size_t len);
/* Builds (or finds up to date) the payload for image_dir; its path, or NULL
 * with err "" when none is needed, or NULL with err set. */
char *payload_ensure(const char *image_dir, const char *criu_src, char *err, size_t errlen);
/* The same into out_dir instead of TOPDIR/build/guest-DISTRO (NULL: that one),
 * with zdtm's tests only if with_zdtm (validate: one payload per image). */
char *payload_ensure_in(const char *image_dir, const char *criu_src, const char *out_dir, bool with_zdtm, char *err,
			size_t errlen);
/* For run, demo, replay: without --payload (and without --lab), o->payload
 * becomes the built one (*built, to free). -1 after printing why. */
int runner_ensure_payload(struct runner_opts *o, char **built);

/* demo.c: migrate a container with each strategy and print the table. */
int suite_demo(struct runner *r);

/* main.c: one whole run as `crmig-suite run` does it (image, payload, lab
 * up, its checks, the instances, zdtm, lab down); validate calls it once per
 * image. -1: the matrix cannot be loaded (said why); else 0, lab_failed when
 * the image, payload or lab did not come up (said why, no results). */
struct suite_run {
	/* Called with the lab still up, after the instances (validate re-runs some there). */
	void (*before_down)(struct runner *r, struct suite_result *results, size_t n, void *ctx);
	void *ctx;
	struct suite_result *results;   /* the lab's checks, the instances, teardown */
	size_t n;
	struct suite_case *cases;       /* what results[].inst.c points into */
	struct suite_instance *list;
	size_t ncases, nlist;
	size_t migrations, skipped_migrations;
	char distro[32], accel[16];
	bool lab_failed;
};
int suite_run(struct runner_opts *o, struct suite_run *run);
void suite_run_free(struct suite_run *run);

/* validate.c: crmig-suite validate (the archive's packages against candidates). */
int cmd_validate(int argc, char **argv, const struct runner_opts *defaults);

/* instance.c */
void run_instance(struct runner *r, const struct suite_instance *inst, struct suite_result *res);
/* Checks that a crmig report has every contract key with the right type. */
bool crmig_report_complete(json_t *rep, char *why, size_t len);

#endif
