"""gt-core's command line: each option, each bad input, and the facts of
the core it writes that the command line promises (the summary line, the
capture note's flags, no partial file left).  The cores' contents against
GDB and the readers are tests/core/'s."""
import os
import signal
import struct
import subprocess

import pytest

from conftest import BIN, Fixture, exe, run
from capture_note import C

GT_CORE = os.path.join(BIN, "gt-core")
GT_CAPTURE_COMPACT, GT_CAPTURE_NO_STOP, GT_CAPTURE_NO_FPREGS, GT_CAPTURE_NOT_GT = (
    C["GT_CAPTURE_" + f] for f in ("COMPACT", "NO_STOP", "NO_FPREGS", "NOT_GT"))


def one_line(err):
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def notes(path):
    """The notes of core PATH: [(name, type, desc)], from its PT_NOTE
    (e_phnum, or section 0's sh_info under PN_XNUM)."""
    with open(path, "rb") as f:
        eh = f.read(64)
        assert eh[:4] == b"\x7fELF" and struct.unpack_from("<H", eh, 16)[0] == 4  # ET_CORE
        phoff, shoff = struct.unpack_from("<QQ", eh, 32)
        phnum = struct.unpack_from("<H", eh, 56)[0]
        if phnum == 0xFFFF:
            f.seek(shoff)
            phnum = struct.unpack_from("<I", f.read(64), 44)[0]
        out = []
        for i in range(phnum):
            f.seek(phoff + 56 * i)
            ptype, _, off, _, _, filesz = struct.unpack("<IIQQQQ", f.read(40))
            if ptype != 4:
                continue
            f.seek(off)
            data = f.read(filesz)
            at = 0
            while at + 12 <= len(data):
                nsz, dsz, ntype = struct.unpack_from("<III", data, at)
                at += 12
                name = data[at:at + nsz].rstrip(b"\0").decode()
                at += (nsz + 3) & ~3
                out.append((name, ntype, data[at:at + dsz]))
                at += (dsz + 3) & ~3
        return out


def capture_note(path):
    """The gt capture note: (version, flags, monotonic, realtime, stopped,
    registry)."""
    found = [d for n, t, d in notes(path) if n == "gt" and t == C["GT_NOTE_CAPTURE"]]
    assert len(found) == 1
    return struct.unpack_from("<IIQQQQ", found[0])


@pytest.fixture
def known():
    f = Fixture()
    yield f
    f.stop()


def test_usage():
    for args in ([], ["1", "2"], ["abc"], ["--bogus", "1"], ["-0"],
                 ["--no-stop", "--regs-from", "x", "1"], ["-o", "", "1"]):
        rc, out, err = run(GT_CORE, *args)
        assert rc == 2, (args, err)
        assert out == ""
    rc, out, _ = run(GT_CORE, "--help")
    assert rc == 0 and "--compact" in out and "CAP" not in out
    rc, out2, _ = run(GT_CORE, "-h")
    assert rc == 0 and out2 == out
    rc, out, _ = run(GT_CORE, "--version")
    assert rc == 0 and out.startswith("gt-core ")


def test_no_such_process(tmp_path):
    p = subprocess.Popen(["true"])
    p.wait()
    rc, out, err = run(GT_CORE, p.pid, cwd=str(tmp_path))
    assert rc == 1 and out == ""
    assert one_line(err) == ("gt-core: no process %d: check the pid (ps -p %d)"
                             % (p.pid, p.pid))
    assert os.listdir(str(tmp_path)) == []


def test_full_core_and_its_line(known, tmp_path):
    rc, out, err = run(GT_CORE, known.pid, cwd=str(tmp_path))
    assert rc == 0, err
    assert err == ""
    path = tmp_path / ("core.%d" % known.pid)
    threads = sum(known.counts[k] for k in ("alpha", "beta", "recur", "diver")) + 1
    line = one_line(out)
    assert line.startswith("gt-core: wrote core.%d (full): %d green threads, 2 kernel "
                           "threads; stopped " % (known.pid, threads)), line
    assert " s in all; " in line and " on disk, RSS " in line
    assert sorted(os.listdir(str(tmp_path))) == ["core.%d" % known.pid]
    version, flags, mono, real, stopped, registry = capture_note(str(path))
    assert version == 1 and flags == 0 and registry != 0
    assert mono > 0 and real > 0 and stopped > 0
    types = [(n, t) for n, t, _ in notes(str(path))]
    # the kernel's order: the main thread's PRSTATUS, PRPSINFO, AUXV, FILE
    assert types[:4] == [("CORE", 1), ("CORE", 3), ("CORE", 6), ("CORE", 0x46494C45)]
    prstatus = [d for n, t, d in notes(str(path)) if t == 1 and n == "CORE"]
    assert struct.unpack_from("<i", prstatus[0], 32)[0] == known.pid
    # the target runs on, not stopped
    with open("/proc/%d/stat" % known.pid) as f:
        assert f.read().rsplit(") ", 1)[1][0] in "SR"


