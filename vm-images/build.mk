# vm-images/: host images for the lab.
#   make image    [DISTRO=trixie|bookworm|sid] [CRMIG_DEBS="a.deb b.deb"]
#                 builds or finds the cached image; its directory goes into
#                 build/image-$(DISTRO).path
#   make zdtm     [CRIU_SRC=DIR|TARBALL] CRIU's zdtm static tests built for the image
#                 (vm-images/build-zdtm, cached); its directory goes into build/zdtm-$(DISTRO).path
#   make payload  the project built for the guest's distro, with the zdtm build, on a
#                 disk the guest mounts on /opt/crmig: build/guest-$(DISTRO)/payload.img,
#                 rebuilt only when a source (ref/ testsuite/ Makefile *.mk), the image
#                 or the zdtm build changed
CRMIG_DEBS       ?=
IMAGE_PATH_FILE  := build/image-$(DISTRO).path
GUEST_DIR        := build/guest-$(DISTRO)
PAYLOAD_IMG      := $(GUEST_DIR)/payload.img
ZDTM_PATH_FILE   := build/zdtm-$(DISTRO).path
CRIU_SRC         ?=
PAYLOAD_SRCS      = $(shell find ref testsuite -type f ! -name '*~' ! -name '.*' 2>/dev/null) \
                    Makefile VERSION $(wildcard *.mk */*.mk) vm-images/build-payload

.PHONY: image payload zdtm

# The path file is rewritten only when the image directory changes, so that an
# unchanged image does not trigger a payload rebuild.
image:
	$(call deps,lab)
	@mkdir -p build
	@set -o pipefail; \
	dir=$$(vm-images/build --distro $(DISTRO) $(foreach d,$(CRMIG_DEBS),--deb $(abspath $(d))) | tail -n 1); \
	[ -n "$$dir" ] && [ -d "$$dir" ]; \
	if [ "$$(cat $(IMAGE_PATH_FILE) 2>/dev/null)" != "$$dir" ]; then echo "$$dir" > $(IMAGE_PATH_FILE); fi; \
	echo "image: $$dir"

zdtm: image
	@set -o pipefail; \
	dir=$$(vm-images/build-zdtm --image "$$(cat $(IMAGE_PATH_FILE))" $(if $(CRIU_SRC),--criu-src $(abspath $(CRIU_SRC))) | tail -n 1); \
	[ -n "$$dir" ] && [ -d "$$dir" ]; \
	if [ "$$(cat $(ZDTM_PATH_FILE) 2>/dev/null)" != "$$dir" ]; then echo "$$dir" > $(ZDTM_PATH_FILE); fi; \
	echo "zdtm: $$dir"

payload: image zdtm
	@$(submake) $(PAYLOAD_IMG)

$(PAYLOAD_IMG): $(IMAGE_PATH_FILE) $(ZDTM_PATH_FILE) $(PAYLOAD_SRCS)
	vm-images/build-payload --image "$$(cat $(IMAGE_PATH_FILE))" --src $(CURDIR) --out $(GUEST_DIR) \
		--zdtm "$$(cat $(ZDTM_PATH_FILE))"
