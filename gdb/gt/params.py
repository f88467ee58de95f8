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
groups) unless given --limit N.  0 means no limit."""

    set_doc = "Set how many rows green-thread listings print (0: all)."
    show_doc = "Show how many rows green-thread listings print."

    def __init__(self):
        super().__init__("green-threads limit", gdb.COMMAND_DATA, gdb.PARAM_ZUINTEGER)
        self.value = DEFAULT_LIMIT

    def get_show_string(self, svalue):
        return "Green-thread listings print at most %s rows (0: no limit)." % svalue


_limit = None


def limit():
    return _limit.value if _limit is not None else DEFAULT_LIMIT


def register():
    global _limit
    _SetPrefix()
    _ShowPrefix()
    _limit = Limit()
