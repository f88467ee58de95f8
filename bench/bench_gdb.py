"""bench_gdb - the GDB extension's timings at 100,000 green threads.

Runs the GDB test fixture (tests/gdb/green_fixture.c) with 16,667 threads
of each of six kinds plus a joiner and the main thread (100,004 threads in
8 distinct stacks) and times, inside GDB, with the program already loaded:

  info green-threads          summary and first page (cold: decodes the registry)
  green-bt                    grouped backtraces of every thread
  green-thread N + bt         one thread selected and unwound by GDB

once attached to the live process and once on the kernel core it writes
after a crash.  Usage: bench_gdb.py [--build DIR] [--json FILE]
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
PROBE = r"""
import time, json
def timed(cmds):
    t = time.perf_counter()
    for c in cmds:
        gdb.execute(c, to_string=True)
    return time.perf_counter() - t
r = {"info green-threads": timed(["info green-threads"]),
     "green-bt": timed(["green-bt"]),
     "green-thread N + bt": timed(["green-thread 50000", "bt"])}
print("BENCH " + json.dumps(r))
"""


def run_gdb(args, probe_file):
    out = subprocess.run(["gdb", "-batch", "-nx", "-ex",
                          "source " + os.path.join(ROOT, "gdb", "gt-gdb.py"),
                          "-x", probe_file] + args,
                         capture_output=True, text=True, timeout=600).stdout
    for line in out.splitlines():
        if line.startswith("BENCH "):
            return json.loads(line[6:])
    raise RuntimeError("gdb printed no timings:\n" + out[-2000:])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--json")
    a = ap.parse_args()
    # The fixture runs in a scratch directory (its core lands there).
    exe = os.path.join(os.path.abspath(a.build), "tests", "gdb", "green_fixture")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        probe = os.path.join(tmp, "probe.py")
        with open(probe, "w") as f:
            f.write(PROBE)
        p = subprocess.Popen([exe, str(N)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)
        try:
            assert p.stdout.readline().startswith("ready ")
            results["live"] = run_gdb(["-p", str(p.pid)], probe)
        finally:
            p.kill()
            p.wait()

        def unlimited():
            resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY,) * 2)
        subprocess.run([exe, str(N), "crash"], cwd=tmp, preexec_fn=unlimited,
                       capture_output=True, timeout=300)
        cores = [f for f in os.listdir(tmp) if f.startswith("core")]
        if not cores:
            sys.exit("bench_gdb: the crash left no core in %s (core_pattern?)" % tmp)
        results["core"] = run_gdb([exe, os.path.join(tmp, cores[0])], probe)
    limits = {"info green-threads": 0.5, "green-bt": 1.5, "green-thread N + bt": 0.3}
    print("GDB extension, %s green threads in 8 stacks (seconds; target in brackets)"
          % format(6 * N + 2, ","))
    for where, r in results.items():
        print("  %-5s " % where + "   ".join("%s %.3f [%.1f]" % (k, v, limits[k])
                                           for k, v in r.items()))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
