/* crmig serve: a session of `crmig gui` (see serve_gui.c). */
#ifndef CRMIG_SERVE_GUI_H
#define CRMIG_SERVE_GUI_H

#include "criu.h"
#include "proto.h"

/* Answers tree and check requests until BYE (0) or a broken channel (-1). */
int serve_gui_session(struct chan *ch, const struct criu_info *ci);

#endif
