/* The destination's session, one frame at a time and without side effects:
 * what a frame from the source asks for, and whether its arguments are
 * acceptable at all. serve.c acts on the answer (its ops then check what
 * depends on the session's state: a page server already running, a
 * configured sync root); the fuzzer and the unit tests drive it directly. */
#ifndef CRMIG_SERVE_STEP_H
#define CRMIG_SERVE_STEP_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

enum serve_op {
	SOP_PREPARE, SOP_SYNC, SOP_IMAGES, SOP_PAGE_SERVER, SOP_PAGE_SERVER_WAIT, SOP_LAZY_CHANNEL,
	SOP_RESTORE, SOP_LAZY_WAIT, SOP_FETCH_MAPS, SOP_LOGS, SOP_ABORT, SOP_FINISH, SOP_COUNT,
};

enum serve_verdict {
	SERVE_BYE,            /* an orderly end */
	SERVE_PROTOCOL_ERROR, /* not a request: drop the connection */
	SERVE_REFUSE,         /* answer an ERROR with why; the session goes on */
	SERVE_REFUSE_END,     /* answer an ERROR, then end: files follow that cannot be skipped */
	SERVE_RUN,            /* run op with req */
};

struct serve_step {
	enum serve_verdict verdict;
	enum serve_op op;     /* SERVE_RUN, and the refusals of a known op */
	json_t *req;          /* owned by the caller (json_decref), NULL unless a request parsed */
	char why[160];
};

/* Limits on what a request may announce. */
#define SERVE_DIR_MAX 32          /* an images directory's name */
#define SERVE_ID_MAX 32           /* a session id: lowercase hex */
#define SERVE_SYNC_FILES_MAX 1000000
#define SERVE_IMAGE_FILES_MAX 100000

const char *serve_op_name(enum serve_op op);
/* Whether an image file named name belongs to the page server: criu's
 * pages and pagemaps, which a page server of the session writes into its
 * directory. A source that sends one there as an image would overwrite
 * what the page server wrote (lab, soak round 5, before crmig migrate
 * cleared a reused --keep-images directory: an old pagemap over the new
 * one, and criu's restorer read past the end of the pages for ever). */
bool serve_page_server_file(const char *name);
/* One frame of the given type and payload, in a session that has (or has
 * not yet) been prepared. Never fails to fill *out. */
void serve_step(bool prepared, uint16_t type, const void *buf, uint32_t len, struct serve_step *out);

#endif
