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


def test_selection_is_the_location_frame():
    """`green-thread N` selects the program's call site, so `info locals`
    shows the program's variables at once; the runtime's frames are `down`."""
    sleeper = ids_of("sleeper")[0]
    out = at_breakpoint(["green-thread %d" % sleeper, "info locals", "frame",
                         "down", "info frame"])
    sel = out.split("[Switching to green thread %d" % sleeper, 1)[1]
    first = re.search(r"^#(\d+)\s+0x[0-9a-f]+ in (\w+) \(", sel, re.M)
    assert first.group(2) == "sleep_deep", out
    assert re.search(r"^marker = 4711003$", sel, re.M), out
    # down goes to the runtime: gt_sleep_ns, one level in.
    assert re.search(r"^#%d\s+0x[0-9a-f]+ in gt_sleep_ns \(" % (int(first.group(1)) - 1),
                     sel, re.M), out


def apply_lines(out):
    """The output after the breakpoint's own lines, before the kill."""
    return out.split("hit Breakpoint 1", 1)[1].split("Kill the program", 1)[0].splitlines()[2:]


def test_apply_silent_quiet_continue():
    sleepers = ids_of("sleeper")
    # -s: only threads where `p depth` works (the sleepers), no headers for
    # the rest and no errors.
    out = at_breakpoint(["green-thread apply all -s p depth"])
    lines = [l for l in apply_lines(out) if l.strip()]
    heads = [l for l in lines if l.startswith("Green thread ")]
    assert heads == ["Green thread %d (sleeper):" % i for i in sleepers], out
    assert len([l for l in lines if re.fullmatch(r"\$\d+ = 3", l)]) == len(sleepers), out
    assert "No symbol" not in out, out
    # -q: no headers at all.
    out = at_breakpoint(["green-thread apply %d-%d -q p depth" % (sleepers[0], sleepers[-1])])
    lines = [l for l in apply_lines(out) if l.strip()]
    assert lines == ["$%d = 3" % (i + 1) for i in range(len(sleepers))], out
    # -c: every thread's error printed, the command goes on.
    lockers = ids_of("locker")
    out = at_breakpoint(["green-thread apply %d %d -c p depth" % (lockers[0], sleepers[0]),
                         "print 99"])
    assert out.count('No symbol "depth" in current context.') == 1, out
    assert re.search(r"^\$1 = 3$", out, re.M), out
    # Without -c or -s the first error stops it, as in thread apply.
    out = at_breakpoint(["green-thread apply %d %d p depth" % (lockers[0], sleepers[0])])
    assert "Green thread %d (sleeper)" % sleepers[0] not in out, out


def test_apply_range_skips_exited_and_unknown_ids():
    last = ids_of("joiner")[0]
    out = at_breakpoint(["green-thread apply %d-%d -q print 7" % (last - 1, last + 3)])
    assert ("green-thread apply: skipping threads %d-%d (exited or no such thread;"
            % (last + 1, last + 3)) in out, out
    assert len(re.findall(r"^\$\d+ = 7$", out, re.M)) == 2, out


def test_apply_unknown_flag_is_one_error():
    out = at_breakpoint(["green-thread apply all -x p 1"])
    assert out.count("green-thread apply: unknown flag -x") == 1, out
