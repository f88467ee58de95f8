"""gt-top over several processes (-p PID1,PID2, --name PATTERN): two or
three pipeline fixtures of known shape (tests/viewer/pipeline.c: NLOOP
loopers between stage_a and stage_b, NIDLE idlers waiting on a channel
at idler_main, the main thread reading stdin at main_thread), merged by
location label, summed, labelled by pid; a process that exits is
dropped with a note."""
import json
import os
import shutil
import signal
import subprocess

import jsonschema
import pytest

import installed_schemas
from conftest import BUILD, GT_TOP, PIPELINE, Pipeline, gt_top, site, where
from test_batch import parse_prometheus
from test_screen import SESSION, keys, screen, tmux, wait_for
from test_blockers import Blockers
from test_text_columns import check_aligned, table_of, titles

IDLE = where("idle", "idler_main")
HOLD = where("hold", "main_thread")


class Named(Pipeline):
    """The pipeline fixture run from a copy named EXE: --name then finds
    exactly these processes, whatever else runs on the machine."""

    def __init__(self, exe, nloop, nidle):
        super().__init__(nloop, nidle, exe=exe)


@pytest.fixture
def two():
    a, b = Pipeline(4, 3), Pipeline(2, 5)
    yield a, b
    a.stop()
    b.stop()


def by_site(doc):
    return {site(l["where"]): l for l in doc["locations"]}


def multi_json(*args):
    return json.loads(gt_top("-b", "-d", "0.3", "--format", "json", *args).stdout)


def test_json_sums_each_location_and_names_each_process(two):
    a, b = two
    doc = multi_json("-p", "%d,%d" % (a.pid, b.pid))
    assert doc["target"] == "2 processes" and doc["pid"] is None
    assert doc["threads"] == (4 + 3 + 1) + (2 + 5 + 1)
    assert sum(doc["states"].values()) + doc["in_flux"] == doc["threads"]
    procs = {p["pid"]: p for p in doc["processes"]}
    assert set(procs) == {a.pid, b.pid}
    assert procs[a.pid]["threads"] == 8 and procs[b.pid]["threads"] == 8
    assert all(p["exe"] == "pipeline" for p in procs.values())
    for state, n in doc["states"].items():
        assert n == procs[a.pid]["states"][state] + procs[b.pid]["states"][state]
    # One row per label, whatever the addresses of each process.
    wheres = [l["where"] for l in doc["locations"]]
    assert len(wheres) == len(set(wheres))
    locs = by_site(doc)
    idle, hold = locs[site(IDLE)], locs[site(HOLD)]
    assert idle["waiting"] == 3 + 5 and hold["waiting"] == 1 + 1
    assert {p["pid"]: p["waiting"] for p in idle["processes"]} == {a.pid: 3, b.pid: 5}
    # Every row is the sum of its processes' shares, in one document.
    for l in doc["locations"]:
        for key in ("waiting", "arrivals", "completed"):
            assert l[key] == sum(p[key] for p in l["processes"]), (l["where"], key)
    sa, sb = locs[site(where("stage_a", "stage_a"))], locs[site(where("stage_b", "stage_b"))]
    assert sa["waiting"] + sb["waiting"] <= 4 + 2
    assert sa["completed"] > 0 and sb["arrivals_per_s"] > 0


def test_merged_rows_equal_the_single_process_outputs(two):
    """The idlers and the main thread never move: each merged count is the
    sum of what gt-top -p A and gt-top -p B say alone."""
    a, b = two
    alone = [by_site(multi_json("-p", p.pid)) for p in (a, b)]
    # Taken after: its oldest wait is at least the older of the two.
    merged = by_site(multi_json("-p", a.pid, "-p", b.pid))
    for s in (site(IDLE), site(HOLD)):
        for key in ("waiting", "arrivals", "completed"):
            assert merged[s][key] == alone[0][s][key] + alone[1][s][key], (s, key)
        assert merged[s]["age_max_ns"] >= max(x[s]["age_max_ns"] for x in alone)


