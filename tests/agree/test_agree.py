"""One truth: every reader of a gt program says the same, and it is true.

agree_fixture.c (beside this file) parks threads at known places, with
known names, entries, wait objects, stacks and clock bounds, and prints
them.  conftest.py runs it through two phases and reads it with gt-stacks
--json --all, gt-waste --json, gt-top -b --format json and the GDB
commands' --json forms: live, from gcore cores (GT_GUARD=mprotect) and
from a kernel core (SIGABRT).  Each test below takes one shared quantity
and checks, on every reading, that every reader gives it, that they give
the same value, and that the value is the fixture's.  A failure lists
every disagreement it found, one line each: "reader: quantity: values".

The vocabulary is the shared one (schema/*.schema.json); the only
per-reader knowledge here is where each reader's document keeps a list
(READERS below), never a translation of its values.
"""
import collections
import json
import math
import os
import re
import shutil
import subprocess

import jsonschema
import pytest

from conftest import LINES, SCHEMAS, ToolError, installed_schemas_module

FILE = "agree_fixture.c"
PAGE = os.sysconf("SC_PAGE_SIZE")
RESERVED = 64 * 1024          # the default stack: stack_hi - stack_lo
# live, gcore (GT_GUARD=mprotect) and kernel core (SIGABRT), each of a
# fixture idling (phase 1) and of one with threads never run and its one
# kernel thread busy elsewhere (phase 2); live-idle and core-busy are read
# from one process, core-idle from a second one left alone meanwhile.
READINGS = ("live-idle", "gcore-idle", "core-idle", "live-busy", "gcore-busy", "core-busy")
LIVE_SLACK = 1000000          # ns: a live reader's now lies in its run
CORE_SLACK = 1000000000       # ns: issue item 1, "true to within 1 s"
TRAMPOLINE = "gt__ctx_trampoline"
THREAD_START = "gt__thread_start"
MISSING = object()

# Where each reader's document keeps the lists the tests compare: this
# locates quantities, it does not translate them.
THREAD_LISTS = {"gt-stacks --all": "threads_list", "gt-top --view threads": "threads_list",
                "gdb info green-threads": "threads_list"}
LOCATION_LISTS = {"gt-stacks": "locations", "gt-top --view threads": "locations",
                  "gdb info green-locations": "locations"}
# A thread list's location indices are resolved through this document.
LOCATION_TABLE = {"gt-stacks --all": "gt-stacks", "gt-top --view threads": "gt-top --view threads",
                  "gdb info green-threads": "gdb info green-locations"}
GROUP_LISTS = {"gt-stacks": "groups", "gdb green-bt": "groups"}


def class_lists(by):
    """Entry is the default: the runs without --class-by count too."""
    out = {"gt-waste --class-by " + by: ("classes",),
           "gt-top --view stacks --class-by " + by: ("stacks_report", "classes")}
    if by == "entry":
        out.update({"gt-waste": ("classes",), "gt-top --view stacks": ("stacks_report", "classes")})
    return out


SUMMARY_DOCS = ("gt-stacks", "gt-stacks --all", "gt-waste", "gt-top --view threads",
                "gdb info green-threads")
SCHEMA_OF = {"gt-stacks": ("gt-stacks", None), "gt-stacks --all": ("gt-stacks", None),
             "gt-stacks --thread": ("gt-stacks", None),
             "gdb info green-threads": ("gdb", "info_green_threads"),
             "gdb info green-locations": ("gdb", "info_green_locations"),
             "gdb green-bt": ("gdb", "green_bt"),
             "gdb info green-deadlocks": ("gdb", "info_green_deadlocks")}


def schema_for(tool):
    if tool.startswith("gt-waste"):
        return "gt-waste", None
    if tool.startswith("gt-top"):
        return "gt-top", None
    if tool.startswith("gdb info green-stack"):
        return "gdb", "info_green_stack"
    return SCHEMA_OF[tool]


# ---- ground truth -------------------------------------------------------

def at(fn, key, inlined=False):
    """A fixture frame: function, the line of its LINE:key marker."""
    return (fn, LINES[key], inlined)


def label(frames):
    """The location label of a chain of frames, innermost first."""
    return " < ".join("%s (%s:%d)" % (fn, FILE, line) for fn, line, _ in frames)


def physical_prefix(frames, n):
    """Frames up to and including the n-th physical one."""
    out = []
    for f in frames:
        out.append(f)
        if not f[2]:
            n -= 1
            if n == 0:
                break
    return out


Expect = collections.namedtuple(
    "Expect", "group name entry state wait_kind wait frames where fresh park")
# frames: the fixture's frames, innermost first, (function, line, inlined);
# [] for a thread with a fresh context (its one frame is the trampoline),
# None when no frame is known (running, exited).  where: the label of its
# location.  park: "worker" (parked between spawn_ns and ready_ns), "main"
# (after ready_ns) or None.

LOCATION_DEPTH = 2            # the runtime's default


def expectations(t):
    """Thread id -> Expect, for reading truth t."""
    ex = {}

    def add(group, ids, name, entry, kind, wait, frames, where=None, fresh=False,
            state="parked", park="worker"):
        for i, tid in enumerate(ids):
            if where is None and frames:
                wh = label(physical_prefix(frames, LOCATION_DEPTH))
            else:
                wh = where
            ex[tid] = Expect(group, name(i) if callable(name) else name, entry,
                             state, kind, wait(i) if callable(wait) else wait,
                             frames, wh, fresh, park if state == "parked" else None)

    ids = t["ids"]
    add("reader", ids["reader"], "reader", "reader_main", "fd", "fd %d read" % t["read_fd"],
        [at("read_deep", "read")] + [at("read_deep", "read_deep")] * t["read_depth"]
        + [at("reader_main", "reader_main")])
    add("sleeper", ids["sleeper"], "sleeper", "sleeper_main", "sleep", "SLEEP",
        [at("sleep_here", "sleep"), at("sleeper_main", "sleeper_main")])
    add("holder", ids["holder"], "holder", "holder_main", "chan_recv",
        "chan_recv 0x%x" % t["never"],
        [at("holder_wait", "holder"), at("holder_main", "holder_main")])
    for side in ("left", "right"):
        add("crit_" + side, ids["crit_" + side], "crit", "crit_%s_main" % side, "mutex",
            "mutex 0x%x" % t["crit_mu"],
            [at("critical", "critical", True), at("crit_" + side, "crit_" + side),
             at("crit_%s_main" % side, "crit_%s_main" % side)])
    add("condwait", ids["condwait"], "condwait", "cond_main", "cond", "cond 0x%x" % t["cond"],
        [at("cond_here", "cond"), at("cond_main", "cond_main")])
    add("joiner", ids["joiner"], "joiner", "joiner_main", "join",
        "join thread %d" % ids["holder"][0],
        [at("join_here", "join"), at("joiner_main", "joiner_main")])
    add("sender", ids["sender"], "sender", "sender_main", "chan_send",
        "chan_send 0x%x" % t["full"],
        [at("send_here", "send"), at("sender_main", "sender_main")])
    add("receiver", ids["receiver"], "receiver", "receiver_main", "chan_recv",
        "chan_recv 0x%x" % t["never"],
        [at("recv_here", "recv"), at("receiver_main", "receiver_main")])
    add("idle", ids["idle"], "idle", "idle_restart", "fd",
        lambda i: "fd %d read" % t["idle_fds"][i], [],
        where=label([at("idle_wait", "idle"), at("idle_main", "idle_main")]), fresh=True)
    add("conn", ids["conn"], lambda i: "conn 127.0.0.1:%d" % (40001 + i), "conn_main", "fd",
        "fd %d read" % t["conn_fd"], [at("conn_wait", "conn"), at("conn_main", "conn_main")])
    add("zombie", ids["zombie"], "zombie", "zombie_main", None, None, None, state="exited")
    if t["phase"] == "idle":
        add("main", [t["main_id"]], "main", "main_thread", "fd", "fd 0 read",
            [at("hold", "hold"), at("main_thread", "main_hold")], park="main")
    else:
        add("main", [t["main_id"]], "main", "main_thread", None, None, None, state="running")
        add("fresh", t["fresh"], "fresh", "fresh_main", None, None, [], fresh=True,
            state="runnable")
    return ex


