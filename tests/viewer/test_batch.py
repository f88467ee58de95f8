"""gt-top -b against the pipeline fixture: counts per location, states,
names, edges and their rates, in every format."""
import json
import os
import re
import shutil
import subprocess

from conftest import LOOP_S, PIPELINE, Pipeline, Unstacked, gt_top, where


def snapshot(p, *extra):
    out = gt_top("-b", "-d", "0.5", "-p", p.pid, "--format", "json", *extra).stdout
    return json.loads(out)


def locs_by_where(doc):
    return {l["where"]: l for l in doc["locations"]}


def test_json_locations_and_states(pipeline):
    doc = snapshot(pipeline)
    assert doc["pid"] == pipeline.pid
    assert doc["threads"]["total"] == 4 + 3 + 1
    assert doc["threads"]["parked"] + doc["threads"]["runnable"] + \
        doc["threads"]["running"] == 8
    locs = locs_by_where(doc)
    assert locs[where("idle", "idler_main")]["waiting"] == 3
    assert locs[where("idle", "idler_main")]["kind"] == "chan-recv"
    assert locs[where("hold", "main_thread")]["waiting"] == 1
    a, b = locs[where("stage_a", "stage_a")], locs[where("stage_b", "stage_b")]
    # Every looper is at one of its two stages (or between them).
    assert a["waiting"] + b["waiting"] <= 4
    # Each looper arrives at each stage once per 5 ms loop.
    want = 4 / LOOP_S
    for l in (a, b):
        assert 0.5 * want < l["arrivals_per_s"] < 1.1 * want, l
        assert l["completed"] > 0
        # A 2 or 3 ms sleep: the completed waits' p50 bucket bound.
        assert 1_000_000 < l["done_p50_ns"] < 8_400_000
    assert doc["rates"]["switches_per_s"] > want
    assert doc["rates_are_averages"] is False


def test_counts_agree_within_a_snapshot():
    """Threads by state and the locations' queues come from one reading:
    with 2,000 loopers changing place every few milliseconds, parked
    threads equal the sum of the queues in every snapshot (the registry's
    own counters, read a moment apart from the records, would not)."""
    p = Pipeline(2000, 50)
    try:
        out = gt_top("-b", "-n", "20", "-d", "0.05", "-p", p.pid, "--format", "json").stdout
        docs = [json.loads(line) for line in out.splitlines() if line.strip()]
        assert len(docs) == 20
        for doc in docs:
            queued = sum(l["waiting"] for l in doc["locations"])
            assert queued == doc["threads"]["parked"], doc["threads"]
            assert doc["threads"]["total"] == 2000 + 50 + 1
    finally:
        p.stop()


def test_shared_call_site_names_its_callers():
    """Two locations with one call site (a helper that parks, called from
    two functions) are told apart by their callers, on every output."""
    p = Pipeline(0, 0, 3)
    try:
        shared = where("shared", "wait_forever")
        locs = locs_by_where(snapshot(p))
        assert locs[shared + " < left_main"]["waiting"] == 3
        assert locs[shared + " < right_main"]["waiting"] == 3
        assert shared not in locs
        m = parse_prometheus(gt_top("-b", "-p", p.pid, "--format", "prometheus").stdout)
        assert m['gt_location_waiting{location="%s < left_main"}' % shared] == 3
        assert m['gt_location_waiting{location="%s < right_main"}' % shared] == 3
    finally:
        p.stop()


def test_json_edges_have_known_endpoints(pipeline):
    doc = snapshot(pipeline)
    edges = {(e["from_where"], e["to_where"]): e for e in doc["edges"]}
    want = 4 / LOOP_S
    ab = edges[(where("stage_a", "stage_a"), where("stage_b", "stage_b"))]
    ba = edges[(where("stage_b", "stage_b"), where("stage_a", "stage_a"))]
    for e in (ab, ba):
        assert 0.5 * want < e["per_s"] < 1.1 * want, e
        # Between two sleeps a looper runs microseconds, not milliseconds.
        assert 0 < e["mean_run_ns"] < 1_000_000
    # No edge leaves the idlers' location: they never wake.
    assert not [e for e in doc["edges"] if e["from_where"] == where("idle", "idler_main")]


