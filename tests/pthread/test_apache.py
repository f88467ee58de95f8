"""Apache httpd 2.4 (Debian's apache2-bin, worker MPM), unmodified, on gt:
LD_PRELOAD=libgt-pthread.so apache2 with one child of THREADS worker
threads serves a static file to wrk's 1,000 keep-alive connections with no
error; gt-top, gt-stacks and the GDB extension attached to the child see
every worker parked on the fdqueue's condition variable, the listener in
accept and the child's main thread on the pipe of death, with Apache's own
frames; a graceful restart replaces the child and SIGTERM stops the server.

The configuration is the test's own (a temporary ServerRoot; User nobody,
since Apache refuses to serve as root).  Accept mutex: none is needed with
one child and one listener (Apache then takes none); see
runtime/pthread/README.md."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
BUILD = os.environ.get("GT_BUILD", os.path.join(ROOT, "build"))
LIB = os.path.join(BUILD, "lib", "libgt-pthread.so")
GT_STACKS = os.path.join(BUILD, "bin", "gt-stacks")
GT_TOP = os.path.join(BUILD, "bin", "gt-top")
LOADER = os.path.join(ROOT, "gdb", "gt-gdb.py")
APACHE = "/usr/sbin/apache2"
MODULES = "/usr/lib/apache2/modules"
THREADS = 2000
CONNS = 1000
BODY = "static file served by apache on gt\n" * 20


def require_apache():
    # make test installs apache2-bin (tools/install-deps.sh): its absence
    # is a broken set-up, said in one line.
    if not os.path.exists(APACHE) or not shutil.which("wrk"):
        pytest.fail("apache2 or wrk missing: run tools/install-deps.sh "
                    "(Debian packages apache2-bin, wrk)", pytrace=False)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_conf(d, port, threads):
    docs = os.path.join(d, "htdocs")
    os.makedirs(docs)
    os.makedirs(os.path.join(d, "logs"))
    with open(os.path.join(docs, "index.html"), "w") as f:
        f.write(BODY)
    for p in (d, docs):  # the child runs as nobody
        os.chmod(p, 0o755)
    mods = "".join("LoadModule %s_module %s/mod_%s.so\n" % (m, MODULES, f)
                   for m, f in (("mpm_worker", "mpm_worker"),
                                ("authz_core", "authz_core"),
                                ("mime", "mime"), ("dir", "dir")))
    conf = os.path.join(d, "httpd.conf")
    with open(conf, "w") as f:
        f.write(mods + """
ServerRoot {d}
PidFile {d}/logs/httpd.pid
ErrorLog {d}/logs/error.log
LogLevel info
Listen 127.0.0.1:{port}
ServerName 127.0.0.1
User nobody
Group nogroup
ServerLimit 1
StartServers 1
ThreadLimit {n}
ThreadsPerChild {n}
MaxRequestWorkers {n}
MinSpareThreads 1
MaxSpareThreads {n}
MaxRequestsPerChild 0
KeepAlive On
MaxKeepAliveRequests 0
DocumentRoot {d}/htdocs
DirectoryIndex index.html
TypesConfig /dev/null
<Directory {d}/htdocs>
  Require all granted
