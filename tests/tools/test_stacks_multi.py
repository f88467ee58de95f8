"""gt-stacks over several processes: two instances of known_stacks.c with
different thread counts, whose groups merge by their frames (never by
address: each process loads its code elsewhere, and a libgt.so build has
the runtime in another file than a static one), each merged group with
exact counts per process; a process that is no gt program or is gone
named in one line while the others are still reported."""
import json
import os
import re
import subprocess
import sys

import jsonschema
import pytest

from conftest import GT_STACKS, HERE, LINES, Fixture, Running, exe, run, run_json
from test_stacks import app_frames, expected

sys.path.insert(0, os.path.join(HERE, ".."))
import installed_schemas  # noqa: E402

SCHEMA = os.path.join(HERE, "..", "..", "schema", "gt-stacks.schema.json")
# alpha, beta, recur, depth, diver: two programs alike but for their counts.
COUNTS_A = (3, 2, 2, 5, 2)
COUNTS_B = (5, 1, 3, 5, 4)
NAMES = ("alpha", "beta", "recur", "diver", "")


def counts(c):
    return dict(zip(("alpha", "beta", "recur", "depth", "diver"), c))


def per_group(c):
    """Threads per group name (the main thread's is "")."""
    return {name: n for name, (n, _) in expected(counts(c)).items()}


@pytest.fixture(scope="module")
def two():
    a = Fixture(COUNTS_A)
    b = Fixture(COUNTS_B)
    yield a, b
    a.stop()
    b.stop()


def check_schema(doc):
    with open(SCHEMA) as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator(schema).validate(doc)
    assert installed_schemas.undescribed(schema, doc) == []


def by_name(doc):
    return {g["representative"]["name"]: g for g in doc["groups"]}


def check_merged(doc, a, b, ca, cb, with_lines=True):
    """DOC, over A and B (in that order), holds every group of
    known_stacks once, with the sums of both counts and each process's
    exact share."""
    check_schema(doc)
    assert [t["pid"] for t in doc["targets"]] == [a.pid, b.pid]
    assert doc["unreadable"] == []
    na, nb = per_group(ca), per_group(cb)
    assert doc["threads"] == doc["shown"] == sum(na.values()) + sum(nb.values())
    groups = by_name(doc)
    assert len(doc["groups"]) == len(NAMES)
    for name in NAMES:
        g = groups[name]
        assert g["count"] == na[name] + nb[name], name
        assert g["states"] == {"parked": na[name] + nb[name]}
        assert [(p["pid"], p["count"]) for p in g["by_pid"]] == \
            [(a.pid, na[name]), (b.pid, nb[name])], name
        for p in g["by_pid"]:
            assert len(p["thread_ids"]) == p["count"] == len(set(p["thread_ids"]))
            assert p["location"] > 0
        # The representative is the lowest id of the first process.
        assert g["representative"]["pid"] == a.pid
        assert g["representative"]["id"] == min(g["by_pid"][0]["thread_ids"])
        want = expected(counts(ca))[name][1]
        if not with_lines:
            want = [(f, None) for f, _ in want]
        assert app_frames(g["frames"], with_lines) == want, name
    assert [g["count"] for g in doc["groups"]] == sorted(
        (g["count"] for g in doc["groups"]), reverse=True)
    # Each target's own document part: its threads and its locations.
    assert [t["threads"] for t in doc["targets"]] == [sum(na.values()), sum(nb.values())]


def test_two_processes_merge_with_exact_counts(two):
    a, b = two
    doc = run_json(GT_STACKS, a.pid, b.pid)
    check_merged(doc, a, b, COUNTS_A, COUNTS_B)
    # -p with a comma-separated list, and -p given twice, read the same.
    for args in (["-p", "%d,%d" % (a.pid, b.pid)], ["-p", a.pid, "-p", b.pid],
                 ["--pid=%d" % a.pid, b.pid]):
        same = run_json(GT_STACKS, *args)
        assert [(g["count"], g["by_pid"]) for g in same["groups"]] == \
            [(g["count"], g["by_pid"]) for g in doc["groups"]], args
    # The order of the command line is the order of targets and by_pid.
    rev = run_json(GT_STACKS, b.pid, a.pid)
    assert [t["pid"] for t in rev["targets"]] == [b.pid, a.pid]
    assert by_name(rev)["alpha"]["by_pid"][0]["pid"] == b.pid


