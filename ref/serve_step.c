/* What one frame from the source asks of the destination, decided without
 * touching anything: the frame must be a REQUEST holding a JSON object with
 * a known "op", prepare comes first and once, and every name, count and
 * address in it passes the one rule for its kind (util.h safe_name,
 * safe_abs_path; net_addr_parse) before serve.c builds a path from it. */
#include "serve_step.h"

#include <stdarg.h>

#include "migrate.h"
#include "net.h"
#include "proto.h"
#include "util.h"

static const char *const op_names[SOP_COUNT] = {
	[SOP_PREPARE] = "prepare", [SOP_SYNC] = "sync", [SOP_IMAGES] = "images",
	[SOP_PAGE_SERVER] = "page-server", [SOP_PAGE_SERVER_WAIT] = "page-server-wait",
	[SOP_LAZY_CHANNEL] = "lazy-channel", [SOP_RESTORE] = "restore", [SOP_LAZY_WAIT] = "lazy-wait",
	[SOP_FETCH_MAPS] = "fetch-maps", [SOP_LOGS] = "logs", [SOP_ABORT] = "abort", [SOP_FINISH] = "finish",
};

bool serve_page_server_file(const char *name)
{
	return name && (!strncmp(name, "pages-", 6) || !strncmp(name, "pagemap-", 8));
}

const char *serve_op_name(enum serve_op op)
{
	return op < SOP_COUNT ? op_names[op] : "unknown";
}

static void refuse(struct serve_step *out, enum serve_verdict v, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void refuse(struct serve_step *out, enum serve_verdict v, const char *fmt, ...)
{
	va_list ap;

	out->verdict = v;
	va_start(ap, fmt);
	vsnprintf(out->why, sizeof(out->why), fmt, ap);
	va_end(ap);
}

/* A name field: absent is fine when optional, anything else must be safe. */
static bool name_field(json_t *req, const char *key, bool optional)
{
	json_t *v = json_object_get(req, key);

	if (!v)
		return optional;
	return safe_name(json_str(req, key), SERVE_DIR_MAX);
}

static bool count_field(json_t *req, int64_t max)
{
	int64_t count = json_int(req, "count", -1);

	return count >= 0 && count <= max;
}

static void check_prepare(json_t *req, struct serve_step *out)
{
	const char *id = json_str(req, "id");
	json_t *wl = json_object_get(req, "workload");
	const char *kind = json_str(wl, "kind");
	const struct workload_ops *k;
	size_t n = id ? strlen(id) : 0;

	if (!n || n > SERVE_ID_MAX || strspn(id, "0123456789abcdef") != n || !kind)
		return refuse(out, SERVE_REFUSE, "bad prepare request");
	k = workload_by_kind(kind);
	if (!k)
		refuse(out, SERVE_REFUSE, "unknown workload kind");
	else if (k->dest_check(wl, out->why, sizeof(out->why)) < 0)
		out->verdict = SERVE_REFUSE;
}

static bool ips_ok(json_t *ips)
{
	size_t i;
	json_t *v;

	if (ips && !json_is_array(ips))
		return false;
	if (json_array_size(ips) > MAX_LIST)
		return false;
	json_array_foreach(ips, i, v) {
		const char *addr = json_str(v, "addr");
		int64_t prefix = json_int(v, "prefix", 32);
		char check[64];
		int p;

		if (!addr || net_addr_parse(addr, check, sizeof(check), &p) < 0 || prefix < 1 || prefix > 32)
			return false;
	}
	return true;
}

static void check_args(json_t *req, struct serve_step *out)
{
	switch (out->op) {
	case SOP_PREPARE:
		return check_prepare(req, out);
	case SOP_SYNC: {
		const char *root = json_str(req, "root");

		if (!safe_abs_path(root) || !count_field(req, SERVE_SYNC_FILES_MAX))
			refuse(out, SERVE_REFUSE_END, "refusing to mirror files beneath %.100s", root ? root : "(none)");
		return;
	}
	case SOP_IMAGES:
		if (!name_field(req, "dir", false) || !count_field(req, SERVE_IMAGE_FILES_MAX))
			refuse(out, SERVE_REFUSE_END, "bad images request");
		return;
	case SOP_PAGE_SERVER:
	case SOP_LAZY_CHANNEL:
		if (!name_field(req, "dir", false) || !name_field(req, "prev", true))
			refuse(out, SERVE_REFUSE, "bad %s request", op_names[out->op]);
		return;
	case SOP_RESTORE: {
		json_t *lv = json_object_get(req, "lazy_verbosity"); /* criu's -v for lazy-pages */

		if (!name_field(req, "dir", false) || !json_is_object(json_object_get(req, "workload")) ||
		    !ips_ok(json_object_get(req, "ips")) ||
		    (lv && (!json_is_integer(lv) || json_integer_value(lv) < 0 || json_integer_value(lv) > 4)))
			refuse(out, SERVE_REFUSE, "bad restore request");
		return;
	}
	case SOP_FETCH_MAPS:
		if (!name_field(req, "dir", false))
			refuse(out, SERVE_REFUSE, "bad fetch request");
		return;
	default:
		return;
	}
}

void serve_step(bool prepared, uint16_t type, const void *buf, uint32_t len, struct serve_step *out)
{
	const char *name;
	size_t i;

	*out = (struct serve_step){ .verdict = SERVE_RUN, .op = SOP_COUNT };
	if (type == MSG_BYE)
		return refuse(out, SERVE_BYE, "bye");
	out->req = type == MSG_REQUEST && buf ? json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
	name = json_str(out->req, "op");
	if (!name)
		return refuse(out, SERVE_PROTOCOL_ERROR, "a frame that is not a request");
	for (i = 0; i < SOP_COUNT && strcmp(op_names[i], name); i++)
		;
	if (i == SOP_COUNT)
		return refuse(out, SERVE_REFUSE, "unknown request '%.40s'", name);
	out->op = (enum serve_op)i;
	if (out->op == SOP_PREPARE && prepared)
		return refuse(out, SERVE_REFUSE, "already prepared");
	if (out->op != SOP_PREPARE && !prepared)
		return refuse(out, SERVE_REFUSE, "%s before prepare", name);
	check_args(out->req, out);
}
