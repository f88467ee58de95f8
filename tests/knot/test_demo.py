"""make demo: Knot under load, watched by gt-top (examples/demo.sh).

Knot runs two workers (knot -w 2); gt-top watches both as one.  Without
a terminal the demo prints three batch snapshots of their summed
locations; on a terminal (here tmux) it runs gt-top until 'q' or Ctrl-C.  Either way
Knot and the load generator must be gone afterwards.  The ground truth is
the load the demo announces on its first line: how many slow readers (they
wait in Knot's write), how many idle keep-alive connections (they wait in
its read, unstacked once idle for a moment), and that each worker has
exactly one accept loop and one signal thread.
"""
import os
import re
import shlex
import subprocess
import time

import pytest

from conftest import KNOT, LOADGEN, ROOT

# KNOT is BUILD/examples/knot/knot; the demo must use the same tree.
BUILD = os.path.dirname(os.path.dirname(os.path.dirname(KNOT)))
GT_TOP = os.environ.get("GT_TOP", os.path.join(BUILD, "bin/gt-top"))
DEMO = os.path.join(ROOT, "examples/demo.sh")

ANNOUNCE = re.compile(
    r"^demo: Knot, 2 workers \(pids (\d+) (\d+); supervisor pid (\d+)\), "
    r"on http://127\.0\.0\.1:(\d+)/ serving \S+; "
    r"load generator \(pid (\d+)\): (\d+) fast clients, (\d+) slow readers, "
    r"(\d+) idle keep-alive, (\d+) new connections every \d+ s\n"
    r"demo: gt-top shows the 2 workers as one \(gt-top -p (\d+),(\d+)\)", re.M)
# A row of the locations view: WAITING first, the location last.
# A location row: its count, then its label, the call site first and its
# callers after " < ".
LOCATION_ROW = re.compile(r"^\s*([\d,]+)\s+.*?\s(\w+) \(([\w.]+:\d+)\)(?: < .*)?$")


