/* The lab's accelerator decision without QEMU: QEMU's KVM failures read
 * from its output, the probe cache's key and files, and CRMIG_ACCEL. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "../lab/lab_accel.h"
#include "util.h"
#include "unit.h"

/* What QEMU 7.2 printed here for the trixie kernel (PLATFORM.md), shortened. */
static const char internal_error[] =
	"KVM internal error. Suberror: 1\n"
	"extra data[0]: 0x0000000000000000\n"
	"extra data[1]: 0x0000000000000030\n"
	"emulation failure\n"
	"RAX=0000000000000000 RBX=ffffffff82a03f58 RCX=0000000000000000 RDX=0000000000000000\n"
	"Code=48 89 e5 41 55 41 54 53 48 83 ec 08 <c4> 42 69 f7 c0 48 89 c3 e8 ff\n";

START_TEST(test_internal_error)
{
	char why[256];

	ck_assert(accel_qemu_kvm_failure(internal_error, why, sizeof(why)));
	ck_assert_str_eq(why, "KVM internal error. Suberror: 1 / emulation failure at code c4 42 69 f7");
}
END_TEST

START_TEST(test_msr_and_module)
{
	char why[256];

	ck_assert(accel_qemu_kvm_failure("qemu-system-x86_64: error: failed to set MSR 0x10a to 0x2000000f\n"
					 "qemu-system-x86_64: ../target/i386/kvm/kvm.c:3316: kvm_buf_set_msrs: "
					 "Assertion failed.\n", why, sizeof(why)));
	ck_assert_str_eq(why, "error: failed to set MSR 0x10a to 0x2000000f");
	ck_assert(accel_qemu_kvm_failure("Could not access KVM kernel module: Permission denied\n"
					 "qemu-system-x86_64: -accel kvm: failed to initialize kvm: Permission denied\n",
					 why, sizeof(why)));
	ck_assert_str_eq(why, "Could not access KVM kernel module: Permission denied");
	/* no register dump: the error alone */
	ck_assert(accel_qemu_kvm_failure("KVM internal error. Suberror: 3\n", why, sizeof(why)));
	ck_assert_str_eq(why, "KVM internal error. Suberror: 3");
}
END_TEST

START_TEST(test_no_failure)
{
	char why[64] = "untouched";

	ck_assert(!accel_qemu_kvm_failure(NULL, why, sizeof(why)));
	ck_assert(!accel_qemu_kvm_failure("", why, sizeof(why)));
	ck_assert(!accel_qemu_kvm_failure("qemu-system-x86_64: warning: host doesn't support requested feature: "
					  "CPUID.80000001H:ECX.svm [bit 2]\n", why, sizeof(why)));
	ck_assert_str_eq(why, "untouched");
	/* a long line is cut, never overrun */
	ck_assert(accel_qemu_kvm_failure(internal_error, why, 12));
	ck_assert_uint_eq(strlen(why), 11);
}
END_TEST

START_TEST(test_cache_key)
{
	__do_free char *k = accel_cache_key("aa", "QEMU emulator version 7.2.15", true);
	__do_free char *same = accel_cache_key("aa", "QEMU emulator version 7.2.15", true);
	__do_free char *kernel = accel_cache_key("ab", "QEMU emulator version 7.2.15", true);
	__do_free char *qemu = accel_cache_key("aa", "QEMU emulator version 8.0.0", true);
	__do_free char *nokvm = accel_cache_key("aa", "QEMU emulator version 7.2.15", false);

	ck_assert_uint_eq(strlen(k), 32);
	ck_assert_uint_eq(strspn(k, "0123456789abcdef"), 32);
	ck_assert_str_eq(k, same);
	ck_assert_str_ne(k, kernel);
	ck_assert_str_ne(k, qemu);
	ck_assert_str_ne(k, nokvm);
}
END_TEST

