# vm-images/: host images for the lab.
#   make image    [DISTRO=trixie|bookworm|sid] [CRMIG_DEBS="a.deb b.deb"]
#                 builds or finds the cached image; its directory goes into
#                 build/image-$(DISTRO).path
#   make payload  the project built for the guest's distro, on a disk the guest
#                 mounts on /opt/crmig: build/guest-$(DISTRO)/payload.img, rebuilt
#                 only when a source (ref/ testsuite/ Makefile *.mk) or the image changed
CRMIG_DEBS       ?=
IMAGE_PATH_FILE  := build/image-$(DISTRO).path
GUEST_DIR        := build/guest-$(DISTRO)
PAYLOAD_IMG      := $(GUEST_DIR)/payload.img
PAYLOAD_SRCS      = $(shell find ref testsuite -type f ! -name '*~' ! -name '.*' 2>/dev/null) \
                    Makefile VERSION $(wildcard *.mk */*.mk) vm-images/build-payload

.PHONY: image payload

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

payload: image
	@$(submake) $(PAYLOAD_IMG)

$(PAYLOAD_IMG): $(IMAGE_PATH_FILE) $(PAYLOAD_SRCS)
	vm-images/build-payload --image "$$(cat $(IMAGE_PATH_FILE))" --src $(CURDIR) --out $(GUEST_DIR)
