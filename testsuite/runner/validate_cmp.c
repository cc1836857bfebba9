/* crmig-suite validate's comparison: two result lists (the baseline's and
 * the candidate's) in, one verdict per instance out. Pure: no lab, no I/O. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "util.h"
#include "validate.h"

const char *validate_verdict_name(enum validate_verdict v)
{
	switch (v) {
	case VV_UNCHANGED: return "unchanged";
	case VV_REGRESSION: return "regression";
	case VV_FIXED: return "fixed";
	case VV_NEWLY_SKIPPED: return "newly skipped";
	case VV_NEWLY_RUN: return "newly run";
	case VV_CHANGED: return "failure changed";
	case VV_MISSING: return "missing";
	}
	return "?";
}

void validate_reason_kind(const struct suite_result *r, char *buf, size_t len)
{
	const char *s = r->known_bug[0] ? r->known_bug : r->reason;
	size_t o = 0;

	if (!len)
		return;
	/* "criu#3029: ..." -> "criu#3029"; "crmig migrate failed (exit 1): ..." -> "crmig migrate failed" */
	for (; *s && *s != ':' && *s != '(' && o + 1 < len; s++)
		buf[o++] = isdigit((unsigned char)*s) && !r->known_bug[0] ? '#' : *s;
	while (o > 0 && buf[o - 1] == ' ')
		o--;
	buf[o] = '\0';
}

enum validate_verdict validate_verdict_of(const struct suite_result *base, const struct suite_result *cand)
{
	char kb[256], kc[256];

	if (!base || !cand)
		return VV_MISSING;
	switch (base->outcome) {
	case OUTCOME_PASS:
		return cand->outcome == OUTCOME_PASS ? VV_UNCHANGED
		       : cand->outcome == OUTCOME_FAIL ? VV_REGRESSION : VV_NEWLY_SKIPPED;
	case OUTCOME_SKIP:
		return cand->outcome == OUTCOME_PASS ? VV_NEWLY_RUN
		       : cand->outcome == OUTCOME_FAIL ? VV_REGRESSION : VV_UNCHANGED;
	case OUTCOME_FAIL:
		if (cand->outcome == OUTCOME_PASS)
			return VV_FIXED;
		if (cand->outcome == OUTCOME_SKIP)
			return VV_NEWLY_SKIPPED;
		validate_reason_kind(base, kb, sizeof(kb));
		validate_reason_kind(cand, kc, sizeof(kc));
		if (!strcmp(kb, kc))
			return VV_UNCHANGED;
		/* The baseline's failure was only a known upstream bug (it fails no
		 * run); a candidate that now fails for real has regressed. */
		if (!result_counts_as_failure(base) && result_counts_as_failure(cand))
			return VV_REGRESSION;
		return VV_CHANGED;
	}
	return VV_MISSING;
}

static double number(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_number(v) ? json_number_value(v) : -1;
}

void validate_figures_of(const struct suite_result *r, struct validate_figures *f)
{
	f->downtime_ms = f->bytes_before_resume = -1;
	if (!r)
		return;
	if (json_is_object(r->crmig)) {
		f->downtime_ms = number(r->crmig, "downtime_ms");
		f->bytes_before_resume = number(r->crmig, "bytes_before_resume");
	}
	if (f->downtime_ms < 0 && r->probe_gap_ms >= 0)
		f->downtime_ms = r->probe_gap_ms;
}

bool validate_worse(double base, double cand, double ratio, double abs)
{
	if (!(base >= 0) || !(cand >= 0) || !isfinite(base) || !isfinite(cand))
		return false;
	return cand > base * ratio && cand - base > abs;
}

static bool figures_worse(const struct validate_figures *b, const struct validate_figures *c, bool *downtime,
			  bool *bytes)
{
	*downtime = validate_worse(b->downtime_ms, c->downtime_ms, VALIDATE_RATIO, VALIDATE_DOWNTIME_ABS_MS);
	*bytes = validate_worse(b->bytes_before_resume, c->bytes_before_resume, VALIDATE_RATIO, VALIDATE_BYTES_ABS);
	return *downtime || *bytes;
}

bool validate_looks_worse(const struct suite_result *base, const struct suite_result *cand)
{
	struct validate_figures b, c;
	bool d, y;

	if (!base || !cand || base->outcome != OUTCOME_PASS || cand->outcome != OUTCOME_PASS)
		return false;
	validate_figures_of(base, &b);
	validate_figures_of(cand, &c);
	return figures_worse(&b, &c, &d, &y);
}

static const struct suite_result *find_id(const struct suite_result *v, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].inst.id, id))
			return &v[i];
	return NULL;
}

