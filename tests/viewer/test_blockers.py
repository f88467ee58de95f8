"""Who blocks whom in gt-top, against tests/tools/blockers.c, whose first
line is the truth: a holder and the 50 waiters it holds up, a two- and a
three-thread deadlock cycle among 1,000 busy threads, a bystander held up
by a cycle, a joiner, and on demand a spinner.  Every output (JSON, text,
Prometheus, the screen), live, from a gcore core and from a kernel core."""
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import time

import jsonschema
import pytest

import installed_schemas

from conftest import BUILD, GT_TOP, HERE, gt_top, marker_lines, site
from test_screen import SESSION, keys, screen, tmux, wait_for

BLOCKERS = os.path.join(BUILD, "tests", "tools", "blockers")
LINES = marker_lines(os.path.join(HERE, "..", "tools", "blockers.c"))
NBUSY = 1000            # the "among 1,000 busy threads"
NWAITERS = 50


def bsite(name, func):
    """The call site at LINE:name of blockers.c, in func."""
    return "%s (blockers.c:%d)" % (func, LINES[name])


WAIT_LOCK = bsite("wait_lock", "truth_wait_lock")
HOLDER = bsite("holder", "truth_holder")
SECOND = bsite("second", "cycle_second")
BYSTANDER = bsite("bystander", "bystander_lock")
JOIN = bsite("join", "join_here")
SLEEPER = bsite("sleeper", "sleeper_wait")
SERVE = bsite("serve", "busy_serve")


