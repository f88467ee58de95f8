"""One target of 100,001 green threads (known_stacks at scale, the default
guards): a full core and a compact one, every green stack in each
(gt-stacks gives the live groups, which match the fixture's counts), the
full core sparse (its disk usage at most 1.2 times the target's RSS) and
the compact one at most a quarter of it."""
import core_util as cu

COUNTS = {"alpha": 40000, "beta": 30000, "recur": 20000, "diver": 10000}
DEPTH = 3


def test_100k_threads_full_and_compact(targets, tmp_path):
    t = targets(cu.known_target, counts=COUNTS, depth=DEPTH)
    stacks = cu.reader_json(cu.GT_STACKS, t.pid)
    cu.check_known_groups(stacks, COUNTS, depth=DEPTH)
    rss = cu.rss_bytes(t.pid)
    full, compact = tmp_path / "core.full", tmp_path / "core.compact"
    s, _, _ = cu.captured(t.pid, full)
    assert s["green"] == 100001 and s["mode"] == "full"
    assert cu.size_matches(s["rss"], cu.rss_bytes(t.pid)), (s["rss"], rss)
    sc, _, _ = cu.captured(t.pid, compact, "--compact")
    assert sc["green"] == 100001 and sc["mode"] == "compact"
    du_full, du_compact = cu.du(full), cu.du(compact)
    assert du_full <= 1.2 * rss, "full core: %d bytes on disk, RSS %d" % (du_full, rss)
    assert du_compact <= du_full / 4, "compact %d, full %d" % (du_compact, du_full)
    for core in (full, compact):
        doc = cu.reader_json(cu.GT_STACKS, core)
        assert cu.groups_of(doc) == cu.groups_of(stacks), core
    assert cu.proc_state(t.pid) == "S" and cu.tracer_of(t.pid) == 0
