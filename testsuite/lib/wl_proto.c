/* The pure half of the workload library: what the harness shares with the
 * workloads (addresses, the atomic status files and their parsers, the
 * datagram parser). No global state, so the runner can link it freely. */
#include "wl.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

bool wl_valid_id(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > WL_ID_MAX)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("._:-", *s))
			return false;
	return true;
}

static int parse_port(const char *s, in_port_t *port)
{
	char *end;
	long v;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 1 || v > 65535)
		return -1;
	*port = htons((in_port_t)v);
	return 0;
}

static int parse_ip(const char *host, in_port_t port, struct wl_addr *out)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)&out->ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&out->ss;

	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = port;
		out->len = sizeof(*in4);
	} else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = port;
		out->len = sizeof(*in6);
	} else {
		return -1;
	}
	out->set = true;
	return 0;
}

/* Numeric addresses only: getaddrinfo() does not work in a static binary
 * inside a container without libc's NSS modules. */
int wl_parse_addr(const char *s, bool port_required, struct wl_addr *out)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port_str = NULL, *host_start = s;
	size_t host_len;
	in_port_t port = 0;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close)
			return -1;
		host_start = s + 1;
		host_len = close - host_start;
		if (close[1] == ':')
			port_str = close + 2;
		else if (close[1])
			return -1;
	} else if (port_required) {
		const char *colon = strrchr(s, ':');

		/* An unbracketed IPv6 address cannot carry a port. */
		if (!colon || memchr(s, ':', colon - s))
			return -1;
		host_len = colon - s;
		port_str = colon + 1;
	} else {
		host_len = strlen(s);
	}
	if (host_len == 0 || host_len >= sizeof(host))
		return -1;
	if (port_required != (port_str != NULL))
		return -1;
	if (port_str && parse_port(port_str, &port) < 0)
		return -1;
	memcpy(host, host_start, host_len);
	host[host_len] = '\0';
	return parse_ip(host, port, out);
}

