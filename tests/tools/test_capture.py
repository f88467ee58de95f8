"""The readers on a core that carries gt-core's capture note (gt/registry.h,
NOTES): its time is the core's now, exactly (not the file's mtime); a
damaged note is ignored, as if absent; a compact capture leaves the stack
measures below the live part unknown; every reader (gt-stacks, gt-waste,
gt-top, GDB) says the same thing with the same bytes.

The cores are the kernel's, of waits.c (tests/tools/waits.c: its ready line
gives the clock when its threads had parked), dumped by SIGQUIT (which the
runtime leaves alone: no fatal-signal clock, so the note's rule is the one
that applies), with the note added by capture_note.py.
"""
import json
import os
import re
import signal
import subprocess
import time

import jsonschema
import pytest

import installed_schemas

from capture_note import COMPACT, NO_STOP, add_note, capture_desc, note, to_pn_xnum
from conftest import (BIN, GT_STACKS, GT_WASTE, HERE, Running, exe, kernel_core, run,
                      run_json)

GT_TOP = os.path.join(BIN, "gt-top")
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
LOADER = os.path.join(ROOT, "gdb", "gt-gdb.py")
SCHEMAS = os.path.join(ROOT, "schema")
SECOND = 1000000000
# 2026-12-07 12:00:01 UTC
REALTIME = 1796644801 * SECOND + 123456789
STOPPED = 96000000


def check_schema(doc, name):
    """DOC is valid under schema/NAME.schema.json, which describes every
    member of it."""
    with open(os.path.join(SCHEMAS, name + ".schema.json")) as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator(schema).validate(doc)
    assert installed_schemas.undescribed(schema, doc) == []


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """A kernel core of waits.c with every thread parked, and its ready
    line's clock."""
    d = tmp_path_factory.mktemp("quit")
    w = Running(exe(name="waits"), [], cwd=str(d))
    clock = int(dict(kv.split("=") for kv in w.ready[2:])["clock"])
    # A file's time comes from the kernel's coarse clock, a tick behind:
    # dumped within a tick of the runtime's last clock reading, the core's
    # mtime would come out before it, and the mtime rule (the tests'
    # baseline) would not apply.  Every thread has parked (Running waits
    # for that): nothing reads the clock meanwhile.
    time.sleep(0.5)
    os.kill(w.pid, signal.SIGQUIT)
    assert w.p.wait(timeout=60) == -signal.SIGQUIT
    w.stop()
    return kernel_core(d), w.exe, clock


@pytest.fixture
def core(pristine, tmp_path):
    """A fresh copy of the pristine core (holes kept, mtime kept)."""
    src, program, clock = pristine
    dst = str(tmp_path / "core")
    subprocess.run(["cp", "--sparse=always", "--preserve=timestamps", src, dst], check=True)
    return dst, program, clock


def stacks_json(path, program, *extra):
    return run_json(GT_STACKS, "--all", "--core", path, "--exe", program, *extra)


def with_note(path, blob, mtime_ns=None):
    add_note(path, blob, mtime_ns)
    return path


def test_ages_are_the_capture_times(core):
    """Every age from a core with the note is measured to the note's
    monotonic time, exactly: not to the mtime's, which is moved far off."""
    path, program, clock = core
    before = stacks_json(path, program)
    assert before["capture"] is None and before["now_exact"] is True
    mono = clock + 7 * SECOND
    assert mono != before["now_ns"]
    mtime = os.stat(path).st_mtime_ns
    with_note(path, note(capture_desc(mono, REALTIME, STOPPED)), mtime + 100 * SECOND)
    after = stacks_json(path, program)
    check_schema(after, "gt-stacks")
    assert after["now_ns"] == mono and after["now_exact"] is True
    assert after["capture"] == {"realtime_ns": REALTIME, "monotonic_ns": mono,
                                "stopped_ns": STOPPED, "compact": False, "stopped": True}
    shift = mono - before["now_ns"]
    assert after["uptime_ns"] == before["uptime_ns"] + shift
    old = {t["id"]: t["wait_ns"] for t in before["threads_list"]}
    assert len(old) == 8 and all(v is not None for v in old.values())
    for t in after["threads_list"]:
        assert t["wait_ns"] == old[t["id"]] + shift, t
    # The threads parked just before the ready line, the main one just
    # after it: 7 s, give or take the time it took to print.
    assert all(6 * SECOND < t["wait_ns"] < 8 * SECOND for t in after["threads_list"])

    rc, out, err = run(GT_STACKS, "--core", path, "--exe", program)
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[2] == ("  core written by gt-core at 2026-12-07 12:00:01 UTC "
                        "(full; target stopped 0.096 s)"), lines[:4]
    assert "parked 7.0s" in out and ">= " not in out


