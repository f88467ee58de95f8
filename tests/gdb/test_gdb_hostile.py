"""The GDB extension against damaged registries and hostile text.

A core of green_fixture is written once (gcore at ready_point), with the
addresses of the registry's fields and of a few records taken from the
fixture's DWARF (not from the extension).  Each test patches one or a few
fields of that core in place, the way a crashed or attacked program's
memory can hold them, runs every command of the extension over it and
puts the bytes back.  The promise checked: each command prints its
normal, correct output, correct partial output with a note, or one line
naming what is damaged; never a Python traceback, never a second line
of an error; GDB survives to run the next command and its memory stays
bounded (a single read sized by a forged count once took GDB down).
The last test does the same to a live registry, 200 seeded mutations in
one GDB session.
"""
import json
import os
import re
import struct
import subprocess
import threading

import pytest

import test_gdb as base

N = base.N
NTHREADS = 6 * N + 2
GIB = 1 << 30

# What the core-making session prints: "FORGE {json}".
_SCRIPT = r'''
import json
def ev(e):
    return int(gdb.parse_and_eval(e))
def off(rec, f):
    return ev("(unsigned long)&((struct %s *)0)->%s" % (rec, f))
out = {"reg": ev("(unsigned long)&gt_registry")}
for f in ("header_size", "nlayout", "thread_chunks", "thread_chunk_cap",
          "thread_chunk_count", "threads_per_chunk", "thread_slots",
          "loc_chunks", "loc_chunk_count", "locs_per_chunk", "loc_count",
          "page_size"):
    out["reg." + f] = out["reg"] + off("gt_registry", f)
def rec_size(kind):
    """A record's stride in its chunk: the layout table's id-0 entry (the
    runtime's own structs embed the public record)."""
    for i in range(ev("gt_registry.nlayout")):
        e = "((struct gt_field *)gt_registry.layout)[%d]" % i
        if ev(e + ".rec") == kind and ev(e + ".id") == 0:
            return ev(e + ".size")
chunk = ev("*(unsigned long *)gt_registry.thread_chunks")
size = rec_size(2)
out["thread_chunk0"] = chunk
out["thread_chunk_ptr0"] = ev("gt_registry.thread_chunks")
for i in range(ev("gt_registry.thread_slots")):
    rec = chunk + i * size
    tid = ev("((struct gt_thread_rec *)%d)->id" % rec)
    if tid == 3:
        for f in ("name", "location", "stack_lo", "stack_hi", "ctx"):
            out["t3." + f] = rec + off("gt_thread_rec", f)
        loc = ev("((struct gt_thread_rec *)%d)->location" % rec)
locs = ev("*(unsigned long *)gt_registry.loc_chunks")
lrec = locs + loc * rec_size(3)
out["t3.loc_index"] = loc
for f in ("index", "depth"):
    out["loc3." + f] = lrec + off("gt_location_rec", f)
print("FORGE " + json.dumps(out))
'''


@pytest.fixture(scope="module")
def core(tmp_path_factory):
    """(path of a gcore of the fixture at ready_point, {name: address})."""
    d = tmp_path_factory.mktemp("hostile")
    script = d / "forge.py"
    script.write_text(_SCRIPT)
    path = str(d / "core")
    env = dict(os.environ, GT_GUARD="mprotect")
    out = base.gdb(["--args", base.FIXTURE, str(N)],
                   ["break ready_point", "run", "source %s" % script, "gcore " + path, "kill"],
                   source=False, env=env)
    m = re.search(r"^FORGE (\{.*\})$", out, re.M)
    assert m and os.path.exists(path), out
    return path, json.loads(m.group(1))


def file_offset(path, addr, n):
    """Where the n bytes at target address addr are in core file path."""
    with open(path, "rb") as f:
        head = f.read(64)
        phoff, = struct.unpack_from("<Q", head, 0x20)
        phentsize, phnum = struct.unpack_from("<HH", head, 0x36)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    for i in range(phnum):
        ptype, _, off, vaddr, _, filesz, _ = struct.unpack_from("<IIQQQQQ", table, i * phentsize)
        if ptype == 1 and vaddr <= addr and addr + n <= vaddr + filesz:
            return off + addr - vaddr
    raise AssertionError("%#x not in the core" % addr)


