/* Repro bundles from someone else (testsuite/runner/bundle_tar.c
 * bundle_unpack, then bundle.c bundle_load of its bundle.json): the input is
 * the tarball (tar, pax, gnutar; plain, gzip or xz). Nothing may be written
 * outside the directory it is unpacked into, nor more than the limits. */
#include <ftw.h>

#include "fuzz.h"
#include "../runner/bundle.h"

static struct fuzz_dir dir;
static uint64_t found_bytes;
static size_t found_entries;

static int tally(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)path;
	(void)ftw;
	found_entries++;
	if (type == FTW_SL || (type == FTW_F && !S_ISREG(st->st_mode))) {
		fprintf(stderr, "fuzz: unpacking made %s, neither a file nor a directory\n", path);
		abort();
	}
	if (type == FTW_F)
		found_bytes += (uint64_t)st->st_size;
	return 0;
}

static char tarball[80];

static void remove_tarball(void)
{
	unlink(tarball);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	const struct bundle_limits lim = { .max_bytes = 1 << 20, .max_entries = 64 };
	char err[512];

	fuzz_dir_fresh(&dir);
	if (!tarball[0]) {
		snprintf(tarball, sizeof(tarball), "%s.tar", dir.sentinel); /* beside the sentinel, not in it */
		atexit(remove_tarball);
	}
	if (write_file(tarball, data, len, 0600) < 0 || rmdir(dir.root) < 0)
		abort();
	err[0] = '\0';
	if (bundle_unpack(tarball, dir.root, &lim, err, sizeof(err)) == 0) {
		json_t *m;

		found_bytes = 0;
		found_entries = 0;
		nftw(dir.root, tally, 16, FTW_PHYS);
		if (found_bytes > lim.max_bytes || found_entries > lim.max_entries + 1)
			abort();
		m = bundle_load(dir.root, err, sizeof(err));
		json_decref(m);
	} else if (!err[0]) {
		abort();
	}
	fuzz_dir_check(&dir);
	if (access(dir.root, F_OK) < 0)
		mkdir(dir.root, 0700);
	return 0;
}
