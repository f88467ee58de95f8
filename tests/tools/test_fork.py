"""Readers after fork() from a green thread: the child of forker.c keeps
only the thread that forked (plus the threads it spawns), the parent keeps
all of its own, and gt-stacks shows each process exactly its own."""
import collections

import pytest

from conftest import GT_STACKS, Running, exe, run_json, wait_idle


@pytest.fixture(scope="module")
def forked():
    f = Running(exe("static", "forker"), [])
    child = int(f.ready[2])
    wait_idle(child)
    yield f, child
    f.stop()


def names(doc):
    c = collections.Counter()
    for g in doc["groups"]:
        c[g["representative"]["name"]] += g["count"]
    return dict(c)


def test_child_shows_only_its_threads(forked):
    f, child = forked
    doc = run_json(GT_STACKS, "-p", child)
    assert doc["pid"] == child
    assert doc["threads"] == 6
    assert names(doc) == {"forker": 1, "creader": 5}
    assert doc["states"]["parked"] == 6
    assert sum(doc["states"].values()) == 6


def test_parent_unaffected(forked):
    f, child = forked
    doc = run_json(GT_STACKS, "-p", f.pid)
    assert doc["pid"] == f.pid
    assert doc["threads"] == 9
    assert names(doc) == {"": 1, "preader": 4, "psleeper": 3, "forker": 1}
