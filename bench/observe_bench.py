#!/usr/bin/python3
"""bench/observe_bench.py - gt's readers against Go's debuggers, 100K threads.

Run by bench/run.py through the wrapper build/bench/bench-observe (made by
bench/observe_bench.mk), like any bench-* program: one scenario per
process, `RESULT key=value ...` lines on stdout.

    bench-observe live n=N reps=R goreps=G limit=S
    bench-observe core n=N reps=R goreps=G limit=S
    bench-observe blockers n=N reps=R

Two programs hold the same threads in the same states: gt's GDB test
fixture (tests/gdb/green_fixture.c) and its Go twin (bench/observe_go.go),
each with N threads of six kinds (sleep, mutex, pipe read, channel
receive, channel send, condition wait), a joiner and main: 6N+2 threads in
8 distinct stacks.  On gt, gt-stacks, gt-waste and GDB with gt's extension
(info green-threads, green-bt, green-thread ID + bt) read the fixture; on
Go, Delve (goroutines, goroutines -group userloc, goroutines -t (live
only), goroutine ID bt) and GDB with Go's runtime-gdb.py (info goroutines,
goroutine ID bt) read the twin.  "live" attaches to the running programs;
"core" reads a core of each: the kernel's for gt (the fixture crashes on
request), gcore's for Go (the Go runtime would first print every
goroutine's traceback; Go has no guard pages for gcore to trip on).

What is timed:
  - gt-stacks and gt-waste: the whole run of the tool, start to exit.
  - GDB commands: the command alone, timed inside GDB (bench_gdb.PROBE),
    each in a fresh GDB session, so every one runs cold.
  - Delve commands: the command alone, in a fresh Delve session: the time
    between two marker lines Delve prints before and after it, read as
    they arrive; its output is part of what a user waits for.
gt's commands are repeated R times, Go's G times (they take up to a
minute each at 100K); the repetitions alternate gt and Go commands.  A
command still running S seconds after it started is stopped and its row
reads "> S" (its true time is longer); it is not repeated.

Each command's output is checked against what the fixture holds (the
number of threads, groups, the function the chosen thread waits in), so a
fast error message is never timed as an answer.  Go's GDB script cannot
switch to a goroutine on a core file (it writes $pc and $sp), so `goroutine
ID bt` has a live row only.

"blockers" times who blocks whom (GTO_SNAP_BLOCKERS: the objects parked
threads wait on, the wait-for graph, its cycles, confirmed by a re-read
when live) on top of a snapshot, inside libgtobserve (build/bench/
observe-snap, bench/observe_bench.c): a snapshot as gt-stacks took them
before, one with GTO_SNAP_BLOCKERS, and the analysis alone, alternating,
R times each, on two targets of 6N+2 (about 100K) threads, live and from
a kernel core:
  mixed  gt's GDB fixture: N threads each on a mutex, a cond, two
         channels, a pipe and a sleep (no cycle);
  pairs  tests/tools/blockers -n 0 -c 3N: every thread in a two-thread
         deadlock, each on a mutex of its own (the worst case: 3N cycles
         to confirm, 6N distinct mutexes to read).
The issue's limit: the analysis at most 0.2 s.

Python 3 standard library only.
"""
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time

import bench_gdb
import bench_tools
import plugin_cli

STARTUP_LIMIT = 120  # seconds a debugger may take to load before its command


class Cmd:
    """One reader command.  how: "tool" (a gt program given the target),
    "gdb-gt" / "gdb-go" (GDB commands, with gt's or Go's script sourced),
    "dlv" (one Delve command).  what: the program name, GDB commands or
    Delve command, with {id} for the chosen thread.  check(n) gives a text
    the output must hold and how many times, for n threads of each kind."""

    def __init__(self, impl, how, what, check, where=("live", "core")):
        self.impl = impl
        self.how = how
        self.what = what
        self.check = check
        self.where = where
        self.side = "go" if how in ("gdb-go", "dlv") else "gt"


def total(n):
    return 6 * n + 2


