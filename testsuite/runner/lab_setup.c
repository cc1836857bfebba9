/* The runner's lab: boot it (or attach to a running one), give both hosts
 * certificates and a `crmig serve`, prove the lab itself works, and prove
 * that tearing it down leaves nothing behind. */
#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "runner.h"
#include "tls.h"
#include "util.h"

int host_sh(struct runner *r, int host, double timeout_s, struct proc_result *res, const char *fmt, ...)
{
	__do_free char *cmd = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&cmd, fmt, ap) < 0)
		cmd = NULL;
	va_end(ap);
	if (!cmd)
		return -1;
	return lab_sh(&r->lab, host, cmd, timeout_s, res);
}

int host_ok(struct runner *r, int host, double timeout_s, const char *fmt, ...)
{
	__do_free char *cmd = NULL;
	struct proc_result res;
	va_list ap;
	int status;

	va_start(ap, fmt);
	if (vasprintf(&cmd, fmt, ap) < 0)
		cmd = NULL;
	va_end(ap);
	if (!cmd || lab_sh(&r->lab, host, cmd, timeout_s, &res) < 0)
		return -1;
	status = res.timed_out ? -1 : res.status;
	proc_result_free(&res);
	return status;
}

int host_wait_verdict(struct runner *r, int host, const char *dir, double timeout_s, char *verdict, size_t len)
{
	double deadline = now_ms() + timeout_s * 1000;

	while (now_ms() < deadline && !runner_interrupted) {
		struct proc_result res;
		bool got = false;

		if (host_sh(r, host, 30, &res, "cat %s/verdict 2>/dev/null", dir) == 0) {
			got = res.status == 0 && res.out[0];
			if (got)
				snprintf(verdict, len, "%s", res.out);
			proc_result_free(&res);
		}
		if (got)
			return 0;
		usleep(300 * 1000);
	}
	return -1;
}

char *guest_path(struct runner *r, const char *rel)
{
	return lab_guest_path(&r->lab, rel);
}

/* ---- up and down ---------------------------------------------------------- */

int runner_lab_up(struct runner *r, char *err, size_t errlen)
{
	char name[32];

	if (r->o->lab_name) {
		if (lab_attach(&r->lab, getenv("CRMIG_LAB_STATE"), r->o->lab_name, err, errlen) < 0)
			return -1;
	} else {
		struct lab_config cfg = { .name = name, .backend = "qemu", .image_dir = r->o->image,
					  .payload = r->o->payload, .mem_mb = r->o->mem_mb,
					  .state_root = getenv("CRMIG_LAB_STATE") };

		/* Unique per run, so that two suites can share a machine. */
		snprintf(name, sizeof(name), "%s-%d", r->o->lab_prefix ? r->o->lab_prefix : "suite", (int)getpid());
		r->own_lab = true;
		if (lab_up(&r->lab, &cfg, err, errlen) < 0)
			return -1;
	}
	if (lab_enter_netns(&r->lab) < 0) {
		snprintf(err, errlen, "cannot enter the lab's network namespace: %s", strerror(errno));
		return -1;
	}
	r->probe = probe_start(r->lab.harness_addr, PROBE_PORT, err, errlen);
	return r->probe ? 0 : -1;
}

void runner_lab_down(struct runner *r)
{
	if (r->probe)
		probe_stop(r->probe);
	r->probe = NULL;
	if (r->own_lab)
		lab_down(&r->lab);
	else
		lab_detach(&r->lab);
}

/* ---- provisioning --------------------------------------------------------- */

static int copy_identity(struct lab *lab, int host, const char *local_dir, const char *remote_dir)
{
	static const char *const files[] = { "ca.crt", "host.crt", "host.key" };

	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		__do_free char *from = xasprintf("%s/%s", local_dir, files[i]);
		__do_free char *to = xasprintf("%s/%s", remote_dir, files[i]);

		if (lab_copy_to(lab, host, from, to, i == 2 ? 0600 : 0644) < 0)
			return -1;
	}
	return 0;
}

