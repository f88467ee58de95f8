"""Selecting green threads behaves as GDB users expect of a selection:
a switch to a real thread ends it."""
import re

from test_gdb import at_breakpoint, ids_of


def test_thread_command_ends_the_green_selection():
    sleeper = ids_of("sleeper")[0]
    out = at_breakpoint(["green-thread %d" % sleeper, "bt", "thread 1", "bt",
                         "green-thread"])
    before, after = out.split("[green thread %d is no longer selected]" % sleeper)
    assert " in sleep_deep (" in before, out
    # After `thread 1` the OS thread's own frames: #0 is the breakpoint's.
    assert re.search(r"^#0  ready_point \(\) at ", after, re.M), out
    assert "sleep_deep" not in after, out
    assert "No green thread selected: frames are the OS thread's own." in after, out
