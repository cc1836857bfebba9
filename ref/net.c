#include "net.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <linux/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "proc.h"
#include "digest.h"
#include "util.h"

int net_split_hostport(const char *s, char *host, size_t hostlen, int *port, int default_port)
{
	const char *colon;
	size_t n;

	*port = default_port;
	if (!s || !*s)
		return -1;
	if (*s == '[') {
		const char *end = strchr(s, ']');
		if (!end)
			return -1;
		if (end[1] && end[1] != ':')
			return -1; /* "[v6]junk": not a port */
		n = end - s - 1;
		colon = end[1] == ':' ? end + 1 : NULL;
		s++;
	} else {
		colon = strrchr(s, ':');
		if (colon && strchr(s, ':') != colon)
			colon = NULL; /* a bare IPv6 address */
		n = colon ? (size_t)(colon - s) : strlen(s);
	}
	if (n == 0 || n >= hostlen)
		return -1;
	memcpy(host, s, n);
	host[n] = '\0';
	if (colon) {
		char *end;
		long p = strtol(colon + 1, &end, 10);
		if (*end || p <= 0 || p > 65535)
			return -1;
		*port = (int)p;
	}
	return 0;
}

int net_listen(const char *addr, int port, int backlog)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	char portstr[16];
	int fd = -1, one = 1;

	snprintf(portstr, sizeof(portstr), "%d", port);
	if (getaddrinfo(addr && *addr ? addr : NULL, portstr, &hints, &res) != 0)
		return -1;
	for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, backlog) < 0)
			close_fd(&fd);
	}
	freeaddrinfo(res);
	return fd;
}

int net_connect(const char *host, int port, double timeout_s, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	char portstr[16];
	int fd = -1, rc;

	snprintf(portstr, sizeof(portstr), "%d", port);
	rc = getaddrinfo(host, portstr, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(rc));
		return -1;
	}
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		struct pollfd p;
		int soerr = 0;
		socklen_t sl = sizeof(soerr);

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
			soerr = errno;
		} else {
			p = (struct pollfd){ .fd = fd, .events = POLLOUT };
			if (poll(&p, 1, (int)(timeout_s * 1000)) <= 0)
				soerr = ETIMEDOUT;
			else
				getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
		}
		if (soerr == 0) {
			fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
			break;
		}
		snprintf(err, errlen, "cannot connect to %s port %d: %s", host, port, strerror(soerr));
		close_fd(&fd);
	}
	freeaddrinfo(res);
	return fd;
}

int net_accept_timeout(int lfd, double timeout_s)
{
	struct pollfd p = { .fd = lfd, .events = POLLIN };
	int rc;

	do
		rc = poll(&p, 1, timeout_s > 0 ? (int)(timeout_s * 1000) : -1);
	while (rc < 0 && errno == EINTR);
	if (rc == 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	if (rc < 0)
		return -1;
	return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
}

int net_local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

static void sockaddr_text(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	const void *a = ss->ss_family == AF_INET ? (const void *)&((const struct sockaddr_in *)ss)->sin_addr
						  : (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr;

	if (!inet_ntop(ss->ss_family, a, buf, (socklen_t)len))
		snprintf(buf, len, "?");
}

void net_local_addr(int fd, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		snprintf(buf, len, "?");
	else
		sockaddr_text(&ss, buf, len);
}

void net_peer_addr(int fd, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0)
		snprintf(buf, len, "?");
	else
		sockaddr_text(&ss, buf, len);
}

void net_stream_opts(int fd, int dead_after_s)
{
	int one = 1, idle = 5, intvl = 2, cnt = dead_after_s / 2 > 0 ? dead_after_s / 2 : 1;
	unsigned int user_timeout = (unsigned int)dead_after_s * 1000;

	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof(user_timeout));
}

