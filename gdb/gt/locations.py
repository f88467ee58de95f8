"""`info green-locations`: the queue at every location.

A location is a call site where threads park (registry.h); the runtime
keeps a queue per location with arrivals and a log2 histogram of completed
waits, which is the event-driven view of the same program: one row per
stage, how many wait there now and how long waits take.
"""
import json

import gdb

from . import abi, args, fmt, registry, symbols

C = abi.C
PARKED = C["GT_STATE_PARKED"]


def percentile(hist, q, most=None):
    """Upper bound (ns) of the log2 bucket holding quantile q, None if empty.

    Bucket b holds waits of [2^b, 2^(b+1)) ns, so the answer is exact to a
    factor of two: good enough to tell microseconds from seconds.  No wait
    was longer than the recorded maximum `most`, so the bound never
    exceeds it.
    """
    total = sum(hist)
    if not total:
        return None
    need = q * total
    run = 0
    for b, n in enumerate(hist):
        run += n
        if run >= need:
            bound = 1 << (b + 1)
            return min(bound, most) if most else bound
    return most or 1 << len(hist)


def rows(snap):
    oldest = {}
    for t in snap.threads:
        if t.state == PARKED and t.location and t.wait_since:
            w = oldest.get(t.location)
            if w is None or t.wait_since < w:
                oldest[t.location] = t.wait_since
    out = []
    for idx in sorted(snap.locations):
        loc = snap.locations[idx]
        where = [symbols.lookup(pc).where() for pc in loc.pcs]
        since = oldest.get(idx)
        out.append({
            "index": idx,
            "location": where[0] if where else "-",
            "callers": where[1:],
            "wait_kind": abi.WAIT_NAMES.get(loc.wait_kind, "?"),
            "waiting": loc.waiting,
            "arrivals": loc.arrivals,
            "completed": loc.completed,
            "p50_ns": percentile(loc.hist, 0.5, loc.max_wait_ns),
            "p99_ns": percentile(loc.hist, 0.99, loc.max_wait_ns),
            "max_ns": loc.max_wait_ns if loc.completed else None,
            "oldest_now_ns": max(0, snap.now - since) if since else None,
        })
    return out


class InfoGreenLocations(gdb.Command):
    """Queues at every location: info green-locations [--json]

One row per location (a call site where threads park, with its caller):
threads waiting there now, arrivals, completed waits, wait p50 / p99 /
max (p50 and p99 are upper bounds of log2 buckets), and the oldest wait
in progress.  Busiest locations first."""

    def __init__(self):
        super().__init__("info green-locations", gdb.COMMAND_STATUS)

    def invoke(self, arg, from_tty):
        opts, pos = args.parse("info green-locations", args.split(arg), {},
                               {"--json": "json"})
        if pos:
            raise gdb.GdbError("info green-locations: unexpected %r" % pos[0])
        snap = registry.snapshot()
        rs = sorted(rows(snap), key=lambda r: (-r["waiting"], -r["arrivals"], r["index"]))
        if opts.get("json"):
            gdb.write(json.dumps({"locations": rs}) + "\n")
            return
        if not rs:
            gdb.write("No locations yet: no green thread has parked.\n")
            return
        d = lambda ns: fmt.duration(ns) if ns is not None else "-"
        names = ["%s%s" % (r["location"], (" <- " + r["callers"][0]) if r["callers"] else "")
                 for r in rs]
        w = max(8, max(len(n) for n in names))
        lines = ["%s locations, %s threads waiting" % (
            fmt.count(len(rs)), fmt.count(sum(r["waiting"] for r in rs))),
            "%-*s  %-9s  %9s  %10s  %8s  %8s  %8s  %10s" % (
                w, "LOCATION", "KIND", "WAITING", "ARRIVALS", "P50", "P99", "MAX", "OLDEST NOW")]
        for n, r in zip(names, rs):
            lines.append("%-*s  %-9s  %9s  %10s  %8s  %8s  %8s  %10s" % (
                w, n, r["wait_kind"], fmt.count(r["waiting"]), fmt.count(r["arrivals"]),
                d(r["p50_ns"]), d(r["p99_ns"]), d(r["max_ns"]), d(r["oldest_now_ns"])))
        note = snap.damage_note()
        if note:
            lines.append(note)
        gdb.write("\n".join(lines) + "\n")


def register():
    InfoGreenLocations()