def reader_id(n):
    """A thread in the middle of the readers, the same id on both sides:
    gt numbers its readers 2N+2 .. 3N+1; Go numbers goroutines in the
    same spawn order, after its own few runtime goroutines, so the middle
    of the range is a reader in both (the checks confirm it)."""
    return 2 * n + 2 + n // 2


# The order is the order of a repetition: gt and Go alternate.
COMMANDS = [
    Cmd("gt-stacks", "tool", "gt-stacks", lambda n: ("%d threads " % n, 6)),
    # Live only: on a core it walks the same stacks, and at 100K it runs
    # into the time limit; a second limit's worth would be a sixth of the
    # plug-in's time.
    Cmd("dlv-goroutines-t", "dlv", "goroutines -t", lambda n: ("Goroutine ", total(n)),
        where=("live",)),
    Cmd("gt-waste", "tool", "gt-waste",
        lambda n: ("%s green threads" % format(total(n), ","), 1)),
    Cmd("dlv-goroutines-group", "dlv", "goroutines -group userloc",
        lambda n: ("Total: %d\n" % n, 6)),
    Cmd("gdb-info-green-threads", "gdb-gt", ["info green-threads"],
        lambda n: ("%s green threads" % format(total(n), ","), 1)),
    Cmd("gdb-info-goroutines", "gdb-go", ["info goroutines"], lambda n: (" waiting ", 6 * n)),
    Cmd("gdb-info-green-threads-all", "gdb-gt", ["info green-threads --limit 0"],
        lambda n: (" sleeper ", n)),
    Cmd("dlv-goroutines", "dlv", "goroutines", lambda n: ("Goroutine ", total(n))),
    Cmd("gdb-green-bt", "gdb-gt", ["green-bt"], lambda n: ("in 8 distinct stacks", 1)),
    Cmd("gdb-green-thread-bt", "gdb-gt", ["green-thread {id}", "bt"],
        lambda n: ("read_wait", 1)),
    # Live only: Go's script switches goroutines by writing $pc and $sp,
    # which GDB refuses on a core.
    Cmd("gdb-goroutine-bt", "gdb-go", ["goroutine {id} bt"], lambda n: ("main.readWait", 1),
        where=("live",)),
    Cmd("dlv-goroutine-bt", "dlv", "goroutine {id} bt", lambda n: ("main.readWait", 1)),
]

# ---------------------------------------------------------------------------
# What bench/run.py runs and shows (it calls runs(); GROUPS and TARGETS are
# added to its own).
# ---------------------------------------------------------------------------


def runs(Run, a):
    out = [Run("observe", "blockers", a(n=16667, reps=5), a(n=1667, reps=3),
               [("observe-blockers-" + w, "%s-%s" % (what, t)) for w in ("live", "core")
                for t in BLOCKER_TARGETS for what in BLOCKER_TIMES])]
    for where in ("live", "core"):
        expects = [("observe-" + where, c.impl) for c in COMMANDS if where in c.where]
        # Go's commands take up to a minute each at 100K: one repetition,
        # and a 30 s limit keeps the whole plug-in near 3 minutes.
        quick = a(n=1667, reps=1, goreps=1, limit=30) if where == "live" else None
        out.append(Run("observe", where, a(n=16667, reps=3, goreps=1, limit=30), quick,
                       expects))
    return out


LABELS = {
    "gt-stacks": "gt: gt-stacks (whole run)",
    "gt-waste": "gt: gt-waste (whole run; no Go peer measures stacks)",
    "gdb-info-green-threads": "gt: GDB info green-threads (summary + 50 rows)",
    "gdb-info-green-threads-all": "gt: GDB info green-threads --limit 0 (every row)",
    "gdb-green-bt": "gt: GDB green-bt",
    "gdb-green-thread-bt": "gt: GDB green-thread ID + bt",
    "dlv-goroutines": "Go: dlv goroutines",
    "dlv-goroutines-group": "Go: dlv goroutines -group userloc (one frame)",
    "dlv-goroutines-t": "Go: dlv goroutines -t (every stack, ungrouped)",
    "dlv-goroutine-bt": "Go: dlv goroutine ID bt",
    "gdb-info-goroutines": "Go: GDB + runtime-gdb.py info goroutines",
    "gdb-goroutine-bt": "Go: GDB + runtime-gdb.py goroutine ID bt",
}