/* A CA for the lab, a certificate per host; and a "rogue" identity on host
 * a: our CA to trust the destination, but its own certificate signed by
 * another CA, which the destination must refuse. */
static int make_certs(struct lab *lab, const char *tmp, char *err, size_t errlen)
{
	__do_free char *ca = xasprintf("%s/ca", tmp);
	__do_free char *rogue_ca = xasprintf("%s/rogue-ca", tmp);
	__do_free char *rogue = xasprintf("%s/rogue", tmp);

	if (mkdir_p(ca, 0700) < 0 || mkdir_p(rogue_ca, 0700) < 0 || mkdir_p(rogue, 0700) < 0 ||
	    cert_make_ca(ca, "crmig-suite lab CA", 30, err, errlen) < 0 ||
	    cert_make_ca(rogue_ca, "crmig-suite rogue CA", 30, err, errlen) < 0)
		return -1;
	for (int i = 0; i < lab->nhosts; i++) {
		__do_free char *out = xasprintf("%s/%s", tmp, lab->hosts[i].name);
		const char *ips[] = { lab->hosts[i].addr, NULL };

		if (mkdir_p(out, 0700) < 0 ||
		    cert_make_host(ca, out, lab->hosts[i].name, ips, 30, err, errlen) < 0 ||
		    copy_identity(lab, i, out, "/etc/crmig") < 0) {
			if (!*err)
				snprintf(err, errlen, "cannot install certificates on host %s", lab->hosts[i].name);
			return -1;
		}
	}
	{
		const char *ips[] = { lab->hosts[HOST_A].addr, NULL };
		__do_free char *real_ca = xasprintf("%s/ca.crt", ca);
		__do_free char *crt = xasprintf("%s/host.crt", rogue);
		__do_free char *key = xasprintf("%s/host.key", rogue);

		if (cert_make_host(rogue_ca, rogue, "a", ips, 30, err, errlen) < 0)
			return -1;
		/* trust the real CA: only our own certificate is wrong */
		if (lab_copy_to(lab, HOST_A, real_ca, "/etc/crmig-rogue/ca.crt", 0644) < 0 ||
		    lab_copy_to(lab, HOST_A, crt, "/etc/crmig-rogue/host.crt", 0644) < 0 ||
		    lab_copy_to(lab, HOST_A, key, "/etc/crmig-rogue/host.key", 0600) < 0) {
			snprintf(err, errlen, "cannot install the rogue identity on host a");
			return -1;
		}
	}
	return 0;
}

int lab_provision_crmig(struct lab *lab, char *err, size_t errlen)
{
	__do_free char *crmig = lab_guest_path(lab, "bin/crmig");
	char tmp[] = "/tmp/crmig-certs-XXXXXX";
	int ret = -1;

	*err = '\0';
	if (!mkdtemp(tmp)) {
		snprintf(err, errlen, "mkdtemp: %s", strerror(errno));
		return -1;
	}
	if (make_certs(lab, tmp, err, errlen) < 0)
		goto out;
	for (int i = 0; i < lab->nhosts; i++) {
		struct proc_result res;
		/* A lab attached to may still run a serve of an earlier run. */
		__do_free char *cmd = xasprintf("mkdir -p " WORK_ROOT " && (pkill -x crmig; sleep 0.2; "
						"setsid %s serve </dev/null >>/var/log/crmig-serve.log 2>&1 &) && "
						"for i in $(seq 100); do ss -ltn | grep -q ':7077 ' && exit 0; sleep 0.1; done; exit 1",
						crmig);

		if (lab_sh(lab, i, cmd, 30, &res) < 0 || res.status != 0) {
			snprintf(err, errlen, "crmig serve does not start on host %s (see /var/log/crmig-serve.log there; "
				 "is %s installed?)", lab->hosts[i].name, crmig);
			if (res.out)
				proc_result_free(&res);
			goto out;
		}
		proc_result_free(&res);
	}
	ret = 0;
out:
	remove_tree(tmp);
	return ret;
}

