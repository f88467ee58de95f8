"""What libgt leaves in the ELF files it is linked into."""
import os
import re
import struct
import subprocess

BUILD = os.environ.get("GT_BUILD", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
STATIC = os.path.join(BUILD, "tests", "integration", "three_locations")
SHARED_LIB = os.path.join(BUILD, "lib", "libgt.so")


def readelf(*args):
    return subprocess.run(["readelf", "-W"] + list(args), capture_output=True,
                          text=True, check=True).stdout


def test_usdt_probes():
    for path in (STATIC, SHARED_LIB):
        notes = readelf("-n", path)
        names = set(re.findall(r"Provider: gt\s+Name: (\w+)", notes))
        assert {"spawn", "exit", "park", "wake", "switch"} <= names, path


def test_registry_exported_and_noted():
    for path in (STATIC, SHARED_LIB):
        syms = readelf("--dyn-syms", path)
        m = re.search(r":\s+([0-9a-f]+)\s+(\d+)\s+OBJECT\s+GLOBAL\s+DEFAULT\s+\d+\s+gt_registry$",
                      syms, re.M)
        assert m, "gt_registry not in .dynsym of %s" % path
        registry = int(m.group(1), 16)
        # The note "gt" type 1: the registry's address relative to the
        # descriptor, for readers with no symbol table at all.
        sections = readelf("-S", path)
        sm = re.search(r"\.note\.gt\s+NOTE\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)",
                       sections)
        assert sm, "no .note.gt in %s" % path
        addr, off = int(sm.group(1), 16), int(sm.group(2), 16)
        with open(path, "rb") as f:
            f.seek(off)
            namesz, descsz, ntype = struct.unpack("<III", f.read(12))
            name = f.read(4)
            desc = struct.unpack("<q", f.read(8))[0]
        assert (namesz, descsz, ntype, name) == (3, 8, 1, b"gt\0\0")
        assert addr + 16 + desc == registry


def test_gdb_script_named():
    for path in (STATIC, SHARED_LIB):
        sm = re.search(r"\.debug_gdb_scripts\s+PROGBITS\s+[0-9a-f]+\s+([0-9a-f]+)\s+([0-9a-f]+)",
                       readelf("-S", path))
        assert sm, "no .debug_gdb_scripts in %s" % path
        with open(path, "rb") as f:
            f.seek(int(sm.group(1), 16))
            data = f.read(int(sm.group(2), 16))
        assert b"\x01gt-gdb.py\x00" in data, path
