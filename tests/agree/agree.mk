# tests/agree/agree.mk - the agreement test: one fixture with known ground
# truth read by every reader (gt-stacks, gt-waste, gt-top, the GDB
# commands), live, from a gcore core and from a kernel core; every number
# they share must be equal and true.  Included by the Makefile, which
# defines BUILD, GT_*, LIBGT_A, DEPS_STAMP, PYTHON, Q and msg; builds on
# tools/tools.mk (TOOL_BINS) and viewer/viewer.mk (GT_TOP).
#
#   make test-agree     tests/agree/test_agree.py, documents checked against
#                       the JSON Schemas in schema/

AGREE_FIXTURE := $(BUILD)/tests/agree/agree_fixture

$(AGREE_FIXTURE): tests/agree/agree_fixture.c $(LIBGT_A) | $(BUILD)/tests/agree/
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(GT_CFLAGS) -MMD -MP -o $@ $< $(LIBGT_A) $(GT_LDFLAGS) $(GT_LIBS)

test-agree: $(TOOL_BINS) $(GT_TOP) $(AGREE_FIXTURE) $(DEPS_STAMP)
	$(Q)GT_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pytest -q -p no:cacheprovider tests/agree

TEST_SUITES += test-agree

.PHONY: test-agree

-include $(AGREE_FIXTURE).d
