/* Building criu's command lines, running criu, and asking it what it can do. */
#include "criu.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "log_excerpt.h"
#include "proc.h"
#include "util.h"

const char *criu_action_name(enum criu_action a)
{
	static const char *const names[] = {
		[CRIU_DUMP] = "dump", [CRIU_PRE_DUMP] = "pre-dump", [CRIU_RESTORE] = "restore",
		[CRIU_PAGE_SERVER] = "page-server", [CRIU_LAZY_PAGES] = "lazy-pages",
	};
	return a < ARRAY_SIZE(names) ? names[a] : "?";
}

const char *criu_binary(const char *override)
{
	const char *env = getenv("CRMIG_CRIU");

	if (override && *override)
		return override;
	return env && *env ? env : "criu";
}

struct argv_builder {
	char **v;
	size_t n, cap;
};

static void push(struct argv_builder *b, const char *s)
{
	if (b->n + 2 > b->cap) {
		b->cap = b->cap ? b->cap * 2 : 32;
		b->v = xrealloc(b->v, b->cap * sizeof(char *));
	}
	b->v[b->n++] = xstrdup(s);
	b->v[b->n] = NULL;
}

static void push2(struct argv_builder *b, const char *opt, const char *val)
{
	push(b, opt);
	push(b, val);
}

static void push_tls(struct argv_builder *b, const struct tls_paths *tls)
{
	push(b, "--tls");
	push2(b, "--tls-cacert", tls->ca);
	push2(b, "--tls-cert", tls->cert);
	push2(b, "--tls-key", tls->key);
}

static bool dumps(enum criu_action a)
{
	return a == CRIU_DUMP || a == CRIU_PRE_DUMP;
}

char **criu_argv(const struct criu_call *c)
{
	struct argv_builder b = { 0 };
	char num[32];

	push(&b, criu_binary(c->criu));
	push(&b, criu_action_name(c->action));
	push2(&b, "-D", c->images_dir);
	if (c->log_file)
		push2(&b, "-o", c->log_file);
	if (c->verbosity > 0) {
		snprintf(num, sizeof(num), "-v%d", c->verbosity);
		push(&b, num);
	}
	if (dumps(c->action)) {
		snprintf(num, sizeof(num), "%d", (int)c->pid);
		push2(&b, "-t", num);
	}
	if (c->prev_images_dir)
		push2(&b, "--prev-images-dir", c->prev_images_dir);
	if (c->track_mem)
		push(&b, "--track-mem");
	if (c->page_server && c->action != CRIU_PAGE_SERVER)
		push(&b, "--page-server");
	if (c->ps_socket) {
		snprintf(num, sizeof(num), "%d", CRIU_PS_FD);
		push2(&b, "--ps-socket", num);
	}
	if (c->lazy && (c->action == CRIU_DUMP || c->action == CRIU_RESTORE))
		push(&b, "--lazy-pages");
	if (c->tcp_established && (dumps(c->action) || c->action == CRIU_RESTORE))
		push(&b, "--tcp-established");
	if (c->file_locks && (dumps(c->action) || c->action == CRIU_RESTORE))
		push(&b, "--file-locks");
	if (c->shell_job && (dumps(c->action) || c->action == CRIU_RESTORE))
		push(&b, "--shell-job");
	if (c->restore_detached && c->action == CRIU_RESTORE)
		push(&b, "--restore-detached");
	if (c->pidfile)
		push2(&b, "--pidfile", c->pidfile);
	if (c->action_script)
		push2(&b, "--action-script", c->action_script);
	if (c->network_lock && dumps(c->action))
		push2(&b, "--network-lock", c->network_lock);
	if (c->tls)
		push_tls(&b, c->tls);
	for (size_t i = 0; c->extra && c->extra[i]; i++)
		push(&b, c->extra[i]);
	return b.v;
}

void criu_argv_free(char **argv)
{
	if (!argv)
		return;
	for (size_t i = 0; argv[i]; i++)
		free(argv[i]);
	free(argv);
}

