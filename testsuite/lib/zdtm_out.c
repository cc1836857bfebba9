/* See zdtm_out.h. zdtm's lib logs "PASS" from pass() and "FAIL: file:line: ..."
 * from fail(); errors on the way come as "Error ..." / "ERR: ..." lines. */
#include <stdio.h>
#include <string.h>

#include "zdtm_out.h"

#define KEEP 3

static bool says_error(const char *line)
{
	return strstr(line, "FAIL") || strstr(line, "ERR") || strstr(line, "Error") || strstr(line, "error");
}

bool zdtm_out_passed(const char *out, char *reason, size_t len)
{
	char last[KEEP][240] = { "" };
	bool pass = false, failed = false;
	size_t used = 0;

	for (const char *p = out; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		char line[240];

		snprintf(line, sizeof(line), "%.*s", (int)(n < sizeof(line) - 1 ? n : sizeof(line) - 1), p);
		for (char *c = line; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				*c = ' ';
		if (strstr(line, "PASS") && !strstr(line, "FAIL"))
			pass = true;
		if (strstr(line, "FAIL"))
			failed = true;
		if (says_error(line)) {
			memmove(last[0], last[1], sizeof(last[0]) * (KEEP - 1));
			snprintf(last[KEEP - 1], sizeof(last[0]), "%s", line);
		}
		p = nl ? nl + 1 : NULL;
	}
	if (len)
		reason[0] = '\0';
	if (pass && !failed)
		return true;
	for (int i = 0; i < KEEP && len; i++) {
		if (!last[i][0])
			continue;
		used += (size_t)snprintf(reason + used, used < len ? len - used : 0, "%s%s", used ? " / " : "", last[i]);
		if (used >= len)
			break;
	}
	if (len && !reason[0])
		snprintf(reason, len, "%s", out && *out ? "its .out says neither PASS nor why" : "no .out: the test did not finish");
	return false;
}
