#!/usr/bin/python3
"""bench/knot_bench.py - Knot against nginx and a State Threads server.

Run by bench/run.py through the wrapper build/bench/bench-knot (made by
bench/bench.mk), like any bench-* program: one scenario per process, and
`RESULT key=value ...` lines on stdout.

    bench-knot wrk-IMPL conns=C size=BYTES secs=S reps=R
    bench-knot wrk-all conns=C size=BYTES secs=S reps=R [depth=D]
        wrk -t1 -cC on loopback, keep-alive, against IMPL (wrk-all: every
        server, all started at once, measured in turn in an order that
        rotates each repetition) serving a file of BYTES bytes:
        requests/s, p99 latency and the server's CPU time per request,
        medians of R runs of S seconds after a 1 s warm-up.  On a
        2-core machine one wrk thread often cannot keep a server busy, so
        requests/s can measure wrk; CPU per request measures the server.
        depth=D (default 1): D requests pipelined in each write
        (bench/pipeline.lua), a D-th of the client's system calls per
        request, so that the servers set the rate; p99 is not reported,
        as a request's latency then includes its batch's.
        workers=2: two server processes each, Knot `-w 2` against nginx
        `worker_processes 2` (the State Threads server has one process,
        so it sits these out), and nothing pinned (see below).
    bench-knot rss-IMPL conns=N reps=R
        RSS per idle keep-alive connection: the server's RSS with N
        connections that each made one request and now idle, minus its RSS
        before, over N; each repetition a fresh server.

    bench-knot top-knot conns=C size=BYTES secs=S reps=R
        What gt-top attached at 1 Hz costs Knot.  One Knot, and in each
        repetition three wrk runs of S seconds in a rotating order: without
        gt-top ("off"), with `gt-top -b -d 1 -p KNOT` pinned to wrk's CPU
        ("top on wrk's CPU", the way to run it: it takes nothing from
        Knot's core) and pinned to Knot's own CPU ("top on Knot's CPU", the
        worst case: every snapshot's CPU time comes out of Knot's).  gt-top
        starts 1.5 s before wrk, so its first snapshot (which loads symbols)
        is outside the measured window, and it must have taken a snapshot
        every second of the run.  Rows: requests/s, Knot's CPU time per
        request (what reading Knot costs Knot itself, independent of how
        much CPU wrk lost to gt-top), and gt-top's own CPU time per
        snapshot (at 1 Hz also its CPU time per second: 1 ms is 0.1% of a
        CPU, an upper bound on what it can take from Knot even on Knot's
        core).  The medians of R such rotations.

IMPL is knot (examples/knot), nginx (Debian's: one worker, two with
workers=2; access log off, sendfile off, open_file_cache on, its own
config file, prefix and port, stopped afterwards) or st (bench/st_httpd.c
on libst).  Every server
serves the same two files from the same directory, listens on 127.0.0.1
only and runs pinned to the CPU run.py pinned itself to; wrk and the
load generator run on another CPU.

With workers=2 nothing can be pinned the same way: two server processes
on one CPU would measure one CPU's worth, so the server's processes and
wrk's one thread all run unpinned, on the two CPUs the other rows give
one to the servers and one to wrk (both cores of a 2-core machine), and
the kernel's scheduler shares the two cores among the three of them.
Whatever wrk uses, the two workers do not get: requests/s then says what
the two cores give client and server together, not what two server
cores could do (the row notes how busy wrk kept its one thread).  CPU per request is the servers' processes'
summed run time (each worker's, and the idle supervisor's or master's)
over wrk's request count, the figure that compares the servers.  Both
servers spread connections the same way: Knot's workers each accept on a
socket of their own (SO_REUSEPORT), and nginx is given `listen ...
reuseport` for the same; wrk is the same -t1 as in every other row,
against the same files.

Debian's libst is built with select() only, which cannot watch an fd above
1023: the State Threads server's memory is measured at 1,000 connections
(the per-connection figure does not depend on the count) and its 1,000-
connection throughput runs just below that limit.

Python 3 standard library only.
"""