bool runner_host_has_feature(struct runner *r, const char *feature, char *why, size_t len)
{
	json_t *known = json_object_get(r->features, feature);

	if (!known) {
		known = json_object();
		for (int i = 0; i < r->lab.nhosts; i++)
			json_object_set_new(known, r->lab.hosts[i].name,
					    json_boolean(host_ok(r, i, 60, "criu check --feature %s", feature) == 0));
		json_object_set_new(r->features, feature, known);
	}
	for (int i = 0; i < r->lab.nhosts; i++) {
		if (!json_is_true(json_object_get(known, r->lab.hosts[i].name))) {
			snprintf(why, len, "criu on host %s lacks %s (criu check --feature %s)", r->lab.hosts[i].name,
				 feature, feature);
			return false;
		}
	}
	return true;
}

/* ---- the lab's own checks ------------------------------------------------- */

static struct suite_case lab_case = { .name = "lab", .workload = "lab", .tier = "lean" };

struct check_list {
	struct suite_result *v;
	size_t n;
	int failed;
	struct runner *r;
};

static void record_outcome(struct check_list *l, const char *name, enum outcome outcome, json_t *details,
			   const char *fmt, va_list ap)
{
	struct suite_result *res;
	bool ok = outcome != OUTCOME_FAIL;

	l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	res = &l->v[l->n++];
	memset(res, 0, sizeof(*res));
	res->inst.c = &lab_case;
	snprintf(res->inst.id, sizeof(res->inst.id), "lab:%s", name);
	snprintf(res->distro, sizeof(res->distro), "%s", l->r->distro);
	res->outcome = outcome;
	res->probe_gap_ms = -1;
	res->details = details ? details : json_object();
	json_object_set_new(res->details, "accel", json_string(l->r->lab.accel));
	if (outcome != OUTCOME_PASS)
		vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
	l->failed += !ok;
	tap_result(l->r->tap, ++l->r->tap_n, res);
	fflush(l->r->tap);
	fprintf(stderr, "crmig-suite: %s: %s%s%s\n", res->inst.id, outcome_name(outcome), res->reason[0] ? ": " : "",
		res->reason);
}