def test_threads_carry_their_pid(two):
    a, b = two
    doc = multi_json("-p", "%d,%d" % (a.pid, b.pid), "--view", "threads")
    rows = doc["threads_list"]
    assert len(rows) == 16
    # "location" names a row of the document's own (merged) locations.
    merged = {l["index"]: l["where"] for l in doc["locations"]}
    assert all(merged[t["location"]] == t["where"] for t in rows if t["location"])
    for p in (a, b):
        mine = [t for t in rows if t["pid"] == p.pid]
        assert sorted(t["id"] for t in mine) == list(range(1, 9))
        assert sum(t["name"] == "idler" for t in mine) == p.nidle
        assert sum(t["name"] == "looper" for t in mine) == p.nloop


def test_every_view_follows_the_schema(two, tmp_path):
    a, b = two
    schema = installed_schemas.load(installed_schemas.install(tmp_path, BUILD), "gt-top")
    v = jsonschema.Draft202012Validator(schema)
    for view in ("locations", "threads", "stacks", "graph"):
        out = gt_top("-b", "-n", "2", "-d", "0.1", "-p", "%d,%d" % (a.pid, b.pid),
                     "--view", view, "--format", "json").stdout
        docs = [json.loads(l) for l in out.splitlines()]
        assert len(docs) == 2
        for d in docs:
            errors = [e.message[:200] for e in v.iter_errors(d)]
            assert not errors, (view, errors[:5])
            assert installed_schemas.undescribed(schema, d) == [], view
    stacks = json.loads(gt_top("-b", "-d", "0.1", "-p", "%d,%d" % (a.pid, b.pid),
                                        "--view", "stacks", "--format", "json").stdout)
    classes = stacks["stacks_report"]["classes"]
    idlers = {c["pid"]: c["threads"] for c in classes if c["class"] == "idler_main"}
    assert idlers == {a.pid: 3, b.pid: 5}


def test_blockers_and_cycles_name_their_process():
    """tests/tools/blockers.c twice: each process's cycles and blockers,
    each with its pid (thread ids are per process), in JSON and text."""
    a, b = Blockers(), Blockers()
    try:
        one = multi_json("-p", a.pid)
        doc = multi_json("-p", "%d,%d" % (a.pid, b.pid))
        text = gt_top("-b", "-d", "0.1", "-p", "%d,%d" % (a.pid, b.pid)).stdout
    finally:
        a.stop()
        b.stop()
    assert len(doc["deadlocks"]) == 2 * len(one["deadlocks"]) > 0
    assert doc["threads_in_deadlock"] == 2 * one["threads_in_deadlock"]
    # A member's location is an index of the document's own locations.
    merged_where = {l["index"]: l["where"] for l in doc["locations"]}
    one_where = {l["index"]: l["where"] for l in one["locations"]}
    members = lambda cycles, wheres: [[(t["id"], t["name"], t["held_by"], wheres[t["location"]])
                                       for t in c["threads"]] for c in cycles]
    for pid in (a.pid, b.pid):
        mine = [c for c in doc["deadlocks"] if c["pid"] == pid]
        assert members(mine, merged_where) == members(one["deadlocks"], one_where)
    for l in doc["locations"]:
        solo = [x for x in one["locations"] if x["where"] == l["where"]]
        assert len(solo) == 1
        assert sorted((x["pid"], x["id"], x["waiters"]) for x in l["blocked_by"]) == \
            sorted((p, x["id"], x["waiters"]) for p in (a.pid, b.pid)
                   for x in solo[0]["blocked_by"])
    assert "DEADLOCK: %d cycles, %d threads" % (len(doc["deadlocks"]),
                                               doc["threads_in_deadlock"]) in text
    assert text.count("deadlock: cycle of") == len(doc["deadlocks"])
    held = [x for x in one["locations"] if x["blocked_by"]
            and x["blocked_by"][0]["waiters"] > 1][0]
    row = next(l for l in text.splitlines()[:text.splitlines().index("By process:")]
               if held["where"] in l)
    top = held["blocked_by"][0]
    assert "pid %d thread %d (%d) +%d" % (a.pid, top["id"], top["waiters"],
                                         2 * len(held["blocked_by"]) - 1) in row


