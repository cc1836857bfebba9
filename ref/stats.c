/* criu's stats-dump / stats-restore images. criu writes them as a service
 * image: two magics, then one length-prefixed protobuf message, all in host
 * byte order (criu never converts). Nothing here trusts the length field or
 * the message: both are checked against what is actually there. */
#include "stats.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "stats.pb-c.h"
#include "util.h"

#define IMG_SERVICE_MAGIC 0x55105940u /* criu/include/magic.h */
#define STATS_MAGIC 0x57093306u
#define STATS_HDR_LEN 12u
/* A stats image is about a hundred bytes; anything far larger is not one. */
#define STATS_MAX_FILE (64u * 1024)

static uint32_t load_u32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* Checks the framing and decodes the message; NULL with err filled. */
static Crmig__StatsEntry *stats_unpack(const void *buf, size_t len, char *err, size_t errlen)
{
	const unsigned char *p = buf;
	Crmig__StatsEntry *entry;
	uint32_t magic, size;

	if (!buf || len < STATS_HDR_LEN) {
		snprintf(err, errlen, "truncated stats image: %zu bytes, the header alone needs %u",
			 buf ? len : 0, STATS_HDR_LEN);
		return NULL;
	}
	magic = load_u32(p);
	if (magic != IMG_SERVICE_MAGIC) {
		snprintf(err, errlen, "not a criu service image (magic 0x%08x, expected 0x%08x)",
			 magic, IMG_SERVICE_MAGIC);
		return NULL;
	}
	magic = load_u32(p + 4);
	if (magic != STATS_MAGIC) {
		snprintf(err, errlen, "not a criu stats image (magic 0x%08x, expected 0x%08x)",
			 magic, STATS_MAGIC);
		return NULL;
	}
	size = load_u32(p + 8);
	if (size > len - STATS_HDR_LEN) {
		snprintf(err, errlen, "stats entry claims %u bytes but only %zu follow",
			 size, len - STATS_HDR_LEN);
		return NULL;
	}
	if (size < len - STATS_HDR_LEN) {
		snprintf(err, errlen, "%zu unexpected bytes after the stats entry",
			 len - STATS_HDR_LEN - size);
		return NULL;
	}
	entry = crmig__stats_entry__unpack(NULL, size, p + STATS_HDR_LEN);
	if (!entry)
		snprintf(err, errlen, "stats entry does not decode (corrupt, or not a StatsEntry)");
	return entry;
}

static void copy_dump(const Crmig__DumpStatsEntry *d, struct dump_stats *out)
{
	*out = (struct dump_stats){
		.freezing_time = d->freezing_time,
		.frozen_time = d->frozen_time,
		.memdump_time = d->memdump_time,
		.memwrite_time = d->memwrite_time,
		.pages_scanned = d->pages_scanned,
		.pages_skipped_parent = d->pages_skipped_parent,
		.pages_written = d->pages_written,
		.pages_lazy = d->has_pages_lazy ? d->pages_lazy : 0,
	};
}

static void copy_restore(const Crmig__RestoreStatsEntry *r, struct restore_stats *out)
{
	*out = (struct restore_stats){
		.pages_compared = r->pages_compared,
		.pages_skipped_cow = r->pages_skipped_cow,
		.pages_restored = r->has_pages_restored ? r->pages_restored : 0,
		.forking_time = r->forking_time,
		.restore_time = r->restore_time,
	};
}

int stats_parse_dump(const void *buf, size_t len, struct dump_stats *out, char *err, size_t errlen)
{
	Crmig__StatsEntry *entry = stats_unpack(buf, len, err, errlen);
	int ret = -1;

	if (!entry)
		return -1;
	if (entry->dump) {
		copy_dump(entry->dump, out);
		ret = 0;
	} else {
		snprintf(err, errlen, "stats image has no dump section (a stats-restore file?)");
	}
	crmig__stats_entry__free_unpacked(entry, NULL);
	return ret;
}

int stats_parse_restore(const void *buf, size_t len, struct restore_stats *out, char *err, size_t errlen)
{
	Crmig__StatsEntry *entry = stats_unpack(buf, len, err, errlen);
	int ret = -1;

	if (!entry)
		return -1;
	if (entry->restore) {
		copy_restore(entry->restore, out);
		ret = 0;
	} else {
		snprintf(err, errlen, "stats image has no restore section (a stats-dump file?)");
	}
	crmig__stats_entry__free_unpacked(entry, NULL);
	return ret;
}

/* Reads at most STATS_MAX_FILE bytes; a longer file is refused rather than
 * read whole. Returns a malloc'ed buffer or NULL with err filled. */
static void *read_stats_file(const char *path, size_t *len, char *err, size_t errlen)
{
	__do_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	unsigned char *buf;
	size_t used = 0;
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s is not a regular file", path);
		return NULL;
	}
	buf = xmalloc(STATS_MAX_FILE + 1);
	for (;;) {
		ssize_t n = read(fd, buf + used, STATS_MAX_FILE + 1 - used);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
			free(buf);
			return NULL;
		}
		if (n == 0)
			break;
		used += n;
		if (used > STATS_MAX_FILE) {
			snprintf(err, errlen, "%s is larger than %u bytes: not a stats image",
				 path, STATS_MAX_FILE);
			free(buf);
			return NULL;
		}
	}
	*len = used;
	return buf;
}

/* Prefixes a parse error with the file it came from. */
static void blame_file(const char *path, char *err, size_t errlen)
{
	char why[256];

	snprintf(why, sizeof(why), "%s", err);
	snprintf(err, errlen, "%s: %s", path, why);
}

int stats_read_dump(const char *path, struct dump_stats *out, char *err, size_t errlen)
{
	__do_free void *buf = NULL;
	size_t len;

	buf = read_stats_file(path, &len, err, errlen);
	if (!buf)
		return -1;
	if (stats_parse_dump(buf, len, out, err, errlen) < 0) {
		blame_file(path, err, errlen);
		return -1;
	}
	return 0;
}

int stats_read_restore(const char *path, struct restore_stats *out, char *err, size_t errlen)
{
	__do_free void *buf = NULL;
	size_t len;

	buf = read_stats_file(path, &len, err, errlen);
	if (!buf)
		return -1;
	if (stats_parse_restore(buf, len, out, err, errlen) < 0) {
		blame_file(path, err, errlen);
		return -1;
	}
	return 0;
}
