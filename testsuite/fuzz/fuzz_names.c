/* The rules for names and paths from outside (ref/util.c safe_name,
 * safe_abs_path; ref/proto.c proto_safe_relpath, json_str;
 * testsuite/lib/wl_proto.c wl_valid_id): whatever they accept is free of
 * "..", of absolute paths, of NUL and control characters, and bounded. */
#include <limits.h>

#include "fuzz.h"
#include "../lib/wl.h"

static bool has_component(const char *s, const char *comp)
{
	size_t n = strlen(comp);

	for (const char *p = s; *p;) {
		size_t len = strcspn(p, "/");

		if (len == n && !strncmp(p, comp, n))
			return true;
		p += len;
		p += *p == '/';
	}
	return false;
}

static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	__do_free char *s = NULL;
	size_t max, n;
	json_t *obj;

	if (len < 1)
		return 0;
	max = data[0];
	s = fuzz_text(data + 1, len - 1);
	n = strlen(s);

	if (safe_name(s, max) &&
	    (n == 0 || n > max || n > NAME_MAX || strchr(s, '/') || s[0] == '.' || has_control(s)))
		abort();
	if (safe_abs_path(s) &&
	    (s[0] != '/' || n >= PATH_MAX || has_component(s, "..") || has_component(s, ".") || has_control(s)))
		abort();
	for (int subdirs = 0; subdirs < 2; subdirs++)
		if (proto_safe_relpath(s, subdirs) &&
		    (s[0] == '/' || n == 0 || n > PROTO_MAX_PATH || has_component(s, "..") || has_component(s, ".") ||
		     has_control(s) || strstr(s, "//") || (!subdirs && strchr(s, '/'))))
			abort();
	if (wl_valid_id(s) && (n == 0 || n > WL_ID_MAX || strchr(s, '/') || has_control(s)))
		abort();

	/* The same bytes as a JSON string (with any NULs): json_str must
	 * refuse a string that hides one. */
	obj = json_object();
	if (json_object_set_new(obj, "name", json_stringn((const char *)data + 1, len - 1)) == 0) {
		const char *got = json_str(obj, "name");

		if (got && memchr(data + 1, '\0', len - 1))
			abort();
		if (!got && !memchr(data + 1, '\0', len - 1))
			abort();
	}
	json_decref(obj);
	return 0;
}
