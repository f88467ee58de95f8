"""Who blocks whom: lock owners, the wait-for graph, deadlocks, the hog.

The same rules as libgtobserve's "who blocks whom" (gtobserve.h), so that
GDB prints the same bytes as gt-stacks and gt-top:

- A thread parked on a mutex waits for the mutex's owner; one parked in a
  join waits for the joined thread.  Those are the edges of the wait-for
  graph, and a cycle of them is a deadlock.  A condition variable's waiter
  waits for a signal anyone may send (no edge), then retakes a mutex whose
  owner is named; a channel's waiter waits for anyone (no edge): its fill,
  capacity and the threads parked on the other side are named.
- Wait objects are read through the registry's layout records
  (GT_REC_MUTEX, GT_REC_COND, GT_REC_CHAN), so no DWARF is needed.  Their
  addresses are the target's (wait_obj), and so is every byte read there:
  a read is one bounded range of the record size the layout table gives
  (itself bounded), an object that cannot be read or whose magic is wrong
  is named as such, and a mutex's owner is trusted only as the address of
  a thread record of this snapshot.
- One kernel thread runs every green thread, so the running one has run
  since the registry's run_start (0: it began with a hand-off, gt_yield;
  the watchdog's wd_since then bounds it from below).

Consistency: a live reader that lets the target run re-reads a cycle's
members before it reports one (a torn read must never make a cycle).  In
GDB the inferior stands still while a command runs (all-stop: every
thread of the process is stopped before Python runs), so the one read a
snapshot makes is consistent, and the cycles found in it are the target's.
"""
import collections

from . import abi, fmt, symbols

C = abi.C
PARKED, RUNNING = C["GT_STATE_PARKED"], C["GT_STATE_RUNNING"]
W_MUTEX, W_COND, W_JOIN = C["GT_WAIT_MUTEX"], C["GT_WAIT_COND"], C["GT_WAIT_JOIN"]
W_SEND, W_RECV = C["GT_WAIT_CHAN_SEND"], C["GT_WAIT_CHAN_RECV"]
OBJECT_KINDS = (W_MUTEX, W_COND, W_JOIN, W_SEND, W_RECV)

# gto_obj_status
OBJ_NONE, OBJ_OK, OBJ_UNREADABLE, OBJ_BAD_MAGIC, OBJ_UNPUBLISHED = range(5)

# The hog threshold when the runtime's watchdog is off (decisions shared by
# every reader; gt-top's -H changes only what it highlights).
DEFAULT_HOG_NS = 100 * 1000 * 1000
# The largest wait object header a layout record may state: the runtime's
# are a few dozen bytes; a damaged table must not make each of 100,000
# waiters' objects a 64 KiB read.
MAX_OBJECT = 4096
ADDR_END = 1 << 64


class _Kind:
    """The layout of one object kind: its size and {field: (offset, size)}
    of the integer fields that fit in it; None when the runtime publishes
    none (an older runtime) or a size no record has."""

    def __init__(self, layout, rec, prefix):
        self.size = None
        self.fields = {}
        ent = layout.map.get((rec, 0))
        if not ent or not 0 < ent[1] <= MAX_OBJECT:
            return
        for name, fid in abi.fields(prefix).items():
            f = layout.map.get((rec, fid))
            if fid and f and 0 < f[1] <= 8 and f[0] + f[1] <= ent[1]:
                self.fields[name] = f
        # Only the bytes of the fields read: one small read per object.
        self.size = max([off + size for off, size in self.fields.values()] or [ent[1]])

    def decode(self, raw):
        return {name: int.from_bytes(raw[off:off + size], "little")
                for name, (off, size) in self.fields.items()}


class Obj:
    """A wait object as read: status (OBJ_*) and its integer fields."""
    __slots__ = ("status", "f")

    def __init__(self, status, f=None):
        self.status, self.f = status, f or {}


class Block:
    """What holds up one parked thread (gto_block)."""
    __slots__ = ("kind", "status", "obj", "by", "by_record", "edge", "held_since",
                 "mutex", "mutex_status", "chan_len", "chan_cap", "chan_closed",
                 "peers", "cycle")

    def __init__(self, kind, obj):
        self.kind, self.obj = kind, obj
        self.status = OBJ_NONE
        self.by = None              # index (ThreadTable k) of who holds it up
        self.by_record = 0
        self.edge = False
        self.held_since = 0
        self.mutex = 0
        self.mutex_status = OBJ_NONE
        self.chan_len = self.chan_cap = 0
        self.chan_closed = False
        self.peers = 0
        self.cycle = 0              # 1 + index of its deadlock cycle, 0 none


