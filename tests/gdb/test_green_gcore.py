"""`green-gcore`: what the GDB extension hands gt-core, and what it says.

The contract with gt-core (its --regs-from file: one line per kernel
thread, main thread first, `tid=N rax=0x... rip=0x...`) is checked with a
stand-in gt-core that keeps what it was given: every task of the process
is there, once, the main one first, with the registers GDB shows for it
(and, for the main thread, blocked in epoll, the sp and pc the kernel
reports in /proc/PID/task/TID/syscall before GDB attached), whatever green
thread is selected; GDB's selection is the same afterwards.  Errors are
one line each.  Then through the real gt-core (build/bin/gt-core): the
core, full and compact, has the groups gt-stacks finds live, and GDB
selects a green thread in it and shows its frames and known locals.
"""
import json
import os
import re
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
BUILD = os.environ.get("GT_BUILD", os.path.join(ROOT, "build"))
FIXTURE = os.path.join(BUILD, "tests", "gdb", "green_fixture")
LOADER = os.path.join(ROOT, "gdb", "gt-gdb.py")
N = 3

STAND_IN = r'''#!%s
"""Stands in for gt-core: keeps its arguments and the --regs-from file."""
import os, shutil, sys
keep = os.environ["STAND_IN_DIR"]
with open(os.path.join(keep, "argv"), "w") as f:
    f.write("\n".join(sys.argv[1:]) + "\n")
regs = sys.argv[sys.argv.index("--regs-from") + 1]
shutil.copy(regs, os.path.join(keep, "regs"))
if os.environ.get("STAND_IN_FAIL"):
    sys.stderr.write("gt-core: 4242 exited during the capture: core.4242 removed\n")
    sys.exit(1)
print("gt-core: wrote core.%%s (full): 21 green threads, 2 kernel threads; stopped by "
      "its tracer, 0.010 s in all; 1.0 MiB on disk, RSS 1.0 MiB" %% sys.argv[-1])
''' % sys.executable


