/* Case files and their expansion into instances.
 *
 * A case file is read whole (bounded), then fed to inih line by line through
 * our own reader. The reader is where we know the line number (Debian's
 * inih is built without INI_HANDLER_LINENO), and where lines inih would
 * silently truncate or mis-read are refused: over-long lines, control
 * characters, invalid UTF-8, sections other than one [case]. The handler
 * only collects raw values (unknown and duplicate keys are errors there);
 * each value is validated afterwards, with the line it came from.
 *
 * An indented line continues the previous key's value (inih's multi-line
 * rule); the pieces are joined with a space, so a long args list can span
 * lines. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <ini.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fault.h"
#include "mode.h"
#include "suite.h"
#include "util.h"


#define CASE_FILE_MAX 65536	/* bytes in a case file */
#define CASE_RAW_MAX 1024	/* a value with its continuations, before validation */
#define CASE_NAME_MAX 40
#define CASES_MAX 4096		/* case files in a directory */
#define TIMEOUT_MIN 10
#define TIMEOUT_MAX 7200
#define TIMEOUT_DEFAULT 600

enum case_key {
	K_WORKLOAD, K_ARGS, K_MODES, K_STRATEGIES, K_REQUIRES, K_FLAGS, K_TIER, K_TIMEOUT,
	K_CRMIG_ARGS, K_EXPECT, K_EXPECT_RESULT, K_EXPECT_ERROR, K_DESCRIPTION, K_FAULT, K_COUNT

};

/* NULL-terminated for name_index(), like the other tables. */
static const char *const key_names[K_COUNT + 1] = {
	"workload", "args", "modes", "strategies", "requires", "flags", "tier", "timeout",
	"crmig_args", "expect", "expect_result", "expect_error", "description", "fault",

};

/* Flags are interpreted by the runner (nolazy also here: it drops post and
 * hybrid); the list only keeps typos out. */
static const char *const known_flags[] = {
	"via-gui", /* crmig gui migrates it, a browser drives it (via_gui.c) */
	"excl", "nolazy", "noremotelazy", "crfail", "tcp-peer", "listen", "move-ip", "rollback", "auth", "pingpong",
	"dest-full", "hostile", NULL,

};
static const char *const tiers[] = { "lean", "full", "faults", NULL };

static const char *const expects[] = { "pass", "fail", NULL };
/* killed: crmig migrate itself dies at the case's fault (kill-self): no
 * report; the workload must run on at its source, and the next crmig
 * migrate of it must clean up what the killed one left, then succeed. */
static const char *const results[] = { "ok", "rolled-back", "failed", "killed", NULL };

struct named_bit {
	const char *name;
	unsigned bit;
};

/* In expansion order. */
static const struct named_bit strategy_bits[] = {
	{ "stop", ST_STOP }, { "pre", ST_PRE }, { "post", ST_POST }, { "hybrid", ST_HYBRID }, { NULL, 0 },
};

/* The modes are rows of their own (mode.h); in expansion order. */
const struct suite_mode *const suite_modes[] = { &mode_bare, &mode_lxc, NULL };
static struct named_bit mode_bits[ARRAY_SIZE(suite_modes)];

const struct suite_mode *suite_mode_of(unsigned bit)
{
	for (size_t i = 0; suite_modes[i]; i++)
		if (suite_modes[i]->bit == bit)
			return suite_modes[i];
	return NULL;
}

unsigned suite_mode_bit(size_t i)
{
	return i < ARRAY_SIZE(suite_modes) && suite_modes[i] ? suite_modes[i]->bit : 0;
}

/* The names table the parsers share, from the mode rows, once. */
__attribute__((constructor)) static void mode_bits_from_rows(void)
{
	for (size_t i = 0; suite_modes[i]; i++)
		mode_bits[i] = (struct named_bit){ suite_modes[i]->name, suite_modes[i]->bit };
}

struct raw_value {
	char text[CASE_RAW_MAX];
	int line;
	bool set;
};

