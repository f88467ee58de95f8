"""Knot under load keeps answering while gt-core captures it.

The load generator keeps fast and idle keep-alive clients busy and checks
every response (exit 0: none wrong, no connection failed); a client of the
test's own counts the responses it gets, each body compared with the file.
Between and after full, compact and --no-stop captures that count goes on
growing, and each core lists Knot's threads (its accept loop, a
connection thread per client).
"""
import importlib.util
import os
import re
import subprocess
import threading
import time

import core_util as cu

_spec = importlib.util.spec_from_file_location(
    "knot_conftest", os.path.join(cu.ROOT, "tests", "knot", "conftest.py"))
knot = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(knot)

KNOT = os.path.join(cu.BUILD, "examples", "knot", "knot")
LOADGEN = os.path.join(cu.BUILD, "examples", "knot", "loadgen")
knot.KNOT = KNOT

IDLE = 200


class Asker(threading.Thread):
    """GET /small.txt on one keep-alive connection, again and again;
    `answered` counts the right answers, `error` keeps the first wrong."""

    def __init__(self, port):
        super().__init__()
        self.port = port
        self.answered = 0
        self.error = None
        self.done = threading.Event()

    def run(self):
        try:
            c = knot.Client(self.port, timeout=30)
            while not self.done.is_set():
                c.send(b"GET /small.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                r = c.response()
                assert r.status == 200 and r.body == knot.SMALL, r
                self.answered += 1
            c.close()
        except Exception as e:  # reported by the test, in its thread
            self.error = e


def test_knot_keeps_answering_while_captured(tmp_path):
    docroot = knot.make_docroot(str(tmp_path / "www"))
    server = knot.Knot(docroot, "-t", "30", "--cache-mib", "1")
    asker = Asker(server.port)
    lg = subprocess.Popen([LOADGEN, "-p", str(server.port), "--duration", "6", "--fast", "4",
                           "--idle", str(IDLE), "--idle-interval", "0.3", "--path", "/small.txt",
                           "--expect", os.path.join(docroot, "small.txt")],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        asker.start()
        pid = server.proc.pid
        time.sleep(1)  # the idle clients are connected
        for i, opts in enumerate([(), ("--compact",), ("--no-stop",), ("-c", "-n")]):
            core = tmp_path / ("core.%d" % i)
            s, _, _ = cu.captured(pid, core, *opts)
            assert s["green"] >= IDLE, s["line"]
            seen = asker.answered
            # Answering still: the count moves past where it stood.
            end = time.monotonic() + 20
            while asker.answered <= seen + 10 and asker.error is None and time.monotonic() < end:
                time.sleep(0.01)
            assert asker.error is None and asker.answered > seen + 10, (opts, asker.error)
            rc, out, err = cu.run([cu.GT_STACKS, "--core", core])
            assert rc == 0, err
            m = re.search(r"^process \d+ \(knot\): (\d+) green threads", out, re.M) or \
                re.search(r"(\d+) green threads", out)
            assert m and int(m.group(1)) >= IDLE, out[:500]
            assert "listener_main" in out, out[:2000]
            os.unlink(core)
        out, err = lg.communicate(timeout=60)
        assert lg.returncode == 0, out + err
        m = re.search(r"loadgen: (\d+) responses on (\d+) connections .*, 0 errors, 0 failed connects",
                      out)
        assert m and int(m.group(1)) > IDLE, out
    finally:
        asker.done.set()
        asker.join()
        if lg.poll() is None:
            lg.kill()
            lg.wait()
        status, rest = server.stop()
    assert asker.error is None, asker.error
    assert status == 0, rest
