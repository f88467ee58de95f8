#!/usr/bin/python3
"""bench/core_bench.py - a core of a live 100,000-thread gt program: gt-core
(full and --compact) against GDB's gcore and the kernel's core.

Run by bench/run.py through the wrapper build/bench/bench-core (made by
bench/core_bench.mk), `RESULT key=value ...` lines on stdout; `make
bench-core` runs it alone and prints its table.

    bench-core capture sleep=S deep=D read=R reps=K

The target is bench/million_stacks.c (S threads in usleep, D ten frames
deep in gt_chan_recv, R in read(); the main one reads stdin), with the
default stacks and guards (64 KiB, MADV_GUARD_INSTALL): the crowd of a
server.  K times each, in turn, against one running target:

  gt-core -o FILE PID            full core
  gt-core --compact -o FILE PID  compact core
  gcore -o PREFIX PID            GDB's (attach, dump, detach)
  the kernel's core              of a copy started the same way, killed
                                 with SIGSEGV under RLIMIT_CORE unlimited
                                 (the copy dies: that is its price)

and for each: capture time (the command's wall time; for the kernel, from
the signal to the death being reported, the dump being written in
between); the time the target is stopped (a thread of this driver polls
/proc/PID/stat and measures how long the target is in tracing stop, so
gt-core's own account is not taken for it; gt-core's is printed beside);
the file's size and its disk usage (du), and du against the target's RSS;
the share of green threads whose stack is missing from the core (gt-stacks
--core against the live gt-stacks: a thread counts as present when its
group in the core has its live frames).

Python 3 standard library only.
"""
import collections
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import plugin_cli

SIZE = {"sleep": 60000, "deep": 39900, "read": 100}
IMPLS = ("gt-core", "gt-core-compact", "gcore", "kernel")
STOPPING = ("gt-core", "gt-core-compact", "gcore")  # the kernel's kills instead
BENCHES = ("core-capture", "core-stop", "core-size", "core-du", "core-du-rss", "core-missing")


def runs(Run, a):
    expects = [(b, i) for b in BENCHES for i in IMPLS if b != "core-stop" or i in STOPPING]
    return [Run("core", "capture", a(reps=3, **SIZE), None, expects)]


_WHAT = {"gt-core": "gt-core PID (full)", "gt-core-compact": "gt-core --compact PID",
         "gcore": "GDB 13 gcore PID", "kernel": "kernel core (SIGSEGV; the process dies)"}


def _rows(bench, impls=IMPLS):
    return [((bench, i), _WHAT[i]) for i in impls]


_AT = "at 100K parked threads (bench/million_stacks.c, 64 KiB stacks, default guards)"
GROUPS = [
    {"bench": "core-capture", "short": "core capture",
     "title": "a core of a live gt program " + _AT + ": time to capture",
     "baseline": ("core-capture", "gcore"), "rows": _rows("core-capture")},
    {"bench": "core-stop", "short": "core stop",
     "title": "a core " + _AT + ": time the target is stopped (tracing stop seen in /proc)",
     "baseline": ("core-stop", "gcore"), "rows": _rows("core-stop", STOPPING)},
    {"bench": "core-size", "short": "core size",
     "title": "a core " + _AT + ": file size",
     "baseline": ("core-size", "kernel"), "rows": _rows("core-size")},
    {"bench": "core-du", "short": "core du",
     "title": "a core " + _AT + ": disk usage",
     "baseline": ("core-du", "kernel"), "rows": _rows("core-du")},
    {"bench": "core-du-rss", "short": "core du/RSS",
     "title": "a core " + _AT + ": disk usage / the target's RSS",
     "baseline": ("core-du-rss", "kernel"), "rows": _rows("core-du-rss")},
    {"bench": "core-missing", "short": "core stacks",
     "title": "a core " + _AT + ": green threads whose stack is missing (percent)",
     "baseline": ("core-missing", "gcore"), "rows": _rows("core-missing")},
]