@pytest.fixture
def parked():
    """green_fixture with a second kernel thread, every green thread
    parked and its kernel threads asleep; the main thread's sp and pc as
    the kernel reports them (it sleeps in epoll)."""
    p = subprocess.Popen([FIXTURE, str(N), "kthread"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().startswith("ready ")
    for _ in range(2000):
        with open("/proc/%d/wchan" % p.pid) as f:
            if "poll" in f.read():
                break
    with open("/proc/%d/task/%d/syscall" % (p.pid, p.pid)) as f:
        words = f.read().split()
    yield p, int(words[-2], 16), int(words[-1], 16)
    p.kill()
    p.wait()


def stand_in(tmp_path):
    path = tmp_path / "gt-core"
    path.write_text(STAND_IN)
    path.chmod(0o755)
    return str(path)


def gdb(args, commands, env=None):
    argv = ["gdb", "-batch", "-nx", "-ex", "source " + LOADER]
    for c in commands:
        argv += ["-ex", c]
    p = subprocess.run(argv + args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=240, env=dict(os.environ, **(env or {})))
    return p.stdout


def regs_file(path):
    out = []
    with open(path) as f:
        for line in f:
            words = dict(w.split("=", 1) for w in line.split())
            out.append({k: int(v, 0) for k, v in words.items()})
    return out


def test_registers_handed_to_gt_core(parked, tmp_path):
    p, main_sp, main_pc = parked
    tasks = sorted(int(t) for t in os.listdir("/proc/%d/task" % p.pid))
    assert len(tasks) >= 2
    core = str(tmp_path / "out.core")
    out = gdb(["-p", str(p.pid)],
              ["set green-threads gt-core " + stand_in(tmp_path),
               "green-thread 2", "frame",
               "green-gcore %s --compact -f" % core,
               "frame", "green-thread",
               "thread apply all info registers rip rsp"],
              env={"STAND_IN_DIR": str(tmp_path)})
    assert "Traceback" not in out and "Python Exception" not in out, out
    # gt-core's line, as it printed it.
    assert ("gt-core: wrote core.%d (full): 21 green threads, 2 kernel threads; "
            "stopped by its tracer" % p.pid) in out, out
    with open(tmp_path / "argv") as f:
        argv = f.read().split("\n")[:-1]
    assert argv[0] == "--regs-from" and argv[2:] == ["-o", core, "--compact", "-f",
                                                     str(p.pid)], argv
    regs = regs_file(tmp_path / "regs")
    # Every task once, the main thread first.
    assert [r["tid"] for r in regs][0] == p.pid
    assert sorted(r["tid"] for r in regs) == tasks
    assert all(len(r) == 28 for r in regs), regs     # tid and 27 registers
    main = regs[0]
    assert (main["rsp"], main["rip"]) == (main_sp, main_pc)
    # Each thread's registers are the ones GDB shows for it.
    shown = {}
    for m in re.finditer(r"\(LWP (\d+)\)[^\n]*:\nrip\s+(0x[0-9a-f]+).*\nrsp\s+(0x[0-9a-f]+)",
                         out):
        shown[int(m.group(1))] = (int(m.group(2), 16), int(m.group(3), 16))
    assert shown == {r["tid"]: (r["rip"], r["rsp"]) for r in regs}, (shown, out)
    # The green thread selected before is selected after, on the same frame.
    # (green-thread, then `frame` before and after, print it: 3 times.)
    frames = re.findall(r"^#\d+\s+0x[0-9a-f]+ in sleep_deep .*$", out, re.M)
    assert len(frames) == 3 and len(set(frames)) == 1, out
    assert re.search(r"^Selected: green thread 2 ", out, re.M), out


def test_errors_are_one_line(parked, tmp_path):
    p, _, _ = parked
    # gt-core's own message, as the command's error.
    out = gdb(["-p", str(p.pid)], ["set green-threads gt-core " + stand_in(tmp_path),
                                   "green-gcore"],
              env={"STAND_IN_DIR": str(tmp_path), "STAND_IN_FAIL": "1"})
    assert "\ngt-core: 4242 exited during the capture: core.4242 removed\n" in out, out
    with open(tmp_path / "argv") as f:
        assert f.read().split("\n")[:-1][2:] == [str(p.pid)]
    out = gdb(["-p", str(p.pid)], ["set green-threads gt-core /nonexistent/gt-core",
                                   "green-gcore", "green-gcore a b", "green-gcore --bogus"])
    assert ("green-gcore: /nonexistent/gt-core is not an executable program: "
            "`set green-threads gt-core PATH`") in out
    assert "green-gcore: one FILE at most (got 2: a b)" in out
    assert "green-gcore: unknown option --bogus (see `help green-gcore`)" in out
    assert "Traceback" not in out and "Python Exception" not in out, out
    out = gdb([FIXTURE], ["green-gcore"])
    assert "green-gcore: no process: run the program or attach to it" in out, out


def test_not_on_a_core_file(parked, tmp_path):
    p, _, _ = parked
    prefix = str(tmp_path / "g")
    subprocess.run(["gcore", "-o", prefix, str(p.pid)], check=True, capture_output=True,
                   timeout=120)
    out = gdb([FIXTURE, "%s.%d" % (prefix, p.pid)], ["green-gcore x"])
    assert "green-gcore: already a core file" in out, out
    assert "Traceback" not in out and "Python Exception" not in out, out


def groups(doc):
    """A gt-stacks document's groups as what makes them: size, state
    counts, representative, location and frames (not ages: time goes on)."""
    return [(g["count"], g["states"], g["representative"], g["location"],
             [(f["n"], f["function"], f["line"]) for f in g["frames"]])
            for g in doc["groups"]]


@pytest.mark.parametrize("compact", [False, True])
def test_green_gcore_core_reads_like_the_live_process(parked, tmp_path, compact):
    """green-gcore under the default guard policy (madvise: GDB's gcore
    would write every green stack as zeros), through the real gt-core: the
    core has the groups gt-stacks finds live, says it was stopped by its
    tracer, and in GDB green-thread 3 + bt + info locals show the
    sleeper's recursion and its known locals."""
    p, _, _ = parked
    gt_stacks = os.path.join(BUILD, "bin", "gt-stacks")
    live = subprocess.run([gt_stacks, "--json", str(p.pid)], capture_output=True,
                          text=True, timeout=120)
    assert live.returncode == 0, live.stderr
    core = str(tmp_path / "green.core")
    out = gdb(["-p", str(p.pid)],
              ["green-gcore %s%s" % (core, " --compact" if compact else ""),
               "info threads"], env={"GT_BUILD": BUILD})
    mode = "compact" if compact else "full"
    assert re.search(r"^gt-core: wrote %s \(%s\): %d green threads, 3 kernel threads; "
                     r"stopped by its tracer" % (re.escape(core), mode, 6 * N + 2),
                     out, re.M), out
    # GDB still holds the process, its threads where they were.
    assert out.count('"green_fixture"') >= 3, out
    doc = subprocess.run([gt_stacks, "--json", "--core", core, "--exe", FIXTURE],
                         capture_output=True, text=True, timeout=120)
    assert doc.returncode == 0, doc.stderr
    d = json.loads(doc.stdout)
    assert groups(d) == groups(json.loads(live.stdout))
    assert d["capture"]["stopped_ns"] == 0 and d["capture"]["stopped"] is True
    assert d["capture"]["compact"] is compact
    out = gdb([FIXTURE, core], ["green-thread 3", "bt", "frame function sleep_deep",
                                "info locals", "up", "info locals",
                                "maint info sections"])
    assert "[Switching to green thread 3 (sleeper), parked at sleep_deep" in out, out
    # The capture note is not taken for a thread's registers (BFD reads a
    # note of a name it does not know by its type alone: type 2 made a
    # second, 40-byte .reg2 of the last thread): one register section of
    # each kind per thread.
    regs = re.findall(r" (\.reg[\w-]*/\d+) ", out)
    assert regs and len(regs) == len(set(regs)), out
    sel = out.split("[Switching to green thread 3", 1)[1].split("marker =", 1)[0]
    funcs = re.findall(r"^#\d+\s+(?:0x[0-9a-f]+ in )?(\w+) \(", sel, re.M)
    assert funcs.count("sleep_deep") >= 3 and "gt__thread_start" in funcs, out
    assert re.search(r"^marker = 4711003$", out, re.M), out
    assert re.search(r"^marker = 4711002$", out, re.M), out


def test_green_gcore_at_a_breakpoint(tmp_path):
    """GDB ran the program and it stopped at a breakpoint: the core has the
    main thread where GDB showed it (its pc at the breakpoint, GDB's
    breakpoint bytes out of memory), and the running green thread with it."""
    core = str(tmp_path / "bp.core")
    out = gdb(["--args", FIXTURE, str(N)],
              ["break ready_point", "run", "bt 2", "green-gcore " + core, "kill"],
              env={"GT_BUILD": BUILD})
    assert re.search(r"^gt-core: wrote %s \(full\): %d green threads" % (re.escape(core),
                                                                      6 * N + 2), out, re.M), out
    want = [("0", "ready_point"), ("1", "main_thread")]

    def has_bt(text):
        bt = re.findall(r"^#(\d)\s+(?:0x[0-9a-f]+ in )?(\w+) \(", text, re.M)
        return any(bt[i:i + 2] == want for i in range(len(bt)))
    assert has_bt(out), out
    out = gdb([FIXTURE, core], ["bt 2", "info green-threads -s running"])
    assert has_bt(out), out
    assert re.search(r"^\s+1\s+running\s", out, re.M), out


def test_green_gcore_of_a_program_without_gt(tmp_path):
    """A program without the gt runtime: gt-core's warning and its line
    (a plain core, 0 green threads), as it wrote them; --compact refused
    with gt-core's one line, and no file."""
    no_runtime = os.path.join(BUILD, "tests", "gdb", "no_runtime")
    core, compact = str(tmp_path / "plain.core"), str(tmp_path / "compact.core")
    out = gdb([no_runtime], ["break stop_here", "run", "green-gcore " + core,
                             "green-gcore %s --compact" % compact, "kill"],
              env={"GT_BUILD": BUILD})
    # (gt-core's words may change; the facts stay: no registry, a plain core.)
    assert re.search(r"^gt-core: .*no_runtime.* no gt registry.* plain core", out, re.M), out
    assert re.search(r"^gt-core: wrote %s \(full\): 0 green threads, 1 kernel thread; "
                     r"stopped by its tracer" % re.escape(core), out, re.M), out
    assert re.search(r"^gt-core: --compact .*no gt registry", out, re.M), out
    assert os.path.getsize(core) > 0 and not os.path.exists(compact)
    assert "Traceback" not in out and "Python Exception" not in out, out
