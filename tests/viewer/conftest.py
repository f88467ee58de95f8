"""Shared pieces of gt-top's tests: paths, the pipeline fixture and its
ground truth (read from its source), running gt-top."""
import os
import sys
import re
import subprocess
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from fixture_lines import marker_lines  # noqa: E402
from ready_process import ReadyProcess  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("GT_BUILD", os.path.join(HERE, "..", "..", "build"))
# GT_TOP: another build of gt-top against the same fixtures (make
# test-viewer-asan runs the suite with the sanitizers' build).
GT_TOP = os.environ.get("GT_TOP", os.path.join(BUILD, "bin", "gt-top"))
PIPELINE = os.path.join(BUILD, "tests", "viewer", "pipeline")
SOURCE = os.path.join(HERE, "pipeline.c")


LINES = marker_lines(SOURCE)
# Each looper sleeps STAGE_A + STAGE_B = 5 ms per loop.
LOOP_S = 0.005


def where(name, func):
    """The call site at LINE:name in func: the first part of a location's
    label (libgtobserve's gto_location_label, "site < caller < ...")."""
    return "%s (pipeline.c:%d)" % (func, LINES[name])


def site(label):
    """The call site of a location label: its innermost part."""
    return label.split(" < ")[0]


class Pipeline(ReadyProcess):
    """The pipeline fixture; EXE another copy of it (a name of its own)."""

    def __init__(self, nloop, nidle, nshared=0, nfileio=0, idle_name=None, exe=PIPELINE):
        self.nloop, self.nidle = nloop, nidle
        self.idle_name = idle_name or "idler"
        super().__init__([exe, nloop, nidle, nshared, nfileio] +
                         ([idle_name] if idle_name else []))


@pytest.fixture
def pipeline():
    p = Pipeline(4, 3)
    yield p
    p.stop()


def gt_top(*args, check=True):
    r = subprocess.run([GT_TOP] + [str(a) for a in args], capture_output=True,
                       text=True, timeout=60)
    if check:
        assert r.returncode == 0, r.stderr
    return r


UNSTACKED = os.path.join(BUILD, "tests", "tools", "unstacked")


class Unstacked(ReadyProcess):
    """tests/tools/unstacked.c: NIDLE threads "idle" wait in
    gt_wait_readable_then holding no stack (a fresh context), NSLEEP
    threads "sleeper" and the main thread wait with ordinary frames."""

    def __init__(self, nidle, nsleep):
        self.nidle, self.nsleep = nidle, nsleep
        super().__init__([UNSTACKED, nidle, nsleep])
