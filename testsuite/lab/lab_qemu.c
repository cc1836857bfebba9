/* The qemu lab backend: a network namespace with a bridge, two guests (KVM
 * where the boot probe says it works, else TCG) on taps, each on a throwaway
 * qcow2 overlay of the cached image. */
#include <fcntl.h>
#include <jansson.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "lab.h"
#include "lab_accel.h"
#include "util.h"

#define LAB_MTU "9000"

static int run_ip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run_ip(const char *fmt, ...)
{
	/* Only "ip" with fixed words and our own names: split on spaces. */
	char *words[32];
	__do_free char *line = NULL;
	size_t n = 0;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&line, fmt, ap) < 0)
		line = NULL;
	va_end(ap);
	if (!line)
		return -1;
	words[n++] = "ip";
	for (char *save, *w = strtok_r(line, " ", &save); w && n < ARRAY_SIZE(words) - 1; w = strtok_r(NULL, " ", &save))
		words[n++] = w;
	words[n] = NULL;
	return proc_simple(words, 30);
}

static bool netns_exists(const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	return access(path, F_OK) == 0;
}

/* Is pid a qemu we started for this lab? PIDs get reused: check the -name. */
static bool is_our_qemu(pid_t pid, const char *tag)
{
	char path[64];
	__do_free char *cmdline = NULL;
	size_t len;

	if (pid <= 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	cmdline = read_file(path, &len);
	if (!cmdline)
		return false;
	for (size_t i = 0; i + 1 < len; i++)
		if (cmdline[i] == '\0')
			cmdline[i] = ' ';
	return strstr(cmdline, "qemu-system") && strstr(cmdline, tag);
}

static void host_tag(const struct lab *l, int i, char *buf, size_t len)
{
	snprintf(buf, len, "crmig-%s-%s", l->name, l->hosts[i].name);
}

static void stop_qemu(struct lab *l, int i)
{
	struct lab_host *h = &l->hosts[i];
	char tag[96];

	host_tag(l, i, tag, sizeof(tag));
	if (!is_our_qemu(h->qemu_pid, tag)) {
		h->qemu_pid = 0;
		return;
	}
	kill(h->qemu_pid, SIGTERM);
	for (int t = 0; t < 50 && is_our_qemu(h->qemu_pid, tag); t++) {
		waitpid(h->qemu_pid, NULL, WNOHANG);
		usleep(100 * 1000);
	}
	if (is_our_qemu(h->qemu_pid, tag)) {
		kill(h->qemu_pid, SIGKILL);
		waitpid(h->qemu_pid, NULL, 0);
	}
	waitpid(h->qemu_pid, NULL, WNOHANG);
	h->qemu_pid = 0;
}

static void qemu_down(struct lab *l)
{
	for (int i = 0; i < l->nhosts; i++) {
		__do_free char *overlay = xasprintf("%s/%s.qcow2", l->dir, l->hosts[i].name);
		__do_free char *pidfile = xasprintf("%s/%s.pid", l->dir, l->hosts[i].name);

		stop_qemu(l, i);
		unlink(overlay);
		unlink(pidfile);
		unlink(l->hosts[i].monitor);
	}
	if (l->netns[0] && netns_exists(l->netns))
		run_ip("netns del %s", l->netns);
}

static int create_network(struct lab *l, char *err, size_t errlen)
{
	snprintf(l->netns, sizeof(l->netns), "crmig-%s", l->name);
	snprintf(l->harness_addr, sizeof(l->harness_addr), LAB_SUBNET ".1");
	if (netns_exists(l->netns)) {
		snprintf(err, errlen, "lab '%s' is already up (network namespace %s exists); "
			 "stop it with: make lab-down LAB=%s", l->name, l->netns, l->name);
		l->netns[0] = '\0'; /* not ours: do not delete it on the way out */
		return -1;
	}
	if (run_ip("netns add %s", l->netns) ||
	    run_ip("-n %s link set lo up", l->netns) ||
	    run_ip("-n %s link add br0 type bridge stp_state 0 forward_delay 0", l->netns) ||
	    run_ip("-n %s link set br0 mtu " LAB_MTU " up", l->netns) ||
	    run_ip("-n %s addr add %s/24 dev br0", l->netns, l->harness_addr)) {
		snprintf(err, errlen, "cannot create the lab network (ip netns/bridge); are you root and is the bridge module available?");
		return -1;
	}
	for (int i = 0; i < l->nhosts; i++) {
		if (run_ip("-n %s tuntap add tap-%s mode tap", l->netns, l->hosts[i].name) ||
		    run_ip("-n %s link set tap-%s mtu " LAB_MTU " master br0 up", l->netns, l->hosts[i].name)) {
			snprintf(err, errlen, "cannot create tap-%s (is /dev/net/tun there?)", l->hosts[i].name);
			return -1;
		}
	}
	return 0;
}

char *lab_image_init(const char *image_dir)
{
	__do_free char *path = xasprintf("%s/manifest.json", image_dir);
	json_t *m = json_load_file(path, 0, NULL);
	const char *init = m ? json_string_value(json_object_get(m, "init")) : NULL;
	char *ret = xstrdup(init && *init == '/' && !strpbrk(init, " \t\n") ? init : "/sbin/crmig-init");

	json_decref(m);
	return ret;
}

static char **qemu_argv(struct lab *l, int i, const struct lab_config *cfg, const char *init)
{
	struct lab_host *h = &l->hosts[i];
	char tag[96];
	char **argv = xzalloc(64 * sizeof(char *));
	size_t n = 0;

	host_tag(l, i, tag, sizeof(tag));
#define A(...) (argv[n++] = xasprintf(__VA_ARGS__))
	A("qemu-system-x86_64");
	A("-name"); A("%s", tag);
	/* One accelerator and one CPU model for both hosts: criu compares cpuinfo. */
	A("-accel"); A("%s", !strcmp(l->accel, "kvm") ? "kvm" : "tcg");
	A("-cpu"); A("%s", !strcmp(l->accel, "kvm") ? ACCEL_KVM_CPU : ACCEL_TCG_CPU);
	A("-m"); A("%d", cfg->mem_mb > 0 ? cfg->mem_mb : 2048);
	A("-smp"); A("1");
	A("-display"); A("none");
	A("-nodefaults");
	A("-no-reboot");
	A("-kernel"); A("%s/vmlinuz", cfg->image_dir);
	A("-initrd"); A("%s/initrd", cfg->image_dir);
	A("-append");
	A("root=/dev/vda rw console=ttyS0 net.ifnames=0 panic=-1 quiet init=%s crmig.host=%s crmig.ip=%s/24 "
	  "crmig.mtu=" LAB_MTU " crmig.pidbase=%d00000", init, h->name, h->addr, i + 1);
	A("-drive"); A("file=%s/%s.qcow2,if=virtio,format=qcow2,cache=unsafe", l->dir, h->name);
	if (cfg->payload) {
		A("-drive"); A("file=%s,if=virtio,format=raw,readonly=on", cfg->payload);
	}
	A("-netdev"); A("tap,id=n0,ifname=tap-%s,script=no,downscript=no", h->name);
	A("-device"); A("virtio-net-pci,netdev=n0,mac=52:54:00:77:00:%02x", 0x11 + i);
	A("-serial"); A("file:%s", h->console);
	A("-monitor"); A("unix:%s,server,nowait", h->monitor);
	A("-pidfile"); A("%s/%s.pid", l->dir, h->name);
	if (cfg->persistent)
		A("-daemonize");
#undef A
	return argv;
}

static int start_qemu(struct lab *l, int i, const struct lab_config *cfg, const char *init, char *err, size_t errlen)
{
	struct lab_host *h = &l->hosts[i];
	__do_free char *overlay = xasprintf("%s/%s.qcow2", l->dir, h->name);
	__do_free char *base = xasprintf("%s/base.img", cfg->image_dir);
	__do_free char *log = xasprintf("%s/qemu-%s.log", l->dir, h->name);
	__do_free char *pidfile = xasprintf("%s/%s.pid", l->dir, h->name);
	char *img_argv[] = { "qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "raw", overlay, NULL };
	char **argv;
	pid_t pid;
	int status;

	snprintf(h->console, sizeof(h->console), "%s/console-%s.log", l->dir, h->name);
	/* Unix socket paths are limited to 108 bytes: keep it short and per lab. */
	mkdir("/run/crmig-lab", 0700);
	snprintf(h->monitor, sizeof(h->monitor), "/run/crmig-lab/%s-%s.mon", l->name, h->name);
	unlink(h->console);
	unlink(pidfile);
	if (proc_simple(img_argv, 60) != 0) {
		snprintf(err, errlen, "cannot create the overlay %s (disk full?)", overlay);
		return -1;
	}
	argv = qemu_argv(l, i, cfg, init);
	pid = fork();
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		int nsfd = open(xasprintf("/run/netns/%s", l->netns), O_RDONLY);

		/* A qemu of a lab that is not persistent dies with its harness. */
		if (!cfg->persistent)
			prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (nsfd < 0 || setns(nsfd, CLONE_NEWNET) < 0)
			_exit(126);
		dup2(fd, 1);
		dup2(fd, 2);
		setsid();
		execvp(argv[0], argv);
		_exit(127);
	}
	lab_free_argv(argv);
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		return -1;
	}
	if (cfg->persistent) {
		/* -daemonize: the first process exits once the guest is started. */
		__do_free char *pidstr = NULL;

		waitpid(pid, &status, 0);
		pidstr = read_file(pidfile, NULL);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !pidstr) {
			__do_free char *qlog = read_file(log, NULL);
			snprintf(err, errlen, "qemu for host %s failed to start:\n%s", h->name, qlog ? qlog : "");
			return -1;
		}
		h->qemu_pid = atoi(pidstr);
	} else {
		h->qemu_pid = pid;
	}
	return 0;
}

