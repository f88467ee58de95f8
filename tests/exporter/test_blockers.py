"""The series the alerting rules watch, against tests/tools/blockers.c's
ground truth: its two deadlock cycles (5 threads), the 5 waiters its
lock holder holds up, its joiner; then a thread spinning without
yielding, a hog with --full and in the default mode (which reads the
running thread from the registry's header, and every record for the
deadlock gauges and blocked threads apart from its scrapes)."""
import os
import subprocess
import time

from conftest import BUILD, parse, promtool_check_metrics, series
from fixture_lines import marker_lines

BLOCKERS = os.path.join(BUILD, "tests", "tools", "blockers")
SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "blockers.c")
B_LINES = marker_lines(SOURCE)
WAITERS = 5


def one(samples, name, **want):
    found = series(samples, name, **want)
    assert len(found) == 1, (name, want, found)
    return found[0][1]


def test_deadlocks_blocked_threads_and_the_hog(exporter):
    p = subprocess.Popen([BLOCKERS, "-n", "2", "-w", str(WAITERS)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()
        while not line.startswith("truth "):
            assert line, "blockers ended"
            line = p.stdout.readline()
        full, cheap = exporter("--full", "-p", p.pid), exporter("-p", p.pid)
        text = full.metrics()
        promtool_check_metrics(text)
        s = parse(text)
        pid = str(p.pid)
        # cyc2-a/b and cyc3-a/b/c: two cycles, five threads.
        assert one(s, "gt_deadlock_cycles", pid=pid) == "2"
        assert one(s, "gt_deadlocked_threads", pid=pid) == "5"
        lock = "truth_wait_lock (blockers.c:%d)*" % B_LINES["wait_lock"]
        assert one(s, "gt_location_waiting_threads", pid=pid, location=lock) == str(WAITERS)
        assert one(s, "gt_location_blocked_threads", pid=pid, location=lock) == str(WAITERS)
        join = "join_here (blockers.c:%d)*" % B_LINES["join"]
        assert one(s, "gt_location_blocked_threads", pid=pid, location=join) == "1"
        assert one(s, "gt_hog", pid=pid) == "0"
        # The default reads every record for the deadlock gauges and the
        # blocked threads apart from its scrapes (the first time in the
        # first scrape).
        f = parse(cheap.metrics())
        assert one(f, "gt_deadlock_cycles", pid=pid) == "2"
        assert one(f, "gt_deadlocked_threads", pid=pid) == "5"
        assert one(f, "gt_location_blocked_threads", pid=pid, location=lock) == str(WAITERS)
        assert one(f, "gt_location_blocked_threads", pid=pid, location=join) == "1"
        assert one(f, "gt_location_waiting_threads", pid=pid, location=lock) == str(WAITERS)
        assert one(f, "gt_hog", pid=pid) == "0"

        # A thread computing for 30 s without yielding: past the 100 ms
        # threshold, both modes say hog, with a run time past it.
        p.stdin.write("spin 30\n")
        p.stdin.flush()
        line = p.stdout.readline()
        assert line.startswith("spinning "), line
        deadline = time.monotonic() + 25
        for e in (full, cheap):
            while True:
                s = parse(e.metrics())
                if one(s, "gt_hog", pid=pid) == "1":
                    break
                assert time.monotonic() < deadline, s
                time.sleep(0.05)
            assert float(one(s, "gt_running_seconds", pid=pid)) >= 0.1
    finally:
        p.kill()
        p.wait()
