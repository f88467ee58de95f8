# viewer/viewer.mk - gt-top, the live viewer, and its tests.  Included by
# the Makefile; builds on tools/tools.mk (libgtobserve, TOOLS_LIBS).
#
#   make viewer         build/bin/gt-top
#   make install        gt-top and its manual (viewer/gt-top.1)
#   make test-viewer    batch output against a fixture with known ground
#                       truth, promtool and dot on its output, the screen
#                       driven through tmux (tests/viewer/)

VIEWER_SRCS := $(sort $(wildcard viewer/*.c))
VIEWER_OBJS := $(VIEWER_SRCS:%.c=$(BUILD)/%.o)
GT_TOP := $(BUILD)/bin/gt-top
# gt-top is a printer over libgtobserve: its headers are the library's
# and its own (not tools/, whose common.c is gt-stacks' and gt-waste's).
VIEWER_CFLAGS := $(GT_CFLAGS) -Itools/observe -Iviewer
VIEWER_LIBS := $(shell pkg-config --libs ncursesw 2>/dev/null || echo -lncursesw -ltinfo)

$(BUILD)/viewer/%.o: viewer/%.c | $(HEADERS_OK)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(VIEWER_CFLAGS) -MMD -MP -c $< -o $@

$(GT_TOP): $(VIEWER_OBJS) $(LIBGTOBSERVE) | $(BUILD)/bin/
	$(call msg,LD,$@)
	$(Q)$(CC) $(GT_LDFLAGS) -o $@ $^ $(TOOLS_LIBS) $(VIEWER_LIBS) -pthread

viewer: $(GT_TOP)
all: viewer

TV_SRCS := $(sort $(wildcard tests/viewer/*.c))
TV_PROGS := $(TV_SRCS:tests/viewer/%.c=$(BUILD)/tests/viewer/%)

$(BUILD)/tests/viewer/%: tests/viewer/%.c $(LIBGT_A) | $(BUILD)/tests/viewer/
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(GT_CFLAGS) -MMD -MP -o $@ $< $(LIBGT_A) $(GT_LDFLAGS) $(GT_LIBS)

# The tools' fixture of threads waiting unstacked (tests/tools/unstacked.c)
# serves the drill-down and no-stack tests too, their fixture of lock
# holders, cycles and a spinner (tests/tools/blockers.c) the who-blocks-whom
# tests; gt-waste is the class agreement test's other reader.
test-viewer: $(GT_TOP) $(BUILD)/bin/gt-waste $(TV_PROGS) $(BUILD)/tests/tools/unstacked \
             $(BUILD)/tests/tools/blockers $(DEPS_STAMP)
	$(Q)GT_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pytest -q -p no:cacheprovider tests/viewer

TEST_SUITES += test-viewer

install-viewer: $(GT_TOP)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(GT_TOP) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 viewer/gt-top.1 $(DESTDIR)$(PREFIX)/share/man/man1/
install: install-viewer

.PHONY: viewer test-viewer install-viewer

-include $(VIEWER_OBJS:.o=.d) $(TV_PROGS:=.d)
