"""`info green-threads`: a summary line and a table of green threads."""
import fnmatch

import gdb

from . import abi, args, blockers, fmt, guard, params, registry, stacks, symbols
from .complete import completer, filter_options

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
    """Indices (see registry.ThreadTable) of the threads matching the
    -s/-l/-n/-w filters of opts, ordered by id.  Works on columns, so
    the unfiltered case over a million threads is a sort of their ids."""
    col = snap.table.column
    ks = range(len(snap.table))
    if "ids" in opts:
        want, ids = opts["ids"], col("id")
        ks = [k for k in ks if ids[k] in want]
    if "state" in opts:
        states, want = col("state"), opts["state"]
        ks = [k for k in ks if states[k] in want]
    if "location" in opts or "min_wait" in opts:
        states = col("state")
        ks = [k for k in ks if states[k] == PARKED]
    if "location" in opts:
        match = name_matcher(opts["location"])
        locs = {i for i in snap.locations if match(fmt.location_text(snap, i))}
        where = col("location")
        ks = [k for k in ks if where[k] in locs]
    if "name" in opts:
        match = name_matcher(opts["name"])
        names = col("name")
        ks = [k for k in ks if match(registry.name_of(names[k]))]
    if "min_wait" in opts:
        w, now, since = opts["min_wait"], snap.now, col("wait_since")
        ks = [k for k in ks if since[k] and now - since[k] >= w]
    ids = col("id")
    return sorted(ks, key=ids.__getitem__)


def take_ids(command, pos, opts):
    """Positional arguments as thread ids and ranges (`3 5 9-12`, as
    `info threads` takes them) into opts["ids"]."""
    ids = set()
    for tok in pos:
        r = args.id_range(command, tok)
        if r is None:
            raise gdb.GdbError("%s: unexpected %r (thread ids, or the filters "
                               "-s, -l, -n, -w; see `help %s`)" % (command, tok, command))
        ids.update(r)
    if ids:
        opts["ids"] = ids


def describe_filters(argv):
    return " ".join(argv)


def summary(snap):
    """`20 green threads: 19 parked, 1 running; up 3.1s, idle 2.9s, file
    I/O 4 calls 1.2ms`."""
    counts = snap.state_counts()
    n = sum(counts.values())
    parts = ["%s %s" % (fmt.count(c), s)
             for s, c in sorted(counts.items(), key=lambda sc: -sc[1]) if c]
    up = snap.uptime_ns()
    return "%s green threads: %s; up %s, idle %s, file I/O %s calls %s" % (
        fmt.count(n), ", ".join(parts) or "none",
        fmt.age(up, snap.now_exact), fmt.age(snap.idle_ns(), snap.now_exact
                                             or not snap.reg.get("idle_since")),
        fmt.count(snap.reg.get("file_io_calls", 0)),
        fmt.duration(snap.reg.get("file_io_ns", 0)))


def process_json(snap):
    """The top-level quantities every gt reader's JSON carries."""
    return {"now_exact": snap.now_exact, "uptime_ns": snap.uptime_ns(),
            "idle_ns": snap.idle_ns(),
            "file_io_calls": snap.reg.get("file_io_calls", 0),
            "file_io_ns": snap.reg.get("file_io_ns", 0),
            "capture": fmt.capture_json(snap.target.capture())}


def thread_json(snap, t, k):
    """A thread (record t, index k) in the JSON vocabulary every gt reader
    shares.  touched, dead, unused and resident need the stack read
    whole: null here (`info green-stack` measures them)."""
    parked = t.state == PARKED
    who = blockers.analysis(snap)
    return {
        "id": t.id,
        "name": t.name,
        "state": abi.STATE_NAMES[t.state],
        "location": t.location if parked and t.location in snap.locations else 0,
        "wait_kind": fmt.wait_kind(t),
        "wait": fmt.wait_text(t, snap.now),
        "wait_ns": fmt.waited(t, snap.now),
        "block": who.describe(t, k),
        "blocked_by": who.blocked_by_json(k),
        "entry": symbols.lookup(t.entry, is_return=False).func if t.entry else None,
        "run_ns": t.run_ns,
        "switches": t.switches,
        # A running thread's live bytes are not known (its saved sp is
        # stale): null, as every reader says.
        "stack": {"reserved": stacks.reserved_bytes(t),
                  "live": None if t.state == stacks.RUNNING else stacks.live_bytes(t),
                  "touched": None, "dead": None, "unused": None, "resident": None},
        "frames": stacks.frames(snap.target, t),
    }