/* A qemu we forked is our child (and may not have exec'ed yet); a
 * daemonized one is recognised by its command line. */
static bool qemu_exited(struct lab *l, int i, bool persistent, const char *tag)
{
	if (!persistent)
		return waitpid(l->hosts[i].qemu_pid, NULL, WNOHANG) == l->hosts[i].qemu_pid;
	return !is_our_qemu(l->hosts[i].qemu_pid, tag);
}

/* Reads from the monitor until its prompt; HMP runs a command only once the
 * whole line has arrived, and we must not hang up before it did. What came
 * before the prompt goes to out (its start, if out is too small). */
static int monitor_wait_prompt(int fd, char *out, size_t outlen)
{
	char buf[4096];
	size_t used = 0, kept = 0;

	for (;;) {
		ssize_t n = read(fd, buf + used, sizeof(buf) - 1 - used);
		if (n <= 0)
			return -1;
		if (out && kept + 1 < outlen) {
			size_t k = (size_t)n < outlen - 1 - kept ? (size_t)n : outlen - 1 - kept;
			memcpy(out + kept, buf + used, k);
			kept += k;
			out[kept] = '\0';
		}
		used += n;
		buf[used] = '\0';
		if (strstr(buf, "(qemu) "))
			return 0;
		if (used > sizeof(buf) / 2) { /* keep the tail only */
			memmove(buf, buf + used - 16, 16);
			used = 16;
		}
	}
}

