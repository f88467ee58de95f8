"""Gives a core the capture note gt-core writes (gt/registry.h, NOTES: name
"gt", type GT_NOTE_CAPTURE, struct gt_core_capture), so that the readers'
handling of it is tested on kernel cores of the fixtures, whose ground
truth the tests know, and on notes damaged on purpose.

The note goes into a PT_NOTE segment of its own appended to the file,
with a copy of the program header table after it (e_phoff moved there):
the core's other bytes, holes included, stay where they were.
"""
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                "integration"))
from gtreg import C  # noqa: E402  registry.h's constants, as compiled

PT_NOTE = 4
NOTE_NAME = b"gt\0"
GT_NOTE_CAPTURE = C["GT_NOTE_CAPTURE"]
GT_CAPTURE_VERSION = C["GT_CAPTURE_VERSION"]
COMPACT, NO_STOP, NO_FPREGS, NOT_GT = (C["GT_CAPTURE_" + f]
                                       for f in ("COMPACT", "NO_STOP", "NO_FPREGS", "NOT_GT"))


def capture_desc(monotonic_ns, realtime_ns, stopped_ns=96000000, flags=0,
                 registry=0, version=GT_CAPTURE_VERSION):
    """The descriptor: struct gt_core_capture, little-endian."""
    return struct.pack("<IIQQQQ", version, flags, monotonic_ns, realtime_ns,
                       stopped_ns, registry)


def note(desc, name=NOTE_NAME, ntype=GT_NOTE_CAPTURE):
    """One ELF note: namesz, descsz, type, the name and the descriptor,
    each padded to 4 bytes."""
    pad = lambda b: b + b"\0" * (-len(b) % 4)
    return struct.pack("<III", len(name), len(desc), ntype) + pad(name) + pad(desc)


def add_note(core, blob, mtime_ns=None):
    """Appends BLOB (notes) to the ELF64 core CORE as a PT_NOTE segment;
    sets the file's mtime to MTIME_NS afterwards (else keeps the one it
    had, so that the mtime rule gives the same now as before)."""
    st = os.stat(core)
    with open(core, "r+b") as f:
        eh = bytearray(f.read(64))
        assert eh[:4] == b"\x7fELF" and eh[4] == 2 and eh[5] == 1, "not an ELF64 LSB file"
        phoff, = struct.unpack_from("<Q", eh, 0x20)
        phentsize, phnum = struct.unpack_from("<HH", eh, 0x36)
        assert phentsize == 56 and phnum < 0xfffe
        f.seek(phoff)
        table = f.read(phentsize * phnum)
        end = f.seek(0, os.SEEK_END)
        note_off = (end + 7) & ~7
        f.seek(note_off)
        f.write(blob)
        new_phoff = (note_off + len(blob) + 7) & ~7
        ph = struct.pack("<IIQQQQQQ", PT_NOTE, 0, note_off, 0, 0, len(blob), 0, 4)
        f.seek(new_phoff)
        f.write(table + ph)
        struct.pack_into("<Q", eh, 0x20, new_phoff)
        struct.pack_into("<H", eh, 0x38, phnum + 1)
        f.seek(0)
        f.write(eh)
    when = st.st_mtime_ns if mtime_ns is None else mtime_ns
    os.utime(core, ns=(when, when))


def to_pn_xnum(core):
    """Rewrites CORE's ELF header the way a core of more than 65,534
    segments has it (PN_XNUM): e_phnum 0xffff, the real count in section
    header 0's sh_info (a section header table of that one entry, appended)."""
    st = os.stat(core)
    with open(core, "r+b") as f:
        eh = bytearray(f.read(64))
        phnum, = struct.unpack_from("<H", eh, 0x38)
        end = f.seek(0, os.SEEK_END)
        shoff = (end + 7) & ~7
        f.seek(shoff)
        f.write(struct.pack("<IIQQQQIIQQ", 0, 0, 0, 0, 0, 0, 0, phnum, 0, 0))
        struct.pack_into("<Q", eh, 0x28, shoff)
        struct.pack_into("<HHHH", eh, 0x38, 0xffff, 64, 1, 0)
        f.seek(0)
        f.write(eh)
    os.utime(core, ns=(st.st_mtime_ns, st.st_mtime_ns))