def test_json_thread_list_names_states(pipeline):
    doc = snapshot(pipeline, "--view", "threads")
    names = sorted(t["name"] for t in doc["thread_list"])
    assert names.count("looper") == 4 and names.count("idler") == 3
    idlers = [t for t in doc["thread_list"] if t["name"] == "idler"]
    assert all(t["state"] == "parked" for t in idlers)
    assert all(t["where"] == where("idle", "idler_main") for t in idlers)
    assert all(t["live"] > 0 and t["reserved"] >= t["live"] for t in idlers)


def test_json_stacks_classes(pipeline):
    doc = snapshot(pipeline, "--view", "stacks")
    classes = {c["name"]: c for c in doc["stacks_report"]["classes"]}
    assert classes["looper"]["threads"] == 4
    assert classes["idler"]["threads"] == 3
    assert sum(doc["stacks_report"]["live_hist"]) == 8
    fns = {f["function"] for f in doc["stacks_report"]["functions"]}
    assert "idler_main" in fns and "looper_main" in fns
    assert doc["stacks"]["measured"] is True


def test_text_like_top(pipeline):
    out = gt_top("-b", "-n", "2", "-d", "0.3", "-p", pipeline.pid).stdout
    assert out.count("gt-top - process %d" % pipeline.pid) == 2
    rows = [l for l in out.splitlines() if where("idle", "idler_main") in l]
    assert len(rows) == 2 and all(r.split()[0] == "3" for r in rows)
    assert "Threads: 8 total" in out


def test_text_graph(pipeline):
    out = gt_top("-b", "-d", "0.3", "-p", pipeline.pid, "--view", "graph").stdout
    lines = out.splitlines()
    i = next(n for n, l in enumerate(lines) if l.startswith(where("stage_a", "stage_a")))
    assert lines[i + 1].strip().startswith("-> " + where("stage_b", "stage_b"))


def parse_prometheus(text):
    """name{labels} value lines -> {(name, labels): value}."""
    out = {}
    for line in text.splitlines():
        if line.startswith("#") or not line:
            continue
        key, value = line.rsplit(" ", 1)
        out[key] = float(value)
    return out


