/* The table of known upstream bugs (see known_bugs.h). */
#include <string.h>

#include "known_bugs.h"
#include "util.h"

static const struct known_bug known_bugs[] = {
	/* the suite's host check sees the host's cgroup2 mount change */
	{ KB_SEEN_SUITE, "cgroup2_mount was \"rw,relatime - cgroup2 cgroup2 rw,nsdelegate\"", "lxc",
	  "criu#3029: checkpointing a container remounts the host's cgroup2 without nsdelegate" },
	/* liblxc's own line in lxc.log, and so in crmig's error or excerpts */
	{ KB_SEEN_CRMIG | KB_SEEN_SUITE, "Failed getting freezer path", "lxc",
	  "lxc#4643: a container that was itself restored cannot be checkpointed again" },
};

const struct known_bug *known_bug_find(unsigned seen, const char *mode, const char *text, size_t len)
{
	if (!text)
		return NULL;
	if (len == (size_t)-1)
		len = strlen(text);
	for (size_t i = 0; i < ARRAY_SIZE(known_bugs); i++) {
		const struct known_bug *k = &known_bugs[i];
		size_t n = strlen(k->contains);

		if (!(k->seen & seen) || (mode && k->mode && strcmp(mode, k->mode)))
			continue;
		for (size_t off = 0; off + n <= len; off++)
			if (!memcmp(text + off, k->contains, n))
				return k;
	}
	return NULL;
}
