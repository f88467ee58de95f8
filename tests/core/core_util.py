"""What gt-core's tests share: paths, fixture programs with known ground
truth, running gt-core and the readers, and reading a core file without
any of gt's code (the ELF headers, the notes, memory at an address), so
that nothing a test asserts comes from gt-core's own account of itself.
"""
import json
import os
import re
import resource
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
BUILD = os.environ.get("GT_BUILD", os.path.join(ROOT, "build"))
BIN = os.path.join(BUILD, "bin")
# GT_CORE_BIN: another gt-core build to hold to the same tests.
GT_CORE = os.environ.get("GT_CORE_BIN", os.path.join(BIN, "gt-core"))
GT_STACKS = os.path.join(BIN, "gt-stacks")
GT_WASTE = os.path.join(BIN, "gt-waste")
GT_TOP = os.path.join(BIN, "gt-top")
KNOWN = os.path.join(BUILD, "tests", "tools", "known_stacks")
GREEN = os.path.join(BUILD, "tests", "gdb", "green_fixture")
SIGNALS = os.path.join(BUILD, "tests", "core", "signal_counter")
KILL_AT_READ = os.path.join(BUILD, "tests", "tools", "kill_at_read.so")
LOADER = os.path.join(ROOT, "gdb", "gt-gdb.py")

sys.path.insert(0, os.path.join(HERE, ".."))
from fixture_lines import marker_lines  # noqa: E402

GUARDS = ("madvise", "mprotect", "canary")

# known_stacks.c: how many threads of each kind the tests start, and the
# function each kind parks in (its location's innermost source frame).
KNOWN_COUNTS = {"alpha": 3, "beta": 2, "recur": 2, "diver": 2}
KNOWN_DEPTH = 5
KNOWN_PARK = {"alpha": "alpha_leaf", "beta": "beta_wait", "recur": "recurse",
              "diver": "diver_wait", "": "hold_main"}
KNOWN_LINES = marker_lines(os.path.join(ROOT, "tests", "tools", "known_stacks.c"))

# green_fixture.c: N threads of each of six kinds, the main one and a joiner.
GREEN_N = 3

NT_PRSTATUS, NT_PRFPREG, NT_PRPSINFO, NT_AUXV = 1, 2, 3, 6
NT_X86_XSTATE = 0x202
NT_SIGINFO = 0x53494749
NT_FILE = 0x46494C45


def registry_define(name):
    """A number #defined in gt/registry.h: the note's numbers are the
    header's, the contract, not copies of them here."""
    with open(os.path.join(ROOT, "runtime", "include", "gt", "registry.h")) as f:
        m = re.search(r"^#define %s\s+(0x[0-9a-fA-F]+|\d+)u?\b" % name, f.read(), re.M)
    assert m, name
    return int(m.group(1), 0)


GT_NOTE_CAPTURE = registry_define("GT_NOTE_CAPTURE")
CAPTURE_VERSION = registry_define("GT_CAPTURE_VERSION")
CAPTURE_COMPACT, CAPTURE_NO_STOP, CAPTURE_NO_FPREGS, CAPTURE_NOT_GT = (
    registry_define("GT_CAPTURE_" + n) for n in ("COMPACT", "NO_STOP", "NO_FPREGS", "NOT_GT"))
PAGE = os.sysconf("SC_PAGE_SIZE")


def unlimited_core():
    resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY,) * 2)


def proc_state(pid):
    """The one-letter state of /proc/PID/stat (bytes: the name is any)."""
    with open("/proc/%d/stat" % pid, "rb") as f:
        return chr(f.read().rsplit(b") ", 1)[1][0])


def tracer_of(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"^TracerPid:\s+(\d+)", f.read(), re.M).group(1))


def tasks(pid):
    """The kernel threads of PID, the main one first."""
    tids = sorted(int(t) for t in os.listdir("/proc/%d/task" % pid))
    return [pid] + [t for t in tids if t != pid]


def rss_bytes(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"^VmRSS:\s+(\d+) kB", f.read(), re.M).group(1)) * 1024


def wait_idle(pid):
    """Until the main kernel thread sleeps in the poller: every green
    thread has parked."""
    for _ in range(2000):
        with open("/proc/%d/wchan" % pid) as f:
            wchan = f.read()
        if proc_state(pid) == "S" and "poll" in wchan:
            return
        time.sleep(0.005)
    raise AssertionError("process %d never went idle" % pid)


