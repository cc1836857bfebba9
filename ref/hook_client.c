/* The client half of criu's action scripts (hook.h): what criu runs at each
 * phase, in `crmig hook SOCKET` and in crmig-hook. libc only, so that
 * crmig-hook loads nothing else while the workload is frozen. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "hook.h"

/* crmig is gone, and criu goes on without it: whatever crmig held stopped
 * (HOOK_HELD_FILE beside the socket) is continued now, while criu still
 * holds it, so that the tree criu resumes runs instead of stopping. */
static void continue_held(const char *sock)
{
	static char buf[1 << 16]; /* 8000 pids and more */
	char path[4096], *p, *end;
	const char *slash = strrchr(sock, '/');
	size_t used = 0;
	ssize_t n;
	int fd;

	if (!slash || snprintf(path, sizeof(path), "%.*s/" HOOK_HELD_FILE, (int)(slash - sock), sock) >= (int)sizeof(path))
		return;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return;
	while (used + 1 < sizeof(buf) && (n = read(fd, buf + used, sizeof(buf) - 1 - used)) > 0)
		used += (size_t)n;
	close(fd);
	buf[used] = '\0';
	/* every pid ends with a newline: a line cut short is not one */
	for (p = buf; *p; p = end + 1) {
		long pid = strtol(p, &end, 10);

		if (end == p || *end != '\n')
			return;
		if (pid > 1 && pid < (1L << 22))
			kill((pid_t)pid, SIGCONT);
	}
}

static int fall_back(const char *sock, int answer)
{
	continue_held(sock);
	return answer;
}

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
		return fall_back(sock, fallback);
	}
	while (used + 1 < sizeof(reply)) {
		ssize_t n = read(fd, reply + used, sizeof(reply) - 1 - used);

		if (n <= 0)
			break;
		used += n;
	}
	close(fd);
	reply[used] = '\0';
	return used ? atoi(reply) : fall_back(sock, fallback);
}
