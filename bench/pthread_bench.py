#!/usr/bin/python3
"""bench/pthread_bench.py - unmodified pthread programs on gt: libgt-pthread.so
against glibc's NPTL, the same binary run both ways in the same run.

Run by bench/run.py through the wrapper build/bench/bench-pthread-preload
(made by bench/pthread_bench.mk), like any bench-* program: one scenario
per process, `RESULT key=value ...` lines on stdout.  (Not bench-pthread:
that name is the kernel-thread peer, bench/bench_pthread.c, which this
plug-in runs.)

    bench-pthread-preload nptl-SCEN n=N reps=R
        SCEN is spawn, parkwake, mutex or rss: build/bench/bench-pthread
        SCEN n=N, run R times natively (impl=pthread, glibc's NPTL) and R
        times with LD_PRELOAD=build/lib/libgt-pthread.so (impl=gt-pthread),
        the two alternating, the first of each pair switching every round.
        Each process takes 3 repetitions after its warm-up; a figure is
        the median of the R processes' medians (min and max: of those
        medians).  Every preloaded process
        runs with GT_PTHREAD_WARN_TLS=2 and must print a line starting
        "gt-pthread: " (the library's report of the TLS segments it found),
        and no native one may: a row that measured NPTL twice is an error.
        bench-pthread's yield scenario is left out: its raw futex calls are
        not pthread calls and would block gt's one kernel thread.

    bench-pthread-preload apache threads=T conns=C secs=S reps=R
        Debian's Apache 2.4 (apache2-bin), worker MPM, one child of
        ThreadsPerChild T, the same configuration twice (its own
        ServerRoot and port each): natively and with LD_PRELOAD=
        libgt-pthread.so.  Both are started, then R rounds each run wrk -t1
        -cC for S seconds against one and then the other (the order
        switching every round) after a 1 s warm-up of each.  p99 includes
        each connection's first request, which waits for the listener's
        accept; runs of 3 s had far wider p99 tails than runs of 8 s, so S
        is 5 rather than 3.  Rows:
        requests/s, p99 latency, the child's CPU time per request (utime +
        stime of /proc/PID/stat over wrk's request count), and the child's
        RSS per thread: VmRSS read 1 s after each wrk run (connections
        closed, every thread idle) over the child's threads, counted, not
        assumed: natively /proc/PID/status Threads, on gt the green threads
        gt-top sees (ThreadsPerChild workers + the listener + the child's
        main thread, T + 2 both ways, or the run stops).  The gt child must
        also be one kernel thread's worth of threads (at most 2: the
        watchdog's), the native one T + 2 kernel threads.

Pinning: run.py pins itself to one CPU; every Apache process (parent and
child, all of its threads) runs on that CPU, and wrk on the other one.  So
native Apache's T kernel threads get one core, as gt's one kernel thread
does, and wrk never competes with the server for it.

Python 3 standard library only.
"""

import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import http_load
import plugin_cli
from http_load import cpus, free_port, pinned

HERE = os.path.dirname(os.path.abspath(__file__))
APACHE = "/usr/sbin/apache2"
MODULES = "/usr/lib/apache2/modules"
NPTL_SCENARIOS = ("spawn", "parkwake", "mutex", "rss")
INNER_REPS = 3          # repetitions inside each bench-pthread process
FILE_BYTES = 100        # the static file Apache serves (as Knot's 100 B rows)
EXTRA_THREADS = 2       # the worker MPM child's listener and main thread
MODES = ("native", "gt")
LIB_IMPL = {"native": "pthread", "gt": "gt-pthread"}
TLS_LINE = "gt-pthread: "
WRK_TIMEOUT = 30        # s; see run_wrk

# ---------------------------------------------------------------------------
# What bench/run.py runs and shows.
# ---------------------------------------------------------------------------