char *criu_config_text(const struct criu_call *c)
{
	char *text = xstrdup("");

#define ADD(...)                                                 \
	do {                                                     \
		char *line = xasprintf(__VA_ARGS__);             \
		char *joined = xasprintf("%s%s\n", text, line);  \
		free(line);                                      \
		free(text);                                      \
		text = joined;                                   \
	} while (0)
	if (c->page_server && dumps(c->action))
		ADD("page-server");
	if (c->ps_socket)
		ADD("ps-socket %d", CRIU_PS_FD);
	if (c->lazy)
		ADD("lazy-pages");
	if (c->network_lock && dumps(c->action))
		ADD("network-lock %s", c->network_lock);
	if (c->tls)
		ADD("tls\ntls-cacert %s\ntls-cert %s\ntls-key %s", c->tls->ca, c->tls->cert, c->tls->key);
#undef ADD
	return text;
}

/* Opens path above CRIU_PS_FD. At the lowest free number, /dev/null could
 * land on fd 3 when the caller's fd 3 is free (a serve session closes the
 * listener it inherited): the page stream would then replace it, become
 * criu's stdin, and fd 3 would be closed on exec. */
static int open_above_ps_fd(const char *path, int flags)
{
	int fd = open(path, flags, 0600);
	int high = fd >= 0 ? fcntl(fd, F_DUPFD, CRIU_PS_FD + 1) : -1;

	if (fd >= 0)
		close(fd);
	return high;
}

