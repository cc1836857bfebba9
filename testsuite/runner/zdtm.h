/* CRIU's zdtm static tests, migrated across the lab's two hosts.
 *
 * vm-images/build-zdtm builds the tests of the criu version under test for
 * the image's distro; the payload carries them to /opt/crmig/zdtm on both
 * hosts. A test is started the way zdtm's Makefile starts it (tests.tsv), and
 * many tests share one process tree under the `zdtm` workload (a child
 * subreaper that adopts every test once it daemonizes), so that one migration
 * serves a whole group. After the migration the workload sends each test its
 * SIGTERM and collects its .out: PASS, or FAIL in the test's own words. When a
 * migration fails as a whole, the group is bisected until the test that breaks
 * it names itself; the others keep their verdicts. */
#ifndef CRMIG_ZDTM_H
#define CRMIG_ZDTM_H

#include <stdbool.h>
#include <stddef.h>

#include "suite.h"

#define ZDTM_NAME_MAX 64
#define ZDTM_GROUP_MAX 20     /* tests per migration: a failure costs ~2 log2(n) more migrations */

/* A test's .desc: a Python dict literal of strings (and lists of strings),
 * e.g. {'flavor': 'h', 'opts': '--tcp-established', 'flags': 'suid excl'}.
 * Missing keys take zdtm.py's defaults. Space-separated word lists. */
struct zdtm_desc {
	char flavor[64];           /* default "h ns uns" */
	char flags[256];
	char feature[256];         /* criu check --feature NAME, each word on both hosts */
	char opts[512];            /* criu options for dump and restore */
	char dopts[512];           /* dump only */
	char ropts[512];           /* restore only */
	char arch[128];            /* empty: any */
	int timeout_s;             /* 0: zdtm's default (30 s) */
};

/* Parses a .desc's text (len bytes, need not be NUL-terminated). 0, or -1 with
 * err = "FILE:LINE: what is wrong". file only names the source in messages. */
int zdtm_desc_parse(const char *text, size_t len, const char *file, struct zdtm_desc *d, char *err, size_t errlen);
void zdtm_desc_default(struct zdtm_desc *d);
/* Is word one of the space-separated words of list? */
bool zdtm_word_in(const char *list, const char *word);

enum zdtm_verdict_kind { ZDTM_UNKNOWN, ZDTM_PASS, ZDTM_FAIL, ZDTM_SKIP };

struct zdtm_test {
	char name[ZDTM_NAME_MAX];
	char args[512];            /* as zdtm's Makefile passes them: --pidfile=NAME.pid --outfile=NAME.out ... */
	struct zdtm_desc desc;
	bool hook;                 /* has a NAME.hook (a Python helper zdtm.py runs around each phase) */
	char desc_error[256];      /* its .desc does not parse: the test skips with this, the others run */
	bool broke_alone;          /* this run: its migration failed with it alone (under some strategy) */
};

struct zdtm_verdict {
	enum zdtm_verdict_kind kind;
	char reason[1024];
	bool known_bug;            /* reason names a known upstream bug */
	bool broke_alone;          /* the migration failed with this test alone (bisection's end) */
};

/* The catalogue of a zdtm build directory (tests.tsv and static/NAME.desc).
 * 0, or -1 with err (tests.tsv unreadable or malformed; a bad .desc is the
 * test's own desc_error). */
int zdtm_load(const char *dir, struct zdtm_test **tests, size_t *n, char *err, size_t errlen);

/* Why test t cannot run with this strategy across two hosts (NULL: it can).
 * Static reasons only: the runner checks features on the hosts. */
const char *zdtm_static_skip(const struct zdtm_test *t, unsigned strategy);

/* The criu options a test needs that crmig does not pass by default, as one
 * normalized string (words sorted, "" when none): tests in one group share them. */
void zdtm_extra_opts(const struct zdtm_test *t, char *out, size_t len);

/* Groups of at most max tests that can share one migration: same extra
 * options, and an `excl` test alone, as is one that broke a migration alone
 * under an earlier strategy of the run (broke_alone: it would break its
 * group again, and the bisection would cost ~2 log2(max) migrations). groups[i] lists indexes into tests; each
 * group ends with -1. Returns the number of groups (malloc'd *groups). */
size_t zdtm_plan(struct zdtm_test *const *tests, size_t n, size_t max, int ***groups);
void zdtm_plan_free(int **groups, size_t ngroups);

/* One migration of the tests idx[0..n): fills v[0..n) and returns 0 when the
 * migration as a whole worked, or returns -1 with why when it did not (the
 * verdicts are then meaningless). */
typedef int (*zdtm_run_fn)(void *ctx, const int *idx, size_t n, struct zdtm_verdict *v, char *why, size_t len);

/* Runs idx[0..n) as one group; a group whose migration fails is split in
 * halves until single tests remain, which then fail with the migration's
 * reason. v is indexed like idx. Returns the number of migrations run. */
int zdtm_bisect(const int *idx, size_t n, zdtm_run_fn run, void *ctx, struct zdtm_verdict *v);

/* The runner's entry: run the zdtm tests matching glob (lean: the selection
 * of testsuite/zdtm/lean.list) with the selected strategies, this shard's
 * share of them (every shard_count-th test from shard_index, 1-based); appends
 * one result per test x strategy to *results. Without a zdtm build on the
 * hosts: one failure if required (--suite zdtm|all), else one loud skip. */
struct runner;
int zdtm_run(struct runner *r, const char *glob, bool lean, unsigned strategies, int shard_index, int shard_count,
	     bool required, struct suite_result **results, size_t *n);

#endif
