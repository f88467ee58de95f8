"""The registry's constants, as the compiler saw them in registry.h.

registry.h is the one source of truth for magic, ABI version, record kinds,
field ids, states, wait kinds, flags and context slots.  `make` compiles
gdb/constants.c against it and writes the values into gt/constants.py
(gdb/gdb.mk says how), so nothing here copies or parses a number.  The
module is looked for beside this package (where `make install` puts it),
then in the build tree: $GT_BUILD, or ./build of the source tree.
"""
import importlib.util
import os

_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.abspath(os.path.join(_HERE, "..", ".."))


def _load():
    beside = os.path.join(_HERE, "constants.py")
    builds = [os.environ.get("GT_BUILD"), os.path.join(_ROOT, "build")]
    for path in [beside] + [os.path.join(b, "gdb", "gt", "constants.py")
                            for b in builds if b]:
        if os.path.exists(path):
            spec = importlib.util.spec_from_file_location("gt.constants", path)
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            return path, mod
    raise ImportError("gt: constants.py not found beside the extension nor in "
                      "the build tree: run `make` (or `make install`)")


SOURCE, _mod = _load()
C = {k: v for k, v in vars(_mod).items() if k.startswith("GT_")}

MAGIC = C["GT_REGISTRY_MAGIC"]
ABI = C["GT_REGISTRY_ABI"]

STATE_NAMES = {C["GT_STATE_" + n]: n.lower()
               for n in ("FREE", "RUNNABLE", "RUNNING", "PARKED", "EXITED")}
# The words every reader uses (underscores: "chan_send").
WAIT_NAMES = {v: k[len("GT_WAIT_"):].lower() for k, v in C.items()
              if k.startswith("GT_WAIT_") and k not in ("GT_WAIT_KIND_COUNT",
                                                      "GT_WAIT_HIST_BUCKETS")}
# GT_TF_FRESH: the runtime says when a saved context is a fresh start.
TF_FRESH = C["GT_TF_FRESH"]


def fields(prefix):
    """{lowercase field name: id} of one record kind, e.g. fields("GT_F_THR_")."""
    return {k[len(prefix):].lower(): v for k, v in C.items()
            if k.startswith(prefix) and not k.endswith("__COUNT")}
