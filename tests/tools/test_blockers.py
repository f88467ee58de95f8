"""Who blocks whom, against what tests/tools/blockers.c knows (its `truth`
line): the holder of the mutex 50 threads wait on (id, name, state,
location, how long it has held it), the two deadlock cycles among 1,000
busy threads and nothing else, the bystander a cycle holds up, the joiner
and the sleeper it joins, a condition variable's mutex and the fill of
channels; live, from a gcore and from a kernel core, built as is and
stripped.  Every test runs the fixture with -n 1000 (the issue's "among
1,000 busy threads")."""
import json
import os
import re
import signal
import time

import jsonschema
import pytest

import installed_schemas

from conftest import (GT_STACKS, GT_WASTE, HERE, Running, exe, gcore, kernel_core,
                      marker_lines, run, run_json)

LINES = marker_lines(os.path.join(HERE, "blockers.c"))
SCHEMAS = os.path.join(HERE, "..", "..", "schema")
BUSY = 1000


class Blockers(Running):
    """blockers.c running, every part of it parked where it stays (it
    printed its truth line; its busy threads keep waking, so it is never
    idle).  Commands go to its stdin (send)."""

    def __init__(self, variant="static", args=(), cwd=None, env=None):
        super().__init__(exe(variant, "blockers"), ["-n", BUSY] + list(args), cwd, env,
                         marker="truth", idle=False)
        self.truth = json.loads(self.first)
        assert self.truth["pid"] == self.pid


def place(variant, function, line):
    """gto_pc_label of a call site in FUNCTION at LINE: with line
    information "f (blockers.c:N)"; stripped, the name from .dynsym and the
    module."""
    if variant == "stripped":
        return "%s (blockers-stripped)" % function
    return "%s (blockers.c:%d)" % (function, line)


def by_id(doc):
    return {t["id"]: t for t in doc["threads_list"]}


def check_holder(doc, truth, variant):
    """All 50 waiters are held up by the holder: its id, name, state,
    where it waits, and for how long it has held the mutex (between the
    clock readings just before and after it took it)."""
    th = by_id(doc)
    now = doc["now_ns"]
    holder = truth["holder"]
    assert th[holder]["name"] == "holder" and th[holder]["state"] == "parked"
    assert len(truth["waiters"]) == 50
    for w in truth["waiters"]:
        b = th[w]["blocked_by"]
        assert b["id"] == holder and b["kind"] == "mutex", (w, b)
        assert b["object"] == truth["mutex"] and b["edge"] is True and b["cycle"] is None
        assert now - truth["held_hi"] <= b["held_ns"] <= now - truth["held_lo"], \
            (b["held_ns"], now - truth["held_hi"], now - truth["held_lo"])
        prefix = 'mutex %#x held by thread %d "holder" (parked, sleep at %s) for ' % (
            truth["mutex"], holder, place(variant, "truth_holder", LINES["holder"]))
        assert th[w]["block"].startswith(prefix), th[w]["block"]
        assert re.fullmatch(r"(>= )?\d+(\.\d)?(ns|us|ms|s)", th[w]["block"][len(prefix):]), \
            th[w]["block"]
    # Only what waits on a mutex, a join or a cond is held up by a thread.
    assert th[holder]["blocked_by"] is None
    assert th[holder]["block"].startswith("sleep ")


def check_cycles(doc, truth):
    """Exactly the two cycles, in wait order from their lowest id, and
    nothing else in one; the bystander is held up by a member."""
    th = by_id(doc)
    c2, c3 = truth["cycle2"], truth["cycle3"]
    m2, m3 = truth["cycle2_mutexes"], truth["cycle3_mutexes"]
    # Member i holds its own mutex i and waits for mutex i + 1, held by
    # member i + 1.
    want = [[{"id": c[i], "name": th[c[i]]["name"], "location": th[c[i]]["location"],
              "waits_for": {"kind": "mutex", "object": m[(i + 1) % len(c)]},
              "held_by": c[(i + 1) % len(c)]} for i in range(len(c))]
            for c, m in ((c2, m2), (c3, m3))]
    assert [d["threads"] for d in doc["deadlocks"]] == want
    assert [th[i]["name"] for i in c2 + c3] == ["cyc2-a", "cyc2-b", "cyc3-a",
                                                "cyc3-b", "cyc3-c"]
    assert doc["threads_in_deadlock"] == 5
    for k, c in enumerate((c2, c3), 1):
        for i in c:
            assert th[i]["blocked_by"]["cycle"] == k
    in_cycle = {t["id"] for t in doc["threads_list"]
                if t["blocked_by"] and t["blocked_by"]["cycle"]}
    assert in_cycle == set(c2 + c3)
    by = th[truth["bystander"]]["blocked_by"]
    assert by == {"id": c2[0], "kind": "mutex", "object": m2[0], "edge": True,
                  "held_ns": by["held_ns"], "cycle": None}
    assert by["held_ns"] is not None


