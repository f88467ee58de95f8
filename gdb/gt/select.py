"""`green-thread`: select a green thread so that bt, frame, up, down,
info locals and print work on its stack, live and on core files.

On a core file GDB cannot write registers, so selection never touches
them.  Instead a Python unwinder claims frame #0 of the OS thread the
selection was made on and gives, as that frame's caller, the green
thread's saved context (sp, pc, rbp, rbx, r12-r15).  Frame #1 is then the
green thread's innermost frame (the runtime function that switched away)
and GDB's own DWARF unwinder carries on from there over the green stack.
A frame filter hides frame #0 from `bt`, so a backtrace shows only the
green thread; frame numbers stay GDB's own, so `frame N` means the same
frame `bt` printed as #N.

The selection belongs to the OS thread it was made on (other threads
unwind normally) and is dropped when the program continues, exits or a
new program or core is loaded: a saved context is only true while the
program stands still.
"""
import os

import gdb
import gdb.unwinder
from gdb.FrameDecorator import FrameDecorator

from . import abi, args, blockers, fmt, guard, registry, stacks, symbols
from .complete import completer

C = abi.C
CTX_REGS = (("rsp", C["GT_CTX_SP"]), ("rip", C["GT_CTX_PC"]), ("rbp", C["GT_CTX_RBP"]),
            ("rbx", C["GT_CTX_RBX"]), ("r12", C["GT_CTX_R12"]), ("r13", C["GT_CTX_R13"]),
            ("r14", C["GT_CTX_R14"]), ("r15", C["GT_CTX_R15"]))


class Selection:
    __slots__ = ("inferior", "ptid", "thread", "regs")

    def __init__(self, inferior, ptid, thread, regs):
        self.inferior, self.ptid, self.thread, self.regs = inferior, ptid, thread, regs


_sel = None
_u64 = None
# The unwinder's last failure, and whether the code that made GDB unwind
# reports it itself (activate, probe_inline) rather than the unwinder.
_failure = None
_quiet = False


def _u64_type():
    global _u64
    if _u64 is None:
        _u64 = gdb.lookup_type("unsigned long")
    return _u64


def _active():
    """The selection if it applies to the selected OS thread, else None."""
    sel = _sel
    if sel is None:
        return None
    th = gdb.selected_thread()
    if th is None or th.ptid != sel.ptid or th.inferior.num != sel.inferior:
        return None
    return sel


class _FrameId:
    __slots__ = ("sp", "pc")

    def __init__(self, sp, pc):
        self.sp, self.pc = sp, pc


class GreenUnwinder(gdb.unwinder.Unwinder):
    """Makes a selected green thread's saved context the caller of frame #0."""

    def __init__(self):
        super().__init__("gt-green-thread")

    def __call__(self, pending_frame):
        if _sel is None:
            return None
        # GDB asks an unwinder about every frame, and prints what escapes
        # one each time: a selection whose registers GDB cannot take (a
        # damaged saved context), or a frame #0 without registers, says so
        # in one line and leaves the frame to GDB's own unwinders.
        global _failure
        try:
            return self._unwind(pending_frame)
        except Exception as e:  # noqa: BLE001  (see guard.py)
            _failure = e
            sel = _sel
            if not _quiet:
                guard.note("green-thread %d" % sel.thread if sel and sel.thread is not None
                           else "gt unwinder", e)
            return None

    def _unwind(self, pending_frame):
        if pending_frame.level() != 0:
            return None
        sel = _active()
        if sel is None:
            return None
        # Frame #0's id gets the green thread's sp, not the OS thread's:
        # GDB stops a backtrace whose caller frame lies below its callee
        # ("previous frame inner to this frame"), and green stacks usually
        # lie below the OS thread's stack.
        # (GDB 13 takes only gdb.Value in frame ids and saved registers.)
        t = _u64_type()
        pc = pending_frame.read_register("rip")
        info = pending_frame.create_unwind_info(
            _FrameId(gdb.Value(sel.regs[0][1]).cast(t), pc))
        for reg, value in sel.regs:
            info.add_saved_register(reg, gdb.Value(value).cast(t))
        return info


