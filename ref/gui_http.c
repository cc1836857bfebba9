/* crmig gui's HTTP layer (libmicrohttpd). Secure by default:
 *  - it listens on 127.0.0.1; the Host header must name the address it
 *    listens on (no DNS rebinding), an Origin, when sent, must be ours;
 *  - a random session token: in the printed URL, then a cookie
 *    (HttpOnly, SameSite=Strict); actions also need it in X-Crmig-Token
 *    (a form on another site cannot set headers) and are POSTs of JSON;
 *  - a strict Content-Security-Policy: only our own script and style files;
 *  - bodies over GUI_MAX_BODY, unknown routes and methods get a clear 4xx.
 * The event stream (/events) is Server-Sent Events with ids: a browser that
 * reconnects sends Last-Event-ID and gets what it missed. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "gui.h"
#include "net.h"
#include "proto.h"
#include "util.h"

#define SSE_KEEPALIVE_MS 15000

static const char csp[] = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
			  "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

struct gui_http {
	struct MHD_Daemon *d;
	struct gui_state *st;
	char token[GUI_TOKEN_HEX + 1];
	char hosts_ok[4][128];     /* accepted Host header values */
	int nhosts_ok;
};

struct req_ctx {
	char *body;
	size_t len;
	bool too_big;
};

static void add_headers(struct MHD_Response *r, const char *type)
{
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Content-Security-Policy", csp);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, "Cross-Origin-Opener-Policy", "same-origin");
	MHD_add_response_header(r, "Cross-Origin-Resource-Policy", "same-origin");
	MHD_add_response_header(r, "Cache-Control", "no-store");
}

static enum MHD_Result send_buf(struct MHD_Connection *c, unsigned status, const char *type, const void *buf,
				size_t len, const char *cookie)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)buf, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	add_headers(r, type);
	if (cookie)
		MHD_add_response_header(r, "Set-Cookie", cookie);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, "Allow", "GET, POST");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_t *o)
{
	__do_free char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(15));
	enum MHD_Result ret;

	json_decref(o);
	ret = send_buf(c, status, "application/json; charset=utf-8", s ? s : "{}", s ? strlen(s) : 2, NULL);
	return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *msg)
{
	return send_json(c, status, json_pack("{s:s, s:i}", "error", msg, "status", (int)status));
}

static bool token_eq(const char *a, const char *b)
{
	unsigned diff = 0;
	size_t n = strlen(b);

	if (!a || strlen(a) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)a[i] ^ (unsigned char)b[i];
	return diff == 0;
}

static const struct gui_asset *asset(const char *name)
{
	for (size_t i = 0; i < gui_assets_count; i++)
		if (!strcmp(gui_assets[i].name, name))
			return &gui_assets[i];
	return NULL;
}

/* index.html carries the token for the page's own X-Crmig-Token header. */
static enum MHD_Result send_index(struct gui_http *h, struct MHD_Connection *c)
{
	const struct gui_asset *a = asset("index.html");
	__do_free char *page = NULL, *cookie = NULL;
	const char *mark = "@CRMIG_TOKEN@";
	char *at;

	if (!a)
		return send_error(c, 500, "no page built into this crmig");
	page = xmalloc(a->len + sizeof(h->token) + 1);
	memcpy(page, a->data, a->len);
	page[a->len] = '\0';
	at = strstr(page, mark);
	if (at) {
		memmove(at + GUI_TOKEN_HEX, at + strlen(mark), strlen(at + strlen(mark)) + 1);
		memcpy(at, h->token, GUI_TOKEN_HEX);
	}
	cookie = xasprintf("crmig_token=%s; Path=/; HttpOnly; SameSite=Strict", h->token);
	return send_buf(c, 200, "text/html; charset=utf-8", page, strlen(page), cookie);
}

/* ---- the event stream ---------------------------------------------------- */

struct sse {
	struct gui_state *st;
	uint64_t after;
	bool first, ended;
	char *pending;
	size_t pos, len;
};

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct sse *s = cls;
	size_t n;

	(void)pos;
	while (s->pos >= s->len) {
		uint64_t upto = s->after;
		char *next;

		free(s->pending);
		s->pending = NULL;
		s->pos = s->len = 0;
		if (s->ended)
			return MHD_CONTENT_READER_END_OF_STREAM;
		next = gui_events_since(s->st, s->after, s->first, SSE_KEEPALIVE_MS, &upto);
		if (!next) {
			/* closing: tell the browser to come back later, then end */
			s->ended = true;
			next = xstrdup("event: bye\ndata: {}\n\n");
		} else if (!*next) {
			free(next);
			next = xstrdup(": keepalive\n\n");
		}
		s->first = false;
		s->after = upto;
		s->pending = next;
		s->len = strlen(next);
	}
	n = s->len - s->pos < max ? s->len - s->pos : max;
	memcpy(buf, s->pending + s->pos, n);
	s->pos += n;
	return (ssize_t)n;
}