def test_the_running_thread_names_its_process():
    """One process's thread spins: the header's running thread is that
    one, with its pid, whichever process it is."""
    a, b = Blockers(), Blockers()
    try:
        spin = b.spin(5)
        doc = multi_json("-p", "%d,%d" % (a.pid, b.pid))
        text = gt_top("-b", "-d", "0.2", "-p", "%d,%d" % (a.pid, b.pid)).stdout
    finally:
        a.stop()
        b.stop()
    assert doc["running"]["pid"] == b.pid and doc["running"]["id"] == spin["id"]
    assert doc["states"]["running"] == 1
    line = next(l for l in text.splitlines() if '"spinner" has run' in l)
    assert line.startswith("HOG over") and line.endswith("(pid %d)" % b.pid), line


def test_text_sums_then_splits_by_process(two):
    a, b = two
    out = gt_top("-b", "-d", "0.3", "-p", "%d,%d" % (a.pid, b.pid)).stdout
    lines = out.splitlines()
    assert lines[0].startswith("gt-top - 2 processes: %d (pipeline), %d (pipeline)"
                               % (a.pid, b.pid))
    assert "Threads: 16 total" in out
    split_at = lines.index("By process:")
    summed = [l for l in lines[:split_at] if IDLE + " < " in l]
    assert len(summed) == 1 and summed[0].split()[0] == "8"
    split = [l.split() for l in lines[split_at:] if IDLE + " < " in l]
    assert sorted((int(r[0]), int(r[1])) for r in split) == [(a.pid, 3), (b.pid, 5)]
    assert lines[split_at + 1].split()[:2] == ["PID", "WAITING"]
    threads = gt_top("-b", "-d", "0.3", "-p", "%d,%d" % (a.pid, b.pid), "--view",
                     "threads").stdout
    rows = [l.split() for l in threads.splitlines() if len(l.split()) > 3
            and l.split()[3] in ("parked", "runnable", "running")]
    assert sum(int(r[0]) == a.pid and r[2] == "idler" for r in rows) == 3
    assert sum(int(r[0]) == b.pid and r[2] == "idler" for r in rows) == 5


def test_text_tables_with_a_pid_column_stay_aligned(two):
    a, b = two
    out = gt_top("-b", "-d", "0.2", "-p", "%d,%d" % (a.pid, b.pid)).stdout
    check_aligned(table_of(out, "PID  WAITING"), titles("loc_columns", multi=True))
    out = gt_top("-b", "-d", "0.2", "-p", "%d,%d" % (a.pid, b.pid), "--view", "threads").stdout
    check_aligned(table_of(out, "PID"), titles("thread_columns", multi=True))