/* HMP over the monitor socket: one command, its reply in out (may be NULL). */
static int monitor_command_reply(const char *sock, const char *cmd, char *out, size_t outlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	__do_close int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct timeval tv = { .tv_sec = 5 };

	if (out && outlen)
		out[0] = '\0';
	if (fd < 0 || strlen(sock) >= sizeof(sa.sun_path))
		return -1;
	strcpy(sa.sun_path, sock);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (monitor_wait_prompt(fd, NULL, 0) < 0)
		return -1;
	if (write_full(fd, cmd, strlen(cmd)) < 0 || write_full(fd, "\n", 1) < 0)
		return -1;
	return monitor_wait_prompt(fd, out, outlen);
}

static int monitor_command(const char *sock, const char *cmd)
{
	return monitor_command_reply(sock, cmd, NULL, 0);
}

/* A KVM guest that hit an internal error is paused, not gone (and a
 * daemonized QEMU's stderr is /dev/null): ask its monitor. */
static bool kvm_guest_stopped(const struct lab_host *h, char *why, size_t len)
{
	char reply[512];
	char *st;

	if (monitor_command_reply(h->monitor, "info status", reply, sizeof(reply)) < 0 ||
	    !(st = strstr(reply, "VM status:")) || !strstr(st, "internal-error"))
		return false;
	st[strcspn(st, "\r\n")] = '\0';
	snprintf(why, len, "%s", st);
	return true;
}

