"""Units and shared formatting: counts, durations, sizes, wait objects,
gt-core's capture, the JSON documents' common head."""
import json
import re
import time

import gdb

from . import abi, symbols
from .text import text_safe  # noqa: F401  (the escaping rule, for every module)

C = abi.C
POLLIN, POLLOUT = 0x1, 0x4  # <poll.h>, the events of a GT_WAIT_FD

# The major version of the documents schema/gdb.schema.json describes, as
# libgtobserve's GTO_JSON_SCHEMA_VERSION is the tools' (one number for
# every gt reader): a member added leaves it alone, one removed or
# renamed, or a meaning changed, raises it.
SCHEMA_VERSION = 1


def json_document(doc):
    """One --json document, "schema_version" first, as one line."""
    return json.dumps(dict({"schema_version": SCHEMA_VERSION}, **doc)) + "\n"


def hexa(n):
    """n as C's printf("%#llx") writes it: 0x55d0c0a01234, and 0 as "0"
    (Python's "%#x" writes "0x0")."""
    return "%#x" % n if n else "0"


def count(n):
    return format(n, ",")


def duration(ns):
    """A duration as every gt reader prints it (tools/common.c's
    fmt_duration, libgtobserve's gto_fmt_duration): 850ns, 12us, 4.5ms,
    7.0s, and past 100 s 59m58s, 27h46m, 4d04h."""
    if ns is None:
        return "-"
    sec = ns // 1000000000
    if sec >= 100 * 3600:
        return "%dd%02dh" % (sec // 86400, sec % 86400 // 3600)
    if sec >= 100 * 60:
        return "%dh%02dm" % (sec // 3600, sec % 3600 // 60)
    if sec >= 100:
        return "%dm%02ds" % (sec // 60, sec % 60)
    if ns >= 1000000000:
        return "%.1fs" % (ns / 1e9)
    if ns >= 1000000:
        return "%.1fms" % (ns / 1e6)
    if ns >= 1000:
        return "%.0fus" % (ns / 1e3)
    return "%dns" % ns


def age(ns, exact):
    """A duration measured against now: `>= 2.1ms` when now is only a
    lower bound of the true time (a core that cannot tell when it was
    written; see Target.now)."""
    if ns is None:
        return "-"
    return duration(ns) if exact else ">= " + duration(ns)


def size(b):
    """Bytes as every gt reader prints them (fmt_bytes, gto_fmt_bytes):
    512 B, 1.5 KiB, 64 KiB, 2.0 MiB, 12 MiB, 10 GiB."""
    if b is None:
        return "-"
    if b >= 10 << 30:
        return "%.0f GiB" % (b / (1 << 30))
    if b >= 10 << 20:
        return "%.0f MiB" % (b / (1 << 20))
    if b >= 1 << 20:
        return "%.1f MiB" % (b / (1 << 20))
    if b >= 10 << 10:
        return "%.0f KiB" % (b / (1 << 10))
    if b >= 1 << 10:
        return "%.1f KiB" % (b / (1 << 10))
    return "%d B" % b


_UNITS = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9, "": 1e9}


def parse_duration(text):
    """ns of `1.5s`, `200ms`, `3` (seconds); gdb.GdbError if malformed."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(ns|us|ms|s|m|h|)\s*", text)
    if not m:
        raise gdb.GdbError("gt: bad duration %r: use e.g. 1.5s, 200ms, 30us" % text)
    return int(float(m.group(1)) * _UNITS[m.group(2)])


def wait_kind(t):
    """The wait-kind word of a parked thread ("chan_send"), else None."""
    if t.state != C["GT_STATE_PARKED"]:
        return None
    return abi.WAIT_NAMES.get(t.wait_kind, "wait %d" % t.wait_kind)


def wait_text(t, now):
    """What a parked thread waits on, as every gt reader describes it
    (libgtobserve's gto_wait_describe): `fd 9 read`, `poll 3 fds`,
    `sleep 59m00s left`, `mutex 0x55d0c0a01234`, `join thread 7`,
    `chan_recv 0x...`; None when it is not parked."""
    if t.state != C["GT_STATE_PARKED"]:
        return None
    k, obj, arg = t.wait_kind, t.wait_obj or 0, t.wait_arg or 0
    if k == C["GT_WAIT_FD"]:
        ev = [w for bit, w in ((POLLIN, "read"), (POLLOUT, "write")) if arg & bit]
        return "fd %d %s" % (obj, "+".join(ev)) if ev else "fd %d" % obj
    if k == C["GT_WAIT_POLL"]:
        return "poll %d fds" % arg
    if k == C["GT_WAIT_SLEEP"]:
        if not t.deadline:
            return "sleep"
        return "sleep %s left" % duration(max(0, t.deadline - now))
    if k == C["GT_WAIT_JOIN"]:
        return "join thread %d" % obj
    if k in (C["GT_WAIT_MUTEX"], C["GT_WAIT_COND"], C["GT_WAIT_CHAN_SEND"],
             C["GT_WAIT_CHAN_RECV"]):
        return "%s %s" % (abi.WAIT_NAMES[k], hexa(obj))
    return abi.WAIT_NAMES.get(k, "wait %d" % k)


def waited(t, now):
    """ns t has been parked, or None if it is not parked."""
    if t.state != C["GT_STATE_PARKED"] or not t.wait_since:
        return None
    return max(0, now - t.wait_since)


def location_text(snap, idx):
    """A location's label, as every gt reader gives it: each pc of the
    location (the call site, then its callers) with its inline chain,
    `func (file:line)` each, innermost first, joined by ` < `; `-` for
    no location."""
    labels = snap.labels
    text = labels.get(idx)
    if text is None:
        loc = snap.locations.get(idx)
        if not loc or not loc.pcs:
            text = "-"
        else:
            text = " < ".join(symbols.lookup(pc).label() for pc in loc.pcs)
        labels[idx] = text
    return text


def capture_line(cap):
    """What every reader says of a core gt-core wrote (libgtobserve's
    gto_fmt_capture, byte for byte): "core written by gt-core at
    2026-12-07 12:00:01 UTC (compact; target stopped 0.096 s)"."""
    when = "an unknown time"
    secs = cap["realtime_ns"] // 1000000000
    # The bound of gto_fmt_capture: past it a hostile time stays unknown.
    if cap["realtime_ns"] and secs <= 0x7fffffff * 4:
        try:
            when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(secs))
        except (OverflowError, OSError, ValueError):
            pass
    if cap["flags"] & C["GT_CAPTURE_NO_STOP"]:
        how = "not stopped: best effort"
    elif not cap["stopped_ns"]:
        how = "stopped by its tracer"
    else:
        how = "target stopped %.3f s" % (cap["stopped_ns"] / 1e9)
    return "core written by gt-core at %s (%s; %s)" % (
        when, "compact" if cap["flags"] & C["GT_CAPTURE_COMPACT"] else "full", how)


def capture_json(cap):
    """The JSON member "capture" every reader writes (gto_json_capture)."""
    if cap is None:
        return None
    return {"realtime_ns": cap["realtime_ns"], "monotonic_ns": cap["monotonic_ns"],
            "stopped_ns": cap["stopped_ns"],
            "compact": bool(cap["flags"] & C["GT_CAPTURE_COMPACT"]),
            "stopped": not cap["flags"] & C["GT_CAPTURE_NO_STOP"]}
