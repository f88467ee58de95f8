"""The README's server, built with the README's own lines: after `make
install` to a fresh prefix (shared library with rpath, and the archive),
and from the build tree (gt-uninstalled.pc).  Each binary starts without
LD_LIBRARY_PATH, echoes on 127.0.0.1:7000 only, and the readers see its
threads at file:line (gt.pc's -g)."""
import os
import re
import socket
import subprocess
import time

import pytest

import gtmake

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("GT_BUILD", os.path.join(ROOT, "build"))
README = os.path.join(ROOT, "README.md")
PORT = 7000


def readme():
    with open(README) as f:
        return f.read()


def server_source():
    m = re.search(r"^## A server in (\d+) lines\n\n```c\n(.*?)```", readme(), re.S | re.M)
    assert m, "README has no server section"
    return int(m.group(1)), m.group(2)


def build_lines():
    """The README's indented shell lines that compile echo.c (continuations
    joined)."""
    text = readme().split("## A server in", 1)[1].split("\n## ", 1)[0]
    lines = re.findall(r"^    (cc .*?(?:\\\n.*?)*)$", text, re.M)
    return [l.replace("\\\n", " ") for l in lines]


def test_title_tells_the_truth():
    n, src = server_source()
    assert len(src.splitlines()) == n


@pytest.fixture(scope="module")
def prefix(tmp_path_factory):
    pre = tmp_path_factory.mktemp("prefix")
    p = gtmake.make("BUILD=" + BUILD, "PREFIX=" + str(pre), "install-lib")
    assert p.returncode == 0, p.stderr
    return pre


def compile_with(line, workdir, pkg_path):
    with open(workdir / "echo.c", "w") as f:
        f.write(server_source()[1])
    env = dict(os.environ, PKG_CONFIG_PATH=pkg_path)
    env.pop("LD_LIBRARY_PATH", None)
    p = subprocess.run(["sh", "-c", line + " -o echo"], cwd=workdir, capture_output=True,
                       text=True, env=env, timeout=120)
    assert p.returncode == 0, (line, p.stderr)
    return workdir / "echo"


def check_serves(exe):
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    srv = subprocess.Popen([str(exe)], stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.time() + 10
        while True:
            try:
                c = socket.create_connection(("127.0.0.1", PORT), timeout=5)
                break
            except OSError:
                assert srv.poll() is None, srv.stderr.read()
                assert time.time() < deadline, "the server never listened"
                time.sleep(0.05)
        with c:
            c.sendall(b"hello\n")
            assert c.recv(100) == b"hello\n"
            # Loopback only: the listening socket's local address.
            with open("/proc/net/tcp") as f:
                listen = [l.split() for l in f.readlines()[1:]
                          if l.split()[3] == "0A" and l.split()[1].endswith(":%04X" % PORT)]
            assert [l[1] for l in listen] == ["0100007F:%04X" % PORT], listen
            # The connection's thread at conn_main (echo.c:LINE): -g is in.
            out = subprocess.run([os.path.join(BUILD, "bin", "gt-stacks"), str(srv.pid)],
                                 capture_output=True, text=True, timeout=60).stdout
            n = next(i for i, l in enumerate(server_source()[1].splitlines(), 1)
                     if "read(fd, buf" in l)
            assert "conn_main (echo.c:%d)" % n in out, out
    finally:
        srv.kill()
        srv.wait()


def test_installed_shared_line(prefix, tmp_path):
    shared = [l for l in build_lines() if "-lgt" not in l and "libgt.a" not in l]
    assert shared == ["cc -O2 echo.c $(pkg-config --cflags --libs gt)"], build_lines()
    exe = compile_with(shared[0], tmp_path, str(prefix / "lib" / "pkgconfig"))
    needed = subprocess.run(["readelf", "-d", str(exe)], capture_output=True, text=True).stdout
    assert "libgt.so.0" in needed and str(prefix / "lib") in needed, needed
    check_serves(exe)


def test_installed_archive_line(prefix, tmp_path):
    [static] = [l for l in build_lines() if "libgt.a" in l]
    exe = compile_with(static, tmp_path, str(prefix / "lib" / "pkgconfig"))
    needed = subprocess.run(["readelf", "-d", str(exe)], capture_output=True, text=True).stdout
    assert "libgt.so" not in needed, needed
    check_serves(exe)


def test_uninstalled_line(tmp_path):
    line = "cc -O2 echo.c $(pkg-config --cflags --libs gt)"
    pc = os.path.join(BUILD, "lib", "pkgconfig")
    assert os.path.exists(os.path.join(pc, "gt-uninstalled.pc"))
    assert "PKG_CONFIG_PATH=build/lib/pkgconfig pkg-config --cflags --libs gt" in readme()
    check_serves(compile_with(line, tmp_path, pc))