class InfoGreenThreads(gdb.Command):
    """List green threads: info green-threads [ID...] [-s STATE] [-l LOCATION] [-n NAME] [-w MIN_WAIT] [--limit N] [--json]

A summary line (threads by state; uptime, idle time including the wait
in progress, regular-file I/O); the running thread and how long it has
run without parking or yielding (`hog: thread 91 "spinner" has run 4.2s
without yielding` past the watchdog's threshold or 100 ms, `running:`
below it); `deadlock: N threads in M cycles` if any (info
green-deadlocks); then one row per thread: id, name, state, location
(where it is parked: the call site and its callers, `func (file:line)`
each, joined by ` < `), what it waits on and who holds it up (fd 12
read, sleep 1.2s left, `mutex 0x... held by thread 2 "holder" (parked,
sleep at f (app.c:52)) for 3.2s`, `join thread 77 (running)`,
`chan_recv 0x... (0/4 queued, 2 senders waiting)`), how long it has
waited, and live/reserved stack bytes.  A core gt-core wrote says when
and how under the summary (`core written by gt-core at ... (full; target
stopped 0.096 s)`); its ages are at that time.  In a core that cannot
tell when it was written, ages are lower bounds: `>= 2.1ms`.

  -s STATE      parked, runnable, running or exited (a prefix will do)
  -l LOCATION   location text contains LOCATION (or matches it as a glob)
  -n NAME       thread name contains NAME (or matches it as a glob)
  -w MIN_WAIT   parked at least this long (1.5s, 200ms, 30us)
  --limit N     print N rows (default: `show green-threads limit`; 0: all)
  --json        one JSON object: now_exact, uptime_ns, idle_ns,
                file_io_calls, file_io_ns, capture (a core gt-core
                wrote: when and how; else null), states, threads (the count),
                in_flux, skipped, matched, more, running, watchdog,
                deadlocks, threads_in_deadlock, threads_list (each
                with block and blocked_by)"""

    OPTIONS = {"-s": ("state", state_filter), "-l": ("location", str),
               "-n": ("name", str), "-w": ("min_wait", fmt.parse_duration),
               "--limit": ("limit", args.count)}

    complete = completer(*filter_options(OPTIONS, {"--json": "json"}), ids=True)

    def __init__(self):
        super().__init__("info green-threads", gdb.COMMAND_STATUS)

    @guard.command("info green-threads")
    def invoke(self, arg, from_tty):
        argv = args.split(arg)
        opts, pos = args.parse("info green-threads", argv, self.OPTIONS,
                               {"--json": "json"})
        take_ids("info green-threads", pos, opts)
        snap = registry.snapshot()
        threads = select(snap, opts)
        filtered = any(k in opts for k in ("ids", "state", "location", "name", "min_wait"))
        if filtered and not threads:
            raise gdb.GdbError("info green-threads: no green thread matches %s "
                               "(of %s threads)" % (describe_filters(argv),
                                                    fmt.count(snap.count())))
        limit = opts.get("limit", params.limit())
        ks = threads if not limit else threads[:limit]
        shown = [snap.thread_at(k) for k in ks]
        more = len(threads) - len(shown)
        note = snap.damage_note()
        who = blockers.analysis(snap)
        running = blockers.hog(snap)
        if opts.get("json"):
            out = process_json(snap)
            out.update({"states": snap.state_counts(), "threads": snap.count(),
                        "in_flux": snap.in_flux, "skipped": snap.skipped,
                        "matched": len(threads), "more": more,
                        "running": blockers.running_json(running),
                        "watchdog": blockers.watchdog_json(snap),
                        "deadlocks": who.deadlocks_json(),
                        "threads_in_deadlock": who.threads_in_deadlock(),
                        "threads_list": [thread_json(snap, t, k)
                                         for t, k in zip(shown, ks)]})
            gdb.write(fmt.json_document(out))
            return
        lines = [summary(snap)]
        cap = snap.target.capture()
        if cap is not None:
            lines.append(fmt.capture_line(cap))
        if running is not None:
            lines.append(blockers.hog_line(snap, running))
        if who.cycles:
            lines.append("deadlock: %s in %d cycle%s (info green-deadlocks)" % (
                fmt.count(who.threads_in_deadlock()) + " threads", len(who.cycles),
                "" if len(who.cycles) == 1 else "s"))
        if filtered:
            lines.append("matching %s: %s" % (describe_filters(argv), fmt.count(len(threads))))
        rows = []
        for t, k in zip(shown, ks):
            parked = t.state == PARKED
            rows.append((t.id, t.name, abi.STATE_NAMES[t.state],
                         fmt.location_text(snap, t.location) if parked else "-",
                         who.describe(t, k) or "-",
                         fmt.age(fmt.waited(t, snap.now), snap.now_exact),
                         "%s/%s" % (fmt.size(stacks.live_bytes(t)),
                                    fmt.size(stacks.reserved_bytes(t)))))
        wname = max([4] + [len(r[1]) for r in rows])
        wloc = max([8] + [len(r[3]) for r in rows])
        wwait = max([10] + [len(r[4]) for r in rows])
        wage = max([6] + [len(r[5]) for r in rows])
        fmt_row = "%%8s  %%-%ds  %%-8s  %%-%ds  %%-%ds  %%%ds  %%s" % (wname, wloc, wwait, wage)
        lines.append(fmt_row % ("ID", "NAME", "STATE", "LOCATION", "WAITING ON",
                                "WAITED", "STACK"))
        lines.extend(fmt_row % r for r in rows)
        if more:
            lines.append("... %s more: --limit N or a filter" % fmt.count(more))
        if note:
            lines.append(note)
        gdb.write("\n".join(lines) + "\n")


def register():
    registry.connect_events()
    symbols.connect_events()
    InfoGreenThreads()
