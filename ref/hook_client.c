/* The client half of criu's action scripts (hook.h): what criu runs at each
 * phase, in `crmig hook SOCKET` and in crmig-hook. libc only, so that
 * crmig-hook loads nothing else while the workload is frozen. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "hook.h"

int hook_client_main(const char *sock)
{
	const char *action = getenv("CRTOOLS_SCRIPT_ACTION");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char reply[16] = "";
	size_t used = 0;
	/* If crmig is gone, never let criu kill the workload. */
	int fallback = action && !strcmp(action, "post-dump") ? 1 : 0;
	int fd;

	if (!action)
		return 0;
	if (strlen(sock) >= sizeof(sa.sun_path))
		return fallback;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fallback;
	strcpy(sa.sun_path, sock);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || dprintf(fd, "%s\n", action) < 0) {
		close(fd);
		return fallback;
	}
	while (used + 1 < sizeof(reply)) {
		ssize_t n = read(fd, reply + used, sizeof(reply) - 1 - used);

		if (n <= 0)
			break;
		used += n;
	}
	close(fd);
	reply[used] = '\0';
	return used ? atoi(reply) : fallback;
}