def group(where, short, title, baselines, impls):
    """A block of rows for one question, on the target `where`; its
    baseline is the first of `baselines` measured there, and rows whose
    command is not run there are left out."""
    bench = "observe-" + where
    runs_here = {c.impl for c in COMMANDS if where in c.where}
    return {"bench": bench, "short": "%s, %s" % (short, where),
            "title": "%s, %s (seconds; 6N+2 threads in 8 stacks)" % (title, where),
            "baseline": (bench, [b for b in baselines if b in runs_here][0]),
            "rows": [((bench, i), LABELS[i]) for i in impls if i in runs_here]}


BLOCKER_TARGETS = ("mixed", "pairs")
BLOCKER_TIMES = ("snapshot", "blockers_snapshot", "analysis", "analysis_cpu")
BLOCKER_LABELS = {
    "snapshot": "snapshot (GTO_SNAP_UNWIND, as before)",
    "blockers_snapshot": "snapshot with GTO_SNAP_BLOCKERS",
    "analysis": "who blocks whom alone (on top of a snapshot)",
    "analysis_cpu": "the same, CPU time (user + system)",
}

GROUPS = [
    {"bench": "observe-blockers-" + _w, "short": "blockers, %s, %s" % (_t, _w),
     "title": "who blocks whom on top of a snapshot, %s target, %s (seconds; 6N+2 "
              "threads)" % (_t, _w),
     "baseline": ("observe-blockers-" + _w, "snapshot-" + _t),
     "rows": [(("observe-blockers-" + _w, "%s-%s" % (what, _t)), BLOCKER_LABELS[what])
              for what in BLOCKER_TIMES]}
    for _w in ("live", "core") for _t in BLOCKER_TARGETS
]
for _w in ("live", "core"):
    GROUPS += [
        group(_w, "all stacks", "every thread's backtrace, grouped where the reader can",
              ["dlv-goroutines-t", "dlv-goroutines-group"],
              ["gt-stacks", "gdb-green-bt", "gt-waste", "dlv-goroutines-group",
               "dlv-goroutines-t"]),
        group(_w, "list vs GDB", "list every thread: GDB with gt's extension and with Go's "
              "runtime-gdb.py", ["gdb-info-goroutines"],
              ["gdb-info-green-threads", "gdb-info-green-threads-all", "gdb-info-goroutines"]),
        group(_w, "list vs Delve", "list every thread: GDB with gt's extension and Delve",
              ["dlv-goroutines"],
              ["gdb-info-green-threads", "gdb-info-green-threads-all", "dlv-goroutines"]),
        group(_w, "one thread", "select one thread and print its backtrace",
              ["gdb-goroutine-bt", "dlv-goroutine-bt"],
              ["gdb-green-thread-bt", "dlv-goroutine-bt", "gdb-goroutine-bt"]),
    ]

# Issue 3's limits for gt's readers at 100,000 threads, live and core.
TARGETS = [
    {"result": ("observe-" + w, impl), "kind": "abs", "limit": limit,
     "text": "%s, %s: <= %.1f s" % (impl, w, limit)}
    for w in ("live", "core")
    for impl, limit in (("gt-stacks", 1.0), ("gt-waste", 2.0),
                        ("gdb-info-green-threads", 0.5), ("gdb-green-bt", 1.5),
                        ("gdb-green-thread-bt", 0.3))
] + [
    {"result": ("observe-blockers-" + w, "analysis-" + t), "kind": "abs", "limit": 0.2,
     "text": "who blocks whom, %s, %s: <= 0.2 s on top of a snapshot" % (t, w)}
    for w in ("live", "core") for t in BLOCKER_TARGETS
]