class Patched:
    """Writes {address: bytes} into the core; put back on exit."""

    def __init__(self, path, patches):
        self.path, self.patches, self.saved = path, patches, []

    def __enter__(self):
        with open(self.path, "r+b") as f:
            for addr, data in self.patches.items():
                o = file_offset(self.path, addr, len(data))
                f.seek(o)
                self.saved.append((o, f.read(len(data))))
                f.seek(o)
                f.write(data)
        return self

    def __exit__(self, *exc):
        with open(self.path, "r+b") as f:
            for o, data in reversed(self.saved):
                f.seek(o)
                f.write(data)


def u32(v):
    return struct.pack("<I", v)


def u64(v):
    return struct.pack("<Q", v)


def run_gdb(args, commands, timeout=240):
    """(output by command, return code, max RSS in bytes) of gdb -batch
    running each command; every command's output is delimited by a
    marker line.  RSS is the gdb child's own (wait4's rusage), so other
    tests' GDB runs do not count."""
    argv = ["gdb", "-batch", "-nx", "-ex", "source " + base.LOADER]
    for c in commands:
        argv += ["-ex", "echo @@@ %s\\n" % c.replace("\\", "\\\\"), "-ex", c]
    argv += ["-ex", "echo @@@ END\\n"]
    p = subprocess.Popen(argv + args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL)
    timer = threading.Timer(timeout, p.kill)
    timer.start()
    try:
        raw = p.stdout.read()
        _, status, usage = os.wait4(p.pid, 0)
    finally:
        timer.cancel()
    p.returncode = os.waitstatus_to_exitcode(status)
    p.stdout.close()
    text = raw.decode("utf-8", "backslashreplace")
    parts = re.split(r"^@@@ (.*)\n", text, flags=re.M)
    by_cmd = dict(zip(parts[1::2], parts[2::2]))
    return by_cmd, p.returncode, usage.ru_maxrss * 1024, text


EVERY = ["info green-threads", "info green-threads --json --limit 0", "green-bt",
         "green-bt --json", "info green-locations", "info green-locations --json",
         "info green-stack", "info green-stack 3", "green-thread 3", "bt",
         "green-thread apply all --group print 1", "green-thread off"]


def check_survived(by_cmd, rc, rss, text):
    """GDB ran every command and the end marker, exited 0, stayed under
    1 GiB, and no command gave a traceback or a two-line error."""
    assert "END" in by_cmd and rc == 0, text
    assert rss < GIB, rss
    assert "Traceback" not in text and "Python Exception" not in text, text
    assert "Error occurred in Python" not in text, text


def one_line(out):
    """The single line a command that failed printed."""
    lines = [l for l in out.splitlines() if l.strip()]
    assert len(lines) == 1, out
    return lines[0]


def run_forged(core, patches, commands=EVERY):
    path, addr = core
    with Patched(path, patches):
        res = run_gdb([base.FIXTURE, path], commands)
    check_survived(*res)
    return res[0]


def test_pristine_core_reads_whole(core):
    """The harness itself: the unpatched core lists every thread."""
    out = run_forged(core, {})
    data = json.loads(out["info green-threads --json --limit 0"])
    assert data["threads"] == NTHREADS and data["skipped"] == 0
    assert "[Switching to green thread 3 (sleeper)" in out["green-thread 3"]


def test_threads_per_chunk_huge(core):
    """threads_per_chunk 0xffffffff: the chunk would be 1 TB; GDB once
    died of that read.  Every command says the registry is damaged."""
    path, a = core
    for slots in (None, (1 << 64) - 1):
        patches = {a["reg.threads_per_chunk"]: u32(0xffffffff)}
        if slots:
            patches[a["reg.thread_slots"]] = u64(slots)
        out = run_forged(core, patches)
        for cmd in ("info green-threads", "green-bt", "info green-locations",
                    "green-thread 3", "info green-stack"):
            assert one_line(out[cmd]) == (
                "gt: registry damaged: 4,294,967,295 thread records per chunk "
                "(at most 65,536)"), (cmd, out[cmd])


