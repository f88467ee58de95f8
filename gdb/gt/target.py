"""The program being debugged: is there one, where is its registry, what
time is it there, and raw memory reads.

The registry is found through its exported symbol `gt_registry`, which is
in .dynsym of every gt program (and of libgt.so), so this works on stripped
binaries and on core files; no DWARF is needed.
"""
import bisect
import os
import re
import struct
import time

import gdb

from . import abi


# The most any one read asks for: a chunk of records (registry.py's
# MAX_CHUNK_BYTES) or a stack's live part (stacks.MAX_LIVE).  GDB keeps a
# read whole in its own memory and dies when it cannot get it, so a size
# computed from the target's numbers is checked here, whatever computed it.
MAX_READ = 64 << 20
ADDR_END = 1 << 64


def readable(addr, size):
    """Whether (addr, size) is a range a reader may ask for: inside the
    64-bit address space without wrapping, and at most MAX_READ bytes."""
    return 0 <= size <= MAX_READ and 0 <= addr <= ADDR_END - size


def _connection_type(inf):
    """The type of the inferior's connection ("native", "core", "remote",
    ...), read from `info connections`.  Not from Inferior.connection:
    GDB 13 asserts when the Python object it makes for a connection is
    freed while the connection lives on, so a listing followed by a SIGTERM
    to GDB ended in an internal error and a core of GDB."""
    num = getattr(inf, "connection_num", None)
    try:
        text = gdb.execute("info connections", to_string=True)
    except gdb.error:
        return "native"
    for line in text.splitlines()[1:]:
        fields = line.lstrip("* ").split()
        if len(fields) >= 2 and fields[0] == str(num):
            return fields[1]
    return "native"


