/* Mirroring files on the destination: the files a process tree has open, the
 * trees the user names with --sync, a container's config and rootfs. A first
 * pass before the freeze carries the bulk; a second pass while frozen carries
 * what changed (and every file the workload holds open, whose content may
 * change without its mtime telling). The destination accepts files only
 * beneath the roots it announced (crmig serve --allow-sync). */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

#include "migrate.h"
#include "procfs.h"
#include "util.h"

#define SYNC_MAX_ENTRIES 200000

struct walk {
	json_t *entries;   /* path -> "always" | "changed" */
	int overflow;
};

static __thread struct walk *current_walk;

static int walk_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)ftw;
	if (type == FTW_NS || type == FTW_DNR)
		return 0;
	/* A bound unix socket is criu's to recreate on restore; device nodes are
	 * the host's, but for the terminals and null-like nodes a process makes
	 * in its own tree (proto_chardev_ok). */
	if (S_ISSOCK(st->st_mode) || S_ISBLK(st->st_mode) ||
	    (S_ISCHR(st->st_mode) && !proto_chardev_ok(major(st->st_rdev), minor(st->st_rdev))))
		return 0;
	if (json_object_size(current_walk->entries) >= SYNC_MAX_ENTRIES) {
		current_walk->overflow = 1;
		return 1;
	}
	if (!json_object_get(current_walk->entries, path))
		json_object_set_new(current_walk->entries, path, json_string("changed"));
	return 0;
}

static void add_tree(struct walk *w, const char *root)
{
	current_walk = w;
	nftw(root, walk_one, 32, FTW_PHYS | FTW_MOUNT);
	current_walk = NULL;
}

int sync_walk_tree(json_t *entries, const char *root)
{
	struct walk w = { .entries = entries };

	add_tree(&w, root);
	return w.overflow ? -1 : 0;
}

/* The sync root of the destination that holds path, or NULL. */
static const char *root_for(struct migration *m, const char *path)
{
	json_t *roots = json_object_get(m->peer, "sync_roots");
	const char *best = NULL;
	size_t i;
	json_t *v;

	json_array_foreach(roots, i, v) {
		const char *r = json_string_value(v);
		size_t n = r ? strlen(r) : 0;

		if (!n || r[0] != '/' || strncmp(path, r, n) || (path[n] != '/' && path[n] != '\0'))
			continue;
		if (!best || n > strlen(best))
			best = r;
	}
	return best;
}

/* Files the workload holds are sent with their parent directories, so that
 * the destination creates them with the right modes. */
static void add_parents(struct walk *w, const char *root, const char *path)
{
	__do_free char *copy = xstrdup(path);
	size_t rootlen = strlen(root);

	for (char *slash = strrchr(copy, '/'); slash && (size_t)(slash - copy) > rootlen; slash = strrchr(copy, '/')) {
		*slash = '\0';
		if (!json_object_get(w->entries, copy))
			json_object_set_new(w->entries, copy, json_string("changed"));
	}
}

static bool changed_since(struct migration *m, const char *path, const struct stat *st)
{
	json_t *prev = json_object_get(m->synced, path);

	return !prev || json_int(prev, "size", -1) != (int64_t)st->st_size ||
	       json_int(prev, "mtime_ns", -1) != (int64_t)(st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec) ||
	       json_int(prev, "mode", -1) != (int64_t)st->st_mode;
}

static int gather(struct migration *m, struct walk *w)
{
	json_t *paths = json_object();
	const char *path;
	json_t *kind;

	for (int i = 0; i < m->o->n_sync; i++)
		json_object_set_new(paths, m->o->sync_paths[i], json_string("tree"));
	m->wl->sync_paths(m, paths);
	json_object_foreach(paths, path, kind) {
		const char *k = json_string_value(kind);
		const char *root = root_for(m, path);
		struct stat st;

		if (!root) {
			json_t *roots = json_object_get(m->peer, "sync_roots");
			__do_free char *list = json_dumps(roots, JSON_COMPACT);

			snprintf(m->err, sizeof(m->err), "cannot mirror %s on %s: it accepts files only beneath %s "
				 "(crmig serve --allow-sync DIR)", path, m->host, list ? list : "[]");
			json_decref(paths);
			return -1;
		}
		if (lstat(path, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode) && k && !strcmp(k, "tree"))
			add_tree(w, path);
		else
			json_object_set_new(w->entries, path, json_string(k && !strcmp(k, "always") ? "always" : "changed"));
		add_parents(w, root, path);
	}
	json_decref(paths);
	if (w->overflow) {
		snprintf(m->err, sizeof(m->err), "more than %d files to mirror: use --rootfs shared or narrower --sync paths",
			 SYNC_MAX_ENTRIES);
		return -1;
	}
	return 0;
}