struct parse_ctx {
	const char *path;
	const char *data;	/* the whole file */
	size_t len, pos;
	int line;		/* of the line last handed to inih */
	int failed_line;	/* of the first error, 0 if it has none */
	bool indented;		/* that line starts with blanks: a continuation */
	bool seen_section;
	int last_key;		/* for continuations; -1 after a section line */
	struct raw_value raw[K_COUNT];
	char *err;
	size_t errlen;
	bool failed;
};

/* ---------------------------------------------------------------- errors */

/* Records the first error as "file:line: message" (line 0: no line). */
static void __attribute__((format(printf, 3, 4))) fail_at(struct parse_ctx *ctx, int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (ctx->failed)
		return;
	ctx->failed = true;
	ctx->failed_line = line;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(ctx->err, ctx->errlen, "%s:%d: %s", ctx->path, line, msg);
	else
		snprintf(ctx->err, ctx->errlen, "%s: %s", ctx->path, msg);
}

/* ---------------------------------------------------------------- names */

static int name_index(const char *const *names, const char *s)
{
	for (int i = 0; names[i]; i++)
		if (!strcmp(names[i], s))
			return i;
	return -1;
}

static unsigned bit_of(const struct named_bit *t, const char *s)
{
	for (; t->name; t++)
		if (!strcmp(t->name, s))
			return t->bit;
	return 0;
}

static const char *name_of(const struct named_bit *t, unsigned bit)
{
	if (!bit)
		return "-"; /* the lab's own checks have no mode or strategy */
	for (; t->name; t++)
		if (t->bit == bit)
			return t->name;
	return "?";
}

const char *strategy_bit_name(unsigned bit)
{
	return name_of(strategy_bits, bit);
}

const char *mode_bit_name(unsigned bit)
{
	return name_of(mode_bits, bit);
}

bool case_has_flag(const struct suite_case *c, const char *flag)
{
	for (int i = 0; i < c->nflags; i++)
		if (!strcmp(c->flags[i], flag))
			return true;
	return false;
}

/* ---------------------------------------------------------------- lists */

/* The next item of a comma/blank separated list into item (cap bytes):
 * 1 if one was found, 0 at the end, -1 if it does not fit. */
static int list_next(const char **p, char *item, size_t cap)
{
	const char *s = *p;
	size_t n;

	s += strspn(s, ", \t");
	if (!*s)
		return 0;
	n = strcspn(s, ", \t");
	*p = s + n;
	if (n >= cap)
		return -1;
	memcpy(item, s, n);
	item[n] = '\0';
	return 1;
}

/* Names of a bit table into a mask; on error, what went wrong in why. */
static int parse_bits(const char *list, const struct named_bit *t, unsigned *bits, char *why, size_t len)
{
	char item[32];
	int r;

	*bits = 0;
	while ((r = list_next(&list, item, sizeof(item))) > 0) {
		unsigned b = bit_of(t, item);

		if (!b) {
			snprintf(why, len, "unknown name '%s'", item);
			return -1;
		}
		if (*bits & b) {
			snprintf(why, len, "'%s' listed twice", item);
			return -1;
		}
		*bits |= b;
	}
	if (r < 0) {
		snprintf(why, len, "item too long");
		return -1;
	}
	if (!*bits) {
		snprintf(why, len, "empty list");
		return -1;
	}
	return 0;
}

int parse_strategies(const char *list, unsigned *bits)
{
	char why[80];

	if (!strcmp(list, "all")) {
		*bits = ST_ALL;
		return 0;
	}
	return parse_bits(list, strategy_bits, bits, why, sizeof(why));
}

int parse_modes(const char *list, unsigned *bits)
{
	char why[80];

	return parse_bits(list, mode_bits, bits, why, sizeof(why));
}

static bool feature_name(const char *s)
{
	return *s && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == strlen(s);
}

/* A list of names into out[SUITE_MAX_LIST][32]; names must pass valid() and,
 * with a table, be in it. */
