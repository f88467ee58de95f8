"""Knot under attack: stalled downloads, connection floods, a log nobody
reads.  However it is attacked, Knot's memory stays within its budgets and
the clients it has taken in keep getting exactly their bytes."""
import os
import re
import resource
import select
import socket
import subprocess
import threading
import time

from conftest import MEDIUM, SMALL, Client, Knot, get

MIB = 1 << 20


def vm_rss(pid):
    """Resident memory of pid in bytes, from /proc/PID/status."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS for pid %d" % pid)


def stalled_download(port, path):
    """A client with a 4 KiB receive window that asks for path and then
    reads nothing; returned once the response has begun to arrive (by then
    Knot has looked the file up and holds what it serves it from)."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    s.settimeout(30)
    assert s.recv(1, socket.MSG_PEEK) == b"H"
    return s


def read_all(s):
    s.settimeout(30)
    data = bytearray()
    while True:
        d = s.recv(1 << 20)
        if not d:
            return bytes(data)
        data += d


def make_files(root, names, size):
    files = {}
    for i, name in enumerate(names):
        period = bytes((j * (i + 3) + i) % 251 for j in range(251))
        data = (period * (size // 251 + 1))[:size]
        with open(os.path.join(root, name), "wb") as f:
            f.write(data)
        files[name] = data
    return files


def test_stalled_downloads_stay_within_the_cache_budget(tmp_path):
    # An 8 MiB cache holds eight 1 MiB files.  Eight stalled clients pin
    # all of them; then 100 more stall on a ninth file that cannot be
    # cached.  Its body must come from the file, not from a private copy
    # per client: 100 copies would be 100 MiB that --cache-mib never sees.
    root = tmp_path / "root"
    root.mkdir()
    names = ["f%d.bin" % i for i in range(9)]
    files = make_files(str(root), names, MIB)
    server = Knot(str(root), "--cache-mib", "8", "-t", "60")
    try:
        assert get(server.port, b"/f0.bin").body == files["f0.bin"]
        base = vm_rss(server.proc.pid)
        clients = [(n, stalled_download(server.port, b"/" + n.encode())) for n in names[:8]]
        clients += [("f8.bin", stalled_download(server.port, b"/f8.bin")) for _ in range(100)]
        growth = vm_rss(server.proc.pid) - base
        # The cache's 8 MiB, and per connection its buffers and a stack:
        # far less than one file each.
        allowance = 8 * MIB + len(clients) * 64 * 1024
        assert growth < allowance, "RSS grew %.1f MiB for %d stalled clients" % (
            growth / MIB, len(clients))
        for name, s in clients:
            head, _, body = read_all(s).partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200 OK\r\n")
            assert body == files[name]
            s.close()
    finally:
        server.proc.kill()
        server.proc.wait()


def fd_limit(n):
    """A preexec_fn: the child's open-file limit, soft and hard, is n."""
    def set_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))
    return set_limit


