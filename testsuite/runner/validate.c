/* crmig-suite validate --deb FILE... [--distro D,...]: does a candidate
 * package regress anything against the archive's? Per distro: a baseline
 * image (vm-images/build --distro D) and a candidate image (the same with
 * --deb FILE..., dependencies resolved by apt), a payload for each, and the
 * same instances on both, one lab after the other (suite_run(), as `run`
 * does; never two labs at once). Then validate_cmp.c compares them: one
 * result validate/D/INSTANCE per instance, a regression a failing one, in
 * TAP/JUnit/HTML through the suite's own reports; a JSON of the comparison
 * with both manifests, and a plain-text summary to paste into a bug. */
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <sys/stat.h>

#include "runner.h"
#include "util.h"
#include "validate.h"

#define MAX_DEBS 32
#define MAX_DISTROS 8

struct vside {
	char *image;                /* the image directory, NULL if it could not be built */
	json_t *manifest;           /* its manifest.json */
	struct suite_run run;
	bool ran;
};

struct vdistro {
	char name[32];
	struct vside base, cand;
	char error[4096];           /* a per-distro error: no comparison for it */
	struct validate_pair *pairs;
	size_t npairs;
	struct suite_result *reruns; /* candidate re-runs, rerun_of[i] the pair index */
	size_t nreruns;
	double t_images_s, t_base_s, t_cand_s;
};

struct vopts {
	struct runner_opts o;       /* for both runs: tier, cases, strategies, modes, ... */
	const char *debs[MAX_DEBS];
	int ndebs;
	char distros[MAX_DISTROS][32];
	int ndistros;
	const char *tap, *junit, *json, *html, *keep;
	bool rerun;
};

static void usage(FILE *f)
{
	fputs("usage: crmig-suite validate --deb FILE... [--distro bookworm,trixie,sid] [--tier lean|full]\n"
	      "                            [--suite cases|zdtm|all] [--cases GLOB[,GLOB]] [--strategy S,...] [--mode bare,lxc]\n"
	      "                            [--tap FILE] [--junit FILE] [--json FILE] [--html FILE] [--keep DIR] [--no-rerun]\n"
	      "Per distro (default trixie): a baseline image with the archive's packages and a candidate image with\n"
	      "  the .debs (vm-images/build --deb, dependencies by apt), the same instances on both, one lab after the\n"
	      "  other; then per instance: unchanged, regression (pass -> fail), fixed, newly skipped (why), newly run.\n"
	      "  A candidate whose downtime or bytes before resume look worse (> 1.5 x and > 200 ms / 1 MiB more) runs\n"
	      "  again; worse twice is a figure regression. Default --tier lean --suite cases.\n"
	      "--json FILE: the comparison with both manifests; the summary goes to stdout and next to it (FILE.txt).\n"
	      "--keep DIR: each side's TAP, JSON, manifests and failure bundles (default: a directory in /tmp, kept).\n"
	      "Exit status: 0 no regression; 1 a regression, or a distro could not be compared; 2 usage.\n",
	      f);
}

static int add_list(const char *arg, char (*out)[32], int *n, int max)
{
	__do_free char *copy = xstrdup(arg);
	char *save = NULL;

	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (*n >= max || strlen(t) >= 32)
			return -1;
		snprintf(out[(*n)++], 32, "%s", t);
	}
	return 0;
}

