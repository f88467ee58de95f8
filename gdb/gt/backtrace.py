"""`green-bt`: backtraces of every green thread, identical stacks grouped.

Stacks come from frame-pointer walks over bulk-read stack bytes
(stacks.py), symbols from a per-pc cache (symbols.py): at 100,000 threads
in ten distinct stacks that is one read per thread and a few hundred
symbol lookups, not 100,000 runs of GDB's unwinder.
"""
import collections

import gdb

from . import abi, args, fmt, params, registry, stacks, symbols, threads

C = abi.C
PARKED = C["GT_STATE_PARKED"]


class Group:
    """Threads with one stack: ks, their indices (registry.ThreadTable)."""
    __slots__ = ("pcs", "first_return", "note", "ks")

    def __init__(self, pcs, first_return, note=None):
        self.pcs, self.first_return, self.note, self.ks = pcs, first_return, note, []


def group_threads(snap, ks, progress=None):
    """[Group] of the threads at indices ks by identical stacks, biggest
    first.  The running thread (no saved context) forms a group with pcs
    None.  Reads columns and each stack once (stacks.chain): no Thread
    record is built per thread."""
    col = snap.table.column
    state, flags, switches = col("state"), col("flags"), col("switches")
    sp, pc, fp = col("ctx_sp"), col("ctx_pc"), col("ctx_fp")
    lo, hi, entry = col("stack_lo"), col("stack_hi"), col("entry")
    read = snap.target.reader()
    chain, is_fresh, unstacked = stacks.chain, stacks.is_fresh, stacks.UNSTACKED
    running = stacks.RUNNING
    groups = {}
    for n, k in enumerate(ks):
        st = state[k]
        s = sp[k]
        if st == running or s is None:
            key = (None, True, None)
        else:
            fl = flags[k] or 0
            if is_fresh(st, fl, switches[k]):
                pcs = (pc[k],) if lo[k] <= s < hi[k] else None
                key = (pcs, False, (bool(fl & unstacked), entry[k]))
            else:
                pcs = chain(read, s, pc[k], fp[k], hi[k]) if lo[k] <= s < hi[k] else None
                key = (pcs, True, None)
        g = groups.get(key)
        if g is None:
            note = key[2] and stacks.fresh_note(
                snap.thread_at(k), symbols.lookup(entry[k], is_return=False).func)
            g = groups[key] = Group(key[0], key[1], note)
        g.ks.append(k)
        if progress and n and n % 5000 == 0:
            progress(n, len(ks))
    ids = col("id")
    return sorted(groups.values(), key=lambda g: (-len(g.ks), ids[g.ks[0]]))


def id_ranges(ids, max_ranges=6):
    """`2-50001, 50003` from sorted ids, at most max_ranges ranges."""
    out, start, prev = [], None, None
    for i in ids:
        if start is None:
            start = prev = i
        elif i == prev + 1:
            prev = i
        else:
            out.append((start, prev))
            start = prev = i
    if start is not None:
        out.append((start, prev))
    text = ", ".join("%d" % a if a == b else "%d-%d" % (a, b) for a, b in out[:max_ranges])
    if len(out) > max_ranges:
        text += ", ..."
    return text


def frame_lines(g):
    """`  #N   0x... in func (file:line)`, N counting physical frames from
    0, the saved context's; a frame in inlined code has one line per
    function of its inline chain, innermost first, the inlined ones
    marked [inlined] and the rest of the chain under the same N."""
    if g.pcs is None:
        return ["  (running: its frames are the OS thread's; see `bt`)"]
    lines = []
    for n, pc in enumerate(g.pcs):
        chain = symbols.lookup(pc, is_return=(n > 0 or g.first_return)).chain
        for i, c in enumerate(chain):
            lines.append("  #%-3d 0x%016x in %s%s" % (
                n, pc, symbols.where(*c), " [inlined]" if i < len(chain) - 1 else ""))
    if g.note:
        lines.append("  (%s)" % g.note)
    return lines


def group_header(snap, g):
    col = snap.table.column
    state, kind, since = col("state"), col("wait_kind"), col("wait_since")
    ks = g.ks
    states = collections.Counter(state[k] for k in ks)
    st = ", ".join(("%s %s" % (fmt.count(n), abi.STATE_NAMES[s])) if len(states) > 1
                   else abi.STATE_NAMES[s] for s, n in states.items())
    head = "%s thread%s, %s" % (fmt.count(len(ks)), "" if len(ks) == 1 else "s", st)
    parked = [k for k in ks if state[k] == PARKED] if len(states) > 1 or PARKED not in states \
        else ks
    kinds = {kind[k] for k in parked}
    if kinds:
        head += " (%s)" % ", ".join(sorted(abi.WAIT_NAMES.get(w, "wait %d" % w) for w in kinds))
    waits = [since[k] for k in parked if since[k]]
    if waits:
        now = snap.now
        lo, hi = max(0, now - max(waits)), max(0, now - min(waits))
        age = lambda ns: fmt.age(ns, snap.now_exact)
        head += ", waited %s" % (age(lo) if lo == hi else "%s..%s" % (age(lo), age(hi)))
    raw_names = col("name")
    names = sorted(n for n in {registry.name_of(r) for r in {raw_names[k] for k in ks}} if n)
    ids = col("id")
    head += ": ids %s" % id_ranges(sorted(ids[k] for k in ks))
    if names:
        head += " (%s%s)" % (", ".join(names[:3]), ", ..." if len(names) > 3 else "")
    return head


class GreenBt(gdb.Command):
    """Grouped backtraces of all green threads: green-bt [--limit N] [-l LOCATION] [-s STATE] [-n NAME]

Threads with identical stacks form one group; groups are printed biggest
first, each with its thread count, state, wait kinds, wait ages and ids,
then its frames (from frame-pointer walks of the saved contexts).
--limit N prints N groups (default: `show green-threads limit`; 0: all).
The filters are those of `info green-threads`.  For locals and arguments
select one thread: `green-thread ID`, then `bt full`."""

    OPTIONS = {"-l": ("location", str), "-s": ("state", threads.state_filter),
               "-n": ("name", str), "--limit": ("limit", args.count)}

    def __init__(self):
        super().__init__("green-bt", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        argv = args.split(arg)
        opts, pos = args.parse("green-bt", argv, self.OPTIONS)
        if pos:
            raise gdb.GdbError("green-bt: unexpected %r" % pos[0])
        snap = registry.snapshot()
        chosen = threads.select(snap, opts)
        if not chosen:
            raise gdb.GdbError("green-bt: no green thread matches %s (of %s threads)"
                               % (" ".join(argv) or "(none)", fmt.count(snap.count())))
        groups = group_threads(snap, chosen)
        limit = opts.get("limit", params.limit())
        shown = groups if not limit else groups[:limit]
        out = ["%s green threads in %s distinct stacks" % (
            fmt.count(len(chosen)), fmt.count(len(groups)))]
        for g in shown:
            out.append("")
            out.append(group_header(snap, g))
            out.extend(frame_lines(g))
        if len(groups) > len(shown):
            rest = sum(len(g.ks) for g in groups[len(shown):])
            out.append("")
            out.append("... %s more groups (%s threads): --limit N or a filter"
                       % (fmt.count(len(groups) - len(shown)), fmt.count(rest)))
        note = snap.damage_note()
        if note:
            out.append(note)
        gdb.write("\n".join(out) + "\n")


def register():
    GreenBt()
