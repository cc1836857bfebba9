/* crmig gui's model and its numbered event log. Everything the page shows
 * arrives as an event; the model is what those events add up to, so that a
 * page that connects late gets one snapshot and then follows. */
#include <errno.h>
#include <time.h>

#include "gui.h"
#include "net.h"
#include "proto.h"
#include "util.h"

#define MIG_LOG_KEEP 200          /* log lines kept per migration in the model */

static const char *const strategies[] = { "stop", "pre", "post", "hybrid" };

struct gui_state *gui_state_new(size_t ring_cap)
{
	struct gui_state *st = xzalloc(sizeof(*st));

	pthread_mutex_init(&st->mu, NULL);
	{
		pthread_condattr_t a;

		pthread_condattr_init(&a);
		pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
		pthread_cond_init(&st->cv, &a);
		pthread_condattr_destroy(&a);
	}
	st->cap = ring_cap ? ring_cap : GUI_RING;
	st->ring = xzalloc(st->cap * sizeof(*st->ring));
	st->hosts = json_array();
	st->migrations = json_array();
	st->next_mig = 1;
	return st;
}

void gui_state_free(struct gui_state *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < st->count; i++)
		free(st->ring[(st->head + i) % st->cap].text);
	free(st->ring);
	json_decref(st->hosts);
	json_decref(st->migrations);
	pthread_cond_destroy(&st->cv);
	pthread_mutex_destroy(&st->mu);
	free(st);
}

void gui_state_close(struct gui_state *st)
{
	pthread_mutex_lock(&st->mu);
	st->closing = true;
	pthread_cond_broadcast(&st->cv);
	pthread_mutex_unlock(&st->mu);
}

/* ---- the model ----------------------------------------------------------- */

static json_t *find_by(json_t *arr, const char *key, const char *val)
{
	size_t i;
	json_t *o;

	json_array_foreach(arr, i, o)
		if (val && json_str(o, key) && !strcmp(json_str(o, key), val))
			return o;
	return NULL;
}

static json_t *host_obj(struct gui_state *st, const char *name)
{
	json_t *h = find_by(st->hosts, "name", name);

	if (!h) {
		h = json_pack("{s:s, s:n, s:n, s:[], s:n}", "name", name, "addr", "check", "procs", "error");
		json_array_append_new(st->hosts, h);
	}
	return h;
}

static int64_t pid_of(json_t *p)
{
	return json_integer_value(json_object_get(p, "pid"));
}

static void apply_tree_diff(json_t *procs, json_t *d)
{
	json_t *v, *p;
	size_t i, j;

	json_array_foreach(json_object_get(d, "removed"), i, v)
		for (j = 0; j < json_array_size(procs); j++)
			if (pid_of(json_array_get(procs, j)) == json_integer_value(v)) {
				json_array_remove(procs, j);
				break;
			}
	json_array_foreach(json_object_get(d, "changed"), i, v) {
		json_array_foreach(procs, j, p)
			if (pid_of(p) == pid_of(v)) {
				json_array_set(procs, j, v);
				break;
			}
	}
	json_array_foreach(json_object_get(d, "added"), i, v)
		json_array_append(procs, v);
}

static void apply_mig_event(json_t *mig, json_t *ev)
{
	const char *what = json_str(ev, "event");
	json_t *events = json_object_get(mig, "events");

	if (!what)
		return;
	if (!strcmp(what, "handover")) {
		json_object_set_new(mig, "handover", json_true());
		json_object_set(mig, "handover_ms", json_object_get(ev, "t_ms"));
	} else if (!strcmp(what, "start")) {
		json_object_set(mig, "crmig_pid", json_object_get(ev, "pid"));
	}
	if (!strcmp(what, "log")) {
		json_t *log = json_object_get(mig, "log");

		json_array_append(log, ev);
		while (json_array_size(log) > MIG_LOG_KEEP)
			json_array_remove(log, 0);
		return;
	}
	if (!strcmp(what, "result"))
		return; /* the report is kept by mig-end */
	json_array_append(events, ev);
}

