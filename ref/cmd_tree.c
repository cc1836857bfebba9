/* crmig tree: the process tree, for people and for a GUI (the talk's "CRIU
 * Process Migration GUI" shows two hosts' trees and migrates by drag and
 * drop; `crmig gui` asks `crmig serve` for the same data). */
#include <getopt.h>

#include "hostinfo.h"
#include "migrate.h"
#include "util.h"

static void print_tree(json_t *node, int depth)
{
	size_t i;
	json_t *child;
	const char *why = json_str(node, "why_not");

	printf("%*s%lld %s%s%s%s\n", depth * 2, "", (long long)json_int(node, "pid", 0), json_str(node, "name"),
	       why ? "  (" : "", why ? why : "", why ? ")" : "");
	json_array_foreach(json_object_get(node, "children"), i, child)
		print_tree(child, depth + 1);
}

static const char usage_text[] = "usage: crmig tree [--json] [--flat] [--pid PID]\n"
				 "  --json   nested {pid, name, children, cmdline, user, state, threads, rss_kb, tcp,\n"
				 "           container, migratable, why_not, target}\n"
				 "  --flat   every process (kernel threads too) as one JSON list\n";

int cmd_tree(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' }, { "pid", required_argument, NULL, 'p' },
		{ "flat", no_argument, NULL, 'f' }, { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	bool as_json = false, flat = false;
	pid_t root = 1;
	json_t *procs, *out;
	int c;

	while ((c = getopt_long(argc, argv, "jfp:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': as_json = true; break;
		case 'f': flat = as_json = true; break;
		case 'p': root = atoi(optarg); break;
		case 'h': fputs(usage_text, stdout); return 0;
		default: fputs(usage_text, stderr); return 2;
		}
	}
	if (root <= 0) {
		fputs("crmig tree: --pid wants a process id\n", stderr);
		return 2;
	}
	procs = hostinfo_procs();
	out = flat ? json_incref(procs) : hostinfo_nest(procs, root);
	if (as_json) {
		json_dumpf(out, stdout, JSON_INDENT(1));
		putchar('\n');
	} else {
		print_tree(out, 0);
	}
	json_decref(out);
	json_decref(procs);
	return 0;
}
