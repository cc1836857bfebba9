/* The source's side of a session as a destination answers it: the input is
 * everything the destination says, and crmig migrate's own request
 * functions (ref/migrate.c, ref/sync.c) read it: the hello, prepare, the
 * rounds' page maps coming back (hybrid), a page server's failure, the
 * restore's reply with its timing and criu argvs, the abort; then the report
 * is built from what they recorded. Files land in a scratch directory. */
#include "fuzz.h"
#include "migrate.h"

static struct fuzz_dir dir;

static json_t *describe(struct migration *m)
{
	(void)m;
	return json_pack("{s:s, s:[i]}", "kind", "pid", "tids", 4242);
}

static const struct workload_ops fuzz_workload = { .kind = "pid", .describe = describe };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static const struct mig_opts o = { .strategy = "hybrid", .quiet = true, .tcp_established = true,
					   .file_locks = true, .page_tls = "off", .rootfs = "shared" };
	__do_free struct migration *m = NULL;
	__do_free char *text = NULL;
	struct fuzz_stream fs;
	json_t *hello, *rep;

	if (len < 1)
		return 0;
	fuzz_dir_fresh(&dir);
	m = xzalloc(sizeof(*m));
	m->o = &o;
	m->st = strategy_by_name("hybrid");
	m->wl = &fuzz_workload;
	m->ctl_fd = -1;
	snprintf(m->host, sizeof(m->host), "fuzz");
	snprintf(m->id, sizeof(m->id), "0123456789ab");
	snprintf(m->dir, sizeof(m->dir), "%s", dir.root);
	report_init(&m->rep, "hybrid");
	fuzz_chan(&m->ch, &fs, data + 1, len - 1);

	hello = chan_recv_json(&m->ch, MSG_HELLO);
	if (hello) {
		json_int(hello, "version", 0);
		m->rep.dest_versions = json_incref(json_object_get(hello, "versions"));
		json_decref(hello);
	}
	if (fs.pos < fs.len)
		mig_call(m, json_pack("{s:s, s:s}", "op", "prepare", "id", m->id));
	if (fs.pos < fs.len)
		mig_fetch_pagemaps(m, 1 + data[0] % 3);
	if (fs.pos < fs.len)
		mig_page_server_blame(m);
	if (fs.pos < fs.len)
		mig_restore(m, "final", data[0] & 0x10);
	if (fs.pos < fs.len)
		mig_abort_dest(m);
	rep = report_to_json(&m->rep);
	text = json_dumps(rep, JSON_COMPACT);
	if (!text)
		abort();
	json_decref(rep);
	report_free(&m->rep);
	fuzz_dir_check(&dir);
	return 0;
}