static int parse_names(struct parse_ctx *ctx, int key, const char *const *table, bool (*valid)(const char *),
		       char out[][32], int *count)
{
	const struct raw_value *v = &ctx->raw[key];
	const char *p = v->text;
	char item[32];
	int r;

	*count = 0;
	while ((r = list_next(&p, item, sizeof(item))) > 0) {
		if (table && name_index(table, item) < 0) {
			fail_at(ctx, v->line, "%s: unknown name '%s'", key_names[key], item);
			return -1;
		}
		if (valid && !valid(item)) {
			fail_at(ctx, v->line, "%s: '%s' is not a feature name ([a-z0-9_-])", key_names[key], item);
			return -1;
		}
		for (int i = 0; i < *count; i++)
			if (!strcmp(out[i], item)) {
				fail_at(ctx, v->line, "%s: '%s' listed twice", key_names[key], item);
				return -1;
			}
		if (*count == SUITE_MAX_LIST) {
			fail_at(ctx, v->line, "%s: more than %d names", key_names[key], SUITE_MAX_LIST);
			return -1;
		}
		strcpy(out[(*count)++], item);
	}
	if (r < 0)
		fail_at(ctx, v->line, "%s: a name longer than 31 characters", key_names[key]);
	return r;
}

/* ---------------------------------------------------------------- reading */

/* Only "[case]" (with an optional comment after it), once. */
static void check_section(struct parse_ctx *ctx, const char *start, size_t n)
{
	const char *close = memchr(start, ']', n);
	const char *rest = close ? close + 1 : start + n;
	size_t tail = start + n - rest, blanks = 0;

	while (blanks < tail && (rest[blanks] == ' ' || rest[blanks] == '\t' || rest[blanks] == '\r'))
		blanks++;
	if (!close || (blanks < tail && rest[blanks] != ';' && rest[blanks] != '#')) {
		fail_at(ctx, ctx->line, "malformed section line");
		return;
	}
	if (close - start - 1 != 4 || memcmp(start + 1, "case", 4) != 0) {
		fail_at(ctx, ctx->line, "unknown section [%.*s] (only [case])", (int)(close - start - 1), start + 1);
		return;
	}
	if (ctx->seen_section)
		fail_at(ctx, ctx->line, "duplicate section [case]");
	ctx->seen_section = true;
	ctx->last_key = -1;
}

/* Control characters (but tab, and CR before the newline) and invalid UTF-8. */
static void check_bytes(struct parse_ctx *ctx, const char *s, size_t n)
{
	for (size_t i = 0; i < n && !ctx->failed;) {
		unsigned char c = (unsigned char)s[i];
		uint32_t cp;
		size_t k;

		if ((c < 0x20 && c != '\t' && !(c == '\r' && i == n - 1)) || c == 0x7f) {
			fail_at(ctx, ctx->line, "control character 0x%02x", c);
			return;
		}
		k = utf8_decode(s + i, n - i, &cp);
		if (!k)
			fail_at(ctx, ctx->line, "invalid UTF-8 at column %zu", i + 1);
		i += k;
	}
}

/* inih's reader (fgets-like): the next line of ctx->data, checked. Returning
 * NULL ends the parse, which we do at the first error. */
static char *next_line(char *str, int num, void *stream)
{
	struct parse_ctx *ctx = stream;
	const char *s = ctx->data + ctx->pos, *nl;
	size_t n, blanks;

	if (ctx->failed || ctx->pos >= ctx->len)
		return NULL;
	nl = memchr(s, '\n', ctx->len - ctx->pos);
	n = nl ? (size_t)(nl - s) : ctx->len - ctx->pos;
	ctx->pos += n + (nl != NULL);
	ctx->line++;
	if (ctx->line == 1 && n >= 3 && !memcmp(s, "\xef\xbb\xbf", 3)) {
		s += 3;	/* a byte order mark, which inih skips too */
		n -= 3;
	}
	if (n + 2 > (size_t)num) {	/* the line, '\n' and NUL must fit */
		fail_at(ctx, ctx->line, "line too long (at most %d characters)", num - 2);
		return NULL;
	}
	check_bytes(ctx, s, n);
	blanks = strspn(s, " \t");
	ctx->indented = blanks > 0 && blanks < n;
	if (!ctx->failed && blanks < n && s[blanks] == '[')
		check_section(ctx, s + blanks, n - blanks);
	if (ctx->failed)
		return NULL;
	memcpy(str, s, n);
	str[n] = '\n';
	str[n + 1] = '\0';
	return str;
}