void net_tcp_bytes(int fd, uint64_t *sent, uint64_t *received)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	*sent = *received = 0;
	memset(&ti, 0, sizeof(ti));
	if (fd < 0 || getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
		return;
	*sent = ti.tcpi_bytes_acked;
	*received = ti.tcpi_bytes_received;
}

void net_new_token(char hex[2 * DATA_TOKEN_LEN + 1])
{
	unsigned char raw[DATA_TOKEN_LEN];

	if (getrandom(raw, sizeof(raw), 0) != sizeof(raw))
		abort(); /* no entropy: nothing sensible to do */
	hex_encode(raw, sizeof(raw), hex);
}

int net_data_connect(const char *host, int port, const char *token_hex, double timeout_s, char *err, size_t errlen)
{
	__do_close int fd = net_connect(host, port, timeout_s, err, errlen);
	char ack;

	if (fd < 0)
		return -1;
	if (write_full(fd, DATA_MAGIC, DATA_MAGIC_LEN) < 0 || write_full(fd, token_hex, 2 * DATA_TOKEN_LEN) < 0 ||
	    read_full(fd, &ack, 1) < 0 || ack != 'K') {
		snprintf(err, errlen, "page stream to %s:%d was refused", host, port);
		return -1;
	}
	return move_fd(fd);
}

static bool token_equal(const char *a, const char *b, size_t n)
{
	unsigned char diff = 0;

	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)a[i] ^ (unsigned char)b[i];
	return diff == 0;
}

/* A connection on the data port that has not yet said its first words. */
struct data_caller {
	int fd;
	size_t got;
	double until;
	char pre[DATA_MAGIC_LEN + 2 * DATA_TOKEN_LEN];
};

#define DATA_CALLERS_MAX 16
#define DATA_CALLER_MS 5000

static void drop_caller(struct data_caller *c, size_t *n, size_t i)
{
	close(c[i].fd);
	c[i] = c[--*n];
}

/* Reads what a caller has sent: 1 when it said the magic and the token, 0
 * when it may still, -1 when it is out (wrong words, gone, or too slow). */
static int hear_caller(struct data_caller *c, const char *token_hex)
{
	ssize_t r = read(c->fd, c->pre + c->got, sizeof(c->pre) - c->got);

	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (r <= 0)
		return -1;
	c->got += (size_t)r;
	if (c->got < sizeof(c->pre))
		return 0;
	return !memcmp(c->pre, DATA_MAGIC, DATA_MAGIC_LEN) &&
	       token_equal(c->pre + DATA_MAGIC_LEN, token_hex, 2 * DATA_TOKEN_LEN) ? 1 : -1;
}

/* Strangers are heard side by side, each for 5 s at most, so that none of
 * them holds the source back; at most DATA_CALLERS_MAX wait at once. */
int net_data_accept(int lfd, const char *token_hex, double timeout_s, char *err, size_t errlen)
{
	struct data_caller c[DATA_CALLERS_MAX];
	struct pollfd p[DATA_CALLERS_MAX + 1];
	double deadline = now_ms() + timeout_s * 1000;
	size_t n = 0;
	int winner = -1;

	while (winner < 0) {
		double now = now_ms(), wake = deadline;

		if (now >= deadline)
			break;
		for (size_t i = n; i-- > 0;)
			if (c[i].until <= now)
				drop_caller(c, &n, i);
		p[0] = (struct pollfd){ .fd = lfd, .events = n < DATA_CALLERS_MAX ? POLLIN : 0 };
		for (size_t i = 0; i < n; i++) {
			p[i + 1] = (struct pollfd){ .fd = c[i].fd, .events = POLLIN };
			wake = c[i].until < wake ? c[i].until : wake;
		}
		if (poll(p, n + 1, (int)(wake - now) + 1) < 0 && errno != EINTR)
			break;
		for (size_t i = n; i-- > 0;) {
			int heard = p[i + 1].revents ? hear_caller(&c[i], token_hex) : 0;

			if (heard > 0 && winner < 0) {
				winner = c[i].fd;
				c[i] = c[--n];
			} else if (heard < 0) {
				drop_caller(c, &n, i);
			}
		}
		if (winner < 0 && (p[0].revents & POLLIN)) {
			int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

			if (fd >= 0)
				c[n++] = (struct data_caller){ .fd = fd, .until = now_ms() + DATA_CALLER_MS };
		}
	}
	while (n > 0)
		drop_caller(c, &n, n - 1);
	if (winner < 0) {
		snprintf(err, errlen, "the source did not open its page stream within %.0f s", timeout_s);
		return -1;
	}
	fcntl(winner, F_SETFL, fcntl(winner, F_GETFL) & ~O_NONBLOCK);
	if (write_full(winner, "K", 1) < 0) {
		close(winner);
		snprintf(err, errlen, "the source hung up as its page stream opened");
		return -1;
	}
	return winner;
}

