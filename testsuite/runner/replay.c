/* crmig-suite replay BUNDLE [--shell]: a kept failure, again. The bundle
 * (a directory or its tarball) says which instance failed, with which case
 * text, mode, strategy and crmig arguments, on which image (its cache key)
 * and why. Replay finds that image (or rebuilds it when its inputs allow),
 * boots a lab, runs the same instance and says whether the failure came
 * back: exit 0 the same reason, 1 another reason or a pass, 2 a bad bundle
 * or nothing to replay on. --shell keeps the lab up at the point of failure
 * and shows how to run each criu command crmig ran, by hand.
 *
 * crmig-suite bundle pack DIR [OUT] | unpack TARBALL DIR | verify DIR|TARBALL */
#include <getopt.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>

#include "bundle.h"
#include "runner.h"
#include "util.h"

static void on_signal(int sig)
{
	(void)sig;
	runner_interrupted = 1;
	proc_interrupted = 1;
}

/* ---- the bundle ---------------------------------------------------------- */

static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The directory with bundle.json: arg itself, or (a tarball) unpacked into
 * tmp, where it is the one top directory. */
static int find_bundle(const char *arg, const char *tmp, char *dir, size_t len, char *err, size_t errlen)
{
	struct bundle_limits lim = BUNDLE_LIMITS_DEFAULT;
	__do_free char *dest = xasprintf("%s/bundle", tmp);
	char **paths = NULL;
	size_t n = 0;

	if (is_dir(arg)) {
		snprintf(dir, len, "%s", arg);
		return 0;
	}
	if (access(arg, R_OK) < 0) {
		snprintf(err, errlen, "%s: %s (pass a bundle directory from --keep DIR, or its .tar.gz)", arg,
			 strerror(errno));
		return -1;
	}
	fprintf(stderr, "crmig-suite: unpacking %s\n", arg);
	if (bundle_unpack(arg, dest, &lim, err, errlen) < 0)
		return -1;
	if (bundle_list(dest, &paths, &n) == 0 && n) {
		/* "<slug>/REPLAY.txt": the top directory is the first component */
		const char *slash = strchr(paths[0], '/');
		__do_free char *top = slash ? strndup(paths[0], slash - paths[0]) : NULL;
		__do_free char *inside = top ? xasprintf("%s/%s/" BUNDLE_MANIFEST, dest, top) : NULL;

		if (inside && access(inside, F_OK) == 0)
			snprintf(dir, len, "%s/%s", dest, top);
		else
			snprintf(dir, len, "%s", dest);
	} else {
		snprintf(dir, len, "%s", dest);
	}
	bundle_list_free(paths, n);
	return 0;
}

int replay_case(json_t *m, const char *tmp, struct suite_case *c, struct suite_instance *in, char *err, size_t errlen)
{
	json_t *jc = json_object_get(m, "case");
	const char *name = json_string_value(json_object_get(jc, "name"));
	const char *text = json_string_value(json_object_get(jc, "text"));
	__do_free char *path = NULL;
	char why[1024];

	if (!name || !text) {
		snprintf(err, errlen, "the bundle has no case text (case.text): its case was not a case file, and "
			 "crmig-suite replay re-runs case files only");
		return -1;
	}
	path = xasprintf("%s/%s.case", tmp, name);
	if (write_file(path, text, strlen(text), 0644) < 0) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	if (case_load(path, c, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "the bundle's case does not load: %s", why);
		return -1;
	}
	memset(in, 0, sizeof(*in));
	in->c = c;
	parse_modes(json_string_value(json_object_get(m, "mode")), &in->mode);
	parse_strategies(json_string_value(json_object_get(m, "strategy")), &in->strategy);
	snprintf(in->id, sizeof(in->id), "%s", json_string_value(json_object_get(m, "instance")));
	return 0;
}

/* ---- the image ------------------------------------------------------------ */

