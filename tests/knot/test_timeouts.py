"""Timeouts: an idle keep-alive connection, a request that does not arrive
in time (however it is trickled), and a client that never reads are all
cut, while everyone else is served.  The shared server runs with -t 1."""
import socket
import time

from conftest import BIG, SMALL, TIMEOUT_S, Client, get


def test_idle_keep_alive_connection_is_closed_after_timeout(knot):
    c = Client(knot.port)
    c.send(b"GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n")
    assert c.response().body == SMALL
    t0 = time.monotonic()
    assert c.closed(wait=TIMEOUT_S * 5)
    waited = time.monotonic() - t0
    assert TIMEOUT_S * 0.8 <= waited <= TIMEOUT_S * 4, waited


def test_silent_connection_is_closed_without_a_response(knot):
    c = Client(knot.port)
    t0 = time.monotonic()
    assert c.closed(wait=TIMEOUT_S * 5)  # closed() fails on any byte received
    assert time.monotonic() - t0 >= TIMEOUT_S * 0.8


def test_partial_request_gets_408(knot):
    c = Client(knot.port)
    c.send(b"GET /small.txt HTTP/1.1\r\nHost: x\r\n")   # no final empty line
    t0 = time.monotonic()
    r = c.response()
    assert (r.status, r.reason) == (408, "Request Timeout")
    assert r.headers["connection"] == "close"
    assert r.body == b"408 Request Timeout\n"
    assert c.closed()
    assert TIMEOUT_S * 0.8 <= time.monotonic() - t0 <= TIMEOUT_S * 4


def test_trickled_request_is_cut_at_the_deadline(knot):
    # Slowloris: a byte every 0.2 s keeps each read short, but the whole
    # head must arrive within the timeout.
    c = Client(knot.port)
    t0 = time.monotonic()
    data = b"GET /small.txt HTTP/1.1\r\nHost: x\r\n" + b"X-Slow: " + b"a" * 100
    got_408 = False
    for byte in data:
        try:
            c.send(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            break
        time.sleep(0.2)
        c.sock.setblocking(False)
        try:
            if c.sock.recv(1, socket.MSG_PEEK):
                got_408 = True
                break
        except BlockingIOError:
            pass
        finally:
            c.sock.setblocking(True)
    c.sock.settimeout(5)
    assert got_408
    r = c.response()
    assert r.status == 408
    assert time.monotonic() - t0 <= TIMEOUT_S * 3


def test_client_that_never_reads_is_cut(knot):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", knot.port))
    # Sixteen 1 MiB responses: far more than the socket buffers hold.
    s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n" * 16)
    # Meanwhile everyone else is served.
    for _ in range(5):
        assert get(knot.port, b"/small.txt").body == SMALL
        time.sleep(0.2)
    time.sleep(TIMEOUT_S * 2)
    # Now read: what arrives is less than asked for, then the connection ends.
    s.settimeout(5)
    total = 0
    try:
        while True:
            d = s.recv(1 << 20)
            if not d:
                break
            total += len(d)
    except ConnectionResetError:
        pass
    assert 0 < total < 16 * len(BIG)


def test_slow_reader_that_keeps_reading_gets_everything(knot):
    # Slower than the timeout in total, but never stalled for a timeout.
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    s.connect(("127.0.0.1", knot.port))
    s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    t0 = time.monotonic()
    while True:
        d = s.recv(64 * 1024)
        data += d
        if not d or data.endswith(BIG[-100:]) and len(data) > len(BIG):
            break
        time.sleep(0.1)
    head, body = data.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert body == BIG
    assert time.monotonic() - t0 > TIMEOUT_S


def test_steady_reader_of_megabytes_is_not_cut(fresh_knot):
    # 6 MiB at 2 MB/s with a 0.3 s timeout: the kernel grows the send
    # buffer to megabytes, so a writability that waited for a third of it
    # to drain would outlast the timeout although the client never stalls.
    server = fresh_knot("-t", "0.3")
    s = socket.socket()
    s.connect(("127.0.0.1", server.port))
    s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n" * 6)
    s.settimeout(5)
    rate = 2_000_000
    data = bytearray()
    t0 = time.monotonic()
    while len(data) < 6 * len(BIG):
        d = s.recv(16384)
        if not d:
            break
        data += d
        ahead = len(data) / rate - (time.monotonic() - t0)
        if ahead > 0:
            time.sleep(ahead)
    assert time.monotonic() - t0 > 1.0            # many timeouts long
    bodies = [part for part in bytes(data).split(b"\r\n\r\n")[1:]]
    assert len(bodies) == 6
    assert all(b.startswith(BIG) for b in bodies)
    assert bodies[-1] == BIG
