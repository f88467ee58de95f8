"""`info green-stack`: how much of each stack is live, dead and unused.

live = top - saved sp (in use now); touched = from the lowest non-zero
word to the top (never-touched memory reads as zero); dead = touched -
live; unused = reserved - touched; reserved = stack_hi - stack_lo, the
usable stack, as every gt reader counts it (the guard below it is shown
apart).  Touched needs the
whole stack read, so the all-threads form reads stacks only for the worst
threads by live bytes and totals what the registry says (live, reserved).
"""
import gdb

from . import abi, args, fmt, registry, stacks, symbols

C = abi.C
WORST = 10
PAGE = 4096


def touched_bytes(target, t):
    """Bytes from the lowest non-zero word to the top, None if unreadable."""
    lo, hi = t.stack_lo, t.stack_hi
    if not lo < hi or hi - lo > (1 << 30):
        return None
    mem = target.try_read(lo, hi - lo)
    if mem is None:
        # A core may lack never-touched pages: read page by page.
        for page in range(lo, hi, PAGE):
            m = target.try_read(page, min(PAGE, hi - page))
            if m and m.strip(b"\0"):
                low = len(m) - len(m.lstrip(b"\0"))
                return hi - (page + low // 8 * 8)
        return 0
    low = len(mem) - len(mem.lstrip(b"\0"))
    if low == len(mem):
        return 0
    return hi - (lo + low // 8 * 8)


def usage(target, t):
    size = stacks.reserved_bytes(t)
    live = stacks.live_bytes(t)
    # A fresh context (never run, or waiting unstacked: its pages went
    # back to the kernel) has touched nothing, and reading its stack would
    # only map pages back in.
    touched = 0 if stacks.fresh(t) else touched_bytes(target, t)
    if touched is not None:
        touched = max(touched, live)
    return {"id": t.id, "name": t.name, "size": size, "guard": t.guard_size,
            "live": live, "touched": touched,
            "dead": None if touched is None else touched - live,
            "unused": None if touched is None else size - touched}


def line(u):
    f = lambda v: fmt.size(v) if v is not None else "?"
    return "%8d  %-16s  %9s  %9s  %9s  %9s  %9s" % (
        u["id"], u["name"][:16], f(u["live"]), f(u["dead"]), f(u["unused"]),
        f(u["size"]), f(u["guard"] or 0))


HEADER = "%8s  %-16s  %9s  %9s  %9s  %9s  %9s" % (
    "ID", "NAME", "LIVE", "DEAD", "UNUSED", "RESERVED", "GUARD")


class InfoGreenStack(gdb.Command):
    """Stack use: info green-stack [ID]

With ID: live (in use now), dead (touched before, not now), unused (never
touched) and reserved bytes of that thread's stack.  Without: totals over
all threads and the threads with the most live stack."""

    def __init__(self):
        super().__init__("info green-stack", gdb.COMMAND_STATUS)

    def invoke(self, arg, from_tty):
        argv = args.split(arg)
        snap = registry.snapshot()
        target = snap.target
        if len(argv) > 1:
            raise gdb.GdbError("info green-stack: at most one thread id")
        if argv:
            try:
                tid = int(argv[0].lstrip("#"), 0)
            except ValueError:
                raise gdb.GdbError("info green-stack: %r is not a thread id" % argv[0])
            t = snap.thread(tid)
            u = usage(target, t)
            gdb.write(HEADER + "\n" + line(u) + "\n")
            if t.state == C["GT_STATE_RUNNING"]:
                gdb.write("(running: its saved sp is stale, so live is unknown)\n")
            note = stacks.fresh_note(t, symbols.lookup(t.entry, is_return=False).func)
            if note:
                gdb.write("(%s)\n" % note)
            return
        ts = snap.threads
        live = sum(stacks.live_bytes(t) for t in ts)
        size = sum(stacks.reserved_bytes(t) for t in ts)
        guard = sum(t.guard_size or 0 for t in ts)
        worst = sorted(ts, key=lambda t: (-stacks.live_bytes(t), t.id))[:WORST]
        out = ["%s threads: live %s of %s reserved stack (%s with guards); %s per thread on average"
               % (fmt.count(len(ts)), fmt.size(live), fmt.size(size), fmt.size(size + guard),
                  fmt.size(live // max(1, len(ts)))),
               "policy: %s; stack arena handed out: %s" % (
                   {C["GT_GUARD_MADVISE"]: "madvise guard pages",
                    C["GT_GUARD_MPROTECT"]: "mprotect guard pages",
                    C["GT_GUARD_CANARY"]: "canary words"}.get(
                        snap.reg.get("guard_policy"), "unknown"),
                   fmt.size(snap.reg.get("stack_reserved", 0))),
               "most live stack:", HEADER]
        out.extend(line(usage(target, t)) for t in worst)
        gdb.write("\n".join(out) + "\n")


def register():
    InfoGreenStack()
