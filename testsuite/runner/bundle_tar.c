/* A bundle as one tarball, and back (libarchive: no tar parsing of ours).
 * Unpacking is the dangerous half: the tarball may come from anyone. The
 * rules (bundle.h) are checked entry by entry, and nothing is ever written
 * through a path the tarball chose without them: each component is opened
 * below the destination with O_NOFOLLOW, files are made with O_EXCL, and
 * the only kinds made are directories and regular files. Built without
 * libarchive (the guests' payload build), both say so. */
#include <fcntl.h>
#include <libgen.h>
#include <sys/stat.h>

#include "bundle.h"
#include "util.h"

#ifdef HAVE_LIBARCHIVE
#include <archive.h>
#include <archive_entry.h>

bool bundle_tar_supported(void)
{
	return true;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && !strcmp(s + n - k, suffix);
}

/* ---- packing --------------------------------------------------------------- */

static int pack_file(struct archive *a, const char *dir, const char *top, const char *rel, uint64_t *total,
		     const struct bundle_limits *lim, char *err, size_t errlen)
{
	__do_free char *full = xasprintf("%s/%s", dir, rel);
	__do_free char *name = xasprintf("%s/%s", top, rel);
	__do_close int fd = open(full, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct archive_entry *e;
	char buf[1 << 16];
	struct stat st;
	ssize_t n;
	int ret = -1;

	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "cannot read %s: %s", full, strerror(errno));
		return -1;
	}
	*total += st.st_size;
	if (*total > lim->max_bytes) {
		snprintf(err, errlen, "the bundle is larger than the limit of %llu MiB (at %s, %.1f MiB): remove what is "
			 "not needed from %s (crmig-bundle.tar holds criu's images) and pack it again",
			 (unsigned long long)(lim->max_bytes >> 20), rel, st.st_size / 1048576.0, dir);
		return -1;
	}
	e = archive_entry_new();
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, st.st_mode & 0111 ? 0755 : 0644);
	archive_entry_set_size(e, st.st_size);
	archive_entry_set_mtime(e, st.st_mtim.tv_sec, 0);
	if (archive_write_header(a, e) != ARCHIVE_OK) {
		snprintf(err, errlen, "tar: %s", archive_error_string(a));
		goto out;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (archive_write_data(a, buf, n) != n) {
			snprintf(err, errlen, "tar: %s", archive_error_string(a));
			goto out;
		}
	ret = n < 0 ? -1 : 0;
	if (n < 0)
		snprintf(err, errlen, "cannot read %s: %s", full, strerror(errno));
out:
	archive_entry_free(e);
	return ret;
}

int bundle_pack(const char *dir, const char *out, const struct bundle_limits *lim, char *err, size_t errlen)
{
	__do_free char *copy = xstrdup(dir);
	__do_free char *tmp = xasprintf("%s.tmp.%d", out, (int)getpid());
	__do_free char *manifest = xasprintf("%s/" BUNDLE_MANIFEST, dir);
	const char *top = basename(copy);
	struct archive *a = archive_write_new();
	uint64_t total = 0;
	char **paths = NULL;
	size_t n = 0;
	int ret = -1;

	if (access(manifest, R_OK) < 0) {
		snprintf(err, errlen, "%s has no %s: not a bundle (crmig-suite writes one for each kept failure)", dir,
			 BUNDLE_MANIFEST);
		goto out;
	}
	if (bundle_list(dir, &paths, &n) < 0 || n + 1 > lim->max_entries) {
		snprintf(err, errlen, "cannot list %s, or it has more than %zu files", dir, lim->max_entries);
		goto out;
	}
	archive_write_set_format_pax_restricted(a);
	if ((ends_with(out, ".gz") || ends_with(out, ".tgz")) && archive_write_add_filter_gzip(a) != ARCHIVE_OK) {
		snprintf(err, errlen, "tar: %s", archive_error_string(a));
		goto out;
	}
	if (archive_write_open_filename(a, tmp) != ARCHIVE_OK) {
		snprintf(err, errlen, "cannot write %s: %s", tmp, archive_error_string(a));
		goto out;
	}
	/* The manifest first: a reader sees what it is before the rest. */
	ret = pack_file(a, dir, top, BUNDLE_MANIFEST, &total, lim, err, errlen);
	for (size_t i = 0; ret == 0 && i < n; i++)
		ret = pack_file(a, dir, top, paths[i], &total, lim, err, errlen);
	if (archive_write_close(a) != ARCHIVE_OK && ret == 0) {
		snprintf(err, errlen, "cannot write %s: %s", tmp, archive_error_string(a));
		ret = -1;
	}
	if (ret == 0 && rename(tmp, out) < 0) {
		snprintf(err, errlen, "cannot rename %s to %s: %s", tmp, out, strerror(errno));
		ret = -1;
	}
	if (ret < 0)
		unlink(tmp);
out:
	archive_write_free(a);
	bundle_list_free(paths, n);
	return ret;
}

