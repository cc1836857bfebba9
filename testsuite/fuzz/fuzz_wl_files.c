/* The workload's status files as the harness reads them back
 * (testsuite/lib/wl_proto.c): the verdict, its notes, and the ready file. */
#include "fuzz.h"
#include "../lib/wl.h"

static struct fuzz_dir dir;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	__do_free char *path = NULL;
	char reason[WL_REASON_MAX], note[256];
	enum wl_verdict v;

	fuzz_dir_init(&dir);
	path = xasprintf("%s/verdict", dir.sentinel);
	if (write_file(path, data, len, 0600) < 0)
		abort();
	v = wl_read_verdict(path, reason, sizeof(reason));
	if (v == WL_VERDICT_NONE || (v == WL_VERDICT_PASS && reason[0]) || (v == WL_VERDICT_FAIL && !reason[0]))
		abort();
	wl_read_verdict_note(path, "size_mb", note, sizeof(note));
	wl_read_verdict_note(path, "", note, sizeof(note));
	if (wl_read_ready(path) == 0)
		abort();
	return 0;
}
