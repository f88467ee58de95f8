"""gt-stacks and gt-waste against unstacked.c: threads parked in
gt_wait_readable_then hold no frames and no stack memory.  Their one frame
is the entry trampoline at its first instruction (not a return address:
read as one, it would name whatever precedes the trampoline), they group
at the wait's call site, their entry is the function they start over in,
and their stacks count 0 bytes resident, touched and live; live, from a
gcore core (with and without the stacks in it) and from a kernel core."""
import os
import re
import signal

import pytest

from conftest import (GT_STACKS, GT_WASTE, HERE, Running, exe, gcore, kernel_core, marker_lines, where,
                      run, run_json, wait_idle)

NIDLE, NSLEEP = 4, 3
# Every app function of unstacked.c: none may stand for the trampoline.
APP = {"idle_restart", "idle_wait", "idle_main", "sleeper_wait", "sleeper_main",
       "crash_here", "hold_main", "main_thread"}


LINES = marker_lines(os.path.join(HERE, "unstacked.c"))


class Unstacked(Running):
    """unstacked.c running, every thread parked."""

    def __init__(self, variant="static", cwd=None, env=None):
        super().__init__(exe(variant, "unstacked"), (NIDLE, NSLEEP), cwd, env)


def check_groups(doc, with_lines=True, nidle=NIDLE, crashed=False):
    """The unstacked group and the sleepers' group; returns the former."""
    unstacked = [g for g in doc["groups"] if g["unstacked"]]
    assert len(unstacked) == 1, doc["groups"]
    g = unstacked[0]
    assert g["count"] == nidle
    assert g["states"] == {"parked": nidle}
    assert g["representative"]["name"] == "idle"
    # One frame, the trampoline itself, symbolized at its exact pc.
    assert len(g["frames"]) == 1, g["frames"]
    assert g["frames"][0]["function"] not in APP
    assert g["frames"][0]["size"] == 0
    if with_lines:
        assert g["frames"][0]["function"] == "gt__ctx_trampoline"
        assert g["frames"][0]["file"].endswith("switch.S")
        assert where(doc, g["location"]) == ("idle_wait", LINES["idle"])
    sleepers = [x for x in doc["groups"] if x["representative"]["name"] == "sleeper"]
    assert [x["count"] for x in sleepers] == [NSLEEP]
    assert not sleepers[0]["unstacked"]
    if with_lines:
        assert where(doc, sleepers[0]["location"])[1] == LINES["sleeper"]
    assert doc["threads"] == NIDLE + NSLEEP + 1
    return g


def check_threads(doc, with_lines=True):
    idle = [t for t in doc["threads_list"] if t["name"] == "idle"]
    assert len(idle) == NIDLE
    for t in idle:
        assert t["unstacked"] and t["unwind"] == "ok", t
        assert t["stack"]["live"] == 0
        assert len(t["frames"]) == 1
        # The function it will start over in, not the one it parked in.
        assert t["entry"].startswith("idle_restart"), t["entry"]
    assert not any(t["unstacked"] for t in doc["threads_list"] if t["name"] != "idle")


def check_waste(doc):
    """gt-waste --class idle: nothing resident, touched or live."""
    assert doc["selected"] == NIDLE
    tot = doc["totals"]
    assert (tot["resident"], tot["touched"], tot["live"], tot["dead"]) == (0, 0, 0, 0)
    assert tot["unused"] == tot["reserved"] > 0
    # Threads without frames say nothing of how deep the class goes: no
    # suggested stack size, nothing saved.
    [idle] = doc["classes"]
    assert (idle["class"], idle["threads"]) == ("idle", NIDLE)
    assert (idle["suggested_stack_size"], idle["saves"]) == (None, 0)


@pytest.mark.parametrize("variant", ["static", "shared", "stripped"])
def test_live(variant):
    f = Unstacked(variant)
    try:
        with_lines = variant != "stripped"
        doc = run_json(GT_STACKS, f.pid)
        check_groups(doc, with_lines)
        slow = run_json(GT_STACKS, "--no-fastpath", f.pid)
        assert [(g["count"], [x["pc"] for x in g["frames"]]) for g in slow["groups"]] == \
            [(g["count"], [x["pc"] for x in g["frames"]]) for g in doc["groups"]]
        check_threads(run_json(GT_STACKS, "--all", f.pid), with_lines)
        # After the readers above: reading never faulted a page of these
        # stacks in.
        check_waste(run_json(GT_WASTE, "--class-by", "name", "--class", "idle", f.pid))
        assert f.p.poll() is None
    finally:
        f.stop()


