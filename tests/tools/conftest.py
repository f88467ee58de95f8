"""Shared pieces of the tools' tests: paths, the fixture program, ground
truth read from its source, and running the tools."""
import json
import os
import sys
import re
import resource
import subprocess

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from fixture_lines import marker_lines  # noqa: E402
from ready_process import wait_idle  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("GT_BUILD", os.path.join(HERE, "..", "..", "build"))
BIN = os.path.join(BUILD, "bin")
FIXTURES = os.path.join(BUILD, "tests", "tools")
GT_STACKS = os.path.join(BIN, "gt-stacks")
GT_WASTE = os.path.join(BIN, "gt-waste")
SOURCE = os.path.join(HERE, "known_stacks.c")

# Frame buffers of known_stacks.c, and how much more than its buffer a
# frame may hold (return address, saved rbp, a spilled pointer, alignment).
ALPHA_BUF, BETA_BUF, RECUR_BUF, DIVE_BUF = 1024, 2048, 256, 16384
SLOP = 80


LINES = marker_lines(SOURCE)


def trampoline_call_line():
    """The line of switch.S where every thread's first frame is: the
    trampoline's call of gt__thread_start (x86-64, where the tests run)."""
    path = os.path.join(HERE, "..", "..", "runtime", "src", "arch", "x86_64", "switch.S")
    with open(path) as f:
        for no, text in enumerate(f, 1):
            if text.split() == ["callq", "*%r12"]:
                return no
    raise AssertionError("no call of gt__thread_start in " + path)


TRAMPOLINE_CALL_LINE = trampoline_call_line()


def exe(variant="static", name="known_stacks"):
    suffix = {"static": "", "shared": "-shared", "stripped": "-stripped",
              "static-stripped": "-static-stripped"}[variant]
    return os.path.join(FIXTURES, name + suffix)


def unlimited_core():
    resource.setrlimit(resource.RLIMIT_CORE,
                       (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


class Running:
    """A fixture program running with every thread parked: it printed its
    first line, MARKER and what it knows ("ready PID" by default), and,
    with IDLE, its kernel thread sleeps in the poller.  Commands go to its
    stdin (send); what it prints after, line by line (line)."""

    def __init__(self, path, args, cwd=None, env=None, marker="ready", idle=True):
        self.exe = path
        self.p = subprocess.Popen([path] + [str(a) for a in args],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, cwd=cwd,
                                  preexec_fn=unlimited_core,
                                  env=dict(os.environ, **(env or {})))
        line = self.p.stdout.readline()
        assert line.startswith(marker + " "), (line, self.p.stderr.read())
        self.ready = line.split()  # "ready PID" and what a fixture adds
        self.first = line[len(marker) + 1:]
        self.pid = self.p.pid
        if idle:
            wait_idle(self.pid)

    def send(self, text):
        self.p.stdin.write(text + "\n")
        self.p.stdin.flush()

    def line(self, prefix):
        """The next line it prints, which starts with PREFIX: its JSON."""
        line = self.p.stdout.readline()
        assert line.startswith(prefix + " "), line
        return json.loads(line[len(prefix) + 1:])

    def stop(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()
        for f in (self.p.stdout, self.p.stderr, self.p.stdin):
            f.close()


class Fixture(Running):
    """known_stacks running, with its threads parked."""

    def __init__(self, counts=(3, 2, 2, 5, 2), variant="static", cwd=None,
                 env=None):
        self.counts = dict(zip(("alpha", "beta", "recur", "depth", "diver"), counts))
        super().__init__(exe(variant), counts, cwd, env)


@pytest.fixture
def known():
    f = Fixture()
    yield f
    f.stop()


def run(tool, *args, **kw):
    """Runs a tool; returns (exit status, stdout, stderr)."""
    p = subprocess.run([tool] + [str(a) for a in args], capture_output=True,
                       text=True, timeout=kw.pop("timeout", 120), **kw)
    return p.returncode, p.stdout, p.stderr


def run_json(tool, *args):
    rc, out, err = run(tool, "--json", *args)
    assert rc == 0, err
    return json.loads(out)


def where(doc, index):
    """Location INDEX of a reader's JSON document, as (function, line) of
    the innermost source frame of its label ("where"); line None without
    line information."""
    loc = {l["index"]: l for l in doc["locations"]}[index]
    first = loc["where"].split(" < ")[0]
    m = re.match(r"(\S+) \(.*:(\d+)\)$", first)
    return (m.group(1), int(m.group(2))) if m else (first.split(" ")[0], None)


def kernel_core(directory):
    """The path of the core the kernel wrote in directory."""
    cores = [p for p in os.listdir(directory) if p.startswith("core")]
    assert cores, "no core written"
    return os.path.join(str(directory), cores[0])


def gcore(pid, directory):
    """A core of the live process, written by GDB's gcore."""
    prefix = os.path.join(str(directory), "gcore")
    subprocess.run(["gcore", "-o", prefix, str(pid)], check=True,
                   capture_output=True, timeout=120)
    return "%s.%d" % (prefix, pid)
