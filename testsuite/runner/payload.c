/* crmig for the guests when no --payload was given. The lab's image holds
 * Debian's criu and lxc but not crmig: `make` builds the project for the
 * image's distro in a chroot of it (vm-images/build-payload) onto a small
 * disk the guests mount on /opt/crmig. crmig-suite run/demo/replay do the
 * same from a checkout, so that the README's commands work as written:
 *
 *   vm-images/build-payload --image DIR --src TOPDIR --out TOPDIR/build/guest-DISTRO
 *
 * (the directory `make payload` uses, so both share one incremental build).
 * Nothing is built when the image has crmig installed itself (an image made
 * with vm-images/build --deb crmig_*.deb: the guests run /usr/bin/crmig).
 * Installed without the sources, crmig-suite says what to pass instead. */
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "runner.h"
#include "util.h"

static bool is_file(const char *dir, const char *rel)
{
	__do_free char *p = xasprintf("%s/%s", dir, rel);
	struct stat st;

	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* The project's top directory: it has the Makefile, crmig's and the payload builder's sources. */
static bool is_source_tree(const char *dir)
{
	return dir && is_file(dir, "Makefile") && is_file(dir, "ref/crmig.c") && is_file(dir, "vm-images/build-payload");
}

char *payload_source_tree(const char *exe_dir)
{
	const char *env = getenv("CRMIG_SUITE_DATA");
	__do_free char *up = exe_dir ? xasprintf("%s/../..", exe_dir) : NULL;
	char real[PATH_MAX];

	if (is_source_tree(env) && realpath(env, real))
		return xstrdup(real);
	if (is_source_tree(up) && realpath(up, real))	/* build/host/crmig-suite */
		return xstrdup(real);
	return NULL;
}

/* The distro an image is for: its manifest's, else its directory's name (<distro>-<key>). */
static int image_distro(const char *image_dir, char *distro, size_t len)
{
	__do_free char *path = xasprintf("%s/manifest.json", image_dir);
	__do_free char *copy = xstrdup(image_dir);
	json_t *m = json_load_file(path, 0, NULL);
	const char *d = json_string_value(json_object_get(m, "distro"));
	const char *base = basename(copy);

	if (d && d[0] && !strpbrk(d, "/ ."))
		snprintf(distro, len, "%s", d);
	else if (strchr(base, '-') && base[0] != '-')
		snprintf(distro, len, "%.*s", (int)(strchr(base, '-') - base), base);
	else
		distro[0] = '\0';
	json_decref(m);
	return distro[0] ? 0 : -1;
}

int payload_plan(const char *image_dir, const char *exe_dir, struct payload_plan *p, char *err, size_t errlen)
{
	__do_free char *top = NULL;
	__do_free char *installed = xasprintf("%s/rootfs/usr/bin/crmig", image_dir);

	memset(p, 0, sizeof(*p));
	if (access(installed, X_OK) == 0)
		return 0;	/* the guests run the image's own /usr/bin/crmig */
	if (image_distro(image_dir, p->distro, sizeof(p->distro)) < 0) {
		snprintf(err, errlen, "%s is not an image of vm-images/build (no manifest.json with its distro): "
			 "pass --image with a directory vm-images/build printed", image_dir);
		return -1;
	}
	top = payload_source_tree(exe_dir);
	if (!top) {
		snprintf(err, errlen, "no --payload, and crmig-suite runs without the project's sources, so it cannot "
			 "build crmig for the %s guests: pass --payload FILE (from a checkout: vm-images/build-payload "
			 "--image %s --src TOPDIR --out DIR, or make payload DISTRO=%s), or set CRMIG_SUITE_DATA to a "
			 "checkout, or use an image that has crmig installed (vm-images/build --distro %s --deb crmig_*.deb)",
			 p->distro, image_dir, p->distro, p->distro);
		return -1;
	}
	snprintf(p->topdir, sizeof(p->topdir), "%s", top);
	snprintf(p->script, sizeof(p->script), "%s/vm-images/build-payload", top);
	snprintf(p->out, sizeof(p->out), "%s/build/guest-%s", top, p->distro);
	snprintf(p->payload, sizeof(p->payload), "%s/payload.img", p->out);
	snprintf(p->image, sizeof(p->image), "%s", image_dir);
	return 1;
}

char **payload_argv(const struct payload_plan *p)
{
	char **argv = xzalloc(10 * sizeof(*argv));
	int n = 0;

	argv[n++] = xstrdup(p->script);
	argv[n++] = xstrdup("--image");
	argv[n++] = xstrdup(p->image);
	argv[n++] = xstrdup("--src");
	argv[n++] = xstrdup(p->topdir);
	argv[n++] = xstrdup("--out");
	argv[n++] = xstrdup(p->out);
	if (p->zdtm[0]) {
		argv[n++] = xstrdup("--zdtm");
		argv[n++] = xstrdup(p->zdtm);
	}
	return argv;
}

void payload_argv_free(char **argv)
{
	for (char **a = argv; a && *a; a++)
		free(*a);
	free(argv);
}

/* As `make payload` does, the payload carries zdtm's tests built for the
 * image when this checkout knows how (vm-images/build-zdtm, cached by the
 * image's key). Without them only the zdtm suite misses its tests, so a
 * failure here is a warning. */
static void find_zdtm(struct payload_plan *p, const char *criu_src)
{
	__do_free char *script = xasprintf("%s/vm-images/build-zdtm", p->topdir);
	__do_free char *builder = read_file(p->script, NULL);
	__do_free char *why_path = xasprintf("%s/zdtm.why", p->out);
	__do_free char *why_env = xasprintf("CRMIG_ZDTM_WHY=%s", why_path);
	char *argv[] = { "env", why_env, script, "--image", p->image, criu_src ? "--criu-src" : NULL, (char *)criu_src,
			 NULL };
	struct proc_opts po = PROC_OPTS_DEFAULT;
	struct proc_result res;
	char *end, *last;

	if (access(script, X_OK) < 0 || !builder || !strstr(builder, "--zdtm)"))
		return;
	/* build-zdtm writes its error there: the zdtm suite's skip says it */
	mkdir_p(p->out, 0755);
	unlink(why_path);
	fprintf(stderr, "crmig-suite: zdtm's tests for the payload: vm-images/build-zdtm --image %s%s%s\n", p->image,
		criu_src ? " --criu-src " : "", criu_src ? criu_src : "");
	po.pass_stderr = true;
	po.timeout_s = 3600;
	if (proc_run(argv, &po, &res) < 0)
		return;
	end = res.out + strlen(res.out);
	while (end > res.out && end[-1] == '\n')
		*--end = '\0';
	last = strrchr(res.out, '\n') ? strrchr(res.out, '\n') + 1 : res.out;
	if (res.status == 0 && last[0] && access(last, F_OK) == 0)
		snprintf(p->zdtm, sizeof(p->zdtm), "%s", last);
	else {
		fprintf(stderr, "crmig-suite: warning: vm-images/build-zdtm failed (exit %d): the payload goes without "
			"zdtm's tests (the zdtm suite will not find them)\n", res.status);
		if (access(why_path, F_OK) < 0)
			write_file_atomic(why_path, "vm-images/build-zdtm failed\n", 28, 0644);
	}
	proc_result_free(&res);
}

/* ---- is the payload there up to date? ---------------------------------- */

/* The newest of what `make payload` depends on (vm-images/build.mk's
 * PAYLOAD_SRCS): ref/, testsuite/, the makefiles, VERSION, build-payload. */
static struct timespec newest;

static void note_mtime(const struct stat *st)
{
	if (st->st_mtim.tv_sec > newest.tv_sec ||
	    (st->st_mtim.tv_sec == newest.tv_sec && st->st_mtim.tv_nsec > newest.tv_nsec))
		newest = st->st_mtim;
}

static int visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	const char *name = path + ftw->base;
	size_t n = strlen(name);

	if (type == FTW_F && name[0] != '.' && (n == 0 || name[n - 1] != '~'))
		note_mtime(st);
	return 0;
}