# ---------------------------------------------------------------------------
# Running the readers.
# ---------------------------------------------------------------------------

MARK = re.compile(rb'BENCH-(START|END|ERROR) ([\w.-]+)"?(?: ([0-9.]+))?')


def die(msg):
    plugin_cli.die("bench-observe", msg)


def run_streamed(argv, stdin_text, limit, env):
    """Runs a debugger whose output brackets one command between
    BENCH-START and BENCH-END lines, reading the output as it arrives.
    Returns (seconds, output, timed_out): seconds from the END line when it
    carries them (measured inside GDB), else between the arrival of the two
    lines; a command still running `limit` seconds after START is stopped,
    with its process group, and counts as `limit`, timed out."""
    p = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin_text else subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                         start_new_session=True)
    if stdin_text:
        p.stdin.write(stdin_text.encode())
        p.stdin.close()
    fd = p.stdout.fileno()
    chunks, pending = [], b""
    start = end = None
    secs = None
    deadline = time.monotonic() + STARTUP_LIMIT
    timed_out = False
    while True:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        now = time.monotonic()
        if not ready:
            timed_out = start is not None and end is None
            os.killpg(p.pid, signal.SIGKILL)
            break
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
        data = pending + chunk
        cut = data.rfind(b"\n") + 1
        pending = data[cut:]
        for m in MARK.finditer(data[:cut]):
            kind, value = m.group(1), m.group(3)
            if kind == b"START":
                start, deadline = now, now + limit
            elif kind == b"END":
                end, deadline = now, now + STARTUP_LIMIT
                secs = float(value) if value else end - start
            else:
                p.kill()
                p.wait()
                die("%s: %s" % (" ".join(argv), b"".join(chunks)[-1000:].decode(
                    errors="replace")))
    p.wait()
    out = b"".join(chunks).decode(errors="replace")
    if timed_out:
        return float(limit), out, True
    if start is None or end is None:
        die("%s ended (status %s) without timing its command; its output ends:\n%s"
            % (" ".join(argv), p.returncode, out[-2000:]))
    return secs, out, False


class Side:
    """How to reach one program, live or as a core: the arguments each
    kind of reader takes to open it."""

    def __init__(self, exe, pid=None, core=None):
        self.exe = exe
        self.pid = pid
        self.core = core

    def tool_args(self):
        return [str(self.pid)] if self.core is None else ["--core", self.core, "--exe", self.exe]

    def gdb_args(self):
        return ["-p", str(self.pid)] if self.core is None else [self.exe, self.core]

    def dlv_args(self):
        return (["attach", str(self.pid)] if self.core is None
                else ["core", self.exe, self.core])


def check_programs():
    """Every peer program, found before anything starts (the Debian package
    that has it in brackets)."""
    for prog, pkg in (("dlv", "delve"), ("gdb", "gdb"), ("gcore", "gdb"), ("go", "golang-go")):
        if shutil.which(prog) is None:
            die("%s not found: install %s (bench/install-bench-deps.sh does)" % (prog, pkg))


def go_gdb_script():
    """Go's own GDB support, from the Go installation the twin is built with."""
    root = subprocess.run(["go", "env", "GOROOT"], stdout=subprocess.PIPE,
                          universal_newlines=True).stdout.strip()
    path = os.path.join(root, "src", "runtime", "runtime-gdb.py")
    if not os.path.isfile(path):
        die("no %s: Go's GDB script comes with golang-go (bench/install-bench-deps.sh)"
            % path)
    return path


