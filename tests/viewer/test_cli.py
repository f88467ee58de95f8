"""gt-top's command line, with gt-stacks' and gt-waste's conventions: -h
and --help, -V and --version, the PID alone or after -p; the exit status
in its help; Ctrl-C and SIGTERM end it with status 0 on the screen and in
batch mode, after whole snapshots only."""
import json
import os
import re
import signal
import subprocess

import pytest

from conftest import BUILD, GT_TOP, Pipeline, gt_top
from test_screen import SESSION, keys, session, start, tmux, wait_for  # noqa: F401 (session: a fixture)

GT_WASTE = os.path.join(BUILD, "bin", "gt-waste")


@pytest.fixture(scope="module")
def pipeline():
    p = Pipeline(4, 3)
    yield p
    p.stop()


def test_help_and_exit_status():
    out = gt_top("--help").stdout
    assert gt_top("-h").stdout == out
    assert out.startswith("usage: gt-top ")
    text = " ".join(out.split())
    status = re.search(r"Exit status: (.*?)\.", text + ".").group(1)
    assert re.search(r"\b0 done \(q, Ctrl-C or SIGTERM", status), status
    assert "1 the target could not be read" in status
    assert "2 bad command line" in status
    for flag in ("-p, --pid PID", "-V, --version", "-h, --help", "[-p] PID"):
        assert flag in out, flag
    assert "see the manual" not in out


def test_version_as_the_tools():
    for flag in ("--version", "-V"):
        r = gt_top(flag)
        assert r.stderr == ""
        name, version = r.stdout.splitlines()[0].rsplit(" ", 1)
        assert name == "gt-top (gt)"
        # The same version and registry ABI as gt-waste's (gt.h's; the
        # tools' tests hold those to gt.h, registry.h and gt.pc).
        waste = subprocess.run([GT_WASTE, "--version"], capture_output=True,
                               text=True, check=True).stdout.splitlines()
        assert version == waste[0].rsplit(" ", 1)[1]
        assert r.stdout.splitlines()[1:] == waste[1:]


def test_pid_alone_or_after_p(pipeline):
    docs = [json.loads(gt_top("-b", "--format", "json", *args).stdout)
            for args in ([pipeline.pid], ["-p", pipeline.pid],
                         ["--pid=%d" % pipeline.pid], [pipeline.pid, "-b"])]
    for d in docs:
        assert d["pid"] == pipeline.pid
        assert d["threads"] == pipeline.nloop + pipeline.nidle + 1


def test_pid_given_twice_or_badly():
    for args, says in ((["-b", "-p", "1", "2"], "one PID only ('2' is extra)"),
                       (["-b", "-p", "1,x"], "'1,x' is not a process id"),
                       (["-b", "-p", "1,"], "'1,' is not a process id"),
                       (["-b", "1", "2"], "unexpected argument '2'"),
                       (["-b", "x"], "'x' is not a process id"),
                       (["-b", "-p", "0"], "'0' is not a process id"),
                       (["-b", "1", "--core", "c"], "not both"),
                       (["-b"], "give a PID or --core CORE")):
        r = gt_top(*args, check=False)
        assert r.returncode == 2 and r.stdout == "", args
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and says in lines[0], (args, r.stderr)


def batch_until_stopped(p, sig, ignore_sigint=False):
    """gt-top -b on P, many snapshots 50ms apart as JSON lines; SIG once
    the first is out.  Returns (exit status, documents after the first)."""
    def setup():
        if ignore_sigint:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
    top = subprocess.Popen([GT_TOP, "-b", "-n", "100000", "-d", "0.05", "--format",
                            "json", str(p.pid)], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, preexec_fn=setup)
    try:
        first = json.loads(top.stdout.readline())
        assert first["pid"] == p.pid
        top.send_signal(sig)
        if ignore_sigint:
            # Still running: two more snapshots come after the signal
            # (the one being printed when it came may be the first).
            for _ in range(2):
                assert json.loads(top.stdout.readline())["pid"] == p.pid
            top.send_signal(signal.SIGTERM)
        rest, err = top.communicate(timeout=60)
    finally:
        if top.poll() is None:
            top.kill()
            top.wait()
    assert err == ""
    # Whatever came after the first is whole documents, one per line.
    return top.returncode, [json.loads(l) for l in rest.splitlines()]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_batch_stopped_by_signal_exits_0(pipeline, sig):
    rc, docs = batch_until_stopped(pipeline, sig)
    assert rc == 0
    assert all(d["pid"] == pipeline.pid for d in docs)


