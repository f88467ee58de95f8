"""What the readers see of an unmodified pthread program on gt: fx_parked.c
under LD_PRELOAD=libgt-pthread.so, with threads parked in read() on a pipe,
in nanosleep and in pthread_join, named by pthread_setname_np.  gt-stacks
groups them by where they wait (exact counts, the program's own call
sites, the names they set); gt-top -b shows one queue per location with
exactly that many waiting, of the right kind, each joiner held up by the
sleeper it joins; main is green thread 1 with main as its entry; the
runtime's watchdog is a real kernel thread beside them."""
import collections
import json
import os
import re
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from fixture_lines import marker_lines  # noqa: E402
from ready_process import wait_idle  # noqa: E402

BUILD = os.environ.get("GT_BUILD", os.path.join(HERE, "..", "..", "build"))
LIB = os.path.join(BUILD, "lib", "libgt-pthread.so")
FX = os.path.join(BUILD, "tests", "pthread", "fx_parked")
GT_STACKS = os.path.join(BUILD, "bin", "gt-stacks")
GT_TOP = os.path.join(BUILD, "bin", "gt-top")
LINES = marker_lines(os.path.join(HERE, "fx_parked.c"))

READERS, SLEEPERS, JOINERS = 5, 7, 3


@pytest.fixture(scope="module")
def parked():
    env = dict(os.environ, LD_PRELOAD=LIB)
    env.pop("GT_WATCHDOG_MS", None)
    p = subprocess.Popen([FX, str(READERS), str(SLEEPERS), str(JOINERS)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env)
    line = p.stdout.readline()
    assert line == "ready %d\n" % p.pid, (line, p.stderr.read())
    wait_idle(p.pid)
    yield p.pid
    p.stdin.write("x\n")
    p.stdin.flush()
    assert p.wait(timeout=60) == 0
    for f in (p.stdin, p.stdout, p.stderr):
        f.close()


def json_of(*cmd):
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def site(name):
    return "fx_parked.c:%d" % LINES[name]


# Where each kind of thread waits: (function, marker, count, name, kind).
EXPECTED = [
    ("reader", "reader_read", READERS, "reader", "fd"),
    ("sleeper", "sleeper_sleep", SLEEPERS, "sleeper", "sleep"),
    ("joiner", "joiner_join", JOINERS, "joiner", "join"),
    ("main", "main_read", 1, "fx_parked", "fd"),  # the comm of the program
]


def test_gt_stacks_groups(parked):
    doc = json_of(GT_STACKS, "--json", parked)
    assert doc["threads"] == READERS + SLEEPERS + JOINERS + 1
    assert doc["states"]["parked"] == doc["threads"]
    groups = {}
    for g in doc["groups"]:
        own = [f for f in g["frames"] if f.get("module") == "fx_parked"]
        assert own, g
        key = (own[0]["function"], own[0]["line"])
        assert key not in groups
        groups[key] = g
    want = {(fn, LINES[m]): (n, name) for fn, m, n, name, _ in EXPECTED}
    assert set(groups) == set(want)
    for key, (n, name) in want.items():
        g = groups[key]
        assert g["count"] == n and g["states"] == {"parked": n}
        assert g["representative"]["name"] == name
        assert len(g["thread_ids"]) == n


def test_runtime_threads_are_real(parked):
    """The runtime's own helper, the watchdog, is a real kernel thread
    (its pthread_create reached glibc, not the green one): two kernel
    threads, and the registry says the watchdog runs."""
    assert len(os.listdir("/proc/%d/task" % parked)) == 2
    doc = json_of(GT_TOP, "-b", "-n", "1", "--format", "json", parked)
    assert doc["watchdog"]["threshold_ns"] == 100 * 1000 * 1000


def test_gt_top_locations_and_names(parked):
    doc = json_of(GT_TOP, "-b", "-n", "1", "--view", "threads", "--format",
                  "json", parked)
    locs = {}
    for loc in doc["locations"]:
        first = loc["where"].split(" < ")[0]
        locs[first] = loc
    assert len(locs) == len(EXPECTED)
    for fn, marker, n, _, kind in EXPECTED:
        loc = locs["%s (%s)" % (fn, site(marker))]
        assert loc["waiting"] == n and loc["kind"] == kind, loc
    threads = doc["threads_list"]
    names = collections.Counter(t["name"] for t in threads)
    # main has the program's name, as the kernel's comm of its thread.
    with open("/proc/%d/comm" % parked) as f:
        assert f.read().strip() == "fx_parked"
    assert names == {"reader": READERS, "sleeper": SLEEPERS,
                     "joiner": JOINERS, "fx_parked": 1}
    by_id = {t["id"]: t for t in threads}
    # main is green thread 1, entered at the program's main.
    assert by_id[1]["entry"] == "main"
    assert by_id[1]["where"].startswith("main (%s)" % site("main_read"))
    # Each joiner waits for a sleeper: the first JOINERS ones, by creation.
    sleepers = sorted(t["id"] for t in threads if t["name"] == "sleeper")
    joined = sorted(t["wait_obj"] for t in threads if t["name"] == "joiner")
    assert joined == sleepers[:JOINERS]
    for t in threads:
        if t["name"] == "joiner":
            assert t["wait_kind"] == "join"
        if t["name"] in ("reader", "sleeper", "joiner"):
            assert t["entry"] == t["name"]
