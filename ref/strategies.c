/* The strategies, one row each (strategy_*.c), and what each needs of criu.
 * This is the one place that says so: `crmig check` (text and --json), the
 * host snapshot the GUI shows, migrate's preflight and the suite's skips all
 * read it. */
#include <stddef.h>
#include <string.h>

#include "migrate.h"
#include "util.h"

const struct strategy *const strategies_all[] = {
	&strategy_stop, &strategy_pre, &strategy_post, &strategy_hybrid, NULL,
};

/* A criu feature a strategy may need: its name for `criu check --feature`,
 * where criu_probe() records it, and what a host without it lacks. */
struct criu_need {
	const char *feature;
	size_t field;
	const char *lacks;
};

static const struct criu_need needs_mem_track = {
	"mem_dirty_track", offsetof(struct criu_info, mem_dirty_track), "no memory change tracking (soft-dirty)"
};
static const struct criu_need needs_lazy = {
	"uffd-noncoop", offsetof(struct criu_info, uffd_noncoop), "no userfaultfd (uffd-noncoop)"
};

const struct strategy *strategy_by_name(const char *name)
{
	for (const struct strategy *const *s = strategies_all; *s; s++)
		if (name && !strcmp((*s)->name, name))
			return *s;
	return NULL;
}

size_t strategy_features(const struct strategy *st, const char **out, size_t max)
{
	size_t n = 0;

	if (st->needs_mem_track && n < max)
		out[n++] = needs_mem_track.feature;
	if (st->needs_lazy && n < max)
		out[n++] = needs_lazy.feature;
	return n;
}

static bool has(const struct criu_info *ci, const struct criu_need *need)
{
	return *(const bool *)((const char *)ci + need->field);
}

const char *strategy_why_not(const struct strategy *st, const struct criu_info *ci)
{
	if (!ci->present)
		return ci->why_not[0] ? ci->why_not : "no usable criu";
	if (st->needs_mem_track && !has(ci, &needs_mem_track))
		return needs_mem_track.lacks;
	if (st->needs_lazy && !has(ci, &needs_lazy))
		return needs_lazy.lacks;
	return NULL;
}

json_t *strategies_json(void)
{
	json_t *out = json_object();

	for (const struct strategy *const *s = strategies_all; *s; s++) {
		const char *f[4];
		size_t n = strategy_features(*s, f, ARRAY_SIZE(f));
		json_t *list = json_array();

		for (size_t i = 0; i < n; i++)
			json_array_append_new(list, json_string(f[i]));
		json_object_set_new(out, (*s)->name, json_pack("{s:s, s:o}", "summary", (*s)->summary, "needs", list));
	}
	return out;
}
