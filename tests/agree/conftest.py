"""The agreement test's pieces: the fixture program run through its two
phases, every reader run over it (live, from a gcore core, from a kernel
core), and the documents they print, with the clock readings around each
run that bound what each reader may call "now"."""
import json
import os
import sys
import re
import resource
import signal
import subprocess
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from fixture_lines import marker_lines  # noqa: E402
import installed_schemas as installed_schemas_module  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
BUILD = os.environ.get("GT_BUILD", os.path.join(ROOT, "build"))
BIN = os.path.join(BUILD, "bin")
FIXTURE = os.path.join(BUILD, "tests", "agree", "agree_fixture")
SOURCE = os.path.join(HERE, "agree_fixture.c")
SCHEMAS = os.path.join(ROOT, "schema")
LOADER = os.path.join(ROOT, "gdb", "gt-gdb.py")
GT_STACKS = os.path.join(BIN, "gt-stacks")
GT_WASTE = os.path.join(BIN, "gt-waste")
GT_TOP = os.path.join(BIN, "gt-top")

# How long the fixture idles (every thread parked, the poller blocked)
# before it is first read: long enough that an idle total leaving out the
# current stretch cannot pass for one that includes it.
IDLE_BEFORE_READ = 1.2
# How long the fixture stays untouched before each core is taken: longer
# than the 1 s a core's ages may be off (issue item 1), so a reader that
# takes the runtime's last clock reading for the core's "now" is caught.
QUIET_BEFORE_CORE = 1.5
# How long the busy fixture's main thread sits in its read(2) before it is
# read: the runtime's watchdog (every 100 ms by default) samples the running
# thread again and again while it runs, and a sample taken on its way to
# the read (in printf, in fcntl) would be replaced during the readings by
# one taken in it, so that two readers would see two stacks.  Three periods
# make sure the sample they all read is one taken in the read.
SAMPLED_IN_READ = 0.3
CLASS_BYS = ("entry", "name", "prefix")


LINES = marker_lines(SOURCE)


def mono_ns():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


class ToolError:
    """A reader that did not print a document: its exit status and the
    first line it wrote on stderr, to be named in every check that needed
    the document."""

    def __init__(self, what, text):
        self.what = what
        self.text = text

    def __repr__(self):
        return "%s failed: %s" % (self.what, self.text)


class Doc:
    """One document a reader printed: which reader and command (`tool`,
    e.g. "gt-top --view threads"), the parsed JSON or a ToolError, and the
    clock readings before and after the run (for a core: around the dump)."""

    def __init__(self, tool, data, lo, hi):
        self.tool, self.data, self.lo, self.hi = tool, data, lo, hi

    @property
    def ok(self):
        return not isinstance(self.data, ToolError)


def run_tool(argv, what):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        err = (p.stderr.strip().splitlines() or ["(nothing on stderr)"])[0]
        return ToolError(what, "exit %d: %s" % (p.returncode, err))
    try:
        return json.loads(p.stdout)
    except ValueError as e:
        return ToolError(what, "not JSON (%s): %r" % (e, p.stdout[:200]))


GDB_COMMANDS = (("info green-threads", "info green-threads --json"),
                ("info green-locations", "info green-locations --json"),
                ("green-bt", "green-bt --json"),
                ("info green-deadlocks", "info green-deadlocks --json"),
                ("info green-stack", "info green-stack --json"))


def gdb_commands(truth):
    """GDB_COMMANDS, and `info green-stack ID --json` of the main thread
    (running in phase 2) and of the first "conn" thread (it wrote
    conn_buf bytes of its stack): the document's other form."""
    cmds = list(GDB_COMMANDS)
    if truth:
        for tid in (truth["main_id"], truth["ids"]["conn"][0]):
            cmds.append(("info green-stack %d" % tid, "info green-stack %d --json" % tid))
    return cmds


