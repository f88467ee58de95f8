"""bench_gdb - the GDB extension's timings at 100,000 green threads.

Runs the GDB test fixture (tests/gdb/green_fixture.c) with 16,667 threads
of each of six kinds plus a joiner and the main thread (100,004 threads in
8 distinct stacks) and times, inside GDB, with the program already loaded:

  info green-threads          summary and first page (cold: decodes the registry)
  green-bt                    grouped backtraces of every thread
  green-thread N + bt         one thread selected and unwound by GDB

once attached to the live process and once on the kernel core it writes
after a crash.  Usage: bench_gdb.py [--build DIR] [--json FILE]
[--per-kind N] [--repeat R] [--limit L]: N threads of each kind (1,000,004
threads with 166667), each command timed R times (fresh snapshot each
time) and the median printed; --limit L times `info green-threads
--limit L` instead of the default page.

The pieces (starting the fixture, a kernel core, the timing probe run
inside GDB) are also imported by observe_bench.py, which times the same
commands against Go's debuggers.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
N = 16667
GT_GDB_SCRIPT = os.path.join(ROOT, "gdb", "gt-gdb.py")

# Runs inside GDB (-x).  The plan file holds [label, [command, ...]] pairs;
# each pair is timed on its own, in order, in this one GDB session.  The
# START line is flushed before the commands run, so a caller reading GDB's
# output as it comes knows when the timed part began (and can stop a
# command that takes too long); the command's output follows, then END
# with the time measured here, inside GDB, without GDB's start-up.
PROBE = r"""
import json, os, sys, time
with open(os.environ["GT_BENCH_PLAN"]) as f:
    plan = json.load(f)
plan = plan * int(os.environ.get("GT_BENCH_REPEAT", "1"))
for label, cmds in plan:
    try:
        import gt.registry
        gt.registry.invalidate()  # each run decodes the registry afresh
    except ImportError:
        pass
    print("BENCH-START " + label)
    sys.stdout.flush()
    t = time.perf_counter()
    try:
        out = "".join(gdb.execute(c, to_string=True) for c in cmds)
    except gdb.error as e:
        print("BENCH-ERROR %s %s" % (label, str(e).replace("\n", " ")))
        sys.stdout.flush()
        continue
    secs = time.perf_counter() - t
    print(out)
    print("BENCH-END %s %.6f" % (label, secs))
    sys.stdout.flush()
"""


def write_probe(tmp, plan):
    """Writes the probe and its plan into the directory tmp; returns the
    probe's path and the environment GDB must run with."""
    probe = os.path.join(tmp, "probe.py")
    with open(probe, "w") as f:
        f.write(PROBE)
    plan_file = os.path.join(tmp, "plan-%d.json" % os.getpid())
    with open(plan_file, "w") as f:
        json.dump(plan, f)
    return probe, dict(os.environ, GT_BENCH_PLAN=plan_file)


def gdb_argv(script, probe, target_args):
    """GDB in batch mode, no ~/.gdbinit, with script (an extension such as
    gt-gdb.py or Go's runtime-gdb.py) sourced before the probe runs."""
    return (["gdb", "-batch", "-nx", "-ex", "source " + script, "-x", probe]
            + list(target_args))


def parse_probe(out):
    """{label: seconds} from the probe's END lines; a BENCH-ERROR line is
    raised as the error it reports."""
    times, runs = {}, {}
    for line in out.splitlines():
        if line.startswith("BENCH-END "):
            label, secs = line[len("BENCH-END "):].rsplit(" ", 1)
            runs.setdefault(label, []).append(float(secs))
            times[label] = sorted(runs[label])[(len(runs[label]) - 1) // 2]
        elif line.startswith("BENCH-ERROR "):
            raise RuntimeError("gdb: " + line[len("BENCH-ERROR "):])
    return times


def start_fixture(argv, env=None):
    """Starts a fixture that prints "ready PID" once every thread is parked;
    returns the process, its stdin open (closing it ends the program)."""
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True, env=env)
    line = p.stdout.readline()
    if not line.startswith("ready "):
        p.kill()
        p.wait()
        raise RuntimeError("%s did not start: %r" % (" ".join(argv), line))
    return p


def crash_core(argv, cwd):
    """Runs a fixture told to crash, in cwd, with core dumps unlimited;
    returns the path of the core the kernel wrote there."""
    def unlimited():
        resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY,) * 2)
    subprocess.run(argv, cwd=cwd, preexec_fn=unlimited, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=1800)
    cores = [f for f in os.listdir(cwd) if f.startswith("core")]
    if not cores:
        raise RuntimeError("%s left no core in %s: kernel.core_pattern must write "
                           "a file named core* in the working directory" % (argv[0], cwd))
    return os.path.join(cwd, cores[0])


def scratch_dir():
    """A temporary directory for cores, on tmpfs where there is one: gt's
    kernel core at 100K threads is 0.4 GB of data in a 7 GB sparse file,
    and deleting it from a disk can take longer than the commands timed
    on it."""
    shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    return tempfile.TemporaryDirectory(dir=shm)


def run_gdb(args, probe, env):
    out = subprocess.run(gdb_argv(GT_GDB_SCRIPT, probe, args), capture_output=True,
                         text=True, timeout=3600, env=env).stdout
    times = parse_probe(out)
    if not times:
        raise RuntimeError("gdb printed no timings:\n" + out[-2000:])
    return times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--json")
    ap.add_argument("--per-kind", type=int, default=N)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--limit", type=int)
    a = ap.parse_args()
    n = a.per_kind
    # The fixture runs in a scratch directory (its core lands there).
    exe = os.path.join(os.path.abspath(a.build), "tests", "gdb", "green_fixture")
    info = "info green-threads" + (" --limit %d" % a.limit if a.limit is not None else "")
    plan = [["info green-threads", [info]],
            ["green-bt", ["green-bt"]],
            ["green-thread N + bt", ["green-thread 50000", "bt"]]]
    results = {}
    with scratch_dir() as tmp:
        probe, env = write_probe(tmp, plan)
        env["GT_BENCH_REPEAT"] = str(a.repeat)
        p = start_fixture([exe, str(n)])
        try:
            results["live"] = run_gdb(["-p", str(p.pid)], probe, env)
        finally:
            p.kill()
            p.wait()
        try:
            core = crash_core([exe, str(n), "crash"], tmp)
        except RuntimeError as e:
            sys.exit("bench_gdb: %s" % e)
        results["core"] = run_gdb([exe, core], probe, env)
    limits = {"info green-threads": 0.5, "green-bt": 1.5, "green-thread N + bt": 0.3}
    print("GDB extension, %s green threads in 8 stacks (seconds%s; target in brackets)"
          % (format(6 * n + 2, ","), ", median of %d" % a.repeat if a.repeat > 1 else ""))
    for where, r in results.items():
        print("  %-5s " % where + "   ".join("%s %.3f [%.1f]" % (k, v, limits[k])
                                           for k, v in r.items()))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