def test_thread_chunk_count_huge(core):
    """nchunks and the array's capacity 0xffffffff with the true slots:
    the one chunk the slots need is read, every thread is listed."""
    path, a = core
    out = run_forged(core, {a["reg.thread_chunk_count"]: u32(0xffffffff),
                            a["reg.thread_chunk_cap"]: u32(0xffffffff)})
    data = json.loads(out["info green-threads --json --limit 0"])
    assert data["threads"] == NTHREADS
    assert "%d green threads in 8 distinct stacks" % NTHREADS in out["green-bt"]
    # And with slots forged too: no chunk array that long is readable.
    out = run_forged(core, {a["reg.thread_chunk_count"]: u32(0xffffffff),
                            a["reg.thread_chunk_cap"]: u32(0xffffffff),
                            a["reg.thread_slots"]: u64((1 << 64) - 1)})
    for cmd in ("info green-threads", "green-bt", "green-thread 3"):
        line = one_line(out[cmd])
        assert line.startswith("gt: registry damaged: "), (cmd, line)


def test_counts_that_disagree_are_noted(core):
    """Slots past what the chunks hold, chunks past the array's capacity:
    what can be read is listed, and the disagreement is said."""
    path, a = core
    out = run_forged(core, {a["reg.thread_slots"]: u64(5000)},
                     ["info green-threads", "info green-threads --json --limit 0"])
    assert json.loads(out["info green-threads --json --limit 0"])["threads"] == NTHREADS
    assert out["info green-threads"].splitlines()[-1] == \
        "gt: 5,000 thread slots past the 1,024 the chunks hold"
    out = run_forged(core, {a["reg.thread_chunk_cap"]: u32(0)},
                     ["info green-threads", "green-bt"])
    assert out["info green-threads"].splitlines()[-1] == \
        "gt: 1 thread chunks past the chunk array's capacity of 0; 20 thread slots past " \
        "the 0 the chunks hold"
    assert one_line(out["green-bt"]) == (
        "green-bt: no green thread can be read: 1 thread chunks past the chunk array's "
        "capacity of 0; 20 thread slots past the 0 the chunks hold")


def test_chunk_pointer_unmapped(core):
    """The only thread chunk points to unmapped memory: no thread is
    invented, the 20 slots are counted as skipped."""
    path, a = core
    out = run_forged(core, {a["thread_chunk_ptr0"]: u64(0x10)})
    data = json.loads(out["info green-threads --json --limit 0"])
    assert data["threads"] == 0 and data["skipped"] == NTHREADS
    assert "gt: %d thread slots in 1 unreadable chunks skipped" % NTHREADS \
        in out["info green-threads"]
    assert one_line(out["green-thread 3"]).startswith("gt: no green thread 3")
    assert one_line(out["green-bt"]) == ("green-bt: no green thread can be read: %d thread "
                                         "slots in 1 unreadable chunks skipped" % NTHREADS)
    # The chunk array itself unmapped: one line.
    out = run_forged(core, {a["reg.thread_chunks"]: u64(0x18)})
    assert one_line(out["info green-threads"]) == \
        "gt: registry damaged: thread chunk array at 0x18 unreadable (1 chunk pointer)"


def test_overlapping_chunks_invent_no_thread(core):
    """Ten threads a chunk in two chunks, the second pointer a copy of
    the first: the records would be read twice, as twenty threads of
    which ten invented.  The overlapping chunk is skipped and counted."""
    path, a = core
    first = a["thread_chunk0"]
    out = run_forged(core, {a["reg.threads_per_chunk"]: u32(10),
                            a["reg.thread_chunk_count"]: u32(2),
                            a["thread_chunk_ptr0"] + 8: u64(first)})
    data = json.loads(out["info green-threads --json --limit 0"])
    ids = [t["id"] for t in data["threads_list"]]
    assert sorted(ids) == list(range(1, 11)) and data["skipped"] == 10, ids
    assert "%d green threads in" % 10 in out["green-bt"]


def test_location_index_out_of_range(core):
    """Thread 3's location index 0xffffffff and its location record's own
    index 0x1fffffff: neither is trusted, both are counted, the rest of
    the listing is whole and right."""
    path, a = core
    out = run_forged(core, {a["t3.location"]: u32(0xffffffff),
                            a["loc3.index"]: u32(0x1fffffff)})
    data = json.loads(out["info green-threads --json --limit 0"])
    assert data["threads"] == NTHREADS
    t3 = [t for t in data["threads_list"] if t["id"] == 3][0]
    assert t3["location"] == 0 and t3["state"] == "parked"
    locs = json.loads(out["info green-locations --json"])["locations"]
    assert all(0 < l["index"] < 64 for l in locs)
    assert a["t3.loc_index"] not in [l["index"] for l in locs]
    assert "gt: 1 location records damaged" in out["info green-locations"]
    assert "1 thread location indices out of range" in out["info green-threads"]