def test_every_reader_says_the_capture_alike(core):
    """gt-stacks, gt-waste and gt-top: the same "capture" member, the same
    uptime, the same header line."""
    path, program, clock = core
    with_note(path, note(capture_desc(clock + 3 * SECOND, REALTIME, 0)))
    st = stacks_json(path, program)
    waste = run_json(GT_WASTE, "--core", path, "--exe", program)
    check_schema(waste, "gt-waste")
    rc, out, err = run(GT_TOP, "-b", "--format", "json", "--core", path, "--exe", program)
    assert rc == 0, err
    top = json.loads(out.splitlines()[0])
    check_schema(top, "gt-top")
    want = {"realtime_ns": REALTIME, "monotonic_ns": clock + 3 * SECOND, "stopped_ns": 0,
            "compact": False, "stopped": True}
    for doc in (st, waste, top):
        assert doc["capture"] == want
        assert doc["uptime_ns"] == st["uptime_ns"] and doc["now_exact"] is True
    # stopped_ns 0 and stopped: GDB's green-gcore, the target held by GDB.
    line = "core written by gt-core at 2026-12-07 12:00:01 UTC (full; stopped by its tracer)"
    rc, out, err = run(GT_WASTE, "--core", path, "--exe", program)
    assert rc == 0 and "  " + line + "\n" in out, out
    rc, out, err = run(GT_TOP, "-b", "--core", path, "--exe", program)
    assert rc == 0 and "\n" + line + "\n" in out, out
    # A live process has none.
    w = Running(exe(name="waits"), [])
    try:
        assert run_json(GT_STACKS, w.pid)["capture"] is None
        rc, out, err = run(GT_STACKS, w.pid)
        assert rc == 0 and "gt-core" not in out
    finally:
        w.stop()


def flipped(desc):
    """The descriptor as a big-endian writer would have laid it out."""
    return b"".join(desc[i:i + n][::-1] for i, n in
                    ((0, 4), (4, 4), (8, 8), (16, 8), (24, 8), (32, 8)))


@pytest.mark.parametrize("damage", ["short", "version0", "version2", "flipped",
                                    "other_name", "core_name", "cut_off"])
def test_a_damaged_note_is_ignored(core, damage):
    """A note too short for the fields read, of another version, written
    big-endian, under another name (the kernel's "CORE" notes use type 2
    for NT_FPREGSET), or cut off by its segment: ignored, the mtime rule
    gives the now as it did before, and no capture is claimed."""
    path, program, clock = core
    before = stacks_json(path, program)
    mono = clock + 7 * SECOND
    desc = capture_desc(mono, REALTIME, STOPPED)
    blob = {"short": note(desc[:24]),
            "version0": note(capture_desc(mono, REALTIME, version=0)),
            "version2": note(capture_desc(mono, REALTIME, version=2)),
            "flipped": note(flipped(desc)),
            "other_name": note(desc, name=b"gu\0"),
            "core_name": note(desc, name=b"CORE\0"),
            "cut_off": note(desc)[:-8]}[damage]
    with_note(path, blob)
    after = stacks_json(path, program)
    assert after["capture"] is None
    assert (after["now_ns"], after["now_exact"]) == (before["now_ns"], before["now_exact"])
    rc, out, err = run(GT_STACKS, "--core", path, "--exe", program)
    assert rc == 0 and "gt-core" not in out, (out, err)


