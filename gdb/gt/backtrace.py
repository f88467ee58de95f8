"""`green-bt`: backtraces of every green thread, identical stacks grouped.

Stacks come from frame-pointer walks over bulk-read stack bytes
(stacks.py), symbols from a per-pc cache (symbols.py): at 100,000 threads
in ten distinct stacks that is one read per thread and a few hundred
symbol lookups, not 100,000 runs of GDB's unwinder.
"""
import array
import itertools
import operator

import gdb

from . import abi, args, fmt, guard, params, registry, stacks, symbols, threads
from .complete import completer, filter_options

C = abi.C
PARKED = C["GT_STATE_PARKED"]


# The fields a grouping pass reads of every record.
GROUP_FIELDS = ("state", "flags", "ctx_sp", "ctx_pc", "ctx_fp", "stack_lo",
                "stack_hi", "entry", "name")
MAX_NAMES = 4       # distinct names a group keeps (the header shows 3, then ...)


class Group:
    """Threads with one stack: ks, their indices (registry.ThreadTable),
    and, once finish() ran, their ids and what the group's header says of
    them."""
    __slots__ = ("pcs", "first_return", "note", "ks", "ids", "states", "kinds",
                 "since_min", "since_max", "names")

    def __init__(self, pcs, first_return, note=None):
        self.pcs, self.first_return, self.note = pcs, first_return, note
        self.ks = array.array("I")
        self.names = set()

    def finish(self, col):
        """Gathers ids, states, wait kinds, oldest and newest wait and names
        from the columns (col: ThreadTable.column)."""
        ks = self.ks
        ident, state = col("id"), col("state")
        self.ids = array.array("Q", [ident[k] for k in ks])
        st = bytes([state[k] for k in ks])
        self.states = {s: st.count(s) for s in set(st)}
        parked = [k for k in ks if state[k] == PARKED] if PARKED in self.states else []
        kind, since = col("wait_kind"), col("wait_since")
        self.kinds = {kind[k] for k in parked}
        waits = [since[k] for k in parked if since[k]]
        self.since_min = min(waits) if waits else None
        self.since_max = max(waits) if waits else None


MAX_PLANS = 4096


def walk_words(words, s, p, f, n):
    """The group key of a stack walked over its words (stacks.chain over
    a memoryview of u64s): (pcs, True, None)."""
    pcs = [p]
    end = s + n - 16
    max_frames = stacks.MAX_FRAMES
    while s <= f <= end and not (f - s) & 7 and len(pcs) < max_frames:
        o = (f - s) >> 3
        nf, ret = words[o], words[o + 1]
        if ret == 0:
            break
        pcs.append(ret)
        if nf <= f:
            break
        f = nf
    return (tuple(pcs), True, None)


def make_plan(pcs, words, s, p, f, n):
    """What walk_words read of this stack, relative to sp: the offsets of
    the frame records it read (one more than frames found when it stopped
    at a zero return address or a saved fp that did not move up), the
    return addresses and saved fps there.  Another stack whose words at
    those offsets hold the same values relative to its sp walks to the
    same pcs: every test walk_words makes is invariant under that shift."""
    offs = []
    end = s + n - 16
    g = f
    for _ in range(len(pcs) - 1):
        offs.append((g - s) >> 3)
        g = words[offs[-1]]
    # the record where the walk stopped, if it read one
    if s <= g <= end and not (g - s) & 7 and len(pcs) < stacks.MAX_FRAMES and \
            (not offs or g > s + (offs[-1] << 3)):
        offs.append((g - s) >> 3)
    # Saved fps inside the live stack compare relative to sp; others (the
    # outermost frame's 0) compare as they are.
    inside = [o for o in offs if s <= words[o] <= s + n]
    outside = [o for o in offs if not s <= words[o] <= s + n]
    rets_at, fps_at = _getter([o + 1 for o in offs]), _getter(inside)
    abs_at = _getter(outside)
    return (rets_at, fps_at, abs_at, rets_at(words), tuple(v - s for v in fps_at(words)),
            abs_at(words), (pcs, True, None))


def _getter(idx):
    """A function: a sequence -> the tuple of its items at idx."""
    if not idx:
        return lambda w: ()
    if len(idx) == 1:
        i = idx[0]
        return lambda w: (w[i],)
    return operator.itemgetter(*idx)


