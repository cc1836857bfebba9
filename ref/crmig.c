/* crmig — the reference migrator: entry point and the single command table. */
#include <signal.h>

#include "gui.h"
#include "hook.h"
#include "migrate.h"
#include "util.h"

struct command {
	const char *name;
	const char *summary;
	int (*fn)(int argc, char **argv);
};

static int cmd_hook(int argc, char **argv)
{
	if (argc != 2) {
		fputs("crmig hook SOCKET: run by criu as its --action-script\n", stderr);
		return 2;
	}
	return hook_client_main(argv[1]);
}

static const struct command commands[] = {
	{ "migrate", "move a process tree or a container to another host", cmd_migrate },
	{ "serve", "receive migrations (on the destination)", cmd_serve },
	{ "check", "what this host can do: criu, kernel, strategies", cmd_check },
	{ "tree", "show the process tree", cmd_tree },
	{ "cert", "make the CA and host certificates", cmd_cert },
	{ "gui", "the process trees of the hosts in a browser; migrate by drag and drop", cmd_gui },
	{ "hook", NULL, cmd_hook }, /* criu's action script: not for people */
};

static void usage(FILE *f)
{
	fprintf(f, "usage: crmig COMMAND [OPTIONS]   (crmig COMMAND --help for its options)\n\ncommands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (commands[i].summary)
			fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nstrategies for migrate --strategy:\n");
	for (const struct strategy *const *s = strategies_all; *s; s++)
		fprintf(f, "  %-8s %s\n", (*s)->name, (*s)->summary);
}

int main(int argc, char **argv)
{
	/* A peer that hangs up must be an error on a write, not a death. */
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		puts("crmig " CRMIG_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "crmig: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
