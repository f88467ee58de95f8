"""Who blocks whom, deadlocks and the hog, in the GDB extension.

tests/tools/blockers.c knows the truth and prints it ("truth {JSON}"): a
holder of a mutex and 50 waiters on it, a two- and a three-thread mutex
cycle, a bystander held up by the two-cycle but in none, a joiner of a
sleeping thread, among 1,000 busy threads; on "spin S" a thread that
computes S seconds without yielding ("spinning {JSON}").  These tests read
it with `gdb -batch -nx` and the extension: attached (gdb -p), from a
gcore core (GT_GUARD=mprotect, as the other gcore tests) and from kernel
cores (SIGABRT, ulimit -c unlimited, in a temporary directory).
"""
import glob
import json
import os
import re
import resource
import signal
import subprocess
import sys
import time

import jsonschema

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests"))

from fixture_lines import marker_lines  # noqa: E402
import installed_schemas  # noqa: E402
from test_gdb import BUILD, gdb, jsons_of  # noqa: E402

BLOCKERS = os.path.join(BUILD, "tests", "tools", "blockers")
LINES = marker_lines(os.path.join(ROOT, "tests", "tools", "blockers.c"))
BUSY = 1000                 # the "among 1,000 busy threads"
CORE_SLACK = 1000000000     # ns a core's "now" may lie past its window (mtime)
TAKE_SLACK = 100000000      # ns the runtime's last clock reading before the
                            # take may precede held_lo (registry.h HOLD TIMES)


def place(func, key):
    return "%s (blockers.c:%d)" % (func, LINES[key])


def unlimited_core():
    resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY,) * 2)


