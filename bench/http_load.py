"""What the plug-ins that load an HTTP server with wrk share
(knot_bench.py, pthread_bench.py): the split of the machine's CPUs between
servers and client, pinning a child process, a free port, one wrk run
read into requests/s, p99 and a request count, and a process's CPU time."""
import os
import re
import resource
import socket
import subprocess
import time


def cpus():
    """(the CPU for servers, the CPU for clients)."""
    server_cpu = sorted(os.sched_getaffinity(0))[-1]
    try:  # run.py pinned us; widen again to see which CPUs exist for us
        os.sched_setaffinity(0, range(os.cpu_count() or 1))
    except OSError:
        pass
    others = sorted(os.sched_getaffinity(0) - {server_cpu})
    os.sched_setaffinity(0, {server_cpu})
    return server_cpu, (others[0] if others else server_cpu)


def pinned(cpu):
    """preexec_fn: cpu (one CPU, or a set of them: every CPU for the
    unpinned multi-process rows)."""
    return lambda: os.sched_setaffinity(0, cpu if isinstance(cpu, (set, frozenset)) else {cpu})


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_wrk(argv, port, secs, cpu, die, busy=None):
    """(requests/s, p99 ns, requests) of the wrk run ARGV (with --latency),
    pinned to CPU; DIE(msg) on output it cannot read or on any error wrk
    reports.  With BUSY (a list), appends the share of its CPU wrk kept
    busy: near 1, the client set the rate, and the servers' CPU per
    request is what tells them apart."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         universal_newlines=True, preexec_fn=pinned(cpu),
                         timeout=secs + 60).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if busy is not None:
        busy.append((after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
                    / (time.monotonic() - t0))
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)
    count = re.search(r"^\s+(\d+) requests in ", out, re.M)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    if not rps or not p99 or not count:
        die("cannot read wrk's output:\n" + out)
    for bad in (r"Non-2xx or 3xx responses: (\d+)", r"Socket errors: (.*)"):
        m = re.search(bad, out)
        if m:
            die("wrk saw errors (%s) against port %d:\n%s" % (m.group(0), port, out))
    scale = {"us": 1e3, "ms": 1e6, "s": 1e9}[p99.group(2)]
    return float(rps.group(1)), float(p99.group(1)) * scale, int(count.group(1))
