/* crmig gui: the command. */
#include <getopt.h>
#include <signal.h>

#include "gui.h"
#include "net.h"
#include "util.h"

static volatile sig_atomic_t gui_quit;

static void on_quit(int sig)
{
	(void)sig;
	gui_quit = 1;
}

static void usage(FILE *f)
{
	fputs("usage: crmig gui [--hosts a=ADDR,b=ADDR | --lab NAME | --replay FILE] [--listen ADDR:PORT]\n"
	      "  --hosts NAME=ADDR[:PORT],...  hosts running `crmig serve` (migrations run there over ssh as root)\n"
	      "  --lab NAME             the lab booted by `make lab-up LAB=NAME` (state in build/lab/NAME)\n"
	      "  --lab-root DIR         where labs keep their state (default build/lab)\n"
	      "  --replay FILE          play a recorded fixture instead (testsuite/gui/fixtures/)\n"
	      "  --speed X              replay X times faster (default 1)\n"
	      "  --listen ADDR:PORT     default 127.0.0.1:8077; port 0 picks a free one\n"
	      "  --certs DIR            the GUI's identity for the hosts (default /etc/crmig; --lab: host a's)\n"
	      "  --crmig PATH           crmig on the hosts (default crmig; --lab: the lab's)\n"
	      "  --poll SECONDS         how often the trees are refreshed (default 2)\n"
	      "  --url-file FILE        also write the URL there (for scripts)\n"
	      "Open the printed URL: it holds the session token. Ctrl-C ends.\n",
	      f);
}

int cmd_gui(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "hosts", required_argument, NULL, 'H' }, { "lab", required_argument, NULL, 'l' },
		{ "lab-root", required_argument, NULL, 'R' }, { "replay", required_argument, NULL, 'r' },
		{ "speed", required_argument, NULL, 's' }, { "listen", required_argument, NULL, 'L' },
		{ "certs", required_argument, NULL, 'c' }, { "crmig", required_argument, NULL, 'C' },
		{ "poll", required_argument, NULL, 'p' }, { "url-file", required_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	struct gui_hosts_opts ho = { 0 };
	const char *replay = NULL, *listen = "127.0.0.1:8077", *url_file = NULL;
	double speed = 1;
	char token[2 * DATA_TOKEN_LEN + 1], err[1024];
	struct gui_state *st;
	struct gui_http *http;
	struct gui_hosts *hosts = NULL;
	struct gui_replay *rp = NULL;
	struct sigaction sa = { .sa_handler = on_quit };
	char *end;
	int c, port;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'H': ho.hosts = optarg; break;
		case 'l': ho.lab = optarg; break;
		case 'R': ho.lab_root = optarg; break;
		case 'r': replay = optarg; break;
		case 'L': listen = optarg; break;
		case 'c': ho.cert_dir = optarg; break;
		case 'C': ho.crmig = optarg; break;
		case 'u': url_file = optarg; break;
		case 's':
		case 'p': {
			double v = strtod(optarg, &end);

			if (*end || end == optarg || v <= 0 || v > 1000) {
				fprintf(stderr, "crmig gui: --%s %s: want a number from 0 to 1000\n", c == 's' ? "speed" : "poll",
					optarg);
				return 2;
			}
			if (c == 's')
				speed = v;
			else
				ho.poll_s = v;
			break;
		}
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc || (!!ho.hosts + !!ho.lab + !!replay) != 1) {
		fputs("crmig gui: give exactly one of --hosts, --lab and --replay\n", stderr);
		usage(stderr);
		return 2;
	}
	st = gui_state_new(GUI_RING);
	if (replay)
		rp = gui_replay_start(st, replay, speed, err, sizeof(err));
	else
		hosts = gui_hosts_start(st, &ho, err, sizeof(err));
	if (!rp && !hosts) {
		fprintf(stderr, "crmig gui: %s\n", err);
		gui_state_free(st);
		return 1;
	}
	/* 128 bits of the 256 net_new_token makes. */
	net_new_token(token);
	token[GUI_TOKEN_HEX] = '\0';
	http = gui_http_start(st, &(struct gui_http_opts){ .listen = listen, .token = token }, &port, err, sizeof(err));
	if (!http) {
		fprintf(stderr, "crmig gui: %s\n", err);
		gui_state_close(st);
		gui_hosts_stop(hosts);
		gui_replay_stop(rp);
		gui_state_free(st);
		return 1;
	}
	{
		char host[256];
		int p;
		__do_free char *url = NULL;

		gui_split_listen(listen, host, sizeof(host), &p);
		url = xasprintf("http://%s:%d/?token=%s", host, port, token);
		if (strncmp(host, "127.", 4))
			fprintf(stderr, "crmig gui: warning: listening on %s, not loopback: plain HTTP, anyone on that "
				"network who learns the URL can act\n", host);
		printf("crmig gui: open %s\n", url);
		fflush(stdout);
		if (url_file && write_file(url_file, url, strlen(url), 0600) < 0)
			fprintf(stderr, "crmig gui: cannot write %s: %s\n", url_file, strerror(errno));
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	while (!gui_quit)
		pause();
	fputs("crmig gui: stopping\n", stderr);
	gui_state_close(st);
	gui_http_stop(http);
	gui_hosts_stop(hosts);
	gui_replay_stop(rp);
	gui_state_free(st);
	return 0;
}
