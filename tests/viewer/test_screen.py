"""gt-top's screen driven through tmux: views, sort, filter, drill-down,
help, resize, quit, the target killed while watched."""
import subprocess
import time

import pytest

from conftest import GT_TOP, Pipeline, where

SESSION = "gt-top-test"


def tmux(*args):
    return subprocess.run(["tmux", "-L", SESSION] + list(args), capture_output=True,
                          text=True, timeout=10)


def screen():
    return tmux("capture-pane", "-p", "-t", SESSION).stdout


def wait_for(text, timeout=5.0):
    end = time.time() + timeout
    while time.time() < end:
        s = screen()
        if text in s:
            return s
        time.sleep(0.1)
    raise AssertionError("%r never appeared:\n%s" % (text, screen()))


def keys(*k):
    tmux("send-keys", "-t", SESSION, *k)


@pytest.fixture
def session():
    p = Pipeline(4, 3)
    tmux("kill-server")
    tmux("new-session", "-d", "-s", SESSION, "-x", "80", "-y", "24",
         "%s -d 0.3 -p %d; echo gt-top-exited $?; sleep 30" % (GT_TOP, p.pid))
    wait_for("gt-top - process %d" % p.pid)
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
    wait_for("Functions holding live stack")


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
    s = wait_for("view: location")
    assert "3 threads waiting" in s
    assert "idler_main (pipeline.c" in s
    keys("Escape")
    wait_for("view: locations")


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
