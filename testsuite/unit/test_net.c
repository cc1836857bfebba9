/* Sockets and addresses (ref/net.c): HOST[:PORT] and ADDR/PREFIX parsing,
 * page-stream connections checked by their token over loopback, the byte
 * counts from TCP_INFO, and the interface lookups, address moves and
 * gratuitous ARP in a network namespace of the test's own (veth pair), so
 * that no interface of this machine is touched. */
#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "net.h"
#include "proc.h"
#include "util.h"
#include "unit.h"

static char err[512];

/* ---- parsing ---------------------------------------------------------------- */

START_TEST(test_split_hostport)
{
	static const struct {
		const char *in;
		int ret;
		const char *host;
		int port;
	} cases[] = {
		{ "10.0.0.1", 0, "10.0.0.1", 7077 },
		{ "10.0.0.1:8080", 0, "10.0.0.1", 8080 },
		{ "hostb", 0, "hostb", 7077 },
		{ "hostb:1", 0, "hostb", 1 },
		{ "hostb:65535", 0, "hostb", 65535 },
		{ "[::1]:7000", 0, "::1", 7000 },
		{ "[fe80::1%eth0]:22", 0, "fe80::1%eth0", 22 },
		{ "[::1]", 0, "::1", 7077 },
		{ "::1", 0, "::1", 7077 },          /* a bare IPv6 address has no port */
		{ "2001:db8::5", 0, "2001:db8::5", 7077 },
		{ "hostb:0", -1, NULL, 0 },
		{ "hostb:65536", -1, NULL, 0 },
		{ "hostb:-1", -1, NULL, 0 },
		{ "hostb:80x", -1, NULL, 0 },
		{ "hostb:x80", -1, NULL, 0 },
		{ "hostb:", -1, NULL, 0 },
		{ "hostb:99999999999999999999", -1, NULL, 0 },
		{ ":80", -1, NULL, 0 },
		{ "", -1, NULL, 0 },
		{ "[]:80", -1, NULL, 0 },
		{ "[::1", -1, NULL, 0 },
		{ "[::1]:", -1, NULL, 0 },
		{ "[::1]:0", -1, NULL, 0 },
		{ "[::1]7000", -1, NULL, 0 },       /* not "::1" with the port dropped */
		{ "[::1]:7000x", -1, NULL, 0 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char host[64] = "untouched";
		int port = -5;
		int ret = net_split_hostport(cases[i].in, host, sizeof(host), &port, 7077);

		ck_assert_msg(ret == cases[i].ret, "'%s': returned %d, want %d (host '%s' port %d)", cases[i].in, ret,
			      cases[i].ret, host, port);
		if (ret == 0) {
			ck_assert_msg(!strcmp(host, cases[i].host), "'%s': host '%s', want '%s'", cases[i].in, host,
				      cases[i].host);
			ck_assert_msg(port == cases[i].port, "'%s': port %d, want %d", cases[i].in, port, cases[i].port);
		}
	}
}
END_TEST

START_TEST(test_split_hostport_limits)
{
	char small[6], host[64];
	int port;

	ck_assert_int_eq(net_split_hostport(NULL, host, sizeof(host), &port, 1), -1);
	ck_assert_int_eq(port, 1); /* the default is set even on failure */
	ck_assert_int_eq(net_split_hostport("abcde:9", small, sizeof(small), &port, 1), 0);
	ck_assert_str_eq(small, "abcde");
	ck_assert_int_eq(net_split_hostport("abcdef:9", small, sizeof(small), &port, 1), -1);
	ck_assert_int_eq(net_split_hostport("[abcdef]:9", small, sizeof(small), &port, 1), -1);
}
END_TEST

START_TEST(test_addr_parse)
{
	static const struct {
		const char *in;
		int ret;
		const char *addr;
		int prefix;
	} cases[] = {
		{ "10.77.0.100/24", 0, "10.77.0.100", 24 },
		{ "10.77.0.100", 0, "10.77.0.100", 32 },
		{ "192.168.1.1/1", 0, "192.168.1.1", 1 },
		{ "192.168.1.1/32", 0, "192.168.1.1", 32 },
		{ "192.168.1.1/0", -1, NULL, 0 },
		{ "192.168.1.1/33", -1, NULL, 0 },
		{ "192.168.1.1/", -1, NULL, 0 },
		{ "192.168.1.1/24x", -1, NULL, 0 },
		{ "192.168.1.1/-8", -1, NULL, 0 },
		{ "/24", -1, NULL, 0 },
		{ "", -1, NULL, 0 },
		{ "300.1.1.1/8", -1, NULL, 0 },
		{ "10.0.0/8", -1, NULL, 0 },
		{ "::1/128", -1, NULL, 0 },       /* IPv4 only */
		{ "hosta/24", -1, NULL, 0 },
		{ "10.77.0.100 /24", -1, NULL, 0 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char addr[64] = "";
		int prefix = -1;
		int ret = net_addr_parse(cases[i].in, addr, sizeof(addr), &prefix);

		ck_assert_msg(ret == cases[i].ret, "'%s': returned %d, want %d", cases[i].in, ret, cases[i].ret);
		if (ret == 0) {
			ck_assert_str_eq(addr, cases[i].addr);
			ck_assert_int_eq(prefix, cases[i].prefix);
		}
	}
	{
		char tiny[8];
		int prefix;

		ck_assert_int_eq(net_addr_parse("10.77.0.100/24", tiny, sizeof(tiny), &prefix), -1);
	}
}
END_TEST

START_TEST(test_tokens)
{
	char a[2 * DATA_TOKEN_LEN + 1], b[2 * DATA_TOKEN_LEN + 1];

	net_new_token(a);
	net_new_token(b);
	ck_assert_uint_eq(strlen(a), 2 * DATA_TOKEN_LEN);
	ck_assert_uint_eq(strspn(a, "0123456789abcdef"), 2 * DATA_TOKEN_LEN);
	ck_assert_str_ne(a, b);
}
END_TEST

/* ---- plain connections ------------------------------------------------------- */

static int loopback_listener(int *port)
{
	int lfd = net_listen("127.0.0.1", 0, 8);

	ck_assert_int_ge(lfd, 0);
	*port = net_local_port(lfd);
	ck_assert_int_gt(*port, 0);
	return lfd;
}

START_TEST(test_connect_and_addresses)
{
	int port, lfd = loopback_listener(&port), c, s, closed_port;
	char local[64], peer[64];
	double start;

	c = net_connect("127.0.0.1", port, 5, err, sizeof(err));
	ck_assert_msg(c >= 0, "%s", err);
	ck_assert_int_eq(fcntl(c, F_GETFL) & O_NONBLOCK, 0); /* blocking again once connected */
	ck_assert(fcntl(c, F_GETFD) & FD_CLOEXEC);
	s = net_accept_timeout(lfd, 5);
	ck_assert_int_ge(s, 0);
	ck_assert(fcntl(s, F_GETFD) & FD_CLOEXEC);
	net_local_addr(c, local, sizeof(local));
	net_peer_addr(c, peer, sizeof(peer));
	ck_assert_str_eq(local, "127.0.0.1");
	ck_assert_str_eq(peer, "127.0.0.1");
	ck_assert_int_eq(net_local_port(s), port);
	net_peer_addr(-1, peer, sizeof(peer));
	ck_assert_str_eq(peer, "?");
	close(c);
	close(s);

	/* nobody comes: ETIMEDOUT after about the timeout */
	start = now_ms();
	ck_assert_int_eq(net_accept_timeout(lfd, 0.3), -1);
	ck_assert_int_eq(errno, ETIMEDOUT);
	ck_assert_msg(now_ms() - start >= 290, "gave up after %.0f ms", now_ms() - start);
	close(lfd);

	/* a port nobody listens on */
	lfd = loopback_listener(&closed_port);
	close(lfd);
	ck_assert_int_eq(net_connect("127.0.0.1", closed_port, 5, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "cannot connect to 127.0.0.1 port") && strstr(err, "Connection refused"), "%s", err);
}
END_TEST

START_TEST(test_ipv6_loopback)
{
	int lfd = net_listen("::1", 0, 4), c, s;
	char peer[64];

	if (lfd < 0) {
		fprintf(stderr, "SKIP test_ipv6_loopback: no IPv6 loopback here\n");
		return;
	}
	c = net_connect("::1", net_local_port(lfd), 5, err, sizeof(err));
	ck_assert_msg(c >= 0, "%s", err);
	s = net_accept_timeout(lfd, 5);
	ck_assert_int_ge(s, 0);
	net_peer_addr(s, peer, sizeof(peer));
	ck_assert_str_eq(peer, "::1");
	close(c);
	close(s);
	close(lfd);
}
END_TEST

/* ---- page streams ------------------------------------------------------------ */

struct acceptor {
	int lfd;
	char token[2 * DATA_TOKEN_LEN + 1];
	double timeout_s;
	int fd;
	char err[256];
};

static void *accept_main(void *arg)
{
	struct acceptor *a = arg;

	a->fd = net_data_accept(a->lfd, a->token, a->timeout_s, a->err, sizeof(a->err));
	return NULL;
}

/* A stranger: connects, sends these bytes, and hangs up after the server does. */
static void stranger(int port, const void *bytes, size_t len)
{
	int fd = net_connect("127.0.0.1", port, 5, err, sizeof(err));
	char buf[8];
	struct timeval tv = { .tv_sec = 10 };

	ck_assert_msg(fd >= 0, "%s", err);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (len)
		ck_assert_int_eq(write_full(fd, bytes, len), 0);
	shutdown(fd, SHUT_WR);
	/* the server must close on us, without the 'K' */
	ck_assert_int_le(read(fd, buf, sizeof(buf)), 0);
	close(fd);
}

START_TEST(test_data_right_token)
{
	struct acceptor a = { .timeout_s = 20, .fd = -1 };
	pthread_t t;
	int port, fd;
	char buf[16] = "";

	a.lfd = loopback_listener(&port);
	net_new_token(a.token);
	ck_assert_int_eq(pthread_create(&t, NULL, accept_main, &a), 0);
	fd = net_data_connect("127.0.0.1", port, a.token, 5, err, sizeof(err));
	pthread_join(t, NULL);
	ck_assert_msg(fd >= 0, "%s", err);
	ck_assert_msg(a.fd >= 0, "%s", a.err);
	/* the stream is clean after the handshake, both ways */
	ck_assert_int_eq(write_full(fd, "pages", 5), 0);
	ck_assert_int_eq(read_full(a.fd, buf, 5), 0);
	ck_assert_str_eq(buf, "pages");
	ck_assert_int_eq(write_full(a.fd, "ack", 3), 0);
	ck_assert_int_eq(read_full(fd, buf, 3), 0);
	ck_assert_int_eq(memcmp(buf, "ack", 3), 0);
	close(fd);
	close(a.fd);
	close(a.lfd);
}
END_TEST

START_TEST(test_data_strangers_then_the_source)
{
	struct acceptor a = { .timeout_s = 30, .fd = -1 };
	char wrong[2 * DATA_TOKEN_LEN + 1], pre[DATA_MAGIC_LEN + 2 * DATA_TOKEN_LEN];
	char garbage[200];
	pthread_t t;
	int port, fd;

	a.lfd = loopback_listener(&port);
	net_new_token(a.token);
	net_new_token(wrong);
	ck_assert_int_eq(pthread_create(&t, NULL, accept_main, &a), 0);

	/* the wrong token, through the real client: refused */
	ck_assert_int_eq(net_data_connect("127.0.0.1", port, wrong, 5, err, sizeof(err)), -1);
	{
		__do_free char *want = xasprintf("page stream to 127.0.0.1:%d was refused", port);

		ck_assert_str_eq(err, want);
	}
	/* the right token with the wrong magic */
	memcpy(pre, "CRMGDATX", DATA_MAGIC_LEN);
	memcpy(pre + DATA_MAGIC_LEN, a.token, 2 * DATA_TOKEN_LEN);
	stranger(port, pre, sizeof(pre));
	/* the token off by one character */
	memcpy(pre, DATA_MAGIC, DATA_MAGIC_LEN);
	pre[sizeof(pre) - 1] ^= 1;
	stranger(port, pre, sizeof(pre));
	/* a web client */
	memset(garbage, 'x', sizeof(garbage));
	memcpy(garbage, "GET / HTTP/1.0\r\n\r\n", 18);
	stranger(port, garbage, sizeof(garbage));
	/* too short, then gone; and nothing at all */
	stranger(port, DATA_MAGIC, DATA_MAGIC_LEN);
	stranger(port, NULL, 0);

	/* the source still gets in */
	fd = net_data_connect("127.0.0.1", port, a.token, 5, err, sizeof(err));
	pthread_join(t, NULL);
	ck_assert_msg(fd >= 0, "%s", err);
	ck_assert_msg(a.fd >= 0, "%s", a.err);
	ck_assert_int_eq(write_full(fd, "x", 1), 0);
	ck_assert_int_eq(read_full(a.fd, garbage, 1), 0);
	ck_assert_int_eq(garbage[0], 'x');
	close(fd);
	close(a.fd);
	close(a.lfd);
}
END_TEST

/* Callers that connect and say nothing are heard side by side with the
 * source: three of them, 5 s each, do not hold it back for 15 s. */
START_TEST(test_data_silent_strangers_do_not_hold_the_source)
{
	struct acceptor a = { .timeout_s = 30, .fd = -1 };
	int port, fd, silent[3];
	pthread_t t;
	double start;

	a.lfd = loopback_listener(&port);
	net_new_token(a.token);
	ck_assert_int_eq(pthread_create(&t, NULL, accept_main, &a), 0);
	for (int i = 0; i < 3; i++) {
		silent[i] = net_connect("127.0.0.1", port, 5, err, sizeof(err));
		ck_assert_msg(silent[i] >= 0, "%s", err);
	}
	usleep(200 * 1000); /* the acceptor has them all by now */
	start = now_ms();
	fd = net_data_connect("127.0.0.1", port, a.token, 5, err, sizeof(err));
	ck_assert_msg(fd >= 0, "%s", err);
	ck_assert_msg(now_ms() - start < 4000, "the source waited %.0f ms behind silent callers", now_ms() - start);
	pthread_join(t, NULL);
	ck_assert_msg(a.fd >= 0, "%s", a.err);
	for (int i = 0; i < 3; i++)
		close(silent[i]);
	close(fd);
	close(a.fd);
	close(a.lfd);
}
END_TEST

START_TEST(test_data_nobody_comes)
{
	struct acceptor a = { .timeout_s = 1, .fd = -1 };
	double start = now_ms(), took;
	int port;

	a.lfd = loopback_listener(&port);
	net_new_token(a.token);
	accept_main(&a);
	took = now_ms() - start;
	ck_assert_int_eq(a.fd, -1);
	ck_assert_str_eq(a.err, "the source did not open its page stream within 1 s");
	ck_assert_msg(took >= 950 && took < 10000, "gave up after %.0f ms", took);
	close(a.lfd);
	/* and the client side of a port nobody serves */
	ck_assert_int_eq(net_data_connect("127.0.0.1", port, a.token, 2, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "cannot connect"), "%s", err);
}
END_TEST

/* ---- byte counts ------------------------------------------------------------- */

/* The kernel counts sequence space: the SYN (active side) and a FIN add one
 * each. So the payload is checked as what changed since a baseline. */
struct counts {
	uint64_t sent, recv;
};

static struct counts counts_of(int fd)
{
	struct counts c;

	net_tcp_bytes(fd, &c.sent, &c.recv);
	return c;
}

/* fd's counts reach base + (sent, recv): the last ACK may still be on its way. */
static void expect_bytes(int fd, struct counts base, uint64_t sent, uint64_t recv)
{
	double deadline = now_ms() + 10000;
	struct counts now;

	for (;;) {
		now = counts_of(fd);
		if ((now.sent - base.sent == sent && now.recv - base.recv == recv) || now_ms() > deadline)
			break;
		usleep(10 * 1000);
	}
	ck_assert_msg(now.sent - base.sent == sent && now.recv - base.recv == recv,
		      "sent %llu received %llu, want %llu and %llu", (unsigned long long)(now.sent - base.sent),
		      (unsigned long long)(now.recv - base.recv), (unsigned long long)sent, (unsigned long long)recv);
}

START_TEST(test_tcp_bytes)
{
	int port, lfd = loopback_listener(&port), c, s, sp[2];
	size_t big = 300000, small = 4321;
	__do_free char *buf = xzalloc(big);
	struct counts c0, s0;
	uint64_t sent, recv;

	c = net_connect("127.0.0.1", port, 5, err, sizeof(err));
	ck_assert_msg(c >= 0, "%s", err);
	s = net_accept_timeout(lfd, 5);
	ck_assert_int_ge(s, 0);
	usleep(50 * 1000); /* the handshake settles */
	c0 = counts_of(c);
	s0 = counts_of(s);
	ck_assert_msg(c0.sent <= 1 && c0.recv == 0 && s0.sent == 0 && s0.recv <= 1, "before any data: %llu %llu %llu %llu",
		      (unsigned long long)c0.sent, (unsigned long long)c0.recv, (unsigned long long)s0.sent,
		      (unsigned long long)s0.recv);
	ck_assert_int_eq(write_full(c, buf, big), 0);
	ck_assert_int_eq(read_full(s, buf, big), 0);
	expect_bytes(c, c0, big, 0);
	expect_bytes(s, s0, 0, big);
	ck_assert_int_eq(write_full(s, buf, small), 0);
	ck_assert_int_eq(read_full(c, buf, small), 0);
	expect_bytes(c, c0, big, small);
	expect_bytes(s, s0, small, big);
	close(c);
	close(s);
	close(lfd);

	/* not TCP, or nothing: zeros, no error */
	sent = recv = 99;
	net_tcp_bytes(-1, &sent, &recv);
	ck_assert(sent == 0 && recv == 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	sent = recv = 99;
	net_tcp_bytes(sp[0], &sent, &recv);
	ck_assert(sent == 0 && recv == 0);
	close(sp[0]);
	close(sp[1]);
}
END_TEST

/* ---- interfaces, in a network namespace of our own ----------------------------- */

static int netns_orig = -1;
static bool netns_ok;

static int ip(const char *cmd)
{
	__do_free char *full = xasprintf("ip %s", cmd);
	char *argv[16];
	size_t n = 0;

	for (char *save, *w = strtok_r(full, " ", &save); w && n < ARRAY_SIZE(argv) - 1; w = strtok_r(NULL, " ", &save))
		argv[n++] = w;
	argv[n] = NULL;
	return proc_simple(argv, 20);
}

/* Moves this process into a fresh network namespace with a veth pair:
 * cm0 10.99.1.7/24 <-> cm1 10.98.0.1/16, both up, and lo up. */
static void netns_enter(void)
{
	netns_orig = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(netns_orig, 0);
	ck_assert_int_eq(unshare(CLONE_NEWNET), 0);
	ck_assert_int_eq(ip("link set lo up"), 0);
	ck_assert_int_eq(ip("link add cm0 type veth peer name cm1"), 0);
	ck_assert_int_eq(ip("addr add 10.99.1.7/24 dev cm0"), 0);
	ck_assert_int_eq(ip("addr add 10.98.0.1/16 dev cm1"), 0);
	ck_assert_int_eq(ip("link set cm0 up"), 0);
	ck_assert_int_eq(ip("link set cm1 up"), 0);
}

/* Back to the namespace we came from (the new one goes with its last user). */
static void netns_leave(void)
{
	if (netns_orig >= 0) {
		if (setns(netns_orig, CLONE_NEWNET) < 0)
			fprintf(stderr, "test_net: cannot go back to the original network namespace: %s\n",
				strerror(errno));
		close(netns_orig);
		netns_orig = -1;
	}
}

static void expect_iface(const char *addr, int prefix, bool hold, const char *want)
{
	char name[IFNAMSIZ] = "";
	int ret = net_iface_for(addr, prefix, hold, name, sizeof(name));

	if (want)
		ck_assert_msg(ret == 0 && !strcmp(name, want), "%s/%d%s: got %d '%s', want %s", addr, prefix,
			      hold ? " held" : "", ret, name, want);
	else
		ck_assert_msg(ret == -1, "%s/%d%s: got %d '%s', want none", addr, prefix, hold ? " held" : "", ret, name);
}

START_TEST(test_iface_for)
{
	expect_iface("10.99.1.7", 24, true, "cm0");
	expect_iface("10.99.1.7", 24, false, "cm0");
	expect_iface("10.99.1.50", 24, true, NULL);      /* nobody holds it */
	expect_iface("10.99.1.50", 24, false, "cm0");    /* but cm0 is on its subnet */
	expect_iface("10.99.1.50", 32, false, NULL);
	expect_iface("10.99.2.50", 24, false, NULL);
	expect_iface("10.98.200.3", 16, false, "cm1");
	expect_iface("10.98.200.3", 24, false, NULL);
	/* loopback never counts */
	expect_iface("127.0.0.1", 8, true, NULL);
	expect_iface("127.0.0.5", 8, false, NULL);
	expect_iface("not-an-address", 24, false, NULL);
	/* the holder wins over an interface that is only on the subnet */
	ck_assert_int_eq(ip("addr add 10.99.1.8/24 dev cm1"), 0);
	expect_iface("10.99.1.8", 24, false, "cm1");
	expect_iface("10.99.1.8", 24, true, "cm1");
}
END_TEST

START_TEST(test_addr_add_del)
{
	expect_iface("10.99.1.100", 24, true, NULL);
	ck_assert_int_eq(net_addr_add("cm0", "10.99.1.100", 24), 0);
	expect_iface("10.99.1.100", 24, true, "cm0");
	ck_assert_int_eq(net_addr_add("cm0", "10.99.1.100", 24), -1); /* already there */
	ck_assert_int_eq(net_addr_del("cm0", "10.99.1.100", 24), 0);
	expect_iface("10.99.1.100", 24, true, NULL);
	ck_assert_int_eq(net_addr_del("cm0", "10.99.1.100", 24), -1);
	ck_assert_int_eq(net_addr_add("nosuch0", "10.99.1.100", 24), -1);
}
END_TEST

START_TEST(test_gratuitous_arp)
{
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ARP));
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ARP) };
	struct ifreq ifr = { 0 };
	unsigned char mac[ETH_ALEN], pkt[128];
	struct in_addr ip4;
	int seen = 0;
	double deadline;

	ck_assert_int_ge(fd, 0);
	sll.sll_ifindex = (int)if_nametoindex("cm1");
	ck_assert_int_gt(sll.sll_ifindex, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sll, sizeof(sll)), 0);
	strcpy(ifr.ifr_name, "cm0");
	ck_assert_int_eq(ioctl(fd, SIOCGIFHWADDR, &ifr), 0);
	memcpy(mac, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
	inet_pton(AF_INET, "10.99.1.7", &ip4);

	ck_assert_int_eq(net_send_garp("cm0", "10.99.1.7", 2), 0);
	deadline = now_ms() + 5000;
	while (seen < 2 && now_ms() < deadline) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 200) <= 0)
			continue;
		n = recv(fd, pkt, sizeof(pkt), 0);
		/* eth (14) + arp header (8) + sha spa tha tpa (20) */
		if (n < 42 || memcmp(pkt + 28, &ip4, 4))
			continue;
		ck_assert_msg(!memcmp(pkt, "\xff\xff\xff\xff\xff\xff", 6), "not broadcast");
		ck_assert_int_eq(memcmp(pkt + 6, mac, ETH_ALEN), 0);          /* from cm0 */
		ck_assert_int_eq(pkt[12] << 8 | pkt[13], ETH_P_ARP);
		ck_assert_int_eq(pkt[14] << 8 | pkt[15], ARPHRD_ETHER);
		ck_assert_int_eq(pkt[16] << 8 | pkt[17], ETH_P_IP);
		ck_assert_int_eq(pkt[20] << 8 | pkt[21], ARPOP_REQUEST);
		ck_assert_int_eq(memcmp(pkt + 22, mac, ETH_ALEN), 0);         /* sender hardware address */
		ck_assert_int_eq(memcmp(pkt + 38, &ip4, 4), 0);               /* target = sender: gratuitous */
		seen++;
	}
	close(fd);
	ck_assert_int_eq(seen, 2);
	ck_assert_int_eq(net_send_garp("nosuch0", "10.99.1.7", 1), -1);
	ck_assert_int_eq(net_send_garp("cm0", "10.99.1", 1), -1);
	ck_assert_int_eq(net_send_garp("an-interface-name-longer-than-ifnamsiz", "10.99.1.7", 1), -1);
}
END_TEST