# bench-pthread's RESULT (bench, impl) -> this plug-in's bench name.
NPTL_RESULTS = {
    "spawn": [(("spawn", "pthread"), "pt-spawn")],
    "parkwake": [(("parkwake", "pthread-condvar"), "pt-parkwake")],
    "mutex": [(("mutex", "pthread"), "pt-mutex"),
              (("mutex-handoff", "pthread"), "pt-mutex-handoff")],
    "rss": [(("rss", "pthread"), "pt-rss"), (("rss", "pthread-kstack"), "pt-rss-kstack")],
}
NPTL_FULL = {"spawn": 20000, "parkwake": 100000, "mutex": 100000, "rss": 10000}
NPTL_QUICK = {"spawn": 2000, "parkwake": 20000, "mutex": 20000, "rss": 2000}
APACHE_BENCHES = ("apache-http", "apache-p99", "apache-cpu", "apache-rss")


def runs(Run, a):
    out = []
    for scen in NPTL_SCENARIOS:
        # rss: 3 processes each way, as each forks 4 times (its own
        # repetitions) and natively spawns 10,000 kernel threads in each.
        out.append(Run("pthread-preload", "nptl-" + scen,
                       a(n=NPTL_FULL[scen], reps=3 if scen == "rss" else 5),
                       a(n=NPTL_QUICK[scen], reps=1),
                       [(bench, impl) for _, bench in NPTL_RESULTS[scen]
                        for impl in LIB_IMPL.values()]))
    out.append(Run("pthread-preload", "apache", a(threads=2000, conns=1000, secs=5, reps=5),
                   a(threads=200, conns=100, secs=1, reps=1),
                   [(b, m) for b in APACHE_BENCHES for m in MODES]))
    return out


GROUPS = []


def add_group(bench, short, title, baseline, rows):
    GROUPS.append({"bench": bench, "short": short, "title": title,
                   "baseline": (bench, baseline),
                   "rows": [((bench, impl), label) for impl, label in rows]})


_LIB_ROWS = [("pthread", "glibc NPTL (native)"),
             ("gt-pthread", "LD_PRELOAD=libgt-pthread.so")]
_SAME = "build/bench/bench-pthread, the same binary natively and under the preload"
add_group("pt-spawn", "pthread create",
          "%s: pthread_create (64 KiB stack) + pthread_join, one after another "
          "(ns per thread)" % _SAME, "pthread", _LIB_ROWS)
add_group("pt-mutex", "mutex pair",
          "%s: uncontended pthread_mutex_lock + unlock in one thread (ns per pair)" % _SAME,
          "pthread", _LIB_ROWS)
add_group("pt-mutex-handoff", "mutex hand-off",
          "%s: contended mutex hand-off, every lock waits for the other thread's unlock "
          "(ns per hand-off)" % _SAME, "pthread", _LIB_ROWS)
add_group("pt-parkwake", "cond ping-pong",
          "%s: mutex + two condition variables ping-pong, 2 threads (ns per hand-off)"
          % _SAME, "pthread", _LIB_ROWS)
add_group("pt-rss", "pthread RSS",
          "%s: RSS per thread parked on a condvar, smallest stack glibc allows "
          "(16 KiB both ways; RSS delta / threads)" % _SAME, "pthread", _LIB_ROWS)
add_group("pt-rss-kstack", "pthread RSS+kstack",
          "%s: the same plus the kernel stack each kernel thread costs (KernelStack "
          "in /proc/meminfo; gt's threads have none)" % _SAME, "pthread", _LIB_ROWS)

_APACHE_ROWS = [("native", "Apache worker MPM, native"),
                ("gt", "Apache worker MPM, LD_PRELOAD=libgt-pthread.so")]
_WHAT = ("Debian's Apache 2.4, worker MPM, one child of ThreadsPerChild 2,000, a 100-byte "
         "file, wrk -t1 with n keep-alive connections for 5 s (bench-quick: 200 threads, "
         "100 connections, 1 s); Apache on one CPU, wrk on the other")
add_group("apache-http", "apache http",
          "%s (thousands of requests/s; higher is better)" % _WHAT, "native", _APACHE_ROWS)
add_group("apache-p99", "apache p99", "%s: 99th percentile latency" % _WHAT, "native",
          _APACHE_ROWS)
add_group("apache-cpu", "apache cpu/req",
          "%s: the child's CPU time per request (utime + stime over wrk's request count; "
          "lower is better)" % _WHAT, "native", _APACHE_ROWS)