char *replay_cached_image(const char *cache_root, const char *distro, const char *key)
{
	__do_free char *dir = NULL, *mark = NULL;

	if (!distro || !key)
		return NULL;
	dir = xasprintf("%s/images/%s-%s", cache_root ? cache_root : "/var/cache/crmig", distro, key);
	mark = xasprintf("%s/.complete", dir);
	return access(mark, F_OK) == 0 ? move_ptr(dir) : NULL;
}

/* vm-images/build --distro D prints the image directory as its last line. */
static char *rebuild_image(const char *distro)
{
	__do_free char *vm = suite_data_dir("vm-images");
	__do_free char *script = vm ? xasprintf("%s/build", vm) : NULL;
	char *argv[] = { script, "--distro", (char *)distro, NULL };
	struct proc_opts po = PROC_OPTS_DEFAULT;
	struct proc_result res;
	char *end, *last = NULL;

	if (!script)
		return NULL;
	po.pass_stderr = true;
	po.timeout_s = 3600;
	if (proc_run(argv, &po, &res) < 0)
		return NULL;
	end = res.out + strlen(res.out);
	while (end > res.out && end[-1] == '\n')
		*--end = '\0';
	if (res.status == 0)
		last = xstrdup(strrchr(res.out, '\n') ? strrchr(res.out, '\n') + 1 : res.out);
	proc_result_free(&res);
	return last;
}

static char *image_for(json_t *m, const char *given, char *err, size_t errlen)
{
	const char *distro = json_string_value(json_object_get(m, "distro"));
	const char *key = json_string_value(json_object_get(m, "image_key"));
	json_t *debs = json_object_get(json_object_get(m, "image_inputs"), "debs");
	char *dir;

	if (given)
		return xstrdup(given);
	dir = replay_cached_image(getenv("CRMIG_CACHE"), distro, key);
	if (dir) {
		fprintf(stderr, "crmig-suite: the bundle's image is in the cache: %s\n", dir);
		return dir;
	}
	if (!distro) {
		snprintf(err, errlen, "the bundle names no distro: pass --image DIR");
		return NULL;
	}
	if (json_array_size(debs)) {
		snprintf(err, errlen, "the bundle's image %s-%s held candidate .debs and is not in the cache: rebuild it "
			 "with vm-images/build --distro %s --deb FILE... (the .debs of the failed run) and pass --image DIR",
			 distro, key ? key : "?", distro);
		return NULL;
	}
	fprintf(stderr, "crmig-suite: image %s-%s is not in the cache: building it (vm-images/build --distro %s)\n",
		distro, key ? key : "?", distro);
	dir = rebuild_image(distro);
	if (!dir) {
		snprintf(err, errlen, "vm-images/build --distro %s failed (see above): pass --image DIR", distro);
		return NULL;
	}
	if (key && !strstr(dir, key))
		fprintf(stderr, "crmig-suite: warning: the image was rebuilt as %s, not with the bundle's key %s: its "
			"inputs changed since (vm-images/ or the package list), so versions may differ\n", dir, key);
	return dir;
}

/* ---- --shell: the lab at the point of failure ------------------------------ */

static int host_of(const char *side)
{
	return side && !strcmp(side, "destination") ? HOST_B : HOST_A;
}

static void print_shells(struct runner *r)
{
	for (int h = 0; h < r->lab.nhosts; h++) {
		char **argv = lab_ssh_argv(&r->lab, h, true);
		__do_free char *cmd = argv ? argv_join_quoted(argv) : NULL;

		printf("  a shell on host %s: %s%s%s\n", r->lab.hosts[h].name, r->lab.netns[0] ? "ip netns exec " : "",
		       r->lab.netns, r->lab.netns[0] ? " " : "");
		printf("      %s\n", cmd ? cmd : "?");
		lab_free_argv(argv);
	}
}

