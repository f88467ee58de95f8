"""The command-line conventions gt-stacks, gt-waste and gt-core share
with eu-stack and the GNU tools: -h, -? and --help print the help (exit
status documented in it) and exit 0; -V and --version print gt's version
and the registry ABI the tool reads; the target is a PID alone or after
-p, as gt-top takes it.  The versions are checked against gt.h, registry.h
and gt.pc, the facts they come from."""
import json
import os
import re

import pytest

from conftest import BIN, BUILD, GT_STACKS, GT_WASTE, HERE, Fixture, run

GT_CORE = os.path.join(BIN, "gt-core")
ROOT = os.path.join(HERE, "..", "..")
TOOLS = [GT_STACKS, GT_WASTE, GT_CORE]
READERS = [GT_STACKS, GT_WASTE]


def header_define(path, name):
    with open(os.path.join(ROOT, path)) as f:
        m = re.search(r"^#define %s (\d+)u?$" % name, f.read(), re.M)
    assert m, (path, name)
    return int(m.group(1))


def gt_version():
    """gt.h's version, and gt.pc's (the build's), which must be the same."""
    v = "%d.%d" % (header_define("runtime/include/gt.h", "GT_VERSION_MAJOR"),
                   header_define("runtime/include/gt.h", "GT_VERSION_MINOR"))
    with open(os.path.join(BUILD, "lib", "pkgconfig", "gt.pc")) as f:
        pc = re.search(r"^Version: (\S+)$", f.read(), re.M).group(1)
    assert pc == v
    return v


@pytest.mark.parametrize("tool", TOOLS)
def test_help_three_ways(tool):
    rc, out, err = run(tool, "--help")
    assert rc == 0 and err == ""
    assert out.startswith("Usage: %s " % os.path.basename(tool))
    for flag in ("-h", "-?"):
        rc, same, _ = run(tool, flag)
        assert rc == 0 and same == out, flag
    # A help before a bad option still answers: argp reads left to right.
    rc, same, _ = run(tool, "-h", "--bogus")
    assert rc == 0 and same == out


@pytest.mark.parametrize("tool", TOOLS)
def test_help_gives_the_exit_status(tool):
    out = run(tool, "--help")[1]
    text = " ".join(out.split())
    m = re.search(r"Exit status: (.*)$", text)
    assert m, out
    status = m.group(1)
    for code, what in (("0", ""), ("1", "the target could not be"), ("2", "bad command line")):
        assert re.search(r"\b%s %s" % (code, what), status), (code, status)
    assert "see the manual" not in out


@pytest.mark.parametrize("tool", TOOLS)
def test_version(tool):
    for flag in ("--version", "-V"):
        rc, out, err = run(tool, flag)
        assert rc == 0 and err == "", flag
        assert out.splitlines() == [
            "%s (gt) %s" % (os.path.basename(tool), gt_version()),
            "registry ABI %d" % header_define("runtime/include/gt/registry.h",
                                              "GT_REGISTRY_ABI")]


@pytest.mark.parametrize("tool", TOOLS)
def test_help_lists_version_and_pid(tool):
    out = run(tool, "--help")[1]
    assert re.search(r"^\s+-V, --version\b", out, re.M)
    if tool in READERS:
        assert re.search(r"^\s+-p, --pid=PID\b", out, re.M)


@pytest.fixture(scope="module")
def known():
    f = Fixture()
    yield f
    f.stop()


def stacks_summary(doc):
    return [(g["count"], g["thread_ids"], [fr["function"] for fr in g["frames"]])
            for g in doc["groups"]]


def waste_summary(doc):
    return (doc["threads"], doc["totals"]["reserved"],
            [(c["class"], c["threads"]) for c in doc["classes"]])


@pytest.mark.parametrize("tool,summary", [(GT_STACKS, stacks_summary),
                                          (GT_WASTE, waste_summary)])
def test_pid_alone_or_after_p(known, tool, summary):
    docs = []
    for args in ([known.pid], ["-p", known.pid], ["--pid", known.pid],
                 ["--pid=%d" % known.pid]):
        rc, out, err = run(tool, "--json", *args)
        assert rc == 0, (args, err)
        doc = json.loads(out)
        assert doc["pid"] == known.pid
        docs.append(summary(doc))
    # Every thread of the fixture is parked: each form reads the same.
    assert all(d == docs[0] for d in docs)
    if tool == GT_STACKS:
        # Its alpha, beta, recur and diver threads and its main thread
        # ("depth" is how deep recur goes).
        c = known.counts
        assert sum(g[0] for g in docs[0]) == \
            c["alpha"] + c["beta"] + c["recur"] + c["diver"] + 1


