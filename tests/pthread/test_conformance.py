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
SPECIAL = {"cancel", "tls"}
NAMES = sorted(os.path.basename(p)[:-2] for p in glob.glob(os.path.join(HERE, "*.c"))
               if not os.path.basename(p).startswith("fx_")
               and os.path.basename(p)[:-2] not in SPECIAL)


def run(name, mode, env=None, timeout=120):
    """(status, stdout, stderr) of program NAME run natively, under the
    preload or linked; the gt runs are checked to be on gt."""
    exe = os.path.join(PROGS, name + ("-linked" if mode == "linked" else ""))
    e = dict(os.environ, **(env or {}))
    e.pop("LD_PRELOAD", None)
    e.pop("GT_PTHREAD_WARN_TLS", None)
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