/* Files under these are the system's and assumed identical on both hosts. */
static bool system_path(const char *p)
{
	static const char *const prefixes[] = { "/usr/", "/lib", "/bin/", "/sbin/", "/etc/", "/opt/", "/boot/",
						 "/proc/", "/sys/", "/dev/", "/run/", CRMIG_STATE_DIR "/" };

	for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++)
		if (!strncmp(p, prefixes[i], strlen(prefixes[i])))
			return true;
	return false;
}

/* A path a process holds, as the host sees it (root: the process's root
 * directory on the host, "" for the host's own). */
static void add_held(json_t *paths, const char *root, const char *target, const char *kind)
{
	__do_free char *path = NULL;
	json_t *prev;
	struct stat st;

	/* "/" is the root itself (a container's working directory, say) */
	if (target[0] != '/' || !target[1] || strstr(target, " (deleted)") || system_path(target))
		return;
	path = xasprintf("%s%s", root, target);
	if (stat(path, &st) < 0 ||
	    !(S_ISREG(st.st_mode) || S_ISFIFO(st.st_mode) || S_ISDIR(st.st_mode) ||
	      (S_ISCHR(st.st_mode) && proto_chardev_ok(major(st.st_rdev), minor(st.st_rdev)))))
		return;
	/* "always" wins over a weaker kind seen for the same path elsewhere, and
	 * a tree the user named (--sync) stays a tree when a process also has
	 * it as its working directory (zdtm's tests: their files were lost) */
	prev = json_object_get(paths, path);
	if (prev && (!strcmp(json_string_value(prev) ?: "", "always") || !strcmp(json_string_value(prev) ?: "", "tree")))
		return;
	json_object_set_new(paths, path, json_string(kind));
}

static bool fd_writable(pid_t pid, const char *fd)
{
	__do_free char *path = xasprintf("/proc/%d/fdinfo/%s", pid, fd);
	__do_free char *info = read_file(path, NULL);
	char *flags = info ? strstr(info, "flags:") : NULL;

	return flags && (strtoul(flags + 6, NULL, 8) & O_ACCMODE) != O_RDONLY;
}

/* Files open for writing may change under an unchanged mtime: they are
 * sent again while frozen; files only read, when their mtime or size moved. */
