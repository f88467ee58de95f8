"""gt-stacks against known_stacks.c: groups, counts, frames (function and
line), frame sizes, on a live process, a gcore core and a kernel core,
with libgt static and shared, stripped and not."""
import os
import signal
import subprocess
import time

import pytest

from conftest import (ALPHA_BUF, BETA_BUF, GT_STACKS, LINES, RECUR_BUF, SLOP,
                      TRAMPOLINE_CALL_LINE,
                      Fixture, exe, gcore, kernel_core, run, run_json, where)

APP = {"alpha_leaf", "alpha_mid", "alpha_main", "beta_wait", "beta_main",
       "recurse", "recur_main", "diver_wait", "diver_main", "hold_main",
       "main_thread", "crash_here"}
DEPTH = 5


def expected(counts):
    """Per group name: (threads, [(function, line)] of the app's frames)."""
    d = counts["depth"]
    return {
        "alpha": (counts["alpha"], [("alpha_leaf", LINES["alpha"]),
                                    ("alpha_mid", LINES["alpha_mid"]),
                                    ("alpha_main", LINES["alpha_main"])]),
        "beta": (counts["beta"], [("beta_wait", LINES["beta"]),
                                  ("beta_main", LINES["beta_main"])]),
        "recur": (counts["recur"], [("recurse", LINES["recur"])] +
                  [("recurse", LINES["recur_call"])] * d +
                  [("recur_main", LINES["recur_main"])]),
        "diver": (counts["diver"], [("diver_wait", LINES["diver"]),
                                    ("diver_main", LINES["diver_main"])]),
        "": (1, [("hold_main", LINES["hold"]),
                 ("main_thread", LINES["main_thread"])]),
    }


def app_frames(frames, with_lines):
    return [(f["function"], f["line"] if with_lines else None)
            for f in frames if f["function"] in APP and not f["inlined"]]


def check_groups(doc, counts, with_lines=True, crashed=False):
    groups = {g["representative"]["name"]: g for g in doc["groups"]}
    want = expected(counts)
    if crashed:
        del want[""]
    for name, (n, frames) in want.items():
        g = groups[name]
        assert g["count"] == n, name
        assert g["states"] == {"parked": n}
        assert len(g["thread_ids"]) == n
        if not with_lines:
            frames = [(f, None) for f, _ in frames]
        assert app_frames(g["frames"], with_lines) == frames, name
        # Every stack ends at the runtime's entry, cleanly.
        assert g["frames"][-1]["function"] in ("gt__ctx_trampoline", "?")
        if with_lines:
            assert g["frames"][-1]["function"] == "gt__ctx_trampoline"
            assert g["frames"][-2]["function"] == "gt__thread_start"
            assert where(doc, g["location"]) == frames[0], name
    total = sum(n for n, _ in want.values()) + (1 if crashed else 0)
    assert doc["threads"] == total
    assert sum(g["count"] for g in doc["groups"]) == total
    # Biggest group first.
    assert [g["count"] for g in doc["groups"]] == sorted(
        (g["count"] for g in doc["groups"]), reverse=True)
    # Frame sizes: a frame holds its buffer plus a little.
    sizes = {}
    for g in doc["groups"]:
        for f in g["frames"]:
            if not f["inlined"]:
                sizes.setdefault(f["function"], []).append(f["size"])
    for fn, buf in (("alpha_leaf", ALPHA_BUF), ("beta_wait", BETA_BUF),
                    ("recurse", RECUR_BUF)):
        assert sizes[fn], fn
        assert all(buf <= s <= buf + SLOP for s in sizes[fn]), (fn, sizes[fn])
    assert len(sizes["recurse"]) == counts["depth"] + 1
    return groups


def same_frames(a, b):
    key = lambda d: sorted((g["representative"]["id"], g["count"],
                            [(x["pc"], x["size"]) for x in g["frames"]])
                           for g in d["groups"])
    return key(a) == key(b)


