/* The crmig channel: framing, JSON control messages, and file transfer.
 *
 * Everything that arrives here comes from the peer and is checked before it
 * is used: the frame header before anything is allocated, JSON before a
 * field is read, names before a path is touched. Files are received without
 * ever following a symlink and without ever leaving the target directory
 * (openat2 with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS for every lookup).
 *
 * After a framing error the stream is out of step: the caller must drop the
 * connection, not retry. */
#include "proto.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

#include "util.h"

/* File data goes out in chunks of this size: big enough that the 12-byte
 * header is noise, small enough to keep memory flat. */
#define PROTO_CHUNK (256u * 1024)
/* Control messages up to this size leave in one write (one TLS record). */
#define PROTO_SMALL_FRAME 4096u

/* ---- errors --------------------------------------------------------------- */

static int chan_fail(struct chan *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int chan_fail(struct chan *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	return -1;
}

/* A copy of text from the peer that is safe to print: control characters
 * become '?', and it is cut to fit. */
static const char *printable(const char *s, char *buf, size_t len)
{
	size_t i = 0;

	if (!s)
		s = "(none)";
	for (; s[i] && i + 1 < len; i++)
		buf[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
	buf[i] = '\0';
	return buf;
}

static const char *msg_name(uint16_t type)
{
	static const char *const names[MSG_TYPE_MAX] = {
		[MSG_HELLO] = "HELLO", [MSG_OK] = "OK", [MSG_ERROR] = "ERROR",
		[MSG_REQUEST] = "REQUEST", [MSG_EVENT] = "EVENT", [MSG_FILE] = "FILE",
		[MSG_DATA] = "DATA", [MSG_FILE_END] = "FILE_END", [MSG_BYE] = "BYE",
	};

	return type < MSG_TYPE_MAX && names[type] ? names[type] : "unknown";
}

static bool valid_type(uint16_t type)
{
	return type >= MSG_HELLO && type < MSG_TYPE_MAX;
}

/* ---- the byte stream ------------------------------------------------------ */

/* The transport may leave a precise reason in c->err (TLS does); otherwise
 * errno is all there is. */
static int chan_read(struct chan *c, void *buf, size_t len, const char *what)
{
	c->err[0] = '\0';
	if (c->io.read(c->io.ctx, buf, len) == 0)
		return 0;
	if (!c->err[0])
		chan_fail(c, "%s: %s", what,
			  errno == EPIPE ? "connection closed by the peer" : strerror(errno));
	return -1;
}

static int chan_write(struct chan *c, const void *buf, size_t len)
{
	c->err[0] = '\0';
	if (c->io.write(c->io.ctx, buf, len) == 0)
		return 0;
	if (!c->err[0])
		chan_fail(c, "sending: %s", strerror(errno));
	return -1;
}

static int fd_read(void *ctx, void *buf, size_t len)
{
	return read_full((int)(intptr_t)ctx, buf, len);
}

/* send() with MSG_NOSIGNAL so that a vanished peer is an error, not a
 * SIGPIPE that kills crmig; plain write() for pipes and files. */
static int fd_write(void *ctx, const void *buf, size_t len)
{
	int fd = (int)(intptr_t)ctx;
	const char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == ENOTSOCK)
			return write_full(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

void chan_init_fd(struct chan *c, int fd)
{
	*c = (struct chan){
		.io = { .read = fd_read, .write = fd_write, .ctx = (void *)(intptr_t)fd },
	};
}

/* ---- frames --------------------------------------------------------------- */

static void put_be16(unsigned char *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static uint16_t get_be16(const unsigned char *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int chan_send(struct chan *c, uint16_t type, const void *buf, uint32_t len)
{
	unsigned char frame[PROTO_HDR_LEN + PROTO_SMALL_FRAME];

	if (!valid_type(type))
		return chan_fail(c, "refusing to send message of unknown type %u", type);
	if (len > PROTO_MAX_FRAME)
		return chan_fail(c, "refusing to send a %u-byte frame (limit %u)", len, PROTO_MAX_FRAME);
	if (len && !buf)
		return chan_fail(c, "no payload for a %u-byte frame", len);
	put_be32(frame, PROTO_MAGIC);
	put_be16(frame + 4, type);
	put_be16(frame + 6, 0);
	put_be32(frame + 8, len);
	if (len <= PROTO_SMALL_FRAME) {
		if (len)
			memcpy(frame + PROTO_HDR_LEN, buf, len);
		if (chan_write(c, frame, PROTO_HDR_LEN + len) < 0)
			return -1;
	} else if (chan_write(c, frame, PROTO_HDR_LEN) < 0 || chan_write(c, buf, len) < 0) {
		return -1;
	}
	c->bytes_sent += PROTO_HDR_LEN + len;
	return 0;
}

/* Validates a header; the length is checked here, before anyone allocates. */
static int check_header(struct chan *c, const unsigned char *hdr, uint16_t *type, uint32_t *len)
{
	uint32_t magic = get_be32(hdr);
	uint16_t flags = get_be16(hdr + 6);

	*type = get_be16(hdr + 4);
	*len = get_be32(hdr + 8);
	if (magic != PROTO_MAGIC)
		return chan_fail(c, "bad frame magic 0x%08x: the peer is not crmig, or the stream is out of step",
				 magic);
	if (!valid_type(*type))
		return chan_fail(c, "unknown message type %u from the peer", *type);
	if (flags)
		return chan_fail(c, "unsupported frame flags 0x%04x from the peer", flags);
	if (*len > PROTO_MAX_FRAME)
		return chan_fail(c, "the peer announced a %u-byte %s frame, beyond the %u-byte limit",
				 *len, msg_name(*type), PROTO_MAX_FRAME);
	return 0;
}

int chan_recv(struct chan *c, uint16_t *type, void **buf, uint32_t *len)
{
	unsigned char hdr[PROTO_HDR_LEN];
	char *payload;

	*buf = NULL;
	*len = 0;
	if (chan_read(c, hdr, sizeof(hdr), "receiving a frame header") < 0)
		return -1;
	c->bytes_recv += sizeof(hdr);
	if (check_header(c, hdr, type, len) < 0)
		return -1;
	payload = xmalloc((size_t)*len + 1);
	if (*len && chan_read(c, payload, *len, "truncated frame") < 0) {
		free(payload);
		*len = 0;
		return -1;
	}
	payload[*len] = '\0';
	c->bytes_recv += *len;
	*buf = payload;
	return 0;
}

/* ---- JSON ----------------------------------------------------------------- */

int chan_send_json(struct chan *c, uint16_t type, json_t *obj)
{
	__do_free char *text = NULL;
	size_t len;

	if (!json_is_object(obj))
		return chan_fail(c, "refusing to send a %s message that is not a JSON object", msg_name(type));
	text = json_dumps(obj, JSON_COMPACT);
	if (!text)
		return chan_fail(c, "cannot encode a %s message as JSON", msg_name(type));
	len = strlen(text);
	if (len > PROTO_MAX_FRAME)
		return chan_fail(c, "%s message of %zu bytes is beyond the frame limit", msg_name(type), len);
	return chan_send(c, type, text, (uint32_t)len);
}

/* An ERROR message from the peer becomes our error, quoted safely. */
/* The peer's own words, e.g. the error lines of its criu log: newlines
 * survive, other control characters do not. */
static void take_peer_error(struct chan *c, json_t *obj)
{
	const char *e = json_str(obj, "error");
	char why[sizeof(c->err) - 8];
	size_t i = 0;

	for (; e && e[i] && i + 1 < sizeof(why); i++)
		why[i] = e[i] == '\n' || ((unsigned char)e[i] >= 0x20 && e[i] != 0x7f) ? e[i] : '?';
	why[i] = '\0';
	chan_fail(c, "peer: %s", e ? why : "(none)");
}

json_t *chan_recv_json(struct chan *c, uint16_t expect)
{
	__do_free void *buf = NULL;
	json_error_t jerr;
	uint16_t type;
	uint32_t len;
	json_t *obj;

	if (chan_recv(c, &type, &buf, &len) < 0)
		return NULL;
	if (type != expect && type != MSG_ERROR) {
		chan_fail(c, "expected a %s message, the peer sent %s", msg_name(expect), msg_name(type));
		return NULL;
	}
	obj = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(obj)) {
		char why[120];

		chan_fail(c, "malformed %s message from the peer: %s", msg_name(type),
			  obj ? "not a JSON object" : printable(jerr.text, why, sizeof(why)));
		json_decref(obj);
		return NULL;
	}
	if (type == MSG_ERROR && expect != MSG_ERROR) {
		take_peer_error(c, obj);
		json_decref(obj);
		return NULL;
	}
	return obj;
}

/* A string that hides a NUL (JSON allows "\u0000") is no string to us: C
 * would silently cut it there, and a name from the peer must be exactly
 * what the peer said. */
const char *json_str(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	const char *s = json_string_value(v);

	return s && strlen(s) == json_string_length(v) ? s : NULL;
}

int64_t json_int(json_t *obj, const char *key, int64_t def)
{
	json_t *v = json_object_get(obj, key);

	return json_is_integer(v) ? json_integer_value(v) : def;
}

bool json_bool(json_t *obj, const char *key, bool def)
{
	json_t *v = json_object_get(obj, key);

	return json_is_boolean(v) ? json_is_true(v) : def;
}

/* ---- names and safe lookups ----------------------------------------------- */

static bool is_control(unsigned char ch)
{
	return ch < 0x20 || ch == 0x7f;
}

bool proto_safe_relpath(const char *name, bool allow_subdirs)
{
	size_t total, comp = 0;

	if (!name || !*name || name[0] == '/')
		return false;
	total = strnlen(name, PROTO_MAX_PATH + 1);
	if (total > PROTO_MAX_PATH)
		return false;
	for (size_t i = 0; i <= total; i++) {
		if (i < total && name[i] != '/') {
			if (is_control(name[i]))
				return false;
			continue;
		}
		/* a component ends here: name[comp .. i) */
		size_t len = i - comp;

		if (len == 0 || len > PROTO_MAX_NAME)
			return false;
		if (name[comp] == '.' && (len == 1 || (len == 2 && name[comp + 1] == '.')))
			return false;
		if (i < total && !allow_subdirs)
			return false;
		comp = i + 1;
	}
	return true;
}

/* Opens one component beneath cur without following it: a symlink, even
 * with O_PATH (which would hand out the link itself), is ELOOP. */
static int open_component(int cur, const char *comp, int flags, mode_t mode)
{
	int fd = openat(cur, comp, flags | O_NOFOLLOW | O_CLOEXEC, mode);
	struct stat st;

	if (fd < 0) {
		int saved = errno;

		/* With O_DIRECTORY the kernel reports a symlink as ENOTDIR; the
		 * open failed either way, this only names the reason right. */
		if (saved == ENOTDIR && !fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) && S_ISLNK(st.st_mode))
			saved = ELOOP;
		errno = saved;
		return -1;
	}
	if ((flags & O_PATH) && (fstat(fd, &st) < 0 || S_ISLNK(st.st_mode))) {
		close_fd(&fd);
		errno = ELOOP;
	}
	return fd;
}

/* openat2 is missing before Linux 5.6, under valgrind (which does not know
 * the syscall, so the unit tests exercise this path there) and behind some
 * seccomp profiles. Same refusals, one component at a time: no absolute
 * path or ".." (EXDEV), no symlink anywhere (ELOOP), which also excludes
 * /proc's magic links. */
static int open_beneath_walk(int dirfd, const char *relpath, int flags, mode_t mode)
{
	__do_close int owned = -1;
	char comp[PROTO_MAX_NAME + 1];
	const char *p = relpath;
	int cur = dirfd;

	if (*p == '/') {
		errno = EXDEV;
		return -1;
	}
	if (!*p) {
		errno = ENOENT;
		return -1;
	}
	for (;;) {
		size_t len = strcspn(p, "/");
		const char *rest = p + len;
		int next;

		while (*rest == '/')
			rest++;
		if (len > PROTO_MAX_NAME) {
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(comp, p, len);
		comp[len] = '\0';
		if (!strcmp(comp, "..")) {
			errno = EXDEV;
			return -1;
		}
		if (!*rest)
			return open_component(cur, comp, flags, mode);
		next = open_component(cur, comp, O_PATH | O_DIRECTORY, 0);
		if (next < 0)
			return -1;
		close_fd(&owned);
		owned = cur = next;
		p = rest;
	}
}

int open_beneath(int dirfd, const char *relpath, int flags, mode_t mode)
{
	static bool no_openat2; /* once learnt, for every thread */
	bool creates = (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.mode = creates ? mode : 0, /* openat2 refuses a mode it would not use */
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	int fd;

	if (!__atomic_load_n(&no_openat2, __ATOMIC_RELAXED)) {
		fd = (int)syscall(SYS_openat2, dirfd, relpath, &how, sizeof(how));
		if (fd >= 0 || errno != ENOSYS)
			return fd;
		__atomic_store_n(&no_openat2, true, __ATOMIC_RELAXED);
	}
	return open_beneath_walk(dirfd, relpath, flags, creates ? mode : 0);
}

/* ---- sending files -------------------------------------------------------- */

enum file_kind { KIND_FILE, KIND_DIR, KIND_SYMLINK, KIND_FIFO, KIND_CHARDEV };

static const char *const kind_names[] = { "file", "dir", "symlink", "fifo", "chardev" };

/* Device nodes a process may make for itself in its own tree (zdtm's console
 * and vt tests do) and that name nothing a node could abuse: the terminal
 * class (the kernel files them under subsystem "tty") and the memory
 * devices without memory behind them (null, zero, full, random, urandom).
 * /dev/mem, disks, and any device this host does not have are refused on
 * both sides: the source does not offer them, the destination never makes
 * them. */
bool proto_chardev_ok(unsigned int major, unsigned int minor)
{
	char link[64], target[PATH_MAX];
	const char *base;
	ssize_t n;

	if (major == 1)
		return minor == 3 || minor == 5 || minor == 7 || minor == 8 || minor == 9;
	snprintf(link, sizeof(link), "/sys/dev/char/%u:%u/subsystem", major, minor);
	n = readlink(link, target, sizeof(target) - 1);
	if (n <= 0)
		return false;
	target[n] = '\0';
	base = strrchr(target, '/');
	return !strcmp(base ? base + 1 : target, "tty");
}

static int send_file_header(struct chan *c, const char *name, enum file_kind kind, const struct stat *st,
			    const char *target)
{
	json_t *name_json = json_string(name);
	json_t *hdr;
	int ret;

	if (!name_json)
		return chan_fail(c, "cannot send %s: the name is not valid UTF-8", name);
	hdr = json_pack("{s:o, s:s, s:I, s:i, s:I, s:I, s:I}", "name", name_json, "type", kind_names[kind],
			"size", (json_int_t)(kind == KIND_FILE ? st->st_size : 0),
			"mode", (int)(st->st_mode & 07777), "mtime", (json_int_t)st->st_mtime,
			"uid", (json_int_t)st->st_uid, "gid", (json_int_t)st->st_gid);
	if (kind == KIND_CHARDEV)
		json_object_set_new(hdr, "rdev", json_pack("[I, I]", (json_int_t)major(st->st_rdev),
							   (json_int_t)minor(st->st_rdev)));
	if (target && json_object_set_new(hdr, "target", json_string(target)) < 0) {
		json_decref(hdr);
		return chan_fail(c, "cannot send %s: the symlink target is not valid UTF-8", name);
	}
	ret = chan_send_json(c, MSG_FILE, hdr);
	json_decref(hdr);
	return ret;
}

/* Once the header is out, a local failure (not a broken channel) is also
 * told to the peer, so that it drops the partial file for the right
 * reason. Returns -1. */
static int abort_file(struct chan *c)
{
	char why[sizeof(c->err)];
	json_t *msg;

	memcpy(why, c->err, sizeof(why));
	msg = json_pack("{s:s}", "error", why);
	if (msg)
		chan_send_json(c, MSG_ERROR, msg);
	json_decref(msg);
	memcpy(c->err, why, sizeof(why));
	return -1;
}

/* Sends exactly the size announced in the header: a file that shrinks while
 * it is read is an error, bytes appended meanwhile are not sent. pread:
 * fd may be a description the workload shares (chan_send_open_file), whose
 * offset is the workload's. */
static int send_file_data(struct chan *c, int fd, off_t size, const char *path)
{
	__do_free char *buf = xmalloc(PROTO_CHUNK);
	off_t left = size;

	while (left > 0) {
		size_t want = left < (off_t)PROTO_CHUNK ? (size_t)left : PROTO_CHUNK;
		ssize_t n = pread(fd, buf, want, size - left);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			chan_fail(c, "reading %s: %s", path, strerror(errno));
			return abort_file(c);
		}
		if (n == 0) {
			chan_fail(c, "%s shrank while it was being sent", path);
			return abort_file(c);
		}
		if (chan_send(c, MSG_DATA, buf, (uint32_t)n) < 0)
			return -1;
		left -= n;
	}
	return 0;
}

int chan_send_open_file(struct chan *c, int fd, const char *path, const char *name)
{
	struct stat st;

	if (!proto_safe_relpath(name, true))
		return chan_fail(c, "cannot send %s: unsafe name", path);
	if (fstat(fd, &st) < 0)
		return chan_fail(c, "cannot send %s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return chan_fail(c, "%s changed into something other than a regular file", path);
	if (send_file_header(c, name, KIND_FILE, &st, NULL) < 0)
		return -1;
	if (send_file_data(c, fd, st.st_size, path) < 0)
		return -1;
	return chan_send(c, MSG_FILE_END, NULL, 0);
}

static int send_regular(struct chan *c, int dirfd, const char *path, const char *name)
{
	/* O_NONBLOCK: if the file was swapped for a FIFO, do not hang on it. */
	__do_close int fd = openat(dirfd, path, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return chan_fail(c, "cannot open %s: %s", path, strerror(errno));
	return chan_send_open_file(c, fd, path, name);
}

static int send_symlink(struct chan *c, int dirfd, const char *path, const char *name, const struct stat *st)
{
	char target[PROTO_MAX_PATH + 2];
	ssize_t n = readlinkat(dirfd, path, target, sizeof(target));

	if (n < 0)
		return chan_fail(c, "cannot read symlink %s: %s", path, strerror(errno));
	if (n == 0 || n > PROTO_MAX_PATH)
		return chan_fail(c, "symlink %s: target empty or longer than %d bytes", path, PROTO_MAX_PATH);
	target[n] = '\0';
	if (send_file_header(c, name, KIND_SYMLINK, st, target) < 0)
		return -1;
	return chan_send(c, MSG_FILE_END, NULL, 0);
}

int chan_send_file(struct chan *c, int dirfd, const char *path, const char *name)
{
	struct stat st;

	/* The peer would refuse it; say so here, where the cause is visible. */
	if (!proto_safe_relpath(name, true))
		return chan_fail(c, "cannot send %s: unsafe name", path);
	if (fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return chan_fail(c, "cannot send %s: %s", path, strerror(errno));
	if (S_ISREG(st.st_mode))
		return send_regular(c, dirfd, path, name);
	if (S_ISLNK(st.st_mode))
		return send_symlink(c, dirfd, path, name, &st);
	/* A directory or a FIFO is only its name and mode: criu reopens FIFOs by path. */
	if (S_ISDIR(st.st_mode) || S_ISFIFO(st.st_mode)) {
		if (send_file_header(c, name, S_ISDIR(st.st_mode) ? KIND_DIR : KIND_FIFO, &st, NULL) < 0)
			return -1;
		return chan_send(c, MSG_FILE_END, NULL, 0);
	}
	if (S_ISCHR(st.st_mode) && proto_chardev_ok(major(st.st_rdev), minor(st.st_rdev))) {
		if (send_file_header(c, name, KIND_CHARDEV, &st, NULL) < 0)
			return -1;
		return chan_send(c, MSG_FILE_END, NULL, 0);
	}
	return chan_fail(c, "cannot send %s: not a regular file, directory, symlink, FIFO or terminal node", path);
}

/* ---- receiving files ------------------------------------------------------ */

struct file_header {
	const char *name;
	const char *base;        /* last component of name */
	enum file_kind kind;
	int64_t size;
	mode_t mode;
	bool has_mtime;
	int64_t mtime;
	int64_t uid, gid;        /* -1: not announced (an older peer): the receiver's own */
	const char *target;
	unsigned int major, minor; /* KIND_CHARDEV */
};

/* A string field from the peer, refused if it hides a NUL (JSON allows
 * "\u0000"; C would silently cut the name there). */
static const char *header_string(json_t *hdr, const char *key)
{
	json_t *v = json_object_get(hdr, key);
	const char *s = json_string_value(v);

	if (!s || strlen(s) != json_string_length(v))
		return NULL;
	return s;
}

/* A symlink target is stored, never followed by us. Still, one that climbs
 * above the tree (lexically, counted from the link's own directory) has no
 * business in a synced tree and would escape for anyone who does follow it
 * on this host, so it is refused.
 * Absolute targets are a different matter: inside a container rootfs they
 * are normal (/bin/sh -> /bin/busybox) and resolve inside the container
 * when the container follows them; we never follow them (open_beneath), so
 * they are accepted in tree syncs (allow_subdirs). A flat directory (criu
 * images) has no such use for them: refused there. */
static bool symlink_target_ok(const char *name, const char *target, bool allow_subdirs)
{
	long depth = 0;

	if (!*target || strlen(target) > PROTO_MAX_PATH)
		return false;
	for (const char *p = target; *p; p++)
		if (is_control(*p))
			return false;
	if (target[0] == '/')
		return allow_subdirs;
	for (const char *p = name; *p; p++)
		depth += *p == '/';
	for (const char *p = target; *p;) {
		size_t len = strcspn(p, "/");

		if (len == 2 && !strncmp(p, "..", 2)) {
			if (--depth < 0)
				return false;
		} else if (len && !(len == 1 && *p == '.')) {
			depth++;
		}
		p += len;
		p += *p == '/';
	}
	return true;
}

static int parse_kind(struct chan *c, json_t *hdr, enum file_kind *kind)
{
	json_t *v = json_object_get(hdr, "type");
	const char *type = json_string_value(v);
	char shown[40];

	if (!v) {
		*kind = KIND_FILE;
		return 0;
	}
	for (size_t i = 0; type && i < ARRAY_SIZE(kind_names); i++) {
		if (!strcmp(type, kind_names[i])) {
			*kind = (enum file_kind)i;
			return 0;
		}
	}
	return chan_fail(c, "the peer sent a file of unknown type '%s'", printable(type, shown, sizeof(shown)));
}

/* An optional integer field: absent gives def, anything but an integer is
 * an error. */
static int header_int(struct chan *c, json_t *hdr, const char *key, int64_t def, int64_t *out)
{
	json_t *v = json_object_get(hdr, key);

	if (!v) {
		*out = def;
		return 0;
	}
	if (!json_is_integer(v))
		return chan_fail(c, "file header: '%s' is not an integer", key);
	*out = json_integer_value(v);
	return 0;
}

/* "rdev": [major, minor], a node proto_chardev_ok() allows here, and only
 * in a tree (criu's image directories hold no device nodes). */
static int parse_chardev(struct chan *c, json_t *hdr, bool allow_subdirs, struct file_header *h)
{
	json_t *rdev = json_object_get(hdr, "rdev");
	json_t *ma = json_array_get(rdev, 0), *mi = json_array_get(rdev, 1);

	if (!allow_subdirs)
		return chan_fail(c, "refusing device node %s: not in a synced tree", h->name);
	if (!json_is_array(rdev) || json_array_size(rdev) != 2 || !json_is_integer(ma) || !json_is_integer(mi) ||
	    json_integer_value(ma) < 0 || json_integer_value(ma) > 4095 || json_integer_value(mi) < 0 ||
	    json_integer_value(mi) > 1048575)
		return chan_fail(c, "%s: device node without a valid rdev [major, minor]", h->name);
	h->major = (unsigned int)json_integer_value(ma);
	h->minor = (unsigned int)json_integer_value(mi);
	if (!proto_chardev_ok(h->major, h->minor))
		return chan_fail(c, "refusing device node %s (%u:%u): only terminals and null, zero, full, "
			         "random, urandom that this host has are mirrored", h->name, h->major, h->minor);
	return 0;
}

static int parse_file_header(struct chan *c, json_t *hdr, bool allow_subdirs, struct file_header *h)
{
	char shown[80];
	int64_t mode = 0;
	const char *slash;

	*h = (struct file_header){ 0 };
	if (!json_is_object(hdr))
		return chan_fail(c, "file header is not a JSON object");
	h->name = header_string(hdr, "name");
	if (!h->name || !proto_safe_relpath(h->name, allow_subdirs))
		return chan_fail(c, "refusing file with unsafe name '%s' from the peer",
				 printable(h->name ? h->name : json_str(hdr, "name"), shown, sizeof(shown)));
	slash = strrchr(h->name, '/');
	h->base = slash ? slash + 1 : h->name;
	if (parse_kind(c, hdr, &h->kind) < 0)
		return -1;
	if (header_int(c, hdr, "size", 0, &h->size) < 0 ||
	    header_int(c, hdr, "mode", h->kind == KIND_FILE ? 0644 : 0755, &mode) < 0 ||
	    header_int(c, hdr, "mtime", 0, &h->mtime) < 0 || header_int(c, hdr, "uid", -1, &h->uid) < 0 ||
	    header_int(c, hdr, "gid", -1, &h->gid) < 0)
		return -1;
	if (h->uid < -1 || h->uid >= (int64_t)UINT32_MAX || h->gid < -1 || h->gid >= (int64_t)UINT32_MAX)
		return chan_fail(c, "%s: owner %lld:%lld from the peer is no uid:gid", h->name, (long long)h->uid,
				 (long long)h->gid);
	if (h->kind == KIND_FILE && h->size < 0)
		return chan_fail(c, "%s: negative size %lld from the peer", h->name, (long long)h->size);
	h->mode = (mode_t)(mode & 07777); /* permission bits only: never a file type */
	h->has_mtime = json_object_get(hdr, "mtime") != NULL;
	if (h->kind == KIND_SYMLINK) {
		h->target = header_string(hdr, "target");
		if (!h->target || !symlink_target_ok(h->name, h->target, allow_subdirs))
			return chan_fail(c, "refusing symlink %s -> '%s': the target leaves the tree", h->name,
					 printable(h->target ? h->target : "(missing)", shown, sizeof(shown)));
	}
	if (h->kind == KIND_CHARDEV)
		return parse_chardev(c, hdr, allow_subdirs, h);
	return 0;
}

/* Opens (O_PATH) the directory that will hold h->name, beneath dirfd,
 * creating missing intermediate directories when allowed. Any symlink on
 * the way is refused, including one received earlier in the same sync. */
static int open_parent(struct chan *c, int dirfd, const struct file_header *h, bool allow_subdirs)
{
	__do_close int cur = open_beneath(dirfd, ".", O_PATH | O_DIRECTORY, 0);
	char comp[PROTO_MAX_NAME + 1];

	if (cur < 0)
		return chan_fail(c, "cannot open the target directory: %s", strerror(errno));
	for (const char *p = h->name; p < h->base;) {
		size_t len = strcspn(p, "/");
		int next;

		memcpy(comp, p, len); /* proto_safe_relpath bounded len by PROTO_MAX_NAME */
		comp[len] = '\0';
		next = open_beneath(cur, comp, O_PATH | O_DIRECTORY, 0);
		if (next < 0 && errno == ENOENT && allow_subdirs) {
			if (mkdirat(cur, comp, 0755) < 0 && errno != EEXIST)
				return chan_fail(c, "%s: cannot create directory %s: %s", h->name, comp,
						 strerror(errno));
			next = open_beneath(cur, comp, O_PATH | O_DIRECTORY, 0);
		}
		if (next < 0 && errno == ELOOP)
			return chan_fail(c, "refusing %s: its path goes through a symlink (%s)", h->name, comp);
		if (next < 0)
			return chan_fail(c, "%s: cannot open directory %s: %s", h->name, comp, strerror(errno));
		close(cur);
		cur = next;
		p += len + 1;
	}
	return move_fd(cur);
}

/* Temporary names live beside the final one (same filesystem, so the final
 * rename is atomic) and are unique per process and call. */
static void temp_name(char *buf, size_t len)
{
	static unsigned int counter;

	snprintf(buf, len, ".crmig-part.%d.%u", (int)getpid(), __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED));
}

/* The frame that must close a directory or symlink entry. */
static int expect_file_end(struct chan *c, const char *name)
{
	__do_free void *buf = NULL;
	uint16_t type;
	uint32_t len;

	if (chan_recv(c, &type, &buf, &len) < 0)
		return -1;
	if (type == MSG_FILE_END && len == 0)
		return 0;
	if (type == MSG_ERROR) {
		json_t *obj = json_loadb(buf, len, 0, NULL);

		take_peer_error(c, obj);
		json_decref(obj);
		return -1;
	}
	return chan_fail(c, "%s: unexpected %s message where the entry should end", name, msg_name(type));
}

static void set_mtime(int fd, const struct file_header *h)
{
	struct timespec times[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_sec = (time_t)h->mtime } };

	if (h->has_mtime)
		futimens(fd, times); /* best effort: a wrong mtime breaks nothing */
}

/* Receives DATA frames until FILE_END into fd; exactly h->size bytes. */
static int recv_file_data(struct chan *c, int fd, const struct file_header *h)
{
	int64_t got = 0;

	for (;;) {
		__do_free void *buf = NULL;
		uint16_t type;
		uint32_t len;

		if (chan_recv(c, &type, &buf, &len) < 0)
			return -1;
		if (type == MSG_FILE_END) {
			if (got != h->size)
				return chan_fail(c, "%s: the peer announced %lld bytes but sent %lld", h->name,
						 (long long)h->size, (long long)got);
			return 0;
		}
		if (type == MSG_ERROR) {
			json_t *obj = json_loadb(buf, len, 0, NULL);

			take_peer_error(c, obj);
			json_decref(obj);
			return -1;
		}
		if (type != MSG_DATA)
			return chan_fail(c, "%s: unexpected %s message inside the file", h->name, msg_name(type));
		if ((int64_t)len > h->size - got)
			return chan_fail(c, "%s: the peer sent more than the %lld bytes it announced", h->name,
					 (long long)h->size);
		if (write_full(fd, buf, len) < 0)
			return chan_fail(c, "%s: write: %s", h->name, strerror(errno));
		got += len;
	}
}

/* The announced owner, when we may set it (root: a migrated process that
 * dropped to its own uid must find its files its own on the destination).
 * Before the mode: chown clears set-id bits. */
static int set_owner(struct chan *c, int fd, int parent, const struct file_header *h)
{
	int r;

	if (geteuid() != 0 || (h->uid < 0 && h->gid < 0))
		return 0;
	r = fd >= 0 ? fchown(fd, (uid_t)h->uid, (gid_t)h->gid)
		    : fchownat(parent, h->base, (uid_t)h->uid, (gid_t)h->gid, AT_SYMLINK_NOFOLLOW);
	return r < 0 ? chan_fail(c, "%s: chown %lld:%lld: %s", h->name, (long long)h->uid, (long long)h->gid,
				 strerror(errno))
		     : 0;
}

static int64_t recv_regular(struct chan *c, int parent, const struct file_header *h)
{
	__do_close int fd = -1;
	char tmp[64];

	temp_name(tmp, sizeof(tmp));
	/* 0600 until complete; the announced mode is set at the end, exactly,
	 * whatever the umask. */
	fd = open_beneath(parent, tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		return chan_fail(c, "%s: cannot create a temporary file: %s", h->name, strerror(errno));
	if (recv_file_data(c, fd, h) < 0 || set_owner(c, fd, -1, h) < 0)
		goto fail;
	if (fchmod(fd, h->mode) < 0) {
		chan_fail(c, "%s: chmod: %s", h->name, strerror(errno));
		goto fail;
	}
	set_mtime(fd, h);
	if (close(move_fd(fd)) < 0) {
		chan_fail(c, "%s: close: %s", h->name, strerror(errno));
		goto fail;
	}
	/* rename replaces a symlink of that name; it never writes through it */
	if (renameat(parent, tmp, parent, h->base) < 0) {
		chan_fail(c, "%s: cannot move into place: %s", h->name, strerror(errno));
		goto fail;
	}
	return h->size;
fail:
	unlinkat(parent, tmp, 0);
	return -1;
}

static int64_t recv_dir(struct chan *c, int parent, const struct file_header *h)
{
	__do_close int fd = -1;

	if (expect_file_end(c, h->name) < 0)
		return -1;
	if (mkdirat(parent, h->base, 0700) < 0 && errno != EEXIST)
		return chan_fail(c, "%s: mkdir: %s", h->name, strerror(errno));
	fd = open_beneath(parent, h->base, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0 && errno == ELOOP)
		return chan_fail(c, "refusing directory %s: a symlink of that name exists", h->name);
	if (fd < 0)
		return chan_fail(c, "%s: exists and is not a usable directory: %s", h->name, strerror(errno));
	if (set_owner(c, fd, -1, h) < 0)
		return -1;
	if (fchmod(fd, h->mode) < 0)
		return chan_fail(c, "%s: chmod: %s", h->name, strerror(errno));
	set_mtime(fd, h);
	return 0;
}

/* tmp (beside it) becomes h's name; rename replaces what was there and never
 * writes through a symlink of that name. tmp is gone either way. */
static int move_into_place(struct chan *c, int parent, const char *tmp, const struct file_header *h)
{
	if (renameat(parent, tmp, parent, h->base) == 0)
		return 0;
	chan_fail(c, "%s: cannot move into place: %s", h->name, strerror(errno));
	unlinkat(parent, tmp, 0);
	return -1;
}

static int64_t recv_symlink(struct chan *c, int parent, const struct file_header *h)
{
	struct timespec times[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_sec = (time_t)h->mtime } };
	char tmp[64];

	if (expect_file_end(c, h->name) < 0)
		return -1;
	temp_name(tmp, sizeof(tmp));
	if (symlinkat(h->target, parent, tmp) < 0)
		return chan_fail(c, "%s: symlink: %s", h->name, strerror(errno));
	if (move_into_place(c, parent, tmp, h) < 0 || set_owner(c, -1, parent, h) < 0)
		return -1;
	if (h->has_mtime)
		utimensat(parent, h->base, times, AT_SYMLINK_NOFOLLOW);
	return 0;
}

static int64_t recv_fifo(struct chan *c, int parent, const struct file_header *h)
{
	struct stat st;

	if (expect_file_end(c, h->name) < 0)
		return -1;
	if (fstatat(parent, h->base, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISFIFO(st.st_mode))
		return 0;
	if (mkfifoat(parent, h->base, 0600) < 0)
		return chan_fail(c, "%s: mkfifo: %s", h->name, strerror(errno));
	if (set_owner(c, -1, parent, h) < 0)
		return -1;
	/* the announced mode exactly, whatever the umask, as for files */
	if (fchmodat(parent, h->base, h->mode, 0) < 0)
		return chan_fail(c, "%s: chmod: %s", h->name, strerror(errno));
	return 0;
}

static int64_t recv_chardev(struct chan *c, int parent, const struct file_header *h)
{
	dev_t dev = makedev(h->major, h->minor);
	struct stat st;
	char tmp[64];

	if (expect_file_end(c, h->name) < 0)
		return -1;
	if (fstatat(parent, h->base, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == dev)
		return 0;
	temp_name(tmp, sizeof(tmp));
	if (mknodat(parent, tmp, S_IFCHR | 0600, dev) < 0)
		return chan_fail(c, "%s: mknod %u:%u: %s", h->name, h->major, h->minor, strerror(errno));
	if (move_into_place(c, parent, tmp, h) < 0 || set_owner(c, -1, parent, h) < 0)
		return -1;
	if (fchmodat(parent, h->base, h->mode, 0) < 0)
		return chan_fail(c, "%s: chmod: %s", h->name, strerror(errno));
	return 0;
}

int64_t chan_recv_file(struct chan *c, int dirfd, json_t *header, bool allow_subdirs)
{
	__do_close int parent = -1;
	struct file_header h;

	if (parse_file_header(c, header, allow_subdirs, &h) < 0)
		return -1;
	parent = open_parent(c, dirfd, &h, allow_subdirs);
	if (parent < 0)
		return -1;
	switch (h.kind) {
	case KIND_FILE:
		return recv_regular(c, parent, &h);
	case KIND_DIR:
		return recv_dir(c, parent, &h);
	case KIND_SYMLINK:
		return recv_symlink(c, parent, &h);
	case KIND_FIFO:
		return recv_fifo(c, parent, &h);
	case KIND_CHARDEV:
		return recv_chardev(c, parent, &h);
	}
	return -1;
}