def test_prometheus_passes_promtool_and_counts(pipeline):
    text = gt_top("-b", "-d", "0.3", "-p", pipeline.pid, "--format", "prometheus").stdout
    r = subprocess.run([shutil.which("promtool") or "promtool", "check", "metrics"],
                       input=text, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    m = parse_prometheus(text)
    assert m['gt_location_waiting{location="%s"}' % where("idle", "idler_main")] == 3
    assert m['gt_location_waiting{location="%s"}' % where("hold", "main_thread")] == 1
    assert m['gt_threads{state="parked"}'] + m['gt_threads{state="runnable"}'] + \
        m['gt_threads{state="running"}'] == 8
    # Bounded cardinality: no series names a thread.
    assert "id=" not in text and "thread=" not in text
    key = 'gt_edge_transitions_total{from="%s",to="%s"}' % (
        where("stage_a", "stage_a"), where("stage_b", "stage_b"))
    assert m[key] > 0


def test_prometheus_series_do_not_grow_with_threads():
    small, big = Pipeline(2, 2), Pipeline(2, 200)
    try:
        a = gt_top("-b", "-d", "0.2", "-p", small.pid, "--format", "prometheus").stdout
        b = gt_top("-b", "-d", "0.2", "-p", big.pid, "--format", "prometheus").stdout
    finally:
        small.stop()
        big.stop()
    count = lambda t: len([l for l in t.splitlines() if l and not l.startswith("#")])
    assert count(a) == count(b)
    assert parse_prometheus(b)['gt_location_waiting{location="%s"}'
                               % where("idle", "idler_main")] == 200


def test_dot_is_valid_and_has_the_edges(pipeline):
    text = gt_top("-b", "-d", "0.3", "-p", pipeline.pid, "--format", "dot").stdout
    r = subprocess.run(["dot", "-Tplain"], input=text, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    # -Tplain: "node NAME x y w h LABEL ...", "edge TAIL HEAD ..."
    labels, edges = {}, set()
    for line in r.stdout.splitlines():
        f = line.split()
        if f[0] == "node":
            labels[f[1]] = line
        elif f[0] == "edge":
            edges.add((f[1], f[2]))
    name = lambda func: next(n for n, l in labels.items() if func + " (pipeline.c" in l)
    assert (name("stage_a"), name("stage_b")) in edges
    assert (name("stage_b"), name("stage_a")) in edges


# Every thread column of the Threads view, and how to read its value back
# from the JSON thread list: the order --sort gives must be the order of
# these values.
STATE_ORDER = {"runnable": 1, "running": 2, "parked": 3, "exited": 4}
WAIT_KINDS = ["none", "fd", "poll", "sleep", "mutex", "cond", "join", "chan-send",
              "chan-recv"]
THREAD_COLUMNS = {
    "id": lambda t: t["id"],
    "name": lambda t: t["name"].encode(),
    "state": lambda t: STATE_ORDER[t["state"]],
    "waits_on": lambda t: (WAIT_KINDS.index(t["wait_kind"]), t["wait_obj"])
    if t["wait_kind"] else (0, 0),
    "waited": lambda t: t["waited_ns"],
    "run": lambda t: t["run_ns"],
    "switches": lambda t: t["switches"],
    "live": lambda t: t["live"],
    "touched": lambda t: t["touched"] or 0,
    "reserved": lambda t: t["reserved"],
    "location": lambda t: t["where"].encode(),
}


def test_sort_threads_by_every_column(pipeline):
    """Each column, both ways: rows in the column's order, and rows that tie
    in the order of their ids (the snapshot's order in this fixture, whose
    threads never exit)."""
    for name, value in THREAD_COLUMNS.items():
        for how in ("asc", "desc"):
            doc = snapshot(pipeline, "--view", "threads", "--sort", "%s:%s" % (name, how))
            rows = doc["thread_list"]
            assert len(rows) == 8
            keys = [value(t) for t in rows]
            assert keys == sorted(keys, reverse=how == "desc"), (name, how, keys)
            for a, b in zip(rows, rows[1:]):
                if value(a) == value(b):
                    assert a["id"] < b["id"], (name, how, a, b)


def test_sort_threads_known_orders(pipeline):
    """What the fixture's source says: main waits on fd 0 (stdin), the
    loopers sleep, the idlers receive on a channel; main has no name."""
    doc = snapshot(pipeline, "--view", "threads", "--sort", "waits_on")
    kinds = [t["wait_kind"] for t in doc["thread_list"] if t["state"] == "parked"]
    assert kinds[0] == "fd" and kinds[-3:] == ["chan-recv"] * 3
    assert doc["thread_list"][0]["wait_obj"] == 0
    doc = snapshot(pipeline, "--view", "threads", "--sort", "name")
    assert [t["name"] for t in doc["thread_list"]] == [""] + ["idler"] * 3 + ["looper"] * 4
    doc = snapshot(pipeline, "--view", "threads", "--sort", "location:desc")
    idlers = [t for t in doc["thread_list"] if t["name"] == "idler"]
    assert doc["thread_list"][-3:] == idlers   # "idler_main (" sorts first


def test_sort_locations_text(pipeline):
    out = gt_top("-b", "-d", "0.3", "-p", pipeline.pid, "--sort", "location").stdout
    rows = [l for l in out.splitlines() if "(pipeline.c:" in l]
    texts = [l[l.index(l.split()[-2]):] for l in rows]
    assert texts == sorted(texts) and len(texts) >= 4
    assert texts[0] == where("idle", "idler_main")


def test_stack_totals_in_the_header(pipeline):
    """Resident and dead stack bytes come with the header: whole pages, at
    least the page that holds each thread's saved sp, no more than reserved."""
    doc = snapshot(pipeline)
    st = doc["stacks"]
    assert st["measured"] is True and st["measured_age_s"] < 1.0
    assert st["resident"] % 4096 == 0
    assert 8 * 4096 <= st["resident"] <= st["reserved"]
    assert st["live"] <= st["resident"]
    assert 0 <= st["dead"] <= st["reserved"] - st["live"]
    out = gt_top("-b", "-d", "0.3", "-p", pipeline.pid).stdout
    line = next(l for l in out.splitlines() if l.startswith("Stacks: "))
    assert "resident -" not in line and "dead -" not in line, line


def test_timing_lines(pipeline):
    r = gt_top("-b", "-n", "3", "-d", "0.1", "--timing", "-p", pipeline.pid)
    lines = [l for l in r.stderr.splitlines() if l.startswith("gt-top: refresh ")]
    assert [l.split()[2] for l in lines] == ["1:", "2:", "3:"], r.stderr
    assert all(l.endswith(" 8 threads") for l in lines)
    assert all(float(l.split()[3]) > 0 for l in lines)


def test_program_replaced_on_disk(tmp_path):
    """A program rebuilt while it runs: the reader finds the registry and
    the symbols of the file the process maps, not the new one at its path."""
    exe = tmp_path / "pipeline"
    shutil.copy(PIPELINE, exe)
    p = subprocess.Popen([str(exe), "0", "3"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().startswith("ready ")
        other = tmp_path / "other"
        shutil.copy("/bin/true", other)
        os.rename(other, exe)
        doc = json.loads(gt_top("-b", "-d", "0.2", "-p", p.pid, "--format", "json").stdout)
    finally:
        p.stdin.close()
        p.wait(timeout=10)
    assert locs_by_where(doc)[where("idle", "idler_main")]["waiting"] == 3


def test_100k_threads():
    """100,000 parked threads: all counted, all at their location, the
    thread list complete and in order."""
    p = Pipeline(0, 100000)
    try:
        doc = json.loads(gt_top("-b", "-d", "0.2", "-p", p.pid, "--format", "json",
                                "--view", "threads", "--sort", "id:desc").stdout)
    finally:
        p.stop()
    assert doc["threads"]["total"] == 100001
    assert locs_by_where(doc)[where("idle", "idler_main")]["waiting"] == 100000
    ids = [t["id"] for t in doc["thread_list"]]
    assert ids == list(range(100001, 0, -1))


def test_touched_filled_from_the_measure(pipeline):
    """The header's stack measure also gives each thread its touched bytes:
    TOUCHED is filled in text and JSON, at least the live bytes of an idler
    (parked for ever, its frames written) and at most its reservation."""
    doc = snapshot(pipeline, "--view", "threads")
    assert doc["stacks"]["measured"] is True
    for t in doc["thread_list"]:
        assert t["touched"] is not None, t
        assert t["touched"] <= t["reserved"], t
        if t["name"] == "idler":
            assert t["touched"] >= t["live"] > 0, t
    out = gt_top("-b", "-d", "0.3", "-p", pipeline.pid, "--view", "threads").stdout
    rows = [l.split() for l in out.splitlines() if " idler " in l]
    assert len(rows) == 3
    # ... LIVE TOUCHED RESERVED: "320 B 408 B 64 KiB"
    assert all(r[-3] in ("B", "KiB") for r in rows), rows


def test_threads_without_stack_in_no_bucket():
    """Threads waiting unstacked hold 0 bytes: the live-stack histogram
    leaves them out (they were counted as 1 B..2 B) and says how many have
    no stack; the threads with frames (5 sleepers, main) fill the buckets."""
    p = Unstacked(7, 5)
    try:
        doc = json.loads(gt_top("-b", "-d", "0.2", "-p", p.pid, "--format", "json",
                                "--view", "stacks").stdout)
        text = gt_top("-b", "-d", "0.2", "-p", p.pid, "--view", "stacks").stdout
    finally:
        p.stop()
    rep = doc["stacks_report"]
    assert rep["no_stack"] == 7
    assert sum(rep["live_hist"]) == 5 + 1
    assert rep["live_hist"][0] == 0
    assert "1 B..2 B" not in text
    assert re.search(r"^  no stack +7$", text, re.M), text
