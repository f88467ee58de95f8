# gt-gdb.py - loads the gt GDB extension (the package gt/ beside this file).
#
# GDB finds this file through the .debug_gdb_scripts entry libgt puts in
# every program (see README.md for the auto-load lines), or by
# `source gt-gdb.py`.  Loading twice is harmless: commands register once.
import os
import sys

_dir = os.path.dirname(os.path.realpath(__file__))
if _dir not in sys.path:
    sys.path.insert(0, _dir)

try:
    import gt  # noqa: E402  (needs the path above)
    gt.register()
except ImportError as e:
    # What the user can fix (the constants not built, say) in one line,
    # not a traceback.
    if not str(e).startswith("gt:"):
        raise
    sys.stderr.write("%s\n" % e)
