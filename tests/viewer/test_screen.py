"""gt-top's screen driven through tmux: views, sort, filter, drill-down,
help, resize, quit, the target killed while watched."""
import os
import re
import subprocess
import time

import pytest

from conftest import BUILD, GT_TOP, Pipeline, where

# One tmux server per test process: make test runs this suite and its
# ASan twin at once, and a kill-server in one must not end the other's
# screen.
SESSION = "gt-top-test-%d" % os.getpid()


def tmux(*args):
    return subprocess.run(["tmux", "-L", SESSION] + list(args), capture_output=True,
                          text=True, timeout=10)


def screen():
    return tmux("capture-pane", "-p", "-t", SESSION).stdout


def wait_for(text, timeout=20.0):
    end = time.time() + timeout
    while time.time() < end:
        s = screen()
        if text in s:
            return s
        time.sleep(0.1)
    raise AssertionError("%r never appeared:\n%s" % (text, screen()))


def keys(*k):
    tmux("send-keys", "-t", SESSION, *k)


def start(p, cols=80, rows=24, timeout=20.0, args="-d 0.3", wait=True):
    tmux("kill-server")
    tmux("new-session", "-d", "-s", SESSION, "-x", str(cols), "-y", str(rows),
         "%s %s -p %d; echo gt-top-exited $?; sleep 30" % (GT_TOP, args, p.pid))
    if wait:
        wait_for("gt-top - process %d" % p.pid, timeout)


@pytest.fixture
def session():
    p = Pipeline(4, 3)
    start(p)
    yield p
    tmux("kill-server")
    p.stop()


def test_locations_view_default(session):
    s = wait_for("idler_main (pipeline.c")
    row = next(l for l in s.splitlines() if "idler_main (pipeline.c" in l)
    assert row.split()[0] == "3"
    assert "Threads: 8 total" in s


def test_views_sort_filter(session):
    keys("2")
    s = wait_for("view: threads")
    names = [l.split()[1] for l in s.splitlines() if l.strip()[:1].isdigit()
             and len(l.split()) > 2 and l.split()[2] in ("parked", "runnable", "running")]
    assert names.count("looper") == 4 and names.count("idler") == 3
    keys("/")
    keys("idler", "Enter")
    s = wait_for("filter: idler")
    assert "looper" not in s and s.count("idler") >= 3
    keys("4")
    s = wait_for("view: graph")
    assert "stage_a (pipeline.c" in s
    keys("3")
    s = wait_for("Functions holding live stack")
    # The classes and their suggestions fit 80 columns.
    assert "Classes (by entry):" in s
    row = next(l for l in s.splitlines() if l.startswith("idler_main "))
    assert row.split()[1:3] == ["3", "3"] and row.endswith("KiB"), row


def test_sort_reverse(session):
    keys("2")
    wait_for("view: threads")
    keys("r")
    s = wait_for("(id desc)")
    ids = [int(l.split()[0]) for l in s.splitlines() if l.strip()[:1].isdigit()
           and ("parked" in l or "runnable" in l or "running" in l)]
    assert ids == sorted(ids, reverse=True) and len(ids) == 8


def test_drill_down_location_and_back(session):
    keys("/")
    keys("idler_main", "Enter")
    wait_for("filter: idler_main")
    keys("Enter")
    # "view: location" is also the start of "view: locations": wait for
    # what only the drill-down draws.
    s = wait_for("threads waiting")
    assert "view: location " in s
    assert "3 threads waiting" in s
    assert "idler_main (pipeline.c" in s
    keys("Escape")
    wait_for("view: locations")


