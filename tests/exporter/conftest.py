"""Shared pieces of gt-exporter's tests: paths, the fixture processes
(tests/viewer/pipeline.c: known queues per location), the exporter
started on a free loopback port, and a parser of the exposition."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from fixture_lines import marker_lines  # noqa: E402
from ready_process import ReadyProcess  # noqa: E402

ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
BUILD = os.environ.get("GT_BUILD", os.path.join(ROOT, "build"))
EXPORTER = os.path.join(BUILD, "bin", "gt-exporter")
GT_TOP = os.path.join(BUILD, "bin", "gt-top")
GT_STACKS = os.path.join(BUILD, "bin", "gt-stacks")
PIPELINE = os.path.join(BUILD, "tests", "viewer", "pipeline")
PIPELINE_SRC = os.path.join(ROOT, "tests", "viewer", "pipeline.c")
LINES = marker_lines(PIPELINE_SRC)
ALERTS = os.path.join(ROOT, "tools", "exporter", "alerts.yml")
PROM_CONFIG = os.path.join(ROOT, "tools", "exporter", "prometheus.yml")
HIST_BUCKETS = 48   # GT_WAIT_HIST_BUCKETS (runtime/include/gt/registry.h)


def idle_site():
    return "idler_main (pipeline.c:%d)" % LINES["idle"]


def hold_site():
    return "main_thread (pipeline.c:%d)" % LINES["hold"]


def stage_a_site():
    return "stage_a (pipeline.c:%d)" % LINES["stage_a"]


def le_values():
    """The le labels of a wait histogram, as prometheus.c writes them:
    2^(b+1) - 1 ns in seconds, exact, then +Inf."""
    out = []
    for b in range(HIST_BUCKETS - 1):
        ns = (2 << b) - 1
        out.append(("%d.%09d" % (ns // 10**9, ns % 10**9)).rstrip("0").rstrip("."))
    return out + ["+Inf"]


class Pipeline(ReadyProcess):
    """A pipeline fixture: NLOOP threads going round stage_a and stage_b,
    NIDLE parked for ever at LINE:idle, NSHARED at each of two callers of
    LINE:shared, the main thread at LINE:hold."""

    def __init__(self, nloop, nidle, nshared=0):
        self.nloop, self.nidle, self.nshared = nloop, nidle, nshared
        super().__init__([PIPELINE, nloop, nidle, nshared], stderr=subprocess.DEVNULL)
        self.wait_main_parked()

    def wait_main_parked(self, timeout=20):
        """The fixture says "ready" just before its main thread parks at
        LINE:hold: until it has, a scrape may not count it there.  Waits
        until gt-stacks sees thread 1 parked (its only park after ready)."""
        deadline = time.monotonic() + timeout
        while True:
            r = subprocess.run([GT_STACKS, "--all", "--json", str(self.pid)],
                               capture_output=True, text=True, timeout=60)
            if r.returncode == 0:
                threads = json.loads(r.stdout)["threads_list"]
                if any(t["id"] == 1 and t["state"] == "parked" for t in threads):
                    return
            assert time.monotonic() < deadline, "pipeline %d: main never parked" % self.pid
            time.sleep(0.02)

    @property
    def threads(self):
        return self.nloop + self.nidle + 2 * self.nshared + 1


@pytest.fixture
def two():
    """Two fixtures with different queues, so each pid's numbers are its
    own: A parks 3 idlers, B 5, and B's loopers complete waits."""
    a, b = Pipeline(0, 3, 1), Pipeline(2, 5)
    yield a, b
    a.stop()
    b.stop()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Exporter:
    """gt-exporter on a free loopback port (it picks it: --listen :0), its
    stderr in a file."""

    def __init__(self, tmp_path, *args):
        self.log = open(os.path.join(str(tmp_path), "exporter-%d.log" % time.monotonic_ns()),
                        "w+")
        self.p = subprocess.Popen([EXPORTER, "--listen", "127.0.0.1:0"] + [str(a) for a in args],
                                  stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.monotonic() + 20
        self.port = None
        while self.port is None:
            assert self.p.poll() is None, self.stderr()
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)/metrics", self.stderr())
            if m:
                self.port = int(m.group(1))
            else:
                assert time.monotonic() < deadline, self.stderr()
                time.sleep(0.05)
        self.address = "127.0.0.1:%d" % self.port

    def stderr(self):
        self.log.seek(0)
        return self.log.read()

    def get(self, path="/metrics", method="GET"):
        req = urllib.request.Request("http://%s%s" % (self.address, path), method=method)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, dict(r.headers), r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read().decode()

    def metrics(self):
        status, headers, body = self.get()
        assert status == 200, body
        assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return body

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            assert self.p.wait(timeout=10) == 0, self.stderr()
        self.log.close()


def stopped_after(make):
    """A fixture's factory, make(*args), and at the end of the test the
    stop() of everything it started, in the order they started."""
    started = []

    def start(*args):
        x = make(*args)
        started.append(x)
        return x
    yield start
    for x in started:
        x.stop()


@pytest.fixture
def exporter(tmp_path):
    yield from stopped_after(lambda *args: Exporter(tmp_path, *args))


@pytest.fixture
def pipeline():
    """Pipeline(*args) for a test; listed after exporter, they stop
    before the exporters do, as targets that go away."""
    yield from stopped_after(Pipeline)


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text):
    """[(name, {label: value}, value string)] of every sample."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, line
        labels = {k: re.sub(r'\\(.)', lambda x: "\n" if x.group(1) == "n" else x.group(1), v)
                  for k, v in LABEL.findall(m.group(2) or "")}
        out.append((m.group(1), labels, m.group(3)))
    return out


def series(samples, name, **want):
    """The samples of NAME whose labels include WANT (a value ending in
    '*' matches as a prefix)."""
    def ok(labels):
        for k, v in want.items():
            have = labels.get(k)
            if have is None:
                return False
            if v.endswith("*") and not have.startswith(v[:-1]):
                return False
            if not v.endswith("*") and have != v:
                return False
        return True
    return [(labels, value) for n, labels, value in samples if n == name and ok(labels)]


def promtool_check_metrics(text):
    r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