static void append_value(struct parse_ctx *ctx, int key, const char *value)
{
	struct raw_value *v = &ctx->raw[key];
	size_t have = strlen(v->text), add = strlen(value);

	if (have + 1 + add >= sizeof(v->text)) {
		fail_at(ctx, ctx->line, "%s: value too long", key_names[key]);
		return;
	}
	if (have)
		v->text[have++] = ' ';
	memcpy(v->text + have, value, add + 1);
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
	struct parse_ctx *ctx = user;
	int key = name_index(key_names, name);

	if (ctx->failed)
		return 0;
	if (strcmp(section, "case") != 0)
		fail_at(ctx, ctx->line, "%s: outside the [case] section", name);
	else if (key < 0)
		fail_at(ctx, ctx->line, "%s: unknown key", name);
	else if (ctx->indented && key == ctx->last_key)
		append_value(ctx, key, value);	/* continuation line */
	else if (ctx->raw[key].set)
		fail_at(ctx, ctx->line, "%s: duplicate key (first at line %d)", name, ctx->raw[key].line);
	else {
		ctx->raw[key].set = true;
		ctx->raw[key].line = ctx->line;
		ctx->last_key = key;
		append_value(ctx, key, value);
	}
	return !ctx->failed;
}

/* The file, at most CASE_FILE_MAX bytes; NULL with the reason in ctx. */
static char *read_bounded(struct parse_ctx *ctx, size_t *len)
{
	__do_close int fd = open(ctx->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	__do_free char *buf = NULL;
	struct stat st;
	size_t used = 0;

	if (fd < 0 || fstat(fd, &st) < 0) {
		fail_at(ctx, 0, "%s", strerror(errno));
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		fail_at(ctx, 0, "not a regular file");
		return NULL;
	}
	buf = xmalloc(CASE_FILE_MAX + 2);
	for (;;) {
		ssize_t r = read(fd, buf + used, CASE_FILE_MAX + 1 - used);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fail_at(ctx, 0, "%s", strerror(errno));
			return NULL;
		}
		if (r == 0 || (used += r) > CASE_FILE_MAX)
			break;
	}
	if (used > CASE_FILE_MAX) {
		fail_at(ctx, 0, "larger than %d bytes", CASE_FILE_MAX);
		return NULL;
	}
	buf[used] = '\0';
	*len = used;
	return move_ptr(buf);
}

/* ---------------------------------------------------------------- values */

static void copy_text(struct parse_ctx *ctx, int key, char *dst, size_t cap)
{
	const struct raw_value *v = &ctx->raw[key];

	if (strlen(v->text) >= cap)
		fail_at(ctx, v->line, "%s: value too long (at most %zu characters)", key_names[key], cap - 1);
	else
		strcpy(dst, v->text);
}

/* Arguments end up on a command line on the hosts: plain characters only. */
static void copy_args(struct parse_ctx *ctx, int key, char *dst, size_t cap)
{
	static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ._,:=/+@%-";
	const char *text = ctx->raw[key].text;
	size_t bad = strspn(text, ok);

	if (text[bad]) {
		fail_at(ctx, ctx->raw[key].line, "%s: character '%c' not allowed (only [A-Za-z0-9 ._,:=/+@%%-])",
			key_names[key], text[bad]);
		return;
	}
	copy_text(ctx, key, dst, cap);
}