def check_joiner(doc, truth, variant):
    th = by_id(doc)
    j, s = truth["joiner"], truth["sleeper"]
    assert th[j]["block"] == "join thread %d (parked, sleep at %s)" % (
        s, place(variant, "sleeper_wait", LINES["sleeper"]))
    assert th[j]["blocked_by"] == {"id": s, "kind": "join", "object": s, "edge": True,
                                   "held_ns": None, "cycle": None}


def check_schema(doc, name):
    """DOC is valid under schema/NAME.schema.json, which describes every
    member of it."""
    with open(os.path.join(SCHEMAS, name + ".schema.json")) as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator(schema).validate(doc)
    assert installed_schemas.undescribed(schema, doc) == []


def check_locations(doc, truth):
    """Per location, who holds up the threads parked there: the holder all
    50 waiters at truth_wait_lock; at cycle_second each cycle member one
    (the next member of its cycle holds its mutex); cyc2-a the bystander."""
    th = by_id(doc)
    held = {l["index"]: l["held_up_by"] for l in doc["locations"]}
    assert held[th[truth["waiters"][0]]["location"]] == [{"id": truth["holder"], "waiters": 50}]
    members = sorted(truth["cycle2"] + truth["cycle3"])
    assert held[th[members[0]]["location"]] == [{"id": i, "waiters": 1} for i in members]
    assert held[th[truth["bystander"]]["location"]] == [{"id": truth["cycle2"][0],
                                                        "waiters": 1}]
    assert held[th[truth["joiner"]]["location"]] == [{"id": truth["sleeper"], "waiters": 1}]
    assert held[th[truth["holder"]]["location"]] == []


def check_all(doc, truth, variant="static"):
    assert doc["threads"] == 60 + BUSY + (7 if "chan_rx" in truth else 0)
    check_holder(doc, truth, variant)
    check_cycles(doc, truth)
    check_joiner(doc, truth, variant)
    check_locations(doc, truth)


def check_text(out, truth, variant="static"):
    """The deadlock section, and who holds up the waiters' group."""
    c2, c3 = truth["cycle2"], truth["cycle3"]
    m2, m3 = truth["cycle2_mutexes"], truth["cycle3_mutexes"]
    names = {c2[0]: "cyc2-a", c2[1]: "cyc2-b", c3[0]: "cyc3-a", c3[1]: "cyc3-b",
             c3[2]: "cyc3-c"}
    at = place(variant, "cycle_second", LINES["second"])
    want = []
    for c, m in ((c2, m2), (c3, m3)):
        want.append("deadlock: cycle of %d threads" % len(c))
        for i in range(len(c)):
            nxt = c[(i + 1) % len(c)]
            want.append('  thread %d "%s" at %s waits for mutex %#x held by thread %d "%s"'
                        % (c[i], names[c[i]], at, m[(i + 1) % len(c)], nxt, names[nxt]))
        want.append("")
    lines = out.splitlines()
    start = lines.index(want[0])
    assert lines[start:start + len(want)] == want
    assert sum(l.startswith("deadlock:") for l in lines) == 2
    held = [l for l in lines if l.startswith('  held up by thread %d "holder"' % truth["holder"])]
    assert len(held) == 1, held
    assert re.fullmatch(r'  held up by thread %d "holder" \(parked, sleep at %s\) for '
                        r'(>= )?\S+: 50 threads' % (truth["holder"], re.escape(
                            place(variant, "truth_holder", LINES["holder"]))), held[0]), held[0]


