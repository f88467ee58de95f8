#!/usr/bin/python3
"""bench/run.py - run every benchmark program and print one table.

Each program under BUILD/bench/ (bench-gt, bench-fcontext, ...) measures
one implementation and prints `RESULT key=value ...` lines (see
bench/bench_util.h).  This driver runs each scenario in its own process,
collects the lines, and prints ONE table in which every figure is also a
ratio against a named peer measured in the same run, next to the targets
gt is held to.  It writes the same table to bench/results/bench.md and
everything it saw to bench/results/bench.json.

Nothing fails quietly: a program that is missing, exits non-zero, times
out or leaves out a result it owes becomes an ERROR row, a message on
stderr, and exit status 1.

The whole run is pinned to one CPU.  The green-thread runtimes here all
run on one core, so every peer gets exactly one: Go runs with
GOMAXPROCS=1, and pthreads hand-offs become same-core context switches.

Python 3 standard library only.
"""

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# ---------------------------------------------------------------------------
# What to run.  Each run is one process: (program, scenario, full-size
# arguments, quick arguments or None to leave it out of bench-quick, the
# (bench, impl) results it must print, and a label for each of them when
# the table should call it something else).
# ---------------------------------------------------------------------------


class Run:
    def __init__(self, program, scenario, full, quick, expects, relabel=None, env=None):
        self.program = program
        # Environment variables of this run only (on top of child_env()).
        self.env = env or {}
        self.scenario = scenario
        self.full = full
        self.quick = quick
        self.expects = expects
        # RESULT impl names are the program's; a run of the same program at
        # another size is told apart here ("gt" at 100K vs at 1M).
        self.relabel = relabel or {}


def a(**kw):
    return kw