class Target:
    """A fixture program running until stop(): it printed "ready PID" (its
    first line), and with IDLE its threads have all parked.  t_start and
    t_ready are CLOCK_MONOTONIC before it started and after that line:
    every thread parked in between."""

    def __init__(self, argv, env=None, idle=True, cwd=None, user=None):
        self.t_start = time.monotonic_ns()
        pre = unlimited_core
        if user is not None:
            def pre():
                unlimited_core()
                os.setgid(user)
                os.setuid(user)
        self.p = subprocess.Popen([str(a) for a in argv], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, cwd=cwd, preexec_fn=pre,
                                  env=dict(os.environ, **(env or {})))
        line = self.p.stdout.readline()
        assert line.startswith("ready "), (line, self.p.stderr.read() if not line else "")
        self.t_ready = time.monotonic_ns()
        self.pid = self.p.pid
        self.exe = argv[0]
        if idle:
            wait_idle(self.pid)

    def send(self, text):
        self.p.stdin.write(text + "\n")
        self.p.stdin.flush()

    def stop(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()
        for f in (self.p.stdout, self.p.stderr, self.p.stdin):
            f.close()


def known_target(guard="madvise", counts=None, depth=KNOWN_DEPTH, extra=(), env=None):
    """known_stacks with COUNTS threads of each kind, under GT_GUARD=guard."""
    c = dict(KNOWN_COUNTS, **(counts or {}))
    argv = [KNOWN, c["alpha"], c["beta"], c["recur"], depth, c["diver"]] + list(extra)
    t = Target(argv, env=dict(env or {}, GT_GUARD=guard))
    t.counts = c
    return t


def green_target(guard="madvise", n=GREEN_N, env=None):
    return Target([GREEN, n], env=dict(env or {}, GT_GUARD=guard))


def run(argv, timeout=300, **kw):
    p = subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                       timeout=timeout, **kw)
    return p.returncode, p.stdout, p.stderr


def one_line(text):
    lines = text.strip("\n").split("\n")
    assert len(lines) == 1 and lines[0], text
    return lines[0]


# ---- gt-core ----

SUMMARY = re.compile(
    r"gt-core: wrote (?P<file>.+) \((?P<mode>full|compact)(?P<nostop>, not stopped: best effort)?\): "
    r"(?P<green>[\d,]+) green threads?, (?P<kernel>[\d,]+) kernel (?P<kword>threads?); "
    r"(?:stopped (?P<stopped>[\d.]+) s|(?P<notstopped>not stopped)|(?P<tracer>stopped by its tracer)), "
    r"(?P<total>[\d.]+) s in all; (?P<disk>[\d.]+ [KMGT]?i?B) on disk, RSS (?P<rss>[\d.]+ [KMGT]?i?B)")


def capture(pid, out, *opts, env=None, cwd=None, timeout=300, preexec_fn=None):
    """Runs gt-core -o OUT OPTS PID; (exit status, stdout, stderr, t0, t1)
    with t0, t1 CLOCK_MONOTONIC just before it started and after it ended."""
    t0 = time.monotonic_ns()
    p = subprocess.run([GT_CORE, "-o", str(out)] + [str(o) for o in opts] + [str(pid)],
                       capture_output=True, text=True, timeout=timeout, cwd=cwd,
                       env=dict(os.environ, **(env or {})), preexec_fn=preexec_fn)
    t1 = time.monotonic_ns()
    return p.returncode, p.stdout, p.stderr, t0, t1


def summary(stdout):
    """gt-core's one success line, parsed."""
    line = one_line(stdout)
    m = SUMMARY.fullmatch(line)
    assert m, line
    d = m.groupdict()
    d["green"] = int(d["green"].replace(",", ""))
    d["kernel"] = int(d["kernel"].replace(",", ""))
    assert d["kword"] == ("thread" if d["kernel"] == 1 else "threads"), line
    d["line"] = line
    return d


def captured(pid, out, *opts, **kw):
    """A capture that must succeed: (its parsed line, t0, t1)."""
    rc, so, se, t0, t1 = capture(pid, out, *opts, **kw)
    assert rc == 0, (rc, so, se)
    return summary(so), t0, t1


UNITS = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}


def parse_size(text):
    num, unit = text.split()
    return float(num) * UNITS[unit]


def du(path):
    """Bytes the file takes on disk (its blocks)."""
    return os.stat(path).st_blocks * 512


