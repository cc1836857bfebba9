/* SHA-256 as the project writes it: lowercase hex, 64 characters and a NUL.
 * One place for what the page-stream relays, serve's image check and the
 * suite's bundles each did by hand. */
#ifndef CRMIG_DIGEST_H
#define CRMIG_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_HEX_LEN 65

/* raw[0..n) as lowercase hex into out (2n + 1 bytes). */
void hex_encode(const unsigned char *raw, size_t n, char *out);
/* The SHA-256 of a regular file beneath dirfd (AT_FDCWD: path as given),
 * never through a final symlink; its size in *size (may be NULL). 0, or -1
 * with errno. */
int sha256_file_at(int dirfd, const char *path, char hex[SHA256_HEX_LEN], uint64_t *size);

#endif
