"""gt: GDB commands for the green threads of a gt program.

One module per subject: abi (constants from registry.h), target (finding
and reading the registry), registry (bulk decoding), symbols (pc ->
function, file:line), stacks (frame-pointer walks over bulk-read stacks),
fmt (units), blockers (who holds up whom, deadlock cycles, the running
thread), and the commands: threads, locations, deadlocks, select (the
unwinder behind `green-thread`), apply, backtrace, stackuse, gcore
(`green-gcore`, through gt-core), params.
"""

_registered = False


def register():
    """Registers every command, the unwinder and the event hooks once."""
    global _registered
    if _registered:
        return
    _registered = True
    from . import (params, threads, locations, deadlocks, select, apply, backtrace,
                   stackuse, gcore)
    for m in (params, threads, locations, deadlocks, select, apply, backtrace, stackuse,
              gcore):
        m.register()
