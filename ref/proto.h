/* The crmig channel: length-prefixed frames over a byte stream (a TLS session
 * in production, a plain fd in unit tests).
 *
 * Frame: 4-byte magic "CRMG", u16 type, u16 flags (0), u32 payload length,
 * all big-endian, then the payload. A frame longer than PROTO_MAX_FRAME is a
 * protocol error: the receiver never allocates on the peer's word beyond it.
 * Control messages carry a JSON object (jansson); file data is raw. */
#ifndef CRMIG_PROTO_H
#define CRMIG_PROTO_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define PROTO_MAGIC 0x43524d47u /* "CRMG" */
#define PROTO_VERSION 1
#define PROTO_HDR_LEN 12
#define PROTO_MAX_FRAME (1u << 20)     /* 1 MiB: data chunks and JSON alike */
#define PROTO_MAX_NAME 255             /* one path component */
#define PROTO_MAX_PATH 4096            /* a relative path in a tree sync */

enum msg_type {
	MSG_HELLO = 1,  /* {version, role, ...} both ways */
	MSG_OK,         /* JSON reply: success, optional fields */
	MSG_ERROR,      /* JSON reply: {error} */
	MSG_REQUEST,    /* JSON: {op, ...}: the source asks the destination to act */
	MSG_EVENT,      /* JSON: {event, ...}: asynchronous news (lazy done, failure) */
	MSG_FILE,       /* JSON: {name, size, mode, [type, target]} then MSG_DATA frames */
	MSG_DATA,       /* raw bytes of the current file */
	MSG_FILE_END,   /* no payload: the current file is complete */
	MSG_BYE,        /* no payload: orderly end */
	MSG_TYPE_MAX,
};

/* The byte stream beneath: read/write exactly len bytes, 0 or -1. */
struct chan_io {
	int (*read)(void *ctx, void *buf, size_t len);
	int (*write)(void *ctx, const void *buf, size_t len);
	void *ctx;
};

struct chan {
	struct chan_io io;
	uint64_t bytes_sent;  /* frame bytes, headers included */
	uint64_t bytes_recv;
	char err[2048];       /* why the last call failed (a peer's criu log excerpt fits) */
};

/* A channel over a plain fd (tests, and the unix socket of the hook). */
void chan_init_fd(struct chan *c, int fd);

int chan_send(struct chan *c, uint16_t type, const void *buf, uint32_t len);
/* Receives one frame. *buf is malloc'ed (NUL-terminated for convenience) and
 * owned by the caller; rejects bad magic, unknown types and oversize frames. */
int chan_recv(struct chan *c, uint16_t *type, void **buf, uint32_t *len);

int chan_send_json(struct chan *c, uint16_t type, json_t *obj); /* steals nothing */
/* Receives a frame that must be a JSON object of type `expect` (or MSG_ERROR,
 * which is turned into -1 with c->err set from its "error"). */
json_t *chan_recv_json(struct chan *c, uint16_t expect);

/* Sends a file (regular file, directory entry, symlink, FIFO or a device
 * node proto_chardev_ok() allows) as MSG_FILE +
 * MSG_DATA* + MSG_FILE_END; `name` is the name the peer will see. */
int chan_send_file(struct chan *c, int dirfd, const char *path, const char *name);
/* The same for a regular file already open for reading (read with pread:
 * the description may be another process's). */
int chan_send_open_file(struct chan *c, int fd, const char *path, const char *name);
/* A character device node that is mirrored (terminals; null, zero, full,
 * random, urandom) and that this host has. */
bool proto_chardev_ok(unsigned int major, unsigned int minor);
/* Receives one file announced by an already-received MSG_FILE header into
 * dirfd, after checking the name with proto_safe_relpath(); never follows a
 * symlink and never leaves dirfd. Returns bytes written or -1. */
int64_t chan_recv_file(struct chan *c, int dirfd, json_t *header, bool allow_subdirs);

/* A name from the peer is acceptable as a relative path beneath a directory:
 * non-empty, not absolute, no "." or ".." component, no empty component, no
 * control characters, components <= PROTO_MAX_NAME, whole <= PROTO_MAX_PATH.
 * With allow_subdirs false it must also be a single component. */
bool proto_safe_relpath(const char *name, bool allow_subdirs);

/* openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS). */
int open_beneath(int dirfd, const char *relpath, int flags, mode_t mode);

/* JSON field helpers that validate type; NULL/def when absent or wrong type
 * (json_str: also NULL for a string with a NUL inside). */
const char *json_str(json_t *obj, const char *key);
int64_t json_int(json_t *obj, const char *key, int64_t def);
bool json_bool(json_t *obj, const char *key, bool def);

#endif
