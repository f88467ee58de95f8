# gt - top-level Makefile.  Needs GNU make.
#
# Local overrides (CC, CFLAGS, PREFIX...) go in config.mak, never here.
# Every build directory mirrors the source tree under $(BUILD); a second
# tree with other flags is just another BUILD (see the asan target).
#
#   make                 libgt.a, libgt.so, gt.pc (and whatever else exists)
#   make test            installs missing Debian packages, builds, runs every test
#   make bench           side-by-side benchmarks against peers (bench/)
#   make install PREFIX=/usr/local DESTDIR=
#   V=1                  show full command lines

-include config.mak

PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build
ARCH    ?= $(shell uname -m)
CC      ?= cc
PYTHON  ?= /usr/bin/python3

# Flags every object of ours is built with; EXTRA_CFLAGS is for variants
# (sanitizers) and for the bench's uninstrumented build.
GT_CFLAGS := -std=c11 -Wall -Wextra -Werror -g -O2 \
             -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer \
             -D_GNU_SOURCE -Iruntime/include $(EXTRA_CFLAGS) $(CFLAGS)
GT_LDFLAGS := $(EXTRA_LDFLAGS) $(LDFLAGS)
# What a program linked against libgt.a needs besides it.
GT_LIBS := -Wl,--export-dynamic-symbol=gt_registry -lunwind

ifeq ($(V),1)
Q :=
msg = @true
else
Q := @
msg = @printf '  %-6s %s\n' $(1) $(2)
endif

all: lib

include runtime/runtime.mk
-include tests/tests.mk
-include bench/bench.mk

# Missing Debian packages are installed once, by one script.
DEPS_STAMP := $(BUILD)/.deps-ok
$(DEPS_STAMP): tools/install-deps.sh | $(BUILD)/
	$(Q)sh tools/install-deps.sh
	$(Q)touch $@
deps: $(DEPS_STAMP)

$(BUILD)/:
	$(Q)mkdir -p $@
$(BUILD)/%/:
	$(Q)mkdir -p $@

clean:
	rm -rf $(BUILD)

.PHONY: all lib deps clean test install bench bench-quick
.SECONDARY:
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
