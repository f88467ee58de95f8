# tests/fuzz/fuzz.mk - the readers fuzzed: libgtobserve, gt-stacks,
# gt-waste and gt-top's batch output over memory images of a registry
# (tests/fuzz/fuzz_readers.c), with a mutator that knows the registry's
# fields (tests/fuzz/mutator.c).  Included by the Makefile, after
# tools/tools.mk and viewer/viewer.mk.
#
#   make fuzz              fuzz for FUZZ_SECONDS (default 600), keeping what
#                          it finds in build/fuzz/corpus; a crash leaves its
#                          input in build/fuzz/ (add it to tests/fuzz/regress/
#                          with the fix)
#   make test-fuzz         (part of make test) every input of
#                          tests/fuzz/regress/ once, then FUZZ_TEST_SECONDS
#                          (default 60) of fuzzing from tests/fuzz/corpus/;
#                          fails on any crash, sanitizer report, leak,
#                          input slower than 10 s, or more than 1 GiB
#   make fuzz-corpus       writes tests/fuzz/corpus/ again from live fixtures
#
# The fuzz build is clang's (libFuzzer), with ASan and UBSan, in a tree of
# its own: $(BUILD)/fuzz.

FUZZ_CC := clang
FUZZ_DIR := $(BUILD)/fuzz
FUZZER := $(FUZZ_DIR)/fuzz_readers
FUZZ_SECONDS ?= 600
FUZZ_TEST_SECONDS ?= 60
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS := -std=c11 -Wall -Wextra -Werror -g -O1 -fno-omit-frame-pointer \
               -D_GNU_SOURCE -Iruntime/include -Itools/observe -Itools -Iviewer \
               $(FUZZ_SAN) -fsanitize=fuzzer-no-link
# The fixture programs an image can name (its `program` field, from 1):
# their files give the symbols and the text.
FUZZ_PROGRAM_NAMES := known_stacks waits unstacked blockers
FUZZ_PROGRAMS := $(FUZZ_PROGRAM_NAMES:%=$(BUILD)/tests/tools/%)
FUZZ_OPTS := -timeout=10 -rss_limit_mb=1024 -malloc_limit_mb=1024 \
             -max_len=65536 -close_fd_mask=3 -print_final_stats=1 \
             -artifact_prefix=$(FUZZ_DIR)/

fuzz_empty :=
fuzz_space := $(fuzz_empty) $(fuzz_empty)
FUZZ_REGRESS := $(wildcard tests/fuzz/regress/*)

FUZZ_LIB_OBJS := $(OBS_SRCS:%.c=$(FUZZ_DIR)/%.o)
FUZZ_VIEWER_OBJS := $(patsubst %.c,$(FUZZ_DIR)/%.o,$(filter-out viewer/main.c,$(VIEWER_SRCS)))
FUZZ_OBJS := $(FUZZ_LIB_OBJS) $(FUZZ_VIEWER_OBJS) \
             $(FUZZ_DIR)/tools/gt-stacks.o $(FUZZ_DIR)/tools/gt-waste.o \
             $(FUZZ_DIR)/tools/running.o $(FUZZ_DIR)/tools/common.o \
             $(FUZZ_DIR)/tools/pprof.o \
             $(FUZZ_DIR)/tests/fuzz/fuzz_readers.o $(FUZZ_DIR)/tests/fuzz/mutator.o

$(FUZZ_DIR)/%.o: %.c | $$(HEADERS_OK)
	$(call msg,FUZZCC,$@)
	$(Q)mkdir -p $(@D) && $(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@

# The tools' main() under other names, so one fuzz target runs both.
$(FUZZ_DIR)/tools/gt-%.o: tools/gt-%.c | $$(HEADERS_OK)
	$(call msg,FUZZCC,$@)
	$(Q)mkdir -p $(@D) && $(FUZZ_CC) $(FUZZ_CFLAGS) -Dmain=fuzz_main_gt_$(subst -,_,$*) \
		-MMD -MP -c $< -o $@

$(FUZZ_DIR)/tests/fuzz/fuzz_readers.o: FUZZ_CFLAGS += \
	-DGT_FUZZ_PROGRAMS='"$(subst $(fuzz_space),:,$(abspath $(FUZZ_PROGRAMS)))"'

$(FUZZER): $(FUZZ_OBJS)
	$(call msg,FUZZLD,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(TOOLS_LIBS) \
		$(VIEWER_LIBS) -pthread

# Writes a memory image of a live program (the corpus's seeds).
$(BUILD)/tests/fuzz/make_image: tests/fuzz/make_image.c $(LIBGTOBSERVE) | $$(HEADERS_OK)
	$(call msg,CCLD,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(TOOLS_CFLAGS) -o $@ $< $(LIBGTOBSERVE) $(TOOLS_LIBS)

fuzz-build: $(FUZZER) $(FUZZ_PROGRAMS)

fuzz: fuzz-build
	$(Q)mkdir -p $(FUZZ_DIR)/corpus
	$(Q)$(FUZZER) $(FUZZ_OPTS) -max_total_time=$(FUZZ_SECONDS) \
		$(FUZZ_DIR)/corpus tests/fuzz/corpus tests/fuzz/regress

test-fuzz: fuzz-build $(DEPS_STAMP)
	$(Q)$(if $(FUZZ_REGRESS),$(FUZZER) $(FUZZ_OPTS) -runs=1 $(FUZZ_REGRESS) \
		2>$(FUZZ_DIR)/regress.log || { tail -60 $(FUZZ_DIR)/regress.log; exit 1; },true)
	$(Q)rm -rf $(FUZZ_DIR)/test-corpus && mkdir -p $(FUZZ_DIR)/test-corpus
	$(Q)$(FUZZER) $(FUZZ_OPTS) -max_total_time=$(FUZZ_TEST_SECONDS) \
		$(FUZZ_DIR)/test-corpus tests/fuzz/corpus 2>$(FUZZ_DIR)/test.log || \
		{ tail -80 $(FUZZ_DIR)/test.log; exit 1; }
	$(Q)grep -h '^stat::number_of_executed_units' $(FUZZ_DIR)/test.log | \
		sed 's/^stat::number_of_executed_units: */  fuzz   inputs run: /'

fuzz-corpus: $(BUILD)/tests/fuzz/make_image $(FUZZ_PROGRAMS)
	$(Q)GT_BUILD=$(abspath $(BUILD)) $(PYTHON) tests/fuzz/make_corpus.py tests/fuzz/corpus

TEST_SUITES += test-fuzz

.PHONY: fuzz fuzz-build test-fuzz fuzz-corpus

-include $(FUZZ_OBJS:.o=.d)