static void add_fds(json_t *paths, pid_t pid, const char *root)
{
	__do_free char *dir = xasprintf("/proc/%d/fd", pid);
	DIR *d = opendir(dir);
	struct dirent *e;

	while (d && (e = readdir(d))) {
		char target[PATH_MAX];
		__do_free char *link = NULL;
		ssize_t n;

		if (e->d_name[0] == '.')
			continue;
		link = xasprintf("%s/%s", dir, e->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		add_held(paths, root, target, fd_writable(pid, e->d_name) ? "always" : "changed");
	}
	if (d)
		closedir(d);
}

/* A shared writable file mapping changes the file without touching its
 * mtime (a page already dirty is written again silently): always resent. */
static void add_maps(json_t *paths, pid_t pid, const char *root)
{
	__do_free char *path = xasprintf("/proc/%d/maps", pid);
	__do_free char *maps = read_file(path, NULL);
	char *save;

	for (char *line = maps ? strtok_r(maps, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
		char perms[8] = "", *file = strchr(line, '/');

		if (sscanf(line, "%*s %7s", perms) != 1 || !file)
			continue;
		if (perms[1] == 'w' && perms[3] == 's')
			add_held(paths, root, file, "always");
	}
}

void sync_add_held_files(json_t *paths, json_t *pids, const char *root)
{
	size_t i;
	json_t *v;

	json_array_foreach(pids, i, v) {
		pid_t pid = (pid_t)json_integer_value(v);
		__do_free char *cwd = xasprintf("/proc/%d/cwd", pid);
		char target[PATH_MAX];
		ssize_t n = readlink(cwd, target, sizeof(target) - 1);

		add_fds(paths, pid, root);
		add_maps(paths, pid, root);
		if (n > 0) {
			target[n] = '\0';
			add_held(paths, root, target, "dir");
		}
	}
}

/* A file another process holds a write lease on cannot be opened without
 * breaking the lease: any open, even one that fails at once with
 * O_NONBLOCK, sends the holder its SIGIO and starts the break (zdtm's
 * file_lease tests then fail). The kernel lists leases in /proc/locks
 * ("1: LEASE  ACTIVE    WRITE 2114 08:01:5678 0 EOF", the device in hex):
 * the holder's own description reads the same bytes and takes nothing
 * from it, so it is borrowed with pidfd_getfd() (Linux 5.6; root may) and
 * read with pread, its offset untouched. */
static pid_t write_lease_holder(const struct stat *want)
{
	__do_free char *locks = read_file("/proc/locks", NULL);
	char *save;

	for (char *l = locks ? strtok_r(locks, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save)) {
		char kind[16], type[16];
		unsigned int maj, min;
		unsigned long ino;
		int pid;

		if (sscanf(l, "%*d: %15s %*s %15s %d %x:%x:%lu", kind, type, &pid, &maj, &min, &ino) == 6 &&
		    !strcmp(kind, "LEASE") && strcmp(type, "READ") && makedev(maj, min) == want->st_dev &&
		    ino == want->st_ino && pid > 0)
			return (pid_t)pid;
	}
	return 0;
}

struct borrow {
	const struct stat *want;
	int fd;
};

static int borrow_readable(void *ctx, const struct proc_fd *f)
{
	struct borrow *b = ctx;
	struct stat st;

	/* stat through the magic link: no open, so no lease break */
	if (stat(f->link, &st) < 0 || st.st_dev != b->want->st_dev || st.st_ino != b->want->st_ino)
		return 0;
	b->fd = proc_fd_borrow(f);
	if (b->fd >= 0 && (fcntl(b->fd, F_GETFL) & O_ACCMODE) == O_WRONLY)
		close_fd(&b->fd); /* a description we cannot read: look on */
	return b->fd >= 0;
}

/* One of pid's descriptions of the file, readable; -1 (EWOULDBLOCK) if none. */
static int borrow_fd(pid_t pid, const struct stat *want)
{
	struct borrow b = { .want = want, .fd = -1 };

	proc_each_fd(pid, borrow_readable, &b);
	if (b.fd < 0)
		errno = EWOULDBLOCK;
	return b.fd;
}

int sync_open_for_copy(const char *path)
{
	struct stat st;
	pid_t holder;

	if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && (holder = write_lease_holder(&st)) > 0 &&
	    holder != getpid()) {
		int fd = borrow_fd(holder, &st);

		/* the holder has it open for writing only (zdtm's file_lease00: an
		 * empty file under a write lease): with nothing to read, an O_PATH
		 * descriptor, which breaks no lease, is enough to send it */
		if (fd < 0 && st.st_size == 0)
			fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		return fd;
	}
	/* O_NONBLOCK: a lease taken since fails at once instead of waiting */
	return open(path, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
}

static int send_one(struct migration *m, const char *path, const char *name)
{
	__do_close int fd = -1;
	struct stat st;

	if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return chan_send_file(&m->ch, AT_FDCWD, path, name);
	fd = sync_open_for_copy(path);
	if (fd < 0) {
		snprintf(m->ch.err, sizeof(m->ch.err), "cannot open %s: %s", path,
			 errno == EWOULDBLOCK ? "another process holds a lease on it, and no process holds it open for "
						"reading (pidfd_getfd)" : strerror(errno));
		return -1;
	}
	return chan_send_open_file(&m->ch, fd, path, name);
}

static int send_group(struct migration *m, const char *root, json_t *list, uint64_t *bytes)
{
	json_t *req = json_pack("{s:s, s:s, s:I}", "op", "sync", "root", root, "count", (json_int_t)json_array_size(list));
	json_t *reply;
	size_t i;
	json_t *v;
	size_t rootlen = strlen(root);

	if (chan_send_json(&m->ch, MSG_REQUEST, req) < 0) {
		json_decref(req);
		snprintf(m->err, sizeof(m->err), "lost the destination: %s", m->ch.err);
		return -1;
	}
	json_decref(req);
	json_array_foreach(list, i, v) {
		const char *path = json_string_value(v);
		const char *name = path + rootlen + (root[rootlen - 1] == '/' ? 0 : 1);

		if (send_one(m, path, name) < 0) {
			snprintf(m->err, sizeof(m->err), "mirroring %s: %s", path, m->ch.err);
			return -1;
		}
	}
	reply = chan_recv_json(&m->ch, MSG_OK);
	if (!reply) {
		snprintf(m->err, sizeof(m->err), "destination: %s", m->ch.err);
		return -1;
	}
	*bytes += (uint64_t)json_int(reply, "bytes", 0);
	json_decref(reply);
	return 0;
}

static int compare_paths(const void *a, const void *b)
{
	return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

/* Sorted so that a directory always comes before what it holds. */
static void sort_array(json_t *a)
{
	size_t n = json_array_size(a);
	json_t **items = xmalloc((n ? n : 1) * sizeof(*items));

	for (size_t i = 0; i < n; i++)
		items[i] = json_incref(json_array_get(a, i));
	qsort(items, n, sizeof(*items), compare_paths);
	json_array_clear(a);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, items[i]);
	free(items);
}

int mig_sync(struct migration *m, bool after_freeze)
{
	struct walk w = { .entries = json_object() };
	json_t *groups = json_object();
	double start = report_now(&m->rep);
	uint64_t bytes = 0;
	size_t files = 0;
	const char *path, *root;
	json_t *kind, *list;
	int ret = 0;

	if (gather(m, &w) < 0) {
		json_decref(w.entries);
		json_decref(groups);
		return -1;
	}
	json_object_foreach(w.entries, path, kind) {
		struct stat st;

		if (lstat(path, &st) < 0)
			continue;
		if (after_freeze && strcmp(json_string_value(kind), "always") && !changed_since(m, path, &st))
			continue;
		root = root_for(m, path);
		if (!root || !strcmp(path, root))
			continue;
		if (!json_object_get(groups, root))
			json_object_set_new(groups, root, json_array());
		json_array_append_new(json_object_get(groups, root), json_string(path));
		json_object_set_new(m->synced, path, json_pack("{s:I, s:I, s:I}", "size", (json_int_t)st.st_size,
			"mtime_ns", (json_int_t)(st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec),
			"mode", (json_int_t)st.st_mode));
		files++;
	}
	json_object_foreach(groups, root, list) {
		sort_array(list);
		if (send_group(m, root, list, &bytes) < 0) {
			ret = -1;
			break;
		}
	}
	json_decref(w.entries);
	json_decref(groups);
	m->sync_bytes += bytes;
	if (files) {
		report_phase_add(&m->rep, after_freeze ? "sync-frozen" : "sync", start, report_now(&m->rep), bytes);
		mig_progress(m, "mirrored %zu file%s (%.1f KB)%s", files, files == 1 ? "" : "s", bytes / 1e3,
			     after_freeze ? " while frozen" : "");
	}
	return ret;
}

/* Hybrid: the destination holds the rounds' page maps (its page server wrote
 * them); criu's lazy dump reads the parent's maps locally to know what the
 * destination already has. The page data stays there: criu does not read it
 * during a dump, so each pages file is stood in by a sparse file of its size. */
int mig_fetch_pagemaps(struct migration *m, int rounds)
{
	for (int r = 1; r <= rounds; r++) {
		__do_free char *name = xasprintf("round-%d", r);
		__do_free char *dir = mig_local_dir(m, name);
		__do_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		json_t *reply = mig_request(m, json_pack("{s:s, s:s}", "op", "fetch-maps", "dir", name));
		json_t *stubs, *v;
		int64_t count;
		size_t i;

		if (!reply || dfd < 0)
			return -1;
		count = json_int(reply, "count", 0);
		stubs = json_object_get(reply, "sparse");
		json_array_foreach(stubs, i, v) {
			const char *fname = json_str(v, "name");
			__do_close int fd = -1;

			if (!fname || !proto_safe_relpath(fname, false))
				continue;
			fd = openat(dfd, fname, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
			if (fd < 0 || ftruncate(fd, (off_t)json_int(v, "size", 0)) < 0) {
				json_decref(reply);
				snprintf(m->err, sizeof(m->err), "cannot stand in %s/%s", dir, fname);
				return -1;
			}
		}
		json_decref(reply);
		for (int64_t k = 0; k < count && k < 65536; k++) {
			json_t *hdr = chan_recv_json(&m->ch, MSG_FILE);

			if (!hdr || chan_recv_file(&m->ch, dfd, hdr, false) < 0) {
				json_decref(hdr);
				snprintf(m->err, sizeof(m->err), "destination: %s", m->ch.err);
				return -1;
			}
			json_decref(hdr);
		}
	}
	return 0;
}
