"""gt-stacks --pprof: a gzipped profile.proto of known_stacks.c's groups,
read back twice: by a protobuf decoder of this file's own (every field
against the fixture's ground truth and gt-stacks' own JSON), and by
`go tool pprof` (Debian's golang-go), whose -raw totals, -top and -traces
must give the same exact counts."""
import gzip
import os
import re
import socket
import subprocess
import time
import urllib.request

import pytest

from conftest import GT_STACKS, Fixture, exe, run, run_json
from test_stacks import APP, expected

COUNTS_A = (3, 2, 2, 5, 2)
COUNTS_B = (5, 1, 3, 5, 4)


def counts(c):
    return dict(zip(("alpha", "beta", "recur", "depth", "diver"), c))


def per_group(c):
    return {name: n for name, (n, _) in expected(counts(c)).items()}


# ---- a protobuf decoder, for profile.proto's fields ----------------------

def varint(b, i):
    v = shift = 0
    while True:
        x = b[i]
        i += 1
        v |= (x & 0x7f) << shift
        shift += 7
        if not x & 0x80:
            return v, i


def fields(b):
    """(field number, value) of each field of message B: an int for a
    varint, bytes for a length-delimited field (the only two wire types a
    profile uses)."""
    i = 0
    while i < len(b):
        key, i = varint(b, i)
        wire = key & 7
        if wire == 0:
            v, i = varint(b, i)
        elif wire == 2:
            n, i = varint(b, i)
            v = b[i:i + n]
            assert len(v) == n
            i += n
        else:
            raise AssertionError("wire type %d" % wire)
        yield key >> 3, v


def packed(b):
    out, i = [], 0
    while i < len(b):
        v, i = varint(b, i)
        out.append(v)
    return out


def decode(data):
    """The profile in DATA (gzip), as plain Python values."""
    raw = gzip.decompress(data)
    p = {"sample_type": [], "sample": [], "mapping": {}, "location": {},
         "function": {}, "strings": [], "comment": [], "time": 0, "default": 0}
    for num, v in fields(raw):
        if num == 1:
            d = dict(fields(v))
            p["sample_type"].append((d.get(1, 0), d.get(2, 0)))
        elif num == 2:
            s = {"locations": [], "values": [], "labels": []}
            for n, x in fields(v):
                if n == 1:
                    s["locations"] += packed(x)
                elif n == 2:
                    s["values"] += packed(x)
                elif n == 3:
                    s["labels"].append(dict(fields(x)))
            p["sample"].append(s)
        elif num == 3:
            d = dict(fields(v))
            p["mapping"][d[1]] = d
        elif num == 4:
            d = {"id": 0, "mapping": 0, "address": 0, "lines": []}
            for n, x in fields(v):
                if n == 1:
                    d["id"] = x
                elif n == 2:
                    d["mapping"] = x
                elif n == 3:
                    d["address"] = x
                elif n == 4:
                    ln = dict(fields(x))
                    d["lines"].append((ln.get(1, 0), ln.get(2, 0)))
            p["location"][d["id"]] = d
        elif num == 5:
            d = dict(fields(v))
            p["function"][d[1]] = d
        elif num == 6:
            p["strings"].append(v.decode())
        elif num == 9:
            p["time"] = v
        elif num == 13:
            p["comment"] += packed(v)
        elif num == 14:
            p["default"] = v
    s = p["strings"]
    assert s[0] == ""
    p["sample_type"] = [(s[t], s[u]) for t, u in p["sample_type"]]
    for smp in p["sample"]:
        labels = {}
        for lb in smp["labels"]:
            key = s[lb[1]]
            assert key not in labels
            # A label holds a string or a number, never both.
            assert (2 in lb) != (3 in lb), lb
            labels[key] = s[lb[2]] if 2 in lb else lb[3]
        smp["labels"] = labels
        # Leaf first: the innermost frame's functions, then outwards.
        smp["functions"] = [s[p["function"][fid][2]]
                            for lid in smp["locations"]
                            for fid, _ in p["location"][lid]["lines"]]
    return p


def build_id(path):
    out = subprocess.run(["readelf", "-n", path], capture_output=True, text=True,
                         check=True).stdout
    return re.search(r"Build ID: ([0-9a-f]+)", out).group(1)


# ---- go tool pprof -------------------------------------------------------