static int parse(int argc, char **argv, struct vopts *v)
{
	static const struct option opts[] = {
		{ "deb", required_argument, NULL, 'D' }, { "distro", required_argument, NULL, 'd' },
		{ "tier", required_argument, NULL, 't' }, { "suite", required_argument, NULL, 'U' },
		{ "cases", required_argument, NULL, 'c' }, { "strategy", required_argument, NULL, 's' },
		{ "mode", required_argument, NULL, 'm' }, { "tap", required_argument, NULL, 'T' },
		{ "junit", required_argument, NULL, 'J' }, { "json", required_argument, NULL, 'j' },
		{ "html", required_argument, NULL, 'H' }, { "keep", required_argument, NULL, 'k' },
		{ "mem", required_argument, NULL, 'M' }, { "cases-dir", required_argument, NULL, 'C' },
		{ "no-rerun", no_argument, NULL, 'R' }, { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "D:d:t:U:c:s:m:T:J:j:H:k:M:C:Rh", opts, NULL)) != -1) {
		switch (c) {
		case 'D':
			if (v->ndebs >= MAX_DEBS) {
				fprintf(stderr, "crmig-suite validate: at most %d --deb\n", MAX_DEBS);
				return -1;
			}
			v->debs[v->ndebs++] = optarg;
			break;
		case 'd':
			if (add_list(optarg, v->distros, &v->ndistros, MAX_DISTROS) < 0) {
				fprintf(stderr, "crmig-suite validate: --distro bookworm,trixie,sid (at most %d)\n", MAX_DISTROS);
				return -1;
			}
			break;
		case 't':
			if (strcmp(optarg, "lean") && strcmp(optarg, "full")) {
				fprintf(stderr, "crmig-suite validate: --tier lean|full\n");
				return -1;
			}
			v->o.tier = optarg;
			break;
		case 'U':
			v->o.suite_cases = !strcmp(optarg, "cases") || !strcmp(optarg, "all");
			v->o.suite_zdtm = !strcmp(optarg, "zdtm") || !strcmp(optarg, "all");
			v->o.suite_given = true;
			if (!v->o.suite_cases && !v->o.suite_zdtm) {
				fprintf(stderr, "crmig-suite validate: --suite cases|zdtm|all\n");
				return -1;
			}
			break;
		case 'c': v->o.glob = optarg; break;
		case 's':
			if (parse_strategies(optarg, &v->o.strategies) < 0) {
				fprintf(stderr, "crmig-suite validate: --strategy: stop, pre, post, hybrid\n");
				return -1;
			}
			break;
		case 'm':
			if (parse_modes(optarg, &v->o.modes) < 0) {
				fprintf(stderr, "crmig-suite validate: --mode: bare, lxc\n");
				return -1;
			}
			break;
		case 'T': v->tap = optarg; break;
		case 'J': v->junit = optarg; break;
		case 'j': v->json = optarg; break;
		case 'H': v->html = optarg; break;
		case 'k': v->keep = optarg; break;
		case 'M': v->o.mem_mb = atoi(optarg); break;
		case 'C': v->o.cases_dir = optarg; break;
		case 'R': v->rerun = false; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "crmig-suite validate: unexpected argument '%s' (each candidate needs its --deb)\n",
			argv[optind]);
		return -1;
	}
	if (!v->ndebs) {
		fprintf(stderr, "crmig-suite validate: --deb FILE is required: the candidate package(s), e.g. "
			"--deb ../criu_4.2-1_amd64.deb\n");
		return -1;
	}
	for (int i = 0; i < v->ndebs; i++)
		if (access(v->debs[i], R_OK) < 0) {
			fprintf(stderr, "crmig-suite validate: --deb %s: %s\n", v->debs[i], strerror(errno));
			return -1;
		}
	if (!v->ndistros)
		add_list("trixie", v->distros, &v->ndistros, MAX_DISTROS);
	return 0;
}

/* ---- images ----------------------------------------------------------- */

/* apt's own words for a candidate it could not install ("criu : Depends:
 * libnet9 but it is not installable"), from the failed build's log, after why. */
static void add_unmet(const char *distro, char *why, size_t len)
{
	const char *cache = getenv("CRMIG_CACHE");
	__do_free char *path = xasprintf("%s/images/last-failed-%s.log", cache && cache[0] ? cache : "/var/cache/crmig",
					 distro);
	__do_free char *log = read_file(path, NULL);
	char *save = NULL;
	size_t o = strlen(why);
	int n = 0;

	for (char *line = log ? strtok_r(log, "\n", &save) : NULL; line && n < 6; line = strtok_r(NULL, "\n", &save)) {
		if (!strstr(line, "Depends: ") && !strstr(line, "but it is not installable"))
			continue;
		while (*line == ' ')
			line++;
		o += (size_t)snprintf(why + o, o < len ? len - o : 0, "%s%s", n++ ? "; " : " -- apt's unmet dependencies: ",
				      line);
		if (o >= len)
			break;
	}
}

/* vm-images/build [--deb F]...: the image directory (its last stdout line),
 * or NULL with why: its error lines (what it said after "error:"). */
