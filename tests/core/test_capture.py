"""Full cores of a live gt program under every guard policy.

known_stacks.c knows how many threads park where and how deep; the core
must hold every page the process had populated (compared with the live
memory page by page, read through /proc/PID/mem), the notes a kernel core
has (checked against /proc), the capture time (against the test's own
clock readings around the capture), and read back in gt-stacks, gt-top,
gt-waste and GDB as the live process does.
"""
import json
import os
import re
import struct
import time

import pytest

import core_util as cu

SLACK_NS = 1_000_000_000


def live_reads(pid):
    """The readers' view of the live process, and the clock readings
    around the gt-top run (its wait ages are taken in between)."""
    stacks = cu.reader_json(cu.GT_STACKS, pid)
    t0 = time.monotonic_ns()
    top = cu.reader_json(cu.GT_TOP, pid, "--view", "threads")
    t1 = time.monotonic_ns()
    waste = cu.reader_json(cu.GT_WASTE, pid)
    return stacks, top, (t0, t1), waste


def check_ages(core_top, live_top, live_t, target, t0, t1):
    """Every parked thread's age in the core is its age at capture: within
    1 s of what the clocks say (it parked between the fixture's start and
    its ready line; the core was taken between t0 and t1), and within 1 s
    of its live age plus the time from the live read to the capture."""
    assert core_top["now_exact"] is True, core_top["now_exact"]
    live = {r["id"]: r["wait_ns"] for r in live_top["threads_list"]}
    rows = [r for r in core_top["threads_list"] if r["state"] == "parked"]
    assert len(rows) == len(live)
    for r in rows:
        age = r["wait_ns"]
        assert t0 - target.t_ready - SLACK_NS <= age <= t1 - target.t_start + SLACK_NS, \
            (r["id"], age, t0 - target.t_ready, t1 - target.t_start)
        lo = live[r["id"]] + (t0 - live_t[1])
        hi = live[r["id"]] + (t1 - live_t[0])
        assert lo - SLACK_NS <= age <= hi + SLACK_NS, (r["id"], age, lo, hi)


def check_notes(c, target, s, t0, t1, w0, w1, flags):
    """The notes against /proc and the clocks: one NT_PRSTATUS per kernel
    thread, main first, its registers where /proc/PID/syscall says the
    thread sleeps, floating-point state for each, NT_PRPSINFO, NT_AUXV
    byte for byte, NT_FILE naming the program, and the capture note."""
    pid = target.pid
    tids = c.prstatus_tids()
    assert tids[0] == pid and sorted(tids) == sorted(cu.tasks(pid)), tids
    assert s["kernel"] == len(tids)
    if not flags & cu.CAPTURE_NO_FPREGS:
        assert len(c.notes_of(b"CORE", cu.NT_PRFPREG)) == len(tids)
        assert len(c.notes_of(b"LINUX", cu.NT_X86_XSTATE)) == len(tids)
    ps = c.notes_of(b"CORE", cu.NT_PRPSINFO)
    assert len(ps) == 1
    assert struct.unpack_from("<i", ps[0], 24)[0] == pid
    with open("/proc/%d/comm" % pid, "rb") as f:
        assert ps[0][40:56].rstrip(b"\0") == f.read().strip()
    with open("/proc/%d/auxv" % pid, "rb") as f:
        assert c.notes_of(b"CORE", cu.NT_AUXV) == [f.read()]
    paths = c.file_note_paths()
    assert os.path.realpath(target.exe) in paths, paths
    assert any(os.path.basename(p).startswith("libc.so") for p in paths), paths
    note = c.capture_note()
    assert note["version"] == 1 and note["flags"] == flags, note
    assert t0 <= note["monotonic_ns"] <= t1, (note, t0, t1)
    assert w0 <= note["realtime_ns"] <= w1, (note, w0, w1)
    if flags & cu.CAPTURE_NO_STOP:
        assert note["stopped_ns"] == 0
    else:
        assert 0 < note["stopped_ns"] <= t1 - t0
    base = cu.exe_base(pid, target.exe)
    assert note["registry"] == base + cu.symbol_value(target.exe, "gt_registry")
    # The program's ELF header (its build-id's way in), as the kernel keeps.
    with open(target.exe, "rb") as f:
        assert c.read(base, 64) == f.read(64)


def main_thread_at(pid):
    """(pc, sp) of the main kernel thread asleep in a system call."""
    with open("/proc/%d/task/%d/syscall" % (pid, pid)) as f:
        words = f.read().split()
    assert len(words) == 9, words  # NR, six arguments, sp, pc
    return int(words[8], 16), int(words[7], 16)