@pytest.mark.parametrize("tool", READERS)
def test_pid_given_twice_or_with_a_core(tool):
    # gt-stacks reads several processes (test_stacks_multi.py).
    twice = [] if tool == GT_STACKS else [
        (["-p", "1", "2"], "one PID only ('2' is extra)"),
        (["1", "-p", "2"], "one PID only"),
        (["-p", "1", "-p", "1"], "one PID only")]
    for args, says in twice + [
                       (["-p", "1", "--core", "c"], "not both"),
                       (["-p", "x"], "'x' is not a process id"),
                       (["-p"], "requires an argument"),
                       (["--exe", "e", "-p", "1"], "--exe EXE goes with a core")]:
        rc, out, err = run(tool, *args)
        assert rc == 2 and out == "", args
        assert says in err, (args, err)


@pytest.mark.parametrize("tool", READERS)
def test_no_such_process_after_p(tool):
    rc, out, err = run(tool, "-p", "999999999")
    assert rc == 1 and out == ""
    assert "999999999" in err and len(err.strip().splitlines()) == 1


def help_pairs(tool):
    """(short, long, takes an argument) of each option --help lists with
    both forms."""
    out = run(tool, "--help")[1]
    return [(m.group(1), m.group(2), bool(m.group(3)))
            for m in re.finditer(r"^\s+(-\w), (--[\w-]+)(=\w+)?", out, re.M)]


def stacks_view(tool, out):
    """What a gt-stacks or gt-waste output says that does not move while
    the fixture's threads stay parked: the JSON without its clocks and
    ages, or the text (folded stacks) as is."""
    if not out.startswith("{"):
        return out
    doc = json.loads(out)
    if tool == GT_STACKS:
        if "groups" in doc:
            return ("groups", doc["shown"],
                    [(g["count"], g["thread_ids"], [f["function"] for f in g["frames"]])
                     for g in doc["groups"]])
        return ("threads", doc["shown"],
                [(t["id"], t["state"], [f["function"] for f in t["frames"]])
                 for t in doc["threads_list"]])
    return (doc["selected"], [(c["class"], c["threads"]) for c in doc["classes"]],
            [(f["function"], f["bytes"]) for f in doc["functions"]])


# A value for each option that takes one, chosen so that the option
# changes the output (the fixture's names, ids and classes).
VALUES = {GT_STACKS: {"--thread": "2", "--state": "runnable", "--location": "alpha",
                      "--name": "be*", "--min-wait": "1h", "--limit": "2"},
          GT_WASTE: {"--class": "alpha_main", "--limit": "2"}}
FULL = {GT_STACKS: ["--json"], GT_WASTE: ["--json"]}


@pytest.mark.parametrize("tool", READERS)
def test_short_and_long_options_agree(known, tool):
    pairs = [p for p in help_pairs(tool) if p[1] not in
             ("--core", "--exe", "--pid", "--help", "--version")]
    assert {"--json", "--folded", "--limit"} <= {p[1] for p in pairs}, pairs
    plain = stacks_view(tool, run(tool, "--json", known.pid)[1])
    for short, long_, takes in pairs:
        value = [VALUES[tool][long_]] if takes else []
        # --json with every option but --folded and --json itself, whose
        # own output is compared.
        extra = [] if long_ in ("--json", "--folded") else FULL[tool]
        outs = []
        for form in ([short] + value, [long_] + value,
                     ["%s=%s" % (long_, value[0])] if takes else [long_]):
            rc, out, err = run(tool, *(extra + form + [known.pid]))
            assert rc == 0, (form, err)
            outs.append(stacks_view(tool, out))
        assert outs[0] == outs[1] == outs[2], (short, long_)
        if long_ not in ("--json",):
            # The option does something: the output is not the plain one.
            assert outs[0] != plain, long_


@pytest.mark.parametrize("tool", TOOLS)
def test_usage_is_short_help(tool):
    rc, out, err = run(tool, "--usage")
    assert rc == 0 and err == ""
    assert out.startswith("Usage: %s " % os.path.basename(tool))
    assert "[-V" in out or "--version" in out


def test_gt_core_long_options(known, tmp_path):
    path = tmp_path / "c"
    path.write_text("old")
    rc, out, err = run(GT_CORE, "--output", path, "--force", "--quiet", "--compact",
                       known.pid)
    assert rc == 0 and out == "", err
    with open(path, "rb") as f:
        assert f.read(4) == b"\x7fELF"
    rc, out, err = run(GT_CORE, "--output=%s" % (tmp_path / "d"), "--no-stop", known.pid)
    assert rc == 0 and "not stopped: best effort" in out, err
