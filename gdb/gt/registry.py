"""Decoding a registry snapshot: one memory read per chunk of records.

Every offset comes from the registry's own layout table, so this reads any
runtime of the same ABI without DWARF, including ones that grew records.
A chunk of thread records is turned into tuples by struct.iter_unpack with
one format built from the table; reading fields through gdb.Value would
cost seconds at 100,000 threads.

The target's memory is treated as possibly corrupt (a core of a crashed
program): counts are capped by what the header says is allocated and by
absolute limits, unreadable chunks are skipped and counted, and a record
caught mid-update (odd seq) is counted as in flux, never decoded.
"""
import array
import bisect
import collections
import operator
import struct

import gdb

from . import abi
from .target import Target
from .text import text_safe

C = abi.C
REC_REG, REC_THR, REC_LOC = C["GT_REC_REGISTRY"], C["GT_REC_THREAD"], C["GT_REC_LOCATION"]

# Caps on what a damaged registry can make the extension read.  The
# runtime puts GT_THREADS_PER_CHUNK (1,024) thread and GT_LOCS_PER_CHUNK
# (256) location records of a few hundred bytes in a chunk (registry.h);
# a newer runtime may grow both, so the caps leave it room, and still
# keep any one read, and everything read, far inside GDB's memory: a
# count read from a core once had GDB ask for a single 2 TB buffer and
# die.  Past a cap the registry is damaged, and the command says so.
MAX_PER_CHUNK = 1 << 16       # records in one chunk
MAX_CHUNK_BYTES = 64 << 20    # bytes of one chunk: one read (Target.MAX_READ)
MAX_CHUNKS = 1 << 16          # chunks of one kind: 64M threads at 1,024 a chunk
MAX_LAYOUT = 4096
MAX_RECORD = 1 << 16
RUNNING_RETRIES = 3           # reads of the thread records at most

_INT = {1: "B", 2: "H", 4: "I", 8: "Q"}

THREAD_FIELDS = ("seq", "id", "parent", "name", "state", "wait_kind", "flags",
                 "location", "wait_obj", "wait_arg", "wait_since", "deadline",
                 "entry", "arg", "spawn_site", "created", "run_ns", "switches",
                 "stack_lo", "stack_hi", "guard_size", "ctx_regs")
LOC_FIELDS = ("seq", "index", "depth", "pcs", "wait_kind", "waiting", "head",
              "tail", "arrivals", "completed", "total_wait_ns", "max_wait_ns",
              "hist")


def name_of(raw):
    """A thread name from its record bytes, up to its NUL, made safe to
    print (text.text_safe): what every command shows, JSON included, and
    what -n NAME matches."""
    return text_safe((raw or b"").split(b"\0", 1)[0])


