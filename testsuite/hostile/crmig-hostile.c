/* crmig-hostile: attacks a `crmig serve` (testsuite/runner/hostile.h) and
 * says what serve did with each; exit 0 when serve withstood them all.
 *
 *   crmig-hostile --to HOST[:PORT] --certs DIR [--idle N] [--bound S] [--json]
 *
 * DIR holds an identity serve trusts (ca.crt, host.crt, host.key), e.g. the
 * source host's /etc/crmig. */
#include <getopt.h>

#include "../runner/hostile.h"
#include "net.h"
#include "util.h"

static void usage(FILE *f)
{
	fputs("usage: crmig-hostile --to HOST[:PORT] --certs DIR [--idle N] [--bound S] [--json] [--quiet]\n"
	      "  --to HOST[:PORT]  the crmig serve to attack (default port 7077)\n"
	      "  --certs DIR       an identity that serve trusts: ca.crt, host.crt, host.key\n"
	      "  --idle N          idle TCP connections held at once (default 200)\n"
	      "  --bound S         serve must close each attack's connection within S s (default 90)\n"
	      "  --json            the report as JSON on stdout\n",
	      f);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, 't' }, { "certs", required_argument, NULL, 'c' },
		{ "idle", required_argument, NULL, 'i' }, { "bound", required_argument, NULL, 'b' },
		{ "json", no_argument, NULL, 'j' }, { "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	struct hostile_opts o = { .verbose = true };
	struct hostile_report r;
	char host[256];
	const char *to = NULL;
	bool json = false;
	int c, ret;

	while ((c = getopt_long(argc, argv, "t:c:i:b:jqh", opts, NULL)) != -1) {
		switch (c) {
		case 't': to = optarg; break;
		case 'c': o.cert_dir = optarg; break;
		case 'i': o.idle_conns = atoi(optarg); break;
		case 'b': o.bound_s = atof(optarg); break;
		case 'j': json = true; break;
		case 'q': o.verbose = false; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!to || !o.cert_dir || net_split_hostport(to, host, sizeof(host), &o.port, CRMIG_DEFAULT_PORT) < 0) {
		usage(stderr);
		return 2;
	}
	o.host = host;
	ret = hostile_run(&o, &r);
	if (json) {
		json_auto_t *j = hostile_report_json(&r);

		json_dumpf(j, stdout, JSON_INDENT(2));
		putchar('\n');
	} else {
		__do_free char *text = hostile_report_text(&r);

		fputs(text, stdout);
	}
	if (ret < 0)
		fprintf(stderr, "crmig-hostile: serve did not withstand every attack (see above); its log says why "
				"(/var/log/crmig-serve.log on a lab host)\n");
	return ret < 0 ? 1 : 0;
}
