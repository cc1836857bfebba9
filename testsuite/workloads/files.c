/* files: file descriptors of many kinds with state criu must carry over,
 * each checked after the migration signal.
 *
 *	files --dir DIR [common options]
 *
 *   offsets	one file opened twice (two offsets) plus a dup sharing the first
 *		offset, another read-only with its own offset, one close-on-exec
 *   append	O_APPEND log, one 16-byte record per tick until the signal
 *   deleted	unlinked but open, with content
 *   locked	flock(LOCK_EX) held: a second open file description must get
 *		EWOULDBLOCK
 *   mapped	MAP_SHARED mapping of a file, written through the mapping
 *   fifo	named FIFO in DIR with data in it
 *   pipe	pipe with data in flight
 *   socketpair	unix datagrams queued both ways, each its own length
 * Everything lives in DIR (the destination must see DIR's files as the
 * source left them). --corrupt moves one file offset by one byte. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/wl.h"
#include "util.h"

#define FILE_SIZE (64 * 1024)
#define DELETED_SIZE (20 * 1024)
#define MAPPED_SIZE (4 * 4096)
#define FIFO_BYTES 3000
#define PIPE_BYTES 5000
#define N_DGRAMS 8
#define RECORD_SIZE 16
#define TICK_MS 20

struct offset_fd {
	const char *what;
	int fd;
	off_t offset;
	int accmode;
	bool cloexec;
};

static struct offset_fd offs[4];
static int append_fd = -1, deleted_fd = -1, lock_fd = -1, fifo_rd = -1, fifo_wr = -1;
static int pipe_fds[2] = { -1, -1 }, sock_fds[2] = { -1, -1 };
static uint8_t *mapped;
static uint64_t records;

/* Content of file "name" at offset i: distinct per file and position. */
static uint8_t pattern_byte(unsigned seed, uint64_t i)
{
	uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ULL ^ seed * 0xbf58476d1ce4e5b9ULL;

	return (uint8_t)(x >> 56 ^ x >> 29);
}

static void fill(uint8_t *buf, size_t len, unsigned seed, uint64_t start)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = pattern_byte(seed, start + i);
}

/* Index of the first byte that is not the pattern, or len. */
static size_t mismatch(const uint8_t *buf, size_t len, unsigned seed, uint64_t start)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i] != pattern_byte(seed, start + i))
			return i;
	return len;
}

static char *path_of(const char *name)
{
	return xasprintf("%s/%s", wl.dir, name);
}

static int open_in_dir(const char *name, int flags)
{
	__do_free char *path = path_of(name);
	int fd = open(path, flags | O_CLOEXEC, 0644);

	if (fd < 0)
		wl_fail("open %s: %s", path, strerror(errno));
	return fd;
}

static void write_pattern_file(const char *name, size_t len, unsigned seed)
{
	__do_free uint8_t *buf = xmalloc(len);
	__do_close int fd = open_in_dir(name, O_WRONLY | O_CREAT | O_TRUNC);

	fill(buf, len, seed, 0);
	if (write_full(fd, buf, len) < 0)
		wl_fail("write %s: %s", name, strerror(errno));
}

/* ---------------------------------------------------------------- setup */

static void open_offset_fd(struct offset_fd *o, const char *what, int fd, off_t offset, bool cloexec)
{
	if (lseek(fd, offset, SEEK_SET) != offset)
		wl_fail("lseek %s: %s", what, strerror(errno));
	if (!cloexec)
		fcntl(fd, F_SETFD, 0);
	*o = (struct offset_fd){ what, fd, offset, fcntl(fd, F_GETFL) & O_ACCMODE, cloexec };
}

static void setup_offsets(void)
{
	write_pattern_file("offsets", FILE_SIZE, 1);
	write_pattern_file("offsets-ro", FILE_SIZE, 2);
	open_offset_fd(&offs[0], "offsets (first open)", open_in_dir("offsets", O_RDWR), 100, false);
	open_offset_fd(&offs[1], "offsets (second open)", open_in_dir("offsets", O_RDWR), 40000, true);
	/* A dup shares the open file description, so its offset too. */
	offs[2] = offs[0];
	offs[2].what = "offsets (dup of the first)";
	offs[2].fd = dup(offs[0].fd);
	open_offset_fd(&offs[3], "offsets-ro", open_in_dir("offsets-ro", O_RDONLY), 12345, false);
}

static void setup_deleted(void)
{
	__do_free char *path = path_of("deleted");

	write_pattern_file("deleted", DELETED_SIZE, 3);
	deleted_fd = open_in_dir("deleted", O_RDWR);
	if (lseek(deleted_fd, 777, SEEK_SET) != 777 || unlink(path) < 0)
		wl_fail("deleted file: %s", strerror(errno));
}

static void setup_lock(void)
{
	lock_fd = open_in_dir("locked", O_RDWR | O_CREAT | O_TRUNC);
	if (flock(lock_fd, LOCK_EX | LOCK_NB) < 0)
		wl_fail("flock %s/locked: %s", wl.dir, strerror(errno));
}