def run_command(cmd, n, side, bindir, tmp, limit, go_script):
    """Runs one command against one side; returns (seconds, timed_out)."""
    t0 = time.monotonic()
    tid = reader_id(n)
    env = dict(os.environ, XDG_CONFIG_HOME=tmp)  # Delve: its defaults, no user config
    if cmd.how == "tool":
        try:
            secs, out = bench_tools.timed_output(
                [os.path.join(bindir, cmd.what)] + side.tool_args(), timeout=limit)
            timed_out = False
        except subprocess.TimeoutExpired:
            secs, out, timed_out = float(limit), "", True
    elif cmd.how == "dlv":
        what = cmd.what.format(id=tid)
        # Attached, exit asks whether to kill the process: the answer is no.
        script = ('print "BENCH-START %s"\n%s\nprint "BENCH-END %s"\nexit\nn\n'
                  % (cmd.impl, what, cmd.impl))
        argv = ["dlv"] + side.dlv_args() + ["--allow-non-terminal-interactive=true"]
        secs, out, timed_out = run_streamed(argv, script, limit, env)
    else:
        script = bench_gdb.GT_GDB_SCRIPT if cmd.how == "gdb-gt" else go_script
        probe, penv = bench_gdb.write_probe(tmp, [[cmd.impl,
                                                   [c.format(id=tid) for c in cmd.what]]])
        penv["XDG_CONFIG_HOME"] = tmp
        secs, out, timed_out = run_streamed(bench_gdb.gdb_argv(script, probe, side.gdb_args()),
                                            None, limit, penv)
    text, count = cmd.check(n)
    if not timed_out and out.count(text) < count:
        die("%s printed %r %d times, not at least %d, for %d threads; its output begins:\n%s"
            % (cmd.impl, text, out.count(text), count, total(n), out[:1500]))
    # On stderr, which run.py shows when something fails: where the time went.
    sys.stderr.write("bench-observe: %s %.3f s%s (%.1f s with start-up)\n" % (
        cmd.impl, secs, " TIMED OUT" if timed_out else "", time.monotonic() - t0))
    return secs, timed_out


def result(where, impl, values, n, timed_out):
    plugin_cli.result("observe-" + where, impl, "s", values, total(n), lower_bound=timed_out)


def start_go(exe, n):
    # One kernel thread runs gt's threads; Go gets one P to match.
    return bench_gdb.start_fixture([exe, str(n)], env=dict(os.environ, GOMAXPROCS="1"))


def stop(p):
    p.kill()
    p.wait()


def scenario(where, params, build):
    n, limit = params["n"], params["limit"]
    bindir = os.path.join(build, "bin")
    gt_exe = os.path.join(build, "tests", "gdb", "green_fixture")
    go_exe = os.path.join(build, "bench", "observe-go")
    check_programs()
    go_script = go_gdb_script()
    procs = []
    t0 = time.monotonic()
    with bench_gdb.scratch_dir() as tmp:
        try:
            if where == "live":
                procs.append(bench_gdb.start_fixture([gt_exe, str(n)]))
                gt = Side(gt_exe, pid=procs[-1].pid)
                procs.append(start_go(go_exe, n))
                go = Side(go_exe, pid=procs[-1].pid)
            else:
                gt = Side(gt_exe, core=bench_gdb.crash_core([gt_exe, str(n), "crash"], tmp))
                g = start_go(go_exe, n)
                try:
                    prefix = os.path.join(tmp, "go-core")
                    r = subprocess.run(["gcore", "-o", prefix, str(g.pid)],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                       universal_newlines=True, timeout=300)
                    if r.returncode != 0:
                        die("gcore of the Go twin failed: %s" % r.stderr.strip()[-500:])
                finally:
                    stop(g)
                go = Side(go_exe, core="%s.%d" % (prefix, g.pid))
            sys.stderr.write("bench-observe: %s: both targets ready after %.1f s\n"
                             % (where, time.monotonic() - t0))
            cmds = [c for c in COMMANDS if where in c.where]
            values = {c.impl: [] for c in cmds}
            stopped = set()
            for rep in range(max(params["reps"], params["goreps"])):
                for c in cmds:
                    quota = params["goreps"] if c.side == "go" else params["reps"]
                    if rep >= quota or c.impl in stopped:
                        continue
                    secs, timed_out = run_command(c, n, go if c.side == "go" else gt,
                                                  bindir, tmp, limit, go_script)
                    values[c.impl].append(secs)
                    if timed_out:
                        stopped.add(c.impl)
            sys.stderr.write("bench-observe: %s: measured after %.1f s\n"
                             % (where, time.monotonic() - t0))
        except (RuntimeError, subprocess.SubprocessError) as e:
            die(str(e))
        finally:
            for p in procs:
                stop(p)
    sys.stderr.write("bench-observe: %s: done after %.1f s\n" % (where, time.monotonic() - t0))
    for c in cmds:
        result(where, c.impl, values[c.impl], n, c.impl in stopped)