class Target:
    """The selected inferior as a source of registry bytes."""

    def __init__(self):
        inf = gdb.selected_inferior()
        if inf is None or inf.pid == 0 or not inf.threads():
            raise gdb.GdbError("gt: no process and no core file: run the "
                               "program, attach to it, or load a core "
                               "(`core-file FILE`)")
        self.inferior = inf
        self.kind = _connection_type(inf)
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
        """size bytes at addr; gdb.MemoryError if any byte is unreadable
        or the range is not one a reader may ask for (readable())."""
        if not readable(addr, size):
            raise gdb.MemoryError("gt: a read of %d bytes at %#x is out of bounds"
                                  % (size, addr))
        return self.inferior.read_memory(addr, size).tobytes()

    def try_read(self, addr, size):
        """Like read, but None instead of an error (a damaged pointer)."""
        if not readable(addr, size):
            return None
        try:
            return self.inferior.read_memory(addr, size).tobytes()
        except (gdb.MemoryError, gdb.error, OverflowError, ValueError, MemoryError):
            return None

    def reader(self):
        """A function (addr, size) -> bytes or None for bulk reads: GDB's
        read_memory costs some 7 us a call, a second at 100,000 thread
        stacks, so where the bytes GDB reads are plainly at hand they are
        read straight: a live local process through /proc/PID/mem (what
        GDB's native target reads too), a core file from its PT_LOAD
        segments.  Anything else, and any range those do not hold whole,
        goes through GDB (try_read)."""
        if self.kind == "native" and not self.is_core:
            return _proc_mem(self.inferior.pid, self.try_read) or self.try_read
        if self.is_core:
            path = self.core_path()
            return (_core_file(path, self.try_read) if path else None) or self.try_read
        return self.try_read

    def u64(self, addr):
        return struct.unpack("<Q", self.read(addr, 8))[0]

    def core_path(self):
        """The core file GDB reads, from `info target`; None if not a core
        or if GDB does not name it.  Asked once per Target: `info target`
        lists every section of the core, 100,000 and more for a core of
        as many threads' stacks."""
        if not self.is_core:
            return None
        if not hasattr(self, "_core_path"):
            self._core_path = None
            try:
                text = gdb.execute("info target", to_string=True)
            except gdb.error:
                return None
            m = re.search(r"Local core dump file:\s*`(.*)', file type", text)
            self._core_path = m.group(1) if m else None
        return self._core_path

    def capture(self):
        """The capture note of a core gt-core wrote (gt/registry.h, NOTES)
        as a dict: version, flags, monotonic_ns, realtime_ns, stopped_ns;
        None for a live process, a core without one, or a note too short
        or of another version (libgtobserve's capture.c, the same rule)."""
        if not self.is_core:
            return None
        path = self.core_path()
        return core_capture(path) if path else None

    def now(self, reg):
        """(now, exact): the target's CLOCK_MONOTONIC "now" and whether it
        is the true time of the snapshot (every reader applies this rule).

        A live local process shares this machine's clock.  A core's time
        stopped when it was written: the runtime's fatal-signal handler
        took a real reading (fatal_ns) when it died of one; else gt-core's
        capture note says when it stopped the process (capture()); else
        the core file's mtime, the moment the kernel or gcore finished writing it,
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
        base = reg.get("clock_base", 0)
        # gt-core read the target's clock with every kernel thread
        # stopped: no reading of the runtime's comes after it, unless it
        # copied without stopping (then the runtime's reading is from
        # within the capture); one that does otherwise is damage.
        cap = self.capture()
        if cap and cap["monotonic_ns"]:
            if cap["monotonic_ns"] >= clock_now:
                return cap["monotonic_ns"], True
            if cap["flags"] & abi.C["GT_CAPTURE_NO_STOP"] and cap["monotonic_ns"] >= base:
                return clock_now, True
        path = self.core_path()
        try:
            mtime = os.stat(path).st_mtime_ns if path else None
        except OSError:
            mtime = None
        rt_base = reg.get("realtime_base", 0)
        if mtime is not None and rt_base and mtime >= rt_base:
            now_file = base + (mtime - rt_base)
            if now_file >= clock_now:
                return now_file, True
        return clock_now, False


_fast = {}
_fds = []

_PT_NOTE = 4
# The most note bytes read from one PT_NOTE segment: a kernel core's notes
# are a few KiB a thread (NT_FILE grows with the mappings); a segment that
# claims more is not read (a hostile size sizes no buffer).
_MAX_NOTES = 64 << 20
_CAPTURE = struct.Struct("<IIQQQ")   # version .. stopped_ns: what is read
_captures = {}


def core_capture(path):
    """The first valid "gt" GT_NOTE_CAPTURE note of the ELF64 core at
    PATH, as Target.capture() describes, or None.  Every size in the file
    is checked against the file before it is used."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    key = (path, st.st_mtime_ns, st.st_size)
    if key not in _captures:
        _captures.clear()
        try:
            _captures[key] = _read_capture(path, st.st_size)
        except (OSError, ValueError, OverflowError, struct.error):
            _captures[key] = None
    return _captures[key]


def _read_capture(path, size):
    want = abi.C["GT_NOTE_CAPTURE"]
    with open(path, "rb") as f:
        head = f.read(64)
        if len(head) < 64 or head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
            return None
        phoff, shoff = struct.unpack_from("<QQ", head, 0x20)
        phentsize, phnum = struct.unpack_from("<HH", head, 0x36)
        if phnum == 0xffff and shoff <= size - 64:
            # PN_XNUM: more segments than e_phnum holds (a core of 100K
            # threads' stacks); section header 0's sh_info has the count.
            f.seek(shoff + 44)
            phnum, = struct.unpack("<I", f.read(4))
        if phentsize != 56 or phoff > size or phnum * 56 > size - phoff:
            return None
        f.seek(phoff)
        table = f.read(phnum * 56)
        for o in range(0, len(table) - 55, 56):
            ptype, _, off, _, _, filesz, _, _ = struct.unpack_from("<IIQQQQQQ", table, o)
            if ptype != _PT_NOTE or filesz > _MAX_NOTES or off > size or filesz > size - off:
                continue
            f.seek(off)
            notes = f.read(filesz)
            at = 0
            while at + 12 <= len(notes):
                namesz, descsz, ntype = struct.unpack_from("<III", notes, at)
                name_end = at + 12 + ((namesz + 3) & ~3)
                desc_end = name_end + descsz
                if desc_end > len(notes):
                    break
                # Types are per note name: gt's 2 is not the kernel's
                # NT_FPREGSET.
                if notes[at + 12:at + 12 + namesz] == b"gt\0" and ntype == want \
                        and descsz >= _CAPTURE.size:
                    v = _CAPTURE.unpack_from(notes, name_end)
                    if v[0] == abi.C["GT_CAPTURE_VERSION"]:
                        return dict(zip(("version", "flags", "monotonic_ns", "realtime_ns",
                                         "stopped_ns"), v))
                at = name_end + ((descsz + 3) & ~3)
    return None