class _LineOfCall(FrameDecorator):
    """A frame whose line is the one the line table gives for its pc, by
    DWARF's rule (symbols.line_at), where GDB picked another row at the
    same address; the other readers give that line for the same frame."""

    def line(self):
        f = self.inferior_frame()
        try:
            sal = f.find_sal()
            newer = f.newer()
            if sal.symtab is None or (newer is not None and
                                      newer.type() == gdb.INLINE_FRAME):
                return super().line()
            at = f.pc() - 1 if f.level() > 0 else f.pc()
            file, line = symbols.line_at(at)
            if file == sal.symtab.filename and line:
                return line
        except Exception:  # noqa: BLE001  (GDB's own line, see guard.py)
            pass
        try:
            return super().line()
        except Exception:  # noqa: BLE001
            return None


class HideOsFrame:
    """Frame filter: with a green thread selected, `bt` starts at its
    frames, each with the line every gt reader gives it (_LineOfCall)."""

    def __init__(self):
        self.name = "gt-green-thread"
        self.priority = 100
        self.enabled = True
        gdb.frame_filters[self.name] = self

    def filter(self, frame_iter):
        if _active() is None:
            return frame_iter
        return self._green(frame_iter)

    @staticmethod
    def _green(frame_iter):
        """The frames past #0; a frame GDB cannot unwind (a damaged stack:
        "PC not available", memory that cannot be read) ends the
        backtrace with one line, as GDB's own "Backtrace stopped" does."""
        while True:
            try:
                f = next(frame_iter)
                if f.inferior_frame().level() == 0:
                    continue
                f = _LineOfCall(f)
            except StopIteration:
                return
            except Exception as e:  # noqa: BLE001  (see guard.py)
                guard.note("bt", e)
                return
            yield f


def _invalidate_frames():
    gdb.invalidate_cached_frames()


def clear(*_):
    """Drops the selection (on continue, exit, a new program or core)."""
    global _sel
    if _sel is not None:
        _sel = None
        _invalidate_frames()


def selected():
    """The green thread id selected on the current OS thread, or None."""
    sel = _active()
    return sel.thread if sel else None


def _unwind_to_caller():
    """Frame #1 as the unwinder makes it, with its failure (if any) left
    in _failure for the caller to report."""
    global _failure, _quiet
    _failure, _quiet = None, True
    try:
        return gdb.newest_frame().older()
    finally:
        _quiet = False


# Frames of an OS thread looked at for the running green thread's stack.
MAX_OS_FRAMES = 64


def _sp_in_stack(th, lo, hi):
    """Whether one of OS thread th's newest frames has its sp in
    [lo, hi).  A core written from a signal handler on the alternate
    signal stack has the handler's frames first; GDB unwinds through the
    signal frame to the interrupted code."""
    th.switch()
    f = gdb.newest_frame()
    for _ in range(MAX_OS_FRAMES):
        if f is None:
            return False
        if lo <= int(f.read_register("rsp")) < hi:
            return True
        f = f.older()
    return False


def os_thread_running(t):
    """The OS thread whose registers are the running green thread t's.

    One kernel thread runs every green thread, and while the program
    stands still (a stop, a core) its registers are the running green
    thread's: its frames are that thread's real stack, where the saved
    context in the record is stale.  A program may have other kernel
    threads (the runtime's watchdog, the program's own): the one is found
    whose stack pointer, in one of its newest frames, lies in t's stack.
    None when no OS thread's does (then the caller keeps the one
    selected).
    """
    return os_thread_on_stack((t.stack_lo or 0) - (t.guard_size or 0), t.stack_hi or 0)


def os_thread_on_stack(lo, hi):
    """The OS thread one of whose newest frames has its sp in [lo, hi);
    the only one if there is one; else None."""
    inf = gdb.selected_inferior()
    threads = sorted(inf.threads(), key=lambda th: th.num)
    if len(threads) == 1:
        return threads[0]
    if not 0 < lo < hi:
        return None
    orig = gdb.selected_thread()
    try:
        for th in threads:
            try:
                if _sp_in_stack(th, lo, hi):
                    return th
            except gdb.error:
                continue        # an OS thread without registers or frames
    finally:
        if orig is not None and orig.is_valid():
            orig.switch()
    return None


