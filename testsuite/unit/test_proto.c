/* The channel: frames, JSON messages and file transfer over a socketpair,
 * and above all every way a peer can send something it should not. */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proto.h"
#include "util.h"
#include "unit.h"

/* ---- fixtures ------------------------------------------------------------- */

static int fds[2] = { -1, -1 };
static struct chan tx, rx;          /* tx writes fds[0], rx reads fds[1] */
static char root[] = "/tmp/crmig-test-proto-XXXXXX";
static int dst = -1;                /* root/dst: where files are received */
static char outside[PATH_MAX];      /* root/outside: must stay untouched */

static void open_pair(void)
{
	/* A regression that waits for bytes never sent fails instead of hanging. */
	struct timeval tv = { .tv_sec = 20 };

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
	ck_assert_int_eq(setsockopt(fds[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	chan_init_fd(&tx, fds[0]);
	chan_init_fd(&rx, fds[1]);
}

static void close_pair(void)
{
	close_fd(&fds[0]);
	close_fd(&fds[1]);
}

static void setup(void)
{
	__do_free char *d = NULL;

	open_pair();
	ck_assert_ptr_nonnull(mkdtemp(root));
	d = xasprintf("%s/dst", root);
	ck_assert_int_eq(mkdir(d, 0755), 0);
	snprintf(outside, sizeof(outside), "%s/outside", root);
	ck_assert_int_eq(mkdir(outside, 0755), 0);
	dst = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(dst, 0);
}

static void teardown(void)
{
	close_pair();
	close_fd(&dst);
	remove_tree(root);
	strcpy(root, "/tmp/crmig-test-proto-XXXXXX");
}

/* Writes raw bytes as a misbehaving peer would. */
static void raw(const void *buf, size_t len)
{
	ck_assert_int_eq(write_full(fds[0], buf, len), 0);
}

static void raw_header(uint32_t magic, uint16_t type, uint16_t flags, uint32_t len)
{
	unsigned char h[PROTO_HDR_LEN] = {
		magic >> 24, magic >> 16, magic >> 8, magic,
		type >> 8, type, flags >> 8, flags,
		len >> 24, len >> 16, len >> 8, len,
	};

	raw(h, sizeof(h));
}

static void assert_err(const struct chan *c, const char *needle)
{
	ck_assert_msg(strstr(c->err, needle), "error '%s' does not mention '%s'", c->err, needle);
}

/* Receives a frame that must fail, and says why it failed. */
static void recv_fails(const char *needle)
{
	void *buf = (void *)1;
	uint16_t type;
	uint32_t len;

	ck_assert_int_eq(chan_recv(&rx, &type, &buf, &len), -1);
	ck_assert_ptr_null(buf);
	assert_err(&rx, needle);
}

/* ---- frames --------------------------------------------------------------- */

START_TEST(test_frame_round_trip)
{
	json_t *hello = json_pack("{s:i, s:s}", "version", PROTO_VERSION, "role", "source");
	json_t *got;
	void *buf;
	uint16_t type;
	uint32_t len;
	uint64_t expect;

	ck_assert_int_eq(chan_send_json(&tx, MSG_HELLO, hello), 0);
	ck_assert_int_eq(chan_send(&tx, MSG_DATA, "hello", 5), 0);
	ck_assert_int_eq(chan_send(&tx, MSG_BYE, NULL, 0), 0);
	expect = tx.bytes_sent;

	got = chan_recv_json(&rx, MSG_HELLO);
	ck_assert_ptr_nonnull(got);
	ck_assert_int_eq(json_int(got, "version", -1), PROTO_VERSION);
	ck_assert_str_eq(json_str(got, "role"), "source");
	json_decref(got);

	ck_assert_int_eq(chan_recv(&rx, &type, &buf, &len), 0);
	ck_assert_int_eq(type, MSG_DATA);
	ck_assert_uint_eq(len, 5);
	ck_assert_str_eq(buf, "hello"); /* NUL-terminated for convenience */
	free(buf);

	ck_assert_int_eq(chan_recv(&rx, &type, &buf, &len), 0);
	ck_assert_int_eq(type, MSG_BYE);
	ck_assert_uint_eq(len, 0);
	ck_assert_ptr_nonnull(buf);
	free(buf);

	/* counters: headers included, equal on both sides */
	ck_assert_uint_eq(expect, 3 * PROTO_HDR_LEN + strlen("{\"version\":1,\"role\":\"source\"}") + 5);
	ck_assert_uint_eq(rx.bytes_recv, expect);
	ck_assert_uint_eq(rx.bytes_sent, 0);
	json_decref(hello);
}
END_TEST

struct big_send {
	struct chan *c;
	uint32_t len;
	int ret;
};

static void *send_big(void *arg)
{
	struct big_send *s = arg;
	char *buf = xmalloc(s->len);

	memset(buf, 'x', s->len);
	s->ret = chan_send(s->c, MSG_DATA, buf, s->len);
	free(buf);
	return NULL;
}

START_TEST(test_max_frame_boundary)
{
	struct big_send s = { .c = &tx, .len = PROTO_MAX_FRAME };
	char *big = xmalloc(PROTO_MAX_FRAME + 1);
	pthread_t t;
	uint16_t type;
	uint32_t len;
	void *buf;
	char probe;

	ck_assert_int_eq(pthread_create(&t, NULL, send_big, &s), 0);
	ck_assert_int_eq(chan_recv(&rx, &type, &buf, &len), 0);
	pthread_join(t, NULL);
	ck_assert_int_eq(s.ret, 0);
	ck_assert_uint_eq(len, PROTO_MAX_FRAME);
	free(buf);

	/* one byte more is refused by the sender, and nothing leaves */
	ck_assert_int_eq(chan_send(&tx, MSG_DATA, big, PROTO_MAX_FRAME + 1), -1);
	ck_assert_int_eq(chan_send(&tx, 0, NULL, 0), -1);
	ck_assert_int_eq(chan_send(&tx, MSG_TYPE_MAX, NULL, 0), -1);
	ck_assert_int_eq(chan_send(&tx, MSG_DATA, NULL, 3), -1);
	ck_assert_uint_eq(tx.bytes_sent, PROTO_HDR_LEN + PROTO_MAX_FRAME);
	ck_assert_int_eq(recv(fds[1], &probe, 1, MSG_DONTWAIT), -1);
	ck_assert_int_eq(errno, EAGAIN);
	free(big);
}
END_TEST

START_TEST(test_bad_magic)
{
	raw_header(0x43524d48, MSG_HELLO, 0, 0);
	recv_fails("magic");
}
END_TEST

START_TEST(test_http_is_not_a_peer)
{
	raw("GET / HTTP/1.1\r\n\r\n", 18);
	recv_fails("magic");
}
END_TEST

START_TEST(test_unknown_types)
{
	const uint16_t bad[] = { 0, MSG_TYPE_MAX, MSG_TYPE_MAX + 1, 0xffff };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		raw_header(PROTO_MAGIC, bad[i], 0, 0); /* empty frames: the stream stays in step */
		recv_fails("unknown message type");
	}
}
END_TEST

START_TEST(test_flags_refused)
{
	raw_header(PROTO_MAGIC, MSG_BYE, 1, 0);
	recv_fails("flags");
}
END_TEST

/* The peer announces a huge frame and sends nothing after it. Had chan_recv
 * allocated and started reading, it would report a timeout, not the limit. */
START_TEST(test_oversize_refused_before_reading)
{
	const uint32_t sizes[] = { PROTO_MAX_FRAME + 1, 0x7fffffff, 0xffffffff };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		raw_header(PROTO_MAGIC, MSG_DATA, 0, sizes[i]);
		recv_fails("limit");
	}
	ck_assert_uint_eq(rx.bytes_recv, 3 * PROTO_HDR_LEN);
}
END_TEST

START_TEST(test_truncated_payload)
{
	raw_header(PROTO_MAGIC, MSG_DATA, 0, 100);
	raw("only fifty bytes .................................", 50);
	shutdown(fds[0], SHUT_WR);
	recv_fails("truncated");
}
END_TEST

START_TEST(test_truncated_header)
{
	raw("CRMG\0", 5);
	shutdown(fds[0], SHUT_WR);
	recv_fails("header");
}
END_TEST

START_TEST(test_peer_gone)
{
	shutdown(fds[0], SHUT_WR);
	recv_fails("closed");
	/* and sending to a peer that closed is an error, not a SIGPIPE */
	close_fd(&fds[1]);
	ck_assert_int_eq(chan_send(&tx, MSG_BYE, NULL, 0), -1);
	assert_err(&tx, "sending");
}
END_TEST

/* ---- JSON ----------------------------------------------------------------- */

static void send_text(uint16_t type, const char *text)
{
	ck_assert_int_eq(chan_send(&tx, type, text, strlen(text)), 0);
}

START_TEST(test_json_wrong_type)
{
	send_text(MSG_OK, "{}");
	ck_assert_ptr_null(chan_recv_json(&rx, MSG_HELLO));
	assert_err(&rx, "expected a HELLO message, the peer sent OK");
}
END_TEST

START_TEST(test_json_peer_error)
{
	json_t *obj;

	send_text(MSG_ERROR, "{\"error\":\"disk full\\n\\u001b[31m\"}");
	ck_assert_ptr_null(chan_recv_json(&rx, MSG_OK));
	/* control characters defused; newlines kept (a criu log excerpt has several lines) */
	ck_assert_str_eq(rx.err, "peer: disk full\n?[31m");
	/* without a reason */
	send_text(MSG_ERROR, "{}");
	ck_assert_ptr_null(chan_recv_json(&rx, MSG_OK));
	assert_err(&rx, "peer:");
	/* asked for explicitly, an ERROR is just a message */
	send_text(MSG_ERROR, "{\"error\":\"x\"}");
	obj = chan_recv_json(&rx, MSG_ERROR);
	ck_assert_ptr_nonnull(obj);
	json_decref(obj);
}
END_TEST

START_TEST(test_json_malformed)
{
	const char *bad[] = { "{nope", "[1, 2]", "\"string\"", "", "{\"a\":1,\"a\":2}", "{\"a\":\"\\u0000\"}" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		send_text(MSG_REQUEST, bad[i]);
		ck_assert_msg(!chan_recv_json(&rx, MSG_REQUEST), "accepted: %s", bad[i]);
		assert_err(&rx, "malformed REQUEST");
	}
}
END_TEST

START_TEST(test_json_send_refuses_non_objects)
{
	json_t *arr = json_array();

	ck_assert_int_eq(chan_send_json(&tx, MSG_OK, arr), -1);
	ck_assert_int_eq(chan_send_json(&tx, MSG_OK, NULL), -1);
	ck_assert_uint_eq(tx.bytes_sent, 0);
	json_decref(arr);
}
END_TEST

START_TEST(test_json_helpers)
{
	json_t *o = json_pack("{s:s, s:i, s:b, s:f, s:s}", "s", "text", "i", 42, "b", 1, "f", 1.5, "n", "7");

	ck_assert_str_eq(json_str(o, "s"), "text");
	ck_assert_ptr_null(json_str(o, "i"));
	ck_assert_ptr_null(json_str(o, "missing"));
	ck_assert_ptr_null(json_str(NULL, "s"));
	ck_assert_int_eq(json_int(o, "i", -1), 42);
	ck_assert_int_eq(json_int(o, "f", -1), -1); /* a real is not an integer */
	ck_assert_int_eq(json_int(o, "n", -1), -1); /* nor is a string */
	ck_assert_int_eq(json_int(o, "missing", 9), 9);
	ck_assert(json_bool(o, "b", false));
	ck_assert(!json_bool(o, "i", false));
	ck_assert(json_bool(o, "missing", true));
	json_decref(o);
}
END_TEST

/* ---- names ---------------------------------------------------------------- */

START_TEST(test_safe_relpath)
{
	char longname[PROTO_MAX_NAME + 2], longpath[PROTO_MAX_PATH + 2];
	const char *good[] = { "a", "pages-1.img", ".hidden", "..a", "a..", "...", "a b", "\xc3\xa9t\xc3\xa9" };
	const char *good_tree[] = { "a/b", "usr/bin/busybox", "a/.b/c" };
	const char *bad[] = { "", "/", "/etc/passwd", ".", "..", "../x", "a/..", "a/../b", "./a", "a/./b",
			      "a//b", "a/", "a\nb", "a\tb", "\x1b[31m", "a\x7f", "a/b\x01" };

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ck_assert_msg(proto_safe_relpath(good[i], false), "refused %s", good[i]);
		ck_assert_msg(proto_safe_relpath(good[i], true), "refused %s", good[i]);
	}
	for (size_t i = 0; i < sizeof(good_tree) / sizeof(good_tree[0]); i++) {
		ck_assert_msg(proto_safe_relpath(good_tree[i], true), "refused %s", good_tree[i]);
		ck_assert_msg(!proto_safe_relpath(good_tree[i], false), "flat accepted %s", good_tree[i]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!proto_safe_relpath(bad[i], true), "accepted %s", bad[i]);
	ck_assert(!proto_safe_relpath(NULL, true));

	memset(longname, 'n', sizeof(longname));
	longname[PROTO_MAX_NAME] = '\0';
	ck_assert(proto_safe_relpath(longname, false));
	longname[PROTO_MAX_NAME] = 'n';
	longname[PROTO_MAX_NAME + 1] = '\0';
	ck_assert(!proto_safe_relpath(longname, false));

	/* a/a/a/...: exactly PROTO_MAX_PATH is fine, one more is not */
	for (size_t i = 0; i < PROTO_MAX_PATH; i++)
		longpath[i] = i % 2 ? '/' : 'a';
	longpath[PROTO_MAX_PATH - 1] = 'a';
	longpath[PROTO_MAX_PATH] = '\0';
	ck_assert(proto_safe_relpath(longpath, true));
	longpath[PROTO_MAX_PATH] = 'a';
	longpath[PROTO_MAX_PATH + 1] = '\0';
	ck_assert(!proto_safe_relpath(longpath, true));
}
END_TEST

/* What open_beneath must do, whichever way it is implemented. Returns the
 * index of the first case that misbehaves, or -1. No ck_assert here: it
 * also runs in a child process. */
static int open_beneath_table(int dirfd)
{
	static const struct {
		const char *path;
		int flags;
		int err; /* 0: must open */
	} cases[] = {
		{ "plain", O_PATH | O_DIRECTORY, 0 },
		{ "plain/f", O_RDONLY, 0 },
		{ "./plain//f", O_RDONLY, 0 },
		{ "plain/new", O_WRONLY | O_CREAT | O_EXCL, 0 },
		{ "out", O_PATH, ELOOP },
		{ "out", O_RDONLY | O_DIRECTORY, ELOOP },
		{ "out", O_PATH | O_DIRECTORY, ELOOP },
		{ "rel", O_RDONLY, ELOOP },           /* even a harmless symlink */
		{ "out/x", O_WRONLY | O_CREAT, ELOOP },
		{ "plain/link", O_PATH, ELOOP },
		{ "plain/link/x", O_RDONLY, ELOOP },
		{ "plain/f", O_PATH | O_DIRECTORY, ENOTDIR },
		{ "plain/f/x", O_RDONLY, ENOTDIR },
		{ "../outside", O_PATH, EXDEV },
		{ "plain/../../outside", O_PATH, EXDEV },
		{ "/etc/passwd", O_RDONLY, EXDEV },
		{ "/proc/self/root/etc/passwd", O_RDONLY, EXDEV },
		{ "missing", O_RDONLY, ENOENT },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int fd = open_beneath(dirfd, cases[i].path, cases[i].flags, 0600);
		int err = errno;

		if (fd >= 0) {
			bool cloexec = fcntl(fd, F_GETFD) & FD_CLOEXEC;

			close(fd);
			if (cases[i].err || !cloexec)
				return (int)i;
		} else if (err != cases[i].err) {
			return (int)i;
		}
	}
	return -1;
}

static void populate_for_open(void)
{
	ck_assert_int_eq(symlinkat(outside, dst, "out"), 0);
	ck_assert_int_eq(symlinkat("plain", dst, "rel"), 0);
	ck_assert_int_eq(mkdirat(dst, "plain", 0755), 0);
	ck_assert_int_eq(symlinkat(outside, dst, "plain/link"), 0);
	close(openat(dst, "plain/f", O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
}

START_TEST(test_open_beneath)
{
	populate_for_open();
	ck_assert_int_eq(open_beneath_table(dst), -1);
}
END_TEST

/* The portable path: a seccomp filter answers openat2 with ENOSYS, as old
 * kernels and some container runtimes do. Run in a child, since a filter
 * cannot be removed. */
static void deny_openat2(void)
{
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat2, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(filter) / sizeof(filter[0]), .filter = filter };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
		_exit(100);
}

START_TEST(test_open_beneath_without_openat2)
{
	int status;
	pid_t pid;

	populate_for_open();
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct open_how how = { .flags = O_RDONLY };
		int bad;

		deny_openat2();
		if (syscall(SYS_openat2, dst, "plain", &how, sizeof(how)) >= 0 || errno != ENOSYS)
			_exit(101);
		bad = open_beneath_table(dst);
		_exit(bad < 0 ? 0 : bad + 1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_msg(WEXITSTATUS(status) == 0, "portable open_beneath: case %d misbehaves (100+: setup)",
		      WEXITSTATUS(status) - 1);
}
END_TEST

/* ---- files: the happy path ------------------------------------------------- */

struct sender {
	struct chan *c;
	int dirfd;
	const char *const *paths; /* NULL-terminated; sent under the same name */
	int ret;
	char err[256];
};

static void *send_files(void *arg)
{
	struct sender *s = arg;

	s->ret = 0;
	for (size_t i = 0; s->paths[i] && !s->ret; i++)
		s->ret = chan_send_file(s->c, s->dirfd, s->paths[i], s->paths[i]);
	memcpy(s->err, s->c->err, sizeof(s->err));
	return NULL;
}

static void make_file(int dirfd, const char *name, size_t size, mode_t mode, time_t mtime)
{
	__do_close int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	__do_free char *buf = xmalloc(size ? size : 1);
	struct timespec times[2] = { { .tv_sec = mtime }, { .tv_sec = mtime } };

	ck_assert_int_ge(fd, 0);
	for (size_t i = 0; i < size; i++)
		buf[i] = (char)(i * 7 + i / 251);
	ck_assert_int_eq(write_full(fd, buf, size), 0);
	ck_assert_int_eq(fchmod(fd, mode), 0);
	ck_assert_int_eq(futimens(fd, times), 0);
}

static void assert_same_file(int a, int b, const char *name)
{
	__do_free char *pa = NULL, *pb = NULL, *ca = NULL, *cb = NULL;
	struct stat sa, sb;
	size_t la, lb;

	ck_assert_int_eq(fstatat(a, name, &sa, AT_SYMLINK_NOFOLLOW), 0);
	ck_assert_int_eq(fstatat(b, name, &sb, AT_SYMLINK_NOFOLLOW), 0);
	ck_assert_msg((sa.st_mode & 07777) == (sb.st_mode & 07777), "%s: mode %o != %o", name,
		      sa.st_mode & 07777, sb.st_mode & 07777);
	ck_assert_int_eq(sa.st_mtime, sb.st_mtime);
	pa = xasprintf("/proc/self/fd/%d/%s", a, name);
	pb = xasprintf("/proc/self/fd/%d/%s", b, name);
	ca = read_file(pa, &la);
	cb = read_file(pb, &lb);
	ck_assert_ptr_nonnull(ca);
	ck_assert_ptr_nonnull(cb);
	ck_assert_uint_eq(la, lb);
	ck_assert_msg(!memcmp(ca, cb, la), "%s: content differs", name);
}

/* No temporary file may survive, success or failure. */
static void assert_no_temp(int dirfd)
{
	int fd = dup(dirfd);
	DIR *d = fdopendir(fd);
	struct dirent *e;

	ck_assert_ptr_nonnull(d);
	rewinddir(d);
	while ((e = readdir(d)))
		ck_assert_msg(strncmp(e->d_name, ".crmig-part", 11), "temporary file left: %s", e->d_name);
	closedir(d);
}

static int64_t recv_one(bool allow_subdirs)
{
	json_t *hdr = chan_recv_json(&rx, MSG_FILE);
	int64_t n;

	ck_assert_msg(hdr != NULL, "%s", rx.err);
	n = chan_recv_file(&rx, dst, hdr, allow_subdirs);
	json_decref(hdr);
	return n;
}

START_TEST(test_tree_round_trip)
{
	static const char *const paths[] = { "dir", "dir/inner", "big", "empty", "suid", "link", "abs", "fifo", NULL };
	const size_t big = 3 * 256 * 1024 + 12345; /* several chunks and a partial one */
	__do_free char *src_path = xasprintf("%s/src", root);
	__do_close int src = -1;
	struct sender s = { .c = &tx, .paths = paths };
	char target[64];
	pthread_t t;
	int64_t n;

	ck_assert_int_eq(mkdir(src_path, 0755), 0);
	src = open(src_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_eq(mkdirat(src, "dir", 0750), 0);
	make_file(src, "dir/inner", 100, 0640, 1600000000);
	make_file(src, "big", big, 0644, 1700000000);
	make_file(src, "empty", 0, 0600, 1500000000);
	make_file(src, "suid", 10, 04755, 1500000000);
	ck_assert_int_eq(symlinkat("dir/inner", src, "link"), 0);
	ck_assert_int_eq(symlinkat("/bin/busybox", src, "abs"), 0);
	ck_assert_int_eq(mkfifoat(src, "fifo", 0600), 0);
	ck_assert_int_eq(fchmodat(src, "fifo", 0620, 0), 0);
	/* a migrated process that dropped to its own uid finds its files its own */
	if (geteuid() == 0) {
		ck_assert_int_eq(fchownat(src, "dir", 18943, 58467, 0), 0);
		ck_assert_int_eq(fchownat(src, "dir/inner", 18943, 58467, 0), 0);
		ck_assert_int_eq(fchownat(src, "link", 18943, 58467, AT_SYMLINK_NOFOLLOW), 0);
		ck_assert_int_eq(fchownat(src, "fifo", 18943, 58467, 0), 0);
	}
	s.dirfd = src;

	ck_assert_int_eq(pthread_create(&t, NULL, send_files, &s), 0);
	for (size_t i = 0; paths[i]; i++) {
		n = recv_one(true);
		ck_assert_msg(n >= 0, "%s: %s", paths[i], rx.err);
		if (!strcmp(paths[i], "big"))
			ck_assert_int_eq(n, big);
	}
	pthread_join(t, NULL);
	ck_assert_msg(s.ret == 0, "%s", s.err);

	assert_same_file(src, dst, "dir/inner");
	assert_same_file(src, dst, "big");
	assert_same_file(src, dst, "empty");
	assert_same_file(src, dst, "suid");
	ck_assert_int_eq(readlinkat(dst, "link", target, sizeof(target)), 9);
	ck_assert(!memcmp(target, "dir/inner", 9));
	ck_assert_int_eq(readlinkat(dst, "abs", target, sizeof(target)), 12);
	ck_assert(!memcmp(target, "/bin/busybox", 12));
	{
		struct stat st;
		/* criu reopens FIFOs by path: only the node and its mode cross */
		ck_assert_int_eq(fstatat(dst, "fifo", &st, AT_SYMLINK_NOFOLLOW), 0);
		ck_assert(S_ISFIFO(st.st_mode));
		ck_assert_int_eq(st.st_mode & 07777, 0620);
		for (const char *const *o = (const char *const[]){ "dir", "dir/inner", "link", "fifo", NULL };
		     geteuid() == 0 && *o; o++) {
			ck_assert_int_eq(fstatat(dst, *o, &st, AT_SYMLINK_NOFOLLOW), 0);
			ck_assert_msg(st.st_uid == 18943 && st.st_gid == 58467, "%s: owner %u:%u", *o, st.st_uid, st.st_gid);
		}
		ck_assert_int_eq(fstatat(dst, "big", &st, 0), 0);
		ck_assert_uint_eq(st.st_uid, geteuid());
	}
	ck_assert_uint_eq(tx.bytes_sent, rx.bytes_recv);
	ck_assert_uint_gt(rx.bytes_recv, big);
	assert_no_temp(dst);
}
END_TEST

START_TEST(test_parents_created_in_tree_mode)
{
	json_t *hdr;
	struct stat st;

	/* the sender names it a/b/c/f; created with its parents */
	make_file(dst, "f", 5, 0644, 1);
	ck_assert_int_eq(chan_send_file(&tx, dst, "f", "a/b/c/f"), 0);
	hdr = chan_recv_json(&rx, MSG_FILE);
	ck_assert_int_eq(chan_recv_file(&rx, dst, hdr, true), 5);
	json_decref(hdr);
	ck_assert_int_eq(fstatat(dst, "a/b/c/f", &st, 0), 0);
	ck_assert(S_ISREG(st.st_mode));
}
END_TEST

START_TEST(test_replaces_existing)
{
	json_t *hdr = json_pack("{s:s, s:i, s:i}", "name", "f", "size", 3, "mode", 0600);
	__do_free char *path = xasprintf("%s/dst/f", root);
	__do_free char *content = NULL;

	make_file(dst, "f", 100, 0644, 1);
	ck_assert_int_eq(chan_send(&tx, MSG_DATA, "new", 3), 0);
	ck_assert_int_eq(chan_send(&tx, MSG_FILE_END, NULL, 0), 0);
	ck_assert_int_eq(chan_recv_file(&rx, dst, hdr, false), 3);
	content = read_file(path, NULL);
	ck_assert_str_eq(content, "new");
	json_decref(hdr);
}
END_TEST

/* ---- files: rejections ----------------------------------------------------- */

/* Feeds a header and the frames after it; the receive must fail, mention
 * `needle`, leave no temporary file and create nothing named `name`. */
static void reject(json_t *hdr, bool allow_subdirs, const char *needle)
{
	ck_assert_int_eq(chan_recv_file(&rx, dst, hdr, allow_subdirs), -1);
	assert_err(&rx, needle);
	assert_no_temp(dst);
	json_decref(hdr);
}

static void assert_outside_empty(void)
{
	DIR *d = opendir(outside);
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	ck_assert_msg(n == 0, "something was written outside the target directory");
}

START_TEST(test_reject_names)
{
	const char *bad[] = { "../evil", "../outside/evil", "/tmp/abs", "a/../../evil", "a\nb", "\x1b[2J",
			      "", ".", "..", "a//b", "trailing/" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		reject(json_pack("{s:s, s:i}", "name", bad[i], "size", 0), true, "unsafe name");
	/* a NUL inside the JSON string would cut the name in C */
	reject(json_pack("{s:s%, s:i}", "name", "ok\0/../../evil", (size_t)15, "size", 0), true, "unsafe name");
	reject(json_pack("{s:i, s:i}", "name", 7, "size", 0), true, "unsafe name");
	reject(json_pack("{s:i}", "size", 0), true, "unsafe name");
	/* a subdirectory in a flat sync */
	reject(json_pack("{s:s, s:i}", "name", "a/b", "size", 0), false, "unsafe name");
	assert_outside_empty();
	ck_assert_int_eq(faccessat(dst, "a", F_OK, AT_SYMLINK_NOFOLLOW), -1);
}
END_TEST

START_TEST(test_reject_headers)
{
	reject(json_pack("{s:s, s:i}", "name", "f", "size", -1), true, "negative size");
	reject(json_pack("{s:s, s:s}", "name", "f", "size", "10"), true, "'size' is not an integer");
	reject(json_pack("{s:s, s:i, s:s}", "name", "f", "size", 1, "mode", "0644"), true,
	       "'mode' is not an integer");
	reject(json_pack("{s:s, s:s}", "name", "f", "type", "blockdev"), true, "unknown type 'blockdev'");
	reject(json_pack("{s:s, s:I}", "name", "f", "uid", (json_int_t)1 << 32), true, "is no uid:gid");
	reject(json_pack("{s:s, s:i}", "name", "f", "gid", -2), true, "is no uid:gid");
	reject(json_pack("{s:s, s:s}", "name", "f", "uid", "0"), true, "'uid' is not an integer");
	reject(json_pack("{s:s, s:i}", "name", "f", "type", 3), true, "unknown type");
	reject(json_pack("{s:s, s:s}", "name", "l", "type", "symlink"), true, "(missing)");
	reject(json_array(), true, "not a JSON object");
	ck_assert_int_eq(faccessat(dst, "f", F_OK, AT_SYMLINK_NOFOLLOW), -1);
}
END_TEST

START_TEST(test_reject_size_mismatch)
{
	/* fewer bytes than announced */
	chan_send(&tx, MSG_DATA, "12345", 5);
	chan_send(&tx, MSG_FILE_END, NULL, 0);
	reject(json_pack("{s:s, s:i}", "name", "short", "size", 10), false, "announced 10 bytes but sent 5");
	/* more, in one frame */
	chan_send(&tx, MSG_DATA, "0123456789", 10);
	reject(json_pack("{s:s, s:i}", "name", "long", "size", 5), false, "more than the 5 bytes");
	close_pair();
	open_pair();
	/* more, over two frames */
	chan_send(&tx, MSG_DATA, "0123", 4);
	chan_send(&tx, MSG_DATA, "4567", 4);
	reject(json_pack("{s:s, s:i}", "name", "long2", "size", 6), false, "more than the 6 bytes");
	ck_assert_int_eq(faccessat(dst, "short", F_OK, 0), -1);
	ck_assert_int_eq(faccessat(dst, "long", F_OK, 0), -1);
	ck_assert_int_eq(faccessat(dst, "long2", F_OK, 0), -1);
}
END_TEST

START_TEST(test_reject_stream_trouble)
{
	/* a foreign message inside the file */
	chan_send(&tx, MSG_DATA, "12", 2);
	send_text(MSG_HELLO, "{}");
	reject(json_pack("{s:s, s:i}", "name", "f", "size", 4), false, "unexpected HELLO message inside");
	/* the sender gives up and says why */
	chan_send(&tx, MSG_DATA, "12", 2);
	send_text(MSG_ERROR, "{\"error\":\"src shrank while it was being sent\"}");
	reject(json_pack("{s:s, s:i}", "name", "f", "size", 4), false, "peer: src shrank");
	/* data where a directory entry should end */
	chan_send(&tx, MSG_DATA, "12", 2);
	reject(json_pack("{s:s, s:s}", "name", "d", "type", "dir"), true, "unexpected DATA");
	ck_assert_int_eq(faccessat(dst, "d", F_OK, 0), -1);
	/* the peer vanishes mid-file */
	chan_send(&tx, MSG_DATA, "12", 2);
	shutdown(fds[0], SHUT_WR);
	reject(json_pack("{s:s, s:i}", "name", "f", "size", 4), false, "closed");
	ck_assert_int_eq(faccessat(dst, "f", F_OK, 0), -1);
}
END_TEST

static void send_symlink_entry(const char *name, const char *target, bool allow_subdirs)
{
	json_t *hdr = json_pack("{s:s, s:s, s:s}", "name", name, "type", "symlink", "target", target);

	ck_assert_int_eq(chan_send(&tx, MSG_FILE_END, NULL, 0), 0);
	ck_assert_msg(chan_recv_file(&rx, dst, hdr, allow_subdirs) == 0, "%s -> %s: %s", name, target, rx.err);
	json_decref(hdr);
}

START_TEST(test_symlink_targets)
{
	/* tree mode: absolute targets are rootfs-normal; climbing out is not */
	send_symlink_entry("sh", "/bin/busybox", true);
	send_symlink_entry("up", "a/../b", true);
	ck_assert_int_eq(mkdirat(dst, "a", 0755), 0);
	send_symlink_entry("a/l", "../b", true);
	send_symlink_entry("a/m", "./../a/./x", true);
	reject(json_pack("{s:s, s:s, s:s}", "name", "l", "type", "symlink", "target", "../outside"), true,
	       "leaves the tree");
	reject(json_pack("{s:s, s:s, s:s}", "name", "a/l2", "type", "symlink", "target", "../../x"), true,
	       "leaves the tree");
	reject(json_pack("{s:s, s:s, s:s}", "name", "l3", "type", "symlink", "target", "a/../../x"), true,
	       "leaves the tree");
	reject(json_pack("{s:s, s:s, s:s}", "name", "l4", "type", "symlink", "target", "x\ny"), true,
	       "leaves the tree");
	reject(json_pack("{s:s, s:s, s:s}", "name", "l5", "type", "symlink", "target", ""), true,
	       "leaves the tree");
	/* flat mode (image directories): no absolute targets either */
	send_symlink_entry("rel", "pages-1.img", false);
	reject(json_pack("{s:s, s:s, s:s}", "name", "abs", "type", "symlink", "target", "/etc/passwd"), false,
	       "leaves the tree");
	reject(json_pack("{s:s, s:s, s:s}", "name", "parent", "type", "symlink", "target", "../1"), false,
	       "leaves the tree");
}
END_TEST

/* A symlink received earlier points outside; later entries try to use it. */
START_TEST(test_symlink_escape)
{
	send_symlink_entry("esc", outside, true);
	chan_send(&tx, MSG_DATA, "pwned", 5);
	chan_send(&tx, MSG_FILE_END, NULL, 0);
	reject(json_pack("{s:s, s:i}", "name", "esc/pwned", "size", 5), true, "goes through a symlink");
	close_pair();
	open_pair();
	reject(json_pack("{s:s, s:i}", "name", "esc/sub/pwned", "size", 5), true, "goes through a symlink");
	chan_send(&tx, MSG_FILE_END, NULL, 0);
	reject(json_pack("{s:s, s:s}", "name", "esc", "type", "dir"), true, "a symlink of that name exists");
	assert_outside_empty();
}
END_TEST

/* A file whose name is an existing symlink replaces the link; the link's
 * target is never written. */
START_TEST(test_file_over_symlink)
{
	__do_free char *victim = xasprintf("%s/victim", outside);
	__do_free char *content = NULL;
	json_t *hdr = json_pack("{s:s, s:i}", "name", "link", "size", 3);
	struct stat st;

	make_file(AT_FDCWD, victim, 8, 0644, 1);
	ck_assert_int_eq(symlinkat(victim, dst, "link"), 0);
	chan_send(&tx, MSG_DATA, "new", 3);
	chan_send(&tx, MSG_FILE_END, NULL, 0);
	ck_assert_int_eq(chan_recv_file(&rx, dst, hdr, false), 3);
	json_decref(hdr);
	ck_assert_int_eq(fstatat(dst, "link", &st, AT_SYMLINK_NOFOLLOW), 0);
	ck_assert(S_ISREG(st.st_mode));
	content = read_file(victim, NULL);
	ck_assert_int_eq(content[0], 0); /* make_file's pattern, untouched */
	ck_assert_int_eq(content[1], 7);
}
END_TEST

START_TEST(test_dir_over_file)
{
	make_file(dst, "f", 1, 0644, 1);
	chan_send(&tx, MSG_FILE_END, NULL, 0);
	reject(json_pack("{s:s, s:s}", "name", "f", "type", "dir"), true, "not a usable directory");
	/* a regular file where a parent directory should be */
	reject(json_pack("{s:s, s:i}", "name", "f/x", "size", 0), true, "cannot open directory f");
}
END_TEST

/* ---- device nodes ---------------------------------------------------------- */

START_TEST(test_chardev_policy)
{
	struct stat st;

	ck_assert(proto_chardev_ok(1, 3));   /* null */
	ck_assert(proto_chardev_ok(1, 9));   /* urandom */
	ck_assert(!proto_chardev_ok(1, 1));  /* mem */
	ck_assert(!proto_chardev_ok(1, 2));  /* kmem */
	ck_assert(!proto_chardev_ok(10, 237)); /* loop-control: a device, not a terminal */
	ck_assert(!proto_chardev_ok(4095, 1048575));
	/* a terminal the host has (tty is 5:0 everywhere) */
	if (stat("/sys/dev/char/5:0", &st) == 0)
		ck_assert(proto_chardev_ok(5, 0));
}
END_TEST

START_TEST(test_chardev_round_trip)
{
	static const char *const paths[] = { "null", NULL };
	__do_free char *src_path = xasprintf("%s/src", root);
	__do_close int src = -1;
	struct sender s = { .c = &tx, .paths = paths };
	struct stat st;
	pthread_t t;

	if (geteuid() != 0) {
		fprintf(stderr, "SKIP test_chardev_round_trip: mknod needs root\n");
		return;
	}
	ck_assert_int_eq(mkdir(src_path, 0755), 0);
	src = open(src_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_eq(mknodat(src, "null", S_IFCHR | 0640, makedev(1, 3)), 0);
	ck_assert_int_eq(fchmodat(src, "null", 0640, 0), 0);
	s.dirfd = src;
	pthread_create(&t, NULL, send_files, &s);
	ck_assert_int_eq(recv_one(true), 0);
	pthread_join(t, NULL);
	ck_assert_msg(s.ret == 0, "%s", s.err);
	ck_assert_int_eq(fstatat(dst, "null", &st, AT_SYMLINK_NOFOLLOW), 0);
	ck_assert(S_ISCHR(st.st_mode));
	ck_assert_uint_eq(st.st_rdev, makedev(1, 3));
	ck_assert_uint_eq(st.st_mode & 07777, 0640);
	assert_no_temp(dst);
}
END_TEST

START_TEST(test_chardev_refusals)
{
	/* /dev/mem from the peer, a node in a flat (image) directory, no rdev */
	reject(json_pack("{s:s, s:s, s:[i,i]}", "name", "mem", "type", "chardev", "rdev", 1, 1), true,
	       "refusing device node mem (1:1)");
	reject(json_pack("{s:s, s:s, s:[i,i]}", "name", "null", "type", "chardev", "rdev", 1, 3), false,
	       "not in a synced tree");
	reject(json_pack("{s:s, s:s}", "name", "n", "type", "chardev"), true, "without a valid rdev");
	reject(json_pack("{s:s, s:s, s:[i,i]}", "name", "n", "type", "chardev", "rdev", -1, 3), true,
	       "without a valid rdev");
	reject(json_pack("{s:s, s:s, s:[s,i]}", "name", "n", "type", "chardev", "rdev", "1", 3), true,
	       "without a valid rdev");
	ck_assert_int_eq(faccessat(dst, "mem", F_OK, AT_SYMLINK_NOFOLLOW), -1);
	ck_assert_int_eq(faccessat(dst, "null", F_OK, AT_SYMLINK_NOFOLLOW), -1);
	assert_outside_empty();
}
END_TEST

START_TEST(test_send_refusals)
{
	ck_assert_int_eq(chan_send_file(&tx, dst, "nothing", "nothing"), -1);
	assert_err(&tx, "No such file");
	{
		/* a socket node is none of the kinds a file transfer carries */
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		__do_close int sk = socket(AF_UNIX, SOCK_STREAM, 0);
		__do_free char *path = xasprintf("%s/dst/sock", root);

		ck_assert_uint_lt(strlen(path), sizeof(sa.sun_path));
		strcpy(sa.sun_path, path);
		ck_assert_int_eq(bind(sk, (struct sockaddr *)&sa, sizeof(sa)), 0);
	}
	ck_assert_int_eq(chan_send_file(&tx, dst, "sock", "sock"), -1);
	assert_err(&tx, "not a regular file, directory, symlink, FIFO or terminal node");
	if (geteuid() == 0) {
		/* a device node that is not mirrored (/dev/mem's numbers) */
		ck_assert_int_eq(mknodat(dst, "mem", S_IFCHR | 0600, makedev(1, 1)), 0);
		ck_assert_int_eq(chan_send_file(&tx, dst, "mem", "mem"), -1);
		assert_err(&tx, "terminal node");
	}
	make_file(dst, "f", 1, 0644, 1);
	ck_assert_int_eq(chan_send_file(&tx, dst, "f", "../f"), -1);
	assert_err(&tx, "unsafe name");
	ck_assert_int_eq(chan_send_file(&tx, dst, "f", "bad\xff" "utf8"), -1);
	assert_err(&tx, "UTF-8");
	ck_assert_uint_eq(tx.bytes_sent, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("proto");
	TCase *frames = tcase_create("frames");
	TCase *json = tcase_create("json");
	TCase *files = tcase_create("files");

	tcase_add_checked_fixture(frames, setup, teardown);
	tcase_add_test(frames, test_frame_round_trip);
	tcase_add_test(frames, test_max_frame_boundary);
	tcase_add_test(frames, test_bad_magic);
	tcase_add_test(frames, test_http_is_not_a_peer);
	tcase_add_test(frames, test_unknown_types);
	tcase_add_test(frames, test_flags_refused);
	tcase_add_test(frames, test_oversize_refused_before_reading);
	tcase_add_test(frames, test_truncated_payload);
	tcase_add_test(frames, test_truncated_header);
	tcase_add_test(frames, test_peer_gone);
	suite_add_tcase(s, frames);

	tcase_add_checked_fixture(json, setup, teardown);
	tcase_add_test(json, test_json_wrong_type);
	tcase_add_test(json, test_json_peer_error);
	tcase_add_test(json, test_json_malformed);
	tcase_add_test(json, test_json_send_refuses_non_objects);
	tcase_add_test(json, test_json_helpers);
	suite_add_tcase(s, json);

	tcase_add_checked_fixture(files, setup, teardown);
	tcase_set_timeout(files, 60);
	tcase_add_test(files, test_safe_relpath);
	tcase_add_test(files, test_open_beneath);
	tcase_add_test(files, test_open_beneath_without_openat2);
	tcase_add_test(files, test_tree_round_trip);
	tcase_add_test(files, test_parents_created_in_tree_mode);
	tcase_add_test(files, test_replaces_existing);
	tcase_add_test(files, test_reject_names);
	tcase_add_test(files, test_reject_headers);
	tcase_add_test(files, test_reject_size_mismatch);
	tcase_add_test(files, test_reject_stream_trouble);
	tcase_add_test(files, test_symlink_targets);
	tcase_add_test(files, test_symlink_escape);
	tcase_add_test(files, test_file_over_symlink);
	tcase_add_test(files, test_dir_over_file);
	tcase_add_test(files, test_chardev_policy);
	tcase_add_test(files, test_chardev_round_trip);
	tcase_add_test(files, test_chardev_refusals);
	tcase_add_test(files, test_send_refusals);
	suite_add_tcase(s, files);

	return unit_run(s) ? 1 : 0;
}