static void apply(struct gui_state *st, const char *type, json_t *d)
{
	const char *name = json_str(d, "host");

	if (!strcmp(type, "host")) {
		json_t *h = host_obj(st, json_str(d, "name"));

		json_object_update(h, d);
	} else if (!strcmp(type, "tree") && name) {
		json_object_set(host_obj(st, name), "procs", json_object_get(d, "procs"));
	} else if (!strcmp(type, "tree-diff") && name) {
		apply_tree_diff(json_object_get(host_obj(st, name), "procs"), d);
	} else if (!strcmp(type, "mig-start")) {
		json_t *m = json_deep_copy(d);

		json_object_set_new(m, "state", json_string("running"));
		json_object_set_new(m, "handover", json_false());
		json_object_set_new(m, "events", json_array());
		json_object_set_new(m, "log", json_array());
		json_object_set_new(m, "report", json_null());
		json_array_append_new(st->migrations, m);
	} else if (!strcmp(type, "mig-event")) {
		json_t *m = find_by(st->migrations, "id", json_str(d, "id"));

		if (m)
			apply_mig_event(m, json_object_get(d, "ev"));
	} else if (!strcmp(type, "mig-end")) {
		json_t *m = find_by(st->migrations, "id", json_str(d, "id"));

		if (m) {
			json_object_set_new(m, "state", json_string("done"));
			json_object_set(m, "report", json_object_get(d, "report"));
			json_object_set(m, "result", json_object_get(d, "result"));
			json_object_set(m, "error", json_object_get(d, "error"));
		}
	}
}

/* ---- the log ------------------------------------------------------------- */

static char *frame(uint64_t id, const char *type, json_t *d)
{
	__do_free char *data = json_dumps(d, JSON_COMPACT | JSON_REAL_PRECISION(15));

	/* Compact JSON has no raw newline: one data line per frame. */
	return xasprintf("id: %llu\nevent: %s\ndata: %s\n\n", (unsigned long long)id, type, data ? data : "{}");
}

static uint64_t emit_locked(struct gui_state *st, const char *type, json_t *d)
{
	struct gui_event *e;

	apply(st, type, d);
	if (st->count == st->cap) {
		free(st->ring[st->head].text);
		st->head = (st->head + 1) % st->cap;
		st->count--;
	}
	e = &st->ring[(st->head + st->count) % st->cap];
	e->id = ++st->last_id;
	e->text = frame(e->id, type, d);
	st->count++;
	pthread_cond_broadcast(&st->cv);
	return e->id;
}

uint64_t gui_emit(struct gui_state *st, const char *type, json_t *data)
{
	uint64_t id;

	pthread_mutex_lock(&st->mu);
	id = emit_locked(st, type, data);
	pthread_mutex_unlock(&st->mu);
	json_decref(data);
	return id;
}

void gui_host_update(struct gui_state *st, const char *name, const char *addr, json_t *check, const char *error)
{
	json_t *d = json_pack("{s:s}", "name", name);

	if (addr)
		json_object_set_new(d, "addr", json_string(addr));
	if (check) {
		struct timespec now;
		json_int_t seq;

		clock_gettime(CLOCK_REALTIME, &now);
		pthread_mutex_lock(&st->mu);
		seq = json_integer_value(json_object_get(host_obj(st, name), "check_seq")) + 1;
		pthread_mutex_unlock(&st->mu);
		json_object_set_new(d, "check", check);
		json_object_set_new(d, "check_seq", json_integer(seq));
		json_object_set_new(d, "checked_ms", json_real(now.tv_sec * 1e3 + now.tv_nsec / 1e6));
	}
	json_object_set_new(d, "error", error ? json_string(error) : json_null());
	gui_emit(st, "host", d);
}

void gui_tree_update(struct gui_state *st, const char *host, json_t *procs)
{
	json_t *added = json_array(), *removed = json_array(), *changed = json_array();
	json_t *old, *p, *q;
	size_t i, j;
	bool first;

	pthread_mutex_lock(&st->mu);
	old = json_object_get(host_obj(st, host), "procs");
	first = !json_array_size(old);
	if (first) {
		json_t *d = json_pack("{s:s, s:O}", "host", host, "procs", procs);

		emit_locked(st, "tree", d);
		json_decref(d);
		goto out;
	}
	json_array_foreach(procs, i, p) {
		json_t *match = NULL;

		json_array_foreach(old, j, q)
			if (pid_of(q) == pid_of(p)) {
				match = q;
				break;
			}
		if (!match)
			json_array_append(added, p);
		else if (!json_equal(match, p))
			json_array_append(changed, p);
	}
	json_array_foreach(old, j, q) {
		bool gone = true;

		json_array_foreach(procs, i, p)
			if (pid_of(q) == pid_of(p)) {
				gone = false;
				break;
			}
		if (gone)
			json_array_append_new(removed, json_integer(pid_of(q)));
	}
	if (json_array_size(added) || json_array_size(removed) || json_array_size(changed)) {
		json_t *d = json_pack("{s:s, s:O, s:O, s:O}", "host", host, "added", added, "removed", removed,
				      "changed", changed);

		emit_locked(st, "tree-diff", d);
		json_decref(d);
	}
out:
	pthread_mutex_unlock(&st->mu);
	json_decref(added);
	json_decref(removed);
	json_decref(changed);
	json_decref(procs);
}