def size_matches(text, value, slack=0.0):
    """TEXT (gto_fmt_bytes: "430.2 MiB", "95 MiB") names VALUE to the
    precision it is printed with, or within SLACK (a fraction of VALUE)."""
    num, unit = text.split()
    decimals = len(num.split(".")[1]) if "." in num else 0
    half_digit = 0.5 * 10 ** -decimals * UNITS[unit]
    return abs(parse_size(text) - value) <= half_digit * 1.01 + slack * value


# ---- the readers ----

def reader_json(tool, target, *args, exe=None):
    """TOOL's --json document (gt-top: -b --format json) of a pid or a
    core file."""
    if isinstance(target, int):
        where = ["-p", str(target)] if tool == GT_TOP else [str(target)]
    else:
        where = ["--core", str(target)] + (["--exe", exe] if exe else [])
    if tool == GT_TOP:
        argv = [tool, "-b", "--format", "json"] + list(args) + where
    else:
        argv = [tool, "--json"] + list(args) + where
    rc, out, err = run(argv)
    assert rc == 0, (argv, err)
    return json.loads(out)


def groups_of(doc):
    """gt-stacks --json's groups, as what must not depend on how the
    target was read: count, ids, state, location and frames."""
    where = {l["index"]: l["where"] for l in doc["locations"]}
    out = []
    for g in doc["groups"]:
        frames = tuple((f["n"], f["pc"], f["function"], f.get("file"), f.get("line"),
                        f.get("inlined")) for f in g["frames"])
        out.append((g["count"], tuple(g["thread_ids"]), tuple(sorted(g["states"].items())),
                    where.get(g["location"]), frames))
    return sorted(out)


def check_known_groups(doc, counts, depth=KNOWN_DEPTH):
    """gt-stacks' groups of known_stacks say what the fixture knows: one
    group per kind, of its count, parked at its function and line, and
    the recursion DEPTH + 1 frames of recurse deep."""
    by_fn = {}
    for g in doc["groups"]:
        funcs = [f["function"] for f in g["frames"]]
        names = [k for k, fn in KNOWN_PARK.items() if fn in funcs]
        assert len(names) == 1, funcs
        by_fn[names[0]] = (g, funcs)
    assert sorted(by_fn) == sorted(list(counts) + [""]), sorted(by_fn)
    marks = {"alpha": "alpha", "beta": "beta", "recur": "recur", "diver": "diver", "": "hold"}
    for kind, (g, funcs) in by_fn.items():
        assert g["count"] == counts.get(kind, 1), (kind, g["count"])
        assert len(g["thread_ids"]) == g["count"]
        frame = [f for f in g["frames"] if f["function"] == KNOWN_PARK[kind]][0]
        assert frame["line"] == KNOWN_LINES[marks[kind]], (kind, frame)
        assert funcs[-2:] == ["gt__thread_start", "gt__ctx_trampoline"], funcs
    assert by_fn["recur"][1].count("recurse") == depth + 1
    assert doc["threads"] == 1 + sum(counts.values())


def top_threads(doc, compact=False):
    """gt-top's threads view, per thread, without the ages (compared on
    their own) and what a core cannot know (resident pages)."""
    keep = ("reserved", "live") if compact else ("reserved", "live", "touched", "dead", "unused")
    out = {}
    for r in doc["threads_list"]:
        row = {k: v for k, v in r.items() if k not in ("wait_ns", "stack")}
        row["stack"] = {k: r["stack"][k] for k in keep}
        out[r["id"]] = row
    return out


# ---- GDB ----

def gdb(args, commands, timeout=240):
    argv = ["gdb", "-batch", "-nx", "-ex", "source " + LOADER]
    for c in commands:
        argv += ["-ex", c]
    p = subprocess.run(argv + [str(a) for a in args], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=timeout)
    return p.stdout


def bt_functions(text):
    """The function of each frame line of a backtrace, in order."""
    return re.findall(r"^#\d+\s+(?:0x[0-9a-f]+ in )?(\S+) \(", text, re.M)


# ---- what a core must say ----

SLACK_NS = 1_000_000_000


def live_reads(pid):
    """The readers' view of the live process, and the clock readings
    around the gt-top run (its wait ages are taken in between)."""
    stacks = reader_json(GT_STACKS, pid)
    t0 = time.monotonic_ns()
    top = reader_json(GT_TOP, pid, "--view", "threads")
    t1 = time.monotonic_ns()
    waste = reader_json(GT_WASTE, pid)
    return stacks, top, (t0, t1), waste


