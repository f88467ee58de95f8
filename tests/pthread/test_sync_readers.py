"""What the readers see of a plain pthread program's sync objects under
libgt-pthread.so, against what tests/pthread/fixtures/sync_readers.c
knows (its LINE markers): threads parked on a pthread mutex held up by
its owner, named; readers of a write-locked rwlock held up by the writer;
two threads locking each other's pthread mutex, two write-locking each
other's rwlock, and one relocking its normal mutex, reported as deadlock
cycles and nothing else in one; condition and semaphore waits.  gt-stacks
and gt-top, live."""
import json
import os
import re
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from fixture_lines import marker_lines  # noqa: E402
from ready_process import wait_idle  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("GT_BUILD", os.path.join(HERE, "..", "..", "build"))
LIB = os.path.join(BUILD, "lib", "libgt-pthread.so")
GT_STACKS = os.path.join(BUILD, "bin", "gt-stacks")
GT_TOP = os.path.join(BUILD, "bin", "gt-top")
SOURCE = os.path.join(HERE, "fixtures", "sync_readers.c")
LINES = marker_lines(SOURCE)


def site(func, name):
    return "%s (sync_readers.c:%d)" % (func, LINES[name])


@pytest.fixture(scope="module")
def target(tmp_path_factory):
    """The fixture, built as a plain pthread program (not linked with
    libgt) and run under LD_PRELOAD, every thread parked."""
    exe = str(tmp_path_factory.mktemp("sync_readers") / "sync_readers")
    subprocess.run(["cc", "-std=gnu11", "-Wall", "-Werror", "-g", "-O0", "-pthread",
                    "-o", exe, SOURCE], check=True)
    p = subprocess.Popen([exe], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=dict(os.environ, LD_PRELOAD=LIB))
    line = p.stdout.readline()
    assert line.startswith("ready "), (line, p.stderr.read() if p.poll() is not None else "")
    _, pid, nwaiters, nreaders = line.split()
    assert int(pid) == p.pid
    wait_idle(p.pid)
    yield {"pid": p.pid, "nwaiters": int(nwaiters), "nreaders": int(nreaders)}
    p.kill()
    p.wait()
    p.stdout.close()
    p.stderr.close()


def run_json(*cmd):
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def at(threads, where):
    """The threads whose location's call site is WHERE."""
    return [t for t in threads if t["site"] == where]


def check(doc, threads, target):
    """THREADS: the document's threads, each with its call site ("site")."""
    holder = at(threads, site("holder_main", "holder"))
    assert len(holder) == 1 and holder[0]["state"] == "parked"
    holder = holder[0]
    assert holder["blocked_by"] is None and holder["wait_kind"] == "sleep"

    # Parked on a pthread mutex, held up by its owner, named.
    waiters = at(threads, site("waiter_main", "waiter"))
    assert len(waiters) == target["nwaiters"]
    mutex = waiters[0]["blocked_by"]["object"]
    for w in waiters:
        assert w["wait_kind"] == "mutex"
        b = dict(w["blocked_by"])
        assert b.pop("held_ns") is not None
        assert b == {"id": holder["id"], "kind": "mutex", "object": mutex,
                     "edge": True, "cycle": None}
        assert re.fullmatch(r'mutex %#x held by thread %d "[^"]*" \(parked, sleep at %s\) '
                            r'for \S+' % (mutex, holder["id"],
                                          re.escape(site("holder_main", "holder"))),
                            w["block"]), w["block"]

    # The readers of a write-locked rwlock: held up by the writer.
    writer = at(threads, site("writer_main", "writer"))
    assert len(writer) == 1
    readers = at(threads, site("reader_main", "reader"))
    assert len(readers) == target["nreaders"]
    for r in readers:
        assert r["wait_kind"] == "mutex"
        assert (r["blocked_by"]["id"], r["blocked_by"]["edge"], r["blocked_by"]["cycle"]) \
            == (writer[0]["id"], True, None)

    # The two threads that lock each other's mutex, the two that
    # write-lock each other's rwlock, and the one that locks its normal
    # mutex twice: three cycles, and no other thread in one.
    cycles = []
    for func, name in (("cycle_main", "cycle"), ("rwcycle_main", "rwcycle")):
        pair = at(threads, site(func, name))
        assert len(pair) == 2
        a, b = sorted(pair, key=lambda t: t["id"])
        cycles.append([(a["id"], "mutex", b["id"]), (b["id"], "mutex", a["id"])])
    me = at(threads, site("self_main", "self"))
    assert len(me) == 1
    cycles.append([(me[0]["id"], "mutex", me[0]["id"])])
    assert [[(m["id"], m["waits_for"]["kind"], m["held_by"]) for m in d["threads"]]
            for d in doc["deadlocks"]] == sorted(cycles)
    objs = [m["waits_for"]["object"] for d in doc["deadlocks"] for m in d["threads"]]
    assert len(set(objs)) == 5 and mutex not in objs
    assert doc["threads_in_deadlock"] == 5
    assert {t["id"] for t in threads if t["blocked_by"] and t["blocked_by"]["cycle"]} \
        == {m[0] for c in cycles for m in c}

    # A condition variable's waiter and a semaphore's, at their call sites.
    cond = at(threads, site("cond_main", "cond"))
    assert len(cond) == 1 and cond[0]["wait_kind"] == "cond"
    assert cond[0]["block"].startswith("cond 0x")
    sem = at(threads, site("sem_main", "sem"))
    assert len(sem) == 1 and sem[0]["wait_kind"] == "cond"


def test_gt_stacks(target):
    doc = run_json(GT_STACKS, "--json", "--all", target["pid"])
    where = {l["index"]: l["where"].split(" < ")[0] for l in doc["locations"]}
    threads = doc["threads_list"]
    for t in threads:
        t["site"] = where.get(t["location"])
    check(doc, threads, target)


def test_gt_top(target):
    doc = run_json(GT_TOP, "-b", "-d", "0.1", "--format", "json", "--view", "threads",
                   "-p", target["pid"])
    threads = doc["threads_list"]
    for t in threads:
        t["site"] = t["where"].split(" < ")[0] if t["where"] else None
    check(doc, threads, target)


def test_gt_stacks_text(target):
    """The text report names the cycle and the holder."""
    r = subprocess.run([GT_STACKS, str(target["pid"])], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("deadlock: cycle of 2 threads") == 2
    assert r.stdout.count("deadlock: cycle of 1 thread") == 1
    assert re.search(r"%d threads .* at %s .*\n  held up by thread \d+ \"[^\"]*\" "
                     r"\(parked, sleep at %s\)" % (target["nwaiters"],
                                                   re.escape(site("waiter_main", "waiter")),
                                                   re.escape(site("holder_main", "holder"))),
                     r.stdout), r.stdout
