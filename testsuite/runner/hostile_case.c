/* flags = hostile: before the migration, crmig-hostile's attacks on the
 * destination's serve, and serve's footprint before and after them. The
 * harness sits in the lab's network namespace, so it attacks directly; it
 * authenticates with the source host's identity (the one crmig migrate
 * uses), copied from there for the run. */
#include "hostile.h"
#include "net.h"
#include "runner.h"
#include "util.h"

struct footprint {
	long rss_kb, fds, children;
};

/* serve is the oldest process named crmig on the host; its sessions are its
 * children (pgrep -P). */
static int sample(struct runner *r, int host, struct footprint *f)
{
	struct proc_result res;
	int ok;

	if (host_sh(r, host, 30, &res,
		    "p=$(pgrep -xo crmig) && echo $(grep VmRSS /proc/$p/status | tr -dc 0-9) $(ls /proc/$p/fd | wc -l) "
		    "$(pgrep -c -P $p)") < 0)
		return -1;
	ok = res.status == 0 && sscanf(res.out, "%ld %ld %ld", &f->rss_kb, &f->fds, &f->children) == 3;
	proc_result_free(&res);
	return ok ? 0 : -1;
}

static json_t *footprint_json(const struct footprint *f)
{
	return json_pack("{s:I, s:I, s:I}", "rss_kb", (json_int_t)f->rss_kb, "fds", (json_int_t)f->fds, "children",
			 (json_int_t)f->children);
}

static int copy_identity(struct runner *r, int from, const char *dir)
{
	static const char *const files[] = { "ca.crt", "host.crt", "host.key" };

	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		__do_free char *remote = xasprintf("/etc/crmig/%s", files[i]);
		__do_free char *local = xasprintf("%s/%s", dir, files[i]);

		if (lab_copy_from(&r->lab, from, remote, local) < 0)
			return -1;
	}
	return 0;
}

int hostile_case(struct runner *r, int host, json_t *details, char *why, size_t whylen)
{
	char tmp[] = "/tmp/crmig-hostile-XXXXXX";
	struct footprint before, after;
	struct hostile_report rep;
	struct hostile_opts o = { .host = r->lab.hosts[host].addr, .port = CRMIG_DEFAULT_PORT, .cert_dir = tmp,
				  .idle_conns = 200, .bound_s = 90 };
	__do_free char *text = NULL;
	json_t *hj;
	double settle;
	int ret = 0;

	*why = '\0';
	if (!mkdtemp(tmp)) {
		snprintf(why, whylen, "hostile: mkdtemp: %s", strerror(errno));
		return -1;
	}
	if (copy_identity(r, host == HOST_A ? HOST_B : HOST_A, tmp) < 0) {
		snprintf(why, whylen, "hostile: cannot copy host a's identity (/etc/crmig) for the attacks");
		ret = -1;
		goto out;
	}
	if (sample(r, host, &before) < 0) {
		snprintf(why, whylen, "hostile: cannot find crmig serve on host %s (pgrep -xo crmig)",
			 r->lab.hosts[host].name);
		ret = -1;
		goto out;
	}
	hostile_run(&o, &rep);
	/* the sessions of the attacks end on their own: give them a moment */
	for (settle = now_ms() + 15000;; usleep(500 * 1000)) {
		if (sample(r, host, &after) < 0) {
			snprintf(why, whylen, "hostile: crmig serve on host %s is gone after the attacks (see "
				 "/var/log/crmig-serve.log there)", r->lab.hosts[host].name);
			ret = -1;
			goto out;
		}
		if ((after.children <= before.children && after.fds <= before.fds) || now_ms() > settle)
			break;
	}
	text = hostile_report_text(&rep);
	hj = hostile_report_json(&rep);
	json_object_set_new(hj, "serve_before", footprint_json(&before));
	json_object_set_new(hj, "serve_after", footprint_json(&after));
	json_object_set_new(hj, "summary", json_string(text));
	json_object_set_new(details, "hostile", hj);
	if (!rep.ok || after.rss_kb - before.rss_kb > HOSTILE_RSS_NOISE_KB || after.fds > before.fds ||
	    after.children > before.children) {
		/* the figures first, then what went wrong (one line per attack) */
		snprintf(why, whylen, "hostile: serve RSS %ld -> %ld kB, fds %ld -> %ld, children %ld -> %ld%s; %s",
			 before.rss_kb, after.rss_kb, before.fds, after.fds, before.children, after.children,
			 after.rss_kb - before.rss_kb > HOSTILE_RSS_NOISE_KB ? " (RSS grew beyond noise)" : "", text);
		for (char *p = why; *p; p++)
			if (*p == '\n')
				*p = ' ';
		ret = -1;
	}
out:
	for (const char *f = "ca.crt\0host.crt\0host.key\0"; *f; f += strlen(f) + 1) {
		__do_free char *p = xasprintf("%s/%s", tmp, f);

		unlink(p);
	}
	rmdir(tmp);
	return ret;
}