pid_t criu_spawn(char *const argv[], int ps_fd, const char *out_log)
{
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	/* The child: stdin from /dev/null, outputs to the log, the page stream
	 * on CRIU_PS_FD and nothing else inherited. */
	int null = open_above_ps_fd("/dev/null", O_RDWR);
	int out = out_log ? open_above_ps_fd(out_log, O_WRONLY | O_CREAT | O_APPEND) : null;

	if (null < 0 || out < 0)
		_exit(127);
	if (ps_fd >= 0) {
		if (ps_fd != CRIU_PS_FD && dup2(ps_fd, CRIU_PS_FD) < 0)
			_exit(127);
		fcntl(CRIU_PS_FD, F_SETFD, 0);
	}
	dup2(null, 0);
	dup2(out, 1);
	dup2(out, 2);
	/* Everything but 0-2 and the page stream closes on exec, however many
	 * fds the limit allows (close_range with CLOEXEC; a loop without it).
	 * The page stream is fd 3 (CRIU_PS_FD), so the range starts after it. */
	if (syscall(SYS_close_range, ps_fd >= 0 ? CRIU_PS_FD + 1u : 3u, ~0u, CLOSE_RANGE_CLOEXEC) < 0)
		for (int fd = ps_fd >= 0 ? CRIU_PS_FD + 1 : 3; fd < 65536; fd++)
			fcntl(fd, F_SETFD, FD_CLOEXEC);
	if (ps_fd < 0)
		fcntl(CRIU_PS_FD, F_SETFD, FD_CLOEXEC);
	execvp(argv[0], argv);
	dprintf(2, "crmig: cannot run %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

pid_t criu_spawn_call(const struct criu_call *c, int ps_fd, json_t *argvs)
{
	__do_free char *out = xasprintf("%s/criu.out", c->images_dir);
	char **argv = criu_argv(c);
	json_t *a = json_array();
	pid_t pid;

	for (size_t i = 0; argv[i]; i++)
		json_array_append_new(a, json_string(argv[i]));
	json_array_append_new(argvs, a);
	pid = criu_spawn(argv, ps_fd, out);
	criu_argv_free(argv);
	return pid;
}

int criu_wait(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int run_quiet(char *const argv[], struct proc_result *r)
{
	struct proc_opts o = PROC_OPTS_DEFAULT;

	o.timeout_s = 60;
	if (proc_run(argv, &o, r) < 0)
		return -1;
	return r->timed_out ? -1 : r->status;
}

static bool criu_has_feature(const char *criu, const char *feature)
{
	char *argv[] = { (char *)criu, "check", "--feature", (char *)feature, NULL };
	struct proc_result r;
	int status = run_quiet(argv, &r);

	if (status >= 0)
		proc_result_free(&r);
	return status == 0;
}

void criu_probe(struct criu_info *info, const char *criu_override)
{
	const char *criu = criu_binary(criu_override);
	char *ver[] = { (char *)criu, "--version", NULL };
	/* A build without GnuTLS refuses --tls while parsing options. */
	char *tls[] = { (char *)criu, "check", "--feature", "mnt_id", "--tls", NULL };
	struct proc_result r;
	const char *v;

	memset(info, 0, sizeof(*info));
	if (run_quiet(ver, &r) != 0) {
		snprintf(info->why_not, sizeof(info->why_not), "cannot run %s --version%s%s", criu,
			 r.err && *r.err ? ": " : "", r.err ? r.err : "");
		if (r.out)
			proc_result_free(&r);
		return;
	}
	v = strstr(r.out, "Version: ");
	if (v)
		sscanf(v + 9, "%31s", info->version);
	proc_result_free(&r);
	info->present = true;
	info->mem_dirty_track = criu_has_feature(criu, "mem_dirty_track");
	info->uffd_noncoop = criu_has_feature(criu, "uffd-noncoop");
	info->lazy_pages = criu_has_feature(criu, "lazy_pages");
	info->nft_lock = criu_has_feature(criu, "network_lock_nftables");
	if (run_quiet(tls, &r) >= 0) {
		info->tls = !strstr(r.out, "without TLS") && !strstr(r.err, "without TLS");
		proc_result_free(&r);
	}
}

json_t *criu_features_json(const struct criu_info *info)
{
	return json_pack("{s:b, s:b, s:b, s:b, s:b}", "criu", info->present, "mem_dirty_track", info->mem_dirty_track,
			 "uffd_noncoop", info->uffd_noncoop, "tls", info->tls, "network_lock_nftables", info->nft_lock);
}

const char *criu_netns_lock_method(const struct criu_info *here, json_t *peer_features)
{
	return here->nft_lock && json_is_true(json_object_get(peer_features, "network_lock_nftables")) ? "nftables" : NULL;
}

/* No error line at all, and the log ends in the restorer reading the same
 * pages again and again: a pages image shorter than its pagemap says (criu
 * up to 4.1.1 loops there instead of failing; fixed upstream by
 * checkpoint-restore/criu#2899). */
static bool restorer_preadv_loop(const char *log)
{
	size_t len = strlen(log);
	const char *tail = log + (len > 2048 ? len - 2048 : 0);
	int repeats = 0;

	for (const char *p = tail; (p = strstr(p, "`- returned 0\n")); p++)
		repeats++;
	return repeats >= 3 && strstr(tail, "Preadv") && !strstr(log, "Error");
}

char *criu_log_errors(const char *log_path, int max_lines)
{
	__do_free char *log = log_read(log_path);
	char *out;
	int n = 0;

	if (!log)
		return xstrdup("");
	if (restorer_preadv_loop(log))
		return xstrdup("criu's restorer kept reading past the end of a pages image (its log ends in \"Preadv ... "
			       "`- returned 0\" for ever): the pages and the pagemap do not match; criu <= 4.1.1 "
			       "loops there instead of failing (fixed by checkpoint-restore/criu#2899)\n");
	out = xstrdup("");
	/* criu's own "Error" lines first (its first is the cause, the rest
	 * follow from it), then other lines that mention an error. */
	for (int pass = 0; pass < 2; pass++) {
		for (char *line = log; *line && n < max_lines;) {
			char *end = strchrnul(line, '\n');
			char saved = *end;
			bool upper;

			*end = '\0';
			upper = strstr(line, "Error") != NULL;
			if (pass == 0 ? upper : !upper && strstr(line, "error")) {
				char *joined = xasprintf("%s%s\n", out, line);

				free(out);
				out = joined;
				n++;
			}
			*end = saved;
			line = saved ? end + 1 : end;
		}
	}
	return out;
}
