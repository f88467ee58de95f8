"""Return addresses to function names and file:line, cached per pc.

At 100,000 threads in a handful of distinct stacks there are only a few
hundred distinct pcs, so each is looked up once through GDB's symbol
tables; the caches are dropped when objfiles change.

Two things GDB's own lookups get wrong or leave out, done here:

- The line of an address.  When several line-table rows share the
  address, DWARF's rule is that the last one applies (the others cover no
  byte).  GDB 13 prefers a row marked is_stmt over a later one that is
  not: for the call to gt__switch_to in gt__park, whose first byte is also
  where the inlined rq_pop ends, GDB says sched.c:66 (rq_pop's last line)
  where the call is written on sched.c:282, as addr2line and libgtobserve
  say.  line_at takes the last row of the symtab's line table at or below
  the address.
- The call sites of inlined calls.  A pc inside inlined code stands for a
  chain of functions, innermost first, each but the outermost called from
  the next one at a line of its own (DW_AT_call_line).  GDB's Python API
  gives those lines only through frames, so inline_chain asks the frames
  of a probe context (select.probe_inline) once per such pc.
"""
import bisect
import os
import re

import gdb

from .text import text_safe

_cache = {}
_tables = {}
generation = 0  # bumped when the caches are dropped (for caches built on them)


def invalidate(*_):
    global generation
    _cache.clear()
    _tables.clear()
    generation += 1


class Sym:
    """chain: ((func, file, line), ...) of the pc, innermost first; one
    entry unless the pc is in inlined code.  func, file, line are the
    innermost's; outer: the functions it is inlined into."""
    __slots__ = ("pc", "chain")

    def __init__(self, pc, chain):
        self.pc, self.chain = pc, tuple(chain)

    @property
    def func(self):
        return self.chain[0][0]

    @property
    def file(self):
        return self.chain[0][1]

    @property
    def line(self):
        return self.chain[0][2]

    @property
    def outer(self):
        return tuple(c[0] for c in self.chain[1:])

    def where(self):
        """`func (file:line)` of the innermost function, `func` without
        line info."""
        return where(*self.chain[0])

    def label(self):
        """The whole inline chain, innermost first: `critical
        (pipeline.c:31) < worker (pipeline.c:40)`."""
        return " < ".join(where(*c) for c in self.chain)


def where(func, file, line):
    """"func (file:line)" as every reader labels a frame: the file's
    basename (JSON frames keep the path the line table gives)."""
    return "%s (%s:%d)" % (func, os.path.basename(file), line) if file else func


def line_at(at):
    """(file, line) of address at, or (None, 0): the file as the line
    table names it (as libgtobserve gives it), the line from the last line
    table row at the greatest address <= at (see the module's note)."""
    try:
        sal = gdb.find_pc_line(at)
    except (RuntimeError, gdb.error):
        return None, 0
    st = sal.symtab
    if st is None or not sal.line:
        return None, 0
    key = (st.objfile.filename, st.filename)
    tab = _tables.get(key)
    if tab is None:
        pcs, lines = [], []
        try:
            for e in st.linetable():
                pcs.append(e.pc)
                lines.append(e.line)
        except (RuntimeError, gdb.error):
            pass
        tab = _tables[key] = (pcs, lines)
    pcs, lines = tab
    i = bisect.bisect_right(pcs, at) - 1
    line = sal.line
    if i >= 0 and pcs[i] >= sal.pc and lines[i]:
        line = lines[i]
    return st.filename, line


def lookup(pc, is_return=True):
    """Sym of a pc; a return address is looked up at pc - 1, inside the
    call.  Function and file names are the program's own bytes, printed
    by every command: they are made safe here, once (text.text_safe)."""
    key = (pc, is_return)
    s = _cache.get(key)
    if s is None:
        sym = _lookup(pc - 1 if is_return and pc else pc, pc, is_return)
        s = _cache[key] = Sym(pc, [(text_safe(f), text_safe(fl) if fl else fl, ln)
                                   for f, fl, ln in sym.chain])
    return s


def _functions(at):
    """Names of the functions whose blocks hold at, innermost first."""
    try:
        block = gdb.block_for_pc(at)
    except (RuntimeError, gdb.error):
        block = None
    funcs = []
    while block is not None:
        if block.function is not None:
            name = block.function.print_name
            if not funcs or funcs[-1] != name:
                funcs.append(name)
        block = block.superblock
    return funcs


def _lookup(at, pc, is_return):
    funcs = _functions(at)
    file, line = line_at(at)
    if not funcs:
        try:
            m = re.search(r"<([^>+]+)", gdb.format_address(at))
            funcs = [m.group(1)] if m else []
        except (RuntimeError, gdb.error):
            pass
    if not funcs:
        return Sym(pc, [("0x%x" % pc, file, line)])
    chain = [(funcs[0], file, line)]
    if len(funcs) > 1:
        from . import select
        calls = select.probe_inline(pc if is_return else pc + 1)
        # calls: (func, file, line) of each frame at the pc, innermost
        # first (an inlined function can hold another instance of itself,
        # which the name-deduplicated funcs list merges); the innermost
        # line GDB picked is replaced by ours.  Without frames, the chain
        # is named without its lines.
        if calls and len(calls) > 1:
            chain = [(calls[0][0], file, line)] + list(calls[1:])
        else:
            chain += [(f, None, 0) for f in funcs[1:]]
    return Sym(pc, chain)


def connect_events():
    gdb.events.new_objfile.connect(invalidate)
    gdb.events.clear_objfiles.connect(invalidate)
