"""Return addresses to function names and file:line, cached per pc.

At 100,000 threads in a handful of distinct stacks there are only a few
hundred distinct pcs, so each is looked up once through GDB's symbol
tables; the cache is dropped when objfiles change.
"""
import os
import re

import gdb

_cache = {}


def invalidate(*_):
    _cache.clear()


class Sym:
    """func: innermost function at pc; outer: the functions it is inlined
    into, innermost first (empty when it is not inlined)."""
    __slots__ = ("pc", "func", "file", "line", "outer")

    def __init__(self, pc, func, file, line, outer=()):
        self.pc, self.func, self.file, self.line, self.outer = pc, func, file, line, outer

    def where(self):
        """`func file:line`, or `func` alone without line info."""
        if self.file:
            return "%s %s:%d" % (self.func, self.file, self.line)
        return self.func

    def where_inlined(self):
        """where(), plus the functions it is inlined into."""
        if not self.outer:
            return self.where()
        return "%s (inlined in %s)" % (self.where(), " <- ".join(self.outer))


def lookup(pc, is_return=True):
    """Sym of a pc; a return address is looked up at pc - 1, inside the call."""
    key = (pc, is_return)
    s = _cache.get(key)
    if s is None:
        s = _cache[key] = _lookup(pc - 1 if is_return and pc else pc, pc)
    return s


def _lookup(at, pc):
    func = None
    try:
        block = gdb.block_for_pc(at)
    except (RuntimeError, gdb.error):
        block = None
    # Each block with a function is one function level: the innermost
    # may be inlined into the next ones, the outermost is the real one.
    funcs = []
    while block is not None:
        if block.function is not None:
            name = block.function.print_name
            if not funcs or funcs[-1] != name:
                funcs.append(name)
        block = block.superblock
    if funcs:
        func = funcs[0]
    if func is None:
        try:
            m = re.search(r"<([^>+]+)", gdb.format_address(at))
            func = m.group(1) if m else None
        except (RuntimeError, gdb.error):
            func = None
    file, line = None, 0
    try:
        sal = gdb.find_pc_line(at)
        if sal.symtab is not None and sal.line:
            file, line = os.path.basename(sal.symtab.filename), sal.line
    except (RuntimeError, gdb.error):
        pass
    return Sym(pc, func or "0x%x" % pc, file, line, tuple(funcs[1:]))


def connect_events():
    gdb.events.new_objfile.connect(invalidate)
    gdb.events.clear_objfiles.connect(invalidate)