def test_sparse(known, tmp_path):
    """A core of an address space of hundreds of MiB takes about the
    process's memory on disk (pages never populated are holes)."""
    rc, out, err = run(GT_CORE, "-o", tmp_path / "c", known.pid)
    assert rc == 0, err
    st = os.stat(str(tmp_path / "c"))
    with open("/proc/%d/status" % known.pid) as f:
        rss = [int(l.split()[1]) * 1024 for l in f if l.startswith("VmRSS:")][0]
    assert st.st_size > 10 * rss
    assert st.st_blocks * 512 <= 1.2 * rss


def test_existing_file_needs_force(known, tmp_path):
    path = tmp_path / "c"
    path.write_text("keep me")
    rc, out, err = run(GT_CORE, "-o", path, known.pid)
    assert rc == 2 and out == ""
    assert one_line(err) == ("gt-core: %s exists: use -f to replace it or -o to name "
                             "another file" % path)
    assert path.read_text() == "keep me"
    rc, out, err = run(GT_CORE, "-f", "-q", "-o", path, known.pid)
    assert rc == 0 and out == "" and err == ""
    assert path.read_bytes()[:4] == b"\x7fELF"
    assert sorted(os.listdir(str(tmp_path))) == ["c"]


def test_compact_flag(known, tmp_path):
    rc, out, err = run(GT_CORE, "-c", "-o", tmp_path / "c", known.pid)
    assert rc == 0, err
    assert "(compact)" in one_line(out)
    assert capture_note(str(tmp_path / "c"))[1] == GT_CAPTURE_COMPACT


def test_no_stop(known, tmp_path):
    rc, out, err = run(GT_CORE, "-n", "-o", tmp_path / "c", known.pid)
    assert rc == 0, err
    line = one_line(out)
    assert "(full, not stopped: best effort)" in line and "; not stopped, " in line
    _, flags, mono, _, stopped, _ = capture_note(str(tmp_path / "c"))
    assert flags == GT_CAPTURE_NO_STOP | GT_CAPTURE_NO_FPREGS
    assert stopped == 0 and mono > 0


def test_regs_from(known, tmp_path):
    regs = tmp_path / "regs"
    tids = sorted(int(t) for t in os.listdir("/proc/%d/task" % known.pid))
    regs.write_text("".join("tid=%d rip=0x401000 rsp=0x%x bogus=1\n" % (t, 0x1000 + t)
                            for t in tids))
    rc, out, err = run(GT_CORE, "--regs-from", regs, "-o", tmp_path / "c", known.pid)
    assert rc == 0, err
    assert "stopped by its tracer" in one_line(out)
    flags = capture_note(str(tmp_path / "c"))[1]
    assert flags == GT_CAPTURE_NO_FPREGS
    prstatus = [d for n, t, d in notes(str(tmp_path / "c")) if t == 1 and n == "CORE"]
    # pr_reg starts at 112: rsp is its 20th register, rip its 17th
    main = prstatus[0]
    assert struct.unpack_from("<i", main, 32)[0] == known.pid
    assert struct.unpack_from("<Q", main, 112 + 8 * 16)[0] == 0x401000
    assert struct.unpack_from("<Q", main, 112 + 8 * 19)[0] == 0x1000 + known.pid
    for bad, why in (("tid=1 rip=0x1\n", "not a task of the target"),
                     ("rip=0x1\n", "starts with tid=TID"),
                     ("tid=%d rip=zz\n" % known.pid, "is not a number")):
        regs.write_text(bad)
        rc, out, err = run(GT_CORE, "--regs-from", regs, "-f", "-o", tmp_path / "d",
                           known.pid)
        assert rc == 1 and why in one_line(err), err
        assert not (tmp_path / "d").exists()


