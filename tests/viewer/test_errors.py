"""gt-top's failures before any screen: one line that names the fix."""
import os
import subprocess

from conftest import GT_TOP, gt_top


def one_line(r):
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    return lines[0]


def test_no_such_process():
    r = gt_top("-b", "-p", "999999999", check=False)
    assert r.returncode == 1
    assert "999999999" in one_line(r)


def test_not_a_gt_program():
    p = subprocess.Popen(["sleep", "30"])
    try:
        r = gt_top("-b", "-p", p.pid, check=False)
    finally:
        p.kill()
        p.wait()
    assert r.returncode == 1
    assert "gt" in one_line(r)


def test_damaged_core(tmp_path):
    core = tmp_path / "core.bad"
    core.write_bytes(b"\x7fELF" + b"\0" * 60)
    r = gt_top("-b", "--core", core, "--exe", "/bin/true", check=False)
    assert r.returncode == 1
    assert "core" in one_line(r)


def test_not_a_terminal_says_use_b():
    r = gt_top("-p", os.getpid(), check=False)
    assert r.returncode == 2
    assert "-b" in one_line(r)


def test_bad_command_lines():
    for args in (["-b"], ["-b", "-p", "1", "--view", "nope"],
                 ["-b", "-p", "1", "--format", "xml"], ["-b", "-p", "1", "-n", "0"]):
        r = gt_top(*args, check=False)
        assert r.returncode == 2, args
        one_line(r)


def test_sort_names_the_columns(pipeline):
    r = gt_top("-b", "-p", pipeline.pid, "--view", "threads", "--sort", "colour", check=False)
    assert r.returncode == 2
    line = one_line(r)
    assert "'colour'" in line and "waits_on" in line and "reserved" in line
    r = gt_top("-b", "-p", pipeline.pid, "--sort", "waiting:sideways", check=False)
    assert r.returncode == 2 and ":desc" in one_line(r)
    r = gt_top("-b", "-p", pipeline.pid, "--view", "graph", "--sort", "waiting", check=False)
    assert r.returncode == 2 and "locations or threads" in one_line(r)