def unlimited_core():
    resource.setrlimit(resource.RLIMIT_CORE,
                       (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


class Blockers:
    """blockers running: self.truth is its first line's JSON."""

    def __init__(self, nbusy=NBUSY, cwd=None, env=None, extras=False):
        self.p = subprocess.Popen([BLOCKERS, "-n", str(nbusy)] + (["-x"] if extras else []),
                                  stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  text=True, cwd=cwd, preexec_fn=unlimited_core,
                                  env=dict(os.environ, **(env or {})))
        line = self.p.stdout.readline()
        assert line.startswith("truth "), line
        self.truth = json.loads(line[len("truth "):])
        self.pid = self.p.pid

    def spin(self, seconds):
        """Starts the spinner; its "spinning" JSON (id, start_ns)."""
        self.p.stdin.write("spin %g\n" % seconds)
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        assert line.startswith("spinning "), line
        return json.loads(line[len("spinning "):])

    def stop(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()
        self.p.stdout.close()
        self.p.stdin.close()


@pytest.fixture(scope="module")
def blockers():
    b = Blockers()
    yield b
    b.stop()


def json_doc(*args):
    return json.loads(gt_top("-b", "--format", "json", *args).stdout)


def live(b, *args):
    return ("-d", "0.1", "-p", b.pid) + args


def locs_by_site(doc):
    out = {}
    for l in doc["locations"]:
        assert site(l["where"]) not in out, l["where"]
        out[site(l["where"])] = l
    return out


def parse_prometheus(text):
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


def prom_location(m, metric, call_site):
    got = [v for k, v in m.items() if k.startswith('%s{location="%s' % (metric, call_site))]
    assert len(got) == 1, (metric, call_site, got)
    return got[0]


def check_schema(doc):
    """DOC is what schema/gt-top.schema.json describes."""
    with open(os.path.join(HERE, "..", "..", "schema", "gt-top.schema.json")) as f:
        schema = json.load(f)
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(doc))
    assert not errors, [e.message[:200] for e in errors[:5]]
    assert installed_schemas.undescribed(schema, doc) == []


# ---- what every reading must say: live, gcore, kernel core ---------------

def want_deadlocks(truth, second_index):
    """The two cycles as "deadlocks" gives them: ordered by their first
    member's id, each from its lowest id, member i waiting on member i+1's
    mutex (blockers.c: each locks its own, then the next member's)."""
    out = []
    for ids, mutexes, names in (
            (truth["cycle2"], truth["cycle2_mutexes"], ["cyc2-a", "cyc2-b"]),
            (truth["cycle3"], truth["cycle3_mutexes"], ["cyc3-a", "cyc3-b", "cyc3-c"])):
        n = len(ids)
        out.append({"threads": [
            {"id": ids[i], "name": names[i], "location": second_index,
             "waits_for": {"kind": "mutex", "object": mutexes[(i + 1) % n]},
             "held_by": ids[(i + 1) % n]} for i in range(n)]})
    return sorted(out, key=lambda c: c["threads"][0]["id"])


def check_blockers_doc(doc, truth):
    """The JSON's who-blocks-whom against the truth."""
    locs = locs_by_site(doc)
    wl = locs[WAIT_LOCK]
    assert wl["waiting"] == NWAITERS
    assert wl["blocked_by"] == [{"id": truth["holder"], "waiters": NWAITERS}]
    assert locs[BYSTANDER]["blocked_by"] == [{"id": truth["cycle2"][0], "waiters": 1}]
    assert locs[JOIN]["blocked_by"] == [{"id": truth["sleeper"], "waiters": 1}]
    members = sorted(truth["cycle2"] + truth["cycle3"])
    # Five blockers holding up one waiter each: ties by lowest id.
    assert locs[SECOND]["blocked_by"] == [{"id": i, "waiters": 1} for i in members]
    for s in (HOLDER, SLEEPER, SERVE):
        assert locs[s]["blocked_by"] == [], s
    # Exactly the two cycles: the bystander, held up by one, is in none.
    assert doc["deadlocks"] == want_deadlocks(truth, locs[SECOND]["index"])
    assert doc["threads_in_deadlock"] == 5
    # The Graph view's waits on threads: a chain from the bystander into
    # the cycles, the waiters to where the holder sleeps.
    edges = {(e["from"], e["to"]): e for e in doc["block_edges"]}
    idx = {s: l["index"] for s, l in locs.items()}

    def edge(a, b):
        return {k: v for k, v in edges[(idx[a], idx[b])].items() if k not in ("from", "to")}
    assert edge(WAIT_LOCK, HOLDER) == {"to_state": "parked", "waiters": 50, "threads": 1}
    assert edge(BYSTANDER, SECOND) == {"to_state": "parked", "waiters": 1, "threads": 1}
    assert edge(SECOND, SECOND) == {"to_state": "parked", "waiters": 5, "threads": 5}
    assert edge(JOIN, SLEEPER) == {"to_state": "parked", "waiters": 1, "threads": 1}
    assert len(doc["block_edges"]) == 4


def check_banner_text(text, truth):
    """Text batch: the banner in the header, then every cycle's lines."""
    head = text.split("\n\n")[0].splitlines()
    assert head[1] == "DEADLOCK: 2 cycles, 5 threads", head
    c2, c3 = truth["cycle2"], truth["cycle3"]
    m2, m3 = truth["cycle2_mutexes"], truth["cycle3_mutexes"]
    lines = text.splitlines()
    for ids, mutexes, names in ((c2, m2, ["cyc2-a", "cyc2-b"]),
                                (c3, m3, ["cyc3-a", "cyc3-b", "cyc3-c"])):
        n = len(ids)
        at = lines.index("deadlock: cycle of %d threads" % n)
        members = [l for l in lines[at + 1:] if l.startswith("  thread ")][:n]
        assert members == ['  thread %d "%s" at %s waits for mutex 0x%x held by thread %d "%s"'
                           % (ids[i], names[i], SECOND, mutexes[(i + 1) % n],
                              ids[(i + 1) % n], names[(i + 1) % n]) for i in range(n)]
    assert text.count("deadlock: cycle of") == 2


def table_row(text, call_site):
    """The Locations table's row of CALL_SITE (the cycles' "where" lines
    name locations too)."""
    rows = [l for l in text.splitlines()
            if call_site + " < " in l and re.match(r" *[\d,]+ ", l)]
    assert len(rows) == 1, rows
    return rows[0]


def wait_lock_row(text):
    return table_row(text, WAIT_LOCK)


# ---- live ------------------------------------------------------------------

def test_locations_cycles_and_graph_live(blockers):
    doc = json_doc(*live(blockers))
    check_blockers_doc(doc, blockers.truth)
    text = gt_top("-b", *live(blockers)).stdout
    check_banner_text(text, blockers.truth)
    # BLOCKED BY: the top blocker and how many it holds up, +N more.
    assert " thread %d (50) " % blockers.truth["holder"] in wait_lock_row(text)
    second = table_row(text, SECOND)
    assert " thread %d (1) +4 " % min(blockers.truth["cycle2"]) in second, second
    serve = table_row(text, SERVE)
    assert " thread " not in serve
    # The graph's convoy: waits on a thread parked at the holder's place.
    graph = gt_top("-b", "--view", "graph", *live(blockers)).stdout.splitlines()
    at = next(i for i, l in enumerate(graph) if l.startswith(WAIT_LOCK + " < "))
    end = next((i for i in range(at + 1, len(graph)) if not graph[i].startswith("  ")),
               len(graph))
    block = [l for l in graph[at + 1:end] if l.startswith("  => ")]
    assert len(block) == 1, graph[at:end]
    assert block[0].startswith("  => waits on a thread parked at %s < " % HOLDER), block
    assert block[0].endswith("[50 held up]"), block
    # DOT draws them apart from the transitions.
    dot = gt_top("-b", "--format", "dot", *live(blockers)).stdout
    assert dot.count("style=dashed, color=red") == 4
    r = subprocess.run(["dot", "-Tplain"], input=dot, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_threads_say_who_holds_them_up(blockers):
    t = blockers.truth
    before = time.monotonic_ns()
    doc = json_doc(*live(blockers, "--view", "threads"))
    after = time.monotonic_ns()
    check_schema(doc)
    th = {x["id"]: x for x in doc["threads_list"]}
    for w in t["waiters"]:
        b = th[w]["blocked_by"]
        held = b.pop("held_ns")
        assert b == {"id": t["holder"], "kind": "mutex", "object": t["mutex"],
                     "edge": True, "cycle": None}
        # The holder took the mutex between held_lo and held_hi.
        assert before - t["held_hi"] <= held <= after - t["held_lo"], held
        assert re.fullmatch(r'mutex 0x%x held by thread %d "holder" \(parked, sleep at '
                            r'%s\) for \S+' % (t["mutex"], t["holder"], re.escape(HOLDER)),
                            th[w]["block"]), th[w]["block"]
    j = th[t["joiner"]]
    assert j["blocked_by"] == {"id": t["sleeper"], "kind": "join", "object": t["sleeper"],
                               "edge": True, "held_ns": None, "cycle": None}
    assert j["block"] == "join thread %d (parked, sleep at %s)" % (t["sleeper"], SLEEPER)
    for n, ids in ((1, t["cycle2"]), (2, t["cycle3"])):
        for i in ids:
            assert th[i]["blocked_by"]["cycle"] == n and th[i]["blocked_by"]["edge"] is True
    by = th[t["bystander"]]["blocked_by"]
    assert (by["id"], by["cycle"]) == (t["cycle2"][0], None)
    assert th[t["holder"]]["blocked_by"] is None
    assert th[t["holder"]]["block"].startswith("sleep ")
    # The text Threads view says it too, and sorts by who holds it up.
    text = gt_top("-b", *live(blockers, "--view", "threads")).stdout
    rows = [l for l in text.splitlines() if ' held by thread %d "holder" ' % t["holder"] in l]
    assert len(rows) == NWAITERS
    assert all(" thread %d " % t["holder"] in r.split(" < ")[-1] for r in rows), rows[0]
    doc = json_doc(*live(blockers, "--view", "threads", "--sort", "blocked_by:desc"))
    ids = [(x["blocked_by"] or {}).get("id") or 0 for x in doc["threads_list"]]
    assert ids == sorted(ids, reverse=True)
    assert ids.count(t["holder"]) == NWAITERS and ids[0] == t["sleeper"]


def test_cond_and_channel_waits():
    """A cond waiter is held up by the owner of the mutex it will retake,
    through no edge (any thread may signal); a channel's waiters by
    nobody: their fill and who waits on the other side."""
    b = Blockers(extras=True)
    try:
        doc = json_doc(*live(b, "--view", "threads"))
        text = gt_top("-b", *live(b, "--view", "threads")).stdout
        prom = parse_prometheus(gt_top("-b", "--format", "prometheus", *live(b)).stdout)
    finally:
        b.stop()
    t = b.truth
    th = {x["id"]: x for x in doc["threads_list"]}
    cw = th[t["condwait"]]
    assert cw["blocked_by"]["held_ns"] > 0
    cw["blocked_by"].pop("held_ns")
    assert cw["blocked_by"] == {"id": t["condheld"], "kind": "cond", "object": t["cond"],
                                "edge": False, "cycle": None}
    assert re.fullmatch(r'cond 0x%x then mutex 0x%x held by thread %d "condheld" \(parked, '
                        r'sleep at %s\) for \S+' % (t["cond"], t["cond_mutex"], t["condheld"],
                                                    re.escape(bsite("condheld", "cond_hold"))),
                        cw["block"]), cw["block"]
    for i in t["chan_rx"]:
        assert th[i]["block"] == "chan_recv 0x%x (0/4 queued, 0 senders waiting)" % t["chan_empty"]
        assert th[i]["blocked_by"] is None
    for i in t["chan_tx"]:
        assert th[i]["block"] == "chan_send 0x%x (1/1 queued, 0 receivers waiting)" % t["chan_full"]
        assert th[i]["blocked_by"] is None
    locs = locs_by_site(doc)
    for call_site in (bsite("cond", "cond_wait_here"), bsite("chan_recv", "chan_recv_here"),
                      bsite("chan_send", "chan_send_here")):
        assert locs[call_site]["blocked_by"] == [], call_site
        assert prom_location(prom, "gt_location_blocked_threads", call_site) == 0
    assert doc["deadlocks"] == want_deadlocks(t, locs[SECOND]["index"])
    assert text.count("(0/4 queued, 0 senders waiting)") == 2


def test_prometheus_is_the_truth(blockers):
    text = gt_top("-b", "--format", "prometheus", *live(blockers)).stdout
    r = subprocess.run([shutil.which("promtool") or "promtool", "check", "metrics"],
                       input=text, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    m = parse_prometheus(text)
    assert m["gt_deadlocked_threads"] == 5
    assert m["gt_deadlock_cycles"] == 2
    assert m["gt_hog"] == 0 and m["gt_running_seconds"] < 0.1
    assert "gt_watchdog_samples_total" in m
    for name, kind in (("gt_deadlocked_threads", "gauge"), ("gt_deadlock_cycles", "gauge"),
                       ("gt_running_seconds", "gauge"), ("gt_hog", "gauge"),
                       ("gt_watchdog_samples_total", "counter"),
                       ("gt_location_blocked_threads", "gauge")):
        assert "# TYPE %s %s\n" % (name, kind) in text and "# HELP %s " % name in text
    assert prom_location(m, "gt_location_blocked_threads", WAIT_LOCK) == 50
    assert prom_location(m, "gt_location_blocked_threads", BYSTANDER) == 1
    assert prom_location(m, "gt_location_blocked_threads", SECOND) == 5
    assert prom_location(m, "gt_location_blocked_threads", SERVE) == 0


def test_screen_banner_and_deadlock_list(blockers):
    tmux("kill-server")
    tmux("new-session", "-d", "-s", SESSION, "-x", "160", "-y", "40",
         "%s -d 0.3 -p %d; echo gt-top-exited $?; sleep 30" % (GT_TOP, blockers.pid))
    try:
        t = blockers.truth
        s = wait_for("DEADLOCK: 2 cycles, 5 threads -- press D for the list", 20)
        # Highlighted: drawn reversed (and red where there is colour).
        shown = tmux("capture-pane", "-p", "-e", "-t", SESSION).stdout
        line = next(l for l in shown.splitlines() if "DEADLOCK:" in l)
        sgr = line[:line.index("DEADLOCK:")]
        assert re.search(r"\x1b\[(?:\d+;)*7(?:;\d+)*m", sgr), repr(line)
        s = wait_for(" thread %d (50) " % t["holder"])
        assert WAIT_LOCK in next(l for l in s.splitlines() if " thread %d (50) " % t["holder"] in l)
        assert "BLOCKED BY" in s
        keys("D")
        s = wait_for("view: deadlocks")
        assert "deadlock: cycle of 2 threads" in s and "deadlock: cycle of 3 threads" in s
        assert '  thread %d "cyc2-a" at %s waits for mutex 0x%x held by thread %d "cyc2-b"' % (
            t["cycle2"][0], SECOND, t["cycle2_mutexes"][1], t["cycle2"][1]) in s
        keys("Escape")
        wait_for("view: locations")
        # The Threads view: who holds each waiter up, in a column.
        keys("2")
        wait_for("view: threads")
        keys("/")
        keys("waiter", "Enter")
        s = wait_for("filter: waiter")
        rows = [l for l in s.splitlines() if " waiter " in l and " parked " in l]
        assert rows and all(re.search(r" thread %d +\S" % t["holder"], r) for r in rows), s
        assert "BLOCKED BY" in s
        # The Graph view: the waits on threads, a row each.
        keys("4")
        s = wait_for("view: graph")
        assert re.search(r"^ +50 held  by 1 thread  %s < .* => %s < " % (
            re.escape(WAIT_LOCK), re.escape(HOLDER)), s, re.M), s
        assert re.search(r"^ +5 held  by 5 threads %s < .* => %s < " % (
            re.escape(SECOND), re.escape(SECOND)), s, re.M), s
        keys("1")
        wait_for("view: locations")
        keys("h")
        s = wait_for("gt-top keys")
        assert "  D               the deadlock list" in s
        keys("x")
        keys("q")
        wait_for("gt-top-exited 0")
    finally:
        tmux("kill-server")


def test_80_columns_keep_who_holds_what(blockers):
    """At 80 columns a member's line wraps in the deadlock list (its end
    names the holder) and a wait on a thread keeps both its ends."""
    t = blockers.truth
    tmux("kill-server")
    tmux("new-session", "-d", "-s", SESSION, "-x", "80", "-y", "30",
         "%s -d 0.3 -p %d; sleep 30" % (GT_TOP, blockers.pid))
    try:
        wait_for("DEADLOCK: 2 cycles", 20)
        keys("4")
        s = wait_for("view: graph")
        assert re.search(r"^ +50 held  by 1 thread  %s => %s" % (
            re.escape(WAIT_LOCK), re.escape(HOLDER[:80 - 27 - len(WAIT_LOCK) - 4])), s, re.M), s
        keys("D")
        s = wait_for("view: deadlocks")
        lines = s.splitlines()
        at = lines.index('  thread %d "cyc2-a" at %s waits for mutex' % (t["cycle2"][0], SECOND))
        assert lines[at + 1] == '      0x%x held by thread %d "cyc2-b"' % (
            t["cycle2_mutexes"][1], t["cycle2"][1]), lines[at:at + 2]
    finally:
        tmux("kill-server")


# ---- the spinner, and cores ------------------------------------------------

def check_spinner(doc, spin, lo_ns, hi_ns, exact=True):
    """The running thread is the spinner, run for between LO and HI ns of
    truth (the reading happened then), within 10%."""
    r = doc["running"]
    assert (r["id"], r["name"]) == (spin["id"], "spinner"), r
    assert 0.9 * (lo_ns - spin["start_ns"]) <= r["run_ns"] <= 1.1 * (hi_ns - spin["start_ns"]), \
        (r, lo_ns - spin["start_ns"], hi_ns - spin["start_ns"])
    assert r["hog"] is True and r["run_ns"] >= r["threshold_ns"] > 0
    assert r["run_exact"] is exact
    assert doc["states"]["running"] == 1


def hog_line(text):
    return next(l for l in text.splitlines() if re.match(r"(Running|HOG over \S+): ", l))


def test_spinner_live():
    b = Blockers()
    try:
        # Long enough for every reading below: it is stopped, not awaited.
        spin = b.spin(60)
        time.sleep(1.0)
        lo = time.monotonic_ns()
        doc = json_doc("-d", "0.05", "-p", b.pid)
        hi = time.monotonic_ns()
        check_spinner(doc, spin, lo, hi)
        # The runtime's watchdog (GT_WATCHDOG_MS, 100 ms by default) has
        # sampled the spinner's stack, and counts it.
        assert doc["watchdog"]["threshold_ns"] == 100_000_000
        assert doc["watchdog"]["events"] >= 1
        assert doc["running"]["threshold_ns"] == 100_000_000
        assert doc["running"]["sampled"] is True and doc["running"]["sample_age_ns"] >= 0
        name = 'thread %d "spinner" has run ' % spin["id"]
        # The Stacks view, which unwinds, unwinds the spinner from it.
        doc = json_doc("-d", "0.05", "-p", b.pid, "--view", "stacks")
        assert doc["running"]["sampled"] is True and doc["running"]["sample_age_ns"] >= 0
        # Highlighted past -H (default 100 ms), not below it.
        line = hog_line(gt_top("-b", "-d", "0.05", "-p", b.pid).stdout)
        assert line.startswith("HOG over 100.0ms: " + name), line
        assert re.search(r" without yielding \(stack sampled \S+ ago\); watchdog 100\.0ms, "
                         r"\d+ samples?$", line), line
        line = hog_line(gt_top("-b", "-d", "0.05", "-H", "400ms", "-p", b.pid).stdout)
        assert line.startswith("HOG over 400.0ms: " + name), line
        line = hog_line(gt_top("-b", "-d", "0.05", "-H", "1h", "-p", b.pid).stdout)
        assert line.startswith("Running: " + name), line
        m = parse_prometheus(gt_top("-b", "-d", "0.05", "--format", "prometheus",
                                    "-p", b.pid).stdout)
        assert m["gt_hog"] == 1 and m["gt_running_seconds"] > 1.0
        assert m["gt_watchdog_samples_total"] >= 1
        # The screen's header: the same line, highlighted (reversed).
        tmux("kill-server")
        tmux("new-session", "-d", "-s", SESSION, "-x", "160", "-y", "40",
             "%s -d 0.3 -H 250ms -p %d; sleep 30" % (GT_TOP, b.pid))
        try:
            wait_for("HOG over 250.0ms: " + name, 10)
            shown = tmux("capture-pane", "-p", "-e", "-t", SESSION).stdout
            line = next(l for l in shown.splitlines() if "HOG over" in l)
            assert re.search(r"\x1b\[(?:\d+;)*7(?:;\d+)*m", line[:line.index("HOG")]), \
                repr(line)
            # Its backtrace, from the watchdog's sample: the spinning
            # function, not the stale context it switched in from.
            keys("2")
            wait_for("view: threads")
            keys("/")
            keys("spinner", "Enter")
            wait_for("filter: spinner")
            keys("Enter")
            s = wait_for("spin_here (blockers.c:", 10)
            assert "(backtrace from a stack sample)" in s
            assert name in s
        finally:
            tmux("kill-server")
    finally:
        b.stop()


def test_bad_hog_threshold():
    r = gt_top("-b", "-H", "soon", "-p", "1", check=False)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        "gt-top: -H wants a duration such as 100ms or 1.5s, not 'soon' (gt-top --help for usage)"]
    assert "-H, --hog DURATION" in gt_top("--help").stdout


def core_readings(core):
    args = ("--core", core, "--exe", BLOCKERS)
    return (json_doc(*args, "--view", "threads"), gt_top("-b", *args).stdout,
            parse_prometheus(gt_top("-b", "--format", "prometheus", *args).stdout))


def check_core(core, b, spin, lo, hi):
    doc, text, m = core_readings(core)
    check_schema(doc)
    check_blockers_doc(doc, b.truth)
    check_banner_text(text, b.truth)
    check_spinner(doc, spin, lo, hi)
    assert hog_line(text).startswith('HOG over 100.0ms: thread %d "spinner" has run '
                                     % spin["id"]), hog_line(text)
    assert " thread %d (50) " % b.truth["holder"] in wait_lock_row(text)
    assert (m["gt_deadlocked_threads"], m["gt_deadlock_cycles"], m["gt_hog"]) == (5, 2, 1)
    # The watchdog had sampled the spinner: the Stacks view (which
    # unwinds) says so, with the sample's age.
    run = json_doc("--core", core, "--exe", BLOCKERS, "--view", "stacks")["running"]
    assert run["sampled"] is True and run["sample_age_ns"] >= 0, run
    assert m["gt_watchdog_samples_total"] >= 1
    # The screen of a core (one snapshot, never refreshed) shows them too.
    tmux("kill-server")
    tmux("new-session", "-d", "-s", SESSION, "-x", "160", "-y", "40",
         "%s --core %s --exe %s; sleep 30" % (GT_TOP, core, BLOCKERS))
    try:
        s = wait_for("DEADLOCK: 2 cycles, 5 threads -- press D for the list", 20)
        assert 'HOG over 100.0ms: thread %d "spinner" has run ' % spin["id"] in s
        # The header can be drawn before the table below it.
        wait_for(" thread %d (50) " % b.truth["holder"], 20)
    finally:
        tmux("kill-server")


def test_gcore_while_spinning(tmp_path):
    # mprotect guards: gcore writes a block holding a MADV_GUARD_INSTALL
    # page as zeros (see tests/tools/test_stacks.py).
    b = Blockers(env={"GT_GUARD": "mprotect"})
    try:
        spin = b.spin(8)
        time.sleep(1.0)
        lo = time.monotonic_ns()
        prefix = str(tmp_path / "gcore")
        subprocess.run(["gcore", "-o", prefix, str(b.pid)], check=True,
                       capture_output=True, timeout=120)
        hi = time.monotonic_ns()
    finally:
        b.stop()
    check_core("%s.%d" % (prefix, b.pid), b, spin, lo, hi)


def test_kernel_core_while_spinning(tmp_path):
    b = Blockers(cwd=tmp_path)
    try:
        spin = b.spin(8)
        time.sleep(1.5)
        lo = time.monotonic_ns()
        os.kill(b.pid, signal.SIGABRT)
        assert b.p.wait(timeout=120) == -signal.SIGABRT
        hi = time.monotonic_ns()
    finally:
        b.stop()
    cores = [p for p in os.listdir(tmp_path) if p.startswith("core")]
    assert cores, "no core written"
    check_core(str(tmp_path / cores[0]), b, spin, lo, hi)