static char *build_image(const char *distro, const char *const *debs, int ndebs, char *why, size_t len)
{
	__do_free char *vm = suite_data_dir("vm-images");
	__do_free char *script = vm ? xasprintf("%s/build", vm) : NULL;
	char **argv = xzalloc((4 + 2 * (size_t)ndebs) * sizeof(*argv));
	struct proc_opts po = PROC_OPTS_DEFAULT;
	struct proc_result res;
	char *dir = NULL;
	int n = 0;

	why[0] = '\0';
	if (!script) {
		snprintf(why, len, "vm-images/build not found (set CRMIG_SUITE_DATA to a checkout)");
		free(argv);
		return NULL;
	}
	argv[n++] = script;
	argv[n++] = "--distro";
	argv[n++] = (char *)distro;
	for (int i = 0; i < ndebs; i++) {
		argv[n++] = "--deb";
		argv[n++] = (char *)debs[i];
	}
	po.pass_stderr = true;
	po.timeout_s = 3600;
	if (proc_run(argv, &po, &res) < 0) {
		snprintf(why, len, "cannot run %s: %s", script, strerror(errno));
		free(argv);
		return NULL;
	}
	if (res.status == 0) {
		char *end = res.out + strlen(res.out);
		while (end > res.out && end[-1] == '\n')
			*--end = '\0';
		dir = xstrdup(strrchr(res.out, '\n') ? strrchr(res.out, '\n') + 1 : res.out);
	} else {
		/* "vm-images/build: error: ..." and its indented lines: the reason, as it said it. */
		const char *e = strstr(res.err, ": error: ");
		const char *from = e ? e + 9 : res.err;
		size_t o = 0;

		o += (size_t)snprintf(why + o, len - o, "vm-images/build%s failed (exit %d)%s", ndebs ? " --deb" : "",
				      res.status, e ? ": " : "");
		for (const char *s = e ? from : ""; *s && o + 1 < len; s++) {
			static const char prefix[] = "vm-images/build:   ";
			if (*s == '\n') {
				/* its continuation lines, without the program's name each time */
				why[o++] = ' ';
				if (!strncmp(s + 1, prefix, sizeof(prefix) - 1))
					s += sizeof(prefix) - 1;
				continue;
			}
			why[o++] = *s;
		}
		why[o < len ? o : len - 1] = '\0';
		if (ndebs)
			add_unmet(distro, why, len);
	}
	proc_result_free(&res);
	free(argv);
	return dir;
}

static json_t *load_manifest(const char *image)
{
	__do_free char *path = xasprintf("%s/manifest.json", image);

	return json_load_file(path, 0, NULL);
}

static const char *mversion(json_t *m, const char *what)
{
	const char *s = json_string_value(json_object_get(json_object_get(m, "versions"), what));

	return s && s[0] ? s : "?";
}

/* What packages differ between the two images: {package, baseline, candidate} (null: absent). */
static json_t *package_diff(json_t *mb, json_t *mc)
{
	json_t *pb = json_object_get(mb, "packages"), *pc = json_object_get(mc, "packages"), *v;
	json_t *out = json_array();
	const char *k;

	json_object_foreach(pb, k, v) {
		json_t *w = json_object_get(pc, k);
		if (!w || !json_equal(v, w))
			json_array_append_new(out, json_pack("{s:s,s:O,s:O}", "package", k, "baseline", v, "candidate",
							     w ? w : json_null()));
	}
	json_object_foreach(pc, k, v)
		if (!json_object_get(pb, k))
			json_array_append_new(out, json_pack("{s:s,s:n,s:O}", "package", k, "baseline", "candidate", v));
	return out;
}

/* ---- the two runs ---------------------------------------------------------- */

struct rerun_ctx {
	struct vdistro *d;
	bool enabled;
};

/* With the candidate's lab still up: an instance whose figures look worse
 * than the baseline's runs once more, so that noise alone is no regression. */
static void rerun_slow(struct runner *r, struct suite_result *results, size_t n, void *arg)
{
	struct rerun_ctx *x = arg;
	struct vdistro *d = x->d;
	const struct suite_run *base = &d->base.run;

	if (!x->enabled)
		return;
	d->reruns = xzalloc((n + 1) * sizeof(*d->reruns));
	for (size_t i = 0; i < n && !runner_interrupted; i++) {
		const struct suite_result *b = NULL;
		bool from_cases = false;

		for (size_t j = 0; j < base->n && !b; j++)
			if (!strcmp(base->results[j].inst.id, results[i].inst.id))
				b = &base->results[j];
		for (size_t j = 0; j < d->cand.run.nlist && !from_cases; j++)
			from_cases = !strcmp(d->cand.run.list[j].id, results[i].inst.id);
		if (!from_cases || !validate_looks_worse(b, &results[i]))
			continue;
		fprintf(stderr, "crmig-suite validate: %s: %s looks worse than on the baseline: running it again\n",
			d->name, results[i].inst.id);
		run_instance(r, &results[i].inst, &d->reruns[d->nreruns]);
		fprintf(stderr, "crmig-suite validate: %s: %s again: %s\n", d->name, results[i].inst.id,
			outcome_name(d->reruns[d->nreruns].outcome));
		d->nreruns++;
	}
}