COUNTS = {"alpha": 3, "beta": 2, "recur": 2, "depth": DEPTH, "diver": 2}
ARGS = (3, 2, 2, DEPTH, 2)


@pytest.mark.parametrize("variant", ["static", "shared", "stripped"])
def test_live(variant):
    f = Fixture(ARGS, variant)
    try:
        doc = run_json(GT_STACKS, f.pid)
        check_groups(doc, COUNTS, with_lines=variant != "stripped")
        assert doc["pid"] == f.pid
        # The frame-pointer path and libunwind find the same frames.
        slow = run_json(GT_STACKS, "--no-fastpath", f.pid)
        assert same_frames(doc, slow)
        # The target kept running: it still answers.
        assert f.p.poll() is None
    finally:
        f.stop()


@pytest.mark.parametrize("variant", ["static", "shared", "stripped"])
def test_gcore(variant, tmp_path):
    # mprotect guards: GDB's gcore reads memory in large blocks and writes
    # zeros for a whole block that holds an MADV_GUARD_INSTALL page, so with
    # the default guards the stacks in its core are zeros.  The kernel's
    # own cores (below) have them either way.
    f = Fixture(ARGS, variant, env={"GT_GUARD": "mprotect"})
    try:
        core = gcore(f.pid, tmp_path)
    finally:
        f.stop()
    doc = run_json(GT_STACKS, "--core", core, "--exe", f.exe)
    check_groups(doc, COUNTS, with_lines=variant != "stripped")
    assert doc["pid"] == f.pid
    assert same_frames(doc, run_json(GT_STACKS, "--no-fastpath", "--core", core,
                                     "--exe", f.exe))
    # Without --exe: the program the core names.
    again = run_json(GT_STACKS, "--core", core)
    assert [g["count"] for g in again["groups"]] == [g["count"] for g in doc["groups"]]


@pytest.mark.parametrize("variant", ["static", "shared", "stripped"])
def test_kernel_core_after_crash(variant, tmp_path):
    f = Fixture(ARGS, variant, cwd=tmp_path)
    f.p.stdin.write("crash\n")
    f.p.stdin.flush()
    assert f.p.wait(timeout=60) == -signal.SIGSEGV
    f.stop()
    core = kernel_core(tmp_path)
    doc = run_json(GT_STACKS, "--core", core, "--exe", f.exe)
    with_lines = variant != "stripped"
    groups = check_groups(doc, COUNTS, with_lines=with_lines, crashed=True)
    # The crashed thread: running, unwound from the registers the kernel
    # saved, through the runtime's fault handler and the signal frame.
    crashed = groups[""]
    assert crashed["states"] == {"running": 1}
    want = [("crash_here", LINES["crash"]), ("hold_main", LINES["hold_crash"]),
            ("main_thread", LINES["main_thread"])]
    if not with_lines:
        want = [(fn, None) for fn, _ in want]
    assert app_frames(crashed["frames"], with_lines) == want
    os.unlink(core)


def test_kernel_core_ages_are_true(tmp_path):
    # An idle program killed from outside: its runtime last read the clock
    # when it went idle, seconds before the core.  The ages in the core
    # are measured to when the core was written (its mtime, carried to the
    # runtime's clock), not to that last reading.
    started = time.monotonic()
    f = Fixture(ARGS, cwd=tmp_path)
    time.sleep(2.5)
    os.kill(f.pid, signal.SIGABRT)
    assert f.p.wait(timeout=60) == -signal.SIGABRT
    elapsed = time.monotonic() - started
    f.stop()
    core = kernel_core(tmp_path)
    doc = run_json(GT_STACKS, "--core", core, "--exe", f.exe)
    alpha = [g for g in doc["groups"] if g["representative"]["name"] == "alpha"]
    assert len(alpha) == 1
    ages = alpha[0]["wait_ns"]
    # Parked before "ready", 2.5 s before the kill; never older than the
    # program.
    assert 2.5e9 <= ages["min"] <= ages["max"] <= elapsed * 1e9, ages
    os.unlink(core)


