# crmig gui: its browser tests and `make gui`.
#
# check-gui: headless chromium (selenium) against `crmig gui --replay` of a
# recorded fixture: no host, no QEMU, ~20 s. Screenshots and the chart's
# exports land in $(CHECK_OUT)/gui/. (The HTTP layer's unit tests are
# testsuite/unit/test_gui.c, run by check-unit.)
GUI_FIXTURE ?= testsuite/gui/fixtures/lab-trixie.json

check-gui: $(BUILD)/crmig
	$(call deps,gui)
	@rm -rf $(CHECK_OUT)/gui && mkdir -p $(CHECK_OUT)/gui
	@rc=0; /usr/bin/python3 testsuite/gui/browser_test.py $(BUILD)/crmig $(GUI_FIXTURE) $(CHECK_OUT)/gui || rc=$$?; \
	 if [ $$rc = 77 ]; then echo "check-gui: skipped (see above)"; elif [ $$rc != 0 ]; then exit $$rc; fi

# make gui: boot the lab (as make lab-up does: crmig serve and certificates
# on both hosts), then the GUI on it; Ctrl-C stops the GUI, the lab stays up
# (make lab-down LAB=$(LAB) stops it). GUI_LISTEN=ADDR:PORT to choose.
GUI_LISTEN ?= 127.0.0.1:8077
gui:
	$(call deps,lab)
	@$(submake) binaries payload
	@if ! $(BUILD)/crmig-lab status --name $(LAB) >/dev/null 2>&1; then \
		$(BUILD)/crmig-lab up --name $(LAB) $(LAB_ARGS) || exit 1; fi
	$(BUILD)/crmig gui --lab $(LAB) --listen $(GUI_LISTEN)

.PHONY: check-gui gui