def _words(raw):
    """u64s of an array field kept as bytes (decoded only when used)."""
    return struct.unpack("<%dQ" % (len(raw) // 8), raw) if raw else ()


class Thread(collections.namedtuple("Thread", ("addr",) + tuple(
        "name_raw" if f == "name" else "regs_raw" if f == "ctx_regs" else f
        for f in THREAD_FIELDS))):
    """One thread record.  The name and saved registers stay bytes until
    asked for: 100,000 records are decoded per snapshot, few are shown."""
    __slots__ = ()

    @property
    def name(self):
        return name_of(self.name_raw)

    @property
    def ctx_regs(self):
        return _words(self.regs_raw)


class Location(collections.namedtuple("Location", ("addr",) + LOC_FIELDS)):
    __slots__ = ()


class Layout:
    """The layout table: {(rec, id): (offset, size)} and record sizes."""

    def __init__(self, target, addr, n):
        if not 0 < n <= MAX_LAYOUT:
            raise gdb.GdbError("gt: registry damaged: %d layout entries" % n)
        raw = target.try_read(addr, 16 * n)
        if raw is None:
            raise gdb.GdbError("gt: registry damaged: layout table at %#x "
                               "unreadable" % addr)
        self.map = {}
        for rec, fid, off, size, _ in struct.iter_unpack("<HHIII", raw):
            self.map[(rec, fid)] = (off, size)

    def size(self, rec):
        if (rec, 0) not in self.map:
            raise gdb.GdbError("gt: registry damaged: no size for record kind %d" % rec)
        size = self.map[(rec, 0)][1]
        if not 0 < size <= MAX_RECORD:
            raise gdb.GdbError("gt: registry damaged: record size %d" % size)
        return size

    def decoder(self, rec, prefix, names):
        """(struct.Struct over one record, getter) for the fields `names`.

        The getter turns an unpacked record into a tuple in `names` order;
        a field the table does not list (an older runtime) comes out as
        None.  Integer fields are ints; others (name, arrays) bytes.
        """
        ids = abi.fields(prefix)
        size = self.size(rec)
        taken = []
        for name in names:
            ent = self.map.get((rec, ids[name]))
            if ent and ent[0] + ent[1] <= size:
                taken.append((ent[0], ent[1], name))
        taken.sort()
        fmt, pos, order = "<", 0, []
        for off, fsize, name in taken:
            if off < pos:
                continue  # overlaps a field already taken
            if off > pos:
                fmt += "%dx" % (off - pos)
            fmt += _INT[fsize] if fsize in _INT and name not in ("name", "pcs", "hist", "ctx_regs") \
                else "%ds" % fsize
            order.append(name)
            pos = off + fsize
        if pos < size:
            fmt += "%dx" % (size - pos)
        missing = len(order)
        idx = [order.index(n) if n in order else missing for n in names]
        if missing in idx:
            pick = operator.itemgetter(*idx)
            return struct.Struct(fmt), lambda v: pick(v + (None,))
        return struct.Struct(fmt), operator.itemgetter(*idx)


class Snapshot:
    """The registry of the selected inferior, decoded once per stop."""

    def __init__(self, target, head):
        self.target = target
        self.address = target.address
        magic, ver, hsize, layout, nlayout, arch = struct.unpack("<QIIQII", head)
        if magic != abi.MAGIC:
            raise gdb.GdbError("gt: no gt registry at %#x (bad magic %#x): "
                               "memory damaged or not a gt program"
                               % (target.address, magic))
        if ver != abi.ABI:
            raise gdb.GdbError("gt: registry ABI %d, this extension reads ABI %d: "
                               "use the extension that came with the program's libgt"
                               % (ver, abi.ABI))
        if arch != 62:
            raise gdb.GdbError("gt: registry of ELF machine %d; this extension "
                               "unwinds x86-64 (62) only" % arch)
        self.layout = Layout(target, layout, nlayout)
        rsize = self.layout.size(REC_REG)
        raw = target.try_read(target.address, rsize)
        if raw is None:
            raise gdb.GdbError("gt: registry at %#x unreadable" % target.address)
        self.reg = {}
        for name, fid in abi.fields("GT_F_REG_").items():
            ent = self.layout.map.get((REC_REG, fid))
            if fid == 0 or not ent or ent[0] + ent[1] > rsize:
                continue
            off, size = ent
            if name == "nstate":
                self.reg[name] = struct.unpack_from("<%dQ" % (size // 8), raw, off)
            else:
                self.reg[name] = int.from_bytes(raw[off:off + size], "little")
        self.now, self.now_exact = target.now(self.reg)
        self.loc_count = self.reg.get("loc_count", 1 << 32)  # absent: no bound
        self.inconsistent = {}      # what -> counts of the registry that disagree
        self._threads = None
        self.table = self._consistent_threads()
        self.loc_skipped = 0        # location records in unreadable chunks
        self.loc_damaged = 0        # location records that contradict the registry
        self.locations = self._read_locations()
        self._by_id = None
        self.labels = {}        # location index -> label (fmt.location_text)

    def _consistent_threads(self):
        """The thread records, re-read while more than one says RUNNING.

        One kernel thread runs green threads, so two RUNNING records mean
        the copy caught a switch half done (possible on a target that runs
        while it is read).  A copy that still disagrees after a few reads
        keeps as running the record the registry names current (or the
        first), and counts the others as in flux: the states counted here
        always add up to the threads listed, with at most one running.
        """
        running = C["GT_STATE_RUNNING"]
        for _ in range(RUNNING_RETRIES):
            self.skipped = 0        # records in chunks that could not be read
            self.bad_chunks = 0
            self.in_flux = 0        # records caught mid-update (odd seq)
            table = self._read_threads()
            if table.column("state").count(running) <= 1:
                return table
        current = self.reg.get("current")
        states, addrs = table.column("state"), table.column("addr")
        runs = [k for k, st in enumerate(states) if st == running]
        keep = next((k for k in runs if addrs[k] == current), runs[0])
        drop = [k for k in runs if k != keep]
        self.in_flux += len(drop)
        table.drop(drop)
        return table

    @property
    def threads(self):
        """Every thread as a Thread record, in slot order (built on first
        use: the bulk commands work on columns instead)."""
        if self._threads is None:
            self._threads = self.table.records()
        return self._threads

    def thread_at(self, k):
        """The k-th thread (slot order) as a Thread record."""
        if self._threads is not None:
            return self._threads[k]
        return self.table.record(k)

    def count(self):
        return len(self.table)

    def state_counts(self, ks=None):
        """{state word: count} of the threads at indices ks (all by
        default), every state named, counted from the records, never from
        the header's nstate."""
        states = self.table.column("state")
        if ks is not None:
            states = [states[k] for k in ks]
        return {abi.STATE_NAMES[s]: states.count(s) for s in sorted(abi.STATE_NAMES) if s}

    def idle_ns(self):
        """Time the poller spent blocked, the current stretch included
        (idle_since: when the blocking wait in progress began, 0 none)."""
        idle = self.reg.get("idle_ns", 0)
        since = self.reg.get("idle_since") or 0
        if since and self.now > since:
            idle += self.now - since
        return idle

    def uptime_ns(self):
        base = self.reg.get("clock_base", 0)
        return max(0, self.now - base) if base else None

    def _chunk_bases(self, what, array, needed):
        """The first `needed` chunk pointers of a chunk array; a pointer
        whose chunk would overlap another's (a damaged array can repeat
        one, and a reader must not count a record twice) reads as 0,
        unreadable."""
        raw = self.target.try_read(array, 8 * needed) if needed else b""
        if raw is None:
            raise gdb.GdbError("gt: registry damaged: %s chunk array at %#x "
                               "unreadable (%s chunk pointer%s)"
                               % (what, array, format(needed, ","), "s"[needed == 1:]))
        return struct.unpack("<%dQ" % needed, raw)

    def _chunks(self, rec, what, array, count, per, total, cap=None, default_per=None):
        """(base address, bytes, n) of each chunk of a slab holding records
        [0, total) in `count` chunks of `per`: n records, bytes None for a
        chunk that cannot be read or overlaps another.

        Every number here is the target's and is bounded before it sizes
        anything: per by MAX_PER_CHUNK and MAX_CHUNK_BYTES (one read),
        count by the array's capacity and MAX_CHUNKS, total by count * per,
        and only the chunk pointers total needs are read.  Counts that
        contradict each other are noted (self.inconsistent).
        """
        size = self.layout.size(rec)
        if per is None:             # a runtime that does not say: registry.h's
            per = default_per
        if not 0 < per <= MAX_PER_CHUNK:
            raise gdb.GdbError("gt: registry damaged: %s %s records per chunk "
                               "(at most %s)" % (format(per, ","), what,
                                                 format(MAX_PER_CHUNK, ",")))
        if per * size > MAX_CHUNK_BYTES:
            raise gdb.GdbError("gt: registry damaged: %s chunks of %s bytes (at most "
                               "%s)" % (what, format(per * size, ","),
                                        format(MAX_CHUNK_BYTES, ",")))
        if cap is not None and count > cap:
            self.inconsistent[what + " chunks"] = (
                "%s %s chunks past the chunk array's capacity of %s"
                % (format(count, ","), what, format(cap, ",")))
        count = min(count, MAX_CHUNKS if cap is None else cap, MAX_CHUNKS)
        if total > count * per:
            self.inconsistent[what + " slots"] = (
                "%s %s slots past the %s the chunks hold"
                % (format(total, ","), what, format(count * per, ",")))
        total = min(total, count * per)
        needed = -(-total // per)
        bases = self._chunk_bases(what, array, needed)
        spans = sorted((b, ci) for ci, b in enumerate(bases) if b)
        overlap = {ci for (b0, c0), (b1, ci) in zip(spans, spans[1:])
                   if b1 < b0 + per * size}
        read = self.target.reader()
        for ci, base in enumerate(bases):
            n = min(per, total - ci * per)
            raw = read(base, size * n) if base and ci not in overlap else None
            yield base, raw, n

    def _read_threads(self):
        """The thread table of one copy of the thread chunks."""
        r = self.reg
        table = ThreadTable(self.layout, self.target.reader(), self.loc_count)
        for base, raw, n in self._chunks(
                REC_THR, "thread", r.get("thread_chunks", 0), r.get("thread_chunk_count", 0),
                r.get("threads_per_chunk"), r.get("thread_slots", 0),
                r.get("thread_chunk_cap"), C["GT_THREADS_PER_CHUNK"]):
            if raw is None:
                self.skipped += n
                self.bad_chunks += 1
                continue
            self.in_flux += table.add_chunk(base, raw)
        return table

    def _read_locations(self):
        """{index: Location} of every location record that can be read and
        trusted.  A record's index is its slot's (the runtime gives them
        out in order, registry.h), below loc_count, and its depth fits its
        pcs and the registry's loc_depth: a record that says otherwise is
        damaged, counted in loc_damaged and left out (an index is trusted
        only within the counts the registry states)."""
        r = self.reg
        st, pick = self.layout.decoder(REC_LOC, "GT_F_LOC_", LOC_FIELDS)
        out = {}
        slot = 0
        per = r.get("locs_per_chunk")
        # No location holds more pcs than the runtime captures (loc_depth).
        max_depth = r.get("loc_depth") or (1 << 32)
        for base, raw, n in self._chunks(
                REC_LOC, "location", r.get("loc_chunks", 0), r.get("loc_chunk_count", 0),
                per, self.loc_count, None, C["GT_LOCS_PER_CHUNK"]):
            first = slot
            slot += n
            if raw is None:
                self.loc_skipped += n
                continue
            for i, v in enumerate(st.iter_unpack(raw)):
                d = dict(zip(LOC_FIELDS, pick(v)))
                if (d["seq"] or 0) & 1:
                    self.in_flux += 1
                    continue
                if first + i == 0:
                    continue        # index 0: the "no location" record
                pcs = _words(d["pcs"])
                depth = d["depth"] or 0
                if d["index"] != first + i or depth > len(pcs) or depth > max_depth:
                    self.loc_damaged += 1
                    continue
                d["pcs"] = pcs[:depth]
                d["hist"] = _words(d["hist"])
                out[d["index"]] = Location(base + i * st.size, **d)
        return out

    def index_of(self):
        """{id: k} of every thread."""
        if self._by_id is None:
            self._by_id = dict(zip(self.table.column("id"), range(len(self.table))))
        return self._by_id

    def by_id(self):
        """A mapping id -> Thread (looked up on demand)."""
        return _ById(self)

    def find(self, tid):
        """The index of the thread with id tid, or None (a search in C of
        the id column: cheaper than a dict of a million ids for one)."""
        if self._by_id is not None:
            return self._by_id.get(tid)
        try:
            return self.table.column("id").index(tid)
        except (ValueError, OverflowError, TypeError):
            return None

    def thread(self, tid):
        """The thread with id tid, or a gdb.GdbError naming it."""
        k = self.find(tid)
        if k is None:
            raise gdb.GdbError("gt: no green thread %d (ids run from 1 to %d; "
                               "`info green-threads` lists them)"
                               % (tid, max(self.table.column("id"), default=0)))
        return self.thread_at(k)

    def bad_thread_locations(self):
        """Parked threads whose location index is past the registry's
        loc_count: their location is not trusted (shown as none)."""
        return self.table.bad_locs

    def damage_note(self, threads=True):
        """One line on what could not be read or trusted, or None.
        threads: also what a thread listing would miss."""
        parts = list(self.inconsistent.values())
        if self.skipped:
            parts.append("%s thread slots in %d unreadable chunks skipped"
                         % (format(self.skipped, ","), self.bad_chunks))
        if self.in_flux:
            parts.append("%d records in flux (caught mid-update) skipped" % self.in_flux)
        if threads and self.bad_thread_locations():
            parts.append("%d thread location indices out of range (shown as none)"
                         % self.bad_thread_locations())
        if self.loc_skipped:
            parts.append("%s location records in unreadable chunks skipped"
                         % format(self.loc_skipped, ","))
        if self.loc_damaged:
            parts.append("%d location records damaged (index or depth out of range) "
                         "skipped" % self.loc_damaged)
        return "gt: " + "; ".join(parts) if parts else None


class _ById:
    """id -> Thread, built per lookup from the id index."""
    __slots__ = ("snap",)

    def __init__(self, snap):
        self.snap = snap

    def get(self, tid, default=None):
        k = self.snap.find(tid)
        return default if k is None else self.snap.thread_at(k)

    def __contains__(self, tid):
        return tid in self.snap.index_of()

    def __iter__(self):
        return iter(self.snap.index_of())


class ThreadTable:
    """The thread records of one snapshot, read by column.

    Each chunk is read, checked and reduced to what every command needs
    (each valid record's state, as bytes, and id) and its bytes are let
    go: at a million threads keeping them would cost 385 MB, and on some
    machines fresh memory costs more to fault in than the reads.  Any
    other field is a column made on first use by reading the chunks again
    (the target stands still while a command runs) and slicing every
    record's field at once out of a memoryview; scan() hands the chunks
    to a single pass that needs many fields (green-bt).  Records in use
    and readable are "valid"; index k counts valid records in slot
    order."""

    def __init__(self, layout, read, loc_limit):
        self.layout, self.read = layout, read
        self.loc_limit = loc_limit  # location indices are below it
        self.bad_locs = 0           # parked records with one that is not
        self.st, self.pick = layout.decoder(REC_THR, "GT_F_THR_", THREAD_FIELDS)
        self.size = self.st.size
        ids = abi.fields("GT_F_THR_")
        self.fields = {}
        for name in THREAD_FIELDS + ("ctx_sp", "ctx_pc", "ctx_fp"):
            ent = layout.map.get((REC_THR, ids[name])) if name in ids else None
            if ent and ent[0] + ent[1] <= self.size:
                self.fields[name] = ent
        for name in ("state", "id"):
            if name not in self.fields:
                raise gdb.GdbError("gt: registry damaged: its layout table gives no "
                                   "thread %s field" % name)
        self.chunks = []    # (base, records, valid record indices or None: all)
        self._bases = None  # sorted (base, chunk) for index_at
        self.starts = []    # k of each chunk's first valid record
        self.n = 0
        self.cols = {"state": bytearray(), "id": array.array("Q")}
        self.free = C["GT_STATE_FREE"]
        self.known = bytes(sorted(set(abi.STATE_NAMES) - {self.free}))

    def __len__(self):
        return self.n

    def add_chunk(self, base, raw):
        """Takes one chunk's bytes; returns how many records are in flux
        (odd seq, or a state no reader knows)."""
        n = len(raw) // self.size
        states = raw[self.fields["state"][0]::self.size][:n]
        seqo = self.fields["seq"][0] if "seq" in self.fields else None
        odd = raw[seqo::self.size][:n].translate(_ODD) if seqo is not None else None
        flux = 0
        if states.count(self.free) == 0 and (odd is None or 1 not in odd) and \
                not states.translate(None, self.known):
            valid = None
            count = n
        else:
            valid = []
            for i in range(n):
                st = states[i]
                if st == self.free:
                    continue
                if (odd is not None and odd[i]) or st not in self.known:
                    flux += 1
                    continue
                valid.append(i)
            count = len(valid)
        self.starts.append(self.n)
        self.chunks.append((base, n, valid))
        self.n += count
        self._extract(raw, n, valid, ("state", "id"))
        self._count_bad_locations(raw, n, valid, states)
        return flux

    def _count_bad_locations(self, raw, n, valid, states):
        """Adds to bad_locs the parked records of a chunk whose location
        index is not below loc_limit.  One max() in C per chunk when
        none is (always, but in a damaged registry)."""
        ent = self.fields.get("location")
        if ent is None or not n:
            return
        off, fsize = ent
        size, limit = self.size, self.loc_limit
        if fsize == 4 and off % 4 == 0 and size % 4 == 0:
            locs = memoryview(raw).cast("I")[off // 4::size // 4][:n]
        else:
            locs = [int.from_bytes(raw[o:o + fsize], "little")
                    for o in range(off, n * size, size)]
        if max(locs) < limit:
            return
        parked = C["GT_STATE_PARKED"]
        self.bad_locs += sum(1 for i in (range(n) if valid is None else valid)
                             if states[i] == parked and locs[i] >= limit)

    def _extract(self, raw, n, valid, names):
        size = self.size
        for name in names:
            col = self.cols[name]
            if name == "state":
                vals = raw[self.fields["state"][0]::size][:n]
                col += vals if valid is None else bytes(vals[i] for i in valid)
                continue
            ent = self.fields.get(name)
            if ent is None:
                col.extend([None] * (n if valid is None else len(valid)))
                continue
            off, fsize = ent
            code = _INT.get(fsize) if name not in _BYTES_FIELDS else None
            if code and off % fsize == 0 and size % fsize == 0:
                mv = memoryview(raw).cast(code)[off // fsize::size // fsize][:n]
                if valid is None and isinstance(col, array.array):
                    col.frombytes(mv.tobytes())
                else:
                    vals = mv.tolist()
                    col.extend(vals if valid is None else [vals[i] for i in valid])
            else:
                vals = [raw[o:o + fsize] for o in range(off, n * size, size)]
                col.extend(vals if valid is None else [vals[i] for i in valid])

    def drop(self, ks):
        """Leaves out the valid records at indices ks (in flux after all)."""
        gone = set(ks)
        state, ident = self.cols["state"], self.cols["id"]
        chunks, self.chunks, self.starts, self.n = self.chunks, [], [], 0
        self._bases = None
        k = 0
        for base, n, valid in chunks:
            keep = []
            for i in (valid if valid is not None else range(n)):
                if k not in gone:
                    keep.append(i)
                k += 1
            self.starts.append(self.n)
            self.chunks.append((base, n, keep))
            self.n += len(keep)
        self.cols = {"state": bytearray(s for k, s in enumerate(state) if k not in gone),
                     "id": array.array("Q", (v for k, v in enumerate(ident) if k not in gone))}

    def scan(self):
        """(base, bytes, valid) of each chunk again, for one pass over
        every record; a chunk unreadable now gives None bytes."""
        size = self.size
        for base, n, valid in self.chunks:
            yield base, self.read(base, size * n), valid

    def column(self, name):
        """The field `name` of every valid record, in order (an array for
        integer fields, a list of bytes for the others, None for each
        record if the runtime has no such field).  "addr" is the record's
        address; "ctx_sp", "ctx_pc", "ctx_fp" slots of the saved context."""
        col = self.cols.get(name)
        if col is not None:
            return col
        if name == "addr":
            col = []
            for base, n, valid in self.chunks:
                addrs = range(base, base + n * self.size, self.size)
                col.extend(addrs if valid is None else [addrs[i] for i in valid])
            self.cols[name] = col
            return col
        ent = self.fields.get(name)
        code = _INT.get(ent[1]) if ent and name not in _BYTES_FIELDS else None
        col = self.cols[name] = array.array(code) if code else []
        for (base, n, valid), (_, raw, _) in zip(self.chunks, self.scan()):
            if raw is None:
                # Readable a moment ago: the target moved.  Keep the
                # column aligned; the record reads as unknown.
                if isinstance(col, array.array):
                    col = self.cols[name] = list(col)
                col.extend([None] * (n if valid is None else len(valid)))
                continue
            self._extract(raw, n, valid, (name,))
        return col

    def _locate(self, k):
        c = bisect.bisect_right(self.starts, k) - 1
        base, n, valid = self.chunks[c]
        i = k - self.starts[c]
        return base, valid[i] if valid is not None else i

    def index_at(self, addr):
        """k of the valid record at address addr, or None (an address
        inside no chunk, not at a record's start, or of a record not
        valid).  A search of the chunks' bases, so a mutex owner is found
        without a map of every record's address."""
        if self._bases is None:
            self._bases = sorted((base, c) for c, (base, _, _) in enumerate(self.chunks))
        i = bisect.bisect_right(self._bases, (addr, 1 << 62)) - 1
        if i < 0:
            return None
        base, c = self._bases[i]
        _, n, valid = self.chunks[c]
        off = addr - base
        if off % self.size or off // self.size >= n:
            return None
        j = off // self.size
        if valid is None:
            return self.starts[c] + j
        pos = bisect.bisect_left(valid, j)
        return self.starts[c] + pos if pos < len(valid) and valid[pos] == j else None

    def record(self, k):
        """The k-th valid record as a Thread (read again: one record)."""
        base, i = self._locate(k)
        addr = base + i * self.size
        raw = self.read(addr, self.size)
        if raw is None:
            raise gdb.GdbError("gt: thread record at %#x unreadable now" % addr)
        return Thread._make((addr,) + self.pick(self.st.unpack(raw)))

    def records(self):
        """Every valid record as a Thread, in order."""
        out = []
        make, pick, size = Thread._make, self.pick, self.size
        for base, raw, valid in self.scan():
            if raw is None:
                continue
            vals = self.st.iter_unpack(raw)
            if valid is None:
                out.extend(make((base + i * size,) + pick(v)) for i, v in enumerate(vals))
            else:
                want = set(valid)
                out.extend(make((base + i * size,) + pick(v))
                           for i, v in enumerate(vals) if i in want)
        return out


# seq's low byte -> 1 if odd (a record being written), else 0
_ODD = bytes(i & 1 for i in range(256))
_BYTES_FIELDS = ("name", "pcs", "hist", "ctx_regs")

_cache = {}


def invalidate(*_):
    _cache.clear()


def snapshot():
    """The decoded registry of the selected inferior, cached until it runs.

    The cache key includes the registry header's bytes: any park, switch
    or spawn changes its counters, so a live process that moved gets a
    fresh snapshot even if no stop event was seen.
    """
    target = Target()
    head = target.try_read(target.address, 32)
    if head is None:
        raise gdb.GdbError("gt: registry at %#x unreadable" % target.address)
    hsize = min(struct.unpack_from("<I", head, 12)[0], MAX_RECORD)
    full = target.try_read(target.address, max(hsize, 32)) or head
    key = (target.inferior.num, target.inferior.pid, target.address, full)
    snap = _cache.get(key)
    if snap is None:
        _cache.clear()
        snap = Snapshot(target, head)
        _cache[key] = snap
    return snap


def connect_events():
    for ev in (gdb.events.cont, gdb.events.exited, gdb.events.new_objfile,
               gdb.events.clear_objfiles, gdb.events.memory_changed,
               gdb.events.inferior_call):
        ev.connect(invalidate)
