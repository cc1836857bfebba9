/* seqstream: an intact stream passes however it is chunked; a dropped byte,
 * a duplicated range, a reordering, a lost tail, a missing or damaged end
 * marker and data after it are each detected at the first byte that differs
 * from the stream; the echo parsers reject garbage. */
#include <check.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../lib/seqstream.h"
#include "unit.h"

#define LEN 20000

static uint64_t rng = 88172645463325252ULL;

static size_t rnd(size_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (size_t)(rng % n);
}

/* A whole stream of len counter bytes, then (if marked) the end marker. */
static uint8_t *make_stream(size_t len, bool marked, size_t *total)
{
	struct seq_state tx;
	uint8_t *buf = malloc(len + 16);
	size_t pos = 0;

	seq_init(&tx);
	while (pos < len) {	/* in random pieces: fill is chunking-independent */
		size_t n = 1 + rnd(300);

		n = n > len - pos ? len - pos : n;
		seq_fill(buf + pos, n, &tx);
		pos += n;
	}
	if (marked) {
		seq_end(&tx);
		size_t rest = (size_t)seq_remaining(&tx);

		seq_fill(buf + pos, rest, &tx);
		pos += rest;
		ck_assert_uint_eq(seq_remaining(&tx), 0);
	}
	*total = pos;
	return buf;
}

/* Check buf in random-sized chunks; returns the error offset or -1. */
static long long check_chunked(const uint8_t *buf, size_t len, struct seq_state *rx)
{
	size_t pos = 0;
	uint64_t err = 0;

	seq_init(rx);
	while (pos < len) {
		size_t n = 1 + rnd(777);

		n = n > len - pos ? len - pos : n;
		if (seq_check(buf + pos, n, rx, &err) < 0)
			return (long long)err;
		pos += n;
	}
	return -1;
}

static size_t first_diff(const uint8_t *a, const uint8_t *b, size_t len)
{
	size_t i = 0;

	while (i < len && a[i] == b[i])
		i++;
	return i;
}

START_TEST(test_format)
{
	static const uint8_t want[] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2 };
	uint8_t got[sizeof(want)];
	struct seq_state tx;

	seq_init(&tx);
	seq_fill(got, sizeof(got), &tx);
	ck_assert_mem_eq(got, want, sizeof(want));
	ck_assert_uint_eq(tx.offset, sizeof(want));
	ck_assert_uint_eq(seq_remaining(&tx), SEQ_NO_END);
}
END_TEST

START_TEST(test_intact_chunked)
{
	for (int round = 0; round < 20; round++) {
		size_t total;
		uint8_t *s = make_stream(1 + rnd(LEN), true, &total);
		struct seq_state rx;

		ck_assert_int_eq(check_chunked(s, total, &rx), -1);
		ck_assert(rx.ended);
		ck_assert_uint_eq(rx.offset, total);
		ck_assert_int_eq(seq_check_eof(&rx, NULL), 0);
		free(s);
	}
}
END_TEST

/* seq_end() mid-word completes the word, then 8 marker bytes. */
START_TEST(test_end_marker_layout)
{
	uint8_t buf[32];
	struct seq_state tx;

	seq_init(&tx);
	seq_fill(buf, 11, &tx);
	seq_end(&tx);
	ck_assert_uint_eq(seq_remaining(&tx), 5 + 8);
	seq_fill(buf + 11, 13, &tx);
	/* word 1 ends at 16; marker = ~2 big-endian */
	ck_assert_uint_eq(buf[15], 1);
	ck_assert_uint_eq(buf[16], 0xff);
	ck_assert_uint_eq(buf[23], (uint8_t)~2);
	/* Ending at a word boundary adds only the marker. */
	seq_init(&tx);
	seq_fill(buf, 16, &tx);
	seq_end(&tx);
	ck_assert_uint_eq(seq_remaining(&tx), 8);
	/* Ending an empty stream: the marker alone is a valid stream. */
	seq_init(&tx);
	seq_end(&tx);
	seq_fill(buf, 8, &tx);
	{
		struct seq_state rx;

		seq_init(&rx);
		ck_assert_int_eq(seq_check(buf, 8, &rx, NULL), 0);
		ck_assert_int_eq(seq_check_eof(&rx, NULL), 0);
	}
}
END_TEST

/* The damaged stream d (dlen) against the original o: the checker reports
 * exactly the first differing byte, which is at most 15 bytes after the
 * damage (runs of equal bytes in the counters are at most 15 long: word 0
 * and the high zero bytes of word 1). */
static void expect_error_at(const uint8_t *o, size_t olen, const uint8_t *d, size_t dlen, size_t at)
{
	struct seq_state rx;
	size_t diff = first_diff(o, d, olen < dlen ? olen : dlen);
	long long err = check_chunked(d, dlen, &rx);

	ck_assert_msg(err >= 0, "damage at %zu not detected", at);
	ck_assert_msg((size_t)err == diff, "damage at %zu: reported %lld, first difference %zu", at, err, diff);
	ck_assert_msg((size_t)err >= at && (size_t)err < at + 16, "damage at %zu reported at %lld", at, err);
	ck_assert_int_eq(rx.error, SEQ_MISMATCH);
	ck_assert_uint_eq(rx.err_offset, (uint64_t)err);
	ck_assert_int_eq(seq_check_eof(&rx, NULL), -1);	/* sticky */
	ck_assert_int_eq(rx.error, SEQ_MISMATCH);
}

