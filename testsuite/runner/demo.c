/* crmig-suite demo: what `make demo` shows. Boot the two hosts, say what
 * runs on them, migrate a container with each strategy, print the table. */
#include "runner.h"
#include "util.h"

static struct suite_case demo_case = {
	.name = "demo",
	.description = "a busybox container holding 32 MiB of checked memory",
	.workload = "memory",
	.args = "--size-mb 32 --dirty-rate 1",
	.modes = MODE_LXC,
	.strategies = ST_ALL,
	.tier = "lean",
	.timeout_s = 900,
	.expect_result = "ok",
};

static const char *mstr(json_t *m, const char *obj, const char *key)
{
	const char *v = json_string_value(json_object_get(obj ? json_object_get(m, obj) : m, key));

	return v ? v : "?";
}

/* What the hosts run, from the image's manifest (both boot the same image). */
static void print_hosts(struct runner *r)
{
	__do_free char *path = xasprintf("%s/manifest.json", r->lab.image_dir);
	json_t *m = json_load_file(path, 0, NULL);

	printf("\nThe lab: two QEMU hosts on a bridge (harness %s), image %s\n", r->lab.harness_addr, r->lab.image_dir);
	for (int i = 0; i < r->lab.nhosts; i++)
		printf("  host %s %-11s ready: Debian %s, kernel %s, criu %s, lxc %s\n", r->lab.hosts[i].name,
		       r->lab.hosts[i].addr, mstr(m, NULL, "distro"), mstr(m, "versions", "kernel"),
		       mstr(m, "versions", "criu"), mstr(m, "versions", "lxc"));
	if (!m)
		printf("  (no manifest in %s)\n", r->lab.image_dir);
	json_decref(m);
	putchar('\n');
	fflush(stdout);
}

static double num(json_t *rep, const char *key)
{
	json_t *v = json_object_get(rep, key);

	return v ? json_number_value(v) : 0;
}

static void human(double bytes, char *buf, size_t len)
{
	if (bytes >= 1e6)
		snprintf(buf, len, "%.1f MB", bytes / 1e6);
	else
		snprintf(buf, len, "%.1f KB", bytes / 1e3);
}

static void print_table(const struct suite_result *v, size_t n)
{
	printf("\n%-8s %11s %11s %11s %13s %11s %7s %9s  %s\n", "strategy", "downtime", "probe gap", "frozen",
	       "before resume", "total", "rounds", "lazy", "verdict");
	for (size_t i = 0; i < n; i++) {
		json_t *rep = v[i].crmig;
		char before[32], total[32];

		human(num(rep, "bytes_before_resume"), before, sizeof(before));
		human(num(rep, "bytes_total"), total, sizeof(total));
		printf("%-8s %9.2f s %9.2f s %9.2f s %13s %11s %7.0f %7.2f s  %s\n", strategy_bit_name(v[i].inst.strategy),
		       num(rep, "downtime_ms") / 1000, v[i].probe_gap_ms / 1000, num(rep, "frozen_ms") / 1000, before,
		       total, num(rep, "rounds"), num(rep, "lazy_ms") / 1000,
		       v[i].outcome == OUTCOME_PASS   ? "pass"
		       : v[i].outcome == OUTCOME_SKIP ? "skip"
		       : v[i].known_bug[0]	      ? "pass, but a known upstream bug showed"
						      : "FAIL");
		if (v[i].known_bug[0])
			printf("         %s\n", v[i].known_bug);
		else if (v[i].outcome != OUTCOME_PASS)
			printf("         %s\n", v[i].reason);
	}
	printf("\ndowntime: crmig's (freeze to resumed on b); probe gap: the longest silence of the container's\n"
	       "heartbeats as the harness heard them; before resume: what crossed before it ran again.\n");
}

int suite_demo(struct runner *r)
{
	static const unsigned order[] = { ST_STOP, ST_PRE, ST_POST, ST_HYBRID };
	struct suite_result results[ARRAY_SIZE(order)];
	int failed = 0;

	memset(results, 0, sizeof(results));
	for (size_t i = 0; i < ARRAY_SIZE(order); i++) {
		results[i].inst.strategy = order[i];
		results[i].outcome = OUTCOME_SKIP;
		snprintf(results[i].reason, sizeof(results[i].reason), "interrupted");
	}
	print_hosts(r);
	for (size_t i = 0; i < ARRAY_SIZE(order) && !runner_interrupted; i++) {
		struct suite_instance in = { .c = &demo_case, .mode = MODE_LXC, .strategy = order[i] };

		snprintf(in.id, sizeof(in.id), "demo:lxc:%s", strategy_bit_name(order[i]));
		fprintf(stderr, "demo: migrating the container from a to b with strategy %s...\n", strategy_bit_name(order[i]));
		run_instance(r, &in, &results[i]);
		failed += result_counts_as_failure(&results[i]);
		fprintf(stderr, "demo: %s: %s%s%s\n", in.id, result_label(&results[i]),
			results[i].reason[0] ? ": " : "", results[i].reason);
	}
	print_table(results, ARRAY_SIZE(order));
	for (size_t i = 0; i < ARRAY_SIZE(order); i++) {
		json_decref(results[i].crmig);
		json_decref(results[i].details);
	}
	return failed ? 1 : 0;
}
