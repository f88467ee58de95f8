"""gt-top -b against the pipeline fixture: counts per location, states,
names, edges and their rates, in every format."""
import json
import os
import re
import shutil
import subprocess
import time

import jsonschema

import installed_schemas
from conftest import BUILD, GT_TOP, LOOP_S, PIPELINE, Pipeline, Unstacked, gt_top, site, where


def snapshot(p, *extra):
    out = gt_top("-b", "-d", "0.5", "-p", p.pid, "--format", "json", *extra).stdout
    return json.loads(out)


def locs_by_where(doc):
    """Locations by call site (the first part of their label)."""
    return {site(l["where"]): l for l in doc["locations"]}


def prom_location(m, metric, call_site):
    """The value of METRIC{location=...} whose label starts at CALL_SITE."""
    got = [v for k, v in m.items() if k.startswith('%s{location="%s' % (metric, call_site))]
    assert len(got) == 1, (metric, call_site, got)
    return got[0]


def test_json_locations_and_states(pipeline):
    doc = snapshot(pipeline)
    assert doc["pid"] == pipeline.pid
    assert doc["threads"] == 4 + 3 + 1
    assert doc["states"]["parked"] + doc["states"]["runnable"] + \
        doc["states"]["running"] == 8
    locs = locs_by_where(doc)
    assert locs[where("idle", "idler_main")]["waiting"] == 3
    assert locs[where("idle", "idler_main")]["kind"] == "chan_recv"
    assert locs[where("hold", "main_thread")]["waiting"] == 1
    # No idler ever woke: no completed wait, so no quantile of them.
    idle = locs[where("idle", "idler_main")]
    assert idle["completed"] == 0 and idle["wait_max_ns"] == 0
    assert idle["done_p50_ns"] is None and idle["done_p99_ns"] is None
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
            assert queued == doc["states"]["parked"], doc["states"]
            assert doc["threads"] == 2000 + 50 + 1
            # One kernel thread: at most one green thread runs, and the
            # states add up to the threads.
            assert doc["states"]["running"] <= 1, doc["states"]
            assert sum(doc["states"].values()) + doc["in_flux"] == doc["threads"]
    finally:
        p.stop()


def test_shared_call_site_names_its_callers():
    """Two locations with one call site (a helper that parks, called from
    two functions) are told apart by their callers, on every output."""
    p = Pipeline(0, 0, 3)
    try:
        shared = where("shared", "wait_forever")
        locs = {l["where"].split(" (pipeline.c:")[0] + " < " +
                l["where"].split(" < ")[1].split(" (")[0]: l
                for l in snapshot(p)["locations"] if site(l["where"]) == shared}
        assert locs["wait_forever < left_main"]["waiting"] == 3
        assert locs["wait_forever < right_main"]["waiting"] == 3
        assert len(locs) == 2
        m = parse_prometheus(gt_top("-b", "-p", p.pid, "--format", "prometheus").stdout)
        assert prom_location(m, "gt_location_waiting_threads", shared + " < left_main (") == 3
        assert prom_location(m, "gt_location_waiting_threads", shared + " < right_main (") == 3
    finally:
        p.stop()


def test_json_edges_have_known_endpoints(pipeline):
    doc = snapshot(pipeline)
    edges = {(site(e["from_where"]), site(e["to_where"])): e for e in doc["edges"]}
    want = 4 / LOOP_S
    ab = edges[(where("stage_a", "stage_a"), where("stage_b", "stage_b"))]
    ba = edges[(where("stage_b", "stage_b"), where("stage_a", "stage_a"))]
    for e in (ab, ba):
        assert 0.5 * want < e["per_s"] < 1.1 * want, e
        # Between two sleeps a looper runs microseconds, not milliseconds.
        assert 0 < e["mean_run_ns"] < 1_000_000
    # No edge leaves the idlers' location: they never wake.
    assert not [e for e in doc["edges"] if site(e["from_where"]) == where("idle", "idler_main")]