static void sse_free(void *cls)
{
	struct sse *s = cls;

	free(s->pending);
	free(s);
}

static enum MHD_Result send_events(struct gui_http *h, struct MHD_Connection *c)
{
	const char *last = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Last-Event-ID");
	struct sse *s = xzalloc(sizeof(*s));
	struct MHD_Response *r;
	enum MHD_Result ret;

	s->st = h->st;
	s->first = true;
	if (last && *last) {
		char *end;
		unsigned long long v = strtoull(last, &end, 10);

		if (*end || last[0] == '-')
			return free(s), send_error(c, 400, "Last-Event-ID must be a number (an id this stream sent)");
		s->after = v;
	}
	/* The reconnect delay first: a restarted page comes back in a second. */
	s->pending = xstrdup("retry: 1000\n\n");
	s->len = strlen(s->pending);
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, sse_read, s, sse_free);
	if (!r)
		return sse_free(s), MHD_NO;
	add_headers(r, "text/event-stream; charset=utf-8");
	MHD_add_response_header(r, "X-Accel-Buffering", "no");
	ret = MHD_queue_response(c, 200, r);
	MHD_destroy_response(r);
	return ret;
}

/* ---- routing ------------------------------------------------------------- */

static bool host_ok(struct gui_http *h, struct MHD_Connection *c)
{
	const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");

	for (int i = 0; host && i < h->nhosts_ok; i++)
		if (!strcmp(host, h->hosts_ok[i]))
			return true;
	return false;
}

static bool origin_ok(struct MHD_Connection *c, bool required)
{
	const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
	const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
	char want[200];

	if (!origin)
		return !required;
	snprintf(want, sizeof(want), "http://%s", host ? host : "");
	return !strcmp(origin, want);
}

static bool authed(struct gui_http *h, struct MHD_Connection *c, bool header_only)
{
	const char *hdr = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Crmig-Token");

	if (token_eq(hdr, h->token))
		return true;
	if (header_only)
		return false;
	return token_eq(MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "crmig_token"), h->token);
}

static enum MHD_Result post_action(struct gui_http *h, struct MHD_Connection *c, const char *url, struct req_ctx *rc)
{
	const char *type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
	json_error_t jerr;
	json_t *req, *reply = NULL;
	int status;

	if (!origin_ok(c, true))
		return send_error(c, 403, "actions need an Origin header naming this page (a request from another site "
				  "is refused)");
	if (!authed(h, c, true))
		return send_error(c, 403, "actions need the session token in X-Crmig-Token (use the page crmig gui printed)");
	if (!type || strncmp(type, "application/json", 16))
		return send_error(c, 415, "actions take Content-Type: application/json");
	if (rc->too_big)
		return send_error(c, 413, "request body too large (at most 64 KiB)");
	req = json_loadb(rc->body ? rc->body : "", rc->len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(req)) {
		char msg[300];

		json_decref(req);
		snprintf(msg, sizeof(msg), "the body is not a JSON object: %s", jerr.text);
		return send_error(c, 400, msg);
	}
	if (!strcmp(url, "/api/migrate"))
		status = gui_request_migrate(h->st, req, &reply);
	else if (!strcmp(url, "/api/preflight"))
		status = gui_request_preflight(h->st, req, &reply);
	else
		status = gui_request_cancel(h->st, req, &reply);
	json_decref(req);
	if (status >= 400 && reply && !json_object_get(reply, "status"))
		json_object_set_new(reply, "status", json_integer(status));
	return send_json(c, (unsigned)status, reply ? reply : json_object());
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
			      const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	struct gui_http *h = cls;
	struct req_ctx *rc = *con_cls;
	bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
	bool post = !strcmp(method, "POST");
	bool action = !strcmp(url, "/api/migrate") || !strcmp(url, "/api/cancel") || !strcmp(url, "/api/preflight");

