"""Writes the fuzzer's seed corpus: memory images of the tools' fixture
programs, running with every thread parked, made by make_image.

Usage: GT_BUILD=build python3 tests/fuzz/make_corpus.py DIR

Program numbers are fuzz.mk's FUZZ_PROGRAM_NAMES, from 1.  Small thread
counts keep each image a few kilobytes."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from ready_process import wait_idle  # noqa: E402

BUILD = os.environ.get("GT_BUILD", "build")
FIXTURES = os.path.join(BUILD, "tests", "tools")
MAKE_IMAGE = os.path.join(BUILD, "tests", "fuzz", "make_image")
PROGRAMS = ["known_stacks", "waits", "unstacked", "blockers"]

# (image name, program, its arguments, make_image's extra argument, whether
# the image names the program)
SEEDS = [
    ("known_stacks", "known_stacks", ["1", "1", "1", "1", "1"], [], True),
    ("known_stacks_moves", "known_stacks", ["2", "1", "1", "2", "1"], ["moves"], True),
    ("known_stacks_nosyms", "known_stacks", ["1", "1", "1", "1", "1"], [], False),
    ("waits", "waits", ["2"], [], True),
    ("unstacked", "unstacked", ["2", "1"], ["moves"], True),
    # Who blocks whom: a holder and its waiters, the cycles, a joiner, a
    # cond waiter and channel waiters (it says "truth", not "ready").
    ("blockers", "blockers", ["-n", "0", "-w", "3", "-x"], [], True),
]


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, prog, args, extra, named in SEEDS:
        p = subprocess.Popen([os.path.join(FIXTURES, prog)] + args,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)
        try:
            line = p.stdout.readline()
            if not line.startswith(("ready ", "truth ")):
                raise SystemExit("make_corpus: %s did not start: %r" % (prog, line))
            wait_idle(p.pid)
            number = PROGRAMS.index(prog) + 1 if named else 0
            subprocess.run([MAKE_IMAGE, str(p.pid), str(number),
                            os.path.join(out, name)] + extra, check=True)
        finally:
            p.kill()
            p.wait()
        print("  %-22s %6d bytes" % (name, os.path.getsize(os.path.join(out, name))))


if __name__ == "__main__":
    main()
