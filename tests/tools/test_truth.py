"""What libgtobserve derives, through gt-stacks, against what waits.c knows:
wait descriptions, state counts, location labels, file I/O, idle time, and
ages in core files (gcore and kernel cores) within a second of the truth."""
import os
import re
import signal
import subprocess
import time

import pytest

from conftest import (GT_STACKS, HERE, Running, exe, gcore, kernel_core, marker_lines,
                      run, run_json, where)

LINES = marker_lines(os.path.join(HERE, "waits.c"))
WAIT_KINDS = {"fd", "poll", "sleep", "mutex", "cond", "join", "chan_send", "chan_recv"}
STATES = {"runnable", "running", "parked", "exited"}
NTHREADS = 8            # 3 conn, sleeper, stage_a, stage_b, joiner, main
FILE_READS = 3          # waits.c reads its program file this many times
SECOND = 1000000000


class Waits(Running):
    """waits.c running with its threads parked.  t0: the clock just before
    it started; facts: what its ready line says (rfd, mutex, sleeper,
    clock)."""

    def __init__(self, *args, cwd=None, env=None):
        self.t0 = time.monotonic_ns()
        super().__init__(exe(name="waits"), args, cwd, env)
        self.facts = dict(kv.split("=") for kv in self.ready[2:])


def start(*args, cwd=None, env=None):
    return Waits(*args, cwd=cwd, env=env)


@pytest.fixture
def waits():
    w = start()
    yield w
    w.stop()


def by_name(doc):
    return {t["name"]: t for t in doc["threads_list"]}


def test_wait_descriptions(waits):
    d = run_json(GT_STACKS, "--all", waits.pid)
    f = waits.facts
    th = by_name(d)
    for i in range(3):
        t = th["conn 127.0.0.1:%d" % (40001 + i)]
        assert (t["wait_kind"], t["wait"]) == ("fd", "fd %s read" % f["rfd"])
    assert th["stage_a"]["wait"] == "mutex %s" % f["mutex"]
    assert th["stage_b"]["wait"] == "mutex %s" % f["mutex"]
    assert th["joiner"]["wait"] == "join thread %s" % f["sleeper"]
    assert th[""]["wait"] == "fd 0 read"
    # 600 s asked, a few gone: "9m5Xs" (minutes and seconds past 100 s).
    m = re.fullmatch(r"sleep 9m(\d\d)s left", th["sleeper"]["wait"])
    assert m and 50 <= int(m.group(1)) <= 59, th["sleeper"]["wait"]
    assert {t["wait_kind"] for t in d["threads_list"]} <= WAIT_KINDS
    assert {t["state"] for t in d["threads_list"]} == {"parked"}
    # The detail view says the same, in the same words.
    rc, out, err = run(GT_STACKS, "--thread", th["conn 127.0.0.1:40002"]["id"], waits.pid)
    assert rc == 0, err
    assert "  wait: fd %s read\n" % f["rfd"] in out
    assert ", fd %s read  at conn_main (waits.c:%d)" % (f["rfd"], LINES["conn"]) in out


def check_counts(d, threads):
    states = d["states"]
    assert set(states) == STATES
    assert d["threads"] == threads
    assert sum(states.values()) + d["in_flux"] == threads
    assert states["running"] <= 1


def test_state_counts_from_the_records(waits):
    d = run_json(GT_STACKS, waits.pid)
    check_counts(d, NTHREADS)
    assert d["states"] == {"runnable": 0, "running": 0, "parked": NTHREADS, "exited": 0}
    assert d["in_flux"] == 0
    rc, out, err = run(GT_STACKS, waits.pid)
    assert out.splitlines()[1].startswith(
        "  0 runnable, 0 running, %d parked, 0 exited; up " % NTHREADS)


