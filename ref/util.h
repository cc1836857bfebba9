/* Small helpers shared by crmig and the test suite: scope-bound cleanup
 * (in the spirit of LXC's __do_free/__do_close), checked allocation, and
 * the one monotonic clock every phase is measured on. */
#ifndef CRMIG_UTIL_H
#define CRMIG_UTIL_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static inline void free_ptr(void *p) { free(*(void **)p); }
static inline void close_fd(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
		*fd = -1;
	}
}
static inline void fclose_file(FILE **f)
{
	if (*f) {
		fclose(*f);
		*f = NULL;
	}
}

#define __do_free __attribute__((__cleanup__(free_ptr)))
#define __do_close __attribute__((__cleanup__(close_fd)))
#define __do_fclose __attribute__((__cleanup__(fclose_file)))

/* Hand a cleanup-managed value to the caller. */
#define move_ptr(p) ({ __typeof__(p) __tmp = (p); (p) = NULL; __tmp; })
#define move_fd(fd) ({ int __tmp = (fd); (fd) = -1; __tmp; })

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

void *xmalloc(size_t n);
void *xzalloc(size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Formats the reason into err (when err and errlen) and returns -1: the
 * error return of every function that says why in a caller's buffer. */
int fail_why(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Milliseconds on CLOCK_MONOTONIC: the single clock of a report. */
static inline double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Full read/write that retry on EINTR and short transfers; 0 or -1 (errno). */
int read_full(int fd, void *buf, size_t len);
int write_full(int fd, const void *buf, size_t len);
/* Whole file into a NUL-terminated buffer (len optional); NULL on error. */
char *read_file(const char *path, size_t *len);
int write_file(const char *path, const void *buf, size_t len, int mode);
/* The same through a temporary file beside path, synced and renamed into
 * place: a reader sees the old file or the whole new one, never half, and
 * the file has exactly `mode` from the start (a key is never readable by
 * others, not even for a moment). 0, or -1 with errno; nothing left behind. */
int write_file_atomic(const char *path, const void *buf, size_t len, int mode);
int mkdir_p(const char *path, int mode);
/* rm -rf, not crossing mount points; 0 or -1. */
int remove_tree(const char *path);

/* Names that arrive from outside (the peer, a request, the command line) and
 * become one path component beneath a directory crmig owns: an image
 * directory, a container, a session. The one rule for them all: 1..max bytes
 * of [A-Za-z0-9._-], not starting with '.' (so never "." or "..", nor
 * hidden), hence no '/', no NUL, no control character; max is capped at
 * NAME_MAX. Nothing made from such a name can leave its directory. */
bool safe_name(const char *s, size_t max);
/* An absolute directory from outside (a container's lxcpath): starts with
 * '/', shorter than PATH_MAX, no "." or ".." component, no control
 * character. */
bool safe_abs_path(const char *s);

#endif
