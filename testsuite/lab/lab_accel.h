/* KVM where it works, TCG otherwise.
 *
 * An openable /dev/kvm is not enough: on some machines KVM_CREATE_VM succeeds
 * and the guest's kernel then stops with "KVM internal error ... emulation
 * failure" in early boot. So the lab boots the image's kernel once under KVM
 * up to the guest init's ready marker (a probe), caches the verdict per
 * (kernel file, qemu version, /dev/kvm presence) under $CRMIG_CACHE, and boots
 * both hosts with the accelerator that verdict names. CRMIG_ACCEL=tcg|kvm
 * overrides it. Both hosts always get the same CPU model (criu compares
 * cpuinfo). */
#ifndef CRMIG_LAB_ACCEL_H
#define CRMIG_LAB_ACCEL_H

#include <stdbool.h>
#include <stddef.h>

#define ACCEL_PROBE_TIMEOUT_S 40
#define ACCEL_KVM_CPU "host,-arch-capabilities" /* -cpu max and plain host fail on MSR 0x10a */
#define ACCEL_TCG_CPU "max"

struct accel_choice {
	char accel[8];      /* "kvm" | "tcg" */
	char why[1024];     /* how it was decided, for humans and the reports */
	bool from_cache;    /* the probe's verdict came from the cache */
	double probe_s;     /* how long the probe took (0: no probe ran) */
};

/* CRMIG_ACCEL: 0 and *forced = "" when unset or empty, 0 with "kvm"/"tcg",
 * -1 for anything else. */
int accel_parse_override(const char *value, char *forced, size_t len);
/* A KVM failure in QEMU's stderr ("KVM internal error", "failed to set MSR",
 * "Could not access KVM kernel module", ...): true, and why says it in one
 * line (with the suberror, "emulation failure" and the code bytes at the
 * fault when QEMU printed them). */
bool accel_qemu_kvm_failure(const char *qemu_stderr, char *why, size_t len);
/* The cache key (hex) for a kernel's SHA-256 (hex), QEMU's version line and
 * whether /dev/kvm opens; malloc'ed. */
char *accel_cache_key(const char *kernel_sha256, const char *qemu_version, bool kvm_present);
/* $CRMIG_CACHE/kvm-probe/KEY.json (default cache /var/cache/crmig); malloc'ed. */
char *accel_cache_path(const char *key);
/* A verdict stored by accel_cache_store; false if absent or damaged. */
bool accel_cache_load(const char *path, struct accel_choice *c);
void accel_cache_store(const char *path, const struct accel_choice *c, const char *kernel_sha256, const char *qemu_version);
/* SHA-256 of a file, hex, malloc'ed; NULL if it cannot be read. */
char *accel_file_sha256(const char *path);

/* The decision for image_dir (vmlinuz, initrd, base.img; init is the guest's
 * init). Probes at most once per cache key; prints the fallback's reason once.
 * -1 with err when CRMIG_ACCEL is invalid or forces kvm where it cannot work. */
int accel_choose(const char *image_dir, const char *init, struct accel_choice *c, char *err, size_t errlen);

#endif
