"""HTTP conformance of Knot: statuses, headers and bodies, checked exactly
against the files the test wrote."""
import email.utils
import os
import re
import socket
import stat
import subprocess
import threading
import time
import urllib.parse

import pytest

from conftest import (BIG, INDEX, MEDIUM, SMALL, SUB_INDEX, UNICODE_NAME, Client, Knot, get,
                      request)

DATE_RE = r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$"


def http_date(t):
    return email.utils.formatdate(t, usegmt=True)


def test_get_small_file_exact_response(knot, docroot):
    r = get(knot.port, b"/small.txt")
    assert (r.status, r.reason) == (200, "OK")
    assert r.body == SMALL
    assert [n for n, _ in r.header_list] == [
        "Server", "Date", "Content-Type", "Content-Length", "Last-Modified"]
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert r.headers["content-length"] == "100"
    assert r.headers["last-modified"] == "Sun, 13 Sep 2020 12:26:40 GMT"
    assert r.headers["server"] == "knot"
    assert re.match(DATE_RE, r.headers["date"])
    served = email.utils.parsedate_to_datetime(r.headers["date"]).timestamp()
    assert abs(served - time.time()) < 5


@pytest.mark.parametrize("path,body", [
    (b"/medium.bin", MEDIUM),
    (b"/big.bin", BIG),            # over the cache's entry bound: streamed
    (b"/index.html", INDEX),
    (b"/", INDEX),                 # a directory means its index.html
    (b"/sub/", SUB_INDEX),
    (b"/sub", SUB_INDEX),
    (b"/empty.txt", b""),
    (b"/link-inside", SMALL),      # a symlink that stays inside the root
    (b"/sub/../small.txt", SMALL),  # dot segments resolved inside the root
    (b"/./small.txt", SMALL),
    (b"//small.txt", SMALL),
    (b"/small.txt?query=1&x=%zz", SMALL),  # the query is not part of the path
    (b"/%73mall.txt", SMALL),      # %-encoded letters
    (b"/percent%2541.txt", b"literal percent\n"),
    (b"/" + urllib.parse.quote(UNICODE_NAME).encode(), b"unicode\n"),
    (b"http://127.0.0.1/small.txt", SMALL),  # absolute form
])
def test_get_body_is_the_file(knot, path, body):
    r = get(knot.port, path)
    assert r.status == 200, r
    assert r.body == body
    assert r.headers["content-length"] == str(len(body))


@pytest.mark.parametrize("path,ctype", [
    (b"/index.html", "text/html; charset=utf-8"),
    (b"/", "text/html; charset=utf-8"),
    (b"/style.css", "text/css; charset=utf-8"),
    (b"/app.js", "text/javascript; charset=utf-8"),
    (b"/data.json", "application/json"),
    (b"/pic.png", "image/png"),
    (b"/pic.JPG", "image/jpeg"),
    (b"/noext", "application/octet-stream"),
    (b"/archive.tar.gz", "application/gzip"),
    (b"/medium.bin", "application/octet-stream"),
])
def test_content_type_by_extension(knot, path, ctype):
    assert get(knot.port, path).headers["content-type"] == ctype


def test_head_has_get_headers_and_no_body(knot):
    c = Client(knot.port)
    # HEAD then GET on one connection: if HEAD sent a body, the GET's
    # response would not start where it should.
    c.send(b"HEAD /medium.bin HTTP/1.1\r\nHost: x\r\n\r\nGET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n")
    head = c.response(head_request=True)
    assert head.status == 200
    assert head.headers["content-length"] == str(len(MEDIUM))
    assert head.headers["content-type"] == "application/octet-stream"
    assert "last-modified" in head.headers
    nxt = c.response()
    assert (nxt.status, nxt.body) == (200, SMALL)
    c.close()