def test_location_depth_past_loc_depth(core):
    """A location record claiming 8 pcs where the runtime captures 2
    (loc_depth): its pcs past the real ones are not labelled, the record
    is counted damaged, and its threads show no location."""
    path, a = core
    out = run_forged(core, {a["loc3.depth"]: u32(8)},
                     ["info green-locations", "info green-locations --json",
                      "info green-threads --json --limit 0"])
    locs = json.loads(out["info green-locations --json"])["locations"]
    assert a["t3.loc_index"] not in [l["index"] for l in locs]
    assert all(l["where"].count(" < ") == 1 for l in locs), locs
    assert "gt: 1 location records damaged" in out["info green-locations"]
    rows = json.loads(out["info green-threads --json --limit 0"])["threads_list"]
    assert [t["location"] for t in rows if t["name"] == "sleeper"] == [0] * N


def test_loc_count_and_per_chunk_huge(core):
    path, a = core
    out = run_forged(core, {a["reg.locs_per_chunk"]: u32(0xffffffff),
                            a["reg.loc_count"]: u32(0xffffffff)})
    for cmd in ("info green-locations", "info green-threads", "green-bt"):
        assert one_line(out[cmd]) == ("gt: registry damaged: 4,294,967,295 location "
                                      "records per chunk (at most 65,536)"), (cmd, out[cmd])
    # loc_count and loc_chunk_count past the chunk array: the array is
    # read as far as they say, and no such array is there.
    out = run_forged(core, {a["reg.loc_count"]: u32(0xffffffff),
                            a["reg.loc_chunk_count"]: u32(0xffffffff)})
    for cmd in ("info green-locations", "info green-threads", "green-bt"):
        assert re.fullmatch(r"gt: registry damaged: location chunk array at 0x[0-9a-f]+ "
                            r"unreadable \(65,536 chunk pointers\)", one_line(out[cmd])), out[cmd]
    # loc_count alone: one chunk is all the array holds, and every
    # location the fixture made is in it.
    out = run_forged(core, {a["reg.loc_count"]: u32(0xffffffff)})
    locs = json.loads(out["info green-locations --json"])["locations"]
    assert {l["where"].split()[0] for l in locs if l["waiting"]} == {
        "sleep_deep", "lock_wait", "read_wait", "recv_wait", "send_wait",
        "cond_wait_here", "join_wait"}


def test_page_size_forged(core):
    """page_size 2^63 (decision 3: a power of two in [4 KiB, 64 KiB]):
    the one command that steps by pages says the registry is damaged,
    the others, which do not use it, list every thread."""
    path, a = core
    for ps in (1 << 63, 0, 4097, 1 << 17):
        out = run_forged(core, {a["reg.page_size"]: u64(ps)})
        for cmd in ("info green-stack", "info green-stack 3"):
            assert one_line(out[cmd]) == ("gt: registry page size %d is not a page size "
                                          "of this machine: the registry is damaged" % ps)
        data = json.loads(out["info green-threads --json --limit 0"])
        assert data["threads"] == NTHREADS


def test_stack_bounds_forged(core):
    """Thread 3's stack claiming the whole address space: no read is
    sized by the claim; its touched bytes are not measured ("?")."""
    path, a = core
    out = run_forged(core, {a["t3.stack_lo"]: u64(0x1000),
                            a["t3.stack_hi"]: u64((1 << 64) - 0x1000)})
    data = json.loads(out["info green-threads --json --limit 0"])
    assert data["threads"] == NTHREADS
    assert re.search(r"^\s+3  sleeper\s+\S+ \S+\s+\?\s+\?\s", out["info green-stack 3"],
                     re.M), out["info green-stack 3"]
    # The other threads are measured as ever: thread 2's row is the
    # pristine core's.
    pristine = run_forged(core, {}, ["info green-stack"])["info green-stack"]
    row = re.compile(r"^\s+2  sleeper\s+\d.*$", re.M)
    want = row.search(pristine)
    assert want, pristine
    assert want.group(0) in row.findall(out["info green-stack"]), out["info green-stack"]


