/* Bare: the workload is a process tree on the host. Its binary daemonizes
 * once ready and says its pid; crmig migrate --pid moves the tree, and an
 * address of its own (a service's, flags = move-ip) is bound by the
 * workload and moved by crmig --move-ip. */
#include <stdio.h>

#include "mode.h"
#include "util.h"

/* A shell test: is pid (%d) still the workload with this id (%s)? */
#define IS_OURS "tr '\\0' ' ' < /proc/%d/cmdline 2>/dev/null | grep -qE -- '--id %s( |$)'"

static int bare_start(struct runner *r, struct mode_wl *w, const struct mode_start *s, char *why, size_t len)
{
	struct proc_result res;
	int ok;

	snprintf(w->dir, sizeof(w->dir), WORK_ROOT "/%s", w->slug);
	if (w->addr[0] && host_ok(r, HOST_A, 30, "ip addr add %s/24 dev br0", w->addr) != 0)
		return fail_why(why, len, "cannot add the workload's address %s on host a", w->addr);
	if (host_sh(r, HOST_A, s->timeout_s, &res, "rm -rf %s; %s --dir %s %s%s%s && cat %s/ready", w->dir, s->program,
		    w->dir, s->args, w->addr[0] ? " --bind " : "", w->addr, w->dir) < 0)
		return fail_why(why, len, "cannot reach host a");
	ok = res.status == 0 && sscanf(res.out, "pid=%d", &w->pid) == 1;
	if (!ok)
		fail_why(why, len, "the workload did not start on host a: %.500s%.500s", res.out, res.err);
	proc_result_free(&res);
	return ok ? 0 : -1;
}

static char *bare_crmig_target(const struct mode_wl *w)
{
	return xasprintf("--pid %d", w->pid);
}

static char *bare_pid_word(const struct mode_wl *w)
{
	return xasprintf("%d", w->pid);
}

static char *bare_running_cmd(const struct mode_wl *w, bool wait_for_gone)
{
	return xasprintf("for i in $(seq %d); do s=$(cut -d' ' -f3 /proc/%d/stat 2>/dev/null) && [ \"$s\" != Z ] || exit 1; "
			 "sleep 0.1; done; exit 0", wait_for_gone ? 50 : 1, w->pid);
}

static char *bare_resumed_cmd(const struct mode_wl *w)
{
	return xasprintf("for i in $(seq 50); do [ \"$(cut -d' ' -f3 /proc/%d/stat)\" != T ] && exit 0; sleep 0.2; done; exit 1",
			 w->pid);
}

/* The tree first, leaves before their parents (a killed parent's children
 * would go to init and escape: zdtm's tests, the tree workload's), if the
 * pid still is ours; then anything else with our id. [-] keeps pkill from
 * matching its own shell. */
static char *bare_cleanup_cmd(struct runner *r, const struct mode_wl *w)
{
	(void)r;
	return xasprintf("k() { for c in $(cat /proc/$1/task/*/children 2>/dev/null); do k $c; done; kill -9 $1 2>/dev/null; }; "
			 "[ %d -gt 1 ] && " IS_OURS " && k %d; "
			 "pkill -9 -f -- '[-]-id %s( |$)'; rm -rf %s; %s%s%s true",
			 w->pid, w->pid, w->id, w->pid, w->id, w->dir,
			 w->addr[0] ? "ip addr del " : "", w->addr, w->addr[0] ? "/24 dev br0 2>/dev/null;" : "");
}

static char *bare_user_script(const struct mode_wl *w, const char *img, const char *bhost, const char *ssh)
{
	return xasprintf(
		"S='ssh %5$s'; ms() { echo $(( $(date +%%s%%N) / 1000000 )); }\n"
		"mkdir -p %2$s\n"
		"t0=$(ms)\n"
		"criu dump -t %1$d -D %2$s --tcp-established --file-locks -o dump.log || { echo \"FAIL dump: $(tail -n 5 %2$s/dump.log)\"; exit 1; }\n"
		"t1=$(ms)\n"
		"scp -rq %5$s %2$s %3$s:/tmp/ && scp -rq %5$s %4$s %3$s:" WORK_ROOT "/ || { echo 'FAIL copy: scp'; exit 1; }\n"
		"t2=$(ms)\n"
		"$S %3$s 'criu restore -D %2$s -d --tcp-established --file-locks -o restore.log </dev/null >/dev/null 2>&1' || "
		"{ echo \"FAIL restore: $($S %3$s tail -n 5 %2$s/restore.log)\"; exit 1; }\n"
		"t3=$(ms)\n"
		"echo \"STEPS $((t1 - t0)) $((t2 - t1)) $((t3 - t2)) $(du -sb %2$s | cut -f1)\"\n",
		w->pid, img, bhost, w->dir, ssh);
}

static char *bare_local_restore_cmd(const struct mode_wl *w, const char *img)
{
	(void)w;
	return xasprintf("criu restore -D %s -d --tcp-established --file-locks -o restore-local.log </dev/null >/dev/null 2>&1",
			 img);
}

/* only if the pid is still the workload's: a restored copy keeps its pid,
 * one that exited may have left it to someone else */
static char *bare_stop_cmd(const struct mode_wl *w)
{
	return xasprintf(IS_OURS " && kill -9 %d; true",
			 w->pid, w->id, w->pid);
}

const struct suite_mode mode_bare = {
	.name = "bare",
	.summary = "a process tree on the host (crmig migrate --pid; its own address moves with --move-ip)",
	.bit = MODE_BARE,
	.addr_base = 100,
	.own_addr = false,
	.moves_addr = true,
	.locks_netns = false,
	.target_usage = "--pid PID",
	.not_resumed = "left the workload stopped",
	.bench_fixed_s = 0,
	.user_way = "criu dump, scp -r over ssh, criu restore -d",
	.start = bare_start,
	.crmig_target = bare_crmig_target,
	.pid_word = bare_pid_word,
	.running_cmd = bare_running_cmd,
	.resumed_cmd = bare_resumed_cmd,
	.cleanup_cmd = bare_cleanup_cmd,
	.user_script = bare_user_script,
	.local_restore_cmd = bare_local_restore_cmd,
	.user_precopy = NULL,
	.stop_cmd = bare_stop_cmd,
};
