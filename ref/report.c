/* The migration report: filled in as the migration goes, then written as
 * JSON (the keys are a contract other people's scripts read) and printed as
 * a short human summary. */
#include "report.h"

#include <fcntl.h>
#include <math.h>
#include <sys/stat.h>

#include "util.h"

/* Marks a phase that was begun but never ended (the migration failed in it). */
#define PHASE_OPEN NAN

void report_init(struct report *r, const char *strategy)
{
	*r = (struct report){
		.t0 = now_ms(),
		.strategy = xstrdup(strategy ? strategy : "unknown"),
		.result = xstrdup("ok"),
		.criu_argv = json_array(),
		.extra = json_object(),
		.events_fd = -1,
	};
}

void report_free(struct report *r)
{
	free(r->strategy);
	free(r->result);
	free(r->error);
	free(r->workload);
	free(r->source);
	free(r->destination);
	free(r->stop_reason);
	for (size_t i = 0; i < r->nphases; i++)
		free(r->phases[i].name);
	free(r->phases);
	free(r->round_stats);
	json_decref(r->criu_argv);
	json_decref(r->versions);
	json_decref(r->dest_versions);
	json_decref(r->extra);
	*r = (struct report){ .events_fd = -1 };
}

double report_now(const struct report *r)
{
	return now_ms() - r->t0;
}

static json_t *json_ms(double ms);
static json_t *json_u64(uint64_t v);
static json_t *json_string_lossy(const char *s);

void report_event(struct report *r, const char *event, json_t *fields)
{
	json_t *o = json_is_object(fields) ? fields : json_object();
	char *line;

	if (fields && o != fields)
		json_decref(fields);
	if (r->events_fd < 0) {
		json_decref(o);
		return;
	}
	json_object_set_new(o, "event", json_string(event));
	json_object_set_new(o, "t_ms", json_ms(report_now(r)));
	line = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(15));
	json_decref(o);
	if (!line)
		return;
	/* One write per line, so that a reader never sees half an event; a
	 * reader that went away costs the migration nothing (EPIPE ignored). */
	{
		size_t len = strlen(line);
		char *buf = xmalloc(len + 1);

		memcpy(buf, line, len);
		buf[len] = '\n';
		if (write_full(r->events_fd, buf, len + 1) < 0 && errno == EPIPE)
			r->events_fd = -1;
		free(buf);
	}
	free(line);
}

void report_phase_announce(struct report *r, const char *name)
{
	report_event(r, "phase-begin", json_pack("{s:s}", "name", name ? name : "unnamed"));
}

static void phase_end_event(struct report *r, const struct phase *p)
{
	if (r->events_fd < 0)
		return;
	report_event(r, "phase-end", json_pack("{s:o, s:o, s:o, s:o}", "name", json_string_lossy(p->name),
					       "start_ms", json_ms(p->start_ms), "end_ms", json_ms(p->end_ms),
					       "bytes", json_u64(p->bytes)));
}

static void phase_push(struct report *r, const char *name, double start_ms, double end_ms, uint64_t bytes)
{
	r->phases = xrealloc(r->phases, (r->nphases + 1) * sizeof(*r->phases));
	r->phases[r->nphases++] = (struct phase){
		.name = xstrdup(name ? name : "unnamed"),
		.start_ms = start_ms,
		.end_ms = end_ms,
		.bytes = bytes,
	};
}

void report_phase_add(struct report *r, const char *name, double start_ms, double end_ms, uint64_t bytes)
{
	phase_push(r, name, start_ms, end_ms, bytes);
	phase_end_event(r, &r->phases[r->nphases - 1]);
}

size_t report_phase_begin(struct report *r, const char *name)
{
	phase_push(r, name, report_now(r), PHASE_OPEN, 0);
	report_phase_announce(r, name);
	return r->nphases - 1;
}

void report_phase_end(struct report *r, size_t idx, uint64_t bytes)
{
	if (idx >= r->nphases)
		return;
	r->phases[idx].end_ms = report_now(r);
	r->phases[idx].bytes = bytes;
	phase_end_event(r, &r->phases[idx]);
}

