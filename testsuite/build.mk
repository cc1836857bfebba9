# testsuite/: workloads (static, self-checking), the lab library and its CLI,
# the runner crmig-suite, the guest-side fixture tool, and the unit tests.
TESTS_LIBEXEC := $(PREFIX)/libexec/installed-tests/crmig
TESTS_SHARE   := $(PREFIX)/share/installed-tests/crmig

# Workload library and workloads: linked statically so that the same binary
# runs on any host and inside a busybox container rootfs that has no libc.
WL_SRCS      := $(wildcard testsuite/lib/*.c)
WL_OBJS      := $(WL_SRCS:%.c=$(BUILD)/%.o)
WORKLOADS    := $(patsubst testsuite/workloads/%.c,%,$(wildcard testsuite/workloads/*.c))
WORKLOAD_BINS := $(WORKLOADS:%=$(BUILD)/workloads/%)

$(BUILD)/libwl.a: $(WL_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/workloads/%: $(BUILD)/testsuite/workloads/%.o $(BUILD)/libwl.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -static -o $@ $^ -lpthread

# libarchive packs and unpacks the repro bundles (testsuite/runner/bundle_tar.c).
# Optional: the guests' payload build, in an image without libarchive-dev,
# still builds crmig-suite, whose bundle commands then say what is missing.
ARCHIVE_LIBS := $(shell pkg-config --libs libarchive 2>/dev/null)
ifneq ($(ARCHIVE_LIBS),)
$(BUILD)/testsuite/runner/bundle_tar.o: PKG_CFLAGS += -DHAVE_LIBARCHIVE $(shell pkg-config --cflags libarchive)
endif

# The harness side: lab library, runner pieces (everything but the mains).
SUITE_MAINS    := testsuite/runner/main.c testsuite/lab/crmig-lab.c
SUITE_LIB_SRCS := $(filter-out $(SUITE_MAINS),$(wildcard testsuite/lab/*.c testsuite/runner/*.c))
SUITE_LIB_OBJS := $(SUITE_LIB_SRCS:%.c=$(BUILD)/%.o)

$(BUILD)/libcrmigsuite.a: $(SUITE_LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^ $(if $^,,$(BUILD)/ref/util.o)

$(BUILD)/crmig-suite: $(BUILD)/testsuite/runner/main.o $(BUILD)/libcrmigsuite.a $(BUILD)/libwl.a $(BUILD)/libcrmig.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(ARCHIVE_LIBS) -lpthread -lm

$(BUILD)/crmig-lab: $(BUILD)/testsuite/lab/crmig-lab.o $(BUILD)/libcrmigsuite.a $(BUILD)/libwl.a $(BUILD)/libcrmig.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lpthread

$(BUILD)/crmig-fixture: $(BUILD)/testsuite/fixture/crmig-fixture.o $(BUILD)/libcrmig.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lpthread

# crmig-hostile: attacks a crmig serve (testsuite/runner/hostile.c); the
# harness runs it against host b (flags = hostile), and so can anyone.
$(BUILD)/crmig-hostile: $(BUILD)/testsuite/hostile/crmig-hostile.o $(BUILD)/libcrmigsuite.a $(BUILD)/libcrmig.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lpthread

SUITE_BINS := $(if $(wildcard testsuite/runner/main.c),$(BUILD)/crmig-suite) \
              $(if $(wildcard testsuite/lab/crmig-lab.c),$(BUILD)/crmig-lab) \
              $(if $(wildcard testsuite/fixture/crmig-fixture.c),$(BUILD)/crmig-fixture) \
              $(if $(wildcard testsuite/hostile/crmig-hostile.c),$(BUILD)/crmig-hostile)

binaries: $(WORKLOAD_BINS) $(SUITE_BINS)

# Unit tests (Check): one binary per testsuite/unit/test_*.c, each with its own main.
UNIT_SRCS := $(wildcard testsuite/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:testsuite/unit/%.c=$(BUILD)/unit/%)

$(BUILD)/unit/%: $(BUILD)/testsuite/unit/%.o $(BUILD)/libcrmigsuite.a $(BUILD)/libwl.a $(BUILD)/libcrmig.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(ARCHIVE_LIBS) $(shell pkg-config --libs check 2>/dev/null) -lpthread

# Each unit binary runs once plainly, then under valgrind (no fork, so that
# valgrind sees the code under test): leaks and invalid accesses fail the run.
VALGRIND := valgrind -q --error-exitcode=99 --suppressions=testsuite/unit/valgrind.supp --leak-check=full --errors-for-leak-kinds=definite,indirect --track-fds=no
check-unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do \
		echo "== $$t"; $$t; \
		echo "== valgrind $$t"; CK_FORK=no $(VALGRIND) $$t >/dev/null; \
	done; echo "unit tests: all passed"

# The suite's HTML report in headless chromium (testsuite/unit/check-report):
# a fixed run's results.html (report-fixture) rendered, its counts against the
# TAP, its charts, a screenshot in $(CHECK_OUT)/report/results.png. ~5 s.
check-report: $(BUILD)/unit/report-fixture
	$(call deps,gui)
	testsuite/unit/check-report $(BUILD)/unit/report-fixture $(CHECK_OUT)/report

install: install-tests
install-tests: binaries
	install -d $(DESTDIR)$(TESTS_LIBEXEC)/workloads $(DESTDIR)$(TESTS_LIBEXEC)/cases
	install -m 0755 $(WORKLOAD_BINS) $(DESTDIR)$(TESTS_LIBEXEC)/workloads/
	@for b in $(SUITE_BINS); do install -m 0755 $$b $(DESTDIR)$(TESTS_LIBEXEC)/; done
	@if ls testsuite/cases/*.case >/dev/null 2>&1; then install -m 0644 testsuite/cases/*.case $(DESTDIR)$(TESTS_LIBEXEC)/cases/; fi
	install -D -m 0644 testsuite/zdtm/lean.list $(DESTDIR)$(TESTS_LIBEXEC)/zdtm/lean.list
	@# crmig-suite finds vm-images/ next to itself (data_dir() in testsuite/runner/main.c).
	install -d $(DESTDIR)$(TESTS_LIBEXEC)/vm-images/guest
	install -m 0755 vm-images/build vm-images/build-payload vm-images/build-zdtm vm-images/boot vm-images/init $(DESTDIR)$(TESTS_LIBEXEC)/vm-images/
	install -m 0644 vm-images/README.md $(DESTDIR)$(TESTS_LIBEXEC)/vm-images/
	@for f in vm-images/guest/*; do m=0644; [ -x $$f ] && m=0755; install -m $$m $$f $(DESTDIR)$(TESTS_LIBEXEC)/vm-images/guest/ || exit 1; done

# Unit tests may include headers generated from ref/*.proto.
$(UNIT_SRCS:%.c=$(BUILD)/%.o) $(SUITE_LIB_OBJS): | $(CRMIG_GEN_H)

# ---- crmig end to end on this host: a fake criu ------------------------------
# testsuite/unit/fake-criu.c stands in for the criu binary (crmig --criu PATH):
# test_e2e runs crmig migrate and crmig serve against it over loopback.
$(BUILD)/testsuite/unit/fake-criu.o: | $(CRMIG_GEN_H)
$(BUILD)/unit/fake-criu: $(BUILD)/testsuite/unit/fake-criu.o $(BUILD)/libcrmig.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lpthread
$(BUILD)/unit/test_e2e: | $(BUILD)/unit/fake-criu $(BUILD)/crmig $(BUILD)/crmig-hook
$(BUILD)/unit/test_hook: | $(BUILD)/crmig-hook
$(BUILD)/unit/test_migrate_events: | $(BUILD)/unit/fake-criu $(BUILD)/crmig
# test_faults: test_e2e's harness (it includes test_e2e.c) with CRMIG_FAULT
$(BUILD)/unit/test_faults: | $(BUILD)/unit/fake-criu $(BUILD)/crmig
# test_hostile: crmig-hostile's attacks against a real crmig serve on loopback
$(BUILD)/unit/test_hostile: | $(BUILD)/crmig