START_TEST(test_dropped_byte)
{
	size_t total;
	uint8_t *s = make_stream(LEN, true, &total), *d = malloc(total);

	for (int round = 0; round < 300; round++) {
		size_t at = rnd(total - 16);

		memcpy(d, s, at);
		memcpy(d + at, s + at + 1, total - at - 1);
		expect_error_at(s, total, d, total - 1, at);
	}
	free(s);
	free(d);
}
END_TEST

START_TEST(test_duplicated_range)
{
	size_t total;
	uint8_t *s = make_stream(LEN, true, &total), *d = malloc(total + 600);

	for (int round = 0; round < 300; round++) {
		size_t a = rnd(total - 600), len = 1 + rnd(500), b = a + len;

		/* [a, b) comes again right after itself: a retransmission replayed. */
		memcpy(d, s, b);
		memcpy(d + b, s + a, len);
		memcpy(d + b + len, s + b, total - b);
		expect_error_at(s, total, d, total + len, b);
	}
	free(s);
	free(d);
}
END_TEST

START_TEST(test_reordered)
{
	size_t total;
	uint8_t *s = make_stream(LEN, true, &total), *d = malloc(total);

	for (int round = 0; round < 300; round++) {
		size_t a = rnd(total - 1000), k = 1 + rnd(400);

		/* Two neighbouring segments swapped. */
		memcpy(d, s, total);
		memcpy(d + a, s + a + k, k);
		memcpy(d + a + k, s + a, k);
		if (memcmp(d, s, total) == 0)
			continue;	/* identical segments: nothing to see */
		expect_error_at(s, total, d, total, a);
	}
	free(s);
	free(d);
}
END_TEST

START_TEST(test_eof_without_marker)
{
	size_t total;
	uint8_t *s = make_stream(1000, false, &total);
	struct seq_state rx;
	uint64_t err = 0;
	char text[200];

	ck_assert_int_eq(check_chunked(s, total, &rx), -1);
	ck_assert_int_eq(seq_check_eof(&rx, &err), -1);
	ck_assert_int_eq(rx.error, SEQ_EOF_EARLY);
	ck_assert_uint_eq(err, 1000);
	ck_assert_str_eq(seq_strerror(&rx, text, sizeof(text)), "end of stream at byte 1000 without an end marker");
	free(s);
}
END_TEST

START_TEST(test_truncated_marker)
{
	size_t total;
	uint8_t *s = make_stream(1000, true, &total);
	struct seq_state rx;

	/* The marker cut after 3 of its bytes. */
	ck_assert_int_eq(check_chunked(s, total - 5, &rx), -1);
	ck_assert_int_eq(seq_check_eof(&rx, NULL), -1);
	ck_assert_int_eq(rx.error, SEQ_EOF_EARLY);
	ck_assert(rx.in_marker);
	free(s);
}
END_TEST

/* Words lost right before the marker: the marker names another word. A
 * sender may end at any word, so the first impossible byte is the marker's
 * last one (~123 and ~125 differ only there). */
START_TEST(test_lost_tail)
{
	size_t total;
	uint8_t *s = make_stream(1000, true, &total), *d = malloc(total);
	struct seq_state rx;

	memcpy(d, s, 984);
	memcpy(d + 984, s + 1000, 8);	/* words 123 and 124 lost */
	ck_assert_int_eq(check_chunked(d, 992, &rx), 991);
	ck_assert_int_eq(rx.error, SEQ_MISMATCH);
	free(s);
	free(d);
}
END_TEST

START_TEST(test_after_end)
{
	size_t total;
	uint8_t *s = make_stream(64, true, &total);
	struct seq_state rx;
	uint64_t err;
	char text[200];

	ck_assert_int_eq(check_chunked(s, total, &rx), -1);
	ck_assert_int_eq(seq_check(s, 1, &rx, &err), -1);
	ck_assert_int_eq(rx.error, SEQ_AFTER_END);
	ck_assert_uint_eq(err, total);
	ck_assert_str_eq(seq_strerror(&rx, text, sizeof(text)), "data after the end marker at stream byte 72");
	free(s);
}
END_TEST

START_TEST(test_damaged_byte)
{
	size_t total;
	uint8_t *s = make_stream(4096, true, &total);
	struct seq_state rx;
	char text[200];

	s[2051] ^= 0x10;
	ck_assert_int_eq(check_chunked(s, total, &rx), 2051);
	ck_assert_uint_eq(rx.got, s[2051]);
	ck_assert_uint_eq(rx.expected, s[2051] ^ 0x10);
	seq_strerror(&rx, text, sizeof(text));
	ck_assert_ptr_nonnull(strstr(text, "stream byte 2051 is 0x"));
	free(s);
}
END_TEST

