# runtime/runtime.mk - libgt: libgt.a, libgt.so, gt.pc.
#
# Sources: every .c in runtime/src, plus the files of runtime/src/arch/$(ARCH)
# (the context switch and its first frame).  All objects are PIC so one set
# serves both libraries.  libgt-noinstr.a is the same code built with
# -DGT_NO_INSTRUMENT, used only by the bench to show what the registry's
# bookkeeping costs.

RT_SRCS := $(sort $(wildcard runtime/src/*.c)) \
           $(sort $(wildcard runtime/src/arch/$(ARCH)/*.c)) \
           $(sort $(wildcard runtime/src/arch/$(ARCH)/*.S))
RT_OBJS := $(patsubst %,$(BUILD)/%.o,$(basename $(RT_SRCS)))
RT_NOINSTR_OBJS := $(patsubst %,$(BUILD)/noinstr/%.o,$(basename $(RT_SRCS)))
RT_CFLAGS := $(GT_CFLAGS) -fPIC -fvisibility=hidden -DGT_HAVE_SDT \
             -Iruntime/src -ftls-model=initial-exec
RT_HEADERS := runtime/include/gt.h runtime/include/gt/registry.h

LIBGT_A := $(BUILD)/lib/libgt.a
LIBGT_SO := $(BUILD)/lib/libgt.so
LIBGT_NOINSTR_A := $(BUILD)/lib/libgt-noinstr.a
GT_PC := $(BUILD)/lib/pkgconfig/gt.pc
GT_PC_UNINSTALLED := $(BUILD)/lib/pkgconfig/gt-uninstalled.pc

lib: $(LIBGT_A) $(LIBGT_SO) $(GT_PC) $(GT_PC_UNINSTALLED)

$(BUILD)/runtime/%.o: runtime/%.c | $(BUILD)/ $(RT_HEADERS_OK)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(RT_CFLAGS) -MMD -MP -c $< -o $@
$(BUILD)/runtime/%.o: runtime/%.S | $(BUILD)/
	$(call msg,AS,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(RT_CFLAGS) -MMD -MP -c $< -o $@
$(BUILD)/noinstr/runtime/%.o: runtime/%.c | $(BUILD)/ $(RT_HEADERS_OK)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(RT_CFLAGS) -DGT_NO_INSTRUMENT -MMD -MP -c $< -o $@
$(BUILD)/noinstr/runtime/%.o: runtime/%.S | $(BUILD)/
	$(Q)mkdir -p $(@D) && $(CC) $(RT_CFLAGS) -MMD -MP -c $< -o $@

$(LIBGT_A): $(RT_OBJS) | $(BUILD)/lib/
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^
$(LIBGT_NOINSTR_A): $(RT_NOINSTR_OBJS) | $(BUILD)/lib/
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^
$(LIBGT_SO): $(RT_OBJS) | $(BUILD)/lib/
	$(call msg,LD,$@)
	$(Q)$(CC) -shared -Wl,-soname,libgt.so.0 -Wl,-z,noexecstack $(GT_LDFLAGS) \
		-o $@ $^ -lunwind -pthread
	$(Q)ln -sf libgt.so $(BUILD)/lib/libgt.so.0 # its soname, for programs run here

# The prefix is a make variable, so gt.pc is made again on every build
# (cheap) and on install, never left stale from another PREFIX; it is
# replaced only when it changes, so what is built with it is not redone.
# Its Libs carry an rpath to the installed libdir: -lgt links libgt.so, and
# a program built with the README's line must start from any prefix, not
# only from one the dynamic loader already searches.
$(GT_PC): runtime/gt.pc.in FORCE | $(BUILD)/lib/pkgconfig/
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|0.1|' \
		-e 's|@LIBDIR@|$${prefix}/lib|' -e 's|@INCLUDEDIR@|$${prefix}/include|' \
		-e 's|@RPATH@|-Wl,-rpath,$${libdir} |' $< > $@.tmp
	$(Q)cmp -s $@.tmp $@ && rm $@.tmp || mv $@.tmp $@

# gt-uninstalled.pc: the same flags for the build tree itself.  pkg-config
# prefers NAME-uninstalled.pc when it finds both, so with
# PKG_CONFIG_PATH=$(BUILD)/lib/pkgconfig `pkg-config gt` builds against
# this tree's headers and libraries, and the program finds libgt.so.0
# here when it runs (rpath).  Never installed.
$(GT_PC_UNINSTALLED): runtime/gt.pc.in FORCE | $(BUILD)/lib/pkgconfig/
	$(Q)sed -e 's|@PREFIX@|$(abspath .)|' -e 's|@VERSION@|0.1|' \
		-e 's|@LIBDIR@|$(abspath $(BUILD)/lib)|' \
		-e 's|@INCLUDEDIR@|$(abspath runtime/include)|' \
		-e 's|@RPATH@|-Wl,-rpath,$${libdir} |' $< > $@.tmp
	$(Q)cmp -s $@.tmp $@ && rm $@.tmp || mv $@.tmp $@
FORCE:
.PHONY: FORCE

install-lib: lib
	install -d $(DESTDIR)$(PREFIX)/include/gt $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 runtime/include/gt.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 runtime/include/gt/registry.h $(DESTDIR)$(PREFIX)/include/gt/
	install -m 644 $(LIBGT_A) $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(LIBGT_SO) $(DESTDIR)$(PREFIX)/lib/libgt.so.0
	ln -sf libgt.so.0 $(DESTDIR)$(PREFIX)/lib/libgt.so
	install -m 644 $(GT_PC) $(DESTDIR)$(PREFIX)/lib/pkgconfig/
install: install-lib
.PHONY: install-lib
