"""The target after gt-core: still running, exactly as before.

signal_counter.c counts the real-time signals it receives (each one sent
is queued: none may go missing), ticks a green thread's timer every
millisecond and answers lines on stdin; the tests capture it many times
while signals and lines keep arriving, then compare the counts with what
was sent.  A target stopped by job control stays stopped.  --no-stop
copies without ever stopping the target (no ptrace request that stops
it: checked with strace), and says so.
"""
import os
import re
import signal
import subprocess
import threading
import time

import core_util as cu


class Counter(cu.Target):
    def __init__(self):
        super().__init__([cu.SIGNALS], idle=False)

    def count(self):
        """(ticks, signals) as the program counts them now."""
        self.send("count")
        line = self.p.stdout.readline()
        m = re.fullmatch(r"count (\d+) (\d+)\n", line)
        assert m, line
        return int(m.group(1)), int(m.group(2))

    def ping(self, text):
        self.send("ping " + text)
        assert self.p.stdout.readline() == "pong %s\n" % text


def wait_for(what, ok, timeout=20):
    """Polls WHAT() until OK(value); returns the last value (the caller
    asserts on it, so a failure says what was seen)."""
    end = time.monotonic() + timeout
    v = what()
    while not ok(v) and time.monotonic() < end:
        time.sleep(0.02)
        v = what()
    return v


def test_no_signal_or_wakeup_lost_across_captures(targets, tmp_path):
    t = targets(Counter)
    sent = [0]
    done = threading.Event()

    def sender():
        while not done.is_set():
            os.kill(t.pid, signal.SIGRTMIN)
            sent[0] += 1
            if sent[0] % 20 == 0:
                time.sleep(0.0005)
    th = threading.Thread(target=sender)
    th.start()
    try:
        modes = [(), ("--compact",), ("--no-stop",)] * 4
        for i, opts in enumerate(modes):
            ticks0, _ = t.count()
            core = tmp_path / ("core.%d" % i)
            s, _, _ = cu.captured(t.pid, core, *opts)
            assert s["green"] == 2, s["line"]  # main and ticker
            os.unlink(core)
            # It goes on: the ticker's timer fires, stdin is read.
            assert cu.tracer_of(t.pid) == 0
            ticks = wait_for(lambda: t.count()[0], lambda v: v > ticks0 + 5)
            assert ticks > ticks0 + 5, (opts, ticks0, ticks)
            t.ping("after-%d" % i)
    finally:
        done.set()
        th.join()
    assert sent[0] > 1000, sent
    got = wait_for(lambda: t.count()[1], lambda v: v >= sent[0])
    assert got == sent[0], "%d signals sent, %d received" % (sent[0], got)


def test_lines_written_while_stopped_are_read(targets, tmp_path):
    """Lines that arrive while the target is stopped wait in the pipe and
    are answered after, in order, none dropped or doubled."""
    t = targets(Counter)
    done = threading.Event()
    errors = []

    def talker():
        i = 0
        while not done.is_set() or i < 50:
            try:
                t.ping("line-%d" % i)
            except AssertionError as e:
                errors.append(e)
                return
            i += 1
    th = threading.Thread(target=talker)
    th.start()
    try:
        for i in range(6):
            cu.captured(t.pid, tmp_path / ("core.%d" % i), *(() if i % 2 else ("-c",)))
    finally:
        done.set()
        th.join()
    assert not errors, errors


def test_stopped_target_stays_stopped(targets, tmp_path):
    """A process stopped by SIGSTOP is captured, and is still stopped
    after: gt-core's detach must not resume it; SIGCONT does."""
    t = targets(Counter)
    os.kill(t.pid, signal.SIGSTOP)
    assert wait_for(lambda: cu.proc_state(t.pid), lambda s: s == "T") == "T"
    s, _, _ = cu.captured(t.pid, tmp_path / "core")
    assert s["green"] == 2
    time.sleep(0.2)
    assert cu.proc_state(t.pid) == "T" and cu.tracer_of(t.pid) == 0
    os.kill(t.pid, signal.SIGCONT)
    ticks0, _ = t.count()
    ticks = wait_for(lambda: t.count()[0], lambda v: v > ticks0 + 5)
    assert ticks > ticks0 + 5


def test_no_stop_never_stops_the_target(targets, tmp_path):
    t = targets(cu.known_target)
    stacks = cu.reader_json(cu.GT_STACKS, t.pid)
    core = tmp_path / "core"
    log = tmp_path / "strace"
    t0 = time.monotonic_ns()
    p = subprocess.run(["strace", "-f", "-qq", "-e", "trace=ptrace,kill,tgkill,tkill",
                        "-o", str(log), cu.GT_CORE, "--no-stop", "-o", str(core), str(t.pid)],
                       capture_output=True, text=True, timeout=120)
    t1 = time.monotonic_ns()
    assert p.returncode == 0, p.stderr
    s = cu.summary(p.stdout)
    assert s["mode"] == "full" and s["nostop"] and s["notstopped"], s["line"]
    calls = log.read_text()
    for stop in ("PTRACE_ATTACH", "PTRACE_INTERRUPT", "SIGSTOP"):
        assert stop not in calls, calls
    c = cu.Core(str(core))
    try:
        note = c.capture_note()
        assert note["flags"] == cu.CAPTURE_NO_STOP | cu.CAPTURE_NO_FPREGS or \
            note["flags"] == cu.CAPTURE_NO_STOP, note
        assert note["stopped_ns"] == 0 and t0 <= note["monotonic_ns"] <= t1, note
        assert sorted(c.prstatus_tids()) == sorted(cu.tasks(t.pid))
    finally:
        c.close()
    core_stacks = cu.reader_json(cu.GT_STACKS, core)
    assert cu.groups_of(core_stacks) == cu.groups_of(stacks)
    assert core_stacks["capture"]["stopped"] is False
    # --no-stop with --compact too.
    s, _, _ = cu.captured(t.pid, tmp_path / "core.c", "-n", "-c")
    assert s["mode"] == "compact" and s["nostop"] and s["notstopped"], s["line"]
    assert cu.groups_of(cu.reader_json(cu.GT_STACKS, tmp_path / "core.c")) == cu.groups_of(stacks)