void replay_print_criu(FILE *f, json_t *report)
{
	json_t *calls = json_object_get(report, "criu_argv"), *call;
	size_t i;

	if (!json_array_size(calls)) {
		fprintf(f, "crmig's report records no criu command (it failed before the first one).\n");
		return;
	}
	fprintf(f, "criu as crmig ran it (crmig's report, criu_argv), to run again by hand on the host named:\n");
	json_array_foreach(calls, i, call) {
		json_t *argv = json_is_array(json_object_get(call, "argv")) ? json_object_get(call, "argv") : call;
		const char *side = json_string_value(json_object_get(call, "host"));
		size_t n = json_array_size(argv), k;
		char **v = xzalloc((n + 1) * sizeof(*v));
		__do_free char *cmd = NULL;
		json_t *a;

		json_array_foreach(argv, k, a)
			v[k] = (char *)(json_string_value(a) ?: "?");
		cmd = argv_join_quoted(v);
		fprintf(f, "  [%zu] on host %s (%s):\n      %s\n", i + 1, host_of(side) == HOST_B ? "b" : "a",
			side ? side : "source", cmd);
		free(v);
	}
}

/* Waits for Enter on a terminal, else for a signal. */
static void wait_for_user(void)
{
	bool tty = isatty(STDIN_FILENO);

	printf("\nThe lab stays up: %s to tear it down.\n", tty ? "press Enter" : "send SIGINT or SIGTERM");
	fflush(stdout);
	while (!runner_interrupted) {
		struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
		char buf[256];

		if (tty && poll(&p, 1, 500) > 0) {
			ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
			if (n <= 0 || memchr(buf, '\n', n))
				break;
		} else if (!tty) {
			poll(NULL, 0, 500);
		}
	}
	runner_interrupted = 0;
	proc_interrupted = 0; /* the cleanup's commands must run */
}

static bool held;

static void hold_at_failure(struct runner *r, const struct suite_result *res)
{
	char slug[96];

	held = true;
	snprintf(slug, sizeof(slug), "%s", res->inst.id);
	for (char *p = slug; *p; p++)
		if (*p == ':')
			*p = '-';
	printf("\n== %s failed here; the lab is as the failure left it ==\n  reason: %s\n", res->inst.id, res->reason);
	print_shells(r);
	printf("  on host a: crmig's images, criu's logs: %s/%s.bundle (--keep-images); its report: %s/%s.report.json\n"
	       "  on both: crmig serve's log /var/log/crmig-serve.log\n",
	       WORK_ROOT, slug, WORK_ROOT, slug);
	replay_print_criu(stdout, res->crmig);
	wait_for_user();
}

/* ---- replay ---------------------------------------------------------------- */

static void replay_usage(FILE *f)
{
	fputs("usage: crmig-suite replay BUNDLE [--shell] [--image DIR] [--payload FILE] [--lab NAME] [--keep DIR]\n"
	      "                          [--mem MB]\n"
	      "BUNDLE: a failure's directory from --keep DIR (build/check/keep/<instance>/) or its .tar.gz.\n"
	      "Runs the same instance (the bundle's case text, mode, strategy, crmig arguments) on the bundle's\n"
	      "image (by its cache key; rebuilt with vm-images/build when missing and its inputs allow) and\n"
	      "compares the reason. --shell keeps the lab up where it failed and prints the criu commands.\n"
	      "Exit status: 0 the failure reproduced (same reason); 1 another reason, or it passed; 2 a bad\n"
	      "bundle, or nothing to replay it on.\n",
	      f);
}

static const char *verdict_name(enum replay_verdict v)
{
	switch (v) {
	case REPLAY_REPRODUCED: return "REPRODUCED: the same reason";
	case REPLAY_DIFFERENT: return "DIFFERENT: it failed (or skipped) for another reason";
	case REPLAY_PASSED: return "NOT REPRODUCED: the instance passed";
	}
	return "?";
}

