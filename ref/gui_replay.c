/* crmig gui --replay FIXTURE: the whole page without a host. The fixture
 * (testsuite/gui/fixtures/README.md) holds the hosts' check data and
 * process lists and recorded migrations (crmig migrate --events lines with
 * their t_ms, ending in the result with crmig's report). A migration the
 * page starts plays the recording of its strategy with its timing (sped
 * up by --speed); a cancel before its handover event rolls it back as
 * crmig would; afterwards the workload shows on the other host. */
#include <time.h>

#include "gui.h"
#include "proto.h"
#include "util.h"

struct gui_replay {
	struct gui_state *st;
	json_t *fx;
	double speed;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t th;
	bool running, stop, cancel;
	json_t *job;               /* the migration being played: {id, from, to, target, ...} */
	json_t *rec;               /* its recording */
	int next_pid;
};

/* A recording for this strategy and target (a failed migration of one
 * container, say) first, else one for the strategy and any target. */
static json_t *recording_for(struct gui_replay *r, const char *strategy, json_t *target)
{
	json_t *m;
	size_t i;

	for (int pass = 0; pass < 2; pass++)
		json_array_foreach(json_object_get(r->fx, "migrations"), i, m) {
			json_t *t = json_object_get(m, "target");

			if (!json_str(m, "strategy") || strcmp(json_str(m, "strategy"), strategy))
				continue;
			if (pass == 0 ? json_equal(t, target) : !t)
				return m;
		}
	return NULL;
}

/* The target's subtree moves from one host's list to the other's, with
 * new pids (the destination's report says which one its root got). */
static void move_tree(struct gui_replay *r, json_t *job, json_t *report)
{
	json_t *snap = gui_snapshot(r->st), *h, *p;
	json_t *from_procs = NULL, *to_procs = NULL, *moved = json_array();
	const char *from = json_str(job, "from"), *to = json_str(job, "to");
	json_t *target = json_object_get(job, "target");
	int64_t root = -1, to_parent = 1;
	size_t i;

	json_array_foreach(json_object_get(snap, "hosts"), i, h) {
		if (!strcmp(json_str(h, "name") ?: "", from))
			from_procs = json_deep_copy(json_object_get(h, "procs"));
		if (!strcmp(json_str(h, "name") ?: "", to))
			to_procs = json_deep_copy(json_object_get(h, "procs"));
	}
	json_decref(snap);
	if (!from_procs || !to_procs)
		goto out;
	json_array_foreach(from_procs, i, p)
		if (json_equal(json_object_get(p, "target"), target))
			root = json_integer_value(json_object_get(p, "pid"));
	if (root < 0)
		goto out;
	/* Collect the subtree (parents come before children in no promised
	 * order: repeat until nothing is added). */
	for (bool grew = true; grew;) {
		grew = false;
		for (i = 0; i < json_array_size(from_procs); i++) {
			int64_t pid, ppid;

			p = json_array_get(from_procs, i);
			pid = json_integer_value(json_object_get(p, "pid"));
			ppid = json_integer_value(json_object_get(p, "ppid"));
			bool in = pid == root;
			for (size_t k = 0; !in && k < json_array_size(moved); k++)
				in = json_integer_value(json_object_get(json_array_get(moved, k), "pid")) == ppid;
			if (in) {
				json_array_append(moved, p);
				json_array_remove(from_procs, i);
				grew = true;
				i--;
			}
		}
	}
	/* The destination's pids: the report's destination_pid for the root. */
	{
		int64_t base = json_integer_value(json_object_get(report, "destination_pid"));
		json_t *map = json_object();

		if (base <= 0)
			base = r->next_pid;
		/* A container hangs under the destination's lxc monitor if there
		 * is one, a process under init. */
		if (json_str(target, "lxc"))
			json_array_foreach(to_procs, i, p)
				if (!strncmp(json_str(p, "name") ?: "", "lxc-start", 9))
					to_parent = json_integer_value(json_object_get(p, "pid"));
		json_array_foreach(moved, i, p) {
			char key[32], pkey[32];
			int64_t npid = i == 0 ? base : r->next_pid++;
			json_t *ppid;

			snprintf(key, sizeof(key), "%lld", (long long)json_integer_value(json_object_get(p, "pid")));
			snprintf(pkey, sizeof(pkey), "%lld", (long long)json_integer_value(json_object_get(p, "ppid")));
			json_object_set_new(map, key, json_integer(npid));
			ppid = json_object_get(map, pkey);
			p = json_deep_copy(p);
			json_object_set_new(p, "pid", json_integer(npid));
			json_object_set_new(p, "ppid", json_integer(ppid && i ? json_integer_value(ppid) : to_parent));
			if (json_is_integer(json_object_get(json_object_get(p, "target"), "pid")))
				json_object_set_new(p, "target", json_pack("{s:I}", "pid", (json_int_t)npid));
			json_array_append_new(to_procs, p);
		}
		json_decref(map);
	}
	gui_tree_update(r->st, from, move_ptr(from_procs));
	gui_tree_update(r->st, to, move_ptr(to_procs));
out:
	json_decref(from_procs);
	json_decref(to_procs);
	json_decref(moved);
}