def pprof(tmp_path, *args):
    """go tool pprof ARGS, with every directory Go writes to under TMP_PATH
    and nothing fetched from a network."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = dict(os.environ, HOME=str(home), GOCACHE=str(tmp_path / "gocache"),
               GOPATH=str(tmp_path / "gopath"), GOTOOLCHAIN="local", GOPROXY="off",
               GOFLAGS="", PPROF_TMPDIR=str(tmp_path / "pprof"))
    p = subprocess.run(["go", "tool", "pprof"] + [str(a) for a in args],
                       capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stderr
    return p.stdout


def raw_samples(text):
    """-raw's samples: [(threads, live bytes, {label: value})]."""
    body = text.split("\nSamples:\n", 1)[1].split("\nLocations\n", 1)[0]
    lines = body.splitlines()[1:]          # past "threads/count[dflt] ..."
    out = []
    for line in lines:
        m = re.match(r"^\s+(\d+)\s+(\d+): [\d ]+$", line)
        if m:
            out.append([int(m.group(1)), int(m.group(2)), {}])
        else:
            for k, v in re.findall(r"(\w+):\[([^\]]*)\]", line):
                out[-1][2][k] = v
    return out


def top_cum(text):
    """-top's cum column per function."""
    cum = {}
    for line in text.splitlines():
        m = re.match(r"^\s+\d+\s+\S+%\s+\S+%\s+(\d+)\s+\S+%\s+(\S+)", line)
        if m:
            cum[m.group(2)] = int(m.group(1))
    return cum


def traces(text):
    """-traces' blocks: [(count, labels, functions leaf first)]."""
    out = []
    for block in text.split("-----------+-------------------------------------------------------")[1:]:
        labels, count, funcs = {}, None, []
        for line in block.strip("\n").splitlines():
            m = re.match(r"^\s+(\w+):\s+(.*)$", line)
            if m and count is None:
                labels[m.group(1)] = m.group(2)
                continue
            m = re.match(r"^\s+(\d+)\s+(\S+)", line)
            if m and count is None:
                count = int(m.group(1))
                funcs.append(m.group(2))
            elif line.strip():
                funcs.append(line.split()[0])
        if count is not None:
            out.append((count, labels, funcs))
    return out


# ---- the tests ----------------------------------------------------------

@pytest.fixture(scope="module")
def two():
    a = Fixture(COUNTS_A)
    b = Fixture(COUNTS_B, "shared")
    yield a, b
    a.stop()
    b.stop()


def profile_of(tmp_path, *pids):
    path = tmp_path / "p.pb.gz"
    rc, out, err = run(GT_STACKS, "--pprof", path, *pids)
    assert rc == 0 and out == "" and err == "", err
    data = path.read_bytes()
    assert data[:2] == b"\x1f\x8b"          # gzip's magic
    return data


def test_one_process_against_its_json(two, tmp_path):
    """Every group of gt-stacks --json is one sample: its functions, count,
    live bytes (the members' own, from --all), labels; every location
    maps to the program's file and build-id."""
    a, _ = two
    p = decode(profile_of(tmp_path, a.pid))
    doc = run_json(GT_STACKS, a.pid)
    threads = {t["id"]: t for t in run_json(GT_STACKS, "--all", a.pid)["threads_list"]}
    assert p["sample_type"] == [("threads", "count"), ("live_stack_bytes", "bytes")]
    assert p["strings"][p["default"]] == "threads"
    assert [p["strings"][c] for c in p["comment"]] == ["process %d (known_stacks)" % a.pid]
    assert p["time"] > 0
    assert len(p["sample"]) == len(doc["groups"])
    assert sum(s["values"][0] for s in p["sample"]) == doc["threads"]
    for rank, g in enumerate(doc["groups"], 1):
        s = [s for s in p["sample"] if s["labels"]["group"] == rank]
        assert len(s) == 1, rank
        s = s[0]
        assert s["values"] == [g["count"], sum(threads[i]["stack"]["live"]
                                               for i in g["thread_ids"])]
        assert s["functions"] == [f["function"] for f in g["frames"]]
        loc = {l["index"]: l for l in doc["locations"]}[g["location"]]
        assert s["labels"] == {"pid": a.pid, "exe": "known_stacks", "state": "parked",
                               "wait": loc["kind"], "location": loc["where"],
                               "group": rank}
    # Lines: the fixture's own, innermost first within each location.
    alpha = [s for s in p["sample"] if "alpha_leaf" in s["functions"]][0]
    lines = [(p["strings"][p["function"][fid][2]], line)
             for lid in alpha["locations"] for fid, line in p["location"][lid]["lines"]]
    app = [x for x in lines if x[0] in APP]
    assert app == expected(counts(COUNTS_A))["alpha"][1]
    # Mappings: the program, with its build-id; every location has one.
    maps = p["mapping"]
    # (The program as the process maps it: the real path, not a link the
    # suite's build tree may reach it through.)
    prog = [m for m in maps.values()
            if p["strings"][m[5]] == os.path.realpath(exe("static"))]
    assert len(prog) == 1
    assert p["strings"][prog[0][6]] == build_id(exe("static"))
    assert prog[0][2] < prog[0][3]
    for loc in p["location"].values():
        m = maps[loc["mapping"]]
        assert m[2] <= loc["address"] < m[3]