static int run_replay(json_t *m, const char *tmp, struct runner_opts *o, bool shell)
{
	struct runner r = { .o = o, .features = json_object() };
	struct suite_case c;
	struct suite_instance in;
	struct suite_result res;
	__do_free char *image = NULL, *built_payload = NULL;
	const char *want = json_string_value(json_object_get(m, "reason"));
	const char *bug = json_string_value(json_object_get(m, "known_bug"));
	char err[8192];
	enum replay_verdict v;
	int ret = 2;

	if (replay_case(m, tmp, &c, &in, err, sizeof(err)) < 0) {
		fprintf(stderr, "crmig-suite: %s\n", err);
		json_decref(r.features);
		return 2;
	}
	if (!o->lab_name) {
		image = image_for(m, o->image, err, sizeof(err));
		if (!image) {
			fprintf(stderr, "crmig-suite: %s\n", err);
			json_decref(r.features);
			return 2;
		}
		o->image = image;
		if (runner_ensure_payload(o, &built_payload) < 0) {
			json_decref(r.features);
			return 2;
		}
	}
	snprintf(r.tmp, sizeof(r.tmp), "%s/run", tmp);
	mkdir_p(r.tmp, 0700);
	snprintf(r.distro, sizeof(r.distro), "%s", json_string_value(json_object_get(m, "distro")) ?: "?");
	r.tap = fopen("/dev/null", "w");
	if (shell)
		r.hold = hold_at_failure;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	fprintf(stderr, "crmig-suite: replaying %s (case %s, %s, %s); bringing the lab up\n", in.id, c.name,
		mode_bit_name(in.mode), strategy_bit_name(in.strategy));
	if (runner_lab_up(&r, err, sizeof(err)) < 0 || lab_provision_crmig(&r.lab, err, sizeof(err)) < 0) {
		fprintf(stderr, "crmig-suite: %s\n", err);
		proc_interrupted = 0;
		runner_lab_down(&r);
		goto out;
	}
	run_instance(&r, &in, &res);
	/* A failure that showed only after the cleanup (a host changed): hold here, the lab is still up. */
	if (shell && res.outcome == OUTCOME_FAIL && !held && !runner_interrupted) {
		printf("\n(the failure showed after the instance's cleanup: its workload is gone, the hosts are as it "
		       "left them)\n");
		hold_at_failure(&r, &res);
	}
	proc_interrupted = 0;
	runner_lab_down(&r);
	v = replay_compare(want, bug, &res);
	printf("\nrecorded: %s\nreplayed: %s%s%s\nverdict:  %s\n", want ? want : "?", result_label(&res),
	       res.reason[0] ? ": " : "", res.reason, verdict_name(v));
	if (shell && res.outcome != OUTCOME_FAIL)
		printf("(--shell: nothing failed, so there was no point of failure to hold the lab at)\n");
	ret = runner_interrupted ? 130 : v == REPLAY_REPRODUCED ? 0 : 1;
	json_decref(res.crmig);
	json_decref(res.details);
out:
	if (r.tap)
		fclose(r.tap);
	json_decref(r.features);
	return ret;
}

int cmd_replay(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "shell", no_argument, NULL, 's' }, { "image", required_argument, NULL, 'i' },
		{ "payload", required_argument, NULL, 'p' }, { "lab", required_argument, NULL, 'l' },
		{ "keep", required_argument, NULL, 'k' }, { "mem", required_argument, NULL, 'M' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	struct runner_opts o = { .distro = "trixie", .tier = "full", .strategies = ST_ALL, .modes = MODE_ALL,
				 .shard_index = 1, .shard_count = 1, .mem_mb = 2048 };
	char tmp[] = "/tmp/crmig-replay-XXXXXX", dir[PATH_MAX], err[2048];
	bool shell = false;
	json_t *m;
	int c, ret;

	while ((c = getopt_long(argc, argv, "si:p:l:k:M:h", opts, NULL)) != -1) {
		switch (c) {
		case 's': shell = true; break;
		case 'i': o.image = optarg; break;
		case 'p': o.payload = optarg; break;
		case 'l': o.lab_name = optarg; break;
		case 'k': o.keep = optarg; break;
		case 'M': o.mem_mb = atoi(optarg); break;
		case 'h': replay_usage(stdout); return 0;
		default: replay_usage(stderr); return 2;
		}
	}
	if (optind + 1 != argc) {
		replay_usage(stderr);
		return 2;
	}
	if (!mkdtemp(tmp)) {
		fprintf(stderr, "crmig-suite: mkdtemp: %s\n", strerror(errno));
		return 2;
	}
	if (find_bundle(argv[optind], tmp, dir, sizeof(dir), err, sizeof(err)) < 0 ||
	    !(m = bundle_load(dir, err, sizeof(err)))) {
		fprintf(stderr, "crmig-suite: bad bundle: %s\n", err);
		remove_tree(tmp);
		return 2;
	}
	fprintf(stderr, "crmig-suite: bundle %s: %s failed on %s (image %s): %s\n", dir,
		json_string_value(json_object_get(m, "instance")), json_string_value(json_object_get(m, "distro")) ?: "?",
		json_string_value(json_object_get(m, "image_key")) ?: "?", json_string_value(json_object_get(m, "reason")));
	ret = run_replay(m, tmp, &o, shell);
	json_decref(m);
	remove_tree(tmp);
	return ret;
}

