"""`info green-stack`: how much of each stack is live, dead and unused.

live = top - saved sp (in use now); touched = from the lowest non-zero
word to the top (never-touched memory reads as zero); dead = touched -
live; unused = reserved - touched; reserved = stack_hi - stack_lo, the
usable stack, as every gt reader counts it (the guard below it is shown
apart).  Touched needs the
whole stack read, so the all-threads form reads stacks only for the worst
threads by live bytes and totals what the registry says (live, reserved).
"""
import os

import gdb

from . import abi, args, fmt, guard, registry, stacks, symbols, threads
from .complete import completer

C = abi.C
WORST = 10
BLOCK = 1 << 20         # bytes of stack read at once
MAX_STACK = 1 << 30     # a stack claiming more is not measured
PAGE_MIN, PAGE_MAX = 4096, 65536


def page_size(snap):
    """The registry's page size, if it is one (decision 3 of every gt
    reader: a power of two in [4 KiB, 64 KiB], and on a live local
    process this machine's); else a one-line gdb.GdbError: nothing is
    stepped by a page size the registry cannot vouch for."""
    ps = snap.reg.get("page_size")
    if ps is None:
        return PAGE_MIN
    legal = PAGE_MIN <= ps <= PAGE_MAX and not ps & (ps - 1)
    if legal and snap.target.kind == "native" and not snap.target.is_core:
        try:
            legal = ps == os.sysconf("SC_PAGESIZE")
        except (ValueError, OSError):
            pass
    if not legal:
        raise gdb.GdbError("gt: registry page size %d is not a page size of this "
                           "machine: the registry is damaged" % ps)
    return ps


