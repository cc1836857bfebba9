#include "seqstream.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#define CHUNK 65536

void seq_init(struct seq_state *st)
{
	memset(st, 0, sizeof(*st));
	st->end_word = SEQ_NO_END;
}

/* Byte k (0 = most significant) of the big-endian word. */
static uint8_t be_byte(uint64_t word, unsigned k)
{
	return (uint8_t)(word >> (56 - 8 * k));
}

static uint8_t stream_byte(uint64_t off, uint64_t end_word)
{
	uint64_t word = off / 8;

	if (word >= end_word)
		return be_byte(~end_word, off % 8);
	return be_byte(word, off % 8);
}

void seq_peek(uint8_t *buf, size_t len, const struct seq_state *st)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = stream_byte(st->offset + i, st->end_word);
}

void seq_fill(uint8_t *buf, size_t len, struct seq_state *st)
{
	seq_peek(buf, len, st);
	st->offset += len;
}

void seq_end(struct seq_state *st)
{
	if (st->end_word == SEQ_NO_END)
		st->end_word = (st->offset + 7) / 8;	/* after the current word */
}

uint64_t seq_remaining(const struct seq_state *st)
{
	if (st->end_word == SEQ_NO_END)
		return SEQ_NO_END;
	return st->end_word * 8 + 8 - st->offset;
}

static int set_error(struct seq_state *st, enum seq_error e, uint8_t expected, uint8_t got, uint64_t *err_offset)
{
	st->error = e;
	st->err_offset = st->offset;
	st->expected = expected;
	st->got = got;
	if (err_offset)
		*err_offset = st->err_offset;
	return -1;
}

/* One received byte against the stream; 0 or -1. */
static int check_byte(struct seq_state *st, uint8_t b, uint64_t *err_offset)
{
	uint64_t word = st->offset / 8;
	unsigned k = st->offset % 8;
	uint8_t want;

	if (st->ended)
		return set_error(st, SEQ_AFTER_END, 0, b, err_offset);
	/* A word's first byte says whether it is a counter or the marker. */
	if (k == 0)
		st->in_marker = b != be_byte(word, 0) && b == be_byte(~word, 0);
	want = st->in_marker ? be_byte(~word, k) : be_byte(word, k);
	if (b != want)
		return set_error(st, SEQ_MISMATCH, want, b, err_offset);
	st->offset++;
	if (st->in_marker && k == 7)
		st->ended = true;
	return 0;
}

int seq_check(const uint8_t *buf, size_t len, struct seq_state *st, uint64_t *err_offset)
{
	if (st->error) {
		if (err_offset)
			*err_offset = st->err_offset;
		return -1;
	}
	for (size_t i = 0; i < len; i++)
		if (check_byte(st, buf[i], err_offset) < 0)
			return -1;
	return 0;
}

int seq_check_eof(struct seq_state *st, uint64_t *err_offset)
{
	if (st->error) {
		if (err_offset)
			*err_offset = st->err_offset;
		return -1;
	}
	if (!st->ended)
		return set_error(st, SEQ_EOF_EARLY, 0, 0, err_offset);
	return 0;
}

const char *seq_strerror(const struct seq_state *st, char *buf, size_t len)
{
	switch (st->error) {
	case SEQ_OK:
		snprintf(buf, len, "stream intact (%" PRIu64 " bytes%s)", st->offset, st->ended ? ", ended" : "");
		break;
	case SEQ_MISMATCH:
		snprintf(buf, len, "stream byte %" PRIu64 " is 0x%02x, expected 0x%02x (data lost, duplicated, "
			 "reordered or damaged)", st->err_offset, st->got, st->expected);
		break;
	case SEQ_AFTER_END:
		snprintf(buf, len, "data after the end marker at stream byte %" PRIu64, st->err_offset);
		break;
	case SEQ_EOF_EARLY:
		snprintf(buf, len, "end of stream at byte %" PRIu64 " without %s end marker", st->err_offset,
			 st->in_marker ? "a complete" : "an");
		break;
	}
	return buf;
}

