"""Hostile core files and paths: a real core of known_stacks with ONE named
field patched per case (the registry's page size, a thread's saved pc or
rbp, a program header's offset or size), and paths that are no file (a
FIFO, a directory, a device).  Each reader, gt-stacks, gt-waste and
gt-top -b, either reads the core (exit status 0) or refuses it with one
line on stderr that names the damage: never a signal, a sanitizer report,
a hang, or bytes read from the wrong place."""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import pytest

from conftest import (BIN, GT_STACKS, GT_WASTE, HERE, Fixture, exe, gcore)

sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from gtreg import C  # noqa: E402  registry.h's constants, as compiled

GT_TOP = os.path.join(BIN, "gt-top")
# Each reader as it reads a whole core: gt-top's stacks view unwinds and
# measures every stack, as gt-stacks and gt-waste do.
READERS = {"gt-stacks": [GT_STACKS], "gt-waste": [GT_WASTE],
           "gt-top": [GT_TOP, "-b", "--view", "stacks"]}

PT_LOAD, PT_NOTE = 1, 4
U64 = 1 << 64


class CoreImage:
    """A core file's bytes, its program headers, and the gt registry it
    holds, decoded through the registry's own layout table: enough to
    find a named field and patch it."""

    def __init__(self, path, data=None):
        if data is None:
            with open(path, "rb") as f:
                data = f.read()
        self.path = path
        self.data = bytearray(data)
        self.saved = []  # (file offset, original bytes) of each patch
        phoff, = struct.unpack_from("<Q", self.data, 32)
        phentsize, phnum = struct.unpack_from("<HH", self.data, 54)
        self.phdrs = []
        for i in range(phnum):
            at = phoff + i * phentsize
            (ptype, _flags, offset, vaddr, _paddr, filesz,
             memsz, _align) = struct.unpack_from("<IIQQQQQQ", self.data, at)
            self.phdrs.append(dict(index=i, at=at, type=ptype, offset=offset,
                                   vaddr=vaddr, filesz=filesz, memsz=memsz))
        self.files = self._mapped_files()
        self.registry = self._find_registry()
        self.layout = self._layout()

    def segment_of(self, addr):
        for p in self.phdrs:
            if p["type"] == PT_LOAD and p["vaddr"] <= addr < p["vaddr"] + p["filesz"]:
                return p
        raise LookupError("%#x is not in the core" % addr)

    def file_offset(self, addr):
        p = self.segment_of(addr)
        return p["offset"] + addr - p["vaddr"]

    def _mapped_files(self):
        """NT_FILE's mappings: [(start, end, file offset, path)]."""
        p = [p for p in self.phdrs if p["type"] == PT_NOTE][0]
        off, end = p["offset"], p["offset"] + p["filesz"]
        while off + 12 <= end:
            namesz, descsz, ntype = struct.unpack_from("<III", self.data, off)
            desc = off + 12 + (namesz + 3) // 4 * 4
            if ntype == 0x46494C45:  # NT_FILE
                count, pagesz = struct.unpack_from("<QQ", self.data, desc)
                names = bytes(self.data[desc + 16 + 24 * count:desc + descsz]).split(b"\0")
                return [struct.unpack_from("<QQQ", self.data, desc + 16 + 24 * i)[:2] +
                        (struct.unpack_from("<Q", self.data, desc + 32 + 24 * i)[0] * pagesz,
                         names[i].decode()) for i in range(count)]
            off = desc + (descsz + 3) // 4 * 4
        return []

    def read(self, addr, size):
        """Target memory: the core's, else the mapped file's (gcore leaves
        read-only file mappings out)."""
        try:
            off = self.file_offset(addr)
            return bytes(self.data[off:off + size])
        except LookupError:
            for start, end, foff, path in self.files:
                if start <= addr < end:
                    with open(path, "rb") as f:
                        f.seek(foff + addr - start)
                        return f.read(size)
            raise

    def u(self, addr, size):
        return int.from_bytes(self.read(addr, size), "little")

    def _find_registry(self):
        """The registry's address: the magic at an 8-byte aligned address
        whose ABI, architecture and layout table make sense (the magic's
        bytes also occur in the program's text, as an immediate)."""
        magic = C["GT_REGISTRY_MAGIC"].to_bytes(8, "little")
        for p in self.phdrs:
            if p["type"] != PT_LOAD:
                continue
            seg = bytes(self.data[p["offset"]:p["offset"] + p["filesz"]])
            at = seg.find(magic)
            while at >= 0:
                addr = p["vaddr"] + at
                abi, = struct.unpack_from("<I", seg, at + 8)
                layout, nlayout, arch = struct.unpack_from("<QII", seg, at + 16)
                if addr % 8 == 0 and abi == C["GT_REGISTRY_ABI"] and arch == 62 \
                        and 0 < nlayout < 4096:
                    try:
                        self.read(layout, 16)
                        return addr
                    except LookupError:
                        pass
                at = seg.find(magic, at + 1)
        raise LookupError("no gt registry in the core")

    def _layout(self):
        layout = self.u(self.registry + 16, 8)
        n = self.u(self.registry + 24, 4)
        table = self.read(layout, 16 * n)
        fields = {}
        for i in range(n):
            rec, fid, foff, size, _ = struct.unpack_from("<HHIII", table, 16 * i)
            fields[(rec, fid)] = (foff, size)
        return fields

    def field_addr(self, base, rec, name):
        """Address and size of field NAME (a GT_F_* name) of the record of
        kind REC (a GT_REC_* name) at BASE."""
        foff, size = self.layout[(C["GT_REC_" + rec], C[name])]
        return base + foff, size

    def reg(self, name):
        addr, size = self.field_addr(self.registry, "REGISTRY", name)
        return self.u(addr, size)

    def threads(self):
        """Every thread record in use: {addr, state, name, stack_lo, ...}."""
        chunks = self.reg("GT_F_REG_THREAD_CHUNKS")
        per = self.reg("GT_F_REG_THREADS_PER_CHUNK")
        slots = self.reg("GT_F_REG_THREAD_SLOTS")
        rsize = self.layout[(C["GT_REC_THREAD"], 0)][1]
        out = []
        for i in range(slots):
            rec = self.u(chunks + 8 * (i // per), 8) + (i % per) * rsize

            def get(name):
                addr, size = self.field_addr(rec, "THREAD", name)
                return self.u(addr, size)
            naddr, nsize = self.field_addr(rec, "THREAD", "GT_F_THR_NAME")
            th = dict(addr=rec, state=get("GT_F_THR_STATE"),
                      name=self.read(naddr, nsize).split(b"\0")[0].decode(),
                      stack_lo=get("GT_F_THR_STACK_LO"),
                      stack_hi=get("GT_F_THR_STACK_HI"),
                      sp=get("GT_F_THR_CTX_SP"))
            if th["state"] != C["GT_STATE_FREE"]:
                out.append(th)
        return out

    def patch_u64(self, file_offset, value):
        self.patch(file_offset, struct.pack("<Q", value % U64))

    def patch_field(self, base, rec, name, value):
        addr, size = self.field_addr(base, rec, name)
        assert size == 8, name
        self.patch_u64(self.file_offset(addr), value)

    def patch_phdr(self, p, what, value):
        """Program header P's p_offset or p_filesz."""
        self.patch_u64(p["at"] + {"offset": 8, "filesz": 32}[what], value)

    def patch(self, file_offset, new):
        self.saved.append((file_offset, bytes(self.data[file_offset:file_offset + len(new)])))
        self.data[file_offset:file_offset + len(new)] = new

    def restore(self):
        """Undoes every patch (a core of 300 MB is patched in place, not
        copied)."""
        while self.saved:
            off, old = self.saved.pop()
            self.data[off:off + len(old)] = old

    def write(self, path):
        """Writes the image, its blocks of zeros as holes (a gcore of a
        gt program is mostly the zeros of reserved memory), and returns
        the path as a string."""
        block = 1 << 20
        zeros = bytes(block)
        view = memoryview(self.data)
        with open(path, "wb") as f:
            for at in range(0, len(view), block):
                chunk = view[at:at + block]
                if chunk == zeros[:len(chunk)]:
                    f.seek(len(chunk), os.SEEK_CUR)
                else:
                    f.write(chunk)
            f.truncate(len(view))
        return str(path)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """A gcore of known_stacks (guard pages by mprotect, so that gcore
    keeps every stack), parsed, and the fixture's thread counts."""
    d = tmp_path_factory.mktemp("hostile")
    f = Fixture(env={"GT_GUARD": "mprotect"})
    try:
        path = gcore(f.pid, d)
    finally:
        f.stop()
    return CoreImage(path), f.counts


@pytest.fixture
def core(pristine):
    """The core's path, its image to patch (restored after the test), and
    the fixture's counts."""
    img, counts = pristine
    yield img.path, img, counts
    img.restore()


def read_core(reader, path, *extra, timeout=120):
    """Runs READER on the core at PATH: (exit status, stdout, stderr)."""
    p = subprocess.run(READERS[reader] + ["--core", path, "--exe", exe()] + list(extra),
                       capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def clean_end(reader, rc, err):
    """The reader read the core (0) or refused it with one line (1): no
    signal, no sanitizer report, no second line.  Returns that line."""
    assert rc in (0, 1), (reader, rc, err[-3000:])
    assert "Sanitizer" not in err and "runtime error" not in err, err[-3000:]
    if rc == 0:
        return None
    lines = err.strip().splitlines()
    assert len(lines) == 1, (reader, err[-3000:])
    assert lines[0].startswith(reader + ": "), lines[0]
    return lines[0]


def alpha(img):
    """The first alpha thread's record (parked in alpha_leaf, its stack
    in the core)."""
    return [t for t in img.threads() if t["name"] == "alpha"][0]


@pytest.mark.parametrize("reader", sorted(READERS))
def test_page_size_not_a_page_size(reader, core, tmp_path):
    # 2^63 sized the residency buffer and stepped it by 4 KiB: a heap
    # overflow, then SIGSEGV.
    img = core[1]
    img.patch_field(img.registry, "REGISTRY", "GT_F_REG_PAGE_SIZE", 1 << 63)
    rc, out, err = read_core(reader, img.write(tmp_path / "core"))
    line = clean_end(reader, rc, err)
    assert rc == 1, out[-2000:]
    assert line.endswith("registry page size 9223372036854775808 is not a page "
                         "size of this machine: the registry is damaged"), line


def waste_json(path):
    p = subprocess.run([GT_WASTE, "--json", "--core", path, "--exe", exe()],
                       capture_output=True, text=True, timeout=120)
    clean_end("gt-waste", p.returncode, p.stderr)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def resident_bytes(img, page):
    """Ground truth from the core's bytes: each thread's stack counts the
    pages of PAGE bytes it spans of which the core holds some bytes that
    are not all zero (what a kernel core leaves out reads as zeros), at
    most its reserved size; summed over the threads."""
    loads = [p for p in img.phdrs if p["type"] == PT_LOAD]
    total = 0
    for th in img.threads():
        lo, hi = th["stack_lo"], th["stack_hi"]
        pages = 0
        for p in range(lo & ~(page - 1), (hi + page - 1) & ~(page - 1), page):
            for s in loads:
                a, b = max(p, s["vaddr"]), min(p + page, s["vaddr"] + s["filesz"])
                off = s["offset"] + a - s["vaddr"]
                if a < b and any(img.data[off:off + b - a]):
                    pages += 1
                    break
        total += min(pages * page, hi - lo)
    return total


def test_page_size_64k_is_measured_in_64k_pages(core, tmp_path):
    # 64 KiB is a page size (AArch64's): the core is measured in pages of
    # 64 KiB, one residency byte per page.  Stepped by 4 KiB into a buffer
    # sized for 64 KiB pages, it overran the buffer and counted the wrong
    # pages.
    img = core[1]
    small = waste_json(img.write(tmp_path / "core-4k"))
    assert small["page_size"] == 4096
    assert small["totals"]["resident"] == resident_bytes(img, 4096)
    img.patch_field(img.registry, "REGISTRY", "GT_F_REG_PAGE_SIZE", 65536)
    big = waste_json(img.write(tmp_path / "core-64k"))
    assert big["page_size"] == 65536
    assert big["totals"]["resident"] == resident_bytes(img, 65536)
    # Coarser pages count more memory resident, never less.
    assert big["totals"]["resident"] > small["totals"]["resident"]
    for reader in ("gt-stacks", "gt-top"):
        rc, out, err = read_core(reader, str(tmp_path / "core-64k"))
        assert clean_end(reader, rc, err) is None


@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.parametrize("pc,fp", [(U64 - 4, U64 - 4), (None, U64 - 12)],
                         ids=["pc-and-rbp", "rbp"])
def test_saved_registers_near_the_top_of_memory(reader, pc, fp, core, tmp_path):
    # One parked thread's saved pc and/or rbp just below 2^64: "addr + 8"
    # wrapped in the unwinder's reads, and libunwind's step crashed.  The
    # thread's stack ends where its registers stop making sense; every
    # other thread is read as before.
    img = core[1]
    th = alpha(img)
    if pc is not None:
        img.patch_field(th["addr"], "THREAD", "GT_F_THR_CTX_PC", pc)
    if fp is not None:
        img.patch_field(th["addr"], "THREAD", "GT_F_THR_CTX_FP", fp)
    rc, out, err = read_core(reader, img.write(tmp_path / "core"))
    assert clean_end(reader, rc, err) is None
    if reader == "gt-stacks":
        # The other alpha threads still share their stack; beta's are whole.
        counts = core[2]
        assert "%d threads  parked" % (counts["alpha"] - 1) in out, out
        assert "%d threads  parked" % counts["beta"] in out
        assert "beta_wait (known_stacks.c:" in out


def first_load(img):
    return [p for p in img.phdrs if p["type"] == PT_LOAD][0]


def note(img):
    return [p for p in img.phdrs if p["type"] == PT_NOTE][0]


def stack_segment(img):
    """The PT_LOAD holding the first alpha thread's live stack."""
    return img.segment_of(alpha(img)["sp"])


@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.parametrize("case", ["note-filesz", "load-offset", "stack-offset"])
def test_program_header_that_wraps(reader, case, core, tmp_path):
    # offset + size past 2^64 passed the "p_offset + p_filesz > file size"
    # check: PT_NOTE's size 2^64 - 16 crashed parse_notes; the program's
    # first PT_LOAD at offset 2^64 - 2048 crashed the build-id check; a
    # stack's segment at an offset that wraps halfway read half its stack
    # from the start of the file.  Each is a damaged header: refused.
    img = core[1]
    if case == "note-filesz":
        p, what, value = note(img), "filesz", U64 - 16
    elif case == "load-offset":
        p, what, value = first_load(img), "offset", U64 - 2048
    else:
        p = stack_segment(img)
        what, value = "offset", U64 - p["filesz"] // 2
    img.patch_phdr(p, what, value)
    path = img.write(tmp_path / "core")
    rc, out, err = read_core(reader, path)
    line = clean_end(reader, rc, err)
    assert rc == 1, out[-2000:]
    kind = "PT_NOTE" if case == "note-filesz" else "PT_LOAD"
    assert ("core %s is damaged: its program header %d (%s) gives %#x bytes at "
            "file offset %#x" % (path, p["index"], kind,
                                 value if what == "filesz" else p["filesz"],
                                 value if what == "offset" else p["offset"])) in line, line


def no_file_cases(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    return {"fifo": str(fifo), "directory": str(tmp_path), "device": "/dev/null"}


@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.parametrize("kind", ["fifo", "directory", "device"])
def test_core_that_is_no_file(reader, kind, tmp_path):
    # open() of a FIFO with no writer blocked forever.
    path = no_file_cases(tmp_path)[kind]
    p = subprocess.run(READERS[reader] + ["--core", path], capture_output=True,
                       text=True, timeout=20)
    line = clean_end(reader, p.returncode, p.stderr)
    assert p.returncode == 1
    assert line == "%s: %s: not a regular file: give a core file" % (reader, path)


@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.parametrize("kind", ["fifo", "directory", "device"])
def test_program_that_is_no_file(reader, kind, core, tmp_path):
    path = no_file_cases(tmp_path)[kind]
    p = subprocess.run(READERS[reader] + ["--core", core[0], "--exe", path],
                       capture_output=True, text=True, timeout=20)
    line = clean_end(reader, p.returncode, p.stderr)
    assert p.returncode == 1
    assert line == ("%s: %s: not a regular file: give the program's executable "
                    "file" % (reader, path))


def test_core_naming_a_fifo_as_a_mapped_file(core, tmp_path):
    # The core names the files it mapped: a FIFO in place of a library is
    # not opened (it would hang the reader, and libdw's own open too); the
    # reader goes on without that file's symbols.
    img = core[1]
    libc = sorted({path for _, _, _, path in img.files if "/libc.so" in path})
    assert libc, "the core names no libc"
    note = [p for p in img.phdrs if p["type"] == PT_NOTE][0]
    # A path of the same length, so that the note keeps its layout.
    short = tempfile.mkdtemp(prefix="gt")
    try:
        fifo = os.path.join(short, "f")
        fifo = fifo + "x" * (len(libc[0]) - len(fifo))
        assert len(fifo) == len(libc[0])
        os.mkfifo(fifo)
        notes = bytes(img.data[note["offset"]:note["offset"] + note["filesz"]])
        at = notes.find(libc[0].encode() + b"\0")
        while at >= 0:
            img.patch(note["offset"] + at, fifo.encode())
            at = notes.find(libc[0].encode() + b"\0", at + 1)
        path = img.write(tmp_path / "core")
        for reader in sorted(READERS):
            rc, out, err = read_core(reader, path, timeout=30)
            assert clean_end(reader, rc, err) is None
            if reader == "gt-stacks":
                assert "alpha_leaf (known_stacks.c:" in out
    finally:
        shutil.rmtree(short)