static bool console_ready(const struct lab_host *h)
{
	__do_free char *text = read_file(h->console, NULL);
	char marker[64];

	snprintf(marker, sizeof(marker), "CRMIG-READY host=%s", h->name);
	return text && strstr(text, marker);
}

static int wait_ready(struct lab *l, const struct lab_config *cfg, char *err, size_t errlen)
{
	int timeout = cfg->boot_timeout_s > 0 ? cfg->boot_timeout_s : 300;
	double start = now_ms(), last_note = start, last_status = start;
	bool ready[LAB_MAX_HOSTS] = { false };
	int nready = 0;

	while (nready < l->nhosts) {
		double elapsed = (now_ms() - start) / 1000;

		if (proc_interrupted) {
			snprintf(err, errlen, "interrupted while the hosts were booting");
			return -1;
		}
		for (int i = 0; i < l->nhosts; i++) {
			char tag[96];

			if (ready[i])
				continue;
			host_tag(l, i, tag, sizeof(tag));
			if (console_ready(&l->hosts[i])) {
				ready[i] = true;
				nready++;
				fprintf(stderr, "lab %s: host %s ready after %.1f s\n", l->name, l->hosts[i].name, elapsed);
				continue;
			}
			__do_free char *qpath = xasprintf("%s/qemu-%s.log", l->dir, l->hosts[i].name);
			__do_free char *qlog = read_file(qpath, NULL);
			char kvm_why[512];

			/* QEMU pauses a guest on a KVM internal error instead of exiting. */
			if (!strcmp(l->accel, "kvm") &&
			    (accel_qemu_kvm_failure(qlog, kvm_why, sizeof(kvm_why)) ||
			     (now_ms() - last_status > 1000 && kvm_guest_stopped(&l->hosts[i], kvm_why, sizeof(kvm_why))))) {
				snprintf(err, errlen, "host %s under KVM (%s): %s. Boot with TCG instead: CRMIG_ACCEL=tcg",
					 l->hosts[i].name, l->accel_why, kvm_why);
				return -1;
			}
			if (qemu_exited(l, i, cfg->persistent, tag) || elapsed > timeout) {
				__do_free char *tail = lab_console_tail(l, i, 25);
				snprintf(err, errlen, "host %s %s after %.0f s. Last console lines (%s):\n%s\n%s%s"
					 "Look for a kernel panic or a missing module above; the image manifest is in %s.",
					 l->hosts[i].name, elapsed > timeout ? "was not ready" : "stopped (qemu exited)",
					 elapsed, l->hosts[i].console, tail, qlog && *qlog ? "qemu said: " : "",
					 qlog ? qlog : "", cfg->image_dir);
				return -1;
			}
		}
		if (now_ms() - last_status > 1000)
			last_status = now_ms();
		if (now_ms() - last_note > 5000 && nready < l->nhosts) {
			fprintf(stderr, "lab %s: booting (%.0f s%s)...\n", l->name, elapsed,
				strcmp(l->accel, "kvm") ? ", TCG is slow" : ", KVM");
			last_note = now_ms();
		}
		usleep(200 * 1000);
	}
	return 0;
}

