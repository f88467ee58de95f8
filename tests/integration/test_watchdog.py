"""The watchdog seen from outside (spinner.c): a live reader finds the
spinning thread's sample, GT_WATCHDOG_ABORT_MS ends the program with a
report line and a core that shows the spinner, and any fatal signal taken
while a thread spins leaves a core that does too, watchdog or not.

Ground truth is the fixture's own `truth` line: the spinner's record and
id, and the bounds of the only function it spins in."""
import glob
import json
import os
import re
import resource
import signal
import subprocess
import time

from gtreg import C, CoreTarget, Registry, Target

BUILD = os.environ.get("GT_BUILD", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
EXE = os.path.abspath(os.path.join(BUILD, "tests", "integration", "spinner"))
PC = C["GT_CTX_PC"]


def for_a_core():
    """In the child before exec: cores on, and with file-backed mappings,
    so the registry's layout table (read-only data) is in the core."""
    resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    with open("/proc/self/coredump_filter", "w") as f:
        f.write("0x3f")


def start(seconds, env, cwd=None, extra=()):
    p = subprocess.Popen([EXE, str(seconds)] + list(extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, cwd=cwd, preexec_fn=for_a_core,
                         env=dict(os.environ, **env))
    line = p.stdout.readline()
    assert line.startswith("truth "), line
    return p, json.loads(line[len("truth "):])


def wait_spinning(truth):
    """Until the spinner has turned in spin_here: from then on every pc
    of it is in that function."""
    with open("/proc/%d/mem" % truth["pid"], "rb", buffering=0) as mem:
        for _ in range(2000):
            if int.from_bytes(os.pread(mem.fileno(), 8, truth["progress"]), "little"):
                return
            time.sleep(0.005)
    raise AssertionError("the spinner never started spinning")


def sample(r):
    return {"seq": r.g("SAMPLE_SEQ"), "thread": r.g("SAMPLE_THREAD"),
            "switches": r.g("SAMPLE_SWITCHES"), "syscall": r.g("SAMPLE_SYSCALL"),
            "pc": r.g("SAMPLE_REGS", PC), "ns": r.g("SAMPLE_NS")}


def assert_shows_spinner(r, truth):
    s = sample(r)
    assert s["seq"] % 2 == 0
    assert s["thread"] == truth["record"]
    assert s["switches"] == r.g("SWITCHES")
    assert s["syscall"] == (1 << 64) - 1  # -1: in user code, every register known
    assert truth["spin_lo"] <= s["pc"] < truth["spin_hi"], \
        "sampled pc %#x is not in spin_here" % s["pc"]


def test_live_reader_sees_the_spinner_sampled():
    p, truth = start(3, {"GT_WATCHDOG_MS": "50"})
    try:
        assert truth["watchdog_ns"] == 50_000_000
        wait_spinning(truth)
        t = Target(p.pid, EXE)
        try:
            for _ in range(400):
                r = Registry(t)
                if r.g("WATCHDOG_EVENTS") >= 2 and r.g("SAMPLE_SEQ") % 2 == 0:
                    break
                time.sleep(0.01)
            assert r.g("WATCHDOG_EVENTS") >= 2, "no repeated sample while it spun"
            assert r.g("CURRENT") == truth["record"]
            assert r.g("WATCHDOG_NS") == 50_000_000
            assert_shows_spinner(r, truth)
            # The watchdog's own view: this slice has run since at least wd_since.
            assert r.g("WD_SWITCHES") == r.g("SWITCHES")
            assert 0 < r.g("WD_SINCE") <= sample(r)["ns"]
        finally:
            t.close()
    finally:
        p.kill()
        p.communicate()


def read_core(tmp_path, truth):
    cores = glob.glob(str(tmp_path / "core*"))
    assert len(cores) == 1, "no core file written: %s" % os.listdir(tmp_path)
    return CoreTarget(cores[0], truth["registry"])


def test_abort_past_the_limit_reports_and_leaves_a_core(tmp_path):
    p, truth = start(5, {"GT_WATCHDOG_ABORT_MS": "300"}, cwd=tmp_path)
    out, err = p.communicate(timeout=60)
    assert p.returncode == -signal.SIGABRT, err
    assert "spun" not in out  # it died spinning, long before the 5 s were up
    m = re.search(r'^gt: watchdog: thread (\d+) "spinner" has run (?:(\d+)ms|(\d+\.\d)s) '
                  r'without yielding; aborting \(pcs (0x[0-9a-f]+)((?: 0x[0-9a-f]+)*)\)$',
                  err, re.M)
    assert m, err
    assert int(m.group(1)) == truth["id"]
    assert (int(m.group(2)) if m.group(2) else float(m.group(3)) * 1000) >= 300
    assert truth["spin_lo"] <= int(m.group(4), 16) < truth["spin_hi"]
    assert m.group(5), "the frame-pointer walk found no caller"
    # Then the fatal-signal handler's own report, as for any abort.
    assert re.search(r'gt: Aborted in green thread %d "spinner"' % truth["id"], err), err
    core = read_core(tmp_path, truth)
    try:
        r = Registry(core)
        assert r.g("FATAL_NS") != 0
        assert r.g("CURRENT") == truth["record"]
        assert r.g("WATCHDOG_EVENTS") >= 1
        assert_shows_spinner(r, truth)
    finally:
        core.close()


def test_abort_when_the_signal_is_blocked(tmp_path):
    """The spinner blocks the watchdog's signal: no handler can report, so
    after a grace period the watchdog sends SIGABRT itself, and the fatal
    handler's report and core follow."""
    p, truth = start(30, {"GT_WATCHDOG_ABORT_MS": "300"}, cwd=tmp_path, extra=["block"])
    out, err = p.communicate(timeout=60)
    assert p.returncode == -signal.SIGABRT, err
    assert "spun" not in out
    assert "gt: watchdog:" not in err
    assert re.search(r'gt: Aborted in green thread %d "spinner"' % truth["id"], err), err
    core = read_core(tmp_path, truth)
    try:
        r = Registry(core)
        assert r.g("FATAL_NS") != 0 and r.g("CURRENT") == truth["record"]
        assert_shows_spinner(r, truth)  # the fatal handler's own sample
    finally:
        core.close()


def test_fatal_signal_while_spinning_samples_without_watchdog(tmp_path):
    p, truth = start(60, {"GT_WATCHDOG_MS": "0"}, cwd=tmp_path)
    assert truth["watchdog_ns"] == 0
    wait_spinning(truth)
    os.kill(p.pid, signal.SIGABRT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == -signal.SIGABRT, err
    core = read_core(tmp_path, truth)
    try:
        r = Registry(core)
        assert r.g("WATCHDOG_NS") == 0 and r.g("WATCHDOG_EVENTS") == 0
        assert r.g("CURRENT") == truth["record"]
        assert_shows_spinner(r, truth)
        assert r.g("SAMPLE_NS") <= r.g("FATAL_NS")
    finally:
        core.close()


def test_values_refused_in_one_line():
    for env, says in [
        ({"GT_WATCHDOG_MS": "10k"},
         "gt: GT_WATCHDOG_MS=10k is not a number of ms in 0..3600000; using 100\n"),
        ({"GT_WATCHDOG_MS": "0", "GT_WATCHDOG_ABORT_MS": "300"},
         "gt: GT_WATCHDOG_ABORT_MS=300 needs the watchdog, which GT_WATCHDOG_MS=0 "
         "turns off; not aborting\n"),
    ]:
        p, truth = start(0, env)
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        assert err == says
        assert truth["watchdog_ns"] == (100_000_000 if env["GT_WATCHDOG_MS"] != "0" else 0)


def test_no_signal_under_a_debugger():
    """GDB stops at a realtime signal it does not know: a program that
    spins under GDB must run to its end with no such stop."""
    p = subprocess.run(["gdb", "-batch", "-nx", "-ex", "run", "--args", EXE, "1"],
                       capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, GT_WATCHDOG_MS="20"))
    assert "received signal" not in p.stdout, p.stdout
    assert "spun" in p.stdout and "exited normally" in p.stdout, p.stdout + p.stderr
