"""Bad input: every malformed or hostile request gets its exact status (or
a clean close), and Knot keeps serving everyone else."""
import socket
import time

import pytest

from conftest import BIG, SMALL, Client, get, request


def answered_then_closed(port, raw, status, head_request=False):
    """Sends raw on a new connection; the response must be status with
    "Connection: close" and the plain-text body, then the server closes."""
    c = Client(port)
    c.send(raw)
    r = c.response(head_request)
    assert r.status == status, (raw[:80], r)
    assert r.headers["connection"] == "close"
    if not head_request:
        assert r.body == ("%d %s\n" % (status, r.reason)).encode()
    assert c.closed()
    return r


BAD_REQUESTS_400 = [
    b"GET\r\n\r\n",
    b"GET /\r\n\r\n",                                   # HTTP/0.9 style
    b"GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n",
    b"GET  / HTTP/1.1\r\nHost: x\r\n\r\n",              # two spaces
    b"GET / HTTP/1.1 \r\nHost: x\r\n\r\n",
    b" GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTX/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.x\r\nHost: x\r\n\r\n",
    b"GET / HTTP/11\r\nHost: x\r\n\r\n",
    b"G(T / HTTP/1.1\r\nHost: x\r\n\r\n",               # not a token
    b"GET / HTTP/1.1\r\n\r\n",                          # no Host in HTTP/1.1
    b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",     # two Hosts
    b"GET / HTTP/1.1\r\nHost : x\r\n\r\n",              # space before colon
    b"GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n folded\r\n\r\n",  # obs-fold
    b"GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\n: empty-name\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",  # NUL in a value
    b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n",    # bare CR
    b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 1\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"GET /a\x00b HTTP/1.1\r\nHost: x\r\n\r\n",          # NUL byte in the path
    b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n",     # raw non-ASCII in the path
    b"GET /\xff HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /a\x7fb HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /a\tb HTTP/1.1\r\nHost: x\r\n\r\n",
]


@pytest.mark.parametrize("raw", BAD_REQUESTS_400)
def test_malformed_request_is_400_and_close(knot, raw):
    answered_then_closed(knot.port, raw, 400)


@pytest.mark.parametrize("raw", [
    b"GET / HTTP/1.1\nHost: x\n\n",                       # bare LF everywhere
    b"GET / HTTP/1.1\r\nHost: x\n\r\n",                   # one bare LF
    b"GET / HTTP/1.1\n",                                  # a bare LF alone is enough
])
def test_bare_lf_line_ends_are_400_at_once(knot, raw):
    # The answer must not wait for a CRLF CRLF that never comes.
    t0 = time.monotonic()
    answered_then_closed(knot.port, raw, 400)
    assert time.monotonic() - t0 < 0.9


@pytest.mark.parametrize("path", [
    b"small.txt", b"*", b"http://host#frag", b"ftp://host/small.txt",
    b"/%00", b"/a%00.txt", b"/%zz", b"/%2", b"/%", b"/a%0d%0aX: y", b"/%7f", b"/a#frag",
])
def test_bad_escapes_and_decoded_controls_are_400(knot, path):
    # The head is well formed, so the connection stays usable.
    r = get(knot.port, path)
    assert (r.status, r.body) == (400, b"400 Bad Request\n"), (path, r)


def test_400_on_target_keeps_connection(knot):
    c = Client(knot.port)
    c.send(b"GET /%00 HTTP/1.1\r\nHost: x\r\n\r\nGET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n")
    assert c.response().status == 400
    assert c.response().body == SMALL
    c.close()


def test_unsupported_versions(knot):
    answered_then_closed(knot.port, b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505)
    answered_then_closed(knot.port, b"GET / HTTP/0.9\r\nHost: x\r\n\r\n", 505)


def test_transfer_encoding_is_501(knot):
    answered_then_closed(knot.port, b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked"
                         b"\r\n\r\n0\r\n\r\n", 501)


@pytest.mark.parametrize("length", [b"65537", b"1048576", b"99999999999999999999999999999",
                                    b"0" * 50 + b"70000"])