def run_gdb(target_args, truth=None):
    """Every GDB command's --json form in one session; each command's
    output is told apart by a marker echoed before it."""
    argv = ["gdb", "--batch", "-nx", "-ex", "source " + LOADER, "-ex", "set green-threads limit 0"]
    commands = gdb_commands(truth)
    for name, cmd in commands:
        argv += ["-ex", "echo @@@%s\\n" % name, "-ex", cmd]
    argv += ["-ex", "echo @@@end\\n"]
    # GDB's errors go to stderr: merged, they stay beside their command.
    p = subprocess.run(argv + target_args, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=120)
    out = p.stdout
    docs = {}
    for name, cmd in commands:
        part = out.split("@@@%s\n" % name, 1)
        if len(part) < 2:
            docs[name] = ToolError("gdb " + cmd, "no output (gdb exit %d): %s"
                                   % (p.returncode, out.strip()[-300:]))
            continue
        body = part[1].split("@@@", 1)[0]
        jl = [l for l in body.splitlines() if l.startswith("{")]
        if not jl:
            text = body.strip().splitlines()
            docs[name] = ToolError("gdb " + cmd, text[0] if text else "no output")
            continue
        try:
            docs[name] = json.loads(jl[-1])
        except ValueError as e:
            docs[name] = ToolError("gdb " + cmd, "not JSON (%s)" % e)
    return docs


def read_all(target, exe, truth):
    """Every reader over one target: target is ("pid", PID) or
    ("core", PATH); truth is the fixture's (it names the threads some
    commands are asked about).  Returns {tool name: Doc}; lo/hi are the
    clock around each run (a core's caller replaces them with the
    dump's)."""
    kind, what = target
    sel = ["--core", what, "--exe", exe] if kind == "core" else [str(what)]
    top_sel = ["--core", what, "--exe", exe] if kind == "core" else ["-p", str(what)]
    docs = {}

    def one(name, argv):
        lo = mono_ns()
        data = run_tool(argv, name)
        docs[name] = Doc(name, data, lo, mono_ns())

    one("gt-stacks", [GT_STACKS, "--json"] + sel)
    one("gt-stacks --all", [GT_STACKS, "--json", "--all"] + sel)
    one("gt-stacks --thread", [GT_STACKS, "--json", "--thread", str(truth["main_id"])] + sel)
    one("gt-waste", [GT_WASTE, "--json"] + sel)
    for by in CLASS_BYS:
        one("gt-waste --class-by " + by,
            [GT_WASTE, "--json", "--class-by", by] + sel)
    top = [GT_TOP, "-b", "-n", "1", "-d", "0.05", "--format", "json"] + top_sel
    one("gt-top", top)
    one("gt-top --view graph", top + ["--view", "graph"])
    one("gt-top --view threads", top + ["--view", "threads"])
    one("gt-top --view stacks", top + ["--view", "stacks"])
    for by in CLASS_BYS:
        one("gt-top --view stacks --class-by " + by,
            top + ["--view", "stacks", "--class-by", by])
    lo = mono_ns()
    gdocs = run_gdb(["-p", str(what)] if kind == "pid" else [exe, what], truth)
    hi = mono_ns()
    for name, data in gdocs.items():
        docs["gdb " + name] = Doc("gdb " + name, data, lo, hi)
    return docs