RUNS = [
    # Hand-off: yield ping-pong between two threads.
    Run("gt", "yield", a(n=4000000, reps=11), a(n=1000000, reps=5), [("yield", "gt")]),
    Run("gt", "yield", a(n=4000000, reps=11), a(n=1000000, reps=5), [("yield", "gt-nowd")],
        env={"GT_WATCHDOG_MS": "0"}),
    Run("gt-noinstr", "yield", a(n=4000000, reps=11), a(n=1000000, reps=5),
        [("yield", "gt-noinstr")]),
    Run("gt", "yield-parked", a(n=4000000, parked=100000, reps=11),
        a(n=1000000, parked=100000, reps=5), [("yield-parked", "gt")]),
    Run("fcontext", "yield", a(n=4000000, reps=11), a(n=1000000, reps=5),
        [("yield", "fcontext")]),
    Run("st", "yield", a(n=2000000, reps=11), a(n=500000, reps=5), [("yield", "st")]),
    Run("pth", "yield", a(n=40000, reps=11), a(n=10000, reps=5), [("yield", "pth")]),
    Run("ucontext", "yield", a(n=1000000, reps=11), a(n=200000, reps=5),
        [("yield", "ucontext")]),
    Run("pthread", "yield", a(n=100000, reps=11), a(n=20000, reps=5),
        [("yield", "pthread-futex")]),
    Run("go", "yield", a(n=2000000, reps=11), a(n=500000, reps=5), [("yield", "go")]),
    # spawn + run + exit, one thread after another.
    Run("gt", "spawn", a(n=100000, reps=11), a(n=100000, reps=5), [("spawn", "gt")]),
    Run("gt", "spawn", a(n=100000, reps=11), a(n=100000, reps=5), [("spawn", "gt-nowd")],
        env={"GT_WATCHDOG_MS": "0"}),
    Run("gt-noinstr", "spawn", a(n=100000, reps=11), a(n=100000, reps=5),
        [("spawn", "gt-noinstr")]),
    Run("fcontext", "spawn", a(n=100000, reps=11), a(n=100000, reps=5),
        [("spawn", "fcontext")]),
    Run("st", "spawn", a(n=100000, reps=11), a(n=100000, reps=5), [("spawn", "st")]),
    Run("pth", "spawn", a(n=100000, reps=5), a(n=10000, reps=3), [("spawn", "pth")]),
    Run("pthread", "spawn", a(n=100000, reps=5), a(n=5000, reps=3), [("spawn", "pthread")]),
    Run("go", "spawn", a(n=100000, reps=11), a(n=100000, reps=5), [("spawn", "go")]),
    # park/wake ping-pong.
    Run("gt", "parkwake-cond", a(n=2000000, reps=11), a(n=500000, reps=5),
        [("parkwake", "gt-cond")]),
    Run("gt-noinstr", "parkwake-cond", a(n=2000000, reps=11), a(n=500000, reps=5),
        [("parkwake", "gt-noinstr-cond")]),
    Run("gt", "parkwake-chan", a(n=2000000, reps=11), a(n=500000, reps=5),
        [("parkwake", "gt-chan")]),
    Run("gt-noinstr", "parkwake-chan", a(n=2000000, reps=11), a(n=500000, reps=5),
        [("parkwake", "gt-noinstr-chan")]),
    Run("st", "parkwake", a(n=2000000, reps=11), a(n=500000, reps=5), [("parkwake", "st")]),
    Run("go", "parkwake", a(n=2000000, reps=11), a(n=500000, reps=5),
        [("parkwake", "go-chan")]),
    Run("pthread", "parkwake", a(n=100000, reps=11), a(n=20000, reps=5),
        [("parkwake", "pthread-condvar")]),
    # 100K threads that touch 1 KiB of stack and park.
    Run("gt", "touch1k", a(n=100000, reps=7), a(n=100000, reps=3), [("touch1k", "gt")]),
    Run("fcontext", "touch1k", a(n=100000, reps=7), a(n=100000, reps=3),
        [("touch1k", "fcontext")]),
    # Memory per parked thread.
    Run("gt", "rss", a(n=100000, reps=5), a(n=100000, reps=3), [("rss", "gt")]),
    Run("go", "rss", a(n=100000, reps=5), a(n=100000, reps=3), [("rss", "go")]),
    Run("st", "rss", a(n=100000, reps=5), a(n=100000, reps=3), [("rss", "st")]),
    Run("pthread", "rss", a(n=10000, reps=5), a(n=10000, reps=3),
        [("rss", "pthread"), ("rss", "pthread-kstack")]),
    # 1,000,000 threads, against the same program at 100K: per-thread
    # figures that stay flat are the point.
    Run("gt", "million", a(n=100000, reps=3), None,
        [("million", "gt"), ("million-rss", "gt")],
        relabel={"gt": "gt@100K"}),
    Run("gt", "million", a(n=1000000, reps=3), None,
        [("million", "gt"), ("million-rss", "gt")],
        relabel={"gt": "gt@1M"}),
]

# ---------------------------------------------------------------------------
# How to show it.  A group is a block of rows with one baseline; each row
# names a (bench, impl) result and how to call it.
# ---------------------------------------------------------------------------

