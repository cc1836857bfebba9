/* crmig gui's HTTP layer, over real sockets against gui_http_start() on a
 * free loopback port: routes, headers and CSP, the token, Host and Origin
 * refusals, actions (POST of JSON, token header), the event stream's framing
 * and its replay after a reconnect (Last-Event-ID), a late cancel refused,
 * bad and oversized requests answered with a 4xx and the server still up. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gui.h"
#include "proto.h"
#include "util.h"
#include "unit.h"

#define TOKEN "0123456789abcdef0123456789abcdef"

static struct gui_state *st;
static struct gui_http *http;
static int port;
static int cancels, migrates;

/* ---- a fake backend: records what it was asked ----------------------------- */

static int fake_migrate(void *ctx, json_t *req, const char *id, char *err, size_t errlen, int *status)
{
	(void)ctx, (void)req, (void)id, (void)err, (void)errlen, (void)status;
	migrates++;
	return 0;
}

static int fake_cancel(void *ctx, const char *id, char *err, size_t errlen)
{
	(void)ctx, (void)id, (void)err, (void)errlen;
	cancels++;
	return 0;
}

static int preflights;

/* The host answers at once, as the replay does: a fresh check. */
static int fake_preflight(void *ctx, const char *host, char *err, size_t errlen)
{
	(void)ctx, (void)err, (void)errlen;
	preflights++;
	gui_host_update(st, host, NULL, json_pack("{s:{s:b}}", "strategies", "stop", 1), NULL);
	return 0;
}

static json_t *check_all(bool post)
{
	return json_pack("{s:{s:b, s:b, s:b, s:b}, s:{s:s}}", "strategies", "stop", 1, "pre", 1, "post", post, "hybrid", 0,
			 "why_disabled", "hybrid", "no userfaultfd (uffd-noncoop)");
}

static void setup(void)
{
	char err[256];

	st = gui_state_new(64);
	st->backend = (struct gui_backend){ .migrate = fake_migrate, .cancel = fake_cancel, .preflight = fake_preflight };
	gui_host_update(st, "a", "10.0.0.1", check_all(true), NULL);
	gui_host_update(st, "b", "10.0.0.2", check_all(false), NULL);
	gui_tree_update(st, "a", json_pack("[{s:i, s:i, s:s, s:b, s:n, s:{s:i}}, {s:i, s:i, s:s, s:b, s:s, s:n}]", "pid",
					   601, "ppid", 1, "name", "memory", "migratable", 1, "why_not", "target", "pid",
					   601, "pid", 2, "ppid", 0, "name", "kthreadd", "migratable", 0, "why_not",
					   "kernel thread", "target"));
	gui_tree_update(st, "b", json_array());
	http = gui_http_start(st, &(struct gui_http_opts){ .listen = "127.0.0.1:0", .token = TOKEN }, &port, err,
			      sizeof(err));
	ck_assert_msg(http, "%s", err);
	ck_assert_int_gt(port, 0);
	cancels = migrates = preflights = 0;
}

static void teardown(void)
{
	gui_http_stop(http);
	gui_state_free(st);
}

/* ---- raw HTTP -------------------------------------------------------------- */