static int run_side(struct vopts *v, struct vdistro *d, struct vside *s, const char *which, const char *work,
		    struct rerun_ctx *rx)
{
	struct runner_opts o = v->o;
	__do_free char *tap = xasprintf("%s/%s/%s.tap", work, d->name, which);
	__do_free char *keep = v->keep ? xasprintf("%s/%s/%s-keep", work, d->name, which) : NULL;
	__do_free char *payload_out = NULL;
	__do_free char *top = NULL;
	char exe[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	const char *key = json_string_value(json_object_get(s->manifest, "key"));

	if (len > 0) {
		exe[len] = '\0';
		dirname(exe);
		top = payload_source_tree(exe);
	}
	/* A payload of its own per image, beside make's build/guest-DISTRO (which it leaves alone). */
	if (top)
		payload_out = xasprintf("%s/build/guest-%s-%s", top, d->name, key ? key : which);
	o.distro = d->name;
	o.image = s->image;
	o.payload = NULL;
	o.payload_out = payload_out;
	o.lab_name = NULL;
	o.lab_prefix = "val";
	o.tap = tap;
	o.junit = o.json = o.html = NULL;
	o.keep = keep;
	s->run.before_down = rx ? rerun_slow : NULL;
	s->run.ctx = rx;
	fprintf(stderr, "crmig-suite validate: %s: the %s run (image %s)\n", d->name, which, s->image);
	if (suite_run(&o, &s->run) < 0)
		return -1;
	s->ran = !s->run.lab_failed;
	if (s->run.lab_failed)
		snprintf(d->error, sizeof(d->error), "the %s lab on %s did not come up (see the messages above)", which,
			 d->name);
	else {
		__do_free char *json = xasprintf("%s/%s/%s.json", work, d->name, which);
		results_write_json(json, s->run.results, s->run.n);
	}
	return 0;
}

static void copy_manifest(const char *image, const char *work, const char *distro, const char *which)
{
	__do_free char *from = xasprintf("%s/manifest.txt", image);
	__do_free char *to = xasprintf("%s/%s/%s.manifest.txt", work, distro, which);
	__do_free char *text = read_file(from, NULL);

	if (text)
		write_file_atomic(to, text, strlen(text), 0644);
}

static void validate_distro(struct vopts *v, struct vdistro *d, const char *work)
{
	__do_free char *dir = xasprintf("%s/%s", work, d->name);
	struct rerun_ctx rx = { .d = d, .enabled = v->rerun };
	char why[4096];
	double t0 = now_ms();

	mkdir_p(dir, 0755);
	/* The candidate first: when it cannot be installed, the baseline is not needed. */
	fprintf(stderr, "crmig-suite validate: %s: the candidate image (the archive's packages and the .debs)\n",
		d->name);
	d->cand.image = build_image(d->name, v->debs, v->ndebs, why, sizeof(why));
	if (!d->cand.image) {
		d->t_images_s = (now_ms() - t0) / 1000;
		snprintf(d->error, sizeof(d->error), "the candidate cannot be installed on %s: %s", d->name, why);
		return;
	}
	fprintf(stderr, "crmig-suite validate: %s: the baseline image (the archive's packages)\n", d->name);
	d->base.image = build_image(d->name, NULL, 0, why, sizeof(why));
	d->t_images_s = (now_ms() - t0) / 1000;
	if (!d->base.image) {
		snprintf(d->error, sizeof(d->error), "no baseline image for %s: %s", d->name, why);
		return;
	}
	d->base.manifest = load_manifest(d->base.image);
	d->cand.manifest = load_manifest(d->cand.image);
	copy_manifest(d->base.image, work, d->name, "baseline");
	copy_manifest(d->cand.image, work, d->name, "candidate");
	t0 = now_ms();
	if (run_side(v, d, &d->base, "baseline", work, NULL) < 0 || !d->base.ran)
		return;
	d->t_base_s = (now_ms() - t0) / 1000;
	if (runner_interrupted)
		return;
	t0 = now_ms();
	if (run_side(v, d, &d->cand, "candidate", work, &rx) < 0 || !d->cand.ran)
		return;
	d->t_cand_s = (now_ms() - t0) / 1000;
	d->npairs = validate_pair_up(d->base.run.results, d->base.run.n, d->cand.run.results, d->cand.run.n,
				     &d->pairs);
	for (size_t i = 0; i < d->npairs; i++) {
		const struct suite_result *rerun = NULL;

		for (size_t j = 0; j < d->nreruns && !rerun; j++)
			if (!strcmp(d->reruns[j].inst.id, d->pairs[i].id))
				rerun = &d->reruns[j];
		validate_apply_rerun(&d->pairs[i], rerun);
	}
}

/* ---- reports --------------------------------------------------------------- */

static json_t *figures_json(const struct validate_figures *f)
{
	return json_pack("{s:o,s:o}", "downtime_ms", f->downtime_ms >= 0 ? json_real(f->downtime_ms) : json_null(),
			 "bytes_before_resume",
			 f->bytes_before_resume >= 0 ? json_integer((json_int_t)f->bytes_before_resume) : json_null());
}

static json_t *side_json(const struct suite_result *r, const struct validate_figures *f)
{
	json_t *o;

	if (!r)
		return json_null();
	o = json_pack("{s:s,s:s}", "outcome", outcome_name(r->outcome), "reason", r->reason);
	if (!o)	/* a reason that is no valid UTF-8 */
		o = json_pack("{s:s,s:s}", "outcome", outcome_name(r->outcome), "reason", "(not UTF-8)");
	if (r->known_bug[0])
		json_object_set_new(o, "known_bug", json_string(r->known_bug));
	json_t *fig = figures_json(f);
	json_object_update(o, fig);
	json_decref(fig);
	return o;
}

static void add_result(struct suite_result **v, size_t *n, const char *distro, const struct validate_pair *p,
		       const char *error)
{
	struct suite_result *r;
	char text[2048];

	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	r = &(*v)[(*n)++];
	memset(r, 0, sizeof(*r));
	snprintf(r->distro, sizeof(r->distro), "%s", distro);
	r->probe_gap_ms = -1;
	if (!p) {
		snprintf(r->inst.id, sizeof(r->inst.id), "validate/%s/images-and-labs", distro);
		r->outcome = OUTCOME_FAIL;
		snprintf(r->reason, sizeof(r->reason), "%s", error);
		r->details = json_pack("{s:s}", "verdict", "error");
		return;
	}
	const struct suite_result *src = p->cand ? p->cand : p->base;
	r->inst = src->inst;
	snprintf(r->inst.id, sizeof(r->inst.id), "validate/%s/%.70s", distro, p->id);
	validate_pair_text(p, text, sizeof(text));
	r->outcome = validate_pair_regressed(p) ? OUTCOME_FAIL
		     : (p->cand && p->cand->outcome == OUTCOME_SKIP) ? OUTCOME_SKIP : OUTCOME_PASS;
	snprintf(r->reason, sizeof(r->reason), "%s: %s", validate_verdict_name(p->verdict), text);
	if (p->cand) {
		r->probe_gap_ms = p->cand->probe_gap_ms;
		r->duration_ms = p->cand->duration_ms;
		r->crmig = p->cand->crmig ? json_incref(p->cand->crmig) : NULL;
	}
	r->details = json_pack("{s:s,s:o,s:o}", "verdict", validate_verdict_name(p->verdict), "baseline",
			       side_json(p->base, &p->fb), "candidate", side_json(p->cand, &p->fc));
	if (p->rerun)
		json_object_set_new(r->details, "rerun", side_json(p->rerun, &p->fr));
	if (p->downtime_worse || p->bytes_worse)
		json_object_set_new(r->details, "figure_regression",
				    json_string(p->downtime_worse ? "downtime" : "bytes_before_resume"));
}

static json_t *distro_json(const struct vdistro *d, const struct suite_result *cmp, size_t ncmp)
{
	json_t *o = json_pack("{s:s,s:s}", "distro", d->name, "status", d->error[0] ? "error" : "compared");
	struct validate_counts c;
	json_t *list = json_array();

	if (d->error[0])
		json_object_set_new(o, "error", json_string(d->error));
	for (int i = 0; i < 2; i++) {
		const struct vside *s = i ? &d->cand : &d->base;
		json_t *m = s->manifest;

		if (!s->image)
			continue;
		json_object_set_new(o, i ? "candidate" : "baseline",
				    json_pack("{s:s,s:O?,s:O?,s:O?,s:s?,s:o}", "image", s->image, "key",
					      json_object_get(m, "key"), "versions", json_object_get(m, "versions"),
					      "debs", json_object_get(json_object_get(m, "inputs"), "debs"), "accel",
					      s->ran ? s->run.accel : NULL, "manifest",
					      json_sprintf("%s/manifest.json", s->image)));
	}
	if (d->base.manifest && d->cand.manifest)
		json_object_set_new(o, "packages_changed", package_diff(d->base.manifest, d->cand.manifest));
	validate_count(d->pairs, d->npairs, &c);
	json_object_set_new(o, "counts",
			    json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "unchanged", (json_int_t)c.unchanged,
				      "regression", (json_int_t)c.regression, "fixed", (json_int_t)c.fixed,
				      "newly_skipped", (json_int_t)c.newly_skipped, "newly_run", (json_int_t)c.newly_run,
				      "failure_changed", (json_int_t)c.changed, "missing", (json_int_t)c.missing,
				      "figure_regression", (json_int_t)c.figure_regression));
	json_object_set_new(o, "seconds", json_pack("{s:f,s:f,s:f}", "images", d->t_images_s, "baseline_run",
						    d->t_base_s, "candidate_run", d->t_cand_s));
	for (size_t i = 0; i < ncmp; i++) {
		json_t *e = json_pack("{s:s,s:s,s:s}", "id", cmp[i].inst.id, "outcome", outcome_name(cmp[i].outcome),
				      "reason", cmp[i].reason);
		if (!e)
			continue;
		if (json_is_object(cmp[i].details))
			json_object_update(e, cmp[i].details);
		json_array_append_new(list, e);
	}
	json_object_set_new(o, "instances", list);
	return o;
}