import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

import http_load
import plugin_cli
from http_load import cpus, free_port, pinned

HERE = os.path.dirname(os.path.abspath(__file__))
IMPLS = ("knot", "nginx", "st")
SIZES = {100: "100.bin", 16384: "16k.bin"}
ST_SELECT_LIMIT = 1000  # connections the select()-only libst can hold
PIPE_DEPTH = 8          # requests per write in the pipelined runs
PIPE_LABEL = "pipe%d" % PIPE_DEPTH
MULTI_WORKERS = 2       # server processes in the multi-process rows
MULTI_IMPLS = ("knot", "nginx")
WORKERS_LABEL = "w%d" % MULTI_WORKERS

# ---------------------------------------------------------------------------
# What bench/run.py runs and shows (it calls runs(); GROUPS and TARGETS are
# added to its own).
# ---------------------------------------------------------------------------


def size_label(size):
    return "100B" if size == 100 else "16KiB"


def runs(Run, a):
    out = []
    for size in (100, 16384):
        for conns in (100, 1000):
            key = "%s-c%d" % (size_label(size), conns)
            quick = (a(conns=conns, size=size, secs=2, reps=1)
                     if (size, conns) == (100, 100) else None)
            out.append(Run("knot", "wrk-all", a(conns=conns, size=size, secs=3, reps=5),
                           quick, [(b + key, impl) for b in ("http-", "p99-", "cpu-")
                                   for impl in IMPLS]))
    for size in (100, 16384):
        for conns in (100, 1000):
            key = "%s-c%d-%s" % (size_label(size), conns, WORKERS_LABEL)
            out.append(Run("knot", "wrk-all", a(conns=conns, size=size, secs=3, reps=3,
                                                workers=MULTI_WORKERS),
                           None, [(b + key, impl) for b in ("http-", "p99-", "cpu-")
                                  for impl in MULTI_IMPLS]))
    for size in (100, 16384):
        key = "%s-c100-%s" % (size_label(size), PIPE_LABEL)
        # Three repetitions: these rows move little, and the whole bench
        # must stay within 15 minutes.
        out.append(Run("knot", "wrk-all", a(conns=100, size=size, secs=3, reps=3,
                                            depth=PIPE_DEPTH),
                       None, [(b + key, impl) for b in ("http-", "cpu-") for impl in IMPLS]))
    for conns in (100, 1000):
        key = "100B-c%d" % conns
        out.append(Run("knot", "top-knot", a(conns=conns, size=100, secs=2, reps=11),
                       a(conns=conns, size=100, secs=2, reps=1) if conns == 100 else None,
                       [(b + key, m) for b in ("top-", "topcpu-") for m in TOP_MODES] +
                       [("topself-" + key, m) for m in TOP_MODES[1:]]))
    for impl in IMPLS:
        n = ST_SELECT_LIMIT if impl == "st" else 10000
        out.append(Run("knot", "rss-" + impl, a(conns=n, reps=3),
                       a(conns=n, reps=1) if impl != "st" else None,
                       [("idle-rss", impl)]))
    return out


# gt-top attached to Knot: not at all, pinned to wrk's CPU, pinned to Knot's.
TOP_MODES = ("off", "top-wrk-cpu", "top-knot-cpu")
TOP_LABELS = {"off": "Knot, no gt-top", "top-wrk-cpu": "Knot, gt-top -d 1 on wrk's CPU",
              "top-knot-cpu": "Knot, gt-top -d 1 on Knot's CPU (worst case)"}

ROW_LABELS = {"knot": "Knot (gt)", "nginx": "nginx, 1 worker",
              "st": "State Threads server (bench/st_httpd.c)"}

GROUPS = []


def add_group(bench, short, title, baseline, labels):
    """One table group: bench's rows in the order of labels (impl -> row
    label), each also a ratio against the baseline impl."""
    GROUPS.append({"bench": bench, "short": short, "title": title,
                   "baseline": (bench, baseline),
                   "rows": [((bench, impl), label) for impl, label in labels]})


