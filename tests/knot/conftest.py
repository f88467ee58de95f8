"""Fixtures for the Knot tests: a generated document root, a running Knot
on a free loopback port (-p 0; the port is read from its start-up line),
and a raw-socket HTTP client that parses exactly what came back.

Knot and its load generator are found through $KNOT and $KNOT_LOADGEN
(make test-knot sets them), else under build/examples/knot/.
"""
import os
import re
import signal
import socket
import subprocess
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
KNOT = os.environ.get("KNOT", os.path.join(ROOT, "build/examples/knot/knot"))
LOADGEN = os.environ.get("KNOT_LOADGEN", os.path.join(ROOT, "build/examples/knot/loadgen"))

# Known bytes, so every body can be compared exactly.
SMALL = bytes(range(32, 132))                          # 100 bytes
MEDIUM = bytes((i * 7 + 3) % 256 for i in range(16384))  # 16 KiB
# Larger than an eighth of the 1 MiB cache Knot runs with here: streamed.
BIG = bytes((i * 13 + 5) % 251 for i in range(1 << 20))
INDEX = b"<!doctype html><title>knot</title>\n"
SUB_INDEX = b"<p>sub</p>\n"
UNICODE_NAME = "caf\u00e9 \u00fc.txt"   # served from %-encoded UTF-8
TIMEOUT_S = 1.0                        # Knot's -t in the shared server


def make_docroot(path):
    """A document root with one file per case the tests need, plus things
    outside it that must never be served."""
    outside = os.path.join(path, "outside")
    root = os.path.join(path, "root")
    os.makedirs(outside)
    os.makedirs(os.path.join(root, "sub"))
    os.makedirs(os.path.join(root, "empty-dir"))
    files = {
        "small.txt": SMALL, "medium.bin": MEDIUM, "big.bin": BIG,
        "index.html": INDEX, "sub/index.html": SUB_INDEX,
        "style.css": b"p{}\n", "app.js": b"1;\n", "data.json": b"{}\n",
        "pic.png": b"\x89PNG", "pic.JPG": b"\xff\xd8", "noext": b"raw\n",
        "archive.tar.gz": b"\x1f\x8b", "empty.txt": b"", UNICODE_NAME: b"unicode\n",
        "percent%41.txt": b"literal percent\n",
    }
    for name, data in files.items():
        with open(os.path.join(root, name), "wb") as f:
            f.write(data)
    with open(os.path.join(outside, "secret.txt"), "wb") as f:
        f.write(b"SECRET\n")
    os.symlink(os.path.join(outside, "secret.txt"), os.path.join(root, "escape-abs"))
    os.symlink("../outside/secret.txt", os.path.join(root, "escape-rel"))
    os.symlink(outside, os.path.join(root, "escape-dir"))
    os.symlink("small.txt", os.path.join(root, "link-inside"))
    os.mkfifo(os.path.join(root, "fifo"))
    # A fixed, known mtime for Last-Modified and If-Modified-Since.
    os.utime(os.path.join(root, "small.txt"), (1600000000, 1600000000))
    return root


