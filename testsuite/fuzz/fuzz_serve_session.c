/* The destination's session as a source drives it: frames from the input go
 * through serve_step (ref/serve_step.c), the step function serve.c runs on,
 * with the session's state carried as serve.c carries it; the files that
 * "sync" and "images" announce are received with the real chan_recv_file
 * into a scratch directory (standing in for the state directory and the
 * sync root). A request that passes must name only safe things. */
#include "fuzz.h"
#include "migrate.h"
#include "serve_step.h"

static struct fuzz_dir dir;

static void reply(struct chan *c, bool ok)
{
	json_t *o = ok ? json_object() : json_pack("{s:s}", "error", "refused");

	chan_send_json(c, ok ? MSG_OK : MSG_ERROR, o);
	json_decref(o);
}

/* What serve.c will build paths from must pass the rules again here. */
static void check_names(const struct serve_step *st)
{
	const char *d = json_str(st->req, "dir"), *prev = json_str(st->req, "prev");

	if (st->op == SOP_IMAGES || st->op == SOP_PAGE_SERVER || st->op == SOP_LAZY_CHANNEL ||
	    st->op == SOP_RESTORE || st->op == SOP_FETCH_MAPS) {
		if (!d || !safe_name(d, SERVE_DIR_MAX) || strchr(d, '/') || !strcmp(d, ".."))
			abort();
		if (json_object_get(st->req, "prev") && (!prev || !safe_name(prev, SERVE_DIR_MAX)))
			abort();
	}
	if (st->op == SOP_PREPARE) {
		json_t *wl = json_object_get(st->req, "workload");
		const char *id = json_str(st->req, "id");

		if (!id || !*id || strlen(id) > SERVE_ID_MAX || strspn(id, "0123456789abcdef") != strlen(id))
			abort();
		if (!strcmp(json_str(wl, "kind") ?: "", "lxc") &&
		    (!safe_name(json_str(wl, "name"), WL_CONTAINER_MAX) || !safe_abs_path(json_str(wl, "lxcpath"))))
			abort();
	}
}

static int recv_files(struct chan *c, int dfd, int64_t count, bool subdirs)
{
	for (int64_t i = 0; i < count && i < 16; i++) {
		json_t *hdr = chan_recv_json(c, MSG_FILE);
		int64_t n;

		if (!hdr)
			return -1;
		n = chan_recv_file(c, dfd, hdr, subdirs);
		json_decref(hdr);
		if (n < 0)
			return -1;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct fuzz_stream fs;
	struct chan c;
	bool prepared = false, done = false;
	int dfd;

	fuzz_dir_fresh(&dir);
	dfd = open(dir.root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		abort();
	fuzz_chan(&c, &fs, data, len);
	for (int i = 0; i < 64 && !done; i++) {
		struct serve_step st;
		uint16_t type;
		void *buf;
		uint32_t n;

		if (chan_recv(&c, &type, &buf, &n) < 0)
			break;
		serve_step(prepared, type, buf, n, &st);
		free(buf);
		switch (st.verdict) {
		case SERVE_BYE:
		case SERVE_PROTOCOL_ERROR:
			done = true;
			break;
		case SERVE_REFUSE:
			if (!st.why[0])
				abort();
			reply(&c, false);
			break;
		case SERVE_REFUSE_END:
			if (st.op != SOP_SYNC && st.op != SOP_IMAGES)
				abort();
			reply(&c, false);
			done = true;
			break;
		case SERVE_RUN:
			if (st.op >= SOP_COUNT || (!prepared && st.op != SOP_PREPARE) || (prepared && st.op == SOP_PREPARE))
				abort();
			check_names(&st);
			if (st.op == SOP_PREPARE)
				prepared = true;
			if (st.op == SOP_SYNC || st.op == SOP_IMAGES) {
				if (recv_files(&c, dfd, json_int(st.req, "count", 0), st.op == SOP_SYNC) < 0)
					done = true;
			}
			reply(&c, !done);
			break;
		}
		json_decref(st.req);
	}
	close(dfd);
	fuzz_dir_check(&dir);
	return 0;
}
