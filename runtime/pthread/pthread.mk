# runtime/pthread/pthread.mk - libgt-pthread.so: the POSIX threads API on
# gt's scheduler, for programs written against pthreads, unchanged
# (LD_PRELOAD=libgt-pthread.so PROGRAM, or linked with -lgt-pthread).
# Included by the Makefile after runtime/runtime.mk, whose objects (PIC,
# hidden visibility) it links in: the library is libgt plus the pthread
# names, one shared object, so the runtime's internals are in reach of the
# shim and of nothing else.
#
#   make lib            also build/lib/libgt-pthread.so
#   make install        also PREFIX/lib/libgt-pthread.so
#   make test-pthread   tests/pthread: conformance, readers, real programs

PT_SRCS := $(sort $(wildcard runtime/pthread/*.c))
PT_OBJS := $(patsubst %,$(BUILD)/%.o,$(basename $(PT_SRCS)))
LIBGT_PTHREAD_SO := $(BUILD)/lib/libgt-pthread.so

$(LIBGT_PTHREAD_SO): $(RT_OBJS) $(PT_OBJS) | $(BUILD)/lib/
	$(call msg,LD,$@)
	$(Q)$(CC) -shared -Wl,-soname,libgt-pthread.so.0 -Wl,-z,noexecstack $(GT_LDFLAGS) \
		-o $@ $^ -lunwind -ldl
	$(Q)ln -sf libgt-pthread.so $(BUILD)/lib/libgt-pthread.so.0

lib: $(LIBGT_PTHREAD_SO)

install-pthread: $(LIBGT_PTHREAD_SO)
	install -d $(DESTDIR)$(PREFIX)/lib
	install -m 755 $(LIBGT_PTHREAD_SO) $(DESTDIR)$(PREFIX)/lib/libgt-pthread.so.0
	ln -sf libgt-pthread.so.0 $(DESTDIR)$(PREFIX)/lib/libgt-pthread.so
install: install-pthread
.PHONY: install-pthread

-include $(PT_OBJS:.o=.d)