static void setup_mapping(void)
{
	__do_close int fd = open_in_dir("mapped", O_RDWR | O_CREAT | O_TRUNC);

	if (ftruncate(fd, MAPPED_SIZE) < 0)
		wl_fail("ftruncate mapped: %s", strerror(errno));
	mapped = mmap(NULL, MAPPED_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mapped == MAP_FAILED)
		wl_fail("mmap mapped: %s", strerror(errno));
	/* Written through the mapping only: the file sees it via the page cache. */
	fill(mapped, MAPPED_SIZE, 4, 0);
}

static void put_data(int fd, const char *what, size_t len, unsigned seed)
{
	__do_free uint8_t *buf = xmalloc(len);

	fill(buf, len, seed, 0);
	if (write_full(fd, buf, len) < 0)
		wl_fail("write into %s: %s", what, strerror(errno));
}

static void setup_fifo(void)
{
	__do_free char *path = path_of("fifo");

	unlink(path);
	if (mkfifo(path, 0644) < 0)
		wl_fail("mkfifo %s: %s", path, strerror(errno));
	/* The read end first (non-blocking), so opening the write end does not block. */
	fifo_rd = open_in_dir("fifo", O_RDONLY | O_NONBLOCK);
	fifo_wr = open_in_dir("fifo", O_WRONLY);
	put_data(fifo_wr, "the fifo", FIFO_BYTES, 5);
}

static size_t dgram_len(int dir, int i)
{
	return 1 + (size_t)i * 97 + (size_t)dir * 13;
}

static void setup_pipe_and_socket(void)
{
	if (pipe2(pipe_fds, O_CLOEXEC) < 0 || socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sock_fds) < 0)
		wl_fail("pipe/socketpair: %s", strerror(errno));
	put_data(pipe_fds[1], "the pipe", PIPE_BYTES, 6);
	for (int dir = 0; dir < 2; dir++) {
		for (int i = 0; i < N_DGRAMS; i++) {
			uint8_t buf[1024];
			size_t len = dgram_len(dir, i);

			fill(buf, len, 100 + dir * N_DGRAMS + i, 0);
			if (send(sock_fds[dir], buf, len, 0) != (ssize_t)len)
				wl_fail("socketpair send: %s", strerror(errno));
		}
	}
}

/* ---------------------------------------------------------------- the moving part */

static void append_record(void)
{
	char rec[32];

	/* 11 digits: 16 bytes a record for the next 3000 years at 50 a second. */
	snprintf(rec, sizeof(rec), "rec %011" PRIu64 "\n", records);
	if (write_full(append_fd, rec, RECORD_SIZE) < 0)
		wl_fail("append: %s", strerror(errno));
	records++;
	atomic_store(&wl_counter, records);
}

/* ---------------------------------------------------------------- checks */

static void check_offsets(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(offs); i++) {
		struct offset_fd *o = &offs[i];
		off_t now = lseek(o->fd, 0, SEEK_CUR);
		int fdflags = fcntl(o->fd, F_GETFD);

		if (now != o->offset)
			wl_problem("%s: offset %lld, expected %lld", o->what, (long long)now, (long long)o->offset);
		if ((fcntl(o->fd, F_GETFL) & O_ACCMODE) != o->accmode)
			wl_problem("%s: access mode changed", o->what);
		if (fdflags < 0 || !!(fdflags & FD_CLOEXEC) != o->cloexec)
			wl_problem("%s: close-on-exec flag changed", o->what);
	}
	/* The content at the offsets is still the file's (reads move offsets:
	 * checked above already). */
	for (size_t i = 1; i < ARRAY_SIZE(offs); i++) {
		uint8_t buf[64];
		unsigned seed = i == 3 ? 2 : 1;

		if (read_full(offs[i].fd, buf, sizeof(buf)) < 0 ||
		    mismatch(buf, sizeof(buf), seed, offs[i].offset) != sizeof(buf))
			wl_problem("%s: wrong content at offset %lld", offs[i].what, (long long)offs[i].offset);
	}
}

static void check_append(void)
{
	__do_free char *path = path_of("append.log");
	__do_free char *text = read_file(path, NULL);
	struct stat st;
	char want[32];
	uint64_t before = records;

	if (!text || fstat(append_fd, &st) < 0) {
		wl_problem("append.log: %s", strerror(errno));
		return;
	}
	if ((uint64_t)st.st_size != records * RECORD_SIZE)
		wl_problem("append.log: %lld bytes, expected %" PRIu64 " records of %d", (long long)st.st_size, records,
			RECORD_SIZE);
	for (uint64_t r = 0; r < records && (r + 1) * RECORD_SIZE <= (uint64_t)st.st_size; r++) {
		snprintf(want, sizeof(want), "rec %011" PRIu64 "\n", r);
		if (memcmp(text + r * RECORD_SIZE, want, RECORD_SIZE) != 0) {
			wl_problem("append.log: record %" PRIu64 " damaged", r);
			break;
		}
	}
	if (!(fcntl(append_fd, F_GETFL) & O_APPEND))
		wl_problem("append.log: O_APPEND lost");
	/* One more record must land at the end, wherever the offset was. */
	append_record();
	if (fstat(append_fd, &st) < 0 || (uint64_t)st.st_size != (before + 1) * RECORD_SIZE ||
	    lseek(append_fd, 0, SEEK_CUR) != st.st_size)
		wl_problem("append.log: a record appended after the migration did not land at the end");
}

