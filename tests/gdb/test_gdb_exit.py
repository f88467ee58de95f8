"""GDB with the extension loaded ends as plain GDB does.

A listing used to leave GDB holding a Python object for the inferior's
connection; when GDB then ended (SIGTERM while the inferior ran, `quit`,
`detach`) GDB 13 asserted in connpy_connection_dealloc and dumped core.
Each way of ending is run with and without a listing first: the exit
status must be the same and no internal error may be printed.
"""
import os
import signal
import subprocess
import time

import pytest

from test_gdb import FIXTURE, LOADER, N

LISTING = ["source " + LOADER, "info green-threads --limit 1"]


@pytest.fixture
def running():
    p = subprocess.Popen([FIXTURE, str(N)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    assert line.startswith("ready "), line
    yield p
    p.kill()
    p.wait()


def run_gdb(args, commands, cwd, term=False):
    """GDB's exit status and output, run in cwd (where a core of GDB would
    land).  With term, GDB is left with the inferior running (the last
    command is `continue`) and gets SIGTERM once "Continuing." is out."""
    cwd.mkdir()
    argv = ["gdb", "-nx", "-q"] + ([] if term else ["-batch"])
    for c in commands:
        argv += ["-ex", c]
    p = subprocess.Popen(argv + args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, cwd=cwd)
    out = ""
    if term:
        for line in p.stdout:
            out += line
            if line.startswith("Continuing."):
                break
        time.sleep(0.5)
        p.send_signal(signal.SIGTERM)
    rest, _ = p.communicate(timeout=120)
    return p.returncode, out + rest


def check_same_as_plain(args, commands, tmp_path, term=False):
    plain_rc, plain = run_gdb(args, commands, tmp_path / "plain", term)
    rc, out = run_gdb(args, LISTING + commands, tmp_path / "gt", term)
    assert "hold_main" in out, out          # the listing was printed
    assert "internal-error" not in out, out
    assert rc == plain_rc, (rc, plain_rc, out, plain)
    assert not os.listdir(tmp_path / "gt"), "GDB dumped core: %s" % out


def test_sigterm_while_the_inferior_runs(running, tmp_path):
    check_same_as_plain(["-p", str(running.pid)], ["continue"], tmp_path, term=True)
    assert running.poll() is None


def test_quit(running, tmp_path):
    check_same_as_plain(["-p", str(running.pid)], ["quit"], tmp_path)
    assert running.poll() is None


def test_detach(running, tmp_path):
    check_same_as_plain(["-p", str(running.pid)], ["detach", "quit"], tmp_path)
    assert running.poll() is None


def test_core_quit(running, tmp_path):
    core = str(tmp_path / "gcore")
    subprocess.run(["gdb", "-batch", "-nx", "-p", str(running.pid), "-ex", "gcore " + core],
                   capture_output=True, timeout=120)
    assert os.path.exists(core)
    check_same_as_plain([FIXTURE, core], ["quit"], tmp_path)
