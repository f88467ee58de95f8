"""gt-top on a registry whose location indices name no location
(bad_index.c), live and in a core: every view ends with rc 0, prints no
sanitizer report and stays under 1 GiB, and the damaged records are
counted, never used as an index: a location whose index field lies keeps
its slot's index and its queue, a thread that names no location is in its
state's count and at no location, an edge to nowhere is left out.  And on
a registry of 100,000 locations and edges: every view ends, in memory
proportional to the records."""
import json
import os
import subprocess
import tempfile
import threading

import pytest

from conftest import BUILD, GT_TOP, site, marker_lines, HERE

FIXTURE = os.path.join(BUILD, "tests", "viewer", "bad_index")
LINES = marker_lines(os.path.join(HERE, "bad_index.c"))
NIDLE = 3
MAX_RSS_KIB = 1 << 20       # 1 GiB
# Every view in its text, and the other formats once each.
RUNS = [
    ("--view", "locations"),
    ("--view", "threads"),
    ("--view", "stacks"),
    ("--view", "stacks", "--class-by", "name"),
    ("--view", "graph"),
    ("--view", "threads", "--format", "json"),
    ("--view", "stacks", "--format", "json"),
    ("--format", "prometheus"),
    ("--view", "graph", "--format", "dot"),
]


def idle_where():
    return "idler_main (bad_index.c:%d)" % LINES["idle"]


