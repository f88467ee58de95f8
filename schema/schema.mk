# schema/schema.mk - the JSON Schemas of every reader's --json document.
# Included by the top-level Makefile.
#
#   make install-schema   (part of make install) schema/*.schema.json into
#                         $(PREFIX)/share/gt/schema/, where a consumer of
#                         gt-stacks, gt-waste, gt-top -b --format json or
#                         the GDB commands' --json validates what it reads;
#                         each document's "schema_version" says which
#                         version of these files it follows.

SCHEMA_FILES := $(sort $(wildcard schema/*.schema.json))
SCHEMA_DIR = $(PREFIX)/share/gt/schema

install-schema:
	install -d $(DESTDIR)$(SCHEMA_DIR)
	install -m 644 $(SCHEMA_FILES) $(DESTDIR)$(SCHEMA_DIR)/
install: install-schema

.PHONY: install-schema
