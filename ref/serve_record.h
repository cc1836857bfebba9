/* A serve session's record of what it did (serve_record.c). */
#ifndef CRMIG_SERVE_RECORD_H
#define CRMIG_SERVE_RECORD_H

#include <jansson.h>
#include <sys/types.h>

/* STATE/dst-ID/session.json, atomically; 0 or -1. */
int rec_write(const char *dir, json_t *rec);
/* Cleans up after sessions that are gone: every dst-* of state_dir whose
 * session no longer runs (only_pid 0), or only the one of session only_pid
 * (it just died). Returns how many it cleaned up. */
int rec_recover(const char *state_dir, pid_t only_pid);

#endif