def test_records_that_cannot_all_be_true(tmp_path):
    """Two records say "running" on a runtime with one kernel thread:
    re-reading does not settle it (they hold still), so neither is
    believed and both are counted in flux, live and in a core."""
    w = start("tworunning", env={"GT_GUARD": "mprotect"})
    try:
        live = run_json(GT_STACKS, "--all", w.pid)
        core = gcore(w.pid, tmp_path)
    finally:
        w.stop()
    for d in (live, run_json(GT_STACKS, "--all", "--core", core)):
        check_counts(d, NTHREADS)
        assert d["states"] == {"runnable": 0, "running": 0, "parked": NTHREADS - 2,
                               "exited": 0}
        assert d["in_flux"] == 2
        flux = [t["name"] for t in d["threads_list"] if t["unwind"] == "in flux"]
        assert sorted(flux) == ["stage_a", "stage_b"]
    rc, out, err = run(GT_STACKS, "--core", core)
    assert out.splitlines()[1].startswith(
        "  0 runnable, 0 running, %d parked, 0 exited, 2 in flux; up " % (NTHREADS - 2))


def test_state_counts_of_a_busy_target():
    """A thread switching all the time: every snapshot adds up, with at most
    one thread running."""
    p = subprocess.Popen([exe(), "3", "2", "2", "3", "2", "ticker"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().startswith("ready")
        for _ in range(30):
            check_counts(run_json(GT_STACKS, p.pid), 11)
    finally:
        p.kill()
        p.wait()


def test_inlined_callers_have_their_own_labels(waits):
    d = run_json(GT_STACKS, "--all", waits.pid)
    th = by_name(d)
    locs = {l["index"]: l for l in d["locations"]}
    a = locs[th["stage_a"]["location"]]["where"]
    b = locs[th["stage_b"]["location"]]["where"]
    assert a != b
    assert a.startswith("critical (waits.c:%d) < stage_a (waits.c:%d) < gt__thread_start ("
                        % (LINES["critical"], LINES["stage_a"])), a
    assert b.startswith("critical (waits.c:%d) < stage_b (waits.c:%d) < gt__thread_start ("
                        % (LINES["critical"], LINES["stage_b"])), b
    assert where(d, th["sleeper"]["location"]) == ("sleeper_main", LINES["sleep"])
    assert where(d, th["joiner"]["location"]) == ("joiner_main", LINES["join"])
    # Completed waits' percentiles never pass the largest wait recorded.
    # With none completed there is no percentile: null.
    for l in d["locations"]:
        if not l["completed"]:
            assert l["done_p50_ns"] is None and l["done_p99_ns"] is None, l
            continue
        assert l["done_p50_ns"] <= l["done_p99_ns"] <= l["wait_max_ns"], l
        if l["completed"] == 1:
            assert l["done_p50_ns"] == l["done_p99_ns"] == l["wait_max_ns"] > 0, l
    # The text names both.
    rc, out, err = run(GT_STACKS, waits.pid)
    assert "at " + a + "  (thread %d \"stage_a\")" % th["stage_a"]["id"] in out
    assert "at " + b + "  (thread %d \"stage_b\")" % th["stage_b"]["id"] in out


def test_file_io_in_the_summary(waits):
    d = run_json(GT_STACKS, waits.pid)
    assert d["file_io_calls"] == FILE_READS
    assert d["file_io_ns"] > 0
    rc, out, err = run(GT_STACKS, waits.pid)
    assert re.search(r"; file I/O %d calls, \d+(ns|us|\.\dms)$" % FILE_READS,
                     out.splitlines()[1]), out.splitlines()[1]


def test_idle_includes_the_current_stretch():
    """The poller has been blocked since the ready line: idle counts that
    stretch too, not only the waits that returned."""
    w = start("publish")
    try:
        time.sleep(2)
        before = time.monotonic_ns()
        d = run_json(GT_STACKS, w.pid)
        assert d["idle_ns"] >= before - int(w.facts["clock"])
        assert d["idle_ns"] <= d["uptime_ns"]
        rc, out, err = run(GT_STACKS, w.pid)
        m = re.search(r"; up (\d+\.\d)s, idle (\d+\.\d)s;", out.splitlines()[1])
        assert m and float(m.group(2)) >= 2.0, out.splitlines()[1]
    finally:
        w.stop()


def check_ages(d, truth_lo, truth_hi, w):
    """Every parked thread's age and the uptime, within a second of the
    truth: the threads parked just before the ready line's clock."""
    clock = int(w.facts["clock"])
    for t in d["threads_list"]:
        assert t["wait_ns"] is not None
        assert truth_lo - clock - SECOND <= t["wait_ns"] <= truth_hi - clock + SECOND, \
            (t["name"], t["wait_ns"], truth_lo - clock, truth_hi - clock)
    assert truth_lo - w.t0 - SECOND <= d["uptime_ns"] <= truth_hi - w.t0 + SECOND


def test_ages_in_a_gcore_core(tmp_path):
    w = start(env={"GT_GUARD": "mprotect"})
    try:
        time.sleep(3)
        lo = time.monotonic_ns()
        core = gcore(w.pid, tmp_path)
        hi = time.monotonic_ns()
    finally:
        w.stop()
    d = run_json(GT_STACKS, "--all", "--core", core)
    assert hi - int(w.facts["clock"]) >= 3 * SECOND
    check_ages(d, lo, hi, w)
    # Written seconds after the runtime last read its clock: the file's
    # time is the core's now, and exact.
    assert d["now_exact"] is True
    rc, out, err = run(GT_STACKS, "--core", core)
    assert rc == 0 and ">= " not in out


def test_ages_in_a_kernel_core(tmp_path):
    w = start(cwd=tmp_path)
    time.sleep(3)
    lo = time.monotonic_ns()
    w.send("abort")
    assert w.p.wait(timeout=60) == -signal.SIGABRT
    hi = time.monotonic_ns()
    w.stop()
    core = kernel_core(tmp_path)
    d = run_json(GT_STACKS, "--all", "--core", core, "--exe", w.exe)
    # The main thread aborted: running, no age; the others parked.
    assert len(d["threads_list"]) == NTHREADS
    assert [t["name"] for t in d["threads_list"] if t["state"] == "running"] == [""]
    parked = dict(d, threads_list=[t for t in d["threads_list"] if t["state"] == "parked"])
    # The abort came just after the runtime read its clock (waking the main
    # thread), within the coarse tick of a file's time: exact when the
    # runtime publishes its fatal-signal clock, else maybe a lower bound;
    # true either way.
    check_ages(parked, lo, hi, w)


def test_a_core_that_cannot_tell_says_lower_bound(tmp_path):
    """A core whose mtime says nothing (copied, touched back to 1970): its
    last clock reading is all it has, and every age is a lower bound."""
    w = start(env={"GT_GUARD": "mprotect"})
    try:
        time.sleep(1)
        core = gcore(w.pid, tmp_path)
    finally:
        w.stop()
    os.utime(core, (1, 1))
    d = run_json(GT_STACKS, "--core", core)
    assert d["now_exact"] is False
    rc, out, err = run(GT_STACKS, "--core", core)
    assert rc == 0, err
    assert re.search(r"; up >= \d", out.splitlines()[1]), out.splitlines()[1]
    assert "3 threads  parked >= " in out


def test_fatal_clock_is_the_core_now(tmp_path):
    """A runtime that read the clock in its fatal-signal handler: that
    reading is the core's now, exactly."""
    w = start("publish", cwd=tmp_path)
    w.send("abort")
    line = w.p.stdout.readline()
    assert line.startswith("fatal "), line
    assert w.p.wait(timeout=60) == -signal.SIGABRT
    w.stop()
    core = kernel_core(tmp_path)
    os.utime(core, (1, 1))  # the mtime cannot be what gives it
    d = run_json(GT_STACKS, "--core", core, "--exe", w.exe)
    assert d["now_ns"] == int(line.split()[1])
    assert d["now_exact"] is True
