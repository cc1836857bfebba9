#include "digest.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <stdio.h>
#include <unistd.h>

#include "util.h"

void hex_encode(const unsigned char *raw, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[raw[i] >> 4];
		out[2 * i + 1] = digits[raw[i] & 15];
	}
	out[2 * n] = '\0';
}

int sha256_file_at(int dirfd, const char *path, char hex[SHA256_HEX_LEN], uint64_t *size)
{
	__do_close int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	unsigned char digest[32], buf[1 << 16];
	gnutls_hash_hd_t h;
	uint64_t total = 0;
	ssize_t n;

	if (fd < 0 || gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0)
		return -1;
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			gnutls_hash_deinit(h, digest);
			errno = e;
			return -1;
		}
		gnutls_hash(h, buf, (size_t)n);
		total += (uint64_t)n;
	}
	gnutls_hash_deinit(h, digest);
	hex_encode(digest, sizeof(digest), hex);
	if (size)
		*size = total;
	return 0;
}
