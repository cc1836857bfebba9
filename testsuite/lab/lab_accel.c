/* KVM where a real boot proves it works, TCG otherwise (see lab_accel.h). */
#include "lab_accel.h"

#include <fcntl.h>
#include <gnutls/crypto.h>
#include <jansson.h>
#include <signal.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "lab.h"
#include "util.h"

int accel_parse_override(const char *value, char *forced, size_t len)
{
	snprintf(forced, len, "%s", "");
	if (!value || !*value)
		return 0;
	if (strcmp(value, "kvm") && strcmp(value, "tcg"))
		return -1;
	snprintf(forced, len, "%s", value);
	return 0;
}

/* The line of s that holds p, without its end and without "qemu-system-x86_64: ". */
static void line_of(const char *s, const char *p, char *out, size_t len)
{
	const char *start = p, *end = strchr(p, '\n');
	const char *colon;

	while (start > s && start[-1] != '\n')
		start--;
	if (!end)
		end = p + strlen(p);
	colon = memmem(start, end - start, "qemu-system-", 12);
	if (colon == start && (colon = memchr(start, ':', end - start)) && colon[1] == ' ')
		start = colon + 2;
	snprintf(out, len, "%.*s", (int)(end - start), start);
}

/* QEMU's register dump marks the byte at RIP: "Code=... <c4> 42 69 f7 ...". */
static void fault_bytes(const char *s, char *out, size_t len)
{
	const char *code = strstr(s, "Code=");
	const char *lt = code ? strchr(code, '<') : NULL;
	const char *nl = code ? strchr(code, '\n') : NULL;
	char bytes[4][3];
	int n;

	out[0] = '\0';
	if (!lt || (nl && lt > nl))
		return;
	n = sscanf(lt, "<%2[0-9a-f]> %2[0-9a-f] %2[0-9a-f] %2[0-9a-f]", bytes[0], bytes[1], bytes[2], bytes[3]);
	if (n >= 1) {
		size_t o = snprintf(out, len, " at code");
		for (int i = 0; i < n && o < len; i++)
			o += snprintf(out + o, len - o, " %s", bytes[i]);
	}
}

bool accel_qemu_kvm_failure(const char *s, char *why, size_t len)
{
	static const char *const marks[] = {
		"KVM internal error", "failed to set MSR", "Could not access KVM kernel module",
		"failed to initialize kvm", "kvm run failed",
	};
	const char *hit = NULL;

	if (!s)
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(marks) && !hit; i++)
		hit = strcasestr(s, marks[i]);
	if (!hit)
		return false;
	line_of(s, hit, why, len);
	if (!strncasecmp(hit, "KVM internal error", 18)) {
		char code[64];
		size_t o = strlen(why);

		fault_bytes(s, code, sizeof(code));
		if (o < len)
			snprintf(why + o, len - o, "%s%s", strstr(s, "emulation failure") ? " / emulation failure" : "", code);
	}
	return true;
}

static char *hex(const unsigned char *d, size_t n)
{
	char *out = xmalloc(n * 2 + 1);

	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
	return out;
}

char *accel_cache_key(const char *kernel_sha256, const char *qemu_version, bool kvm_present)
{
	__do_free char *text = xasprintf("kernel=%s\nqemu=%s\nkvm=%d\n", kernel_sha256 ? kernel_sha256 : "",
					 qemu_version ? qemu_version : "", kvm_present);
	unsigned char d[32];

	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, text, strlen(text), d) < 0)
		return NULL;
	return hex(d, 16); /* 128 bits name a file well enough */
}

char *accel_file_sha256(const char *path)
{
	__do_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	gnutls_hash_hd_t h;
	unsigned char d[32], buf[65536];
	ssize_t n;

	if (fd < 0 || gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0)
		return NULL;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		gnutls_hash(h, buf, n);
	gnutls_hash_deinit(h, d);
	return n < 0 ? NULL : hex(d, sizeof(d));
}

/* ---- the probe ------------------------------------------------------------ */

static char *qemu_version(void)
{
	char *argv[] = { "qemu-system-x86_64", "--version", NULL };
	struct proc_opts o = PROC_OPTS_DEFAULT;
	struct proc_result r;
	char *line;

	o.timeout_s = 20;
	if (proc_run(argv, &o, &r) < 0)
		return NULL;
	line = r.status == 0 ? xstrdup(r.out) : NULL;
	if (line)
		line[strcspn(line, "\n")] = '\0';
	proc_result_free(&r);
	return line;
}

static bool kvm_opens(char *why, size_t len)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		snprintf(why, len, "/dev/kvm: %s", strerror(errno));
		return false;
	}
	close(fd);
	return true;
}