/* ---- crmig-suite bundle ---------------------------------------------------- */

static void bundle_usage(FILE *f)
{
	fprintf(f, "usage: crmig-suite bundle pack DIR [OUT.tar.gz]   (default: DIR.tar.gz next to DIR)\n"
		   "       crmig-suite bundle unpack TARBALL DIR        (DIR must not exist)\n"
		   "       crmig-suite bundle verify DIR|TARBALL        (the manifest and every file's sha256)\n"
		   "A bundle holds at most %llu MiB in %d files; unpacking refuses links, devices, absolute\n"
		   "paths and '..', and anything past those limits.\n",
		(unsigned long long)(BUNDLE_MAX_BYTES >> 20), BUNDLE_MAX_ENTRIES);
}

int cmd_bundle(int argc, char **argv)
{
	struct bundle_limits lim = BUNDLE_LIMITS_DEFAULT;
	char err[2048], tmp[] = "/tmp/crmig-bundle-XXXXXX", dir[PATH_MAX];
	json_t *m;

	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help"))) {
		bundle_usage(stdout);
		return 0;
	}
	if (argc >= 3 && argc <= 4 && !strcmp(argv[1], "pack")) {
		__do_free char *trimmed = xstrdup(argv[2]);
		__do_free char *out = NULL;
		size_t n = strlen(trimmed);

		while (n > 1 && trimmed[n - 1] == '/')
			trimmed[--n] = '\0';
		out = argc == 4 ? xstrdup(argv[3]) : xasprintf("%s.tar.gz", trimmed);
		if (!(m = bundle_load(trimmed, err, sizeof(err))) || bundle_pack(trimmed, out, &lim, err, sizeof(err)) < 0) {
			json_decref(m);
			fprintf(stderr, "crmig-suite: %s\n", err);
			return 1;
		}
		json_decref(m);
		printf("%s\n", out);
		return 0;
	}
	if (argc == 4 && !strcmp(argv[1], "unpack")) {
		if (bundle_unpack(argv[2], argv[3], &lim, err, sizeof(err)) < 0) {
			fprintf(stderr, "crmig-suite: %s\n", err);
			return 1;
		}
		printf("%s\n", argv[3]);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "verify")) {
		int ret = 1;

		if (!mkdtemp(tmp))
			return 1;
		if (find_bundle(argv[2], tmp, dir, sizeof(dir), err, sizeof(err)) == 0 &&
		    (m = bundle_load(dir, err, sizeof(err)))) {
			printf("%s: a valid bundle of %s (%zu files, reason: %s)\n", argv[2],
			       json_string_value(json_object_get(m, "instance")), json_array_size(json_object_get(m, "files")),
			       json_string_value(json_object_get(m, "reason")));
			json_decref(m);
			ret = 0;
		} else {
			fprintf(stderr, "crmig-suite: bad bundle: %s\n", err);
		}
		remove_tree(tmp);
		return ret;
	}
	bundle_usage(stderr);
	return 2;
}
