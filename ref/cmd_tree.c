/* crmig tree: the process tree, for people and for a GUI (the talk's "CRIU
 * Process Migration GUI" shows two hosts' trees and migrates by drag and drop). */
#include <dirent.h>
#include <getopt.h>

#include "migrate.h"
#include "util.h"

struct proc_node {
	pid_t pid, ppid;
	char name[32];
};

static int read_proc(pid_t pid, struct proc_node *n)
{
	__do_free char *path = xasprintf("/proc/%d/stat", pid);
	__do_free char *stat = read_file(path, NULL);
	char *open = stat ? strchr(stat, '(') : NULL;
	char *close = stat ? strrchr(stat, ')') : NULL;
	char state;
	size_t len;

	if (!open || !close || close < open)
		return -1;
	len = (size_t)(close - open - 1);
	if (len >= sizeof(n->name))
		len = sizeof(n->name) - 1;
	memcpy(n->name, open + 1, len);
	n->name[len] = '\0';
	n->pid = pid;
	return sscanf(close + 1, " %c %d", &state, &n->ppid) == 2 ? 0 : -1;
}

static size_t list_procs(struct proc_node **out)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	size_t n = 0, cap = 256;
	struct proc_node *v = xmalloc(cap * sizeof(*v));

	while (d && (e = readdir(d))) {
		pid_t pid = atoi(e->d_name);

		if (pid <= 0)
			continue;
		if (n == cap)
			v = xrealloc(v, (cap *= 2) * sizeof(*v));
		if (read_proc(pid, &v[n]) == 0)
			n++;
	}
	if (d)
		closedir(d);
	*out = v;
	return n;
}

static json_t *subtree(const struct proc_node *v, size_t n, pid_t root, int depth)
{
	json_t *children = json_array();
	const char *name = "?";

	for (size_t i = 0; i < n; i++) {
		if (v[i].pid == root)
			name = v[i].name;
		if (v[i].ppid == root && v[i].pid != root && depth < 256)
			json_array_append_new(children, subtree(v, n, v[i].pid, depth + 1));
	}
	return json_pack("{s:i, s:s, s:o}", "pid", (int)root, "name", name, "children", children);
}

static void print_tree(json_t *node, int depth)
{
	size_t i;
	json_t *child;

	printf("%*s%lld %s\n", depth * 2, "", (long long)json_int(node, "pid", 0), json_str(node, "name"));
	json_array_foreach(json_object_get(node, "children"), i, child)
		print_tree(child, depth + 1);
}

int cmd_tree(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' }, { "pid", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	struct proc_node *v;
	bool as_json = false;
	pid_t root = 1;
	json_t *tree;
	size_t n;
	int c;

	while ((c = getopt_long(argc, argv, "jp:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': as_json = true; break;
		case 'p': root = atoi(optarg); break;
		case 'h': puts("usage: crmig tree [--json] [--pid PID]"); return 0;
		default: fputs("usage: crmig tree [--json] [--pid PID]\n", stderr); return 2;
		}
	}
	if (root <= 0) {
		fputs("crmig tree: --pid wants a process id\n", stderr);
		return 2;
	}
	n = list_procs(&v);
	tree = subtree(v, n, root, 0);
	free(v);
	if (as_json) {
		json_dumpf(tree, stdout, JSON_INDENT(1));
		putchar('\n');
	} else {
		print_tree(tree, 0);
	}
	json_decref(tree);
	return 0;
}