static void copy_choice(struct parse_ctx *ctx, int key, const char *const *choices, char *dst, size_t cap)
{
	const struct raw_value *v = &ctx->raw[key];

	if (name_index(choices, v->text) < 0)
		fail_at(ctx, v->line, "%s: unknown value '%s'", key_names[key], v->text);
	else
		copy_text(ctx, key, dst, cap);
}

static void parse_mask(struct parse_ctx *ctx, int key, const struct named_bit *t, unsigned *bits)
{
	char why[80];

	if (parse_bits(ctx->raw[key].text, t, bits, why, sizeof(why)) < 0)
		fail_at(ctx, ctx->raw[key].line, "%s: %s", key_names[key], why);
}

static void parse_timeout(struct parse_ctx *ctx, int *timeout)
{
	const struct raw_value *v = &ctx->raw[K_TIMEOUT];
	size_t digits = strspn(v->text, "0123456789");
	long t = digits && digits <= 5 && !v->text[digits] ? strtol(v->text, NULL, 10) : -1;

	if (t < TIMEOUT_MIN || t > TIMEOUT_MAX)
		fail_at(ctx, v->line, "timeout: '%s' is not a number of seconds in %d..%d", v->text, TIMEOUT_MIN,
			TIMEOUT_MAX);
	else
		*timeout = (int)t;
}

/* fault = POINT:ACTION, checked as crmig will (ref/fault.c); it ends up in
 * a shell command: plain characters only, and no exec (a case cannot run
 * commands on the hosts). */
static void parse_fault(struct parse_ctx *ctx, struct suite_case *c)
{
	const struct raw_value *v = &ctx->raw[K_FAULT];
	char why[256];

	copy_text(ctx, K_FAULT, c->fault, sizeof(c->fault));
	if (strspn(c->fault, "abcdefghijklmnopqrstuvwxyz0123456789-:") != strlen(c->fault))
		fail_at(ctx, v->line, "fault: '%s': want POINT:ACTION (letters, digits, - and :)", v->text);
	else if (strstr(c->fault, ":exec"))
		fail_at(ctx, v->line, "fault: exec is not for cases (they cannot run commands on the hosts)");
	else if (fault_parse(c->fault, why, sizeof(why)) < 0)
		fail_at(ctx, v->line, "fault: %s", why);
}

static void set_defaults(struct suite_case *c)

{
	c->modes = MODE_ALL;
	c->strategies = ST_ALL;
	strcpy(c->tier, "full");
	c->timeout_s = TIMEOUT_DEFAULT;
	strcpy(c->expect_result, "ok");
}

static void apply_values(struct parse_ctx *ctx, struct suite_case *c)
{
	const struct raw_value *r = ctx->raw;

	if (r[K_WORKLOAD].set && !workload_kind(r[K_WORKLOAD].text))
		fail_at(ctx, r[K_WORKLOAD].line, "workload: unknown kind '%s' (the kinds: testsuite/runner/kinds.c)",
			r[K_WORKLOAD].text);
	else if (r[K_WORKLOAD].set) {
		snprintf(c->workload, sizeof(c->workload), "%s", r[K_WORKLOAD].text);
		c->modes = workload_kind(c->workload)->modes; /* the default: every mode the kind has */
	}
	if (r[K_ARGS].set)
		copy_args(ctx, K_ARGS, c->args, sizeof(c->args));
	if (r[K_CRMIG_ARGS].set)
		copy_args(ctx, K_CRMIG_ARGS, c->crmig_args, sizeof(c->crmig_args));
	if (r[K_MODES].set)
		parse_mask(ctx, K_MODES, mode_bits, &c->modes);
	if (r[K_STRATEGIES].set)
		parse_mask(ctx, K_STRATEGIES, strategy_bits, &c->strategies);
	if (r[K_REQUIRES].set)
		parse_names(ctx, K_REQUIRES, NULL, feature_name, c->requires, &c->nrequires);
	if (r[K_FLAGS].set)
		parse_names(ctx, K_FLAGS, known_flags, NULL, c->flags, &c->nflags);
	if (r[K_TIER].set)
		copy_choice(ctx, K_TIER, tiers, c->tier, sizeof(c->tier));
	if (r[K_TIMEOUT].set)
		parse_timeout(ctx, &c->timeout_s);
	if (r[K_EXPECT].set && name_index(expects, r[K_EXPECT].text) < 0)
		fail_at(ctx, r[K_EXPECT].line, "expect: unknown value '%s'", r[K_EXPECT].text);
	else if (r[K_EXPECT].set)
		c->expect_fail = !strcmp(r[K_EXPECT].text, "fail");
	if (r[K_EXPECT_RESULT].set)
		copy_choice(ctx, K_EXPECT_RESULT, results, c->expect_result, sizeof(c->expect_result));
	if (r[K_EXPECT_ERROR].set)
		copy_text(ctx, K_EXPECT_ERROR, c->expect_error, sizeof(c->expect_error));
	if (r[K_DESCRIPTION].set)
		copy_text(ctx, K_DESCRIPTION, c->description, sizeof(c->description));
	if (r[K_FAULT].set)
		parse_fault(ctx, c);

}