def test_a_note_before_the_runtime_last_read_its_clock(core):
    """A stopped capture whose time comes before the runtime's last clock
    reading cannot be true: the mtime rule."""
    path, program, clock = core
    before = stacks_json(path, program)
    base = before["now_ns"] - before["uptime_ns"]
    with_note(path, note(capture_desc(base + 1, REALTIME, STOPPED)))
    d = stacks_json(path, program)
    assert (d["now_ns"], d["now_exact"]) == (before["now_ns"], before["now_exact"])
    assert d["capture"]["monotonic_ns"] == base + 1


def test_no_stop_capture_takes_the_runtime_reading(core):
    """Without a stop (NO_STOP) the runtime may have read its clock after
    the copy began: its reading is the now, exact, whatever the mtime."""
    path, program, clock = core
    before = stacks_json(path, program)
    base = before["now_ns"] - before["uptime_ns"]
    with_note(path, note(capture_desc(base + 1, REALTIME, 0, flags=NO_STOP)),
              os.stat(path).st_mtime_ns + 100 * SECOND)
    d = stacks_json(path, program)
    # clock_now: the runtime's last reading, as its main thread parked
    # just after the ready line; before the mtime's time, which is later.
    assert d["now_exact"] is True
    assert base < d["now_ns"] < clock + SECOND and d["now_ns"] < before["now_ns"]
    assert d["capture"]["stopped"] is False
    rc, out, err = run(GT_STACKS, "--core", path, "--exe", program)
    assert ("  core written by gt-core at 2026-12-07 12:00:01 UTC "
            "(full; not stopped: best effort)\n") in out


def test_compact_core_stack_measures_are_unknown(core, tmp_path):
    """A compact capture: gt-waste refuses it in one line; gt-top shows
    '-' and null for resident, touched and dead; gt-stacks gives the same
    groups as from the full capture of the same core."""
    path, program, clock = core
    full = str(tmp_path / "full")
    subprocess.run(["cp", "--sparse=always", "--preserve=timestamps", path, full], check=True)
    mono = clock + 2 * SECOND
    with_note(full, note(capture_desc(mono, REALTIME, STOPPED)))
    with_note(path, note(capture_desc(mono, REALTIME, STOPPED, flags=COMPACT)))

    for extra in ([], ["--json"]):
        rc, out, err = run(GT_WASTE, *extra, "--core", path, "--exe", program)
        assert rc == 1 and out == ""
        assert err == ("gt-waste: %s is a compact core (gt-core --compact): stack waste "
                       "needs a full core: capture without --compact\n" % path), err
    rc, out, err = run(GT_WASTE, "--core", full, "--exe", program)
    assert rc == 0, err

    # gt-top, text: the header's resident and dead unknown; known in full.
    rc, out, err = run(GT_TOP, "-b", "--core", path, "--exe", program)
    assert rc == 0, err
    assert re.search(r"^Stacks: reserved \S+ \S+, live \S+ \S+, resident -, dead -$", out, re.M), out
    assert "(compact; target stopped 0.096 s)" in out
    rc, out, err = run(GT_TOP, "-b", "--core", full, "--exe", program)
    assert rc == 0 and "resident -" not in out and "(full; target stopped" in out, out

    # gt-top, JSON: null where unknown, numbers in the full core.
    def top(p, view):
        rc, out, err = run(GT_TOP, "-b", "--format", "json", "--view", view, "--core", p,
                           "--exe", program)
        assert rc == 0, err
        doc = json.loads(out.splitlines()[0])
        check_schema(doc, "gt-top")
        return doc
    compact_threads, full_threads = top(path, "threads"), top(full, "threads")
    assert compact_threads["capture"]["compact"] is True
    assert full_threads["capture"]["compact"] is False
    s = compact_threads["stacks"]
    assert (s["resident"], s["dead"], s["measured"]) == (None, None, False)
    assert full_threads["stacks"]["measured"] is True
    assert full_threads["stacks"]["resident"] > 0
    for t, f in zip(compact_threads["threads_list"], full_threads["threads_list"]):
        st = t["stack"]
        assert (st["touched"], st["dead"], st["unused"], st["resident"]) == (None,) * 4, t
        assert st["live"] == f["stack"]["live"] and st["live"] > 0
        assert f["stack"]["touched"] >= f["stack"]["live"]
    # The Stacks view: live percentiles as from the full core (they need
    # only the live part), touched ones, advice and dead resident unknown.
    compact_classes = top(path, "stacks")["stacks_report"]["classes"]
    full_classes = top(full, "stacks")["stacks_report"]["classes"]
    assert [(k["class"], k["threads"], k["sampled"], k["live"]) for k in compact_classes] == \
        [(k["class"], k["threads"], k["sampled"], k["live"]) for k in full_classes]
    assert all(k["live"]["max"] is not None for k in compact_classes)
    for k in compact_classes:
        assert k["dead_resident"] is None and k["suggested_stack_size"] is None
        assert k["touched"] == {"p50": None, "p99": None, "max": None}
    assert all(k["dead_resident"] is not None and k["touched"]["max"] is not None
               for k in full_classes)

    # gt-stacks works unchanged: the same groups, the same text but for
    # the capture's own word.
    a = run_json(GT_STACKS, "--core", path, "--exe", program)
    b = run_json(GT_STACKS, "--core", full, "--exe", program)
    assert a["groups"] == b["groups"] and a["locations"] == b["locations"]
    rc, ta, err = run(GT_STACKS, "--core", path, "--exe", program)
    rc2, tb, err2 = run(GT_STACKS, "--core", full, "--exe", program)
    assert rc == rc2 == 0
    assert ta.replace("(compact;", "(full;").replace(path, full) == tb


