#!/usr/bin/python3
"""bench/scale_bench.py - gt's readers at 100,000 and 1,000,000 threads.

Run by bench/run.py through the wrapper build/bench/bench-scale (made by
bench/scale_bench.mk), one scenario per process, `RESULT key=value ...`
lines on stdout.

    bench-scale read sleep=S deep=D read=R reps=K

The target is bench/million_stacks.c with S threads in usleep, D threads
ten frames deep in gt_chan_recv and R threads in read() on a pipe (the
issue's 600K/399K/1K at 1M), each with a 16 KiB stack (GT_STACK_SIZE: a
million 64 KiB stacks would not fit the machine; each touches one page).
Against it, K times each, in turn:

  gt-stacks PID             the whole run: wall time, CPU time (user +
  gt-waste PID              system) and peak RSS of the tool's process
  gt-top -b -n 1 -p PID     (from wait4), and the output checked against
                            the fixture's counts
  gt-top -b -n 6 -d 0.2 --timing -p PID
                            CPU per refresh from gt-top's --timing lines,
                            the first left out (it loads the symbols), as
                            bench/viewer_bench.py does

Python 3 standard library only.
"""
import os
import re
import subprocess
import sys
import time

import plugin_cli

SIZES = (("100K", {"sleep": 60000, "deep": 39900, "read": 100}),
         ("1M", {"sleep": 600000, "deep": 399000, "read": 1000}))

TOOLS = ("gt-stacks", "gt-waste", "gt-top-b")


def runs(Run, a):
    out = []
    for label, size in SIZES:
        expects = [(b, i) for b in ("scale-wall", "scale-cpu", "scale-rss") for i in TOOLS]
        expects.append(("scale-refresh", "gt-top"))
        out.append(Run("scale", "read", a(reps=3, **size), None, expects,
                       relabel={i: "%s@%s" % (i, label) for i in TOOLS + ("gt-top",)}))
    return out


def _rows(bench, impls, what):
    return [((bench, "%s@%s" % (i, s)), "%s, %s threads" % (what[i], s))
            for i in impls for s, _ in SIZES]


_WHAT = {"gt-stacks": "gt-stacks PID", "gt-waste": "gt-waste PID",
         "gt-top-b": "gt-top -b -n 1 -p PID", "gt-top": "gt-top refresh"}

GROUPS = [
    {"bench": "scale-wall", "short": "readers 1M wall",
     "title": "gt's readers at 100K and 1M parked threads (60% usleep, 39.9% ten "
              "frames deep, 0.1% read): wall time of the whole run",
     "baseline": ("scale-wall", "gt-stacks@100K"),
     "rows": _rows("scale-wall", TOOLS, _WHAT)},
    {"bench": "scale-cpu", "short": "readers 1M CPU",
     "title": "gt's readers at 100K and 1M parked threads: CPU time (user + system) "
              "of the whole run, and of one gt-top refresh",
     "baseline": ("scale-cpu", "gt-stacks@100K"),
     "rows": _rows("scale-cpu", TOOLS, _WHAT) + _rows("scale-refresh", ("gt-top",), _WHAT)},
    {"bench": "scale-rss", "short": "readers 1M RSS",
     "title": "gt's readers at 100K and 1M parked threads: peak RSS of the reader",
     "baseline": ("scale-rss", "gt-stacks@100K"),
     "rows": _rows("scale-rss", TOOLS, _WHAT)},
]

GIB = 1024 ** 3
TARGETS = [
    {"result": ("scale-wall", "gt-stacks@1M"), "kind": "abs", "limit": 3.0,
     "text": "gt-stacks at 1M: <= 3 s"},
    {"result": ("scale-rss", "gt-stacks@1M"), "kind": "abs", "limit": GIB,
     "text": "gt-stacks at 1M: <= 1 GiB"},
    {"result": ("scale-wall", "gt-waste@1M"), "kind": "abs", "limit": 4.0,
     "text": "gt-waste at 1M: <= 4 s"},
    {"result": ("scale-refresh", "gt-top@1M"), "kind": "abs", "limit": 0.3,
     "text": "gt-top refresh at 1M: <= 300 ms CPU"},
    {"result": ("scale-rss", "gt-top-b@1M"), "kind": "abs", "limit": GIB,
     "text": "gt-top at 1M: <= 1 GiB"},
]