static void fmt_bytes(double b, char *buf, size_t len)
{
	if (b < 0)
		snprintf(buf, len, "-");
	else if (b >= 1024 * 1024)
		snprintf(buf, len, "%.1f MB", b / (1024 * 1024));
	else
		snprintf(buf, len, "%.0f KB", b / 1024);
}

static void fmt_ms(double ms, char *buf, size_t len)
{
	if (ms < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.0f", ms);
}

/* The plain text a maintainer pastes into a bug or a changelog. */
static char *summary_text(const struct vopts *v, const struct vdistro *ds, int nd, bool regressed)
{
	__do_free char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	char *out;

	if (!f)
		return xstrdup("");
	fprintf(f, "crmig-suite validate: %s\n", regressed ? "REGRESSION" : "no regression");
	fprintf(f, "candidate:");
	for (int i = 0; i < v->ndebs; i++)
		fprintf(f, " %s", v->debs[i]);
	fprintf(f, "\ntier %s, cases %s\n", v->o.tier, v->o.glob ? v->o.glob : "all");
	for (int i = 0; i < nd; i++) {
		const struct vdistro *d = &ds[i];
		struct validate_counts c;

		fprintf(f, "\n== %s\n", d->name);
		if (d->base.manifest)
			fprintf(f, "baseline:  criu %s, lxc %s, kernel %s\n", mversion(d->base.manifest, "criu"),
				mversion(d->base.manifest, "lxc"), mversion(d->base.manifest, "kernel"));
		if (d->cand.manifest) {
			json_t *diff = d->base.manifest ? package_diff(d->base.manifest, d->cand.manifest) : NULL;
			size_t k;
			json_t *e;

			fprintf(f, "candidate: criu %s, lxc %s, kernel %s\n", mversion(d->cand.manifest, "criu"),
				mversion(d->cand.manifest, "lxc"), mversion(d->cand.manifest, "kernel"));
			fprintf(f, "packages changed (%zu):", json_array_size(diff));
			json_array_foreach(diff, k, e) {
				const char *b = json_string_value(json_object_get(e, "baseline"));
				const char *c2 = json_string_value(json_object_get(e, "candidate"));
				if (k >= 12) {
					fprintf(f, " ... (%zu more)", json_array_size(diff) - k);
					break;
				}
				fprintf(f, "%s %s %s -> %s", k ? "," : "",
					json_string_value(json_object_get(e, "package")), b ? b : "(none)",
					c2 ? c2 : "(none)");
			}
			fprintf(f, "\n");
			json_decref(diff);
		}
		if (d->error[0]) {
			fprintf(f, "ERROR: %s\n", d->error);
			continue;
		}
		validate_count(d->pairs, d->npairs, &c);
		fprintf(f, "%zu instances: %zu unchanged, %zu regressions, %zu fixed, %zu newly skipped, %zu newly run, "
			"%zu failing otherwise, %zu missing, %zu figure regressions (%s; images %.0f s, baseline run "
			"%.0f s, candidate run %.0f s)\n",
			d->npairs, c.unchanged, c.regression, c.fixed, c.newly_skipped, c.newly_run, c.changed, c.missing,
			c.figure_regression, d->cand.run.accel, d->t_images_s, d->t_base_s, d->t_cand_s);
		fprintf(f, "%-34s %-9s %-9s %-16s %17s %21s\n", "instance", "baseline", "candidate", "verdict",
			"downtime ms b/c", "before resume b/c");
		for (size_t j = 0; j < d->npairs; j++) {
			const struct validate_pair *p = &d->pairs[j];
			char db[32], dc[32], bb[32], bc[32], dt[48], by[72];

			/* Figures of a side that did not pass mean nothing (a rollback reports 0). */
			bool bp = p->base && p->base->outcome == OUTCOME_PASS;
			bool cp = p->cand && p->cand->outcome == OUTCOME_PASS;
			fmt_ms(bp ? p->fb.downtime_ms : -1, db, sizeof(db));
			fmt_ms(!cp ? -1 : p->rerun ? p->fr.downtime_ms : p->fc.downtime_ms, dc, sizeof(dc));
			fmt_bytes(bp ? p->fb.bytes_before_resume : -1, bb, sizeof(bb));
			fmt_bytes(!cp ? -1 : p->rerun ? p->fr.bytes_before_resume : p->fc.bytes_before_resume, bc,
				  sizeof(bc));
			snprintf(dt, sizeof(dt), "%s / %s%s", db, dc, p->downtime_worse ? "!" : "");
			snprintf(by, sizeof(by), "%s / %s%s", bb, bc, p->bytes_worse ? "!" : "");
			fprintf(f, "%-34s %-9s %-9s %-16s %17s %21s\n", p->id, p->base ? outcome_name(p->base->outcome) : "-",
				p->cand ? outcome_name(p->cand->outcome) : "-",
				validate_pair_regressed(p) && p->verdict == VV_UNCHANGED ? "figure regression"
										   : validate_verdict_name(p->verdict),
				dt, by);
		}
		for (size_t j = 0; j < d->npairs; j++) {
			const struct validate_pair *p = &d->pairs[j];
			char text[1024];

			if (p->verdict == VV_UNCHANGED && !validate_pair_regressed(p) && !p->rerun)
				continue;
			validate_pair_text(p, text, sizeof(text));
			fprintf(f, "  %s %s: %s\n", validate_pair_regressed(p) ? "REGRESSION" : "note", p->id, text);
		}
	}
	fclose(f);
	out = buf;
	buf = NULL;
	return out;
}

static char *summary_path(const char *json, const char *work)
{
	size_t n;

	if (!json)
		return xasprintf("%s/summary.txt", work);
	n = strlen(json);
	if (n > 5 && !strcmp(json + n - 5, ".json"))
		return xasprintf("%.*s.txt", (int)(n - 5), json);
	return xasprintf("%s.txt", json);
}

static void on_signal(int sig)
{
	(void)sig;
	runner_interrupted = 1;
	proc_interrupted = 1;
}

int cmd_validate(int argc, char **argv, const struct runner_opts *defaults)
{
	struct vopts v = { .o = *defaults, .rerun = true };
	struct vdistro *ds;
	struct suite_result *cmp = NULL;
	size_t ncmp = 0;
	char work[PATH_MAX];
	bool regressed = false;
	json_t *doc, *dl;
	__do_free char *summary = NULL, *spath = NULL;

	v.o.tier = "lean";
	v.o.suite_zdtm = false;
	if (parse(argc, argv, &v) < 0)
		return 2;
	if (v.keep) {
		if (mkdir_p(v.keep, 0755) < 0 || !realpath(v.keep, work)) {
			fprintf(stderr, "crmig-suite validate: --keep %s: %s\n", v.keep, strerror(errno));
			return 2;
		}
	} else {
		snprintf(work, sizeof(work), "/tmp/crmig-validate-XXXXXX");
		if (!mkdtemp(work)) {
			fprintf(stderr, "crmig-suite validate: cannot make a directory in /tmp: %s\n", strerror(errno));
			return 1;
		}
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	ds = xzalloc((size_t)v.ndistros * sizeof(*ds));
	for (int i = 0; i < v.ndistros && !runner_interrupted; i++) {
		snprintf(ds[i].name, sizeof(ds[i].name), "%s", v.distros[i]);
		validate_distro(&v, &ds[i], work);
		/* suite_run leaves its signal handlers: ours again for the next distro. */
		signal(SIGINT, on_signal);
		signal(SIGTERM, on_signal);
	}
	doc = json_pack("{s:s,s:[],s:s,s:s?,s:s}", "command", "validate", "debs", "tier", v.o.tier, "cases", v.o.glob,
			"work", work);
	for (int i = 0; i < v.ndebs; i++) {
		char real[PATH_MAX];
		json_array_append_new(json_object_get(doc, "debs"),
				      json_string(realpath(v.debs[i], real) ? real : v.debs[i]));
	}
	dl = json_array();
	for (int i = 0; i < v.ndistros; i++) {
		struct vdistro *d = &ds[i];
		size_t first = ncmp;

		if (!d->name[0])
			continue; /* interrupted before it */
		if (d->error[0])
			add_result(&cmp, &ncmp, d->name, NULL, d->error);
		for (size_t j = 0; j < d->npairs; j++)
			add_result(&cmp, &ncmp, d->name, &d->pairs[j], NULL);
		regressed |= d->error[0] != '\0';
		for (size_t j = 0; j < d->npairs; j++)
			regressed |= validate_pair_regressed(&d->pairs[j]);
		json_array_append_new(dl, distro_json(d, cmp + first, ncmp - first));
	}
	json_object_set_new(doc, "distros", dl);
	json_object_set_new(doc, "verdict", json_string(regressed ? "regression" : "ok"));
	summary = summary_text(&v, ds, v.ndistros, regressed);
	spath = summary_path(v.json, work);
	if (v.json) {
		__do_free char *text = json_dumps(doc, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
		__do_free char *file = text ? xasprintf("%s\n", text) : NULL;
		if (!file || write_file_atomic(v.json, file, strlen(file), 0644) < 0)
			fprintf(stderr, "crmig-suite validate: cannot write %s\n", v.json);
	}
	if (write_file_atomic(spath, summary, strlen(summary), 0644) < 0)
		fprintf(stderr, "crmig-suite validate: cannot write %s\n", spath);
	if (v.tap) {
		FILE *f = fopen(v.tap, "w");
		if (f) {
			tap_begin(f, ncmp);
			for (size_t i = 0; i < ncmp; i++)
				tap_result(f, i + 1, &cmp[i]);
			fclose(f);
		} else
			fprintf(stderr, "crmig-suite validate: cannot write %s\n", v.tap);
	}
	if (v.junit && junit_write(v.junit, cmp, ncmp) < 0)
		fprintf(stderr, "crmig-suite validate: cannot write %s\n", v.junit);
	if (v.html && html_write(v.html, cmp, ncmp, "crmig-suite validate") < 0)
		fprintf(stderr, "crmig-suite validate: cannot write %s\n", v.html);
	fputs(summary, stdout);
	fprintf(stderr, "crmig-suite validate: each side's TAP, JSON and manifests in %s; the summary in %s\n", work,
		spath);
	for (int i = 0; i < v.ndistros; i++) {
		struct vdistro *d = &ds[i];
		free(d->pairs);
		for (size_t j = 0; j < d->nreruns; j++) {
			json_decref(d->reruns[j].crmig);
			json_decref(d->reruns[j].details);
		}
		free(d->reruns);
		for (int k = 0; k < 2; k++) {
			struct vside *s = k ? &d->cand : &d->base;
			suite_run_free(&s->run);
			json_decref(s->manifest);
			free(s->image);
		}
	}
	for (size_t i = 0; i < ncmp; i++) {
		json_decref(cmp[i].crmig);
		json_decref(cmp[i].details);
	}
	free(cmp);
	free(ds);
	json_decref(doc);
	if (runner_interrupted)
		return 130;
	return regressed ? 1 : 0;
}
