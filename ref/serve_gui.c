/* crmig serve's answers to `crmig gui`: a session whose hello says role
 * "gui" may only ask what this host runs ("tree") and allows ("check");
 * it never reaches the migration requests. Like every session it passed
 * the mutual TLS handshake first: only a certificate of our CA gets here. */
#include "hostinfo.h"
#include "proto.h"
#include "serve_gui.h"
#include "util.h"

int serve_gui_session(struct chan *ch, const struct criu_info *ci)
{
	for (;;) {
		uint16_t type;
		void *buf = NULL;
		uint32_t len;
		json_t *req, *reply;
		const char *op;
		int ret;

		if (chan_recv(ch, &type, &buf, &len) < 0) {
			free(buf);
			return -1;
		}
		if (type == MSG_BYE) {
			free(buf);
			return 0;
		}
		req = type == MSG_REQUEST ? json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
		free(buf);
		op = json_str(req, "op");
		if (!op) {
			json_decref(req);
			return -1; /* not a request: a protocol error ends the session */
		}
		if (!strcmp(op, "tree")) {
			reply = json_pack("{s:o}", "procs", hostinfo_procs());
			ret = chan_send_json(ch, MSG_OK, reply);
		} else if (!strcmp(op, "check")) {
			reply = json_pack("{s:o}", "check", hostinfo_check(ci));
			ret = chan_send_json(ch, MSG_OK, reply);
		} else {
			reply = json_pack("{s:s}", "error", "a gui session may only ask 'tree' or 'check'");
			ret = chan_send_json(ch, MSG_ERROR, reply);
		}
		json_decref(reply);
		json_decref(req);
		if (ret < 0)
			return -1;
	}
}