/* ---- unpacking ------------------------------------------------------------- */

/* The directory that holds path's last component, opened below dfd
 * component by component (made 0755 where missing), never through a link.
 * -1 with errno; *last is the last component inside path. */
static int open_parent(int dfd, char *path, char **last)
{
	int cur = dup(dfd);
	char *p = path, *slash;

	while (cur >= 0 && (slash = strchr(p, '/')) && slash[1]) {
		int next;

		*slash = '\0';
		if (mkdirat(cur, p, 0755) < 0 && errno != EEXIST) {
			close(cur);
			return -1;
		}
		next = openat(cur, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(cur);
		cur = next;
		*slash = '/';
		p = slash + 1;
	}
	*last = p;
	return cur;
}

static int unpack_dir(int dfd, char *path, char *err, size_t errlen)
{
	char *last;
	size_t n = strlen(path);
	int parent;
	struct stat st;

	while (n > 1 && path[n - 1] == '/')
		path[--n] = '\0';
	parent = open_parent(dfd, path, &last);
	if (parent < 0)
		return snprintf(err, errlen, "cannot make the directories of %s: %s", path, strerror(errno)), -1;
	if (mkdirat(parent, last, 0755) < 0 &&
	    (errno != EEXIST || fstatat(parent, last, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))) {
		snprintf(err, errlen, "cannot make %s: %s", path, strerror(errno));
		close(parent);
		return -1;
	}
	close(parent);
	return 0;
}

static int unpack_file(struct archive *a, int dfd, char *path, mode_t mode, int64_t size, char *err, size_t errlen)
{
	char buf[1 << 16], *last;
	int parent = open_parent(dfd, path, &last);
	__do_close int fd = -1;
	int64_t written = 0;
	la_ssize_t n;

	if (parent < 0)
		return snprintf(err, errlen, "cannot make the directories of %s: %s", path, strerror(errno)), -1;
	fd = openat(parent, last, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode & 0111 ? 0755 : 0644);
	close(parent);
	if (fd < 0) {
		snprintf(err, errlen, errno == EEXIST ? "%s is in the tarball twice" : "cannot create %s: %s", path,
			 strerror(errno));
		return -1;
	}
	while ((n = archive_read_data(a, buf, sizeof(buf))) > 0) {
		written += n;
		if (written > size || write_full(fd, buf, n) < 0) {
			snprintf(err, errlen, "cannot write %s (or it holds more than its header says)", path);
			return -1;
		}
	}
	if (n < 0) {
		snprintf(err, errlen, "the tarball is damaged at %s: %s", path, archive_error_string(a));
		return -1;
	}
	return 0;
}

/* What may not be unpacked, or NULL. */
static const char *refused(struct archive_entry *e, const char *path)
{
	mode_t type = archive_entry_filetype(e);

	if (!path)
		return "a name that is not valid text";
	if (!bundle_path_ok(path))
		return "an unsafe path (absolute, with .., empty or control characters)";
	if (archive_entry_hardlink(e))
		return "a hard link";
	if (archive_entry_symlink(e) || type == AE_IFLNK)
		return "a symbolic link";
	if (type != AE_IFREG && type != AE_IFDIR)
		return "neither a file nor a directory (a device, fifo or socket)";
	if (type == AE_IFREG && (!archive_entry_size_is_set(e) || archive_entry_size(e) < 0))
		return "a file without a size";
	return NULL;
}

static int unpack_all(struct archive *a, int dfd, const struct bundle_limits *lim, char *err, size_t errlen)
{
	struct archive_entry *e;
	uint64_t total = 0;
	size_t entries = 0;
	int r;

	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);
		const char *why = refused(e, name);
		__do_free char *path = NULL;

		if (why)
			return snprintf(err, errlen, "refused: entry %zu (%.200s) is %s", entries + 1,
					name ? name : "?", why), -1;
		if (++entries > lim->max_entries)
			return snprintf(err, errlen, "refused: more than %zu entries", lim->max_entries), -1;
		path = xstrdup(!strncmp(name, "./", 2) ? name + 2 : name);
		if (archive_entry_filetype(e) == AE_IFDIR) {
			if (unpack_dir(dfd, path, err, errlen) < 0)
				return -1;
			continue;
		}
		total += archive_entry_size(e);
		if (total > lim->max_bytes)
			return snprintf(err, errlen, "refused: more than %llu bytes unpacked (at %.200s)",
					(unsigned long long)lim->max_bytes, name), -1;
		if (unpack_file(a, dfd, path, archive_entry_perm(e), archive_entry_size(e), err, errlen) < 0)
			return -1;
	}
	if (r != ARCHIVE_EOF)
		return snprintf(err, errlen, "not a readable tarball: %s", archive_error_string(a)), -1;
	if (!entries)
		return snprintf(err, errlen, "the tarball is empty"), -1;
	return 0;
}

