"""A real Prometheus server (Debian's prometheus) scraping gt-exporter
every second: after a few scrapes its query API gives each fixture's
thread counts per location, by pid, and the wait histogram's buckets
with their le values.  The example configuration and alerting rules are
checked with promtool, the rules on series whose outcome is known."""
import json
import os
import subprocess
import time
import urllib.parse
import urllib.request

import pytest

from conftest import (ALERTS, HERE, PROM_CONFIG, free_port, idle_site, le_values,
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
