"""`set green-threads limit N` / `show green-threads limit`."""
import gdb

DEFAULT_LIMIT = 50


class _SetPrefix(gdb.Command):
    """Settings of the gt green-threads commands."""

    def __init__(self):
        super().__init__("set green-threads", gdb.COMMAND_DATA, prefix=True)


class _ShowPrefix(gdb.Command):
    """Settings of the gt green-threads commands."""

    def __init__(self):
        super().__init__("show green-threads", gdb.COMMAND_DATA, prefix=True)


class Limit(gdb.Parameter):
    """Rows the green-thread listings print before they stop.

`info green-threads` and `green-bt` show at most this many rows (threads,
groups) unless given --limit N.  `unlimited` (or 0, as for GDB's own
limits) means no limit."""

    set_doc = "Set how many rows green-thread listings print (unlimited or 0: all)."
    show_doc = "Show how many rows green-thread listings print."

    def __init__(self):
        super().__init__("green-threads limit", gdb.COMMAND_DATA, gdb.PARAM_UINTEGER)
        self.value = DEFAULT_LIMIT

    def get_show_string(self, svalue):
        if svalue == "unlimited":
            return "Green-thread listings print every row (no limit)."
        return "Green-thread listings print at most %s rows." % svalue


_limit = None


def limit():
    """The limit, 0 for none (GDB gives None for unlimited)."""
    if _limit is None:
        return DEFAULT_LIMIT
    return _limit.value or 0


def register():
    global _limit
    _SetPrefix()
    _ShowPrefix()
    _limit = Limit()