static json_t *snapshot_locked(struct gui_state *st)
{
	return json_pack("{s:O, s:O, s:I}", "hosts", st->hosts, "migrations", st->migrations, "last_id",
			 (json_int_t)st->last_id);
}

json_t *gui_snapshot(struct gui_state *st)
{
	json_t *s;

	json_t *live;

	pthread_mutex_lock(&st->mu);
	live = snapshot_locked(st);
	s = json_deep_copy(live);
	pthread_mutex_unlock(&st->mu);
	json_decref(live);
	return s;
}

char *gui_events_since(struct gui_state *st, uint64_t after, bool first, int timeout_ms, uint64_t *upto)
{
	struct timespec until;
	char *out = NULL;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&st->mu);
	for (;;) {
		uint64_t oldest = st->count ? st->ring[st->head].id : st->last_id + 1;

		if (st->closing)
			break;
		/* A new page, an id from another run, or one the ring lost. */
		if ((first && !after) || after > st->last_id || after + 1 < oldest) {
			json_t *s = snapshot_locked(st);

			out = frame(st->last_id, "snapshot", s);
			json_decref(s);
			*upto = st->last_id;
			break;
		}
		if (after < st->last_id) {
			size_t len = 0;

			for (size_t i = 0; i < st->count; i++) {
				struct gui_event *e = &st->ring[(st->head + i) % st->cap];

				if (e->id <= after)
					continue;
				size_t n = strlen(e->text);

				out = xrealloc(out, len + n + 1);
				memcpy(out + len, e->text, n + 1);
				len += n;
			}
			*upto = st->last_id;
			break;
		}
		if (pthread_cond_timedwait(&st->cv, &st->mu, &until) == ETIMEDOUT) {
			out = xstrdup("");
			*upto = after;
			break;
		}
	}
	pthread_mutex_unlock(&st->mu);
	return out;
}

/* ---- migrations ---------------------------------------------------------- */

json_t *gui_pair_strategies(struct gui_state *st, const char *from, const char *to)
{
	json_t *out = json_object();
	const char *names[2] = { from, to };

	pthread_mutex_lock(&st->mu);
	for (size_t i = 0; i < ARRAY_SIZE(strategies); i++) {
		char why[256] = "";

		for (int k = 0; k < 2 && !why[0]; k++) {
			json_t *h = find_by(st->hosts, "name", names[k]);
			json_t *check = json_object_get(h, "check");

			if (!json_is_object(check))
				snprintf(why, sizeof(why), "host %s has not said what it can do yet", names[k]);
			else if (!json_bool(json_object_get(check, "strategies"), strategies[i], false))
				snprintf(why, sizeof(why), "host %s: %s", names[k],
					 json_str(json_object_get(check, "why_disabled"), strategies[i])
						 ?: "not supported there");
		}
		json_object_set_new(out, strategies[i], why[0] ? json_string(why) : json_null());
	}
	pthread_mutex_unlock(&st->mu);
	return out;
}