_SERVERS = [(i, ROW_LABELS[i]) for i in IMPLS]
for _size in (100, 16384):
    for _conns in (100, 1000):
        _key = "%s-c%d" % (size_label(_size), _conns)
        _what = "wrk -t1 on loopback, %s file, %d keep-alive connections" % (
            "100-byte" if _size == 100 else "16 KiB", _conns)
        add_group("http-" + _key, "http " + _key,
                  "%s (thousands of requests/s; higher is better)" % _what, "nginx", _SERVERS)
        add_group("cpu-" + _key, "cpu/req " + _key,
                  "%s: the server's CPU time per request (its schedstat run time over "
                  "wrk's request count; lower is better, and unlike requests/s it does "
                  "not depend on how fast wrk can go)" % _what, "nginx", _SERVERS)
        add_group("p99-" + _key, "p99 " + _key,
                  "%s: 99th percentile latency" % _what, "nginx", _SERVERS)
_MULTI = [("knot", "Knot -w %d (gt)" % MULTI_WORKERS),
          ("nginx", "nginx, worker_processes %d" % MULTI_WORKERS)]
for _size in (100, 16384):
    for _conns in (100, 1000):
        _key = "%s-c%d-%s" % (size_label(_size), _conns, WORKERS_LABEL)
        _what = ("%d server processes, wrk -t1 on loopback, %s file, %d keep-alive "
                 "connections; nothing pinned: wrk and the server's processes share the "
                 "2 CPUs the one-process rows split" % (
                     MULTI_WORKERS, "100-byte" if _size == 100 else "16 KiB", _conns))
        add_group("http-" + _key, "http " + _key,
                  "%s (thousands of requests/s; higher is better)" % _what, "nginx", _MULTI)
        add_group("cpu-" + _key, "cpu/req " + _key,
                  "%s: the server's CPU time per request, summed over its processes "
                  "(lower is better)" % _what, "nginx", _MULTI)
        add_group("p99-" + _key, "p99 " + _key,
                  "%s: 99th percentile latency" % _what, "nginx", _MULTI)
for _size in (100, 16384):
    _key = "%s-c100-%s" % (size_label(_size), PIPE_LABEL)
    _what = ("wrk -t1 on loopback, %s file, 100 keep-alive connections, %d requests "
             "pipelined per write (the server, not wrk, sets the rate)" % (
                 "100-byte" if _size == 100 else "16 KiB", PIPE_DEPTH))
    add_group("http-" + _key, "http " + _key,
              "%s (thousands of requests/s; higher is better)" % _what, "nginx", _SERVERS)
    add_group("cpu-" + _key, "cpu/req " + _key,
              "%s: the server's CPU time per request" % _what, "nginx", _SERVERS)
add_group("idle-rss", "idle conn RSS",
          "server RSS per idle keep-alive connection (10,000 connections; "
          "the State Threads server 1,000: its libst has only select)", "nginx", _SERVERS)
_TOP = [(m, TOP_LABELS[m]) for m in TOP_MODES]
for _conns in (100, 1000):
    _key = "100B-c%d" % _conns
    _what = "Knot, 100-byte file, %d keep-alive connections, wrk -t1" % _conns
    add_group("top-" + _key, "gt-top " + _key,
              "%s: requests/s with gt-top -b -d 1 attached vs without, repetitions "
              "alternated in one run (thousands of requests/s)" % _what, "off", _TOP)
    add_group("topcpu-" + _key, "gt-top cpu/req " + _key,
              "%s: Knot's CPU time per request with gt-top attached vs without "
              "(lower is better)" % _what, "off", _TOP)
    add_group("topself-" + _key, "gt-top self " + _key,
              "%s: gt-top's own CPU time per 1 Hz snapshot" % _what, "top-wrk-cpu", _TOP[1:])

