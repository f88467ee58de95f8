"""A stack overflow in a green thread: a report, then a core file."""
import os
import re
import resource
import signal
import subprocess

BUILD = os.environ.get("GT_BUILD", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
EXE = os.path.abspath(os.path.join(BUILD, "tests", "integration", "overflow"))


def test_overflow_report_and_core(tmp_path):
    def unlimited_core():
        resource.setrlimit(resource.RLIMIT_CORE,
                           (resource.RLIM_INFINITY, resource.RLIM_INFINITY))

    p = subprocess.run([EXE], cwd=tmp_path, capture_output=True, text=True,
                       preexec_fn=unlimited_core, timeout=60)
    err = p.stderr
    assert p.returncode == -signal.SIGSEGV, err
    assert re.search(r'green thread 2 "deep-diver": stack overflow', err), err
    assert "(below the stack: in its guard)" in err
    assert "(65536 bytes;" in err
    # Its location: parked once, in park_here, called from diver.
    loc = err.split("location (where it last parked):")[1].split("backtrace:")[0]
    pcs = [int(x, 16) for x in re.findall(r"0x([0-9a-f]+)", loc)]
    assert len(pcs) == 2
    # The backtrace folds the recursion and reaches the thread's entry.
    bt = err.split("backtrace:")[1]
    assert re.search(r"dive(\.\w+)*\+", bt) and "the same frame" in bt
    assert re.search(r"diver(\.\w+)*\+", bt) and "gt__thread_start+" in bt
    core = tmp_path / "core"
    assert core.exists(), "no core file written"
    with open(core, "rb") as f:
        head = f.read(18)
    assert head[:4] == b"\x7fELF" and int.from_bytes(head[16:18], "little") == 4
    core.unlink()
