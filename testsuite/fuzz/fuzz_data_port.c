/* The data port's first words (ref/net.c net_data_accept): callers say
 * whatever the input says (cut at 0xff bytes, one caller each), then the
 * real source says the magic and the token. Only the real source may win,
 * and every stranger must have been hung up on. */
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "fuzz.h"
#include "net.h"

static int lfd = -1;
static struct sockaddr_un addr;
static socklen_t addr_len;

static void setup(void)
{
	addr = (struct sockaddr_un){ .sun_family = AF_UNIX };
	/* abstract: nothing on disk */
	addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
			       snprintf(addr.sun_path + 1, sizeof(addr.sun_path) - 1, "crmig-fuzz-data-%d", (int)getpid()));
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, addr_len) < 0 || listen(lfd, 32) < 0)
		abort();
}

static int caller(const void *buf, size_t len)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, addr_len) < 0)
		abort();
	if (len && write_full(fd, buf, len) < 0)
		abort();
	return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char token[2 * DATA_TOKEN_LEN + 1], good[DATA_MAGIC_LEN + 2 * DATA_TOKEN_LEN], err[256], ack = 0;
	int strangers[8], n = 0, source, winner;

	if (lfd < 0)
		setup();
	if (len > 4096)
		return 0;
	net_new_token(token);
	for (size_t start = 0; start < len && n < 8;) {
		const uint8_t *cut = memchr(data + start, 0xff, len - start);
		size_t end = cut ? (size_t)(cut - data) : len;

		strangers[n] = caller(data + start, end - start);
		/* half of them hang up after speaking, the others wait */
		if (data[start] & 1)
			shutdown(strangers[n], SHUT_WR);
		n++;
		start = end + 1;
	}
	memcpy(good, DATA_MAGIC, DATA_MAGIC_LEN);
	memcpy(good + DATA_MAGIC_LEN, token, 2 * DATA_TOKEN_LEN);
	source = caller(good, sizeof(good));
	winner = net_data_accept(lfd, token, 5, err, sizeof(err));
	if (winner < 0 || read_full(source, &ack, 1) < 0 || ack != 'K') {
		fprintf(stderr, "fuzz: the real source lost: %s\n", err);
		abort();
	}
	close(winner);
	close(source);
	for (int i = 0; i < n; i++) {
		struct pollfd p = { .fd = strangers[i], .events = POLLIN };
		char c;

		/* hung up on (EOF or reset), never acknowledged */
		if (poll(&p, 1, 0) == 1 && read(strangers[i], &c, 1) == 1) {
			fprintf(stderr, "fuzz: a stranger was answered\n");
			abort();
		}
		close(strangers[i]);
	}
	return 0;
}
