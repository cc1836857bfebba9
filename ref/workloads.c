/* The table of workload kinds (struct workload_ops in migrate.h): crmig
 * serve finds the destination's half of a request's kind here. */
#include <string.h>

#include "migrate.h"

const struct workload_ops *const workloads_all[] = { &workload_pid, &workload_lxc, NULL };

const struct workload_ops *workload_by_kind(const char *kind)
{
	for (size_t i = 0; kind && workloads_all[i]; i++)
		if (!strcmp(workloads_all[i]->kind, kind))
			return workloads_all[i];
	return NULL;
}