START_TEST(test_file_sha256)
{
	char path[] = "/tmp/crmig-test-accel-XXXXXX";
	int fd = mkstemp(path);
	__do_free char *sha = NULL;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "abc", 3), 3);
	close(fd);
	sha = accel_file_sha256(path);
	unlink(path);
	ck_assert_str_eq(sha, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	ck_assert_ptr_null(accel_file_sha256("/nonexistent/vmlinuz"));
}
END_TEST

START_TEST(test_cache_roundtrip)
{
	char dir[] = "/tmp/crmig-test-accel-XXXXXX";
	struct accel_choice c = { .accel = "tcg", .why = "KVM internal error. Suberror: 1", .probe_s = 1.5 }, back;
	__do_free char *path = NULL, *missing = NULL, *want = NULL;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	setenv("CRMIG_CACHE", dir, 1);
	path = accel_cache_path("0123");
	missing = accel_cache_path("4567");
	want = xasprintf("%s/kvm-probe/0123.json", dir);
	ck_assert_str_eq(path, want);
	memset(&back, 0, sizeof(back));
	ck_assert(!accel_cache_load(path, &back));
	accel_cache_store(path, &c, "aa", "QEMU 7.2");
	ck_assert(accel_cache_load(path, &back));
	ck_assert_str_eq(back.accel, "tcg");
	ck_assert_str_eq(back.why, c.why);
	ck_assert(back.from_cache);
	ck_assert_double_eq_tol(back.probe_s, 1.5, 1e-9);
	ck_assert(!accel_cache_load(missing, &back));
	/* a damaged file is no verdict */
	ck_assert_int_eq(write_file(path, "{\"accel\": \"fast\"}", 17, 0644), 0);
	ck_assert(!accel_cache_load(path, &back));
	unsetenv("CRMIG_CACHE");
	remove_tree(dir);
}
END_TEST

START_TEST(test_override)
{
	char forced[8], err[256];
	struct accel_choice c;

	ck_assert_int_eq(accel_parse_override(NULL, forced, sizeof(forced)), 0);
	ck_assert_str_eq(forced, "");
	ck_assert_int_eq(accel_parse_override("", forced, sizeof(forced)), 0);
	ck_assert_str_eq(forced, "");
	ck_assert_int_eq(accel_parse_override("kvm", forced, sizeof(forced)), 0);
	ck_assert_str_eq(forced, "kvm");
	ck_assert_int_eq(accel_parse_override("tcg", forced, sizeof(forced)), 0);
	ck_assert_str_eq(forced, "tcg");
	ck_assert_int_eq(accel_parse_override("KVM", forced, sizeof(forced)), -1);
	ck_assert_int_eq(accel_parse_override("hvf", forced, sizeof(forced)), -1);
	/* the decision itself: tcg forced never probes (no image needed) */
	setenv("CRMIG_ACCEL", "tcg", 1);
	ck_assert_int_eq(accel_choose("/nonexistent", "/sbin/init", &c, err, sizeof(err)), 0);
	ck_assert_str_eq(c.accel, "tcg");
	ck_assert_str_eq(c.why, "CRMIG_ACCEL=tcg");
	ck_assert_double_eq(c.probe_s, 0);
	setenv("CRMIG_ACCEL", "fast", 1);
	ck_assert_int_eq(accel_choose("/nonexistent", "/sbin/init", &c, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "CRMIG_ACCEL='fast'"));
	unsetenv("CRMIG_ACCEL");
}
END_TEST

/* The probe itself, with a stand-in for qemu-system-x86_64 on PATH: a KVM
 * failure on its stderr, or the ready marker on the serial file. */
static const char fake_qemu[] =
	"#!/bin/sh\n"
	"[ \"$1\" = --version ] && { echo 'QEMU emulator version 9.9.9 (fake)'; exit 0; }\n"
	"echo run >> \"$FAKE_QEMU_RUNS\"\n"
	"for a; do case \"$a\" in file:*) serial=${a#file:} ;; esac; done\n"
	"case \"$FAKE_QEMU_MODE\" in\n"
	"fail) printf 'KVM internal error. Suberror: 1\\nemulation failure\\nCode=00 <c4> 42 69 f7 00\\n' >&2 ;;\n"
	"boot) echo 'CRMIG-READY host=kvmprobe kernel=fake init=fast' > \"$serial\" ;;\n"
	"esac\n"
	"exec sleep 30\n";

