"""gt-exporter's /metrics against fixtures that know their queues: two
processes with different idle queues, every series labelled by its pid,
promtool on every exposition; --discover following processes as they
come and go; a target that exits; the same numbers as gt-top's."""
import os
import re
import socket
import subprocess
import time

from conftest import (BUILD, EXPORTER, GT_TOP, Pipeline, hold_site, idle_site, le_values, parse,
                      promtool_check_metrics, series, stage_a_site)


def value(samples, name, **want):
    found = series(samples, name, **want)
    assert len(found) == 1, (name, want, found)
    return found[0][1]


def check_target(samples, p):
    pid = str(p.pid)
    assert value(samples, "gt_up", pid=pid) == "1"
    assert series(samples, "gt_up", pid=pid)[0][0]["exe"] == "pipeline"
    # Threads by state add up to the fixture's threads.
    states = series(samples, "gt_threads", pid=pid)
    assert sorted(l["state"] for l, _ in states) == ["exited", "parked", "runnable", "running"]
    assert sum(int(v) for _, v in states) == p.threads
    # The queues the fixture holds for ever, exactly, per pid.
    assert value(samples, "gt_location_waiting_threads", pid=pid,
                 location=idle_site() + "*") == str(p.nidle)
    assert value(samples, "gt_location_waiting_threads", pid=pid,
                 location=hold_site() + "*") == "1"
    shared = series(samples, "gt_location_waiting_threads", pid=pid,
                    location="wait_forever (*")
    assert sorted(int(v) for _, v in shared) == ([p.nshared] * 2 if p.nshared else [])


def test_two_targets_each_with_its_own_numbers(two, exporter):
    a, b = two
    e = exporter("-p", "%d,%d" % (a.pid, b.pid))
    text = e.metrics()
    promtool_check_metrics(text)
    samples = parse(text)
    check_target(samples, a)
    check_target(samples, b)
    # Every series but the exporter's own belongs to one of the two.
    for name, labels, _ in samples:
        if not name.startswith("gt_exporter_"):
            assert labels.get("pid") in (str(a.pid), str(b.pid)), (name, labels)
            assert labels.get("exe") == "pipeline", (name, labels)
    assert value(samples, "gt_exporter_targets") == "2"
    # B's loopers complete waits at stage_a: a real histogram, every le
    # of the runtime's buckets, cumulative, _count the +Inf bucket.
    buckets = series(samples, "gt_location_wait_seconds_bucket", pid=str(b.pid),
                     location=stage_a_site() + "*")
    assert [l["le"] for l, _ in buckets] == le_values()
    counts = [int(v) for _, v in buckets]
    assert counts == sorted(counts) and counts[-1] > 0
    assert value(samples, "gt_location_wait_seconds_count", pid=str(b.pid),
                 location=stage_a_site() + "*") == str(counts[-1])
    # A's idlers never completed a wait: no histogram at their location.
    assert not series(samples, "gt_location_wait_seconds_bucket", pid=str(a.pid),
                      location=idle_site() + "*")
    # The sampler stays between scrapes: the counters go on from where
    # they were.
    again = parse(e.metrics())
    before = int(value(samples, "gt_switches_total", pid=str(b.pid)))
    assert int(value(again, "gt_switches_total", pid=str(b.pid))) > before
    check_target(again, a)