class Analysis:
    """The blocks, the wait-for graph and its cycles of one snapshot
    (built once per snapshot: analysis())."""

    def __init__(self, snap):
        self.snap = snap
        self.read = snap.target.reader()
        lay = snap.layout
        self.kinds = {W_MUTEX: _Kind(lay, C["GT_REC_MUTEX"], "GT_F_MUTEX_"),
                      W_COND: _Kind(lay, C["GT_REC_COND"], "GT_F_COND_"),
                      W_SEND: _Kind(lay, C["GT_REC_CHAN"], "GT_F_CHAN_")}
        self.kinds[W_RECV] = self.kinds[W_SEND]
        self._objs = {}
        self._states = {}
        self._places = {}
        self._names = {}
        self._sides = None
        self.blocks = {}            # k -> Block, made when asked for
        self.next = {}              # k -> k it waits on through an edge
        self._build_edges()
        self.cycles = self._find_cycles()
        self.cycle_of = {k: i for i, cyc in enumerate(self.cycles, 1) for k in cyc}

    # ---- objects and owners ---------------------------------------------

    def object(self, kind, addr):
        """The object of wait kind `kind` at addr, read once (50 waiters
        of one mutex share it)."""
        key = (W_SEND if kind == W_RECV else kind, addr)
        o = self._objs.get(key)
        if o is None:
            o = self._objs[key] = self._read_object(kind, addr)
        return o

    def _read_object(self, kind, addr):
        spec = self.kinds[kind]
        if spec.size is None or "magic" not in spec.fields:
            return Obj(OBJ_UNPUBLISHED)
        if not 0 < addr <= ADDR_END - spec.size:
            return Obj(OBJ_UNREADABLE)
        raw = self.read(addr, spec.size)
        if raw is None or len(raw) != spec.size:
            return Obj(OBJ_UNREADABLE)
        f = spec.decode(raw)
        magic = f["magic"]
        if kind == W_MUTEX:
            ok = magic in (C["GT_MUTEX_MAGIC"], 0)
        elif kind == W_COND:
            ok = magic in (C["GT_COND_MAGIC"], 0)
        else:
            ok = magic == C["GT_CHAN_MAGIC"]
        return Obj(OBJ_OK if ok else OBJ_BAD_MAGIC, f)

    def thread_at_record(self, addr):
        """k of the thread whose record is at addr, or None."""
        return self.snap.table.index_at(addr)

    def mutex_owner(self, addr):
        """(status, owner record, owner k or None, held_since) of the
        mutex at addr, read once (50 waiters of one mutex share it)."""
        key = ("owner", addr)
        m = self._objs.get(key)
        if m is None:
            o = self.object(W_MUTEX, addr)
            rec = o.f.get("owner", 0) if o.status == OBJ_OK else 0
            m = self._objs[key] = (o.status, rec,
                                   self.thread_at_record(rec) if rec else None,
                                   o.f.get("held_since", 0) or 0)
        return m

    # ---- the graph ---------------------------------------------------------

    def _build_edges(self):
        """The wait-for graph's edges: a mutex waiter's to the owner, a
        joiner's to the joined thread.  Waiters are grouped by object
        first, so each mutex is read and each owner looked up once, and
        the per-thread work is a few operations in C (100,000 waiters)."""
        col = self.snap.table.column
        states, kinds = col("state"), col("wait_kind")
        edge_kinds = (W_MUTEX, W_JOIN)
        ks = [k for k, kd in enumerate(kinds) if kd in edge_kinds and states[k] == PARKED]
        if not ks:
            return
        objs = col("wait_obj")
        groups = collections.defaultdict(list)
        for k in ks:
            groups[(kinds[k], objs[k] or 0)].append(k)
        nxt = self.next
        for (kind, obj), waiters in groups.items():
            by = self.mutex_owner(obj)[2] if kind == W_MUTEX else self.snap.find(obj)
            if by is not None:
                nxt.update(dict.fromkeys(waiters, by))

    def block(self, k):
        """The Block of thread k (parked on an object or a join), else
        None; made on first use."""
        b = self.blocks.get(k)
        if b is not None:
            return b
        col = self.snap.table.column
        kind = col("wait_kind")[k]
        if col("state")[k] != PARKED or kind not in OBJECT_KINDS:
            return None
        obj = col("wait_obj")[k] or 0
        b = self.blocks[k] = Block(kind, obj)
        b.cycle = self.cycle_of.get(k, 0)
        if kind in (W_MUTEX, W_COND):
            b.mutex = obj if kind == W_MUTEX else col("wait_arg")[k] or 0
            b.mutex_status, b.by_record, b.by, b.held_since = self.mutex_owner(b.mutex)
            b.status = b.mutex_status if kind == W_MUTEX else self.object(W_COND, obj).status
            b.edge = kind == W_MUTEX and b.by is not None
        elif kind == W_JOIN:
            b.status = OBJ_OK
            b.by = self.snap.find(obj)
            b.edge = b.by is not None
        else:
            o = self.object(kind, obj)
            b.status = o.status
            if o.status == OBJ_OK:
                b.chan_len, b.chan_cap = o.f.get("len", 0), o.f.get("cap", 0)
                b.chan_closed = bool(o.f.get("closed", 0))
            b.peers = self.sides()[(W_RECV if kind == W_SEND else W_SEND, obj)]
        return b

    def sides(self):
        """Counter of (chan wait kind, channel) over the parked threads:
        the threads waiting on each side of each channel."""
        if self._sides is None:
            col = self.snap.table.column
            states, kinds, objs = col("state"), col("wait_kind"), col("wait_obj")
            self._sides = collections.Counter(
                (kd, objs[k]) for k, kd in enumerate(kinds)
                if kd in (W_SEND, W_RECV) and states[k] == PARKED)
        return self._sides

    def _find_cycles(self):
        """Every cycle of the wait-for graph, in O(n) and without
        recursion.  Each thread waits on at most one other, so a walk from
        any thread follows one path; a walk that comes back to a thread it
        marked itself has closed a cycle, one that reaches a thread an
        earlier walk marked has not (that walk found any cycle there).
        Each cycle starts at its lowest id, then in wait order (threads[i]
        waits on threads[i + 1]); cycles in order of that first id."""
        ids = self.snap.table.column("id")
        nxt, mark = self.next, {}
        cycles = []
        for walk, start in enumerate(nxt, 1):
            if start in mark:
                continue
            path, k = [], start
            while k is not None and k not in mark:
                mark[k] = walk
                path.append(k)
                k = nxt.get(k)
            if k is not None and mark[k] == walk:
                cyc = path[path.index(k):]
                low = min(range(len(cyc)), key=lambda i: ids[cyc[i]])
                cycles.append(cyc[low:] + cyc[:low])
        cycles.sort(key=lambda c: ids[c[0]])
        return cycles

    def threads_in_deadlock(self):
        return sum(len(c) for c in self.cycles)

    def location_blockers(self):
        """{location index: [(k of the thread holding them up, waiters)]}
        of the threads parked there held up through an edge, most
        waiters first, ties by lowest id (gto_location_blockers)."""
        locs, ids = self.snap.table.column("location"), self.snap.table.column("id")
        per = collections.defaultdict(collections.Counter)
        for k, by in self.next.items():
            per[locs[k]][by] += 1
        return {loc: sorted(c.items(), key=lambda e: (-e[1], ids[e[0]]))
                for loc, c in per.items()}

    # ---- texts -----------------------------------------------------------

    def place(self, loc):
        """The place of a location: its call site (pcs[0]) looked up as a
        return address, `func (file:line)` (gto_pc_label); None without
        one."""
        if loc not in self._places:
            l = self.snap.locations.get(loc) if loc else None
            self._places[loc] = symbols.lookup(l.pcs[0]).where() if l and l.pcs else None
        return self._places[loc]

    def name_of(self, k):
        """`thread 22 "holder"`, as every reader names a thread."""
        s = self._names.get(k)
        if s is None:
            t = self.snap.thread_at(k)
            s = self._names[k] = 'thread %d "%s"' % (t.id, t.name)
        return s

    def state_text(self, k):
        """`parked, sleep at truth_holder (blockers.c:52)`: thread k's
        state and, parked, its wait kind and place."""
        s = self._states.get(k)
        if s is None:
            t = self.snap.thread_at(k)
            s = abi.STATE_NAMES.get(t.state, "unknown")
            if t.state == PARKED:
                s += ", " + fmt.wait_kind(t)
                place = self.place(t.location)
                if place:
                    s += " at " + place
            self._states[k] = s
        return s

    def owner_text(self, k):
        """`thread 2 "holder" (parked, sleep at truth_holder (blockers.c:52))`."""
        return "%s (%s)" % (self.name_of(k), self.state_text(k))

    def _mutex_text(self, b):
        snap = self.snap
        head = "mutex " + fmt.hexa(b.mutex)
        st = b.mutex_status
        if st == OBJ_UNPUBLISHED:
            return head
        if st == OBJ_UNREADABLE:
            return head + " (unreadable)"
        if st == OBJ_BAD_MAGIC:
            return head + " (not a mutex)"
        if not b.by_record:
            return head + " unlocked"
        if b.by is None:
            return head + " held by an unknown thread (record %s)" % fmt.hexa(b.by_record)
        s = "%s held by %s" % (head, self.owner_text(b.by))
        if b.held_since and b.held_since <= snap.now:
            s += " for " + fmt.age(snap.now - b.held_since, snap.now_exact)
        return s

    def describe(self, t, k):
        """The block description of thread record t (index k): the wait,
        then who holds it up (gto_block_describe); None when t is not
        parked."""
        if t.state != PARKED:
            return None
        b = self.block(k)
        if b is None:
            return fmt.wait_text(t, self.snap.now)
        if b.kind == W_MUTEX:
            return self._mutex_text(b)
        if b.kind == W_JOIN:
            if b.by is None:
                return "join thread %d (no such thread)" % b.obj
            return "join thread %d (%s)" % (b.obj, self.state_text(b.by))
        if b.kind == W_COND:
            return "cond %s then %s" % (fmt.hexa(b.obj), self._mutex_text(b))
        head = "%s %s" % (abi.WAIT_NAMES[b.kind], fmt.hexa(b.obj))
        if b.status == OBJ_UNPUBLISHED:
            return head
        if b.status == OBJ_UNREADABLE:
            return head + " (unreadable)"
        if b.status == OBJ_BAD_MAGIC:
            return head + " (not a channel)"
        other = "receiver" if b.kind == W_SEND else "sender"
        return "%s (%s%d/%d queued, %d %s%s waiting)" % (
            head, "closed, " if b.chan_closed else "", b.chan_len, b.chan_cap,
            b.peers, other, "" if b.peers == 1 else "s")

    def blocked_by_json(self, k):
        """The "blocked_by" member of thread k: null, or {id, kind,
        object, edge, held_ns, cycle}."""
        b = self.block(k)
        if b is None or b.kind not in (W_MUTEX, W_JOIN, W_COND):
            return None
        snap = self.snap
        by_id = snap.table.column("id")[b.by] if b.by is not None else None
        held = None
        if b.kind != W_JOIN and b.by is not None and b.held_since \
                and b.held_since <= snap.now:
            held = snap.now - b.held_since
        return {"id": by_id, "kind": abi.WAIT_NAMES[b.kind], "object": b.obj,
                "edge": b.edge, "held_ns": held, "cycle": b.cycle or None}

    def deadlocks_json(self):
        col = self.snap.table.column
        ids, locs = col("id"), col("location")
        out = []
        for cyc in self.cycles:
            members = []
            for i, k in enumerate(cyc):
                b = self.block(k)
                t = self.snap.thread_at(k)
                members.append({
                    "id": ids[k], "name": t.name,
                    "location": locs[k] if locs[k] in self.snap.locations else 0,
                    "waits_for": {"kind": abi.WAIT_NAMES[b.kind], "object": b.obj},
                    "held_by": ids[cyc[(i + 1) % len(cyc)]]})
            out.append({"threads": members})
        return out

    def deadlock_lines(self):
        """The text of every cycle: `deadlock: cycle of 2 threads`, then
        one line per member in cycle order."""
        lines = []
        locs = self.snap.table.column("location")
        for cyc in self.cycles:
            n = len(cyc)
            lines.append("deadlock: cycle of %d thread%s" % (n, "" if n == 1 else "s"))
            for i, k in enumerate(cyc):
                b = self.block(k)
                place = self.place(locs[k])
                at = " at " + place if place else ""
                nxt = self.name_of(cyc[(i + 1) % n])
                if b.kind == W_MUTEX:
                    waits = "mutex %s held by %s" % (fmt.hexa(b.obj), nxt)
                else:
                    waits = "join %s" % nxt
                lines.append("  %s%s waits for %s" % (self.name_of(k), at, waits))
        return lines


