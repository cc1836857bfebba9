/* The ssh lab backend: two existing machines, given by address, reachable as
 * root with a key. Nothing is booted and nothing is torn down but the faults
 * we injected. */
#include "lab.h"
#include "util.h"

static int ssh_up(struct lab *l, const struct lab_config *cfg, char *err, size_t errlen)
{
	if (!cfg->hosts[0] || !cfg->hosts[1]) {
		snprintf(err, errlen, "the ssh backend needs two hosts (--hosts A,B)");
		return -1;
	}
	if (!cfg->harness_addr) {
		snprintf(err, errlen, "the ssh backend needs the harness's address as the hosts see it (--harness-addr)");
		return -1;
	}
	snprintf(l->harness_addr, sizeof(l->harness_addr), "%s", cfg->harness_addr);
	snprintf(l->key, sizeof(l->key), "%s", cfg->ssh_key ? cfg->ssh_key : "");
	snprintf(l->prefix, sizeof(l->prefix), "%s", cfg->guest_prefix ? cfg->guest_prefix : "/usr");
	snprintf(l->image_dir, sizeof(l->image_dir), "%s", cfg->image_dir ? cfg->image_dir : "");
	snprintf(l->accel, sizeof(l->accel), "none");
	snprintf(l->accel_why, sizeof(l->accel_why), "real machines (ssh backend)");
	l->nhosts = LAB_MAX_HOSTS;
	for (int i = 0; i < l->nhosts; i++) {
		snprintf(l->hosts[i].name, sizeof(l->hosts[i].name), "%c", 'a' + i);
		snprintf(l->hosts[i].addr, sizeof(l->hosts[i].addr), "%s", cfg->hosts[i]);
	}
	for (int i = 0; i < l->nhosts; i++)
		if (lab_wait_ssh(l, i, 30, err, errlen) < 0)
			return -1;
	return 0;
}

/* Cutting a real host's link would cut our own control channel too: the host
 * drops its peer's traffic instead, which is what a migration sees. */
static int ssh_cut_link(struct lab *l, int host, bool cut)
{
	const char *peer = l->hosts[1 - host].addr;
	__do_free char *cmd = NULL;
	struct proc_result r;
	int ret;

	if (cut)
		cmd = xasprintf("iptables -I INPUT -s %s -m comment --comment crmig-cut -j DROP && "
				"iptables -I OUTPUT -d %s -m comment --comment crmig-cut -j DROP", peer, peer);
	else
		cmd = xasprintf("while iptables -D INPUT -s %s -m comment --comment crmig-cut -j DROP 2>/dev/null; do :; done; "
				"while iptables -D OUTPUT -d %s -m comment --comment crmig-cut -j DROP 2>/dev/null; do :; done", peer, peer);
	if (lab_sh(l, host, cmd, 30, &r) < 0)
		return -1;
	ret = r.status == 0 ? 0 : -1;
	proc_result_free(&r);
	return ret;
}

static void ssh_down(struct lab *l)
{
	for (int i = 0; i < l->nhosts; i++) {
		ssh_cut_link(l, i, false);
		lab_limit_bw(l, i, NULL);
	}
}

const struct lab_backend lab_backend_ssh = {
	.name = "ssh",
	.up = ssh_up,
	.down = ssh_down,
	.cut_link = ssh_cut_link,
};