def test_discover_follows_processes(two, exporter):
    a, b = two
    plain = subprocess.Popen(["sleep", "60"])
    try:
        # A reader maps the programs it reads (their symbols): it is no
        # gt program for that.
        reader = exporter("-p", a.pid)
        reader.metrics()
        with open("/proc/%d/maps" % reader.p.pid) as f:
            assert "/pipeline\n" in f.read()
        e = exporter("--discover", "--rescan", "0.2")
        text = e.metrics()
        promtool_check_metrics(text)
        samples = parse(text)
        check_target(samples, a)
        check_target(samples, b)
        assert not series(samples, "gt_up", pid=str(plain.pid))
        assert not series(samples, "gt_up", pid=str(reader.p.pid))
        # A process started later is found (each scrape rescans) ...
        c = Pipeline(0, 2)
        try:
            samples = parse(e.metrics())
            check_target(samples, c)
        finally:
            c.stop()
        # ... and once it is gone, so are its series.
        samples = parse(e.metrics())
        assert not [s for s in samples if s[1].get("pid") == str(c.pid)]
        check_target(samples, a)
        assert "found process %d (pipeline)" % c.pid in e.stderr()
    finally:
        plain.kill()
        plain.wait()


def test_target_that_exits_goes_down(two, exporter):
    a, b = two
    e = exporter("-p", a.pid, "-p", b.pid)
    check_target(parse(e.metrics()), b)
    b.stop()
    text = e.metrics()
    promtool_check_metrics(text)
    samples = parse(text)
    assert value(samples, "gt_up", pid=str(b.pid)) == "0"
    assert [n for n, l, _ in samples if l.get("pid") == str(b.pid)] == ["gt_up"]
    check_target(samples, a)
    assert "process %d (pipeline) exited" % b.pid in e.stderr()
    # Still serving.
    check_target(parse(e.metrics()), a)


VOLATILE = {"gt_idle_seconds_total", "gt_location_oldest_wait_seconds",
            "gt_resident_memory_bytes"}


def family_lines(text):
    """{family: [lines]} of an exposition, pid and exe labels dropped,
    the values of families that move with the clock masked."""
    out, family = {}, None
    for line in text.splitlines():
        m = re.match(r"# (?:HELP|TYPE) (\S+)", line)
        if m:
            family = m.group(1)
        else:
            line = re.sub(r'pid="\d+",exe="[^"]*",?', "", line).replace("{}", "")
            if family in VOLATILE:
                line = line.rsplit(" ", 1)[0] + " X"
        out.setdefault(family, []).append(line)
    return out


def test_same_numbers_as_gt_top():
    """A fixture where nothing moves: the exporter and gt-top print one
    writer's bytes (only the pid and exe labels added), whether the
    exporter reads every record (--full) or, by default, the header, the
    locations and their queues' heads, with the series only the records
    give from its first full read: the runtime's tallies of threads by
    state are the counts gt-top makes of the records."""
    p = Pipeline(0, 4, 2)
    try:
        mine = {}
        for mode in ([], ["--full"]):
            r = subprocess.run([EXPORTER, "--once", "-p", str(p.pid)] + mode,
                               capture_output=True, text=True, timeout=60)
            assert r.returncode == 0, r.stderr
            mine[tuple(mode)] = family_lines(r.stdout)
        g = subprocess.run([GT_TOP, "-b", "-d", "0.05", "--format", "prometheus", str(p.pid)],
                           capture_output=True, text=True, timeout=60)
        assert g.returncode == 0, g.stderr
    finally:
        p.stop()
    top = family_lines(g.stdout)
    # HELP, TYPE and the series
    assert len(top["gt_threads"]) == 2 + 4 and len(top["gt_location_waiting_threads"]) >= 2 + 4
    for m in mine.values():
        # gt-top's batch mode measures the stacks once; --once does not.
        assert set(top) - set(m) == {"gt_stack_resident_bytes", "gt_stack_dead_bytes"}
        assert set(m) - set(top) == {"gt_up", "gt_exporter_targets",
                                     "gt_exporter_scrape_cpu_seconds",
                                     "gt_exporter_scrape_duration_seconds"}
        for family in top:
            if family in m:
                assert m[family] == top[family], family


RECORD_FAMILIES = {"gt_stack_reserved_bytes", "gt_stack_live_bytes",
                   "gt_location_blocked_threads", "gt_deadlock_cycles",
                   "gt_deadlocked_threads"}


