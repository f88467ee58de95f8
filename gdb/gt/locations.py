"""`info green-locations`: the queue at every location.

A location is a call site where threads park (registry.h); the runtime
keeps a queue per location with arrivals and a log2 histogram of completed
waits, which is the event-driven view of the same program: one row per
stage, how many wait there now and how long waits take.
"""
import math

import gdb

from . import abi, args, blockers, fmt, guard, registry, threads
from .complete import completer

C = abi.C
PARKED = C["GT_STATE_PARKED"]


def blocked_by_text(entries):
    """`thread 2 (50)`: who holds up a location's waiters, most first;
    `-` for none."""
    if not entries:
        return "-"
    s = ", ".join("thread %d (%s)" % (e["id"], fmt.count(e["waiters"]))
                  for e in entries[:MAX_BLOCKERS])
    if len(entries) > MAX_BLOCKERS:
        s += ", +%d more" % (len(entries) - MAX_BLOCKERS)
    return s


def percentile(hist, q, most):
    """Quantile q of a location's log2 histogram of completed waits, the
    rule every gt reader applies; None if the histogram is empty.

    Bucket b holds waits of [2^b, 2^(b+1)) ns.  The bucket holding rank
    ceil(q * total) gives its upper bound 2^(b+1) - 1, clamped to the
    longest wait recorded (`most`, max_wait_ns): no wait was longer, so a
    quantile is never past the data.  (The rule's floor, 2^b clamped the
    same way, is never above that.)
    """
    total = sum(hist)
    if not total:
        return None
    rank = math.ceil(q * total)
    run = 0
    for b, n in enumerate(hist):
        run += n
        if run >= rank:
            return min((1 << (b + 1)) - 1, most)
    return most


MAX_BLOCKERS = 3    # threads the text's BLOCKED BY column names


def rows(snap):
    """Locations in the JSON vocabulary every gt reader shares (where,
    kind, waiting, arrivals, completed, wait_max_ns, done_p50_ns,
    done_p99_ns), plus oldest_wait_ns: the longest wait in progress, and
    blocked_by: [{id, waiters}] of the threads that hold up the ones
    parked here through a wait-for edge (a mutex's owner, a joined
    thread), most waiters first (gto_location_blockers)."""
    oldest = {}
    col = snap.table.column
    for st, loc, since in zip(col("state"), col("location"), col("wait_since")):
        if st == PARKED and loc and since:
            w = oldest.get(loc)
            if w is None or since < w:
                oldest[loc] = since
    who = blockers.analysis(snap)
    held_up = who.location_blockers()
    ids = col("id")
    out = []
    for idx in sorted(snap.locations):
        loc = snap.locations[idx]
        since = oldest.get(idx)
        most = loc.max_wait_ns or 0
        out.append({
            "index": idx,
            "where": fmt.location_text(snap, idx),
            "kind": abi.WAIT_NAMES.get(loc.wait_kind, "wait %d" % (loc.wait_kind or 0)),
            "waiting": loc.waiting,
            "arrivals": loc.arrivals,
            "completed": loc.completed,
            "wait_max_ns": most,
            "done_p50_ns": percentile(loc.hist, 0.5, most),
            "done_p99_ns": percentile(loc.hist, 0.99, most),
            "oldest_wait_ns": max(0, snap.now - since) if since else None,
            "blocked_by": [{"id": ids[k], "waiters": n} for k, n in held_up.get(idx, ())],
        })
    return out


class InfoGreenLocations(gdb.Command):
    """Queues at every location: info green-locations [--json]

One row per location (a call site where threads park, then its callers,
each with its inline chain): threads waiting there now, arrivals,
completed waits, wait p50 / p99 / max (p50 and p99 are upper bounds of
log2 buckets, never past the max), the oldest wait in progress, and who
holds up the threads waiting there (BLOCKED BY: `thread 2 (50)`, the
owner of the mutex 50 of them wait on, or the thread they join; most
first).  Busiest locations first.  --json: now_exact, uptime_ns,
idle_ns, file_io_calls, file_io_ns, locations [{index, where, kind,
waiting, arrivals, completed, wait_max_ns, done_p50_ns, done_p99_ns,
oldest_wait_ns, blocked_by: [{id, waiters}]}]."""

    complete = completer(options=("--json",))

    def __init__(self):
        super().__init__("info green-locations", gdb.COMMAND_STATUS)

    @guard.command("info green-locations")
    def invoke(self, arg, from_tty):
        opts, pos = args.parse("info green-locations", args.split(arg), {},
                               {"--json": "json"})
        if pos:
            raise gdb.GdbError("info green-locations: unexpected %r" % pos[0])
        snap = registry.snapshot()
        rs = sorted(rows(snap), key=lambda r: (-r["waiting"], -r["arrivals"], r["index"]))
        if opts.get("json"):
            out = threads.process_json(snap)
            out["locations"] = rs
            gdb.write(fmt.json_document(out))
            return
        if not rs:
            gdb.write("No locations yet: no green thread has parked.\n")
            return
        d = fmt.duration
        names = [r["where"] for r in rs]
        w = max(8, max(len(n) for n in names))
        lines = ["%s locations, %s threads waiting" % (
            fmt.count(len(rs)), fmt.count(sum(r["waiting"] for r in rs))),
            "%-*s  %-9s  %9s  %10s  %8s  %8s  %8s  %10s  %s" % (
                w, "LOCATION", "KIND", "WAITING", "ARRIVALS", "P50", "P99", "MAX",
                "OLDEST NOW", "BLOCKED BY")]
        for n, r in zip(names, rs):
            lines.append(("%-*s  %-9s  %9s  %10s  %8s  %8s  %8s  %10s  %s" % (
                w, n, r["kind"], fmt.count(r["waiting"]), fmt.count(r["arrivals"]),
                d(r["done_p50_ns"]), d(r["done_p99_ns"]),
                d(r["wait_max_ns"] if r["completed"] else None),
                fmt.age(r["oldest_wait_ns"], snap.now_exact),
                blocked_by_text(r["blocked_by"]))).rstrip())
        note = snap.damage_note(threads=False)
        if note:
            lines.append(note)
        gdb.write("\n".join(lines) + "\n")


def register():
    InfoGreenLocations()
