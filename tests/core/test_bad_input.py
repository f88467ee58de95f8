"""Every bad input of gt-core: one line on stderr naming the thing and the
fix, the exit status of the contract (1: not captured, 2: usage), and no
file left behind, not even a temporary one, when there is no core."""
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

import core_util as cu

NOBODY = 65534


def left_in(directory):
    return sorted(os.listdir(directory))


def failed(rc, out, err, status=1):
    """The one line of a failed run."""
    assert rc == status and out == "", (rc, out, err)
    line = cu.one_line(err)
    assert line.startswith("gt-core: "), line
    return line


@pytest.mark.parametrize("args", [[], ["1", "2"], ["--bogus", "1"], ["-o"], ["notapid"],
                                  ["--", "-5"], ["12x"], ["--regs-from"]])
def test_usage_errors(args, tmp_path):
    p = subprocess.run([cu.GT_CORE] + args, capture_output=True, text=True, cwd=tmp_path,
                       timeout=30)
    assert p.returncode == 2 and p.stdout == "", (args, p.returncode, p.stdout, p.stderr)
    assert p.stderr.strip() and "gt-core" in p.stderr, p.stderr
    assert left_in(tmp_path) == []


def test_help_and_version():
    for opt in ("-h", "--help"):
        p = subprocess.run([cu.GT_CORE, opt], capture_output=True, text=True, timeout=30)
        assert p.returncode == 0 and "--compact" in p.stdout and "--no-stop" in p.stdout, p
    for opt in ("-V", "--version"):
        p = subprocess.run([cu.GT_CORE, opt], capture_output=True, text=True, timeout=30)
        assert p.returncode == 0 and p.stdout.startswith("gt-core"), p


def test_no_such_process(tmp_path):
    # A pid that was just in use and is now free: a child that exited and
    # was reaped.
    p = subprocess.Popen(["true"])
    p.wait()
    rc, out, err, _, _ = cu.capture(p.pid, tmp_path / "core")
    line = failed(rc, out, err)
    assert "no process %d" % p.pid in line and "ps -p %d" % p.pid in line, line
    assert left_in(tmp_path) == []
    # The default name, in the current directory: not made either.
    r = subprocess.run([cu.GT_CORE, str(p.pid)], capture_output=True, text=True, cwd=tmp_path)
    failed(r.returncode, r.stdout, r.stderr)
    assert left_in(tmp_path) == []


def test_exited_but_not_reaped(tmp_path):
    """A process that has exited and waits for its parent to reap it (a
    zombie) has no memory to copy: said as such, not as a permission
    problem (the kernel refuses to attach to it with EPERM)."""
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    try:
        for _ in range(1000):
            if cu.proc_state(pid) == "Z":
                break
            time.sleep(0.005)
        assert cu.proc_state(pid) == "Z"
        rc, out, err, _, _ = cu.capture(pid, tmp_path / "core")
        line = failed(rc, out, err)
        assert str(pid) in line and "exited" in line and "permission" not in line, line
        assert left_in(tmp_path) == []
    finally:
        os.waitpid(pid, 0)