/* What crmig reports for a cancel before the handover. */
static json_t *rolled_back(json_t *rec_report, const char *strategy, double t_ms)
{
	json_t *rep = json_is_object(rec_report) ? json_deep_copy(rec_report) : json_object();

	json_object_set_new(rep, "strategy", json_string(strategy));
	json_object_set_new(rep, "result", json_string("rolled-back"));
	json_object_set_new(rep, "error", json_string("cancelled; the source was resumed"));
	json_object_set_new(rep, "downtime_ms", json_real(0));
	json_object_set_new(rep, "lazy_ms", json_real(0));
	json_object_set_new(rep, "total_ms", json_real(t_ms));
	json_object_set_new(rep, "phases", json_array());
	return rep;
}

static void *play(void *arg)
{
	struct gui_replay *r = arg;
	json_t *events = json_object_get(r->rec, "events"), *ev;
	const char *id = json_str(r->job, "id");
	double start = now_ms();
	bool cancelled = false;
	size_t i;

	json_array_foreach(events, i, ev) {
		double due = start + json_number_value(json_object_get(ev, "t_ms")) / r->speed;

		pthread_mutex_lock(&r->mu);
		while (!r->stop && !(r->cancel && !gui_mig_handover(r->st, id)) && now_ms() < due) {
			struct timespec ts;
			double left = due - now_ms();

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += (long)((left < 50 ? left : 50) * 1e6);
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&r->cv, &r->mu, &ts);
		}
		cancelled = r->cancel && !gui_mig_handover(r->st, id);
		if (r->stop || cancelled) {
			pthread_mutex_unlock(&r->mu);
			break;
		}
		pthread_mutex_unlock(&r->mu);
		gui_mig_event(r->st, id, json_deep_copy(ev));
		if (!strcmp(json_str(ev, "event") ?: "", "result") &&
		    !strcmp(json_str(json_object_get(ev, "report"), "result") ?: "", "ok"))
			move_tree(r, r->job, json_object_get(ev, "report"));
	}
	if (cancelled) {
		double t = (now_ms() - start) * r->speed;
		json_t *rep = NULL;

		json_array_foreach(events, i, ev)
			if (!strcmp(json_str(ev, "event") ?: "", "result"))
				rep = json_object_get(ev, "report");
		gui_mig_event(r->st, id, json_pack("{s:s, s:f, s:s}", "event", "log", "t_ms", t, "msg",
						   "cancelled: criu resumes the source"));
		rep = rolled_back(rep, json_str(r->job, "strategy"), t);
		gui_mig_event(r->st, id, json_pack("{s:s, s:f, s:s, s:o}", "event", "result", "t_ms", t, "result",
						   "rolled-back", "report", rep));
	}
	pthread_mutex_lock(&r->mu);
	r->running = false;
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

