"""Threads exiting while a reader reads: a slot freed during the reader's
re-read of a record is no thread.  Against tests/tools/churn.c (1,000
threads alive, each living 0 to 2 ms), every thread gt-stacks lists, over
many snapshots, is in a real state (never "free", whose stale saved
context would give a backtrace) and has an id the program gave out."""
import json
import os
import subprocess

import pytest

from conftest import FIXTURES, GT_STACKS, GT_WASTE

CHURN = os.path.join(FIXTURES, "churn")
STATES = {"runnable", "running", "parked", "exited"}
RUNS = 20


@pytest.fixture
def churn():
    p = subprocess.Popen([CHURN, "1000"], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().startswith("ready ")
    yield p
    p.kill()
    p.wait()
    p.stdout.close()


def test_no_freed_slot_listed(churn):
    listed = 0
    for _ in range(RUNS):
        r = subprocess.run([GT_STACKS, "--json", "--all", str(churn.pid)],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        doc = json.loads(r.stdout)
        threads = doc["threads_list"]
        assert threads, "no thread listed"
        bad = [(t["id"], t["state"], len(t["frames"])) for t in threads
               if t["state"] not in STATES]
        assert not bad, bad
        # The counts agree with the list: the states and in_flux add up.
        assert sum(doc["states"].values()) + doc["in_flux"] == len(threads)
        assert all(t["id"] >= 1 for t in threads)
        listed += len(threads)
    assert listed >= RUNS * 100


def test_waste_counts_no_freed_slot(churn):
    for _ in range(5):
        r = subprocess.run([GT_WASTE, "--json", str(churn.pid)],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        doc = json.loads(r.stdout)
        assert sum(doc["states"].values()) + doc["in_flux"] == doc["threads"]