def test_default_name_and_existing_file(targets, tmp_path):
    t = targets(cu.known_target)
    r = subprocess.run([cu.GT_CORE, str(t.pid)], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    name = "core.%d" % t.pid
    assert cu.summary(r.stdout)["file"] == name and left_in(tmp_path) == [name]
    # It exists now: refused, untouched, without -f.
    with open(tmp_path / name, "wb") as f:
        f.write(b"precious")
    for argv in ([str(t.pid)], ["-o", name, str(t.pid)], ["--compact", str(t.pid)]):
        r = subprocess.run([cu.GT_CORE] + argv, capture_output=True, text=True, cwd=tmp_path)
        line = failed(r.returncode, r.stdout, r.stderr, status=2)
        assert name in line and "exists" in line and "-f" in line and "-o" in line, line
        assert (tmp_path / name).read_bytes() == b"precious"
        assert left_in(tmp_path) == [name]
    # -f replaces it with a core.
    for force in ("-f", "--force"):
        r = subprocess.run([cu.GT_CORE, force, str(t.pid)], capture_output=True, text=True,
                           cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        assert (tmp_path / name).read_bytes()[:4] == b"\x7fELF"
        assert left_in(tmp_path) == [name]


def test_not_a_gt_program(tmp_path):
    p = subprocess.Popen(["sleep", "60"])
    try:
        time.sleep(0.1)
        core = tmp_path / "core"
        rc, out, err, _, _ = cu.capture(p.pid, core)
        assert rc == 0, err
        line = cu.one_line(err)
        assert line == ("gt-core: PID %d (sleep) has no gt registry: wrote a plain core "
                        "(green threads cannot be listed)" % p.pid) or \
            ("%d (sleep)" % p.pid in line and "no gt registry" in line and "plain core" in line), line
        s = cu.summary(out)
        assert s["green"] == 0 and s["kernel"] == 1 and s["mode"] == "full"
        c = cu.Core(str(core))
        try:
            note = c.capture_note()
            assert note["flags"] == cu.CAPTURE_NOT_GT and note["registry"] == 0, note
            assert c.prstatus_tids() == [p.pid]
        finally:
            c.close()
        # GDB reads it like a kernel core: sleep is in its system call.
        gdb = subprocess.run(["gdb", "-batch", "-nx", "-ex", "bt", "/usr/bin/sleep", str(core)],
                             capture_output=True, text=True, timeout=120)
        assert "nanosleep" in gdb.stdout.split("\n#0", 1)[-1], gdb.stdout + gdb.stderr
        # The readers say what it is not.
        rc, _, err = cu.run([cu.GT_STACKS, "--core", core, "--exe", "/usr/bin/sleep"])
        assert rc == 1 and cu.one_line(err), err
        # --compact needs the registry: refused, nothing written.
        rc, out, err, _, _ = cu.capture(p.pid, tmp_path / "compact", "--compact")
        line = failed(rc, out, err)
        assert "--compact" in line and "%d" % p.pid in line and "no gt registry" in line, line
        assert left_in(tmp_path) == ["core"]
        # Left running (not stopped, not traced): R or S, whatever the
        # scheduler is doing with it this instant.
        assert cu.proc_state(p.pid) in ("R", "S") and cu.tracer_of(p.pid) == 0
    finally:
        p.kill()
        p.wait()


def as_nobody():
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)


def test_permission_denied(targets):
    t = targets(cu.known_target)
    # A directory nobody may write in and reach (pytest's are root's only).
    d = tempfile.mkdtemp(prefix="gt-core-test-")
    try:
        os.chmod(d, 0o777)
        rc, out, err, _, _ = cu.capture(t.pid, os.path.join(d, "core"), preexec_fn=as_nobody)
        line = failed(rc, out, err)
        assert "cannot attach to %d" % t.pid in line and "permission denied" in line.lower(), line
        assert "CAP_SYS_PTRACE" in line and "ptrace_scope" in line, line
        assert left_in(d) == []
    finally:
        shutil.rmtree(d)
    assert cu.proc_state(t.pid) in ("R", "S")


def test_traced_by_a_debugger(targets, tmp_path):
    t = targets(cu.known_target)
    gdb = subprocess.Popen(["gdb", "-q", "-nx", "-p", str(t.pid)], stdin=subprocess.PIPE,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    try:
        for _ in range(3000):
            if cu.tracer_of(t.pid) == gdb.pid:
                break
            time.sleep(0.01)
        assert cu.tracer_of(t.pid) == gdb.pid
        # (--no-stop needs no attachment: not refused for this.)
        for opts in ((), ("--compact",)):
            rc, out, err, _, _ = cu.capture(t.pid, tmp_path / "core", *opts)
            line = failed(rc, out, err)
            assert "%d is traced by pid %d (gdb)" % (t.pid, gdb.pid) in line, line
            assert "green-gcore" in line, line
            assert left_in(tmp_path) == []
    finally:
        gdb.communicate("detach\nquit\n", timeout=60)
    assert cu.tracer_of(t.pid) == 0


def reads_of_a_capture(pid, tmp_path, *opts):
    """How many process_vm_readv calls one capture makes."""
    count = tmp_path / "count"
    cu.captured(pid, tmp_path / "probe", *opts,
                env={"LD_PRELOAD": cu.KILL_AT_READ, "GT_TEST_READ_COUNT": str(count)})
    os.unlink(tmp_path / "probe")
    n = int(count.read_text())
    os.unlink(count)
    return n


@pytest.mark.parametrize("opts", [(), ("--compact",)])
def test_target_exits_during_the_capture(opts, targets, tmp_path):
    """The target dies at a chosen read of gt-core's (SIGKILL from inside
    gt-core's process_vm_readv, tests/tools/preload/kill_at_read.c): the
    first two, one in the middle, the last.  The line names the pid and
    that it exited (not some other failure the death caused)."""
    probe = targets(cu.known_target)
    reads = reads_of_a_capture(probe.pid, tmp_path, *opts)
    assert reads >= 3, reads
    for at in sorted({1, 2, reads // 2, reads}):
        t = targets(cu.known_target)
        out_dir = tmp_path / ("at%d" % at)
        out_dir.mkdir()
        rc, out, err, _, _ = cu.capture(t.pid, out_dir / "core", *opts,
                                        env={"LD_PRELOAD": cu.KILL_AT_READ,
                                             "GT_TEST_KILL_AT_READ": str(at)})
        assert t.p.wait(timeout=30) == -signal.SIGKILL, at  # it died there
        line = failed(rc, out, err)
        assert str(t.pid) in line and "exited" in line, (at, line)
        assert left_in(out_dir) == [], at


def test_disk_full(targets, tmp_path):
    """The core does not fit the file system (a tmpfs of half the core's
    size, mounted in a mount namespace of gt-core's own): the partial file
    is removed and the target goes on."""
    t = targets(cu.known_target)
    mnt = tmp_path / "small"
    mnt.mkdir()
    script = ('mount -t tmpfs -o size="$1" tmpfs "$2" || exit 99; d="$2"; shift 2; '
              '"$@"; echo "rc=$?" >&2; ls -A "$d" >&2')
    for opts in ([], ["--compact"]):
        cu.captured(t.pid, tmp_path / "fits", *opts)
        half = max(cu.PAGE, cu.du(tmp_path / "fits") // 2 // cu.PAGE * cu.PAGE)
        os.unlink(tmp_path / "fits")
        p = subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", str(half), str(mnt),
                            cu.GT_CORE] + opts + ["-o", str(mnt / "core"), str(t.pid)],
                           capture_output=True, text=True, timeout=120)
        lines = p.stderr.strip().split("\n")
        assert p.returncode == 0 and len(lines) == 2, p.stderr
        err, status = lines
        assert status == "rc=1", p.stderr
        path = str(mnt / "core")
        assert err.startswith("gt-core: writing %s: No space left on device" % path) and \
            "removed" in err, err
        assert p.stdout == "", p.stdout
        assert cu.proc_state(t.pid) in ("R", "S") and cu.tracer_of(t.pid) == 0
    assert cu.reader_json(cu.GT_STACKS, t.pid)["threads"] == 1 + sum(t.counts.values())


def test_regs_from_bad_files(targets, tmp_path):
    """--regs-from names a file of registers for a target its tracer
    stopped; a tid that is no task of the target, more lines than tasks,
    or a missing file is refused without a core."""
    t = targets(cu.known_target)
    other = subprocess.Popen(["sleep", "60"])
    try:
        cases = {
            "stranger": "tid=%d rip=0x1 rsp=0x2\n" % other.pid,
            "too many": "".join("tid=%d rip=0x1 rsp=0x2\n" % tid for tid in cu.tasks(t.pid) * 2),
        }
        for name, text in cases.items():
            regs = tmp_path / "regs"
            regs.write_text(text)
            rc, out, err, _, _ = cu.capture(t.pid, tmp_path / "core", "--regs-from", regs)
            assert rc in (1, 2), (name, rc, err)
            failed(rc, out, err, status=rc)
            assert sorted(left_in(tmp_path)) == ["regs"], name
        rc, out, err, _, _ = cu.capture(t.pid, tmp_path / "core", "--regs-from",
                                        tmp_path / "missing")
        assert rc in (1, 2), (rc, err)
        assert "missing" in failed(rc, out, err, status=rc)
    finally:
        other.kill()
        other.wait()