# kind "ratio-min": median / against's median >= limit (higher is better).
TARGETS = []
for _size in (100, 16384):
    for _conns in (100, 1000):
        _key = "%s-c%d" % (size_label(_size), _conns)
        TARGETS.append({"result": ("http-" + _key, "knot"), "kind": "ratio-min", "limit": 1.1,
                        "against": ("http-" + _key, "nginx"), "text": ">= 1.1x nginx"})
        TARGETS.append({"result": ("p99-" + _key, "knot"), "kind": "ratio", "limit": 1.0,
                        "against": ("p99-" + _key, "nginx"), "text": "<= nginx's p99"})
for _conns in (100, 1000):
    _key = "100B-c%d" % _conns
    TARGETS.append({"result": ("top-" + _key, "top-wrk-cpu"), "kind": "ratio-min",
                    "limit": 0.99, "against": ("top-" + _key, "off"),
                    "text": ">= 0.99x without gt-top"})
TARGETS.append({"result": ("idle-rss", "knot"), "kind": "abs", "limit": 4096,
                "text": "<= 4 KiB per idle connection"})

# ---------------------------------------------------------------------------
# Running the servers.
# ---------------------------------------------------------------------------


def die(msg):
    plugin_cli.die("knot_bench", msg)


def all_cpus(server_cpu, client_cpu):
    """The two cores the pinned rows split, for the unpinned rows to share."""
    return {server_cpu, client_cpu}


def make_docroot(build):
    root = os.path.join(build, "bench", "knot-docroot")
    os.makedirs(root, exist_ok=True)
    for size, name in SIZES.items():
        path = os.path.join(root, name)
        if not os.path.exists(path) or os.path.getsize(path) != size:
            with open(path, "wb") as f:
                f.write(bytes((i * 31 + 7) % 256 for i in range(size)))
    return os.path.abspath(root)


