"""Every bad input ends with one clear line on stderr and exit status 1
(2 for a bad command line): never a crash, a hang or a traceback."""
import json
import os
import pty
import shutil
import stat
import subprocess
import tempfile
import time

import pytest

from conftest import (BIN, FIXTURES, GT_STACKS, GT_WASTE, Fixture, exe, gcore, run)

GT_TOP = os.path.join(BIN, "gt-top")

TOOLS = [GT_STACKS, GT_WASTE]


def one_line(err):
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("tool", TOOLS)
def test_usage(tool):
    # gt-stacks reads several processes, but not one twice.
    two = ["1", "1"] if tool == GT_STACKS else ["1", "2"]
    for args in ([], two, ["--core", "x", "1"], ["--exe", "x", "1"],
                 ["abc"], ["--json", "--folded", "1"], ["--bogus", "1"]):
        rc, out, err = run(tool, *args)
        assert rc == 2, (args, err)
        assert out == ""
    rc, out, err = run(GT_STACKS, "--min-wait", "soon", "1")
    assert rc == 2 and "not a duration" in err
    rc, out, err = run(GT_STACKS, "--state", "sleepy", "1")
    assert rc == 2 and "unknown state 'sleepy'" in err


@pytest.mark.parametrize("tool", TOOLS)
def test_no_such_process(tool):
    p = subprocess.Popen(["true"])
    p.wait()
    rc, out, err = run(tool, p.pid)
    assert rc == 1
    assert one_line(err).endswith("no process %d" % p.pid)


def test_permission_denied(known):
    # As user nobody, against a process of root's.
    tmp = tempfile.mkdtemp()
    try:
        os.chmod(tmp, 0o755)
        tool = shutil.copy(GT_STACKS, tmp)
        os.chmod(tool, 0o755)

        def as_nobody():
            os.setgid(65534)
            os.setuid(65534)

        p = subprocess.run([tool, str(known.pid)], capture_output=True, text=True,
                           preexec_fn=as_nobody, timeout=60)
    finally:
        shutil.rmtree(tmp)
    assert p.returncode == 1
    line = one_line(p.stderr)
    assert "not permitted to read" in line and "process %d" % known.pid in line
    assert "uid 0" in line and "you are uid 65534" in line
    assert "same user" in line and "CAP_SYS_PTRACE" in line


