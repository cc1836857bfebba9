/* crmig-hook: criu's --action-script, installed in PREFIX/libexec/crmig.
 * criu runs it with no arguments by the name hook_server_open gave it, a
 * symlink in the hook server's private directory: the socket is beside that
 * name. Given one argument, that is the socket (as `crmig hook SOCKET`). */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "hook.h"

int main(int argc, char **argv)
{
	char sock[PATH_MAX];
	const char *slash = argc > 0 ? strrchr(argv[0], '/') : NULL;

	if (argc == 2)
		return hook_client_main(argv[1]);
	if (argc != 1 || !slash) {
		fputs("crmig-hook: run by criu as crmig's --action-script, not by people\n", stderr);
		return 2;
	}
	/* a truncated name is longer than any socket path: refused as such */
	snprintf(sock, sizeof(sock), "%.*s/sock", (int)(slash - argv[0]), argv[0]);
	return hook_client_main(sock);
}
