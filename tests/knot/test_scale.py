"""10,000 concurrent keep-alive connections, served correctly.

The client side is the load generator (C on gt, one green thread per
connection) in its own process: the process fd limit is 20,000, so Knot
and its clients could not share one."""
import os
import re
import subprocess
import time

from conftest import LOADGEN, SMALL


def count_sockets(pid):
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith("socket:"):
                n += 1
        except OSError:
            pass
    return n


def rss_bytes(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"^VmRSS:\s+(\d+) kB", f.read(), re.M).group(1)) * 1024


GT_STACKS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(LOADGEN))),
                         "bin", "gt-stacks")


def test_ten_thousand_keep_alive_connections(fresh_knot, docroot):
    server = fresh_knot("-t", "60")
    before = rss_bytes(server.proc.pid)
    lg = subprocess.Popen([LOADGEN, "-p", str(server.port), "--hold", "10000", "--requests", "3",
                           "--path", "/medium.bin", "--expect",
                           os.path.join(docroot, "medium.bin"), "--hold-seconds", "3"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True)
    first = lg.stdout.readline()
    assert first == "loadgen: hold: 10000 connections open at once, requests done, now idle\n", \
        first + lg.stderr.read()
    # While they idle, Knot holds every one of them (plus its listener).
    assert count_sockets(server.proc.pid) == 10001
    # Idle past the grace period, every connection's thread waits with no
    # stack: each is listed at the same place, and what Knot holds per
    # connection is its thread record and a few small structs, not a stack
    # page (4 KiB each, plus 0.4 KiB, were they still held).
    time.sleep(0.5)
    grown = rss_bytes(server.proc.pid) - before
    stacks = subprocess.run([GT_STACKS, str(server.proc.pid)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    assert stacks.returncode == 0, stacks.stderr
    assert re.search(r"^10000 threads +parked .* at wait_idle \(conn\.c:\d+\)",
                     stacks.stdout, re.M), stacks.stdout[:2000]
    assert grown / 10000 < 2048, grown
    # A graceful stop closes all 10,000 idle connections at once.
    status, log = server.stop()
    assert status == 0
    assert log == ("knot: SIGTERM: stopping: no new connections; closing 10000 idle, "
                   "waiting for 0 busy\nknot: stopped\n")
    rest, err = lg.communicate(timeout=120)
    assert lg.returncode == 0, rest + err
    assert rest == ("loadgen: 30000 responses on 10000 connections (peak 10000 open at once), "
                    "0 errors, 0 failed connects\n")


SUMMARY_RE = (r"loadgen: (\d+) responses on (\d+) connections \(peak (\d+) open at once\), "
              r"0 errors, 0 failed connects\n$")


def test_mixed_load_all_responses_correct(fresh_knot, docroot):
    # Every kind of client at once; every body is compared with its file.
    server = fresh_knot("-t", "10")
    common = [LOADGEN, "-p", str(server.port), "--duration", "3"]
    quick = subprocess.Popen(common + [
        "--fast", "20", "--idle", "200", "--idle-interval", "0.5",
        "--burst", "50", "--burst-every", "0.5",
        "--path", "/small.txt", "--expect", os.path.join(docroot, "small.txt")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    slow = subprocess.Popen(common + [
        "--slow", "5", "--slow-path", "/medium.bin",
        "--expect", os.path.join(docroot, "medium.bin")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    out_quick, err_quick = quick.communicate(timeout=60)
    out_slow, err_slow = slow.communicate(timeout=60)
    assert quick.returncode == 0, out_quick + err_quick
    assert slow.returncode == 0, out_slow + err_slow
    responses, connections, peak = map(int, re.match(SUMMARY_RE, out_quick).groups())
    # 20 fast + 200 idle + at least 5 bursts of 50, each with a response.
    assert connections >= 20 + 200 + 5 * 50
    assert peak >= 220
    assert responses > connections
    # A slow reader takes a 16 KiB body in sips of at most 1 KiB every
    # 100 ms after its first 4 KiB read: at least 1.2 s per response, so
    # each of the 5 finishes at most 3 in 3 s plus the one it had begun.
    responses, connections, peak = map(int, re.match(SUMMARY_RE, out_slow).groups())
    assert (connections, peak) == (5, 5)
    assert 5 <= responses <= 20
    status, _ = server.stop()
    assert status == 0


def test_every_held_connect_completes(fresh_knot):
    # A loopback connect() completes within microseconds of its
    # EINPROGRESS, often before the connecting thread has finished
    # parking.  Whenever the runtime polled inside that park (it does every
    # 1024 switches), the readiness edge went to a thread not yet parked
    # and was lost: one client of 2,000 or 5,000 hung in connect() and the
    # rest waited for it until the server's timeout closed them.  The counts
    # here all failed that way; every connect must now finish at once.
    server = fresh_knot("-t", "20")
    for n in (1500, 2000, 5000):
        lg = subprocess.run([LOADGEN, "-p", str(server.port), "--hold", str(n),
                             "--requests", "1", "--path", "/small.txt", "--hold-seconds", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, timeout=60)
        assert lg.returncode == 0, lg.stdout + lg.stderr
        assert lg.stdout == (
            "loadgen: hold: %d connections open at once, requests done, now idle\n"
            "loadgen: %d responses on %d connections (peak %d open at once), "
            "0 errors, 0 failed connects\n" % (n, n, n, n))
    status, _ = server.stop()
    assert status == 0
