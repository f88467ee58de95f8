"""Process-shared sync objects under libgt-pthread.so: every request is
refused with the documented error (EINVAL; ENOSYS for sem_init), and each
refusing function says so in one line on stderr, the first time only
(tests/pthread/fixtures/sync_pshared.c asks twice for each)."""
import errno
import os
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("GT_BUILD", os.path.join(HERE, "..", "..", "build"))
LIB = os.path.join(BUILD, "lib", "libgt-pthread.so")
SOURCE = os.path.join(HERE, "fixtures", "sync_pshared.c")
FUNCS = ["pthread_mutexattr_setpshared", "pthread_condattr_setpshared",
         "pthread_rwlockattr_setpshared", "pthread_barrierattr_setpshared",
         "pthread_spin_init", "sem_init"]


def test_pshared_refused_once_each(tmp_path):
    exe = str(tmp_path / "sync_pshared")
    subprocess.run(["cc", "-std=gnu11", "-Wall", "-Werror", "-g", "-pthread", "-o", exe,
                    SOURCE], check=True)
    native = subprocess.run([exe], capture_output=True, text=True, timeout=60)
    assert native.returncode == 0 and native.stderr == ""
    assert native.stdout.split() == ["results"] + ["0"] * 12
    r = subprocess.run([exe], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, LD_PRELOAD=LIB))
    assert r.returncode == 0, r.stderr
    want = [errno.EINVAL] * 5 + [errno.ENOSYS]
    assert r.stdout.split() == ["results"] + [str(e) for e in want * 2]
    assert r.stderr.splitlines() == [
        "gt-pthread: %s: process-shared objects are not supported (green threads "
        "of one process only); refused" % f for f in FUNCS]