def touched_bytes(target, t, page):
    """Bytes from the lowest non-zero word to the top, None if unreadable
    or past MAX_STACK.  The stack is read from its low end up in blocks of
    BLOCK bytes, page by page where a block cannot be read whole (a core
    may lack never-touched pages), and the reading stops at the first
    block holding a non-zero word: memory stays bounded whatever
    stack_lo and stack_hi say."""
    lo, hi = t.stack_lo or 0, t.stack_hi or 0
    if not lo < hi or hi - lo > MAX_STACK:
        return None
    for block in range(lo, hi, BLOCK):
        n = min(BLOCK, hi - block)
        mem = target.try_read(block, n)
        parts = [(block, mem)] if mem is not None else \
            ((p, target.try_read(p, min(page, hi - p))) for p in range(block, block + n, page))
        for at, m in parts:
            if m and m.strip(b"\0"):
                low = len(m) - len(m.lstrip(b"\0"))
                return hi - (at + low // 8 * 8)
    return 0


def measurable(target):
    """Whether stacks can be read below their live part: not in a compact
    core (gt-core --compact keeps each stack's live part only), where the
    first non-zero word found would be the live part's and dead would
    come out as the few bytes below it (libgtobserve's
    gto_stack_measures_known)."""
    cap = target.capture()
    return cap is None or not cap["flags"] & C["GT_CAPTURE_COMPACT"]


COMPACT_NOTE = ("(a compact core (gt-core --compact) holds each stack's live part only: "
                "dead and unused are unknown)")


def usage(target, t, page):
    size = stacks.reserved_bytes(t)
    live = stacks.live_bytes(t)
    # A fresh context (never run, or waiting unstacked: its pages went
    # back to the kernel) has touched nothing, and reading its stack would
    # only map pages back in.
    if not measurable(target):
        touched = None
    else:
        touched = 0 if stacks.fresh(t) else touched_bytes(target, t, page)
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


def guard_policy(snap):
    return {C["GT_GUARD_MADVISE"]: "madvise",
            C["GT_GUARD_MPROTECT"]: "mprotect",
            C["GT_GUARD_CANARY"]: "canary"}.get(snap.reg.get("guard_policy"))


def usage_json(t, u):
    """A measured thread in the JSON vocabulary every gt reader shares (the
    "stack" of info green-threads --json, gt-stacks, gt-top): a running
    thread's live and dead are null (its saved sp is stale), touched, dead
    and unused are null when not measured (a compact core), resident is
    never measured here."""
    running = t.state == C["GT_STATE_RUNNING"]
    return {"id": u["id"], "name": u["name"], "state": abi.STATE_NAMES.get(t.state, "unknown"),
            "guard": u["guard"] or 0,
            "stack": {"reserved": u["size"], "live": None if running else u["live"],
                      "touched": u["touched"],
                      "dead": None if running else u["dead"],
                      "unused": u["unused"], "resident": None}}


class InfoGreenStack(gdb.Command):
    """Stack use: info green-stack [ID] [--json]

With ID: live (in use now), dead (touched before, not now), unused (never
touched) and reserved bytes of that thread's stack.  Without: totals over
all threads and the threads with the most live stack.

--json prints one JSON object (schema/gdb.schema.json, $defs
info_green_stack): now_exact, uptime_ns, idle_ns, file_io_calls,
file_io_ns, capture, threads, guard_policy, stack_arena (bytes handed
out), totals {reserved, live, guard} over every thread, measured (false
in a compact core: touched, dead and unused unknown), and stacks [{id,
name, state, guard, stack {reserved, live, touched, dead, unused,
resident}}]: the thread ID, or the threads with the most live stack."""

    complete = completer(ids=True)

    def __init__(self):
        super().__init__("info green-stack", gdb.COMMAND_STATUS)

    @guard.command("info green-stack")
    def invoke(self, arg, from_tty):
        opts, argv = args.parse("info green-stack", args.split(arg), {},
                                {"--json": "json"})
        snap = registry.snapshot()
        target = snap.target
        if len(argv) > 1:
            raise gdb.GdbError("info green-stack: at most one thread id")
        page = page_size(snap)
        if argv:
            try:
                tid = int(argv[0].lstrip("#"), 0)
            except ValueError:
                raise gdb.GdbError("info green-stack: %r is not a thread id" % argv[0])
            shown = [snap.thread(tid)]
        else:
            shown = sorted(snap.threads, key=lambda t: (-stacks.live_bytes(t), t.id))[:WORST]
        measured = [(t, usage(target, t, page)) for t in shown]
        if argv and not opts.get("json"):
            # One thread's text needs no totals: no record is built for
            # the others (a million of them take seconds).
            t, u = measured[0]
            gdb.write(HEADER + "\n" + line(u) + "\n")
            if t.state == C["GT_STATE_RUNNING"]:
                gdb.write("(running: its saved sp is stale, so live is unknown)\n")
            note = stacks.fresh_note(t, symbols.lookup(t.entry, is_return=False).func)
            if note:
                gdb.write("(%s)\n" % note)
            if not measurable(target):
                gdb.write(COMPACT_NOTE + "\n")
            return
        ts = snap.threads
        live = sum(stacks.live_bytes(t) for t in ts)
        size = sum(stacks.reserved_bytes(t) for t in ts)
        guards = sum(t.guard_size or 0 for t in ts)
        if opts.get("json"):
            out = threads.process_json(snap)
            out.update({"threads": len(ts), "guard_policy": guard_policy(snap),
                        "stack_arena": snap.reg.get("stack_reserved"),
                        "totals": {"reserved": size, "live": live, "guard": guards},
                        "measured": measurable(target),
                        "stacks": [usage_json(t, u) for t, u in measured]})
            gdb.write(fmt.json_document(out))
            return
        out = ["%s threads: live %s of %s reserved stack (%s with guards); %s per thread on average"
               % (fmt.count(len(ts)), fmt.size(live), fmt.size(size), fmt.size(size + guards),
                  fmt.size(live // max(1, len(ts)))),
               "policy: %s; stack arena handed out: %s" % (
                   {"madvise": "madvise guard pages", "mprotect": "mprotect guard pages",
                    "canary": "canary words"}.get(guard_policy(snap), "unknown"),
                   fmt.size(snap.reg.get("stack_reserved", 0))),
               "most live stack:", HEADER]
        out.extend(line(u) for _, u in measured)
        if not measurable(target):
            out.append(COMPACT_NOTE)
        gdb.write("\n".join(out) + "\n")


def register():
    InfoGreenStack()
