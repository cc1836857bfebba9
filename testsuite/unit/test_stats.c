/* criu stats images: framing as criu writes it (service magic, stats magic,
 * u32 length, message), and every way a buffer or file can be wrong. */
#include <check.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stats.h"
#include "stats.pb-c.h"
#include "util.h"
#include "unit.h"

#define SERVICE_MAGIC 0x55105940u
#define STATS_MAGIC 0x57093306u

static char err[256];

/* Frames a packed StatsEntry exactly like criu's pb_write_one on an
 * O_SERVICE image. Returns a malloc'ed buffer. */
static unsigned char *frame_entry(const Crmig__StatsEntry *e, size_t *len)
{
	size_t size = crmig__stats_entry__get_packed_size(e);
	unsigned char *buf = xmalloc(12 + size);
	uint32_t hdr[3] = { SERVICE_MAGIC, STATS_MAGIC, (uint32_t)size };

	memcpy(buf, hdr, sizeof(hdr));
	crmig__stats_entry__pack(e, buf + 12);
	*len = 12 + size;
	return buf;
}

static unsigned char *frame_raw(const void *msg, size_t size, size_t *len)
{
	unsigned char *buf = xmalloc(12 + size);
	uint32_t hdr[3] = { SERVICE_MAGIC, STATS_MAGIC, (uint32_t)size };

	memcpy(buf, hdr, sizeof(hdr));
	memcpy(buf + 12, msg, size);
	*len = 12 + size;
	return buf;
}

static unsigned char *sample_dump(size_t *len, bool with_lazy)
{
	Crmig__StatsEntry e = CRMIG__STATS_ENTRY__INIT;
	Crmig__DumpStatsEntry d = CRMIG__DUMP_STATS_ENTRY__INIT;

	d.freezing_time = 1500;
	d.frozen_time = 250000;
	d.memdump_time = 120000;
	d.memwrite_time = 90000;
	d.pages_scanned = 51200;
	d.pages_skipped_parent = 40000;
	d.pages_written = 11200;
	d.has_pages_lazy = with_lazy;
	d.pages_lazy = 5000000000ull; /* beyond 32 bits on purpose */
	d.has_page_pipes = true;
	d.page_pipes = 3;
	e.dump = &d;
	return frame_entry(&e, len);
}

static unsigned char *sample_restore(size_t *len)
{
	Crmig__StatsEntry e = CRMIG__STATS_ENTRY__INIT;
	Crmig__RestoreStatsEntry r = CRMIG__RESTORE_STATS_ENTRY__INIT;

	r.pages_compared = 7;
	r.pages_skipped_cow = 8;
	r.forking_time = 3000;
	r.restore_time = 900000;
	r.has_pages_restored = true;
	r.pages_restored = 51200;
	e.restore = &r;
	return frame_entry(&e, len);
}

START_TEST(test_dump_round_trip)
{
	__do_free unsigned char *buf = NULL;
	struct dump_stats d;
	size_t len;

	buf = sample_dump(&len, true);
	ck_assert_int_eq(stats_parse_dump(buf, len, &d, err, sizeof(err)), 0);
	ck_assert_uint_eq(d.freezing_time, 1500);
	ck_assert_uint_eq(d.frozen_time, 250000);
	ck_assert_uint_eq(d.memdump_time, 120000);
	ck_assert_uint_eq(d.memwrite_time, 90000);
	ck_assert_uint_eq(d.pages_scanned, 51200);
	ck_assert_uint_eq(d.pages_skipped_parent, 40000);
	ck_assert_uint_eq(d.pages_written, 11200);
	ck_assert_uint_eq(d.pages_lazy, 5000000000ull);
}
END_TEST

START_TEST(test_dump_without_lazy)
{
	__do_free unsigned char *buf = NULL;
	struct dump_stats d;
	size_t len;

	buf = sample_dump(&len, false);
	memset(&d, 0xaa, sizeof(d));
	ck_assert_int_eq(stats_parse_dump(buf, len, &d, err, sizeof(err)), 0);
	ck_assert_uint_eq(d.pages_lazy, 0);
	ck_assert_uint_eq(d.pages_written, 11200);
}
END_TEST

START_TEST(test_restore_round_trip)
{
	__do_free unsigned char *buf = NULL;
	struct restore_stats r;
	size_t len;

	buf = sample_restore(&len);
	ck_assert_int_eq(stats_parse_restore(buf, len, &r, err, sizeof(err)), 0);
	ck_assert_uint_eq(r.pages_compared, 7);
	ck_assert_uint_eq(r.pages_skipped_cow, 8);
	ck_assert_uint_eq(r.forking_time, 3000);
	ck_assert_uint_eq(r.restore_time, 900000);
	ck_assert_uint_eq(r.pages_restored, 51200);
}
END_TEST

/* Bytes as criu's own encoder lays them out, built by hand from the field
 * numbers in criu's images/stats.proto: catches a wrong number in our
 * schema, which an encode/decode round trip through it could not. */
