/* Real key-value services from Debian packages (redis-server, memcached),
 * one row each: how the `service` workload starts one, and a small client of
 * its own wire protocol that the harness keeps connected through the
 * migration. The replies are a server's: parsed with bounded buffers, every
 * read under a deadline, anything unexpected an error that says what came. */
#ifndef CRMIG_KV_H
#define CRMIG_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KV_REASON_MAX 256

struct kv_conn {
	int fd;
	char buf[65536];          /* received, not yet consumed: buf[off..len) */
	size_t off, len;
	int timeout_ms;           /* per reply */
	char err[KV_REASON_MAX];
};

struct kv_service {
	const char *name;         /* the `service` workload's --service NAME */
	const char *binary;       /* from its Debian package */
	int port;                 /* default port (not the service's usual one: a host's own instance may hold that) */
	/* argv for a foreground server on addr:port keeping nothing on disk; dir for its log. */
	int (*argv)(char **argv, size_t max, char *store, size_t storelen, const char *addr, int port, const char *dir);
	int (*set)(struct kv_conn *c, const char *key, const char *val);          /* 0: acknowledged */
	int (*get)(struct kv_conn *c, const char *key, char *val, size_t len);    /* 0 found, 1 absent, -1 */
	int (*del)(struct kv_conn *c, const char *key);                           /* 0 gone (or absent) */
	int (*ping)(struct kv_conn *c);                                           /* 0: it answers */
	/* The service's own view of its data: a digest (redis DEBUG DIGEST) or, where it has none, its item count. */
	int (*digest)(struct kv_conn *c, char *out, size_t len);
	/* The server's id of this connection (redis CLIENT ID); -1 where the protocol has none. */
	long long (*conn_id)(struct kv_conn *c);
};

const struct kv_service *kv_service(const char *name);    /* NULL if unknown */
const char *kv_service_names(void);                       /* "redis, memcached" */

/* Connect to addr:port (IPv4 dotted quad) within timeout_ms; 0 or -1 with c->err. */
int kv_connect(struct kv_conn *c, const char *addr, int port, int timeout_ms);
void kv_close(struct kv_conn *c);

/* Protocol pieces (exported for the unit tests, which feed them a socketpair). */
int kv_send(struct kv_conn *c, const char *data, size_t len);
/* One line without its CRLF into line (NUL-terminated); -1 on timeout, EOF, or a line longer than len-1. */
int kv_read_line(struct kv_conn *c, char *line, size_t len);
/* Exactly n bytes, then CRLF. */
int kv_read_block(struct kv_conn *c, char *out, size_t n);

#endif
