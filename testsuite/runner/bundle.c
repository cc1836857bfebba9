/* bundle.json: what a kept failure is (instance, case text, mode, strategy,
 * crmig's arguments, the image's cache key, the reason) and what it holds
 * (every file with its size and sha256), so that a bundle handed to someone
 * else can be checked and replayed (replay.c). Reading one is reading
 * untrusted input: every key is checked, every listed file verified. */
#include <dirent.h>
#include <fcntl.h>
#include <libgen.h>
#include <sys/stat.h>
#include <time.h>

#include "bundle.h"
#include "digest.h"
#include "mode.h"
#include "util.h"

#define MANIFEST_MAX (4 << 20)

/* ---- paths -------------------------------------------------------------- */

bool bundle_path_ok(const char *path)
{
	const char *p = path;

	if (!path || !*path || strlen(path) > BUNDLE_MAX_PATH || path[0] == '/')
		return false;
	if (!strncmp(p, "./", 2))
		p += 2;
	if (!*p)
		return false;
	for (const unsigned char *c = (const unsigned char *)p; *c; c++)
		if (*c < 0x20 || *c == 0x7f || *c == '\\')
			return false;
	for (;;) {
		size_t n = strcspn(p, "/");

		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		if (!p[n])
			return true;
		p += n + 1;
		if (!*p)
			return true;	/* "dir/": a directory entry */
	}
}

/* ---- hashing ------------------------------------------------------------- */

int bundle_sha256_file(const char *path, char hex[65], uint64_t *size)
{
	return sha256_file_at(AT_FDCWD, path, hex, size);
}

/* ---- the list of files --------------------------------------------------- */

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_into(const char *root, const char *rel, char ***v, size_t *n, int depth)
{
	__do_free char *path = rel[0] ? xasprintf("%s/%s", root, rel) : xstrdup(root);
	DIR *d = opendir(path);
	struct dirent *e;
	int ret = 0;

	if (!d)
		return -1;
	while (ret == 0 && (e = readdir(d))) {
		__do_free char *sub = NULL, *full = NULL;
		struct stat st;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		sub = rel[0] ? xasprintf("%s/%s", rel, e->d_name) : xstrdup(e->d_name);
		full = xasprintf("%s/%s", root, sub);
		if (lstat(full, &st) < 0)
			ret = -1;
		else if (S_ISDIR(st.st_mode) && depth < 16)
			ret = list_into(root, sub, v, n, depth + 1);
		else if (S_ISREG(st.st_mode) && strcmp(sub, BUNDLE_MANIFEST)) {
			*v = xrealloc(*v, (*n + 1) * sizeof(**v));
			(*v)[(*n)++] = move_ptr(sub);
		}
		/* links, devices and the like are not part of a bundle */
	}
	closedir(d);
	return ret;
}

/* Every regular file below dir (bundle.json aside), sorted; -1 on a read error. */
int bundle_list(const char *dir, char ***paths, size_t *n)
{
	*paths = NULL;
	*n = 0;
	if (list_into(dir, "", paths, n, 0) < 0) {
		for (size_t i = 0; i < *n; i++)
			free((*paths)[i]);
		free(*paths);
		*paths = NULL;
		*n = 0;
		return -1;
	}
	qsort(*paths, *n, sizeof(**paths), by_name);
	return 0;
}

void bundle_list_free(char **paths, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
}

/* ---- writing the manifest ------------------------------------------------ */

static json_t *string_or_null(const char *s)
{
	__do_free char *clean = s ? utf8_sanitize(s) : NULL;

	return clean ? json_string(clean) : json_null();
}

static json_t *case_object(const struct suite_case *c)
{
	__do_free char *text = c && c->file[0] ? read_file(c->file, NULL) : NULL;
	__do_free char *copy = c ? xstrdup(c->file) : NULL;
	json_t *o = json_object();

	if (!c)
		return o;
	json_object_set_new(o, "name", string_or_null(c->name));
	json_object_set_new(o, "file", c->file[0] ? string_or_null(basename(copy)) : json_null());
	json_object_set_new(o, "text", text && strlen(text) <= 65536 ? string_or_null(text) : json_null());
	json_object_set_new(o, "workload", string_or_null(c->workload));
	json_object_set_new(o, "args", string_or_null(c->args));
	json_object_set_new(o, "crmig_args", string_or_null(c->crmig_args));
	json_object_set_new(o, "tier", string_or_null(c->tier));
	json_object_set_new(o, "timeout_s", json_integer(c->timeout_s));
	return o;
}

