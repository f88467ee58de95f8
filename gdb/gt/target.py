"""The program being debugged: is there one, where is its registry, what
time is it there, and raw memory reads.

The registry is found through its exported symbol `gt_registry`, which is
in .dynsym of every gt program (and of libgt.so), so this works on stripped
binaries and on core files; no DWARF is needed.
"""
import os
import re
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

    def core_path(self):
        """The core file GDB reads, from `info target`; None if not a core
        or if GDB does not name it."""
        if not self.is_core:
            return None
        try:
            text = gdb.execute("info target", to_string=True)
        except gdb.error:
            return None
        m = re.search(r"Local core dump file:\s*`(.*)', file type", text)
        return m.group(1) if m else None

    def now(self, reg):
        """(now, exact): the target's CLOCK_MONOTONIC "now" and whether it
        is the true time of the snapshot (every reader applies this rule).

        A live local process shares this machine's clock.  A core's time
        stopped when it was written: the runtime's fatal-signal handler
        took a real reading (fatal_ns) when it died of one; else the core
        file's mtime, the moment the kernel or gcore finished writing it,
        maps onto the monotonic clock through the pair of clocks the
        runtime read at start.  Failing both (a copied core, an mtime
        older than the runtime's last reading, a remote target with its
        own clock) the runtime's last reading (clock_now) is all there is:
        a time before the true now, so every age is a lower bound.
        """
        clock_now = reg.get("clock_now", 0)
        if self.kind == "native" and not self.is_core:
            return time.monotonic_ns(), True
        if not self.is_core:
            return clock_now, False
        fatal = reg.get("fatal_ns") or 0
        if fatal:
            return fatal, True
        path = self.core_path()
        try:
            mtime = os.stat(path).st_mtime_ns if path else None
        except OSError:
            mtime = None
        base, rt_base = reg.get("clock_base", 0), reg.get("realtime_base", 0)
        if mtime is not None and rt_base and mtime >= rt_base:
            now_file = base + (mtime - rt_base)
            if now_file >= clock_now:
                return now_file, True
        return clock_now, False


def current():
    """The Target of the selected inferior, or a one-line gdb.GdbError."""
    return Target()