def analysis(snap):
    """The Analysis of snap, made on first use."""
    a = getattr(snap, "_blockers", None)
    if a is None:
        a = snap._blockers = Analysis(snap)
    return a


# ---- the running thread ---------------------------------------------------

class Hog:
    """The running thread and how long it has run without parking or
    yielding (gto_hog), with the watchdog's sample if it is of this run."""
    __slots__ = ("k", "thread", "run_known", "run_ns", "run_exact", "hog",
                 "threshold_ns", "sampled", "sample_age_ns")


def hog(snap):
    """The Hog of snap, or None when no green thread runs."""
    states = snap.table.column("state")
    k = states.find(RUNNING)
    if k < 0:
        return None
    r, now = snap.reg, snap.now
    t = snap.thread_at(k)
    h = Hog()
    h.k, h.thread = k, t
    current = r.get("current", 0)
    # The header's current names the record that began running at
    # run_start; a record that says RUNNING but is not it was caught in a
    # switch: its run time is not known.
    same = current == t.addr
    run_start = r.get("run_start", 0) or 0
    switches = r.get("switches")
    wd_since = r.get("wd_since", 0) or 0
    h.run_known, h.run_ns, h.run_exact = False, 0, False
    if same and run_start:
        h.run_known, h.run_ns, h.run_exact = True, max(0, now - run_start), snap.now_exact
    elif same and wd_since and switches is not None and r.get("wd_switches") == switches:
        h.run_known, h.run_ns = True, max(0, now - wd_since)
    h.threshold_ns = r.get("watchdog_ns", 0) or DEFAULT_HOG_NS
    h.hog = h.run_known and h.run_ns >= h.threshold_ns
    # The sample is this thread's stack only while it is of this very run
    # (registry.h, THE WATCHDOG'S SAMPLE).
    h.sampled = bool(same and not (r.get("sample_seq", 1) & 1)
                     and r.get("sample_thread") == current
                     and switches is not None and r.get("sample_switches") == switches)
    sample_ns = r.get("sample_ns", 0) or 0
    h.sample_age_ns = max(0, now - sample_ns) if h.sampled and sample_ns else None
    return h


