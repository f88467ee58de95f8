"""Units and shared formatting: counts, durations, sizes, wait objects."""
import re

import gdb

from . import abi, symbols

C = abi.C
POLLIN, POLLOUT = 0x1, 0x4  # <poll.h>, the events of a GT_WAIT_FD


def count(n):
    return format(n, ",")


def duration(ns):
    """A short human duration: 850ns, 12.3us, 4.5ms, 1.2s, 3m05s, 2h10m."""
    if ns is None:
        return "-"
    if ns < 1000:
        return "%dns" % ns
    if ns < 1000000:
        return "%.1fus" % (ns / 1e3)
    if ns < 1000000000:
        return "%.1fms" % (ns / 1e6)
    s = ns / 1e9
    if s < 60:
        return "%.1fs" % s
    if s < 3600:
        return "%dm%02ds" % (s // 60, s % 60)
    return "%dh%02dm" % (s // 3600, s % 3600 // 60)


def size(n):
    for unit in ("", "K", "M", "G"):
        if n < 1024 or unit == "G":
            return ("%d%s" % (n, unit)) if unit == "" or n == int(n) else "%.1f%s" % (n, unit)
        n /= 1024.0
    return str(n)


_UNITS = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9, "": 1e9}


def parse_duration(text):
    """ns of `1.5s`, `200ms`, `3` (seconds); gdb.GdbError if malformed."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(ns|us|ms|s|m|h|)\s*", text)
    if not m:
        raise gdb.GdbError("gt: bad duration %r: use e.g. 1.5s, 200ms, 30us" % text)
    return int(float(m.group(1)) * _UNITS[m.group(2)])


def wait_text(t, now):
    """What a parked thread waits on, e.g. `fd 12 read`, `join #77`."""
    k, obj, arg = t.wait_kind, t.wait_obj, t.wait_arg
    if t.state != C["GT_STATE_PARKED"]:
        return ""
    if k == C["GT_WAIT_FD"]:
        ev = []
        if arg & POLLIN:
            ev.append("read")
        if arg & POLLOUT:
            ev.append("write")
        s = "fd %d %s" % (obj, "+".join(ev) or "events %#x" % arg)
    elif k == C["GT_WAIT_POLL"]:
        s = "poll %d fds (fd %d...)" % (arg, obj)
    elif k == C["GT_WAIT_SLEEP"]:
        return "sleep %s left" % duration(max(0, t.deadline - now)) if t.deadline else "sleep"
    elif k == C["GT_WAIT_MUTEX"]:
        s = "mutex %#x" % obj
    elif k == C["GT_WAIT_COND"]:
        s = "cond %#x" % obj
    elif k == C["GT_WAIT_JOIN"]:
        s = "join #%d" % obj
    elif k == C["GT_WAIT_CHAN_SEND"]:
        s = "chan %#x send" % obj
    elif k == C["GT_WAIT_CHAN_RECV"]:
        s = "chan %#x recv" % obj
    else:
        s = abi.WAIT_NAMES.get(k, "wait %d" % k)
    if (t.flags or 0) & C["GT_TF_UNSTACKED"]:
        s += ", unstacked"  # holds no stack while it waits
    if t.deadline:
        s += ", timeout in %s" % duration(max(0, t.deadline - now))
    return s


def waited(t, now):
    """ns t has been parked, or None if it is not parked."""
    if t.state != C["GT_STATE_PARKED"] or not t.wait_since:
        return None
    return max(0, now - t.wait_since)


def location_text(snap, idx):
    """`function file:line` of a location's call site, `-` for none."""
    loc = snap.locations.get(idx)
    if not loc or not loc.pcs:
        return "-"
    return symbols.lookup(loc.pcs[0]).where()