static json_t *files_array(const char *dir, char *err, size_t errlen)
{
	char **paths;
	size_t n;
	json_t *files;

	if (bundle_list(dir, &paths, &n) < 0) {
		snprintf(err, errlen, "cannot list %s: %s", dir, strerror(errno));
		return NULL;
	}
	files = json_array();
	for (size_t i = 0; i < n; i++) {
		__do_free char *full = xasprintf("%s/%s", dir, paths[i]);
		char hex[65];
		uint64_t size;

		if (!bundle_path_ok(paths[i]) || bundle_sha256_file(full, hex, &size) < 0) {
			snprintf(err, errlen, "cannot read %s for the bundle's manifest", full);
			json_decref(files);
			bundle_list_free(paths, n);
			return NULL;
		}
		json_array_append_new(files, json_pack("{s:s, s:I, s:s}", "path", paths[i], "size", (json_int_t)size,
						       "sha256", hex));
	}
	bundle_list_free(paths, n);
	return files;
}

int bundle_write_manifest(const char *dir, const struct suite_instance *in, const struct suite_result *res,
			  char *err, size_t errlen)
{
	__do_free char *image_path = xasprintf("%s/manifest.json", dir);
	__do_free char *out = xasprintf("%s/" BUNDLE_MANIFEST, dir);
	__do_free char *text = NULL;
	json_t *image = json_load_file(image_path, 0, NULL), *files, *m;
	char created[32];
	time_t now = time(NULL);
	int ret;

	files = files_array(dir, err, errlen);
	if (!files) {
		json_decref(image);
		return -1;
	}
	strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	m = json_object();
	json_object_set_new(m, "format", json_string(BUNDLE_FORMAT));
	json_object_set_new(m, "instance", string_or_null(in->id));
	json_object_set_new(m, "case", case_object(in->c));
	json_object_set_new(m, "mode", json_string(mode_bit_name(in->mode)));
	json_object_set_new(m, "strategy", json_string(strategy_bit_name(in->strategy)));
	json_object_set_new(m, "crmig_args", string_or_null(in->c ? in->c->crmig_args : ""));
	json_object_set_new(m, "distro", json_is_string(json_object_get(image, "distro")) ?
					  json_incref(json_object_get(image, "distro")) : string_or_null(res->distro));
	json_object_set_new(m, "image_key", json_incref(json_object_get(image, "key")) ?: json_null());
	json_object_set_new(m, "image_inputs", json_incref(json_object_get(image, "inputs")) ?: json_null());
	json_object_set_new(m, "versions", json_incref(json_object_get(image, "versions")) ?: json_null());
	json_object_set_new(m, "outcome", json_string(outcome_name(res->outcome)));
	json_object_set_new(m, "reason", string_or_null(res->reason));
	json_object_set_new(m, "known_bug", res->known_bug[0] ? string_or_null(res->known_bug) : json_null());
	json_object_set_new(m, "created", json_string(created));
	json_object_set_new(m, "files", files);
	text = json_dumps(m, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(m);
	json_decref(image);
	if (!text) {
		snprintf(err, errlen, "cannot encode the bundle's manifest");
		return -1;
	}
	ret = write_file_atomic(out, text, strlen(text), 0644);
	if (ret < 0)
		snprintf(err, errlen, "cannot write %s: %s", out, strerror(errno));
	return ret;
}

/* ---- reading and checking one --------------------------------------------- */

static bool charset(const char *s, const char *allowed, size_t max)
{
	return s && *s && strlen(s) <= max && strspn(s, allowed) == strlen(s);
}

#define NAME_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-"
#define HEX_CHARS "0123456789abcdef"


static int check_keys(json_t *m, char *err, size_t errlen)
{
	json_t *c = json_object_get(m, "case");
	const char *mode = json_string_value(json_object_get(m, "mode"));
	const char *strategy = json_string_value(json_object_get(m, "strategy"));
	const char *name = json_string_value(json_object_get(c, "name"));
	const char *key = json_string_value(json_object_get(m, "image_key"));
	const char *distro = json_string_value(json_object_get(m, "distro"));
	const char *inst = json_string_value(json_object_get(m, "instance"));
	unsigned bits;

	if (!json_is_object(m))
		return fail_why(err, errlen, "bundle.json is not a JSON object");
	if (!json_is_string(json_object_get(m, "format")) ||
	    strcmp(json_string_value(json_object_get(m, "format")), BUNDLE_FORMAT))
		return fail_why(err, errlen, "bundle.json is not of format %s", BUNDLE_FORMAT);
	if (!inst || !*inst || strlen(inst) >= sizeof(((struct suite_instance *)0)->id))
		return fail_why(err, errlen, "bundle.json: instance missing or too long");
	if (!json_is_object(c) || !charset(name, NAME_CHARS, 63) || name[0] == '.')
		return fail_why(err, errlen, "bundle.json: case.name missing or not a plain name");
	if (!json_is_string(json_object_get(c, "text")) && !json_is_null(json_object_get(c, "text")))
		return fail_why(err, errlen, "bundle.json: case.text is not a string");
	if (json_is_string(json_object_get(c, "text")) && strlen(json_string_value(json_object_get(c, "text"))) > 65536)
		return fail_why(err, errlen, "bundle.json: case.text is longer than a case file may be");
	if (!mode || parse_modes(mode, &bits) < 0 || !suite_mode_of(bits))
		return fail_why(err, errlen, "bundle.json: mode is not bare or lxc");
	if (!strategy || parse_strategies(strategy, &bits) < 0 || (bits & (bits - 1)))
		return fail_why(err, errlen, "bundle.json: strategy is not one of stop, pre, post, hybrid");
	if (!json_is_string(json_object_get(m, "reason")))
		return fail_why(err, errlen, "bundle.json: reason missing");
	if (key && !charset(key, HEX_CHARS, 64))
		return fail_why(err, errlen, "bundle.json: image_key is not a hex key");
	if (distro && !charset(distro, "abcdefghijklmnopqrstuvwxyz0123456789", 31))
		return fail_why(err, errlen, "bundle.json: distro is not a plain name");
	if (!json_is_array(json_object_get(m, "files")) || json_array_size(json_object_get(m, "files")) > BUNDLE_MAX_ENTRIES)
		return fail_why(err, errlen, "bundle.json: files missing or too many");
	return 0;
}

/* The listed file inside dir, a regular file reached without a link. */
static int check_file(const char *dir, const char *real_dir, json_t *f, json_t *seen, char *err, size_t errlen)
{
	const char *path = json_string_value(json_object_get(f, "path"));
	const char *sha = json_string_value(json_object_get(f, "sha256"));
	json_t *size = json_object_get(f, "size");
	__do_free char *full = NULL;
	char real[PATH_MAX], hex[65];
	uint64_t got;
	struct stat st;

	if (!bundle_path_ok(path) || path[strlen(path) - 1] == '/')
		return fail_why(err, errlen, "bundle.json lists an unsafe path: %.200s", path ? path : "(none)");
	if (!json_is_integer(size) || json_integer_value(size) < 0 || !charset(sha, HEX_CHARS, 64) || strlen(sha) != 64)
		return fail_why(err, errlen, "bundle.json: %s has no valid size and sha256", path);
	if (json_object_get(seen, path))
		return fail_why(err, errlen, "bundle.json lists %s twice", path);
	json_object_set_new(seen, path, json_true());
	full = xasprintf("%s/%s", dir, path);
	if (lstat(full, &st) < 0)
		return fail_why(err, errlen, "%s is missing from the bundle", path);
	if (!S_ISREG(st.st_mode))
		return fail_why(err, errlen, "%s in the bundle is not a regular file", path);
	if (!realpath(full, real) || strncmp(real, real_dir, strlen(real_dir)) || real[strlen(real_dir)] != '/')
		return fail_why(err, errlen, "%s leads out of the bundle (a link on its way)", path);
	if ((uint64_t)json_integer_value(size) != (uint64_t)st.st_size)
		return fail_why(err, errlen, "%s has %lld bytes, the manifest says %lld: the bundle was changed", path,
			   (long long)st.st_size, (long long)json_integer_value(size));
	if (bundle_sha256_file(full, hex, &got) < 0)
		return fail_why(err, errlen, "cannot read %s: %s", full, strerror(errno));
	if (strcmp(hex, sha))
		return fail_why(err, errlen, "%s does not match its sha256 in the manifest: the bundle was changed", path);
	return 0;
}

json_t *bundle_load(const char *dir, char *err, size_t errlen)
{
	__do_free char *path = xasprintf("%s/" BUNDLE_MANIFEST, dir);
	char real_dir[PATH_MAX];
	json_error_t jerr;
	struct stat st;
	json_t *m, *f, *seen;
	size_t i;

	if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
		fail_why(err, errlen, "%s is not a bundle: no %s (bundles from before it existed cannot be replayed: run the "
			"case again with --keep DIR)", dir, BUNDLE_MANIFEST);
		return NULL;
	}
	if (st.st_size > MANIFEST_MAX) {
		fail_why(err, errlen, "%s is larger than %d bytes", path, MANIFEST_MAX);
		return NULL;
	}
	if (!realpath(dir, real_dir)) {
		fail_why(err, errlen, "%s: %s", dir, strerror(errno));
		return NULL;
	}
	m = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!m) {
		fail_why(err, errlen, "%s: line %d: %s", path, jerr.line, jerr.text);
		return NULL;
	}
	if (check_keys(m, err, errlen) < 0) {
		json_decref(m);
		return NULL;
	}
	seen = json_object();
	json_array_foreach(json_object_get(m, "files"), i, f) {
		if (check_file(dir, real_dir, f, seen, err, errlen) < 0) {
			json_decref(seen);
			json_decref(m);
			return NULL;
		}
	}
	json_decref(seen);
	return m;
}

