"""`info green-deadlocks`: every cycle of the wait-for graph.

A thread parked on a mutex waits for its owner, one parked in a join for
the joined thread (blockers.py); a cycle of such waits never ends by
itself, however busy the rest of the program is.  Each cycle is printed
from its member with the lowest id, in wait order, as every gt reader
prints it.
"""

import gdb

from . import args, blockers, fmt, guard, registry
from .complete import completer


class InfoGreenDeadlocks(gdb.Command):
    """Deadlock cycles among green threads: info green-deadlocks [--json]

Builds the wait-for graph (a thread parked on a mutex waits for its
owner, one parked in gt_join for the joined thread) and prints every
cycle in it:

  deadlock: cycle of 2 threads
    thread 53 "a" at cycle_second (app.c:119) waits for mutex 0x... held by thread 54 "b"
    thread 54 "b" at cycle_second (app.c:119) waits for mutex 0x... held by thread 53 "a"

each from its member with the lowest id, in wait order; `no deadlock`
when there is none.  Threads held up by a cycle but in none of it (they
wait on a member) are not members: `info green-threads` names who holds
each of them up.  --json: {"deadlocks": [{"threads": [{id, name,
location, waits_for: {kind, object}, held_by}]}], "threads_in_deadlock"}."""

    complete = completer(options=("--json",))

    def __init__(self):
        super().__init__("info green-deadlocks", gdb.COMMAND_STATUS)

    @guard.command("info green-deadlocks")
    def invoke(self, arg, from_tty):
        opts, pos = args.parse("info green-deadlocks", args.split(arg), {},
                               {"--json": "json"})
        if pos:
            raise gdb.GdbError("info green-deadlocks: unexpected %r (only --json)" % pos[0])
        snap = registry.snapshot()
        who = blockers.analysis(snap)
        if opts.get("json"):
            gdb.write(fmt.json_document({"deadlocks": who.deadlocks_json(),
                                         "threads_in_deadlock": who.threads_in_deadlock()}))
            return
        lines = who.deadlock_lines() or ["no deadlock"]
        note = snap.damage_note()
        if note:
            lines.append(note)
        gdb.write("\n".join(lines) + "\n")


def register():
    InfoGreenDeadlocks()