def start(cwd=None, env=None, core=False):
    """The fixture running with 1,000 busy threads; (process, truth)."""
    p = subprocess.Popen([BLOCKERS, "-n", str(BUSY)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True, cwd=cwd, env=env,
                         preexec_fn=unlimited_core if core else None)
    line = p.stdout.readline()
    assert line.startswith("truth "), line
    return p, json.loads(line[len("truth "):])


def stop(p):
    if p.poll() is None:
        p.kill()
    p.wait()


def spin(p, seconds):
    """Has the fixture spawn the spinner; its "spinning" truth."""
    p.stdin.write("spin %d\n" % seconds)
    p.stdin.flush()
    line = p.stdout.readline()
    assert line.startswith("spinning "), line
    return json.loads(line[len("spinning "):])


def kernel_core(p, tmp_path, how):
    """Has the fixture die of SIGABRT (how: "abort" on stdin, or "kill"
    from outside); (core path, clock before, clock after)."""
    t0 = time.monotonic_ns()
    if how == "abort":
        p.stdin.write("abort\n")
        p.stdin.flush()
    else:
        os.kill(p.pid, signal.SIGABRT)
    assert p.wait(timeout=60) == -signal.SIGABRT
    t1 = time.monotonic_ns()
    cores = glob.glob(str(tmp_path / "core*"))
    assert len(cores) == 1, os.listdir(tmp_path)
    return cores[0], t0, t1


NOW = "python import gt.registry as r; print('now', r.snapshot().now, r.snapshot().now_exact)"
READ = [NOW, "info green-threads --json --limit 0", "info green-locations --json",
        "info green-deadlocks", "info green-deadlocks --json",
        "info green-threads -n waiter --limit 3", "info green-locations"]


def follows_schema(doc, part):
    """Asserts doc is valid as $defs/part of schema/gdb.schema.json."""
    with open(os.path.join(ROOT, "schema", "gdb.schema.json")) as f:
        s = json.load(f)
    s = {"$schema": s["$schema"], "$defs": s["$defs"], "$ref": "#/$defs/" + part}
    errors = [e.message[:200] for e in jsonschema.Draft202012Validator(s).iter_errors(doc)]
    assert not errors, errors[:5]
    assert installed_schemas.undescribed(s, doc) == []


def select_waiter(truth):
    return ["green-thread %d" % truth["waiters"][0]]


def now_of(out):
    m = re.search(r"^now (\d+) (True|False)$", out, re.M)
    assert m, out
    return int(m.group(1)), m.group(2) == "True"


def duration(ns):
    """gto_fmt_duration below 100 s (the ages these tests meet)."""
    if ns >= 1000000000:
        return "%.1fs" % (ns / 1e9)
    if ns >= 1000000:
        return "%.1fms" % (ns / 1e6)
    if ns >= 1000:
        return "%.0fus" % (ns / 1e3)
    return "%dns" % ns


def check(out, truth, lo_now, hi_now):
    """Everything the extension says of who blocks whom, against truth;
    the snapshot's now lies in [lo_now, hi_now]."""
    assert "Traceback" not in out and "Python Exception" not in out, out
    now, exact = now_of(out)
    assert lo_now <= now <= hi_now, (lo_now, now, hi_now)
    threads_doc, locs_doc, dl_doc = [d for d in jsons_of(out)
                                     if set(d) & {"threads_list", "locations", "deadlocks"}][-3:]
    follows_schema(threads_doc, "info_green_threads")
    follows_schema(locs_doc, "info_green_locations")
    follows_schema(dl_doc, "info_green_deadlocks")
    rows = {r["id"]: r for r in threads_doc["threads_list"]}
    assert threads_doc["threads"] == len(rows) == 1 + 1 + 50 + 5 + 1 + 2 + BUSY
    ge = "" if exact else ">= "
    holder, mutex = truth["holder"], truth["mutex"]

    # The 50 waiters: the owner by id, name, state and place, held for
    # as long as the fixture's clock says.
    for w in truth["waiters"]:
        r = rows[w]
        by = r["blocked_by"]
        assert by["id"] == holder and by["kind"] == "mutex" and by["object"] == mutex, r
        assert by["edge"] is True and by["cycle"] is None, r
        held = by["held_ns"]
        assert now - truth["held_hi"] <= held <= now - truth["held_lo"] + TAKE_SLACK, (held, truth)
        assert r["block"] == ('mutex %#x held by thread %d "holder" (parked, sleep at %s) '
                              'for %s%s' % (mutex, holder, place("truth_holder", "holder"),
                                            ge, duration(held))), r
    assert rows[holder]["blocked_by"] is None
    assert rows[holder]["block"].startswith("sleep ")

    # The cycles: exactly the two, members from the lowest id in wait
    # order; the bystander, joiner, holder and waiters in none.
    second = place("cycle_second", "second")
    expect_json, expect_text = [], []
    for key in ("cycle2", "cycle3"):
        ids, mus = truth[key], truth[key + "_mutexes"]
        n = len(ids)
        first = min(range(n), key=lambda i: ids[i])
        order = [(first + j) % n for j in range(n)]   # member i waits for mu[i + 1]
        expect_text.append("deadlock: cycle of %d threads" % n)
        members = []
        for i in order:
            j = (i + 1) % n
            name, nxt = rows[ids[i]]["name"], rows[ids[j]]["name"]
            expect_text.append('  thread %d "%s" at %s waits for mutex %#x held by thread %d "%s"'
                               % (ids[i], name, second, mus[j], ids[j], nxt))
            members.append({"id": ids[i], "name": name, "location": rows[ids[i]]["location"],
                            "waits_for": {"kind": "mutex", "object": mus[j]},
                            "held_by": ids[j]})
            assert rows[ids[i]]["blocked_by"]["cycle"] == len(expect_json) + 1
            assert rows[ids[i]]["block"].startswith(
                'mutex %#x held by thread %d "%s" (parked, mutex at %s) for '
                % (mus[j], ids[j], nxt, second)), rows[ids[i]]
        expect_json.append({"threads": members})
    m = re.search(r"^deadlock: cycle of 2 threads\n(?:.*\n)*?(?=\{)", out, re.M)
    assert m and m.group(0).splitlines() == expect_text, (m and m.group(0), expect_text)
    assert dl_doc == {"schema_version": 1, "deadlocks": expect_json, "threads_in_deadlock": 5}
    assert threads_doc["deadlocks"] == expect_json
    assert threads_doc["threads_in_deadlock"] == 5
    in_cycles = {t["id"] for c in expect_json for t in c["threads"]}
    for r in rows.values():
        if r["id"] not in in_cycles:
            assert not (r["blocked_by"] or {}).get("cycle"), r
    by = rows[truth["bystander"]]
    c2a = min(truth["cycle2"])
    assert by["blocked_by"]["id"] == c2a and by["blocked_by"]["cycle"] is None
    assert by["block"].startswith('mutex %#x held by thread %d "%s" (parked, mutex at %s) for '
                                  % (truth["cycle2_mutexes"][0], c2a, rows[c2a]["name"],
                                     second)), by

    # The joiner names the sleeper, its state and place.
    j = rows[truth["joiner"]]
    assert j["block"] == "join thread %d (parked, sleep at %s)" % (
        truth["sleeper"], place("sleeper_wait", "sleeper")), j
    assert j["blocked_by"] == {"id": truth["sleeper"], "kind": "join", "object": truth["sleeper"],
                               "edge": True, "held_ns": None, "cycle": None}

    # Per location: the 50 waiters are all held up by the holder.
    wait_loc = [l for l in locs_doc["locations"]
                if l["where"].startswith(place("truth_wait_lock", "wait_lock"))]
    assert len(wait_loc) == 1 and wait_loc[0]["waiting"] == 50
    assert wait_loc[0]["blocked_by"] == [{"id": holder, "waiters": 50}]
    assert re.search(r"^truth_wait_lock \(blockers.c:%d\) .* thread %d \(50\)$"
                     % (LINES["wait_lock"], holder), out, re.M), out

    # The same words in the table and the selection message.
    w0 = rows[truth["waiters"][0]]
    assert re.search(r"^\s+%d  waiter\s+parked\s+truth_wait_lock .*  %s\s+%s\S+\s+\S+ B/64 KiB$"
                     % (w0["id"], re.escape(w0["block"]), ge), out, re.M), out
    assert ("[Switching to green thread %d (waiter), parked at %s < waiter_main "
            "(blockers.c:" % (w0["id"], place("truth_wait_lock", "wait_lock"))) in out
    assert ", %s]" % w0["block"] in out
    return rows


def test_blockers_live_and_gcore(tmp_path):
    env = dict(os.environ, GT_GUARD="mprotect")
    p, truth = start(env=env)
    core = str(tmp_path / "gcore")
    try:
        t0 = time.monotonic_ns()
        out = gdb(["-p", str(p.pid)], READ + select_waiter(truth)
                  + ["green-thread off", "gcore " + core])
        t1 = time.monotonic_ns()
    finally:
        stop(p)
    rows = check(out, truth, t0, t1)
    # Nothing runs while the fixture waits for stdin: no running line.
    assert all(r["state"] != "running" for r in rows.values())
    assert json.loads([l for l in out.splitlines() if '"threads_list"' in l][0])["running"] is None
    assert os.path.exists(core), out
    out = gdb([BLOCKERS, core], READ + select_waiter(truth))
    check(out, truth, t0, t1 + CORE_SLACK)


def test_blockers_kernel_core(tmp_path):
    p, truth = start(cwd=tmp_path, core=True)
    try:
        core, t0, t1 = kernel_core(p, tmp_path, "abort")
    finally:
        stop(p)
    out = gdb([BLOCKERS, core], READ + select_waiter(truth))
    rows = check(out, truth, t0, t1)
    # The main thread called abort(): it is the one running.
    assert [r["id"] for r in rows.values() if r["state"] == "running"] == [1]


SPIN_S = 3


def check_spinner(out, spinning, lo_now, hi_now):
    """The running thread is the spinner, its run time within 10% of the
    fixture's, and `green-thread ID` + `bt` shows spin_here."""
    assert "Traceback" not in out and "Python Exception" not in out, out
    now, exact = now_of(out)
    assert exact and lo_now <= now <= hi_now, (lo_now, now, hi_now)
    sid = spinning["id"]
    doc = [d for d in jsons_of(out) if "threads_list" in d][-1]
    follows_schema(doc, "info_green_threads")
    run = doc["running"]
    truth_ns = now - spinning["start_ns"]
    assert run["id"] == sid and run["name"] == "spinner", run
    assert run["run_exact"] is True and run["hog"] is True, run
    assert run["threshold_ns"] == (doc["watchdog"]["threshold_ns"] or 100000000)
    assert abs(run["run_ns"] - truth_ns) <= truth_ns // 10, (run, truth_ns)
    assert re.search(r'^hog: thread %d "spinner" has run %s without yielding'
                     % (sid, re.escape(duration(run["run_ns"]))), out, re.M), out
    sel = out.split("[Switching to green thread %d (spinner), running: it is the running "
                    "thread, its frames are OS thread " % sid, 1)
    assert len(sel) == 2, out
    assert '; thread %d "spinner" has run ' % sid in sel[1].splitlines()[0]
    bt = re.findall(r"^#(\d+)\s+(?:0x[0-9a-f]+ in )?(\S+) \(", sel[1], re.M)
    funcs = [f for _, f in bt]
    assert "spin_here" in funcs and "spinner_main" in funcs, sel[1]
    assert funcs.index("spin_here") < funcs.index("spinner_main")


def spin_commands(sid):
    return [NOW, "info green-threads --json -s running", "info green-threads -s running",
            "green-bt -s running", "green-thread %d" % sid, "bt"]


def test_spinner_live():
    p, truth = start()
    try:
        spinning = spin(p, SPIN_S)
        t0 = time.monotonic_ns()
        out = gdb(["-p", str(p.pid)], spin_commands(spinning["id"]))
        t1 = time.monotonic_ns()
    finally:
        stop(p)
    check_spinner(out, spinning, t0, t1)
    # Live, GDB has the inferior stopped: the spinner's frames are the OS
    # thread's, which it unwinds, as in a core.
    doc = [d for d in jsons_of(out) if "threads_list" in d][-1]
    funcs = [f["function"] for f in doc["threads_list"][0]["frames"]]
    assert "spin_here" in funcs and "spinner_main" in funcs, funcs
    assert doc["threads_list"][0]["frames"][0]["n"] == 0


def test_spinner_kernel_core(tmp_path):
    p, truth = start(cwd=tmp_path, core=True)
    try:
        spinning = spin(p, SPIN_S)
        time.sleep(1)       # a second into the spin, then SIGABRT from outside
        core, t0, t1 = kernel_core(p, tmp_path, "kill")
    finally:
        stop(p)
    out = gdb([BLOCKERS, core], spin_commands(spinning["id"]))
    check_spinner(out, spinning, t0, t1)
    # In a core, the kernel thread's saved registers are the spinner's:
    # its JSON frames and its green-bt group show spin_here.
    doc = [d for d in jsons_of(out) if "threads_list" in d][-1]
    funcs = [f["function"] for f in doc["threads_list"][0]["frames"]]
    assert "spin_here" in funcs and "spinner_main" in funcs, funcs
    group = out.split("1 thread, running: ids %d (spinner)\n" % spinning["id"], 1)
    assert len(group) == 2 and " in spin_here (blockers.c:" in group[1].split("\n\n")[0], out


# ---- the running thread's words, from registry fields set by hand ----------

FIXTURE = os.path.join(BUILD, "tests", "gdb", "green_fixture")
REG = ("python import gt.registry as r; s = r.snapshot(); "
       "print('reg', s.now, s.reg['run_start'], s.reg['sample_ns'])")
HOG = [REG, "info green-threads --json --limit 1", "info green-threads --limit 1"]


def hog_steps(out):
    """(now, run_start, sample_ns, running JSON, hog line) of each HOG."""
    regs = re.findall(r"^reg (\d+) (\d+) (\d+)$", out, re.M)
    docs = [d["running"] for d in jsons_of(out) if "threads_list" in d]
    lines = re.findall(r"^((?:hog|running): .*)$", out, re.M)
    assert len(regs) == len(docs) == len(lines), out
    return [(int(a), int(b), int(c), d, l) for (a, b, c), d, l in zip(regs, docs, lines)]


def test_running_thread_variants():
    """The main thread runs at ready_point (run_start set by the switch
    that put it on the CPU).  The registry's watchdog fields are then set
    by hand, as the runtime's watchdog would: a threshold, a sample of
    this run, a hand-off (run_start 0) bounded by wd_since, then not."""
    out = gdb(["--args", FIXTURE, "3"],
              ["break ready_point", "run"] + HOG
              + ["set var gt_registry.watchdog_ns = 1000",
                 "set var gt_registry.sample_thread = gt_registry.current",
                 "set var gt_registry.sample_switches = gt_registry.switches",
                 "set var gt_registry.sample_ns = gt_registry.run_start + 1"] + HOG
              + ["set var gt_registry.wd_since = gt_registry.run_start",
                 "set var gt_registry.wd_switches = gt_registry.switches",
                 "set var gt_registry.run_start = 0"] + HOG
              + ["set var gt_registry.wd_switches = 0",
                 "set var gt_registry.sample_switches = 0"] + HOG + ["kill"])
    assert "Traceback" not in out and "Python Exception" not in out, out
    steps = hog_steps(out)
    assert len(steps) == 4, out
    (now, start, _, run, line) = steps[0]
    assert start and run == {"id": 1, "name": "", "run_ns": now - start, "run_exact": True,
                             "hog": now - start >= 100000000, "threshold_ns": 100000000,
                             "sampled": False, "sample_age_ns": None}
    assert line == '%s: thread 1 "" has run %s without yielding' % (
        "hog" if run["hog"] else "running", duration(now - start))
    (now, start, sample, run, line) = steps[1]
    assert sample == start + 1
    assert run == {"id": 1, "name": "", "run_ns": now - start, "run_exact": True, "hog": True,
                   "threshold_ns": 1000, "sampled": True, "sample_age_ns": now - sample}
    assert line == 'hog: thread 1 "" has run %s without yielding (stack sampled %s ago)' % (
        duration(now - start), duration(now - sample))
    (now, zero, sample, run, line) = steps[2]
    assert zero == 0 and run["run_ns"] == now - start and run["run_exact"] is False
    assert line == 'hog: thread 1 "" has run >= %s without yielding (stack sampled %s ago)' % (
        duration(now - start), duration(now - sample))
    (now, zero, sample, run, line) = steps[3]
    assert run["run_ns"] is None and run["hog"] is False and run["sampled"] is False
    assert line == ('running: thread 1 "" has run an unknown time (since a hand-off) '
                    'without yielding')


# ---- every kind of block, and wait objects a damaged program holds --------

# green_fixture 3: sleepers 2-4, lockers 5-7 (on mu, which the running
# main thread holds), readers 8-10, receivers 11-13 (on chan_r, empty, of
# 1), senders 14-16 (on chan_s, full, of 1), condwait 17-19 (on cond, then
# cmu, which none holds while they wait), joiner 20 (joins thread 2).
SET_FIELD = ("python import gt.registry as r, gt.abi as a; s = r.snapshot(); "
             "t = s.thread({tid}); o, n = s.layout.map[(a.C['GT_REC_THREAD'], "
             "a.C['GT_F_THR_{field}'])]; gdb.execute('set var *(unsigned %s *)%d = {value}' "
             "% ({{1: 'char', 8: 'long'}}[n], t.addr + o))")
BLOCKS = "info green-threads --json --limit 0"


def set_field(tid, field, value):
    return SET_FIELD.format(tid=tid, field=field.upper(), value=value)


def blocks_of(doc):
    return {r["id"]: (r["block"], r["blocked_by"]) for r in doc["threads_list"]}


def test_every_block_kind_and_damaged_objects():
    steps = [BLOCKS,
             "set var mu.magic = 5", BLOCKS,
             "set var mu.magic = %d" % 0x67746d7574657821, "set var mu.owner = 0x1230", BLOCKS,
             "set var mu.owner = 0", BLOCKS,
             set_field(5, "wait_obj", 16), set_field(20, "wait_obj", 99999),
             set_field(18, "wait_arg", 0), BLOCKS,
             # A join cycle: sleeper 2 made to join the joiner, which joins it.
             set_field(20, "wait_obj", 2), set_field(2, "wait_kind", 6),
             set_field(2, "wait_obj", 20), BLOCKS, "info green-deadlocks",
             "info green-deadlocks --json",
             # A layout table that states a mutex of 8 KiB (past MAX_OBJECT): not read.
             "python import gt.abi as a, struct; "
             "lay = int(gdb.parse_and_eval('(unsigned long)gt_registry.layout')); "
             "n = int(gdb.parse_and_eval('gt_registry.nlayout')); "
             "raw = gdb.selected_inferior().read_memory(lay, 16 * n).tobytes(); "
             "i = [k for k, e in enumerate(struct.iter_unpack('<HHIII', raw)) "
             "if e[:2] == (a.C['GT_REC_MUTEX'], 0)][0]; "
             "gdb.execute('set var *(unsigned int *)%d = 8192' % (lay + 16 * i + 8))",
             BLOCKS]
    out = gdb(["--args", FIXTURE, "3"], ["break ready_point", "run"] + steps + ["kill"])
    assert "Traceback" not in out and "Python Exception" not in out, out
    docs = [d for d in jsons_of(out) if "threads_list" in d]
    assert len(docs) == 7, out
    for d in docs:
        follows_schema(d, "info_green_threads")
    first = {r["id"]: r for r in docs[0]["threads_list"]}
    b = blocks_of(docs[0])
    mu = first[5]["wait"]                   # "mutex 0x..."
    for tid in (5, 6, 7):
        text, by = b[tid]
        assert re.fullmatch(re.escape(mu) + r' held by thread 1 "" \(running\) for \S+', text), text
        assert by["id"] == 1 and by["kind"] == "mutex" and by["edge"] is True
        assert by["held_ns"] > 0 and by["cycle"] is None
    for tid in (11, 12, 13):
        assert b[tid] == (first[tid]["wait"] + " (0/1 queued, 0 senders waiting)", None)
    for tid in (14, 15, 16):
        assert b[tid] == (first[tid]["wait"] + " (1/1 queued, 0 receivers waiting)", None)
    cond = first[17]["wait"]
    for tid in (17, 18, 19):
        text, by = b[tid]
        assert re.fullmatch(re.escape(cond) + r" then mutex 0x[0-9a-f]+ unlocked", text), text
        assert by == {"id": None, "kind": "cond", "object": int(cond.split()[1], 16),
                      "edge": False, "held_ns": None, "cycle": None}
    assert b[20][0] == "join thread 2 (parked, sleep at sleep_deep (green_fixture.c:%d))" % (
        LINES_FIXTURE["gt_sleep_ns(3600LL"])
    assert b[8] == (first[8]["wait"], None) and b[2] == (first[2]["wait"], None)
    assert docs[0]["deadlocks"] == [] and docs[0]["threads_in_deadlock"] == 0

    # A mutex whose magic is wrong, whose owner is no thread's record,
    # unlocked; a wait object that cannot be read; a join of no thread.
    mu_addr = int(mu.split()[1], 16)
    assert blocks_of(docs[1])[5] == (mu + " (not a mutex)",
                                      {"id": None, "kind": "mutex", "object": mu_addr,
                                       "edge": False, "held_ns": None, "cycle": None})
    assert blocks_of(docs[2])[6][0] == mu + " held by an unknown thread (record 0x1230)"
    assert blocks_of(docs[3])[7][0] == mu + " unlocked"
    assert blocks_of(docs[4])[5][0] == "mutex 0x10 (unreadable)"
    # C's "%#llx" of 0, as libgtobserve writes it.
    assert blocks_of(docs[4])[18][0] == cond + " then mutex 0 (unreadable)"
    assert blocks_of(docs[4])[20] == ("join thread 99999 (no such thread)",
                                       {"id": None, "kind": "join", "object": 99999,
                                        "edge": False, "held_ns": None, "cycle": None})
    # The join cycle, from its lowest id.
    b = blocks_of(docs[5])
    assert b[2][1]["cycle"] == b[20][1]["cycle"] == 1
    assert docs[5]["threads_in_deadlock"] == 2
    assert [t["id"] for t in docs[5]["deadlocks"][0]["threads"]] == [2, 20]
    sleep_at = "sleep_deep (green_fixture.c:%d)" % LINES_FIXTURE["gt_sleep_ns(3600LL"]
    join_at = "join_wait (green_fixture.c:%d)" % LINES_FIXTURE["if (gt_join(first_sleeper)"]
    assert ("deadlock: cycle of 2 threads\n"
            '  thread 2 "sleeper" at %s waits for join thread 20 "joiner"\n'
            '  thread 20 "joiner" at %s waits for join thread 2 "sleeper"\n'
            % (sleep_at, join_at)) in out, out
    dl = [d for d in jsons_of(out)
          if set(d) == {"schema_version", "deadlocks", "threads_in_deadlock"}][-1]
    follows_schema(dl, "info_green_deadlocks")
    assert dl["deadlocks"] == docs[5]["deadlocks"]
    assert [t["waits_for"] for t in dl["deadlocks"][0]["threads"]] == [
        {"kind": "join", "object": 20}, {"kind": "join", "object": 2}]
    # A mutex layout past any real size: the wait as it is, no owner; the
    # join cycle needs no object and stays.
    b = blocks_of(docs[6])
    assert b[6] == (mu, {"id": None, "kind": "mutex", "object": int(mu.split()[1], 16),
                         "edge": False, "held_ns": None, "cycle": None})
    assert docs[6]["threads_in_deadlock"] == 2


def _fixture_line(text):
    with open(os.path.join(HERE, "green_fixture.c")) as f:
        hits = [i for i, l in enumerate(f, 1) if text in l]
    assert len(hits) == 1, (text, hits)
    return hits[0]


LINES_FIXTURE = {t: _fixture_line(t) for t in ("gt_sleep_ns(3600LL", "if (gt_join(first_sleeper)")}


# ---- the running thread when the program has another kernel thread --------

def check_main_runs_on_os_thread_1(out, first_func):
    """green-thread 1 (the running main thread), asked from OS thread 2
    (a pthread that runs no green thread), selects OS thread 1: bt shows
    the green thread's frames, not the pthread's."""
    assert "Traceback" not in out and "Python Exception" not in out, out
    sel = out.split("[Switching to green thread 1, running: it is the running thread, its "
                    "frames are OS thread 1's own; ", 1)
    assert len(sel) == 2, out
    bt = re.findall(r"^#(\d+)\s+(?:0x[0-9a-f]+ in )?(\S+) \(", sel[1], re.M)
    funcs = [f for _, f in bt]
    last = len(funcs) - 1 - funcs[::-1].index(first_func)   # bt's, after frame's
    assert funcs[last:] == [first_func] + (
        ["main_thread"] if first_func != "main_thread" else []) + \
        ["gt__thread_start", "gt__ctx_trampoline"], funcs
    assert "kthread_idle" not in funcs


def test_running_thread_beside_another_kernel_thread_live():
    out = gdb(["--args", FIXTURE, "3", "kthread"],
              ["break ready_point", "run", "thread 2", "green-thread 1", "bt", "kill"])
    check_main_runs_on_os_thread_1(out, "ready_point")


def test_running_thread_beside_another_kernel_thread_core(tmp_path):
    p = subprocess.run([FIXTURE, "3", "crash", "kthread"], cwd=tmp_path,
                       preexec_fn=unlimited_core, capture_output=True, text=True, timeout=60)
    assert p.returncode == -signal.SIGSEGV, p.stderr
    cores = glob.glob(str(tmp_path / "core*"))
    assert len(cores) == 1, os.listdir(tmp_path)
    out = gdb([FIXTURE, cores[0]], ["thread 2", "info green-threads --json -s running",
                                    "green-bt -s running", "thread 2", "green-thread 1", "bt"])
    check_main_runs_on_os_thread_1(out, "main_thread")
    # The JSON frames and green-bt's group of the running thread: its
    # kernel thread's, though OS thread 2 was selected.
    doc = [d for d in jsons_of(out) if "threads_list" in d][-1]
    funcs = [f["function"] for f in doc["threads_list"][0]["frames"]]
    assert funcs[-3:] == ["main_thread", "gt__thread_start", "gt__ctx_trampoline"], funcs
    group = out.split("1 thread, running: ids 1\n", 1)
    assert len(group) == 2, out
    assert " in main_thread (green_fixture.c:" in group[1].split("\n\n")[0], out
    assert "kthread_idle" not in group[1].split("\n\n")[0]