def check_ages(core_top, live_top, live_t, target, t0, t1):
    """Every parked thread's age in the core is its age at capture: within
    1 s of what the clocks say (it parked between the fixture's start and
    its ready line; the core was taken between t0 and t1), and within 1 s
    of its live age plus the time from the live read to the capture."""
    assert core_top["now_exact"] is True, core_top["now_exact"]
    live = {r["id"]: r["wait_ns"] for r in live_top["threads_list"]}
    rows = [r for r in core_top["threads_list"] if r["state"] == "parked"]
    assert len(rows) == len(live)
    for r in rows:
        age = r["wait_ns"]
        assert t0 - target.t_ready - SLACK_NS <= age <= t1 - target.t_start + SLACK_NS, \
            (r["id"], age, t0 - target.t_ready, t1 - target.t_start)
        lo = live[r["id"]] + (t0 - live_t[1])
        hi = live[r["id"]] + (t1 - live_t[0])
        assert lo - SLACK_NS <= age <= hi + SLACK_NS, (r["id"], age, lo, hi)


def check_notes(c, target, s, t0, t1, w0, w1, flags):
    """The notes against /proc and the clocks: one NT_PRSTATUS per kernel
    thread, main first, its registers where /proc/PID/syscall says the
    thread sleeps, floating-point state for each, NT_PRPSINFO, NT_AUXV
    byte for byte, NT_FILE naming the program, and the capture note."""
    pid = target.pid
    tids = c.prstatus_tids()
    assert tids[0] == pid and sorted(tids) == sorted(tasks(pid)), tids
    assert s["kernel"] == len(tids)
    if not flags & CAPTURE_NO_FPREGS:
        assert len(c.notes_of(b"CORE", NT_PRFPREG)) == len(tids)
        assert len(c.notes_of(b"LINUX", NT_X86_XSTATE)) == len(tids)
    ps = c.notes_of(b"CORE", NT_PRPSINFO)
    assert len(ps) == 1
    assert struct.unpack_from("<i", ps[0], 24)[0] == pid
    with open("/proc/%d/comm" % pid, "rb") as f:
        assert ps[0][40:56].rstrip(b"\0") == f.read().strip()
    with open("/proc/%d/auxv" % pid, "rb") as f:
        assert c.notes_of(b"CORE", NT_AUXV) == [f.read()]
    paths = c.file_note_paths()
    assert os.path.realpath(target.exe) in paths, paths
    assert any(os.path.basename(p).startswith("libc.so") for p in paths), paths
    note = c.capture_note()
    assert note["version"] == CAPTURE_VERSION and note["flags"] == flags, note
    assert t0 <= note["monotonic_ns"] <= t1, (note, t0, t1)
    assert w0 <= note["realtime_ns"] <= w1, (note, w0, w1)
    if flags & CAPTURE_NO_STOP:
        assert note["stopped_ns"] == 0
    else:
        assert 0 < note["stopped_ns"] <= t1 - t0
    base = exe_base(pid, target.exe)
    assert note["registry"] == base + symbol_value(target.exe, "gt_registry")
    # The program's ELF header (its build-id's way in), as the kernel keeps.
    with open(target.exe, "rb") as f:
        assert c.read(base, 64) == f.read(64)


def main_thread_at(pid):
    """(pc, sp) of the main kernel thread asleep in a system call."""
    with open("/proc/%d/task/%d/syscall" % (pid, pid)) as f:
        words = f.read().split()
    assert len(words) == 9, words  # NR, six arguments, sp, pc
    return int(words[8], 16), int(words[7], 16)