TARGETS = [
    {"result": ("core-capture", "gt-core"), "kind": "abs", "limit": 2.0,
     "text": "capture <= 2 s"},
    {"result": ("core-capture", "gt-core-compact"), "kind": "abs", "limit": 2.0,
     "text": "capture <= 2 s"},
    {"result": ("core-stop", "gt-core"), "kind": "abs", "limit": 0.5,
     "text": "stopped <= 0.5 s"},
    {"result": ("core-stop", "gt-core-compact"), "kind": "abs", "limit": 0.5,
     "text": "stopped <= 0.5 s"},
    {"result": ("core-du-rss", "gt-core"), "kind": "abs", "limit": 1.2,
     "text": "du <= 1.2x RSS"},
    {"result": ("core-du", "gt-core-compact"), "kind": "ratio", "limit": 0.25,
     "against": ("core-du", "gt-core"), "text": "compact <= 1/4 of the full core"},
    {"result": ("core-missing", "gt-core"), "kind": "abs", "limit": 0.0,
     "text": "every stack present"},
    {"result": ("core-missing", "gt-core-compact"), "kind": "abs", "limit": 0.0,
     "text": "every stack present"},
]


def die(msg):
    plugin_cli.die("bench-core", msg)


def log(msg):
    sys.stderr.write("bench-core: %s\n" % msg)
    sys.stderr.flush()


class StopWatch(threading.Thread):
    """Polls /proc/PID/stat until told to end: how long, from the first
    sighting to the last, the process was in tracing stop ('t'), plus one
    polling period (so a stop shorter than a poll shows as one)."""
    PERIOD = 0.0005

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.path = "/proc/%d/stat" % pid
        self.end = threading.Event()
        self.first = self.last = None

    def run(self):
        while not self.end.is_set():
            try:
                with open(self.path, "rb") as f:
                    state = f.read().rsplit(b") ", 1)[1][:1]
            except OSError:
                return
            if state == b"t":
                now = time.monotonic()
                self.first = self.first or now
                self.last = now
            time.sleep(self.PERIOD)

    def stopped(self):
        self.end.set()
        self.join()
        return 0.0 if self.first is None else self.last - self.first + self.PERIOD


def rss_of(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"^VmRSS:\s+(\d+) kB", f.read(), re.M).group(1)) * 1024


def stacks_json(build, *where):
    p = subprocess.run([os.path.join(build, "bin", "gt-stacks"), "--json"] + list(where),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
    if p.returncode != 0:
        die("gt-stacks %s failed: %s" % (" ".join(where), p.stderr.decode()[-500:]))
    return json.loads(p.stdout)


def frames_by_thread(doc):
    """{thread id: its group's frames (function, file, line)}."""
    out = {}
    for g in doc["groups"]:
        key = tuple((f["function"], f.get("file"), f.get("line")) for f in g["frames"])
        for tid in g["thread_ids"]:
            out[tid] = key
    return out


def missing_percent(live, core):
    live_f, core_f = frames_by_thread(live), frames_by_thread(core)
    present = sum(1 for tid, key in live_f.items() if core_f.get(tid) == key)
    return 100.0 * (len(live_f) - present) / len(live_f)


def start(fixture, size, cwd=None, core_limit=False):
    def pre():
        if core_limit:
            resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY,) * 2)
    p = subprocess.Popen([fixture, str(size["sleep"]), str(size["deep"]), str(size["read"])],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=cwd,
                         preexec_fn=pre, text=True)
    if not p.stdout.readline().startswith("ready"):
        die("the fixture did not start")
    return p


def capture_with(impl, build, pid, path):
    """Runs IMPL's capture of PID to PATH: (wall s, stop s, its own account
    of the stop or None)."""
    if impl == "gcore":
        argv = ["gcore", "-o", path + ".gcore", str(pid)]
    else:
        argv = [os.path.join(build, "bin", "gt-core"), "-o", path] + \
            (["--compact"] if impl == "gt-core-compact" else []) + [str(pid)]
    watch = StopWatch(pid)
    watch.start()
    t0 = time.monotonic()
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=600)
    wall = time.monotonic() - t0
    stop = watch.stopped()
    if p.returncode != 0:
        die("%s failed (status %d): %s" % (" ".join(argv), p.returncode, p.stderr[-500:]))
    if impl == "gcore":
        os.rename("%s.gcore.%d" % (path, pid), path)
        return wall, stop, None
    m = re.search(r"; stopped ([\d.]+) s,", p.stdout)
    return wall, stop, float(m.group(1)) if m else None