/* What no single key can say: a missing workload, contradictions. */
static void check_whole(struct parse_ctx *ctx, const struct suite_case *c)
{
	if (!ctx->seen_section)
		fail_at(ctx, 0, "no [case] section");
	else if (!ctx->raw[K_WORKLOAD].set)
		fail_at(ctx, 0, "workload: missing (a kind of testsuite/runner/kinds.c: memory, tcp, files, tree, ...)");
	else if (workload_kind(c->workload) && (c->modes & ~workload_kind(c->workload)->modes))
		fail_at(ctx, ctx->raw[K_MODES].set ? ctx->raw[K_MODES].line : ctx->raw[K_WORKLOAD].line,
			"modes: workload %s runs only %s", c->workload,
			workload_kind(c->workload)->modes == MODE_BARE ? "bare" : "in a container");
	else if (c->expect_error[0] && !strcmp(c->expect_result, "ok"))
		fail_at(ctx, ctx->raw[K_EXPECT_ERROR].line, "expect_error: needs expect_result rolled-back or failed");
	else if (!strcmp(c->expect_result, "killed") && (!strstr(c->fault, ":kill-self") || !strncmp(c->fault, "dst-", 4)))
		fail_at(ctx, ctx->raw[K_EXPECT_RESULT].line, "expect_result: killed needs fault = POINT:kill-self (a source point)");
	else if (case_has_flag(c, "nolazy") && !(c->strategies & (ST_STOP | ST_PRE)))
		fail_at(ctx, ctx->raw[K_FLAGS].line, "flags: nolazy leaves none of the strategies");
	/* a bare workload's listener is reachable after the move only at an
	 * address that moves with it (the harness would never connect, and the
	 * workload would fail waiting for its echo) */
	else if (case_has_flag(c, "listen") && (c->modes & MODE_BARE) && !case_has_flag(c, "move-ip"))
		fail_at(ctx, ctx->raw[K_FLAGS].line, "flags: listen needs move-ip in bare mode (or modes = lxc)");
}

/* The case's name: the file's basename without ".case", [a-z0-9-]{1,40}. */
static void set_name(struct parse_ctx *ctx, struct suite_case *c)
{
	const char *base = strrchr(ctx->path, '/');
	size_t n;

	base = base ? base + 1 : ctx->path;
	n = strlen(base);
	if (n <= 5 || strcmp(base + n - 5, ".case") != 0) {
		fail_at(ctx, 0, "a case file's name must end in .case");
		return;
	}
	n -= 5;
	if (n > CASE_NAME_MAX || strspn(base, "abcdefghijklmnopqrstuvwxyz0123456789-") < n) {
		fail_at(ctx, 0, "case name '%.*s': 1..%d of [a-z0-9-]", (int)n, base, CASE_NAME_MAX);
		return;
	}
	memcpy(c->name, base, n);
	c->name[n] = '\0';
	if (strlen(ctx->path) >= sizeof(c->file))
		fail_at(ctx, 0, "path too long");
	else
		strcpy(c->file, ctx->path);
}