def test_static_and_shared_builds_merge_by_frames():
    """The runtime's frames are in the executable in one and in libgt.so in
    the other: other files, other addresses, the same functions and
    lines."""
    a = Fixture(COUNTS_A, "static")
    b = Fixture(COUNTS_B, "shared")
    try:
        check_merged(run_json(GT_STACKS, a.pid, b.pid), a, b, COUNTS_A, COUNTS_B)
    finally:
        a.stop()
        b.stop()


def test_stripped_builds_merge_by_names():
    """Without line information, frames merge by function name."""
    a = Fixture(COUNTS_A, "stripped")
    b = Fixture(COUNTS_B, "stripped")
    try:
        check_merged(run_json(GT_STACKS, a.pid, b.pid), a, b, COUNTS_A, COUNTS_B,
                     with_lines=False)
    finally:
        a.stop()
        b.stop()


def test_nameless_frames_merge_by_module_and_offset(tmp_path):
    """A program stripped of every symbol and of its debug information
    (a position-independent one: each process has it at its own address)
    names no frame of its own: those merge by module (its build-id) and
    offset into it."""
    path = str(tmp_path / "known_stacks-nameless")
    subprocess.run(["strip", "--strip-all", "-o", path, exe("static")], check=True,
                   timeout=60)
    a = Running(path, COUNTS_A)
    b = Running(path, COUNTS_B)
    try:
        doc = run_json(GT_STACKS, a.pid, b.pid)
        one = run_json(GT_STACKS, b.pid)
        maps = []
        for r in (a, b):
            with open("/proc/%d/maps" % r.pid) as f:
                maps.append(next(l for l in f if l.rstrip().endswith(path)).split("-")[0])
    finally:
        a.stop()
        b.stop()
    assert maps[0] != maps[1]          # loaded at two addresses
    check_schema(doc)
    names = {f["function"] for g in doc["groups"] for f in g["frames"]}
    assert "?" in names and not names & {"alpha_leaf", "recurse", "hold_main"}
    na, nb = per_group(COUNTS_A), per_group(COUNTS_B)
    assert len(doc["groups"]) == len(NAMES)
    got = sorted([(p["pid"], p["count"]) for p in g["by_pid"]] for g in doc["groups"])
    want = sorted([(a.pid, na[n]), (b.pid, nb[n])] for n in NAMES)
    assert got == want
    # The merged groups are B's own, frame for frame (same depths).
    assert sorted(len(g["frames"]) for g in doc["groups"]) == \
        sorted(len(g["frames"]) for g in one["groups"])


GROUP_LINE = re.compile(r"^(\d+) threads? \((.*?)\)  parked .*  at (\S+) .*"
                        r"\(pid (\d+) thread (\d+) \"([^\"]*)\"")


def test_text(two):
    a, b = two
    rc, out, err = run(GT_STACKS, a.pid, b.pid)
    assert rc == 0 and err == "", err
    na, nb = per_group(COUNTS_A), per_group(COUNTS_B)
    total = sum(na.values()) + sum(nb.values())
    # Each process's own head, then the total.
    assert "process %d (known_stacks): %d green threads\n" % (a.pid, sum(na.values())) in out
    assert "process %d (known_stacks): %d green threads\n" % (b.pid, sum(nb.values())) in out
    assert "\n2 processes: %d green threads\n\n" % total in out
    seen = {}
    for line in out.splitlines():
        m = GROUP_LINE.match(line)
        if m:
            shares = [tuple(int(x) for x in re.match(r"pid (\d+): (\d+)$", s).groups())
                      for s in m.group(2).split(", ")]
            seen[m.group(6)] = (int(m.group(1)), shares, m.group(3), int(m.group(4)))
    assert set(seen) == set(NAMES)
    where = {"alpha": "alpha_leaf", "beta": "beta_wait", "recur": "recurse",
             "diver": "diver_wait", "": "hold_main"}
    for name in NAMES:
        assert seen[name] == (na[name] + nb[name], [(a.pid, na[name]), (b.pid, nb[name])],
                              where[name], a.pid), name
    # What holds each process's beta threads up, per process.
    assert re.search(r"^  pid %d: waits on cond 0x[0-9a-f]+ then mutex" % b.pid, out, re.M)
    # The alpha group's frames, once.
    assert out.count("alpha_leaf (known_stacks.c:%d)\n" % LINES["alpha"]) == 1