GROUPS = [
    {
        "bench": "yield",
        "short": "yield",
        "title": "hand-off: yield ping-pong, 2 threads (ns per hand-off)",
        "baseline": ("yield", "fcontext"),
        "rows": [
            (("yield", "gt"), "gt: gt_yield"),
            (("yield", "gt-nowd"), "gt: gt_yield, GT_WATCHDOG_MS=0"),
            (("yield", "gt-noinstr"), "gt -DGT_NO_INSTRUMENT"),
            (("yield-parked", "gt"), "gt: gt_yield, 100K others parked"),
            (("yield", "fcontext"), "Boost.Context jump_fcontext"),
            (("yield", "st"), "State Threads: st_cond ping-pong"),
            (("yield", "pth"), "GNU Pth: pth_yield"),
            (("yield", "ucontext"), "glibc swapcontext"),
            (("yield", "pthread-futex"), "pthreads: futex ping-pong"),
            (("yield", "go"), "Go: runtime.Gosched"),
        ],
    },
    {
        "bench": "spawn",
        "short": "spawn",
        "title": "spawn + run + exit, one after another (ns per thread)",
        "baseline": ("spawn", "fcontext"),
        "rows": [
            (("spawn", "gt"), "gt: gt_spawn + gt_join"),
            (("spawn", "gt-nowd"), "gt: GT_WATCHDOG_MS=0"),
            (("spawn", "gt-noinstr"), "gt -DGT_NO_INSTRUMENT"),
            (("spawn", "fcontext"), "fcontext: make + jump in + jump out"),
            (("spawn", "st"), "State Threads: create + join"),
            (("spawn", "pth"), "GNU Pth: pth_spawn + pth_join"),
            (("spawn", "pthread"), "pthreads: create + join"),
            (("spawn", "go"), "Go: go f() + channel receive"),
        ],
    },
    {
        "bench": "parkwake",
        "short": "park/wake",
        "title": "park/wake ping-pong, 2 threads (ns per hand-off)",
        "baseline": ("parkwake", "go-chan"),
        "rows": [
            (("parkwake", "gt-cond"), "gt: gt_mutex + gt_cond"),
            (("parkwake", "gt-noinstr-cond"), "gt -DGT_NO_INSTRUMENT: cond"),
            (("parkwake", "gt-chan"), "gt: gt_chan (capacity 1)"),
            (("parkwake", "gt-noinstr-chan"), "gt -DGT_NO_INSTRUMENT: chan"),
            (("parkwake", "st"), "State Threads: st_cond"),
            (("parkwake", "go-chan"), "Go: unbuffered channels"),
            (("parkwake", "pthread-condvar"), "pthreads: mutex + condvar"),
        ],
    },
    {
        "bench": "touch1k",
        "short": "touch 1 KiB",
        "title": "spawn threads that touch 1 KiB of stack and park (ns per thread)",
        "baseline": ("touch1k", "fcontext"),
        "rows": [
            (("touch1k", "gt"), "gt"),
            (("touch1k", "fcontext"), "fcontext, stacks carved from one mmap"),
        ],
    },
    {
        "bench": "rss",
        "short": "RSS/thread",
        "title": "memory per parked thread (RSS delta / threads)",
        "baseline": ("rss", "go"),
        "rows": [
            (("rss", "gt"), "gt (64 KiB stacks)"),
            (("rss", "go"), "Go goroutines"),
            (("rss", "st"), "State Threads (64 KiB stacks)"),
            (("rss", "pthread"), "pthreads (16 KiB stacks), user RSS"),
            (("rss", "pthread-kstack"), "pthreads + their kernel stacks"),
        ],
    },
    {
        "bench": "million",
        "short": "1M threads",
        "title": "gt at 1,000,000 threads: spawn, park, wake, exit, join (ns per thread)",
        "baseline": ("million", "gt@100K"),
        "rows": [
            (("million", "gt@1M"), "gt, 1M threads"),
            (("million", "gt@100K"), "gt, 100K threads"),
        ],
    },
    {
        "bench": "million-rss",
        "short": "1M peak RSS",
        "title": "gt at 1,000,000 threads: peak RSS delta per thread",
        "baseline": ("million-rss", "gt@100K"),
        "rows": [
            (("million-rss", "gt@1M"), "gt, 1M threads"),
            (("million-rss", "gt@100K"), "gt, 100K threads"),
        ],
    },
]

# The targets gt is held to.  kind "ratio": median / baseline's median <=
# limit; kind "abs": median <= limit (in the result's unit).
TARGETS = [
    {"result": ("yield", "gt"), "kind": "ratio", "limit": 1.5,
     "against": ("yield", "fcontext"), "text": "<= 1.5x jump_fcontext"},
    {"result": ("spawn", "gt"), "kind": "abs", "limit": 100.0,
     "text": "<= 0.1 us per thread"},
    {"result": ("touch1k", "gt"), "kind": "ratio", "limit": 1.2,
     "against": ("touch1k", "fcontext"), "text": "<= 1.2x fcontext"},
    {"result": ("rss", "gt"), "kind": "abs", "limit": 4.5 * 1024,
     "text": "<= 4.5 KiB per parked thread"},
]

