/* The harness's heartbeat probe: a UDP sink on the lab bridge. Every
 * workload sends "HB <id> <seq> <counter>" every few ms from wherever it
 * runs; the probe stamps arrivals with its own CLOCK_MONOTONIC, so the
 * downtime of a migration is measured on one clock that neither host owns.
 *
 * Anything on the bridge can send here: datagrams are parsed with the
 * workloads' own parser (wl_parse_msg), and oversized, malformed or
 * over-limit ones are counted and dropped. Memory is bounded: at most
 * PROBE_MAX_IDS ids, PROBE_MAX_BEATS beats kept per id (the oldest half goes
 * when full: the recent past is what a migration window needs) and
 * PROBE_TOTAL_BEATS over all ids. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include "../lib/wl.h"
#include "suite.h"
#include "util.h"

#define PROBE_DGRAM_MAX 512
#define PROBE_MAX_IDS 1024
#define PROBE_MAX_BEATS 200000		/* 66 minutes at the default 20 ms */
#define PROBE_TOTAL_BEATS 4000000	/* 32 MB of timestamps */

struct probe_record {
	char id[WL_ID_MAX + 1];
	double *beats;		/* arrival times, ascending (one thread, one monotonic clock) */
	size_t n, cap;
	long total;		/* beats ever received, including dropped old ones */
	char ready[PROBE_DGRAM_MAX + 1];	/* last READY line, "" if none */
	char verdict[PROBE_DGRAM_MAX + 1];	/* last VERDICT line */
};

struct probe {
	int fd, wake_fd, port;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t changed;	/* a READY or VERDICT line arrived */
	struct probe_record **records;
	size_t nrecords;
	size_t stored;		/* beats held over all records */
	long rejected;
};

double probe_now(void)
{
	return now_ms();
}

/* ---------------------------------------------------------------- gaps */

/* Index of the first beat > t (beats ascending). */
static size_t first_after(const double *beats, size_t n, double t)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (beats[mid] <= t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Between the last beat at or before from_ms (or from_ms itself if none)
 * and the first beat at or after to_ms (or to_ms itself if none). */
double probe_gap_of(const double *beats, size_t n, double from_ms, double to_ms)
{
	size_t i;
	double prev, end, gap = 0;

	if (n == 0 || to_ms < from_ms)
		return -1;
	i = first_after(beats, n, from_ms);
	prev = i > 0 ? beats[i - 1] : from_ms;
	for (; i < n && beats[i] < to_ms; i++) {
		if (beats[i] - prev > gap)
			gap = beats[i] - prev;
		prev = beats[i];
	}
	end = i < n ? beats[i] : to_ms;
	return end - prev > gap ? end - prev : gap;
}

/* ---------------------------------------------------------------- records */

static struct probe_record *find_record(struct probe *p, const char *id)
{
	for (size_t i = 0; i < p->nrecords; i++)
		if (!strcmp(p->records[i]->id, id))
			return p->records[i];
	return NULL;
}

/* NULL when the id table is full. */
static struct probe_record *get_record(struct probe *p, const char *id)
{
	struct probe_record *r = find_record(p, id);

	if (r || p->nrecords == PROBE_MAX_IDS)
		return r;
	r = xzalloc(sizeof(*r));
	snprintf(r->id, sizeof(r->id), "%s", id);
	p->records = xrealloc(p->records, (p->nrecords + 1) * sizeof(*p->records));
	p->records[p->nrecords++] = r;
	return r;
}

static void free_record(struct probe_record *r)
{
	free(r->beats);
	free(r);
}

/* Room for one more beat: grow, or drop the oldest half at the per-id cap;
 * false at the global cap. */
static bool make_room(struct probe *p, struct probe_record *r)
{
	if (r->n == PROBE_MAX_BEATS) {
		size_t drop = r->n / 2;

		memmove(r->beats, r->beats + drop, (r->n - drop) * sizeof(*r->beats));
		r->n -= drop;
		p->stored -= drop;
	}
	if (p->stored >= PROBE_TOTAL_BEATS)
		return false;
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 256;
		if (r->cap > PROBE_MAX_BEATS)
			r->cap = PROBE_MAX_BEATS;
		r->beats = xrealloc(r->beats, r->cap * sizeof(*r->beats));
	}
	return true;
}

static void record_beat(struct probe *p, struct probe_record *r, double t)
{
	if (!make_room(p, r)) {
		p->rejected++;
		return;
	}
	r->beats[r->n++] = t;
	r->total++;
	p->stored++;
}

/* One datagram (len bytes of buf, NUL-terminated by the caller). */
static void handle_datagram(struct probe *p, const char *buf, size_t len, double t)
{
	struct probe_record *r;
	struct wl_msg msg;

	pthread_mutex_lock(&p->lock);
	if (len > PROBE_DGRAM_MAX || wl_parse_msg(buf, len, &msg) < 0 || !(r = get_record(p, msg.id))) {
		p->rejected++;
	} else if (msg.kind == WL_MSG_HB) {
		record_beat(p, r, t);
	} else {
		memcpy(msg.kind == WL_MSG_READY ? r->ready : r->verdict, buf, len + 1);
		pthread_cond_broadcast(&p->changed);
	}
	pthread_mutex_unlock(&p->lock);
}

/* ---------------------------------------------------------------- thread */

