/* zdtm's .desc files: Python dict literals that zdtm.py eval()s. We never
 * evaluate them: a small recursive-descent parser accepts exactly the subset
 * they use (quoted strings, adjacent strings concatenated, lists of strings,
 * integers, comments, trailing commas) and reports anything else with the
 * file and line. The files come from a source tree the user hands us. */
#include <ctype.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zdtm.h"

struct lexer {
	const char *p, *end;
	const char *file;
	int line;
	char *err;
	size_t errlen;
	bool failed;
};

static int lex_error(struct lexer *lx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int lex_error(struct lexer *lx, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (lx->failed)
		return -1;
	lx->failed = true;
	n = snprintf(lx->err, lx->errlen, "%s:%d: ", lx->file, lx->line);
	if (n < 0 || (size_t)n >= lx->errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(lx->err + n, lx->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static void skip_space(struct lexer *lx)
{
	while (lx->p < lx->end) {
		if (*lx->p == '\n') {
			lx->line++;
			lx->p++;
		} else if (*lx->p == '#') {
			while (lx->p < lx->end && *lx->p != '\n')
				lx->p++;
		} else if (isspace((unsigned char)*lx->p)) {
			lx->p++;
		} else {
			break;
		}
	}
}

static bool peek(struct lexer *lx, char c)
{
	skip_space(lx);
	return lx->p < lx->end && *lx->p == c;
}

static int expect(struct lexer *lx, char c)
{
	if (!peek(lx, c))
		return lex_error(lx, "expected '%c', found %s", c, lx->p < lx->end ? "something else" : "the end");
	lx->p++;
	return 0;
}

/* Appends one quoted string to out (NUL-terminated, len bytes room). */
static int lex_string(struct lexer *lx, char *out, size_t len, size_t *used)
{
	char q = *lx->p++;

	while (lx->p < lx->end && *lx->p != q) {
		char c = *lx->p++;

		if (c == '\n')
			return lex_error(lx, "a string runs past the end of its line");
		if (c == '\0')
			return lex_error(lx, "a NUL byte inside a string");
		if (c == '\\') {
			if (lx->p >= lx->end)
				break;
			c = *lx->p++;
			switch (c) {
			case 'n': c = ' '; break; /* words lists: a newline is a separator */
			case 't': c = ' '; break;
			case '\\': case '\'': case '"': break;
			default: return lex_error(lx, "unsupported escape '\\%c'", c);
			}
		}
		if (*used + 1 >= len)
			return lex_error(lx, "a value longer than %zu bytes", len - 1);
		out[(*used)++] = c;
		out[*used] = '\0';
	}
	if (lx->p >= lx->end)
		return lex_error(lx, "an unterminated string");
	lx->p++;
	return 0;
}

/* value := string+ | '[' strings ']' | integer. Lists are joined by spaces. */
static int lex_value(struct lexer *lx, char *out, size_t len)
{
	size_t used = 0;

	out[0] = '\0';
	skip_space(lx);
	if (lx->p >= lx->end)
		return lex_error(lx, "a key without a value");
	if (*lx->p == '\'' || *lx->p == '"') {
		while (peek(lx, '\'') || peek(lx, '"'))
			if (lex_string(lx, out, len, &used) < 0)
				return -1;
		return 0;
	}
	if (*lx->p == '[') {
		lx->p++;
		while (!peek(lx, ']')) {
			if (!peek(lx, '\'') && !peek(lx, '"'))
				return lex_error(lx, "a list may hold only strings");
			if (used && used + 1 < len)
				out[used++] = ' ', out[used] = '\0';
			if (lex_string(lx, out, len, &used) < 0)
				return -1;
			if (!peek(lx, ','))
				break;
			lx->p++;
		}
		return expect(lx, ']');
	}
	if (isdigit((unsigned char)*lx->p)) {
		while (lx->p < lx->end && isdigit((unsigned char)*lx->p)) {
			if (used + 1 >= len)
				return lex_error(lx, "a number too long");
			out[used++] = *lx->p++;
			out[used] = '\0';
		}
		return 0;
	}
	return lex_error(lx, "a value must be a quoted string, a list of strings or a number");
}

struct field {
	const char *key;
	size_t off, len;
};

#define FIELD(k, m) { k, offsetof(struct zdtm_desc, m), sizeof(((struct zdtm_desc *)0)->m) }
static const struct field fields[] = {
	FIELD("flavor", flavor), FIELD("flags", flags), FIELD("feature", feature), FIELD("opts", opts),
	FIELD("dopts", dopts),   FIELD("ropts", ropts), FIELD("arch", arch),
};

void zdtm_desc_default(struct zdtm_desc *d)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->flavor, sizeof(d->flavor), "h ns uns");
}

int zdtm_desc_parse(const char *text, size_t len, const char *file, struct zdtm_desc *d, char *err, size_t errlen)
{
	struct lexer lx = { .p = text, .end = text + len, .file = file, .line = 1, .err = err, .errlen = errlen };
	char key[64], value[16384]; /* zdtm's 'deps' lists run to kilobytes; known fields are checked below */

	zdtm_desc_default(d);
	if (memchr(text, '\0', len))
		return lex_error(&lx, "a NUL byte: not a text file");
	if (expect(&lx, '{') < 0)
		return -1;
	while (!peek(&lx, '}')) {
		size_t used = 0;
		bool known = false;

		if (!peek(&lx, '\'') && !peek(&lx, '"'))
			return lex_error(&lx, "expected a quoted key");
		key[0] = '\0';
		if (lex_string(&lx, key, sizeof(key), &used) < 0 || expect(&lx, ':') < 0 ||
		    lex_value(&lx, value, sizeof(value)) < 0)
			return -1;
		if (!strcmp(key, "timeout")) {
			char *e;
			long t = strtol(value, &e, 10);

			if (*e || t <= 0 || t > 3600)
				return lex_error(&lx, "timeout '%s' is not a number of seconds (1..3600)", value);
			d->timeout_s = (int)t;
			known = true;
		}
		for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
			if (strcmp(key, fields[i].key))
				continue;
			if (strlen(value) >= fields[i].len)
				return lex_error(&lx, "'%s' is longer than %zu bytes", key, fields[i].len - 1);
			memcpy((char *)d + fields[i].off, value, strlen(value) + 1);
			known = true;
		}
		/* Other keys (deps, ...) matter to zdtm's namespace flavours only. */
		(void)known;
		if (!peek(&lx, ','))
			break;
		lx.p++;
	}
	if (expect(&lx, '}') < 0)
		return -1;
	skip_space(&lx);
	if (lx.p != lx.end)
		return lex_error(&lx, "text after the closing '}'");
	return 0;
}

bool zdtm_word_in(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; n && (p = strstr(p, word)); p += n) {
		bool start = p == list || isspace((unsigned char)p[-1]);
		bool end = p[n] == '\0' || isspace((unsigned char)p[n]);

		if (start && end)
			return true;
	}
	return false;
}
