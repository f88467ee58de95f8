"""A real Prometheus server (Debian's prometheus) scraping gt-exporter
every second: after a few scrapes its query API gives each fixture's
thread counts per location, by pid, and the wait histogram's buckets
with their le values.  The example configuration and alerting rules are
checked with promtool, the rules on series whose outcome is known."""
import json
import os
import re
import socket
import subprocess
import time
import urllib.parse
import urllib.request

import pytest

from conftest import (ALERTS, BUILD, HERE, PROM_CONFIG, free_port, idle_site, le_values,
                      stage_a_site)


def test_example_rules_and_config():
    r = subprocess.run(["promtool", "check", "rules", ALERTS], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0 and "4 rules found" in r.stdout, r.stdout + r.stderr
    r = subprocess.run(["promtool", "check", "config", PROM_CONFIG], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    # The rules on made-up series: each alert fires when it should, with
    # the annotations it should have, and not before.
    r = subprocess.run(["promtool", "test", "rules", "alerts_test.yml"], cwd=HERE,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "SUCCESS" in r.stdout, r.stdout + r.stderr


class Prometheus:
    def __init__(self, tmp_path, exporter_address):
        self.port = free_port()
        config = os.path.join(str(tmp_path), "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "  evaluation_interval: 1s\n"
                    "rule_files:\n  - %s\n"
                    "scrape_configs:\n  - job_name: gt\n    static_configs:\n"
                    "      - targets: ['%s']\n" % (ALERTS, exporter_address))
        self.log = open(os.path.join(str(tmp_path), "prometheus.log"), "w+")
        self.p = subprocess.Popen(
            ["prometheus", "--config.file", config,
             "--storage.tsdb.path", os.path.join(str(tmp_path), "data"),
             "--web.listen-address", "127.0.0.1:%d" % self.port],
            stdout=self.log, stderr=subprocess.STDOUT)

    def query(self, q):
        url = "http://127.0.0.1:%d/api/v1/query?%s" % (self.port,
                                                       urllib.parse.urlencode({"query": q}))
        with urllib.request.urlopen(url, timeout=10) as r:
            doc = json.load(r)
        assert doc["status"] == "success", doc
        return doc["data"]["result"]

    def wait_for(self, q, n, deadline):
        """The result of Q once it has N series (polling: Prometheus
        scrapes on its own schedule)."""
        while True:
            assert self.p.poll() is None, self.output()
            try:
                result = self.query(q)
                if len(result) >= n:
                    return result
            except OSError:
                pass   # not listening yet
            assert time.monotonic() < deadline, (q, self.output())
            time.sleep(0.25)

    def output(self):
        self.log.seek(0)
        return self.log.read()[-3000:]

    def stop(self):
        self.p.terminate()
        self.p.wait(timeout=20)
        self.log.close()


@pytest.fixture
def prometheus(tmp_path):
    started = []

    def start(address):
        p = Prometheus(tmp_path, address)
        started.append(p)
        return p
    yield start
    for p in started:
        p.stop()


def by_pid(result):
    return {r["metric"]["pid"]: r["value"][1] for r in result}


def test_real_prometheus_scrapes_the_exporter(two, exporter, prometheus):
    a, b = two
    e = exporter("-p", "%d,%d" % (a.pid, b.pid))
    prom = prometheus(e.address)
    deadline = time.monotonic() + 40
    # A few scrapes in: the up series of both targets, and the target
    # healthy in Prometheus's own view.
    prom.wait_for('count_over_time(gt_up[1m]) >= 3', 2, deadline)
    up = prom.query("gt_up")
    assert by_pid(up) == {str(a.pid): "1", str(b.pid): "1"}
    assert {r["metric"]["exe"] for r in up} == {"pipeline"}
    assert prom.query('up{job="gt"}')[0]["value"][1] == "1"
    # Thread counts per location and pid, exactly as the fixtures hold them.
    idle = prom.query('gt_location_waiting_threads{location=~"%s.*"}'
                      % idle_site().replace("(", "\\\\(").replace(")", "\\\\)").replace(".", "\\\\."))
    assert by_pid(idle) == {str(a.pid): str(a.nidle), str(b.pid): str(b.nidle)}
    total = prom.query("sum by (pid) (gt_threads)")
    assert by_pid(total) == {str(a.pid): str(a.threads), str(b.pid): str(b.threads)}
    # The wait-time histogram of B's stage_a: every bucket, by le.
    site = stage_a_site().replace("(", "\\\\(").replace(")", "\\\\)").replace(".", "\\\\.")
    buckets = prom.query('gt_location_wait_seconds_bucket{pid="%d",location=~"%s.*"}'
                         % (b.pid, site))
    les = sorted((r["metric"]["le"] for r in buckets),
                 key=lambda v: float("inf") if v == "+Inf" else float(v))
    assert les == le_values()
    # Prometheus reads them as a histogram: stage_a sleeps 2 ms, so its
    # median wait lies in the bucket (1.05 ms, 4.19 ms].
    q = prom.query('histogram_quantile(0.5, gt_location_wait_seconds_bucket{pid="%d",'
                   'location=~"%s.*"})' % (b.pid, site))
    assert 0.001048575 < float(q[0]["value"][1]) <= 0.004194303
    # The example rules loaded and evaluated (none firing on these).
    with urllib.request.urlopen("http://127.0.0.1:%d/api/v1/rules" % prom.port,
                                timeout=10) as r:
        rules = json.load(r)["data"]["groups"][0]["rules"]
    assert {x["name"] for x in rules} == {"GtQueueGrowing", "GtThreadHoggingCpu", "GtDeadlock",
                                          "GtTargetDown"}
    assert all(x["health"] == "ok" for x in rules), rules

    # A target that exits: its gt_up goes to 0, the other's stays 1, and
    # the exporter keeps serving (Prometheus's up stays 1).
    b.stop()
    down = prom.wait_for('gt_up == 0', 1, deadline)
    assert by_pid(down) == {str(b.pid): "0"}
    assert by_pid(prom.query("gt_up == 1")) == {str(a.pid): "1"}
    assert prom.query('up{job="gt"}')[0]["value"][1] == "1"


KNOT = os.path.join(BUILD, "examples", "knot", "knot")


def test_real_prometheus_over_two_knot_workers(exporter, prometheus, tmp_path):
    """knot -w 2 under a real Prometheus: each worker's series by pid, its
    thread count its two own threads plus one per connection it holds,
    the connections over both workers exactly those the test opened,
    each worker's connections waiting at the place a kept-alive
    connection waits, and the wait histograms whole: every le bucket,
    +Inf equal to _count."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "index.html").write_text("hello\n")
    knot = subprocess.Popen([KNOT, "-w", "2", "-p", "0", "-r", str(root), "-t", "60"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    conns = []
    try:
        port, workers = None, []
        while port is None or len(workers) < 2:
            line = knot.stdout.readline()
            assert line, "knot -w 2 stopped"
            m = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
            port = int(m.group(1)) if m else port
            m = re.match(r"knot: worker \d+ started: pid (\d+)$", line)
            workers += [int(m.group(1))] if m else []
        # Each connection makes one request, reads its answer and stays
        # open: its thread then waits for the next request.
        nconn = 12
        for _ in range(nconn):
            c = socket.create_connection(("127.0.0.1", port))
            c.sendall(b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n")
            got = b""
            while not got.endswith(b"hello\n"):
                got += c.recv(4096)
            conns.append(c)
        e = exporter("-p", "%d,%d" % tuple(workers))
        prom = prometheus(e.address)
        deadline = time.monotonic() + 60
        prom.wait_for('count_over_time(gt_up[1m]) >= 3', 2, deadline)
        assert by_pid(prom.query("gt_up")) == {str(w): "1" for w in workers}
        assert {r["metric"]["exe"] for r in prom.query("gt_up")} == {"knot"}
        threads = {int(p): int(v) for p, v in by_pid(prom.query("sum by (pid) (gt_threads)")).items()}
        assert set(threads) == set(workers)
        # Two threads of its own each (the listener, the signal waiter),
        # one more per connection it was given: all twelve, somewhere.
        assert sum(threads.values()) == 2 * 2 + nconn, threads
        assert all(n >= 2 for n in threads.values()), threads
        # The idle connections wait at one place in each worker holding
        # any: per pid, that place's queue is the worker's connections.
        waiting = prom.query('gt_location_waiting_threads > 0')
        per_pid = {}
        for r in waiting:
            per_pid.setdefault(int(r["metric"]["pid"]), {})[r["metric"]["location"]] = \
                int(r["value"][1])
        for w in workers:
            conn_waits = {loc: n for loc, n in per_pid.get(w, {}).items()
                          if not loc.startswith(("listener_main", "wait_for_signal"))}
            assert sum(conn_waits.values()) == threads[w] - 2, (w, per_pid)
        # Histograms: the completed waits of both workers' connection
        # threads, every le bucket present, +Inf equal to _count.
        buckets = prom.query('gt_location_wait_seconds_bucket')
        les = {}
        for r in buckets:
            key = (r["metric"]["pid"], r["metric"]["location"])
            les.setdefault(key, {})[r["metric"]["le"]] = int(r["value"][1])
        assert les and all(sorted(v, key=lambda x: float("inf") if x == "+Inf" else float(x))
                           == le_values() for v in les.values())
        counts = {(r["metric"]["pid"], r["metric"]["location"]): int(r["value"][1])
                  for r in prom.query('gt_location_wait_seconds_count')}
        assert counts == {k: v["+Inf"] for k, v in les.items()}
        assert {int(p) for p, _ in counts} <= set(workers)
    finally:
        for c in conns:
            c.close()
        knot.terminate()
        assert knot.wait(timeout=30) == 0