def _drop_fast():
    _fast.clear()
    while _fds:
        try:
            os.close(_fds.pop())
        except OSError:
            pass


def _proc_mem(pid, slow):
    """A reader over /proc/PID/mem (kept open per process) that hands
    what it cannot read whole to slow; None if the file cannot be
    opened."""
    key = ("proc", pid)
    if key not in _fast:
        _drop_fast()
        try:
            fd = os.open("/proc/%d/mem" % pid, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            fd = None
        if fd is None:
            _fast[key] = None
        else:
            _fds.append(fd)
            def read(addr, size, fd=fd, pread=os.pread):
                if not readable(addr, size):
                    return None
                try:
                    b = pread(fd, size, addr)
                    if len(b) == size:
                        return b
                except (OSError, OverflowError, ValueError):
                    pass
                return slow(addr, size)
            _fast[key] = read
    return _fast[key]


_PT_LOAD = 1


def _core_file(path, slow):
    """A reader from the file-backed part of a core's PT_LOAD segments
    (opened once per file version) that hands anything else to slow;
    None if the file is not a readable 64-bit little-endian ELF core."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    key = ("core", path, st.st_mtime_ns, st.st_size)
    if key in _fast:
        return _fast[key]
    _drop_fast()
    read = None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        _fast[key] = None
        return None
    _fds.append(fd)
    try:
        head = os.pread(fd, 64, 0)
        phentsize, phnum = struct.unpack_from("<HH", head, 0x36) if len(head) == 64 else (0, 0)
        # ELFCLASS64, LSB, ET_CORE, and program headers of the ELF64 size
        # (the file's own numbers size the one read of the table: at most
        # 65,535 * 56 bytes; GDB itself reads any other shape)
        if len(head) == 64 and head[:4] == b"\x7fELF" and head[4] == 2 and head[5] == 1 \
                and struct.unpack_from("<H", head, 16)[0] == 4 and phentsize == 56:
            phoff, = struct.unpack_from("<Q", head, 0x20)
            table = os.pread(fd, phentsize * phnum, phoff)
            segs = []
            for o in range(0, len(table) - 55, phentsize):
                ptype, _, off, vaddr, _, filesz, _ = struct.unpack_from("<IIQQQQQ", table, o)
                if ptype == _PT_LOAD and filesz and off + filesz <= st.st_size:
                    segs.append((vaddr, filesz, off))
            segs = sorted((v, v + n, off) for v, n, off in segs)
            starts = [v for v, _, _ in segs]
            last = [segs[0] if segs else (1, 0, 0)]

            # pread rather than mmap: pages of a mapping are faulted in
            # one by one, which on some machines costs more than the
            # copy a read makes.  Consecutive reads mostly fall in the
            # segment of the one before (one arena of stacks).
            def read(addr, size, find=bisect.bisect_right, pread=os.pread):
                if not readable(addr, size):
                    return None
                vaddr, end, off = last[0]
                if not vaddr <= addr <= addr + size <= end:
                    i = find(starts, addr) - 1
                    if i < 0 or size < 0:
                        return slow(addr, size)
                    vaddr, end, off = last[0] = segs[i]
                    if addr + size > end:
                        return slow(addr, size)
                try:
                    b = pread(fd, size, off + addr - vaddr)
                    if len(b) == size:
                        return b
                except OSError:
                    pass
                return slow(addr, size)
    except (OSError, ValueError, OverflowError, struct.error):
        read = None
    _fast[key] = read
    return read


def current():
    """The Target of the selected inferior, or a one-line gdb.GdbError."""
    return Target()