static void record(struct check_list *l, const char *name, bool ok, json_t *details, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static void record(struct check_list *l, const char *name, bool ok, json_t *details, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	record_outcome(l, name, ok ? OUTCOME_PASS : OUTCOME_FAIL, details, fmt, ap);
	va_end(ap);
}

static void record_skip(struct check_list *l, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void record_skip(struct check_list *l, const char *name, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	record_outcome(l, name, OUTCOME_SKIP, NULL, fmt, ap);
	va_end(ap);
}

static void check_answers(struct check_list *l)
{
	for (int i = 0; i < l->r->lab.nhosts; i++) {
		__do_free char *name = xasprintf("host-%s-answers", l->r->lab.hosts[i].name);
		bool ok = host_ok(l->r, i, 30, "true") == 0;

		record(l, name, ok, NULL, "host %s does not answer over ssh", l->r->lab.hosts[i].name);
	}
}

static void check_reach(struct check_list *l)
{
	struct runner *r = l->r;
	bool ab = host_ok(r, HOST_A, 30, "ping -c1 -W3 %s", r->lab.hosts[HOST_B].addr) == 0;
	bool ba = host_ok(r, HOST_B, 30, "ping -c1 -W3 %s", r->lab.hosts[HOST_A].addr) == 0;
	bool ah = host_ok(r, HOST_A, 30, "ping -c1 -W3 %s", r->lab.harness_addr) == 0;
	bool bh = host_ok(r, HOST_B, 30, "ping -c1 -W3 %s", r->lab.harness_addr) == 0;

	record(l, "hosts-reach-each-other", ab && ba, NULL, "a->b %s, b->a %s", ab ? "ok" : "FAILS", ba ? "ok" : "FAILS");
	record(l, "hosts-reach-the-harness", ah && bh, NULL, "a->harness %s, b->harness %s", ah ? "ok" : "FAILS",
	       bh ? "ok" : "FAILS");
}

static void check_criu(struct check_list *l)
{
	for (int i = 0; i < l->r->lab.nhosts; i++) {
		__do_free char *name = xasprintf("criu-check-%s", l->r->lab.hosts[i].name);
		struct proc_result res;
		bool ok = host_sh(l->r, i, 120, &res, "criu check 2>&1") == 0 && res.status == 0 &&
			  strstr(res.out, "Looks good");

		record(l, name, ok, json_pack("{s:s}", "criu_check", res.out ? res.out : ""),
		       "criu check on host %s: %.300s", l->r->lab.hosts[i].name, res.out ? res.out : "");
		proc_result_free(&res);
	}
}

/* crmig check --json of each host, kept whole in the check's details (what
 * a maintainer compares across distros: kernel, criu, lxc, features, the
 * strategies), and whether page TLS runs in that kernel (ktls.h): a kernel
 * without TLS is no failure, crmig then relays, but it is said loudly. */
static void check_crmig(struct check_list *l)
{
	__do_free char *crmig = guest_path(l->r, "bin/crmig");

	for (int i = 0; i < l->r->lab.nhosts; i++) {
		const char *host = l->r->lab.hosts[i].name;
		__do_free char *name = xasprintf("crmig-check-%s", host);
		__do_free char *ktls = xasprintf("page-tls-in-the-kernel-%s", host);
		struct proc_result res;
		json_t *j = NULL, *features;

		if (host_sh(l->r, i, 120, &res, "%s check --json", crmig) == 0)
			j = json_loads(res.out ? res.out : "", 0, NULL);
		features = json_object_get(j, "features");
		record(l, name, json_is_object(features) && json_is_object(json_object_get(j, "strategies")),
		       j ? json_pack("{s:O}", "crmig_check", j) : NULL, "crmig check --json on host %s: exit %d: %.300s%.300s",
		       host, res.status, res.out ? res.out : "", res.err ? res.err : "");
		if (!json_is_object(features))
			record_skip(l, ktls, "host %s: no crmig check --json to say", host);
		else if (json_is_true(json_object_get(features, "kernel_tls")))
			record(l, ktls, true, NULL, "-");
		else
			record_skip(l, ktls, "host %s: its kernel has no TLS, crmig relays the page streams there: %s", host,
				    json_string_value(json_object_get(j, "kernel_tls_why")) ?: "?");
		json_decref(j);
		proc_result_free(&res);
	}
}

static void check_copy(struct check_list *l)
{
	__do_free char *out = xasprintf("%s/copy.out", l->r->tmp);
	__do_free char *back = xasprintf("%s/copy.back", l->r->tmp);
	__do_free char *data = xmalloc(1 << 20);
	__do_free char *got = NULL;
	size_t len = 0;
	bool ok;

	for (size_t i = 0; i < (1 << 20); i++)
		data[i] = (char)(i * 2654435761u >> 13);
	ok = write_file(out, data, 1 << 20, 0644) == 0 &&
	     lab_copy_to(&l->r->lab, HOST_A, out, WORK_ROOT "/copy.test", 0644) == 0 &&
	     lab_copy_from(&l->r->lab, HOST_A, WORK_ROOT "/copy.test", back) == 0 && (got = read_file(back, &len)) &&
	     len == (1 << 20) && !memcmp(got, data, len);
	record(l, "file-copy-round-trip", ok, NULL, "a 1 MiB file copied to host a did not come back identical");
	host_ok(l->r, HOST_A, 30, "rm -f " WORK_ROOT "/copy.test");
}

static bool b_reaches_a(struct runner *r, double within_s)
{
	double deadline = now_ms() + within_s * 1000;

	do {
		if (host_ok(r, HOST_B, 10, "ping -c1 -W1 %s", r->lab.hosts[HOST_A].addr) == 0)
			return true;
	} while (now_ms() < deadline);
	return false;
}

static void check_cut(struct check_list *l)
{
	struct runner *r = l->r;
	bool cut = lab_cut_link(&r->lab, HOST_A, true) == 0;
	/* b keeps its control channel; a is the one cut off */
	bool lost = cut && host_ok(r, HOST_B, 20, "! ping -c2 -W1 %s", r->lab.hosts[HOST_A].addr) == 0;
	bool restored = lab_cut_link(&r->lab, HOST_A, false) == 0 && b_reaches_a(r, 20);

	record(l, "cut-link-observed-and-restored", cut && lost && restored, NULL,
	       "cutting host a's link: %s; b lost a: %s; restored: %s", cut ? "done" : "FAILED",
	       lost ? "yes" : "NO", restored ? "yes" : "NO");
}

/* Seconds to push mb MiB from a to b over TCP (nc); -1 on failure. */
static double push_seconds(struct runner *r, int mb)
{
	struct proc_result res;
	double secs = -1;

	if (host_ok(r, HOST_B, 20, "(timeout 60 nc -l -p 7399 >/dev/null </dev/null 2>&1 &) ; sleep 0.3") != 0)
		return -1;
	if (host_sh(r, HOST_A, 90, &res,
		    "s=$(date +%%s%%N); head -c %dM /dev/zero | nc -N %s 7399 && e=$(date +%%s%%N) && echo $(( (e - s) / 1000000 ))",
		    mb, r->lab.hosts[HOST_B].addr) == 0) {
		if (res.status == 0)
			secs = atof(res.out) / 1000;
		proc_result_free(&res);
	}
	return secs;
}

static void check_bandwidth(struct check_list *l)
{
	struct runner *r = l->r;
	double free_s = push_seconds(r, 32), limited_s;
	bool limited_ok;

	record(l, "bridge-throughput-a-to-b", free_s > 0,
	       json_pack("{s:f, s:f}", "seconds_for_32MiB", free_s, "MB_per_s", free_s > 0 ? 33.554432 / free_s : 0),
	       "could not push 32 MiB from a to b with nc");
	if (free_s > 0)
		fprintf(stderr, "crmig-suite: bridge throughput a->b: %.1f MB/s\n", 33.554432 / free_s);
	limited_ok = lab_limit_bw(&r->lab, HOST_A, "16mbit") == 0;
	limited_s = limited_ok ? push_seconds(r, 4) : -1;
	lab_limit_bw(&r->lab, HOST_A, NULL);
	/* 4 MiB at 16 Mbit/s take 2.1 s at least */
	record(l, "bandwidth-limit-applies", limited_ok && limited_s >= 1.8,
	       json_pack("{s:f}", "seconds_for_4MiB_at_16mbit", limited_s), "4 MiB at 16 Mbit/s took %.2f s", limited_s);
}

/* The ssh backend, pointed at the two booted guests, drives them too. */
static void check_ssh_backend(struct check_list *l)
{
	struct runner *r = l->r;
	struct lab_config cfg = { .name = "sshcheck", .backend = "ssh", .ssh_key = r->lab.key,
				  .harness_addr = r->lab.harness_addr, .guest_prefix = r->lab.prefix,
				  .state_root = r->tmp, .hosts = { r->lab.hosts[HOST_A].addr, r->lab.hosts[HOST_B].addr } };
	struct lab ssh;
	char err[1024] = "";
	bool ok = lab_up(&ssh, &cfg, err, sizeof(err)) == 0;
	struct proc_result res = { 0 };

	if (ok) {
		ok = lab_sh(&ssh, HOST_B, "hostname", 30, &res) == 0 && res.status == 0 && !strncmp(res.out, "b", 1);
		if (!ok)
			snprintf(err, sizeof(err), "hostname on b said %.100s", res.out ? res.out : "nothing");
		proc_result_free(&res);
		lab_down(&ssh);
	}
	record(l, "ssh-backend-drives-the-hosts", ok, NULL, "the ssh backend: %s", err);
}

/* A second build of the lab's image must come from the cache in seconds. */
static void check_image_cache(struct check_list *l)
{
	struct runner *r = l->r;
	__do_free char *vm = suite_data_dir("vm-images");
	__do_free char *script = vm ? xasprintf("%s/build", vm) : NULL;
	__do_free char *manifest = xasprintf("%s/manifest.json", r->lab.image_dir);
	json_t *m = json_load_file(manifest, 0, NULL);
	const char *distro = json_string_value(json_object_get(m, "distro"));
	bool debs = json_array_size(json_object_get(json_object_get(m, "inputs"), "debs")) > 0;
	char *argv[] = { script, "--distro", (char *)(distro ? distro : ""), NULL };
	struct proc_opts po = PROC_OPTS_DEFAULT;
	struct proc_result res;
	double t0 = now_ms(), secs;
	bool ok = false;

	if (!script || !distro || debs) {
		record_skip(l, "image-build-cache-hit", "%s",
			    !script ? "vm-images/build is not installed here"
			    : debs  ? "the image holds candidate .debs (built with --deb): it cannot be rebuilt from a mirror"
				    : "the image has no manifest");
		json_decref(m);
		return;
	}
	po.timeout_s = 600;
	if (proc_run(argv, &po, &res) == 0) {
		char *last = res.out + strlen(res.out);
		while (last > res.out && last[-1] == '\n')
			*--last = '\0';
		last = strrchr(res.out, '\n') ? strrchr(res.out, '\n') + 1 : res.out;
		ok = res.status == 0 && !strcmp(last, r->lab.image_dir);
		proc_result_free(&res);
	}
	secs = (now_ms() - t0) / 1000;
	json_decref(m);
	record(l, "image-build-cache-hit", ok && secs < 60, json_pack("{s:f}", "seconds", secs),
	       "vm-images/build again took %.1f s and %s", secs, ok ? "found the same image" : "did not find the same image");
}

int runner_lab_checks(struct runner *r, struct suite_result **results, size_t *n)
{
	struct check_list l = { .r = r };

	check_answers(&l);
	check_reach(&l);
	check_criu(&l);
	check_crmig(&l);
	check_copy(&l);
	check_cut(&l);
	check_bandwidth(&l);
	check_ssh_backend(&l);
	check_image_cache(&l);
	*results = l.v;
	*n = l.n;
	return l.failed;
}

/* ---- nothing left behind -------------------------------------------------- */

static bool lab_process_left(const char *tag)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	bool found = false;

	while (d && !found && (e = readdir(d))) {
		__do_free char *path = NULL, *cmd = NULL;
		size_t len;

		if (atoi(e->d_name) <= 0)
			continue;
		path = xasprintf("/proc/%s/cmdline", e->d_name);
		cmd = read_file(path, &len);
		for (size_t i = 0; cmd && i + 1 < len; i++)
			if (!cmd[i])
				cmd[i] = ' ';
		found = cmd && strstr(cmd, tag);
	}
	if (d)
		closedir(d);
	return found;
}

void runner_teardown_check(struct runner *r, struct suite_result *res)
{
	__do_free char *tag = xasprintf("crmig-%s-", r->lab.name);
	__do_free char *ns = xasprintf("/run/netns/%s", r->lab.netns);
	bool procs = lab_process_left(tag);
	bool netns = r->lab.netns[0] && access(ns, F_OK) == 0;

	memset(res, 0, sizeof(*res));
	res->inst.c = &lab_case;
	snprintf(res->inst.id, sizeof(res->inst.id), "lab:teardown-leaves-nothing");
	snprintf(res->distro, sizeof(res->distro), "%s", r->distro);
	res->probe_gap_ms = -1;
	res->details = json_object();
	res->outcome = procs || netns ? OUTCOME_FAIL : OUTCOME_PASS;
	if (res->outcome == OUTCOME_FAIL)
		snprintf(res->reason, sizeof(res->reason), "after teardown:%s%s", procs ? " a qemu of the lab still runs" : "",
			 netns ? " its network namespace (bridge, taps) still exists" : "");
}