enum probe_verdict { PROBE_KVM_WORKS, PROBE_KVM_FAILS, PROBE_UNDECIDED };

/* Boots vmlinuz + initrd on a snapshot of base.img under KVM, no network,
 * until the init's ready marker; stops at once on a KVM failure in QEMU's
 * output. UNDECIDED (not to be cached) when we could not run it or were
 * interrupted. */
static enum probe_verdict probe_boot(const char *image_dir, const char *init, char *why, size_t len, double *secs)
{
	char dir[] = "/tmp/crmig-kvm-probe-XXXXXX";
	__do_free char *console = NULL, *log = NULL, *kernel = NULL, *initrd = NULL, *drive = NULL;
	__do_free char *serial = NULL, *append = NULL;
	double t0 = now_ms();
	enum probe_verdict v = PROBE_KVM_FAILS;
	pid_t pid;

	*secs = 0;
	if (!mkdtemp(dir)) {
		snprintf(why, len, "cannot create a scratch directory in /tmp: %s", strerror(errno));
		return PROBE_UNDECIDED;
	}
	console = xasprintf("%s/console.log", dir);
	log = xasprintf("%s/qemu.log", dir);
	kernel = xasprintf("%s/vmlinuz", image_dir);
	initrd = xasprintf("%s/initrd", image_dir);
	drive = xasprintf("file=%s/base.img,if=virtio,format=raw,snapshot=on", image_dir);
	serial = xasprintf("file:%s", console);
	append = xasprintf("root=/dev/vda rw console=ttyS0 net.ifnames=0 panic=-1 quiet init=%s crmig.host=kvmprobe", init);
	char *argv[] = { "qemu-system-x86_64", "-name", "crmig-kvm-probe", "-accel", "kvm", "-cpu", ACCEL_KVM_CPU,
			 "-m", "1024", "-smp", "1", "-display", "none", "-nodefaults", "-no-reboot",
			 "-kernel", kernel, "-initrd", initrd, "-append", append, "-drive", drive,
			 "-serial", serial, NULL };

	pid = fork();
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(fd, 1);
		dup2(fd, 2);
		setsid();
		execvp(argv[0], argv);
		_exit(127);
	}
	if (pid < 0) {
		snprintf(why, len, "fork: %s", strerror(errno));
		remove_tree(dir);
		return PROBE_UNDECIDED;
	}
	for (;;) {
		__do_free char *out = read_file(log, NULL), *text = read_file(console, NULL);
		double el = (now_ms() - t0) / 1000;
		int status;

		if (text && strstr(text, "CRMIG-READY host=kvmprobe")) {
			v = PROBE_KVM_WORKS;
			snprintf(why, len, "a guest booted to its ready marker under KVM in %.1f s", el);
			break;
		}
		if (accel_qemu_kvm_failure(out, why, len))
			break;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			pid = 0;
			snprintf(why, len, "qemu exited after %.1f s without the ready marker: %s", el,
				 out && *out ? out : "(no output)");
			if (WIFEXITED(status) && WEXITSTATUS(status) == 127) /* no qemu to exec */
				v = PROBE_UNDECIDED;
			break;
		}
		if (proc_interrupted) {
			snprintf(why, len, "the probe was interrupted");
			v = PROBE_UNDECIDED;
			break;
		}
		if (el > ACCEL_PROBE_TIMEOUT_S) {
			snprintf(why, len, "no ready marker on the console after %.0f s under KVM%s", el,
				 text && *text ? "" : " (the console stayed empty)");
			break;
		}
		usleep(100 * 1000);
	}
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	/* strip a trailing newline from a copied QEMU line */
	for (size_t n = strlen(why); n && why[n - 1] == '\n'; n--)
		why[n - 1] = '\0';
	*secs = (now_ms() - t0) / 1000;
	remove_tree(dir);
	return v;
}

/* ---- the cache ------------------------------------------------------------ */

char *accel_cache_path(const char *key)
{
	const char *root = getenv("CRMIG_CACHE");

	return xasprintf("%s/kvm-probe/%s.json", root && *root ? root : "/var/cache/crmig", key);
}

bool accel_cache_load(const char *path, struct accel_choice *c)
{
	json_t *j = json_load_file(path, 0, NULL);
	const char *accel = json_string_value(json_object_get(j, "accel"));
	const char *why = json_string_value(json_object_get(j, "why"));
	bool ok = accel && why && (!strcmp(accel, "kvm") || !strcmp(accel, "tcg"));

	if (ok) {
		snprintf(c->accel, sizeof(c->accel), "%s", accel);
		snprintf(c->why, sizeof(c->why), "%s", why);
		c->probe_s = json_number_value(json_object_get(j, "probe_s"));
		c->from_cache = true;
	}
	json_decref(j);
	return ok;
}

