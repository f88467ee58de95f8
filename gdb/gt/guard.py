"""One line for every failure at the extension's entry points.

GDB prints an exception escaping a command as two lines ("Python
Exception <class 'gdb.error'>: No registers." then "Error occurred in
Python: ..."), and one escaping an unwinder or a frame filter on every
frame it touches.  What the extension reads is a program that may have
crashed, or been attacked, so GDB's errors (no registers, PC not
available, memory that cannot be read) and Python's (a struct that does
not unpack, an integer too big for an address, memory exhausted by a
size read from the target) are expected, not bugs to show a traceback
for.  Each entry point turns them into the single line GDB's own
commands give (gdb.GdbError): the command, what failed, what to do.
"""
import functools

import gdb

from .text import text_safe

NO_PROCESS_FIX = "run the program, attach to it, or load a core (`core-file FILE`)"
# GDB's words when there is no process or core to take registers from.
_NO_REGISTERS = ("No registers", "No frame selected", "No stack",
                 "The program has no registers now", "No thread selected")


def message(name, e):
    """The one line that names command `name`, the failure e and the fix."""
    text = text_safe(str(e).strip()).rstrip(".") or type(e).__name__
    if isinstance(e, gdb.error):        # gdb.MemoryError too
        if text.startswith(_NO_REGISTERS):
            return "%s: %s: %s" % (name, text, NO_PROCESS_FIX)
        return ("%s: %s: the program's registers or memory there cannot be read "
                "(a damaged registry or stack?)" % (name, text))
    if isinstance(e, MemoryError):
        return ("%s: out of memory: the registry is damaged (it states sizes "
                "past any real one)" % name)
    return "%s: registry damaged: %s (%s)" % (name, text, type(e).__name__)


def command(name):
    """Decorates a gdb.Command's invoke: any error but gdb.GdbError (a
    message already) and Ctrl-C becomes one gdb.GdbError line."""
    def wrap(invoke):
        @functools.wraps(invoke)
        def guarded(self, arg, from_tty):
            try:
                return invoke(self, arg, from_tty)
            except (gdb.GdbError, KeyboardInterrupt):
                raise
            except Exception as e:  # noqa: BLE001  (see the module's note)
                raise gdb.GdbError(message(name, e)) from None
        return guarded
    return wrap


def note(name, e):
    """Writes message(name, e) as one line where no command can raise it
    (an unwinder, a frame filter)."""
    gdb.write(message(name, e) + "\n", gdb.STDERR)