def blockers_target(kind, n, build):
    """The argv of a target of about 6N+2 threads, and what its ready line
    starts with."""
    if kind == "mixed":
        return [os.path.join(build, "tests", "gdb", "green_fixture"), str(n)], "ready "
    return [os.path.join(build, "tests", "tools", "blockers"), "-n", "0",
            "-c", str(3 * n)], "truth "


def start_blockers_target(argv, ready, cwd=None):
    def unlimited():
        import resource
        resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY,) * 2)
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True, cwd=cwd, preexec_fn=unlimited)
    line = p.stdout.readline()
    if not line.startswith(ready):
        stop(p)
        die("%s did not start: %r" % (" ".join(argv), line))
    return p


def time_blockers(argv, reps):
    """observe-snap's TIMES lines: {what: [seconds]}, and the cycles."""
    r = subprocess.run(argv + [str(reps)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=1800)
    if r.returncode != 0:
        die("%s: %s" % (" ".join(argv), r.stderr.strip()[-500:]))
    out = {w: [] for w in BLOCKER_TIMES}
    cycles = set()
    for line in r.stdout.splitlines():
        kv = dict(f.split("=") for f in line.split()[1:])
        for w in BLOCKER_TIMES:
            out[w].append(float(kv[w]))
        cycles.add(int(kv["cycles"]))
    return out, cycles


def blockers_scenario(params, build):
    n, reps = params["n"], params["reps"]
    snap = os.path.join(build, "bench", "observe-snap")
    for kind in BLOCKER_TARGETS:
        argv, ready = blockers_target(kind, n, build)
        # Every pair is a cycle, plus the fixture's own 2- and 3-cycle.
        want = {0} if kind == "mixed" else {3 * n + 2}
        with bench_gdb.scratch_dir() as tmp:
            p = start_blockers_target(argv, ready, cwd=tmp)
            try:
                live, cycles = time_blockers([snap, str(p.pid)], reps)
                if cycles != want:
                    die("%s: %s cycles, not %s" % (kind, cycles, want))
                # A kernel core: the GDB fixture crashes on request; the
                # blockers fixture aborts on its command.
                if kind == "mixed":
                    stop(p)
                    core = bench_gdb.crash_core(argv + ["crash"], tmp)
                else:
                    p.stdin.write("abort\n")
                    p.stdin.flush()
                    p.wait(timeout=600)
                    core = [f for f in os.listdir(tmp) if f.startswith("core")]
                    if not core:
                        die("%s left no core in %s" % (argv[0], tmp))
                    core = os.path.join(tmp, core[0])
                oncore, cycles = time_blockers([snap, "--core", core, argv[0]], reps)
                if cycles != want:
                    die("%s core: %s cycles, not %s" % (kind, cycles, want))
            finally:
                stop(p)
        for where, times in (("live", live), ("core", oncore)):
            for w in BLOCKER_TIMES:
                plugin_cli.result("observe-blockers-" + where, "%s-%s" % (w, kind), "s",
                                  times[w], total(n))


def main():
    build, where, params, _ = plugin_cli.parse(
        __doc__, "live, core or blockers",
        defaults={"n": 16667, "reps": 3, "goreps": 1, "limit": 30},
        scenarios=("live", "core", "blockers"))
    if where == "blockers":
        blockers_scenario(params, os.path.abspath(build))
    else:
        scenario(where, params, os.path.abspath(build))
    return 0


if __name__ == "__main__":
    sys.exit(main())
