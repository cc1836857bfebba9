/* Excerpts of criu's and liblxc's logs (see log_excerpt.h). */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "log_excerpt.h"
#include "util.h"

/* Logs are not always UTF-8 (paths with odd bytes): those bytes become '?'. */
static json_t *string_lossy(char *s)
{
	json_t *j = json_string(s);

	if (j)
		return j;
	for (char *p = s; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	return json_string(s);
}

static bool says_error(const char *line)
{
	return strcasestr(line, "error") || strstr(line, "BUG") || strstr(line, "Failed");
}

json_t *log_error_tail(const char *path, int max_lines)
{
	__do_free char *log = log_read(path);
	json_t *out = json_array();

	if (!log || max_lines <= 0)
		return out;
	for (char *line = log; *line;) {
		char *end = strchrnul(line, '\n');
		char saved = *end;

		*end = '\0';
		if (says_error(line)) {
			/* a ring of the last max_lines: drop the oldest */
			if (json_array_size(out) >= (size_t)max_lines)
				json_array_remove(out, 0);
			json_array_append_new(out, string_lossy(line));
		}
		*end = saved;
		line = saved ? end + 1 : end;
	}
	return out;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "file")),
		      json_string_value(json_object_get(*(json_t *const *)b, "file")));
}

static void walk(const char *root, const char *rel, const char *skip, int depth, json_t *out)
{
	__do_free char *path = rel[0] ? xasprintf("%s/%s", root, rel) : xstrdup(root);
	DIR *d = opendir(path);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		__do_free char *sub = NULL;

		if (e->d_name[0] == '.')
			continue;
		sub = rel[0] ? xasprintf("%s/%s", rel, e->d_name) : xstrdup(e->d_name);
		if (e->d_type == DT_DIR) {
			if (depth < 2 && !(skip && !rel[0] && !strcmp(e->d_name, skip)))
				walk(root, sub, skip, depth + 1, out);
		} else if (e->d_type == DT_REG && n > 4 && !strcmp(e->d_name + n - 4, ".log")) {
			__do_free char *file = xasprintf("%s/%s", root, sub);
			json_t *lines = log_error_tail(file, LOG_EXCERPT_LINES);

			if (json_array_size(lines))
				json_array_append_new(out, json_pack("{s:s, s:o}", "file", sub, "lines", lines));
			else
				json_decref(lines);
		}
	}
	closedir(d);
}

json_t *log_excerpts(const char *dir, const char *skip)
{
	json_t *out = json_array();
	size_t n;
	json_t **v;

	walk(dir, "", skip, 0, out);
	n = json_array_size(out);
	if (n < 2)
		return out;
	v = xzalloc(n * sizeof(*v));
	for (size_t i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(out, i));
	qsort(v, n, sizeof(*v), by_name);
	json_array_clear(out);
	for (size_t i = 0; i < n && i < LOG_EXCERPT_FILES; i++)
		json_array_append(out, v[i]);
	for (size_t i = 0; i < n; i++)
		json_decref(v[i]);
	free(v);
	return out;
}

static int copy_range(int from, int to, off_t off, size_t len)
{
	char buf[65536];

	while (len > 0) {
		ssize_t n = pread(from, buf, len < sizeof(buf) ? len : sizeof(buf), off);

		if (n <= 0 || write_full(to, buf, (size_t)n) < 0)
			return -1;
		off += n;
		len -= (size_t)n;
	}
	return 0;
}

int log_trimmed_copy(int fd, size_t max)
{
	struct stat st;
	size_t head = max / 4, tail = max - max / 4;
	__do_free char *note = NULL;
	int mfd;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size <= max)
		return -1;
	mfd = memfd_create("crmig-log", MFD_CLOEXEC);
	if (mfd < 0)
		return -1;
	note = xasprintf("\n[crmig: %llu bytes of this log left out here; it had %llu]\n",
			 (unsigned long long)((size_t)st.st_size - head - tail), (unsigned long long)st.st_size);
	if (copy_range(fd, mfd, 0, head) < 0 || write_full(mfd, note, strlen(note)) < 0 ||
	    copy_range(fd, mfd, st.st_size - (off_t)tail, tail) < 0) {
		close(mfd);
		return -1;
	}
	return mfd;
}

char *log_read(const char *path)
{
	__do_close int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	__do_close int cut = fd >= 0 ? log_trimmed_copy(fd, LOG_SEND_MAX) : -1;
	__do_free char *self = cut >= 0 ? xasprintf("/proc/self/fd/%d", cut) : NULL;

	if (fd < 0)
		return NULL;
	return read_file(self ? self : path, NULL);
}