def test_folded_and_filters(two):
    a, b = two
    na, nb = per_group(COUNTS_A), per_group(COUNTS_B)
    rc, out, err = run(GT_STACKS, "--folded", a.pid, b.pid)
    assert rc == 0 and err == ""
    lines = out.splitlines()
    assert len(lines) == len(NAMES)
    alpha = [l for l in lines if ";alpha_leaf;" in l]
    assert len(alpha) == 1 and alpha[0].endswith(" %d" % (na["alpha"] + nb["alpha"]))
    assert sum(int(l.rsplit(" ", 1)[1]) for l in lines) == \
        sum(na.values()) + sum(nb.values())
    # Filters apply in every process.
    doc = run_json(GT_STACKS, "--name", "be*", a.pid, b.pid)
    assert doc["shown"] == na["beta"] + nb["beta"]
    assert [(g["representative"]["name"], g["count"]) for g in doc["groups"]] == \
        [("beta", na["beta"] + nb["beta"])]
    assert [t["shown"] for t in doc["targets"]] == [na["beta"], nb["beta"]]
    doc = run_json(GT_STACKS, "--limit", "2", a.pid, b.pid)
    assert len(doc["groups"]) == 2


def test_one_pid_is_the_one_target_document(two):
    """One PID: the document of one target, as before (no targets)."""
    a, _ = two
    doc = run_json(GT_STACKS, a.pid)
    check_schema(doc)
    assert doc["pid"] == a.pid and "targets" not in doc
    assert all("by_pid" not in g for g in doc["groups"])


def test_unreadable_processes_are_named_and_skipped(two):
    a, b = two
    # A process that is no gt program, and one that is gone.
    other = subprocess.Popen(["sleep", "600"])
    gone = subprocess.Popen(["true"])
    gone.wait()
    try:
        rc, out, err = run(GT_STACKS, "--json", a.pid, other.pid, gone.pid, b.pid)
        assert rc == 1
        lines = err.splitlines()
        assert len(lines) == 2, err
        assert lines[0].startswith("gt-stacks: process %d (sleep) is not a gt program"
                                   % other.pid), lines
        assert lines[1] == "gt-stacks: no process %d" % gone.pid, lines
        doc = json.loads(out)
        check_schema(doc)
        assert [t["pid"] for t in doc["targets"]] == [a.pid, b.pid]
        assert [(u["pid"], "gt-stacks: " + u["error"]) for u in doc["unreadable"]] == \
            [(other.pid, lines[0]), (gone.pid, lines[1])]
        na, nb = per_group(COUNTS_A), per_group(COUNTS_B)
        assert by_name(doc)["alpha"]["count"] == na["alpha"] + nb["alpha"]
        # Text: the same line on stderr, the others' groups on stdout.
        rc, out, err = run(GT_STACKS, a.pid, gone.pid)
        assert rc == 1 and err == "gt-stacks: no process %d\n" % gone.pid
        assert "1 process: %d green threads" % sum(na.values()) in out
        assert "%d threads (pid %d: %d)" % (na["alpha"], a.pid, na["alpha"]) in out
        # None readable: nothing on stdout.
        rc, out, err = run(GT_STACKS, other.pid, gone.pid)
        assert rc == 1 and out == "" and len(err.splitlines()) == 2
    finally:
        other.kill()
        other.wait()


def test_command_line(two):
    a, b = two
    for args, says in ((["-p", "%d,%d" % (a.pid, a.pid)], "process %d is given twice" % a.pid),
                       ([a.pid, "-p", a.pid], "given twice"),
                       (["-p", ","], "no process id in ','"),
                       (["-p", "%d,x" % a.pid], "'x' is not a process id"),
                       (["--all", a.pid, b.pid], "give one PID"),
                       (["--thread", "2", a.pid, b.pid], "give one PID"),
                       ([a.pid, b.pid, "--core", "c"], "not both")):
        rc, out, err = run(GT_STACKS, *args)
        assert rc == 2 and out == "", args
        assert says in err, (args, err)
