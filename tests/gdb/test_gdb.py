"""The GDB extension against fixtures with known ground truth.

green_fixture.c (beside this file) parks N threads of each of six kinds at
known call sites, with known names, wait objects, ids and a known local in
a recursion of known depth; these tests drive `gdb -batch -nx` with the
extension over it: stopped at a breakpoint, attached to while it runs,
from a gcore core and from a kernel core after a crash, and at 100,000
threads.
"""
import collections
import glob
import json
import os
import shutil
import re
import resource
import signal
import subprocess
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
BUILD = os.environ.get("GT_BUILD", os.path.join(ROOT, "build"))
FIXTURE = os.path.join(BUILD, "tests", "gdb", "green_fixture")
NO_RUNTIME = os.path.join(BUILD, "tests", "gdb", "no_runtime")
LOADER = os.path.join(ROOT, "gdb", "gt-gdb.py")

N = 3
KINDS = ("sleeper", "locker", "reader", "receiver", "sender", "condwait")
# kind -> (function at the location, wait kind, wait description pattern)
EXPECT = {
    "sleeper": ("sleep_deep", "sleep", r"sleep (?:5[89]m\d\ds|60m00s) left"),
    "locker": ("lock_wait", "mutex", r"mutex 0x[0-9a-f]+"),
    "reader": ("read_wait", "fd", r"fd \d+ read"),
    "receiver": ("recv_wait", "chan_recv", r"chan_recv 0x[0-9a-f]+"),
    "sender": ("send_wait", "chan_send", r"chan_send 0x[0-9a-f]+"),
    "condwait": ("cond_wait_here", "cond", r"cond 0x[0-9a-f]+"),
    "joiner": ("join_wait", "join", r"join thread 2"),
}


def ids_of(kind, n=N):
    """Ids the fixture gives a kind (spawn order; the main thread is 1)."""
    if kind == "joiner":
        return [6 * n + 2]
    k = KINDS.index(kind)
    return list(range(2 + k * n, 2 + (k + 1) * n))


def line_of(text, path=os.path.join(HERE, "green_fixture.c")):
    """The line number of the one line of path holding text."""
    with open(path) as f:
        hits = [i for i, l in enumerate(f, 1) if text in l]
    assert len(hits) == 1, (text, hits)
    return hits[0]


def line_after(path, anchor, text):
    """The line number of the first line holding text after the line
    holding anchor (a function's definition, say)."""
    with open(path) as f:
        lines = f.read().splitlines()
    start = [i for i, l in enumerate(lines) if anchor in l]
    assert len(start) == 1, (anchor, start)
    return next(i for i in range(start[0], len(lines)) if text in lines[i]) + 1


def gdb(args, commands, timeout=240, source=True, env=None):
    argv = ["gdb", "-batch", "-nx"]
    if source:
        argv += ["-ex", "source " + LOADER]
    for c in commands:
        argv += ["-ex", c]
    p = subprocess.run(argv + args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=timeout, env=env)
    return p.stdout


def jsons_of(out):
    """Every JSON document of a GDB run's output, in order."""
    docs = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
    assert docs, out
    return docs


def json_of(out):
    return jsons_of(out)[-1]


LISTING = ["info green-locations --json", "info green-threads --json --limit 0"]


def listing_of(out):
    """(info green-threads --json, {location index: where}) of a run of
    LISTING."""
    docs = jsons_of(out)
    assert len(docs) >= 2, out
    locs, data = docs[-2], docs[-1]
    return data, {l["index"]: l["where"] for l in locs["locations"]}


def at_breakpoint(commands, n=N, timeout=240):
    return gdb(["--args", FIXTURE, str(n)],
               ["break ready_point", "run"] + commands + ["kill"], timeout=timeout)