static size_t put_varint(unsigned char *p, uint64_t v)
{
	size_t n = 0;

	do {
		p[n++] = (v & 0x7f) | (v > 0x7f ? 0x80 : 0);
		v >>= 7;
	} while (v);
	return n;
}

static size_t put_fields(unsigned char *p, const uint64_t *values, const int *fields, size_t count)
{
	size_t n = 0;

	for (size_t i = 0; i < count; i++) {
		n += put_varint(p + n, (uint64_t)fields[i] << 3); /* wire type 0: varint */
		n += put_varint(p + n, values[i]);
	}
	return n;
}

START_TEST(test_wire_numbers)
{
	const int dump_fields[] = { 1, 2, 3, 4, 5, 6, 7, 9 };
	const uint64_t dump_values[] = { 11, 22, 33, 44, 55, 66, 77, 99 };
	const int restore_fields[] = { 1, 2, 3, 4, 5 };
	const uint64_t restore_values[] = { 101, 102, 103, 104, 105 };
	unsigned char inner[128], msg[160];
	struct restore_stats r;
	struct dump_stats d;
	size_t n, m = 0, len;
	unsigned char *buf;

	n = put_fields(inner, dump_values, dump_fields, 8);
	msg[m++] = 0x0a; /* StatsEntry.dump = 1, length-delimited */
	msg[m++] = (unsigned char)n;
	memcpy(msg + m, inner, n);
	m += n;
	n = put_fields(inner, restore_values, restore_fields, 5);
	msg[m++] = 0x12; /* StatsEntry.restore = 2 */
	msg[m++] = (unsigned char)n;
	memcpy(msg + m, inner, n);
	m += n;

	buf = frame_raw(msg, m, &len);
	ck_assert_int_eq(stats_parse_dump(buf, len, &d, err, sizeof(err)), 0);
	ck_assert_uint_eq(d.freezing_time, 11);
	ck_assert_uint_eq(d.frozen_time, 22);
	ck_assert_uint_eq(d.memdump_time, 33);
	ck_assert_uint_eq(d.memwrite_time, 44);
	ck_assert_uint_eq(d.pages_scanned, 55);
	ck_assert_uint_eq(d.pages_skipped_parent, 66);
	ck_assert_uint_eq(d.pages_written, 77);
	ck_assert_uint_eq(d.pages_lazy, 99);
	ck_assert_int_eq(stats_parse_restore(buf, len, &r, err, sizeof(err)), 0);
	ck_assert_uint_eq(r.pages_compared, 101);
	ck_assert_uint_eq(r.pages_skipped_cow, 102);
	ck_assert_uint_eq(r.forking_time, 103);
	ck_assert_uint_eq(r.restore_time, 104);
	ck_assert_uint_eq(r.pages_restored, 105);
	free(buf);
}
END_TEST

START_TEST(test_missing_sections)
{
	__do_free unsigned char *dump = NULL, *restore = NULL, *empty = NULL;
	struct restore_stats r;
	struct dump_stats d;
	size_t dlen, rlen, elen;

	dump = sample_dump(&dlen, true);
	restore = sample_restore(&rlen);
	empty = frame_raw("", 0, &elen);
	ck_assert_int_eq(stats_parse_restore(dump, dlen, &r, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "no restore section"));
	ck_assert_int_eq(stats_parse_dump(restore, rlen, &d, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "no dump section"));
	ck_assert_int_eq(stats_parse_dump(empty, elen, &d, err, sizeof(err)), -1);
	ck_assert_int_eq(stats_parse_restore(empty, elen, &r, err, sizeof(err)), -1);
}
END_TEST

START_TEST(test_truncated)
{
	__do_free unsigned char *buf = NULL;
	struct dump_stats d;
	size_t len;

	buf = sample_dump(&len, true);
	/* Every strict prefix is refused; copying it to an exact-size heap
	 * buffer lets valgrind catch any read past the end. */
	for (size_t cut = 0; cut < len; cut++) {
		unsigned char *part = xmalloc(cut);

		memcpy(part, buf, cut);
		ck_assert_msg(stats_parse_dump(part, cut, &d, err, sizeof(err)) == -1,
			      "prefix of %zu bytes accepted", cut);
		free(part);
	}
	ck_assert_int_eq(stats_parse_dump(buf, 5, &d, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "truncated"));
	ck_assert_int_eq(stats_parse_dump(NULL, 100, &d, err, sizeof(err)), -1);
}
END_TEST

START_TEST(test_length_beyond_buffer)
{
	__do_free unsigned char *buf = NULL;
	struct dump_stats d;
	uint32_t huge = 0xffffffffu, one_more;
	size_t len;

	buf = sample_dump(&len, true);
	memcpy(buf + 8, &huge, 4);
	ck_assert_int_eq(stats_parse_dump(buf, len, &d, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "claims"));
	one_more = (uint32_t)(len - 12 + 1);
	memcpy(buf + 8, &one_more, 4);
	ck_assert_int_eq(stats_parse_dump(buf, len, &d, err, sizeof(err)), -1);
}
END_TEST

