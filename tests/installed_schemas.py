"""The JSON Schemas as `make install` installs them, for every Python
suite: documents are held to the files a user gets under
$(PREFIX)/share/gt/schema, not to the source tree's copies."""
import json
import os
import subprocess

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
PREFIX = "/usr/local"


def install(destdir, build):
    """Runs `make install-schema` into DESTDIR; returns the directory the
    schemas went to."""
    subprocess.run(["make", "-s", "--no-print-directory", "-C", ROOT, "install-schema",
                    "DESTDIR=" + str(destdir), "PREFIX=" + PREFIX, "BUILD=" + build],
                   check=True, capture_output=True, timeout=120)
    return os.path.join(str(destdir) + PREFIX, "share", "gt", "schema")


def load(directory, name, part=None):
    """NAME.schema.json of DIRECTORY; with PART, a schema for its $defs
    entry PART (the GDB schema's one per command)."""
    with open(os.path.join(directory, name + ".schema.json")) as f:
        s = json.load(f)
    if part:
        s = {"$schema": s["$schema"], "$defs": s["$defs"], "$ref": "#/$defs/" + part}
    return s