def test_text_output(known):
    rc, out, err = run(GT_STACKS, known.pid)
    assert rc == 0, err
    head = out.splitlines()[0]
    assert head == "process %d (known_stacks): 10 green threads" % known.pid
    blocks = out.split("\n\n")[1:]
    first = blocks[0].splitlines()
    assert first[0].startswith("3 threads  parked ")
    # The location's label: the call site and its callers.
    assert "at alpha_leaf (known_stacks.c:%d) < alpha_mid (known_stacks.c:%d)  (" % (
        LINES["alpha"], LINES["alpha_mid"]) in first[0]
    assert first[0].endswith("  (thread 2 \"alpha\" and others)")
    # Frames numbered as GDB numbers them after `green-thread ID`: physical
    # frames from 1, the saved context's; an inlined call shares its
    # frame's number.
    doc = run_json(GT_STACKS, known.pid)
    [g] = [g for g in doc["groups"] if g["representative"]["name"] == "alpha"]
    n = {f["function"]: f["n"] for f in g["frames"]}
    assert g["frames"][0]["n"] == 1 and n["gt__ctx_trampoline"] == g["frames"][-1]["n"]
    assert len({f["n"] for f in g["frames"]}) == g["frames"][-1]["n"]
    assert "  #%-3d alpha_leaf (known_stacks.c:%d)" % (n["alpha_leaf"], LINES["alpha"]) in first
    assert first[-1] == "  #%-3d gt__ctx_trampoline (switch.S:%d)" % (
        n["gt__ctx_trampoline"], TRAMPOLINE_CALL_LINE)


def test_filters(known):
    d = run_json(GT_STACKS, "--state", "parked", known.pid)
    assert d["shown"] == 10
    assert run_json(GT_STACKS, "--state", "runnable", known.pid)["shown"] == 0
    d = run_json(GT_STACKS, "--name", "al*", known.pid)
    assert [g["count"] for g in d["groups"]] == [3]
    d = run_json(GT_STACKS, "--location", "recurse", known.pid)
    assert [(g["representative"]["name"], g["count"]) for g in d["groups"]] == [("recur", 2)]
    d = run_json(GT_STACKS, "--location", "known_stacks.c:%d" % LINES["beta"], known.pid)
    assert [g["count"] for g in d["groups"]] == [2]
    assert run_json(GT_STACKS, "--min-wait", "1h", known.pid)["shown"] == 0
    assert run_json(GT_STACKS, "--min-wait", "1ns", known.pid)["shown"] == 10
    d = run_json(GT_STACKS, "--limit", "2", known.pid)
    assert len(d["groups"]) == 2 and d["shown"] == 10
    d = run_json(GT_STACKS, "--all", known.pid)
    assert len(d["threads_list"]) == 10
    assert sorted(t["id"] for t in d["threads_list"]) == list(range(1, 11))
    d = run_json(GT_STACKS, "--thread", 2, known.pid)
    [t] = d["threads_list"]
    assert (t["id"], t["name"], t["state"], t["wait_kind"]) == (2, "alpha", "parked",
                                                               "chan_recv")
    assert where(d, t["location"]) == ("alpha_leaf", LINES["alpha"])
    rc, out, err = run(GT_STACKS, "--thread", 2, known.pid)
    # The count, the summary line, then the thread.
    assert rc == 0 and out.splitlines()[3].startswith('thread 2 "alpha"  parked ')
    rc, out, err = run(GT_STACKS, "--thread", 999, known.pid)
    assert rc == 1 and "has no thread 999" in err


def test_folded(known):
    rc, out, err = run(GT_STACKS, "--folded", known.pid)
    assert rc == 0, err
    lines = dict(l.rsplit(" ", 1) for l in out.splitlines())
    alpha = [k for k in lines if "alpha_leaf" in k]
    assert len(alpha) == 1 and lines[alpha[0]] == "3"
    frames = alpha[0].split(";")
    assert frames[:4] == ["gt__ctx_trampoline", "gt__thread_start", "alpha_main",
                          "alpha_mid"]
    assert frames[4] == "alpha_leaf"
    assert sum(int(v) for v in lines.values()) == 10