/* ---- after an instance ---------------------------------------------------- */

void bundle_finish(struct suite_result *res)
{
	const char *dir = json_string_value(json_object_get(res->details, "bundle"));
	struct bundle_limits lim = BUNDLE_LIMITS_DEFAULT;
	__do_free char *tar = NULL;
	char err[1024];
	struct stat st;

	if (!dir || res->outcome != OUTCOME_FAIL)
		return;
	if (bundle_write_manifest(dir, &res->inst, res, err, sizeof(err)) < 0) {
		fprintf(stderr, "crmig-suite: %s (the bundle stays without its manifest)\n", err);
		return;
	}
	if (!bundle_tar_supported())
		return;
	tar = xasprintf("%s.tar.gz", dir);
	if (bundle_pack(dir, tar, &lim, err, sizeof(err)) < 0) {
		fprintf(stderr, "crmig-suite: not packed: %s (replay the directory %s instead)\n", err, dir);
		return;
	}
	json_object_set_new(res->details, "bundle_tar", json_string(tar));
	if (stat(tar, &st) == 0)
		fprintf(stderr, "crmig-suite: packed %s (%.1f MiB): crmig-suite replay %s\n", tar,
			st.st_size / 1048576.0, tar);
}

/* ---- comparing reasons ---------------------------------------------------- */