def expected_locations(t):
    """Location label -> (kind, waiting, arrivals, completed)."""
    out = {}
    for e in expectations(t).values():
        if e.state == "parked":
            kind, waiting, arrivals, completed = out.get(e.where, (e.wait_kind, 0, 0, 0))
            out[e.where] = (kind, waiting + 1, arrivals + 1, completed)
    settle = label([at("settle", "settle"), at("main_thread", "main_settle")])
    out[settle] = ("sleep", 0, t["settle_n"], t["settle_n"])
    hold = label([at("hold", "hold"), at("main_thread", "main_hold")])
    if t["phase"] == "busy":
        out[hold] = ("fd", 0, 1, 1)
    return out


def expected_states(t):
    c = collections.Counter(e.state for e in expectations(t).values())
    return {s: c.get(s, 0) for s in ("runnable", "running", "parked", "exited")}


def class_key(by, e):
    if by == "entry":
        return e.entry
    if by == "name":
        return e.name or "-"
    return re.split(r"[ 0-9]", e.name, 1)[0] or "-"


def round_up_page(n):
    return (n + PAGE - 1) // PAGE * PAGE


def suggestion(touched_max):
    return round_up_page(touched_max + max(touched_max // 4, PAGE))


def nearest_rank(values, q):
    v = sorted(values)
    return v[max(math.ceil(q * len(v)) - 1, 0)]


def parse_duration(text):
    """Inverse of gto_fmt_duration: "59m58s", "7.0s", "2.1ms", "950us",
    "12ns" (and "27h46m", "4d04h")."""
    m = re.fullmatch(r"(\d+)(d|h|m)(\d\d)(h|m|s)", text)
    if m:
        unit = {"d": 86400, "h": 3600, "m": 60, "s": 1}
        return (int(m.group(1)) * unit[m.group(2)] + int(m.group(3)) * unit[m.group(4)]) * 1e9
    m = re.fullmatch(r"(\d+(?:\.\d)?)(s|ms|us|ns)", text)
    if not m:
        return None
    return float(m.group(1)) * {"s": 1e9, "ms": 1e6, "us": 1e3, "ns": 1}[m.group(2)]


# ---- collecting disagreements -------------------------------------------

def dumps(v):
    """JSON text of a value, a key a reader left out shown as such."""
    return json.dumps(v, sort_keys=True, default=lambda o: "(no such key)")


class Problems:
    """Every disagreement a test finds on one reading; the test fails at
    the end with all of them, one line each."""

    def __init__(self, reading):
        self.r = reading
        self.items = []
        self.reported_failures = set()

    def add(self, tool, quantity, detail):
        if len(detail) > 600:
            detail = detail[:600] + "..."
        self.items.append("%s: %s: %s" % (tool, quantity, detail))

    def doc(self, tool):
        """The document of tool, or None (a failed run is reported once)."""
        d = self.r.docs[tool]
        if not d.ok:
            if tool not in self.reported_failures:
                self.reported_failures.add(tool)
                self.add(tool, "run", d.data.text)
            return None
        return d.data

    def key(self, tool, obj, *path, where=""):
        """obj[path...], or MISSING after reporting the missing key (once
        per reader and key: where says in what, the first time)."""
        for k in path:
            if not isinstance(obj, dict) or k not in obj:
                if (tool, k) not in self.reported_failures:
                    self.reported_failures.add((tool, k))
                    self.add(tool, "key", "no key %r%s" % (k, where))
                return MISSING
            obj = obj[k]
        return obj

    def agree(self, quantity, values):
        """values: tool -> value (MISSING left out): all must be equal."""
        vals = {t: v for t, v in values.items() if v is not MISSING}
        if len({dumps(v) for v in vals.values()}) > 1:
            self.add(" vs ".join(sorted(vals)), quantity,
                     "; ".join("%s=%s" % (t, dumps(v)) for t, v in sorted(vals.items())))

    def done(self):
        lines = collapse(self.items)
        assert not lines, "%d disagreements on %s:\n%s" % (
            len(lines), self.r.name, "\n".join(lines))


def collapse(items):
    """One line for the same complaint about several threads: the first
    in full, then the other threads' ids."""
    out, groups = [], collections.OrderedDict()
    for it in items:
        m = re.match(r"^(.*?): thread (\d+) (.+?): (.*)$", it)
        if not m:
            out.append(it)
            continue
        key = (m.group(1), m.group(3), re.sub(r"\d{7,}", "#", m.group(4)))
        groups.setdefault(key, []).append((m.group(2), it))
    for members in groups.values():
        line = members[0][1]
        if len(members) > 1:
            line += " (also threads %s)" % ", ".join(i for i, _ in members[1:])
        out.append(line)
    return out


@pytest.fixture(params=READINGS)
def reading(request, readings):
    return readings[request.param]


def now_window(r, tool):
    """Bounds on the now a reader may use, and the slack allowed."""
    if r.core:
        return r.now_lo, r.now_hi, CORE_SLACK
    d = r.docs[tool]
    return d.lo, d.hi, LIVE_SLACK


def rows_of(P, tool, key):
    """The dict rows of one of TOOL's lists (KEY), None without them."""
    doc = P.doc(tool)
    if doc is None:
        return None
    rows = P.key(tool, doc, key)
    if rows is MISSING or not isinstance(rows, list):
        return None
    return [r for r in rows if isinstance(r, dict)]


def threads_of(P, tool):
    rows = rows_of(P, tool, THREAD_LISTS[tool])
    if rows is None:
        return None
    return {r["id"]: r for r in rows if isinstance(r.get("id"), int)}


def locations_of(P, tool):
    return rows_of(P, tool, LOCATION_LISTS[tool])


# ---- the tests ------------------------------------------------------------

def load_schema(directory, name, part):
    return installed_schemas_module.load(directory, name, part)


def test_make_install_installs_every_schema(installed_schemas):
    """make install puts every schema of the tree under share/gt/schema,
    unchanged, and each is a valid JSON Schema (draft 2020-12) that
    requires the schema_version the readers write."""
    names = sorted(f for f in os.listdir(SCHEMAS) if f.endswith(".schema.json"))
    assert names == ["gdb.schema.json", "gt-stacks.schema.json", "gt-top.schema.json",
                     "gt-waste.schema.json"]
    assert sorted(os.listdir(installed_schemas)) == names
    for n in names:
        with open(os.path.join(SCHEMAS, n), "rb") as a, \
                open(os.path.join(installed_schemas, n), "rb") as b:
            assert a.read() == b.read(), n
        s = load_schema(installed_schemas, n[:-len(".schema.json")], None)
        jsonschema.Draft202012Validator.check_schema(s)
        assert s["$defs"]["schema_version"]["const"] == 1, n
        # Each document it describes requires it (the GDB schema's one
        # per command).
        parts = [None] if n != "gdb.schema.json" else [
            "info_green_threads", "info_green_locations", "green_bt",
            "info_green_deadlocks", "info_green_stack"]
        assert [r["$ref"] for r in s.get("anyOf", []) if "$ref" in r] == \
            ["#/$defs/" + p for p in parts if p], n
        for part in parts:
            body = s["$defs"][part] if part else s
            assert body["required"][0] == "schema_version", (n, part)
            v = jsonschema.Draft202012Validator(load_schema(installed_schemas,
                                                            n[:-len(".schema.json")], part))
            assert any(e.validator == "required" and "'schema_version'" in e.message
                       for e in v.iter_errors({})), (n, part)
            assert any(list(e.absolute_path) == ["schema_version"]
                       for e in v.iter_errors({"schema_version": 2})), (n, part)


def test_every_document_follows_its_installed_schema(reading, installed_schemas):
    """Every document of every reader (gt-stacks, gt-waste, gt-top in each
    view, every GDB command's --json) against the schema make install
    installs, and its schema_version is that schema's."""
    P = Problems(reading)
    tools = set()
    for tool in reading.docs:
        doc = P.doc(tool)
        if doc is None:
            continue
        name, part = schema_for(tool)
        tools.add(tool)
        schema = load_schema(installed_schemas, name, part)
        want = schema["$defs"]["schema_version"]["const"]
        if not isinstance(doc, dict) or doc.get("schema_version") != want:
            P.add(tool, "schema_version", "%s, want %d (%s.schema.json)" % (
                json.dumps(doc.get("schema_version") if isinstance(doc, dict) else doc),
                want, name))
        elif next(iter(doc)) != "schema_version":
            P.add(tool, "schema_version", "not the document's first member")
        v = jsonschema.Draft202012Validator(schema)
        errors = sorted(v.iter_errors(doc), key=lambda e: list(e.absolute_path))
        seen = set()
        for e in errors:
            path = "/".join(str(p) for p in e.absolute_path)
            # One line per distinct complaint about a list's items.
            generic = re.sub(r"/\d+", "/*", path)
            msg = e.message if len(e.message) < 160 else e.message[:160] + "..."
            what = msg if e.validator == "required" else str(e.validator_value)
            if (generic, e.validator, what) in seen:
                continue
            seen.add((generic, e.validator, what))
            P.add(tool, "schema %s.schema.json" % name, "at /%s: %s" % (generic, msg))
    # Every reader and every GDB command with --json was read.
    want = {"gt-stacks", "gt-stacks --all", "gt-stacks --thread", "gt-waste", "gt-top",
            "gt-top --view threads", "gt-top --view stacks", "gt-top --view graph",
            "gdb info green-threads",
            "gdb info green-locations", "gdb green-bt", "gdb info green-deadlocks",
            "gdb info green-stack", "gdb info green-stack %d" % reading.truth["main_id"]}
    if not want <= tools:
        P.add("readers", "documents", "none from %s" % ", ".join(sorted(want - tools)))
    P.done()


def test_every_member_is_described(reading, installed_schemas):
    """Every member of every document, at any depth, is one its installed
    schema names: the schemas let unknown members pass (a member added
    keeps schema_version), so validation alone would not notice a reader
    printing something they never describe."""
    P = Problems(reading)
    for tool in reading.docs:
        doc = P.doc(tool)
        if doc is None:
            continue
        name, part = schema_for(tool)
        for path in installed_schemas_module.undescribed(
                load_schema(installed_schemas, name, part), doc):
            P.add(tool, "schema %s.schema.json" % name, "%s is not described" % path)
    P.done()


def test_state_counts_add_up_and_are_true(reading):
    P = Problems(reading)
    want = expected_states(reading.truth)
    total = sum(want.values())
    counts = {}
    for tool in SUMMARY_DOCS:
        doc = P.doc(tool)
        if doc is None:
            continue
        n = P.key(tool, doc, "threads")
        states = P.key(tool, doc, "states")
        if isinstance(n, (list, dict)):
            P.add(tool, "threads", "a %s, want the count of threads (fixture %d)" % (
                "list" if isinstance(n, list) else "dict %s" % json.dumps(n), total))
        elif n is not MISSING and n != total:
            P.add(tool, "threads", "%s, fixture %d" % (json.dumps(n), total))
        if isinstance(states, dict):
            counts[tool] = states
            if states != want:
                P.add(tool, "states", "%s, fixture %s" % (json.dumps(states), json.dumps(want)))
            vals = [v for v in states.values() if isinstance(v, int)]
            if isinstance(n, int) and sum(vals) != n:
                P.add(tool, "states", "add up to %d, threads %d" % (sum(vals), n))
            if isinstance(states.get("running"), int) and states["running"] > 1:
                P.add(tool, "states", "running %d > 1" % states["running"])
        if doc.get("in_flux"):
            P.add(tool, "in_flux", "%s on a fixture that is not moving" % doc["in_flux"])
    P.agree("states", counts)
    # The thread lists say the same, thread by thread.
    ex = expectations(reading.truth)
    per_tool = {}
    for tool in THREAD_LISTS:
        rows = threads_of(P, tool)
        if rows is None:
            continue
        per_tool[tool] = dict(collections.Counter(r.get("state") for r in rows.values()))
        if set(rows) != set(ex):
            P.add(tool, "thread ids", "missing %s, unexpected %s" % (
                sorted(set(ex) - set(rows)), sorted(set(rows) - set(ex))))
    P.agree("states counted from the thread list", per_tool)
    P.done()


def test_clock_idle_and_file_io_are_true(reading):
    P = Problems(reading)
    t = reading.truth
    vals = collections.defaultdict(dict)
    for tool in SUMMARY_DOCS:
        doc = P.doc(tool)
        if doc is None:
            continue
        lo, hi, slack = now_window(reading, tool)
        for k in ("now_exact", "uptime_ns", "idle_ns", "file_io_calls", "file_io_ns"):
            v = P.key(tool, doc, k)
            if v is not MISSING:
                vals[k][tool] = v
        exact = doc.get("now_exact", MISSING)
        if exact is not MISSING and exact is not True:
            P.add(tool, "now_exact", "%s: this %s's now is known (%s)" % (
                json.dumps(exact), reading.kind,
                "fatal_ns" if reading.kind == "kernel core" else
                "the core file's mtime" if reading.core else "the reader's clock"))
        up = doc.get("uptime_ns", MISSING)
        if isinstance(up, int):
            ulo, uhi = lo - t["first_ns"] - slack, hi - t["main_ns"] + slack
            if not ulo <= up <= uhi:
                P.add(tool, "uptime_ns", "%d, fixture %d..%d" % (up, ulo, uhi))
        idle = doc.get("idle_ns", MISSING)
        if isinstance(idle, int):
            # Idle since ready_ns (phase 1: the stretch still under way),
            # or from ready_ns to go_ns (phase 2), give or take the 50 ms
            # the fixture needs to print and park after a clock reading.
            if t["phase"] == "idle":
                ilo = lo - t["ready_ns"] - 50000000 - slack
                ihi = hi - t["main_ns"] + slack
            else:
                ilo = t["go_ns"] - t["ready_ns"] - 50000000
                ihi = t["go_ns"] - t["main_ns"]
            if not ilo <= idle <= ihi:
                P.add(tool, "idle_ns", "%d, fixture %d..%d (%s)" % (
                    idle, ilo, ihi, "idle now, since ready_ns" if t["phase"] == "idle"
                    else "idle from ready_ns to go_ns"))
            if isinstance(up, int) and idle > up:
                P.add(tool, "idle_ns", "%d > uptime_ns %d" % (idle, up))
        calls = doc.get("file_io_calls", MISSING)
        if calls is not MISSING and calls != t["file_io_calls"]:
            P.add(tool, "file_io_calls", "%s, fixture %d" % (json.dumps(calls), t["file_io_calls"]))
        fns = doc.get("file_io_ns", MISSING)
        if fns is not MISSING and not (isinstance(fns, int) and fns > 0):
            P.add(tool, "file_io_ns", "%s, fixture > 0 (%d calls)" % (
                json.dumps(fns), t["file_io_calls"]))
    for k in ("now_exact", "file_io_calls", "file_io_ns"):
        P.agree(k, vals[k])
    if reading.core:  # one now for every reader of a core: to the ns
        for k in ("uptime_ns", "idle_ns"):
            P.agree(k, vals[k])
    P.done()


def check_wait_ns(P, reading, tool, e, tid, v):
    if e.park is None:
        if v is not None:
            P.add(tool, "thread %d wait_ns" % tid, "%s for a %s thread, want null"
                  % (json.dumps(v), e.state))
        return
    if not isinstance(v, int):
        P.add(tool, "thread %d wait_ns" % tid, "%s, want a number" % json.dumps(v))
        return
    t = reading.truth
    lo, hi, slack = now_window(reading, tool)
    if e.park == "worker":
        wlo, whi = lo - t["ready_ns"] - slack, hi - t["spawn_ns"] + slack
    else:
        wlo, whi = 0, hi - t["ready_ns"] + slack
    if not wlo <= v <= whi:
        P.add(tool, "thread %d wait_ns" % tid, "%d, fixture %d..%d" % (v, wlo, whi))


def check_wait(P, reading, tool, e, tid, v):
    if e.wait != "SLEEP":
        if v != e.wait:
            P.add(tool, "thread %d wait" % tid, "%s, fixture %s" % (json.dumps(v), json.dumps(e.wait)))
        return
    m = re.fullmatch(r"sleep (\S+) left", v) if isinstance(v, str) else None
    left = parse_duration(m.group(1)) if m else None
    if left is None:
        P.add(tool, "thread %d wait" % tid, "%s, want \"sleep DURATION left\"" % json.dumps(v))
        return
    t = reading.truth
    lo, hi, slack = now_window(reading, tool)
    # What the text rounds away: a tenth of a second, or past 100 s the
    # whole seconds it floors to.
    rounding = 1e9 if left >= 100e9 else 1e8
    llo = t["spawn_ns"] + t["sleep_ns"] - hi - slack - rounding
    lhi = t["ready_ns"] + t["sleep_ns"] - lo + slack + rounding
    if not llo <= left <= lhi:
        P.add(tool, "thread %d wait" % tid, "%s, fixture %.1fs..%.1fs left" % (
            json.dumps(v), llo / 1e9, lhi / 1e9))


def test_threads_agree_and_are_true(reading):
    """Per thread: name, state, entry, wait kind and description, wait age,
    location, run time, switches, stack sizes."""
    P = Problems(reading)
    ex = expectations(reading.truth)
    lists = {tool: threads_of(P, tool) for tool in THREAD_LISTS}
    tables = {}
    for tool, loc_tool in LOCATION_TABLE.items():
        locs = locations_of(P, loc_tool) if lists.get(tool) is not None else None
        tables[tool] = {l.get("index"): l.get("where") for l in locs or []}
    for tid, e in sorted(ex.items()):
        same = collections.defaultdict(dict)
        for tool, rows in lists.items():
            if rows is None or tid not in rows:
                continue
            row = rows[tid]
            where = " (thread %d)" % tid
            name = P.key(tool, row, "name", where=where)
            if name is not MISSING and name != e.name:
                P.add(tool, "thread %d name" % tid, "%s, fixture %s" % (json.dumps(name), json.dumps(e.name)))
            state = P.key(tool, row, "state", where=where)
            if state is not MISSING and state != e.state:
                P.add(tool, "thread %d state" % tid, "%s, fixture %s" % (json.dumps(state), e.state))
            entry = P.key(tool, row, "entry", where=where)
            if entry is not MISSING and entry != e.entry:
                P.add(tool, "thread %d entry" % tid, "%s, fixture %s" % (json.dumps(entry), e.entry))
            kind = P.key(tool, row, "wait_kind", where=where)
            if kind is not MISSING and kind != e.wait_kind:
                P.add(tool, "thread %d wait_kind" % tid, "%s, fixture %s" % (
                    json.dumps(kind), json.dumps(e.wait_kind)))
            wait = P.key(tool, row, "wait", where=where)
            if wait is not MISSING:
                check_wait(P, reading, tool, e, tid, wait)
                same["wait"][tool] = wait
            wns = P.key(tool, row, "wait_ns", where=where)
            if wns is not MISSING:
                check_wait_ns(P, reading, tool, e, tid, wns)
                same["wait_ns"][tool] = wns
            loc = P.key(tool, row, "location", where=where)
            if loc is not MISSING and not isinstance(loc, int):
                P.add(tool, "thread %d location" % tid, "%s, want a location index" % json.dumps(loc))
            elif loc is not MISSING:
                same["location"][tool] = loc
                if e.state == "parked":
                    got = tables[tool].get(loc, "(index %s not in %s's locations)" % (
                        json.dumps(loc), LOCATION_TABLE[tool]))
                    if got != e.where:
                        P.add(tool, "thread %d location" % tid, "%s, fixture %s" % (
                            json.dumps(got), json.dumps(e.where)))
                elif e.fresh and loc != 0:
                    P.add(tool, "thread %d location" % tid, "%s for a thread never parked, want 0"
                          % json.dumps(loc))
            for k in ("run_ns", "switches"):
                v = P.key(tool, row, k, where=where)
                if v is not MISSING:
                    same[k][tool] = v
                    if e.state == "runnable" and v != 0:
                        P.add(tool, "thread %d %s" % (tid, k), "%s for a thread never run, want 0"
                              % json.dumps(v))
            stack = P.key(tool, row, "stack", where=where)
            if isinstance(stack, dict):
                for k in ("reserved", "live", "touched", "dead", "unused", "resident"):
                    v = P.key(tool, stack, k, where=where)
                    if v is MISSING:
                        continue
                    if e.state == "running" and k in ("live", "dead"):
                        # Its registers are on the CPU: no reader knows.
                        if v is not None:
                            P.add(tool, "thread %d stack.%s" % (tid, k),
                                  "%s for the running thread, want null" % json.dumps(v))
                        continue
                    if v is not None:
                        same["stack." + k][tool] = v
                    elif k in ("reserved", "live"):
                        P.add(tool, "thread %d stack.%s" % (tid, k), "null, want a number")
                if e.state != "exited" and stack.get("reserved") not in (RESERVED, None, MISSING):
                    P.add(tool, "thread %d stack.reserved" % tid, "%s, fixture %d (stack_hi - stack_lo)"
                          % (json.dumps(stack.get("reserved")), RESERVED))
                if e.fresh:
                    # (Its resident pages are memory all the same: the
                    # runtime's start frame, or a reused stack's.)
                    for k in ("live", "touched"):
                        if stack.get(k) not in (0, None, MISSING):
                            P.add(tool, "thread %d stack.%s" % (tid, k),
                                  "%s for a thread with no stack, want 0" % json.dumps(stack[k]))
                elif e.state == "parked" and stack.get("live") == 0:
                    P.add(tool, "thread %d stack.live" % tid, "0 for a parked thread with frames")
                if e.group == "conn" and isinstance(stack.get("touched"), int) \
                        and stack["touched"] < reading.truth["conn_buf"]:
                    P.add(tool, "thread %d stack.touched" % tid, "%d < the %d bytes it wrote" % (
                        stack["touched"], reading.truth["conn_buf"]))
                tl = [stack.get(k) for k in ("reserved", "live", "touched", "dead", "unused")]
                if all(isinstance(x, int) for x in tl):
                    res, live, touched, dead, unused = tl
                    if dead != touched - live or unused != res - touched:
                        P.add(tool, "thread %d stack" % tid, "dead %d, unused %d: want touched - live"
                              " = %d, reserved - touched = %d" % (dead, unused, touched - live, res - touched))
        for k, vals in same.items():
            if k == "wait_ns" and not reading.core:
                continue  # live: each checked against its own moment above
            if k == "wait" and e.wait == "SLEEP" and not reading.core:
                continue
            P.agree("thread %d %s" % (tid, k), vals)
    P.done()


def test_locations_agree_and_are_true(reading):
    """Per location: label, kind, waiting, arrivals, completed, the max and
    quantiles of completed waits; labels never shared (issue item 12)."""
    P = Problems(reading)
    want = expected_locations(reading.truth)
    by_label = collections.defaultdict(dict)
    index_of = {}
    for tool in LOCATION_LISTS:
        locs = locations_of(P, tool)
        if locs is None:
            continue
        if any(P.key(tool, l, "where", where=" (location %s)" % l.get("index")) is MISSING
               for l in locs):
            continue
        bad = [l["where"] for l in locs if not isinstance(l["where"], str)]
        if bad:
            P.add(tool, "location where", "%s, want a string" % json.dumps(bad[0]))
            continue
        labels = collections.Counter(l.get("where") for l in locs)
        for lab, n in labels.items():
            if n > 1:
                P.add(tool, "location label", "%d locations share %s" % (n, json.dumps(lab)))
        for lab in sorted(set(want) - set(labels)):
            P.add(tool, "location", "none labelled %s" % json.dumps(lab))
        for lab in sorted(set(labels) - set(want), key=str):
            P.add(tool, "location", "unexpected label %s" % json.dumps(lab))
        for l in locs:
            index_of.setdefault(l.get("index"), {})[tool] = l.get("where")
        for l in locs:
            lab = l.get("where")
            by_label[lab][tool] = l
            if lab not in want:
                continue
            kind, waiting, arrivals, completed = want[lab]
            what = " (location %s)" % json.dumps(lab)
            for k, v in (("kind", kind), ("waiting", waiting), ("arrivals", arrivals),
                         ("completed", completed)):
                got = P.key(tool, l, k, where=what)
                if got is not MISSING and got != v:
                    P.add(tool, "location %s %s" % (json.dumps(lab), k), "%s, fixture %s" % (
                        json.dumps(got), json.dumps(v)))
            mx = P.key(tool, l, "wait_max_ns", where=what)
            p50 = P.key(tool, l, "done_p50_ns", where=what)
            p99 = P.key(tool, l, "done_p99_ns", where=what)
            q = " ".join("%s=%s" % (k, json.dumps(v)) for k, v in
                         (("done_p50_ns", p50), ("done_p99_ns", p99), ("wait_max_ns", mx))
                         if v is not MISSING)
            if completed == 0:
                if mx not in (0, MISSING) or p50 not in (None, MISSING) or p99 not in (None, MISSING):
                    P.add(tool, "location %s quantiles" % json.dumps(lab),
                          "%s with no completed wait (want max 0, quantiles null)" % q)
                continue
            if not all(isinstance(v, int) for v in (mx, p50, p99)):
                P.add(tool, "location %s quantiles" % json.dumps(lab), "%s, want numbers" % q)
                continue
            if not p50 <= p99 <= mx:
                P.add(tool, "location %s quantiles" % json.dumps(lab), "%s: past the max" % q)
            settle = reading.truth["settle_ns"]
            if mx < settle:
                P.add(tool, "location %s wait_max_ns" % json.dumps(lab),
                      "%d < the %d ns each sleep lasted at least" % (mx, settle))
            # Every completed wait lies in one log2 bucket when the max
            # does: both quantiles are then the bucket's bound clamped to
            # the max, the max itself.
            if kind == "sleep" and settle.bit_length() == mx.bit_length() and not p50 == p99 == mx:
                P.add(tool, "location %s quantiles" % json.dumps(lab),
                      "%s: all waits in one bucket, want p50 = p99 = max" % q)
    for idx, per_tool in sorted(index_of.items(), key=lambda kv: str(kv[0])):
        P.agree("location %s where" % idx, per_tool)
    for lab, per_tool in by_label.items():
        for k in ("index", "kind", "waiting", "arrivals", "completed", "wait_max_ns",
                  "done_p50_ns", "done_p99_ns"):
            P.agree("location %s %s" % (json.dumps(lab), k),
                    {t: l.get(k, MISSING) for t, l in per_tool.items()})
    P.done()


def per_thread_stack(P, reading, key):
    """Thread id -> stack[key] from every thread list that gives it."""
    out = {}
    for tool in THREAD_LISTS:
        rows = threads_of(P, tool)
        for tid, row in (rows or {}).items():
            v = row.get("stack", {}).get(key) if isinstance(row.get("stack"), dict) else None
            if isinstance(v, int) and tid not in out:
                out[tid] = v
    return out


@pytest.mark.parametrize("by", ("entry", "name", "prefix"))
def test_classes_agree_and_are_true(reading, by):
    """Per class (--class-by entry|name|prefix): threads, sampled, touched
    and live p50/p99/max (nearest rank over the class's threads with a
    stack), suggested stack size, saves (issue items 2 and 3)."""
    P = Problems(reading)
    ex = expectations(reading.truth)
    members = collections.defaultdict(list)
    for tid, e in ex.items():
        members[class_key(by, e)].append(tid)
    touched = per_thread_stack(P, reading, "touched")
    live = per_thread_stack(P, reading, "live")
    if not touched:
        P.add("gt-stacks, gt-top, gdb", "stack.touched", "no thread list gives a thread's touched bytes")
    seen = collections.defaultdict(dict)
    for tool, path in class_lists(by).items():
        doc = P.doc(tool)
        if doc is None:
            continue
        rows = P.key(tool, doc, *path)
        if not isinstance(rows, list):
            continue
        got = {}
        for row in rows:
            c = P.key(tool, row, "class", where=" (a class)")
            if c is MISSING:
                continue
            if not isinstance(c, str):
                P.add(tool, "class", "%s, want a class name" % json.dumps(c))
                continue
            got[c] = row
        for c in sorted(set(members) - set(got)):
            P.add(tool, "class %s" % json.dumps(c), "missing (fixture: %d threads)" % len(members[c]))
        for c in sorted(set(got) - set(members), key=str):
            P.add(tool, "class %s" % json.dumps(c), "unexpected (%s threads)" % json.dumps(got[c].get("threads")))
        for c, row in got.items():
            seen[c][tool] = row
            if c not in members:
                continue
            ids = members[c]
            sampled_ids = [i for i in ids if not ex[i].fresh]
            what = " (class %s)" % json.dumps(c)
            n = P.key(tool, row, "threads", where=what)
            if n is not MISSING and n != len(ids):
                P.add(tool, "class %s threads" % json.dumps(c), "%s, fixture %d" % (json.dumps(n), len(ids)))
            s = P.key(tool, row, "sampled", where=what)
            if s is not MISSING and s != len(sampled_ids):
                P.add(tool, "class %s sampled" % json.dumps(c), "%s, fixture %d" % (
                    json.dumps(s), len(sampled_ids)))
            sug = P.key(tool, row, "suggested_stack_size", where=what)
            t = P.key(tool, row, "touched", where=what)
            tmax = t.get("max") if isinstance(t, dict) else None
            if not sampled_ids:
                if sug not in (None, MISSING):
                    P.add(tool, "class %s suggested_stack_size" % json.dumps(c),
                          "%s for a class with no stack sampled, want null" % json.dumps(sug))
                for k in ("touched", "live"):
                    q = row.get(k)
                    if isinstance(q, dict) and any(q.get(x) is not None for x in ("p50", "p99", "max")):
                        P.add(tool, "class %s %s" % (json.dumps(c), k), "%s for a class with no "
                              "stack sampled, want null quantiles" % json.dumps(q))
                continue
            if isinstance(tmax, int) and sug is not MISSING:
                if sug != suggestion(tmax):
                    P.add(tool, "class %s suggested_stack_size" % json.dumps(c),
                          "%s, want round_up_page(%d + max(%d / 4, page)) = %d" % (
                              json.dumps(sug), tmax, tmax, suggestion(tmax)))
            if c in ("conn_main", "conn") and isinstance(tmax, int) and tmax < reading.truth["conn_buf"]:
                P.add(tool, "class %s touched.max" % json.dumps(c), "%d < the %d bytes each wrote"
                      % (tmax, reading.truth["conn_buf"]))
            for k, per in (("touched", touched), ("live", live)):
                q = P.key(tool, row, k, where=what)
                vals = [per[i] for i in sampled_ids if i in per]
                if not isinstance(q, dict) or not vals or len(vals) != len(sampled_ids):
                    continue
                want = {"p50": nearest_rank(vals, 0.5), "p99": nearest_rank(vals, 0.99),
                        "max": max(vals)}
                gotq = {x: q.get(x) for x in want}
                if gotq != want:
                    P.add(tool, "class %s %s" % (json.dumps(c), k), "%s, nearest rank over the "
                          "threads' own %s bytes %s" % (json.dumps(gotq), k, json.dumps(want)))
    for c, per_tool in seen.items():
        for k in ("threads", "sampled", "touched", "live", "suggested_stack_size", "saves"):
            P.agree("class %s %s" % (json.dumps(c), k),
                    {t: r.get(k, MISSING) for t, r in per_tool.items()})
    P.done()


def past_fatal_signal(frames):
    """The frames of a thread that met a fatal signal, from the one the
    signal interrupted on, renumbered from 0.  Those above it (glibc's
    raise and pthread_kill under the runtime's handler, on_fatal, and the
    sigreturn trampoline) are not compared: libunwind and GDB's unwinder
    step and name glibc's frames differently there (an inlined
    __pthread_kill_internal one of them skips, raise vs __GI_raise, a
    trampoline with no symbol "?" vs its address)."""
    if not isinstance(frames, list):
        return frames
    names = [f.get("function") if isinstance(f, dict) else None for f in frames]
    if "on_fatal" not in names:
        return frames
    handler_n = frames[names.index("on_fatal")].get("n")
    rest = [f for f in frames if isinstance(f, dict) and isinstance(f.get("n"), int)
            and isinstance(handler_n, int) and f["n"] > handler_n + 1]
    if not rest:
        return frames
    base = rest[0]["n"]
    return [dict(f, n=f["n"] - base) for f in rest]


def frame_tuple(f):
    return tuple(f.get(k, MISSING) if isinstance(f, dict) else MISSING
                 for k in ("n", "pc", "function", "file", "line", "inlined"))


def check_frames(P, tool, what, frames, e):
    """Numbering by physical frame as GDB numbers them after `green-thread
    ID`: from 1 (GDB's #0 is the OS thread's frame), from 0 for the
    running thread (its frames are the OS thread's); the fixture's own
    frames as the fixture says; a fresh context's one frame the
    trampoline."""
    if not isinstance(frames, list):
        return
    for i, f in enumerate(frames):
        for k in ("n", "pc", "function", "file", "line", "inlined"):
            if P.key(tool, f, k, where=" (%s frame %d)" % (what, i)) is MISSING:
                return
    ns = [f["n"] for f in frames]
    base = 0 if e is not None and e.state == "running" else 1
    want_n, n = [], base
    for i, f in enumerate(frames):
        want_n.append(n)
        if not f["inlined"]:
            n += 1
    if ns != want_n:
        P.add(tool, "%s frame numbers" % what, "%s, want %s (from %d, by physical frame)" % (ns, want_n, base))
    if e is None or e.frames is None:
        return
    if e.fresh:
        if [f["function"] for f in frames] != [TRAMPOLINE]:
            P.add(tool, "%s frames" % what, "%s, want only %s (fresh context)" % (
                [f["function"] for f in frames], TRAMPOLINE))
        return
    mine = [(f["function"], f["line"], f["inlined"]) for f in frames
            if isinstance(f["file"], str) and os.path.basename(f["file"]) == FILE]
    if mine != e.frames:
        P.add(tool, "%s frames" % what, "fixture frames %s, want %s" % (mine, e.frames))
    fns = [f["function"] for f in frames]
    if fns[-2:] != [THREAD_START, TRAMPOLINE]:
        P.add(tool, "%s frames" % what, "outermost %s, want %s" % (fns[-2:], [THREAD_START, TRAMPOLINE]))


def test_frames_of_each_group_agree_and_are_true(reading):
    """Groups of identical stacks: the same threads, frames (n, pc,
    function, file, line, inlined) in every reader, and in each member's
    own frames (issue items 10 and 12)."""
    P = Problems(reading)
    ex = expectations(reading.truth)
    groups = {}
    for tool in GROUP_LISTS:
        doc = P.doc(tool)
        if doc is None:
            continue
        rows = P.key(tool, doc, GROUP_LISTS[tool])
        if not isinstance(rows, list):
            continue
        mine = {}
        for g in rows:
            ids = P.key(tool, g, "thread_ids")
            frames = P.key(tool, g, "frames")
            count = P.key(tool, g, "count")
            if ids is MISSING or frames is MISSING:
                continue
            if not (isinstance(ids, list) and ids and all(isinstance(i, int) for i in ids)):
                P.add(tool, "group thread_ids", "%s, want a list of thread ids" % json.dumps(ids))
                continue
            key = tuple(sorted(ids))
            if count is not MISSING and count != len(ids):
                P.add(tool, "group %s count" % list(key), "%s, %d thread ids" % (count, len(ids)))
            mine[key] = past_fatal_signal(frames)
            e = ex.get(key[0])
            check_frames(P, tool, "group %s" % list(key), frames, e)
        groups[tool] = mine
        # Threads with the same fixture stack form exactly one group.
        by_group = collections.defaultdict(list)
        for tid, e in ex.items():
            if e.frames and e.state == "parked":
                by_group[e.group].append(tid)
        for g, ids in by_group.items():
            if tuple(sorted(ids)) not in mine:
                holders = [k for k in mine if set(k) & set(ids)]
                P.add(tool, "group %s" % g, "threads %s are grouped as %s" % (
                    sorted(ids), [list(k) for k in holders]))
    P.agree("groups (thread ids)", {t: sorted(list(k) for k in g) for t, g in groups.items()})
    common = set.intersection(*(set(g) for g in groups.values())) if groups else set()
    for key in sorted(common):
        P.agree("group %s frames" % list(key),
                {t: [list(frame_tuple(f)) for f in g[key]] for t, g in groups.items()})
    # Each thread's own frames, where a thread list gives them, are its
    # group's.
    for tool in THREAD_LISTS:
        rows = threads_of(P, tool)
        if rows is None:
            continue
        for tid, row in sorted(rows.items()):
            if "frames" not in row:
                if tool == "gt-stacks --all":
                    P.key(tool, row, "frames", where=" (thread %d)" % tid)
                continue
            check_frames(P, tool, "thread %d" % tid, row["frames"], ex.get(tid))
            for gtool, g in groups.items():
                for key, frames in g.items():
                    if tid in key and [frame_tuple(f) for f in frames] != \
                            [frame_tuple(f) for f in past_fatal_signal(row["frames"])]:
                        P.add("%s vs %s" % (tool, gtool), "thread %d frames" % tid,
                              "differ from its group's")
    P.done()


def test_live_stack_histogram_holds_only_stacks(reading):
    """gt-top's live-stack histogram counts the threads holding a stack,
    never those with a fresh context (issue item 9)."""
    P = Problems(reading)
    ex = expectations(reading.truth)
    live = per_thread_stack(P, reading, "live")
    holding = sum(1 for tid, e in ex.items() if not e.fresh and live.get(tid, 0) > 0)
    for tool in ("gt-top --view stacks",):
        doc = P.doc(tool)
        if doc is None:
            continue
        hist = P.key(tool, doc, "stacks_report", "live_hist")
        if isinstance(hist, list) and sum(hist) != holding:
            P.add(tool, "stacks_report.live_hist", "%d threads in it, %d threads hold a stack "
                  "(%d have a fresh context)" % (sum(hist), holding,
                                                 sum(1 for e in ex.values() if e.fresh)))
    P.done()



# ---- who blocks whom, deadlocks, the running thread ----------------------

# Where each reader keeps the whole-target answers: deadlocks and the
# running thread (gt-stacks and gt-top print them in every document; GDB's
# info green-threads carries them too).
WHOLE_DOCS = ("gt-stacks --all", "gt-top --view threads", "gdb info green-threads")


def expected_blocks(t):
    """Thread id -> (regex of its block text, blocked_by or None), for the
    threads whose block says more than their wait.  The regex's one group
    is the hold age, where there is one."""
    ids, out = t["ids"], {}
    holder = ids["holder"][0]
    place = r"\(parked, chan_recv at holder_wait \(%s:%d\)\)" % (FILE, LINES["holder"])
    for tid in ids["crit_left"] + ids["crit_right"]:
        out[tid] = (r"mutex 0x%x held by thread %d \"holder\" %s for (\S+)" % (
            t["crit_mu"], holder, place),
            {"id": holder, "kind": "mutex", "object": t["crit_mu"], "edge": True,
             "cycle": None})
    for tid in ids["joiner"]:
        out[tid] = (r"join thread %d %s" % (holder, place),
                    {"id": holder, "kind": "join", "object": holder, "edge": True,
                     "held_ns": None, "cycle": None})
    for tid in ids["condwait"]:
        out[tid] = (r"cond 0x%x then mutex 0x%x unlocked" % (t["cond"], t["cond_mu"]), "any")
    for tid in ids["sender"]:
        out[tid] = (re.escape("chan_send 0x%x (1/1 queued, 0 receivers waiting)" % t["full"]),
                    None)
    for tid in ids["receiver"] + [holder]:
        out[tid] = (re.escape("chan_recv 0x%x (0/1 queued, 0 senders waiting)" % t["never"]),
                    None)
    return out


def without_age(text):
    return re.sub(r" for (>= )?\S+$", "", text) if isinstance(text, str) else text


def test_blocks_agree_and_are_true(reading):
    """Per thread: what holds it up, in words and in numbers: the owner of
    the mutex it waits on and since when, the thread it joins, the channel's
    fill; the same text from every reader, and true."""
    P = Problems(reading)
    t = reading.truth
    ex = expectations(t)
    blocks = expected_blocks(t)
    lists = {tool: threads_of(P, tool) for tool in THREAD_LISTS}
    for tid, e in sorted(ex.items()):
        texts, bys, ages = {}, {}, {}
        for tool, rows in lists.items():
            if rows is None or tid not in rows:
                continue
            row = rows[tid]
            where = " (thread %d)" % tid
            text = P.key(tool, row, "block", where=where)
            by = P.key(tool, row, "blocked_by", where=where)
            if text is MISSING or by is MISSING:
                continue
            if e.state != "parked":
                if text is not None or by is not None:
                    P.add(tool, "thread %d block" % tid, "%s / %s for a %s thread, want null"
                          % (dumps(text), dumps(by), e.state))
                continue
            want = blocks.get(tid)
            if want is None:
                # Nothing holds it up but its wait: the text is the wait's.
                if text != row.get("wait"):
                    P.add(tool, "thread %d block" % tid, "%s, want its wait %s"
                          % (dumps(text), dumps(row.get("wait"))))
                if by is not None:
                    P.add(tool, "thread %d blocked_by" % tid, "%s, want null" % dumps(by))
                continue
            m = re.fullmatch(want[0], text) if isinstance(text, str) else None
            if not m:
                P.add(tool, "thread %d block" % tid, "%s, want /%s/" % (dumps(text), want[0]))
                continue
            if m.groups():
                ages[tool] = parse_duration(m.group(1).replace(">= ", ""))
            texts[tool] = text if reading.core else without_age(text)
            if want[1] == "any":
                if by is not None and by.get("id") is not None:
                    P.add(tool, "thread %d blocked_by" % tid, "%s: an unlocked mutex has no "
                          "owner" % dumps(by))
            elif want[1] is None:
                if by is not None:
                    P.add(tool, "thread %d blocked_by" % tid, "%s, want null" % dumps(by))
            else:
                got = {k: by.get(k, MISSING) for k in want[1]} if isinstance(by, dict) else by
                if got != want[1]:
                    P.add(tool, "thread %d blocked_by" % tid, "%s, want %s"
                          % (dumps(got), dumps(want[1])))
                if "held_ns" not in want[1] and isinstance(by, dict):
                    held = by.get("held_ns")
                    lo, hi, slack = now_window(reading, tool)
                    # The holder took the lock between spawn_ns and ready_ns;
                    # the runtime stamps it with a reading at most 20 us older.
                    hlo, hhi = lo - t["ready_ns"] - slack, hi - t["spawn_ns"] + 20000 + slack
                    if not isinstance(held, int) or not hlo <= held <= hhi:
                        P.add(tool, "thread %d blocked_by.held_ns" % tid, "%s, fixture %d..%d"
                              % (dumps(held), hlo, hhi))
                    elif tool in ages and abs(ages[tool] - held) > max(0.06 * held, 1e8):
                        P.add(tool, "thread %d block age" % tid, "%s in text, %d ns in JSON"
                              % (m.group(1), held))
                    bys[tool] = by if reading.core else dict(by, held_ns=None)
        P.agree("thread %d block" % tid, texts)
        P.agree("thread %d blocked_by" % tid, bys)
    P.done()


def test_no_deadlock_and_the_running_thread_agree(reading):
    """The fixture has no cycle: every reader says so.  Phase 2's main
    thread runs (in a raw read the runtime does not see) since it woke
    for "go": every reader names it and its run time, and calls it a hog."""
    P = Problems(reading)
    t = reading.truth
    running = {}
    for tool in WHOLE_DOCS:
        doc = P.doc(tool)
        if doc is None:
            continue
        dl = P.key(tool, doc, "deadlocks")
        n = P.key(tool, doc, "threads_in_deadlock")
        if dl is not MISSING and dl != []:
            P.add(tool, "deadlocks", "%s, want []" % dumps(dl))
        if n is not MISSING and n != 0:
            P.add(tool, "threads_in_deadlock", "%s, want 0" % dumps(n))
        r = P.key(tool, doc, "running")
        if r is MISSING:
            continue
        if t["phase"] == "idle":
            if r is not None:
                P.add(tool, "running", "%s, want null (every thread parked)" % dumps(r))
            continue
        if not isinstance(r, dict):
            P.add(tool, "running", "%s, want the main thread" % dumps(r))
            continue
        if r.get("id") != t["main_id"] or r.get("name") != "main":
            P.add(tool, "running", "thread %s %s, want %d \"main\"" % (
                dumps(r.get("id")), dumps(r.get("name")), t["main_id"]))
        lo, hi, slack = now_window(reading, tool)
        rlo, rhi = lo - t["go_ns"] - slack, hi - t["ready_ns"] + slack
        run = r.get("run_ns")
        if not isinstance(run, int) or not rlo <= run <= rhi:
            P.add(tool, "running.run_ns", "%s, fixture %d..%d" % (dumps(run), rlo, rhi))
        if r.get("hog") is not (isinstance(run, int) and run >= r.get("threshold_ns", 0)):
            P.add(tool, "running.hog", "%s with run_ns %s and threshold_ns %s" % (
                dumps(r.get("hog")), dumps(run), dumps(r.get("threshold_ns"))))
        running[tool] = {k: r.get(k, MISSING) for k in ("id", "name", "run_exact",
                                                        "threshold_ns")}
        if reading.core:
            # Live, each reader reads at its own moment: the run time, and
            # so whether it is past the threshold, differ by design.
            running[tool].update(run_ns=run, hog=r.get("hog"))
    P.agree("running", running)
    P.done()


# ---- info green-stack ------------------------------------------------------

def test_green_stack_agrees_and_is_true(reading):
    """GDB's info green-stack --json, in both forms: the totals over every
    thread, the threads with the most live stack (most first, ties by id),
    and each one's bytes, the same as gt-stacks --all's and the fixture's
    (the running thread's live and dead unknown, a conn thread's touched
    at least the bytes it wrote)."""
    P = Problems(reading)
    ex = expectations(reading.truth)
    ref = threads_of(P, "gt-stacks --all")
    if ref is None:
        P.done()
        return
    stack = lambda tid, k: ref[tid]["stack"].get(k) if tid in ref else MISSING
    live = {tid: stack(tid, "live") or 0 for tid in ref}
    # Each thread's bytes as the thread lists give them (gt-stacks --all
    # does not measure touched, dead and unused; gt-top's threads view does).
    other = {k: per_thread_stack(P, reading, k)
             for k in ("reserved", "live", "touched", "dead", "unused")}
    main, conn = reading.truth["main_id"], reading.truth["ids"]["conn"][0]
    for tool, ids in (("gdb info green-stack", None), ("gdb info green-stack %d" % main, [main]),
                      ("gdb info green-stack %d" % conn, [conn])):
        doc = P.doc(tool)
        if doc is None:
            continue
        if doc.get("threads") != len(ex):
            P.add(tool, "threads", "%s, fixture %d" % (json.dumps(doc.get("threads")), len(ex)))
        totals = doc.get("totals", {})
        want = {"reserved": sum(stack(t, "reserved") or 0 for t in ref), "live": sum(live.values())}
        for k, v in want.items():
            if totals.get(k) != v:
                P.add(tool, "totals." + k, "%s, gt-stacks --all's threads add up to %d"
                      % (json.dumps(totals.get(k)), v))
        if doc.get("measured") is not True:
            P.add(tool, "measured", "%s in a full core or a live process, want true"
                  % json.dumps(doc.get("measured")))
        rows = doc.get("stacks", [])
        compared = 0
        got = [r.get("id") for r in rows]
        if ids is None:
            ids = sorted(ref, key=lambda t: (-live[t], t))[:10]
        if got != ids:
            P.add(tool, "stacks", "ids %s, want %s (most live stack first)" % (got, ids))
        for r in rows:
            tid = r.get("id")
            e = ex.get(tid)
            if e is None:
                P.add(tool, "thread %s" % tid, "not a thread of the fixture")
                continue
            if (r.get("name"), r.get("state")) != (e.name, e.state):
                P.add(tool, "thread %d name, state" % tid, "%s, %s, fixture %s, %s" % (
                    r.get("name"), r.get("state"), e.name, e.state))
            st = r.get("stack", {})
            if e.state != "exited" and st.get("reserved") != RESERVED:
                P.add(tool, "thread %d stack.reserved" % tid, "%s, fixture %d"
                      % (json.dumps(st.get("reserved")), RESERVED))
            for k, given in other.items():
                if st.get(k) is not None and given.get(tid) is not None and st[k] != given[tid]:
                    P.add(tool, "thread %d stack.%s" % (tid, k), "%s, the thread lists' %s"
                          % (json.dumps(st[k]), json.dumps(given[tid])))
                elif k == "touched" and given.get(tid) is not None:
                    compared += 1
            running = e.state == "running"
            for k in ("live", "dead"):
                if (st.get(k) is None) != running:
                    P.add(tool, "thread %d stack.%s" % (tid, k), "%s for a %s thread"
                          % (json.dumps(st.get(k)), e.state))
            if None in (st.get("touched"), st.get("unused")):
                P.add(tool, "thread %d stack" % tid, "touched or unused null in a full core"
                      " or a live process")
            elif e.group == "conn" and st["touched"] < reading.truth["conn_buf"]:
                P.add(tool, "thread %d stack.touched" % tid, "%d < the %d bytes it wrote"
                      % (st["touched"], reading.truth["conn_buf"]))
            elif st["unused"] != st.get("reserved", 0) - st["touched"]:
                P.add(tool, "thread %d stack.unused" % tid, "%d, reserved - touched = %d"
                      % (st["unused"], st.get("reserved", 0) - st["touched"]))
        if not compared:
            P.add(tool, "stacks", "no thread's touched bytes compared with another reader's")
    P.done()


# ---- Prometheus ------------------------------------------------------------

HIST_BUCKETS = 48             # the runtime's GT_WAIT_HIST_BUCKETS


def le_label(ns):
    """A wait bound in ns as gt-top writes its le: seconds, exact decimal,
    no trailing zeros."""
    text = "%d.%09d" % divmod(ns, 1000000000)
    return text.rstrip("0").rstrip(".")


def parse_exposition(text):
    """{(name, frozenset(labels)): value} and the families' TYPE lines,
    in order (label values are the fixture's: no escapes to undo)."""
    samples, types = {}, []
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            types.append(tuple(line.split()[2:4]))
            continue
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-z_]+)(?:\{(.*)\})? (\S+)$', line)
        assert m, line
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        samples[(m.group(1), labels)] = float(m.group(3))
    return samples, types