def kernel_capture(fixture, size, build, directory):
    """A copy of the target killed with SIGSEGV: (wall s, core path, live
    gt-stacks of the copy, its RSS)."""
    with open("/proc/sys/kernel/core_pattern") as f:
        pattern = f.read().strip()
    if pattern.startswith("|") or "/" in pattern:
        die("kernel.core_pattern is %r: the bench needs a plain file name (core)" % pattern)
    p = start(fixture, size, cwd=directory, core_limit=True)
    live = stacks_json(build, str(p.pid))
    rss = rss_of(p.pid)
    t0 = time.monotonic()
    p.send_signal(signal.SIGSEGV)
    p.wait()
    wall = time.monotonic() - t0
    p.stdin.close()
    p.stdout.close()
    if p.returncode != -signal.SIGSEGV:
        die("the copy ended with status %d, not SIGSEGV" % p.returncode)
    cores = [n for n in os.listdir(directory) if n.startswith("core")]
    if len(cores) != 1:
        die("the kernel wrote no core (%s; core_pattern %r)" % (os.listdir(directory), pattern))
    return wall, os.path.join(directory, cores[0]), live, rss


def scenario(params, build):
    fixture = os.path.join(build, "bench", "million_stacks")
    size = {k: params[k] for k in ("sleep", "deep", "read")}
    n = sum(size.values()) + 1
    got = collections.defaultdict(list)
    work = tempfile.mkdtemp(prefix="bench-core-")
    t0 = time.monotonic()
    target = start(fixture, size)
    try:
        log("%d threads ready after %.1f s" % (n, time.monotonic() - t0))
        pid = target.pid
        live = stacks_json(build, str(pid))
        for rep in range(params["reps"]):
            for impl in ("gt-core", "gt-core-compact", "gcore"):
                path = os.path.join(work, impl)
                rss = rss_of(pid)
                wall, stop, own = capture_with(impl, build, pid, path)
                st = os.stat(path)
                core = stacks_json(build, "--core", path, "--exe", fixture)
                miss = missing_percent(live, core)
                os.unlink(path)
                for b, v in (("capture", wall), ("stop", stop), ("size", st.st_size),
                             ("du", st.st_blocks * 512), ("du-rss", st.st_blocks * 512 / rss),
                             ("missing", miss)):
                    got[("core-" + b, impl)].append(v)
                log("%-16s %.2f s, stopped %.3f s%s, %.1f MiB (du %.1f MiB, RSS %.1f MiB), "
                    "%.1f%% of stacks missing" % (
                        impl, wall, stop, "" if own is None else " (its own count: %.3f s)" % own,
                        st.st_size / 2 ** 20, st.st_blocks * 512 / 2 ** 20, rss / 2 ** 20, miss))
    finally:
        target.kill()
        target.wait()
    # The kernel's cores, of copies started one at a time once the target
    # is gone: never two crowds of this size at once on the machine.
    try:
        for rep in range(params["reps"]):
            d = os.path.join(work, "kernel")
            os.mkdir(d)
            wall, path, copy_live, rss = kernel_capture(fixture, size, build, d)
            st = os.stat(path)
            miss = missing_percent(copy_live, stacks_json(build, "--core", path, "--exe", fixture))
            shutil.rmtree(d)
            for b, v in (("capture", wall), ("size", st.st_size), ("du", st.st_blocks * 512),
                         ("du-rss", st.st_blocks * 512 / rss), ("missing", miss)):
                got[("core-" + b, "kernel")].append(v)
            log("%-16s %.2f s, %.1f MiB (du %.1f MiB, RSS %.1f MiB), %.1f%% of stacks missing"
                % ("kernel", wall, st.st_size / 2 ** 20, st.st_blocks * 512 / 2 ** 20,
                   rss / 2 ** 20, miss))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    units = {"core-capture": "s", "core-stop": "s", "core-size": "bytes", "core-du": "bytes",
             "core-du-rss": "x", "core-missing": "%"}
    for (bench, impl), values in sorted(got.items()):
        plugin_cli.result(bench, impl, units[bench], values, n)


def main():
    build, _, params, _ = plugin_cli.parse(
        __doc__, "capture", defaults=dict(SIZE, reps=3), scenarios=("capture",))
    scenario(params, os.path.abspath(build))
    return 0


if __name__ == "__main__":
    sys.exit(main())