def test_saved_registers_near_the_top(core):
    """Thread 3's saved sp, pc and fp near 2^64: its walk and the
    unwinder's read stop cleanly."""
    path, a = core
    top = (1 << 64) - 8
    out = run_forged(core, {a["t3.ctx"]: u64(top) + u64(top) + u64(top)})
    data = json.loads(out["info green-threads --json --limit 0"])
    assert data["threads"] == NTHREADS


def test_header_and_layout_counts_forged(core):
    path, a = core
    out = run_forged(core, {a["reg.header_size"]: u32(0xffffffff)})
    data = json.loads(out["info green-threads --json --limit 0"])
    assert data["threads"] == NTHREADS
    out = run_forged(core, {a["reg.nlayout"]: u32(0xffffffff)})
    assert one_line(out["info green-threads"]) == \
        "gt: registry damaged: 4294967295 layout entries"


HOSTILE = b"\x1b]0;pwn\x07\x1b[2J\nx\xff\xc2\x85\xc0\xaf\\\x7f\xe2\x82"
ESCAPED = r"\x1b]0;pwn\x07\x1b[2J\x0ax\xff\xc2\x85\xc0\xaf\\\x7f\xe2\x82"


def test_hostile_thread_name_is_escaped(core):
    """A thread name with a terminal escape, a newline, a lone 0xff, a C1
    control, an overlong '/', a backslash, DEL and a cut sequence is
    printed escaped by decision 1's rule in every output, and the JSON
    carries the same escaped text."""
    path, a = core
    assert len(HOSTILE) < 32
    cmds = ["info green-threads", "info green-threads --json --limit 0", "green-bt",
            "green-thread 3", "green-thread", "info green-stack 3",
            "green-thread apply 3 print 1", "info green-threads -n " + "'\\x1b]0'"]
    out = run_forged(core, {a["t3.name"]: HOSTILE + b"\0"}, cmds)
    text = "".join(out.values())
    assert "\x1b" not in text and "\x07" not in text and "\x7f" not in text
    assert re.search(r"^\s+3  %s\s+parked" % re.escape(ESCAPED), out["info green-threads"],
                     re.M), out["info green-threads"]
    t3 = [t for t in json.loads(out["info green-threads --json --limit 0"])["threads_list"]
          if t["id"] == 3][0]
    assert t3["name"] == ESCAPED
    assert "(%s, sleeper)" % ESCAPED in out["green-bt"]
    assert "[Switching to green thread 3 (%s), parked" % ESCAPED in out["green-thread 3"]
    assert "Selected: green thread 3 (%s)" % ESCAPED in out["green-thread"]
    assert re.search(r"^\s+3  %s" % re.escape(ESCAPED[:16]), out["info green-stack 3"], re.M)
    assert "Green thread 3 (%s):" % ESCAPED in out["green-thread apply 3 print 1"]
    # A filter matches the text as printed.
    assert re.search(r"^matching .*: 1$", out["info green-threads -n '\\x1b]0'"], re.M)


def test_hostile_name_set_by_the_program_is_escaped():
    """The same name given by gt_set_name in a live process (the fixture's
    "hostile" mode renames thread 2): every output escapes it."""
    out, rc, _, text = run_gdb(["--args", base.FIXTURE, str(N), "hostile"],
                               ["break ready_point", "run", "info green-threads",
                                "info green-threads --json --limit 0", "green-bt",
                                "green-thread 2", "kill"])
    assert "\x1b" not in text and "\x07" not in text and "\x7f" not in text, text
    assert re.search(r"^\s+2  %s\s+parked" % re.escape(ESCAPED), out["info green-threads"],
                     re.M), out["info green-threads"]
    names = {t["id"]: t["name"] for t in
             json.loads(out["info green-threads --json --limit 0"])["threads_list"]}
    assert names[2] == ESCAPED and names[3] == "sleeper"
    assert "(%s, sleeper)" % ESCAPED in out["green-bt"]
    assert "[Switching to green thread 2 (%s), parked" % ESCAPED in out["green-thread 2"]