def test_go_tool_pprof_reads_it(two, tmp_path):
    a, _ = two
    profile_of(tmp_path, a.pid)
    path = tmp_path / "p.pb.gz"
    n = per_group(COUNTS_A)
    total = sum(n.values())
    # -raw: the totals are gt-stacks' count, each sample labelled.
    raw = raw_samples(pprof(tmp_path, "-raw", path))
    assert sum(s[0] for s in raw) == total
    doc = run_json(GT_STACKS, "--all", a.pid)
    assert sum(s[1] for s in raw) == sum(t["stack"]["live"] for t in doc["threads_list"])
    for s in raw:
        assert s[2]["pid"] == str(a.pid) and s[2]["state"] == "parked"
        assert s[2]["location"] and s[2]["exe"] == "known_stacks"
    # -top: each group's functions with exact counts.
    cum = top_cum(pprof(tmp_path, "-top", "-nodecount=1000", path))
    assert cum["gt__switch_to"] == cum["gt__thread_start"] == total
    assert cum["alpha_leaf"] == cum["alpha_main"] == n["alpha"]
    assert cum["beta_wait"] == n["beta"]
    assert cum["recur_main"] == n["recur"]
    assert cum["diver_wait"] == n["diver"]
    assert cum["hold_main"] == 1
    # -traces: one trace per group, its count and labels.
    got = {(t[0], [f for f in t[2] if f in APP][0], t[1]["pid"]) for t in traces(
        pprof(tmp_path, "-traces", path))}
    assert got == {(n["alpha"], "alpha_leaf", str(a.pid)),
                   (n["beta"], "beta_wait", str(a.pid)),
                   (n["recur"], "recurse", str(a.pid)),
                   (n["diver"], "diver_wait", str(a.pid)),
                   (1, "hold_main", str(a.pid))}


def test_two_processes_merge(two, tmp_path):
    """A sample per group per process: go tool pprof's totals are the
    sums, its traces each process's exact count."""
    a, b = two
    data = profile_of(tmp_path, a.pid, b.pid)
    na, nb = per_group(COUNTS_A), per_group(COUNTS_B)
    p = decode(data)
    names = [t["target"] for t in run_json(GT_STACKS, a.pid, b.pid)["targets"]]
    assert [p["strings"][c] for c in p["comment"]] == names
    # Locations are each process's own: its addresses, its mappings.
    locs = {pid: set() for pid in (a.pid, b.pid)}
    for s in p["sample"]:
        locs[s["labels"]["pid"]] |= set(s["locations"])
    assert locs[a.pid] and locs[b.pid] and not locs[a.pid] & locs[b.pid]
    # The shared build's runtime frames map to libgt.so, with its build-id.
    libgt = os.path.join(os.path.dirname(exe("static")), "..", "..", "lib", "libgt.so")
    ids = {p["strings"][m[6]] for m in p["mapping"].values() if 6 in m}
    assert build_id(libgt) in ids and build_id(exe("static")) in ids
    # Merged group ranks: both processes' samples of a group share it.
    ranks = {}
    for s in p["sample"]:
        ranks.setdefault(s["labels"]["group"], set()).add(s["labels"]["pid"])
    assert all(v == {a.pid, b.pid} for v in ranks.values()) and len(ranks) == 5

    path = tmp_path / "p.pb.gz"
    raw = raw_samples(pprof(tmp_path, "-raw", path))
    assert sum(s[0] for s in raw) == sum(na.values()) + sum(nb.values())
    cum = top_cum(pprof(tmp_path, "-top", "-nodecount=1000", path))
    assert cum["alpha_leaf"] == na["alpha"] + nb["alpha"]
    assert cum["diver_wait"] == na["diver"] + nb["diver"]
    got = sorted((t[1]["pid"], [f for f in t[2] if f in APP][0], t[0])
                 for t in traces(pprof(tmp_path, "-traces", path)))
    want = sorted([(str(pid), fn, n[name]) for pid, n in ((a.pid, na), (b.pid, nb))
                   for name, fn in (("alpha", "alpha_leaf"), ("beta", "beta_wait"),
                                    ("recur", "recurse"), ("diver", "diver_wait"),
                                    ("", "hold_main"))])
    assert got == want
    # One process's share, by its label.
    cum = top_cum(pprof(tmp_path, "-top", "-tagfocus=pid=%d" % b.pid, path))
    assert cum["gt__switch_to"] == sum(nb.values())