def gdb_json(path, program, command):
    p = subprocess.run(["gdb", "-batch", "-nx", "-ex", "source " + LOADER,
                        "-ex", command, program, path],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=240)
    docs = [l for l in p.stdout.splitlines() if l.startswith("{")]
    assert docs, p.stdout
    return json.loads(docs[-1]), p.stdout


@pytest.mark.parametrize("which", ["note", "bad_version"])
def test_gdb_now_agrees_with_gt_stacks(core, which):
    """GDB reads the same note by the same rule: its uptime and every wait
    age equal gt-stacks' to the nanosecond, and its text says the capture
    in the same words; a note it must ignore, both ignore."""
    path, program, clock = core
    mono = clock + 5 * SECOND
    with_note(path, note(capture_desc(mono, REALTIME, STOPPED, flags=COMPACT,
                                      version=1 if which == "note" else 9)),
              os.stat(path).st_mtime_ns + 50 * SECOND)
    st = stacks_json(path, program)
    g, text = gdb_json(path, program, "info green-threads --json --limit 0")
    check_schema(g, "gdb")
    assert g["capture"] == st["capture"]
    assert (g["uptime_ns"], g["now_exact"]) == (st["uptime_ns"], st["now_exact"])
    ages = {t["id"]: t["wait_ns"] for t in st["threads_list"]}
    assert {t["id"]: t["wait_ns"] for t in g["threads_list"]} == ages
    if which == "note":
        assert st["now_ns"] == mono
        p = subprocess.run(["gdb", "-batch", "-nx", "-ex", "source " + LOADER,
                            "-ex", "info green-threads", program, path],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=240)
        rc, out, err = run(GT_STACKS, "--core", path, "--exe", program)
        line = out.splitlines()[2].strip()
        assert line.startswith("core written by gt-core at 2026-12-07 12:00:01 UTC (compact;")
        assert "\n" + line + "\n" in p.stdout, p.stdout
    else:
        assert st["capture"] is None and st["now_ns"] != mono