add_group("apache-rss", "apache RSS/thread",
          "Apache as above: the child's VmRSS, idle after each wrk run, over its threads "
          "(n: ThreadsPerChild + the listener + main, counted: kernel threads natively, "
          "green threads on gt); the child's fixed memory included, the 16 KiB kernel "
          "stack of each native thread not", "native", _APACHE_ROWS)

TARGETS = []

# ---------------------------------------------------------------------------
# Shared pieces.
# ---------------------------------------------------------------------------


def die(msg):
    plugin_cli.die("pthread_bench", msg)


def library(build):
    lib = os.path.abspath(os.path.join(build, "lib", "libgt-pthread.so"))
    if not os.path.exists(lib):
        die("%s is not built: run make" % lib)
    return lib


def mode_env(mode, lib):
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    if mode == "gt":
        env["LD_PRELOAD"] = lib
    return env


# ---------------------------------------------------------------------------
# nptl-SCEN: bench-pthread natively and under the preload.
# ---------------------------------------------------------------------------


def run_bench_pthread(build, lib, scen, n, mode):
    """{(bench, impl): RESULT fields} of one bench-pthread process."""
    exe = os.path.join(build, "bench", "bench-pthread")
    env = mode_env(mode, lib)
    if mode == "gt":
        env["GT_PTHREAD_WARN_TLS"] = "2"
    argv = [exe, scen, "n=%d" % n, "reps=%d" % INNER_REPS]
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, env=env, timeout=600)
    except subprocess.TimeoutExpired:
        die("%s (%s) did not finish in 600 s" % (" ".join(argv), mode))
    if p.returncode != 0:
        die("%s (%s): exit status %d: %s" % (" ".join(argv), mode, p.returncode,
                                              p.stderr.strip()[-500:]))
    on_gt = any(l.startswith(TLS_LINE) for l in p.stderr.splitlines())
    if on_gt != (mode == "gt"):
        die("%s: %s" % (" ".join(argv), (
            "printed no \"%s\" line under LD_PRELOAD=%s: it ran on NPTL" % (TLS_LINE, lib)
            if mode == "gt" else
            "printed \"%s\" lines natively: the preload leaked into it" % TLS_LINE)))
    out = {}
    for line in p.stdout.splitlines():
        if line.startswith("RESULT "):
            f = dict(tok.partition("=")[::2] for tok in line.split()[1:])
            out[(f["bench"], f["impl"])] = f
    return out


def scenario_nptl(scen, params, build):
    lib = library(build)
    n = params["n"]
    got = {(bench, m): [] for _, bench in NPTL_RESULTS[scen] for m in MODES}
    ns = {}
    for rep in range(params["reps"]):
        for mode in (MODES if rep % 2 == 0 else MODES[::-1]):
            res = run_bench_pthread(build, lib, scen, n, mode)
            for key, bench in NPTL_RESULTS[scen]:
                if key not in res:
                    die("bench-pthread %s printed no %s/%s" % (scen, key[0], key[1]))
                got[(bench, mode)].append(float(res[key]["median"]))
                ns[bench] = int(res[key]["n"])
    for _, bench in NPTL_RESULTS[scen]:
        for mode in MODES:
            plugin_cli.result(bench, LIB_IMPL[mode], "ns" if "rss" not in bench else "bytes",
                              got[(bench, mode)], ns[bench], inner_reps=INNER_REPS)


# ---------------------------------------------------------------------------
# apache: the worker MPM natively and on gt.
# ---------------------------------------------------------------------------