void accel_cache_store(const char *path, const struct accel_choice *c, const char *sha, const char *qver)
{
	__do_free char *dir = xstrdup(path);
	__do_free char *tmp = xasprintf("%s.%d", path, (int)getpid());
	char stamp[32];
	time_t now = time(NULL);
	json_t *j;

	*strrchr(dir, '/') = '\0';
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	j = json_pack("{s:s, s:s, s:f, s:s, s:s, s:s}", "accel", c->accel, "why", c->why, "probe_s", c->probe_s,
		      "kernel_sha256", sha, "qemu", qver, "probed", stamp);
	/* A cache we cannot write only costs a probe next time. */
	if (mkdir_p(dir, 0755) == 0 && json_dump_file(j, tmp, JSON_INDENT(2)) == 0 && rename(tmp, path) < 0)
		unlink(tmp);
	json_decref(j);
}

/* ---- the decision ----------------------------------------------------------- */

int accel_choose(const char *image_dir, const char *init, struct accel_choice *c, char *err, size_t errlen)
{
	char forced[8], kvm_why[256] = "";
	__do_free char *kernel = xasprintf("%s/vmlinuz", image_dir);
	__do_free char *sha = NULL, *qver = NULL, *key = NULL, *path = NULL;
	bool kvm;

	memset(c, 0, sizeof(*c));
	if (accel_parse_override(getenv("CRMIG_ACCEL"), forced, sizeof(forced)) < 0) {
		snprintf(err, errlen, "CRMIG_ACCEL='%s': use kvm, tcg, or leave it unset (a boot probe decides)",
			 getenv("CRMIG_ACCEL"));
		return -1;
	}
	kvm = kvm_opens(kvm_why, sizeof(kvm_why));
	if (!strcmp(forced, "tcg")) {
		snprintf(c->accel, sizeof(c->accel), "tcg");
		snprintf(c->why, sizeof(c->why), "CRMIG_ACCEL=tcg");
		return 0;
	}
	if (!strcmp(forced, "kvm")) {
		if (!kvm) {
			snprintf(err, errlen, "CRMIG_ACCEL=kvm but %s: load kvm_intel or kvm_amd and give us access, "
				 "or unset CRMIG_ACCEL to fall back to TCG", kvm_why);
			return -1;
		}
		snprintf(c->accel, sizeof(c->accel), "kvm");
		snprintf(c->why, sizeof(c->why), "CRMIG_ACCEL=kvm (no probe)");
		return 0;
	}
	if (!kvm) {
		snprintf(c->accel, sizeof(c->accel), "tcg");
		snprintf(c->why, sizeof(c->why), "no KVM (%s)", kvm_why);
		fprintf(stderr, "lab: no KVM here (%s) — using TCG (slow)\n", kvm_why);
		return 0;
	}
	sha = accel_file_sha256(kernel);
	qver = qemu_version();
	if (!sha || !qver) {
		if (!sha)
			snprintf(err, errlen, "cannot read %s: rebuild the image with vm-images/build", kernel);
		else
			snprintf(err, errlen, "qemu-system-x86_64 --version failed: install qemu-system-x86");
		return -1;
	}
	key = accel_cache_key(sha, qver, kvm);
	path = key ? accel_cache_path(key) : NULL;
	if (!path || !accel_cache_load(path, c)) {
		enum probe_verdict v;

		fprintf(stderr, "lab: probing KVM: booting the image's kernel once under KVM (at most %d s)\n",
			ACCEL_PROBE_TIMEOUT_S);
		v = probe_boot(image_dir, init, c->why, sizeof(c->why), &c->probe_s);
		snprintf(c->accel, sizeof(c->accel), "%s", v == PROBE_KVM_WORKS ? "kvm" : "tcg");
		/* A verdict is kept; a probe that could not run is tried again next time. */
		if (path && v != PROBE_UNDECIDED)
			accel_cache_store(path, c, sha, qver);
	}
	if (!strcmp(c->accel, "tcg")) {
		char why[sizeof(c->why)];

		snprintf(why, sizeof(why), "%s", c->why);
		snprintf(c->why, sizeof(c->why), "KVM probe failed: %s", why);
		fprintf(stderr, "\n*** lab: KVM probe failed%s: %s — using TCG (slow).\n"
			"*** To probe again: rm %s; to skip the probe: CRMIG_ACCEL=tcg\n\n",
			c->from_cache ? " (cached verdict)" : "", why, path ? path : "(no cache)");
	} else {
		fprintf(stderr, "lab: KVM works (%s%s)\n", c->why, c->from_cache ? ", cached verdict" : "");
	}
	return 0;
}