def test_json_threads_list_names_states(pipeline):
    doc = snapshot(pipeline, "--view", "threads")
    names = sorted(t["name"] for t in doc["threads_list"])
    assert names.count("looper") == 4 and names.count("idler") == 3
    idlers = [t for t in doc["threads_list"] if t["name"] == "idler"]
    assert all(t["state"] == "parked" for t in idlers)
    assert all(site(t["where"]) == where("idle", "idler_main") for t in idlers)
    assert all(t["stack"]["live"] > 0 and t["stack"]["reserved"] >= t["stack"]["live"]
               for t in idlers)
    assert all(t["entry"] == "idler_main" for t in idlers)
    assert all(t["wait_kind"] == "chan_recv" and t["wait"].startswith("chan_recv 0x")
               for t in idlers)
    main = next(t for t in doc["threads_list"] if t["entry"] == "main_thread")
    assert main["wait"] == "fd 0 read" and main["wait_ns"] > 0
    assert "waited_ns" not in main and "live" not in main


def test_json_stacks_classes(pipeline):
    doc = snapshot(pipeline, "--view", "stacks")
    classes = {c["class"]: c for c in doc["stacks_report"]["classes"]}
    assert doc["stacks_report"]["class_by"] == "entry"
    assert classes["looper_main"]["threads"] == 4
    assert classes["idler_main"]["threads"] == 3
    assert sum(doc["stacks_report"]["live_hist"]) == 8
    fns = {f["function"] for f in doc["stacks_report"]["functions"]}
    assert "idler_main" in fns and "looper_main" in fns
    assert doc["stacks"]["measured"] is True


def test_text_like_top(pipeline):
    out = gt_top("-b", "-n", "2", "-d", "0.3", "-p", pipeline.pid).stdout
    assert out.count("gt-top - process %d" % pipeline.pid) == 2
    rows = [l for l in out.splitlines() if where("idle", "idler_main") + " < " in l]
    assert len(rows) == 2 and all(r.split()[0] == "3" for r in rows)
    assert "Threads: 8 total" in out


def test_text_graph(pipeline):
    out = gt_top("-b", "-d", "0.3", "-p", pipeline.pid, "--view", "graph").stdout
    lines = out.splitlines()
    i = next(n for n, l in enumerate(lines) if l.startswith(where("stage_a", "stage_a") + " < "))
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


def test_json_every_snapshot_follows_the_installed_schema(pipeline, tmp_path):
    """-n 3 --format json: one document per snapshot, one per line, each
    with schema_version 1 first, valid under the gt-top schema make
    install installs and every member described there, in every view;
    rates cover the interval from the second snapshot on."""
    schema = installed_schemas.load(installed_schemas.install(tmp_path, BUILD), "gt-top")
    v = jsonschema.Draft202012Validator(schema)
    for view in ("locations", "threads", "stacks", "graph"):
        out = gt_top("-b", "-n", "3", "-d", "0.1", "-p", pipeline.pid, "--view", view,
                     "--format", "json").stdout
        docs = [json.loads(l) for l in out.splitlines()]
        assert len(docs) == 3, out[:500]
        for d in docs:
            assert next(iter(d)) == "schema_version" and d["schema_version"] == 1
            errors = [e.message[:200] for e in v.iter_errors(d)]
            assert not errors, (view, errors[:5])
            assert installed_schemas.undescribed(schema, d) == [], view
        assert all(d["rates_are_averages"] is False for d in docs[1:])
        assert ("threads_list" in docs[0]) == (view == "threads")
        assert ("stacks_report" in docs[0]) == (view == "stacks")


