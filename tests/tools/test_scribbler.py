"""A live target that keeps damaging its own registry (tests/tools/
scribbler.c: header counts, chunk pointers, page size, seq counters,
record states, location indices, saved registers, names) while each
reader reads it 50 times: no crash (no signal, no sanitizer report), no
hang (each run under a timeout), exit status 0 or one clear line, and no
invented thread (every id listed is one the program created: 1 to the
MAXID it prints).

50 runs of gt-stacks and of gt-waste are 50 processes each, two at a
time; gt-top's 50 are 50 snapshots, 10 per batch-mode process (each
refresh reads the registry afresh, as a run does)."""
import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import BIN, FIXTURES, GT_STACKS, GT_WASTE

GT_TOP = os.path.join(BIN, "gt-top")
SCRIBBLER = os.path.join(FIXTURES, "scribbler")
RUNS = 50
TOP_SNAPSHOTS = 10
TIMEOUT = 20


@pytest.fixture(scope="module")
def scribbler():
    p = subprocess.Popen([SCRIBBLER, "50", "12345"], stdout=subprocess.PIPE, text=True)
    ready, pid, maxid = p.stdout.readline().split()
    assert ready == "ready" and int(pid) == p.pid
    p.maxid = int(maxid)
    yield p
    alive = p.poll() is None
    p.kill()
    p.wait()
    p.stdout.close()
    assert alive, "the scribbler itself died"


def run(cmd):
    """(exit status, stdout, stderr) of CMD, which must end in time."""
    try:
        p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True,
                           errors="strict", timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail("%s hung (over %d s)" % (cmd, TIMEOUT))
    return p.returncode, p.stdout, p.stderr


def check_outcome(tool, rc, err):
    """rc 0, or 1 with one line naming the tool; never a signal or a
    sanitizer report."""
    assert rc >= 0, "%s died of signal %d: %s" % (tool, -rc, err)
    assert "Sanitizer" not in err and "runtime error" not in err, err
    assert rc in (0, 1), (tool, rc, err)
    if rc == 1:
        lines = err.splitlines()
        assert len(lines) == 1 and lines[0].startswith(tool + ": "), err


def real_ids(ids, maxid):
    invented = [i for i in ids if not 1 <= i <= maxid]
    assert not invented, "invented thread ids %s (the program made 1..%d)" % (invented, maxid)


def many(cmd, n):
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(lambda _: run(cmd), range(n)))


def test_gt_stacks(scribbler):
    read = 0
    for rc, out, err in many([GT_STACKS, "--json", "--all", scribbler.pid], RUNS):
        check_outcome("gt-stacks", rc, err)
        if rc == 0:
            doc = json.loads(out)
            real_ids([t["id"] for t in doc["threads_list"]], scribbler.maxid)
            assert len(doc["threads_list"]) <= scribbler.maxid
            read += 1
    assert read > 0, "no run read the registry"


def test_gt_stacks_text(scribbler):
    for rc, out, err in many([GT_STACKS, scribbler.pid], RUNS // 5):
        check_outcome("gt-stacks", rc, err)


def test_gt_waste(scribbler):
    read = 0
    for rc, out, err in many([GT_WASTE, "--json", scribbler.pid], RUNS):
        check_outcome("gt-waste", rc, err)
        if rc == 0:
            doc = json.loads(out)
            assert doc["threads"] <= scribbler.maxid
            assert sum(c["threads"] for c in doc["classes"]) <= scribbler.maxid
            read += 1
    assert read > 0, "no run read the registry"


@pytest.mark.parametrize("view", ["threads", "stacks", "locations"])
def test_gt_top(scribbler, view):
    runs = RUNS // TOP_SNAPSHOTS
    cmd = [GT_TOP, "-b", "-n", TOP_SNAPSHOTS, "-d", "0.05", "--view", view,
           "--format", "json", "-p", scribbler.pid]
    for rc, out, err in many(cmd, runs):
        check_outcome("gt-top", rc, err)
        for line in out.splitlines():
            doc = json.loads(line)
            assert doc["threads"] <= scribbler.maxid
            real_ids([t["id"] for t in doc.get("threads_list", [])], scribbler.maxid)
