/* What the criu and lxc logs of a failed migration say, for its report
 * ("criu_log_excerpts") and so for the GUI's failure view. */
#ifndef CRMIG_LOG_EXCERPT_H
#define CRMIG_LOG_EXCERPT_H

#include <jansson.h>

#define LOG_EXCERPT_LINES 20       /* per log file: the last error lines */
#define LOG_EXCERPT_FILES 6        /* per host */
#define LOG_SEND_MAX (16u << 20)   /* a log the destination sends, at most */

/* The last max_lines lines of the log at path that say something went
 * wrong (criu's "Error", liblxc's "ERROR", any "error", criu's "BUG"), in
 * the log's order: an array of strings, empty when there are none. */
json_t *log_error_tail(const char *path, int max_lines);

/* Every *.log under dir (and its subdirectories, two levels deep, skipping
 * the one named skip, may be NULL) with error lines: an array of
 * {file: path relative to dir, lines: [...]}, by file name. */
json_t *log_excerpts(const char *dir, const char *skip);

/* A log longer than max bytes, cut to its first quarter and its last three
 * quarters with a line between that says how much was left out: a memfd
 * (read it from 0), or -1 when the log is not longer (or on error). A criu
 * stuck in a loop logs a gigabyte in minutes (lab: 800 MB in 4 min), and
 * the destination's logs travel to the source after every failure. */
int log_trimmed_copy(int fd, size_t max);
/* The log at path as text, cut as log_trimmed_copy cuts it when it is longer
 * than LOG_SEND_MAX: what reads a log never holds a gigabyte. NULL if none. */
char *log_read(const char *path);

#endif