def test_batch_keeps_an_ignored_sigint(pipeline):
    """A job the shell put in the background ignores Ctrl-C: gt-top does
    not take it back."""
    rc, _ = batch_until_stopped(pipeline, signal.SIGINT, ignore_sigint=True)
    assert rc == 0


def test_screen_ctrl_c_exits_0(session):
    wait_for("idler_main (pipeline.c")
    keys("C-c")
    s = wait_for("gt-top-exited")
    assert "gt-top-exited 0" in s


def test_screen_ctrl_c_while_a_key_is_awaited(session):
    """The sort picker waits for a letter with no timeout: Ctrl-C ends
    that wait too."""
    wait_for("idler_main (pipeline.c")
    keys("s")
    wait_for("sort by:")
    keys("C-c")
    s = wait_for("gt-top-exited")
    assert "gt-top-exited 0" in s


@pytest.mark.parametrize("key", ["/", "F3"])
def test_screen_ctrl_c_in_a_prompt(session, key):
    """The filter's and the search's prompts read keys until Enter or
    Esc: Ctrl-C ends them and gt-top."""
    wait_for("idler_main (pipeline.c")
    keys(key)
    wait_for("filter:" if key == "/" else "search:")
    keys("C-c")
    s = wait_for("gt-top-exited")
    assert "gt-top-exited 0" in s


def test_screen_sigterm_exits_0(session):
    wait_for("idler_main (pipeline.c")
    pid = tmux("display-message", "-p", "-t", SESSION, "#{pane_pid}").stdout.strip()
    # The pane's shell runs gt-top as its child.
    kids = subprocess.run(["pgrep", "-P", pid], capture_output=True, text=True).stdout.split()
    top = [k for k in kids if os.readlink("/proc/%s/exe" % k).endswith("gt-top")]
    assert len(top) == 1, kids
    os.kill(int(top[0]), signal.SIGTERM)
    s = wait_for("gt-top-exited")
    assert "gt-top-exited 0" in s


def test_short_and_long_options_agree(pipeline):
    """Each option --help gives in two forms works in both: the same
    snapshots, the same refusal of a bad value."""
    pairs = re.findall(r"^\s+(-\w), (--[\w-]+)", gt_top("--help").stdout, re.M)
    assert sorted(pairs) == sorted([("-b", "--batch"), ("-n", "--iterations"),
                                    ("-d", "--delay"), ("-p", "--pid"), ("-H", "--hog"),
                                    ("-h", "--help"), ("-V", "--version")])
    forms = {"short": ["-b", "-n", "2", "-d", "0.05", "-H", "1s", "-p", pipeline.pid],
             "long": ["--batch", "--iterations", "2", "--delay", "0.05", "--hog", "1s",
                      "--pid", pipeline.pid],
             "long=": ["--batch", "--iterations=2", "--delay=0.05", "--hog=1s",
                       "--pid=%d" % pipeline.pid]}
    for name, args in forms.items():
        docs = [json.loads(l) for l in
                gt_top(*(args + ["--format", "json"])).stdout.splitlines()]
        assert len(docs) == 2, name
        assert all(d["pid"] == pipeline.pid for d in docs), name
    for short, long_, bad in (("-n", "--iterations", "0"), ("-d", "--delay", "0.001"),
                              ("-H", "--hog", "soon"), ("-p", "--pid", "x")):
        a = gt_top("-b", short, bad, check=False)
        b = gt_top("-b", long_, bad, check=False)
        assert a.returncode == b.returncode == 2, short
        assert a.stderr.replace(short, long_) == b.stderr or a.stderr == b.stderr, \
            (a.stderr, b.stderr)
