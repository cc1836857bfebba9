/* A failure's repro bundle, self-describing and portable.
 *
 * keep_bundle (instance.c) fills build/check/keep/<slug>/ with crmig's
 * bundle (crmig-bundle.tar: every criu argv, log and image), crmig's
 * report, the logs, both consoles, the image manifest and REPLAY.txt;
 * bundle_finish adds bundle.json, the manifest of what the bundle is and
 * holds, and packs it next to the directory as <slug>.tar.gz:
 *
 *   { "format": "crmig-bundle/1", "instance": "memory:bare:stop",
 *     "case": { "name", "file", "text" (the case file), ... }, "mode", "strategy",
 *     "crmig_args", "distro", "image_key", "image_inputs", "versions",
 *     "outcome", "reason", "known_bug", "created",
 *     "files": [ { "path", "size", "sha256" }, ... ] }
 *
 * Limits (a bundle from someone else is untrusted input): BUNDLE_MAX_BYTES
 * in all, BUNDLE_MAX_ENTRIES entries, paths of BUNDLE_MAX_PATH bytes; only
 * regular files and directories, relative paths without "..", no links.
 * `crmig-suite bundle pack` refuses a bigger bundle, unpacking refuses a
 * tarball that breaks any of them. */
#ifndef CRMIG_BUNDLE_H
#define CRMIG_BUNDLE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>

#include "suite.h"

#define BUNDLE_FORMAT "crmig-bundle/1"
#define BUNDLE_MANIFEST "bundle.json"
#define BUNDLE_MAX_BYTES ((uint64_t)2 << 30)   /* 2 GiB unpacked: criu's images of a lean case fit many times */
#define BUNDLE_MAX_ENTRIES 10000
#define BUNDLE_MAX_PATH 512

struct bundle_limits {
	uint64_t max_bytes;
	size_t max_entries;
};
#define BUNDLE_LIMITS_DEFAULT { BUNDLE_MAX_BYTES, BUNDLE_MAX_ENTRIES }

/* bundle.c */
/* A relative path that stays inside its directory: not empty, not
 * absolute, no "." or ".." component (a leading "./" is allowed), no empty
 * component, no control character, at most BUNDLE_MAX_PATH bytes. */
bool bundle_path_ok(const char *path);
/* Every regular file below dir (bundle.json aside), relative and sorted. */
int bundle_list(const char *dir, char ***paths, size_t *n);
void bundle_list_free(char **paths, size_t n);
/* The lowercase hex sha256 of a file (65 bytes with the NUL); -1 on error. */
int bundle_sha256_file(const char *path, char hex[65], uint64_t *size);
/* Writes dir/bundle.json for the instance that failed (res final: reason,
 * known bug), listing every file below dir with its size and sha256. The
 * image's manifest is read from dir/manifest.json, the case from its file. */
int bundle_write_manifest(const char *dir, const struct suite_instance *in, const struct suite_result *res,
			  char *err, size_t errlen);
/* Reads dir/bundle.json and checks it: format, keys and types, a valid mode
 * and strategy, the case's text; every listed file present (regular, not a
 * link), of its size and sha256. The manifest (owned), or NULL and err. */
json_t *bundle_load(const char *dir, char *err, size_t errlen);
/* After an instance: a kept failure (details "bundle") gets its manifest and
 * its tarball next to it (details "bundle_tar"); problems are printed, not fatal. */
void bundle_finish(struct suite_result *res);

/* Reasons compared across runs: numbers, hex ids and addresses vary, the
 * sentence does not. */
char *reason_normalize(const char *reason);
enum replay_verdict { REPLAY_REPRODUCED, REPLAY_DIFFERENT, REPLAY_PASSED };
/* Reproduced when the recorded first reason (normalized) is among the
 * replay's reasons, or both are the same known upstream bug. */
enum replay_verdict replay_compare(const char *want_reason, const char *want_bug, const struct suite_result *got);

/* bundle_tar.c (libarchive) */
/* Packs dir (its files under one top directory named as dir's base) into
 * out (.tar, .tar.gz or .tgz), refusing past the limits. */
int bundle_pack(const char *dir, const char *out, const struct bundle_limits *lim, char *err, size_t errlen);
/* Unpacks a tarball (tar, pax, gnutar; plain, gzip or xz) into dest, which
 * must not exist (it is made). Each entry is checked before it is written:
 * a safe path, a regular file or a directory (no link of either kind, no
 * device), within the limits, not there yet; files are created with
 * O_EXCL|O_NOFOLLOW below directories opened with O_NOFOLLOW, modes 0644 or
 * 0755 whatever the tarball says. On any error dest is removed again. */
int bundle_unpack(const char *tarball, const char *dest, const struct bundle_limits *lim, char *err, size_t errlen);
bool bundle_tar_supported(void);   /* false when built without libarchive */

/* replay.c: crmig-suite replay BUNDLE [--shell] ..., crmig-suite bundle pack|unpack|verify */
int cmd_replay(int argc, char **argv);
/* The bundle's case (its text written to tmp/NAME.case and loaded as a case
 * file) and instance (its id, mode, strategy). */
int replay_case(json_t *manifest, const char *tmp, struct suite_case *c, struct suite_instance *in, char *err,
		size_t errlen);
/* Each criu command of crmig's report (criu_argv: {host: source|destination,
 * argv}) as a shell line, with the host (a or b) to run it on. */
void replay_print_criu(FILE *f, json_t *report);
/* CACHE/images/DISTRO-KEY when it is a complete image (default cache /var/cache/crmig), else NULL. */
char *replay_cached_image(const char *cache_root, const char *distro, const char *key);
int cmd_bundle(int argc, char **argv);

#endif