def test_prometheus_is_one_scrape_and_true(reading):
    """gt-top -b -n 2 --format prometheus: one exposition promtool accepts
    (each family once), the wait histograms real Prometheus histograms of
    the runtime's log2 buckets (cumulative, le = 2^(b+1) - 1 ns, +Inf,
    _count the completed waits the fixture made, _sum at least their
    time; none where no wait completed), and no family whose label values
    overlap."""
    P = Problems(reading)
    text = reading.prom
    if isinstance(text, ToolError):
        P.add("gt-top --format prometheus", "run", text.text)
        P.done()
        return
    r = subprocess.run([shutil.which("promtool") or "promtool", "check", "metrics"],
                       input=text, capture_output=True, text=True)
    if r.returncode != 0:
        P.add("promtool check metrics", "exit %d" % r.returncode, (r.stdout + r.stderr).strip())
    samples, types = parse_exposition(text)
    names = [n for n, _ in types]
    for n in sorted({n for n in names if names.count(n) > 1}):
        P.add("gt-top --format prometheus", n, "%d TYPE lines: more than one exposition"
              % names.count(n))
    for n, t in types:
        if t == "counter" and not n.endswith("_total"):
            P.add("gt-top --format prometheus", n, "a counter not ending in _total")
    # Overlapping label values: gt_stack_bytes{kind} summed live, dead,
    # resident and reserved bytes; the states partition the threads.
    for (n, labels) in samples:
        if any(k == "kind" for k, _ in labels):
            P.add("gt-top --format prometheus", n, "labelled by kind")
    states = {v: samples[(n, l)] for (n, l) in samples if n == "gt_threads" for _, v in l}
    want_states = expected_states(reading.truth)
    if states != {k: float(v) for k, v in want_states.items()}:
        P.add("gt-top --format prometheus", "gt_threads", "%s, fixture %s" % (states, want_states))
    top = P.doc("gt-top")
    if top is not None:
        for k in ("reserved", "live"):
            got = samples.get(("gt_stack_%s_bytes" % k, frozenset()))
            if got != top["stacks"][k]:
                P.add("gt-top --format prometheus", "gt_stack_%s_bytes" % k,
                      "%s, gt-top --format json %s" % (got, top["stacks"][k]))
    les = [le_label((2 << b) - 1) for b in range(HIST_BUCKETS - 1)] + ["+Inf"]
    want = expected_locations(reading.truth)
    settle = label([at("settle", "settle"), at("main_thread", "main_settle")])
    for where, (kind, waiting, arrivals, completed) in sorted(want.items()):
        loc = frozenset([("location", where)])
        got = [samples.get(("gt_location_wait_seconds_bucket", loc | {("le", le)}))
               for le in les]
        n = samples.get(("gt_location_waiting_threads", loc))
        if n != waiting:
            P.add("gt-top --format prometheus", "gt_location_waiting_threads %s" % where,
                  "%s, fixture %d" % (n, waiting))
        if completed == 0:
            # No wait completed there: no histogram (its series appear
            # with the first one).
            if got != [None] * len(les) or ("gt_location_wait_seconds_count", loc) in samples:
                P.add("gt-top --format prometheus", "gt_location_wait_seconds %s" % where,
                      "a histogram where no wait completed")
            continue
        if None in got:
            P.add("gt-top --format prometheus", "gt_location_wait_seconds %s" % where,
                  "no bucket le=%s" % les[got.index(None)])
            continue
        if any(a > b for a, b in zip(got, got[1:])):
            P.add("gt-top --format prometheus", "gt_location_wait_seconds %s" % where,
                  "buckets not cumulative: %s" % got)
        count = samples.get(("gt_location_wait_seconds_count", loc))
        if not (got[-1] == count == completed):
            P.add("gt-top --format prometheus", "gt_location_wait_seconds %s" % where,
                  "+Inf %s, _count %s, fixture %d completed" % (got[-1], count, completed))
        if where == settle:
            # Each sleep lasted at least settle_ns (3 ms > 2^21 ns): none
            # in a bucket below [2^21, 2^22), all of them in one at or
            # above it.
            t = reading.truth
            low = les.index(le_label((1 << t["settle_ns"].bit_length() - 1) - 1))
            if got[low] != 0:
                P.add("gt-top --format prometheus", "gt_location_wait_seconds %s" % where,
                      "%d waits of at most %s s, each lasted %d ns" % (got[low], les[low],
                                                                       t["settle_ns"]))
            total = samples.get(("gt_location_wait_seconds_sum", loc))
            if total is None or total < t["settle_n"] * t["settle_ns"] / 1e9:
                P.add("gt-top --format prometheus", "gt_location_wait_seconds_sum %s" % where,
                      "%s s, the %d sleeps lasted at least %.6f s" % (
                          total, t["settle_n"], t["settle_n"] * t["settle_ns"] / 1e9))
    P.done()
