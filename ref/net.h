/* Sockets for crmig: the control connection, the page streams handed to
 * criu (--ps-socket), byte accounting from the kernel, and moving a service
 * address from one host to the other. */
#ifndef CRMIG_NET_H
#define CRMIG_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CRMIG_DEFAULT_PORT 7077
#define DATA_MAGIC "CRMGDATA"
#define DATA_MAGIC_LEN 8
#define DATA_TOKEN_LEN 32

/* "host", "host:port", "[v6]:port" -> host and port (default_port if none). */
int net_split_hostport(const char *s, char *host, size_t hostlen, int *port, int default_port);
int net_listen(const char *addr, int port, int backlog);
int net_connect(const char *host, int port, double timeout_s, char *err, size_t errlen);
/* Accept with a timeout; -1 with errno ETIMEDOUT when nobody came. */
int net_accept_timeout(int lfd, double timeout_s);
int net_local_port(int fd);
/* Numeric addresses of the two ends of a connected socket. */
void net_local_addr(int fd, char *buf, size_t len);
void net_peer_addr(int fd, char *buf, size_t len);
/* Keepalive and a user timeout, so that a dead peer turns into an error
 * (and a criu blocked on this socket fails instead of hanging). */
void net_stream_opts(int fd, int dead_after_s);
/* Payload bytes acknowledged by the peer and received from it (TCP_INFO). */
void net_tcp_bytes(int fd, uint64_t *sent, uint64_t *received);

/* Page-stream connections: the destination issues a random token over the
 * authenticated channel; the source opens a TCP connection and presents it. */
void net_new_token(char hex[2 * DATA_TOKEN_LEN + 1]);
int net_data_connect(const char *host, int port, const char *token_hex, double timeout_s, char *err, size_t errlen);
/* Accepts on lfd until a connection presents token_hex (others are closed). */
int net_data_accept(int lfd, const char *token_hex, double timeout_s, char *err, size_t errlen);

/* Service addresses: "10.77.0.100/24". */
int net_addr_parse(const char *cidr, char *addr, size_t addrlen, int *prefix);
/* The interface that holds addr, or that has an address in the same subnet. */
int net_iface_for(const char *addr, int prefix, bool must_hold, char *ifname, size_t len);
int net_addr_add(const char *ifname, const char *addr, int prefix);
int net_addr_del(const char *ifname, const char *addr, int prefix);
/* criu's network lock for connections of a process tree (iptables rules
 * marked 0xc114) stays on the source after a successful dump: it expects a
 * restore on the same host to lift it. After a migration they only block a
 * now foreign address: remove those that name addr. Returns how many. */
/* The filter table as iptables-save prints it (malloc'ed; NULL if it cannot run). */
char *net_iptables_snapshot(void);
/* Deletes the rules criu's network lock (mark 0xc114) left naming addr (any
 * address: NULL), but none that was already there in before (a snapshot
 * taken before the freeze: another migration's lock is not ours to lift).
 * Returns how many, or -1. */
int net_drop_criu_lock_rules(const char *addr, const char *before);
int net_get_mtu(const char *ifname);             /* -1 on error */
int net_set_mtu(const char *ifname, int mtu);
/* Gratuitous ARP so that neighbours learn the address's new home now. */
int net_send_garp(const char *ifname, const char *addr, int count);

#endif
