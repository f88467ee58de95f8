"""The registry's constants, parsed from registry.h when the extension loads.

registry.h is the one source of truth for magic, ABI version, record kinds,
field ids, states, wait kinds and context slots; copying its numbers here
would let the two drift apart.  The header is looked for beside this module
(where `make install` puts a copy) and then in the source tree.
"""
import os
import re

_HERE = os.path.dirname(os.path.abspath(__file__))
_CANDIDATES = (
    os.path.join(_HERE, "registry.h"),
    os.path.join(_HERE, "..", "..", "runtime", "include", "gt", "registry.h"),
)


def _find_header():
    for path in _CANDIDATES:
        if os.path.exists(path):
            return path
    raise ImportError("gt: registry.h not found beside the extension "
                      "(reinstall it with `make install`)")


def _parse(text, arch_macro="__x86_64__"):
    """Every #define'd integer and enumerator of the header, by name.

    Only the branch of `#if defined(arch)` for the target architecture is
    kept, so the context-slot enum of x86-64 is the one read.
    """
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    # stack of [on, taken]: whether the current branch is kept, and
    # whether an earlier branch of the same #if already was
    kept, stack = [], []
    for line in text.splitlines():
        s = line.strip()
        m = re.match(r"#(if|elif)\s+defined\((\w+)\)", s)
        if s.startswith("#if"):
            on = bool(m) and m.group(2) == arch_macro if "defined" in s else True
            stack.append([on, on])
        elif s.startswith("#elif") and stack:
            on = not stack[-1][1] and bool(m) and m.group(2) == arch_macro
            stack[-1] = [on, stack[-1][1] or on]
        elif s.startswith("#else") and stack:
            stack[-1] = [not stack[-1][1], True]
        elif s.startswith("#endif") and stack:
            stack.pop()
        elif all(on for on, _ in stack):
            kept.append(line)
    text = "\n".join(kept)
    consts = {}
    for m in re.finditer(r"#define\s+(GT_\w+)\s+\(?(0x[0-9a-fA-F]+|\d+)u?l*\b", text):
        consts[m.group(1)] = int(m.group(2), 0)
    for body in re.findall(r"enum\s*\w*\s*\{(.*?)\}", text, flags=re.S):
        value = -1
        for item in body.split(","):
            item = item.strip()
            if not item:
                continue
            if "=" in item:
                name, expr = (x.strip() for x in item.split("=", 1))
                expr = re.sub(r"\b(GT_\w+)\b", lambda mm: str(consts[mm.group(1)]), expr)
                if not re.fullmatch(r"[0-9+\-*() ]+", expr):
                    raise ImportError("gt: cannot read %s = %s in registry.h" % (name, expr))
                value = eval(expr, {"__builtins__": {}})
            else:
                name, value = item, value + 1
            consts[name] = value
    return consts


HEADER = _find_header()
with open(HEADER) as _f:
    C = _parse(_f.read())

MAGIC = C["GT_REGISTRY_MAGIC"]
ABI = C["GT_REGISTRY_ABI"]

STATE_NAMES = {C["GT_STATE_" + n]: n.lower()
               for n in ("FREE", "RUNNABLE", "RUNNING", "PARKED", "EXITED")}
WAIT_NAMES = {v: k[len("GT_WAIT_"):].lower() for k, v in C.items()
              if k.startswith("GT_WAIT_") and k not in ("GT_WAIT_KIND_COUNT",
                                                      "GT_WAIT_HIST_BUCKETS")}


def fields(prefix):
    """{lowercase field name: id} of one record kind, e.g. fields("GT_F_THR_")."""
    return {k[len(prefix):].lower(): v for k, v in C.items()
            if k.startswith(prefix) and not k.endswith("__COUNT")}