char *reason_normalize(const char *reason)
{
	__do_free char *clean = utf8_sanitize(reason ? reason : "");
	char *out = xmalloc(strlen(clean) + 1), *o = out;

	for (const char *p = clean; *p;) {
		size_t digits = strspn(p, "0123456789"), hex = strspn(p, "0123456789abcdefABCDEF");

		/* numbers (pids, ms, bytes, addresses) and long hex ids become '#' */
		if (digits || hex >= 8) {
			size_t n = hex >= 8 ? hex : digits;

			while (p[n] == '.' && p[n + 1] >= '0' && p[n + 1] <= '9')
				n += 1 + strspn(p + n + 1, "0123456789");
			*o++ = '#';
			p += n;
		} else if (*p == ' ' || *p == '\t' || *p == '\n') {
			if (o > out && o[-1] != ' ')
				*o++ = ' ';
			p++;
		} else {
			*o++ = *p++;
		}
	}
	while (o > out && o[-1] == ' ')
		o--;
	*o = '\0';
	return out;
}

/* The first of a failure's reasons (they are joined by REASON_SEP). */
static char *first_reason(const char *reason)
{
	const char *sep = strstr(reason, REASON_SEP);

	return sep ? strndup(reason, sep - reason) : xstrdup(reason);
}

enum replay_verdict replay_compare(const char *want_reason, const char *want_bug, const struct suite_result *got)
{
	__do_free char *first = first_reason(want_reason ? want_reason : "");
	__do_free char *want = reason_normalize(first);
	const char *p = got->reason;

	if (got->outcome == OUTCOME_PASS)
		return REPLAY_PASSED;
	if (got->outcome != OUTCOME_FAIL)
		return REPLAY_DIFFERENT;
	if (want_bug && *want_bug && got->known_bug[0] && !strcmp(want_bug, got->known_bug))
		return REPLAY_REPRODUCED;
	for (;;) {
		const char *sep = strstr(p, REASON_SEP);
		__do_free char *one = sep ? strndup(p, sep - p) : xstrdup(p);
		__do_free char *norm = reason_normalize(one);

		if (*want && !strcmp(norm, want))
			return REPLAY_REPRODUCED;
		if (!sep)
			return REPLAY_DIFFERENT;
		p = sep + strlen(REASON_SEP);
	}
}