def test_default_reads_no_thread_record_at_a_scrape(two, exporter):
    """By default a scrape reads no thread record: the queues from the
    location records, the states from the runtime's tallies: on fixtures
    at rest the same numbers; the series only the records give come from
    the first scrape's full read (--full-every 0: never, left out rather
    than printed as 0).  --fast is the default's old name."""
    a, b = two
    for args in ([], ["--fast"]):
        e = exporter(*(args + ["-p", "%d,%d" % (a.pid, b.pid)]))
        text = e.metrics()
        promtool_check_metrics(text)
        samples = parse(text)
        check_target(samples, a)
        assert value(samples, "gt_location_waiting_threads", pid=str(b.pid),
                     location=idle_site() + "*") == str(b.nidle)
        assert value(samples, "gt_up", pid=str(b.pid)) == "1"
        names = {n for n, _, _ in samples}
        assert RECORD_FAMILIES <= names
        assert "gt_location_oldest_wait_seconds" in names
        # The running thread comes from the header: nothing runs here.
        assert value(samples, "gt_hog", pid=str(a.pid)) == "0"
        assert value(samples, "gt_deadlock_cycles", pid=str(a.pid)) == "0"
        check_target(parse(e.metrics()), b)
    never = parse(exporter("--full-every", "0", "-p", a.pid).metrics())
    check_target(never, a)
    assert not {n for n, _, _ in never} & RECORD_FAMILIES
    full = parse(exporter("--full", "-p", a.pid).metrics())
    check_target(full, a)
    assert RECORD_FAMILIES <= {n for n, _, _ in full}


KNOT = os.path.join(BUILD, "examples", "knot", "knot")


class Knot:
    """examples/knot on a free port, serving an empty root: its own two
    threads (the listener, the signal waiter), and one more per
    connection (the server's design), parked waiting for a request."""

    def __init__(self, root):
        self.p = subprocess.Popen([KNOT, "-p", "0", "-r", root, "-t", "60"],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        line = self.p.stdout.readline()
        m = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert m, line
        self.port, self.pid, self.conns = int(m.group(1)), self.p.pid, []

    def connect(self, n):
        self.conns += [socket.create_connection(("127.0.0.1", self.port)) for _ in range(n)]

    def stop(self):
        for c in self.conns:
            c.close()
        self.p.terminate()
        self.p.wait(timeout=20)


def test_two_knot_servers(exporter, tmp_path):
    """Two Knot servers, 3 idle connections to one and 5 to the other:
    each pid's threads and the queue its connections wait in."""
    a, b = Knot(str(tmp_path)), Knot(str(tmp_path))
    try:
        e = exporter("-p", "%d,%d" % (a.pid, b.pid))
        base = parse(e.metrics())
        for k in (a, b):
            assert value(base, "gt_up", pid=str(k.pid)) == "1"
            assert series(base, "gt_up", pid=str(k.pid))[0][0]["exe"] == "knot"
        a.connect(3)
        b.connect(5)
        deadline = time.monotonic() + 30
        while True:
            text = e.metrics()
            samples = parse(text)
            totals = {k.pid: sum(int(v) for _, v in series(samples, "gt_threads", pid=str(k.pid)))
                      for k in (a, b)}
            if totals == {a.pid: 2 + 3, b.pid: 2 + 5}:
                break
            assert time.monotonic() < deadline, totals
            time.sleep(0.1)
        promtool_check_metrics(text)
        for k, n in ((a, 3), (b, 5)):
            before = {l["location"]: int(v) for l, v in
                      series(base, "gt_location_waiting_threads", pid=str(k.pid))}
            now = {l["location"]: int(v) for l, v in
                   series(samples, "gt_location_waiting_threads", pid=str(k.pid))}
            grown = {loc: c - before.get(loc, 0) for loc, c in now.items()
                     if c != before.get(loc, 0)}
            # The connections wait at one place, all of them.
            assert list(grown.values()) == [n], grown
    finally:
        a.stop()
        b.stop()