# ---- Plug-ins: every bench/*_bench.py (knot_bench.py: Knot against nginx
# and a State Threads server; and the others) adds its runs, groups and
# targets.  Each is run through build/bench/bench-<name> like any other
# program, so nothing below needs to know about it. ----
sys.path.insert(0, HERE)
for _file in sorted(os.listdir(HERE)):
    if _file.endswith("_bench.py"):
        _mod = __import__(_file[:-3])
        RUNS += _mod.runs(Run, a)
        GROUPS += _mod.GROUPS
        TARGETS += _mod.TARGETS
# ---- end of plug-ins ----

# What the registry updates cost: the instrumented build against the one
# built with -DGT_NO_INSTRUMENT, measured in the same run.
INSTRUMENTATION = [
    ("yield", ("yield", "gt"), ("yield", "gt-noinstr")),
    ("spawn", ("spawn", "gt"), ("spawn", "gt-noinstr")),
    ("park/wake cond", ("parkwake", "gt-cond"), ("parkwake", "gt-noinstr-cond")),
    ("park/wake chan", ("parkwake", "gt-chan"), ("parkwake", "gt-noinstr-chan")),
]

# What the watchdog costs when nobody hogs (the issue: within 2%): the
# default build with its watchdog on against GT_WATCHDOG_MS=0, same run.
WATCHDOG = [
    ("yield", ("yield", "gt"), ("yield", "gt-nowd")),
    ("spawn", ("spawn", "gt"), ("spawn", "gt-nowd")),
]
WATCHDOG_LIMIT = 1.02

# The yield-with-100K-parked row is "flat" if within this of plain yield.
FLAT_LIMIT = 1.10
# A wrk that kept its CPU this busy was the bottleneck: its requests/s say
# how fast the client went, and the servers differ in their CPU per request.
CLIENT_BOUND = 0.95

# ---------------------------------------------------------------------------


def check_tables():
    """Every row shown must come from some run and every result owed must
    have a row: a typo here would otherwise drop a row without a word."""
    produced = {(b, r.relabel.get(i, i)) for r in RUNS for b, i in r.expects}
    shown = {key for g in GROUPS for key, _ in g["rows"]}
    needed = (shown | {g["baseline"] for g in GROUPS}
              | {t["result"] for t in TARGETS}
              | {t["against"] for t in TARGETS if "against" in t}
              | {k for _, on, off in INSTRUMENTATION + WATCHDOG for k in (on, off)})
    problems = ["%s/%s is shown or compared but no run produces it" % k
                for k in sorted(needed - produced)]
    problems += ["%s/%s is produced but has no row" % k for k in sorted(produced - shown)]
    if problems:
        raise SystemExit("bench/run.py: inconsistent tables:\n  " + "\n  ".join(problems))


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def fmt_value(v, unit):
    if v is None:
        return "-"
    if unit == "ns":
        if v >= 1e6:
            return "%.2f ms" % (v / 1e6)
        if v >= 1e3:
            return "%.2f us" % (v / 1e3)
        return "%.1f ns" % v if v < 100 else "%.0f ns" % v
    if unit == "bytes":
        if abs(v) >= 1024 ** 3:
            return "%.2f GiB" % (v / 1024 ** 3)
        if abs(v) >= 1024 * 1024:
            return "%.1f MiB" % (v / 1048576)
        if abs(v) >= 1024:
            return "%.2f KiB" % (v / 1024)
        return "%.0f B" % v
    return "%.4g %s" % (v, unit)