def test_drill_down_unstacked_thread():
    # tests/tools/unstacked.c: 2 threads "idle" wait in gt_wait_readable_then
    # (no frames, no stack pages) and will start over in idle_restart.
    exe = os.path.join(BUILD, "tests", "tools", "unstacked")
    p = subprocess.Popen([exe, "2", "1"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True)
    try:
        assert p.stdout.readline().startswith("ready ")
        start(p)
        keys("2")
        wait_for("view: threads")
        keys("/")
        keys("idle", "Enter")
        wait_for("filter: idle")
        keys("Enter")
        s = wait_for("(no stack: waits unstacked, starts over in idle_restart)")
        assert re.search(r"^  waiting \S+ on fd \d+ read at idle_wait \(unstacked\.c:\d+\)",
                         s, re.M), s
        assert "#1   gt__ctx_trampoline (switch.S:" in s
        # Nothing live, out of its 64 KiB stack.
        assert re.search(r"^  run \S+, 1 switches, stack live 0 B of 64 KiB$", s, re.M), s
    finally:
        tmux("kill-server")
        p.kill()
        p.wait()


def test_help_and_quit(session):
    keys("h")
    wait_for("gt-top keys")
    keys("x")
    wait_for("view: locations")
    keys("q")
    wait_for("gt-top-exited 0")


def test_resize_small_and_back(session):
    tmux("resize-window", "-t", SESSION, "-x", "40", "-y", "10")
    wait_for("terminal too small")
    tmux("resize-window", "-t", SESSION, "-x", "100", "-y", "30")
    wait_for("view: locations")


def test_target_killed(session):
    session.p.kill()
    session.p.wait()
    s = wait_for("has exited")
    assert "idler_main (pipeline.c" in s
    keys("q")
    wait_for("gt-top-exited 0")


# Threads view columns at 80x24 (fixed widths, tables.c): WAITS ON is
# characters 27-35 of a row, ID the first field.
STATES = ("parked", "runnable", "running")


def thread_rows(s):
    return [l for l in s.splitlines() if l.strip()[:1].isdigit()
            and len(l.split()) > 2 and l.split()[2] in STATES]


def test_sort_picker_marks_the_column(session):
    """s opens the picker; a letter sorts by that column, again reverses;
    the title of the sort column carries ^ or v."""
    keys("2")
    s = wait_for("view: threads")
    assert "ID^" in s
    keys("s")
    s = wait_for("sort by:")
    assert "d=waits_on" in s
    keys("d")
    s = wait_for("(waits_on)")
    assert "WAITS ON^" in s and "ID^" not in s
    rows = thread_rows(s)
    assert len(rows) == 8
    # What the fixture's source says: main reads stdin (fd 0), the loopers
    # sleep, the idlers wait on a channel; a looper caught running waits on
    # nothing and sorts first.
    kinds = [r[27:41].strip() for r in rows]
    parked = [k for k, r in zip(kinds, rows) if r.split()[2] == "parked"]
    assert parked[0] == "fd 0 read" and all(k.startswith("chan_recv 0x")
                                            for k in parked[-3:]), kinds
    assert all(k.startswith("sleep") for k in parked[1:-3]), kinds
    assert kinds.index("fd 0 read") == len(kinds) - len(parked)
    keys("s")
    wait_for("sort by:")
    keys("d")
    s = wait_for("(waits_on desc)")
    assert "WAITS ONv" in s
    assert all(r[27:41].startswith("chan_recv 0x") for r in thread_rows(s)[:3])
    assert [r.split()[1] for r in thread_rows(s)][:3] == ["idler"] * 3
    keys(">")
    s = wait_for("(waited desc)")
    assert "WAITEDv" in s and "WAITS ONv" not in s


def test_locations_sort_mark(session):
    s = wait_for("view: locations")
    assert "WAITINGv" in s
    keys("<")
    s = wait_for("(location desc)")
    assert "LOCATIONv" in s


def test_stack_totals_on_screen(session):
    """Resident and dead stack bytes are left out of the first screen (it
    does not wait for them) and come with a later refresh."""
    end = time.time() + 10
    while time.time() < end:
        line = next((l for l in screen().splitlines() if l.startswith("Stacks: ")), "")
        if line and "resident -" not in line:
            break
        time.sleep(0.2)
    assert "reserved" in line and "resident -" not in line and "dead -" not in line, line


def test_100k_threads_scroll():
    """100,000 threads: the whole list is there, End reaches the last id,
    Home the first, r reverses (the cursor staying on its thread); only
    the screen's rows are drawn."""
    p = Pipeline(0, 100000)
    try:
        start(p, timeout=20)
        keys("2")
        s = wait_for("100001 rows", 20)
        assert thread_rows(s)[0].split()[0] == "1"
        keys("End")
        s = wait_for(" 100001 idler", 10)
        keys("Home")
        wait_for("      1 -", 10)
        keys("r")
        # The cursor stays on its thread, htop's way: thread 1, now last.
        s = wait_for("(id desc)", 10)
        ids = [int(r.split()[0]) for r in thread_rows(s)]
        assert ids[-1] == 1 and ids == list(range(len(ids), 0, -1)), ids
        keys("Home")
        s = wait_for(" 100001 idler", 10)
        ids = [int(r.split()[0]) for r in thread_rows(s)]
        assert ids == list(range(100001, 100001 - len(ids), -1)) and len(ids) > 10
    finally:
        tmux("kill-server")
        p.stop()


def test_touched_on_screen():
    """The Threads view's TOUCHED column fills once the stacks are measured
    (a second after start), as the header's resident and dead do."""
    p = Pipeline(0, 3)
    try:
        start(p, cols=140)
        keys("2")
        wait_for("view: threads")
        end = time.time() + 10
        rows = []
        while time.time() < end:
            rows = [l.split() for l in screen().splitlines() if " idler " in l]
            if len(rows) == 3 and all(r[-3] in ("B", "KiB") for r in rows):
                break
            time.sleep(0.2)
        # ... LIVE TOUCHED RESERVED: "320 B 408 B 64 KiB"
        assert len(rows) == 3 and all(r[-3] in ("B", "KiB")
                                      for r in rows), rows
    finally:
        tmux("kill-server")
        p.stop()
