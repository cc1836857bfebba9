/* What the criu and lxc logs of a failed migration say, for its report
 * ("criu_log_excerpts") and so for the GUI's failure view. */
#ifndef CRMIG_LOG_EXCERPT_H
#define CRMIG_LOG_EXCERPT_H

#include <jansson.h>

#define LOG_EXCERPT_LINES 20       /* per log file: the last error lines */
#define LOG_EXCERPT_FILES 6        /* per host */

/* The last max_lines lines of the log at path that say something went
 * wrong (criu's "Error", liblxc's "ERROR", any "error", criu's "BUG"), in
 * the log's order: an array of strings, empty when there are none. */
json_t *log_error_tail(const char *path, int max_lines);

/* Every *.log under dir (and its subdirectories, two levels deep, skipping
 * the one named skip, may be NULL) with error lines: an array of
 * {file: path relative to dir, lines: [...]}, by file name. */
json_t *log_excerpts(const char *dir, const char *skip);

#endif
