# crmig — everything is driven from here. Public targets install their own
# dependencies (ci/install-deps, apt-get, idempotent) and then re-enter make,
# so that pkg-config sees the libraries it just installed.
#
#   make              build crmig, the suite and the workloads for this host
#   make check        unit tests, then again under ASan + UBSan, each fuzzer a few
#                     seconds (testsuite/fuzz/build.mk) + the report in a browser (check-report)
#                     + the lean lab tier (boots two QEMU hosts)
#                     + check-packages (packaging/build.mk: deb, rpm, lint, a case
#                     run from the .debs installed in a lab host)
#   make check-full   the whole case x strategy matrix [SHARD=I/N: this machine's share]
#   make demo         boot the lab, migrate a container with every strategy
#   make soak         [ROUNDS=100] [SOAK_ARGS="--mode bare --strategy stop,post"] the ping-pong
#                     soak: ROUNDS round trips A -> B -> A, bare and in LXC (reports in build/soak-out)
#   make lab-up | lab-down | lab-shell HOST=a
#   make gui          boot the lab and open crmig gui on it (prints the URL)
#   make bench | deb | rpm | clean
SHELL := /bin/bash
.DEFAULT_GOAL := all

BUILD   ?= build/host
DISTRO  ?= trixie
LAB     ?= default
VERSION := $(shell cat VERSION)
PREFIX  ?= /usr
DESTDIR ?=
CC      ?= gcc
PKGS    := gnutls jansson lxc inih libprotobuf-c libmicrohttpd libnftables

CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-missing-field-initializers -Wno-format-truncation \
           -Iref -I$(BUILD)/gen -DCRMIG_VERSION='"$(VERSION)"'
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

deps = @ci/install-deps $(1)
submake = $(MAKE) --no-print-directory

.SECONDARY:

.PHONY: all check check-unit check-report check-lab check-full demo soak validate lab-up lab-down lab-shell \
        bench deb rpm clean install binaries guest check-full image payload

all:
	$(call deps,build)
	@$(submake) binaries

include ref/build.mk
include testsuite/build.mk
include testsuite/gui/build.mk
include testsuite/fuzz/build.mk
include vm-images/build.mk
-include bench/build.mk
-include packaging/build.mk

check:
	$(call deps,check)
	@$(submake) binaries
	@$(submake) check-unit
	@$(submake) check-sanitize
	@$(submake) check-fuzz
	@$(submake) check-gui
	@$(submake) check-report
	@$(submake) check-lab
	@$(submake) check-packages

clean:
	rm -rf build bench/out

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(PKG_CFLAGS) -MMD -MP -c -o $@ $<

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# ---- the lab, the suite, the demo ------------------------------------------
IMAGE_DIR  = $$(cat build/image-$(DISTRO).path)
LAB_ARGS   = --image "$(IMAGE_DIR)" --payload $(PAYLOAD_IMG)
CHECK_OUT ?= build/check
SUITE_REPORTS = --tap $(CHECK_OUT)/results.tap --junit $(CHECK_OUT)/junit.xml \
                --json $(CHECK_OUT)/results.json --html $(CHECK_OUT)/results.html --keep $(CHECK_OUT)/keep

# The browser checks' screenshots (report/, gui/) stay: they ran before the lab.
check-lab:
	@$(submake) payload
	@rm -rf $(filter-out $(CHECK_OUT)/report $(CHECK_OUT)/gui,$(wildcard $(CHECK_OUT)/*)) && mkdir -p $(CHECK_OUT)
	$(BUILD)/crmig-suite run --tier lean --suite all $(LAB_ARGS) $(SUITE_REPORTS)

check-full:
	$(call deps,check)
	@$(submake) binaries payload
	@rm -rf $(CHECK_OUT) && mkdir -p $(CHECK_OUT)
	$(BUILD)/crmig-suite run --tier full --suite all $(LAB_ARGS) $(SUITE_REPORTS) $(if $(SHARD),--shard $(SHARD))

demo:
	$(call deps,lab)
	@$(submake) binaries payload
	$(BUILD)/crmig-suite demo $(LAB_ARGS)

# The ping-pong soak (issue 12): one workload (memory and a TCP stream) moved
# A -> B -> A ROUNDS times per mode, cycling the strategies, checked after
# every move; crmig serve on both hosts must not grow. Under TCG a round trip
# takes about half a minute bare, more in LXC: 100 rounds are hours.
ROUNDS    ?= 100
SOAK_OUT  ?= build/soak-out
SOAK_ARGS ?=
soak:
	$(call deps,lab)
	@$(submake) binaries payload
	@rm -rf $(SOAK_OUT) && mkdir -p $(SOAK_OUT)
	$(BUILD)/crmig-suite soak --rounds $(ROUNDS) $(SOAK_ARGS) $(LAB_ARGS) --tap $(SOAK_OUT)/results.tap \
		--junit $(SOAK_OUT)/junit.xml --json $(SOAK_OUT)/results.json --html $(SOAK_OUT)/results.html \
		--keep $(SOAK_OUT)/keep

# crmig-suite validate (issue 13): the archive's packages against candidate
# .debs, per distro a baseline and a candidate image, the same lean instances
# on both, one lab after the other; exit 1 on a regression. The summary is
# printed at the end and kept in $(VALIDATE_OUT)/validate.txt.
DEBS          ?=
DISTROS       ?= trixie,bookworm
VALIDATE_OUT  ?= build/validate-out
VALIDATE_ARGS ?=
validate:
	$(call deps,lab)
	@test -n "$(DEBS)" || { echo 'make validate: name the candidate packages: make validate DEBS="../criu_4.2.1-1_amd64.deb ..." [DISTROS=bookworm,trixie,sid]' >&2; exit 2; }
	@$(submake) binaries
	@rm -rf $(VALIDATE_OUT) && mkdir -p $(VALIDATE_OUT)
	$(BUILD)/crmig-suite validate $(foreach d,$(DEBS),--deb $(d)) --distro $(DISTROS) $(VALIDATE_ARGS) \
		--tap $(VALIDATE_OUT)/validate.tap --junit $(VALIDATE_OUT)/junit.xml --json $(VALIDATE_OUT)/validate.json \
		--html $(VALIDATE_OUT)/validate.html --keep $(VALIDATE_OUT)

lab-up:
	$(call deps,lab)
	@$(submake) binaries payload
	$(BUILD)/crmig-lab up --name $(LAB) $(LAB_ARGS)

lab-down:
	@$(submake) binaries >/dev/null
	@$(BUILD)/crmig-lab down --name $(LAB)

HOST ?= a
lab-shell:
	@$(submake) binaries >/dev/null
	@$(BUILD)/crmig-lab shell --name $(LAB) $(HOST)