def die(msg):
    plugin_cli.die("bench-scale", msg)


def measured(argv):
    """Runs argv to its end: (wall s, CPU s, peak RSS bytes, stdout, stderr),
    the CPU and RSS the kernel accounted to that process (wait4)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # communicate() reaps the child; wait4 must, to get its usage: read the
    # pipes by hand first.
    out, err = p.stdout.read(), p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        die("%s failed (status %d): %s" % (" ".join(argv), p.returncode,
                                            err.decode(errors="replace")[-500:]))
    return (wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss * 1024,
            out.decode(errors="replace"), err.decode(errors="replace"))


def check(tool, out, size):
    """The output names every thread: a fast error is never timed."""
    total = size["sleep"] + size["deep"] + size["read"] + 1
    want = {"gt-stacks": ["%d green threads" % total, "%d threads " % size["sleep"],
                          "%d threads " % size["deep"], "%d threads " % size["read"]],
            "gt-waste": ["%s green threads" % format(total, ",")],
            "gt-top-b": ["%d total" % total]}[tool]
    for text in want:
        if text not in out:
            die("%s printed no %r for %d threads; its output begins:\n%s"
                % (tool, text, total, out[:1500]))


def scenario(params, build):
    bindir = os.path.join(build, "bin")
    fixture = os.path.join(build, "bench", "million_stacks")
    size = {k: params[k] for k in ("sleep", "deep", "read")}
    t0 = time.monotonic()
    p = subprocess.Popen([fixture, str(size["sleep"]), str(size["deep"]), str(size["read"])],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                         env=dict(os.environ, GT_STACK_SIZE="16384"))
    try:
        if not p.stdout.readline().startswith("ready"):
            die("the fixture did not start")
        sys.stderr.write("bench-scale: %d threads ready after %.1f s\n"
                         % (sum(size.values()) + 1, time.monotonic() - t0))
        pid = str(p.pid)
        argv = {"gt-stacks": [os.path.join(bindir, "gt-stacks"), pid],
                "gt-waste": [os.path.join(bindir, "gt-waste"), pid],
                "gt-top-b": [os.path.join(bindir, "gt-top"), "-b", "-n", "1", "-p", pid]}
        got = {(b, i): [] for b in ("wall", "cpu", "rss") for i in TOOLS}
        refresh = []
        for _ in range(params["reps"]):
            for tool in TOOLS:
                wall, cpu, rss, out, _ = measured(argv[tool])
                check(tool, out, size)
                got[("wall", tool)].append(wall)
                got[("cpu", tool)].append(cpu)
                got[("rss", tool)].append(rss)
                sys.stderr.write("bench-scale: %s %.2f s wall, %.2f s CPU, %.0f MiB\n"
                                 % (tool, wall, cpu, rss / 2 ** 20))
            _, _, _, _, err = measured([os.path.join(bindir, "gt-top"), "-b", "-n", "6",
                                        "-d", "0.2", "--timing", "-p", pid])
            ms = [float(m.group(2)) for m in
                  re.finditer(r"refresh (\d+): ([0-9.]+) ms CPU", err) if m.group(1) != "1"]
            if len(ms) != 5:
                die("gt-top --timing printed %d refreshes after the first, not 5:\n%s"
                    % (len(ms), err[-1000:]))
            refresh += [v / 1000 for v in ms]
    finally:
        p.kill()
        p.wait()
    n = sum(size.values()) + 1
    for (what, tool), values in got.items():
        plugin_cli.result("scale-" + what, tool, "bytes" if what == "rss" else "s", values, n)
    plugin_cli.result("scale-refresh", "gt-top", "s", refresh, n)


def main():
    build, _, params, _ = plugin_cli.parse(
        __doc__, "read", defaults={"sleep": 600000, "deep": 399000, "read": 1000, "reps": 3},
        scenarios=("read",))
    scenario(params, os.path.abspath(build))
    return 0


if __name__ == "__main__":
    sys.exit(main())
