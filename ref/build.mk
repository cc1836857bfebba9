# ref/: the crmig migrator.
CRMIG_PROTOS    := $(wildcard ref/*.proto)
CRMIG_GEN_C     := $(CRMIG_PROTOS:ref/%.proto=$(BUILD)/gen/%.pb-c.c)
CRMIG_GEN_H     := $(CRMIG_GEN_C:.c=.h)
# Everything but main() goes into a library the unit tests link against.
CRMIG_LIB_SRCS  := $(filter-out ref/crmig.c ref/crmig_hook.c,$(wildcard ref/*.c))
CRMIG_LIB_OBJS  := $(CRMIG_LIB_SRCS:%.c=$(BUILD)/%.o) $(CRMIG_GEN_C:.c=.o) $(BUILD)/gen/gui_assets.o
# crmig gui's page, style and script, embedded into the binary.
GUI_ASSETS      := ref/gui_assets/index.html ref/gui_assets/gui.css ref/gui_assets/gui.js

$(BUILD)/gen/gui_assets.c: $(GUI_ASSETS) ref/gui_assets/embed.sh
	@mkdir -p $(BUILD)/gen
	sh ref/gui_assets/embed.sh $(GUI_ASSETS) >$@.tmp && mv $@.tmp $@

$(BUILD)/gen/gui_assets.o: $(BUILD)/gen/gui_assets.c
	$(CC) $(CPPFLAGS) $(CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

$(BUILD)/gen/%.pb-c.c $(BUILD)/gen/%.pb-c.h: ref/%.proto
	@mkdir -p $(BUILD)/gen
	protoc-c --c_out=$(BUILD)/gen --proto_path=ref $<

$(BUILD)/gen/%.pb-c.o: $(BUILD)/gen/%.pb-c.c
	$(CC) $(CPPFLAGS) $(CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

$(CRMIG_LIB_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/ref/crmig.o: | $(CRMIG_GEN_H)

$(BUILD)/libcrmig.a: $(CRMIG_LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/crmig: $(BUILD)/ref/crmig.o $(BUILD)/libcrmig.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lpthread

# criu's action script: libc only, because criu runs it at every phase while
# the workload is frozen (hook.c).
$(BUILD)/crmig-hook: $(BUILD)/ref/crmig_hook.o $(BUILD)/ref/hook_client.o
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^

binaries: $(BUILD)/crmig $(BUILD)/crmig-hook

install: install-crmig
install-crmig: $(BUILD)/crmig $(BUILD)/crmig-hook
	install -D -m 0755 $(BUILD)/crmig $(DESTDIR)$(PREFIX)/bin/crmig
	install -D -m 0755 $(BUILD)/crmig-hook $(DESTDIR)$(PREFIX)/libexec/crmig/crmig-hook
	@if [ -f ref/crmig.1 ]; then install -D -m 0644 ref/crmig.1 $(DESTDIR)$(PREFIX)/share/man/man1/crmig.1; fi
