/* The wire protocol's frames (ref/proto.c chan_recv, chan_recv_json) as a
 * peer sends them: the first byte picks raw frames or JSON messages of one
 * expected type, the rest is the byte stream. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct fuzz_stream fs;
	struct chan c;

	if (len < 1)
		return 0;
	fuzz_chan(&c, &fs, data + 1, len - 1);
	for (int i = 0; i < 64 && fs.pos < fs.len; i++) {
		if (data[0] & 1) {
			uint16_t expect = (uint16_t)(MSG_HELLO + (data[0] >> 1) % (MSG_TYPE_MAX - MSG_HELLO));
			json_t *obj = chan_recv_json(&c, expect);

			if (!obj)
				break;
			if (!json_is_object(obj))
				abort();
			json_decref(obj);
		} else {
			void *buf;
			uint16_t type;
			uint32_t n;

			if (chan_recv(&c, &type, &buf, &n) < 0) {
				if (buf)
					abort();
				break;
			}
			/* what chan_recv promises: a known type, a bounded and NUL-terminated payload */
			if (type < MSG_HELLO || type >= MSG_TYPE_MAX || n > PROTO_MAX_FRAME || ((char *)buf)[n])
				abort();
			free(buf);
		}
	}
	if (c.bytes_recv > fs.len)
		abort();
	return 0;
}
