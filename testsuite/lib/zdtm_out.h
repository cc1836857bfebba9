/* The verdict of one zdtm test from its .out: the log zdtm's lib writes
 * (NAME.out.inprogress, renamed to NAME.out when the test exits). Shared by
 * the zdtm group workload and the unit tests. */
#ifndef CRMIG_ZDTM_OUT_H
#define CRMIG_ZDTM_OUT_H

#include <stdbool.h>
#include <stddef.h>

/* PASS when a line says PASS and none says FAIL. Otherwise false, with reason
 * = the test's own last error lines joined by " / " (one line, printable). */
bool zdtm_out_passed(const char *out, char *reason, size_t len);

#endif
