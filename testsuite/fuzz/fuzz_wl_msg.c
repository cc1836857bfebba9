/* Workload datagrams as the harness's probe hears them: each input is cut
 * at 0xff bytes into datagrams, parsed (wl_parse_msg) and sent over UDP to a
 * real probe (testsuite/runner/probe.c), which must count or reject each
 * one and stay consistent. */
#include <arpa/inet.h>
#include <sys/socket.h>

#include "fuzz.h"
#include "../runner/suite.h"
#include "../lib/wl.h"

static struct probe *probe;
static int sock = -1;
static struct sockaddr_in to;
static unsigned long serial;

static void setup(void)
{
	char err[256];

	probe = probe_start("127.0.0.1", 0, err, sizeof(err));
	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (!probe || sock < 0) {
		fprintf(stderr, "fuzz: no probe: %s\n", err);
		abort();
	}
	to = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons((uint16_t)probe_port(probe)),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
}

static void send_dgram(const void *buf, size_t len)
{
	sendto(sock, buf, len, 0, (const struct sockaddr *)&to, sizeof(to));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char ids[8][WL_ID_MAX + 1];
	int nids = 0;
	char sync[64];
	long before;
	int n;

	if (!probe)
		setup();
	for (size_t start = 0; start <= len && nids < 8;) {
		const uint8_t *cut = memchr(data + start, 0xff, len - start);
		size_t end = cut ? (size_t)(cut - data) : len;
		__do_free char *text = fuzz_text(data + start, end - start);
		struct wl_msg msg;

		if (wl_parse_msg(text, end - start, &msg) == 0) {
			if (!wl_valid_id(msg.id) || strchr(msg.reason, '\n'))
				abort();
			if (msg.kind == WL_MSG_READY && msg.pid < 1)
				abort();
			snprintf(ids[nids++], sizeof(ids[0]), "%s", msg.id);
		}
		send_dgram(data + start, end - start);
		start = end + 1;
	}
	/* A beat of our own after them: once it counts, the probe has seen all. */
	before = probe_beats(probe, "fuzz-sync");
	n = snprintf(sync, sizeof(sync), "HB fuzz-sync %lu 0", serial++);
	send_dgram(sync, (size_t)n);
	for (int i = 0; i < 2000 && probe_beats(probe, "fuzz-sync") <= before; i++)
		usleep(50);
	for (int i = 0; i < nids; i++) {
		char line[600];

		probe_max_gap(probe, ids[i], 0, probe_now());
		probe_wait_line(probe, ids[i], "VERDICT", 0, line, sizeof(line));
		probe_forget(probe, ids[i]);
	}
	return 0;
}