/* seq_send/seq_recv through a socketpair with a tiny buffer: short sends. */
START_TEST(test_socket_helpers)
{
	struct seq_state tx, rx;
	int sv[2], small = 4096;
	bool eof = false;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	seq_init(&tx);
	seq_init(&rx);
	while (!eof) {
		ssize_t n;

		if (tx.offset >= 200000)
			seq_end(&tx);
		n = seq_send(sv[0], &tx, 1 + rnd(9000));
		ck_assert_int_ge(n, 0);
		if (seq_remaining(&tx) == 0)
			shutdown(sv[0], SHUT_WR);
		while ((n = seq_recv(sv[1], &rx)) > 0)
			;
		eof = n == 0;
		ck_assert_int_eq(rx.error, SEQ_OK);
	}
	ck_assert_int_eq(seq_check_eof(&rx, NULL), 0);
	ck_assert_uint_eq(rx.offset, tx.offset);
	ck_assert_uint_eq(seq_send(sv[0], &tx, 100), 0);	/* ended: nothing more */
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(test_echo_roundtrip)
{
	char buf[SEQ_ECHO_LINE_MAX + 1], token[SEQ_TOKEN_MAX + 1], id[SEQ_ECHO_ID_MAX + 1];
	int n;

	n = seq_echo_request(buf, sizeof(buf), "tok-1.A_b");
	ck_assert_int_eq(n, 15);
	ck_assert_str_eq(buf, "ECHO tok-1.A_b\n");
	ck_assert_int_eq(seq_echo_parse_request(buf, n, token), 0);
	ck_assert_str_eq(token, "tok-1.A_b");
	n = seq_echo_reply(buf, sizeof(buf), token, "case:tcp-1");
	ck_assert_str_eq(buf, "ECHO tok-1.A_b case:tcp-1\n");
	ck_assert_int_eq(seq_echo_parse_reply(buf, n, "tok-1.A_b", id), 0);
	ck_assert_str_eq(id, "case:tcp-1");
	ck_assert_int_eq(seq_echo_request(buf, sizeof(buf), "bad token"), -1);
	ck_assert_int_eq(seq_echo_request(buf, sizeof(buf), ""), -1);
	ck_assert_int_eq(seq_echo_reply(buf, sizeof(buf), "t", "bad id"), -1);
	ck_assert_int_eq(seq_echo_request(buf, 5, "tok"), -1);	/* no room */
}
END_TEST

START_TEST(test_echo_garbage)
{
	static const char *const requests[] = {
		"", "\n", "ECHO\n", "ECHO \n", "ECHO tok", "ECHO tok\n\n", "echo tok\n", "ECHO tok extra\n",
		"ECHO t/k\n", "ECHO tok\r\n", "ECHO tok \n", " ECHO tok\n", "ECHO  tok\n", "ECHOtok\n",
		"ECHO t:k\n", "GET / HTTP/1.0\r\n",
		"ECHO 12345678901234567890123456789012345678901234567890123456789012345\n",	/* 65 */
	};
	static const char *const replies[] = {
		"ECHO tok\n", "ECHO tok id", "ECHO tok id extra\n", "ECHO other id\n", "ECHO tok  id\n",
		"ECHO tok id\n\n", "ECHO tok i d\n", "ECHO tok \n", "ERR bad request\n", "ECHO tok id/x\n",
	};
	char token[SEQ_TOKEN_MAX + 1], id[SEQ_ECHO_ID_MAX + 1];
	const char nul[] = "ECHO t\0k\n";

	for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++)
		ck_assert_msg(seq_echo_parse_request(requests[i], strlen(requests[i]), token) < 0,
			      "request '%s' accepted", requests[i]);
	ck_assert_int_eq(seq_echo_parse_request(nul, sizeof(nul) - 1, token), -1);
	for (size_t i = 0; i < sizeof(replies) / sizeof(replies[0]); i++)
		ck_assert_msg(seq_echo_parse_reply(replies[i], strlen(replies[i]), "tok", id) < 0,
			      "reply '%s' accepted", replies[i]);
	/* 64 characters is the longest token. */
	ck_assert_int_eq(seq_echo_parse_request(
		"ECHO 1234567890123456789012345678901234567890123456789012345678901234\n", 70, token), 0);
	ck_assert(seq_valid_token("a"));
	ck_assert(!seq_valid_token("a b"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("wl_seqstream");
	TCase *tc = tcase_create("seqstream");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_format);
	tcase_add_test(tc, test_intact_chunked);
	tcase_add_test(tc, test_end_marker_layout);
	tcase_add_test(tc, test_dropped_byte);
	tcase_add_test(tc, test_duplicated_range);
	tcase_add_test(tc, test_reordered);
	tcase_add_test(tc, test_eof_without_marker);
	tcase_add_test(tc, test_truncated_marker);
	tcase_add_test(tc, test_lost_tail);
	tcase_add_test(tc, test_after_end);
	tcase_add_test(tc, test_damaged_byte);
	tcase_add_test(tc, test_socket_helpers);
	tcase_add_test(tc, test_echo_roundtrip);
	tcase_add_test(tc, test_echo_garbage);
	suite_add_tcase(s, tc);
	return unit_run(s) ? 1 : 0;
}