</Directory>
""".format(d=d, port=port, n=threads))
    return conf


def children(pid):
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True,
                         text=True).stdout.split()
    return [int(x) for x in out]


def get(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/" % port,
                                timeout=10) as r:
        return r.status, r.read().decode()


def wait_child(parent, port, not_pid=None):
    """The one child, once it serves (not not_pid: the one before)."""
    for _ in range(600):
        assert parent.poll() is None, "apache2 exited"
        kids = [c for c in children(parent.pid) if c != not_pid]
        if len(kids) == 1:
            try:
                if get(port) == (200, BODY):
                    return kids[0]
            except OSError:
                pass
        time.sleep(0.05)
    raise AssertionError("no child of apache2 served")


def wait_parked(pid, want):
    """Until gt-top sees want threads parked (the load has drained)."""
    for _ in range(400):
        doc = top_json(pid)
        if doc["states"]["parked"] >= want:
            return doc
        time.sleep(0.05)
    raise AssertionError("threads of %d never parked: %s" % (pid, doc["states"]))


def top_json(pid):
    r = subprocess.run([GT_TOP, "-b", "-n", "1", "--format", "json",
                        str(pid)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.fixture(scope="module")
def apache():
    require_apache()
    # Not pytest's tmp_path: its parents are private to root, and the
    # child, as nobody, must reach the documents.
    d = tempfile.mkdtemp(prefix="gt-apache-")
    port = free_port()
    conf = write_conf(d, port, THREADS)
    env = dict(os.environ, LD_PRELOAD=LIB)
    env.pop("GT_WATCHDOG_MS", None)
    p = subprocess.Popen([APACHE, "-f", conf, "-DFOREGROUND"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True)
    try:
        child = wait_child(p, port)
        yield p, port, child, d
    finally:
        if p.poll() is None:
            # SIGTERM stops the children too; a parent killed outright
            # would leave its child serving.
            kids = children(p.pid)
            p.terminate()
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            for k in kids:
                try:
                    os.kill(k, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        p.stdout.close()
        shutil.rmtree(d, ignore_errors=True)


def test_serves_wrk_1000_connections(apache):
    p, port, child, _ = apache
    # A long timeout: what counts is an error, not a late answer on a
    # machine other suites keep busy.
    r = subprocess.run(["wrk", "-t1", "-c%d" % CONNS, "-d3s", "--timeout",
                        "30s", "http://127.0.0.1:%d/" % port],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    m = re.search(r"(\d+) requests in", r.stdout)
    assert m and int(m.group(1)) > CONNS, r.stdout
    # wrk prints these lines only when something went wrong.
    assert "Socket errors" not in r.stdout, r.stdout
    assert "Non-2xx" not in r.stdout, r.stdout
    assert get(port) == (200, BODY)
    assert children(p.pid) == [child]


def test_gt_top_sees_workers_listener_and_main(apache):
    _, _, child, _ = apache
    doc = wait_parked(child, THREADS + 2)
    locs = {l["where"].split(" < ")[0]: l for l in doc["locations"]
            if l["waiting"]}
    # Every worker waits for a connection on the fdqueue's condition.
    pop = locs["ap_queue_pop_something (apache2)"]
    assert pop["waiting"] == THREADS and pop["kind"] == "cond", pop
    acc = locs["apr_socket_accept (libapr-1.so.0.7.2)"]
    assert acc["waiting"] == 1 and acc["kind"] == "fd", acc
    pod = locs["ap_mpm_podx_check (apache2)"]
    assert pod["waiting"] == 1 and pod["kind"] == "fd", pod


KEEPALIVE = 50


def test_keepalive_connections_wait_in_apr(apache):
    """Each open keep-alive connection holds one worker (the worker MPM),
    parked in APR's wait for the next request on that connection's
    socket: gt-top's threads list names exactly the sockets the test
    holds open (the server's ends, matched by port pairs in
    /proc/net/tcp)."""
    _, port, child, _ = apache
    wait_parked(child, THREADS + 2)
    conns = []
    try:
        for _ in range(KEEPALIVE):
            c = socket.create_connection(("127.0.0.1", port), timeout=10)
            c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            got = b""
            while BODY.encode() not in got:
                chunk = c.recv(65536)
                assert chunk, got
                got += chunk
            conns.append(c)
        # The server's end of each of our connections: its local port is
        # Apache's, its remote port is our socket's local one.
        ours = {c.getsockname()[1] for c in conns}
        inodes = set()
        with open("/proc/%d/net/tcp" % child) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                local, remote = fields[1], fields[2]
                if int(local.split(":")[1], 16) == port and \
                        int(remote.split(":")[1], 16) in ours:
                    inodes.add(fields[9])
        assert len(inodes) == KEEPALIVE
        waiting = []
        for _ in range(200):
            doc = json.loads(subprocess.run(
                [GT_TOP, "-b", "-n", "1", "--view", "threads", "--format",
                 "json", str(child)], capture_output=True, text=True,
                timeout=60).stdout)
            waiting = []
            for t in doc["threads_list"]:
                if t["state"] != "parked" or t["wait_kind"] not in ("fd",
                                                                    "poll"):
                    continue
                try:
                    link = os.readlink("/proc/%d/fd/%d" % (child,
                                                           t["wait_obj"]))
                except OSError:
                    continue
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    waiting.append(t)
            if len(waiting) == KEEPALIVE:
                break
            time.sleep(0.05)
        assert len(waiting) == KEEPALIVE, len(waiting)
        assert len({t["wait_obj"] for t in waiting}) == KEEPALIVE
        # In APR's socket wait, called from Apache's request reading.
        for t in waiting:
            assert t["where"].startswith("apr_wait_for_io_or_timeout ("), t
    finally:
        for c in conns:
            c.close()


def test_gt_stacks_groups_with_apache_frames(apache):
    _, _, child, _ = apache
    r = subprocess.run([GT_STACKS, "--json", str(child)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["threads"] >= THREADS + 2

    def names(g):
        return [f.get("function") for f in g["frames"]]
    groups = {}
    for g in doc["groups"]:
        fns = names(g)
        for key in ("ap_queue_pop_something", "ap_unixd_accept",
                    "ap_mpm_podx_check"):
            if key in fns:
                groups[key] = (g, fns)
    g, fns = groups["ap_queue_pop_something"]
    assert g["count"] == THREADS
    assert fns.index("pthread_cond_wait") < fns.index("ap_queue_pop_something")
    g, fns = groups["ap_unixd_accept"]
    assert g["count"] == 1
    assert fns.index("accept4") < fns.index("apr_socket_accept") \
        < fns.index("ap_unixd_accept")
    g, fns = groups["ap_mpm_podx_check"]
    assert g["count"] == 1 and "ap_run_mpm" in fns and "main" in fns


def gdb(pid, *commands):
    argv = ["gdb", "-batch", "-nx", "-p", str(pid), "-ex", "source " + LOADER]
    for c in commands:
        argv += ["-ex", c]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    return r.stdout


def test_gdb_lists_them_and_shows_apache_frames(apache):
    _, _, child, _ = apache
    out = gdb(child, "info green-threads -l ap_queue_pop_something "
                     "--limit 1 --json")
    listing = json.loads(next(l for l in out.splitlines()
                              if l.startswith("{")))
    assert listing["threads"] >= THREADS + 2
    assert listing["matched"] == THREADS
    worker = listing["threads_list"][0]["id"]
    assert worker != 1
    out = gdb(child, "green-thread %d" % worker, "bt",
              "green-thread 1", "bt")
    # Every thread has its creator's name, as natively: the child's.
    i = out.index('Switching to green thread %d (apache2),' % worker)
    j = out.index('Switching to green thread 1 (apache2),')
    # A worker: Apache's fdqueue waits on the condition variable.
    bt = out[i:j]
    assert re.search(r"#\d+ .* in pthread_cond_wait \(", bt), bt
    assert re.search(r"#\d+ .* in ap_queue_pop_something \(", bt), bt
    # Green thread 1 is the child's main thread, on the pipe of death.
    bt = out[j:]
    for fn in ("ap_mpm_podx_check", "ap_run_mpm", "main"):
        assert re.search(r"#\d+ .* in %s \(" % fn, bt), bt


def test_graceful_restart_then_stop(apache):
    p, port, child, d = apache
    p.send_signal(signal.SIGUSR1)
    new = wait_child(p, port, not_pid=child)
    assert new != child
    assert get(port) == (200, BODY)
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=20) == 0
    with open(os.path.join(d, "logs", "error.log")) as f:
        log = f.read()
    assert "caught SIGTERM, shutting down" in log, log