static struct timespec sources_newest(const char *top)
{
	static const char *const trees[] = { "ref", "testsuite" };
	static const char *const files[] = { "Makefile", "VERSION", "vm-images/build-payload", "ref/build.mk",
					     "testsuite/build.mk", "vm-images/build.mk", "bench/build.mk",
					     "packaging/build.mk" };
	struct stat st;

	newest = (struct timespec){ 0 };
	for (size_t i = 0; i < ARRAY_SIZE(trees); i++) {
		__do_free char *p = xasprintf("%s/%s", top, trees[i]);
		nftw(p, visit, 16, FTW_PHYS);
	}
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		__do_free char *p = xasprintf("%s/%s", top, files[i]);
		if (stat(p, &st) == 0)
			note_mtime(&st);
	}
	return newest;
}

/* Built from this very image (build-payload keeps its key in OUT/work/.image)
 * and newer than every source. */
bool payload_up_to_date(const struct payload_plan *p, char *why, size_t len)
{
	__do_free char *key_path = xasprintf("%s/.complete", p->image);
	__do_free char *built_path = xasprintf("%s/work/.image", p->out);
	__do_free char *key = read_file(key_path, NULL);
	__do_free char *built = read_file(built_path, NULL);
	struct timespec src;
	struct stat st;

	if (stat(p->payload, &st) < 0) {
		snprintf(why, len, "there is no %s yet", p->payload);
		return false;
	}
	if (!key || !built || strcmp(key, built)) {
		snprintf(why, len, "%s was built for another image", p->payload);
		return false;
	}
	if (p->zdtm[0]) {
		__do_free char *mark = xasprintf("%s/.complete", p->zdtm);
		__do_free char *carried_path = xasprintf("%s/zdtm.path", p->out);
		__do_free char *carried = read_file(carried_path, NULL);
		struct stat z;

		if (!carried || !carried[0]) {
			snprintf(why, len, "%s carries no zdtm tests", p->payload);
			return false;
		}
		if (strncmp(carried, p->zdtm, strlen(p->zdtm))) {
			snprintf(why, len, "%s carries other zdtm tests than %s (another criu source)", p->payload, p->zdtm);
			return false;
		}
		if (stat(mark, &z) == 0 && z.st_mtim.tv_sec > st.st_mtim.tv_sec) {
			snprintf(why, len, "zdtm's tests in %s are newer than %s", p->zdtm, p->payload);
			return false;
		}
	}
	src = sources_newest(p->topdir);
	if (src.tv_sec > st.st_mtim.tv_sec || (src.tv_sec == st.st_mtim.tv_sec && src.tv_nsec > st.st_mtim.tv_nsec)) {
		snprintf(why, len, "a source in %s is newer than %s", p->topdir, p->payload);
		return false;
	}
	return true;
}