@pytest.mark.parametrize("variant", ["static", "stripped"])
def test_live(variant):
    b = Blockers(variant)
    try:
        doc = run_json(GT_STACKS, "--all", b.pid)
        rc, out, err = run(GT_STACKS, b.pid)
    finally:
        b.stop()
    assert rc == 0, err
    check_all(doc, b.truth, variant)
    check_text(out, b.truth, variant)
    check_schema(doc, "gt-stacks")
    # Nothing runs: the runtime's one kernel thread was read between
    # switches or while idle.
    assert doc["running"] is None or doc["running"]["name"] == "busy"
    assert doc["watchdog"]["events"] >= 0


def test_gcore(tmp_path):
    b = Blockers(env={"GT_GUARD": "mprotect"})
    try:
        core = gcore(b.pid, tmp_path)
    finally:
        b.stop()
    doc = run_json(GT_STACKS, "--all", "--core", core, "--exe", b.exe)
    check_all(doc, b.truth)
    rc, out, err = run(GT_STACKS, "--core", core, "--exe", b.exe)
    assert rc == 0, err
    check_text(out, b.truth)


@pytest.mark.parametrize("variant", ["static", "stripped"])
def test_kernel_core(tmp_path, variant):
    b = Blockers(variant, cwd=tmp_path)
    b.send("abort")
    assert b.p.wait(timeout=60) == -signal.SIGABRT
    b.stop()
    core = kernel_core(tmp_path)
    doc = run_json(GT_STACKS, "--all", "--core", core, "--exe", b.exe)
    check_all(doc, b.truth, variant)
    rc, out, err = run(GT_STACKS, "--core", core, "--exe", b.exe)
    assert rc == 0, err
    check_text(out, b.truth, variant)
    # The main thread aborted: it is the running one, switched in by the
    # read of its command (run_start: exact, far below the threshold).
    r = doc["running"]
    assert (r["id"], r["name"], r["run_exact"], r["hog"]) == (1, "", True, False), r
    assert 0 <= r["run_ns"] < r["threshold_ns"]
    # The fatal-signal handler sampled it (its frames come from the core's
    # own registers of it, through the handler's): abort's.
    sampled = r" \(stack sampled \d+(\.\d)?(ns|us|ms) ago\)"
    assert r["sampled"] is True
    assert re.search(r'\n  running: thread 1 "" has run \S+ without yielding%s\n' % sampled,
                     out), out[:400]
    main = by_id(doc)[1]
    names = [f["function"] for f in main["frames"]]
    assert "abort" in names and names[names.index("main_thread") - 1] == "abort", names
    check_schema(doc, "gt-stacks")
    # gt-waste says the same of the running thread, in its JSON and in one
    # line under its count.
    waste = run_json(GT_WASTE, "--core", core, "--exe", b.exe)
    check_schema(waste, "gt-waste")
    assert waste["running"] == r and waste["watchdog"] == doc["watchdog"]
    rc, out, err = run(GT_WASTE, "--core", core, "--exe", b.exe)
    assert rc == 0, err
    lines = out.splitlines()
    assert re.fullmatch(r'  running: thread 1 "" has run \d+(\.\d)?(ns|us|ms) without '
                        r'yielding' + sampled, lines[1]), lines[:3]
    assert lines[2] == "" and lines[3] == "Totals"


def test_cond_and_channels():
    """A cond waiter names the mutex it will retake and its holder (no
    edge: anyone may signal); channel waiters their fill, capacity and the
    waiters on the other side."""
    b = Blockers(args=["-x"])
    try:
        doc = run_json(GT_STACKS, "--all", b.pid)
        rc, out, err = run(GT_STACKS, b.pid)
    finally:
        b.stop()
    t = b.truth
    check_all(doc, t)
    th = by_id(doc)
    cw = th[t["condwait"]]
    assert cw["block"].startswith(
        'cond %#x then mutex %#x held by thread %d "condheld" (parked, sleep at %s) for '
        % (t["cond"], t["cond_mutex"], t["condheld"], place("static", "cond_hold",
                                                            LINES["condheld"]))), cw["block"]
    assert cw["blocked_by"]["id"] == t["condheld"] and cw["blocked_by"]["kind"] == "cond"
    assert cw["blocked_by"]["edge"] is False and cw["blocked_by"]["object"] == t["cond"]
    for i in t["chan_rx"]:
        assert th[i]["block"] == "chan_recv %#x (0/4 queued, 0 senders waiting)" % t["chan_empty"]
        assert th[i]["blocked_by"] is None
    for i in t["chan_tx"]:
        assert th[i]["block"] == "chan_send %#x (1/1 queued, 0 receivers waiting)" % t["chan_full"]
    assert doc["threads_in_deadlock"] == 5
    # The text: each group waiting on one channel or cond says on what.
    assert rc == 0, err
    assert "(thread %d \"chan-tx\" and others)\n  waits on chan_send %#x (1/1 queued, " \
        "0 receivers waiting)\n" % (t["chan_tx"][0], t["chan_full"]) in out
    assert "(thread %d \"chan-rx\" and others)\n  waits on chan_recv %#x (0/4 queued, " \
        "0 senders waiting)\n" % (t["chan_rx"][0], t["chan_empty"]) in out
    # (two runs: the hold's age differs)
    assert "(thread %d \"condwait\")\n  waits on %s for " % (
        t["condwait"], cw["block"].rsplit(" for ", 1)[0]) in out