int bundle_unpack(const char *tarball, const char *dest, const struct bundle_limits *lim, char *err, size_t errlen)
{
	struct archive *a = archive_read_new();
	__do_close int dfd = -1;
	int ret = -1;

	/* Formats and filters by name: support_*_all would also run external
	 * programs for exotic compressors. */
	archive_read_support_format_tar(a);
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_xz(a);
	if (mkdir(dest, 0755) < 0) {
		snprintf(err, errlen, errno == EEXIST ? "%s exists already: unpack into a new directory"
						      : "cannot make %s: %s", dest, strerror(errno));
		archive_read_free(a);
		return -1;
	}
	dfd = open(dest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		snprintf(err, errlen, "cannot open %s: %s", dest, strerror(errno));
	else if (archive_read_open_filename(a, tarball, 1 << 16) != ARCHIVE_OK)
		snprintf(err, errlen, "cannot read %s: %s", tarball, archive_error_string(a));
	else
		ret = unpack_all(a, dfd, lim, err, errlen);
	archive_read_free(a);
	if (ret < 0)
		remove_tree(dest);
	return ret;
}

#else /* !HAVE_LIBARCHIVE */

bool bundle_tar_supported(void)
{
	return false;
}

int bundle_pack(const char *dir, const char *out, const struct bundle_limits *lim, char *err, size_t errlen)
{
	(void)dir, (void)out, (void)lim;
	snprintf(err, errlen, "crmig-suite was built without libarchive: install libarchive-dev and rebuild it");
	return -1;
}

int bundle_unpack(const char *tarball, const char *dest, const struct bundle_limits *lim, char *err, size_t errlen)
{
	(void)tarball, (void)dest, (void)lim;
	snprintf(err, errlen, "crmig-suite was built without libarchive (install libarchive-dev and rebuild it), "
		 "or unpack the bundle by hand and pass its directory");
	return -1;
}

#endif
