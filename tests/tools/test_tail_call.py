"""A thread whose last statement is gt_sleep_ns keeps its function in every
backtrace when the program is built with what gt.pc gives.

tail_call.c is built by tools/tools.mk at -O2 with exactly
`pkg-config --cflags --libs gt` of this build tree (its gt-uninstalled.pc),
and once more with -foptimize-sibling-calls after those flags: there the
compiler turns the last call into a jump, and the function is gone (the
thread seems to wait in gt__thread_start), which shows the fixture really
exercises the tail call that gt.pc's -fno-optimize-sibling-calls prevents."""
import os
import subprocess

import pytest

from conftest import BUILD, FIXTURES, GT_STACKS, HERE, Running, marker_lines, run_json

NSLEEP = 3
LINES = marker_lines(os.path.join(HERE, "tail_call.c"))
PC_DIR = os.path.join(BUILD, "lib", "pkgconfig")
READER_FLAGS = ["-g", "-fno-omit-frame-pointer", "-mno-omit-leaf-frame-pointer",
                "-fno-optimize-sibling-calls"]


def pkg_config(*args, uninstalled=True):
    env = dict(os.environ, PKG_CONFIG_PATH=PC_DIR)
    env.pop("PKG_CONFIG_LIBDIR", None)
    if not uninstalled:
        env["PKG_CONFIG_DISABLE_UNINSTALLED"] = "1"
    p = subprocess.run(["pkg-config"] + list(args) + ["gt"], env=env,
                       capture_output=True, text=True, check=True)
    return p.stdout.split()


def frames_of(doc):
    """Every frame of every group, wherever the JSON keeps them."""
    out = []
    if isinstance(doc, dict):
        for k, v in doc.items():
            if k == "frames" and isinstance(v, list):
                out.append([f for f in v if isinstance(f, dict)])
            else:
                out.extend(frames_of(v))
    elif isinstance(doc, list):
        for v in doc:
            out.extend(frames_of(v))
    return out


def sleeper_stacks(variant):
    prog = Running(os.path.join(FIXTURES, "tail_call-" + variant), (NSLEEP,))
    try:
        doc = run_json(GT_STACKS, prog.pid)
    finally:
        prog.stop()
    stacks = [fs for fs in frames_of(doc)
              if any(f.get("function") == "gt_sleep_ns" for f in fs)]
    assert stacks, doc
    return stacks


def test_pc_gives_the_reader_flags():
    for uninstalled in (True, False):
        cflags = pkg_config("--cflags", uninstalled=uninstalled)
        for flag in READER_FLAGS:
            assert flag in cflags, (uninstalled, cflags)
    # The build tree's own: its headers, its libraries, found when run.
    cflags = pkg_config("--cflags")
    assert "-I" + os.path.realpath(os.path.join(HERE, "..", "..", "runtime", "include")) \
        in [("-I" + os.path.realpath(f[2:])) if f.startswith("-I") else f for f in cflags]
    libs = pkg_config("--libs")
    libdir = os.path.realpath(os.path.join(BUILD, "lib"))
    assert "-L" + libdir in ["-L" + os.path.realpath(f[2:]) for f in libs if f.startswith("-L")]
    assert "-lgt" in libs


def test_last_call_keeps_its_function():
    stacks = sleeper_stacks("pc")
    for fs in stacks:
        names = [f.get("function") for f in fs]
        i = names.index("gt_sleep_ns")
        assert names[i + 1] == "sleeper_entry", names
        assert fs[i + 1].get("line") == LINES["tail"], fs[i + 1]


def test_sibling_call_loses_it():
    for fs in sleeper_stacks("sibcall"):
        names = [f.get("function") for f in fs]
        assert "sleeper_entry" not in names, names