def test_valid_utf8_names_pass_unchanged(core):
    path, a = core
    name = "Zoë ✓ 漢字 \U0001f600".encode()
    out = run_forged(core, {a["t3.name"]: name + b"\0"},
                     ["info green-threads --json --limit 0"])
    t3 = [t for t in json.loads(out["info green-threads --json --limit 0"])["threads_list"]
          if t["id"] == 3][0]
    assert t3["name"] == name.decode()


def test_text_safe_rule():
    """gt.fmt.text_safe, the rule of libgtobserve's gto_text_safe, byte
    by byte: printable UTF-8 through, C0, DEL, C1, invalid, overlong,
    surrogate and past-U+10FFFF sequences as \\xNN each byte, backslash
    doubled."""
    cases = [(b"plain text", "plain text"), (b"a\\b", "a\\\\b"),
             (b"\t\n\r\x00\x1f\x7f", r"\x09\x0a\x0d\x00\x1f\x7f"),
             (b"\xc2\x80\xc2\x9f\xc2\xa0", r"\xc2\x80\xc2\x9f" + "\u00a0"),
             (b"\xc0\x80\xc1\xbf\xe0\x80\x80\xf0\x80\x80\x80", r"\xc0\x80\xc1\xbf\xe0\x80\x80\xf0\x80\x80\x80"),
             (b"\xed\xa0\x80\xed\x9f\xbf", r"\xed\xa0\x80" + "\ud7ff"),
             (b"\xf4\x8f\xbf\xbf\xf4\x90\x80\x80\xf5\x80", "\U0010ffff" + r"\xf4\x90\x80\x80\xf5\x80"),
             (b"\xe2\x82A\xe2\x82\xac", r"\xe2\x82" + "A\u20ac"),
             (b"\x80\xbf\xfe\xff", r"\x80\xbf\xfe\xff"),
             ("é€😀".encode(), "é€😀")]
    out, rc, _, text = run_gdb([], ["python import gt.fmt as F; print('SAFE', repr([F.text_safe(b) for b in %r]))"
                                    % [c[0] for c in cases]])
    m = re.search(r"^SAFE (.*)$", text, re.M)
    assert m, text
    got = eval(m.group(1))
    assert got == [c[1] for c in cases]


def test_no_registers_is_one_line():
    """Commands run on an executable without a process: one line each,
    naming the fix; `green-thread off` has nothing to undo and says so."""
    out, rc, _, text = run_gdb([base.FIXTURE], ["green-thread off", "green-thread 3",
                                                "info green-threads", "green-bt",
                                                "info green-locations", "info green-stack",
                                                "green-thread apply all bt", "green-thread"])
    assert "Python Exception" not in text and "Error occurred in Python" not in text, text
    for cmd in ("green-thread off", "green-thread"):
        assert one_line(out[cmd]) == "No green thread selected: frames are the OS thread's own."
    for cmd in ("green-thread 3", "info green-threads", "green-bt", "info green-locations",
                "info green-stack", "green-thread apply all bt"):
        assert one_line(out[cmd]) == ("gt: no process and no core file: run the program, "
                                      "attach to it, or load a core (`core-file FILE`)"), (cmd, out[cmd])


# What a command that reads the registry meets when GDB or the target
# fails under it, raised where every command takes its snapshot.
FAILURES = {
    "gdb.error('No registers.')":
        "No registers: run the program, attach to it, or load a core (`core-file FILE`)",
    "gdb.error('PC not available')":
        "PC not available: the program's registers or memory there cannot be read "
        "(a damaged registry or stack?)",
    "gdb.MemoryError('Cannot access memory at address 0x10')":
        "Cannot access memory at address 0x10: the program's registers or memory there "
        "cannot be read (a damaged registry or stack?)",
    "MemoryError()":
        "out of memory: the registry is damaged (it states sizes past any real one)",
    "struct.error('unpack requires a buffer of 8 bytes')":
        "registry damaged: unpack requires a buffer of 8 bytes (error)",
    "OverflowError('int too big to convert')":
        "registry damaged: int too big to convert (OverflowError)",
    "ValueError('line one\\nline two')":
        "registry damaged: line one\\x0aline two (ValueError)",
}
COMMANDS = ["info green-threads", "green-bt", "info green-locations", "info green-stack",
            "green-thread 3", "green-thread apply all bt"]


