"""The command line, the connection cap, and graceful shutdown."""
import signal
import subprocess
import time

from conftest import KNOT, SMALL, Client, finish_in_flight, get, open_served, refuses


def run_knot(*args):
    return subprocess.run([KNOT] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=10, universal_newlines=True)


def test_help():
    r = run_knot("--help")
    assert r.returncode == 0
    assert r.stdout.startswith("Usage: knot -p PORT -r DOCROOT [-c MAX_CONNS] [-t TIMEOUT] "
                               "[--log FILE]\n")
    for opt in ("--port", "--root", "--max-conns", "--timeout", "--log", "--help"):
        assert opt in r.stdout


def test_usage_errors_name_the_problem(docroot):
    cases = [
        ([], "no port: give one with -p PORT"),
        (["-p", "0"], "no document root: give one with -r DOCROOT"),
        (["-p", "99999", "-r", docroot], "-p 99999: not a port number"),
        (["-p", "0", "-r", docroot, "-c", "0"], "-c 0: not a connection count"),
        (["-p", "0", "-r", docroot, "-t", "-1"], "-t -1: not a timeout"),
        (["-p", "0", "-r", docroot + "/nope"], "the document root must be a readable directory"),
        (["-p", "0", "-r", docroot + "/small.txt"], "must be a readable directory"),
        (["-p", "0", "-r", docroot, "--bogus"], "Try 'knot --help'"),
        (["-p", "0", "-r", docroot, "extra"], "unexpected argument 'extra'"),
    ]
    for args, message in cases:
        r = run_knot(*args)
        assert r.returncode == 64, (args, r.stderr)
        assert message in r.stderr, (args, r.stderr)


def test_port_in_use_is_reported(knot, docroot):
    r = run_knot("-p", str(knot.port), "-r", docroot)
    assert r.returncode == 1
    assert "cannot listen on 127.0.0.1:%d: Address already in use" % knot.port in r.stderr


def test_connection_cap(fresh_knot):
    server = fresh_knot("-c", "3", "-t", "30")
    held = open_served(server.port, 3)
    # The fourth is answered 503 and closed; the three keep being served.
    extra = Client(server.port)
    extra.send(b"GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n")
    r = extra.response()
    assert (r.status, r.reason) == (503, "Service Unavailable")
    assert r.headers["connection"] == "close"
    assert r.body == b"503 Service Unavailable\n"
    assert extra.closed()
    for c in held:
        c.send(b"GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        assert c.response().body == SMALL
    # One leaves: a new client gets in.
    held.pop().close()
    time.sleep(0.2)
    c = Client(server.port)
    c.send(b"GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n")
    assert c.response().status == 200
    held.append(c)
    for c in held:
        c.close()
    status, err = server.stop()
    assert status == 0
    assert ("knot: connection cap reached: 3 connections open (-c 3); new connections are "
            "answered 503 until one closes\n") in err
    assert "knot: below the connection cap again; 1 connections were refused meanwhile\n" in err


def test_graceful_shutdown(fresh_knot):
    server = fresh_knot("-t", "5")
    idle = open_served(server.port, 5)
    busy = Client(server.port)
    busy.send(b"GET /small.txt HTTP/1.1\r\nHost: x\r\n")   # a request in flight
    time.sleep(0.2)
    server.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    # Idle connections are closed without a response...
    for c in idle:
        assert c.closed(wait=3)
    # ...no new connection is accepted...
    assert refuses(server.port)
    # ...and the request in flight is finished, then its connection closed.
    assert server.proc.poll() is None
    finish_in_flight(busy)
    status, err = server.stop()
    assert status == 0
    assert "knot: SIGTERM: stopping: no new connections; closing 5 idle, waiting for 1 busy\n" in err
    assert err.endswith("knot: stopped\n")


def test_sigint_stops_an_idle_server(fresh_knot):
    """One keep-alive connection, idle after its request: the stop closes
    exactly it.  (A connection the client has closed would count as idle
    or not depending on whether Knot read its end before the signal.)"""
    server = fresh_knot()
    c = Client(server.port)
    try:
        c.send(b"GET /small.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert c.response().body == SMALL
        status, err = server.stop(signal.SIGINT, timeout=5)
        assert status == 0
        assert err == ("knot: SIGINT: stopping: no new connections; closing 1 idle, waiting "
                       "for 0 busy\nknot: stopped\n")
        assert c.closed()
    finally:
        c.close()


def test_second_signal_cuts_a_stuck_request(fresh_knot):
    server = fresh_knot("-t", "60")
    stuck = Client(server.port)
    stuck.send(b"GET /small.txt HTTP/1.1\r\n")   # never finished
    time.sleep(0.2)
    server.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    assert server.proc.poll() is None            # still waiting for it
    status, err = server.stop(signal.SIGTERM, timeout=5)
    assert status == 0
    assert "knot: SIGTERM: cutting 1 connections still open\n" in err
    assert stuck.closed()
