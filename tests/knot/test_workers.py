"""knot -w N: worker processes sharing one port under a supervisor.

The ground truth for "which worker served a connection" is the worker
itself: gt-stacks on a worker's pid lists a thread named
"conn 127.0.0.1:PORT" for each connection it holds, PORT being the
client's side, which the test knows for every socket it opened.
"""
import json
import os
import re
import signal
import subprocess
import threading
import time

from conftest import KNOT, SMALL, Client, finish_in_flight, open_served, refuses

BUILD = os.path.dirname(os.path.dirname(os.path.dirname(KNOT)))
GT_STACKS = os.path.join(BUILD, "bin/gt-stacks")

START = re.compile(r"^knot: serving \S+ on http://127\.0\.0\.1:(\d+)/ \(max \d+ connections "
                   r"per worker, timeout [\d.]+ s; (\d+) workers, supervisor pid (\d+)\)$")
WORKER_STARTED = r"^knot: worker %d started: pid (\d+)$"
# Enough connections that the kernel's hash leaves no worker without one
# (the chance that 64 all land on one of two is 2**-63).
SPREAD_CONNS = 64


class Found:
    """A matching stderr line: its groups, and its index in the lines."""

    def __init__(self, match, index):
        self.group = match.group
        self.index = index


class Supervised:
    """knot -w N, its stderr gathered line by line as it comes."""

    def __init__(self, docroot, workers, *args, new_session=False):
        self.argv = [KNOT, "-w", str(workers), "-p", "0", "-r", docroot] + list(args)
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, start_new_session=new_session)
        self.lines = []
        self.changed = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        m = self.wait_line(START.pattern)
        self.port, self.workers, self.pid = int(m.group(1)), int(m.group(2)), int(m.group(3))
        assert self.pid == self.proc.pid
        self.worker_pids = [int(self.wait_line(WORKER_STARTED % (i + 1)).group(1))
                            for i in range(self.workers)]
        for pid in self.worker_pids:
            wait_started(pid)

    def _read(self):
        for raw in self.proc.stderr:
            with self.changed:
                self.lines.append(raw.decode().rstrip("\n"))
                self.changed.notify_all()
        with self.changed:
            self.lines.append(None)  # end of stderr
            self.changed.notify_all()

    def wait_line(self, pattern, after=0, timeout=20):
        """The match of the first line from index `after` on that matches."""
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        with self.changed:
            i = after
            while True:
                while i < len(self.lines):
                    line = self.lines[i]
                    if line is None:
                        raise AssertionError("stderr ended before %r:\n%s" % (
                            pattern, "\n".join(self.lines[:-1])))
                    m = regex.search(line)
                    if m:
                        return Found(m, i)
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("no line %r within %d s:\n%s" % (
                        pattern, timeout, "\n".join(self.lines)))
                self.changed.wait(left)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        """A test that fails leaves no supervisor or worker behind."""
        if exc_type is not None:
            self.kill()
        return False

    def replaced(self, worker, pid, how, after):
        """The pid of the worker started in place of worker number `worker`
        (pid), once the supervisor has logged that it ended, `how` (a
        pattern of the rest of its line), from line `after` on."""
        m = self.wait_line(r"^knot: worker %d \(pid %d\) %s$" % (worker, pid, how), after)
        return int(self.wait_line(WORKER_STARTED % worker, m.index).group(1))

    def stop(self, sig=signal.SIGTERM, timeout=20):
        """Signals the supervisor, waits for it; (exit status, stderr lines)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("knot -w did not stop within %d s" % timeout)
        self.reader.join(timeout)
        return self.proc.returncode, [line for line in self.lines if line is not None]

    def kill(self):
        for pid in self.worker_pids + [self.proc.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait()


def ppid_of(pid):
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def alive(pid):
    """pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def conn_threads(pid):
    """The client ports of the connections worker pid holds, from
    gt-stacks' JSON (one entry per thread)."""
    r = subprocess.run([GT_STACKS, "-a", "-j", "-n", "conn *", "-p", str(pid)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["pid"] == pid and doc["target"] == "process %d (knot)" % pid
    ports = set()
    for t in doc["threads_list"]:
        m = re.match(r"^conn 127\.0\.0\.1:(\d+)$", t["name"])
        assert m, t["name"]
        ports.add(int(m.group(1)))
    return ports


def wait_started(pid, timeout=20):
    """Waits until worker pid runs its accept and signal threads: its pid
    is logged at the fork, a moment before its runtime starts."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = subprocess.run([GT_STACKS, "-a", "-j", "-p", str(pid)], capture_output=True,
                           text=True, timeout=60)
        if r.returncode == 0:
            names = {t["name"] for t in json.loads(r.stdout)["threads_list"]}
            if {"accept", "signals"} <= names:
                return
        time.sleep(0.05)
    raise AssertionError("worker %d did not start its threads within %d s" % (pid, timeout))


def local_port(client):
    return client.sock.getsockname()[1]


def holder_of(server, client, timeout=20):
    """The worker whose thread serves client (once it has accepted it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pid in server.worker_pids:
            if local_port(client) in conn_threads(pid):
                return pid
        time.sleep(0.05)
    raise AssertionError("no worker accepted the connection within %d s" % timeout)


def check_spread(clients, pids):
    """Every client is held by exactly one of pids, and each pid holds
    some; returns {pid: ports}."""
    held = {pid: conn_threads(pid) for pid in pids}
    ours = {local_port(c) for c in clients}
    for pid, ports in held.items():
        assert ports, "worker %d serves none of %d connections: %r" % (pid, len(ours), held)
    union = set().union(*held.values())
    assert union == ours
    assert sum(len(p) for p in held.values()) == len(ours), "a connection in two workers"
    return held


def spread_over(port, pids):
    """SPREAD_CONNS connections served, each held by exactly one of pids,
    every pid holding some; then closed."""
    clients = open_served(port, SPREAD_CONNS)
    check_spread(clients, pids)
    for c in clients:
        c.close()


def in_flight(server):
    """A connection with a request not yet finished, and the worker that
    holds it."""
    busy = Client(server.port)
    busy.send(b"GET /small.txt HTTP/1.1\r\nHost: x\r\n")
    return busy, holder_of(server, busy)


KILLED = r"was killed by signal 9 \(SIGKILL\) after [\d.]+ s; restarting it"
STOPPING = (r"^knot\[%d\]: %s: stopping: no new connections; closing %s idle, "
            r"waiting for 1 busy$")


def test_both_workers_serve_one_port(docroot):
    with Supervised(docroot, 2) as server:
        assert len(set(server.worker_pids)) == 2
        for pid in server.worker_pids:
            assert ppid_of(pid) == server.pid
            with open("/proc/%d/comm" % pid) as f:
                assert f.read() == "knot\n"
        with open("/proc/%d/comm" % server.pid) as f:
            assert f.read() == "knot-supervisor\n"
        spread_over(server.port, server.worker_pids)
        status, lines = server.stop()
    assert status == 0
    assert lines[-1] == "knot: stopped"
    for i, pid in enumerate(server.worker_pids):
        assert "knot: worker %d (pid %d) stopped" % (i + 1, pid) in lines
        assert "knot[%d]: stopped" % pid in lines
        assert not alive(pid)


def test_workers_share_the_access_log(docroot, tmp_path):
    """Every worker appends to the one --log file: one whole line per
    request, whichever worker served it (all flushed by the graceful stop)."""
    log_path = str(tmp_path / "access.log")
    with Supervised(docroot, 2, "--log", log_path) as server:
        clients = []
        for i in range(SPREAD_CONNS):
            c = Client(server.port)
            c.send(b"GET /small.txt?n=%d HTTP/1.1\r\nHost: x\r\n\r\n" % i)
            assert c.response().body == SMALL
            clients.append(c)
        check_spread(clients, server.worker_pids)  # both wrote some
        for c in clients:
            c.close()
        status, _ = server.stop()
    assert status == 0
    with open(log_path) as f:
        lines = f.read().split("\n")
    assert lines[-1] == ""
    seen = []
    for line in lines[:-1]:
        m = re.match(r'^127\.0\.0\.1 - - \[[^]]+\] "GET /small\.txt\?n=(\d+) HTTP/1\.1" 200 100$',
                     line)
        assert m, line
        seen.append(int(m.group(1)))
    assert sorted(seen) == list(range(SPREAD_CONNS))


def test_gt_stacks_reads_a_worker(docroot):
    with Supervised(docroot, 2) as server:
        for pid in server.worker_pids:
            r = subprocess.run([GT_STACKS, "-p", str(pid)], capture_output=True, text=True,
                               timeout=60)
            assert r.returncode == 0, r.stderr
            assert r.stdout.startswith("process %d (knot): " % pid)
            assert re.search(r"^1 thread .* at listener_main \(listener\.c:\d+\) .*"
                             r"\(thread \d+ \"accept\"\)$", r.stdout, re.M), r.stdout
            assert '"signals"' in r.stdout
        status, _ = server.stop()
    assert status == 0


def test_a_killed_worker_is_logged_and_replaced(docroot):
    with Supervised(docroot, 2) as server:
        victim, other = server.worker_pids
        after = len(server.lines)
        os.kill(victim, signal.SIGKILL)
        new = server.replaced(1, victim, KILLED + r" in 0\.25 s", after)
        assert new not in (victim, other) and alive(new) and ppid_of(new) == server.pid
        wait_started(new)
        assert alive(other)
        # The new worker serves, on the same port, beside the old one.
        spread_over(server.port, [new, other])

        # It died young, so a second early death doubles the back-off.
        after = len(server.lines)
        os.kill(new, signal.SIGKILL)
        newer = server.replaced(1, new, KILLED + r" in 0\.5 s", after)
        server.worker_pids = [newer, other]
        wait_started(newer)
        assert get_ok(server.port)
        status, lines = server.stop()
    assert status == 0
    assert "knot: worker 1 (pid %d) stopped" % newer in lines
    assert "knot: worker 2 (pid %d) stopped" % other in lines


def test_a_healthy_worker_restarts_at_once_on_its_socket(docroot):
    """A worker that ran 5 s or more is restarted at once, and its
    listening socket outlives it: connections the kernel queued for it
    are served by its successor, none reset."""
    with Supervised(docroot, 2) as server:
        victim, other = server.worker_pids
        started = time.monotonic()
        # Stopped, it accepts nothing: its share of new connections waits
        # in its socket's queue (the kernel completes their handshakes).
        os.kill(victim, signal.SIGSTOP)
        clients = []
        for i in range(SPREAD_CONNS):
            c = Client(server.port)
            c.send(b"GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            clients.append(c)
        time.sleep(max(0.0, 5.5 - (time.monotonic() - started)))
        after = len(server.lines)
        os.kill(victim, signal.SIGKILL)
        new = server.replaced(1, victim, KILLED, after)
        server.worker_pids = [new, other]
        # Every client is answered (a connection reset would raise here),
        # and the new worker holds some: all were opened before it was.
        for c in clients:
            assert c.response().body == SMALL
        check_spread(clients, [new, other])
        for c in clients:
            c.close()
        status, _ = server.stop()
    assert status == 0


def test_a_worker_stopped_alone_hands_its_share_over(docroot):
    """SIGTERM to one worker: it stops gracefully, the kernel sends every
    new connection to the other meanwhile (none waits in the stopping
    worker's queue), and once it has exited a new worker takes its place,
    on a socket opened anew, and serves."""
    with Supervised(docroot, 2, "-t", "60") as server:
        victim, other = server.worker_pids
        started = time.monotonic()
        busy = Client(server.port)
        while holder_of(server, busy) != victim:  # a request in flight in the victim
            busy.close()
            busy = Client(server.port)
        busy.send(b"GET /small.txt HTTP/1.1\r\nHost: x\r\n")
        after = len(server.lines)
        os.kill(victim, signal.SIGTERM)
        server.wait_line(STOPPING % (victim, "SIGTERM", "0"), after)
        # Every new connection is served, all by the other worker (a
        # connection queued for the stopping one would time out here).
        clients = open_served(server.port, SPREAD_CONNS)
        assert {local_port(c) for c in clients} <= conn_threads(other)
        for c in clients:
            c.close()
        # The victim exits once its request is done; it ran over 5 s, so it
        # is replaced at once.
        time.sleep(max(0.0, 5.5 - (time.monotonic() - started)))
        busy.send(b"\r\n")
        assert busy.response().body == SMALL
        new = server.replaced(1, victim, r"exited with status 0 after [\d.]+ s; restarting it",
                              after)
        server.worker_pids = [new, other]
        wait_started(new)
        spread_over(server.port, [new, other])
        status, lines = server.stop()
    assert status == 0
    assert not any("accept:" in line for line in lines), lines


def get_ok(port):
    c = Client(port)
    try:
        c.send(b"GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        return c.response().body == SMALL
    finally:
        c.close()


def test_sigterm_stops_gracefully_with_no_orphans(docroot):
    with Supervised(docroot, 2, "-t", "30") as server:
        idle = open_served(server.port, 8)
        busy, holder = in_flight(server)
        after = len(server.lines)
        server.proc.send_signal(signal.SIGTERM)
        server.wait_line(r"^knot: SIGTERM: stopping 2 workers", after)
        server.wait_line(STOPPING % (holder, "SIGTERM", r"\d+"), after)
        for pid in server.worker_pids:  # both have stopped accepting
            server.wait_line(r"^knot\[%d\]: SIGTERM: stopping: " % pid, after)
        for c in idle:
            assert c.closed(wait=10)
        # No new connection: the supervisor closed its copies of the
        # listening sockets, and the workers theirs.
        assert refuses(server.port)
        # The request in flight is finished, then everything stops.
        assert server.proc.poll() is None and alive(holder)
        finish_in_flight(busy)
        status, lines = server.stop(sig=0)
    assert status == 0
    assert not any("cutting" in line for line in lines), lines
    for pid in server.worker_pids:
        assert not alive(pid)
    assert lines[-1] == "knot: stopped"


def test_ctrl_c_reaches_each_worker_once(docroot):
    """A terminal's Ctrl-C signals the whole foreground process group; the
    workers have groups of their own, so each gets SIGINT once, from the
    supervisor, and stops gracefully instead of cutting at a second one."""
    with Supervised(docroot, 2, "-t", "30", new_session=True) as server:
        # (Two SIGINTs sent at once are often merged into one by the
        # kernel, so the groups themselves are checked too.)
        assert os.getpgid(server.pid) == server.pid
        for pid in server.worker_pids:
            assert os.getpgid(pid) == pid
        busy, holder = in_flight(server)
        after = len(server.lines)
        os.killpg(server.pid, signal.SIGINT)
        server.wait_line(STOPPING % (holder, "SIGINT", "0"), after)
        busy.send(b"\r\n")
        r = busy.response()
        assert (r.status, r.body) == (200, SMALL)
        status, lines = server.stop(sig=0)
    assert status == 0
    assert lines.count("knot: SIGINT: stopping 2 workers (a second signal cuts their "
                       "connections)") == 1
    assert not any("again" in line or "cutting" in line for line in lines), lines


def test_workers_stop_when_the_supervisor_is_killed(docroot):
    with Supervised(docroot, 2) as server:
        assert get_ok(server.port)
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait()
        # Not our children: poll until the kernel's SIGTERM has stopped them.
        deadline = time.monotonic() + 20
        while any(alive(pid) for pid in server.worker_pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        server.reader.join(20)
        lines = [line for line in server.lines if line is not None]
    for pid in server.worker_pids:
        assert not alive(pid), "worker %d outlived its supervisor" % pid
        # get_ok's connection, closed by the client just before the
        # SIGKILL, is idle still or gone, as the worker has read its end
        # or not: 0 or 1, never busy.
        assert any(re.fullmatch(r"knot\[%d\]: SIGTERM: stopping: no new connections; "
                                r"closing [01] idle, waiting for 0 busy" % pid, line)
                   for line in lines), lines
        assert "knot[%d]: stopped" % pid in lines


def test_auto_starts_one_worker_per_cpu(docroot):
    cpus = len(os.sched_getaffinity(0))
    with Supervised(docroot, "auto") as server:
        assert server.workers == cpus == len(server.worker_pids)
        assert get_ok(server.port)
        status, _ = server.stop()
    assert status == 0


def test_one_worker_is_the_single_process(docroot):
    proc = subprocess.Popen([KNOT, "-w", "1", "-p", "0", "-r", docroot],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        line = proc.stderr.readline().decode()
        m = re.match(r"^knot: serving \S+ on http://127\.0\.0\.1:(\d+)/ \(max \d+ "
                     r"connections, timeout 10 s\)\n$", line)
        assert m, line
        assert get_ok(int(m.group(1)))
        with open("/proc/%d/task/%d/children" % (proc.pid, proc.pid)) as f:
            assert f.read().split() == []
        r = subprocess.run([GT_STACKS, "-p", str(proc.pid)], capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 0 and "listener_main" in r.stdout, r.stderr
        proc.send_signal(signal.SIGTERM)
        err = proc.communicate(timeout=20)[1].decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    assert err == ("knot: SIGTERM: stopping: no new connections; closing 0 idle, waiting "
                   "for 0 busy\nknot: stopped\n")


def test_a_port_in_use_is_refused(docroot):
    """SO_REUSEPORT would let a second server of the same user share the
    port silently; Knot checks that the port is free first."""
    with Supervised(docroot, 2) as first:
        for argv in ([KNOT, "-w", "2"], [KNOT]):
            r = subprocess.run(argv + ["-p", str(first.port), "-r", docroot],
                               capture_output=True, text=True, timeout=10)
            assert r.returncode == 1, (argv, r.stderr)
            assert r.stderr == ("knot: cannot listen on 127.0.0.1:%d: Address already in use "
                                "(choose another port with -p, or -p 0 for any)\n"
                                % first.port), argv
        # A single Knot already there: refused the same way.
        single = subprocess.Popen([KNOT, "-p", "0", "-r", docroot], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE)
        try:
            port = int(re.search(r"http://127\.0\.0\.1:(\d+)/",
                                 single.stderr.readline().decode()).group(1))
            r = subprocess.run([KNOT, "-w", "2", "-p", str(port), "-r", docroot],
                               capture_output=True, text=True, timeout=10)
            assert r.returncode == 1 and "Address already in use" in r.stderr, r.stderr
        finally:
            single.terminate()
            single.wait()
        status, _ = first.stop()
    assert status == 0


def test_bad_worker_counts(docroot):
    for value in ("0", "-1", "1025", "two", "2x", ""):
        r = subprocess.run([KNOT, "-w", value, "-p", "0", "-r", docroot], capture_output=True,
                           text=True, timeout=10)
        assert r.returncode == 64, (value, r.stderr)
        assert r.stderr == ("knot: -w %s: not a worker count (1-1024, or auto)\n"
                            "Try 'knot --help'.\n" % value), value
