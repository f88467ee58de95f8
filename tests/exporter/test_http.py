"""gt-exporter's HTTP side: the pages, HEAD, methods, keep-alive and
pipelining, bounded request heads, a slow client that holds no one up;
and its command line: bad input gives one line and the documented exit
status."""
import os
import socket
import subprocess

from conftest import EXPORTER, Pipeline, idle_site, parse, series


def raw(e, data, read_until_close=True):
    with socket.create_connection(("127.0.0.1", e.port), timeout=20) as s:
        s.sendall(data)
        if not read_until_close:
            s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out.decode(errors="replace")
            out += chunk


def test_pages(exporter, pipeline):
    p = pipeline(0, 2)
    e = exporter("-p", p.pid)
    status, headers, body = e.get("/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert '<a href="/metrics">' in body
    status, headers, body = e.get("/metrics", method="HEAD")
    assert status == 200 and body == "" and int(headers["Content-Length"]) > 1000
    status, _, body = e.get("/metrics?debug=1")
    assert status == 200
    assert series(parse(body), "gt_location_waiting_threads", pid=str(p.pid),
                  location=idle_site() + "*")[0][1] == "2"
    status, _, _ = e.get("/nothing")
    assert status == 404
    status, headers, _ = e.get("/metrics", method="POST")
    assert status == 405 and headers["Allow"] == "GET, HEAD"


def test_keep_alive_pipelined_and_bad_requests(exporter, pipeline):
    p = pipeline(0, 1)
    e = exporter("-p", p.pid)
    # Two requests in one write, the second asking to close: two
    # answers, then the connection ends.
    out = raw(e, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
                 b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert out.count("HTTP/1.1 200 OK") == 2
    assert "gt_up{pid=\"%d\",exe=\"pipeline\"} 1" % p.pid in out
    # Hundreds of pipelined requests in one write: every one answered.
    many = b"GET / HTTP/1.1\r\n\r\n" * 400 + b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n"
    assert raw(e, many).count("HTTP/1.1 200 OK") == 401
    assert raw(e, b"garbage\r\n\r\n").startswith("HTTP/1.1 400 ")
    assert raw(e, b"GET /metrics HTTP/2.0\r\n\r\n").startswith("HTTP/1.1 505 ")
    # A head past 8 KiB is refused, not buffered on.
    big = b"GET / HTTP/1.1\r\nX-Fill: " + b"a" * 9000
    assert raw(e, big, read_until_close=False).startswith("HTTP/1.1 431 ")
    # HTTP/1.0 closes after its answer.
    assert raw(e, b"GET / HTTP/1.0\r\n\r\n").startswith("HTTP/1.1 200 ")


def test_slow_client_holds_no_one_up(exporter, pipeline):
    p = pipeline(0, 1)
    e = exporter("-p", p.pid)
    slow = [socket.create_connection(("127.0.0.1", e.port)) for _ in range(5)]
    for s in slow:
        s.sendall(b"GET /metr")   # and nothing more
    status, _, body = e.get("/metrics")
    assert status == 200 and "gt_up{pid=\"%d\"" % p.pid in body
    for s in slow:
        s.close()


def run(*args):
    return subprocess.run([EXPORTER] + [str(a) for a in args], capture_output=True, text=True,
                          timeout=30)


def one_line(r, code, text):
    assert r.returncode == code, (r.returncode, r.stderr)
    first = r.stderr.splitlines()[0]
    assert first.startswith("gt-exporter: ") and text in first, r.stderr
    # argp adds its "Try --help" line to a usage error; nothing else.
    assert all(line.startswith("Try `gt-exporter --help'") for line in r.stderr.splitlines()[1:])


def missing_pid():
    pid = 4000000
    while os.path.exists("/proc/%d" % pid):
        pid -= 1
    return pid


def test_bad_input():
    p = Pipeline(0, 1)
    plain = subprocess.Popen(["sleep", "60"])
    taken = socket.socket()
    try:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        one_line(run("--listen", "127.0.0.1:%d" % port, "-p", p.pid), 1, "Address already in use")
        one_line(run("--listen", "nonsense", "-p", p.pid), 2, "--listen wants HOST:PORT")
        one_line(run("--listen", "127.0.0.1:70000", "-p", p.pid), 2, "not '127.0.0.1:70000'")
        one_line(run("--listen", "no.such.host.invalid:9464", "-p", p.pid), 1, "cannot resolve")
        one_line(run("--listen", "127.0.0.1:0", "-p", missing_pid()), 1,
                 "no process %d" % missing_pid())
        one_line(run("--listen", "127.0.0.1:0", "-p", plain.pid), 1, "is not a gt program")
        one_line(run("-p", "12,x"), 2, "'12,x' is not a list of process ids")
        one_line(run("-p", p.pid, "--discover"), 2, "not both")
        one_line(run(), 2, "which programs?")
        one_line(run("--once", "--listen", ":0", "-p", p.pid), 2, "takes no --listen")
        one_line(run("--rescan", "0", "--discover"), 2, "--rescan wants seconds")
    finally:
        taken.close()
        plain.kill()
        plain.wait()
        p.stop()


def test_help_and_version():
    r = run("--help")
    assert r.returncode == 0 and "--discover" in r.stdout and "Exit status:" in r.stdout
    assert run("-h").stdout == r.stdout
    r = run("--version")
    assert r.returncode == 0 and r.stdout.startswith("gt-exporter (gt) ")
    assert "registry ABI" in r.stdout
