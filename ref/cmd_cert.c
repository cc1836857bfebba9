/* crmig cert: a CA and host certificates for the mutually authenticated
 * channel (and criu's page streams). */
#include <getopt.h>

#include "migrate.h"
#include "util.h"

static void usage(FILE *f)
{
	fputs("usage: crmig cert ca DIR [--cn NAME] [--days N]\n"
	      "       crmig cert host NAME --ca DIR --out DIR [--ip ADDR]... [--days N]\n"
	      "A host's DIR (default " CRMIG_CERT_DIR ") then holds ca.crt, host.crt and host.key;\n"
	      "copy it to that host. Keep the CA's ca.key elsewhere.\n", f);
}

int cmd_cert(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "cn", required_argument, NULL, 'n' }, { "days", required_argument, NULL, 'd' },
		{ "ca", required_argument, NULL, 'c' }, { "out", required_argument, NULL, 'o' },
		{ "ip", required_argument, NULL, 'i' }, { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	const char *cn = "crmig CA", *ca = NULL, *out = NULL, *ips[17] = { NULL };
	int days = 3650, nips = 0, c;
	char err[512];
	const char *what;

	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	what = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "n:d:c:o:i:h", opts, NULL)) != -1) {
		switch (c) {
		case 'n': cn = optarg; break;
		case 'd': days = atoi(optarg); break;
		case 'c': ca = optarg; break;
		case 'o': out = optarg; break;
		case 'i':
			if (nips >= 16) {
				fputs("crmig cert: at most 16 --ip\n", stderr);
				return 2;
			}
			ips[nips++] = optarg;
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (days < 1 || days > 36500) {
		fputs("crmig cert: --days from 1 to 36500\n", stderr);
		return 2;
	}
	if (!strcmp(what, "ca") && optind + 1 == argc) {
		mkdir_p(argv[optind], 0700);
		if (cert_make_ca(argv[optind], cn, days, err, sizeof(err)) < 0) {
			fprintf(stderr, "crmig cert: %s\n", err);
			return 1;
		}
		printf("CA written to %s (ca.crt, ca.key)\n", argv[optind]);
		return 0;
	}
	if (!strcmp(what, "host") && optind + 1 == argc && ca) {
		if (!out)
			out = CRMIG_CERT_DIR;
		mkdir_p(out, 0700);
		if (cert_make_host(ca, out, argv[optind], ips, days, err, sizeof(err)) < 0) {
			fprintf(stderr, "crmig cert: %s\n", err);
			return 1;
		}
		printf("host certificate for %s written to %s (ca.crt, host.crt, host.key)\n", argv[optind], out);
		return 0;
	}
	usage(stderr);
	return 2;
}