def test_gdb_stack_use_unknown_in_a_compact_core(core, tmp_path):
    """GDB's `info green-stack` in a compact core: dead and unused are
    unknown ("?", and a line says why), not the few bytes below the live
    part the core kept; in the full capture of the same core, numbers."""
    path, program, clock = core
    full = str(tmp_path / "full")
    subprocess.run(["cp", "--sparse=always", "--preserve=timestamps", path, full], check=True)
    with_note(full, note(capture_desc(clock + SECOND, REALTIME, STOPPED)))
    with_note(path, note(capture_desc(clock + SECOND, REALTIME, STOPPED, flags=COMPACT)))
    rows = r"^\s+(\d+)\s+.*?\s(\S+ K?i?B|\?)\s+(\S+ K?i?B|\?)\s+\S+ KiB\s+\S+ KiB$"
    why = ("(a compact core (gt-core --compact) holds each stack's live part only: "
           "dead and unused are unknown)")
    for p, compact in ((path, True), (full, False)):
        out = subprocess.run(["gdb", "-batch", "-nx", "-ex", "source " + LOADER,
                              "-ex", "info green-stack", "-ex", "info green-stack 2",
                              program, p], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, timeout=240).stdout
        found = re.findall(rows, out, re.M)
        assert len(found) == 9, out          # 8 threads, then thread 2 alone
        if compact:
            assert all(dead == unused == "?" for _, dead, unused in found), out
            assert out.count(why) == 2, out
        else:
            assert all("?" not in (dead, unused) for _, dead, unused in found), out
            assert why not in out
        # --json says the same: measured false, and touched, dead and
        # unused null (not the few bytes below the live part), in both
        # forms; numbers in the full capture.
        out = subprocess.run(["gdb", "-batch", "-nx", "-ex", "source " + LOADER,
                              "-ex", "info green-stack --json", "-ex", "info green-stack 2 --json",
                              program, p], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, timeout=240).stdout
        docs = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
        assert len(docs) == 2, out
        assert [r["id"] for r in docs[1]["stacks"]] == [2]
        for d in docs:
            check_schema(d, "gdb")
            assert d["measured"] is (not compact) and d["threads"] == 8
            assert d["capture"]["compact"] is compact
            for r in d["stacks"]:
                st = r["stack"]
                assert st["live"] > 0 and st["resident"] is None, r
                if compact:
                    assert (st["touched"], st["dead"], st["unused"]) == (None,) * 3, r
                else:
                    assert st["touched"] >= st["live"] and \
                        st["unused"] == st["reserved"] - st["touched"], r


@pytest.mark.parametrize("realtime,stopped,when,how", [
    (2 ** 64 - 1, 2 ** 64 - 1, "an unknown time", "target stopped 18446744073.710 s"),
    (0, 1, "an unknown time", "target stopped 0.000 s"),
    # The last second a reader spells out (2^33 - 4 s: past it, a year no
    # wall clock has reached), and the next.
    (8589934588 * SECOND, 1500000000, "2242-03-16 12:56:28 UTC", "target stopped 1.500 s"),
    (8589934589 * SECOND, 1500000000, "an unknown time", "target stopped 1.500 s"),
])
def test_capture_line_of_any_note_is_the_same_everywhere(core, realtime, stopped, when, how):
    """Whatever times a note holds (a wall clock of 0 or centuries ahead,
    a stop of 584 years), gt-stacks and GDB write the same line."""
    path, program, clock = core
    with_note(path, note(capture_desc(clock + SECOND, realtime, stopped)))
    line = "core written by gt-core at %s (full; %s)" % (when, how)
    rc, out, err = run(GT_STACKS, "--core", path, "--exe", program)
    assert rc == 0 and out.splitlines()[2] == "  " + line, out
    p = subprocess.run(["gdb", "-batch", "-nx", "-ex", "source " + LOADER,
                        "-ex", "info green-threads --limit 1", program, path],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=240)
    assert "\n" + line + "\n" in p.stdout, p.stdout


def test_note_of_a_core_past_65534_segments(core):
    """A core whose segments outnumber e_phnum (PN_XNUM: a full core of
    100K threads can be one): gt-stacks and GDB still find the note."""
    path, program, clock = core
    mono = clock + 4 * SECOND
    with_note(path, note(capture_desc(mono, REALTIME, STOPPED)))
    to_pn_xnum(path)
    st = stacks_json(path, program)
    assert st["capture"]["monotonic_ns"] == mono and st["now_ns"] == mono
    g, _ = gdb_json(path, program, "info green-threads --json --limit 0")
    assert g["capture"] == st["capture"] and g["uptime_ns"] == st["uptime_ns"]