def test_100k_threads(tmp_path):
    """100,000 threads end to end: every one found, grouped and unwound."""
    f = Fixture((40000, 30000, 20000, 3, 10000))
    try:
        doc = run_json(GT_STACKS, f.pid)
        counts = {"alpha": 40000, "beta": 30000, "recur": 20000, "depth": 3,
                  "diver": 10000}
        check_groups(doc, counts)
        rc, out, err = run(GT_STACKS, "--folded", f.pid)
        assert rc == 0 and sum(int(l.rsplit(" ", 1)[1]) for l in out.splitlines()) == 100001
    finally:
        f.stop()


def test_gcore_without_the_stacks(tmp_path):
    """With MADV_GUARD_INSTALL guards, gcore writes the stacks as zeros: the
    threads are still all listed, each said to have no stack memory, rather
    than given a made-up backtrace."""
    f = Fixture(ARGS, env={"GT_GUARD": "madvise"})
    try:
        core = gcore(f.pid, tmp_path)
    finally:
        f.stop()
    d = run_json(GT_STACKS, "--all", "--core", core)
    assert len(d["threads_list"]) == 10
    assert {t["unwind"] for t in d["threads_list"]} == {"no memory"}
    assert all(t["frames"] == [] for t in d["threads_list"])
    # Their locations come from the registry, which the core has.
    assert sorted(where(d, t["location"])[1] for t in d["threads_list"]
                  if t["name"] == "alpha") == [LINES["alpha"]] * 3
    rc, out, err = run(GT_STACKS, "--core", core)
    assert rc == 0 and "its stack reads as zeros: the core left it out" in out


def test_busy_target_is_never_invented():
    """A thread that switches all the time (the ticker) is read while it
    changes: it is reported consistent or in flux, never a mix; every other
    thread is exact; the target keeps running."""
    p = subprocess.Popen([exe(), "3", "2", "2", str(DEPTH), "2", "ticker"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().startswith("ready")
        for _ in range(20):
            d = run_json(GT_STACKS, "--all", p.pid)
            threads = {t["name"]: t for t in d["threads_list"]}
            assert len(d["threads_list"]) == 11
            ticker = threads["ticker"]
            if ticker["unwind"] == "in flux":
                assert ticker["frames"] == []
            elif ticker["state"] == "running":
                assert ticker["unwind"] == "running" and ticker["frames"] == []
            else:
                names = [x["function"] for x in ticker["frames"]]
                assert ticker["unwind"] == "ok"
                assert names[-3:] == ["ticker_main", "gt__thread_start",
                                      "gt__ctx_trampoline"]
            alphas = [t for t in d["threads_list"] if t["name"] == "alpha"]
            assert all(t["unwind"] == "ok" and where(d, t["location"])[1] == LINES["alpha"]
                       for t in alphas)
        assert p.poll() is None
    finally:
        p.kill()
        p.wait()


def test_fully_static_stripped_program():
    """No .dynsym, no .symtab, no DWARF: the registry is found through its
    .note.gt note, and the groups, counts and stack depths are those of the
    unstripped program; frames are shown as pcs."""
    full = Fixture(ARGS)
    try:
        want = run_json(GT_STACKS, full.pid)
    finally:
        full.stop()
    f = Fixture(ARGS, "static-stripped")
    try:
        doc = run_json(GT_STACKS, f.pid)
        assert same_frames(doc, run_json(GT_STACKS, "--no-fastpath", f.pid))
        rc, out, err = run(GT_STACKS, f.pid)
    finally:
        f.stop()
    shape = lambda d: sorted((g["representative"]["name"], g["count"],
                              sorted(g["states"].items()),
                              len([x for x in g["frames"] if not x["inlined"]]))
                             for g in d["groups"])
    assert shape(doc) == shape(want)
    assert {x["function"] for g in doc["groups"] for x in g["frames"]} == {"?"}
    assert rc == 0 and "  #1   0x" in out
