/* crmig-lab: the lab by hand. `up` boots two hosts and leaves them running,
 * `shell a` logs into one, `down` removes everything. One command table. */
#include <getopt.h>
#include <jansson.h>
#include <signal.h>

#include "../runner/runner.h"
#include "lab.h"
#include "lab_accel.h"
#include "util.h"

struct args {
	const char *name, *state_root, *image, *payload, *backend, *key, *harness, *prefix;
	const char *hosts[LAB_MAX_HOSTS];
	int mem_mb;
	int argc;       /* the operands after the options */
	char **argv;
};

struct command {
	const char *name;
	const char *usage;
	int (*fn)(struct args *a);
	bool needs_lab;  /* attach to a running lab first */
};

static struct lab lab;
static char errbuf[8192];

static int attach(struct args *a)
{
	if (lab_attach(&lab, a->state_root, a->name, errbuf, sizeof(errbuf)) < 0) {
		fprintf(stderr, "crmig-lab: %s\n", errbuf);
		return -1;
	}
	return 0;
}

static int host_arg(struct args *a, int idx)
{
	int h;

	if (idx >= a->argc) {
		fprintf(stderr, "crmig-lab: which host? (a or b)\n");
		return -1;
	}
	h = lab_host_index(&lab, a->argv[idx]);
	if (h < 0)
		fprintf(stderr, "crmig-lab: no host '%s' in lab %s (a or b)\n", a->argv[idx], lab.name);
	return h;
}

static void on_signal(int sig)
{
	(void)sig;
	/* Boot interrupted: the handler of `up` tears down what exists. */
	lab_down(&lab);
	_exit(130);
}

static int cmd_up(struct args *a)
{
	struct lab_config cfg = {
		.name = a->name, .backend = a->backend, .state_root = a->state_root,
		.image_dir = a->image, .payload = a->payload, .mem_mb = a->mem_mb, .persistent = true,
		.hosts = { a->hosts[0], a->hosts[1] }, .ssh_key = a->key, .harness_addr = a->harness,
		.guest_prefix = a->prefix,
	};
	double t0 = now_ms();

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (lab_up(&lab, &cfg, errbuf, sizeof(errbuf)) < 0) {
		fprintf(stderr, "crmig-lab: %s\n", errbuf);
		return 1;
	}
	/* Certificates and `crmig serve` on both hosts: ready to migrate. */
	if (lab_provision_crmig(&lab, errbuf, sizeof(errbuf)) < 0) {
		fprintf(stderr, "crmig-lab: %s\n", errbuf);
		lab_down(&lab);
		return 1;
	}
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	printf("lab %s is up in %.1f s (%s): a=%s b=%s harness=%s (netns %s)\n", lab.name, (now_ms() - t0) / 1000,
	       lab.accel, lab.hosts[0].addr, lab.hosts[1].addr, lab.harness_addr, lab.netns[0] ? lab.netns : "-");
	printf("log in with: make lab-shell HOST=a    stop with: make lab-down\n");
	return 0;
}

static int cmd_down(struct args *a)
{
	if (lab_attach(&lab, a->state_root, a->name, errbuf, sizeof(errbuf)) < 0 && !lab.nhosts) {
		/* Nothing recorded: still remove a namespace left by a crashed run. */
		char path[PATH_MAX];

		snprintf(lab.netns, sizeof(lab.netns), "crmig-%s", lab.name);
		snprintf(path, sizeof(path), "/run/netns/%s", lab.netns);
		if (access(path, F_OK) < 0) {
			printf("lab %s is not up\n", lab.name);
			return 0;
		}
		snprintf(lab.backend, sizeof(lab.backend), "qemu");
	}
	lab_down(&lab);
	printf("lab %s is down\n", lab.name);
	return 0;
}

static int cmd_shell(struct args *a)
{
	int h = host_arg(a, 0);
	char **argv;
	size_t n = 0;

	if (h < 0)
		return 2;
	argv = lab_ssh_argv(&lab, h, a->argc == 1);
	while (argv[n])
		n++;
	argv = xrealloc(argv, (n + a->argc + 1) * sizeof(char *));
	for (int i = 1; i < a->argc; i++)
		argv[n++] = xstrdup(a->argv[i]);
	argv[n] = NULL;
	if (lab_enter_netns(&lab) < 0) {
		perror("crmig-lab: entering the lab's network namespace");
		return 1;
	}
	execvp(argv[0], argv);
	perror("crmig-lab: ssh");
	return 1;
}

static int cmd_run(struct args *a)
{
	int h = host_arg(a, 0);
	struct proc_result r;

	if (h < 0 || a->argc < 2)
		return 2;
	if (lab_run(&lab, h, a->argv + 1, 0, &r) < 0)
		return 1;
	fputs(r.out, stdout);
	fputs(r.err, stderr);
	proc_result_free(&r);
	return r.status;
}

static int cmd_copy_to(struct args *a)
{
	int h = host_arg(a, 0);

	if (h < 0 || a->argc != 3)
		return 2;
	return lab_copy_to(&lab, h, a->argv[1], a->argv[2], 0644) ? 1 : 0;
}

static int cmd_copy_from(struct args *a)
{
	int h = host_arg(a, 0);

	if (h < 0 || a->argc != 3)
		return 2;
	return lab_copy_from(&lab, h, a->argv[1], a->argv[2]) ? 1 : 0;
}

static int cmd_cut(struct args *a)
{
	int h = host_arg(a, 0);

	return h < 0 ? 2 : lab_cut_link(&lab, h, true) ? 1 : 0;
}