int net_addr_parse(const char *cidr, char *addr, size_t addrlen, int *prefix)
{
	const char *slash = strchr(cidr, '/');
	struct in_addr in;
	size_t n = slash ? (size_t)(slash - cidr) : strlen(cidr);
	char *end;

	if (n == 0 || n >= addrlen)
		return -1;
	memcpy(addr, cidr, n);
	addr[n] = '\0';
	if (inet_pton(AF_INET, addr, &in) != 1)
		return -1;
	*prefix = 32;
	if (slash) {
		long p = strtol(slash + 1, &end, 10);
		if (*end || end == slash + 1 || p < 1 || p > 32)
			return -1;
		*prefix = (int)p;
	}
	return 0;
}

static uint32_t mask_of(int prefix)
{
	return prefix >= 32 ? 0xffffffffu : ~(0xffffffffu >> prefix);
}

int net_iface_for(const char *addr, int prefix, bool must_hold, char *ifname, size_t len)
{
	struct ifaddrs *ifa = NULL;
	struct in_addr want;
	uint32_t w, m = mask_of(prefix);
	int found = -1;

	if (inet_pton(AF_INET, addr, &want) != 1 || getifaddrs(&ifa) < 0)
		return -1;
	w = ntohl(want.s_addr);
	for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
		uint32_t have;

		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || (i->ifa_flags & IFF_LOOPBACK))
			continue;
		have = ntohl(((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr);
		if (have == w || (!must_hold && found < 0 && (have & m) == (w & m))) {
			snprintf(ifname, len, "%s", i->ifa_name);
			found = 0;
			if (have == w)
				break;
		}
	}
	freeifaddrs(ifa);
	return found;
}

static int ip_addr(const char *verb, const char *ifname, const char *addr, int prefix)
{
	__do_free char *cidr = xasprintf("%s/%d", addr, prefix);
	char *argv[] = { "ip", "addr", (char *)verb, cidr, "dev", (char *)ifname, NULL };
	struct proc_opts o = PROC_OPTS_DEFAULT;
	struct proc_result r;
	int status;

	o.timeout_s = 10;
	if (proc_run(argv, &o, &r) < 0)
		return -1;
	status = r.status;
	proc_result_free(&r);
	return status == 0 ? 0 : -1;
}

int net_addr_add(const char *ifname, const char *addr, int prefix)
{
	return ip_addr("add", ifname, addr, prefix);
}

int net_addr_del(const char *ifname, const char *addr, int prefix)
{
	return ip_addr("del", ifname, addr, prefix);
}

static bool rule_names_addr(const char *rule, const char *addr)
{
	__do_free char *host = addr ? xasprintf(" %s/32 ", addr) : NULL;
	__do_free char *padded = xasprintf("%s ", rule);

	return !addr || strstr(padded, host) != NULL;
}

char *net_iptables_snapshot(void)
{
	char *save_argv[] = { "iptables-save", "-t", "filter", NULL };
	struct proc_opts o = PROC_OPTS_DEFAULT;
	struct proc_result res;
	char *out = NULL;

	o.timeout_s = 20;
	if (proc_run(save_argv, &o, &res) < 0)
		return NULL;
	if (res.status == 0)
		out = xstrdup(res.out);
	proc_result_free(&res);
	return out;
}

