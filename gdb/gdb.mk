# gdb/gdb.mk - the GDB extension: fixtures and suite (test-gdb), install.
# Included by the top-level Makefile, which defines BUILD, GT_*, LIBGT_A,
# DEPS_STAMP, PYTHON, Q and msg.
#
#   make test-gdb             pytest drives gdb -batch over tests/gdb fixtures
#   make install-gdb          (part of make install) the loader and package
#
# Installed layout (see gdb/README.md for the two ~/.gdbinit lines):
#   $(PREFIX)/share/gt/gdb/gt-gdb.py      the file .debug_gdb_scripts names;
#   $(PREFIX)/share/gt/gdb/gt/            the package, with a copy of
#                                         registry.h it reads constants from;
#   $(PREFIX)/share/gdb/auto-load$(PREFIX)/lib/libgt.so.0-gdb.py
#                                         for programs using libgt.so: GDB's
#                                         per-objfile auto-load, trusted
#                                         without configuration when
#                                         PREFIX=/usr.

GDB_FIXTURES := $(BUILD)/tests/gdb/green_fixture $(BUILD)/tests/gdb/no_runtime
GDB_PKG := $(sort $(wildcard gdb/gt/*.py))
GDB_DIR = $(PREFIX)/share/gt/gdb
GDB_SOLIB_SCRIPT = $(PREFIX)/share/gdb/auto-load$(PREFIX)/lib/libgt.so.0-gdb.py

$(BUILD)/tests/gdb/green_fixture: tests/gdb/green_fixture.c $(LIBGT_A) | $(BUILD)/tests/gdb/
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(GT_CFLAGS) -MMD -MP -o $@ $< $(LIBGT_A) $(GT_LDFLAGS) $(GT_LIBS)

$(BUILD)/tests/gdb/no_runtime: tests/gdb/no_runtime.c | $(BUILD)/tests/gdb/
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(GT_CFLAGS) -o $@ $< $(GT_LDFLAGS)

test-gdb: $(GDB_FIXTURES) $(DEPS_STAMP)
	$(Q)GT_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pytest -q -p no:cacheprovider tests/gdb

TEST_SUITES += test-gdb

install-gdb:
	install -d $(DESTDIR)$(GDB_DIR)/gt $(dir $(DESTDIR)$(GDB_SOLIB_SCRIPT))
	install -m 644 gdb/gt-gdb.py $(DESTDIR)$(GDB_DIR)/
	install -m 644 $(GDB_PKG) runtime/include/gt/registry.h $(DESTDIR)$(GDB_DIR)/gt/
	printf 'import runpy\nrunpy.run_path("%s/gt-gdb.py")\n' '$(GDB_DIR)' \
		> $(DESTDIR)$(GDB_SOLIB_SCRIPT)
install: install-gdb

.PHONY: test-gdb install-gdb

# The extension alone at 100,000 threads (bench/bench_gdb.py).  make bench
# times it against Go's debuggers instead (bench/observe_bench.py).
bench-gdb: $(BUILD)/tests/gdb/green_fixture | $(BUILD)/bench/
	$(Q)$(PYTHON) bench/bench_gdb.py --build $(BUILD) --json $(BUILD)/bench/gdb.json

.PHONY: bench-gdb