def write_apache_conf(d, port, threads):
    """One ServerRoot: the worker MPM with one child of THREADS threads,
    keep-alive without a request limit, a 100-byte file, access log off
    (no CustomLog), User nobody (Apache will not serve as root)."""
    docs = os.path.join(d, "htdocs")
    os.makedirs(docs)
    os.makedirs(os.path.join(d, "logs"))
    with open(os.path.join(docs, "100.bin"), "wb") as f:
        f.write(bytes((i * 31 + 7) % 256 for i in range(FILE_BYTES)))
    for p in (d, docs):  # the child runs as nobody
        os.chmod(p, 0o755)
    conf = os.path.join(d, "httpd.conf")
    mods = "".join("LoadModule %s_module %s/mod_%s.so\n" % (m, MODULES, m)
                   for m in ("mpm_worker", "authz_core", "mime"))
    with open(conf, "w") as f:
        f.write(mods + """
ServerRoot {d}
PidFile {d}/logs/httpd.pid
ErrorLog {d}/logs/error.log
LogLevel warn
Listen 127.0.0.1:{port}
ListenBacklog 4096
ServerName 127.0.0.1
User nobody
Group nogroup
ServerLimit 1
StartServers 1
ThreadLimit {n}
ThreadsPerChild {n}
MaxRequestWorkers {n}
MinSpareThreads 1
MaxSpareThreads {n}
MaxRequestsPerChild 0
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 60
EnableSendfile Off
DocumentRoot {d}/htdocs
TypesConfig /dev/null
<Directory {d}/htdocs>
  Require all granted
</Directory>
""".format(d=d, port=port, n=threads))
    return conf


