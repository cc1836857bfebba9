/* See kv.h. Two services, two protocols: redis's RESP and memcached's text
 * protocol, only the commands the suite needs. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "kv.h"

#define KV_VALUE_MAX 4096
#define KV_KEY_MAX 200

static int kv_fail(struct kv_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int kv_fail(struct kv_conn *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	return -1;
}

static long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* What a server said, shown safely in an error. */
static const char *shown(const char *s, char *buf, size_t len)
{
	size_t i = 0;

	for (; s[i] && i + 1 < len && i < 60; i++)
		buf[i] = (unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e ? '?' : s[i];
	buf[i] = '\0';
	return buf;
}

int kv_connect(struct kv_conn *c, const char *addr, int port, int timeout_ms)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	long deadline = mono_ms() + timeout_ms;
	int one = 1;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->timeout_ms = 30000;
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
		return kv_fail(c, "'%s' is not an IPv4 address", addr);
	do {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			return kv_fail(c, "socket: %s", strerror(errno));
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			c->fd = fd;
			return 0;
		}
		snprintf(c->err, sizeof(c->err), "connect %s:%d: %s", addr, port, strerror(errno));
		close(fd);
		usleep(100 * 1000);
	} while (mono_ms() < deadline);
	return -1;
}

void kv_close(struct kv_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

int kv_send(struct kv_conn *c, const char *data, size_t len)
{
	while (len) {
		ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return kv_fail(c, "send: %s", n < 0 ? strerror(errno) : "nothing sent");
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* More bytes into buf, waiting until the deadline. */
static int fill(struct kv_conn *c, long deadline)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	ssize_t n;
	int left;

	if (c->off == c->len)
		c->off = c->len = 0;
	if (c->len == sizeof(c->buf)) {
		if (!c->off)
			return kv_fail(c, "a reply larger than %zu bytes", sizeof(c->buf));
		memmove(c->buf, c->buf + c->off, c->len - c->off);
		c->len -= c->off;
		c->off = 0;
	}
	for (;;) {
		left = (int)(deadline - mono_ms());
		if (left <= 0)
			return kv_fail(c, "no reply within %d ms", c->timeout_ms);
		n = poll(&p, 1, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			continue;
		n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			return kv_fail(c, "the server closed the connection");
		if (n < 0)
			return kv_fail(c, "recv: %s", strerror(errno));
		c->len += (size_t)n;
		return 0;
	}
}

int kv_read_line(struct kv_conn *c, char *line, size_t len)
{
	long deadline = mono_ms() + c->timeout_ms;

	for (;;) {
		char *nl = memchr(c->buf + c->off, '\n', c->len - c->off);

		if (nl) {
			size_t n = (size_t)(nl - (c->buf + c->off));

			if (n && nl[-1] == '\r')
				n--;
			if (n >= len)
				return kv_fail(c, "a reply line longer than %zu bytes", len - 1);
			memcpy(line, c->buf + c->off, n);
			line[n] = '\0';
			if (memchr(line, '\0', n))
				return kv_fail(c, "a NUL byte in a reply line");
			c->off = (size_t)(nl - c->buf) + 1;
			return 0;
		}
		if (c->len - c->off >= len + 2)
			return kv_fail(c, "a reply line longer than %zu bytes", len - 1);
		if (fill(c, deadline) < 0)
			return -1;
	}
}

int kv_read_block(struct kv_conn *c, char *out, size_t n)
{
	long deadline = mono_ms() + c->timeout_ms;

	while (c->len - c->off < n + 2)
		if (fill(c, deadline) < 0)
			return -1;
	memcpy(out, c->buf + c->off, n);
	if (c->buf[c->off + n] != '\r' || c->buf[c->off + n + 1] != '\n')
		return kv_fail(c, "a value not followed by CRLF");
	c->off += n + 2;
	return 0;
}

static bool plain_key(const char *key)
{
	size_t n = strlen(key);

	if (!n || n > KV_KEY_MAX)
		return false;
	for (; *key; key++)
		if (*key <= ' ' || *key > '~')
			return false;
	return true;
}

/* ---- redis: RESP ---------------------------------------------------------- */

static int resp_cmd(struct kv_conn *c, int argc, const char *const *argv)
{
	char head[64];
	int n = snprintf(head, sizeof(head), "*%d\r\n", argc);

	if (kv_send(c, head, (size_t)n) < 0)
		return -1;
	for (int i = 0; i < argc; i++) {
		n = snprintf(head, sizeof(head), "$%zu\r\n", strlen(argv[i]));
		if (kv_send(c, head, (size_t)n) < 0 || kv_send(c, argv[i], strlen(argv[i])) < 0 || kv_send(c, "\r\n", 2) < 0)
			return -1;
	}
	return 0;
}

/* A simple-string, integer or error reply into line; -1 on an error reply. */
static int resp_line(struct kv_conn *c, char *line, size_t len, char want)
{
	char s[80];

	if (kv_read_line(c, line, len) < 0)
		return -1;
	if (line[0] != want)
		return kv_fail(c, "redis said '%s'", shown(line, s, sizeof(s)));
	return 0;
}

static int redis_set(struct kv_conn *c, const char *key, const char *val)
{
	char line[128];

	if (!plain_key(key) || resp_cmd(c, 3, (const char *const[]){ "SET", key, val }) < 0 ||
	    resp_line(c, line, sizeof(line), '+') < 0)
		return -1;
	return strcmp(line, "+OK") ? kv_fail(c, "SET %s: redis said '%.60s'", key, line) : 0;
}

static int redis_get(struct kv_conn *c, const char *key, char *val, size_t len)
{
	char line[64], s[80];
	long n;
	char *end;

	if (!plain_key(key) || resp_cmd(c, 2, (const char *const[]){ "GET", key }) < 0 || kv_read_line(c, line, sizeof(line)) < 0)
		return -1;
	if (!strcmp(line, "$-1"))
		return 1;
	n = line[0] == '$' ? strtol(line + 1, &end, 10) : -1;
	if (line[0] != '$' || *end || n < 0 || (size_t)n >= len || n > KV_VALUE_MAX)
		return kv_fail(c, "GET %s: redis said '%s'", key, shown(line, s, sizeof(s)));
	if (kv_read_block(c, val, (size_t)n) < 0)
		return -1;
	val[n] = '\0';
	return 0;
}

static int redis_del(struct kv_conn *c, const char *key)
{
	char line[64];

	return !plain_key(key) || resp_cmd(c, 2, (const char *const[]){ "DEL", key }) < 0 ||
			       resp_line(c, line, sizeof(line), ':') < 0
		       ? -1
		       : 0;
}

static int redis_ping(struct kv_conn *c)
{
	char line[64];

	if (resp_cmd(c, 1, (const char *const[]){ "PING" }) < 0 || resp_line(c, line, sizeof(line), '+') < 0)
		return -1;
	return strcmp(line, "+PONG") ? kv_fail(c, "PING: redis said '%.40s'", line) : 0;
}

static int redis_digest(struct kv_conn *c, char *out, size_t len)
{
	char line[128];

	if (resp_cmd(c, 2, (const char *const[]){ "DEBUG", "DIGEST" }) < 0 || resp_line(c, line, sizeof(line), '+') < 0)
		return -1;
	if (strlen(line + 1) != 40 || strspn(line + 1, "0123456789abcdef") != 40)
		return kv_fail(c, "DEBUG DIGEST: not a digest: '%.60s'", line);
	snprintf(out, len, "digest=%s", line + 1);
	return 0;
}

static long long redis_conn_id(struct kv_conn *c)
{
	char line[64], *end;
	long long id;

	if (resp_cmd(c, 2, (const char *const[]){ "CLIENT", "ID" }) < 0 || resp_line(c, line, sizeof(line), ':') < 0)
		return -1;
	id = strtoll(line + 1, &end, 10);
	return *end || id < 0 ? kv_fail(c, "CLIENT ID: '%.40s'", line) : id;
}

static int redis_argv(char **argv, size_t max, char *store, size_t storelen, const char *addr, int port,
		      const char *dir)
{
	int n = snprintf(store, storelen, "redis-server%c--port%c%d%c--bind%c%s%c--save%c%c--appendonly%cno%c"
			 "--daemonize%cno%c--protected-mode%cno%c--enable-debug-command%cyes%c--dir%c%s%c--logfile%c"
			 "%s/service.log",
			 0, 0, port, 0, 0, addr, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, dir, 0, 0, dir);
	size_t argc = 0;

	if (n < 0 || (size_t)n >= storelen)
		return -1;
	for (char *p = store; p < store + n + 1 && argc + 1 < max; p += strlen(p) + 1)
		argv[argc++] = p;
	argv[argc] = NULL;
	return (int)argc;
}

/* ---- memcached: the text protocol ----------------------------------------- */

static int mc_set(struct kv_conn *c, const char *key, const char *val)
{
	char head[KV_KEY_MAX + 64], line[128];
	int n;

	if (!plain_key(key))
		return kv_fail(c, "bad key");
	n = snprintf(head, sizeof(head), "set %s 0 0 %zu\r\n", key, strlen(val));
	if (kv_send(c, head, (size_t)n) < 0 || kv_send(c, val, strlen(val)) < 0 || kv_send(c, "\r\n", 2) < 0 ||
	    kv_read_line(c, line, sizeof(line)) < 0)
		return -1;
	return strcmp(line, "STORED") ? kv_fail(c, "set %s: memcached said '%.60s'", key, line) : 0;
}

static int mc_get(struct kv_conn *c, const char *key, char *val, size_t len)
{
	char head[KV_KEY_MAX + 16], line[KV_KEY_MAX + 64], name[KV_KEY_MAX + 1], s[80];
	unsigned flags;
	size_t n;
	int k;

	if (!plain_key(key))
		return kv_fail(c, "bad key");
	k = snprintf(head, sizeof(head), "get %s\r\n", key);
	if (kv_send(c, head, (size_t)k) < 0 || kv_read_line(c, line, sizeof(line)) < 0)
		return -1;
	if (!strcmp(line, "END"))
		return 1;
	if (sscanf(line, "VALUE %200s %u %zu", name, &flags, &n) != 3 || strcmp(name, key) || n >= len ||
	    n > KV_VALUE_MAX)
		return kv_fail(c, "get %s: memcached said '%s'", key, shown(line, s, sizeof(s)));
	if (kv_read_block(c, val, n) < 0 || kv_read_line(c, line, sizeof(line)) < 0)
		return -1;
	val[n] = '\0';
	return strcmp(line, "END") ? kv_fail(c, "get %s: no END after the value", key) : 0;
}

static int mc_del(struct kv_conn *c, const char *key)
{
	char head[KV_KEY_MAX + 16], line[64];
	int n;

	if (!plain_key(key))
		return kv_fail(c, "bad key");
	n = snprintf(head, sizeof(head), "delete %s\r\n", key);
	if (kv_send(c, head, (size_t)n) < 0 || kv_read_line(c, line, sizeof(line)) < 0)
		return -1;
	return strcmp(line, "DELETED") && strcmp(line, "NOT_FOUND") ? kv_fail(c, "delete: '%.40s'", line) : 0;
}

static int mc_ping(struct kv_conn *c)
{
	char line[128];

	if (kv_send(c, "version\r\n", 9) < 0 || kv_read_line(c, line, sizeof(line)) < 0)
		return -1;
	return strncmp(line, "VERSION ", 8) ? kv_fail(c, "version: memcached said '%.40s'", line) : 0;
}

/* memcached has no digest: its own count of items stands in. */
static int mc_digest(struct kv_conn *c, char *out, size_t len)
{
	char line[256];
	long long items = -1;

	if (kv_send(c, "stats\r\n", 7) < 0)
		return -1;
	for (int i = 0; i < 200; i++) {
		if (kv_read_line(c, line, sizeof(line)) < 0)
			return -1;
		if (!strcmp(line, "END"))
			break;
		sscanf(line, "STAT curr_items %lld", &items);
	}
	if (items < 0)
		return kv_fail(c, "stats: no curr_items");
	snprintf(out, len, "curr_items=%lld", items);
	return 0;
}

static long long mc_conn_id(struct kv_conn *c)
{
	(void)c;
	return -1;
}

static int mc_argv(char **argv, size_t max, char *store, size_t storelen, const char *addr, int port, const char *dir)
{
	int n = snprintf(store, storelen, "memcached%c-p%c%d%c-U%c0%c-l%c%s%c-u%croot%c-m%c64%c-t%c2", 0, 0, port, 0, 0,
			 0, 0, addr, 0, 0, 0, 0, 0, 0);
	size_t argc = 0;

	(void)dir;
	if (n < 0 || (size_t)n >= storelen)
		return -1;
	for (char *p = store; p < store + n + 1 && argc + 1 < max; p += strlen(p) + 1)
		argv[argc++] = p;
	argv[argc] = NULL;
	return (int)argc;
}

static const struct kv_service services[] = {
	{ "redis", "/usr/bin/redis-server", 7601, redis_argv, redis_set, redis_get, redis_del, redis_ping, redis_digest,
	  redis_conn_id },
	{ "memcached", "/usr/bin/memcached", 7602, mc_argv, mc_set, mc_get, mc_del, mc_ping, mc_digest, mc_conn_id },
};

const struct kv_service *kv_service(const char *name)
{
	for (size_t i = 0; name && i < sizeof(services) / sizeof(services[0]); i++)
		if (!strcmp(services[i].name, name))
			return &services[i];
	return NULL;
}

const char *kv_service_names(void)
{
	return "redis, memcached";
}