/* Whether we may make network namespaces and veth pairs here. */
static bool probe_netns(char *why, size_t len)
{
	int orig = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	bool ok = false;

	if (orig < 0) {
		snprintf(why, len, "cannot open /proc/self/ns/net: %s", strerror(errno));
		return false;
	}
	if (unshare(CLONE_NEWNET) < 0) {
		snprintf(why, len, "unshare(CLONE_NEWNET): %s (needs CAP_SYS_ADMIN)", strerror(errno));
	} else {
		ok = ip("link add cm0 type veth peer name cm1") == 0;
		if (!ok)
			snprintf(why, len, "cannot make a veth pair in a new network namespace (ip link add ... type veth)");
		if (setns(orig, CLONE_NEWNET) < 0) {
			fprintf(stderr, "test_net: cannot go back to the original network namespace: %s\n", strerror(errno));
			exit(2);
		}
	}
	close(orig);
	return ok;
}

/* criu's network lock rules after a handover: those naming the address that
 * were not there before go; the others stay. iptables is a stand-in here. */
START_TEST(test_drop_lock_rules)
{
	char dir[] = "/tmp/test_net-ipt-XXXXXX";
	const char *old_path = getenv("PATH");
	__do_free char *saved_path = xstrdup(old_path ? old_path : "/usr/bin:/bin");
	static const char *const r1 = "-A INPUT -s 127.0.0.1/32 -d 127.0.0.1/32 -p tcp -m mark ! --mark 0xc114 -m tcp --sport 1 --dport 2 -j DROP";
	static const char *const r2 = "-A INPUT -s 127.0.0.1/32 -d 127.0.0.1/32 -p tcp -m mark ! --mark 0xc114 -m tcp --sport 3 --dport 4 -j DROP";
	static const char *const r3 = "-A INPUT -s 10.0.0.5/32 -d 10.0.0.6/32 -p tcp -m mark ! --mark 0xc114 -j DROP";
	static const char *const r4 = "-A INPUT -s 127.0.0.1/32 -j ACCEPT";
	__do_free char *before = NULL, *log = NULL;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	{
		__do_free char *save = xasprintf("%s/iptables-save", dir), *ipt = xasprintf("%s/iptables", dir);
		__do_free char *rules = xasprintf("%s/rules", dir), *path = xasprintf("%s:%s", dir, saved_path);
		__do_free char *body = xasprintf("*filter\n%s\n%s\nCOMMIT\n", r1, r4);
		__do_free char *s1 = xasprintf("#!/bin/sh\ncat %s\n", rules);
		__do_free char *s2 = xasprintf("#!/bin/sh\necho \"$*\" >> %s/deleted\n", dir);

		ck_assert_int_eq(write_file(rules, body, strlen(body), 0644), 0);
		ck_assert_int_eq(write_file(save, s1, strlen(s1), 0755), 0);
		ck_assert_int_eq(write_file(ipt, s2, strlen(s2), 0755), 0);
		setenv("PATH", path, 1);
		before = net_iptables_snapshot();
		ck_assert_ptr_nonnull(before);
		free(body);
		body = xasprintf("*filter\n%s\n%s\n%s\n%s\nCOMMIT\n", r1, r2, r3, r4);
		ck_assert_int_eq(write_file(rules, body, strlen(body), 0644), 0);
		ck_assert_int_eq(net_drop_criu_lock_rules("127.0.0.1", before), 1);
		ck_assert_int_eq(net_drop_criu_lock_rules("10.0.0.5", NULL), 1);
		setenv("PATH", saved_path, 1);
		free(body);
		body = xasprintf("%s/deleted", dir);
		log = read_file(body, NULL);
	}
	ck_assert_ptr_nonnull(log);
	ck_assert_str_eq(log, "-t filter -D INPUT -s 127.0.0.1/32 -d 127.0.0.1/32 -p tcp -m mark ! --mark 0xc114 -m tcp --sport 3 "
			      "--dport 4 -j DROP\n-t filter -D INPUT -s 10.0.0.5/32 -d 10.0.0.6/32 -p tcp -m mark ! --mark 0xc114 -j DROP\n");
	remove_tree(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("net");
	TCase *parse = tcase_create("parse"), *conn = tcase_create("connections"), *ifs;
	char why[256];

	signal(SIGPIPE, SIG_IGN);
	tcase_add_test(parse, test_split_hostport);
	tcase_add_test(parse, test_split_hostport_limits);
	tcase_add_test(parse, test_addr_parse);
	tcase_add_test(parse, test_tokens);
	tcase_add_test(parse, test_drop_lock_rules);
	suite_add_tcase(s, parse);

	tcase_set_timeout(conn, 60);
	tcase_add_test(conn, test_connect_and_addresses);
	tcase_add_test(conn, test_ipv6_loopback);
	tcase_add_test(conn, test_data_right_token);
	tcase_add_test(conn, test_data_strangers_then_the_source);
	tcase_add_test(conn, test_data_silent_strangers_do_not_hold_the_source);
	tcase_add_test(conn, test_data_nobody_comes);
	tcase_add_test(conn, test_tcp_bytes);
	suite_add_tcase(s, conn);

	netns_ok = probe_netns(why, sizeof(why));
	if (netns_ok) {
		ifs = tcase_create("interfaces");
		tcase_add_checked_fixture(ifs, netns_enter, netns_leave);
		tcase_set_timeout(ifs, 60);
		tcase_add_test(ifs, test_iface_for);
		tcase_add_test(ifs, test_addr_add_del);
		tcase_add_test(ifs, test_gratuitous_arp);
		suite_add_tcase(s, ifs);
	} else {
		fprintf(stderr, "\n*** SKIP test_net interfaces (3 tests not run): %s ***\n\n", why);
	}

	return unit_run(s) ? 1 : 0;
}
