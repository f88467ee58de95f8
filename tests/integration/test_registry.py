"""The registry read from outside a live process, against ground truth.

three_locations parks known numbers of threads at three known call sites;
an independent reader (gtreg) must find exactly those counts, names, wait
kinds and queues, without stopping the process and without DWARF for the
registry itself.
"""
import collections
import os
import subprocess

import pytest

from gtreg import C, Registry, Target, symbolize

BUILD = os.environ.get("GT_BUILD", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
EXE = os.path.join(BUILD, "tests", "integration", "three_locations")
# The same fixture linked with libgt.so: the registry is then in the library.
EXE_SHARED = os.path.join(BUILD, "tests", "integration", "three_locations-shared")


@pytest.fixture
def fixture_process(request):
    counts = request.param
    exe = EXE
    if counts and counts[0] == "shared":
        exe, counts = EXE_SHARED, counts[1:]
    p = subprocess.Popen([exe] + [str(n) for n in counts], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    assert line.startswith("ready "), line
    yield p, counts
    if p.poll() is None:
        p.kill()
        p.wait()


def finish(p):
    p.stdin.close()
    assert p.stdout.read().strip() == "done"
    assert p.wait(timeout=60) == 0


@pytest.mark.parametrize("fixture_process", [(50000, 30000, 20000)], indirect=True)
def test_100k_threads_at_three_locations(fixture_process):
    p, (na, nb, nc) = fixture_process
    target = Target(p.pid)
    reg = Registry(target)
    threads = reg.threads()
    by_state = collections.Counter(t["state"] for _, t in threads)
    # Every spawned thread plus the main thread is parked; nothing runs.
    assert by_state == {C["GT_STATE_PARKED"]: na + nb + nc + 1}
    assert reg.g("NSTATE", C["GT_STATE_PARKED"]) == na + nb + nc + 1
    assert reg.g("NSTATE", C["GT_STATE_RUNNING"]) == 0
    assert reg.g("CURRENT") == 0
    assert all(t["seq"] % 2 == 0 for _, t in threads)
    assert len({t["id"] for _, t in threads}) == len(threads)

    locs = reg.locations()
    funcs = {i: symbolize(target.exe, target.bias, l["pcs"]) for i, l in locs.items()}
    at = {f[0]: i for i, f in funcs.items()}
    expect = {"wait_a": (na, "waiter-a", C["GT_WAIT_CHAN_RECV"]),
              "wait_b": (nb, "waiter-b", C["GT_WAIT_COND"]),
              "wait_c": (nc, "waiter-c", C["GT_WAIT_FD"]),
              "hold_main": (1, "", C["GT_WAIT_FD"])}
    per_loc = collections.Counter(t["location"] for _, t in threads)
    for fn, (n, name, kind) in expect.items():
        assert fn in at, "no location in %s: %s" % (fn, funcs)
        idx = at[fn]
        loc = locs[idx]
        assert per_loc[idx] == n
        assert loc["waiting"] == n
        assert loc["kind"] == kind
        # Default depth 2: the call site and its caller.
        assert len(loc["pcs"]) == 2
        queue = reg.queue(loc["head"])
        assert len(queue) == n
        members = set(queue)
        assert len(members) == n
        names = {t["name"] for a, t in threads if a in members}
        assert names == {name}
        kinds = {t["wait_kind"] for a, t in threads if a in members}
        assert kinds == {kind}
    # The spawned threads' callers are the runtime's thread entry.
    assert funcs[at["wait_a"]][1] == "gt__thread_start"

    # Saved contexts lie inside each thread's own stack.
    for _, t in threads:
        assert t["stack_lo"] < t["ctx_sp"] < t["stack_hi"]
        assert t["stack_hi"] - t["stack_lo"] == reg.g("STACK_DEFAULT")
    target.close()
    finish(p)


@pytest.mark.parametrize("fixture_process", [(3, 2, 1)], indirect=True)
def test_layout_table_and_counters(fixture_process):
    p, counts = fixture_process
    target = Target(p.pid)
    reg = Registry(target)
    assert reg.arch == 62
    assert reg.g("PID") == p.pid
    assert reg.g("SPAWNS") == sum(counts) + 1
    assert reg.g("EXITS") == 0
    assert reg.g("GUARD_POLICY") in (C["GT_GUARD_MADVISE"], C["GT_GUARD_MPROTECT"],
                                     C["GT_GUARD_CANARY"])
    # Every field id the header names is in the table, inside its record.
    for rec, prefix in ((C["GT_REC_THREAD"], "GT_F_THR_"),
                        (C["GT_REC_LOCATION"], "GT_F_LOC_"),
                        (C["GT_REC_EDGE"], "GT_F_EDGE_"),
                        (C["GT_REC_REGISTRY"], "GT_F_REG_")):
        size = reg.size(rec)
        for name, fid in C.items():
            if name.startswith(prefix) and not name.endswith("__COUNT"):
                off, fsize = reg.layout[(rec, fid)]
                assert off + fsize <= size, name
    # Times are on one clock: nobody parked before the runtime started.
    base = reg.g("CLOCK_BASE")
    for _, t in reg.threads():
        assert base <= t["created"] <= t["wait_since"] <= reg.g("CLOCK_NOW")
    target.close()
    finish(p)


@pytest.mark.parametrize("fixture_process", [("shared", 7, 5, 3)], indirect=True)
def test_registry_in_shared_libgt(fixture_process):
    p, (na, nb, nc) = fixture_process
    target = Target(p.pid)
    assert os.path.basename(target.object).startswith("libgt.so")
    reg = Registry(target)
    assert reg.g("NSTATE", C["GT_STATE_PARKED"]) == na + nb + nc + 1
    per_loc = collections.Counter(t["location"] for _, t in reg.threads())
    locs = reg.locations()
    funcs = {symbolize(target.exe, target_exe_bias(p.pid, target.exe), l["pcs"][:1])[0]: i
             for i, l in locs.items()}
    assert [per_loc[funcs[f]] for f in ("wait_a", "wait_b", "wait_c")] == [na, nb, nc]
    target.close()
    finish(p)


def target_exe_bias(pid, exe):
    real = os.path.realpath(exe)
    with open("/proc/%d/maps" % pid) as maps:
        for line in maps:
            f = line.split()
            if len(f) >= 6 and f[5] == real and int(f[2], 16) == 0:
                return int(f[0].split("-")[0], 16)
    return 0