/* JSON strings must be UTF-8; an argument or name that is not (a path with
 * odd bytes) is kept with those bytes as '?' rather than dropped. */
static json_t *json_string_lossy(const char *s)
{
	json_t *j = json_string(s);
	char *copy;

	if (j)
		return j;
	copy = xstrdup(s);
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	j = json_string(copy);
	free(copy);
	return j;
}

void report_add_argv(struct report *r, const char *host, char *const argv[])
{
	json_t *args = json_array();

	for (size_t i = 0; argv && argv[i]; i++)
		json_array_append_new(args, json_string_lossy(argv[i]));
	if (!r->criu_argv)
		r->criu_argv = json_array();
	json_array_append_new(r->criu_argv, json_pack("{s:o, s:o}", "host",
			      host ? json_string_lossy(host) : json_null(), "argv", args));
}

void report_add_round(struct report *r, const struct round_stat *rs)
{
	r->round_stats = xrealloc(r->round_stats, (r->nrounds + 1) * sizeof(*r->round_stats));
	r->round_stats[r->nrounds++] = *rs;
	if (r->events_fd >= 0)
		report_event(r, "round", json_pack("{s:i, s:b, s:o, s:o, s:o, s:o}", "round", rs->round, "final",
						   rs->final, "pages_written", json_u64(rs->pages_written),
						   "pages_skipped_parent", json_u64(rs->pages_skipped_parent),
						   "bytes", json_u64(rs->bytes), "ms", json_ms(rs->ms)));
}

void report_set_error(struct report *r, const char *result, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	free(r->result);
	r->result = xstrdup(result ? result : "failed");
	free(r->error);
	r->error = msg ? msg : xstrdup(fmt);
}

/* ---- JSON ---------------------------------------------------------------- */

/* Times are reported to 0.1 ms: finer digits are clock noise. Done without
 * libm, which crmig does not otherwise link. */
static double tenth(double ms)
{
	if (!isfinite(ms) || fabs(ms) > 1e15)
		return 0;
	if (ms < 0)
		return -tenth(-ms);
	return (double)(int64_t)(ms * 10 + 0.5) / 10;
}

static json_t *json_ms(double ms)
{
	return json_real(tenth(ms));
}

/* JSON integers are signed 64-bit; a counter past that is clamped, not wrapped. */
static json_t *json_u64(uint64_t v)
{
	return json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t)v);
}

static json_t *json_str_or_null(const char *s)
{
	return s ? json_string_lossy(s) : json_null();
}

/* The end of a phase that never ended: when the report was closed (or now),
 * so that every phase has numbers; "unfinished" says it was cut short. */
static double report_end_ms(const struct report *r)
{
	return r->total_ms > 0 ? r->total_ms : report_now(r);
}

static json_t *phase_json(const struct report *r, const struct phase *p)
{
	bool open = isnan(p->end_ms);
	json_t *o = json_object();

	json_object_set_new(o, "name", json_string_lossy(p->name));
	json_object_set_new(o, "start_ms", json_ms(p->start_ms));
	json_object_set_new(o, "end_ms", json_ms(open ? report_end_ms(r) : p->end_ms));
	json_object_set_new(o, "bytes", json_u64(p->bytes));
	if (open)
		json_object_set_new(o, "unfinished", json_true());
	return o;
}

static json_t *round_json(const struct round_stat *rs)
{
	json_t *o = json_object();

	json_object_set_new(o, "round", json_integer(rs->round));
	json_object_set_new(o, "final", json_boolean(rs->final));
	json_object_set_new(o, "pages_scanned", json_u64(rs->pages_scanned));
	json_object_set_new(o, "pages_written", json_u64(rs->pages_written));
	json_object_set_new(o, "pages_skipped_parent", json_u64(rs->pages_skipped_parent));
	json_object_set_new(o, "pages_lazy", json_u64(rs->pages_lazy));
	json_object_set_new(o, "bytes", json_u64(rs->bytes));
	json_object_set_new(o, "ms", json_ms(rs->ms));
	json_object_set_new(o, "frozen_ms", json_ms(rs->frozen_us / 1000.0));
	json_object_set_new(o, "memdump_ms", json_ms(rs->memdump_us / 1000.0));
	json_object_set_new(o, "memwrite_ms", json_ms(rs->memwrite_us / 1000.0));
	return o;
}