def test_text_output():
    f = Unstacked()
    try:
        rc, out, err = run(GT_STACKS, f.pid)
        assert rc == 0, err
        block = [b for b in out.split("\n\n") if '"idle"' in b]
        assert len(block) == 1, out
        text = block[0].splitlines()
        assert text[0].startswith("%d threads  parked " % NIDLE)
        assert "  at idle_wait (unstacked.c:%d) < idle_main (" % LINES["idle"] in text[0]
        assert re.fullmatch(r"  #1   gt__ctx_trampoline \(switch\.S:\d+\)", text[1]), text
        assert text[2] == "  (no stack: waits unstacked, starts over in idle_restart)"
        assert len(text) == 3
        rc, out, err = run(GT_STACKS, "--thread", 2, f.pid)
        assert rc == 0, err
        assert "  entry: idle_restart (unstacked.c:" in out
        assert "  stack: 64 KiB reserved, 0 B live" in out
        rc, out, err = run(GT_WASTE, "--class-by", "name", "--class", "idle", f.pid)
        assert rc == 0, err
        assert re.search(r"^  resident +0 B ", out, re.M), out
        assert re.search(r"^  touched +0 B ", out, re.M), out
    finally:
        f.stop()


def test_restarted_thread_has_frames_again():
    """Woken, the same thread (same id) starts over in idle_restart and
    parks there with ordinary frames: no longer unstacked."""
    f = Unstacked()
    try:
        before = run_json(GT_STACKS, "--all", f.pid)
        idle_ids = sorted(t["id"] for t in before["threads_list"] if t["name"] == "idle")
        f.send("wake")
        line = f.p.stdout.readline()
        assert line.startswith("woke "), line
        tid = int(line.split()[1])
        assert tid in idle_ids
        wait_idle(f.pid)
        d = run_json(GT_STACKS, "--thread", tid, f.pid)
        [t] = d["threads_list"]
        assert not t["unstacked"] and t["unwind"] == "ok"
        assert where(d, t["location"]) == ("idle_restart", LINES["restarted"])
        names = [x["function"] for x in t["frames"]]
        assert names[-3:] == ["idle_restart", "gt__thread_start", "gt__ctx_trampoline"]
        assert t["stack"]["live"] > 0
        check_groups(run_json(GT_STACKS, f.pid), nidle=NIDLE - 1)
    finally:
        f.stop()


def test_kernel_core(tmp_path):
    f = Unstacked(cwd=tmp_path)
    f.send("crash")
    assert f.p.wait(timeout=60) == -signal.SIGSEGV
    f.stop()
    core = kernel_core(tmp_path)
    # The crashed main thread is running: the others are as they were.
    doc = run_json(GT_STACKS, "--core", core, "--exe", f.exe)
    check_groups(doc)
    check_threads(run_json(GT_STACKS, "--all", "--core", core, "--exe", f.exe))
    check_waste(run_json(GT_WASTE, "--class-by", "name", "--class", "idle",
                         "--core", core, "--exe", f.exe))
    os.unlink(core)


@pytest.mark.parametrize("guard", ["mprotect", "madvise"])
def test_gcore(guard, tmp_path):
    """With madvise guards gcore leaves every stack out: the other threads
    then say so, but an unstacked thread needs no stack memory to be
    shown exactly."""
    f = Unstacked(env={"GT_GUARD": guard})
    try:
        core = gcore(f.pid, tmp_path)
    finally:
        f.stop()
    check_groups(run_json(GT_STACKS, "--core", core, "--exe", f.exe))
    d = run_json(GT_STACKS, "--all", "--core", core, "--exe", f.exe)
    check_threads(d)
    others = {t["unwind"] for t in d["threads_list"] if t["name"] != "idle"}
    assert others == ({"no memory"} if guard == "madvise" else {"ok"})
    check_waste(run_json(GT_WASTE, "--class-by", "name", "--class", "idle",
                         "--core", core, "--exe", f.exe))