def hog_text(h):
    """`thread 91 "spinner" has run 4.2s without yielding` (gto_hog_describe)."""
    who = 'thread %d "%s"' % (h.thread.id, h.thread.name)
    if not h.run_known:
        return "%s has run an unknown time (since a hand-off) without yielding" % who
    return "%s has run %s without yielding" % (who, fmt.age(h.run_ns, h.run_exact))


def hog_line(snap, h):
    """The line `info green-threads` prints about the running thread:
    `hog: thread 91 "spinner" has run 4.2s without yielding (stack sampled
    40ms ago)`, `running: ...` below the threshold."""
    s = "%s: %s" % ("hog" if h.hog else "running", hog_text(h))
    if h.sample_age_ns is not None:
        s += " (stack sampled %s ago)" % fmt.age(h.sample_age_ns, snap.now_exact)
    return s


def running_json(h):
    if h is None:
        return None
    return {"id": h.thread.id, "name": h.thread.name,
            "run_ns": h.run_ns if h.run_known else None, "run_exact": h.run_exact,
            "hog": h.hog, "threshold_ns": h.threshold_ns, "sampled": h.sampled,
            "sample_age_ns": h.sample_age_ns}


def watchdog_json(snap):
    return {"threshold_ns": snap.reg.get("watchdog_ns", 0) or 0,
            "events": snap.reg.get("watchdog_events", 0) or 0}
