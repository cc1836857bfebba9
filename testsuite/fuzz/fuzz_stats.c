/* criu's stats-dump and stats-restore images as crmig reads them after
 * each round (ref/stats.c): framing, magics, length and the protobuf. */
#include "fuzz.h"
#include "stats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct dump_stats d;
	struct restore_stats r;
	char err[256];

	err[0] = '\0';
	if (stats_parse_dump(data, len, &d, err, sizeof(err)) < 0 && !err[0])
		abort();
	err[0] = '\0';
	if (stats_parse_restore(data, len, &r, err, sizeof(err)) < 0 && !err[0])
		abort();
	return 0;
}