def activate(t, snap):
    """Selects green thread record t of snap on the current OS thread and
    its location's frame (the program's call site where it parked, as Go's
    `goroutine N` does; the runtime's frames are `down` from there).

    Returns that frame (the innermost one, frame #1, when the location is
    not on the stack), or None if t is running: its frames are then those
    of the OS thread that runs it, which is made the selected OS thread
    (os_thread_running).
    """
    global _sel
    th = gdb.selected_thread()
    if th is None:
        raise gdb.GdbError("gt: no thread selected")
    if t.state == C["GT_STATE_RUNNING"]:
        clear()
        runner = os_thread_running(t)
        if runner is not None and runner != gdb.selected_thread():
            runner.switch()
        return None
    # GDB takes a caller's pc for a return address and looks up the byte
    # before it; a fresh context's pc (stacks.fresh) is one instruction into
    # the entry trampoline so that this byte is still the trampoline's.
    _sel = Selection(th.inferior.num, th.ptid, t.id,
                     tuple((reg, t.ctx_regs[i]) for reg, i in CTX_REGS))
    _invalidate_frames()
    frame = _unwind_to_caller()
    if _failure is not None:
        # The unwinder could not give the saved context (GDB's frame #1
        # would be the OS thread's caller): say why, select nothing.
        e = _failure
        clear()
        raise gdb.GdbError(guard.message("green-thread %d" % t.id, e))
    if frame is None:
        clear()
        raise gdb.GdbError("gt: green thread %d: its saved context does not unwind "
                           "(sp %#x, pc %#x)" % (t.id, t.ctx_regs[C["GT_CTX_SP"]],
                                                  t.ctx_regs[C["GT_CTX_PC"]]))
    frame = _location_frame(snap, t, frame)
    frame.select()
    return frame


# How far out the location's frame is looked for: a location is recorded
# within a few frames of the switch (the runtime's own, then the call site).
LOCATION_DEPTH = 64


def _location_frame(snap, t, innermost):
    """The frame whose pc is t's location's call site, else innermost."""
    loc = snap.locations.get(t.location) if t.state == C["GT_STATE_PARKED"] else None
    if not loc or not loc.pcs:
        return innermost
    want = loc.pcs[0]
    f = innermost
    try:
        for _ in range(LOCATION_DEPTH):
            if f is None:
                break
            if f.pc() == want:
                return f
            f = f.older()
    except gdb.error:
        pass            # an unreadable caller: the innermost frame will do
    return innermost


# A probe context's sp: any address works (no memory is read), as long as
# the frame it makes is outer than frame #0, whose id takes this sp.
PROBE_SP = 1 << 20


def probe_inline(pc):
    """[(func, file, line)] of the frames GDB makes at return address pc,
    innermost first, up to the first frame that is not inlined; None if
    GDB makes none.

    A context holding only pc becomes the caller of frame #0, exactly as a
    green thread's does for `green-thread`; GDB then builds the inline
    frames of pc - 1 and gives each outer one the line of its inlined call.
    No memory is read, nothing is written, and the selection in force
    before (green thread and frame) is put back.
    """
    global _sel
    th = gdb.selected_thread()
    if th is None or not 0 < pc < 1 << 64:
        return None
    saved = _sel
    try:
        level = gdb.selected_frame().level()
    except gdb.error:
        level = 0
    regs = (("rsp", PROBE_SP), ("rip", pc), ("rbp", PROBE_SP + 0x1000))
    _sel = Selection(th.inferior.num, th.ptid, None, regs)
    _invalidate_frames()
    out = []
    try:
        f = _unwind_to_caller()
        if _failure is not None:
            f = None
        while f is not None and len(out) < 32:
            fn = f.function()
            sal = f.find_sal()
            file = sal.symtab.filename if sal.symtab else None
            out.append((fn.print_name if fn else f.name(), file,
                        sal.line if file else 0))
            if f.type() != gdb.INLINE_FRAME:
                break
            f = f.older()
    except gdb.error:
        out = None
    finally:
        _sel = saved
        _invalidate_frames()
        try:
            f = gdb.newest_frame()
            for _ in range(level):
                f = f.older() or f
            f.select()
        except gdb.error:
            pass
    return out or None


def restore(prev_thread_id, prev_level):
    """Puts back an earlier selection (by green id, or none) and frame level."""
    if prev_thread_id is None:
        clear()
    else:
        snap = registry.snapshot()
        t = snap.by_id().get(prev_thread_id)
        if t is not None:
            activate(t, snap)
        else:
            clear()
    try:
        f = gdb.newest_frame()
        for _ in range(prev_level):
            f = f.older() or f
        f.select()
    except gdb.error:
        pass


