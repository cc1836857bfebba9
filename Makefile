# crmig — everything is driven from here. Public targets install their own
# dependencies (ci/install-deps, apt-get, idempotent) and then re-enter make,
# so that pkg-config sees the libraries it just installed.
#
#   make              build crmig, the suite and the workloads for this host
#   make check        unit tests + the lean lab tier (boots two QEMU hosts)
#   make check-full   the whole case x strategy matrix
#   make demo         boot the lab, migrate a container with every strategy
#   make lab-up | lab-down | lab-shell HOST=a
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
PKGS    := gnutls jansson lxc inih libprotobuf-c

CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-missing-field-initializers -Wno-format-truncation \
           -Iref -I$(BUILD)/gen -DCRMIG_VERSION='"$(VERSION)"'
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

deps = @ci/install-deps $(1)
submake = $(MAKE) --no-print-directory

.SECONDARY:

.PHONY: all check check-unit check-lab check-full demo lab-up lab-down lab-shell \
        bench deb rpm clean install binaries guest

all:
	$(call deps,build)
	@$(submake) binaries

include ref/build.mk
include testsuite/build.mk
include vm-images/build.mk
-include bench/build.mk
-include packaging/build.mk

check:
	$(call deps,check)
	@$(submake) binaries
	@$(submake) check-unit
	@$(submake) check-lab

clean:
	rm -rf build bench/out

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -MMD -MP -c -o $@ $<

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