@pytest.mark.parametrize("guard", cu.GUARDS)
def test_full_core_is_the_live_process(guard, targets, tmp_path):
    t = targets(cu.known_target, guard)
    stacks, top, live_t, waste = live_reads(t.pid)
    cu.check_known_groups(stacks, t.counts)
    regs_before = main_thread_at(t.pid)
    before = cu.live_pages(t.pid)
    core = tmp_path / "core.known"
    w0 = time.time_ns()
    s, t0, t1 = cu.captured(t.pid, core)
    w1 = time.time_ns()
    after = cu.live_pages(t.pid)
    assert main_thread_at(t.pid) == regs_before

    # The line: the facts it states are true.
    assert s["file"] == str(core) and s["mode"] == "full" and not s["nostop"]
    assert s["stopped"] is not None
    assert s["green"] == 1 + sum(t.counts.values())
    assert float(s["stopped"]) <= float(s["total"]) <= (t1 - t0) / 1e9 + 0.001
    assert cu.size_matches(s["disk"], cu.du(core)), (s["disk"], cu.du(core))

    c = cu.Core(str(core))
    try:
        n, bad = cu.compare_memory(c, before, after)
        assert n >= 20 and not bad, "%d of %d pages differ: %s" % (
            len(bad), n, [hex(a) for a in bad[:10]])
        check_notes(c, t, s, t0, t1, w0, w1, flags=0)
        assert c.prstatus_regs()[t.pid] == regs_before
    finally:
        c.close()

    # The readers: the capture time from the note, not the file's mtime
    # (set to 1970 here) nor the reader's own clock.
    os.utime(core, ns=(0, 0))
    core_stacks = cu.reader_json(cu.GT_STACKS, core)
    assert cu.groups_of(core_stacks) == cu.groups_of(stacks)
    cu.check_known_groups(core_stacks, t.counts)
    cap = core_stacks["capture"]
    assert cap["compact"] is False and cap["stopped"] is True, cap
    assert t0 <= cap["monotonic_ns"] <= t1 and w0 <= cap["realtime_ns"] <= w1, cap
    assert stacks.get("capture") is None
    core_top = cu.reader_json(cu.GT_TOP, core, "--view", "threads")
    assert cu.top_threads(core_top) == cu.top_threads(top)
    check_ages(core_top, top, live_t, t, t0, t1)
    core_waste = cu.reader_json(cu.GT_WASTE, core)
    for k in ("reserved", "touched", "live", "dead", "unused"):
        assert core_waste["totals"][k] == waste["totals"][k], (k, core_waste["totals"], waste["totals"])
    assert [(x["class"], x["threads"], x["touched"], x["live"]) for x in core_waste["classes"]] == \
        [(x["class"], x["threads"], x["touched"], x["live"]) for x in waste["classes"]]
    # And the target goes on as before.
    assert cu.proc_state(t.pid) == "S" and cu.tracer_of(t.pid) == 0
    assert cu.reader_json(cu.GT_STACKS, t.pid)["threads"] == s["green"]


def sections(out):
    """{name: text} of a GDB run whose commands are split by "echo @@NAME"."""
    parts = re.split(r"^@@(\w+)$", out, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


def check_gdb(out, target, n=cu.GREEN_N):
    """GDB on a core of green_fixture: every kernel thread, the main one's
    backtrace down to main, and green thread 3 (a sleeper, three
    sleep_deep frames deep) with its locals."""
    assert "Traceback" not in out and "Python Exception" not in out, out
    sec = sections(out)
    assert set(sec) == {"THREADS", "MAIN", "GREEN", "LIST"}, out
    lwps = {int(x) for x in re.findall(r"LWP (\d+)", sec["THREADS"])}
    assert lwps == set(cu.tasks(target.pid)), out
    funcs = cu.bt_functions(sec["MAIN"])
    assert funcs and "epoll" in funcs[0], sec["MAIN"]
    assert funcs[-3:] == ["gt__poller_poll", "gt_main", "main"] or \
        funcs[-4:-1] == ["gt__poller_poll", "gt_main", "main"], sec["MAIN"]
    green = sec["GREEN"]
    assert "[Switching to green thread 3 (sleeper), parked at sleep_deep (green_fixture.c:" in green
    funcs = cu.bt_functions(green.split("marker =", 1)[0])
    assert funcs.count("sleep_deep") >= 3 and "gt__thread_start" in funcs, green
    assert "Cannot access memory" not in out and "Backtrace stopped" not in green, out
    assert re.search(r"^marker = 4711003$", green, re.M), green
    assert re.search(r"^marker = 4711002$", green, re.M), green
    doc = [json.loads(l) for l in sec["LIST"].splitlines() if l.startswith("{")][-1]
    assert doc["threads"] == 6 * n + 2 == len(doc["threads_list"])
    assert [r["name"] for r in doc["threads_list"]].count("sleeper") == n


GDB_COMMANDS = ["echo @@THREADS\\n", "info threads", "echo @@MAIN\\n", "thread 1", "bt",
                "echo @@GREEN\\n", "green-thread 3", "bt", "frame function sleep_deep",
                "info locals", "up", "info locals",
                "echo @@LIST\\n", "info green-threads --json --limit 0"]


@pytest.mark.parametrize("guard", cu.GUARDS)
def test_full_core_in_gdb(guard, targets, tmp_path):
    t = targets(cu.green_target, guard)
    core = tmp_path / "core.green"
    cu.captured(t.pid, core)
    check_gdb(cu.gdb([cu.GREEN, core], GDB_COMMANDS), t)