def test_every_entry_point_gives_one_line_per_failure():
    """Each command turns each failure into one gdb.GdbError line: the
    command's name, GDB's or Python's words, what to do."""
    for raised, said in FAILURES.items():
        inject = ("python import struct, gt.registry as R; "
                  "R.snapshot = lambda: (_ for _ in ()).throw(%s)" % raised)
        out, rc, _, text = base_at_breakpoint([inject] + COMMANDS)
        assert "Python Exception" not in text and "Error occurred in Python" not in text, text
        for cmd in COMMANDS:
            assert one_line(out[cmd]) == "%s: %s" % (cmd.split(" 3")[0].split(" all")[0], said), \
                (raised, cmd, out[cmd])


def base_at_breakpoint(commands):
    return run_gdb(["--args", base.FIXTURE, str(N)], ["break ready_point", "run"] + commands
                   + ["kill"])


def raising(expr):
    """Python source of a function of any arguments that raises expr."""
    return "lambda *a: (_ for _ in ()).throw(%s)" % expr


def test_unwinder_and_frame_filter_failures_are_one_line():
    """GDB's "PC not available" inside the unwinder (raised where it
    casts the saved registers) and inside the frame filter: `green-thread
    3` says so in one line and selects nothing, `bt` ends with one line,
    neither prints a Python exception per frame."""
    pc_gone = "gdb.error('PC not available')"
    out, rc, _, text = base_at_breakpoint([
        "python import gt.select as S; S._u64_type = %s" % raising(pc_gone),
        "green-thread 3", "green-thread", "bt 1"])
    assert "Python Exception" not in text and "Error occurred in Python" not in text, text
    assert one_line(out["green-thread 3"]) == (
        "green-thread 3: PC not available: the program's registers or memory there "
        "cannot be read (a damaged registry or stack?)")
    assert one_line(out["green-thread"]) == \
        "No green thread selected: frames are the OS thread's own."
    assert re.match(r"#0\s+ready_point \(\)", out["bt 1"]), out["bt 1"]

    out, rc, _, text = base_at_breakpoint([
        "python import gt.select as S; S._LineOfCall = %s" % raising(pc_gone),
        "green-thread 3", "bt"])
    assert "Python Exception" not in text and "Error occurred in Python" not in text, text
    assert "[Switching to green thread 3 (sleeper)" in out["green-thread 3"]
    assert one_line(out["bt"]) == (
        "bt: PC not available: the program's registers or memory there cannot be read "
        "(a damaged registry or stack?)")


