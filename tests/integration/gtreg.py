"""gtreg - a minimal, independent reader of a live gt registry, for tests.

It finds `gt_registry` through the executable's .dynsym (readelf) and the
load bias in /proc/PID/maps, reads the target's memory through
/proc/PID/mem without stopping it, and decodes every record through the
registry's own layout table: no DWARF, no knowledge of struct layouts
beyond the fixed 32-byte head that registry.h promises.  Field ids come
from registry.h itself (the constants `make` generates from it), so this
reader checks the header's contract, not a copy of it.
"""
import importlib.util
import os
import struct
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))


def header_constants():
    """Every enumerator and #define'd integer of registry.h, by name, as
    the compiler evaluated them: the module `make` generates from the
    header for the GDB extension (gdb/gdb.mk), found in the build tree."""
    build = os.environ.get("GT_BUILD", os.path.join(HERE, "..", "..", "build"))
    path = os.path.join(build, "gdb", "gt", "constants.py")
    spec = importlib.util.spec_from_file_location("gt_constants", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return {k: v for k, v in vars(mod).items() if k.startswith("GT_")}


C = header_constants()


class Target:
    def __init__(self, pid, exe=None):
        self.pid = pid
        self.exe = exe or os.readlink("/proc/%d/exe" % pid)
        self.mem = open("/proc/%d/mem" % pid, "rb", buffering=0)
        self.addr = self._registry_address()

    def close(self):
        self.mem.close()

    def read(self, addr, size):
        return os.pread(self.mem.fileno(), size, addr)

    def u(self, addr, size):
        return int.from_bytes(self.read(addr, size), "little")

    def _registry_address(self):
        """The registry in the executable, or in a mapped libgt.so."""
        bases = {}
        with open("/proc/%d/maps" % self.pid) as maps:
            for line in maps:
                f = line.split()
                if len(f) >= 6 and f[5].startswith("/") and int(f[2], 16) == 0:
                    bases.setdefault(f[5], int(f[0].split("-")[0], 16))
        exe = os.path.realpath(self.exe)
        for path in [exe] + [p for p in bases if p != exe]:
            value = dynsym(path, "gt_registry")
            if value is None:
                continue
            hdr = subprocess.run(["readelf", "-h", "-W", path], capture_output=True,
                                 text=True, check=True).stdout
            self.bias = bases.get(path, 0) if "DYN (" in hdr else 0
            self.object = path
            return self.bias + value
        raise LookupError("%s: no gt_registry in .dynsym of the program or "
                          "its libraries" % self.exe)


class CoreTarget:
    """The memory of an ELF64 core file (its PT_LOAD segments), read
    through the same calls as a live Target, with the registry at ADDR.
    Only what the kernel dumped is there: a test that decodes the layout
    table (read-only data of the program) from a core asks for
    file-backed mappings too (/proc/PID/coredump_filter)."""

    def __init__(self, path, addr):
        self.f = open(path, "rb")
        self.addr = addr
        head = self.f.read(64)
        if head[:4] != b"\x7fELF" or head[4] != 2:
            raise ValueError("%s: not an ELF64 file" % path)
        phoff, = struct.unpack_from("<Q", head, 32)
        phentsize, phnum = struct.unpack_from("<HH", head, 54)
        self.loads = []
        for i in range(phnum):
            self.f.seek(phoff + i * phentsize)
            p_type, _, p_offset, p_vaddr, _, p_filesz, p_memsz, _ = \
                struct.unpack("<IIQQQQQQ", self.f.read(56))
            if p_type == 1:
                self.loads.append((p_vaddr, p_memsz, p_offset, p_filesz))

    def close(self):
        self.f.close()

    def read(self, addr, size):
        for vaddr, memsz, offset, filesz in self.loads:
            if vaddr <= addr and addr + size <= vaddr + memsz:
                if addr - vaddr + size > filesz:
                    raise ValueError("%#x..+%d was not dumped" % (addr, size))
                self.f.seek(offset + addr - vaddr)
                return self.f.read(size)
        raise ValueError("%#x..+%d is in no segment of the core" % (addr, size))

    def u(self, addr, size):
        return int.from_bytes(self.read(addr, size), "little")


def dynsym(path, name):
    out = subprocess.run(["readelf", "--dyn-syms", "-W", path],
                         capture_output=True, text=True).stdout
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 8 and f[7] == name and f[6] != "UND":
            return int(f[1], 16)
    return None


class Registry:
    """A decoded snapshot of the registry of one target."""

    def __init__(self, target):
        self.t = target
        head = target.read(target.addr, 32)
        (self.magic, self.abi, self.header_size, layout, nlayout,
         self.arch) = struct.unpack("<QIIQII", head)
        if self.magic != C["GT_REGISTRY_MAGIC"]:
            raise ValueError("bad magic %#x" % self.magic)
        if self.abi != C["GT_REGISTRY_ABI"]:
            raise ValueError("registry ABI %d, reader ABI %d"
                             % (self.abi, C["GT_REGISTRY_ABI"]))
        raw = target.read(layout, 16 * nlayout)
        self.layout = {}
        for i in range(nlayout):
            rec, fid, off, size, _ = struct.unpack_from("<HHIII", raw, 16 * i)
            self.layout[(rec, fid)] = (off, size)
        self.reg = target.read(target.addr, self.size(C["GT_REC_REGISTRY"]))

    def size(self, rec):
        return self.layout[(rec, 0)][1]

    def field(self, rec, fid, blob, index=None):
        off, size = self.layout[(rec, fid)]
        if index is not None:
            return int.from_bytes(blob[off + 8 * index: off + 8 * index + 8],
                                  "little")
        if rec == C["GT_REC_THREAD"] and fid == C["GT_F_THR_NAME"]:
            return blob[off:off + size].split(b"\0", 1)[0].decode()
        return int.from_bytes(blob[off:off + size], "little")

    def g(self, name, index=None):
        return self.field(C["GT_REC_REGISTRY"], C["GT_F_REG_" + name],
                          self.reg, index)

    def _chunks(self, rec, chunks_f, count_f, per_f, total):
        size = self.size(rec)
        chunks = self.g(chunks_f)
        count = self.g(count_f)
        per = self.g(per_f)
        ptrs = struct.unpack("<%dQ" % count, self.t.read(chunks, 8 * count))
        out = []
        for ci, p in enumerate(ptrs):
            blob = self.t.read(p, size * per)
            for i in range(per):
                if ci * per + i >= total:
                    return out
                out.append((p + i * size, blob[i * size:(i + 1) * size]))
        return out

    def threads(self):
        """[(address, {field: value})] of every slot in use."""
        T = C["GT_REC_THREAD"]
        names = [n for n in C if n.startswith("GT_F_THR_") and
                 n not in ("GT_F_THR_SIZE", "GT_F_THR__COUNT",
                           "GT_F_THR_CTX_REGS")]
        out = []
        for addr, blob in self._chunks(T, "THREAD_CHUNKS", "THREAD_CHUNK_COUNT",
                                       "THREADS_PER_CHUNK",
                                       self.g("THREAD_SLOTS")):
            rec = {n[len("GT_F_THR_"):].lower(): self.field(T, C[n], blob)
                   for n in names}
            if rec["state"] != C["GT_STATE_FREE"]:
                out.append((addr, rec))
        return out

    def locations(self):
        L = C["GT_REC_LOCATION"]
        out = {}
        for addr, blob in self._chunks(L, "LOC_CHUNKS", "LOC_CHUNK_COUNT",
                                       "LOCS_PER_CHUNK", self.g("LOC_COUNT")):
            idx = self.field(L, C["GT_F_LOC_INDEX"], blob)
            depth = self.field(L, C["GT_F_LOC_DEPTH"], blob)
            if not idx:
                continue
            out[idx] = {
                "addr": addr,
                "pcs": [self.field(L, C["GT_F_LOC_PCS"], blob, d)
                        for d in range(depth)],
                "waiting": self.field(L, C["GT_F_LOC_WAITING"], blob),
                "head": self.field(L, C["GT_F_LOC_HEAD"], blob),
                "arrivals": self.field(L, C["GT_F_LOC_ARRIVALS"], blob),
                "kind": self.field(L, C["GT_F_LOC_WAIT_KIND"], blob),
            }
        return out

    def queue(self, head, limit=10_000_000):
        """Thread record addresses on a location's intrusive queue."""
        T = C["GT_REC_THREAD"]
        off, size = self.layout[(T, C["GT_F_THR_LOC_NEXT"])]
        out, p = [], head
        while p and len(out) < limit:
            out.append(p)
            p = self.t.u(p + off, size)
        return out


def symbolize(exe, bias, pcs):
    """Function names of return addresses (pc - 1 is inside the call)."""
    args = ["addr2line", "-f", "-e", exe] + ["%#x" % (pc - 1 - bias) for pc in pcs]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    return out.splitlines()[0::2]
