# testsuite/fuzz/: libFuzzer harnesses (Debian's clang), one per parser of
# untrusted input, with seed corpora in testsuite/fuzz/corpus/<harness>/; and
# the unit tests once more under ASan + UBSan (gcc).
#
#   make fuzz [FUZZ_S=60]   every harness FUZZ_S seconds on a copy of its corpus;
#                           fails on a crash (input kept in build/fuzz/crashes/)
#   make check-fuzz         the same, FUZZ_CHECK_S (3) seconds each: part of make check
#   make check-sanitize     the unit tests built with -fsanitize=address,undefined
#                           (build/asan): part of make check
#
# The instrumented libraries are the ordinary rules run again by a submake
# with BUILD=build/fuzz/obj CC=clang (CFLAGS from the environment, so that the
# Makefile's own flags are still appended).
FUZZ_OUT       := build/fuzz
FUZZ_OBJ       := $(FUZZ_OUT)/obj
FUZZ_HARNESSES := $(patsubst testsuite/fuzz/%.c,%,$(wildcard testsuite/fuzz/fuzz_*.c))
FUZZ_BINS      := $(FUZZ_HARNESSES:%=$(FUZZ_OUT)/bin/%)
FUZZ_S         ?= 60
FUZZ_CHECK_S   ?= 3
FUZZ_CC        ?= clang
FUZZ_SAN       := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS    := -O1 -g $(FUZZ_SAN) -fsanitize=fuzzer-no-link -Wno-unknown-warning-option

.PHONY: fuzz fuzz-build fuzz-harnesses check-fuzz check-sanitize check-sanitize-run

fuzz-build:
	$(call deps,fuzz)
	+@CFLAGS="$(FUZZ_CFLAGS)" $(submake) BUILD=$(FUZZ_OBJ) CC=$(FUZZ_CC) fuzz-harnesses

# Only meaningful inside the submake above ($(BUILD) = build/fuzz/obj).
fuzz-harnesses: $(FUZZ_BINS)

$(FUZZ_HARNESSES:%=$(BUILD)/testsuite/fuzz/%.o): | $(CRMIG_GEN_H)

$(FUZZ_OUT)/bin/fuzz_%: $(BUILD)/testsuite/fuzz/fuzz_%.o $(BUILD)/libcrmigsuite.a $(BUILD)/libwl.a $(BUILD)/libcrmig.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fsanitize=fuzzer $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(ARCHIVE_LIBS) -lpthread -lm

fuzz: fuzz-build
	@testsuite/fuzz/run --seconds $(FUZZ_S) --bin $(FUZZ_OUT)/bin --crashes $(FUZZ_OUT)/crashes $(FUZZ_HARNESSES)

check-fuzz: fuzz-build
	@testsuite/fuzz/run --seconds $(FUZZ_CHECK_S) --bin $(FUZZ_OUT)/bin --crashes $(FUZZ_OUT)/crashes $(FUZZ_HARNESSES)

# ---- the unit tests under ASan + UBSan ----------------------------------------
# Left out: test_wl_run, which runs the workloads: they are static binaries
# (they must run in a busybox container) and ASan has no static runtime.
# test_faults: two minutes of fault matrix whose post-copy rows race a kill
# against fake-criu's 40 ms lazy window, which a sanitized build loses
# (hybrid dst-lazy-window:kill-criu ends "ok"); test_e2e runs the same
# binaries under ASan.
# Leaks are valgrind's part (check-unit, which also finds the uninitialised
# reads ASan misses): LeakSanitizer would flag Check's own allocations in the
# helper processes that test_criu and test_hook re-exec.
SANITIZE_BUILD   := build/asan
SANITIZE_EXCLUDE := test_wl_run test_faults
# gcc's flow warnings see false positives through the sanitizers' instrumentation.
SANITIZE_FLAGS   := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer \
                    -Wno-restrict -Wno-maybe-uninitialized

check-sanitize:
	$(call deps,build)
	+@CFLAGS="$(SANITIZE_FLAGS)" LDFLAGS="-fsanitize=address,undefined" $(submake) BUILD=$(SANITIZE_BUILD) CC=gcc check-sanitize-run

# Only meaningful inside the submake above ($(BUILD) = build/asan).
check-sanitize-run: $(filter-out $(SANITIZE_EXCLUDE:%=$(BUILD)/unit/%),$(UNIT_BINS))
	@set -e; export ASAN_OPTIONS=detect_leaks=0:detect_stack_use_after_return=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		CK_TIMEOUT_MULTIPLIER=4; \
	for t in $^; do echo "== asan+ubsan $$t"; $$t >$$t.asan.log 2>&1 || { tail -n 40 $$t.asan.log; exit 1; }; done; \
	echo "unit tests under ASan + UBSan: all passed"
