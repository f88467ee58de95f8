"""Every conformance program of tests/pthread (see pt_check.h) natively
and on gt: under LD_PRELOAD=libgt-pthread.so, and lifecycle.c also linked
with -lgt-pthread.  Each program checks POSIX's stated behaviour itself and
exits 0; here both runs must pass and print the same lines.  That a gt run
is really on gt is checked from the library's own start-up: with
GT_PTHREAD_WARN_TLS=2 it names every loaded object with a TLS segment
(libc has one), which it does only when it started main on gt."""
import glob
import os
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("GT_BUILD", os.path.join(HERE, "..", "..", "build"))
LIB = os.path.join(BUILD, "lib", "libgt-pthread.so")
PROGS = os.path.join(BUILD, "tests", "pthread")

# Programs whose gt run must differ in a stated way: their own tests.
SPECIAL = {"cancel", "tls", "ctor_join"}
NAMES = sorted(n for n in (os.path.splitext(os.path.basename(p))[0]
                           for p in glob.glob(os.path.join(HERE, "*.c")) +
                           glob.glob(os.path.join(HERE, "*.cc")))
               if not n.startswith("fx_") and n not in SPECIAL)


def run(name, mode, env=None, timeout=120):
    """(status, stdout, stderr) of program NAME run natively, under the
    preload or linked; the gt runs are checked to be on gt."""
    exe = os.path.join(PROGS, name + ("-linked" if mode == "linked" else ""))
    e = dict(os.environ)
    e.pop("LD_PRELOAD", None)
    e.pop("GT_PTHREAD_WARN_TLS", None)
    e.update(env or {})
    if mode == "preload":
        e["LD_PRELOAD"] = LIB
    if mode != "native":
        e.setdefault("GT_PTHREAD_WARN_TLS", "2")
    p = subprocess.run([exe], capture_output=True, text=True, timeout=timeout,
                       env=e)
    if mode != "native" and e["GT_PTHREAD_WARN_TLS"] == "2":
        libc = [l for l in p.stderr.splitlines()
                if l.startswith("gt-pthread: ") and "libc.so" in l]
        assert libc, "%s did not start on gt: %s" % (name, p.stderr)
    return p.returncode, p.stdout, p.stderr


@pytest.mark.parametrize("name", NAMES)
def test_same_behaviour(name):
    rc, native, err = run(name, "native")
    assert rc == 0, err
    assert native.strip(), "%s printed no ok line" % name
    rc, green, err = run(name, "preload")
    assert rc == 0, err
    assert green == native


def test_linked_form():
    rc, native, err = run("lifecycle", "native")
    assert rc == 0, err
    rc, green, err = run("lifecycle", "linked")
    assert rc == 0, err
    assert green == native


def test_cancel_not_supported():
    """Natively the thread is cancelled; on gt pthread_cancel is ENOTSUP,
    said once on stderr, and the thread runs to its end; the cancel state
    and type calls behave alike."""
    rc, native, err = run("cancel", "native")
    assert rc == 0, err
    assert native == "cancel 0\njoined canceled\nok cancel-state\n"
    rc, green, err = run("cancel", "preload")
    assert rc == 0, err
    assert green == "cancel ENOTSUP\njoined returned\nok cancel-state\n"
    said = [l for l in err.splitlines() if "pthread_cancel" in l]
    assert said == ["gt-pthread: pthread_cancel is not supported on green "
                    "threads: ENOTSUP"]


def tls_lines(err):
    return [l for l in err.splitlines()
            if l.startswith("gt-pthread: ") and "__thread variables" in l]


