"""gt-waste against known_stacks.c: totals, classes, and the functions
holding live stack, against the fixture's known frame sizes."""
from conftest import (ALPHA_BUF, BETA_BUF, DIVE_BUF, GT_WASTE, RECUR_BUF, SLOP,
                      Running, exe, run, run_json)

NCONN = 1100        # connection threads of waits.c
DEEP_BYTES = 16384  # what the first of them wrote (waits.c)


def test_report_json(known):
    # Classes by entry function, the default.
    d = run_json(GT_WASTE, known.pid)
    assert d["class_by"] == "entry"
    assert {c["class"]: c["threads"] for c in d["classes"]} == {
        "alpha_main": 3, "beta_main": 2, "recur_main": 2, "diver_main": 2,
        "main_thread": 1}
    d = run_json(GT_WASTE, "--limit", 0, "--class-by", "name", known.pid)
    assert d["threads"] == 10
    page = d["page_size"]
    classes = {c["class"]: c for c in d["classes"]}
    assert {k: c["threads"] for k, c in classes.items()} == {
        "alpha": 3, "beta": 2, "recur": 2, "diver": 2, "-": 1}
    tot = d["totals"]
    assert tot["reserved"] == 10 * 64 * 1024
    assert tot["touched"] == tot["live"] + tot["dead"]
    assert tot["reserved"] == tot["touched"] + tot["unused"]
    assert tot["live"] <= tot["touched"] <= tot["resident"] <= tot["reserved"]
    # The divers wrote DIVE_BUF bytes once and parked shallow: that much is
    # dead, and its whole pages are resident and could be given back.
    diver = classes["diver"]
    assert diver["touched"]["p50"] >= DIVE_BUF
    assert diver["live"]["max"] < 1024
    assert diver["dead_resident"] >= 2 * (DIVE_BUF - 2 * page)
    assert diver["suggested_stack_size"] % page == 0
    assert diver["suggested_stack_size"] >= diver["touched"]["max"]
    assert diver["saves"] == 2 * (64 * 1024 - diver["suggested_stack_size"])
    alpha = classes["alpha"]
    assert ALPHA_BUF < alpha["live"]["p50"] < 4096
    fn = {f["function"]: f for f in d["functions"]}
    # Live bytes attributed to the frames that hold them.
    a = fn["alpha_leaf"]
    assert (a["frames"], a["threads"]) == (3, 3)
    assert ALPHA_BUF <= a["bytes_per_frame"] <= ALPHA_BUF + SLOP
    assert a["bytes"] == 3 * a["bytes_per_frame"]
    assert a["location"].startswith("alpha_leaf (known_stacks.c:")
    b = fn["beta_wait"]
    assert (b["frames"], b["threads"]) == (2, 2)
    assert BETA_BUF <= b["bytes_per_frame"] <= BETA_BUF + SLOP
    r = fn["recurse"]
    assert (r["frames"], r["threads"]) == (2 * 6, 2)
    assert RECUR_BUF <= r["bytes_per_frame"] <= RECUR_BUF + SLOP
    # The biggest holder first.
    assert d["functions"][0]["function"] == "beta_wait"
    assert sum(f["bytes"] for f in d["functions"]) == tot["live"]


def test_report_text(known):
    rc, out, err = run(GT_WASTE, known.pid)
    assert rc == 0, err
    assert out.startswith("process %d (known_stacks): 10 green threads\n" % known.pid)
    assert "guard policy: madvise" in out or "guard policy: mprotect" in out
    funcs = out.split("Functions holding the most live stack\n")[1].splitlines()
    assert funcs[0].split()[0] == "beta_wait"
    assert " x 2 threads = " in funcs[0]
    assert "(2 of them wait at beta_wait (known_stacks.c:" in funcs[0]
    assert "\nThread classes (by entry function)\n" in out
    assert any(l.split()[0] == "recurse" and "x 12 frames in 2 threads" in l
               for l in funcs)


def test_class_and_folded(known):
    d = run_json(GT_WASTE, "--class", "recur_main", known.pid)
    assert [c["class"] for c in d["classes"]] == ["recur_main"]
    assert d["selected"] == 2
    d = run_json(GT_WASTE, "--class-by", "name", "--class", "recur", known.pid)
    assert [c["class"] for c in d["classes"]] == ["recur"]
    assert d["selected"] == 2
    rc, out, err = run(GT_WASTE, "--class-by", "colour", known.pid)
    assert rc == 2 and "'colour' is not a way to class threads (entry, name, prefix)" in err
    rc, out, err = run(GT_WASTE, "--class", "nosuch", known.pid)
    assert rc == 1 and "no thread of class 'nosuch'" in err
    rc, out, err = run(GT_WASTE, "--folded", known.pid)
    assert rc == 0, err
    weights = {}
    for line in out.splitlines():
        stack, w = line.rsplit(" ", 1)
        weights[stack] = weights.get(stack, 0) + int(w)
    leaf = [s for s in weights if s.endswith(";alpha_leaf")]
    assert len(leaf) == 1
    assert 3 * ALPHA_BUF <= weights[leaf[0]] <= 3 * (ALPHA_BUF + SLOP)
    total = run_json(GT_WASTE, known.pid)["totals"]["live"]
    assert sum(weights.values()) == total


def page_round(n, page):
    return (n + page - 1) // page * page


def test_connections_form_one_class():
    """1,100 threads named per connection ("conn 127.0.0.1:PORT"), one entry
    function: one class by entry or by prefix, a class each by name; the
    suggestion covers the one connection that went deep."""
    w = Running(exe(name="waits"), [NCONN])
    try:
        d = run_json(GT_WASTE, w.pid)
        page = d["page_size"]
        classes = {c["class"]: c for c in d["classes"]}
        conn = classes["conn_main"]
        assert (conn["threads"], conn["sampled"]) == (NCONN, NCONN)
        assert d["classes"][0]["class"] == "conn_main"
        # One thread in 1,100 wrote DEEP_BYTES: past the 99.9th percentile,
        # and still what the class needs.
        assert conn["touched"]["max"] >= DEEP_BYTES
        assert conn["touched"]["p99"] < page
        for c in d["classes"]:
            top = c["touched"]["max"]
            assert c["suggested_stack_size"] == page_round(top + max(top // 4, page), page)
            assert c["suggested_stack_size"] >= top + page
            assert c["saves"] == c["threads"] * max(0, c["stack_size"] - c["suggested_stack_size"])
        by_prefix = run_json(GT_WASTE, "--class-by", "prefix", w.pid)
        assert {c["class"]: c["threads"] for c in by_prefix["classes"]} == {
            "conn": NCONN, "sleeper": 1, "stage_a": 1, "stage_b": 1, "joiner": 1, "-": 1}
        by_name = run_json(GT_WASTE, "--class-by", "name", w.pid)
        assert len(by_name["classes"]) == NCONN + 5
        assert run_json(GT_WASTE, "--class", "conn_main", w.pid)["selected"] == NCONN
    finally:
        w.stop()