int case_load(const char *path, struct suite_case *c, char *err, size_t errlen)
{
	__do_free struct parse_ctx *ctx = xzalloc(sizeof(*ctx));	/* ~13 KiB of raw values */
	__do_free char *data = NULL;
	int r;

	ctx->path = path;
	ctx->err = err;
	ctx->errlen = errlen;
	ctx->last_key = -1;
	memset(c, 0, sizeof(*c));
	set_defaults(c);
	set_name(ctx, c);
	if (!ctx->failed)
		data = read_bounded(ctx, &ctx->len);
	if (!ctx->failed) {
		ctx->data = data;
		r = ini_parse_stream(next_line, ctx, on_key, ctx);
		/* inih reports its syntax errors only at the end: keep the earliest error. */
		if (r > 0 && ctx->failed && r < ctx->failed_line)
			ctx->failed = false;
		if (r > 0)
			fail_at(ctx, r, "syntax error (expected \"key = value\" or \"[case]\")");
		else if (r < 0)
			fail_at(ctx, 0, "cannot be parsed (%d)", r);
	}
	if (!ctx->failed)
		apply_values(ctx, c);
	if (!ctx->failed)
		check_whole(ctx, c);
	return ctx->failed ? -1 : 0;
}

/* ---------------------------------------------------------------- directories */

static bool is_case_file(const char *name)
{
	size_t n = strlen(name);

	return name[0] != '.' && n > 5 && !strcmp(name + n - 5, ".case");
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* The *.case file names in dir, sorted; -1 with err. */
static int list_case_files(const char *dir, char ***names, size_t *n, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	*names = NULL;
	*n = 0;
	if (!d) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d))) {
		if (!is_case_file(e->d_name))
			continue;
		if (*n == CASES_MAX) {
			snprintf(err, errlen, "%s: more than %d case files", dir, CASES_MAX);
			closedir(d);
			free_names(*names, *n);
			return -1;
		}
		*names = xrealloc(*names, (*n + 1) * sizeof(**names));
		(*names)[(*n)++] = xstrdup(e->d_name);
	}
	closedir(d);
	if (*n)
		qsort(*names, *n, sizeof(**names), compare_names);
	return 0;
}

int cases_load_dir(const char *dir, struct suite_case **out, size_t *n, char *err, size_t errlen)
{
	struct suite_case *cases = NULL;
	char **names;
	size_t count;

	*out = NULL;
	*n = 0;
	if (list_case_files(dir, &names, &count, err, errlen) < 0)
		return -1;
	if (count)
		cases = xzalloc(count * sizeof(*cases));
	for (size_t i = 0; i < count; i++) {
		__do_free char *path = xasprintf("%s/%s", dir, names[i]);

		if (case_load(path, &cases[i], err, errlen) < 0) {
			free(cases);
			free_names(names, count);
			return -1;
		}
	}
	free_names(names, count);
	*out = cases;
	*n = count;
	return 0;
}

/* ---------------------------------------------------------------- expansion */

static int compare_cases(const void *a, const void *b)
{
	return strcmp((*(const struct suite_case *const *)a)->name, (*(const struct suite_case *const *)b)->name);
}

/* The strategies a case runs with, after the run's mask and its flags. */
static unsigned case_strategies(const struct suite_case *c, unsigned mask)
{
	unsigned s = c->strategies & mask;

	if (case_has_flag(c, "nolazy"))
		s &= ~(unsigned)(ST_POST | ST_HYBRID);
	return s;
}

