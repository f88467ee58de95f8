"""gt-core --compact: the green threads' minidump.

From a compact core of known_stacks, gt-stacks gives the groups and
backtraces the live process gives (and the fixture knows), gt-top the
same threads with what a compact core cannot know (touched, dead,
resident) shown as unknown, GDB the same backtraces and locals as from a
full core; gt-waste refuses it.  What compact leaves out is checked too:
the stack the diver threads wrote and returned from (dead stack, pages of
a pattern only dive() writes) is in the live process and not in the core.
"""
import re
import time

import pytest

import core_util as cu

# dive() in known_stacks.c writes 1 to every eighth byte of its 16 KiB
# buffer on a fresh stack: whole pages of this, and nothing else does.
DIVE_PAGE = bytes([1, 0, 0, 0, 0, 0, 0, 0]) * (cu.PAGE // 8)


@pytest.mark.parametrize("guard", cu.GUARDS)
def test_compact_core_gives_the_same_stacks(guard, targets, tmp_path):
    t = targets(cu.known_target, guard)
    stacks, top, live_t, _ = cu.live_reads(t.pid)
    pages = cu.live_pages(t.pid)
    dead = [a for a, data in pages.items() if data == DIVE_PAGE]
    assert len(dead) >= 2 * t.counts["diver"], len(dead)  # 3+ per diver
    full, compact = tmp_path / "core.full", tmp_path / "core.compact"
    cu.captured(t.pid, full)
    w0 = time.time_ns()
    s, t0, t1 = cu.captured(t.pid, compact, "--compact")
    w1 = time.time_ns()

    assert s["file"] == str(compact) and s["mode"] == "compact" and not s["nostop"]
    assert s["green"] == 1 + sum(t.counts.values())
    assert cu.size_matches(s["disk"], cu.du(compact)), (s["disk"], cu.du(compact))
    assert cu.du(compact) < cu.du(full), (cu.du(compact), cu.du(full))
    c = cu.Core(str(compact))
    try:
        cu.check_notes(c, t, s, t0, t1, w0, w1, flags=cu.CAPTURE_COMPACT)
        kept = [hex(a) for a in dead if c.read(a, cu.PAGE) not in (None, bytes(cu.PAGE))]
        assert not kept, "dead stack in the compact core: %s" % kept
    finally:
        c.close()
    f = cu.Core(str(full))
    try:
        assert all(f.read(a, cu.PAGE) == DIVE_PAGE for a in dead)
    finally:
        f.close()

    core_stacks = cu.reader_json(cu.GT_STACKS, compact)
    assert cu.groups_of(core_stacks) == cu.groups_of(stacks)
    cu.check_known_groups(core_stacks, t.counts)
    assert core_stacks["capture"]["compact"] is True
    core_top = cu.reader_json(cu.GT_TOP, compact, "--view", "threads")
    assert cu.top_threads(core_top, compact=True) == cu.top_threads(top, compact=True)
    for r in core_top["threads_list"]:
        assert [r["stack"][k] for k in ("touched", "dead", "resident")] == [None] * 3, r
    cu.check_ages(core_top, top, live_t, t, t0, t1)
    # Text: the unknown measures are "-", never a number read from nothing.
    rc, out, err = cu.run([cu.GT_TOP, "-b", "--view", "threads", "--core", compact])
    assert rc == 0, err
    rows = [l for l in out.splitlines() if l.strip().split(" ", 1)[0].isdigit()]
    # ... LIVE TOUCHED RESERVED: "1.4 KiB        -    64 KiB"
    assert len(rows) == s["green"] and all(re.search(r"B +- +64 KiB$", l) for l in rows), out

    rc, out, err = cu.run([cu.GT_WASTE, "--core", compact])
    assert rc == 1 and out == "", (rc, out, err)
    line = cu.one_line(err)
    assert line.startswith("gt-waste: ") and "compact" in line and "full core" in line, line
    rc, _, err = cu.run([cu.GT_WASTE, "--core", full])
    assert rc == 0, err


@pytest.mark.parametrize("guard", cu.GUARDS)
def test_compact_core_in_gdb(guard, targets, tmp_path):
    t = targets(cu.green_target, guard)
    core = tmp_path / "core.green"
    s, _, _ = cu.captured(t.pid, core, "-c")
    assert s["mode"] == "compact"
    cu.check_gdb(cu.gdb([cu.GREEN, core], cu.GDB_COMMANDS), t)