	(void)version;
	if (!rc) {
		*con_cls = rc = xzalloc(sizeof(*rc));
		return MHD_YES; /* headers only so far */
	}
	if (*upload_size) {
		/* Read the whole body, keep at most GUI_MAX_BODY of it. */
		if (rc->len + *upload_size > GUI_MAX_BODY) {
			rc->too_big = true;
		} else {
			rc->body = xrealloc(rc->body, rc->len + *upload_size + 1);
			memcpy(rc->body + rc->len, upload, *upload_size);
			rc->len += *upload_size;
			rc->body[rc->len] = '\0';
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (!host_ok(h, c))
		return send_error(c, 403, "this Host header is not accepted (DNS rebinding guard): open the URL crmig gui "
				  "printed, with 127.0.0.1 or localhost");
	if (!origin_ok(c, false))
		return send_error(c, 403, "a request from another origin is refused");
	if (action) {
		if (!post)
			return send_error(c, 405, "actions are POST requests");
		return post_action(h, c, url, rc);
	}
	if (!get)
		return send_error(c, post ? 405 : 501, "only GET here (actions: POST /api/migrate, /api/cancel, /api/preflight)");
	if (rc->len || rc->too_big)
		return send_error(c, 400, "a GET takes no body");
	if (!strcmp(url, "/") || !strcmp(url, "/index.html")) {
		const char *q = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token");

		if (q ? !token_eq(q, h->token) : !authed(h, c, false))
			return send_error(c, 403, "wrong or missing session token: open the URL crmig gui printed "
				   "(it ends in ?token=...)");
		return send_index(h, c);
	}
	if (!strcmp(url, "/gui.css") || !strcmp(url, "/gui.js")) {
		const struct gui_asset *a = asset(url + 1);

		if (!a)
			return send_error(c, 404, "not built into this crmig");
		return send_buf(c, 200, url[5] == 'c' ? "text/css; charset=utf-8" : "text/javascript; charset=utf-8",
				a->data, a->len, NULL);
	}
	if (!strcmp(url, "/events") || !strcmp(url, "/api/state")) {
		if (!authed(h, c, false))
			return send_error(c, 403, "wrong or missing session token: open the URL crmig gui printed");
		if (!strcmp(url, "/api/state"))
			return send_json(c, 200, gui_snapshot(h->st));
		if (strcmp(method, "GET"))
			return send_error(c, 405, "the event stream is a GET");
		return send_events(h, c);
	}
	if (!strcmp(url, "/favicon.ico"))
		return send_buf(c, 204, "text/plain", "", 0, NULL);
	return send_error(c, 404, "no such page: the GUI is at / (the URL crmig gui printed)");
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct req_ctx *rc = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (rc) {
		free(rc->body);
		free(rc);
	}
	*con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	fputs("crmig gui: http: ", stderr);
	vfprintf(stderr, fmt, ap);
}

int gui_split_listen(const char *s, char *host, size_t hostlen, int *port)
{
	const char *colon = strrchr(s, ':');
	char *end;
	long p;

	if (!colon || colon == s || (size_t)(colon - s) >= hostlen)
		return -1;
	p = strtol(colon + 1, &end, 10);
	if (*end || end == colon + 1 || p < 0 || p > 65535)
		return -1;
	snprintf(host, hostlen, "%.*s", (int)(colon - s), s);
	*port = (int)p;
	return 0;
}

struct gui_http *gui_http_start(struct gui_state *st, const struct gui_http_opts *o, int *port, char *err,
				size_t errlen)
{
	struct gui_http *h = xzalloc(sizeof(*h));
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char host[256];
	int p;
	const union MHD_DaemonInfo *info;

	if (!o->token || strlen(o->token) != GUI_TOKEN_HEX) {
		snprintf(err, errlen, "internal: a session token of %d hex digits is needed", GUI_TOKEN_HEX);
		free(h);
		return NULL;
	}
	memcpy(h->token, o->token, GUI_TOKEN_HEX);
	h->st = st;
	if (gui_split_listen(o->listen ? o->listen : "127.0.0.1:0", host, sizeof(host), &p) < 0 ||
	    inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		snprintf(err, errlen, "--listen %s: want IPv4-ADDR:PORT, e.g. 127.0.0.1:8077 (port 0: any free one)",
			 o->listen);
		free(h);
		return NULL;
	}
	sa.sin_port = htons((uint16_t)p);
	h->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG,
				0, NULL, NULL, handle, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
				MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
				MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
				(size_t)65536, MHD_OPTION_END);
	if (!h->d) {
		snprintf(err, errlen, "cannot listen on %s:%d: %s (another program there? try --listen 127.0.0.1:0)",
			 host, p, strerror(errno));
		free(h);
		return NULL;
	}
	info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
	*port = info ? info->port : p;
	snprintf(h->hosts_ok[h->nhosts_ok++], sizeof(h->hosts_ok[0]), "%s:%d", host, *port);
	if (!strcmp(host, "127.0.0.1")) {
		snprintf(h->hosts_ok[h->nhosts_ok++], sizeof(h->hosts_ok[0]), "localhost:%d", *port);
	}
	return h;
}

void gui_http_stop(struct gui_http *h)
{
	if (!h)
		return;
	gui_state_close(h->st);
	MHD_stop_daemon(h->d);
	free(h);
}
