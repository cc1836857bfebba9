/* LXC: the workload runs as the init's child in a busybox container
 * (crmig-fixture lxc-create) with an address of its own; crmig migrate
 * --lxc moves the container, liblxc restores it on the other host. */
#include <jansson.h>
#include <stdio.h>

#include "mode.h"
#include "util.h"

static char *fixture_of(struct runner *r)
{
	return guest_path(r, "libexec/installed-tests/crmig/crmig-fixture");
}

static int lxc_start(struct runner *r, struct mode_wl *w, const struct mode_start *s, char *why, size_t len)
{
	__do_free char *fixture = fixture_of(r);
	__do_free char *with = s->with ? xasprintf("--with %s", s->with) : xstrdup("");
	struct proc_result res;
	json_t *out = NULL;

	snprintf(w->dir, sizeof(w->dir), "/var/lib/lxc/%s/rootfs/w/run", w->container);
	/* a service's program comes with its libraries into the busybox rootfs */
	if (host_sh(r, HOST_A, s->timeout_s, &res, "%s lxc-create %s --ip %s/24 --workload %s %s -- %s", fixture, w->container,
		    w->addr, s->program, with, s->args) < 0)
		return fail_why(why, len, "cannot reach host a");
	if (res.status == 0)
		out = json_loads(res.out, 0, NULL);
	w->pid = out ? (int)json_integer_value(json_object_get(out, "init_pid")) : 0;
	if (!out)
		fail_why(why, len, "the container did not start on host a: %.800s", res.err);
	else if (w->pid <= 0)
		fail_why(why, len, "crmig-fixture lxc-create gave no init_pid: %.800s", res.out);
	json_decref(out);
	proc_result_free(&res);
	return w->pid > 0 ? 0 : -1;
}

static char *lxc_crmig_target(const struct mode_wl *w)
{
	return xasprintf("--lxc %s", w->container);
}

/* the init's pid where the container runs now (it forwards signals) */
static char *lxc_pid_word(const struct mode_wl *w)
{
	return xasprintf("$(lxc-info -n %s -p -H)", w->container);
}

static char *lxc_running_cmd(const struct mode_wl *w, bool wait_for_gone)
{
	(void)wait_for_gone; /* lxc-info says STOPPED once crmig's handover stopped it */
	return xasprintf("lxc-info -n %s -s -H | grep -q RUNNING", w->container);
}

static char *lxc_resumed_cmd(const struct mode_wl *w)
{
	return xasprintf("for i in $(seq 50); do lxc-info -n %s -s -H | grep -q RUNNING && exit 0; sleep 0.2; done; exit 1",
			 w->container);
}

static char *lxc_cleanup_cmd(struct runner *r, const struct mode_wl *w)
{
	__do_free char *fixture = fixture_of(r);

	return xasprintf("%s lxc-destroy %s", fixture, w->container);
}

static char *lxc_user_script(const struct mode_wl *w, const char *img, const char *bhost, const char *ssh)
{
	return xasprintf(
		"S='ssh %4$s'; ms() { echo $(( $(date +%%s%%N) / 1000000 )); }\n"
		"t0=$(ms)\n"
		"lxc-checkpoint -s -n %1$s -D %2$s >%2$s.dump.log 2>&1 || { echo \"FAIL dump: $(tail -n 5 %2$s.dump.log)\"; exit 1; }\n"
		"t1=$(ms)\n"
		"scp -rq %4$s %2$s %3$s:/tmp/ || { echo 'FAIL copy: scp'; exit 1; }\n"
		"rsync -a -e \"$S\" /var/lib/lxc/%1$s/ %3$s:/var/lib/lxc/%1$s/ || { echo 'FAIL copy: rsync'; exit 1; }\n"
		"t2=$(ms)\n"
		"$S %3$s 'lxc-checkpoint -r -n %1$s -D %2$s </dev/null >%2$s.restore.log 2>&1' || "
		"{ echo \"FAIL restore: $($S %3$s tail -n 5 %2$s.restore.log)\"; exit 1; }\n"
		"t3=$(ms)\n"
		"echo \"STEPS $((t1 - t0)) $((t2 - t1)) $((t3 - t2)) $(du -sb %2$s | cut -f1)\"\n",
		w->container, img, bhost, ssh);
}

static char *lxc_local_restore_cmd(const struct mode_wl *w, const char *img)
{
	return xasprintf("lxc-checkpoint -r -n %s -D %s </dev/null >%s.local.log 2>&1", w->container, img, img);
}

static char *lxc_user_precopy(const struct mode_wl *w, const char *bhost, const char *ssh)
{
	return xasprintf("rsync -a -e 'ssh %s' /var/lib/lxc/%s/ %s:/var/lib/lxc/%s/", ssh, w->container, bhost, w->container);
}

static char *lxc_stop_cmd(const struct mode_wl *w)
{
	return xasprintf("lxc-stop -k -n %s >/dev/null 2>&1; true", w->container);
}

const struct suite_mode mode_lxc = {
	.name = "lxc",
	.summary = "an LXC container with its own address (crmig migrate --lxc)",
	.bit = MODE_LXC,
	.addr_base = 150,
	.own_addr = true,
	.moves_addr = false,
	.locks_netns = true,
	.target_usage = "--lxc NAME",
	.not_resumed = "left the container frozen",
	.bench_fixed_s = 10,
	.user_way = "lxc-checkpoint -s, scp -r + rsync over ssh, lxc-checkpoint -r",
	.start = lxc_start,
	.crmig_target = lxc_crmig_target,
	.pid_word = lxc_pid_word,
	.running_cmd = lxc_running_cmd,
	.resumed_cmd = lxc_resumed_cmd,
	.cleanup_cmd = lxc_cleanup_cmd,
	.user_script = lxc_user_script,
	.local_restore_cmd = lxc_local_restore_cmd,
	.user_precopy = lxc_user_precopy,
	.stop_cmd = lxc_stop_cmd,
};
