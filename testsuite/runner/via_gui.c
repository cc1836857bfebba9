/* flags = via-gui: the migration goes through crmig gui, as a user does it.
 * crmig gui --lab runs on the harness against the lab's hosts; headless
 * chromium (testsuite/gui/lab_test.py --migrate) drags the workload from a
 * to b, waits for the dialog's preflight, picks the strategy, starts it and
 * hands back the report the page got. The runner then judges it as it
 * judges crmig migrate (workload verdict, heartbeat gap, source gone, hosts
 * unchanged). Without chromium, chromedriver or selenium it skips, saying
 * what to install. */
#include <libgen.h>

#include "runner.h"
#include "util.h"

/* A program built next to crmig-suite (the build directory), else PATH's. */
static char *beside_us(const char *name)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n > 0) {
		__do_free char *p = NULL;

		exe[n] = '\0';
		p = xasprintf("%s/%s", dirname(exe), name);
		if (access(p, X_OK) == 0)
			return move_ptr(p);
	}
	return xstrdup(name);
}

static int missing(char *why, size_t len, const char *what)
{
	snprintf(why, len, "via-gui: %s is missing: ci/install-deps gui installs chromium, chromium-driver and "
		 "python3-selenium", what);
	return VIA_GUI_SKIP;
}

int via_gui_migrate(struct runner *r, int pid, const char *strategy, double timeout_s, json_t **report, char *out,
		    size_t outlen, char *why, size_t whylen)
{
	__do_free char *data = suite_data_dir("gui"), *script = NULL, *crmig = beside_us("crmig");
	__do_free char *lab = beside_us("crmig-lab"), *root = xstrdup(r->lab.dir), *shots = NULL, *rep_path = NULL;
	char pid_s[16];
	struct proc_opts po = PROC_OPTS_DEFAULT;
	struct proc_result res;
	json_error_t jerr;

	if (access("/usr/bin/chromium", X_OK))
		return missing(why, whylen, "/usr/bin/chromium");
	if (access("/usr/bin/chromedriver", X_OK))
		return missing(why, whylen, "/usr/bin/chromedriver");
	{
		char *py[] = { "/usr/bin/python3", "-c", "import selenium", NULL };

		if (proc_simple(py, 30) != 0)
			return missing(why, whylen, "python3-selenium (/usr/bin/python3 cannot import selenium)");
	}
	script = data ? xasprintf("%s/lab_test.py", data) : NULL;
	if (!script || access(script, R_OK)) {
		snprintf(why, whylen, "via-gui: testsuite/gui/lab_test.py not found (run crmig-suite from a source tree's "
			 "build directory, or set CRMIG_SUITE_DATA)");
		return VIA_GUI_SKIP;
	}
	snprintf(pid_s, sizeof(pid_s), "%d", pid);
	/* the page's screenshots stay next to the run's reports (make check:
	 * build/check/gui-lab/), else in the scratch directory */
	if (r->o->json && strcmp(r->o->json, "-")) {
		__do_free char *j = xstrdup(r->o->json);

		shots = xasprintf("%s/gui-lab", dirname(j));
	} else {
		shots = xasprintf("%s/gui-%d", r->tmp, pid);
	}
	rep_path = xasprintf("%s/gui-%d.report.json", r->tmp, pid);
	unlink(rep_path);
	{
		/* crmig gui --lab NAME reads LAB_ROOT/NAME/state.json */
		char *argv[] = { "/usr/bin/python3", script, "--migrate", pid_s, "--strategy", (char *)strategy,
				 "--report", rep_path, "--lab-root", dirname(root), crmig, lab, r->lab.name, shots,
				 NULL };

		po.timeout_s = timeout_s + 120; /* the browser's own start and the preflight */
		if (proc_run(argv, &po, &res) < 0) {
			snprintf(why, whylen, "via-gui: cannot run %s: %s", script, strerror(errno));
			return -1;
		}
	}
	snprintf(out, outlen, "%s%s", res.out, res.err);
	if (res.status == VIA_GUI_SKIP) {
		snprintf(why, whylen, "via-gui: %.1500s", res.out);
		proc_result_free(&res);
		return VIA_GUI_SKIP;
	}
	*report = json_load_file(rep_path, 0, &jerr);
	if (res.timed_out || res.status != 0 || !*report) {
		snprintf(why, whylen, "via-gui: lab_test.py %s%s (screenshots in %s): %.1500s",
			 res.timed_out ? "timed out" : "failed", *report ? "" : " and the page gave no report", shots,
			 out);
		proc_result_free(&res);
		return -1;
	}
	proc_result_free(&res);
	fprintf(stderr, "crmig-suite: via-gui: the page's screenshots are in %s\n", shots);
	return 0;
}