# Seeded mutations of a live registry, all in one GDB session: each
# writes hostile values into a few fields (registry counts and pointers,
# thread and location records), runs every command, and puts the bytes
# back.  A command must print, or fail with one line; never let a Python
# exception through ("Error occurred in Python") or print a raw control
# character.
_FUZZ = r'''
import random, struct
import gt.registry as R
inf = gdb.selected_inferior()
def ev(e):
    return int(gdb.parse_and_eval(e))
def off(rec, f):
    return ev("(unsigned long)&((struct %s *)0)->%s" % (rec, f))
def size_of(kind):
    for i in range(ev("gt_registry.nlayout")):
        e = "((struct gt_field *)gt_registry.layout)[%d]" % i
        if ev(e + ".rec") == kind and ev(e + ".id") == 0:
            return ev(e + ".size")
reg = ev("(unsigned long)&gt_registry")
fields = []     # (address, bytes)
for f, n in (("header_size", 4), ("layout", 8), ("nlayout", 4), ("current", 8),
             ("thread_chunks", 8), ("thread_chunk_cap", 4), ("thread_chunk_count", 4),
             ("threads_per_chunk", 4), ("thread_slots", 8), ("loc_chunks", 8),
             ("loc_chunk_count", 4), ("locs_per_chunk", 4), ("loc_count", 4),
             ("loc_depth", 4), ("page_size", 8), ("clock_base", 8), ("clock_now", 8),
             ("idle_since", 8), ("fatal_ns", 8)):
    fields.append((reg + off("gt_registry", f), n))
chunk, tsize = ev("*(unsigned long *)gt_registry.thread_chunks"), size_of(2)
for i in range(ev("gt_registry.thread_slots")):
    rec = chunk + i * tsize
    for f, n in (("seq", 4), ("state", 1), ("wait_kind", 1), ("flags", 2), ("id", 8),
                 ("name", 32), ("location", 4), ("wait_obj", 8), ("deadline", 8),
                 ("wait_since", 8), ("entry", 8), ("stack_lo", 8), ("stack_hi", 8),
                 ("ctx", 24), ("ctx", 8)):
        fields.append((rec + off("gt_thread_rec", f), n))
fields.append((ev("gt_registry.thread_chunks"), 8))
lchunk, lsize = ev("*(unsigned long *)gt_registry.loc_chunks"), size_of(3)
for i in range(ev("gt_registry.loc_count")):
    rec = lchunk + i * lsize
    for f, n in (("seq", 4), ("index", 4), ("depth", 4), ("pcs", 16), ("hist", 16),
                 ("wait_kind", 4), ("waiting", 8)):
        fields.append((rec + off("gt_location_rec", f), n))
fields.append((ev("gt_registry.loc_chunks"), 8))
SPECIAL = [0, 1, 2, 0x7f, 0x80, 0xff, 0x1000, 0x10000, 0x7fffffff, 0xffffffff,
           1 << 32, 1 << 63, (1 << 64) - 1, (1 << 64) - 8]
def value(rng, n, old):
    k = rng.randrange(5)
    if k == 0:
        return bytes(rng.randrange(256) for _ in range(n))
    if k == 1 and n >= 8:
        v = int.from_bytes(old[:8], "little") + rng.choice((-4096, -8, 8, 4096, 1 << 20))
        return (v % (1 << 64)).to_bytes(8, "little") + old[8:]
    if k == 2:
        return bytes(rng.choice((0x1b, 0x0a, 0xff, 0xc2, 0x85, 0x5c, 0x7f, 0x41))
                     for _ in range(n))
    v = rng.choice(SPECIAL) % (1 << (8 * min(n, 8)))
    return v.to_bytes(min(n, 8), "little") + old[8:]
COMMANDS = ["info green-threads --limit 0", "info green-threads --json --limit 0",
            "green-bt --limit 0", "green-bt --json", "info green-locations",
            "info green-locations --json", "info green-stack", "info green-stack 3",
            "green-thread 3", "bt", "green-thread off"]
rng = random.Random(FUZZ_SEED)
bad = 0
for it in range(FUZZ_RUNS):
    picks = [rng.choice(fields) for _ in range(rng.randrange(1, 4))]
    saved = []
    for addr, n in picks:
        old = inf.read_memory(addr, n).tobytes()
        saved.append((addr, old))
        inf.write_memory(addr, value(rng, n, old))
    R.invalidate()
    for cmd in COMMANDS:
        try:
            out = gdb.execute(cmd, to_string=True)
        except gdb.error as e:
            out, err = "", str(e)
            if "\n" in err.strip() or err.startswith("Error occurred in Python"):
                bad += 1
                print("FUZZ-BAD %d %s: %r" % (it, cmd, err))
        if any(c in out for c in "\x1b\x07\x7f"):
            bad += 1
            print("FUZZ-BAD %d %s: raw control character" % (it, cmd))
    for addr, old in reversed(saved):
        inf.write_memory(addr, old)
    R.invalidate()
    gdb.execute("green-thread off", to_string=True)
print("FUZZ-DONE %d %d" % (FUZZ_RUNS, bad))
'''


def test_seeded_mutations_of_a_live_registry(tmp_path):
    """200 seeded mutations of one to three fields each (counts, pointers,
    indices, names, saved registers, seq words) on the live fixture at a
    breakpoint: every command of each prints or fails in one line, GDB
    survives to the end under 1 GiB, and the unmutated registry reads
    whole again afterwards."""
    script = tmp_path / "fuzz.py"
    script.write_text("FUZZ_SEED = 15\nFUZZ_RUNS = 200\n" + _FUZZ)
    out, rc, rss, text = base_at_breakpoint(["source %s" % script,
                                             "info green-threads --json --limit 0"])
    assert "FUZZ-DONE 200 0" in text, "\n".join(
        l for l in text.splitlines() if l.startswith("FUZZ") or "Python" in l)[:4000]
    assert "Python Exception" not in text, text[-4000:]
    assert rc == 0 and rss < GIB, (rc, rss)
    data = json.loads(out["info green-threads --json --limit 0"])
    assert data["threads"] == NTHREADS and data["skipped"] == 0
