/* crmig check: what this host's kernel, criu and liblxc can do, and so which
 * strategies can run here. */
#include <getopt.h>

#include "criu.h"
#include "hostinfo.h"
#include "migrate.h"
#include "migrate.h"
#include "util.h"
#include "version.h"

static void print_line(const char *what, bool ok, const char *if_not)
{
	printf("  %-8s %s%s%s\n", what, ok ? "yes" : "no", ok ? "" : ": ", ok ? "" : if_not);
}

int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' }, { "criu", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	const char *criu = NULL;
	bool as_json = false;
	struct criu_info ci;
	const char *kw;
	json_t *j;
	int c;

	while ((c = getopt_long(argc, argv, "jc:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': as_json = true; break;
		case 'c': criu = optarg; break;
		case 'h': puts("usage: crmig check [--json] [--criu PATH]"); return 0;
		default: fputs("usage: crmig check [--json] [--criu PATH]\n", stderr); return 2;
		}
	}
	criu_probe(&ci, criu);
	j = hostinfo_check(&ci);
	if (as_json) {
		json_dumpf(j, stdout, JSON_INDENT(2));
		putchar('\n');
	} else {
		printf("crmig %s, kernel %s, criu %s, liblxc %s\n", CRMIG_VERSION, json_str(j, "kernel"),
		       ci.present ? ci.version : "(none)", lxc_version_string());
		if (!ci.present)
			printf("  no criu: %s\n", ci.why_not);
		puts("strategies:");
		for (const struct strategy *const *s = strategies_all; *s; s++) {
			const char *why = strategy_why_not(*s, &ci);

			print_line((*s)->name, !why, why);
		}
		printf("page streams over TLS: %s\n", ci.tls ? "yes" : "no (criu built without GnuTLS)");
		kw = json_str(j, "kernel_tls_why");
		printf("page TLS in the kernel: %s%s\n", kw ? "no, a relay carries it: " : "yes", kw ? kw : "");
	}
	json_decref(j);
	return ci.present ? 0 : 1;
}