def group_threads(snap, ks=None, progress=None):
    """[Group] of the threads at indices ks (all by default) by identical
    stacks, biggest first.  The running thread (no saved context) forms a
    group with pcs None.  One pass over the records, chunk by chunk, each
    stack read once (stacks.chain); no Thread record is built per thread."""
    table = snap.table
    st, pick = snap.layout.decoder(registry.REC_THR, "GT_F_THR_", GROUP_FIELDS)
    size = st.size
    want = None if ks is None else set(ks)
    read = snap.target.reader()
    chain, unstacked = stacks.chain, stacks.UNSTACKED
    running, parked = stacks.RUNNING, PARKED
    max_live = stacks.MAX_LIVE
    plans = {}
    groups = {}
    k = -1
    total = len(table) if want is None else len(want)
    done = 0
    fresh_flag = stacks.FRESH
    appends = {}
    for (_, n, valid), (base, raw, _) in zip(table.chunks, table.scan()):
        if raw is None:     # readable a moment ago: the target moved
            k += len(valid) if valid is not None else n
            continue
        recs = st.iter_unpack(raw)
        if valid is not None:
            recs = list(recs)
            recs = [recs[i] for i in valid]
        for v in recs:
            k += 1
            if want is not None and k not in want:
                continue
            state, fl, s, p, f, lo, hi, entry, name = pick(v)
            if state == running:
                # The OS thread's registers (the kernel saved them in a
                # core; a live inferior is stopped): GDB's own frames.
                key = (stacks.os_thread_pcs(lo or 0, hi or 0), False, None)
            elif state == running or s is None:
                key = (None, True, None)
            else:
                fl = fl or 0
                if fl & fresh_flag:
                    key = ((p,) if lo <= s < hi else None, False, (bool(fl & unstacked), entry))
                elif not lo <= s < hi:
                    key = (None, True, None)
                else:
                    n = hi - s
                    if n > max_live:
                        n = max_live
                    mem = read(s, n)
                    key = None
                    if mem is not None and not (n | s) & 7:
                        words = memoryview(mem).cast("Q")
                        # Threads with one stack lay it out alike: the same
                        # frame records at the same offsets from sp, holding
                        # the same return addresses and the same saved fps
                        # relative to sp.  A plan found by walking one thread
                        # checks that of the next one with the same (pc,
                        # fp - sp, live size) in a few C calls; a thread it
                        # does not fit is walked.
                        plan = plans.get((p, f - s, n))
                        if plan is not None:
                            rets_at, fps_at, abs_at, rets, rel_fps, abs_fps, pkey = plan
                            if rets_at(words) == rets and abs_at(words) == abs_fps and \
                                    tuple(map(s.__add__, rel_fps)) == fps_at(words):
                                key = pkey
                        if key is None:
                            key = walk_words(words, s, p, f, n)
                            if len(plans) < MAX_PLANS:
                                plans[(p, f - s, n)] = make_plan(key[0], words, s, p, f, n)
                    elif mem is not None:
                        key = (chain(lambda a, z: mem, s, p, f, hi), True, None)
                    else:
                        key = ((p,), True, None)
            ga = appends.get(key)
            if ga is None:
                note = key[2] and stacks.fresh_note(
                    snap.thread_at(k), symbols.lookup(entry, is_return=False).func)
                g = groups[key] = Group(key[0], key[1], note)
                ga = appends[key] = [g.ks.append, g.names, None]
            ga[0](k)
            if name != ga[2]:   # names: the first few distinct ones
                ga[2] = name
                if len(ga[1]) < MAX_NAMES:
                    ga[1].add(name)
            done += 1
            if progress and done % 5000 == 0:
                progress(done, total)
    for g in groups.values():
        g.finish(table.column)
    return sorted(groups.values(), key=lambda g: (-len(g.ks), min(g.ids)))


def id_ranges(ids, max_ranges=6):
    """`2-50001, 50003` from ids (sorted here unless already ascending),
    at most max_ranges ranges."""
    if any(a >= b for a, b in zip(ids, itertools.islice(ids, 1, None))):
        ids = sorted(ids)
    out, start, prev = [], None, None
    for i in ids:
        if start is None:
            start = prev = i
        elif i == prev + 1:
            prev = i
        else:
            out.append((start, prev))
            start = prev = i
    if start is not None:
        out.append((start, prev))
    text = ", ".join("%d" % a if a == b else "%d-%d" % (a, b) for a, b in out[:max_ranges])
    if len(out) > max_ranges:
        text += ", ..."
    return text


def frame_lines(g):
    """`  #N   0x... in func (file:line)`, N counting physical frames from
    1, the saved context's, as `bt` numbers them once `green-thread ID`
    has selected the thread (GDB's #0 is the OS thread's frame, hidden),
    and as every gt reader does; a frame in inlined code has one line per
    function of its inline chain, innermost first, the inlined ones
    marked [inlined] and the rest of the chain under the same N."""
    if g.pcs is None:
        return ["  (running: its frames are the OS thread's; see `bt`)"]
    lines = []
    base = group_base(g)
    for n, pc in enumerate(g.pcs, base):
        chain = symbols.lookup(pc, is_return=(n > base or g.first_return)).chain
        for i, c in enumerate(chain):
            lines.append("  #%-3d 0x%016x in %s%s" % (
                n, pc, symbols.where(*c), " [inlined]" if i < len(chain) - 1 else ""))
    if g.note:
        lines.append("  (%s)" % g.note)
    return lines