class Knot:
    """One running knot process."""

    def __init__(self, docroot, *args, log_path=None, preexec_fn=None, pass_fds=()):
        """log_path: the access log (default: a file next to docroot);
        preexec_fn: run in the child before knot starts (e.g. to set limits);
        pass_fds: fds knot inherits."""
        self.log_path = log_path or os.path.join(os.path.dirname(docroot),
                                                 "access-%d.log" % id(self))
        self.argv = [KNOT, "-p", "0", "-r", docroot, "--log", self.log_path] + list(args)
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, preexec_fn=preexec_fn,
                                     pass_fds=pass_fds)
        line = self.proc.stderr.readline().decode()
        while line.startswith("knot: warning: "):  # before the start-up line
            line = self.proc.stderr.readline().decode()
        m = re.search(r"on http://127\.0\.0\.1:(\d+)/", line)
        if not m:
            self.proc.kill()
            raise RuntimeError("knot did not start: %r" % line)
        self.port = int(m.group(1))
        self.start_line = line
        self._stderr_rest = None

    def stop(self, sig=signal.SIGTERM, timeout=15):
        """Signals knot, waits for it; returns (exit status, stderr after
        the start-up line)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rest = self.proc.communicate(timeout=timeout)[1]
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rest = self.proc.communicate()[1]
            raise AssertionError("knot did not stop within %d s" % timeout)
        self._stderr_rest = rest.decode()
        return self.proc.returncode, self._stderr_rest

    def access_log(self):
        with open(self.log_path) as f:
            return f.read()


@pytest.fixture(scope="session")
def docroot(tmp_path_factory):
    return make_docroot(str(tmp_path_factory.mktemp("knot")))


@pytest.fixture(scope="session")
def knot(docroot):
    """The shared server: 1 s timeout, 1 MiB cache."""
    server = Knot(docroot, "-t", str(TIMEOUT_S), "--cache-mib", "1")
    yield server
    status, _ = server.stop()
    assert status == 0


@pytest.fixture
def fresh_knot(docroot):
    """A server of the test's own, with the arguments it asks for."""
    servers = []

    def start(*args):
        s = Knot(docroot, *args)
        servers.append(s)
        return s
    yield start
    for s in servers:
        if s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait()


class Response:
    def __init__(self, status, reason, headers, body, raw_head):
        self.status = status
        self.reason = reason
        self.headers = headers       # lower-case name -> value (last one)
        self.header_list = []        # (name, value) in order
        self.body = body
        self.raw_head = raw_head

    def __repr__(self):
        return "<%d %s %r %d bytes>" % (self.status, self.reason, self.headers, len(self.body))


class Client:
    """A raw HTTP/1.1 client on one socket: sends exactly the bytes given,
    parses responses strictly (Content-Length framing only, as Knot sends)."""

    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        data = self.sock.recv(1 << 20)
        if not data:
            raise EOFError("server closed the connection")
        self.buf += data

    def response(self, head_request=False):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        m = re.match(r"^HTTP/1\.1 (\d{3}) (.+)$", lines[0])
        assert m, "bad status line %r" % lines[0]
        headers, header_list = {}, []
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            assert sep and name == name.strip(), "bad header line %r" % line
            headers[name.lower()] = value.strip()
            header_list.append((name, value.strip()))
        length = 0 if head_request else int(headers.get("content-length", 0))
        while len(self.buf) < length:
            self._fill()
        body, self.buf = self.buf[:length], self.buf[length:]
        r = Response(int(m.group(1)), m.group(2), headers, body, head)
        r.header_list = header_list
        return r

    def closed(self, wait=5):
        """True if the server closes the connection within wait seconds
        without sending anything more."""
        self.sock.settimeout(wait)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True
        assert data == b"", "unexpected bytes before close: %r" % data[:200]
        return True

    def close(self):
        self.sock.close()


def request(port, raw, head_request=False):
    """One raw request on a new connection; the parsed response."""
    c = Client(port)
    try:
        c.send(raw)
        return c.response(head_request)
    finally:
        c.close()


def get(port, path, extra=b"", version=b"HTTP/1.1"):
    raw = b"GET " + path + b" " + version + b"\r\nHost: 127.0.0.1\r\n" + extra + b"\r\n"
    return request(port, raw)


def open_served(port, n):
    """n keep-alive connections, each served one request; left open."""
    clients = []
    for _ in range(n):
        c = Client(port)
        c.send(b"GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        assert c.response().body == SMALL
        clients.append(c)
    return clients


def refuses(port):
    """Whether nothing listens on port any more (a stopping server has
    closed its listening sockets)."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def finish_in_flight(client):
    """Ends the request left unfinished on client: a stopping server
    answers it, then closes the connection."""
    client.send(b"\r\n")
    r = client.response()
    assert (r.status, r.body, r.headers["connection"]) == (200, SMALL, "close")
    assert client.closed()