def proc_status(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError("no %s in /proc/%d/status" % (field, pid))


def cpu_ns(pid):
    """utime + stime of every thread of pid, in ns (clock ticks)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1e9 / os.sysconf("SC_CLK_TCK")


class Apache:
    """One Apache (mode native or gt), pinned to cpu; stop() ends it and
    its child whatever happened."""

    def __init__(self, mode, lib, threads, cpu):
        self.mode = mode
        self.dir = tempfile.mkdtemp(prefix="gt-bench-apache-%s-" % mode)
        self.port = free_port()
        conf = write_apache_conf(self.dir, self.port, threads)
        env = mode_env(mode, lib)
        for var in ("GT_WATCHDOG_MS", "GT_STACK_SIZE"):
            env.pop(var, None)
        self.proc = subprocess.Popen([APACHE, "-f", conf, "-DFOREGROUND"], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     preexec_fn=pinned(cpu))
        self.child = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.stop()
                die("apache2 (%s) exited at start: %s" % (mode, self.error_log()))
            kids = self.children()
            if len(kids) == 1 and self.serves():
                self.child = kids[0]
                return
            time.sleep(0.1)
        self.stop()
        die("apache2 (%s) did not serve within 60 s: %s" % (mode, self.error_log()))

    def children(self):
        try:
            with open("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)) as f:
                return [int(k) for k in f.read().split()]
        except OSError:
            return []

    def serves(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                s.sendall(b"GET /100.bin HTTP/1.0\r\n\r\n")
                s.settimeout(5)
                got = b""
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    got += chunk
            return got.startswith(b"HTTP/1.1 200") and got.endswith(
                bytes((i * 31 + 7) % 256 for i in range(FILE_BYTES)))
        except OSError:
            return False

    def error_log(self):
        try:
            with open(os.path.join(self.dir, "logs", "error.log")) as f:
                return " / ".join(f.read().strip().splitlines()[-3:])
        except OSError:
            return "(no error log)"

    def stop(self):
        kids = self.children()
        if self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: Apache stops its child too
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for k in kids:
            try:
                os.kill(k, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)


def green_threads(build, pid):
    """How many live green threads gt-top sees in pid: not the exited one
    (the worker MPM's start thread, which returns once it has started the
    others and is joined only when the child stops; natively the kernel
    thread is gone when it returns)."""
    exe = os.path.join(build, "bin", "gt-top")
    p = subprocess.run([exe, "-b", "-n", "1", "--format", "json", str(pid)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=60)
    if p.returncode != 0:
        die("gt-top cannot read the gt Apache child %d: %s" % (pid, p.stderr.strip()))
    states = json.loads(p.stdout)["states"]
    return sum(v for k, v in states.items() if k != "exited" and isinstance(v, int))


def thread_count(build, server):
    """(threads to divide by, kernel threads) of the child, checked: the
    mode must be what it claims to be."""
    kthreads = proc_status(server.child, "Threads")
    if server.mode == "native":
        return kthreads, kthreads
    if kthreads > 2:
        die("the preloaded Apache child has %d kernel threads: not on gt" % kthreads)
    return green_threads(build, server.child), kthreads


def run_wrk(port, conns, secs, cpu, busy=None):
    """(requests/s, p99 ns, requests) of one wrk -t1 run.  wrk's timeout is
    raised from 2 s to WRK_TIMEOUT: a slower response still counts in the
    latency distribution (wrk leaves timed-out requests out of it, which
    would flatter p99), and a timeout is an error."""
    argv = ["wrk", "-t1", "-c%d" % conns, "-d%ds" % secs, "--latency",
            "--timeout", "%ds" % WRK_TIMEOUT, "http://127.0.0.1:%d/100.bin" % port]
    return http_load.run_wrk(argv, port, secs, cpu, die, busy)


def scenario_apache(params, build):
    threads, conns, secs = params["threads"], params["conns"], params["secs"]
    if conns > threads:
        # The worker MPM holds a thread per keep-alive connection: the rest
        # would wait in the backlog and wrk would count them as errors.
        die("conns=%d needs threads >= conns (the worker MPM has a thread per "
            "connection)" % conns)
    if not os.path.exists(APACHE) or not shutil.which("wrk"):
        die("apache2 or wrk missing: run bench/install-bench-deps.sh")
    lib = library(build)
    server_cpu, client_cpu = cpus()
    want = threads + EXTRA_THREADS
    rps, p99, cpu, rss, busy, divisor, kthreads = ({m: [] for m in MODES} for _ in range(7))
    servers = {}
    try:
        for mode in MODES:
            servers[mode] = Apache(mode, lib, threads, server_cpu)
            run_wrk(servers[mode].port, conns, 1, client_cpu)  # warm-up
        for rep in range(params["reps"]):
            for mode in (MODES if rep % 2 == 0 else MODES[::-1]):
                s = servers[mode]
                before = cpu_ns(s.child)
                r, p, count = run_wrk(s.port, conns, secs, client_cpu, busy[mode])
                print("pthread_bench: apache %s round %d: %.0f requests/s, p99 %.1f ms"
                      % (mode, rep, r, p / 1e6), file=sys.stderr, flush=True)
                cpu[mode].append((cpu_ns(s.child) - before) / max(count, 1))
                rps[mode].append(r / 1000.0)
                p99[mode].append(p)
                # Idle: wrk has closed its connections; let the workers
                # go back to the queue before reading.
                time.sleep(1.0)
                n, k = thread_count(build, s)
                if n != want:
                    die("the %s Apache child has %d threads, not ThreadsPerChild %d + %d"
                        % (mode, n, threads, EXTRA_THREADS))
                divisor[mode].append(n)
                kthreads[mode].append(k)
                rss[mode].append(proc_status(s.child, "VmRSS") * 1024.0 / n)
                if servers[mode].proc.poll() is not None:
                    die("apache2 (%s) exited: %s" % (mode, s.error_log()))
    finally:
        for s in servers.values():
            s.stop()
    for mode in MODES:
        plugin_cli.result("apache-http", mode, "k-req/s", rps[mode], conns,
                          client_busy="%.3f" % statistics.median(busy[mode]),
                          threads=threads)
        plugin_cli.result("apache-p99", mode, "ns", p99[mode], conns, threads=threads)
        plugin_cli.result("apache-cpu", mode, "ns", cpu[mode], conns, threads=threads)
        plugin_cli.result("apache-rss", mode, "bytes", rss[mode], divisor[mode][0],
                          kernel_threads=max(kthreads[mode]), threads=threads)


def main():
    build, scenario, params, ap = plugin_cli.parse(
        __doc__, "nptl-SCEN (SCEN one of %s) or apache" % ", ".join(NPTL_SCENARIOS))
    kind, _, scen = scenario.partition("-")
    if kind == "nptl" and scen in NPTL_SCENARIOS:
        for k in ("n", "reps"):
            if params.get(k, 0) < 1:
                ap.error("%s needs %s= (a positive integer)" % (scenario, k))
        scenario_nptl(scen, params, build)
    elif scenario == "apache":
        for k in ("threads", "conns", "secs", "reps"):
            if params.get(k, 0) < 1:
                ap.error("apache needs %s= (a positive integer)" % k)
        scenario_apache(params, build)
    else:
        ap.error("unknown scenario %r" % scenario)
    return 0


if __name__ == "__main__":
    sys.exit(main())