@pytest.fixture
def running():
    """The fixture running (parked at hold_main), for attach and gcore."""
    env = dict(os.environ, GT_GUARD="mprotect")
    p = subprocess.Popen([FIXTURE, str(N)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True, env=env)
    line = p.stdout.readline()
    assert line.startswith("ready "), line
    yield p
    p.kill()
    p.wait()


THREAD_KEYS = {"id", "name", "state", "location", "wait_kind", "wait", "wait_ns", "block",
               "blocked_by", "entry",
               "run_ns", "switches", "stack", "frames"}
STACK_KEYS = {"reserved", "live", "touched", "dead", "unused", "resident"}
FRAME_KEYS = {"n", "pc", "function", "file", "line", "inlined"}
TOP_KEYS = {"now_exact", "uptime_ns", "idle_ns", "file_io_calls", "file_io_ns"}


def check_listing(listing, n=N, main_state="running"):
    data, where = listing
    rows = data["threads_list"]
    assert TOP_KEYS | {"states", "threads"} <= set(data)
    assert data["threads"] == 6 * n + 2 == len(rows)
    assert data["states"] == {"runnable": 0, "running": int(main_state == "running"),
                              "parked": 6 * n + 2 - int(main_state == "running"),
                              "exited": 0}
    by_name = collections.defaultdict(list)
    for r in rows:
        assert set(r) == THREAD_KEYS and set(r["stack"]) == STACK_KEYS, r
        by_name[r["name"]].append(r)
    main = by_name.pop("")
    assert [r["id"] for r in main] == [1] and main[0]["state"] == main_state
    assert main[0]["entry"] == "main_thread"
    assert set(by_name) == set(EXPECT)
    for kind, (func, wait_kind, wait) in EXPECT.items():
        got = by_name[kind]
        assert sorted(r["id"] for r in got) == ids_of(kind, n)
        for r in got:
            assert r["state"] == "parked" and r["wait_kind"] == wait_kind
            assert where[r["location"]].startswith(func + " (green_fixture.c:"), r
            assert re.fullmatch(wait, r["wait"]), r
            assert 0 < r["stack"]["live"] < r["stack"]["reserved"] == 65536
            assert r["wait_ns"] > 0 and r["switches"] >= 1
            frames = r["frames"]
            assert frames and all(set(f) == FRAME_KEYS for f in frames)
            assert frames[0]["n"] == 1 and frames[-1]["function"] == "gt__ctx_trampoline"
            assert func in [f["function"] for f in frames]


def check_selected_sleeper(out):
    """green-thread 3; bt; frame function sleep_deep; info locals; up; info locals."""
    assert "[Switching to green thread 3 (sleeper), parked at sleep_deep" in out
    # From the selection to the first `info locals`: the frame line, then bt.
    sel = out.split("[Switching to green thread 3", 1)[1].split("marker =", 1)[0]
    bt = re.findall(r"^#(\d+)\s+(?:0x[0-9a-f]+ in )?(\w+) \(", sel, re.M)
    funcs = [f for _, f in bt]
    assert funcs.count("sleep_deep") >= 3, out
    assert "gt__thread_start" in funcs
    assert "0" not in [lvl for lvl, _ in bt], "bt shows the OS thread's frame #0"
    assert re.search(r"^marker = 4711003$", out, re.M), out
    assert re.search(r"^marker = 4711002$", out, re.M), out


SELECT_SLEEPER = ["green-thread 3", "bt", "frame function sleep_deep", "info locals",
                  "up", "info locals"]


def test_live_breakpoint_lists_every_thread():
    out = at_breakpoint(LISTING + ["info green-threads"])
    check_listing(listing_of(out))
    assert re.search(r"^%d green threads: %d parked, 1 running; up [\d.]+m?s, idle [\d.]+[mun]?s, "
                     r"file I/O 0 calls 0ns$" % (6 * N + 2, 6 * N + 1), out, re.M), out
    # The table: the wait described as every reader does, the stack as
    # live/reserved bytes.
    assert re.search(r"^\s+2  sleeper\s+parked\s+sleep_deep \(green_fixture.c:%d\) < "
                     r"sleep_deep \(green_fixture.c:%d\)\s+sleep (?:5[89]m\d\ds|60m00s) left\s+\S+\s+\d+ B/64 KiB$"
                     % (line_of("gt_sleep_ns(3600LL"), line_of("sleep_deep(depth + 1)")),
                     out, re.M), out


def test_live_breakpoint_green_thread_bt_locals():
    out = at_breakpoint(SELECT_SLEEPER + ["green-thread", "green-thread off", "bt"])
    check_selected_sleeper(out)
    assert "Selected: green thread 3 (sleeper)" in out
    # After `off`, bt is the OS thread's: the breakpoint's frame is #0.
    after = out.rsplit("No green thread selected", 1)[1]
    assert re.search(r"^#0\s+ready_point \(\) at", after, re.M), after


def test_selection_dropped_on_continue():
    out = at_breakpoint(["green-thread 3", "tbreak hold_main", "continue", "green-thread", "bt 1"])
    assert "No green thread selected: frames are the OS thread's own." in out
    assert re.search(r"^#0\s+.*hold_main", out, re.M), out


def test_attach_to_running_process(running):
    out = gdb(["-p", str(running.pid)], LISTING + SELECT_SLEEPER)
    data, where = listing_of(out)
    check_listing((data, where), main_state="parked")
    main = [r for r in data["threads_list"] if r["id"] == 1][0]
    assert where[main["location"]].startswith("hold_main (green_fixture.c:")
    assert main["wait"] == "fd 0 read"
    check_selected_sleeper(out)


def test_gcore_core(running, tmp_path):
    core = str(tmp_path / "gcore")
    out = gdb(["-p", str(running.pid)], ["gcore " + core], source=False)
    assert os.path.exists(core), out
    out = gdb([FIXTURE, core], LISTING + SELECT_SLEEPER)
    check_listing(listing_of(out), main_state="parked")
    check_selected_sleeper(out)


def test_kernel_core_after_crash(tmp_path):
    def unlimited():
        resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY,) * 2)
    p = subprocess.run([FIXTURE, str(N), "crash"], cwd=tmp_path, preexec_fn=unlimited,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == -signal.SIGSEGV, p.stderr
    cores = glob.glob(str(tmp_path / "core*"))
    assert len(cores) == 1, (os.listdir(tmp_path), p.stderr)
    out = gdb([FIXTURE, cores[0]], LISTING + SELECT_SLEEPER + ["green-thread 1"])
    check_listing(listing_of(out))
    check_selected_sleeper(out)
    assert "green thread 1, running: it is the running thread" in out


def test_green_bt_groups_identical_stacks():
    out = at_breakpoint(["green-bt --limit 0", "green-bt -l recv_wait", "green-bt --limit 2"])
    assert "%d green threads in 8 distinct stacks" % (6 * N + 2) in out
    for kind in KINDS:
        ids = ids_of(kind)
        assert re.search(r"^%d threads, parked .*: ids %d-%d \(%s\)$"
                         % (N, ids[0], ids[-1], kind), out, re.M), kind
    # The sleepers' group shows the recursion: three sleep_deep frames.
    sleepers = out.split("(sleeper)\n", 1)[1].split("\n\n", 1)[0]
    assert sleepers.count(" in sleep_deep (green_fixture.c:") == 3
    assert "%d green threads in 1 distinct stack\n" % N in out
    assert "... 6 more groups (%d threads): --limit N or a filter" % (4 * N + 2) in out


def test_apply_group_runs_once_per_group():
    out = at_breakpoint(["green-thread apply all --group print 4242",
                         "green-thread apply 2-4 frame function sleep_deep",
                         "green-thread"])
    assert len(re.findall(r"^\$\d+ = 4242$", out, re.M)) == 8
    for kind in KINDS:
        ids = ids_of(kind)
        assert "%d threads like green thread %d: ids %d-%d:" % (N, ids[0], ids[0], ids[-1]) in out
    # Per thread: the sleepers 2..4 each have a sleep_deep frame.
    assert len(re.findall(r"^Green thread [234] \(sleeper\):$", out, re.M)) == 3
    assert len(re.findall(r"in sleep_deep \(depth=depth@entry=3\)|sleep_deep \(depth=depth@entry=3\)",
                          out)) >= 3
    # The selection in force before apply (none) is back.
    assert "No green thread selected: frames are the OS thread's own." in \
        out.rsplit("Green thread 4 (sleeper):", 1)[1]


def test_locations_queue_per_call_site():
    out = at_breakpoint(["info green-locations --json", "info green-locations"])
    data = json_of(out)
    assert TOP_KEYS <= set(data)
    locs = data["locations"]
    for l in locs:
        assert set(l) == {"index", "where", "kind", "waiting", "arrivals", "completed",
                          "wait_max_ns", "done_p50_ns", "done_p99_ns", "oldest_wait_ns",
                          "blocked_by"}, l
    waiting = {l["where"].split()[0]: l["waiting"] for l in locs if l["waiting"]}
    assert waiting == {"sleep_deep": N, "lock_wait": N, "read_wait": N, "recv_wait": N,
                       "send_wait": N, "cond_wait_here": N, "join_wait": 1}
    kinds = {l["where"].split()[0]: l["kind"] for l in locs if l["waiting"]}
    assert kinds == {"sleep_deep": "sleep", "lock_wait": "mutex", "read_wait": "fd",
                     "recv_wait": "chan_recv", "send_wait": "chan_send",
                     "cond_wait_here": "cond", "join_wait": "join"}
    assert re.search(r"^sleep_deep \(green_fixture.c:%d\) < sleep_deep \(green_fixture.c:%d\)"
                     r"\s+sleep\s+%d\s" % (line_of("gt_sleep_ns(3600LL"),
                                            line_of("sleep_deep(depth + 1)"), N),
                     out, re.M), out


def test_stack_usage():
    out = at_breakpoint(["info green-stack 3", "info green-stack"])
    # Reserved is stack_hi - stack_lo (64 KiB), the guard (64 KiB by default) apart.
    m = re.search(r"^\s+3  sleeper\s+(\d+) B\s+(.+?)\s+(\S+ \S+)\s+64 KiB\s+64 KiB$", out, re.M)
    assert m, out
    assert 0 < int(m.group(1)) < 4096
    assert "%d threads: live" % (6 * N + 2) in out
    assert "of 1.2 MiB reserved stack" in out  # 20 x 64 KiB


def test_filters_limit_and_parameter():
    out = at_breakpoint(["info green-threads -s parked -n 'rec*' --json --limit 0",
                         "info green-threads -l lock_wait --json",
                         "info green-threads -w 1h --json",
                         "set green-threads limit 4", "show green-threads limit",
                         "info green-threads"])
    datas = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
    assert sorted(r["id"] for r in datas[0]["threads_list"]) == ids_of("receiver")
    assert sorted(r["id"] for r in datas[1]["threads_list"]) == ids_of("locker")
    assert "no green thread matches -w 1h" in out
    assert "at most 4 rows" in out
    assert "... %d more: --limit N or a filter" % (6 * N + 2 - 4) in out


def test_user_errors_are_one_line():
    out = at_breakpoint(["green-thread 99999", "info green-threads -n nosuchname",
                         "info green-threads -s sleeping", "green-thread apply 2",
                         "info green-threads --bogus"])
    assert "gt: no green thread 99999 (ids run from 1 to %d" % (6 * N + 2) in out
    assert "info green-threads: no green thread matches -n nosuchname (of %d threads)" \
        % (6 * N + 2) in out
    assert "unknown state 'sleeping'" in out
    assert "green-thread apply: no command to run" in out
    assert "unknown option --bogus" in out
    assert "Traceback" not in out and "Python Exception" not in out

    out = gdb([FIXTURE], ["info green-threads"])
    assert "gt: no process and no core file" in out
    out = gdb([NO_RUNTIME], ["break stop_here", "run", "info green-threads", "kill"])
    assert "gt: no gt runtime in this program" in out
    assert "Traceback" not in out and "Python Exception" not in out


def test_abi_mismatch_names_both_versions():
    out = at_breakpoint(["set var gt_registry.abi = 99", "info green-threads"])
    assert "gt: registry ABI 99, this extension reads ABI 1" in out


def test_damaged_chunk_pointer_is_skipped_and_counted():
    n = 200  # 1,202 threads: two chunks of 1,024 slots
    out = at_breakpoint(["python import gt.registry as r; s = r.snapshot(); "
                         "print('slots', s.reg['thread_slots'])",
                         "set var ((unsigned long *)gt_registry.thread_chunks)[1] = 16",
                         "info green-threads --json --limit 0",
                         "info green-threads --limit 1"], n=n)
    slots = int(re.search(r"^slots (\d+)", out, re.M).group(1))
    data = json_of(out)
    assert data["skipped"] == slots - 1024 > 0
    assert data["threads"] == 6 * n + 2 - (slots - 1024) == len(data["threads_list"])
    assert "gt: %s thread slots in 1 unreadable chunks skipped" % format(slots - 1024, ",") in out


def test_100k_threads_exact_count():
    n = 16667  # 6n + 2 = 100,004 threads
    total = 6 * n + 2
    out = at_breakpoint(["info green-threads", "info green-threads --json --limit 0",
                         "green-bt --limit 3", "green-thread 50000", "bt"],
                        n=n, timeout=600)
    assert "%s green threads: %s parked, 1 running" % (format(total, ","),
                                                        format(total - 1, ",")) in out
    assert "... %s more: --limit N or a filter" % format(total - 50, ",") in out
    data = json_of(out)
    assert data["threads"] == total == len(data["threads_list"])
    assert collections.Counter(r["name"] for r in data["threads_list"]) == dict(
        {k: n for k in KINDS}, joiner=1, **{"": 1})
    assert "%s green threads in 8 distinct stacks" % format(total, ",") in out
    assert "[Switching to green thread 50000 (reader)" in out
    assert re.search(r"^#\d+\s+0x[0-9a-f]+ in read_wait \(", out, re.M)


def test_install_auto_loads_through_debug_gdb_scripts(tmp_path):
    dest = tmp_path / "dest"
    subprocess.run(["make", "-s", "-C", ROOT, "install-gdb", "DESTDIR=" + str(dest),
                    "PREFIX=/usr/local", "BUILD=" + BUILD], check=True, capture_output=True)
    d = str(dest) + "/usr/local/share/gt/gdb"
    assert os.path.exists(d + "/gt-gdb.py")
    # The constants are generated and installed beside the package; no
    # header is read at load time.
    assert os.path.exists(d + "/gt/constants.py") and not os.path.exists(d + "/gt/registry.h")
    # The two lines gdb/README.md tells users to put in ~/.gdbinit; no
    # build tree to fall back on.
    env = {k: v for k, v in os.environ.items() if k != "GT_BUILD"}
    out = gdb(["-iex", "add-auto-load-safe-path " + d, "-iex", "directory " + d,
               "--args", FIXTURE, str(N)],
              ["break ready_point", "run", "info green-threads --json",
               "python import gt.abi; print('constants from', gt.abi.SOURCE)", "kill"],
              source=False, env=env)
    assert json_of(out)["threads"] == 6 * N + 2
    assert "constants from %s/gt/constants.py" % d in out


def test_apply_reports_progress_and_stops_cleanly_on_ctrl_c():
    # 24,002 threads: long enough that the interrupt sent at the first
    # report lands well before the last thread, however fast bt has become.
    n = 4000
    p = subprocess.Popen(["gdb", "-batch", "-nx", "-ex", "source " + LOADER,
                          "-ex", "break ready_point", "-ex", "run",
                          "-ex", "green-thread apply all bt", "-ex", "green-thread",
                          "-ex", "echo AFTER\\n", "-ex", "kill", "--args", FIXTURE, str(n)],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    try:
        for line in p.stdout:
            if line.startswith("[green-thread apply: 2,000 of 24,002]"):
                os.kill(p.pid, signal.SIGINT)
                break
        else:
            pytest.fail("no progress report")
        # On a loaded machine GDB has once let a Ctrl-C go by (GDB 13
        # clears its quit flag in places without raising it); a user
        # presses it again, and so does the test, at each next report.
        rest = ""
        for line in p.stdout:
            rest += line
            if line.startswith("[green-thread apply: ") and "interrupted" not in line:
                os.kill(p.pid, signal.SIGINT)
        assert p.wait(timeout=120) == 0
    finally:
        if p.poll() is None:
            p.kill()
    m = re.search(r"^\[green-thread apply: interrupted after ([\d,]+) of 24,002\]$", rest, re.M)
    assert m, rest[-2000:]
    assert 2000 <= int(m.group(1).replace(",", "")) < 24002
    # The selection is restored and GDB goes on with the next command.
    tail = rest.split(m.group(0), 1)[1]
    assert "No green thread selected" in tail and "AFTER" in tail
    assert "Traceback" not in rest


# Threads parked in gt_wait_readable_then (green_fixture N ... idle): no
# frames, no stack memory; their one frame is the entry trampoline, named
# as such whether its pc is read as exact or as a return address.
def idler_ids(n=N):
    return list(range(6 * n + 3, 7 * n + 3))


IDLE_COMMANDS = LISTING + [
                 "green-bt -n idler",
                 "green-thread %d" % idler_ids()[0], "bt",
                 "info green-stack %d" % idler_ids()[0]]


def check_idlers(out, main_state):
    assert "Traceback" not in out and "Python Exception" not in out, out
    data, where = listing_of(out)
    rows = data["threads_list"]
    assert data["threads"] == 7 * N + 2 == len(rows)
    main = [r for r in rows if r["id"] == 1]
    assert main[0]["state"] == main_state
    idle = [r for r in rows if r["name"] == "idler"]
    assert sorted(r["id"] for r in idle) == idler_ids()
    for r in idle:
        # No stack: 0 live bytes, and one frame, the entry trampoline.
        assert r["state"] == "parked" and r["wait_kind"] == "fd", r
        assert where[r["location"]].startswith("idle_wait (green_fixture.c:"), r
        assert re.fullmatch(r"fd \d+ read", r["wait"]), r
        assert r["stack"]["live"] == 0 and r["stack"]["reserved"] == 65536
        assert [(f["n"], f["function"]) for f in r["frames"]] == [(1, "gt__ctx_trampoline")]
    assert all(len(r["frames"]) > 1 for r in rows
               if r["name"] != "idler" and r["state"] != "running")
    # green-bt: one group of them, the trampoline and what it means.
    ids = idler_ids()
    group = re.search(r"^%d threads, parked \(fd\), .*: ids %d-%d \(idler\)\n(.*)\n(.*)\n"
                      % (N, ids[0], ids[-1]), out, re.M)
    assert group, out
    m = re.fullmatch(r"  #1   0x([0-9a-f]+) in gt__ctx_trampoline \(switch\.S:\d+\)", group.group(1))
    assert m, group.group(1)
    pc = int(m.group(1), 16)
    assert group.group(2) == "  (no stack: waits unstacked, starts over in idle_restart)"
    # green-thread ID + bt: that one frame, at the same pc, and nothing else.
    assert ("[Switching to green thread %d (idler), parked at idle_wait (green_fixture.c:"
            % ids[0]) in out
    assert "; no stack: waits unstacked, starts over in idle_restart]" in out
    sel = out.split("[Switching to green thread %d" % ids[0], 1)[1].split("      ID  NAME", 1)[0]
    bt = re.findall(r"^#(\d+)\s+(?:0x([0-9a-f]+) in )?(\S+) \(", sel, re.M)
    assert bt and {(lvl, int(p, 16), f) for lvl, p, f in bt} == {("1", pc, "gt__ctx_trampoline")}, sel
    assert "??" not in sel and "Backtrace stopped" not in sel
    # info green-stack ID: nothing live, nothing touched.
    assert re.search(r"^\s+%d  idler\s+0 B\s+0 B\s+64 KiB\s+64 KiB\s+64 KiB$" % ids[0], out, re.M), out
    assert "(no stack: waits unstacked, starts over in idle_restart)\n" in out


def test_unstacked_threads_live_breakpoint():
    out = gdb(["--args", FIXTURE, str(N), "idle"],
              ["break ready_point", "run"] + IDLE_COMMANDS + ["kill"])
    check_idlers(out, "running")


def test_unstacked_threads_attach_and_gcore(tmp_path):
    env = dict(os.environ, GT_GUARD="mprotect")
    p = subprocess.Popen([FIXTURE, str(N), "idle"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert p.stdout.readline().startswith("ready ")
        core = str(tmp_path / "gcore")
        out = gdb(["-p", str(p.pid)], IDLE_COMMANDS + ["green-thread off", "gcore " + core])
        check_idlers(out, "parked")
        assert os.path.exists(core), out
    finally:
        p.kill()
        p.wait()
    check_idlers(gdb([FIXTURE, core], IDLE_COMMANDS), "parked")


def test_unstacked_threads_kernel_core(tmp_path):
    def unlimited():
        resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY,) * 2)
    p = subprocess.run([FIXTURE, str(N), "crash", "idle"], cwd=tmp_path,
                       preexec_fn=unlimited, capture_output=True, text=True, timeout=60)
    assert p.returncode == -signal.SIGSEGV, p.stderr
    cores = glob.glob(str(tmp_path / "core*"))
    assert len(cores) == 1, (os.listdir(tmp_path), p.stderr)
    check_idlers(gdb([FIXTURE, cores[0]], IDLE_COMMANDS), "running")


# ---- the registry's constants: generated at build time ---------------------

def constants_module(path):
    names = {}
    with open(path) as f:
        exec(f.read(), {}, names)
    return {k: v for k, v in names.items() if k.startswith("GT_")}


def test_constants_are_the_compilers_values(tmp_path):
    """Every constant the extension uses is the value the C compiler gives
    the name in registry.h: checked against a program that prints them."""
    consts = constants_module(os.path.join(BUILD, "gdb", "gt", "constants.py"))
    assert len(consts) > 100
    prog = tmp_path / "print.c"
    prog.write_text("#include <stdio.h>\n#include <gt/registry.h>\nint main(void)\n{\n" +
                    "".join('    printf("%s %%lld\\n", (long long)(%s));\n' % (n, n)
                            for n in sorted(consts)) + "    return 0;\n}\n")
    exe = str(tmp_path / "print")
    subprocess.run(["cc", "-I", os.path.join(ROOT, "runtime", "include"), "-o", exe,
                    str(prog)], check=True)
    truth = dict(l.split() for l in subprocess.run([exe], capture_output=True, text=True,
                                                   check=True).stdout.splitlines())
    assert {k: int(v) for k, v in truth.items()} == consts
    # The package inside GDB reads them from the build tree, not a header.
    out = at_breakpoint(["python import gt.abi; print('constants from', gt.abi.SOURCE)"])
    assert "constants from %s/gdb/gt/constants.py" % BUILD in out


PARK_S = 3  # how long the fixture stays parked before its core is written


def check_core_ages(out, lo_ns, hi_ns):
    """Every parked thread's age, and the uptime, lie within 1 s of the
    truth, known to lie in [lo_ns, hi_ns] (the fixture parked between its
    start and its ready line; the core was written between two clock
    readings of the test)."""
    data, _ = listing_of(out)
    assert data["now_exact"] is True, data
    slack = 1_000_000_000
    parked = [r for r in data["threads_list"] if r["state"] == "parked"]
    assert len(parked) == 6 * N + 2
    for r in parked:
        assert lo_ns - slack <= r["wait_ns"] <= hi_ns + slack, (r["id"], r["wait_ns"], lo_ns, hi_ns)
    assert lo_ns - slack <= data["uptime_ns"] <= hi_ns + slack
    # The text says the same, and says it as a fact.
    rows = re.findall(r"^\s+\d+  \S*\s+parked\s+.*?  (>= )?([\d.]+)s  ", out, re.M)
    assert len(rows) == 6 * N + 2, out
    for ge, secs in rows:
        assert not ge and lo_ns - slack <= float(secs) * 1e9 <= hi_ns + slack, (secs, out)


def start_parked(env=None, cwd=None, preexec_fn=None):
    """The fixture, parked, and the clock reading before it started."""
    t_start = time.monotonic_ns()
    p = subprocess.Popen([FIXTURE, str(N)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True, env=env, cwd=cwd, preexec_fn=preexec_fn)
    assert p.stdout.readline().startswith("ready ")
    return p, t_start, time.monotonic_ns()


AGES = LISTING + ["info green-threads --limit 0"]


def test_gcore_ages_are_true(tmp_path):
    env = dict(os.environ, GT_GUARD="mprotect")
    p, t_start, t_ready = start_parked(env=env)
    try:
        time.sleep(PARK_S)
        core = str(tmp_path / "gcore")
        t0 = time.monotonic_ns()
        gdb(["-p", str(p.pid)], ["gcore " + core], source=False)
        t1 = time.monotonic_ns()
    finally:
        p.kill()
        p.wait()
    assert os.path.exists(core)
    check_core_ages(gdb([FIXTURE, core], AGES), t0 - t_ready, t1 - t_start)
    # A core whose time cannot be told (its mtime is before the runtime
    # started, as a copy's may be): the runtime's last clock reading is
    # all there is, and every age is printed as a lower bound.
    os.utime(core, ns=(0, 0))
    out = gdb([FIXTURE, core], AGES + ["green-bt --limit 1", "info green-locations"])
    data, _ = listing_of(out)
    assert data["now_exact"] is False
    assert all(r["wait_ns"] < t0 - t_ready for r in data["threads_list"])
    rows = re.findall(r"^\s+\d+  \S*\s+parked\s+.*?  (>= )?(\S+)  ", out, re.M)
    assert len(rows) == 6 * N + 2 and all(ge for ge, _ in rows), out
    assert re.search(r"; up >= \S+, idle ", out), out
    assert re.search(r", waited >= \S+\.\.>= \S+: ids|, waited >= \S+: ids", out), out


def test_kernel_core_ages_are_true(tmp_path):
    def unlimited():
        resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY,) * 2)
    p, t_start, t_ready = start_parked(cwd=tmp_path, preexec_fn=unlimited)
    time.sleep(PARK_S)
    t0 = time.monotonic_ns()
    os.kill(p.pid, signal.SIGABRT)
    assert p.wait(timeout=60) == -signal.SIGABRT
    t1 = time.monotonic_ns()
    cores = glob.glob(str(tmp_path / "core*"))
    assert len(cores) == 1, os.listdir(tmp_path)
    check_core_ages(gdb([FIXTURE, cores[0]], AGES), t0 - t_ready, t1 - t_start)


def test_states_counted_from_records_running_at_most_one():
    """A record that says RUNNING beside the current thread's (a switch
    caught half done) is counted in flux, never as a second runner."""
    out = at_breakpoint([
        "python import gt.registry as r; a = r.snapshot().thread(5).addr; "
        "gdb.execute('set var ((struct gt_thread_rec *)%#x)->state = 2' % a)",
        "info green-threads --json --limit 0", "info green-threads --limit 1"])
    data = json_of(out)
    total = 6 * N + 2
    assert data["states"] == {"runnable": 0, "running": 1, "parked": total - 2, "exited": 0}
    assert data["threads"] == total - 1 == sum(data["states"].values())
    assert data["in_flux"] == 1
    assert [r["id"] for r in data["threads_list"] if r["state"] == "running"] == [1]
    assert 5 not in [r["id"] for r in data["threads_list"]]
    assert re.search(r"^%d green threads: %d parked, 1 running;" % (total - 1, total - 2),
                     out, re.M), out
    assert "gt: 1 records in flux (caught mid-update) skipped" in out


def test_histogram_quantile_is_clamped_upper_bound():
    """The one rule of every reader: the bucket holding rank ceil(q * total) gives
    2^(b+1) - 1, clamped to the location's longest wait."""
    out = at_breakpoint([
        "python from gt.locations import percentile as p; print('Q', "
        "p([0] * 10 + [4] + [0] * 37, 0.5, 10**9), "      # bucket 10, max far: 2047
        "p([0] * 10 + [4] + [0] * 37, 0.99, 1500), "      # clamped to max 1500
        "p([1, 0, 0, 1] + [0] * 44, 0.5, 9), "            # rank 1 of 2: bucket 0 -> 1
        "p([1, 0, 0, 1] + [0] * 44, 0.51, 9), "           # rank 2: bucket 3 -> 15, max 9
        "p([0] * 48, 0.5, 5))",                           # empty: none
        "info green-locations --json"])
    assert "Q 2047 1500 1 9 None" in out, out
    # The main thread's 2 ms sleep: one completed wait, every quantile
    # is that wait, never its bucket's bound.
    done = [l for l in json_of(out)["locations"] if l["completed"]]
    assert done and all(l["done_p50_ns"] == l["done_p99_ns"] == l["wait_max_ns"] > 0
                        for l in done), done


def test_file_io_and_idle_in_summary_and_json():
    out = gdb(["--args", FIXTURE, str(N), "fileio"],
              ["break ready_point", "run", "info green-threads --json --limit 1",
               "info green-locations --json", "info green-threads --limit 1",
               "print gt_registry.idle_ns", "print gt_registry.file_io_ns", "kill"])
    docs = jsons_of(out)
    reg_idle = int(re.search(r"^\$1 = (\d+)$", out, re.M).group(1))
    io_ns = int(re.search(r"^\$2 = (\d+)$", out, re.M).group(1))
    for d in docs:
        assert d["file_io_calls"] == 7 and d["file_io_ns"] == io_ns > 0, d
        assert d["idle_ns"] >= reg_idle
    assert re.search(r"^%d green threads: .*; up \S+, idle \S+, file I/O 7 calls [\d.]+[mun]?s$"
                     % (6 * N + 2), out, re.M), out


def test_frames_and_lines_agree_with_the_call_sites():
    """n counts physical frames from 0, the saved context's frame; a
    return address has its call's line (DWARF: the last line-table row at
    an address wins), so gt__park's frame is the line of its call to
    gt__switch_to, in green-bt, in JSON and in `bt` after green-thread."""
    sched = os.path.join(ROOT, "runtime", "src", "sched.c")
    park = line_after(sched, "int gt__park(", "gt__switch_to(cur, GT_STATE_PARKED, rq_pop());")
    switch = line_of("gt__ctx_switch(cur ? cur->pub.ctx : S.sched_ctx, to);", sched)
    out = at_breakpoint(["green-bt -n sleeper", "info green-threads -n sleeper --json --limit 1",
                         "green-thread 2", "bt"])
    assert "  #1   0x" in out and " in gt__switch_to (sched.c:%d)\n" % switch in out
    assert re.search(r"^  #2   0x[0-9a-f]+ in gt__park \(sched.c:%d\)$" % park, out, re.M), out
    assert re.search(r"^  #5   0x[0-9a-f]+ in sleep_deep \(green_fixture.c:%d\)$"
                     % line_of("gt_sleep_ns(3600LL"), out, re.M), out
    frames = json_of(out)["threads_list"][0]["frames"]
    assert [(f["n"], f["function"], f["line"]) for f in frames[:2]] == [
        (1, "gt__switch_to", switch), (2, "gt__park", park)]
    assert re.search(r"^#\d+\s+0x[0-9a-f]+ in gt__park \(.*\) at \S*sched.c:%d$" % park, out, re.M), out


def test_inlined_frames_and_location_labels_carry_the_inline_chain():
    """A frame in inlined code is its whole inline chain, each function
    with its own line (the call site of the inner one), in green-bt, JSON
    frames and location labels alike."""
    out = at_breakpoint(["green-bt -n receiver", "info green-threads -n receiver --json --limit 1"])
    chan = os.path.join(ROOT, "runtime", "src", "chan.c")
    with open(chan) as f:
        src = f.read().splitlines()
    frames = json_of(out)["threads_list"][0]["frames"]
    inl = [f for f in frames if f["inlined"]]
    assert inl, frames
    n = inl[0]["n"]
    chain = [f for f in frames if f["n"] == n]
    assert [f["inlined"] for f in chain] == [True] * (len(chain) - 1) + [False]
    assert chain[-1]["function"] == "gt_chan_recv"
    for inner, outer in zip(chain, chain[1:]):
        # The outer function's line is where the statement calling the
        # inner one starts.
        stmt = " ".join(src[outer["line"] - 1:outer["line"] + 2])
        assert inner["function"] + "(" in stmt, (inner, outer)
    text = re.findall(r"^  #%d   0x[0-9a-f]+ in (\S+) \(chan.c:(\d+)\)( \[inlined\])?$" % n,
                      out, re.M)
    assert [(f, int(l), bool(i)) for f, l, i in text] == \
        [(f["function"], f["line"], f["inlined"]) for f in chain]


def test_grouping_agrees_with_walking_each_thread():
    """green-bt's one pass (a stack checked against the layout of one
    already walked) groups exactly as walking every thread's stack would."""
    n = 300
    out = at_breakpoint([
        "python import gt.registry as R, gt.backtrace as B, gt.stacks as S; "
        "snap = R.snapshot(); gs = B.group_threads(snap); "
        "bad = [k for g in gs for k in g.ks "
        "       if S.walk(snap.target, snap.thread_at(k)) != g.pcs]; "
        "print('GROUPED', sum(len(g.ks) for g in gs), len(gs), 'MISMATCHED', len(bad))"], n=n)
    assert "GROUPED %d 8 MISMATCHED 0" % (6 * n + 2) in out, out


def test_missing_constants_say_make_in_one_line(tmp_path):
    """The extension copied where no build has made its constants: one
    line naming the fix, no traceback, and no command half-registered."""
    shutil.copytree(os.path.join(ROOT, "gdb"), tmp_path / "gdb")
    p = subprocess.run(["gdb", "--batch", "-nx", "-ex", "source %s" % (tmp_path / "gdb" / "gt-gdb.py"),
                        "-ex", "info green-threads"], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, GT_BUILD=str(tmp_path / "nobuild")))
    err = p.stderr.strip().splitlines()
    assert err[0] == ("gt: constants.py not found beside the extension nor in the build "
                      "tree: run `make` (or `make install`)"), p.stderr
    assert "Traceback" not in p.stderr and "Traceback" not in p.stdout