static int qemu_up(struct lab *l, const struct lab_config *cfg, char *err, size_t errlen)
{
	__do_free char *init = NULL;
	const char *need[] = { "vmlinuz", "initrd", "base.img", "id_ed25519" };

	if (!cfg->image_dir) {
		snprintf(err, errlen, "no image: build one with vm-images/build (make image)");
		return -1;
	}
	for (size_t i = 0; i < ARRAY_SIZE(need); i++) {
		__do_free char *p = xasprintf("%s/%s", cfg->image_dir, need[i]);
		if (access(p, R_OK) < 0) {
			snprintf(err, errlen, "image %s has no %s: rebuild it with vm-images/build", cfg->image_dir, need[i]);
			return -1;
		}
	}
	if (cfg->payload && access(cfg->payload, R_OK) < 0) {
		snprintf(err, errlen, "no payload %s: build it with: make payload", cfg->payload);
		return -1;
	}
	snprintf(l->image_dir, sizeof(l->image_dir), "%s", cfg->image_dir);
	snprintf(l->key, sizeof(l->key), "%s/id_ed25519", cfg->image_dir);
	snprintf(l->prefix, sizeof(l->prefix), "%s", cfg->payload ? "/opt/crmig" : (cfg->guest_prefix ? cfg->guest_prefix : "/usr"));
	l->nhosts = LAB_MAX_HOSTS;
	for (int i = 0; i < l->nhosts; i++) {
		snprintf(l->hosts[i].name, sizeof(l->hosts[i].name), "%c", 'a' + i);
		snprintf(l->hosts[i].addr, sizeof(l->hosts[i].addr), LAB_SUBNET ".%d", 11 + i);
	}
	if (create_network(l, err, errlen) < 0)
		return -1;
	if (lab_save_state(l) < 0) { /* so that lab-down can clean up even a half-built lab */
		snprintf(err, errlen, "cannot write the lab state in %s", l->dir);
		return -1;
	}
	init = lab_image_init(cfg->image_dir);
	{
		struct accel_choice ac;

		if (accel_choose(cfg->image_dir, init, &ac, err, errlen) < 0)
			return -1;
		snprintf(l->accel, sizeof(l->accel), "%s", ac.accel);
		snprintf(l->accel_why, sizeof(l->accel_why), "%s", ac.why);
	}
	fprintf(stderr, "lab %s: booting hosts a and b from %s (init %s, %s)\n", l->name, cfg->image_dir, init,
		!strcmp(l->accel, "kvm") ? "KVM" : "TCG");
	for (int i = 0; i < l->nhosts; i++) {
		if (start_qemu(l, i, cfg, init, err, errlen) < 0)
			return -1;
		lab_save_state(l);
	}
	if (wait_ready(l, cfg, err, errlen) < 0)
		return -1;
	if (lab_open_netns(l) < 0) {
		snprintf(err, errlen, "cannot open the lab's network namespace %s", l->netns);
		return -1;
	}
	for (int i = 0; i < l->nhosts; i++)
		if (lab_wait_ssh(l, i, 60, err, errlen) < 0)
			return -1;
	return 0;
}


static int qemu_cut_link(struct lab *l, int host, bool cut)
{
	__do_free char *cmd = xasprintf("set_link n0 %s", cut ? "off" : "on");

	return monitor_command(l->hosts[host].monitor, cmd);
}

const struct lab_backend lab_backend_qemu = {
	.name = "qemu",
	.up = qemu_up,
	.down = qemu_down,
	.cut_link = qemu_cut_link,
};
