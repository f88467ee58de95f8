#!/usr/bin/python3
"""bench/viewer_bench.py - what gt-top costs at 100,000 threads.

Run by bench/run.py through the wrapper build/bench/bench-viewer (made by
bench/viewer_bench.mk), one scenario per process, `RESULT key=value ...`
lines on stdout.  The watched program is gt-top's test fixture
(tests/viewer/pipeline.c) with THREADS threads parked on a channel and
its main thread on stdin: the 100K-parked-threads server of issue 5.

    bench-viewer measure threads=N refreshes=K reps=R
        R times: start the fixture, then measure against it
        CPU time per refresh, from gt-top's own --timing lines (the whole
        process's CPU clock from the snapshot's first read to the last byte
        out; refresh 1 left out: it loads the symbols and measures every
        stack once, see viewer/sampler.c), median over all refreshes:
          gt-top         batch mode, Locations view, K refreshes, -d 0.1
          gt-top-screen  the screen, in a pseudo-terminal of 120x40, on
                         the Threads view sorted by name (every refresh
                         sorts 100K rows), -d 0.1, for K refreshes
          gtreg          the peer: tests/integration/gtreg.py, the
                         project's plain, independent registry reader
                         (Python), decoding every thread record once
                         (the CPU time of that pass)
        wall time from exec to:
          gt-top-screen  the first complete screen in a pseudo-terminal
                         (the status line drawn last is on it)
          gt-top-batch   the first snapshot printed by -b -d 0.05: a
                         baseline snapshot, every stack measured once
                         (resident and dead bytes) in the interval, then
                         the printed snapshot
          gtreg          the peer's whole run: exec, find the registry,
                         one pass over every record

Python 3 standard library only.
"""

import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time

import plugin_cli

HERE = os.path.dirname(os.path.abspath(__file__))
GTREG_DIR = os.path.join(HERE, "..", "tests", "integration")

# ---------------------------------------------------------------------------
# What bench/run.py runs and shows.
# ---------------------------------------------------------------------------


def runs(Run, a):
    return [Run("viewer", "measure", a(threads=100000, refreshes=15, reps=3),
                a(threads=100000, refreshes=5, reps=1),
                [("viewer-refresh", "gt-top"), ("viewer-refresh", "gt-top-screen"),
                 ("viewer-refresh", "gtreg"), ("viewer-first", "gt-top-screen"),
                 ("viewer-first", "gt-top-batch"), ("viewer-first", "gtreg")])]


GROUPS = [
    {"bench": "viewer-refresh", "short": "gt-top refresh",
     "title": "gt-top at 100,000 parked threads: CPU time per refresh (median over "
              "refreshes; the peer is one pass of a plain reader over every record)",
     "baseline": ("viewer-refresh", "gtreg"),
     "rows": [(("viewer-refresh", "gt-top"), "gt-top -b, Locations view"),
              (("viewer-refresh", "gt-top-screen"), "gt-top screen, Threads view sorted by name"),
              (("viewer-refresh", "gtreg"), "plain reader: tests/integration/gtreg.py (Python)")]},
    {"bench": "viewer-first", "short": "gt-top first",
     "title": "gt-top at 100,000 parked threads: wall time from exec to the first "
              "complete screen or snapshot",
     "baseline": ("viewer-first", "gtreg"),
     "rows": [(("viewer-first", "gt-top-screen"), "gt-top screen: first full screen"),
              (("viewer-first", "gt-top-batch"), "gt-top -b -d 0.05: first snapshot"),
              (("viewer-first", "gtreg"), "plain reader: tests/integration/gtreg.py (Python)")]},
]

TARGETS = [
    {"result": ("viewer-refresh", "gt-top"), "kind": "abs", "limit": 50e6,
     "text": "<= 50 ms CPU per refresh"},
    {"result": ("viewer-refresh", "gt-top-screen"), "kind": "abs", "limit": 50e6,
     "text": "<= 50 ms CPU per refresh"},
    {"result": ("viewer-first", "gt-top-screen"), "kind": "abs", "limit": 1e9,
     "text": "first screen <= 1 s"},
]

# ---------------------------------------------------------------------------


def die(msg):
    plugin_cli.die("viewer_bench", msg)


