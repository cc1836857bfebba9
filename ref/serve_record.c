/* What a session of crmig serve leaves in its directory (STATE/dst-ID/
 * session.json) so that, if the session dies (killed, crashed) before it
 * cleaned up, serve finds and ends what it left: at start-up for every
 * directory whose session is gone, and in the accept loop whenever a
 * session process dies of a signal.
 *
 * The rule is the session's own: a workload restored here stays only once
 * the source committed ("finish" with commit: it is about to let criu end
 * its copy, or to serve the rest of the pages). Otherwise the source
 * resumed its own copy (criu does when crmig or its stream vanish), and the
 * one here, with the criu helpers of the session, is ended.
 * Processes are recognised by pid and start time, never by pid alone. */
#include "procfs.h"
#include "serve_record.h"

#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <sys/stat.h>

#include "migrate.h"
#include "util.h"

static bool same_process(json_t *rec, const char *pid_key, const char *start_key)
{
	pid_t pid = (pid_t)json_integer_value(json_object_get(rec, pid_key));
	json_int_t start = json_integer_value(json_object_get(rec, start_key));

	return pid > 1 && start > 0 && proc_start_time(pid) == (unsigned long long)start;
}

int rec_write(const char *dir, json_t *rec)
{
	__do_free char *path = xasprintf("%s/session.json", dir);
	__do_free char *text = json_dumps(rec, JSON_COMPACT);

	return text ? write_file_atomic(path, text, strlen(text), 0600) : -1;
}

/* A restore the session did not live to record: criu's pid file in one of
 * its images directories, a process started after the session. */
static void end_unrecorded_restore(const char *dir, unsigned long long session_start)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	while (d && (e = readdir(d))) {
		__do_free char *pidfile = NULL, *text = NULL;
		pid_t pid;

		if (e->d_name[0] == '.')
			continue;
		pidfile = xasprintf("%s/%s/restore.pid", dir, e->d_name);
		text = read_file(pidfile, NULL);
		pid = text ? atoi(text) : 0;
		if (pid > 1 && proc_start_time(pid) >= session_start && session_start > 0)
			proc_kill_tree(pid);
	}
	if (d)
		closedir(d);
}

/* One directory whose session is gone: end what it restored unless it was
 * handed over, then remove it. Returns 1 when it cleaned up. */
static int recover_one(const char *state_dir, const char *name, pid_t only_pid)
{
	__do_free char *dir = xasprintf("%s/%s", state_dir, name);
	__do_free char *path = xasprintf("%s/session.json", dir);
	json_t *rec = json_load_file(path, 0, NULL);
	pid_t owner = (pid_t)json_integer_value(json_object_get(rec, "pid"));
	bool kept;

	if (!rec)
		return 0; /* not ours, or from before records: leave it */
	if ((only_pid && owner != only_pid) || (!only_pid && same_process(rec, "pid", "start"))) {
		json_decref(rec);
		return 0; /* another session, or this one still runs */
	}
	kept = json_is_true(json_object_get(rec, "committed"));
	if (!kept) {
		json_t *wl = json_object_get(rec, "workload");
		pid_t restored = (pid_t)json_integer_value(json_object_get(rec, "restored_pid"));
		pid_t pgid = (pid_t)json_integer_value(json_object_get(rec, "pgid"));
		const struct workload_ops *kind = workload_by_kind(json_string_value(json_object_get(wl, "kind")));
		pid_t root = restored > 1 && same_process(rec, "restored_pid", "restored_start") ? restored : 0;

		/* its criu helpers first (page server, lazy-pages, a restore still
		 * running): they are in the session's process group */
		if (pgid > 1 && pgid != getpgrp())
			kill(-pgid, SIGKILL);
		if (kind)
			kind->dest_end(wl, root);
		if (!root)
			end_unrecorded_restore(dir, (unsigned long long)json_integer_value(json_object_get(rec, "start")));
	}
	fprintf(stderr, "crmig serve: session %s (pid %d) is gone: %s, removed %s\n", name, (int)owner,
		kept ? "its workload was handed over and stays" : "ended what it had restored", dir);
	json_decref(rec);
	remove_tree(dir);
	return 1;
}

int rec_recover(const char *state_dir, pid_t only_pid)
{
	DIR *d = opendir(state_dir);
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)))
		if (!strncmp(e->d_name, "dst-", 4) && !strchr(e->d_name, '/'))
			n += recover_one(state_dir, e->d_name, only_pid);
	if (d)
		closedir(d);
	return n;
}