static int refuse(json_t **reply, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int refuse(json_t **reply, int status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	*reply = json_pack("{s:s}", "error", msg);
	return status;
}

static bool valid_lxc_name(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (!n || n > 63 || s[0] == '-' || s[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '-' || s[i] == '_' || s[i] == '.'))
			return false;
	return true;
}

/* The node the page dragged must be one the source host's tree offers. */
static const char *target_check(struct gui_state *st, const char *from, json_t *target)
{
	json_t *procs = json_object_get(find_by(st->hosts, "name", from), "procs");
	json_t *p;
	size_t i;

	json_array_foreach(procs, i, p) {
		json_t *t = json_object_get(p, "target");

		if (json_equal(t, target))
			return NULL;
		if (json_is_integer(json_object_get(target, "pid")) &&
		    pid_of(p) == json_integer_value(json_object_get(target, "pid")))
			return json_str(p, "why_not") ?: "not migratable";
	}
	return "no such process or container on that host (any more)";
}

int gui_request_migrate(struct gui_state *st, json_t *req, json_t **reply)
{
	const char *from = json_str(req, "from"), *to = json_str(req, "to");
	const char *strategy = json_str(req, "strategy");
	json_t *target = json_object_get(req, "target");
	json_t *opt = json_object_get(req, "options");
	json_t *pair, *clean_opts, *m;
	const char *why, *rootfs, *move_ip;
	char id[16], err[512] = "";
	int status = 500;
	bool known = false;

	if (!json_is_object(req))
		return refuse(reply, 400, "want a JSON object {from, to, strategy, target, options}");
	if (!from || !to || !strategy || !json_is_object(target))
		return refuse(reply, 400, "from, to, strategy and target are required");
	if (opt && !json_is_object(opt))
		return refuse(reply, 400, "options must be an object");
	if (!strcmp(from, to))
		return refuse(reply, 400, "from and to are the same host");
	for (size_t i = 0; i < ARRAY_SIZE(strategies); i++)
		known |= !strcmp(strategy, strategies[i]);
	if (!known)
		return refuse(reply, 400, "strategy must be stop, pre, post or hybrid");
	{
		json_t *pid = json_object_get(target, "pid");
		const char *lxc = json_str(target, "lxc");

		if (json_object_size(target) != 1 || (!(json_is_integer(pid) && json_integer_value(pid) > 1 &&
							 json_integer_value(pid) <= 4194304) &&
						       !valid_lxc_name(lxc)))
			return refuse(reply, 400, "target must be {\"pid\": N} or {\"lxc\": \"NAME\"}");
	}
	rootfs = json_str(opt, "rootfs") ?: "sync";
	if (strcmp(rootfs, "sync") && strcmp(rootfs, "shared"))
		return refuse(reply, 400, "options.rootfs must be sync or shared");
	move_ip = json_str(opt, "move_ip") ?: "";
	if (*move_ip) {
		char addr[64];
		int prefix;

		if (net_addr_parse(move_ip, addr, sizeof(addr), &prefix) < 0)
			return refuse(reply, 400, "options.move_ip: want an IPv4 address with its prefix, e.g. 10.77.0.100/24");
	}
	pthread_mutex_lock(&st->mu);
	if (!find_by(st->hosts, "name", from) || !find_by(st->hosts, "name", to)) {
		pthread_mutex_unlock(&st->mu);
		return refuse(reply, 404, "no host named %.32s or %.32s here", from, to);
	}
	for (size_t i = 0; i < json_array_size(st->migrations); i++)
		if (!strcmp(json_str(json_array_get(st->migrations, i), "state") ?: "", "running")) {
			pthread_mutex_unlock(&st->mu);
			return refuse(reply, 409, "migration %s is still running: wait for it or cancel it",
				      json_str(json_array_get(st->migrations, i), "id"));
		}
	why = target_check(st, from, target);
	if (why) {
		pthread_mutex_unlock(&st->mu);
		return refuse(reply, 409, "cannot migrate that: %s", why);
	}
	pthread_mutex_unlock(&st->mu);
	pair = gui_pair_strategies(st, from, to);
	why = json_str(pair, strategy);
	if (why) {
		status = refuse(reply, 409, "strategy %s cannot run from %s to %s: %s", strategy, from, to, why);
		json_decref(pair);
		return status;
	}
	json_decref(pair);
	clean_opts = json_pack("{s:b, s:b, s:s, s:s}", "page_tls", json_bool(opt, "page_tls", true), "keep_images",
			       json_bool(opt, "keep_images", false), "move_ip", move_ip, "rootfs", rootfs);
	pthread_mutex_lock(&st->mu);
	snprintf(id, sizeof(id), "m%d", st->next_mig++);
	m = json_pack("{s:s, s:s, s:s, s:s, s:O, s:o}", "id", id, "from", from, "to", to, "strategy", strategy,
		      "target", target, "options", clean_opts);
	emit_locked(st, "mig-start", m);
	pthread_mutex_unlock(&st->mu);
	if (!st->backend.migrate || st->backend.migrate(st->backend.ctx, m, id, err, sizeof(err), &status) < 0) {
		gui_mig_fail(st, id, err[0] ? err : "no way to run migrations here");
		json_decref(m);
		return refuse(reply, st->backend.migrate ? status : 503, "%s", err[0] ? err : "no way to run migrations here");
	}
	json_decref(m);
	*reply = json_pack("{s:s}", "id", id);
	return 202;
}

int gui_request_cancel(struct gui_state *st, json_t *req, json_t **reply)
{
	const char *id = json_str(req, "id");
	char err[512] = "";
	json_t *m;

	if (!id)
		return refuse(reply, 400, "want {\"id\": \"MIGRATION\"}");
	pthread_mutex_lock(&st->mu);
	m = find_by(st->migrations, "id", id);
	if (!m) {
		pthread_mutex_unlock(&st->mu);
		return refuse(reply, 404, "no migration %.32s", id);
	}
	if (strcmp(json_str(m, "state") ?: "", "running")) {
		pthread_mutex_unlock(&st->mu);
		return refuse(reply, 409, "migration %s has already finished", id);
	}
	if (json_is_true(json_object_get(m, "handover"))) {
		double t = json_number_value(json_object_get(m, "handover_ms"));

		pthread_mutex_unlock(&st->mu);
		return refuse(reply, 409,
			      "too late to cancel: the handover happened at %.0f ms and the destination already runs "
			      "the workload (a cancel now would lose it); wait for the migration to finish", t);
	}
	pthread_mutex_unlock(&st->mu);
	if (!st->backend.cancel || st->backend.cancel(st->backend.ctx, id, err, sizeof(err)) < 0)
		return refuse(reply, 409, "cannot cancel %s: %s", id, err[0] ? err : "no way to cancel here");
	*reply = json_pack("{s:s, s:s}", "id", id, "state", "cancelling");
	return 202;
}

int gui_request_preflight(struct gui_state *st, json_t *req, json_t **reply)
{
	const char *names[2] = { json_str(req, "from"), json_str(req, "to") };
	json_t *seq = json_object();
	char err[512] = "";

	if (!names[0] || !names[1] || !strcmp(names[0], names[1])) {
		json_decref(seq);
		return refuse(reply, 400, "want {\"from\": HOST, \"to\": HOST}, two different hosts");
	}
	pthread_mutex_lock(&st->mu);
	for (int k = 0; k < 2; k++) {
		json_t *h = find_by(st->hosts, "name", names[k]);

		if (!h) {
			pthread_mutex_unlock(&st->mu);
			json_decref(seq);
			return refuse(reply, 404, "no host named %.32s here", names[k]);
		}
		json_object_set_new(seq, names[k], json_integer(json_integer_value(json_object_get(h, "check_seq"))));
	}
	pthread_mutex_unlock(&st->mu);
	for (int k = 0; k < 2; k++)
		if (!st->backend.preflight || st->backend.preflight(st->backend.ctx, names[k], err, sizeof(err)) < 0) {
			json_decref(seq);
			return refuse(reply, 503, "cannot run crmig check on %.32s: %s", names[k],
				      err[0] ? err : "no way to ask the hosts here");
		}
	*reply = json_pack("{s:o}", "check_seq", seq);
	return 202;
}

void gui_mig_event(struct gui_state *st, const char *id, json_t *ev)
{
	const char *what = json_str(ev, "event");
	json_t *report = json_incref(json_object_get(ev, "report"));
	bool result = what && !strcmp(what, "result");

	struct timespec now;

	/* gui_ms (wall clock): when the GUI heard it, for the page's latency figure */
	clock_gettime(CLOCK_REALTIME, &now);
	gui_emit(st, "mig-event", json_pack("{s:s, s:o, s:f}", "id", id, "ev", ev, "gui_ms",
					    now.tv_sec * 1e3 + now.tv_nsec / 1e6));
	if (result) {
		const char *res = json_str(report, "result") ?: "failed";

		gui_emit(st, "mig-end", json_pack("{s:s, s:s, s:O, s:O}", "id", id, "result", res, "report",
						  report ?: json_null(), "error", json_object_get(report, "error") ?: json_null()));
	}
	json_decref(report);
}

void gui_mig_fail(struct gui_state *st, const char *id, const char *error)
{
	gui_emit(st, "mig-end", json_pack("{s:s, s:s, s:n, s:s}", "id", id, "result", "failed", "report", "error", error));
}

bool gui_mig_handover(struct gui_state *st, const char *id)
{
	bool h;

	pthread_mutex_lock(&st->mu);
	h = json_is_true(json_object_get(find_by(st->migrations, "id", id), "handover"));
	pthread_mutex_unlock(&st->mu);
	return h;
}