def test_prometheus_a_target_per_process(two):
    a, b = two
    text = gt_top("-b", "-n", "2", "-d", "0.3", "-p", "%d,%d" % (a.pid, b.pid),
                  "--format", "prometheus").stdout
    r = subprocess.run([shutil.which("promtool") or "promtool", "check", "metrics"],
                       input=text, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    types = [l.split()[2] for l in text.splitlines() if l.startswith("# TYPE ")]
    assert len(types) == len(set(types))
    m = parse_prometheus(text)
    for p in (a, b):
        labels = 'pid="%d",exe="pipeline"' % p.pid
        got = [v for k, v in m.items()
               if k.startswith('gt_location_waiting_threads{%s,location="%s < ' % (labels, IDLE))]
        assert got == [p.nidle]
        assert sum(m['gt_threads{%s,state="%s"}' % (labels, st)] for st in
                   ("runnable", "running", "parked")) == p.nloop + p.nidle + 1
    assert {k.split('pid="')[1].split('"')[0] for k in m if 'pid="' in k} == \
        {str(a.pid), str(b.pid)}


def test_name_picks_exactly_the_gt_processes_of_that_name(tmp_path):
    name = "gtm%d" % (os.getpid() % 100000)
    exe = tmp_path / name
    shutil.copy(PIPELINE, exe)
    # Not a gt program, under a name the pattern matches too.
    other = tmp_path / (name + "x")
    shutil.copy("/bin/sleep", other)
    sleeper = subprocess.Popen([str(other), "60"])
    # A gt program under a matching name whose runtime has not started.
    early = tmp_path / (name + "early")
    shutil.copy(os.path.join(os.path.dirname(PIPELINE), "before_main"), early)
    waiting = subprocess.Popen([str(early)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               text=True)
    assert waiting.stdout.readline() == "ready\n"
    ps = [Named(str(exe), 1, n) for n in (1, 2, 3)]
    try:
        doc = json.loads(gt_top("-b", "-d", "0.2", "--name", name + "*", "--format",
                                "json").stdout)
        assert sorted(p["pid"] for p in doc["processes"]) == sorted(p.pid for p in ps)
        assert by_site(doc)[site(IDLE)]["waiting"] == 1 + 2 + 3
        # The exact name: the same three.
        doc = json.loads(gt_top("-b", "-d", "0.2", "--name", name, "--format",
                                "json").stdout)
        assert len(doc["processes"]) == 3
        r = gt_top("-b", "-d", "0.2", "--name", name + "-none", check=False)
        assert r.returncode == 1 and r.stdout == ""
        assert "no gt process whose name matches '%s-none'" % name in r.stderr
    finally:
        sleeper.kill()
        sleeper.wait()
        waiting.kill()
        waiting.wait()
        for p in ps:
            p.stop()


def test_a_process_that_exits_is_dropped_with_a_note(two):
    a, b = two
    top = subprocess.Popen([GT_TOP, "-b", "-n", "1000", "-d", "0.1", "--format", "json",
                            "-p", "%d,%d" % (a.pid, b.pid)], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    try:
        first = json.loads(top.stdout.readline())
        assert {p["pid"] for p in first["processes"]} == {a.pid, b.pid}
        b.stop()
        # Documents go on, B's gone from them; the sums are A's alone.
        for _ in range(100):
            doc = json.loads(top.stdout.readline())
            if len(doc["processes"]) == 1:
                break
        assert [p["pid"] for p in doc["processes"]] == [a.pid]
        assert by_site(doc)[site(IDLE)]["waiting"] == 3 and doc["threads"] == 8
        # The last one gone: the end a vanished target always had.
        a.stop()
        out, err = top.communicate(timeout=30)
    finally:
        if top.poll() is None:
            top.kill()
            top.wait()
    assert top.returncode == 1
    assert "gt-top: process %d (pipeline) exited" % b.pid in err
    assert err.count("\n") >= 2, err


def test_one_pid_stays_the_one_process_output(two):
    """-p A alone is the one-process gt-top (no processes member, a pid);
    -p A,A names one process twice: followed once, merged output."""
    a, _ = two
    one = multi_json("-p", a.pid)
    assert one["pid"] == a.pid and "processes" not in one
    twice = multi_json("-p", "%d,%d" % (a.pid, a.pid))
    assert twice["pid"] is None and [p["pid"] for p in twice["processes"]] == [a.pid]
    assert by_site(twice)[site(IDLE)]["waiting"] == 3


# ---- the screen -----------------------------------------------------------

def start_multi(pids, cols=100, rows=30):
    tmux("kill-server")
    tmux("new-session", "-d", "-s", SESSION, "-x", str(cols), "-y", str(rows),
         "%s -d 0.3 -p %s; echo gt-top-exited $?; sleep 30" % (GT_TOP, pids))
    return wait_for("gt-top - %d processes" % len(pids.split(",")))


@pytest.fixture
def three():
    ps = [Pipeline(2, n) for n in (1, 2, 4)]
    start_multi(",".join(str(p.pid) for p in ps))
    yield ps
    tmux("kill-server")
    for p in ps:
        p.stop()


def idle_rows(s):
    return [l.split() for l in s.splitlines() if "idler_main (pipeline.c" in l]


def test_screen_sums_and_splits_by_process(three):
    s = wait_for("idler_main (pipeline.c")
    assert "Threads: %d total" % sum(2 + n + 1 for n in (1, 2, 4)) in s
    rows = idle_rows(s)
    assert len(rows) == 1 and rows[0][0] == "7"
    keys("P")
    s = wait_for("view: locations by process")
    rows = idle_rows(s)
    assert sorted((int(r[0]), int(r[1])) for r in rows) == \
        sorted((p.pid, p.nidle) for p in three)
    assert s.splitlines()[[i for i, l in enumerate(s.splitlines())
                           if "view: locations by process" in l][0] + 1].split()[0] == "PID"
    keys("P")
    s = wait_for("view: locations ")
    assert len(idle_rows(s)) == 1
    # The Threads view: a PID column first.
    keys("2")
    s = wait_for("view: threads")
    title = next(l for l in s.splitlines() if "NAME" in l and "STATE" in l)
    assert [t.rstrip("^v") for t in title.split()[:2]] == ["PID", "ID"]


def test_screen_queue_drill_down_and_stacks_over_processes(three):
    # The idlers' queue never changes: full blocks, summed over processes.
    s = wait_for("\u2588\u2588\u2588")
    row = next(l for l in s.splitlines() if "idler_main (pipeline.c" in l)
    assert row.rstrip().endswith("\u2588\u2588\u2588"), row
    # Enter on the summed row: each process's threads there, under its
    # name (on a screen tall enough for all three).
    tmux("resize-window", "-t", SESSION, "-x", "100", "-y", "150")
    keys("/")
    keys("idler_main", "Enter")
    wait_for("filter: idler_main")
    keys("Enter")
    s = wait_for("view: location")
    for p in three:
        s = wait_for("process %d (pipeline):" % p.pid)
    lines = s.splitlines()
    for p in three:
        at = next(i for i, l in enumerate(lines) if l == "process %d (pipeline):" % p.pid)
        assert lines[at + 1].strip() == "%d threads waiting" % p.nidle, lines[at:at + 2]
    keys("Escape")
    keys("3")
    s = wait_for("process %d (pipeline):" % three[2].pid)
    for p in three:
        assert "process %d (pipeline):" % p.pid in s
    assert s.count("Functions holding live stack") == 3


def test_screen_split_row_drills_into_its_process(three):
    wait_for("idler_main (pipeline.c")
    keys("P")
    wait_for("view: locations by process")
    keys("/")
    keys("idler_main", "Enter")
    wait_for("filter: idler_main")
    # The longest queue first: the process with 4 idlers.
    keys("Home", "Enter")
    s = wait_for("threads waiting")
    assert "process %d (pipeline):" % three[2].pid in s
    assert sum("(pipeline):" in l for l in s.splitlines()) == 1
    assert "  4 threads waiting" in s.splitlines()


def test_screen_drops_a_process_that_exits(three):
    wait_for("idler_main (pipeline.c")
    gone = three[2]
    gone.stop()
    s = wait_for("process %d (pipeline) exited" % gone.pid)
    s = wait_for("gt-top - 2 processes")
    rows = idle_rows(s)
    assert rows and rows[0][0] == "3"
    assert "gt-top-exited" not in s
    keys("q")
    wait_for("gt-top-exited 0")


def test_screen_name_follows_processes_as_they_come(tmp_path):
    name = "gtn%d" % (os.getpid() % 100000)
    exe = tmp_path / name
    shutil.copy(PIPELINE, exe)
    ps = [Named(str(exe), 1, 2)]
    try:
        tmux("kill-server")
        tmux("new-session", "-d", "-s", SESSION, "-x", "100", "-y", "30",
             "%s -d 0.3 --name %s; echo gt-top-exited $?; sleep 30" % (GT_TOP, name))
        s = wait_for("gt-top - 1 process: %d (%s)" % (ps[0].pid, name))
        assert idle_rows(s)[0][0] == "2"
        ps.append(Named(str(exe), 1, 3))
        s = wait_for("gt-top - 2 processes")
        s = wait_for("process %d (%s) appeared" % (ps[1].pid, name))
        s = wait_for("Threads: %d total" % ((1 + 2 + 1) + (1 + 3 + 1)))
        assert [r[0] for r in idle_rows(s)] == ["5"]
        ps[0].stop()
        s = wait_for("process %d (%s) exited" % (ps[0].pid, name))
        s = wait_for("gt-top - 1 process: %d" % ps[1].pid)
        keys("q")
        wait_for("gt-top-exited 0")
    finally:
        tmux("kill-server")
        for p in ps:
            p.stop()
