"""make of this tree from inside a suite: the suite may itself run under
make (make test), whose flags and job server must not leak into it."""
import os
import subprocess

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def make(*args, timeout=600):
    """`make -C ROOT ARGS...`, its CompletedProcess (output captured)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
    return subprocess.run(["make", "--no-print-directory", "-C", ROOT] + list(args),
                          capture_output=True, text=True, env=env, timeout=timeout)
