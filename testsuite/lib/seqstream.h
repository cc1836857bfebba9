/* seqstream: the byte stream the tcp workload and the harness exchange, and
 * the echo exchange of the workload's post-migration listener. Shared code,
 * so both ends agree byte for byte.
 *
 * STREAM (each direction independently, starting at the connection's first byte)
 *	The byte at stream offset o is byte (o % 8) of the 64-bit big-endian
 *	counter o / 8: 00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 01 ...
 *	TCP may split it anywhere; seq_check() works on any chunking. It reports
 *	the first byte no valid stream can have there (an end marker may start
 *	at any word boundary, so a marker for the wrong word shows at its last
 *	byte). Inside the counters that is the first byte that differs from
 *	the stream: a dropped, duplicated or
 *	reordered range shows there, at most 15 bytes after the damage point
 *	(the longest run of equal bytes in the stream: word 0 and the leading
 *	zeros of word 1).
 *
 * END MARKER
 *	A sender ends by completing its current 8-byte word, then sending the
 *	8 bytes of ~E big-endian (E = index of the word after the last counter,
 *	so the marker starts at offset 8*E), then shutdown(SHUT_WR). The
 *	receiver thus knows the exact total (8*E + 8 bytes) in band: a lost tail,
 *	a missing marker or any byte after it is an error. The marker's first
 *	byte is 0xff where a counter's is 0x00 (counters stay below 2^56).
 *
 * TCP WORKLOAD <-> HARNESS PEER
 *	The workload connects to --peer; both sides stream at once. After the
 *	migration signal and --after-ms of streaming the workload sends its end
 *	marker and shuts down its write side. The harness, on that EOF, checks
 *	the marker (seq_check_eof()), sends its own end marker and shuts down its
 *	write side; the workload checks that in turn and closes. The harness must
 *	keep streaming until the workload's EOF.
 *
 * ECHO EXCHANGE (workload --listen PORT, served only after the migration signal)
 *	client -> workload:	"ECHO <token>\n"	token: 1..64 of [A-Za-z0-9._-]
 *	workload -> client:	"ECHO <token> <id>\n"	id: the workload's --id
 *	then the workload closes the connection. Anything else from the client
 *	gets "ERR <why>\n" and a close, and does not count as an exchange.
 */
#ifndef CRMIG_SEQSTREAM_H
#define CRMIG_SEQSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SEQ_NO_END UINT64_MAX

enum seq_error {
	SEQ_OK = 0,
	SEQ_MISMATCH,	/* a byte differs: lost, duplicated, reordered or damaged data */
	SEQ_AFTER_END,	/* data after the end marker */
	SEQ_EOF_EARLY,	/* end of file before a complete end marker */
};

struct seq_state {
	uint64_t offset;	/* bytes produced (sender) or consumed (receiver) */
	uint64_t end_word;	/* sender: marker word index E, SEQ_NO_END while streaming */
	bool in_marker;		/* receiver: the current word is the end marker */
	bool ended;		/* receiver: a complete end marker was seen */
	enum seq_error error;	/* receiver: the first error, sticky */
	uint64_t err_offset;
	uint8_t expected, got;
};

void seq_init(struct seq_state *st);

/* Sender. seq_peek() is a pure function of st->offset (a short send() just
 * advances by what went out); seq_fill() = peek + advance. After seq_end(),
 * at most seq_remaining() bytes may be produced. */
void seq_peek(uint8_t *buf, size_t len, const struct seq_state *st);
void seq_fill(uint8_t *buf, size_t len, struct seq_state *st);
void seq_end(struct seq_state *st);
uint64_t seq_remaining(const struct seq_state *st);	/* SEQ_NO_END before seq_end() */

/* Receiver: 0 if buf continues the stream correctly, -1 on the first error
 * (then sticky); err_offset (may be NULL) gets the stream offset of the first
 * byte that differs from what was expected. */
int seq_check(const uint8_t *buf, size_t len, struct seq_state *st, uint64_t *err_offset);
/* At end of file: 0 if the end marker was complete, else -1 (SEQ_EOF_EARLY). */
int seq_check_eof(struct seq_state *st, uint64_t *err_offset);
const char *seq_strerror(const struct seq_state *st, char *buf, size_t len);

/* Socket helpers (fd non-blocking or not; MSG_DONTWAIT is used).
 * seq_send: send up to max bytes of the stream; bytes sent, 0 if the socket
 * is full or the stream has ended, -1 with errno on a socket error.
 * seq_recv: one read, checked; bytes read, 0 at EOF, -1 with errno (EAGAIN
 * when nothing is there). Check errors are in rx->error. */
ssize_t seq_send(int fd, struct seq_state *tx, size_t max);
ssize_t seq_recv(int fd, struct seq_state *rx);

/* Echo exchange. Formatters return the length written (with '\n') or -1.
 * Parsers take exactly one line including its '\n'; 0 or -1 (garbage). */
#define SEQ_TOKEN_MAX 64
#define SEQ_ECHO_ID_MAX 64
#define SEQ_ECHO_LINE_MAX 160
bool seq_valid_token(const char *s);
int seq_echo_request(char *buf, size_t len, const char *token);
int seq_echo_parse_request(const char *buf, size_t len, char token[SEQ_TOKEN_MAX + 1]);
int seq_echo_reply(char *buf, size_t len, const char *token, const char *id);
/* The reply must echo token; id gets the workload's id. */
int seq_echo_parse_reply(const char *buf, size_t len, const char *token, char id[SEQ_ECHO_ID_MAX + 1]);

#endif
