"""One target of 100,001 parked green threads, a server's crowd
(bench/million_stacks.c: 60,000 in usleep, 39,900 ten frames deep in
gt_chan_recv, 100 in read(), and the main one; each uses its stack's top
page only, under the default guards): a full core and a compact one,
every green stack in each (gt-stacks gives the live groups, which match
the fixture's counts), the full core sparse (its disk usage at most 1.2
times the target's RSS) and the compact one at most a quarter of it."""
import os

import core_util as cu

SIZES = {"sleeper": 60000, "deep": 39900, "reader": 100}
PARKS = {"sleeper": "sleeper_wait", "deep": "deep_level", "reader": "reader_wait",
         "": "hold_main"}
FIXTURE = os.path.join(cu.BUILD, "bench", "million_stacks")


def check_groups(doc):
    """One group per kind, of its size, parked in its function; the deep
    ones eight deep_level frames deep."""
    got = {}
    for g in doc["groups"]:
        funcs = [f["function"] for f in g["frames"]]
        kinds = [k for k, fn in PARKS.items() if fn in funcs]
        assert len(kinds) == 1, funcs
        got[kinds[0]] = g["count"]
        if kinds[0] == "deep":
            assert funcs.count("deep_level") == 8, funcs
    assert got == dict(SIZES, **{"": 1}), got


def test_100k_threads_full_and_compact(targets, tmp_path):
    t = targets(cu.Target, [FIXTURE, SIZES["sleeper"], SIZES["deep"], SIZES["reader"]])
    stacks = cu.reader_json(cu.GT_STACKS, t.pid)
    check_groups(stacks)
    rss = cu.rss_bytes(t.pid)
    full, compact = tmp_path / "core.full", tmp_path / "core.compact"
    s, _, _ = cu.captured(t.pid, full)
    assert s["green"] == 100001 and s["mode"] == "full"
    # (RSS as it was when gt-core looked; the target's may move a little.)
    assert cu.size_matches(s["rss"], rss, slack=0.05), (s["rss"], rss)
    sc, _, _ = cu.captured(t.pid, compact, "--compact")
    assert sc["green"] == 100001 and sc["mode"] == "compact"
    du_full, du_compact = cu.du(full), cu.du(compact)
    assert du_full <= 1.2 * rss, "full core: %d bytes on disk, RSS %d" % (du_full, rss)
    assert du_compact <= du_full / 4, "compact %d, full %d" % (du_compact, du_full)
    for core in (full, compact):
        doc = cu.reader_json(cu.GT_STACKS, core)
        assert cu.groups_of(doc) == cu.groups_of(stacks), core
    assert cu.proc_state(t.pid) in ("R", "S") and cu.tracer_of(t.pid) == 0