static void pair_fill(struct validate_pair *p, const struct suite_result *b, const struct suite_result *c)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->id, sizeof(p->id), "%s", b ? b->inst.id : c->inst.id);
	p->base = b;
	p->cand = c;
	p->verdict = validate_verdict_of(b, c);
	validate_figures_of(b, &p->fb);
	validate_figures_of(c, &p->fc);
	validate_figures_of(NULL, &p->fr);
}

size_t validate_pair_up(const struct suite_result *base, size_t nb, const struct suite_result *cand, size_t nc,
			struct validate_pair **out)
{
	struct validate_pair *v = xzalloc((nb + nc + 1) * sizeof(*v));
	size_t n = 0;

	for (size_t i = 0; i < nb; i++)
		pair_fill(&v[n++], &base[i], find_id(cand, nc, base[i].inst.id));
	for (size_t i = 0; i < nc; i++)
		if (!find_id(base, nb, cand[i].inst.id))
			pair_fill(&v[n++], NULL, &cand[i]);
	*out = v;
	return n;
}

void validate_apply_rerun(struct validate_pair *p, const struct suite_result *rerun)
{
	bool d1, y1, d2 = false, y2 = false;

	p->rerun = rerun;
	p->downtime_worse = p->bytes_worse = false;
	if (p->verdict != VV_UNCHANGED || !p->base || p->base->outcome != OUTCOME_PASS)
		return;
	if (!figures_worse(&p->fb, &p->fc, &d1, &y1))
		return;
	/* Worse once is noise until the second run says so too; a re-run that
	 * failed proves nothing about figures (its outcome is not the verdict). */
	if (!rerun || rerun->outcome != OUTCOME_PASS)
		return;
	validate_figures_of(rerun, &p->fr);
	figures_worse(&p->fb, &p->fr, &d2, &y2);
	p->downtime_worse = d1 && d2;
	p->bytes_worse = y1 && y2;
}

bool validate_pair_regressed(const struct validate_pair *p)
{
	return p->verdict == VV_REGRESSION || p->verdict == VV_MISSING || p->downtime_worse || p->bytes_worse;
}

static const char *side(const struct suite_result *r)
{
	return !r ? "absent" : outcome_name(r->outcome);
}

static void one_line(char *s)
{
	for (; *s; s++)
		if (*s == '\n' || *s == '\r' || *s == '\t')
			*s = ' ';
}

void validate_pair_text(const struct validate_pair *p, char *buf, size_t len)
{
	const struct suite_result *why = p->cand && p->cand->reason[0] ? p->cand : p->base;
	size_t o;

	o = (size_t)snprintf(buf, len, "%s -> %s", side(p->base), side(p->cand));
	if (o < len && p->verdict != VV_UNCHANGED && why && why->reason[0])
		o += (size_t)snprintf(buf + o, len - o, ": %s%s%.300s", p->verdict == VV_FIXED ? "was: " : "",
				      why == p->base && p->verdict != VV_FIXED ? "baseline: " : "", why->reason);
	if (o < len && (p->downtime_worse || p->bytes_worse || p->fr.downtime_ms >= 0 || p->fr.bytes_before_resume >= 0)) {
		if (p->downtime_worse || p->fr.downtime_ms >= 0)
			o += (size_t)snprintf(buf + o, len - o, "; downtime %.0f -> %.0f ms (x%.1f; again %.0f ms)%s",
					      p->fb.downtime_ms, p->fc.downtime_ms,
					      p->fb.downtime_ms > 0 ? p->fc.downtime_ms / p->fb.downtime_ms : 0,
					      p->fr.downtime_ms, p->downtime_worse ? ": worse" : ": noise");
		if (o < len && (p->bytes_worse || p->fr.bytes_before_resume >= 0))
			o += (size_t)snprintf(buf + o, len - o, "; bytes before resume %.0f -> %.0f (again %.0f)%s",
					      p->fb.bytes_before_resume, p->fc.bytes_before_resume,
					      p->fr.bytes_before_resume, p->bytes_worse ? ": worse" : ": noise");
	}
	one_line(buf);
}

void validate_count(const struct validate_pair *p, size_t n, struct validate_counts *c)
{
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < n; i++) {
		switch (p[i].verdict) {
		case VV_UNCHANGED: c->unchanged++; break;
		case VV_REGRESSION: c->regression++; break;
		case VV_FIXED: c->fixed++; break;
		case VV_NEWLY_SKIPPED: c->newly_skipped++; break;
		case VV_NEWLY_RUN: c->newly_run++; break;
		case VV_CHANGED: c->changed++; break;
		case VV_MISSING: c->missing++; break;
		}
		c->figure_regression += p[i].downtime_worse || p[i].bytes_worse;
	}
}
