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


def undescribed(schema, doc):
    """The members of DOC, at any depth, that SCHEMA does not name: the
    schemas leave members unknown to them allowed (a member added keeps
    schema_version, so a consumer's validator must let it pass), so a
    validator alone would not see a reader printing one the schema never
    describes.  Returns ["/path/member", ...]."""
    out = []

    def nodes(node):
        """NODE and every subschema it applies to the same value through
        $ref, allOf, anyOf, oneOf."""
        if not isinstance(node, dict):
            return []
        got = [node]
        if "$ref" in node:
            got += nodes(schema["$defs"][node["$ref"].rsplit("/", 1)[1]])
        for k in ("allOf", "anyOf", "oneOf"):
            for n in node.get(k, []):
                got += nodes(n)
        return got

    def walk(node, value, path):
        ns = nodes(node)
        if isinstance(value, dict):
            named = {}
            for n in ns:
                for k, sub in n.get("properties", {}).items():
                    named.setdefault(k, []).append(sub)
            for k, v in value.items():
                if k not in named:
                    out.append("%s/%s" % (path, k))
                    continue
                for sub in named[k]:
                    walk(sub, v, "%s/%s" % (path, k))
        elif isinstance(value, list):
            items = [n["items"] for n in ns if isinstance(n.get("items"), dict)]
            for i, v in enumerate(value):
                for sub in items:
                    walk(sub, v, "%s/*" % path)

    walk(schema, doc, "")
    return sorted(set(out))