def group_header(snap, g):
    states = g.states
    st = ", ".join(("%s %s" % (fmt.count(n), abi.STATE_NAMES[s])) if len(states) > 1
                   else abi.STATE_NAMES[s] for s, n in states.items())
    n = len(g.ks)
    head = "%s thread%s, %s" % (fmt.count(n), "" if n == 1 else "s", st)
    if g.kinds:
        head += " (%s)" % ", ".join(sorted(abi.WAIT_NAMES.get(w, "wait %d" % w)
                                           for w in g.kinds))
    if g.since_min is not None:
        now = snap.now
        lo, hi = max(0, now - g.since_max), max(0, now - g.since_min)
        age = lambda ns: fmt.age(ns, snap.now_exact)
        head += ", waited %s" % (age(lo) if lo == hi else "%s..%s" % (age(lo), age(hi)))
    names = sorted(x for x in {registry.name_of(r) for r in g.names} if x)
    head += ": ids %s" % id_ranges(g.ids)
    if names:
        head += " (%s%s)" % (", ".join(names[:3]), ", ..." if len(names) > 3 else "")
    return head


def group_base(g):
    """stacks.frame_base of the group's threads: the running thread's
    stack (on a core, the OS thread's frames) is a group of its own."""
    return stacks.frame_base(next(iter(g.states))) if len(g.states) == 1 else 1


def group_json(g):
    return {"count": len(g.ks), "thread_ids": sorted(g.ids),
            "states": {abi.STATE_NAMES[st]: n for st, n in g.states.items()},
            "frames": stacks.pc_frames(g.pcs, g.first_return, group_base(g))
            if g.pcs else []}


class GreenBt(gdb.Command):
    """Grouped backtraces of green threads: green-bt [ID...] [-s STATE] [-l LOCATION] [-n NAME] [-w MIN_WAIT] [--limit N] [--json]

Threads with identical stacks form one group; groups are printed biggest
first, each with its thread count, state, wait kinds, wait ages and ids,
then its frames (from frame-pointer walks of the saved contexts).
--limit N prints N groups (default: `show green-threads limit`; 0: all).
The ids and filters are those of `info green-threads`.  --json prints one JSON
object: the summary members of `info green-threads --json` and "groups",
each {"count", "thread_ids", "states", "frames"} (frames as there).
For locals and arguments select one thread: `green-thread ID`, then
`bt full`."""

    OPTIONS = threads.InfoGreenThreads.OPTIONS
    FLAGS = {"--json": "json"}

    complete = completer(*filter_options(OPTIONS, FLAGS), ids=True)

    def __init__(self):
        super().__init__("green-bt", gdb.COMMAND_STACK)

    @guard.command("green-bt")
    def invoke(self, arg, from_tty):
        argv = args.split(arg)
        opts, pos = args.parse("green-bt", argv, self.OPTIONS, self.FLAGS)
        threads.take_ids("green-bt", pos, opts)
        snap = registry.snapshot()
        chosen = threads.select(snap, opts)
        if not chosen:
            note = snap.damage_note()
            if not snap.count() and note:
                # Nothing readable: why, in the same one line.
                raise gdb.GdbError("green-bt: no green thread can be read: %s"
                                   % note[len("gt: "):])
            raise gdb.GdbError("green-bt: no green thread matches %s (of %s threads)"
                               % (" ".join(argv) or "(none)", fmt.count(snap.count())))
        groups = group_threads(snap, None if len(chosen) == snap.count() else chosen)
        limit = opts.get("limit", params.limit())
        shown = groups if not limit else groups[:limit]
        if opts.get("json"):
            doc = threads.process_json(snap)
            doc["groups"] = [group_json(g) for g in shown]
            gdb.write(fmt.json_document(doc))
            return
        out = ["%s green thread%s in %s distinct stack%s" % (
            fmt.count(len(chosen)), "" if len(chosen) == 1 else "s",
            fmt.count(len(groups)), "" if len(groups) == 1 else "s")]
        for g in shown:
            out.append("")
            out.append(group_header(snap, g))
            out.extend(frame_lines(g))
        if len(groups) > len(shown):
            rest = sum(len(g.ks) for g in groups[len(shown):])
            out.append("")
            out.append("... %s more groups (%s threads): --limit N or a filter"
                       % (fmt.count(len(groups) - len(shown)), fmt.count(rest)))
        note = snap.damage_note()
        if note:
            out.append(note)
        gdb.write("\n".join(out) + "\n")


def register():
    GreenBt()
