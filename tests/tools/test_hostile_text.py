"""Hostile text: thread names, the process name and a source file name that
hold escape sequences, newlines, tabs, invalid UTF-8, a C1 control and a
backslash reach no reader's output raw.  Every reader prints the same
escaped text (gto_text_safe: "\\xNN" for each byte of a control or of
invalid UTF-8, "\\\\" for a backslash, valid UTF-8 unchanged), in text,
JSON (valid UTF-8, parsed strictly), Prometheus labels and error lines.

The fixture is tests/tools/hostile_names.c (its names are repeated here
as the bytes it sets, and the text each must read as)."""
import json
import os
import re
import subprocess

import pytest

from conftest import BIN, FIXTURES, GT_STACKS, GT_WASTE, HERE, Running, kernel_core
from fixture_lines import marker_lines

GT_TOP = os.path.join(BIN, "gt-top")
HOSTILE = os.path.join(FIXTURES, "hostile_names")

# The names hostile_names.c gives its threads, as every reader must print
# them.  The main thread has none.
NAMES = {
    r"\x1b[31mred\x1b[0m\x1b]0;t\x07",
    r"two\x0alines\x09and tab",
    r"bad\xff cut\xe2\x82 long\xc0\xaf",
    r"c1\xc2\x9b 2J back\\slash",
    "caf\u00e9",
    "abcdefghijklmnopq\u00e9\u00e9",
    r"\xff" * 31,
}
# The process name (PR_SET_NAME) and the parking site's file (#line).
PROC = r"g\x1b]2;x\x07\x0a\xff"
FILE = r'evil\x1b[2J"q\\d\x0a.c'
PARK = "hostile_park (%s:7003)" % FILE
# The parking location's label: the site, then its caller.
LINES = marker_lines(os.path.join(HERE, "hostile_names.c"))
WHERE = "%s < named_main (hostile_names.c:%d)" % (PARK, LINES["named"])

# Bytes no output may hold: C0 controls but the newline ending each line,
# DEL.  (C1 controls and invalid UTF-8 fail the strict decoding.)
RAW_CONTROL = re.compile(rb"[\x00-\x09\x0b-\x1f\x7f]")


def clean(data):
    """DATA (bytes of stdout or stderr) as text: strict UTF-8, no control
    byte but newlines, no C1 control."""
    assert not RAW_CONTROL.search(data), data
    text = data.decode("utf-8", "strict")
    assert not re.search("[\x80-\x9f]", text), text
    return text


def run(cmd, rc=0):
    p = subprocess.run([str(c) for c in cmd], capture_output=True, timeout=60)
    out, err = clean(p.stdout), clean(p.stderr)
    assert p.returncode == rc, (cmd, p.returncode, err)
    return out, err


def run_json(cmd):
    out, _ = run(cmd)
    return json.loads(out)


@pytest.fixture(scope="module")
def hostile():
    f = Running(HOSTILE, [])
    yield f
    f.stop()


def test_gt_stacks_text(hostile):
    out, _ = run([GT_STACKS, "--all", hostile.pid])
    assert out.startswith("process %d (%s): 8 green threads" % (hostile.pid, PROC))
    shown = set(re.findall(r'^thread \d+ "(.*)"  parked', out, re.M))
    assert shown == NAMES | {""}
    for name in NAMES:
        line = next(l for l in out.splitlines() if '"%s"' % name in l)
        assert line.endswith("at " + WHERE), line
    assert "  #5   %s\n" % PARK in out


def test_gt_stacks_json(hostile):
    doc = run_json([GT_STACKS, "--json", "--all", hostile.pid])
    assert doc["target"] == "process %d (%s)" % (hostile.pid, PROC)
    threads = doc["threads_list"]
    assert {t["name"] for t in threads} == NAMES | {""}
    named = [t for t in threads if t["name"]]
    assert all(any(f["function"] == "hostile_park" and f["file"].endswith(FILE)
                   and f["line"] == 7003 for f in t["frames"]) for t in named)
    where = [l["where"] for l in doc["locations"] if l["where"].startswith("hostile_park")]
    assert where == [WHERE]
    groups = run_json([GT_STACKS, "--json", hostile.pid])["groups"]
    assert {g["representative"]["name"] for g in groups} <= NAMES | {""}


def test_gt_stacks_filters_and_folded(hostile):
    doc = run_json([GT_STACKS, "--json", "--all", "--name", "caf*", hostile.pid])
    assert [t["name"] for t in doc["threads_list"]] == ["caf\u00e9"]
    out, _ = run([GT_STACKS, "--folded", hostile.pid])
    assert ";hostile_park;" in out