def test_prometheus_passes_promtool_and_counts(pipeline):
    # Two snapshots of a pipeline that keeps moving: one exposition (the
    # last), which promtool takes as one scrape.
    text = gt_top("-b", "-n", "2", "-d", "0.3", "-p", pipeline.pid,
                  "--format", "prometheus").stdout
    r = subprocess.run([shutil.which("promtool") or "promtool", "check", "metrics"],
                       input=text, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    types = [l.split()[2] for l in text.splitlines() if l.startswith("# TYPE ")]
    assert len(types) == len(set(types)) and "gt_threads" in types
    m = parse_prometheus(text)
    assert prom_location(m, "gt_location_waiting_threads", where("idle", "idler_main")) == 3
    assert prom_location(m, "gt_location_waiting_threads", where("hold", "main_thread")) == 1
    assert m['gt_threads{state="parked"}'] + m['gt_threads{state="runnable"}'] + \
        m['gt_threads{state="running"}'] == 8
    # Bounded cardinality: no series names a thread.
    assert "id=" not in text and "thread=" not in text
    key = [k for k in m if k.startswith('gt_edge_transitions_total{from="%s < ' %
                                        where("stage_a", "stage_a"))
           and ',to="%s < ' % where("stage_b", "stage_b") in k]
    assert len(key) == 1 and m[key[0]] > 0


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
    assert prom_location(parse_prometheus(b), "gt_location_waiting_threads",
                         where("idle", "idler_main")) == 200


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
WAIT_KINDS = ["none", "fd", "poll", "sleep", "mutex", "cond", "join", "chan_send",
              "chan_recv"]
THREAD_COLUMNS = {
    "id": lambda t: t["id"],
    "name": lambda t: t["name"].encode(),
    "state": lambda t: STATE_ORDER[t["state"]],
    "waits_on": lambda t: (WAIT_KINDS.index(t["wait_kind"]), t["wait_obj"])
    if t["wait_kind"] else (0, 0),
    "waited": lambda t: t["wait_ns"] or 0,
    "run": lambda t: t["run_ns"],
    "switches": lambda t: t["switches"],
    "live": lambda t: t["stack"]["live"],
    "touched": lambda t: t["stack"]["touched"] or 0,
    "reserved": lambda t: t["stack"]["reserved"],
    "location": lambda t: t["where"].encode(),
    "blocked_by": lambda t: (t["blocked_by"] or {}).get("id") or 0,
}


def test_sort_threads_by_every_column(pipeline):
    """Each column, both ways: rows in the column's order, and rows that tie
    in the order of their ids (the snapshot's order in this fixture, whose
    threads never exit)."""
    for name, value in THREAD_COLUMNS.items():
        for how in ("asc", "desc"):
            doc = snapshot(pipeline, "--view", "threads", "--sort", "%s:%s" % (name, how))
            rows = doc["threads_list"]
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
    kinds = [t["wait_kind"] for t in doc["threads_list"] if t["state"] == "parked"]
    assert kinds[0] == "fd" and kinds[-3:] == ["chan_recv"] * 3
    assert doc["threads_list"][0]["wait_obj"] == 0
    doc = snapshot(pipeline, "--view", "threads", "--sort", "name")
    assert [t["name"] for t in doc["threads_list"]] == [""] + ["idler"] * 3 + ["looper"] * 4
    doc = snapshot(pipeline, "--view", "threads", "--sort", "location:desc")
    idlers = [t for t in doc["threads_list"] if t["name"] == "idler"]
    assert doc["threads_list"][-3:] == idlers   # "idler_main (" sorts first


def test_sort_locations_text(pipeline):
    out = gt_top("-b", "-d", "0.3", "-p", pipeline.pid, "--sort", "location").stdout
    at = next(l for l in out.splitlines() if "LOCATION" in l).index("LOCATION")
    texts = [l[at:] for l in out.splitlines() if "(pipeline.c:" in l]
    assert texts == sorted(texts) and len(texts) >= 4
    assert site(texts[0]) == where("idle", "idler_main")


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
    assert doc["threads"] == 100001
    assert locs_by_where(doc)[where("idle", "idler_main")]["waiting"] == 100000
    ids = [t["id"] for t in doc["threads_list"]]
    assert ids == list(range(100001, 0, -1))


def test_touched_filled_from_the_measure(pipeline):
    """The header's stack measure also gives each thread its touched bytes:
    TOUCHED is filled in text and JSON, at least the live bytes of an idler
    (parked for ever, its frames written) and at most its reservation."""
    doc = snapshot(pipeline, "--view", "threads")
    assert doc["stacks"]["measured"] is True
    for t in doc["threads_list"]:
        st = t["stack"]
        assert st["touched"] is not None, t
        assert st["touched"] <= st["reserved"], t
        assert st["touched"] + st["unused"] == st["reserved"], t
        if t["name"] == "idler":
            assert st["touched"] >= st["live"] > 0, t
            assert st["dead"] == st["touched"] - st["live"], t
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


def test_file_io_in_every_format():
    """The fixture's main thread reads its own program 7 times, a byte per
    read(): the header, JSON and Prometheus say 7 file I/O calls."""
    p = Pipeline(0, 1, 0, 7)
    try:
        doc = snapshot(p)
        text = gt_top("-b", "-d", "0.2", "-p", p.pid).stdout
        prom = gt_top("-b", "-d", "0.2", "-p", p.pid, "--format", "prometheus").stdout
    finally:
        p.stop()
    assert doc["file_io_calls"] == 7
    assert doc["file_io_ns"] > 0
    assert re.search(r"; file I/O 7 calls, \d", text), text
    m = parse_prometheus(prom)
    assert m["gt_file_io_calls_total"] == 7
    assert m["gt_file_io_seconds_total"] == doc["file_io_ns"] / 1e9
    assert "# TYPE gt_file_io_seconds_total counter" in prom


def test_done_quantiles_not_past_the_longest_wait(pipeline):
    """Completed waits' percentiles come from log2 buckets: a bucket's upper
    bound (4.2 ms for 3 ms sleeps, 1099.5 s for 600 s ones) is clamped to
    the longest wait recorded, and never below the shortest possible one."""
    doc = snapshot(pipeline)
    for l in doc["locations"]:
        if l["completed"]:
            assert l["done_p50_ns"] <= l["done_p99_ns"] <= l["wait_max_ns"], l
    b = locs_by_where(doc)[where("stage_b", "stage_b")]
    # Every wait there sleeps 3 ms at least.
    assert b["wait_max_ns"] >= 3_000_000 and b["done_p50_ns"] >= 3_000_000, b
    text = gt_top("-b", "-d", "0.3", "-p", pipeline.pid, "--sort", "done_p99").stdout
    assert "DONE99" in text


def test_classes_by_entry_name_prefix():
    """Classes default to the entry function; --class-by name and prefix
    group by the thread's name (the shared-site threads are named "left"
    and "right", both entries differ); suggestions are the library's:
    at least the class's largest touched stack plus a page."""
    p = Pipeline(2, 3, 2)
    try:
        docs = {by: json.loads(gt_top("-b", "-d", "0.2", "-p", p.pid, "--format", "json",
                                      "--view", "stacks", *(["--class-by", by] if by else [])
                                      ).stdout)["stacks_report"]
                for by in ("", "entry", "name", "prefix")}
        text = gt_top("-b", "-d", "0.2", "-p", p.pid, "--view", "stacks",
                      "--class-by", "name").stdout
    finally:
        p.stop()
    classes = {by: {c["class"]: c for c in d["classes"]} for by, d in docs.items()}
    assert docs[""]["class_by"] == "entry" and classes[""].keys() == classes["entry"].keys()
    assert {k: c["threads"] for k, c in classes["entry"].items()} == {
        "looper_main": 2, "idler_main": 3, "left_main": 2, "right_main": 2, "main_thread": 1}
    assert {k: c["threads"] for k, c in classes["name"].items()} == {
        "looper": 2, "idler": 3, "left": 2, "right": 2, "-": 1}
    assert classes["prefix"].keys() == classes["name"].keys()
    for c in classes["entry"].values():
        assert c["sampled"] == c["threads"]
        assert c["suggested_stack_size"] >= c["touched"]["max"] + 4096, c
        assert c["suggested_stack_size"] % 4096 == 0
        assert c["touched"]["p50"] <= c["touched"]["p99"] <= c["touched"]["max"]
    assert "Classes (by name):" in text
    r = gt_top("-b", "-p", "1", "--class-by", "thread", check=False)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        "gt-top: --class-by is entry, name or prefix, not 'thread' (gt-top --help for usage)"]


