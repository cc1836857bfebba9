/* crmig-suite validate: the same instances on the archive's packages (the
 * baseline) and on candidate .debs, compared instance by instance. The
 * comparison itself (validate_cmp.c) is pure: results in, verdicts out. */
#ifndef CRMIG_VALIDATE_H
#define CRMIG_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

#include "suite.h"

enum validate_verdict {
	VV_UNCHANGED,       /* pass/pass, fail/fail of the same kind, skip/skip */
	VV_REGRESSION,      /* pass -> fail (or skip -> fail: newly run, and it fails; or a known
			     * upstream bug -> a real failure of another kind) */
	VV_FIXED,           /* fail -> pass */
	VV_NEWLY_SKIPPED,   /* pass or fail -> skip (why: the candidate's skip reason) */
	VV_NEWLY_RUN,       /* skip -> pass */
	VV_CHANGED,         /* fail -> fail, but of another kind */
	VV_MISSING,         /* ran on one side only (the other run ended early) */
};

/* Figures: slower when the candidate's is above ratio x the baseline's AND
 * more than abs above it (both, so that neither a tiny nor a noisy figure
 * alone makes a regression). Looks slower once -> the instance runs again,
 * and only a second slow run makes a figure regression. */
#define VALIDATE_RATIO 1.5
#define VALIDATE_DOWNTIME_ABS_MS 200.0
#define VALIDATE_BYTES_ABS (1024.0 * 1024.0)

struct validate_figures {
	double downtime_ms;         /* crmig's report's downtime_ms, else the probe's gap; -1 unknown */
	double bytes_before_resume; /* crmig's report's; -1 unknown */
};

struct validate_pair {
	char id[96];                            /* the instance's id */
	const struct suite_result *base, *cand; /* either may be NULL (VV_MISSING) */
	const struct suite_result *rerun;       /* the candidate's second run, when its figures looked worse */
	enum validate_verdict verdict;
	struct validate_figures fb, fc, fr;     /* baseline, candidate, re-run (fr -1 when none) */
	bool downtime_worse, bytes_worse;       /* figure regressions: worse on the first run AND the re-run */
};

const char *validate_verdict_name(enum validate_verdict v);  /* "unchanged", "regression", ... */
/* The kind of a failure, to tell "fails the same way" from "fails otherwise":
 * the known bug's id when it is one, else the reason's first clause (up to a
 * ':' or '(') with digits folded to '#', so that pids, ports and sizes do not
 * make two failures differ. */
void validate_reason_kind(const struct suite_result *r, char *buf, size_t len);
enum validate_verdict validate_verdict_of(const struct suite_result *base, const struct suite_result *cand);
void validate_figures_of(const struct suite_result *r, struct validate_figures *f);
/* cand worse than base beyond the threshold (ratio and abs); false when either is unknown (< 0). */
bool validate_worse(double base, double cand, double ratio, double abs);
/* Does the candidate's first run look worse (downtime or bytes) than the baseline's? Both must have passed. */
bool validate_looks_worse(const struct suite_result *base, const struct suite_result *cand);
/* Pairs two result lists by instance id, in the baseline's order, then the
 * candidate's extra ones; verdicts and figures filled (no re-runs yet). */
size_t validate_pair_up(const struct suite_result *base, size_t nb, const struct suite_result *cand, size_t nc,
			struct validate_pair **out);
/* With the re-run (NULL: none): a figure regression needs both runs worse. */
void validate_apply_rerun(struct validate_pair *p, const struct suite_result *rerun);
/* A regression of outcome or of a figure: what makes validate exit 1. */
bool validate_pair_regressed(const struct validate_pair *p);
/* One line for the pair: "pass -> fail: <the candidate's reason>", "downtime 900 -> 2400 ms (x2.7; again 2300)". */
void validate_pair_text(const struct validate_pair *p, char *buf, size_t len);

struct validate_counts {
	size_t unchanged, regression, fixed, newly_skipped, newly_run, changed, missing, figure_regression;
};
void validate_count(const struct validate_pair *p, size_t n, struct validate_counts *c);

#endif
