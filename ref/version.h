/* Versions of what crmig runs on: for reports, `crmig check` and `--version`. */
#ifndef CRMIG_VERSION_H
#define CRMIG_VERSION_H

const char *lxc_version_string(void);

#endif
