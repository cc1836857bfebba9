#include "version.h"

#include <lxc/lxccontainer.h>

const char *lxc_version_string(void)
{
	const char *v = lxc_get_version();

	return v ? v : "";
}