ssize_t seq_send(int fd, struct seq_state *tx, size_t max)
{
	uint8_t buf[CHUNK];
	uint64_t left = seq_remaining(tx);
	size_t n = max < sizeof(buf) ? max : sizeof(buf);
	ssize_t sent;

	if (left < n)
		n = (size_t)left;
	if (n == 0)
		return 0;
	seq_peek(buf, n, tx);
	sent = send(fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (sent < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
	tx->offset += sent;
	return sent;
}

ssize_t seq_recv(int fd, struct seq_state *rx)
{
	uint8_t buf[CHUNK];
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

	if (n > 0)
		seq_check(buf, n, rx, NULL);
	return n;
}

/* ---------------------------------------------------------------- echo */

static bool token_char(char c, bool id)
{
	return isalnum((unsigned char)c) || c == '.' || c == '_' || c == '-' || (id && c == ':');
}

/* The length of the run of token (or id) characters at s, up to max+1. */
static size_t token_len(const char *s, const char *end, bool id, size_t max)
{
	size_t n = 0;

	while (s + n < end && n <= max && token_char(s[n], id))
		n++;
	return n;
}

bool seq_valid_token(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= SEQ_TOKEN_MAX && token_len(s, s + n, false, SEQ_TOKEN_MAX) == n;
}

int seq_echo_request(char *buf, size_t len, const char *token)
{
	int n;

	if (!seq_valid_token(token))
		return -1;
	n = snprintf(buf, len, "ECHO %s\n", token);
	return n > 0 && (size_t)n < len ? n : -1;
}

int seq_echo_reply(char *buf, size_t len, const char *token, const char *id)
{
	size_t idn = strlen(id);
	int n;

	if (!seq_valid_token(token) || idn == 0 || idn > SEQ_ECHO_ID_MAX ||
	    token_len(id, id + idn, true, SEQ_ECHO_ID_MAX) != idn)
		return -1;
	n = snprintf(buf, len, "ECHO %s %s\n", token, id);
	return n > 0 && (size_t)n < len ? n : -1;
}

/* "ECHO " + token, leaving *p after the token; 0 or -1. */
static int parse_echo_token(const char **p, const char *end, char token[SEQ_TOKEN_MAX + 1])
{
	size_t n;

	if (end - *p < 5 || memcmp(*p, "ECHO ", 5) != 0)
		return -1;
	*p += 5;
	n = token_len(*p, end, false, SEQ_TOKEN_MAX);
	if (n == 0 || n > SEQ_TOKEN_MAX)
		return -1;
	memcpy(token, *p, n);
	token[n] = '\0';
	*p += n;
	return 0;
}

int seq_echo_parse_request(const char *buf, size_t len, char token[SEQ_TOKEN_MAX + 1])
{
	const char *p = buf, *end = buf + len;

	if (len > SEQ_ECHO_LINE_MAX || parse_echo_token(&p, end, token) < 0)
		return -1;
	return end - p == 1 && *p == '\n' ? 0 : -1;
}

int seq_echo_parse_reply(const char *buf, size_t len, const char *token, char id[SEQ_ECHO_ID_MAX + 1])
{
	const char *p = buf, *end = buf + len;
	char got[SEQ_TOKEN_MAX + 1];
	size_t n;

	if (len > SEQ_ECHO_LINE_MAX || parse_echo_token(&p, end, got) < 0 || strcmp(got, token) != 0)
		return -1;
	if (p >= end || *p++ != ' ')
		return -1;
	n = token_len(p, end, true, SEQ_ECHO_ID_MAX);
	if (n == 0 || n > SEQ_ECHO_ID_MAX || end - p != (ptrdiff_t)n + 1 || p[n] != '\n')
		return -1;
	memcpy(id, p, n);
	id[n] = '\0';
	return 0;
}