def rss_bytes(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS for pid %d" % pid)


def wait_for_port(port, proc, what, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            die("%s exited at start with status %d" % (what, proc.returncode))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    die("%s did not listen on 127.0.0.1:%d within %d s" % (what, port, timeout))


NGINX_CONF = """\
# Written by bench/knot_bench.py for one bench run; nginx's best
# static-file settings for this test, {workers} worker(s).
daemon off;
master_process on;
worker_processes {workers};
worker_rlimit_nofile 20000;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
{user}
events {{
    worker_connections 20000;
    use epoll;
}}
http {{
    access_log off;
    sendfile off;
    tcp_nodelay on;
    open_file_cache max=1000 inactive=60s;
    open_file_cache_valid 60s;
    keepalive_timeout 300s;
    keepalive_requests 100000000;
    types {{ application/octet-stream bin; }}
    default_type application/octet-stream;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen 127.0.0.1:{port} backlog=4096{reuseport};
        root {root};
        location / {{ }}
    }}
}}
"""


class Server:
    """One server under test, started pinned, stopped (and waited for) by
    stop(), whatever happened in between."""

    def __init__(self, impl, build, root, cpu, workers=1):
        self.impl = impl
        self.workers = workers
        out = os.path.join(build, "bench")
        if impl == "knot":
            exe = os.path.join(build, "examples", "knot", "knot")
            argv = [exe, "-p", "0", "-r", root, "-t", "300"]
            if workers > 1:
                argv += ["-w", str(workers)]
            self.proc = subprocess.Popen(argv,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                         universal_newlines=True, preexec_fn=pinned(cpu))
            line = self.proc.stderr.readline()
            m = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
            if not m:
                self.stop()
                die("knot did not start: %r" % line)
            self.port = int(m.group(1))
            self.pid = self.proc.pid
        elif impl == "st":
            exe = os.path.join(out, "st-httpd")
            self.proc = subprocess.Popen([exe, "0", root], stdout=subprocess.PIPE,
                                         universal_newlines=True, preexec_fn=pinned(cpu))
            line = self.proc.stdout.readline()
            m = re.match(r"st-httpd: port (\d+)", line)
            if not m:
                self.stop()
                die("st-httpd did not start: %r" % line)
            self.port = int(m.group(1))
            self.pid = self.proc.pid
        else:
            nginx = shutil.which("nginx") or "/usr/sbin/nginx"
            self.prefix = os.path.abspath(os.path.join(out, "nginx"))
            shutil.rmtree(self.prefix, ignore_errors=True)
            os.makedirs(os.path.join(self.prefix, "logs"))
            self.port = free_port()
            conf = os.path.join(self.prefix, "nginx.conf")
            user = "user root;" if os.geteuid() == 0 else ""
            with open(conf, "w") as f:
                f.write(NGINX_CONF.format(prefix=self.prefix, port=self.port, root=root,
                                          user=user, workers=workers,
                                          reuseport=" reuseport" if workers > 1 else ""))
            self.proc = subprocess.Popen([nginx, "-p", self.prefix + "/", "-c", conf],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                         universal_newlines=True, preexec_fn=pinned(cpu))
            wait_for_port(self.port, self.proc, "nginx")
            self.pids = [self.proc.pid] + self.worker_pids()
            self.pid = self.pids[1]
            return
        wait_for_port(self.port, self.proc, impl)
        # Knot -w N: the supervisor and its workers.
        self.pids = [self.proc.pid] + (self.worker_pids() if workers > 1 else [])

    def worker_pids(self):
        """The workers (nginx's, or Knot's with -w): the processes that hold
        the connections, the children of the master or supervisor."""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            path = "/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)
            with open(path) as f:
                kids = f.read().split()
            if len(kids) >= self.workers:
                return [int(k) for k in kids]
            time.sleep(0.05)
        die("%s started %d of %d workers" % (self.impl, len(kids), self.workers))

    def cpu_ns(self):
        """Run time of the server: of the process holding the connections,
        or with several workers of every process (the master or supervisor
        is idle while wrk runs, but counted alike)."""
        if self.workers == 1:
            return cpu_ns(self.pid)
        return sum(cpu_ns(pid) for pid in self.pids)

    def stop(self):
        if self.proc.poll() is None:
            # nginx: SIGQUIT is its graceful stop; the others end on SIGTERM.
            self.proc.send_signal(signal.SIGQUIT if self.impl == "nginx" else signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def cpu_ns(pid):
    """Time pid's threads have run on a CPU, in ns (the first field of
    schedstat; every server here is one thread)."""
    with open("/proc/%d/schedstat" % pid) as f:
        return int(f.read().split()[0])


def run_wrk(port, path, conns, secs, cpu, busy=None, depth=1):
    """(requests/s, p99 ns, requests) of one wrk run.  With BUSY (a list),
    appends the share of its CPU wrk kept busy: near 1, the client set the
    rate, and the servers' CPU per request is what tells them apart.
    depth > 1 pipelines that many requests per write."""
    # wrk needs a file descriptor per connection, like everyone here.
    argv = ["wrk", "-t1", "-c%d" % conns, "-d%ds" % secs, "--latency",
            "http://127.0.0.1:%d%s" % (port, path)]
    if depth > 1:
        argv[-1:-1] = ["-s", os.path.join(HERE, "pipeline.lua")]
        argv += ["--", str(depth)]
    return http_load.run_wrk(argv, port, secs, cpu, die, busy)


def scenario_wrk(impls, params, build, root, server_cpu, client_cpu, workers=1):
    """wrk against every server in impls, all started at once (idle ones
    cost nothing) and measured in turn, the order rotating each
    repetition: on a shared machine a burst of someone else's work then
    lands on every server alike instead of on one server's runs."""
    size, conns = params["size"], params["conns"]
    depth = params.get("depth", 1)
    path = "/" + SIZES[size]
    conns_run, rps, p99, cpu, servers, busy = {}, {}, {}, {}, {}, {}
    try:
        for impl in impls:
            # st: keep every fd below 1024 for select().
            conns_run[impl] = (ST_SELECT_LIMIT - 20 if impl == "st" and conns >= ST_SELECT_LIMIT
                               else conns)
            rps[impl], p99[impl], cpu[impl], busy[impl] = [], [], [], []
            servers[impl] = Server(impl, build, root, server_cpu, workers)
            run_wrk(servers[impl].port, path, conns_run[impl], 1, client_cpu,
                    depth=depth)  # warm-up
        for rep in range(params["reps"]):
            k = rep % len(impls)
            for impl in impls[k:] + impls[:k]:
                server = servers[impl]
                before = server.cpu_ns()
                r, p, count = run_wrk(server.port, path, conns_run[impl], params["secs"],
                                      client_cpu, busy[impl], depth)
                cpu[impl].append((server.cpu_ns() - before) / max(count, 1))
                rps[impl].append(r / 1000.0)
                p99[impl].append(p)
    finally:
        for server in servers.values():
            server.stop()
    key = "%s-c%d" % (size_label(size), conns) + ("-pipe%d" % depth if depth > 1 else "") + (
        "-w%d" % workers if workers > 1 else "")
    for impl in impls:
        plugin_cli.result("http-" + key, impl, "k-req/s", rps[impl], conns_run[impl],
                          client_busy="%.3f" % statistics.median(busy[impl]))
        if depth == 1:
            plugin_cli.result("p99-" + key, impl, "ns", p99[impl], conns_run[impl])
        plugin_cli.result("cpu-" + key, impl, "ns", cpu[impl], conns_run[impl])


class TopRunner:
    """gt-top in batch mode, one snapshot a second, attached to pid and
    pinned to cpu, its snapshots written to a file."""

    def __init__(self, build, pid, cpu):
        self.out_path = os.path.join(build, "bench", "gt-top-snapshots.txt")
        self.out = open(self.out_path, "w")
        exe = os.path.join(build, "bin", "gt-top")
        if not os.access(exe, os.X_OK):
            die("%s is not built: run `make viewer` (make bench builds it too)" % exe)
        self.proc = subprocess.Popen([exe, "-b", "-d", "1", "-n", "1000000", "-p", str(pid)],
                                     stdout=self.out, stderr=subprocess.PIPE,
                                     universal_newlines=True, preexec_fn=pinned(cpu))

    def cpu_ns(self):
        if self.proc.poll() is not None:
            die("gt-top exited early: " + self.proc.stderr.read().strip())
        return cpu_ns(self.proc.pid)

    def stop(self):
        """Stops gt-top; returns (snapshots taken, its CPU time in ns)."""
        used = self.cpu_ns()
        self.proc.terminate()
        self.proc.wait()
        self.out.close()
        with open(self.out_path) as f:
            snapshots = sum(1 for line in f if line.startswith("gt-top - process"))
        return snapshots, used


def scenario_top(params, build, root, server_cpu, client_cpu):
    size, conns, secs = params["size"], params["conns"], params["secs"]
    path = "/" + SIZES[size]
    where = {"top-wrk-cpu": client_cpu, "top-knot-cpu": server_cpu}
    rps = {m: [] for m in TOP_MODES}
    cpu = {m: [] for m in TOP_MODES}
    self_cpu = {m: [] for m in TOP_MODES[1:]}
    server = Server("knot", build, root, server_cpu)
    try:
        run_wrk(server.port, path, conns, 1, client_cpu)  # warm-up
        for rep in range(params["reps"]):
            # Rotate the order, so no mode always runs first or last.
            k = rep % len(TOP_MODES)
            for mode in TOP_MODES[k:] + TOP_MODES[:k]:
                top = None
                if mode != "off":
                    top = TopRunner(build, server.pid, where[mode])
                # gt-top's first snapshot loads symbols: wrk starts after
                # it.  Every mode waits the same, so none starts its run
                # with caches and clocks in another state.
                time.sleep(1.5)
                top_before = top.cpu_ns() if top else 0
                before = cpu_ns(server.pid)
                r, _, count = run_wrk(server.port, path, conns, secs, client_cpu)
                cpu[mode].append((cpu_ns(server.pid) - before) / max(count, 1))
                rps[mode].append(r / 1000.0)
                if top:
                    # One snapshot a second: CPU per second is per snapshot.
                    self_cpu[mode].append((top.cpu_ns() - top_before) / secs)
                    snapshots, _ = top.stop()
                    if snapshots < secs + 1:
                        die("gt-top took %d snapshots in %.1f s; it did not keep up with "
                            "one a second" % (snapshots, secs + 1.5))
    finally:
        server.stop()
    key = "%s-c%d" % (size_label(size), conns)
    for mode in TOP_MODES:
        plugin_cli.result("top-" + key, mode, "k-req/s", rps[mode], conns)
        plugin_cli.result("topcpu-" + key, mode, "ns", cpu[mode], conns)
    for mode in TOP_MODES[1:]:
        plugin_cli.result("topself-" + key, mode, "ns", self_cpu[mode], conns)


class HoldFailed(Exception):
    pass


def hold_once(impl, build, root, server_cpu, client_cpu, conns):
    """RSS per connection of one server holding `conns` idle keep-alive
    connections; HoldFailed when the load generator could not hold them."""
    loadgen = os.path.join(build, "examples", "knot", "loadgen")
    server = Server(impl, build, root, server_cpu)
    try:
        # One request first, so the file is cached before the baseline.
        run_wrk(server.port, "/100.bin", 1, 1, client_cpu)
        time.sleep(0.3)
        before = rss_bytes(server.pid)
        lg = subprocess.Popen([loadgen, "-p", str(server.port), "--hold", str(conns),
                               "--requests", "1", "--path", "/100.bin",
                               "--hold-seconds", "3"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, preexec_fn=pinned(client_cpu))
        line = lg.stdout.readline()
        if not line.startswith("loadgen: hold: %d connections open at once" % conns):
            lg.kill()
            err = lg.stderr.read().splitlines()
            raise HoldFailed("%s: the load generator did not get %d idle connections: "
                             "%r %s" % (impl, conns, line, " / ".join(err[-3:])))
        time.sleep(1.0)
        after = rss_bytes(server.pid)
        out, err = lg.communicate(timeout=60)
        if lg.returncode != 0:
            raise HoldFailed("%s: load generator failed: %s %s" % (impl, out, err))
    finally:
        server.stop()
    return (after - before) / conns


def scenario_rss(impl, params, build, root, server_cpu, client_cpu):
    conns = params["conns"]
    per_conn = []
    for _ in range(params["reps"]):
        try:
            per_conn.append(hold_once(impl, build, root, server_cpu, client_cpu, conns))
        except HoldFailed as e:
            die(str(e))
    plugin_cli.result("idle-rss", impl, "bytes", per_conn, conns)


def main():
    build, scenario, params, ap = plugin_cli.parse(
        __doc__, "wrk-IMPL, wrk-all, rss-IMPL (IMPL one of %s) or top-knot" % ", ".join(IMPLS))
    kind, _, impl = scenario.partition("-")
    known = {"wrk": IMPLS + ("all",), "rss": IMPLS, "top": ("knot",)}
    if impl not in known.get(kind, ()):
        ap.error("unknown scenario %r" % scenario)
    server_cpu, client_cpu = cpus()
    root = make_docroot(build)
    if kind == "top":
        scenario_top(params, build, root, server_cpu, client_cpu)
    elif kind == "wrk":
        workers = params.get("workers", 1)
        if workers > 1:
            # Unpinned (see the top of the file); the State Threads server
            # has one process only.
            if impl == "st":
                ap.error("workers=%d: the State Threads server has one process" % workers)
            everywhere = all_cpus(server_cpu, client_cpu)
            scenario_wrk(MULTI_IMPLS if impl == "all" else (impl,), params, build, root,
                         everywhere, everywhere, workers)
        else:
            scenario_wrk(IMPLS if impl == "all" else (impl,), params, build, root,
                         server_cpu, client_cpu)
    else:
        scenario_rss(impl, params, build, root, server_cpu, client_cpu)
    return 0


if __name__ == "__main__":
    sys.exit(main())
