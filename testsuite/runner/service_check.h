/* The harness's side of the service workload kinds (service_check.c). */
#ifndef CRMIG_SERVICE_CHECK_H
#define CRMIG_SERVICE_CHECK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "../lib/kv.h"

struct svc_check {
	const struct kv_service *svc;
	struct kv_conn conn;         /* the one connection, kept through the migration */
	pthread_t thread;
	bool running;
	atomic_bool stop;
	long acked;                  /* writes w0000000 .. acked-1 were acknowledged */
	char writer_err[KV_REASON_MAX];
	char digest_before[128];
	long long id_before;
	int nkeys;
};

/* Connect (port 0: the service's default), load nkeys keys, note the digest
 * and the connection's id, start writing. 0, or -1 with why. */
int svc_check_start(struct svc_check *k, const char *service, const char *addr, int port, int nkeys, char *why,
		    size_t len);
/* Stop writing and prove nothing was lost; 0 with why = a summary, or -1 with why. */
int svc_check_finish(struct svc_check *k, char *why, size_t len);
void svc_check_stop(struct svc_check *k);

#endif
