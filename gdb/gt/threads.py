"""`info green-threads`: a summary line and a table of green threads."""
import fnmatch
import json

import gdb

from . import abi, args, fmt, params, registry, stacks

C = abi.C
PARKED = C["GT_STATE_PARKED"]


def state_filter(text):
    names = [n for n in abi.STATE_NAMES.values() if n != "free" and n.startswith(text.lower())]
    if not names:
        raise gdb.GdbError("info green-threads: unknown state %r (parked, runnable, "
                           "running, exited)" % text)
    return {k for k, v in abi.STATE_NAMES.items() if v in names}


def name_matcher(pattern):
    if any(c in pattern for c in "*?["):
        return lambda name: fnmatch.fnmatchcase(name, pattern)
    return lambda name: pattern in name


def select(snap, opts):
    """The threads matching the -s/-l/-n/-w filters of opts, by id."""
    threads = snap.threads
    if "state" in opts:
        states = opts["state"]
        threads = [t for t in threads if t.state in states]
    if "location" in opts:
        pat = opts["location"]
        match = name_matcher(pat)
        locs = {i for i in snap.locations if match(fmt.location_text(snap, i))}
        threads = [t for t in threads if t.state == PARKED and t.location in locs]
    if "name" in opts:
        match = name_matcher(opts["name"])
        threads = [t for t in threads if match(t.name)]
    if "min_wait" in opts:
        w = opts["min_wait"]
        now = snap.now
        threads = [t for t in threads if (fmt.waited(t, now) or -1) >= w]
    return sorted(threads, key=lambda t: t.id)


def describe_filters(argv):
    return " ".join(argv)


def summary(snap, threads=None):
    """`100,001 green threads: 100,000 parked, 1 running` (of threads, or all)."""
    threads = snap.threads if threads is None else threads
    by = {}
    for t in threads:
        by[t.state] = by.get(t.state, 0) + 1
    parts = ["%s %s" % (fmt.count(by[s]), abi.STATE_NAMES[s])
             for s in sorted(by, key=lambda s: -by[s])]
    return "%s green threads: %s" % (fmt.count(len(threads)), ", ".join(parts) or "none")


def row(snap, t):
    now = snap.now
    loc = fmt.location_text(snap, t.location) if t.state == PARKED else "-"
    return {
        "id": t.id,
        "name": t.name,
        "state": abi.STATE_NAMES[t.state],
        "location": loc,
        "wait": fmt.wait_text(t, now),
        "waited_ns": fmt.waited(t, now),
        "unstacked": stacks.unstacked(t),
        "stack_live": stacks.live_bytes(t),
        "stack_reserved": t.stack_hi - t.stack_lo,
        "address": t.addr,
    }


class InfoGreenThreads(gdb.Command):
    """List green threads: info green-threads [-s STATE] [-l LOCATION] [-n NAME] [-w MIN_WAIT] [--limit N] [--json]

A summary line (threads by state), then one row per thread: id, name,
state, location (the call site it is parked at: function file:line),
what it waits on (fd 12 read, mutex 0x..., sleep 1.2s left, chan 0x...
recv, join #77), how long it has waited, and live/reserved stack bytes.

  -s STATE      parked, runnable, running or exited (a prefix will do)
  -l LOCATION   location text contains LOCATION (or matches it as a glob)
  -n NAME       thread name contains NAME (or matches it as a glob)
  -w MIN_WAIT   parked at least this long (1.5s, 200ms, 30us)
  --limit N     print N rows (default: `show green-threads limit`; 0: all)
  --json        one JSON object: summary, threads, more"""

    OPTIONS = {"-s": ("state", state_filter), "-l": ("location", str),
               "-n": ("name", str), "-w": ("min_wait", fmt.parse_duration),
               "--limit": ("limit", args.count)}

    def __init__(self):
        super().__init__("info green-threads", gdb.COMMAND_STATUS)

    def invoke(self, arg, from_tty):
        argv = args.split(arg)
        opts, pos = args.parse("info green-threads", argv, self.OPTIONS,
                               {"--json": "json"})
        if pos:
            raise gdb.GdbError("info green-threads: unexpected %r (filters are "
                               "-s, -l, -n, -w)" % pos[0])
        snap = registry.snapshot()
        threads = select(snap, opts)
        filtered = any(k in opts for k in ("state", "location", "name", "min_wait"))
        if filtered and not threads:
            raise gdb.GdbError("info green-threads: no green thread matches %s "
                               "(of %s threads)" % (describe_filters(argv),
                                                    fmt.count(len(snap.threads))))
        limit = opts.get("limit", params.limit())
        shown = threads if not limit else threads[:limit]
        more = len(threads) - len(shown)
        note = snap.damage_note()
        if opts.get("json"):
            out = {"summary": {abi.STATE_NAMES[s]: 0 for s in abi.STATE_NAMES if s},
                   "total": len(snap.threads), "matched": len(threads),
                   "threads": [row(snap, t) for t in shown], "more": more,
                   "skipped": snap.skipped, "in_flux": snap.in_flux}
            for t in snap.threads:
                out["summary"][abi.STATE_NAMES[t.state]] += 1
            gdb.write(json.dumps(out) + "\n")
            return
        lines = [summary(snap)]
        if filtered:
            lines.append("matching %s: %s" % (describe_filters(argv), fmt.count(len(threads))))
        rows = [row(snap, t) for t in shown]
        wname = max([4] + [len(r["name"]) for r in rows])
        wloc = max([8] + [len(r["location"]) for r in rows])
        wwait = max([10] + [len(r["wait"]) for r in rows])
        lines.append("%8s  %-*s  %-8s  %-*s  %-*s  %8s  %s" % (
            "ID", wname, "NAME", "STATE", wloc, "LOCATION", wwait, "WAITING ON",
            "WAITED", "STACK"))
        for r in rows:
            lines.append("%8d  %-*s  %-8s  %-*s  %-*s  %8s  %s/%s" % (
                r["id"], wname, r["name"], r["state"], wloc, r["location"], wwait,
                r["wait"] or "-", fmt.duration(r["waited_ns"]) if r["waited_ns"] is not None else "-",
                fmt.size(r["stack_live"]), fmt.size(r["stack_reserved"])))
        if more:
            lines.append("... %s more: --limit N or a filter" % fmt.count(more))
        if note:
            lines.append(note)
        gdb.write("\n".join(lines) + "\n")


def register():
    registry.connect_events()
    from . import symbols
    symbols.connect_events()
    InfoGreenThreads()
