/* zdtm's .desc files (testsuite/runner/zdtm_desc.c zdtm_desc_parse): the
 * input is the file, in a buffer of exactly its size (the parser must not
 * look for a NUL). A parse that succeeds leaves every field terminated. */
#include "fuzz.h"
#include "../runner/zdtm.h"

#define TERMINATED(f) (strnlen((f), sizeof(f)) < sizeof(f))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	__do_free char *copy = xmalloc(len ? len : 1);
	struct zdtm_desc d;
	char err[256];

	memcpy(copy, data, len);
	err[0] = '\0';
	if (zdtm_desc_parse(copy, len, "fuzz.desc", &d, err, sizeof(err)) < 0) {
		if (!err[0] || !TERMINATED(err))
			abort();
		return 0;
	}
	if (!TERMINATED(d.flavor) || !TERMINATED(d.flags) || !TERMINATED(d.feature) || !TERMINATED(d.opts) ||
	    !TERMINATED(d.dopts) || !TERMINATED(d.ropts) || !TERMINATED(d.arch) || d.timeout_s < 0)
		abort();
	zdtm_word_in(d.flags, "excl");
	zdtm_word_in(d.flavor, "h");
	return 0;
}
