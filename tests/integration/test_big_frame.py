"""A frame bigger than a green thread's stack (big_frame.c): the overflow
faults in that thread's own guard, gt's report names it, and no byte of
the stacks below it changes (read back from the core the crash leaves)."""
import os
import re
import resource
import signal
import struct
import subprocess

import pytest

BUILD = os.environ.get("GT_BUILD", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
EXE = os.path.abspath(os.path.join(BUILD, "tests", "integration", "big_frame"))
PC_DIR = os.path.abspath(os.path.join(BUILD, "lib", "pkgconfig"))
MARK = b"gt-overflow-mark"


class Core:
    """The memory of an ELF64 core file: its PT_LOAD segments."""

    def __init__(self, path):
        self.f = open(path, "rb")
        head = self.f.read(64)
        assert head[:4] == b"\x7fELF" and head[4] == 2, "not an ELF64 file"
        phoff, = struct.unpack_from("<Q", head, 32)
        phentsize, phnum = struct.unpack_from("<HH", head, 54)
        self.loads = []
        for i in range(phnum):
            self.f.seek(phoff + i * phentsize)
            ph = self.f.read(56)
            p_type, _, p_offset, p_vaddr, _, p_filesz, p_memsz, _ = \
                struct.unpack("<IIQQQQQQ", ph)
            if p_type == 1:
                self.loads.append((p_vaddr, p_memsz, p_offset, p_filesz))

    def read(self, addr, size):
        for vaddr, memsz, offset, filesz in self.loads:
            if vaddr <= addr and addr + size <= vaddr + memsz:
                rel = addr - vaddr
                assert rel + size <= filesz, "%#x: not in the core's data" % addr
                self.f.seek(offset + rel)
                return self.f.read(size)
        raise AssertionError("%#x..+%d is in no segment of the core" % (addr, size))

    def close(self):
        self.f.close()


def pattern(n):
    return bytes((i * 7 + 1) & 0xff for i in range(n))


def run_fixture(tmp_path, kb, guard):
    def unlimited_core():
        resource.setrlimit(resource.RLIMIT_CORE,
                           (resource.RLIM_INFINITY, resource.RLIM_INFINITY))

    env = dict(os.environ, GT_GUARD=guard)
    return subprocess.run([EXE, str(kb)], cwd=tmp_path, capture_output=True,
                          text=True, preexec_fn=unlimited_core, timeout=60,
                          env=env)


# Both guards that cost no canary: MADV_GUARD_INSTALL (the default where
# the kernel has it) and mprotect, one mapping per guard whatever its size.
@pytest.mark.parametrize("guard", ["madvise", "mprotect"])
@pytest.mark.parametrize("kb", [70, 200])
def test_big_frame_faults_in_its_own_guard(tmp_path, kb, guard):
    p = run_fixture(tmp_path, kb, guard)
    out, err = p.stdout, p.stderr
    threads = {}
    for m in re.finditer(r"^thread (\d+) (\S+) (0x[0-9a-f]+) (0x[0-9a-f]+) (\d+)$",
                         out, re.M):
        threads[m.group(2)] = (int(m.group(1)), int(m.group(3), 16),
                               int(m.group(4), 16), int(m.group(5)))
    assert set(threads) == {"main", "neighbour", "overflower"}, out + err
    oid, olo, ohi, oguard = threads["overflower"]
    nid, nlo, nhi, _ = threads["neighbour"]
    # The frame is bigger than the stack, and the stacks are neighbours:
    # the overflower's guard is all that lies between them.
    assert ohi - olo == 65536
    assert oguard == 65536, out
    assert olo - oguard == nhi, out
    # Faulted in its own guard, and the report says so, naming it.
    assert "pattern corrupted" not in out, out + err
    assert "frame returned" not in out, out + err
    assert p.returncode == -signal.SIGSEGV, out + err
    assert re.search(r'green thread %d "overflower": stack overflow' % oid, err), err
    fault = int(re.search(r"fault address (0x[0-9a-f]+) \(below the stack: in its guard\)",
                          err).group(1), 16)
    assert olo - oguard <= fault < olo, (hex(fault), hex(olo), oguard)
    assert "(65536 bytes;" in err
    bt = err.split("backtrace:")[1]
    assert re.search(r"frame_%dk(\.\w+)*\+" % kb, bt), bt
    # Nothing below it was written: the neighbour's pattern is whole, and
    # the mark is in no other thread's stack.
    core_path = tmp_path / "core"
    assert core_path.exists(), "no core file written"
    core = Core(core_path)
    try:
        addr, n = [int(x, 0) for x in re.search(r"^pattern (\S+) (\d+)$", out, re.M).groups()]
        assert nlo <= addr and addr + n <= nhi
        assert core.read(addr, n) == pattern(n), "the neighbour's pattern changed"
        for name, (_, lo, hi, _) in threads.items():
            if name != "overflower":
                assert MARK not in core.read(lo, hi - lo), \
                    "the overflowing frame wrote into %s's stack" % name
    finally:
        core.close()
        core_path.unlink()


def test_gt_pc_gives_stack_clash_protection():
    for pc in ("gt.pc", "gt-uninstalled.pc"):
        p = subprocess.run(["pkg-config", "--cflags", os.path.join(PC_DIR, pc)],
                           capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        assert "-fstack-clash-protection" in p.stdout.split(), (pc, p.stdout)
