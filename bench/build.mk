# bench/: the benchmark (make bench). crmig-bench runs on the harness and
# drives the lab like crmig-suite does (same runner pieces, same payload).
#   make bench                full matrix, 3 repetitions (about 3.7 hours under TCG; crmig-bench --plan)
#   make bench QUICK=1        a first look (64 and 200 MB, 1 %/s, one repetition)
#   make bench BENCH_ARGS='--sizes 64 --mode bare --reps 1'   anything crmig-bench takes
# Output: bench/out/results.json, *.svg, table.txt. Only one lab at a time on
# a small machine: wrap it, e.g. `flock /tmp/crmig-lab.lock make bench`.
BENCH_SRCS := bench/crmig-bench.c bench/analyze.c bench/plots.c bench/svg.c
BENCH_OBJS := $(BENCH_SRCS:%.c=$(BUILD)/%.o)
BENCH_BIN  := $(BUILD)/crmig-bench
BENCH_OUT  ?= bench/out
BENCH_ARGS ?=

$(BENCH_OBJS): | $(CRMIG_GEN_H)

$(BENCH_BIN): $(BENCH_OBJS) $(BUILD)/libcrmigsuite.a $(BUILD)/libwl.a $(BUILD)/libcrmig.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(ARCHIVE_LIBS) -lpthread -lm

# Built with everything else (make all, make check), so that it cannot rot
# unseen between two bench runs: it did once, for two stops.
binaries: $(BENCH_BIN)

# testsuite/unit/test_bench_analyze.c tests the analysis (targets, medians and
# their ranges) on a synthetic results.json: it links analyze.o.
$(BUILD)/unit/test_bench_analyze: $(BUILD)/bench/analyze.o

bench:
	$(call deps,bench)
	@$(submake) binaries payload $(BENCH_BIN)
	@mkdir -p $(BENCH_OUT)
	$(BENCH_BIN) $(LAB_ARGS) --out $(BENCH_OUT) $(if $(QUICK),--quick) $(BENCH_ARGS)
