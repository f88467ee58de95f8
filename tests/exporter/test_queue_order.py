"""A scrape's oldest wait per location comes from the record at the head
of the location's queue (one read), not from every thread record: the
runtime keeps each queue oldest first.  Against tests/exporter/
queue_order.c, whose threads park at one location in an order that is
not their slots' (so the first slot is not the oldest waiter), and that
knows which one is oldest after each wake.

No clock is compared with a tolerance: at rest the scheduler waits in
the poller, so gt_idle_seconds_total and every oldest wait of one
exposition are both "now" minus a fixed time.  Between two expositions
of the same fixture (the default scrape's and a full read's, gt-top's)
each oldest wait must then move by exactly as many nanoseconds as the
idle time: true only if both name the same oldest thread."""
import os
import subprocess
import time
from decimal import Decimal

from conftest import BUILD, EXPORTER, GT_TOP, parse, promtool_check_metrics, series
from fixture_lines import marker_lines

QUEUE_ORDER = os.path.join(BUILD, "tests", "exporter", "queue_order")
Q_LINES = marker_lines(os.path.join(os.path.dirname(os.path.abspath(__file__)), "queue_order.c"))
N = 7


def queue_site():
    return "wait_queue (queue_order.c:%d)*" % Q_LINES["queue"]


class QueueOrder:
    def __init__(self, n):
        self.p = subprocess.Popen([QUEUE_ORDER, str(n)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        parked = self.p.stdout.readline().split()
        assert parked[0] == "parked", parked
        self.order = [int(x) for x in parked[1:]]
        assert self.p.stdout.readline().startswith("ready ")
        self.pid = self.p.pid

    def wake(self):
        self.p.stdin.write("wake\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        assert line.startswith("woke "), line
        return int(line.split()[1])

    def stop(self):
        self.p.stdin.close()
        assert self.p.wait(timeout=10) == 0


def ns(value):
    """A value printed in seconds with 9 decimals, as integer ns."""
    return int(Decimal(value) * 10**9)


def one(samples, name, **want):
    found = series(samples, name, **want)
    assert len(found) == 1, (name, want, found)
    return found[0][1]


def exposition(args):
    r = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def check_oldest(q, waiting):
    """The default scrape's oldest waits (queue heads) against gt-top's
    (every record), through the idle time of each."""
    mine_text = exposition([EXPORTER, "--once", "-p", str(q.pid)])
    promtool_check_metrics(mine_text)
    mine = parse(mine_text)
    top = parse(exposition([GT_TOP, "-b", "-d", "0.05", "--format", "prometheus",
                            str(q.pid)]))
    pid = str(q.pid)
    assert one(mine, "gt_location_waiting_threads", pid=pid, location=queue_site()) == \
        str(waiting)
    assert one(top, "gt_location_waiting_threads", location=queue_site()) == str(waiting)
    moved = ns(one(top, "gt_idle_seconds_total")) - ns(one(mine, "gt_idle_seconds_total",
                                                         pid=pid))
    assert moved > 0
    locations = [l["location"] for l, _ in series(top, "gt_location_oldest_wait_seconds")]
    assert len(locations) >= 2
    for where in locations:
        theirs = ns(one(top, "gt_location_oldest_wait_seconds", location=where))
        ours = ns(one(mine, "gt_location_oldest_wait_seconds", pid=pid, location=where))
        if theirs == 0:
            assert ours == 0, where    # nobody waits there
        else:
            assert theirs - ours == moved, (where, theirs, ours, moved)


def test_oldest_wait_is_the_queue_head():
    q = QueueOrder(N)
    try:
        # The threads park in an order that is not the slots'.
        assert sorted(q.order) == list(range(N)) and q.order != sorted(q.order)
        check_oldest(q, N)
        # The oldest leaves: the next parked is the oldest now, whose
        # wait began after the first's.
        assert q.wake() == q.order[0]
        check_oldest(q, N - 1)
        assert q.wake() == q.order[1]
        check_oldest(q, N - 2)
    finally:
        q.stop()


def test_full_read_apart_from_the_scrapes(exporter):
    """The series only every record gives (stack bytes, blocked threads,
    deadlocks) come from a full read in the first scrape, then one every
    --full-every seconds after a response; the queue and the thread
    counts from each scrape's own reads."""
    q = QueueOrder(N)
    try:
        often = exporter("--full-every", "0.1", "-p", q.pid)
        rarely = exporter("--full-every", "600", "-p", q.pid)
        never = exporter("--full-every", "0", "-p", q.pid)
        pid = str(q.pid)
        first = {}
        for e in (often, rarely):
            s = parse(e.metrics())
            first[e] = int(one(s, "gt_stack_reserved_bytes", pid=pid))
            assert int(one(s, "gt_stack_live_bytes", pid=pid)) > 0
            assert one(s, "gt_deadlock_cycles", pid=pid) == "0"
            assert one(s, "gt_location_blocked_threads", pid=pid, location=queue_site()) == "0"
        assert first[often] == first[rarely]
        s = parse(never.metrics())
        for name in ("gt_stack_reserved_bytes", "gt_stack_live_bytes", "gt_deadlock_cycles",
                     "gt_deadlocked_threads", "gt_location_blocked_threads"):
            assert not series(s, name), name
        assert one(s, "gt_location_waiting_threads", pid=pid, location=queue_site()) == str(N)
        assert float(one(s, "gt_location_oldest_wait_seconds", pid=pid,
                         location=queue_site())) > 0

        # A thread leaves (its stack goes back): each scrape counts the
        # queue and the threads; the stack bytes follow at the next full
        # read, which is minutes away for one exporter.
        q.wake()
        deadline = time.monotonic() + 20
        while True:
            s = parse(often.metrics())
            assert one(s, "gt_location_waiting_threads", pid=pid, location=queue_site()) == \
                str(N - 1)
            assert one(s, "gt_threads", pid=pid, state="parked") == str(N)
            if int(one(s, "gt_stack_reserved_bytes", pid=pid)) < first[often]:
                break
            assert time.monotonic() < deadline, s
            time.sleep(0.05)
        s = parse(rarely.metrics())
        assert one(s, "gt_location_waiting_threads", pid=pid, location=queue_site()) == \
            str(N - 1)
        assert int(one(s, "gt_stack_reserved_bytes", pid=pid)) == first[rarely]
    finally:
        q.stop()