/* {criu, lxc, kernel} always present (null when unknown), plus whatever
 * else the caller recorded. */
static json_t *versions_json(const json_t *v)
{
	static const char *const keys[] = { "criu", "lxc", "kernel" };
	json_t *o = json_is_object(v) ? json_deep_copy(v) : json_object();

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (!json_object_get(o, keys[i]))
			json_object_set_new(o, keys[i], json_null());
	return o;
}

/* criu_argv (contract): a list of argv lists exactly as run. The richer
 * {host, argv} records go to criu_calls. Plain argv lists in r->criu_argv
 * are accepted too. */
static void add_criu_calls(json_t *out, const json_t *calls)
{
	json_t *argvs = json_array(), *rich = json_array(), *call;
	size_t i;

	json_array_foreach(calls, i, call) {
		json_t *argv = json_is_array(call) ? call : json_object_get(call, "argv");

		if (!json_is_array(argv))
			continue;
		json_array_append_new(argvs, json_deep_copy(argv));
		json_array_append_new(rich, json_is_object(call) ? json_deep_copy(call)
				      : json_pack("{s:n, s:O}", "host", "argv", argv));
	}
	json_object_set_new(out, "criu_argv", argvs);
	json_object_set_new(out, "criu_calls", rich);
}

static json_t *phases_json(const struct report *r)
{
	json_t *a = json_array();

	for (size_t i = 0; i < r->nphases; i++)
		json_array_append_new(a, phase_json(r, &r->phases[i]));
	return a;
}

static json_t *rounds_json(const struct report *r)
{
	json_t *a = json_array();

	for (size_t i = 0; i < r->nrounds; i++)
		json_array_append_new(a, round_json(&r->round_stats[i]));
	return a;
}

static bool report_ok(const struct report *r)
{
	return r->result && !strcmp(r->result, "ok");
}

json_t *report_to_json(const struct report *r)
{
	json_t *o = json_object();

	json_object_set_new(o, "strategy", json_str_or_null(r->strategy));
	json_object_set_new(o, "result", json_string_lossy(r->result ? r->result : "failed"));
	if (!report_ok(r))
		json_object_set_new(o, "error", json_string_lossy(r->error ? r->error : "no reason recorded"));
	json_object_set_new(o, "downtime_ms", json_ms(r->downtime_ms));
	json_object_set_new(o, "frozen_ms", json_ms(r->frozen_ms));
	json_object_set_new(o, "bytes_before_resume", json_u64(r->bytes_before_resume));
	json_object_set_new(o, "bytes_total", json_u64(r->bytes_total));
	json_object_set_new(o, "rounds", json_integer(r->rounds));
	json_object_set_new(o, "lazy_ms", json_ms(r->lazy_ms));
	json_object_set_new(o, "total_ms", json_ms(report_end_ms(r)));
	json_object_set_new(o, "phases", phases_json(r));
	add_criu_calls(o, r->criu_argv);
	json_object_set_new(o, "versions", versions_json(r->versions));
	json_object_set_new(o, "dest_versions", versions_json(r->dest_versions));
	json_object_set_new(o, "workload", json_str_or_null(r->workload));
	json_object_set_new(o, "source", json_str_or_null(r->source));
	json_object_set_new(o, "destination", json_str_or_null(r->destination));
	json_object_set_new(o, "stop_reason", json_str_or_null(r->stop_reason));
	json_object_set_new(o, "round_stats", rounds_json(r));
	/* extra may add keys but never replace a contract key. */
	if (json_is_object(r->extra))
		json_object_update_missing(o, r->extra);
	return o;
}

