/* Files as the peer sends them (ref/proto.c chan_recv_file): MSG_FILE
 * headers and their DATA into a scratch directory, flat (criu images) or as
 * a tree (a synced rootfs). Whatever the peer says, nothing may appear
 * outside the directory, and no more bytes than the peer sent. */
#include <ftw.h>

#include "fuzz.h"

static struct fuzz_dir dir;
static uint64_t found_bytes;

static int add_size(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)path;
	(void)ftw;
	if (type == FTW_F && S_ISREG(st->st_mode))
		found_bytes += (uint64_t)st->st_size;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct fuzz_stream fs;
	struct chan c;
	bool subdirs;
	int dfd;

	if (len < 1)
		return 0;
	subdirs = data[0] & 1;
	fuzz_dir_fresh(&dir);
	dfd = open(dir.root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		abort();
	fuzz_chan(&c, &fs, data + 1, len - 1);
	for (int i = 0; i < 16 && fs.pos < fs.len; i++) {
		json_t *hdr = chan_recv_json(&c, MSG_FILE);
		int64_t n;

		if (!hdr)
			break;
		n = chan_recv_file(&c, dfd, hdr, subdirs);
		json_decref(hdr);
		if (n < 0)
			break;
	}
	close(dfd);
	fuzz_dir_check(&dir);
	found_bytes = 0;
	nftw(dir.root, add_size, 16, FTW_PHYS);
	if (found_bytes > len) {
		fprintf(stderr, "fuzz: %llu bytes on disk from a %zu-byte input\n", (unsigned long long)found_bytes, len);
		abort();
	}
	return 0;
}
