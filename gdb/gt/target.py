"""The program being debugged: is there one, where is its registry, what
time is it there, and raw memory reads.

The registry is found through its exported symbol `gt_registry`, which is
in .dynsym of every gt program (and of libgt.so), so this works on stripped
binaries and on core files; no DWARF is needed.
"""
import struct
import time

import gdb

from . import abi


class Target:
    """The selected inferior as a source of registry bytes."""

    def __init__(self):
        inf = gdb.selected_inferior()
        if inf is None or inf.pid == 0 or not inf.threads():
            raise gdb.GdbError("gt: no process and no core file: run the "
                               "program, attach to it, or load a core "
                               "(`core-file FILE`)")
        self.inferior = inf
        conn = getattr(inf, "connection", None)
        self.kind = getattr(conn, "type", None) or "native"
        self.is_core = self.kind == "core"
        self.address = self._find_registry()

    def _find_registry(self):
        try:
            v = gdb.parse_and_eval("&gt_registry")
        except gdb.error:
            raise gdb.GdbError("gt: no gt runtime in this program "
                               "(no symbol gt_registry; is it linked with libgt?)")
        return int(v.cast(gdb.lookup_type("unsigned long")))

    def read(self, addr, size):
        """size bytes at addr; gdb.MemoryError if any byte is unreadable."""
        return self.inferior.read_memory(addr, size).tobytes()

    def try_read(self, addr, size):
        """Like read, but None instead of an error (a damaged pointer)."""
        try:
            return self.inferior.read_memory(addr, size).tobytes()
        except (gdb.MemoryError, gdb.error, OverflowError, ValueError):
            return None

    def u64(self, addr):
        return struct.unpack("<Q", self.read(addr, 8))[0]

    def now_ns(self, clock_now):
        """The target's CLOCK_MONOTONIC now.

        A core's now is the runtime's last reading; a live local process
        shares this machine's clock, which is fresher than that reading
        (the runtime reads the clock only when it parks or polls).
        """
        if self.is_core or self.kind != "native":
            return clock_now
        return max(clock_now, time.monotonic_ns())


def current():
    """The Target of the selected inferior, or a one-line gdb.GdbError."""
    return Target()