def fmt_count(n):
    if n is None:
        return "-"
    if n >= 1000000 and n % 1000000 == 0:
        return "%dM" % (n // 1000000)
    if n >= 1000 and n % 1000 == 0:
        return "%dK" % (n // 1000)
    return str(n)


def parse_result(line):
    fields = {}
    for tok in line.split()[1:]:
        key, sep, val = tok.partition("=")
        if not sep:
            raise ValueError("token %r is not key=value" % tok)
        fields[key] = val
    for key in ("bench", "impl", "unit", "median", "min", "max", "reps", "n"):
        if key not in fields:
            raise ValueError("no %s= field" % key)
    for key in ("median", "min", "max"):
        fields[key] = float(fields[key])
    for key in ("reps", "n"):
        fields[key] = int(fields[key])
    return fields


def pin_to_one_cpu():
    allowed = sorted(os.sched_getaffinity(0))
    # The last CPU: CPU 0 usually takes more of the interrupts.
    cpu = allowed[-1]
    os.sched_setaffinity(0, {cpu})
    return cpu, len(allowed)


def child_env():
    env = dict(os.environ)
    # Settings that would change what gt measures; the programs pass
    # explicit stack sizes, this is for whatever they do not.
    for var in ("GT_STACK_SIZE", "GT_LOCATION_DEPTH", "GT_WATCHDOG_MS", "GT_WATCHDOG_ABORT_MS",
                "GOGC", "GODEBUG"):
        env.pop(var, None)
    env["GOMAXPROCS"] = "1"
    return env


def run_one(run, build, quick, timeout, env):
    """Runs one program; returns (results, error or None, seconds)."""
    exe = os.path.join(build, "bench", "bench-" + run.program)
    params = run.quick if quick else run.full
    argv = [exe, run.scenario] + ["%s=%d" % kv for kv in sorted(params.items())]
    cmd = " ".join(["%s=%s" % kv for kv in sorted(run.env.items())] +
                   [os.path.relpath(argv[0]) if i == 0 else x for i, x in enumerate(argv)])
    t0 = time.monotonic()
    if not os.access(exe, os.X_OK):
        return [], "%s: program not built (run make bench)" % cmd, 0.0
    try:
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=timeout, env=dict(env, **run.env),
                              universal_newlines=True)
    except subprocess.TimeoutExpired as e:
        err = e.stderr or ""
        if isinstance(err, bytes):
            err = err.decode(errors="replace")
        return [], "%s: timed out after %d s; stderr: %s" % (cmd, timeout, err[-500:]), timeout
    except OSError as e:
        return [], "%s: cannot run: %s" % (cmd, e), 0.0
    secs = time.monotonic() - t0
    if proc.returncode != 0:
        how = ("killed by signal %d" % -proc.returncode if proc.returncode < 0
               else "exit status %d" % proc.returncode)
        tail = proc.stderr.strip().splitlines()[-5:]
        return [], "%s: %s%s" % (cmd, how, "".join("\n    " + t for t in tail)), secs
    results = []
    for line in proc.stdout.splitlines():
        if not line.startswith("RESULT "):
            continue
        try:
            r = parse_result(line)
        except ValueError as e:
            return [], "%s: unreadable line %r: %s" % (cmd, line, e), secs
        r["impl"] = run.relabel.get(r["impl"], r["impl"])
        r["command"] = cmd
        results.append(r)
    got = {(r["bench"], r["impl"]) for r in results}
    want = {(b, run.relabel.get(i, i)) for b, i in run.expects}
    missing = sorted(want - got)
    if missing:
        return results, "%s: printed no result for %s" % (
            cmd, ", ".join("%s/%s" % m for m in missing)), secs
    return results, None, secs


def ratio(results, key, against):
    r, b = results.get(key), results.get(against)
    if not r or not b or b["median"] == 0:
        return None
    return r["median"] / b["median"]


def build_rows(results, errors_by_key, ran_keys):
    """The table as a list of dicts, one per row, group headers included."""
    rows, legend = [], []
    target_of = {t["result"]: t for t in TARGETS}
    for g in GROUPS:
        if not any(key in ran_keys for key, _ in g["rows"]):
            continue
        base_key = g["baseline"]
        base_label = dict(g["rows"]).get(base_key, base_key[1])
        legend.append((g["short"], g["title"]))
        first = True
        for key, label in g["rows"]:
            if key not in ran_keys:
                continue
            row = {"group": g["short"] if first else "", "bench": key[0], "impl": key[1],
                   "label": label}
            first = False
            r = results.get(key)
            if r is None:
                row["error"] = errors_by_key.get(key, "no result")
                rows.append(row)
                continue
            row.update(n=r["n"], unit=r["unit"], median=r["median"], min=r["min"],
                       max=r["max"], reps=r["reps"])
            if "lower_bound" in r:
                row["lower_bound"] = True
            if key == base_key:
                row["ratio_text"] = "1.00x (baseline)"
            else:
                q = ratio(results, key, base_key)
                row["ratio"] = q
                # A median that is a time limit (lower_bound=1: the command was
                # stopped) bounds the ratio from one side only.
                bound = {(True, False): "> ", (False, True): "< ", (True, True): "? "}.get(
                    ("lower_bound" in r, "lower_bound" in results.get(base_key, {})), "")
                row["ratio_text"] = ("%s%.*fx %s" % (bound, 2 if q >= 0.1 else 3, q, base_key[1])
                                     if q is not None
                                     else "n/a: %s has no result" % base_key[1])
            notes = ["stopped at its time limit: takes longer"] if "lower_bound" in r else []
            t = target_of.get(key)
            if t:
                verdict = judge(t, results)
                row["target"] = {"text": t["text"], "met": verdict}
                notes.append("target %s: %s" % (
                    t["text"], {True: "met", False: "MISSED", None: "n/a"}[verdict]))
            if key == ("yield-parked", "gt"):
                q = ratio(results, key, ("yield", "gt"))
                if q is not None:
                    row["vs_unparked"] = q
                    notes.append("%.2fx gt with none parked (%s)" % (
                        q, "flat" if q <= FLAT_LIMIT else "NOT flat"))
            if key[0] == "million-rss" and "peak_rss_mib" in r:
                notes.append("process peak %s" % fmt_value(
                    float(r["peak_rss_mib"]) * 1048576, "bytes"))
            if key[0] == "million" and "park_ns" in r:
                notes.append("spawn + park alone %s" % fmt_value(float(r["park_ns"]), "ns"))
            if float(r.get("client_busy", 0)) >= CLIENT_BOUND:
                notes.append("wrk's CPU %.0f%% busy: the client set this rate; "
                             "compare cpu/req" % (float(r["client_busy"]) * 100))
            if key == ("rss", "pthread"):
                notes.append("at %s threads (pid_max)" % fmt_count(r["n"]))
            if key == ("rss", "pthread-kstack"):
                notes.append("kernel memory RSS does not show")
            row["note"] = "; ".join(notes)
            rows.append(row)
    # Instrumentation cost, as rows of the same table.
    inst_rows = []
    for name, on, off in INSTRUMENTATION:
        if on not in ran_keys and off not in ran_keys:
            continue
        a_, b_ = results.get(on), results.get(off)
        row = {"group": "" if inst_rows else "instrumentation", "bench": "instrumentation",
               "impl": name, "label": "%s: %s vs %s" % (name, on[1], off[1])}
        if not a_ or not b_:
            row["error"] = "needs both %s and %s" % (on[1], off[1])
        else:
            delta = a_["median"] - b_["median"]
            row.update(unit=a_["unit"], median=delta, n=a_["n"],
                       ratio=a_["median"] / b_["median"])
            row["delta_text"] = ("+" if delta >= 0 else "-") + fmt_value(abs(delta), a_["unit"])
            row["ratio_text"] = "%.2fx %s" % (row["ratio"], off[1])
            row["note"] = "%+.1f%% for the registry updates" % ((row["ratio"] - 1) * 100)
        inst_rows.append(row)
    if inst_rows:
        legend.append(("instrumentation", "what the registry updates cost: the median "
                       "of the normal build minus that of the -DGT_NO_INSTRUMENT build"))
        rows.extend(inst_rows)
    wd_rows = []
    for name, on, off in WATCHDOG:
        if on not in ran_keys and off not in ran_keys:
            continue
        a_, b_ = results.get(on), results.get(off)
        row = {"group": "" if wd_rows else "watchdog", "bench": "watchdog", "impl": name,
               "label": "watchdog: %s on vs off" % name}
        if not a_ or not b_:
            row["error"] = "needs both %s and %s" % (on[1], off[1])
        else:
            delta = a_["median"] - b_["median"]
            q = a_["median"] / b_["median"]
            row.update(unit=a_["unit"], median=delta, n=a_["n"], ratio=q)
            row["delta_text"] = ("+" if delta >= 0 else "-") + fmt_value(abs(delta), a_["unit"])
            row["ratio_text"] = "%.3fx %s" % (q, off[1])
            row["target"] = {"text": "within 2%", "met": q <= WATCHDOG_LIMIT}
            row["note"] = "%+.1f%% with the watchdog on; target within 2%%: %s" % (
                (q - 1) * 100, "met" if q <= WATCHDOG_LIMIT else "MISSED")
        wd_rows.append(row)
    if wd_rows:
        legend.append(("watchdog", "what the watchdog costs when nobody hogs: the median "
                       "with it on (the default) minus that with GT_WATCHDOG_MS=0"))
        rows.extend(wd_rows)
    return rows, legend


def judge(t, results):
    r = results.get(t["result"])
    if not r:
        return None
    if t["kind"] == "abs":
        return r["median"] <= t["limit"]
    q = ratio(results, t["result"], t["against"])
    if t["kind"] == "ratio-min":  # higher is better (requests/s)
        return None if q is None else q >= t["limit"]
    return None if q is None else q <= t["limit"]


def render_table(rows):
    cols = ["benchmark", "implementation", "n", "median", "min - max", "ratio",
            "target / note"]
    body = []
    for row in rows:
        if "error" in row:
            body.append(("row", [row["group"], row["label"], "-", "ERROR", "-", "-",
                                 row["error"]]))
            continue
        unit = row["unit"]
        if "delta_text" in row:
            med, spread = row["delta_text"], "-"
        else:
            med = ("> " if "lower_bound" in row else "") + fmt_value(row["median"], unit)
            spread = "%s - %s" % (fmt_value(row["min"], unit), fmt_value(row["max"], unit))
        body.append(("row", [row["group"], row["label"], fmt_count(row.get("n")), med, spread,
                             row.get("ratio_text", "-"), row.get("note", "")]))
    widths = [len(c) for c in cols]
    for kind, cells in body:
        if kind == "row":
            widths = [max(w, len(c)) for w, c in zip(widths, cells)]

    def line(cells):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"

    out = [line(cols), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(cells) for _, cells in body]
    return "\n".join(out)


def machine_meta(cpu, ncpus, quick):
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for l in f:
                if l.startswith("model name"):
                    model = l.split(":", 1)[1].strip()
                    break
    except OSError:
        pass

    def version(argv):
        try:
            out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 universal_newlines=True, timeout=30).stdout
            return out.strip().splitlines()[0] if out.strip() else "unknown"
        except (OSError, subprocess.TimeoutExpired):
            return "unknown"

    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "mode": "quick" if quick else "full",
        "cpu": model,
        "cpus_allowed": ncpus,
        "pinned_cpu": cpu,
        "kernel": platform.release(),
        "cc": version([os.environ.get("CC", "cc"), "--version"]),
        "go": version(["go", "version"]),
        "packages": {p: version(["dpkg-query", "-W", "-f=${Version}", p])
                     for p in ("libst-dev", "libpth-dev", "libboost-context-dev", "golang-go")},
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build", help="build directory (default: build)")
    ap.add_argument("--quick", action="store_true",
                    help="reduced sizes, no 1M-thread run (about a minute)")
    ap.add_argument("--only", metavar="PROGRAM[,PROGRAM]",
                    help="run only these programs (gt, gt-noinstr, fcontext, st, pth, "
                         "ucontext, pthread, go); for working on one peer")
    ap.add_argument("--out", default=os.path.join(HERE, "results"),
                    help="where bench.json and bench.md go (default: bench/results)")
    opts = ap.parse_args()
    check_tables()

    runs = [r for r in RUNS if (r.quick if opts.quick else r.full) is not None]
    if opts.only:
        wanted = set(opts.only.split(","))
        unknown = wanted - {r.program for r in RUNS}
        if unknown:
            ap.error("--only: no program called %s" % ", ".join(sorted(unknown)))
        runs = [r for r in runs if r.program in wanted]

    cpu, ncpus = pin_to_one_cpu()
    env = child_env()
    timeout = 300 if opts.quick else 600
    log("bench: %s run, %d programs, pinned to CPU %d of %d" % (
        "quick" if opts.quick else "full", len(runs), cpu, ncpus))

    results, raw, errors, errors_by_key, ran_keys = {}, [], [], {}, set()
    started = time.monotonic()
    for i, run in enumerate(runs, 1):
        res, err, secs = run_one(run, opts.build, opts.quick, timeout, env)
        log("  [%2d/%d] %-11s %-14s %6.1f s%s" % (
            i, len(runs), run.program, run.scenario, secs, "  ERROR" if err else ""))
        for b, imp in run.expects:
            ran_keys.add((b, run.relabel.get(imp, imp)))
        for r in res:
            results[(r["bench"], r["impl"])] = r
            raw.append(r)
        if err:
            errors.append(err)
            for b, imp in run.expects:
                errors_by_key.setdefault((b, run.relabel.get(imp, imp)), err.split("\n")[0])
    elapsed = time.monotonic() - started

    rows, legend = build_rows(results, errors_by_key, ran_keys)
    table = render_table(rows)
    legend_text = "\n".join("- %s: %s" % kv for kv in legend)
    meta = machine_meta(cpu, ncpus, opts.quick)
    meta["seconds"] = round(elapsed, 1)
    meta["partial"] = bool(opts.only)
    met = [t for t in TARGETS if t["result"] in ran_keys]
    verdicts = [(t["text"], judge(t, results)) for t in met]
    summary = "targets: %d of %d met%s%s" % (
        sum(1 for _, v in verdicts if v), len(verdicts),
        "".join("; MISSED: %s" % txt for txt, v in verdicts if v is False),
        "".join("; not judged (a result is missing): %s" % txt
                for txt, v in verdicts if v is None))

    head = ("gt benchmarks, %s run, %s; %s, pinned to CPU %d of %d; kernel %s; "
            "medians of the repetitions shown as reps in bench.json" % (
                meta["mode"], meta["date"], meta["cpu"], cpu, ncpus, meta["kernel"]))
    print()
    print(head)
    print()
    print(table)
    print()
    print(legend_text)
    print()
    print(summary, flush=True)

    os.makedirs(opts.out, exist_ok=True)
    with open(os.path.join(opts.out, "bench.md"), "w") as f:
        f.write("# gt benchmarks\n\n%s\n\n%s\n\n%s\n\n%s\n" % (head, table, legend_text, summary))
        if errors:
            f.write("\n## Errors\n\n" + "\n".join("- " + e.replace("\n", " ") for e in errors) + "\n")
    with open(os.path.join(opts.out, "bench.json"), "w") as f:
        json.dump({"meta": meta, "rows": rows,
                   "targets": [{"text": t, "met": v} for t, v in verdicts],
                   "results": raw, "errors": errors}, f, indent=1)
        f.write("\n")

    if errors:
        log("\nbench: FAILED: %d program run(s) went wrong; their rows say ERROR:" % len(errors))
        for e in errors:
            log("  " + e)
        return 1
    log("bench: done in %.0f s; %s and %s written" % (
        elapsed, os.path.relpath(os.path.join(opts.out, "bench.md")),
        os.path.relpath(os.path.join(opts.out, "bench.json"))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