def test_not_a_gt_program(tmp_path):
    p = subprocess.Popen(["sleep", "60"])
    try:
        rc, out, err = run(GT_CORE, "-c", "-o", tmp_path / "c", p.pid)
        assert rc == 1 and out == ""
        assert one_line(err) == ("gt-core: --compact needs a gt program: PID %d has no "
                                 "gt registry (drop --compact)" % p.pid)
        assert os.listdir(str(tmp_path)) == []
        rc, out, err = run(GT_CORE, "-o", tmp_path / "c", p.pid)
        assert rc == 0
        assert one_line(err) == ("gt-core: PID %d (sleep) has no gt registry: wrote a "
                                 "plain core (green threads cannot be listed)" % p.pid)
        assert ": 0 green threads, 1 kernel thread; " in one_line(out)
        _, flags, _, _, _, registry = capture_note(str(tmp_path / "c"))
        assert flags == GT_CAPTURE_NOT_GT and registry == 0
        assert p.poll() is None
    finally:
        p.kill()
        p.wait()


def test_traced_by_another(known, tmp_path):
    gdb = subprocess.Popen(["gdb", "-batch", "-nx", "-p", str(known.pid), "-ex",
                            "shell sleep 30"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        for _ in range(2000):
            with open("/proc/%d/status" % known.pid) as f:
                if "TracerPid:\t%d" % gdb.pid in f.read():
                    break
            subprocess.run(["sleep", "0.01"])
        rc, out, err = run(GT_CORE, "-o", tmp_path / "c", known.pid)
        assert rc == 1
        assert one_line(err) == ("gt-core: %d is traced by pid %d (gdb): run green-gcore "
                                 "in that debugger, or detach it" % (known.pid, gdb.pid))
        assert os.listdir(str(tmp_path)) == []
    finally:
        os.killpg(gdb.pid, signal.SIGKILL)
        gdb.wait()


def test_permission_denied(known, tmp_path):
    rc, out, err = run("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                       GT_CORE, "-o", "/tmp/gt-core-eperm.%d" % known.pid, known.pid)
    assert rc == 1
    assert one_line(err) == ("gt-core: cannot attach to %d: permission denied: run as "
                             "the target's user with ptrace allowed "
                             "(kernel.yama.ptrace_scope) or with CAP_SYS_PTRACE"
                             % known.pid)
    assert not os.path.exists("/tmp/gt-core-eperm.%d" % known.pid)
    assert not [n for n in os.listdir("/tmp") if n.startswith(".gt-core-eperm")]


def test_disk_full(tmp_path):
    """A file system of 1 MiB cannot take the core of 1,000 threads: the
    partial file is removed, and the target runs on."""
    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(small)],
                   check=True)
    f = Fixture(counts=(400, 300, 200, 3, 100))
    try:
        rc, out, err = run(GT_CORE, "-o", small / "c", f.pid)
        assert rc == 1 and out == ""
        assert one_line(err) == ("gt-core: writing %s: No space left on device: %s "
                                 "removed" % (small / "c", small / "c"))
        assert os.listdir(str(small)) == []
        assert f.p.poll() is None
    finally:
        f.stop()
        subprocess.run(["umount", str(small)], check=True)


def tracer_of(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("TracerPid:"):
                return int(line.split()[1])
    return 0


def test_signal_during_capture_is_kept(tmp_path):
    """A signal sent while gt-core holds the target is delivered once it
    lets go: gt-core itself is frozen (SIGSTOP) while it holds the
    target, the signal sent, gt-core thawed; the fixture has no SIGTERM
    handler, so it must then die of it."""
    f = Fixture(counts=(4000, 3000, 2000, 3, 1000))
    try:
        for attempt in range(20):
            p = subprocess.Popen([GT_CORE, "-q", "-f", "-o", str(tmp_path / "c"),
                                  str(f.pid)])
            caught = False
            while p.poll() is None:
                if tracer_of(f.pid) == p.pid:
                    os.kill(p.pid, signal.SIGSTOP)
                    caught = tracer_of(f.pid) == p.pid
                    if caught:
                        os.kill(f.pid, signal.SIGTERM)
                    os.kill(p.pid, signal.SIGCONT)
                    break
            assert p.wait(timeout=60) == 0
            if caught:
                break
        assert caught, "gt-core was never seen holding the target"
        assert f.p.wait(timeout=30) == -signal.SIGTERM
    finally:
        f.stop()


def test_damaged_registry(tmp_path):
    """A registry libgtobserve cannot read still gets a full core (it is
    then wanted most), its threads uncounted; --compact, which needs the
    registry, refuses."""
    f = Fixture.__new__(Fixture)
    Running = Fixture.__mro__[1]
    Running.__init__(f, exe(name="bad_registry"), ["chunks"], idle=False)
    try:
        rc, out, err = run(GT_CORE, "-c", "-o", tmp_path / "c", f.pid)
        assert rc == 1 and out == ""
        line = one_line(err)
        assert "thread chunks at 0x10 cannot be read" in line
        assert line.endswith("--compact needs the registry (capture without --compact)")
        assert os.listdir(str(tmp_path)) == []
        rc, out, err = run(GT_CORE, "-o", tmp_path / "c", f.pid)
        assert rc == 0
        assert one_line(err).endswith(": green threads not counted")
        assert ": 0 green threads, " in one_line(out)
        _, flags, _, _, _, registry = capture_note(str(tmp_path / "c"))
        assert flags == 0 and registry != 0
    finally:
        f.stop()


def test_killed_leaves_no_partial_file(tmp_path):
    """gt-core killed outright (SIGKILL, as the OOM killer does) at any
    point leaves no partial file (the file has no name until it is
    complete), and the target runs on, untraced."""
    f = Fixture(counts=(4000, 3000, 2000, 3, 1000))
    try:
        for delay in (0.0, 0.02, 0.05, 0.1):
            out = tmp_path / ("d%s" % delay)
            out.mkdir()
            p = subprocess.Popen([GT_CORE, "-q", "-o", str(out / "c"), str(f.pid)])
            subprocess.run(["sleep", str(delay)])
            p.kill()
            p.wait()
            names = os.listdir(str(out))
            assert names in ([], ["c"]), names
            if names:
                assert capture_note(str(out / "c"))[0] == 1
            with open("/proc/%d/status" % f.pid) as st:
                status = st.read()
            assert "TracerPid:\t0\n" in status
            assert f.p.poll() is None
    finally:
        f.stop()


def test_pid_that_names_no_process_to_stop(known, tmp_path):
    """A thread's id, a zombie and gt-core's own pid each get the line
    that names what the pid is and what to give instead."""
    tid = max(int(t) for t in os.listdir("/proc/%d/task" % known.pid))
    assert tid != known.pid
    rc, out, err = run(GT_CORE, "-o", tmp_path / "c", tid)
    assert rc == 1
    assert one_line(err) == "gt-core: %d is a thread of process %d: give %d" % (
        tid, known.pid, known.pid)
    zombie = subprocess.Popen(["true"])
    for _ in range(1000):
        with open("/proc/%d/stat" % zombie.pid) as f:
            if f.read().rsplit(") ", 1)[1][0] == "Z":
                break
        subprocess.run(["sleep", "0.01"])
    try:
        rc, out, err = run(GT_CORE, "-o", tmp_path / "c", zombie.pid)
        assert rc == 1
        assert one_line(err) == ("gt-core: %d has exited (a zombie its parent has not "
                                 "reaped): there is no memory left to capture"
                                 % zombie.pid)
    finally:
        zombie.wait()
    me = subprocess.run(["python3", "-c", "import os; os.execv(%r, ['gt-core', '-o', "
                         "%r, str(os.getpid())])" % (GT_CORE, str(tmp_path / "c"))],
                        capture_output=True, text=True)
    assert me.returncode == 1
    assert one_line(me.stderr).endswith("is gt-core itself: give the pid of the program "
                                        "to capture")
    assert os.listdir(str(tmp_path)) == []


def test_pid_after_p(tmp_path):
    """-p PID and --pid=PID name the target as PID alone does, as in the
    other tools; a second PID is a usage error."""
    f = Fixture(counts=(2, 1, 1, 2, 1))
    try:
        for i, args in enumerate((["-p", str(f.pid)], ["--pid=%d" % f.pid])):
            out = str(tmp_path / ("c%d" % i))
            rc, so, err = run(GT_CORE, "-q", "-o", out, *args)
            assert rc == 0 and os.path.exists(out), err
        rc, so, err = run(GT_CORE, "-p", str(f.pid), str(f.pid))
        assert rc == 2 and "one PID only" in err
    finally:
        f.stop()