static void check_deleted(void)
{
	__do_free uint8_t *buf = xmalloc(DELETED_SIZE);
	struct stat st;
	size_t bad;

	if (fstat(deleted_fd, &st) < 0) {
		wl_problem("deleted file: fstat: %s", strerror(errno));
		return;
	}
	if (st.st_nlink != 0)
		wl_problem("deleted file: has %lu links again", (unsigned long)st.st_nlink);
	if (st.st_size != DELETED_SIZE)
		wl_problem("deleted file: %lld bytes, expected %d", (long long)st.st_size, DELETED_SIZE);
	if (lseek(deleted_fd, 0, SEEK_CUR) != 777)
		wl_problem("deleted file: offset %lld, expected 777", (long long)lseek(deleted_fd, 0, SEEK_CUR));
	if (pread(deleted_fd, buf, DELETED_SIZE, 0) != DELETED_SIZE)
		wl_problem("deleted file: short read");
	else if ((bad = mismatch(buf, DELETED_SIZE, 3, 0)) != DELETED_SIZE)
		wl_problem("deleted file: content differs at byte %zu", bad);
}

static void check_lock(void)
{
	__do_close int other = open_in_dir("locked", O_RDWR);

	/* A second open file description conflicts with the lock we hold. */
	if (flock(other, LOCK_EX | LOCK_NB) == 0)
		wl_problem("locked: the flock is no longer held (a second LOCK_EX succeeded)");
	else if (errno != EWOULDBLOCK)
		wl_problem("locked: flock probe failed: %s", strerror(errno));
}

static void check_mapping(void)
{
	__do_free uint8_t *buf = xmalloc(MAPPED_SIZE);
	__do_close int fd = open_in_dir("mapped", O_RDONLY);
	size_t bad;

	if ((bad = mismatch(mapped, MAPPED_SIZE, 4, 0)) != MAPPED_SIZE)
		wl_problem("mapped: mapping content differs at byte %zu", bad);
	if (pread(fd, buf, MAPPED_SIZE, 0) != MAPPED_SIZE)
		wl_problem("mapped: short read of the file");
	else if (memcmp(buf, mapped, MAPPED_SIZE) != 0)
		wl_problem("mapped: the file and its shared mapping disagree");
}

/* Read exactly len bytes that are already there, then nothing more. */
static void check_stream(int fd, const char *what, size_t len, unsigned seed)
{
	__do_free uint8_t *buf = xmalloc(len + 1);
	size_t got = 0, bad;
	ssize_t n;

	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	while (got <= len && (n = read(fd, buf + got, len + 1 - got)) > 0)
		got += n;
	if (got != len)
		wl_problem("%s: %zu bytes queued, expected %zu", what, got, len);
	else if ((bad = mismatch(buf, len, seed, 0)) != len)
		wl_problem("%s: data differs at byte %zu", what, bad);
}

static void check_socketpair(void)
{
	for (int dir = 0; dir < 2; dir++) {
		int rd = sock_fds[1 - dir];

		for (int i = 0; i < N_DGRAMS; i++) {
			uint8_t buf[1024];
			size_t len = dgram_len(dir, i);
			ssize_t n = recv(rd, buf, sizeof(buf), MSG_DONTWAIT);

			if (n != (ssize_t)len || mismatch(buf, len, 100 + dir * N_DGRAMS + i, 0) != len) {
				wl_problem("socketpair: direction %d message %d: %zd bytes, expected %zu%s", dir, i, n, len,
					n == (ssize_t)len ? " (content differs)" : "");
				break;
			}
		}
		if (recv(rd, (uint8_t[1]){ 0 }, 1, MSG_DONTWAIT) >= 0)
			wl_problem("socketpair: direction %d has extra messages", dir);
	}
}

int main(int argc, char **argv)
{
	wl_init(argc, argv, NULL);
	setup_offsets();
	append_fd = open_in_dir("append.log", O_WRONLY | O_CREAT | O_TRUNC | O_APPEND);
	setup_deleted();
	setup_lock();
	setup_mapping();
	setup_fifo();
	setup_pipe_and_socket();
	append_record();
	wl_ready();

	while (!wl_migrated()) {
		append_record();
		wl_sleep_ms(TICK_MS);
	}
	wl_log("migration signal received after %" PRIu64 " records", records);
	if (wl.corrupt) {
		lseek(offs[1].fd, 1, SEEK_CUR);
		wl_log("--corrupt: moved the offset of '%s' by one byte", offs[1].what);
	}
	check_offsets();
	check_append();
	check_deleted();
	check_lock();
	check_mapping();
	check_stream(fifo_rd, "fifo", FIFO_BYTES, 5);
	check_stream(pipe_fds[0], "pipe", PIPE_BYTES, 6);
	check_socketpair();
	wl_note("records", "%" PRIu64, records);
	wl_fail_on_problems();
	wl_pass();
}