class Fixture:
    """The watched program: THREADS threads parked, stopped by closing its
    stdin whatever happened in between."""

    def __init__(self, build, threads):
        exe = os.path.join(build, "tests", "viewer", "pipeline")
        self.p = subprocess.Popen([exe, "0", str(threads)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, universal_newlines=True)
        line = self.p.stdout.readline()
        if not line.startswith("ready "):
            self.stop()
            die("the fixture did not start: %r" % line)
        self.pid = self.p.pid

    def stop(self):
        if self.p.poll() is None:
            self.p.stdin.close()
            try:
                self.p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


TIMING = re.compile(r"^gt-top: refresh (\d+): ([\d.]+) ms CPU, ([\d.]+) ms wall, (\d+) threads$",
                    re.M)


def timing_lines(text, threads):
    got = [(int(n), float(cpu) * 1e6) for n, cpu, _, t in TIMING.findall(text)
           if int(t) >= threads]
    if not got:
        die("gt-top printed no timing line for %d threads:\n%s" % (threads, text[-2000:]))
    return got


class Screen:
    """gt-top's screen in a pseudo-terminal of COLS x ROWS; everything it
    draws is kept in `out`, its stderr in a file."""

    def __init__(self, argv, cols=120, rows=40):
        self.err = tempfile.TemporaryFile("w+")
        self.t0 = time.monotonic()
        pid, fd = pty.fork()
        if pid == 0:
            os.dup2(self.err.fileno(), 2)
            os.environ["TERM"] = "xterm-256color"
            os.environ.pop("NO_COLOR", None)
            os.execv(argv[0], argv)
        self.pid, self.fd = pid, fd
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        os.kill(pid, signal.SIGWINCH)
        self.out = b""

    def wait_for(self, pattern, timeout=30):
        """Seconds from exec until PATTERN (bytes, a regex) is drawn."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if re.search(pattern, self.out):
                return time.monotonic() - self.t0
            r, _, _ = select.select([self.fd], [], [], 0.05)
            if r:
                try:
                    self.out += os.read(self.fd, 65536)
                except OSError:
                    break
        die("gt-top's screen never showed %r; it drew:\n%r" % (pattern, self.out[-2000:]))

    def keys(self, k):
        os.write(self.fd, k)

    def drain(self, secs):
        end = time.monotonic() + secs
        while time.monotonic() < end:
            r, _, _ = select.select([self.fd], [], [], 0.05)
            if r:
                try:
                    self.out += os.read(self.fd, 65536)
                except OSError:
                    return

    def quit(self):
        """Quits with q; returns what gt-top wrote to stderr."""
        self.keys(b"q")
        end = time.monotonic() + 10
        while time.monotonic() < end:
            pid, _ = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                break
            self.drain(0.05)
        else:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            die("gt-top did not quit on q")
        os.close(self.fd)
        self.err.seek(0)
        text = self.err.read()
        self.err.close()
        return text


# The bottom status line, drawn after every row: the screen is complete.
SCREEN_DONE = rb"q quit  h help"


# The peer, run as its own program: prints the threads it saw and the
# CPU seconds of its pass over them.
PEER = """
import sys, time
sys.path.insert(0, %r)
import gtreg
t = gtreg.Target(%d)
c0 = time.process_time()
n = len(gtreg.Registry(t).threads())
print(n, time.process_time() - c0)
"""


def run_peer(pid, threads):
    """(wall ns from exec to exit, CPU ns of its pass) of the plain reader."""
    t0 = time.monotonic()
    out = subprocess.run([sys.executable, "-c", PEER % (os.path.abspath(GTREG_DIR), pid)],
                         stdout=subprocess.PIPE, universal_newlines=True, timeout=300).stdout
    wall = (time.monotonic() - t0) * 1e9
    f = out.split()
    if len(f) != 2 or int(f[0]) < threads:
        die("the plain reader printed %r" % out)
    return wall, float(f[1]) * 1e9


def first_batch_snapshot(gt_top, pid):
    t0 = time.monotonic()
    p = subprocess.Popen([gt_top, "-b", "-n", "1", "-d", "0.05", "-p", str(pid)],
                         stdout=subprocess.PIPE, universal_newlines=True)
    first = p.stdout.readline()
    wall = (time.monotonic() - t0) * 1e9
    p.communicate(timeout=60)
    if not first.startswith("gt-top - process %d" % pid):
        die("gt-top -b printed %r first" % first)
    return wall


def batch_refreshes(gt_top, pid, threads, k):
    r = subprocess.run([gt_top, "-b", "-n", str(k), "-d", "0.1", "--timing", "-p", str(pid)],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=120)
    if r.returncode != 0:
        die("gt-top -b failed: %s" % r.stderr[-1000:])
    return [cpu for n, cpu in timing_lines(r.stderr, threads) if n > 1]


def screen_refreshes(gt_top, pid, threads, k):
    """(exec to first full screen in ns, CPU ns of each later refresh)."""
    sc = Screen([gt_top, "-d", "0.1", "--timing", "-p", str(pid)])
    first = sc.wait_for(SCREEN_DONE) * 1e9
    sc.keys(b"2")      # the Threads view
    sc.drain(0.2)
    sc.keys(b"s")      # the column picker: b is the name column
    sc.drain(0.2)
    sc.keys(b"b")
    sc.wait_for(rb"\(name\)")
    sc.drain(0.1 * k + 0.3)
    return first, [cpu for n, cpu in timing_lines(sc.quit(), threads) if n > 1]


def scenario_measure(params, build, gt_top):
    threads, reps, k = params["threads"], params["reps"], params["refreshes"]
    refresh = {"gt-top": [], "gt-top-screen": [], "gtreg": []}
    first = {"gt-top-screen": [], "gt-top-batch": [], "gtreg": []}
    for _ in range(reps):
        fx = Fixture(build, threads)
        try:
            wall, cpus = screen_refreshes(gt_top, fx.pid, threads, k)
            first["gt-top-screen"].append(wall)
            refresh["gt-top-screen"] += cpus
            wall, cpu = run_peer(fx.pid, threads)
            first["gtreg"].append(wall)
            refresh["gtreg"].append(cpu)
            first["gt-top-batch"].append(first_batch_snapshot(gt_top, fx.pid))
            refresh["gt-top"] += batch_refreshes(gt_top, fx.pid, threads, k)
        finally:
            fx.stop()
    for impl, values in refresh.items():
        plugin_cli.result("viewer-refresh", impl, "ns", values, threads)
    for impl, values in first.items():
        plugin_cli.result("viewer-first", impl, "ns", values, threads)


def main():
    build, _, params, _ = plugin_cli.parse(__doc__, "measure", scenarios=("measure",))
    scenario_measure(params, build, os.path.join(build, "bin", "gt-top"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
