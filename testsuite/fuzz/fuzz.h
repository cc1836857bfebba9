/* Shared by the libFuzzer harnesses (testsuite/fuzz/fuzz_*.c): a crmig
 * channel whose peer is the fuzzer's input, and a scratch directory inside a
 * sentinel directory, to prove that nothing is ever written outside it. */
#ifndef CRMIG_FUZZ_H
#define CRMIG_FUZZ_H

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "proto.h"
#include "util.h"

struct fuzz_stream {
	const uint8_t *data;
	size_t len, pos;
	size_t written;       /* what we said back (discarded) */
};

static int fuzz_read(void *ctx, void *buf, size_t len)
{
	struct fuzz_stream *fs = ctx;

	if (len > fs->len - fs->pos) {
		fs->pos = fs->len;
		errno = EPIPE;       /* what read_full says when the peer hung up */
		return -1;
	}
	memcpy(buf, fs->data + fs->pos, len);
	fs->pos += len;
	return 0;
}

static int fuzz_write(void *ctx, const void *buf, size_t len)
{
	struct fuzz_stream *fs = ctx;

	(void)buf;
	fs->written += len;
	return 0;
}

static inline void fuzz_chan(struct chan *c, struct fuzz_stream *fs, const uint8_t *data, size_t len)
{
	*fs = (struct fuzz_stream){ .data = data, .len = len };
	*c = (struct chan){ .io = { .read = fuzz_read, .write = fuzz_write, .ctx = fs } };
}

/* A NUL-terminated copy of the input (parsers of text want one). */
static inline char *fuzz_text(const uint8_t *data, size_t len)
{
	char *s = xmalloc(len + 1);

	memcpy(s, data, len);
	s[len] = '\0';
	return s;
}

/* /dev/shm/crmig-fuzz-PID/root is where a harness may write (tmpfs: fast);
 * its parent, the sentinel, must never hold anything else. */
struct fuzz_dir {
	char sentinel[64];
	char root[80];
};

static struct fuzz_dir *fuzz_dir_made;

/* libFuzzer ends with exit(): the scratch directory goes with it. */
static void fuzz_dir_remove(void)
{
	if (fuzz_dir_made)
		remove_tree(fuzz_dir_made->sentinel);
}

static inline void fuzz_dir_init(struct fuzz_dir *d)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

	if (d->sentinel[0])
		return;
	snprintf(d->sentinel, sizeof(d->sentinel), "%s/crmig-fuzz-%d", base, (int)getpid());
	snprintf(d->root, sizeof(d->root), "%s/root", d->sentinel);
	remove_tree(d->sentinel);
	if (mkdir(d->sentinel, 0700) < 0)
		abort();
	fuzz_dir_made = d;
	atexit(fuzz_dir_remove);
}

/* A fresh, empty root for one input. */
static inline void fuzz_dir_fresh(struct fuzz_dir *d)
{
	fuzz_dir_init(d);
	remove_tree(d->root);
	if (mkdir(d->root, 0700) < 0)
		abort();
}

/* Aborts (a crash for libFuzzer) when anything but root appeared beside it. */
static inline void fuzz_dir_check(struct fuzz_dir *d)
{
	DIR *dir = opendir(d->sentinel);
	struct dirent *e;

	if (!dir)
		abort();
	while ((e = readdir(dir))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || !strcmp(e->d_name, "root"))
			continue;
		fprintf(stderr, "fuzz: %s/%s was written outside the target directory\n", d->sentinel, e->d_name);
		abort();
	}
	closedir(dir);
}

#endif