def test_tls_warning():
    """The program's own TLS segment (4 KiB of __thread) is reported at
    start on gt, once, naming the program; GT_PTHREAD_WARN_TLS=0 silences
    it; a program without one, and a native run, print nothing."""
    exe = os.path.join(PROGS, "tls")
    rc, out, err = run("tls", "native")
    assert rc == 0 and out == "ok tls\n" and not tls_lines(err)
    rc, out, err = run("tls", "preload", {"GT_PTHREAD_WARN_TLS": "1"})
    assert rc == 0 and out == "ok tls\n", err
    lines = tls_lines(err)
    assert len(lines) == 1, err
    assert lines[0].startswith("gt-pthread: %s has " % exe)
    size = int(lines[0].split(" has ")[1].split()[0])
    assert 4096 <= size < 4096 + 64
    rc, out, err = run("tls", "preload", {"GT_PTHREAD_WARN_TLS": "0"})
    assert rc == 0 and out == "ok tls\n" and not tls_lines(err), err
    rc, out, err = run("lifecycle", "preload", {"GT_PTHREAD_WARN_TLS": "1"})
    assert rc == 0 and not tls_lines(err), err


def test_join_before_main():
    """A constructor's join of a thread it made: natively 0; on gt the
    thread starts with main, so EDEADLK with one line on stderr, and main
    can join it."""
    rc, native, err = run("ctor_join", "native")
    assert rc == 0, err
    assert native == "constructor join 0\nok ctor-join\n"
    rc, green, err = run("ctor_join", "preload")
    assert rc == 0, err
    assert green == "constructor join EDEADLK\nok ctor-join\n"
    said = [l for l in err.splitlines() if "pthread_join" in l]
    assert said == ["gt-pthread: pthread_join before main would wait forever "
                    "(the thread starts with main): EDEADLK"]


def test_exit_puts_back_fd_flags():
    """A program whose main read its stdin pipe (a pipe the runtime turns
    non-blocking underneath) and returned: once it has exited the pipe,
    shared with whoever gave it, is blocking again, as it was.  A pipe the
    caller had made non-blocking itself stays so."""
    import fcntl
    fx = os.path.join(PROGS, "fx_parked")
    env = dict(os.environ, LD_PRELOAD=LIB)
    for nonblock in (False, True):
        r, w = os.pipe()
        try:
            if nonblock:
                os.set_blocking(r, False)
            os.write(w, b"x\n")
            p = subprocess.run([fx, "0", "0", "0"], stdin=r, capture_output=True,
                               text=True, env=env, timeout=60)
            assert p.returncode == 0, p.stderr
            assert p.stdout.startswith("ready ")
            assert bool(fcntl.fcntl(r, fcntl.F_GETFL) & os.O_NONBLOCK) == nonblock
        finally:
            os.close(r)
            os.close(w)


def test_gt_program_left_alone():
    """A gt program (tests/viewer/before_main.c, linked with libgt.a) run
    with the preload, as one inheriting LD_PRELOAD from a parent would be:
    the library says in one line that it leaves it alone, and the
    program's own runtime runs as without the preload (no second runtime
    around it: no TLS line, no watchdog clash)."""
    exe = os.path.join(BUILD, "tests", "viewer", "before_main")
    env = dict(os.environ, LD_PRELOAD=LIB)
    env.pop("GT_PTHREAD_WARN_TLS", None)
    env.pop("GT_WATCHDOG_MS", None)
    p = subprocess.run([exe], input="go\n", capture_output=True, text=True,
                       env=env, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "ready\n"
    assert p.stderr == ("gt-pthread: %s runs on gt already (it links libgt): "
                        "its main runs as it is\n" % exe)


def test_make_install_installs_the_library(tmp_path):
    """make install puts libgt-pthread.so under PREFIX/lib, and a pthread
    program preloaded from there runs on gt."""
    root = os.path.join(HERE, "..", "..")
    r = subprocess.run(["make", "-C", root, "BUILD=" + BUILD,
                        "DESTDIR=" + str(tmp_path), "PREFIX=/opt/gt",
                        "install-pthread"], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    lib = os.path.join(str(tmp_path), "opt", "gt", "lib", "libgt-pthread.so")
    assert os.path.exists(lib)
    e = dict(os.environ, LD_PRELOAD=lib, GT_PTHREAD_WARN_TLS="2")
    p = subprocess.run([os.path.join(PROGS, "lifecycle")], capture_output=True,
                       text=True, timeout=120, env=e)
    assert p.returncode == 0, p.stderr
    assert any(l.startswith("gt-pthread: ") and "libc.so" in l
               for l in p.stderr.splitlines()), p.stderr