static int cmd_uncut(struct args *a)
{
	int h = host_arg(a, 0);

	return h < 0 ? 2 : lab_cut_link(&lab, h, false) ? 1 : 0;
}

static int cmd_limit(struct args *a)
{
	int h = host_arg(a, 0);

	if (h < 0 || a->argc != 2)
		return 2;
	return lab_limit_bw(&lab, h, strcmp(a->argv[1], "none") ? a->argv[1] : NULL) ? 1 : 0;
}

/* What runs on each host, from the image manifest and the hosts themselves. */
static int cmd_status(struct args *a)
{
	(void)a;
	printf("lab %s (%s backend), harness %s\n", lab.name, lab.backend, lab.harness_addr);
	printf("  accelerator %s (%s)\n", lab.accel[0] ? lab.accel : "tcg",
	       lab.accel_why[0] ? lab.accel_why : "booted before crmig-lab recorded it");
	for (int i = 0; i < lab.nhosts; i++) {
		struct proc_result r;
		const char *q = "echo \"$(. /etc/os-release; echo $PRETTY_NAME) | kernel $(uname -r) | "
				"$(criu --version 2>/dev/null | head -1) | lxc $(lxc-start --version 2>/dev/null)\"";

		if (lab_sh(&lab, i, q, 30, &r) < 0)
			return 1;
		printf("  host %s %-12s %s", lab.hosts[i].name, lab.hosts[i].addr,
		       r.status == 0 ? r.out : "not answering\n");
		proc_result_free(&r);
	}
	return 0;
}

/* Which accelerator a lab booted from this image would use, and why (runs
 * the KVM boot probe unless its verdict is cached). */
static int cmd_accel(struct args *a)
{
	struct accel_choice c;
	__do_free char *init = NULL;
	double t0 = now_ms();

	if (!a->image) {
		fprintf(stderr, "crmig-lab: accel wants --image DIR (vm-images/build prints it)\n");
		return 2;
	}
	init = lab_image_init(a->image);
	if (accel_choose(a->image, init, &c, errbuf, sizeof(errbuf)) < 0) {
		fprintf(stderr, "crmig-lab: %s\n", errbuf);
		return 1;
	}
	printf("accelerator %s (%s)%s; decided in %.1f s\n", c.accel, c.why,
	       c.from_cache ? ", cached verdict" : "", (now_ms() - t0) / 1000);
	return 0;
}

static const struct command commands[] = {
	{ "up", "up [--image DIR --payload FILE --mem MB | --backend ssh --hosts A,B --key K --harness-addr X]", cmd_up, false },
	{ "down", "down", cmd_down, false },
	{ "status", "status", cmd_status, true },
	{ "accel", "accel --image DIR", cmd_accel, false },
	{ "shell", "shell HOST [COMMAND...]", cmd_shell, true },
	{ "run", "run HOST COMMAND...", cmd_run, true },
	{ "copy-to", "copy-to HOST LOCAL REMOTE", cmd_copy_to, true },
	{ "copy-from", "copy-from HOST REMOTE LOCAL", cmd_copy_from, true },
	{ "cut", "cut HOST", cmd_cut, true },
	{ "uncut", "uncut HOST", cmd_uncut, true },
	{ "limit", "limit HOST RATE|none", cmd_limit, true },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: crmig-lab [--name LAB] [--state DIR] COMMAND\n");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(f, "  crmig-lab %s\n", commands[i].usage);
}

static int parse_opts(int argc, char **argv, struct args *a, char **hosts)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' }, { "state", required_argument, NULL, 's' },
		{ "image", required_argument, NULL, 'i' }, { "payload", required_argument, NULL, 'p' },
		{ "mem", required_argument, NULL, 'm' }, { "backend", required_argument, NULL, 'B' },
		{ "hosts", required_argument, NULL, 'H' }, { "key", required_argument, NULL, 'k' },
		{ "harness-addr", required_argument, NULL, 'A' }, { "prefix", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	int c;

	/* '+': stop at the first operand (the command, or the command's operands). */
	while ((c = getopt_long(argc, argv, "+n:s:i:p:m:B:H:k:A:P:h", opts, NULL)) != -1) {
		switch (c) {
		case 'n': a->name = optarg; break;
		case 's': a->state_root = optarg; break;
		case 'i': a->image = optarg; break;
		case 'p': a->payload = optarg; break;
		case 'm': a->mem_mb = atoi(optarg); break;
		case 'B': a->backend = optarg; break;
		case 'H': *hosts = optarg; break;
		case 'k': a->key = optarg; break;
		case 'A': a->harness = optarg; break;
		case 'P': a->prefix = optarg; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct args a = { .name = getenv("LAB") };
	const struct command *cmd = NULL;
	char *hosts = NULL;

	/* Options may come before the command and after it. */
	if (parse_opts(argc, argv, &a, &hosts) < 0)
		return 2;
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(argv[optind], commands[i].name))
			cmd = &commands[i];
	if (!cmd) {
		fprintf(stderr, "crmig-lab: unknown command '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	argv += optind;
	argc -= optind;
	optind = 1;
	if (parse_opts(argc, argv, &a, &hosts) < 0)
		return 2;
	if (hosts) {
		char *comma = strchr(hosts, ',');
		if (!comma) {
			fprintf(stderr, "crmig-lab: --hosts wants two addresses: A,B\n");
			return 2;
		}
		*comma = '\0';
		a.hosts[0] = hosts;
		a.hosts[1] = comma + 1;
	}
	a.argc = argc - optind;
	a.argv = argv + optind;
	if (cmd->needs_lab && attach(&a) < 0)
		return 1;
	return cmd->fn(&a);
}