static int dial(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Reads more after `have` (freed; NULL: nothing yet) until the peer closes
 * or `until` shows up in what came after `from` (NULL: close), 5 s at most. */
static char *read_more(int fd, char *have, size_t from, const char *until)
{
	size_t len = have ? strlen(have) : 0, cap = 65536 + len;
	char *buf = xmalloc(cap + 1);
	double end = now_ms() + 5000;

	memcpy(buf, have ? have : "", len + 1);
	free(have);
	while (now_ms() < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (until && strstr(buf + from, until))
			break;
		if (poll(&p, 1, 100) <= 0)
			continue;
		if (len == cap)
			buf = xrealloc(buf, (cap *= 2) + 1);
		n = read(fd, buf + len, cap - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
	}
	return buf;
}

static char *read_some(int fd, const char *until)
{
	return read_more(fd, NULL, 0, until);
}

/* One request (Connection: close); returns the whole response. */
static char *req(const char *method, const char *path, const char *headers, const char *body)
{
	int fd = dial();
	__do_free char *clen = body ? xasprintf("Content-Length: %zu\r\n", strlen(body)) : NULL;
	char *r = xasprintf("%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n%s%s\r\n%s", method, path, port,
			    headers ? headers : "", clen ? clen : "", body ? body : "");
	char *resp;

	ck_assert_int_eq(write_full(fd, r, strlen(r)), 0);
	free(r);
	resp = read_some(fd, NULL);
	close(fd);
	return resp;
}

static int status_of(const char *resp)
{
	int s = 0;

	sscanf(resp, "HTTP/1.%*d %d", &s);
	return s;
}

static const char *body_of(const char *resp)
{
	const char *b = strstr(resp, "\r\n\r\n");

	return b ? b + 4 : "";
}

#define COOKIE "Cookie: crmig_token=" TOKEN "\r\n"
#define ACTION_HDRS(origin) "X-Crmig-Token: " TOKEN "\r\nContent-Type: application/json\r\nOrigin: " origin "\r\n"

static char *origin(void)
{
	return xasprintf("Origin: http://127.0.0.1:%d\r\n", port);
}

static char *post_action(const char *path, const char *body)
{
	__do_free char *o = origin();
	__do_free char *h = xasprintf("X-Crmig-Token: %s\r\nContent-Type: application/json\r\n%s", TOKEN, o);

	return req("POST", path, h, body);
}

/* ---- tests ----------------------------------------------------------------- */

START_TEST(test_routes_and_headers)
{
	__do_free char *page = req("GET", "/?token=" TOKEN, NULL, NULL);
	__do_free char *js = req("GET", "/gui.js", NULL, NULL);
	__do_free char *css = req("GET", "/gui.css", NULL, NULL);
	__do_free char *none = req("GET", "/etc/passwd", COOKIE, NULL);
	__do_free char *state = req("GET", "/api/state", COOKIE, NULL);
	__do_free char *again = req("GET", "/", COOKIE, NULL);

	ck_assert_int_eq(status_of(page), 200);
	ck_assert_ptr_nonnull(strstr(page, "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'"));
	ck_assert_ptr_nonnull(strstr(page, "frame-ancestors 'none'"));
	ck_assert_ptr_nonnull(strstr(page, "X-Content-Type-Options: nosniff"));
	ck_assert_ptr_nonnull(strstr(page, "Set-Cookie: crmig_token=" TOKEN "; Path=/; HttpOnly; SameSite=Strict"));
	ck_assert_ptr_nonnull(strstr(page, "<meta name=\"crmig-token\" content=\"" TOKEN "\">"));
	/* the page loads its style and script as files: no inline code for the CSP to allow */
	ck_assert_ptr_nonnull(strstr(page, "<script src=\"/gui.js\""));
	ck_assert_ptr_null(strstr(body_of(page), "<style"));
	ck_assert_ptr_null(strstr(body_of(page), "style=\""));
	ck_assert_int_eq(status_of(js), 200);
	ck_assert_ptr_nonnull(strstr(js, "Content-Type: text/javascript"));
	ck_assert_int_eq(status_of(css), 200);
	ck_assert_ptr_nonnull(strstr(css, "Content-Type: text/css"));
	ck_assert_int_eq(status_of(none), 404);
	ck_assert_ptr_nonnull(strstr(body_of(none), "\"error\""));
	ck_assert_int_eq(status_of(state), 200);
	ck_assert_ptr_nonnull(strstr(body_of(state), "\"hosts\""));
	ck_assert_int_eq(status_of(again), 200);
}
END_TEST

START_TEST(test_token_host_origin_refusals)
{
	__do_free char *no_token = req("GET", "/", NULL, NULL);
	__do_free char *bad_token = req("GET", "/?token=ffffffffffffffffffffffffffffffff", NULL, NULL);
	__do_free char *short_token = req("GET", "/?token=0123", NULL, NULL);
	__do_free char *events = req("GET", "/events", NULL, NULL);
	__do_free char *state = req("GET", "/api/state", "Cookie: crmig_token=nope\r\n", NULL);
	__do_free char *evil_origin = req("GET", "/api/state", COOKIE "Origin: http://evil.example\r\n", NULL);
	int fd = dial();
	const char *rebind = "GET /?token=" TOKEN " HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n";
	__do_free char *rebound = NULL;

	ck_assert_int_eq(status_of(no_token), 403);
	ck_assert_ptr_nonnull(strstr(no_token, "open the URL crmig gui printed"));
	ck_assert_int_eq(status_of(bad_token), 403);
	ck_assert_int_eq(status_of(short_token), 403);
	ck_assert_int_eq(status_of(events), 403);
	ck_assert_int_eq(status_of(state), 403);
	ck_assert_int_eq(status_of(evil_origin), 403);
	/* DNS rebinding: the right token but another Host */
	ck_assert_int_eq(write_full(fd, rebind, strlen(rebind)), 0);
	rebound = read_some(fd, NULL);
	close(fd);
	ck_assert_int_eq(status_of(rebound), 403);
	ck_assert_ptr_nonnull(strstr(rebound, "DNS rebinding"));
	ck_assert_ptr_null(strstr(rebound, "Set-Cookie"));
}
END_TEST

START_TEST(test_actions_need_post_json_token_origin)
{
	const char *body = "{\"from\":\"a\",\"to\":\"b\",\"strategy\":\"stop\",\"target\":{\"pid\":601}}";
	__do_free char *o = origin();
	__do_free char *h_cookie_only = xasprintf(COOKIE "Content-Type: application/json\r\n%s", o);
	__do_free char *h_no_origin = xasprintf("X-Crmig-Token: %s\r\nContent-Type: application/json\r\n", TOKEN);
	__do_free char *h_evil = xasprintf(ACTION_HDRS("http://evil.example"));
	__do_free char *h_form = xasprintf("X-Crmig-Token: %s\r\nContent-Type: text/plain\r\n%s", TOKEN, o);
	__do_free char *get = req("GET", "/api/migrate", COOKIE, NULL);
	__do_free char *cookie_only = req("POST", "/api/migrate", h_cookie_only, body);
	__do_free char *no_origin = req("POST", "/api/migrate", h_no_origin, body);
	__do_free char *evil = req("POST", "/api/migrate", h_evil, body);
	__do_free char *form = req("POST", "/api/migrate", h_form, body);
	__do_free char *put = req("PUT", "/", COOKIE, "x");
	__do_free char *post_page = req("POST", "/", COOKIE, "x");

	ck_assert_int_eq(status_of(get), 405);
	ck_assert_int_eq(status_of(cookie_only), 403); /* a cross-site form carries the cookie, never the header */
	ck_assert_int_eq(status_of(no_origin), 403);
	ck_assert_int_eq(status_of(evil), 403);
	ck_assert_int_eq(status_of(form), 415);
	ck_assert_int_eq(status_of(put), 501);
	ck_assert_int_eq(status_of(post_page), 405);
	ck_assert_int_eq(migrates, 0);
}
END_TEST

START_TEST(test_migrate_validation)
{
	__do_free char *not_json = post_action("/api/migrate", "{nope");
	__do_free char *array = post_action("/api/migrate", "[1,2]");
	__do_free char *dup = post_action("/api/migrate", "{\"from\":\"a\",\"from\":\"b\"}");
	__do_free char *same = post_action("/api/migrate", "{\"from\":\"a\",\"to\":\"a\",\"strategy\":\"stop\",\"target\":{\"pid\":601}}");
	__do_free char *strat = post_action("/api/migrate", "{\"from\":\"a\",\"to\":\"b\",\"strategy\":\"teleport\",\"target\":{\"pid\":601}}");
	__do_free char *pid1 = post_action("/api/migrate", "{\"from\":\"a\",\"to\":\"b\",\"strategy\":\"stop\",\"target\":{\"pid\":1}}");
	__do_free char *lxc = post_action("/api/migrate", "{\"from\":\"a\",\"to\":\"b\",\"strategy\":\"stop\",\"target\":{\"lxc\":\"x;rm -rf /\"}}");
	__do_free char *kthread = post_action("/api/migrate", "{\"from\":\"a\",\"to\":\"b\",\"strategy\":\"stop\",\"target\":{\"pid\":2}}");
	__do_free char *gone = post_action("/api/migrate", "{\"from\":\"a\",\"to\":\"b\",\"strategy\":\"stop\",\"target\":{\"pid\":4242}}");
	__do_free char *nohost = post_action("/api/migrate", "{\"from\":\"a\",\"to\":\"z\",\"strategy\":\"stop\",\"target\":{\"pid\":601}}");
	__do_free char *post_b = post_action("/api/migrate", "{\"from\":\"a\",\"to\":\"b\",\"strategy\":\"post\",\"target\":{\"pid\":601}}");
	__do_free char *badip = post_action("/api/migrate", "{\"from\":\"a\",\"to\":\"b\",\"strategy\":\"stop\",\"target\":{\"pid\":601},\"options\":{\"move_ip\":\"10.0.0.300\"}}");

	ck_assert_int_eq(status_of(not_json), 400);
	ck_assert_ptr_nonnull(strstr(not_json, "not a JSON object"));
	ck_assert_int_eq(status_of(array), 400);
	ck_assert_int_eq(status_of(dup), 400);
	ck_assert_int_eq(status_of(same), 400);
	ck_assert_int_eq(status_of(strat), 400);
	ck_assert_int_eq(status_of(pid1), 400);
	ck_assert_int_eq(status_of(lxc), 400);
	ck_assert_int_eq(status_of(kthread), 409);
	ck_assert_ptr_nonnull(strstr(kthread, "kernel thread"));
	ck_assert_int_eq(status_of(gone), 409);
	ck_assert_int_eq(status_of(nohost), 404);
	/* b's check says no post-copy: the reason is the host's */
	ck_assert_int_eq(status_of(post_b), 409);
	ck_assert_ptr_nonnull(strstr(post_b, "host b"));
	ck_assert_int_eq(status_of(badip), 400);
	ck_assert_int_eq(migrates, 0);
}
END_TEST

START_TEST(test_cancel_before_and_after_handover)
{
	const char *body = "{\"from\":\"a\",\"to\":\"b\",\"strategy\":\"stop\",\"target\":{\"pid\":601}}";
	__do_free char *ok = post_action("/api/migrate", body);
	__do_free char *busy = post_action("/api/migrate", body);
	__do_free char *cancel1 = NULL, *late = NULL, *unknown = NULL, *done = NULL;

	ck_assert_int_eq(status_of(ok), 202);
	ck_assert_ptr_nonnull(strstr(body_of(ok), "\"id\":\"m1\""));
	ck_assert_int_eq(migrates, 1);
	ck_assert_int_eq(status_of(busy), 409); /* one at a time */
	cancel1 = post_action("/api/cancel", "{\"id\":\"m1\"}");
	ck_assert_int_eq(status_of(cancel1), 202);
	ck_assert_int_eq(cancels, 1);
	/* crmig says it handed over: from now on a cancel is refused, the backend never asked */
	gui_mig_event(st, "m1", json_pack("{s:s, s:f}", "event", "handover", "t_ms", 1010.0));
	late = post_action("/api/cancel", "{\"id\":\"m1\"}");
	ck_assert_int_eq(status_of(late), 409);
	ck_assert_ptr_nonnull(strstr(late, "too late to cancel"));
	ck_assert_ptr_nonnull(strstr(late, "1010 ms"));
	ck_assert_int_eq(cancels, 1);
	unknown = post_action("/api/cancel", "{\"id\":\"m9\"}");
	ck_assert_int_eq(status_of(unknown), 404);
	gui_mig_event(st, "m1", json_pack("{s:s, s:f, s:{s:s, s:f}}", "event", "result", "t_ms", 2000.0, "report",
					  "result", "ok", "downtime_ms", 1050.0));
	done = post_action("/api/cancel", "{\"id\":\"m1\"}");
	ck_assert_int_eq(status_of(done), 409);
	ck_assert_ptr_nonnull(strstr(done, "already finished"));
}
END_TEST

/* The preflight: both hosts asked again; the reply holds their check_seq
 * before it (the page waits for a higher one); bad pairs are refused. */
START_TEST(test_preflight)
{
	__do_free char *ok = post_action("/api/preflight", "{\"from\":\"a\",\"to\":\"b\"}");
	__do_free char *same = post_action("/api/preflight", "{\"from\":\"a\",\"to\":\"a\"}");
	__do_free char *unknown = post_action("/api/preflight", "{\"from\":\"a\",\"to\":\"z\"}");
	json_t *snap, *h;
	size_t i;

	ck_assert_int_eq(status_of(ok), 202);
	ck_assert_ptr_nonnull(strstr(body_of(ok), "\"check_seq\":{\"a\":1,\"b\":1}"));
	ck_assert_int_eq(preflights, 2);
	ck_assert_int_eq(status_of(same), 400);
	ck_assert_int_eq(status_of(unknown), 404);
	ck_assert_int_eq(preflights, 2);
	snap = gui_snapshot(st);
	json_array_foreach(json_object_get(snap, "hosts"), i, h)
		ck_assert_int_eq(json_integer_value(json_object_get(h, "check_seq")), 2);
	json_decref(snap);
}
END_TEST

/* Reads SSE frames until n "id: " lines came after `from`. */
static char *sse_open(const char *last_id, int *fd_out)
{
	/* everything up to the first frame after the retry line */
	int fd = dial();
	__do_free char *r = xasprintf("GET /events HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" COOKIE "%s%s%s\r\n", port,
				      last_id ? "Last-Event-ID: " : "", last_id ? last_id : "", last_id ? "\r\n" : "");

	ck_assert_int_eq(write_full(fd, r, strlen(r)), 0);
	*fd_out = fd;
	{
		char *b = read_some(fd, "retry: 1000\n\n");
		char *r2 = strstr(b, "retry: 1000\n\n");
		size_t from = r2 ? (size_t)(r2 - b) + 13 : 0;

		return read_more(fd, b, from, "\n\n");
	}
}

START_TEST(test_sse_framing_and_replay)
{
	int fd;
	uint64_t last = st->last_id;
	__do_free char *snap = sse_open(NULL, &fd);
	__do_free char *more = NULL, *replayed = NULL, *lost = NULL;
	char want[64], id1[32];

	ck_assert_int_eq(status_of(snap), 200);
	ck_assert_ptr_nonnull(strstr(snap, "Content-Type: text/event-stream"));
	ck_assert_ptr_nonnull(strstr(snap, "Content-Security-Policy:"));
	/* a new page gets one snapshot frame with the newest id */
	snprintf(want, sizeof(want), "id: %llu\nevent: snapshot\ndata: {", (unsigned long long)last);
	ck_assert_msg(strstr(snap, want), "no snapshot frame in: %s", snap);
	ck_assert_ptr_nonnull(strstr(snap, "\"memory\""));
	/* then each event as it happens, one data line each (a newline in a string stays escaped) */
	gui_host_update(st, "a", NULL, NULL, "line one\nline two");
	gui_host_update(st, "b", NULL, NULL, "second");
	snprintf(want, sizeof(want), "id: %llu\nevent: host\n", (unsigned long long)last + 2);
	more = read_more(fd, NULL, 0, want);
	if (!strstr(more, "\"second\"\n") && !strstr(more, "second"))
		more = read_more(fd, more, 0, "second");
	ck_assert_msg(strstr(more, want), "no second event: %s", more);
	ck_assert_ptr_nonnull(strstr(more, "\"line one\\nline two\""));
	close(fd);
	/* a reconnect with Last-Event-ID gets what came after it, no snapshot */
	snprintf(id1, sizeof(id1), "%llu", (unsigned long long)last + 1);
	replayed = sse_open(id1, &fd);
	close(fd);
	snprintf(want, sizeof(want), "id: %llu\nevent: host\n", (unsigned long long)last + 2);
	ck_assert_msg(strstr(replayed, want), "no replay: %s", replayed);
	ck_assert_ptr_null(strstr(replayed, "snapshot"));
	ck_assert_ptr_null(strstr(replayed, "line one"));
	/* an id the ring lost (64 kept) or from another run: a fresh snapshot */
	for (int i = 0; i < 70; i++)
		gui_host_update(st, "b", NULL, NULL, "churn");
	lost = sse_open(id1, &fd);
	close(fd);
	ck_assert_ptr_nonnull(strstr(lost, "event: snapshot"));
	free(lost);
	lost = sse_open("99999999", &fd);
	close(fd);
	ck_assert_ptr_nonnull(strstr(lost, "event: snapshot"));
	free(lost);
	lost = req("GET", "/events", COOKIE "Last-Event-ID: -1\r\n", NULL);
	ck_assert_int_eq(status_of(lost), 400);
}
END_TEST

START_TEST(test_tree_diff)
{
	int fd;
	__do_free char *snap = sse_open(NULL, &fd);
	__do_free char *diff = NULL;

	ck_assert_ptr_nonnull(strstr(snap, "event: snapshot"));
	gui_tree_update(st, "a", json_pack("[{s:i, s:i, s:s, s:b, s:n, s:{s:i}}, {s:i, s:i, s:s}]", "pid", 601, "ppid",
					   1, "name", "memory2", "migratable", 1, "why_not", "target", "pid", 601, "pid",
					   700, "ppid", 1, "name", "new"));
	diff = read_some(fd, "\n\n");
	close(fd);
	ck_assert_ptr_nonnull(diff);
	ck_assert_ptr_nonnull(strstr(diff, "event: tree-diff\n"));
	ck_assert_ptr_nonnull(strstr(diff, "\"removed\":[2]"));
	ck_assert_ptr_nonnull(strstr(diff, "\"name\":\"new\""));
	ck_assert_ptr_nonnull(strstr(diff, "\"name\":\"memory2\""));
	/* the same list again: nothing to say */
	{
		uint64_t before = st->last_id;

		gui_tree_update(st, "a", json_pack("[{s:i, s:i, s:s, s:b, s:n, s:{s:i}}, {s:i, s:i, s:s}]", "pid", 601,
						   "ppid", 1, "name", "memory2", "migratable", 1, "why_not", "target", "pid",
						   601, "pid", 700, "ppid", 1, "name", "new"));
		ck_assert_uint_eq(st->last_id, before);
	}
}
END_TEST

START_TEST(test_garbage_and_oversize)
{
	const char *garbage[] = { "GARBAGE\r\n\r\n", "GET\r\n\r\n", "GET / HTTP/9.9\r\n\r\n", "\x01\x02\x03\xff\r\n\r\n",
				  "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -5\r\n\r\n" };
	__do_free char *big_body = xmalloc(GUI_MAX_BODY + 4096);
	__do_free char *big_hdr = xmalloc(100000);
	__do_free char *r1 = NULL, *r2 = NULL, *alive = NULL;

	for (size_t i = 0; i < ARRAY_SIZE(garbage); i++) {
		int fd = dial();
		char *r;

		ck_assert_int_eq(write_full(fd, garbage[i], strlen(garbage[i])), 0);
		r = read_some(fd, NULL);
		close(fd);
		/* MHD's own answer to a version it does not speak is 505 */
		ck_assert_msg((status_of(r) >= 400 && status_of(r) < 500) || status_of(r) == 505 || !*r, "garbage %zu answered %s", i, r);
		free(r);
	}
	memset(big_body, 'x', GUI_MAX_BODY + 4095);
	big_body[GUI_MAX_BODY + 4095] = '\0';
	r1 = post_action("/api/migrate", big_body);
	ck_assert_int_eq(status_of(r1), 413);
	memset(big_hdr, 'a', 99999);
	big_hdr[99999] = '\0';
	{
		__do_free char *h = xasprintf("X-Big: %s\r\n", big_hdr);

		r2 = req("GET", "/api/state", h, NULL);
	}
	ck_assert_msg(status_of(r2) == 431 || status_of(r2) == 413 || status_of(r2) == 400 || !*r2,
		      "an oversized header got %d", status_of(r2));
	alive = req("GET", "/api/state", COOKIE, NULL);
	ck_assert_int_eq(status_of(alive), 200);
}
END_TEST

START_TEST(test_listen_parsing)
{
	char host[64], err[256];
	int p;
	struct gui_http *h;

	ck_assert_int_eq(gui_split_listen("127.0.0.1:0", host, sizeof(host), &p), 0);
	ck_assert_str_eq(host, "127.0.0.1");
	ck_assert_int_eq(p, 0);
	ck_assert_int_eq(gui_split_listen("127.0.0.1", host, sizeof(host), &p), -1);
	ck_assert_int_eq(gui_split_listen("127.0.0.1:70000", host, sizeof(host), &p), -1);
	ck_assert_int_eq(gui_split_listen(":80", host, sizeof(host), &p), -1);
	h = gui_http_start(st, &(struct gui_http_opts){ .listen = "nowhere:1", .token = TOKEN }, &p, err, sizeof(err));
	ck_assert_ptr_null(h);
	ck_assert_ptr_nonnull(strstr(err, "--listen"));
	h = gui_http_start(st, &(struct gui_http_opts){ .listen = "127.0.0.1:0", .token = "short" }, &p, err, sizeof(err));
	ck_assert_ptr_null(h);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("gui");
	TCase *t = tcase_create("http");

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 60);
	tcase_add_test(t, test_routes_and_headers);
	tcase_add_test(t, test_token_host_origin_refusals);
	tcase_add_test(t, test_actions_need_post_json_token_origin);
	tcase_add_test(t, test_migrate_validation);
	tcase_add_test(t, test_cancel_before_and_after_handover);
	tcase_add_test(t, test_sse_framing_and_replay);
	tcase_add_test(t, test_tree_diff);
	tcase_add_test(t, test_garbage_and_oversize);
	tcase_add_test(t, test_listen_parsing);
	tcase_add_test(t, test_preflight);
	suite_add_tcase(s, t);
	return unit_run(s) ? 1 : 0;
}