def test_connection_flood_leaves_established_clients_their_files(docroot):
    # 128 fds.  A flood of connections, each sending a request, fills the
    # connection cap and the refusals beyond it; the fds Knot keeps back
    # for opening files must stay free, so a client it already serves
    # still gets a file it has not asked for before.
    server = Knot(docroot, "-t", "30", preexec_fn=fd_limit(128))
    flood = []
    try:
        c = Client(server.port)
        c.send(b"GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        assert c.response().status == 200
        for _ in range(300):
            s = socket.create_connection(("127.0.0.1", server.port))
            s.sendall(b"GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            flood.append(s)
        # Wait until Knot is over its cap: some flooding client is answered
        # 503 or closed unanswered.  The listener took every connection it
        # could before any thread ran, so the refusals now hold their fds.
        pending = list(flood)
        refused = False
        while not refused:
            readable, _, _ = select.select(pending, [], [], 30)
            assert readable, "no flooding client was refused"
            for s in readable:
                try:
                    data = s.recv(65536, socket.MSG_PEEK)
                except ConnectionResetError:
                    data = b""
                refused = refused or not data.startswith(b"HTTP/1.1 200 ")
                pending.remove(s)
        c.send(b"GET /medium.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        r = c.response()
        assert r.status == 200, r
        assert r.body == MEDIUM
        c.close()
    finally:
        for s in flood:
            s.close()
        server.proc.kill()
        server.proc.wait()


def test_access_log_that_stops_draining_never_stops_serving(docroot, tmp_path):
    # The log is a FIFO the test opens but does not read: it takes 64 KiB
    # and then no more.  Every request must still be served; once the
    # FIFO drains, every line in it is unique, and the lines logged plus
    # those Knot reports dropped are all the requests.
    fifo = str(tmp_path / "log.fifo")
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    server = Knot(docroot, "-t", "30", log_path=fifo)
    try:
        n = 3000
        c = Client(server.port)
        for i in range(n):
            c.send(b"GET /small.txt?request=%d HTTP/1.1\r\nHost: x\r\n\r\n" % i)
            r = c.response()
            assert (r.status, r.body) == (200, SMALL), i
        c.close()
        # Drain while Knot stops: its last lines go out as it exits.
        os.set_blocking(reader, True)
        drained = bytearray()

        def drain():
            while True:
                d = os.read(reader, 1 << 16)
                if not d:
                    return
                drained.extend(d)
        t = threading.Thread(target=drain)
        t.start()
        status, err = server.stop()
        t.join(30)
        assert not t.is_alive()
        assert status == 0
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait()
        os.close(reader)
    lines = bytes(drained).split(b"\n")
    assert lines[-1] == b""  # no line cut short
    lines = lines[:-1]
    requests = [re.search(rb'"GET /small\.txt\?request=(\d+) HTTP/1\.1" 200 100$', line)
                for line in lines]
    assert all(requests), [line for line, m in zip(lines, requests) if not m][:3]
    numbers = [int(m.group(1)) for m in requests]
    assert len(set(numbers)) == len(numbers), "duplicated log lines"
    dropped = sum(int(d) for d in re.findall(r"access log: (\d+) lines dropped", err))
    assert dropped > 0, err  # the FIFO did fill
    assert len(numbers) + dropped == n, (len(numbers), dropped, err)


def stderr_line(server, pattern, timeout=20):
    """The next line of knot's stderr that matches pattern (a regex)."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        ready, _, _ = select.select([server.proc.stderr], [], [], max(left, 0))
        assert ready, "knot never said %r" % pattern
        line = server.proc.stderr.readline().decode()
        assert line, "knot exited before saying %r" % pattern
        if re.search(pattern, line):
            return line


def test_every_episode_of_fd_exhaustion_is_logged_with_its_end(docroot):
    # 64 fds, 30 of them taken by inherited fds: Knot's accept meets
    # EMFILE long before its cap.  Twice, a second apart: each time the
    # log says so, and says when it is over.
    spare = [os.open(os.devnull, os.O_RDONLY) for _ in range(30)]
    server = Knot(docroot, "-t", "30", "-c", "100", preexec_fn=fd_limit(64), pass_fds=spare)
    for fd in spare:
        os.close(fd)
    try:
        for episode in range(2):
            held = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(40)]
            stderr_line(server, r"^knot: out of file descriptors at \d+ connections")
            for s in held:
                s.close()
            stderr_line(server, r"^knot: file descriptors free again after \d+\.\d s")
            assert get(server.port, b"/small.txt").body == SMALL
            time.sleep(1.1)  # past the one-message-a-second limit
        status, err = server.stop()
        assert status == 0
        assert "out of file descriptors" not in err
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait()


def test_stalled_streams_never_take_the_fds_kept_back(tmp_path):
    # 128 fds; 59 stalled downloads of 59 different files too large for
    # the 1 MiB cache (and for the socket buffers: they stay stalled), each
    # streamed from an fd of its own.  Connections
    # and streams share what is not kept back: those that find no fd left
    # get 503 (never 500), and a client already in still gets a file it
    # has not asked for before.
    root = tmp_path / "root"
    root.mkdir()
    names = ["s%d.bin" % i for i in range(59)]
    files = make_files(str(root), names, MIB)
    (root / "small.txt").write_bytes(SMALL)
    server = Knot(str(root), "-c", "60", "-t", "60", "--cache-mib", "1",
                  preexec_fn=fd_limit(128))
    clients = []
    statuses = {}

    def finish(name, s):
        head, _, body = read_all(s).partition(b"\r\n\r\n")
        s.close()
        status = int(head.split(b" ", 2)[1])
        statuses[status] = statuses.get(status, 0) + 1
        assert status in (200, 503), head
        if status == 200:
            assert body == files[name]
    try:
        c = Client(server.port)
        for name in names:
            s = stalled_download(server.port, b"/" + name.encode())
            if s.recv(12, socket.MSG_PEEK) == b"HTTP/1.1 503":
                finish(name, s)  # refused: the client goes, as a real one would
            else:
                clients.append((name, s))
        c.send(b"GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        r = c.response()
        assert (r.status, r.body) == (200, SMALL)
        c.close()
        while clients:
            finish(*clients.pop())
        # 128 less the 32 kept back: 96 for connections and streams
        # together.  The k-th download comes with k + 1 connections open
        # (the refused ones have left) and k - 1 streams: while 2k < 96 it
        # gets one, so 47 do; from then on each is 503.
        assert statuses == {200: 47, 503: 12}, statuses
    finally:
        for _, s in clients:
            s.close()
        server.proc.kill()
        server.proc.wait()