/* Enough significant digits for any time to 0.1 ms, so 12.3 prints as 12.3. */
#define REPORT_DUMP_FLAGS (JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(15))

/* Written to a temporary file next to path and renamed into place, so that
 * a reader never sees half a report. "-" writes to stdout. */
int report_write_json(const struct report *r, const char *path)
{
	json_auto_t *o = report_to_json(r);
	__do_free char *text = json_dumps(o, REPORT_DUMP_FLAGS);
	__do_free char *line = text ? xasprintf("%s\n", text) : NULL;

	if (!line) {
		errno = ENOMEM;
		return -1;
	}
	if (strcmp(path, "-"))
		return write_file_atomic(path, line, strlen(line), 0644);
	fflush(stdout); /* keep order with what was printed before */
	return write_full(STDOUT_FILENO, line, strlen(line));
}

/* ---- human summary ------------------------------------------------------- */

static const char *human_bytes(uint64_t n, char *buf, size_t len)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)n;
	size_t u = 0;

	if (n < 1024) {
		snprintf(buf, len, "%llu B", (unsigned long long)n);
		return buf;
	}
	v /= 1024;
	while (v >= 1024 && u + 1 < ARRAY_SIZE(units)) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, "%.1f %s", v, units[u]);
	return buf;
}

static const char *human_ms(double ms, char *buf, size_t len)
{
	if (!isfinite(ms))
		snprintf(buf, len, "-");
	else if (ms < 1000)
		snprintf(buf, len, "%.1f ms", tenth(ms));
	else
		snprintf(buf, len, "%.2f s", ms / 1000);
	return buf;
}

static void print_phases(const struct report *r, FILE *out)
{
	char start[32], dur[32], bytes[32];

	if (!r->nphases)
		return;
	fprintf(out, "  %-20s %-10s %-10s %10s\n", "phase", "start", "took", "bytes");
	for (size_t i = 0; i < r->nphases; i++) {
		const struct phase *p = &r->phases[i];
		double end = isnan(p->end_ms) ? report_end_ms(r) : p->end_ms;

		fprintf(out, "  %-20s %-10s %-10s %10s%s\n", p->name,
			human_ms(p->start_ms, start, sizeof(start)),
			human_ms(end - p->start_ms, dur, sizeof(dur)),
			human_bytes(p->bytes, bytes, sizeof(bytes)),
			isnan(p->end_ms) ? "  (unfinished)" : "");
	}
}

void report_print_summary(const struct report *r, FILE *out)
{
	char a[32], b[32];

	fprintf(out, "crmig migrate: %s, %s\n", r->strategy ? r->strategy : "?", r->result ? r->result : "failed");
	if (!report_ok(r))
		fprintf(out, "  %-20s %s\n", "error", r->error ? r->error : "no reason recorded");
	if (r->workload)
		fprintf(out, "  %-20s %s\n", "workload", r->workload);
	if (r->source || r->destination)
		fprintf(out, "  %-20s %s -> %s\n", "hosts", r->source ? r->source : "?",
			r->destination ? r->destination : "?");
	fprintf(out, "  %-20s %s\n", "downtime", human_ms(r->downtime_ms, a, sizeof(a)));
	fprintf(out, "  %-20s %s\n", "frozen", human_ms(r->frozen_ms, a, sizeof(a)));
	fprintf(out, "  %-20s %s\n", "bytes before resume", human_bytes(r->bytes_before_resume, a, sizeof(a)));
	fprintf(out, "  %-20s %s\n", "bytes total", human_bytes(r->bytes_total, a, sizeof(a)));
	if (r->stop_reason)
		fprintf(out, "  %-20s %d (stopped: %s)\n", "rounds", r->rounds, r->stop_reason);
	else
		fprintf(out, "  %-20s %d\n", "rounds", r->rounds);
	fprintf(out, "  %-20s %s\n", "lazy", human_ms(r->lazy_ms, a, sizeof(a)));
	fprintf(out, "  %-20s %s\n", "total", human_ms(report_end_ms(r), b, sizeof(b)));
	print_phases(r, out);
}