def test_permission_denied_without_cap_sys_ptrace(known):
    # Root, but without CAP_SYS_PTRACE (as in a container), against a
    # process of root's with every capability: the same user, so "run as
    # the same user" would be no advice; the capability is what is missing.
    p = subprocess.run(["setpriv", "--bounding-set", "-sys_ptrace", GT_STACKS,
                        str(known.pid)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1
    line = one_line(p.stderr)
    assert line.startswith("gt-stacks: not permitted to read the program of "
                           "process %d (known_stacks): the process has "
                           "capabilities the reader lacks (" % known.pid), line
    assert line.endswith("give the reader CAP_SYS_PTRACE (in a container: "
                         "--cap-add=SYS_PTRACE)"), line
    assert "same user" not in line


def test_permission_denied_not_dumpable():
    # The reader and the process run as one user, but the process made
    # itself not dumpable: only CAP_SYS_PTRACE reads it.
    tmp = tempfile.mkdtemp()
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    target = subprocess.Popen(nobody + [
        "/usr/bin/python3", "-c",
        "import ctypes, sys\n"
        "assert ctypes.CDLL(None).prctl(4, 0, 0, 0, 0) == 0  # PR_SET_DUMPABLE\n"
        "print('ready', flush=True)\n"
        "sys.stdin.read()\n"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True)
    try:
        assert target.stdout.readline() == "ready\n"
        os.chmod(tmp, 0o755)
        tool = shutil.copy(GT_STACKS, tmp)
        os.chmod(tool, 0o755)
        p = subprocess.run(nobody + [tool, str(target.pid)], capture_output=True,
                           text=True, timeout=60)
    finally:
        target.kill()
        target.wait()
        shutil.rmtree(tmp)
    assert p.returncode == 1
    assert one_line(p.stderr) == (
        "gt-stacks: not permitted to read the program of process %d (python3): "
        "the process is not dumpable (a set-uid or file-capability program, or "
        "it called prctl(PR_SET_DUMPABLE, 0)): give the reader CAP_SYS_PTRACE"
        % target.pid)


@pytest.mark.parametrize("tool", TOOLS)
def test_not_a_gt_program(tool):
    p = subprocess.Popen(["sleep", "60"])
    try:
        time.sleep(0.2)
        rc, out, err = run(tool, p.pid)
    finally:
        p.kill()
        p.wait()
    assert rc == 1
    assert one_line(err) == ("%s: process %d (sleep) is not a gt program: no "
                             "gt_registry in its program (%s) or its libraries"
                             % (os.path.basename(tool), p.pid,
                                os.path.realpath(shutil.which("sleep"))))


def test_a_reader_is_not_a_gt_program(known):
    """gt-top maps its target's program read-only, for its symbols: the
    program's registry is in a file gt-top maps, but not one it runs (no
    executable mapping of it), so gt-top is no gt program that has not
    started yet: it is not a gt program."""
    # gt-top on its screen (a pseudo-terminal), refreshing once a minute.
    master, slave = pty.openpty()
    top = subprocess.Popen([GT_TOP, "-d", "60", str(known.pid)], stdin=slave, stdout=slave,
                           stderr=slave, env=dict(os.environ, TERM="xterm"))
    os.close(slave)
    try:
        # Once its first snapshot is symbolized, it maps the program.
        program = os.path.realpath(known.exe)
        deadline = time.monotonic() + 20
        while True:
            assert top.poll() is None
            with open("/proc/%d/maps" % top.pid) as f:
                mine = [line.split() for line in f if line.rstrip().endswith(program)]
            if mine:
                break
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert all(m[1][2] != "x" for m in mine), mine
        rc, out, err = run(GT_STACKS, "-p", top.pid)
    finally:
        top.kill()
        top.wait()
        os.close(master)
    assert rc == 1 and out == ""
    assert one_line(err) == ("gt-stacks: process %d (gt-top) is not a gt program: no "
                             "gt_registry in its program (%s) or its libraries"
                             % (top.pid, os.path.realpath(GT_TOP)))


def bad_registry(mode):
    p = subprocess.Popen([os.path.join(FIXTURES, "bad_registry"), mode],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().startswith("ready")
    return p


@pytest.mark.parametrize("mode,message", [
    ("abi", "has gt registry ABI 99; this reader reads ABI 1"),
    ("magic", 'has magic 0x4b4e554a4b4e554a ("JUNKJUNK"), not 0x5254534745525447 '
              '("GTREGSTR")'),
    ("chunks", "the registry's thread chunks at 0x10 cannot be read: the registry "
               "points nowhere"),
    ("layout", "the registry's layout table at 0x18 cannot be read: the registry "
               "points nowhere"),
])
@pytest.mark.parametrize("tool", TOOLS)
def test_damaged_registry(tool, mode, message):
    p = bad_registry(mode)
    try:
        rc, out, err = run(tool, p.pid)
        assert p.poll() is None  # reading never harmed it
    finally:
        p.kill()
        p.wait()
    assert rc == 1
    assert message in one_line(err)


@pytest.mark.parametrize("tool", TOOLS)
def test_page_size_of_another_machine(tool):
    # 64 KiB is a page size, but not this machine's: the pagemap a live
    # process is measured with has one entry per page of the machine.
    p = bad_registry("page")
    try:
        rc, out, err = run(tool, p.pid)
        assert p.poll() is None
    finally:
        p.kill()
        p.wait()
    assert rc == 1
    assert one_line(err) == ("%s: process %d (bad_registry): registry page size "
                             "65536 is not a page size of this machine: the "
                             "registry is damaged" % (os.path.basename(tool), p.pid))


def test_stack_past_the_address_space():
    # A thread whose stack lies past the end of the address space: pagemap
    # reads as empty there, which lost errno ("cannot read which stack
    # pages are resident: Success").  Such a stack holds no resident page.
    p = bad_registry("stack")
    try:
        rc, out, err = run(GT_WASTE, "--json", p.pid)
        assert p.poll() is None
    finally:
        p.kill()
        p.wait()
    assert rc == 0, err
    doc = json.loads(out)
    assert doc["threads"] == 1
    assert doc["totals"]["reserved"] == 65536 and doc["totals"]["resident"] == 0


KILL_AT_READ = os.path.join(FIXTURES, "kill_at_read.so")


def run_preloaded(tool, pid, **env):
    """The tool against PID with kill_at_read.so preloaded (see
    tests/tools/preload/kill_at_read.c)."""
    e = dict(os.environ, LD_PRELOAD=KILL_AT_READ,
             **{k: str(v) for k, v in env.items()})
    return subprocess.run([tool, str(pid)], capture_output=True, text=True,
                          env=e, timeout=60)


@pytest.mark.parametrize("tool", TOOLS)
def test_process_exits_during_the_read(tool, tmp_path):
    # How many reads one run makes: the target dies before each of several
    # of them in turn, from the one after the registry's header (read 2;
    # read 1 is the probe when the target is opened) to the last.
    f = Fixture()
    try:
        count = tmp_path / "count"
        p = run_preloaded(tool, f.pid, GT_TEST_READ_COUNT=count)
        assert p.returncode == 0, p.stderr
        reads = int(count.read_text())
    finally:
        f.stop()
    assert reads >= 4
    for at in sorted({3, 4, reads // 2, reads}):
        f = Fixture()
        try:
            p = run_preloaded(tool, f.pid, GT_TEST_KILL_AT_READ=at)
            # It really died at that read, not after the tool was done.
            assert f.p.poll() is not None, at
        finally:
            f.stop()
        assert p.returncode == 1, (at, p.stdout[-500:], p.stderr)
        assert one_line(p.stderr).endswith(
            "process %d (known_stacks) exited while being read" % f.pid), at


@pytest.mark.parametrize("tool", TOOLS)
def test_process_execs_during_the_read(tool):
    # The process execs another program between two reads: the registry's
    # addresses then point nowhere, which is the exec's doing, not damage.
    for at in (2, 3, 4):
        p = bad_registry("exec")
        try:
            e = dict(os.environ, LD_PRELOAD=KILL_AT_READ, GT_TEST_EXEC_AT_READ=str(at))
            r = subprocess.run([tool, str(p.pid)], capture_output=True, text=True,
                               env=e, timeout=60)
            # It really exec'd, and lives on.
            assert os.readlink("/proc/%d/exe" % p.pid).endswith("/sleep"), at
        finally:
            p.kill()
            p.wait()
        assert r.returncode == 1, (at, r.stdout, r.stderr)
        assert one_line(r.stderr) == (
            "%s: process %d (bad_registry) exec'd a new program while it was "
            "read: run again" % (os.path.basename(tool), p.pid)), at


@pytest.fixture(scope="module")
def a_core(tmp_path_factory):
    d = tmp_path_factory.mktemp("core")
    f = Fixture(env={"GT_GUARD": "mprotect"})
    try:
        core = gcore(f.pid, d)
    finally:
        f.stop()
    return core


def copy_with(core, directory, patch):
    dst = os.path.join(str(directory), "bad-core")
    shutil.copy(core, dst)
    with open(dst, "r+b") as f:
        patch(f)
    return dst


@pytest.mark.parametrize("tool", TOOLS)
def test_truncated_core(tool, a_core, tmp_path):
    size = os.path.getsize(a_core)
    bad = copy_with(a_core, tmp_path, lambda f: f.truncate(size // 2))
    rc, out, err = run(tool, "--core", bad, "--exe", exe())
    assert rc == 1
    line = one_line(err)
    assert "core %s is truncated: it has %d bytes, its segments need " % (
        bad, size // 2) in line
    need = int(line.split("segments need ")[1].split()[0])
    assert size // 2 < need <= size


@pytest.mark.parametrize("tool", TOOLS)
def test_core_of_another_architecture(tool, a_core, tmp_path):
    def aarch64(f):
        f.seek(18)
        f.write((183).to_bytes(2, "little"))
    bad = copy_with(a_core, tmp_path, aarch64)
    rc, out, err = run(tool, "--core", bad)
    assert rc == 1
    assert one_line(err).endswith("%s is a core of AArch64 (e_machine 183); this "
                                  "reader reads x86-64 cores" % bad)


@pytest.mark.parametrize("tool", TOOLS)
def test_not_a_core(tool, tmp_path):
    rc, out, err = run(tool, "--core", exe())
    assert rc == 1
    assert "%s is not a core file but an ELF shared object or PIE program" % exe() \
        in one_line(err)
    text = tmp_path / "notes.txt"
    text.write_text("hello, I am not a core\n")
    rc, out, err = run(tool, "--core", text)
    assert rc == 1
    assert one_line(err).endswith("%s is not a core file: it is not an ELF file" % text)
    rc, out, err = run(tool, "--core", tmp_path / "missing")
    assert rc == 1
    assert "cannot open core %s: No such file or directory" % (tmp_path / "missing") \
        in one_line(err)


@pytest.mark.parametrize("tool", TOOLS)
def test_core_with_the_wrong_program(tool, a_core):
    other = os.path.join(FIXTURES, "bad_registry")
    rc, out, err = run(tool, "--core", a_core, "--exe", other)
    assert rc == 1
    line = one_line(err)
    assert "was not dumped by %s: build-id " % other in line
    assert "give the right program with --exe" in line


@pytest.mark.parametrize("tool", TOOLS)
def test_core_whose_program_is_gone(tool, a_core, tmp_path):
    # The same program under another name, then removed: the core names a
    # path that no longer exists.
    moved = tmp_path / "known_stacks"
    shutil.copy(exe(), moved)
    f = Fixture(env={"GT_GUARD": "mprotect"})
    f.stop()
    p = subprocess.Popen([str(moved), "1", "1", "1", "1", "1"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().startswith("ready")
        core = gcore(p.pid, tmp_path)
    finally:
        p.kill()
        p.wait()
    os.unlink(moved)
    rc, out, err = run(tool, "--core", core)
    assert rc == 1
    assert one_line(err).endswith("was dumped by %s, which is no longer there: give "
                                  "the program with --exe" % moved)
    rc, out, err = run(tool, "--core", core, "--exe", exe())
    assert rc == 0, err