START_TEST(test_trailing_bytes)
{
	__do_free unsigned char *buf = NULL, *longer = NULL;
	struct dump_stats d;
	size_t len;

	buf = sample_dump(&len, true);
	longer = xzalloc(len + 4);
	memcpy(longer, buf, len);
	ck_assert_int_eq(stats_parse_dump(longer, len + 4, &d, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "unexpected bytes"));
}
END_TEST

START_TEST(test_wrong_magics)
{
	__do_free unsigned char *buf = NULL;
	const uint32_t common = 0x54564319u; /* IMG_COMMON_MAGIC: not a service image */
	const uint32_t inventory = 0x58313116u;
	struct dump_stats d;
	size_t len;

	buf = sample_dump(&len, true);
	memcpy(buf, &common, 4);
	ck_assert_int_eq(stats_parse_dump(buf, len, &d, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "not a criu service image"));
	memcpy(buf, &(uint32_t){ SERVICE_MAGIC }, 4);
	memcpy(buf + 4, &inventory, 4);
	ck_assert_int_eq(stats_parse_dump(buf, len, &d, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "not a criu stats image"));
}
END_TEST

START_TEST(test_garbage)
{
	/* tag 0x0a (field 1, bytes) announcing 0x7f bytes that are not there */
	const unsigned char overrun[] = { 0x0a, 0x7f, 0x08, 0x01 };
	/* dump section with only freezing_time: required fields missing */
	const unsigned char incomplete[] = { 0x0a, 0x02, 0x08, 0x01 };
	unsigned char noise[64];
	struct dump_stats d;
	const struct { const void *msg; size_t len; } cases[] = {
		{ overrun, sizeof(overrun) },
		{ incomplete, sizeof(incomplete) },
		{ noise, sizeof(noise) },
	};

	memset(noise, 0xff, sizeof(noise)); /* an endless varint */
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len;
		unsigned char *buf = frame_raw(cases[i].msg, cases[i].len, &len);

		ck_assert_msg(stats_parse_dump(buf, len, &d, err, sizeof(err)) == -1, "case %zu", i);
		ck_assert_ptr_nonnull(strstr(err, "does not decode"));
		free(buf);
	}
}
END_TEST

static char tmpdir[] = "/tmp/crmig-test-stats-XXXXXX";

static void setup_dir(void)
{
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown_dir(void)
{
	remove_tree(tmpdir);
	strcpy(tmpdir, "/tmp/crmig-test-stats-XXXXXX");
}

START_TEST(test_files)
{
	__do_free char *dump_path = xasprintf("%s/stats-dump", tmpdir);
	__do_free char *restore_path = xasprintf("%s/stats-restore", tmpdir);
	__do_free char *big_path = xasprintf("%s/big", tmpdir);
	__do_free char *missing = xasprintf("%s/nothing-here", tmpdir);
	__do_free unsigned char *dump = NULL, *restore = NULL, *big = NULL;
	struct restore_stats r;
	struct dump_stats d;
	size_t dlen, rlen;

	dump = sample_dump(&dlen, true);
	restore = sample_restore(&rlen);
	ck_assert_int_eq(write_file(dump_path, dump, dlen, 0644), 0);
	ck_assert_int_eq(write_file(restore_path, restore, rlen, 0644), 0);

	ck_assert_int_eq(stats_read_dump(dump_path, &d, err, sizeof(err)), 0);
	ck_assert_uint_eq(d.pages_written, 11200);
	ck_assert_int_eq(stats_read_restore(restore_path, &r, err, sizeof(err)), 0);
	ck_assert_uint_eq(r.restore_time, 900000);

	ck_assert_int_eq(stats_read_restore(dump_path, &r, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, dump_path));
	ck_assert_int_eq(stats_read_dump(missing, &d, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "No such file"));
	ck_assert_int_eq(stats_read_dump(tmpdir, &d, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "not a regular file"));

	big = xzalloc(1 << 20);
	ck_assert_int_eq(write_file(big_path, big, 1 << 20, 0644), 0);
	ck_assert_int_eq(stats_read_dump(big_path, &d, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "larger than"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("stats");
	TCase *tc = tcase_create("parse");
	TCase *files = tcase_create("files");

	tcase_add_test(tc, test_dump_round_trip);
	tcase_add_test(tc, test_dump_without_lazy);
	tcase_add_test(tc, test_restore_round_trip);
	tcase_add_test(tc, test_wire_numbers);
	tcase_add_test(tc, test_missing_sections);
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_length_beyond_buffer);
	tcase_add_test(tc, test_trailing_bytes);
	tcase_add_test(tc, test_wrong_magics);
	tcase_add_test(tc, test_garbage);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(files, setup_dir, teardown_dir);
	tcase_add_test(files, test_files);
	suite_add_tcase(s, files);
	return unit_run(s) ? 1 : 0;
}