static int count_runs(const char *path)
{
	__do_free char *text = read_file(path, NULL);
	int n = 0;

	for (const char *p = text; p && (p = strstr(p, "run")); p += 3)
		n++;
	return n;
}

static void probe_with(const char *dir, const char *mode, struct accel_choice *c)
{
	__do_free char *cache = xasprintf("%s/cache-%s", dir, mode);
	char err[512] = "";

	setenv("CRMIG_CACHE", cache, 1);
	setenv("FAKE_QEMU_MODE", mode, 1);
	ck_assert_msg(accel_choose(dir, "/sbin/crmig-init", c, err, sizeof(err)) == 0, "%s", err);
}

START_TEST(test_probe_fake_qemu)
{
	char dir[] = "/tmp/crmig-test-accel-XXXXXX";
	__do_free char *bin = NULL, *qemu = NULL, *path = NULL, *runs = NULL, *kernel = NULL, *old_path = NULL;
	struct accel_choice c;
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		fprintf(stderr, "*** SKIP test_probe_fake_qemu: /dev/kvm does not open here (%s): the probe "
			"never runs without it ***\n", strerror(errno));
		return;
	}
	close(fd);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	bin = xasprintf("%s/bin", dir);
	qemu = xasprintf("%s/qemu-system-x86_64", bin);
	runs = xasprintf("%s/runs", dir);
	kernel = xasprintf("%s/vmlinuz", dir);
	ck_assert_int_eq(mkdir_p(bin, 0755), 0);
	ck_assert_int_eq(write_file(qemu, fake_qemu, strlen(fake_qemu), 0755), 0);
	ck_assert_int_eq(write_file(kernel, "not a kernel", 12, 0644), 0);
	old_path = xstrdup(getenv("PATH") ?: "/usr/bin:/bin");
	path = xasprintf("%s:%s", bin, old_path);
	setenv("PATH", path, 1);
	setenv("FAKE_QEMU_RUNS", runs, 1);
	unsetenv("CRMIG_ACCEL");

	/* KVM fails: TCG, the reason from QEMU's words, stopped long before the 30 s the fake waits */
	probe_with(dir, "fail", &c);
	ck_assert_str_eq(c.accel, "tcg");
	ck_assert_str_eq(c.why, "KVM probe failed: KVM internal error. Suberror: 1 / emulation failure at code c4 42 69 f7");
	ck_assert(!c.from_cache);
	ck_assert(c.probe_s > 0 && c.probe_s < 10);
	ck_assert_int_eq(count_runs(runs), 1);
	/* the verdict is cached: no second boot */
	probe_with(dir, "fail", &c);
	ck_assert_str_eq(c.accel, "tcg");
	ck_assert(c.from_cache);
	ck_assert_int_eq(count_runs(runs), 1);
	/* the guest reaches its marker: KVM */
	probe_with(dir, "boot", &c);
	ck_assert_str_eq(c.accel, "kvm");
	ck_assert_ptr_nonnull(strstr(c.why, "ready marker under KVM"));
	ck_assert_int_eq(count_runs(runs), 2);

	setenv("PATH", old_path, 1);
	unsetenv("CRMIG_CACHE");
	unsetenv("FAKE_QEMU_MODE");
	unsetenv("FAKE_QEMU_RUNS");
	remove_tree(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("lab_accel");
	TCase *tc = tcase_create("lab_accel");

	tcase_add_test(tc, test_internal_error);
	tcase_add_test(tc, test_msr_and_module);
	tcase_add_test(tc, test_no_failure);
	tcase_add_test(tc, test_cache_key);
	tcase_add_test(tc, test_file_sha256);
	tcase_add_test(tc, test_cache_roundtrip);
	tcase_add_test(tc, test_override);
	tcase_add_test(tc, test_probe_fake_qemu);
	suite_add_tcase(s, tc);
	return unit_run(s) ? 1 : 0;
}
