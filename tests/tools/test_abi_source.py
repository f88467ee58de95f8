"""libgtobserve takes every ABI number from gt/registry.h: no hand-kept copy
of the magic, the field ids or the states can drift from the runtime's."""
import os
import re

from conftest import HERE

OBSERVE = os.path.join(HERE, "..", "..", "tools", "observe")


def read(name):
    with open(os.path.join(OBSERVE, name)) as f:
        return f.read()


def test_header_includes_the_registry():
    h = read("gtobserve.h")
    assert "#include <gt/registry.h>" in h
    # Every state and flag defined from the registry's own name.
    for m in re.finditer(r"(GTO_STATE_\w+)\s*=\s*([^,\n]+)", h):
        assert m.group(2).startswith("GT_STATE_"), m.group(0)
    for m in re.finditer(r"#define (GTO_TF_\w+)\s+(\S+)", h):
        assert m.group(2).startswith("GT_TF_"), m.group(0)


def test_no_copied_numbers_in_the_reader():
    for name in sorted(os.listdir(OBSERVE)):
        if not name.endswith((".c", ".h")):
            continue
        text = read(name)
        assert "5254534745525447" not in text, name      # the magic
        # Field ids are GT_F_*: no enum of our own numbering them.
        assert not re.search(r"\b(REG_PID|THR_SEQ|LOC_SEQ|EDGE_SEQ)\s*=", text), name
        assert not re.search(r"\bREC_THR\b|\bREC_REG\b", text), name