def describe(snap, t):
    """`green thread 3 (waiter), parked at LOCATION, BLOCK`: the block
    description names who holds the thread up (blockers.py)."""
    s = "green thread %d" % t.id
    if t.name:
        s += " (%s)" % t.name
    s += ", %s" % abi.STATE_NAMES[t.state]
    if t.state == C["GT_STATE_PARKED"]:
        s += " at %s" % fmt.location_text(snap, t.location)
        k = snap.find(t.id)
        w = blockers.analysis(snap).describe(t, k) if k is not None else \
            fmt.wait_text(t, snap.now)
        if w:
            s += ", %s" % w
    return s


def parse_id(text):
    try:
        return int(text.lstrip("#"), 0)
    except ValueError:
        raise gdb.GdbError("green-thread: %r is not a thread id (see "
                           "`info green-threads`)" % text)


class GreenThread(gdb.Command):
    """Select a green thread: green-thread [ID | off]

green-thread ID   makes green thread ID's stack the one bt, frame N, up,
                  down, info locals and print work on, and selects its
                  location's frame (the program's call site where it
                  parked; the runtime's frames are `down` from there).
                  Frames count from #1 (`bt` hides the OS thread's frame
                  #0).  Works on a live process and on a core file.
green-thread      says which green thread is selected.
green-thread off  goes back to the OS thread's own frames.

The selection belongs to the OS thread it was made on and is dropped when
the program continues or on `thread` (a switch to a real thread).
green-thread apply runs a command on many threads (help green-thread apply)."""

    complete = completer(words=("off", "apply"), ids=True)

    def __init__(self):
        super().__init__("green-thread", gdb.COMMAND_STACK, prefix=True)

    @guard.command("green-thread")
    def invoke(self, arg, from_tty):
        argv = args.split(arg)
        if not argv:
            sel = _active()
            if sel is None:
                if _sel is not None:
                    gdb.write("No green thread selected on this OS thread "
                              "(green thread %d is selected on another).\n" % _sel.thread)
                else:
                    gdb.write("No green thread selected: frames are the OS thread's own.\n")
                return
            snap = registry.snapshot()
            t = snap.by_id().get(sel.thread)
            gdb.write("Selected: %s.\n" % (describe(snap, t) if t else
                                          "green thread %d (gone)" % sel.thread))
            return
        if len(argv) != 1:
            raise gdb.GdbError("green-thread: one id, or off (see `help green-thread`)")
        if argv[0] == "off":
            clear()
            try:
                gdb.newest_frame().select()
            except gdb.error:
                pass            # no frames at all: nothing was selected
            gdb.write("No green thread selected: frames are the OS thread's own.\n")
            return
        tid = parse_id(argv[0])
        snap = registry.snapshot()
        t = snap.thread(tid)
        frame = activate(t, snap)
        if frame is None:
            h = blockers.hog(snap)
            run = "; " + blockers.hog_text(h) if h is not None and h.thread.id == t.id else ""
            gdb.write("[Switching to %s: it is the running thread, its frames are "
                      "OS thread %d's own%s]\n" % (describe(snap, t),
                                                    gdb.selected_thread().num, run))
            gdb.newest_frame().select()
        else:
            note = stacks.fresh_note(t, symbols.lookup(t.entry, is_return=False).func)
            gdb.write("[Switching to %s%s]\n" % (describe(snap, t),
                                                 "; " + note if note else ""))
        gdb.execute("frame", to_string=False)


def thread_command():
    """`thread` (hook-thread): a switch to a real thread, even to the one
    the selection was made on, ends the green selection, as it ends a
    selected frame; said, so that the next bt surprises nobody."""
    sel = _sel
    if sel is None:
        return
    clear()
    gdb.write("[green thread %d is no longer selected]\n" % sel.thread)


def _hook_thread():
    """GDB has no event for a thread switch the user asks for: a
    hook-thread calls thread_command.  A hook the user defined is left as
    it is (then `green-thread off` is theirs to type)."""
    try:
        mine = gdb.execute("show user hook-thread", to_string=True)
    except gdb.error:
        mine = ""
    if mine.strip() and "thread_command" not in mine:
        return
    gdb.execute("define hook-thread\n"
                "python import gt.select; gt.select.thread_command()\n"
                "end")


def register():
    gdb.unwinder.register_unwinder(None, GreenUnwinder(), replace=True)
    HideOsFrame()
    GreenThread()
    _hook_thread()
    for ev in (gdb.events.cont, gdb.events.exited, gdb.events.new_objfile,
               gdb.events.clear_objfiles):
        ev.connect(clear)