class BadIndex:
    """bad_index.c running, its registry damaged: facts from its ready
    line (idle, the idle location's index; damaged, records rewritten)."""

    def __init__(self, mode, value):
        self.p = subprocess.Popen([FIXTURE, str(NIDLE), mode, value],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True,
                                  env=dict(os.environ, GT_GUARD="mprotect"))
        line = self.p.stdout.readline()
        assert line.startswith("ready "), (line, self.p.stderr.read())
        words = line.split()
        self.pid = int(words[1])
        self.facts = {k: int(v) for k, v in (w.split("=") for w in words[2:])}

    def stop(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()
        for f in (self.p.stdout, self.p.stderr, self.p.stdin):
            f.close()


def run_measured(*args):
    """Runs gt-top: (rc, stdout, stderr, its own peak RSS in KiB).  A run
    still going after two minutes is killed (and then fails on rc)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.Popen([GT_TOP] + [str(a) for a in args], stdout=out, stderr=err)
        timer = threading.Timer(120, p.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(p.pid, 0)
        finally:
            timer.cancel()
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return (p.returncode, out.read().decode(), err.read().decode(),
                usage.ru_maxrss)


def check_every_view(target):
    for extra in RUNS:
        rc, out, err, rss = run_measured("-b", *target, *extra)
        assert rc == 0 and err == "", (extra, rc, err[-2000:])
        assert rss < MAX_RSS_KIB, (extra, rss)
        assert out, extra


def document(target):
    rc, out, err, rss = run_measured("-b", *target, "--view", "threads", "--format", "json")
    assert rc == 0, err
    return json.loads(out)


def check_counts(doc, mode, facts):
    idle = facts["idle"]
    assert doc["records_damaged"] == facts["damaged"]
    # NIDLE idlers, the stepper and the main thread wait; the damager has
    # exited.  Damage moves no thread out of its state.
    assert doc["threads"] == NIDLE + 2
    # A record left mid-write is in flux: in no state, its index unused,
    # and no damage.
    torn = NIDLE if mode == "torn" else 0
    assert doc["states"]["parked"] == NIDLE + 2 - torn and doc["in_flux"] == torn
    # Each location has its slot's index: 1 up to their count.
    indices = sorted(l["index"] for l in doc["locations"])
    assert indices == list(range(1, len(indices) + 1))
    locs = {l["index"]: l for l in doc["locations"]}
    assert site(locs[idle]["where"]) == idle_where()
    idlers = [t for t in doc["threads_list"] if t["name"] == "idler"]
    assert len(idlers) == NIDLE
    queued = sum(l["waiting"] for l in doc["locations"])
    if mode in ("thread", "torn"):
        # At no location: not at the idle one, nor at any other.
        assert locs[idle]["waiting"] == 0
        assert all(t["location"] == 0 and t["where"] == "" for t in idlers)
        assert queued == NIDLE + 2 - NIDLE
    else:
        assert locs[idle]["waiting"] == NIDLE
        assert all(t["location"] == idle and site(t["where"]) == idle_where()
                   for t in idlers)
        assert queued == NIDLE + 2
    step, stepped = (where_index(locs, "stepper_main", LINES[k]) for k in ("step", "stepped"))
    edges = [(e["from"], e["to"]) for e in doc["edges"]]
    assert edges == ([] if mode == "edge" else [(step, stepped)])


def where_index(locs, func, line):
    want = "%s (bad_index.c:%d)" % (func, line)
    got = [i for i, l in locs.items() if site(l["where"]) == want]
    assert len(got) == 1, (want, locs)
    return got[0]


@pytest.mark.parametrize("value", ["0xffffffff", "0x1fffffff", "past"])
@pytest.mark.parametrize("mode", ["loc", "thread", "edge", "torn"])
def test_damaged_location_index(mode, value, tmp_path):
    f = BadIndex(mode, value)
    try:
        live = ("-d", "0.1", "-p", f.pid)
        check_every_view(live)
        check_counts(document(live), mode, f.facts)
        prefix = os.path.join(str(tmp_path), "gcore")
        subprocess.run(["gcore", "-o", prefix, str(f.pid)], check=True,
                       capture_output=True, timeout=120)
    finally:
        f.stop()
    core = ("--core", "%s.%d" % (prefix, f.pid), "--exe", FIXTURE)
    check_every_view(core)
    check_counts(document(core), mode, f.facts)
    rc, out, err, rss = run_measured("-b", *core)
    header = out.splitlines()[0]
    if f.facts["damaged"]:
        assert "(%d records damaged)" % f.facts["damaged"] in header
    else:
        assert "records damaged" not in header and "(records in flux)" in header


MANY = 100000
# The library's copy of 100,000 location records and gt-top's rows, label
# texts and arrays by index take about 120 MB; a label's full room per
# location (2 KiB), as gt-top once gave, took 315 MB.
MANY_MAX_RSS_KIB = 256 << 10


def asan_factor():
    """2 for a gt-top built with AddressSanitizer (make test-viewer-asan):
    its shadow memory and redzones about double a heap's pages."""
    with open(GT_TOP, "rb") as f:
        return 2 if b"__asan_init" in f.read() else 1


def test_many_locations_and_edges():
    """Every pass over the locations or edges is one pass or a sort: a
    pass per location over every location or edge (the Prometheus label
    check, the DOT node check, the graph's insertion sort) took minutes at
    this size, and the run is killed after two."""
    f = BadIndex("many", str(MANY))
    try:
        target = ("-d", "0.1", "-p", f.pid)
        for extra in [("--view", "locations"), ("--view", "graph"),
                      ("--format", "prometheus"), ("--view", "graph", "--format", "dot")]:
            rc, out, err, rss = run_measured("-b", *target, *extra)
            assert rc == 0 and err == "", (extra, rc, err[-2000:])
            assert rss < MANY_MAX_RSS_KIB * asan_factor(), (extra, rss)
            if extra[-1] == "dot":
                # A node per linked location, an edge per transition: the
                # stepper's one and the MANY added.
                assert out.count(" -> ") == MANY + 1
        rc, out, err, rss = run_measured("-b", *target, "--format", "json")
        assert rc == 0, err
        doc = json.loads(out)
    finally:
        f.stop()
    assert len(doc["locations"]) == f.facts["locations"] - 1
    assert len(doc["edges"]) == MANY + 1
    assert doc["records_damaged"] == 0
    # The added locations share the idle one's call site, and wait nowhere.
    idle = [l for l in doc["locations"] if site(l["where"]) == idle_where()]
    assert len(idle) == MANY + 1
    assert sum(l["waiting"] for l in idle) == NIDLE


@pytest.mark.parametrize("mode", ["loc", "thread", "edge"])
def test_screen_on_damaged_indices(mode):
    """The screen on the same registries: the header counts the damage,
    every view draws, a location's drill-down finds its threads, q quits
    with status 0."""
    from test_screen import keys, start, tmux, wait_for
    f = BadIndex(mode, "0xffffffff")
    try:
        start(f)
        wait_for("(%d records damaged)" % f.facts["damaged"])
        for key, view in (("2", "threads"), ("3", "stacks"), ("4", "graph"),
                          ("1", "locations")):
            keys(key)
            wait_for("view: " + view)
        wait_for("idler_main (bad_index.c")
        keys("/")
        keys("idler_main", "Enter")
        wait_for("filter: idler_main")
        keys("Enter")
        s = wait_for("threads waiting")
        assert "%d threads waiting" % (0 if mode == "thread" else NIDLE) in s
        keys("Escape")
        wait_for("view: locations")
        keys("q")
        wait_for("gt-top-exited 0")
    finally:
        tmux("kill-server")
        f.stop()