static int replay_migrate(void *ctx, json_t *req, const char *id, char *err, size_t errlen, int *status)
{
	struct gui_replay *r = ctx;
	json_t *rec = recording_for(r, json_str(req, "strategy"), json_object_get(req, "target"));

	(void)id;
	if (!rec) {
		*status = 409;
		snprintf(err, errlen, "this replay has no recorded %s migration: pick another strategy",
			 json_str(req, "strategy"));
		return -1;
	}
	pthread_mutex_lock(&r->mu);
	if (r->running) {
		pthread_mutex_unlock(&r->mu);
		*status = 409;
		snprintf(err, errlen, "a replayed migration is still playing");
		return -1;
	}
	if (r->job) {
		pthread_mutex_unlock(&r->mu);
		pthread_join(r->th, NULL);
		pthread_mutex_lock(&r->mu);
		json_decref(r->job);
		r->job = NULL;
	}
	r->job = json_incref(req);
	r->rec = rec;
	r->cancel = false;
	r->running = true;
	if (pthread_create(&r->th, NULL, play, r) != 0) {
		r->running = false;
		json_decref(r->job);
		r->job = NULL;
		pthread_mutex_unlock(&r->mu);
		*status = 500;
		snprintf(err, errlen, "cannot start the replay: %s", strerror(errno));
		return -1;
	}
	pthread_mutex_unlock(&r->mu);
	return 0;
}

static int replay_cancel(void *ctx, const char *id, char *err, size_t errlen)
{
	struct gui_replay *r = ctx;

	pthread_mutex_lock(&r->mu);
	if (!r->running || !r->job || strcmp(json_str(r->job, "id") ?: "", id)) {
		pthread_mutex_unlock(&r->mu);
		snprintf(err, errlen, "it is not playing");
		return -1;
	}
	r->cancel = true;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	return 0;
}

/* A fresh check of a replayed host: its "preflight_check" when the fixture
 * has one (a host that changed since), else the same "check" again. */
static int replay_preflight(void *ctx, const char *name, char *err, size_t errlen)
{
	struct gui_replay *r = ctx;
	json_t *h;
	size_t i;

	json_array_foreach(json_object_get(r->fx, "hosts"), i, h)
		if (!strcmp(json_str(h, "name") ?: "", name)) {
			json_t *c = json_object_get(h, "preflight_check") ?: json_object_get(h, "check");

			gui_host_update(r->st, name, json_str(h, "addr"), json_incref(c), NULL);
			return 0;
		}
	snprintf(err, errlen, "no host %s in the fixture", name);
	return -1;
}

struct gui_replay *gui_replay_start(struct gui_state *st, const char *fixture, double speed, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *fx = json_load_file(fixture, JSON_REJECT_DUPLICATES, &jerr), *h;
	struct gui_replay *r;
	size_t i;

	if (!json_is_object(fx) || !json_is_array(json_object_get(fx, "hosts"))) {
		snprintf(err, errlen, "--replay %s: %s (want {hosts:[...], migrations:[...]}: see "
			 "testsuite/gui/fixtures/README.md)", fixture, fx ? "not a fixture" : jerr.text);
		json_decref(fx);
		return NULL;
	}
	r = xzalloc(sizeof(*r));
	r->st = st;
	r->fx = fx;
	r->speed = speed > 0 ? speed : 1;
	r->next_pid = 30000;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	json_array_foreach(json_object_get(fx, "hosts"), i, h) {
		const char *name = json_str(h, "name");

		if (!name)
			continue;
		gui_host_update(st, name, json_str(h, "addr"), json_incref(json_object_get(h, "check")), NULL);
		gui_tree_update(st, name, json_deep_copy(json_object_get(h, "procs") ?: json_array()));
	}
	st->backend = (struct gui_backend){ .migrate = replay_migrate, .cancel = replay_cancel,
					    .preflight = replay_preflight, .ctx = r };
	return r;
}

void gui_replay_stop(struct gui_replay *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	r->stop = true;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	if (r->job)
		pthread_join(r->th, NULL);
	json_decref(r->job);
	json_decref(r->fx);
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	free(r);
}