def test_absurd_content_length_is_413(knot, length):
    answered_then_closed(knot.port, b"GET /small.txt HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                         length + b"\r\n\r\n", 413)


def test_request_line_over_limit_is_414(knot):
    answered_then_closed(knot.port, b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414)


def test_request_line_without_end_over_limit_is_414(knot):
    # No line end at all: the answer comes once the limit is passed.
    answered_then_closed(knot.port, b"GET /" + b"a" * 20000, 414)


def test_long_but_legal_path_is_404(knot):
    r = get(knot.port, b"/" + b"a" * 200 + b"/" + b"b" * 200)
    assert r.status == 404


def test_header_line_over_limit_is_431(knot):
    answered_then_closed(knot.port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"v" * 9000 +
                         b"\r\n\r\n", 431)


def test_thousands_of_headers_is_431(knot):
    answered_then_closed(knot.port, b"GET / HTTP/1.1\r\nHost: x\r\n" +
                         b"".join(b"X-H%d: v\r\n" % i for i in range(3000)) + b"\r\n", 431)


def test_101_headers_is_431_and_100_is_fine(knot):
    ok = b"GET /small.txt HTTP/1.1\r\nHost: x\r\n" + b"X-H: v\r\n" * 99 + b"\r\n"
    assert request(knot.port, ok).body == SMALL
    answered_then_closed(knot.port, b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-H: v\r\n" * 100 +
                         b"\r\n", 431)


def test_head_over_16k_total_is_431(knot):
    answered_then_closed(knot.port, b"GET / HTTP/1.1\r\nHost: x\r\n" +
                         b"".join(b"X-%d: %s\r\n" % (i, b"v" * 4000) for i in range(5)) +
                         b"\r\n", 431)


def test_error_to_head_request_has_no_body(knot):
    c = Client(knot.port)
    c.send(b"HEAD /nope HTTP/1.1\r\nHost: x\r\n\r\nGET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n")
    r = c.response(head_request=True)
    assert (r.status, r.headers["content-length"]) == (404, "14")
    assert c.response().body == SMALL
    c.close()


def test_empty_lines_before_request_are_skipped(knot):
    r = request(knot.port, b"\r\n\r\nGET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n")
    assert r.body == SMALL


def test_client_closing_mid_response_harms_no_one(knot):
    for _ in range(20):
        s = socket.create_connection(("127.0.0.1", knot.port))
        s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n" * 4)
        s.recv(1000)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()  # a reset, mid-body
    for _ in range(20):
        s = socket.create_connection(("127.0.0.1", knot.port))
        s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        s.close()  # a FIN before the response even starts
    r = get(knot.port, b"/big.bin")
    assert (r.status, r.body) == (200, BIG)


def test_garbage_bytes_are_400(knot):
    answered_then_closed(knot.port, bytes(range(256)) + b"\r\n\r\n", 400)


def test_nul_flood_is_answered(knot):
    answered_then_closed(knot.port, b"\x00" * 20000, 400)


# A TLS ClientHello (the start of one: record header, handshake header,
# version, random), and other requests that go wrong before any line end.
NO_LINE_END_JUNK = [
    bytes.fromhex("160301020001" "0001fc0303") + bytes(range(11, 43)),  # no LF in it
    b"\x00",
    b"GET\t/",
    b"GET /a b",
    b"GET / HTTQ",
    b"GET / HTTP/1.1x",
    b"GET / HTTP/1.1\rX",
    b"\rGET",
    b"G\x80T /",
]


@pytest.mark.parametrize("raw", NO_LINE_END_JUNK)
def test_junk_without_a_line_end_is_400_at_once(knot, raw):
    # Not the start of any request line: answered 400 now, not 408 when
    # the request times out waiting for a line end.
    answered_then_closed(knot.port, raw, 400)


@pytest.mark.parametrize("raw", [b"GET", b"GET /small", b"GET /small.txt HTTP/1.",
                                 b"GET /small.txt HTTP/1.1\r", b"\r"])
def test_a_valid_start_waits_for_the_rest(knot, raw):
    c = Client(knot.port)
    c.send(raw)
    time.sleep(0.2)
    rest = b"GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n"[len(raw):] if raw != b"\r" else \
        b"\nGET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n"
    c.send(rest)
    r = c.response()
    assert (r.status, r.body) == (200, SMALL)
    c.close()


def test_a_cr_then_a_request_line_is_400(knot):
    # A CR may begin an empty line before the request, but only if an LF
    # follows it, however the bytes are split: 400 at once, not 408 when
    # no line end has come by the timeout.
    c = Client(knot.port)
    c.send(b"\r")
    time.sleep(0.2)
    c.send(b"GET /small.txt HTTP/1.1")
    r = c.response()
    assert r.status == 400
    assert c.closed()


@pytest.mark.parametrize("host", [
    b"a b", b"a/b", b"a@b", b"a?b", b"x:y", b"x:80:80", b"[::1", b"[zz]", b"[]", b"a%2", b"a%zz",
    b"\"x\"", b"a\\b", b"x:-1", b"a{b}", b"\xc3\xa9",
])
def test_invalid_host_is_400(knot, host):
    answered_then_closed(knot.port, b"GET /small.txt HTTP/1.1\r\nHost: " + host + b"\r\n\r\n",
                         400)


@pytest.mark.parametrize("host", [
    b"", b"127.0.0.1", b"127.0.0.1:8080", b"example.com", b"EXAMPLE.com:", b"[::1]",
    b"[::1]:80", b"xn--caf-dma.example", b"a_b~c!$&'()*+,;=", b"a%41b",
])
def test_valid_host_is_served(knot, host):
    r = request(knot.port, b"GET /small.txt HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")
    assert (r.status, r.body) == (200, SMALL), host


def test_server_still_serves_after_all_this(knot):
    r = get(knot.port, b"/small.txt")
    assert (r.status, r.body) == (200, SMALL)