def test_keep_alive_many_requests_one_connection(knot):
    c = Client(knot.port)
    for i in range(50):
        c.send(b"GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        r = c.response()
        assert (r.status, r.body) == (200, SMALL)
        assert "connection" not in r.headers
    c.close()


def test_pipelining_answers_in_order(knot):
    c = Client(knot.port)
    reqs = [b"/small.txt", b"/nope", b"/medium.bin", b"/", b"/sub/"]
    c.send(b"".join(b"GET " + p + b" HTTP/1.1\r\nHost: x\r\n\r\n" for p in reqs))
    got = [c.response() for _ in reqs]
    assert [r.status for r in got] == [200, 404, 200, 200, 200]
    assert got[0].body == SMALL and got[2].body == MEDIUM and got[3].body == INDEX
    assert got[4].body == SUB_INDEX
    c.close()


def test_pipelined_requests_split_across_packets(knot):
    c = Client(knot.port)
    data = b"GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n" * 3
    for i in range(0, len(data), 7):
        c.send(data[i:i + 7])
        time.sleep(0.002)
    for _ in range(3):
        assert c.response().body == SMALL
    c.close()


def test_pipelined_batches_do_not_wait_for_acks(knot):
    # Under Nagle's algorithm each batch of pipelined responses after the
    # first waited for the client's delayed ACK, 40 ms: 25 batches took a
    # second.  They now go out as soon as they are written.
    c = Client(knot.port)
    batch = b"GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n" * 8
    start = time.monotonic()
    for _ in range(25):
        c.send(batch)
        for _ in range(8):
            assert c.response().body == SMALL
    assert time.monotonic() - start < 0.5
    c.close()


def test_response_is_not_held_for_a_partial_next_request(knot):
    # A response may wait in the kernel for the next one's only when the
    # whole next request is already here.  This client sends one request
    # and the start of another, then waits for the first answer before
    # sending the rest.  A held answer goes out only when the kernel's
    # limit on held data runs out, 200 ms: five rounds took over a second.
    c = Client(knot.port, timeout=3)
    start = time.monotonic()
    for _ in range(5):
        c.send(b"GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /medium.bin HTTP/1.1\r\nHo")
        assert c.response().body == SMALL
        c.send(b"st: x\r\n\r\n")
        assert c.response().body == MEDIUM
    assert time.monotonic() - start < 0.5
    # Three whole requests and a partial fourth: the three answers arrive.
    c.send(b"GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n" * 3 + b"GET /sm")
    for _ in range(3):
        assert c.response().body == SMALL
    c.send(b"all.txt HTTP/1.1\r\nHost: x\r\n\r\n")
    assert c.response().body == SMALL
    c.close()


def test_connection_close_is_honoured(knot):
    c = Client(knot.port)
    c.send(b"GET /small.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    r = c.response()
    assert r.status == 200 and r.headers["connection"] == "close"
    assert c.closed()


def test_http10_closes_by_default(knot):
    c = Client(knot.port)
    c.send(b"GET /small.txt HTTP/1.0\r\n\r\n")   # no Host needed in 1.0
    r = c.response()
    assert (r.status, r.body, r.headers["connection"]) == (200, SMALL, "close")
    assert c.closed()


def test_http10_keep_alive_on_request(knot):
    c = Client(knot.port)
    for _ in range(3):
        c.send(b"GET /small.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        r = c.response()
        assert (r.status, r.headers["connection"]) == (200, "keep-alive")
    c.close()


def test_if_modified_since(knot):
    mtime = 1600000000
    for date, status in [
        (http_date(mtime), 304),                      # same second
        (http_date(mtime + 3600), 304),               # later
        (http_date(mtime - 1), 200),                  # earlier
        ("Sunday, 13-Sep-20 12:26:40 GMT", 304),      # RFC 850 form
        ("Sun Sep 13 12:26:40 2020", 304),            # asctime form
        ("not a date", 200),                          # invalid: ignored
    ]:
        r = get(knot.port, b"/small.txt", b"If-Modified-Since: " + date.encode() + b"\r\n")
        assert r.status == status, (date, r)
        if status == 304:
            assert r.reason == "Not Modified" and r.body == b""
            assert "content-length" not in r.headers and "content-type" not in r.headers
            assert r.headers["last-modified"] == http_date(mtime)
        else:
            assert r.body == SMALL


def test_304_keeps_the_connection_usable(knot):
    c = Client(knot.port)
    c.send(b"GET /small.txt HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: " +
           http_date(1600000000).encode() + b"\r\n\r\nGET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n")
    assert c.response().status == 304
    assert c.response().body == SMALL
    c.close()


@pytest.mark.parametrize("path", [
    b"/nope", b"/sub/nope.html", b"/empty-dir/", b"/small.txt/", b"/small.txt/x",
])
def test_not_found(knot, path):
    r = get(knot.port, path)
    assert (r.status, r.reason) == (404, "Not Found")
    assert r.body == b"404 Not Found\n"
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert r.headers["content-length"] == "14"


@pytest.mark.parametrize("path", [
    b"/../outside/secret.txt",
    b"/..",
    b"/sub/../../outside/secret.txt",
    b"/%2e%2e/outside/secret.txt",
    b"/%2E%2E/outside/secret.txt",
    b"/sub/%2e%2e/%2e%2e/outside/secret.txt",
    b"/..%2foutside%2fsecret.txt",
    b"/%2e%2e%2foutside%2fsecret.txt",
    b"/escape-abs",               # symlink to an absolute path outside
    b"/escape-rel",               # symlink with .. outside
    b"/escape-dir/secret.txt",    # through a symlinked directory
    b"/fifo",                     # not a regular file
    b"http://127.0.0.1/../outside/secret.txt",
])
def test_paths_out_of_the_root_are_forbidden(knot, path):
    r = get(knot.port, path)
    assert (r.status, r.body) == (403, b"403 Forbidden\n"), r
    assert b"SECRET" not in r.body


def test_curl_path_escape_never_serves(knot):
    for path in ["/../outside/secret.txt", "/%2e%2e/outside/secret.txt", "/escape-abs"]:
        out = subprocess.run(["curl", "-s", "--path-as-is", "-o", "-", "-w", "\n%{http_code}",
                              "http://127.0.0.1:%d%s" % (knot.port, path)],
                             stdout=subprocess.PIPE, check=True).stdout
        assert out == b"403 Forbidden\n\n403", (path, out)


@pytest.mark.parametrize("method", [b"POST", b"PUT", b"DELETE", b"OPTIONS", b"PATCH",
                                    b"get", b"BREW"])
def test_other_methods_are_405(knot, method):
    r = request(knot.port, method + b" /small.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    assert (r.status, r.reason) == (405, "Method Not Allowed")
    assert r.headers["allow"] == "GET, HEAD"
    assert r.body == b"405 Method Not Allowed\n"


def test_405_with_body_keeps_connection_in_step(knot):
    c = Client(knot.port)
    c.send(b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
           b"GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n")
    assert c.response().status == 405
    assert c.response().body == SMALL
    c.close()


def test_get_with_body_is_served_and_body_skipped(knot):
    c = Client(knot.port)
    c.send(b"GET /small.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world"
           b"GET /medium.bin HTTP/1.1\r\nHost: x\r\n\r\n")
    assert c.response().body == SMALL
    assert c.response().body == MEDIUM
    c.close()


def test_curl_get_and_head(knot):
    url = "http://127.0.0.1:%d/medium.bin" % knot.port
    body = subprocess.run(["curl", "-s", "--fail", url], stdout=subprocess.PIPE,
                          check=True).stdout
    assert body == MEDIUM
    head = subprocess.run(["curl", "-s", "-I", url], stdout=subprocess.PIPE,
                          check=True).stdout.decode()
    assert head.startswith("HTTP/1.1 200 OK\r\n")
    assert "Content-Length: 16384\r\n" in head


def test_curl_reuses_one_connection(knot):
    url = "http://127.0.0.1:%d/small.txt" % knot.port
    out = subprocess.run(["curl", "-sv", "-o", "/dev/null", url, "-o", "/dev/null", url],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True).stderr
    assert out.count(b"Connected to") == 1
    assert b"Re-using existing connection" in out


def test_file_changes_are_seen(knot, docroot):
    path = os.path.join(docroot, "changing.txt")
    with open(path, "wb") as f:
        f.write(b"first\n")
    assert get(knot.port, b"/changing.txt").body == b"first\n"
    # The cache compares with the disk at most once a second.
    time.sleep(1.1)
    with open(path, "wb") as f:
        f.write(b"second version\n")
    os.utime(path, (1700000000, 1700000000))
    time.sleep(1.1)
    r = get(knot.port, b"/changing.txt")
    assert r.body == b"second version\n"
    assert r.headers["last-modified"] == http_date(1700000000)
    os.unlink(path)
    time.sleep(1.1)
    assert get(knot.port, b"/changing.txt").status == 404


def test_cache_bound_many_files_all_correct(knot, docroot):
    # 40 files of 100 KiB through a 1 MiB cache: constant eviction; every
    # body must still be the file's own.
    os.makedirs(os.path.join(docroot, "many"), exist_ok=True)
    files = {}
    for i in range(40):
        data = bytes([i]) * (100 * 1024)
        files[i] = data
        with open(os.path.join(docroot, "many", "f%d.bin" % i), "wb") as f:
            f.write(data)
    c = Client(knot.port)
    for rnd in range(2):
        for i in range(40):
            c.send(b"GET /many/f%d.bin HTTP/1.1\r\nHost: x\r\n\r\n" % i)
            assert c.response().body == files[i]
    c.close()


def test_access_log_lines(knot):
    marker = "/log-marker-%d" % os.getpid()
    get(knot.port, marker.encode())
    get(knot.port, b"/small.txt?from=" + marker[1:].encode())
    request(knot.port, b"GET /x\x01y HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(1.5)  # the log is flushed once a second
    log = knot.access_log()
    line_re = (r'^127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000\] '
               r'"GET %s HTTP/1\.1" 404 14$' % re.escape(marker))
    assert re.search(line_re, log, re.M), log[-2000:]
    assert re.search(r'"GET /small\.txt\?from=%s HTTP/1\.1" 200 100$' % re.escape(marker[1:]),
                     log, re.M)
    # Control bytes are escaped, never written raw.
    assert re.search(r'"GET /x\\x01y HTTP/1\.1" 400 16$', log, re.M)
    assert "\x01" not in log


@pytest.mark.parametrize("target,body", [
    (b"http://127.0.0.1/small.txt", SMALL),
    (b"HTTP://127.0.0.1:80/small.txt?q=1", SMALL),
    (b"http://other.example/small.txt", SMALL),    # the target's host wins over Host
    (b"https://127.0.0.1/sub/", SUB_INDEX),
    (b"http://127.0.0.1", INDEX),                  # no path: "/"
    (b"http://127.0.0.1?x=1", INDEX),
], ids=lambda v: v.decode() if v.startswith(b"http") or v.startswith(b"HTTP") else "")
def test_absolute_form_targets_are_served(knot, target, body):
    r = request(knot.port, b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert (r.status, r.body) == (200, body), target


def test_absolute_form_stays_in_the_root(knot):
    r = get(knot.port, b"http://127.0.0.1/../outside/secret.txt")
    assert r.status == 403


def test_special_files_are_refused_before_they_are_opened(tmp_path):
    # A FIFO, a UNIX socket and (where this may create one) a device node
    # in the root: 403 each, and none is opened.  A writer waiting in
    # open() on the FIFO would be let go by any reader's open.
    root = tmp_path / "root"
    root.mkdir()
    (root / "ok.txt").write_bytes(SMALL)
    os.mkfifo(str(root / "fifo"))
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(root / "sock"))
    names = [b"/fifo", b"/sock", b"/fifo-dir/", b"/sock?q"]
    (root / "fifo-dir").mkdir()
    os.mkfifo(str(root / "fifo-dir" / "index.html"))
    try:
        os.mknod(str(root / "null"), 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        names.append(b"/null")
    except PermissionError:
        pass  # not allowed to make device nodes here
    opened = []
    writer = threading.Thread(
        target=lambda: opened.append(os.open(str(root / "fifo"), os.O_WRONLY)), daemon=True)
    writer.start()
    server = Knot(str(root))
    try:
        for name in names:
            r = get(server.port, name)
            assert (r.status, r.body) == (403, b"403 Forbidden\n"), name
        assert get(server.port, b"/ok.txt").body == SMALL
        writer.join(0.5)
        assert writer.is_alive() and not opened, "knot opened the FIFO"
    finally:
        server.proc.kill()
        server.proc.wait()
        os.close(os.open(str(root / "fifo"), os.O_RDONLY | os.O_NONBLOCK))  # release the writer
        writer.join(5)
        for fd in opened:
            os.close(fd)
        sock.close()