def test_stdout_and_errors(two, tmp_path):
    a, _ = two
    p = subprocess.run([GT_STACKS, "--pprof", "-", str(a.pid)], capture_output=True,
                       timeout=120)
    assert p.returncode == 0 and p.stderr == b""
    doc = run_json(GT_STACKS, a.pid)
    assert sorted(s["values"][0] for s in decode(p.stdout)["sample"]) == \
        sorted(g["count"] for g in doc["groups"])
    # --limit cuts the printed report, never the profile.
    p = subprocess.run([GT_STACKS, "--pprof", "-", "--limit", "1", str(a.pid)],
                       capture_output=True, timeout=120)
    assert p.returncode == 0 and len(doc["groups"]) > 1
    assert sum(s["values"][0] for s in decode(p.stdout)["sample"]) == doc["threads"]
    # A file that cannot be written: one line, status 1.
    rc, out, err = run(GT_STACKS, "--pprof", tmp_path / "no" / "such" / "dir", a.pid)
    assert rc == 1 and out == "" and len(err.splitlines()) == 1
    assert "cannot write" in err
    for args, says in ((["--json"], "--pprof is an output of its own"),
                       (["--folded"], "--pprof is an output of its own"),
                       (["--all"], "does not go with --all")):
        rc, out, err = run(GT_STACKS, "--pprof", tmp_path / "x", *args, a.pid)
        assert rc == 2 and says in err, (args, err)


def test_core(two, tmp_path):
    """A core gt-core wrote gives the profile of the process it was."""
    a, _ = two
    core = tmp_path / "core"
    subprocess.run([os.path.join(os.path.dirname(GT_STACKS), "gt-core"), "--compact",
                    "--quiet", "-o", str(core), str(a.pid)], check=True, timeout=120)
    path = tmp_path / "c.pb.gz"
    rc, out, err = run(GT_STACKS, "--pprof", path, "--core", core)
    assert rc == 0 and err == "", err
    p = decode(path.read_bytes())
    assert sum(s["values"][0] for s in p["sample"]) == sum(per_group(COUNTS_A).values())
    assert {s["labels"]["pid"] for s in p["sample"]} == {a.pid}
    alpha = [s for s in p["sample"] if "alpha_leaf" in s["functions"]]
    assert [s["values"][0] for s in alpha] == [per_group(COUNTS_A)["alpha"]]


def test_go_tool_pprof_http_views(two, tmp_path):
    """go tool pprof -http serves the profile's graph and flame graph: both
    pages hold the fixture's functions (the graph is drawn by Graphviz's
    dot, which make test installs)."""
    a, _ = two
    profile_of(tmp_path, a.pid)
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = dict(os.environ, HOME=str(home), GOCACHE=str(tmp_path / "gocache"),
               GOPATH=str(tmp_path / "gopath"), GOTOOLCHAIN="local", GOPROXY="off",
               GOFLAGS="", PPROF_TMPDIR=str(tmp_path / "pprof"), BROWSER="true")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(["go", "tool", "pprof", "-no_browser",
                               "-http=127.0.0.1:%d" % port, str(tmp_path / "p.pb.gz")],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    try:
        pages = {}
        end = time.time() + 120
        while time.time() < end and len(pages) < 2:
            for view in ("/ui/", "/ui/flamegraph"):
                try:
                    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, view),
                                                timeout=30) as r:
                        pages[view] = (r.status, r.read().decode("utf-8", "replace"))
                except OSError:
                    time.sleep(0.2)
            assert server.poll() is None, server.stdout.read().decode()
        for view in ("/ui/", "/ui/flamegraph"):
            status, body = pages[view]
            assert status == 200, view
            for fn in ("alpha_leaf", "beta_wait", "diver_wait", "hold_main"):
                assert fn in body, (view, fn)
    finally:
        server.terminate()
        server.wait(timeout=30)