def read_prometheus(target, exe):
    """gt-top's Prometheus exposition of two snapshots (of a core: the one
    it has), or a ToolError."""
    kind, what = target
    sel = ["--core", what, "--exe", exe] if kind == "core" else ["-p", str(what)]
    p = subprocess.run([GT_TOP, "-b", "-n", "2", "-d", "0.05", "--format", "prometheus"] + sel,
                       capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        return ToolError("gt-top --format prometheus", "exit %d: %s" % (
            p.returncode, (p.stderr.strip().splitlines() or ["(nothing on stderr)"])[0]))
    return p.stdout


def unlimited_core():
    resource.setrlimit(resource.RLIMIT_CORE,
                       (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


def wait_blocked(pid, want_poll):
    """Until the fixture's one kernel thread sleeps: in the poller (phase
    1, every green thread parked) or elsewhere (phase 2, the raw read)."""
    for _ in range(2000):
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(") ", 1)[1][0]
        with open("/proc/%d/wchan" % pid) as f:
            wchan = f.read()
        if state == "S" and ("poll" in wchan) == want_poll:
            return
        time.sleep(0.005)
    raise AssertionError("fixture %d never blocked (wchan %s)" % (pid, wchan))


class Reading:
    """One target read by every reader, with what the fixture says is true
    of it.  phase is "idle" (phase 1) or "busy" (phase 2)."""

    def __init__(self, name, kind, phase, truth, docs, now_lo=None, now_hi=None, prom=None):
        self.name, self.kind, self.phase = name, kind, phase
        self.truth, self.docs = truth, docs
        # gt-top's Prometheus text (or a ToolError): not a JSON document.
        self.prom = prom
        # For a core every reader must use the same "now", known to lie
        # between these clock readings (the dump's start and end).
        self.now_lo, self.now_hi = now_lo, now_hi

    @property
    def core(self):
        return self.kind != "live"


def gcore(pid, directory, tag):
    prefix = os.path.join(directory, "gcore-" + tag)
    subprocess.run(["gcore", "-o", prefix, str(pid)], check=True,
                   capture_output=True, timeout=120)
    return "%s.%d" % (prefix, pid)


def start_fixture(d):
    """The fixture running in directory d (its kernel core goes there),
    every thread parked; returns the process and its ground truth."""
    env = dict(os.environ, GT_GUARD="mprotect")
    p = subprocess.Popen([FIXTURE], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, cwd=d, env=env,
                         preexec_fn=unlimited_core)
    line = p.stdout.readline()
    assert line.startswith("truth "), (line, p.stderr.read())
    wait_blocked(p.pid, True)
    return p, json.loads(line.split(" ", 1)[1])


def kernel_core(p, d):
    """SIGABRT, then the core the kernel wrote in d, with the clock
    readings around the dump."""
    lo = mono_ns()
    os.kill(p.pid, signal.SIGABRT)
    p.wait(timeout=60)
    hi = mono_ns()
    assert p.returncode == -signal.SIGABRT, p.returncode
    cores = [f for f in os.listdir(d) if f.startswith("core")]
    assert cores, "no kernel core written in " + d
    return lo, hi, os.path.join(d, cores[0])


def stop(p):
    if p.poll() is None:
        p.kill()
        p.wait()
    for f in (p.stdin, p.stdout, p.stderr):
        f.close()


@pytest.fixture(scope="session")
def installed_schemas(tmp_path_factory):
    """The directory `make install` puts the JSON Schemas in, under a
    DESTDIR of its own: the documents are held to the files a user gets,
    not to the source tree's."""
    return installed_schemas_module.install(tmp_path_factory.mktemp("destdir"), BUILD)


@pytest.fixture(scope="session")
def readings(tmp_path_factory):
    """Runs the schedule once.  One fixture idles (phase 1) and is read
    live, then gcore'd; after "go" (phase 2) it is read live, gcore'd, then
    killed with SIGABRT for a kernel core.  A second one idles untouched
    all that time and is killed with SIGABRT too.  The cores are read
    last."""
    d = str(tmp_path_factory.mktemp("agree"))
    d2 = str(tmp_path_factory.mktemp("agree-untouched"))
    out, cores = {}, []
    p2 = None
    p, truth = start_fixture(d)
    try:
        p2, truth_u = start_fixture(d2)
        pid = p.pid

        def live_then_gcore(phase, truth):
            """The phase read live, then a gcore of it left to read later."""
            out["live-" + phase] = Reading("live-" + phase, "live", phase, truth,
                                           read_all(("pid", pid), FIXTURE, truth),
                                           prom=read_prometheus(("pid", pid), FIXTURE))
            time.sleep(QUIET_BEFORE_CORE)
            lo = mono_ns()
            path = gcore(pid, d, phase)
            cores.append(("gcore-" + phase, "gcore", phase, truth, (lo, mono_ns(), path)))

        time.sleep(IDLE_BEFORE_READ)
        truth1 = dict(truth, phase="idle", fresh=[])
        live_then_gcore("idle", truth1)

        p.stdin.write("go\n")
        p.stdin.flush()
        line = p.stdout.readline()
        assert line.startswith("truth2 "), (line, p.stderr.read())
        truth2 = dict(truth, phase="busy", **json.loads(line.split(" ", 1)[1]))
        wait_blocked(pid, False)
        time.sleep(SAMPLED_IN_READ)
        live_then_gcore("busy", truth2)

        time.sleep(QUIET_BEFORE_CORE)
        cores.append(("core-busy", "kernel core", "busy", truth2, kernel_core(p, d)))
        cores.append(("core-idle", "kernel core", "idle", dict(truth_u, phase="idle", fresh=[]),
                      kernel_core(p2, d2)))
    finally:
        stop(p)
        if p2 is not None:
            stop(p2)

    for name, kind, phase, t, (lo, hi, path) in cores:
        docs = read_all(("core", path), FIXTURE, t)
        for doc in docs.values():
            doc.lo, doc.hi = lo, hi
        out[name] = Reading(name, kind, phase, t, docs, lo, hi,
                            prom=read_prometheus(("core", path), FIXTURE))
    return out