def sections(out):
    """{name: text} of a GDB run whose commands are split by "echo @@NAME"."""
    parts = re.split(r"^@@(\w+)$", out, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


def check_gdb(out, target, n=GREEN_N):
    """GDB on a core of green_fixture: every kernel thread, the main one's
    backtrace down to main, and green thread 3 (a sleeper, three
    sleep_deep frames deep) with its locals."""
    assert "Traceback" not in out and "Python Exception" not in out, out
    sec = sections(out)
    assert set(sec) == {"THREADS", "MAIN", "GREEN", "LIST"}, out
    lwps = {int(x) for x in re.findall(r"LWP (\d+)", sec["THREADS"])}
    assert lwps == set(tasks(target.pid)), out
    funcs = bt_functions(sec["MAIN"])
    # The poller's wait: epoll's own frame, or libc's syscall() under the
    # runtime's raw wrapper (the runtime's epoll_wait is the program's).
    inner = [f for f in funcs if f != "syscall"]
    assert inner and "epoll" in inner[0], sec["MAIN"]
    assert funcs[-3:] == ["gt__poller_poll", "gt_main", "main"] or \
        funcs[-4:-1] == ["gt__poller_poll", "gt_main", "main"], sec["MAIN"]
    green = sec["GREEN"]
    assert "[Switching to green thread 3 (sleeper), parked at sleep_deep (green_fixture.c:" in green
    funcs = bt_functions(green.split("marker =", 1)[0])
    assert funcs.count("sleep_deep") >= 3 and "gt__thread_start" in funcs, green
    assert "Cannot access memory" not in out and "Backtrace stopped" not in green, out
    assert re.search(r"^marker = 4711003$", green, re.M), green
    assert re.search(r"^marker = 4711002$", green, re.M), green
    doc = [json.loads(l) for l in sec["LIST"].splitlines() if l.startswith("{")][-1]
    assert doc["threads"] == 6 * n + 2 == len(doc["threads_list"])
    assert [r["name"] for r in doc["threads_list"]].count("sleeper") == n


GDB_COMMANDS = ["echo @@THREADS\\n", "info threads", "echo @@MAIN\\n", "thread 1", "bt",
                "echo @@GREEN\\n", "green-thread 3", "bt", "frame function sleep_deep",
                "info locals", "up", "info locals",
                "echo @@LIST\\n", "info green-threads --json --limit 0"]



# ---- the core file itself ----

class Core:
    """An ELF core file read with nothing but the ELF specification: its
    PT_LOAD segments (memory) and PT_NOTE notes."""

    def __init__(self, path):
        self.path = path
        self.f = open(path, "rb")
        h = self.f.read(64)
        assert h[:4] == b"\x7fELF" and h[4] == 2 and h[5] == 1, h[:16]
        (e_type, e_machine, _, _, e_phoff, e_shoff, _, _, e_phentsize, e_phnum,
         _, _, _) = struct.unpack_from("<HHIQQQIHHHHHH", h, 16)
        assert (e_type, e_machine) == (4, 62), (e_type, e_machine)  # ET_CORE, x86-64
        assert e_phentsize == 56
        if e_phnum == 0xFFFF:  # PN_XNUM: the count is section 0's sh_info
            self.f.seek(e_shoff)
            e_phnum = struct.unpack_from("<IIQQQQIIQQ", self.f.read(64))[7]
        self.f.seek(e_phoff)
        raw = self.f.read(56 * e_phnum)
        self.loads, self.notes = [], []
        for i in range(e_phnum):
            p_type, p_flags, off, vaddr, _, filesz, memsz, _ = struct.unpack_from(
                "<IIQQQQQQ", raw, 56 * i)
            if p_type == 1:
                assert filesz <= memsz, (hex(vaddr), filesz, memsz)
                self.loads.append((vaddr, memsz, off, filesz, p_flags))
            elif p_type == 4:
                self.f.seek(off)
                self.notes += parse_notes(self.f.read(filesz))
        self.loads.sort()
        self.starts = [l[0] for l in self.loads]

    def close(self):
        self.f.close()

    def segment(self, addr):
        import bisect
        i = bisect.bisect_right(self.starts, addr) - 1
        if i >= 0:
            vaddr, memsz, off, filesz, flags = self.loads[i]
            if addr < vaddr + memsz:
                return self.loads[i]
        return None

    def read(self, addr, n):
        """N bytes at ADDR as the core has them (zeros past a segment's
        file part), or None where no segment covers them."""
        out = b""
        while n > 0:
            seg = self.segment(addr)
            if seg is None:
                return None
            vaddr, memsz, off, filesz, _ = seg
            take = min(n, vaddr + memsz - addr)
            rel = addr - vaddr
            data = b""
            if rel < filesz:
                self.f.seek(off + rel)
                data = self.f.read(min(take, filesz - rel))
            out += data + bytes(take - len(data))
            addr += take
            n -= take
        return out

    def notes_of(self, name, ntype):
        return [d for nm, t, d in self.notes if nm == name and t == ntype]

    def prstatus_tids(self):
        """The pid field of each NT_PRSTATUS, in file order."""
        return [struct.unpack_from("<i", d, 32)[0] for d in self.notes_of(b"CORE", NT_PRSTATUS)]

    def prstatus_regs(self):
        """{tid: (rip, rsp)} of the NT_PRSTATUS notes (user_regs_struct at
        offset 112: rip is its 17th word, rsp its 20th)."""
        out = {}
        for d in self.notes_of(b"CORE", NT_PRSTATUS):
            regs = struct.unpack_from("<27Q", d, 112)
            out[struct.unpack_from("<i", d, 32)[0]] = (regs[16], regs[19])
        return out

    def capture_note(self):
        """The gt note of type GT_NOTE_CAPTURE, as a dict."""
        ds = self.notes_of(b"gt", GT_NOTE_CAPTURE)
        assert len(ds) == 1, [(n, t) for n, t, _ in self.notes]
        assert len(ds[0]) >= 40, len(ds[0])
        v = struct.unpack_from("<IIQQQQ", ds[0])
        return dict(zip(("version", "flags", "monotonic_ns", "realtime_ns", "stopped_ns",
                         "registry"), v))

    def file_note_paths(self):
        """The file names of NT_FILE."""
        ds = self.notes_of(b"CORE", NT_FILE)
        assert len(ds) == 1
        d = ds[0]
        count, _ = struct.unpack_from("<QQ", d)
        names = d[16 + 24 * count:].split(b"\0")
        return [n.decode() for n in names[:count]]


def parse_notes(data):
    out, i = [], 0
    while i + 12 <= len(data):
        namesz, descsz, ntype = struct.unpack_from("<III", data, i)
        i += 12
        name = data[i:i + namesz].rstrip(b"\0")
        i += (namesz + 3) & ~3
        out.append((name, ntype, data[i:i + descsz]))
        i += (descsz + 3) & ~3
    return out


# ---- the live process's memory, for comparison with a core ----

def maps(pid):
    """(start, end, perms, offset, path) of /proc/PID/maps."""
    out = []
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            parts = line.split(None, 5)
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            out.append((lo, hi, parts[1], int(parts[2], 16),
                        parts[5].strip() if len(parts) > 5 else ""))
    return out


def must_copy(m):
    """A mapping whose populated pages a full core holds: readable, and
    anonymous or writable (file-backed read-only text and data are only
    referenced), not [vvar]/[vsyscall]."""
    lo, hi, perms, _, path = m
    if perms[0] != "r" or path.startswith("[vvar") or path == "[vsyscall]":
        return False
    return perms[1] == "w" or not path.startswith("/")


def live_pages(pid):
    """{page address: bytes} of every populated (present or swapped)
    page of the mappings a full core must hold, read now."""
    out = {}
    with open("/proc/%d/pagemap" % pid, "rb") as pm, open("/proc/%d/mem" % pid, "rb") as mem:
        for m in maps(pid):
            if not must_copy(m):
                continue
            lo, hi = m[0], m[1]
            pm.seek(lo // PAGE * 8)
            entries = pm.read((hi - lo) // PAGE * 8)
            for i in range(len(entries) // 8):
                e = struct.unpack_from("<Q", entries, 8 * i)[0]
                if not e >> 62 & 3:   # neither present nor swapped
                    continue
                addr = lo + i * PAGE
                try:
                    mem.seek(addr)
                    out[addr] = mem.read(PAGE)
                except OSError:
                    pass  # unreadable (a guard): nothing to compare
    return out


def compare_memory(core, before, after):
    """Every page the target had populated and did not change while it
    was captured (equal in both live reads) reads the same in the core.
    Returns (pages compared, [addresses that differ])."""
    same = [a for a, b in before.items() if after.get(a) == b]
    bad = [a for a in same if core.read(a, PAGE) != before[a]]
    return len(same), bad


def exe_base(pid, exe):
    """Where EXE's first page is mapped in PID."""
    real = os.path.realpath(exe)
    for lo, _, _, off, path in maps(pid):
        if path == real and off == 0:
            return lo
    raise AssertionError("%s is not mapped in %d" % (exe, pid))


def symbol_value(exe, name):
    out = subprocess.run(["nm", "-D", "--defined-only", exe], capture_output=True,
                         text=True, check=True).stdout
    m = re.search(r"^([0-9a-f]+) \S %s$" % re.escape(name), out, re.M)
    assert m, (exe, name)
    return int(m.group(1), 16)
