/* The harness's client of a real service (testsuite/lib/kv.c) for the
 * `service` workload kinds: it loads the data through the service's own
 * protocol, keeps that one connection open through the migration while a
 * thread writes on it, then proves on the same connection that nothing was
 * lost: every loaded key and every acknowledged write reads back identical,
 * the service's digest (or item count) is what it was before, and the server
 * still knows the connection by the same id. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "service_check.h"

#define WRITE_PAUSE_US 20000

/* Deterministic values that a lost or stale write cannot fake. */
static void value_of(const char *key, char *out, size_t len)
{
	unsigned h = 2166136261u;

	for (const char *p = key; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	snprintf(out, len, "%s=%08x%08x%08x%08x", key, h, h * 2654435761u, h ^ 0x5bd1e995u, ~h);
}

static void *writer(void *arg)
{
	struct svc_check *k = arg;

	while (!atomic_load(&k->stop)) {
		char key[32], val[96];

		snprintf(key, sizeof(key), "w%07ld", k->acked);
		value_of(key, val, sizeof(val));
		if (k->svc->set(&k->conn, key, val) < 0) {
			snprintf(k->writer_err, sizeof(k->writer_err), "%s", k->conn.err);
			break;
		}
		k->acked++;
		usleep(WRITE_PAUSE_US);
	}
	return NULL;
}

int svc_check_start(struct svc_check *k, const char *service, const char *addr, int port, int nkeys, char *why,
		    size_t len)
{
	memset(k, 0, sizeof(*k));
	k->conn.fd = -1;
	k->svc = kv_service(service);
	k->nkeys = nkeys;
	if (!k->svc) {
		snprintf(why, len, "unknown service '%s'", service);
		return -1;
	}
	if (kv_connect(&k->conn, addr, port ? port : k->svc->port, 30000) < 0) {
		snprintf(why, len, "cannot reach %s on %s: %s", service, addr, k->conn.err);
		return -1;
	}
	/* A frozen service answers once restored: the writer waits for it (the
	 * downtime), but not forever. */
	k->conn.timeout_ms = 120000;
	for (int i = 0; i < nkeys; i++) {
		char key[32], val[96];

		snprintf(key, sizeof(key), "k%07d", i);
		value_of(key, val, sizeof(val));
		if (k->svc->set(&k->conn, key, val) < 0) {
			snprintf(why, len, "loading %s: %s", service, k->conn.err);
			return -1;
		}
	}
	if (k->svc->digest(&k->conn, k->digest_before, sizeof(k->digest_before)) < 0) {
		snprintf(why, len, "%s's digest: %s", service, k->conn.err);
		return -1;
	}
	k->id_before = k->svc->conn_id(&k->conn);
	if (pthread_create(&k->thread, NULL, writer, k) != 0) {
		snprintf(why, len, "cannot start the writer thread");
		return -1;
	}
	k->running = true;
	return 0;
}

static void stop_writer(struct svc_check *k)
{
	if (!k->running)
		return;
	atomic_store(&k->stop, true);
	pthread_join(k->thread, NULL);
	k->running = false;
}

static int check_key(struct svc_check *k, const char *key, char *why, size_t len)
{
	char want[96], got[4096];
	int r;

	value_of(key, want, sizeof(want));
	r = k->svc->get(&k->conn, key, got, sizeof(got));
	if (r < 0)
		snprintf(why, len, "reading %s back: %s", key, k->conn.err);
	else if (r == 1)
		snprintf(why, len, "%s is gone", key);
	else if (strcmp(got, want))
		snprintf(why, len, "%s reads '%.60s', was written '%.60s'", key, got, want);
	return r == 0 && !strcmp(got, want) ? 0 : -1;
}

int svc_check_finish(struct svc_check *k, char *why, size_t len)
{
	char digest[128], sub[512];
	long long id;

	stop_writer(k);
	if (k->writer_err[0]) {
		snprintf(why, len, "%s: the kept connection failed after %ld acknowledged writes: %s", k->svc->name, k->acked,
			 k->writer_err);
		return -1;
	}
	id = k->svc->conn_id(&k->conn);
	if (k->id_before >= 0 && id != k->id_before) {
		snprintf(why, len, "%s: the connection is not the same one (client id %lld, was %lld)", k->svc->name, id,
			 k->id_before);
		return -1;
	}
	for (long i = 0; i < k->acked; i++) {
		char key[32];

		snprintf(key, sizeof(key), "w%07ld", i);
		if (check_key(k, key, sub, sizeof(sub)) < 0) {
			snprintf(why, len, "%s: an acknowledged write is lost (%ld acknowledged): %s", k->svc->name, k->acked,
				 sub);
			return -1;
		}
		if (k->svc->del(&k->conn, key) < 0) {
			snprintf(why, len, "%s: deleting %s: %s", k->svc->name, key, k->conn.err);
			return -1;
		}
	}
	for (int i = 0; i < k->nkeys; i++) {
		char key[32];

		snprintf(key, sizeof(key), "k%07d", i);
		if (check_key(k, key, sub, sizeof(sub)) < 0) {
			snprintf(why, len, "%s: the loaded data changed: %s", k->svc->name, sub);
			return -1;
		}
	}
	/* Without the writes, the data set is the loaded one: the service must say so too. */
	if (k->svc->digest(&k->conn, digest, sizeof(digest)) < 0) {
		snprintf(why, len, "%s's digest after the migration: %s", k->svc->name, k->conn.err);
		return -1;
	}
	if (strcmp(digest, k->digest_before)) {
		snprintf(why, len, "%s: its own %s after the migration, %s before", k->svc->name, digest, k->digest_before);
		return -1;
	}
	snprintf(why, len, "%d keys and %ld acknowledged writes intact, %s, same connection%s", k->nkeys, k->acked, digest,
		 k->id_before >= 0 ? " (client id unchanged)" : "");
	return 0;
}

void svc_check_stop(struct svc_check *k)
{
	stop_writer(k);
	kv_close(&k->conn);
}