# ---- the running thread ----------------------------------------------------

SPIN_S = 10  # killed long before it ends: room for a loaded machine


def check_spinner(doc, spinning, lo, hi):
    """The spinner is the running thread, a hog, its run time within 10%
    of the truth (it began running just before it read the clock it
    printed, START_NS; the snapshot was taken between LO and HI), and its
    stack, unwound from the register sample, shows spin_here."""
    r = doc["running"]
    assert (r["id"], r["name"], r["hog"], r["run_exact"], r["sampled"]) == \
        (spinning["id"], "spinner", True, True, True), r
    assert r["threshold_ns"] == doc["watchdog"]["threshold_ns"] == 100000000
    assert doc["watchdog"]["events"] >= 1
    start = spinning["start_ns"]
    assert 0.9 * (lo - start) <= r["run_ns"] <= 1.1 * (hi - start), \
        (r["run_ns"], lo - start, hi - start)
    assert 0 <= r["sample_age_ns"] <= r["run_ns"]
    th = by_id(doc)[spinning["id"]]
    assert th["state"] == "running"
    names = [f["function"] for f in th["frames"]]
    assert names[:1] in (["spin_here"], ["gt_now_ns"], ["clock_gettime"],
                         ["__clock_gettime"], ["__vdso_clock_gettime"]) or \
        "spin_here" in names, names
    assert "spin_here" in names and names.index("spinner_main") == names.index("spin_here") + 1
    return th


def test_spinner_live():
    b = Blockers()
    try:
        b.send("spin %d" % SPIN_S)
        spinning = b.line("spinning")
        time.sleep(1.5)
        lo = time.monotonic_ns()
        doc = run_json(GT_STACKS, "--all", b.pid)
        hi = time.monotonic_ns()
        rc, out, err = run(GT_STACKS, b.pid)
        # libunwind from the sample too (a pc in the vDSO or in code
        # without frame pointers takes that way).
        lo2 = time.monotonic_ns()
        slow = run_json(GT_STACKS, "--all", "--no-fastpath", b.pid)
        hi2 = time.monotonic_ns()
    finally:
        b.stop()
    check_spinner(doc, spinning, lo, hi)
    check_spinner(slow, spinning, lo2, hi2)
    check_schema(doc, "gt-stacks")
    assert re.search(r'\n  hog: thread %d "spinner" has run \d+\.\ds without yielding '
                     r'\(stack sampled \d+(\.\d)?(ns|us|ms) ago\)\n' % spinning["id"], out), \
        out[:600]


def test_spinner_in_a_kernel_core(tmp_path):
    """SIGABRT from outside in the middle of the spin: the spinner is the
    running thread, sampled by the fatal-signal handler, its stack (from
    the core's registers, through the handler's frames) in spin_here."""
    b = Blockers(cwd=tmp_path)
    b.send("spin %d" % SPIN_S)
    spinning = b.line("spinning")
    time.sleep(1.5)
    lo = time.monotonic_ns()
    os.kill(b.pid, signal.SIGABRT)
    assert b.p.wait(timeout=60) == -signal.SIGABRT
    hi = time.monotonic_ns()
    b.stop()
    core = kernel_core(tmp_path)
    doc = run_json(GT_STACKS, "--all", "--core", core, "--exe", b.exe)
    check_spinner(doc, spinning, lo, hi)
    check_all(dict(doc, threads=doc["threads"] - 1), b.truth)
    rc, out, err = run(GT_STACKS, "--core", core, "--exe", b.exe)
    assert rc == 0, err
    assert '\n  hog: thread %d "spinner" has run ' % spinning["id"] in out