def test_fresh_threads_are_counted_but_not_sampled():
    """Threads holding no stack are members of their class but tell nothing
    of how deep it goes: threads counts them, sampled does not, and a class
    of nothing else gets no suggestion (null)."""
    p = Unstacked(4, 2)
    try:
        rep = json.loads(gt_top("-b", "-d", "0.2", "-p", p.pid, "--format", "json",
                                "--view", "stacks").stdout)["stacks_report"]
    finally:
        p.stop()
    # An unstacked thread starts over in its continuation: that is its entry.
    idle = next(c for c in rep["classes"] if c["class"] == "idle_restart")
    assert idle["threads"] == 4 and idle["sampled"] == 0, idle
    assert idle["suggested_stack_size"] is None
    # Nothing sampled: no percentile either, not 0 bytes.
    assert idle["touched"] == idle["live"] == {"p50": None, "p99": None, "max": None}


def test_not_linked_with_the_tools_common_code():
    """gt-top prints through libgtobserve: none of gt-stacks' and gt-waste's
    own helpers (tools/common.c) is in it."""
    syms = subprocess.run(["nm", GT_TOP], capture_output=True, text=True,
                          check=True).stdout.split()
    for name in ("target_open", "target_args_check", "fmt_duration", "describe_pc"):
        assert name not in syms, name
    assert "gto_fmt_duration" in syms