/* ---- building it, with progress ------------------------------------------ */

struct ticker {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	const char *log;
	double t0;
};

/* "cc ... -o build/x/ref/migrate.o ref/migrate.c" -> "ref/migrate.c": what the build is at. */
static void last_step(const char *log, char *buf, size_t len)
{
	__do_free char *text = read_file(log, NULL);
	char *end, *line, *word;

	buf[0] = '\0';
	if (!text || !*text)
		return;
	end = text + strlen(text);
	while (end > text && end[-1] == '\n')
		*--end = '\0';
	line = strrchr(text, '\n') ? strrchr(text, '\n') + 1 : text;
	word = strrchr(line, ' ');
	if (strstr(line, " -c ") && word)
		snprintf(buf, len, "compiling %s", word + 1);
	else if (strstr(line, " -o ") && (word = strstr(line, " -o ")))
		snprintf(buf, len, "linking %.60s", word + 4);
	else
		snprintf(buf, len, "%.80s", line);
	for (char *c = buf; *c; c++)
		if ((unsigned char)*c < 0x20)
			*c = ' ';
}

static void *tick(void *arg)
{
	struct ticker *t = arg;
	struct timespec at;

	pthread_mutex_lock(&t->lock);
	while (!t->stop) {
		char step[128];

		clock_gettime(CLOCK_REALTIME, &at);
		at.tv_sec += 15;
		if (pthread_cond_timedwait(&t->cond, &t->lock, &at) == 0 || t->stop)
			continue;
		last_step(t->log, step, sizeof(step));
		fprintf(stderr, "crmig-suite: building the payload: %.0f s%s%s\n", (now_ms() - t->t0) / 1000,
			step[0] ? ", " : "", step);
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

static int run_build(const struct payload_plan *p, char *err, size_t errlen)
{
	char **argv = payload_argv(p);
	__do_free char *log = xasprintf("%s/build-payload.log", p->out);
	__do_free char *lock = xasprintf("%s/.crmig-suite.lock", p->out);
	struct ticker t = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER, .log = log,
			    .t0 = now_ms() };
	struct proc_opts po = PROC_OPTS_DEFAULT;
	struct proc_result res = { .status = -1 };
	__do_close int lock_fd = -1;
	bool ticking;
	int ret = -1;

	if (mkdir_p(p->out, 0755) < 0) {
		snprintf(err, errlen, "cannot make %s: %s", p->out, strerror(errno));
		goto out;
	}
	/* Two suites started together build once: the second waits, then finds it up to date. */
	lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (lock_fd >= 0 && flock(lock_fd, LOCK_EX | LOCK_NB) < 0) {
		fprintf(stderr, "crmig-suite: another crmig-suite builds the payload in %s: waiting for it\n", p->out);
		flock(lock_fd, LOCK_EX);
		char why[PATH_MAX + 64];
		if (payload_up_to_date(p, why, sizeof(why))) {
			ret = 0;
			goto out;
		}
	}
	ticking = pthread_create(&t.thread, NULL, tick, &t) == 0;
	po.pass_stderr = true; /* build-payload's own notes: what it builds, where its log is */
	po.timeout_s = 3600;
	if (proc_run(argv, &po, &res) < 0)
		snprintf(err, errlen, "cannot run %s: %s", p->script, strerror(errno));
	else if (res.status != 0) {
		__do_free char *cmd = argv_join_quoted(argv);
		snprintf(err, errlen, "vm-images/build-payload failed (exit %d, see above and %s); rerun it by hand: %s",
			 res.status, log, cmd);
	}
	else if (access(p->payload, R_OK) < 0)
		snprintf(err, errlen, "vm-images/build-payload left no %s (see %s)", p->payload, log);
	else
		ret = 0;
	if (ticking) {
		pthread_mutex_lock(&t.lock);
		t.stop = true;
		pthread_cond_signal(&t.cond);
		pthread_mutex_unlock(&t.lock);
		pthread_join(t.thread, NULL);
	}
	if (res.status != -1 || res.out)
		proc_result_free(&res);
	if (!ret)
		fprintf(stderr, "crmig-suite: payload %s built in %.0f s\n", p->payload, (now_ms() - t.t0) / 1000);
out:
	payload_argv_free(argv);
	return ret;
}

char *payload_ensure(const char *image_dir, const char *criu_src, char *err, size_t errlen)
{
	return payload_ensure_in(image_dir, criu_src, NULL, true, err, errlen);
}

char *payload_ensure_in(const char *image_dir, const char *criu_src, const char *out_dir, bool with_zdtm, char *err,
			size_t errlen)
{
	char exe[PATH_MAX], why[PATH_MAX + 64];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	struct payload_plan p;
	int plan;

	err[0] = '\0';
	if (n > 0) {
		exe[n] = '\0';
		dirname(exe);
	}
	plan = payload_plan(image_dir, n > 0 ? exe : NULL, &p, err, errlen);
	if (plan <= 0) {
		if (plan == 0)
			fprintf(stderr, "crmig-suite: the image has crmig installed (/usr/bin/crmig): no payload needed\n");
		return NULL;
	}
	if (out_dir) {
		snprintf(p.out, sizeof(p.out), "%s", out_dir);
		snprintf(p.payload, sizeof(p.payload), "%s/payload.img", p.out);
	}
	if (with_zdtm)
		find_zdtm(&p, criu_src);
	if (payload_up_to_date(&p, why, sizeof(why))) {
		fprintf(stderr, "crmig-suite: no --payload: using %s (up to date for this image and the sources)\n",
			p.payload);
		return xstrdup(p.payload);
	}
	fprintf(stderr, "crmig-suite: no --payload and %s: building crmig for %s with vm-images/build-payload "
		"(a minute or two; log %s/build-payload.log)\n", why, p.distro, p.out);
	if (run_build(&p, err, errlen) < 0)
		return NULL;
	return xstrdup(p.payload);
}

int runner_ensure_payload(struct runner_opts *o, char **built)
{
	char err[2 * PATH_MAX + 1024];

	*built = NULL;
	free(o->zdtm_missing);
	o->zdtm_missing = NULL;
	if (o->criu_src && (o->payload || o->lab_name)) {
		fprintf(stderr, "crmig-suite: --criu-src builds zdtm's tests into the payload: leave out %s\n",
			o->payload ? "--payload" : "--lab");
		return -1;
	}
	if (o->payload || o->lab_name || !o->image)
		return 0;
	*built = payload_ensure_in(o->image, o->criu_src, o->payload_out, !o->payload_out || o->suite_zdtm, err,
				   sizeof(err));
	if (!*built && err[0]) {
		fprintf(stderr, "crmig-suite: %s\n", err);
		return -1;
	}
	o->payload = *built;
	if (*built) {
		/* find_zdtm's reason, when this payload carries no zdtm tests */
		__do_free char *dir = xstrdup(*built);
		__do_free char *why_path = xasprintf("%s/zdtm.why", dirname(dir));
		char *why = read_file(why_path, NULL);

		if (why) {
			why[strcspn(why, "\n")] = '\0';
			o->zdtm_missing = why;
		}
	}
	return 0;
}