# ---- hostile objects -------------------------------------------------------

def test_forged_waits(tmp_path):
    """Objects that lie (tests/tools/forged_waits.c): an owner inside a
    record but at no record's start, a mutex's magic written over, a wait
    object pointing nowhere, a mutex owned by its own waiter, a channel's
    magic written over.  Each is said as found, live and in a core; no
    thread is invented."""
    f = Running(exe(name="forged_waits"), [], env={"GT_GUARD": "mprotect"})
    facts = {k: int(v) for k, v in (kv.split("=") for kv in f.ready[2:])}
    try:
        live = run_json(GT_STACKS, "--all", f.pid)
        texts = [run(GT_STACKS, f.pid), run(GT_WASTE, f.pid)]
        core = gcore(f.pid, tmp_path)
    finally:
        f.stop()
    texts += [run(GT_STACKS, "--core", core, "--exe", f.exe),
              run(GT_WASTE, "--core", core, "--exe", f.exe)]
    for i, (rc, out, err) in enumerate(texts):
        assert rc == 0, err
        if i % 2 == 0:
            assert "\ndeadlock: cycle of 1 thread\n  thread %d \"waiter-4\" " % (
                facts["waiter4"]) in out
    for doc in (live, run_json(GT_STACKS, "--all", "--core", core, "--exe", f.exe)):
        check_schema(doc, "gt-stacks")
        th = by_id(doc)
        unknown = {"id": None, "kind": "mutex", "edge": False, "held_ns": None, "cycle": None}
        w1, w2, w3, w4 = (th[facts["waiter%d" % i]] for i in range(1, 5))
        assert w1["block"] == "mutex %#x held by an unknown thread (record %#x)" % (
            facts["m1"], facts["owner1"] + 8)
        assert w1["blocked_by"] == dict(unknown, object=facts["m1"])
        assert w2["block"] == "mutex %#x (not a mutex)" % facts["m2"]
        assert w2["blocked_by"] == dict(unknown, object=facts["m2"])
        assert w3["block"] == "mutex 0x10 (unreadable)"
        assert w3["blocked_by"] == dict(unknown, object=0x10)
        assert th[facts["chanrx"]]["block"] == "chan_recv %#x (not a channel)" % facts["chan"]
        # A mutex its own waiter holds: a cycle of one, and the only one.
        assert w4["blocked_by"]["id"] == w4["id"] and w4["blocked_by"]["cycle"] == 1
        assert doc["deadlocks"] == [{"threads": [{
            "id": w4["id"], "name": "waiter-4", "location": w4["location"],
            "waits_for": {"kind": "mutex", "object": facts["m4"]}, "held_by": w4["id"]}]}]
        assert doc["threads_in_deadlock"] == 1
        assert sorted(th) == list(range(1, 11))


def test_spinner_in_the_vdso():
    """A spinner that only reads the clock: most samples catch it in the
    vDSO's clock_gettime, code no module describes.  Every snapshot still
    unwinds it to its entry, through clock_spin_here, with both
    unwinders."""
    b = Blockers()
    try:
        b.send("clockspin 60")  # killed long before it ends
        spinning = b.line("spinning")
        time.sleep(1)
        # Twelve samples: libunwind alone loses the callers of the vDSO in
        # about one in six.
        docs = [run_json(GT_STACKS, "--all", "--state", "running", *flags, b.pid)
                for flags in ([], ["--no-fastpath"]) * 6]
    finally:
        b.stop()
    for doc in docs:
        r = doc["running"]
        assert (r["id"], r["sampled"]) == (spinning["id"], True), r
        (th,) = doc["threads_list"]
        names = [f["function"] for f in th["frames"]]
        assert th["unwind"] == "ok", (th["unwind"], names)
        assert names[-2:] == ["gt__thread_start", "gt__ctx_trampoline"], names
        assert names.index("clockspinner_main") == names.index("clock_spin_here") + 1, names