def test_idle_counts_the_wait_in_progress():
    """With every thread parked for ever the poller blocks in one wait that
    never returns: gt-top counts that wait as idle (it showed 0%)."""
    p = Pipeline(0, 3)
    try:
        doc = snapshot(p)
        prom = parse_prometheus(gt_top("-b", "-d", "0.5", "-p", p.pid,
                                       "--format", "prometheus").stdout)
        text = gt_top("-b", "-d", "0.5", "-p", p.pid).stdout
    finally:
        p.stop()
    assert doc["idle_share"] > 0.9, doc["idle_share"]
    # At least the 0.5 s between the baseline and the snapshot.
    assert doc["idle_ns"] >= 500_000_000 and doc["idle_ns"] <= doc["uptime_ns"]
    assert prom["gt_idle_seconds_total"] >= 0.5
    assert re.search(r"; idle (9\d|100)%", text), text


def test_core_ages_true_or_lower_bounds(tmp_path):
    """A core's now is when it was written (its mtime), not the runtime's
    last clock reading: ages and uptime are true to the second.  A core
    whose mtime cannot tell (copied without it) gives them as lower bounds:
    ">= " in text, now_exact false in JSON."""
    t0 = time.monotonic()
    p = Pipeline(0, 3)
    try:
        time.sleep(1.5)
        prefix = str(tmp_path / "core")
        subprocess.run(["gcore", "-o", prefix, str(p.pid)], check=True,
                       capture_output=True, timeout=120)
        t1 = time.monotonic()
    finally:
        p.stop()
    core = "%s.%d" % (prefix, p.pid)
    doc = json.loads(gt_top("-b", "--core", core, "--exe", PIPELINE,
                            "--format", "json").stdout)
    assert doc["now_exact"] is True
    assert 1_500_000_000 <= doc["uptime_ns"] <= (t1 - t0) * 1e9
    idle = locs_by_where(doc)[where("idle", "idler_main")]
    assert 1_400_000_000 <= idle["age_max_ns"] <= doc["uptime_ns"]
    os.utime(core, (1, 1))
    doc = json.loads(gt_top("-b", "--core", core, "--exe", PIPELINE,
                            "--format", "json").stdout)
    assert doc["now_exact"] is False
    assert doc["uptime_ns"] < 1_500_000_000
    text = gt_top("-b", "--core", core, "--exe", PIPELINE).stdout
    assert re.search(r"  up >= \d", text), text
    row = next(l for l in text.splitlines() if where("idle", "idler_main") + " < " in l)
    assert row.split()[:3] == ["3", row.split()[1], ">="], row
    threads = gt_top("-b", "--core", core, "--exe", PIPELINE, "--view", "threads").stdout
    idlers = [l for l in threads.splitlines() if " idler " in l]
    assert len(idlers) == 3 and all(" >= " in l for l in idlers), idlers


GT_WASTE = os.path.join(os.path.dirname(GT_TOP), "gt-waste")


def test_classes_agree_with_gt_waste():
    """gt-top's Stacks view and gt-waste give every class the same members,
    percentiles and suggestion, under each --class-by (threads that never
    move: idlers, the shared-site threads, main on stdin)."""
    p = Pipeline(0, 5, 2)
    try:
        for by in ("entry", "name", "prefix"):
            top = json.loads(gt_top("-b", "-d", "0.2", "-p", p.pid, "--format", "json",
                                    "--view", "stacks", "--class-by", by).stdout)
            r = subprocess.run([GT_WASTE, "--json", "--class-by", by, str(p.pid)],
                               capture_output=True, text=True, timeout=60)
            assert r.returncode == 0, r.stderr
            keys = ("class", "threads", "sampled", "touched", "live",
                    "suggested_stack_size", "saves")
            mine = sorted([{k: c[k] for k in keys} for c in top["stacks_report"]["classes"]],
                          key=lambda c: c["class"])
            theirs = sorted([{k: c[k] for k in keys} for c in json.loads(r.stdout)["classes"]],
                            key=lambda c: c["class"])
            assert mine == theirs, by
    finally:
        p.stop()