def test_gt_waste_classes_by_name(hostile):
    doc = run_json([GT_WASTE, "--json", "--class-by", "name", hostile.pid])
    assert doc["target"] == "process %d (%s)" % (hostile.pid, PROC)
    assert {c["class"] for c in doc["classes"]} == NAMES | {"-"}
    out, _ = run([GT_WASTE, "--class-by", "name", hostile.pid])
    for name in NAMES:
        assert re.search(r"^  %s +1 " % re.escape(name), out, re.M), (name, out)


def test_gt_top_batch(hostile):
    out, _ = run([GT_TOP, "-b", "-n", "1", "--view", "threads", "-p", hostile.pid])
    assert "process %d (%s)" % (hostile.pid, PROC) in out
    for name in NAMES:
        assert re.search(r"^ +\d+ %s +parked " % re.escape(name), out, re.M), (name, out)
    doc = run_json([GT_TOP, "-b", "-n", "1", "--view", "threads", "--format", "json",
                    "-p", hostile.pid])
    assert doc["target"] == "process %d (%s)" % (hostile.pid, PROC)
    assert {t["name"] for t in doc["threads_list"]} == NAMES | {""}
    assert [l["where"] for l in doc["locations"] if l["where"].startswith("hostile_park")] \
        == [WHERE]
    doc = run_json([GT_TOP, "-b", "-n", "1", "--view", "stacks", "--class-by", "name",
                    "--format", "json", "-p", hostile.pid])
    assert {c["class"] for c in doc["stacks_report"]["classes"]} == NAMES | {"-"}
    # The text's class column holds 18 characters: cut there, never
    # inside a character.
    out, _ = run([GT_TOP, "-b", "-n", "1", "--view", "stacks", "--class-by", "name",
                  "-p", hostile.pid])
    assert re.search(r"^  caf\u00e9 {14} +1 ", out, re.M), out
    assert re.search(r"^  abcdefghijklmnopq\u00e9 +1 ", out, re.M), out


def prometheus_value(label):
    """A Prometheus label value as written: backslash, quote and newline
    escaped."""
    return label.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def test_gt_top_prometheus_label(hostile):
    out, _ = run([GT_TOP, "-b", "-n", "1", "--format", "prometheus", "-p", hostile.pid])
    label = prometheus_value(WHERE)
    series = [l for l in out.splitlines() if l.startswith("gt_location_waiting_threads{")]
    assert 'gt_location_waiting_threads{location="%s"} %d' % (label, len(NAMES)) in series, series


def test_error_line_names_the_process_safely(hostile):
    _, err = run([GT_STACKS, "--thread", "999999", hostile.pid], rc=1)
    assert err == "gt-stacks: process %d (%s) has no thread 999999\n" % (hostile.pid, PROC)
    _, err = run([GT_STACKS, "\x1b[2J\n7"], rc=2)
    assert len(err.splitlines()) >= 1 and "'\\x1b[2J\\x0a7' is not a process id" in err
    _, err = run([GT_TOP, "-b", "-p", "\x1b[2J\n7"], rc=2)
    assert err == "gt-top: '\\x1b[2J\\x0a7' is not a process id or a list of them " \
        "(PID1,PID2,...) (gt-top --help for usage)\n"
    _, err = run([GT_TOP, "-b", "\x1b[2J\n7"], rc=2)
    assert err == "gt-top: '\\x1b[2J\\x0a7' is not a process id or a list of them " \
        "(PID1,PID2,...) (gt-top --help for usage)\n"
    _, err = run([GT_TOP, "-p", "1", "\x1b[2J\n7"], rc=2)
    assert "one PID only ('\\x1b[2J\\x0a7' is extra)" in err
    # gt-stacks reads several processes: the second is checked as the first.
    _, err = run([GT_STACKS, "-p", "1", "\x1b[2J\n7"], rc=2)
    assert "'\\x1b[2J\\x0a7' is not a process id" in err
    _, err = run([GT_STACKS, "-p", "1,\x1b[2J\n7"], rc=2)
    assert "'\\x1b[2J\\x0a7' is not a process id" in err


def test_core_process_name_and_names(tmp_path):
    f = Running(HOSTILE, [], cwd=str(tmp_path))
    f.send("crash")
    f.p.wait(timeout=30)
    f.stop()
    core = kernel_core(tmp_path)
    doc = run_json([GT_STACKS, "--json", "--all", "--core", core, "--exe", HOSTILE])
    assert doc["target"] == "core %s (process %d, %s)" % (core, f.pid, PROC)
    assert {t["name"] for t in doc["threads_list"]} == NAMES | {""}
    out, _ = run([GT_WASTE, "--class-by", "name", "--core", core, "--exe", HOSTILE])
    assert out.startswith("core %s (process %d, %s): 8 green threads" % (core, f.pid, PROC))
    out, _ = run([GT_TOP, "-b", "--view", "threads", "--core", core, "--exe", HOSTILE])
    for name in NAMES:
        assert re.search(r"^ +\d+ %s +parked " % re.escape(name), out, re.M), (name, out)