const char *wl_format_addr(const struct sockaddr *sa, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in4 = (const void *)sa;

		inet_ntop(AF_INET, &in4->sin_addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, ntohs(in4->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%u", ip, ntohs(in6->sin6_port));
	} else {
		snprintf(buf, len, "(family %d)", sa->sa_family);
	}
	return buf;
}

int wl_write_atomic(const char *dir, const char *name, const char *content, size_t len)
{
	char tmp[PATH_MAX], final[PATH_MAX];

	if (snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name) >= (int)sizeof(tmp) ||
	    snprintf(final, sizeof(final), "%s/%s", dir, name) >= (int)sizeof(final)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return wl_write_atomic_paths(tmp, final, content, len);
}

/* Only system calls: the SIGTERM handler writes its verdict with this. */
int wl_write_atomic_paths(const char *tmp, const char *final, const char *content, size_t len)
{
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		return -1;
	/* fsync before rename: a reader never sees the name with partial content,
	 * even if the host dies right after (the verdict is evidence). */
	if (write_full(fd, content, len) < 0 || fsync(fd) < 0) {
		close_fd(&fd);
		unlink(tmp);
		return -1;
	}
	close_fd(&fd);
	if (rename(tmp, final) < 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

static void set_reason(char *reason, size_t len, const char *what, const char *detail)
{
	if (reason && len)
		snprintf(reason, len, "%s%.200s", what, detail);
}

enum wl_verdict wl_read_verdict(const char *path, char *reason, size_t reason_len)
{
	__do_free char *text = read_file(path, NULL);
	char *nl;

	if (reason && reason_len)
		reason[0] = '\0';
	if (!text) {
		if (errno == ENOENT)
			return WL_VERDICT_NONE;
		set_reason(reason, reason_len, "cannot read verdict: ", strerror(errno));
		return WL_VERDICT_ERROR;
	}
	nl = strchr(text, '\n');
	if (!nl) {
		set_reason(reason, reason_len, "malformed verdict (no newline): ", text);
		return WL_VERDICT_ERROR;
	}
	*nl = '\0';
	if (strcmp(text, "PASS") == 0)
		return WL_VERDICT_PASS;
	if (strncmp(text, "FAIL: ", 6) == 0 && text[6]) {
		if (reason && reason_len)
			snprintf(reason, reason_len, "%s", text + 6);
		return WL_VERDICT_FAIL;
	}
	set_reason(reason, reason_len, "malformed verdict: ", text);
	return WL_VERDICT_ERROR;
}

int wl_read_verdict_note(const char *path, const char *key, char *buf, size_t len)
{
	__do_free char *text = read_file(path, NULL);
	size_t klen = strlen(key);
	char *line, *save = NULL;

	if (!text)
		return -1;
	line = strtok_r(text, "\n", &save);	/* the verdict line itself */
	while (line && (line = strtok_r(NULL, "\n", &save))) {
		if (strncmp(line, key, klen) == 0 && line[klen] == '=') {
			snprintf(buf, len, "%s", line + klen + 1);
			return 0;
		}
	}
	return -1;
}

long wl_read_ready(const char *path)
{
	__do_free char *text = read_file(path, NULL);
	char *end;
	long pid;

	if (!text || strncmp(text, "pid=", 4) != 0 || !isdigit((unsigned char)text[4]))
		return -1;
	errno = 0;
	pid = strtol(text + 4, &end, 10);
	if (errno || pid < 1 || strcmp(end, "\n") != 0)
		return -1;
	return pid;
}

/* Next space-separated field of *p (at most max chars) into out; 0 or -1. */
static int next_field(const char **p, const char *end, char *out, size_t max)
{
	const char *s = *p, *e = s;

	while (e < end && *e != ' ')
		e++;
	if (e == s || (size_t)(e - s) > max)
		return -1;
	memcpy(out, s, e - s);
	out[e - s] = '\0';
	*p = e < end ? e + 1 : e;
	return 0;
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno || *end ? -1 : 0;
}

static int parse_msg_tail(const char *kind, const char *p, const char *end, struct wl_msg *out)
{
	char f[32];
	uint64_t v;

	if (strcmp(kind, "HB") == 0) {
		out->kind = WL_MSG_HB;
		if (next_field(&p, end, f, 20) < 0 || parse_u64(f, &out->seq) < 0 ||
		    next_field(&p, end, f, 20) < 0 || parse_u64(f, &out->counter) < 0)
			return -1;
		return p == end ? 0 : -1;
	}
	if (strcmp(kind, "READY") == 0) {
		out->kind = WL_MSG_READY;
		if (next_field(&p, end, f, 10) < 0 || parse_u64(f, &v) < 0 || v < 1 || v > INT_MAX)
			return -1;
		out->pid = (long)v;
		return p == end ? 0 : -1;
	}
	if (strcmp(kind, "VERDICT") == 0) {
		out->kind = WL_MSG_VERDICT;
		if (next_field(&p, end, f, 4) < 0)
			return -1;
		out->pass = strcmp(f, "PASS") == 0;
		if (out->pass)
			return p == end ? 0 : -1;
		if (strcmp(f, "FAIL") != 0 || p == end || (size_t)(end - p) >= sizeof(out->reason))
			return -1;
		memcpy(out->reason, p, end - p);
		out->reason[end - p] = '\0';
		return 0;
	}
	return -1;
}

int wl_parse_msg(const char *buf, size_t len, struct wl_msg *out)
{
	const char *p = buf, *end = buf + len;
	char kind[8];

	memset(out, 0, sizeof(*out));
	if (len == 0 || buf[len - 1] == ' ' || memchr(buf, '\n', len) || memchr(buf, '\0', len))
		return -1;
	if (next_field(&p, end, kind, sizeof(kind) - 1) < 0 ||
	    next_field(&p, end, out->id, WL_ID_MAX) < 0 || !wl_valid_id(out->id))
		return -1;
	return parse_msg_tail(kind, p, end, out);
}
