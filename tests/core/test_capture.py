"""Full cores of a live gt program under every guard policy.

known_stacks.c knows how many threads park where and how deep; the core
must hold every page the process had populated (compared with the live
memory page by page, read through /proc/PID/mem), the notes a kernel core
has (checked against /proc), the capture time (against the test's own
clock readings around the capture), and read back in gt-stacks, gt-top,
gt-waste and GDB as the live process does.
"""
import os
import time

import pytest

import core_util as cu


@pytest.mark.parametrize("guard", cu.GUARDS)
def test_full_core_is_the_live_process(guard, targets, tmp_path):
    # Without the watchdog's kernel thread (GT_WATCHDOG_MS=0), nothing in
    # the parked target runs: a page equal before and after the capture
    # was so during it.  The watchdog rewrites its own stack and TLS every
    # 25 ms, which a page-exact comparison would catch mid-way.
    t = targets(cu.known_target, guard, env={"GT_WATCHDOG_MS": "0"})
    assert len(cu.tasks(t.pid)) == 1
    stacks, top, live_t, waste = cu.live_reads(t.pid)
    cu.check_known_groups(stacks, t.counts)
    regs_before = cu.main_thread_at(t.pid)
    before = cu.live_pages(t.pid)
    core = tmp_path / "core.known"
    w0 = time.time_ns()
    s, t0, t1 = cu.captured(t.pid, core)
    w1 = time.time_ns()
    after = cu.live_pages(t.pid)
    assert cu.main_thread_at(t.pid) == regs_before

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
        cu.check_notes(c, t, s, t0, t1, w0, w1, flags=0)
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
    cu.check_ages(core_top, top, live_t, t, t0, t1)
    core_waste = cu.reader_json(cu.GT_WASTE, core)
    for k in ("reserved", "touched", "live", "dead", "unused"):
        assert core_waste["totals"][k] == waste["totals"][k], (k, core_waste["totals"], waste["totals"])
    assert [(x["class"], x["threads"], x["touched"], x["live"]) for x in core_waste["classes"]] == \
        [(x["class"], x["threads"], x["touched"], x["live"]) for x in waste["classes"]]
    # And the target goes on as before.
    assert cu.proc_state(t.pid) in ("R", "S") and cu.tracer_of(t.pid) == 0
    assert cu.reader_json(cu.GT_STACKS, t.pid)["threads"] == s["green"]


@pytest.mark.parametrize("guard", cu.GUARDS)
def test_full_core_in_gdb(guard, targets, tmp_path):
    t = targets(cu.green_target, guard)
    core = tmp_path / "core.green"
    cu.captured(t.pid, core)
    cu.check_gdb(cu.gdb([cu.GREEN, core], cu.GDB_COMMANDS), t)


@pytest.mark.parametrize("compact", [False, True])
def test_green_gcore_from_an_attached_gdb(compact, targets, tmp_path):
    """GDB attached to the live program: green-gcore writes the core
    through gt-core --regs-from (GDB holds the process; gt-core never
    stops it itself).  The core holds every stable populated page (full)
    and reads in GDB like a core gt-core took alone; the process is as
    before once GDB detaches."""
    # (No watchdog thread: see test_full_core_is_the_live_process.)
    t = targets(cu.green_target, "madvise", env={"GT_WATCHDOG_MS": "0"})
    before = cu.live_pages(t.pid)
    core = tmp_path / "core.green"
    out = cu.gdb(["-p", t.pid], ["green-gcore %s%s" % (core, " --compact" if compact else ""),
                                 "detach"])
    after = cu.live_pages(t.pid)
    line = [l for l in out.splitlines() if l.startswith("gt-core: wrote ")]
    assert len(line) == 1, out
    s = cu.summary(line[0])
    assert s["tracer"] and s["mode"] == ("compact" if compact else "full"), s["line"]
    assert s["green"] == 6 * cu.GREEN_N + 2 and s["kernel"] == len(cu.tasks(t.pid))
    c = cu.Core(str(core))
    try:
        note = c.capture_note()
        want = cu.CAPTURE_NO_FPREGS | (cu.CAPTURE_COMPACT if compact else 0)
        assert note["flags"] == want and note["stopped_ns"] == 0, note
        assert sorted(c.prstatus_tids()) == sorted(cu.tasks(t.pid))
        if not compact:
            n, bad = cu.compare_memory(c, before, after)
            assert n >= 20 and not bad, [hex(a) for a in bad[:10]]
    finally:
        c.close()
    assert cu.proc_state(t.pid) in ("R", "S") and cu.tracer_of(t.pid) == 0
    cu.check_gdb(cu.gdb([cu.GREEN, core], cu.GDB_COMMANDS), t)