/* Is line one of the lines of text? */
static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; p && (p = strstr(p, line)); p += n)
		if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
			return true;
	return false;
}

int net_drop_criu_lock_rules(const char *addr, const char *before)
{
	__do_free char *now = net_iptables_snapshot();
	char *save;
	int dropped = 0;

	if (!now)
		return -1;
	for (char *line = strtok_r(now, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *argv[64], *tok, *tsave;
		size_t n = 0;

		if (strncmp(line, "-A ", 3) || !strstr(line, "--mark 0xc114") || !rule_names_addr(line, addr) ||
		    (before && has_line(before, line)))
			continue;
		argv[n++] = "iptables";
		argv[n++] = "-t";
		argv[n++] = "filter";
		argv[n++] = "-D";
		for (tok = strtok_r(line + 3, " ", &tsave); tok && n < ARRAY_SIZE(argv) - 1; tok = strtok_r(NULL, " ", &tsave))
			argv[n++] = tok;
		argv[n] = NULL;
		if (proc_simple(argv, 20) == 0)
			dropped++;
	}
	return dropped;
}

static int mtu_ioctl(const char *ifname, unsigned long req, int *mtu)
{
	__do_close int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr = { 0 };

	if (fd < 0 || strlen(ifname) >= IFNAMSIZ)
		return -1;
	strcpy(ifr.ifr_name, ifname);
	ifr.ifr_mtu = *mtu;
	if (ioctl(fd, req, &ifr) < 0)
		return -1;
	*mtu = ifr.ifr_mtu;
	return 0;
}

int net_get_mtu(const char *ifname)
{
	int mtu = 0;

	return mtu_ioctl(ifname, SIOCGIFMTU, &mtu) < 0 ? -1 : mtu;
}

int net_set_mtu(const char *ifname, int mtu)
{
	return mtu_ioctl(ifname, SIOCSIFMTU, &mtu);
}

struct arp_packet {
	struct ether_header eth;
	struct arphdr arp;
	unsigned char sha[ETH_ALEN], spa[4], tha[ETH_ALEN], tpa[4];
} __attribute__((packed));

int net_send_garp(const char *ifname, const char *addr, int count)
{
	__do_close int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ARP));
	struct arp_packet pkt = { 0 };
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ARP) };
	struct ifreq ifr = { 0 };
	struct in_addr ip;

	if (fd < 0 || inet_pton(AF_INET, addr, &ip) != 1 || strlen(ifname) >= IFNAMSIZ)
		return -1;
	strcpy(ifr.ifr_name, ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
		return -1;
	sll.sll_ifindex = (int)if_nametoindex(ifname);
	sll.sll_halen = ETH_ALEN;
	memset(sll.sll_addr, 0xff, ETH_ALEN);
	memset(pkt.eth.ether_dhost, 0xff, ETH_ALEN);
	memcpy(pkt.eth.ether_shost, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
	pkt.eth.ether_type = htons(ETH_P_ARP);
	pkt.arp.ar_hrd = htons(ARPHRD_ETHER);
	pkt.arp.ar_pro = htons(ETH_P_IP);
	pkt.arp.ar_hln = ETH_ALEN;
	pkt.arp.ar_pln = 4;
	/* A gratuitous request: sender and target are both the moved address. */
	pkt.arp.ar_op = htons(ARPOP_REQUEST);
	memcpy(pkt.sha, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
	memcpy(pkt.spa, &ip, 4);
	memcpy(pkt.tpa, &ip, 4);
	for (int i = 0; i < count; i++) {
		if (sendto(fd, &pkt, sizeof(pkt), 0, (struct sockaddr *)&sll, sizeof(sll)) < 0)
			return -1;
		if (i + 1 < count)
			usleep(20 * 1000);
	}
	return 0;
}