def running(pid):
    """True while pid is a live process (a zombie has stopped running)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            return not re.search(r"^State:\s+Z", f.read(), re.M)
    except FileNotFoundError:
        return False


def announced(text):
    m = ANNOUNCE.search(text)
    assert m, "no announcement line in:\n" + text
    worker1, worker2, knot, port, loadgen, fast, slow, idle, burst, top1, top2 = map(
        int, m.groups())
    assert (top1, top2) == (worker1, worker2)
    return dict(knot=knot, workers=(worker1, worker2), port=port, loadgen=loadgen,
                fast=fast, slow=slow, idle=idle, burst=burst)


def snapshots(text):
    """Each snapshot's waiting threads, summed per function (a function can
    hold several locations: the same call site reached from other callers)."""
    parts = re.split(r"^gt-top - 2 processes: %d \(knot\), %d \(knot\).*$"
                     % announced(text)["workers"], text, flags=re.M)[1:]
    result = []
    for part in parts:
        waiting = {}
        # The summed table only, not the split by process after it.
        for line in part.split("\nBy process:")[0].splitlines():
            m = LOCATION_ROW.match(line)
            if m:
                n = int(m.group(1).replace(",", ""))
                waiting[m.group(2)] = waiting.get(m.group(2), 0) + n
        result.append(waiting)
    return result


def make_env():
    # Run by make test, this make must not inherit the outer one's jobserver.
    env = dict(os.environ)
    for name in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
        env.pop(name, None)
    return env


def test_make_demo_without_a_terminal():
    build = os.path.relpath(BUILD, ROOT) if BUILD.startswith(ROOT + os.sep) else BUILD
    r = subprocess.run(["make", "--no-print-directory", "-C", ROOT, "demo", "BUILD=" + build],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=120, env=make_env())
    assert r.returncode == 0, r.stdout + r.stderr
    load = announced(r.stdout)
    assert load["slow"] > 0 and load["idle"] >= 100 and load["fast"] > 0 and load["burst"] > 0

    snaps = snapshots(r.stdout)
    assert len(snaps) == 3, r.stdout
    for waiting in snaps:
        # One accept loop a worker: waiting, or (caught mid-burst) running.
        assert waiting.get("listener_main") in (0, 1, 2), waiting
        assert waiting.get("wait_for_signal") == 2, waiting     # the "signals" threads
        # Slow readers are the only clients whose responses outgrow a
        # socket buffer: every thread waiting in write serves one of them.
        assert 0 < waiting.get("conn_write_all", 0) <= load["slow"], waiting
        # Idle, fast and burst clients between requests wait in read: for
        # a moment with their stacks (conn_wait_readable), then without
        # (wait_idle's unstacked wait).
        readers = waiting.get("conn_wait_readable", 0) + waiting.get("wait_idle", 0)
        assert 0 < readers <= load["idle"] + load["fast"] + load["burst"] + load["slow"], waiting
    assert any(waiting["listener_main"] >= 1 for waiting in snaps), snaps
    # By the last snapshot most idle keep-alive connections are open, and
    # have been idle long enough to wait unstacked, in one worker or the
    # other (the kernel hashes each connection to one): the sum over both
    # holds at least half of them.
    assert snaps[-1].get("wait_idle", 0) >= load["idle"] // 2, snaps[-1]

    assert r.stdout.rstrip().endswith("demo: stopped the load and Knot; their logs are in "
                                      + os.path.join(build, "demo"))
    for name, pid in [("knot", load["knot"]), ("loadgen", load["loadgen"])] + [
            ("knot worker", pid) for pid in load["workers"]]:
        assert not running(pid), "%s (pid %d) still runs" % (name, pid)


def tmux(*args):
    return subprocess.run(["tmux", "-L", "gt-demo-test"] + list(args), capture_output=True,
                          text=True, timeout=10)


def wait_for_screen(text, timeout):
    end = time.time() + timeout
    while time.time() < end:
        screen = tmux("capture-pane", "-p", "-t", "demo").stdout
        if text in screen:
            return screen
        time.sleep(0.2)
    raise AssertionError("%r never appeared:\n%s" % (text, screen))


@pytest.mark.parametrize("key,status", [("q", 0), ("C-c", 130)])
def test_leaving_gt_top_stops_knot_and_the_load(tmp_path, key, status):
    run = str(tmp_path / "demo")
    tmux("kill-server")
    tmux("new-session", "-d", "-s", "demo", "-x", "100", "-y", "30",
         "sh %s; echo demo-exited $?; sleep 30"
         % " ".join(map(shlex.quote, (DEMO, KNOT, LOADGEN, GT_TOP, run))))
    try:
        screen = wait_for_screen("conn_write_all (conn_io.c", 20)
        assert "listener_main (listener.c" in screen
        with open(os.path.join(run, "knot.pid")) as f:
            knot = int(f.read())
        with open(os.path.join(run, "loadgen.pid")) as f:
            loadgen = int(f.read())
        # gt-top runs in Knot's parent process (see demo.sh).
        with open("/proc/%d/status" % knot) as f:
            parent = int(re.search(r"^PPid:\s+(\d+)", f.read(), re.M).group(1))
        with open("/proc/%d/comm" % parent) as f:
            assert f.read().strip() == "gt-top"
        with open(os.path.join(run, "knot.log")) as f:
            workers = [int(p) for p in re.findall(r"^knot: worker \d+ started: pid (\d+)$",
                                                  f.read(), re.M)]
        assert len(workers) == 2
        assert running(knot) and running(loadgen) and all(map(running, workers))
        tmux("send-keys", "-t", "demo", key)
        screen = wait_for_screen("demo-exited", 30)
        assert "demo-exited %d" % status in screen, screen
        if status == 0:
            assert "demo: stopped the load and Knot" in screen, screen
        assert not running(knot) and not running(loadgen)
        assert not any(map(running, workers))
    finally:
        tmux("kill-server")


@pytest.mark.parametrize("which,message", [
    ("knot", "demo: Knot did not start; its log ("),
    ("loadgen", "demo: the load generator stopped at once; its log ("),
])
def test_a_program_that_fails_at_once_is_reported(tmp_path, which, message):
    fake = tmp_path / which
    fake.write_text("#!/bin/sh\necho '%s: made-up failure' >&2\nexit 1\n" % which)
    fake.chmod(0o755)
    programs = {"knot": KNOT, "loadgen": LOADGEN}
    programs[which] = str(fake)
    run = str(tmp_path / "demo")
    r = subprocess.run(["sh", DEMO, programs["knot"], programs["loadgen"], GT_TOP, run],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert r.stderr.startswith(message), r.stderr
    assert "%s: made-up failure" % which in r.stderr
    assert "gt-top" not in r.stdout
    # A Knot that did start is stopped on this path too.
    with open(os.path.join(run, "knot.pid")) as f:
        assert not running(int(f.read()))


def test_missing_program_names_the_fix(tmp_path):
    missing = str(tmp_path / "no-such-knot")
    r = subprocess.run(["sh", DEMO, missing, LOADGEN, GT_TOP, str(tmp_path / "demo")],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert r.stderr == ("demo: %s is missing or not executable: run 'make demo', "
                        "which builds it\n" % missing)