bool suite_glob_match(const char *globs, const char *name)
{
	char one[256];

	if (!globs)
		return true;
	/* --cases 'tcp*,zdtm/static/file_lease*': any of the comma-separated globs */
	for (const char *p = globs; *p;) {
		size_t len = strcspn(p, ",");

		if (len && len < sizeof(one)) {
			memcpy(one, p, len);
			one[len] = '\0';
			if (fnmatch(one, name, 0) == 0)
				return true;
		}
		p += len + (p[len] == ',');
	}
	return false;
}

static bool case_selected(const struct suite_case *c, const char *tier, const char *glob)
{
	if (!strcmp(tier, "lean") && strcmp(c->tier, "lean") != 0)
		return false;
	/* the fault tier: every case that injects a fault, whatever its tier */
	if (!strcmp(tier, "faults") && !c->fault[0] && strcmp(c->tier, "faults") != 0)
		return false;

	return suite_glob_match(glob, c->name);
}

static void add_instance(struct suite_instance *list, size_t *n, const struct suite_case *c, unsigned mode,
			 unsigned strategy)
{
	struct suite_instance *in = &list[(*n)++];

	in->c = c;
	in->mode = mode;
	in->strategy = strategy;
	snprintf(in->id, sizeof(in->id), "%s:%s:%s", c->name, mode_bit_name(mode), strategy_bit_name(strategy));
}

/* Every selected instance, in the stable order shards are cut from. */
static size_t expand_all(const struct suite_case **sorted, size_t ncases, const char *tier, const char *glob,
			 unsigned strategies, unsigned modes, struct suite_instance *list)
{
	size_t n = 0;

	for (size_t i = 0; i < ncases; i++) {
		const struct suite_case *c = sorted[i];
		unsigned st = case_strategies(c, strategies);

		if (!case_selected(c, tier, glob))
			continue;
		for (const struct named_bit *m = mode_bits; m->name; m++) {
			if (!(c->modes & modes & m->bit))
				continue;
			for (const struct named_bit *s = strategy_bits; s->name; s++)
				if (st & s->bit)
					add_instance(list, &n, c, m->bit, s->bit);
		}
	}
	return n;
}

int instances_expand(const struct suite_case *cases, size_t ncases, const char *tier, const char *glob,
		     unsigned strategies, unsigned modes, int shard_index, int shard_count,
		     struct suite_instance **out, size_t *n)
{
	__do_free const struct suite_case **sorted = NULL;
	struct suite_instance *list;
	size_t all, kept = 0;

	*out = NULL;
	*n = 0;
	if (!tier)
		tier = "full";
	if (name_index(tiers, tier) < 0 || shard_count < 1 || shard_index < 1 || shard_index > shard_count) {
		errno = EINVAL;
		return -1;
	}
	if (!ncases)
		return 0;
	sorted = xmalloc(ncases * sizeof(*sorted));
	for (size_t i = 0; i < ncases; i++)
		sorted[i] = &cases[i];
	qsort(sorted, ncases, sizeof(*sorted), compare_cases);
	list = xmalloc(ncases * 8 * sizeof(*list));	/* 2 modes x 4 strategies at most */
	all = expand_all(sorted, ncases, tier, glob, strategies, modes, list);
	for (size_t k = 0; k < all; k++)
		if (k % (size_t)shard_count == (size_t)shard_index - 1)
			list[kept++] = list[k];
	if (!kept) {
		free(list);
		return 0;
	}
	*out = list;
	*n = kept;
	return 0;
}

/* "I/N": decimal, 1 <= I <= N <= 100000, nothing else. */
int parse_shard(const char *s, int *index, int *count)
{
	size_t a = strspn(s, "0123456789"), b;
	long i, n;

	if (a == 0 || a > 6 || s[a] != '/')
		return -1;
	b = strspn(s + a + 1, "0123456789");
	if (b == 0 || b > 6 || s[a + 1 + b] != '\0')
		return -1;
	i = strtol(s, NULL, 10);
	n = strtol(s + a + 1, NULL, 10);
	if (n < 1 || n > 100000 || i < 1 || i > n)
		return -1;
	*index = (int)i;
	*count = (int)n;
	return 0;
}