static void *probe_thread(void *arg)
{
	struct probe *p = arg;
	char buf[PROBE_DGRAM_MAX + 2];

	for (;;) {
		struct pollfd fds[2] = { { .fd = p->fd, .events = POLLIN }, { .fd = p->wake_fd, .events = POLLIN } };
		ssize_t n;

		if (poll(fds, 2, -1) < 0 && errno != EINTR)
			break;
		if (fds[1].revents)
			break;
		/* MSG_TRUNC: the real length, so that oversized datagrams are seen as such. */
		n = recv(p->fd, buf, sizeof(buf) - 1, MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0)
			continue;
		buf[(size_t)n < sizeof(buf) - 1 ? (size_t)n : sizeof(buf) - 1] = '\0';
		handle_datagram(p, buf, (size_t)n, probe_now());
	}
	return NULL;
}

/* ---------------------------------------------------------------- setup */

static int bind_udp(const char *addr, int port, int *bound_port, char *err, size_t errlen)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	__do_close int fd = -1;

	if (port < 0 || port > 65535) {
		snprintf(err, errlen, "probe: port %d out of range", port);
		return -1;
	}
	if (inet_pton(AF_INET, addr, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
		len = sizeof(*in4);
	} else if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		len = sizeof(*in6);
	} else {
		snprintf(err, errlen, "probe: '%s' is not a numeric IP address", addr);
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) < 0 || getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		snprintf(err, errlen, "probe: bind %s port %d: %s", addr, port, strerror(errno));
		return -1;
	}
	*bound_port = ntohs(ss.ss_family == AF_INET ? in4->sin_port : in6->sin6_port);
	return move_fd(fd);
}

struct probe *probe_start(const char *addr, int port, char *err, size_t errlen)
{
	struct probe *p = xzalloc(sizeof(*p));
	pthread_condattr_t ca;
	int e;

	p->fd = bind_udp(addr, port, &p->port, err, errlen);
	p->wake_fd = p->fd < 0 ? -1 : eventfd(0, EFD_CLOEXEC);
	if (p->fd < 0 || p->wake_fd < 0) {
		if (p->fd >= 0)
			snprintf(err, errlen, "probe: eventfd: %s", strerror(errno));
		close_fd(&p->fd);
		free(p);
		return NULL;
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);	/* the waits' deadlines are on probe_now()'s clock */
	pthread_cond_init(&p->changed, &ca);
	pthread_condattr_destroy(&ca);
	e = pthread_create(&p->thread, NULL, probe_thread, p);
	if (e) {
		snprintf(err, errlen, "probe: thread: %s", strerror(e));
		p->thread = pthread_self();	/* nothing to join */
		probe_stop(p);
		return NULL;
	}
	return p;
}

void probe_stop(struct probe *p)
{
	uint64_t one = 1;

	if (!p)
		return;
	if (!pthread_equal(p->thread, pthread_self())) {
		(void)!write(p->wake_fd, &one, sizeof(one));
		pthread_join(p->thread, NULL);
	}
	for (size_t i = 0; i < p->nrecords; i++)
		free_record(p->records[i]);
	free(p->records);
	close_fd(&p->fd);
	close_fd(&p->wake_fd);
	pthread_cond_destroy(&p->changed);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

int probe_port(const struct probe *p)
{
	return p->port;
}

/* ---------------------------------------------------------------- queries */

long probe_rejected(struct probe *p)
{
	long n;

	pthread_mutex_lock(&p->lock);
	n = p->rejected;
	pthread_mutex_unlock(&p->lock);
	return n;
}

double probe_max_gap(struct probe *p, const char *id, double from_ms, double to_ms)
{
	struct probe_record *r;
	double gap = -1;

	pthread_mutex_lock(&p->lock);
	r = find_record(p, id);
	if (r)
		gap = probe_gap_of(r->beats, r->n, from_ms, to_ms);
	pthread_mutex_unlock(&p->lock);
	return gap;
}

long probe_beats(struct probe *p, const char *id)
{
	struct probe_record *r;
	long n;

	pthread_mutex_lock(&p->lock);
	r = find_record(p, id);
	n = r ? r->total : 0;
	pthread_mutex_unlock(&p->lock);
	return n;
}

static const char *line_of(const struct probe_record *r, const char *kind)
{
	if (!r)
		return NULL;
	if (!strcmp(kind, "READY"))
		return r->ready[0] ? r->ready : NULL;
	if (!strcmp(kind, "VERDICT"))
		return r->verdict[0] ? r->verdict : NULL;
	return NULL;
}

static void deadline_after(double timeout_s, struct timespec *ts)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	if (timeout_s < 0)
		timeout_s = 0;
	if (timeout_s > 1e6)
		timeout_s = 1e6;
	ts->tv_sec += (time_t)timeout_s;
	ts->tv_nsec += (long)((timeout_s - (time_t)timeout_s) * 1e9);
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

bool probe_wait_line(struct probe *p, const char *id, const char *kind, double timeout_s, char *line, size_t len)
{
	struct timespec deadline;
	const char *found;
	int e = 0;

	if (strcmp(kind, "READY") != 0 && strcmp(kind, "VERDICT") != 0)
		return false;
	deadline_after(timeout_s, &deadline);
	pthread_mutex_lock(&p->lock);
	while (!(found = line_of(find_record(p, id), kind)) && e != ETIMEDOUT)
		e = pthread_cond_timedwait(&p->changed, &p->lock, &deadline);
	if (found && line && len)
		snprintf(line, len, "%s", found);
	pthread_mutex_unlock(&p->lock);
	return found != NULL;
}

void probe_forget(struct probe *p, const char *id)
{
	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; i < p->nrecords; i++) {
		if (strcmp(p->records[i]->id, id) != 0)
			continue;
		p->stored -= p->records[i]->n;
		free_record(p->records[i]);
		p->records[i] = p->records[--p->nrecords];
		break;
	}
	pthread_mutex_unlock(&p->lock);
}
