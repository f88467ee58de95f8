"""Frame-pointer walks of parked threads over bulk-read stack bytes.

GDB's own unwinder costs a millisecond or two a frame chain, minutes at
100,000 threads.  A parked thread's saved context (registry.h: GT_CTX_*)
holds the pc inside the runtime function that switched away and that
function's frame pointer; libgt and gt programs keep frame pointers, so
the chain [fp] -> caller's fp, [fp + 8] -> return address is the whole
stack.  Each thread's live stack, from its saved sp to its top, is read in
one piece and the chain followed in it, each step bounded by the stack and
required to move up, so a damaged stack ends the walk instead of looping.
"""
import struct
import gdb

from . import abi, symbols

C = abi.C
SP, PC, FP = C["GT_CTX_SP"], C["GT_CTX_PC"], C["GT_CTX_RBP"]
RUNNING = C["GT_STATE_RUNNING"]
UNSTACKED = C["GT_TF_UNSTACKED"]
FRESH = abi.TF_FRESH
MAX_FRAMES = 4096
MAX_LIVE = 8 << 20   # bytes of one stack read at most
_U64 = struct.Struct("<Q")
_PAIR = struct.Struct("<QQ")


def fresh(t):
    """Whether t's saved context is a fresh start: it never ran, or it
    waits unstacked (gt_wait_readable_then).  Its one frame is then the
    entry trampoline (one instruction in), and nothing of the thread
    is on its stack.  The runtime says so with GT_TF_FRESH (an unstacked
    thread has run, so switches alone would not tell).  A running
    thread's saved context is stale, never fresh."""
    return is_fresh(t.state, t.flags)


def is_fresh(state, flags):
    """fresh() of a record's state and flags."""
    if state == RUNNING:
        return False
    return bool((flags or 0) & FRESH)


def unstacked(t):
    return t.state != RUNNING and bool((t.flags or 0) & UNSTACKED)


def reserved_bytes(t):
    """The stack's usable size, stack_hi - stack_lo (the guard below it
    is not part of it), as every gt reader counts it."""
    return max(0, (t.stack_hi or 0) - (t.stack_lo or 0))


def live_bytes(t):
    """Bytes of t's stack in use at its last switch (0 if unknown).  A fresh
    context's sp is below the runtime's zero words at the top: 0."""
    sp = _U64.unpack_from(t.regs_raw, 8 * SP)[0] if t.regs_raw else 0
    if t.state == RUNNING or not t.stack_lo < sp <= t.stack_hi or fresh(t):
        return 0
    return t.stack_hi - sp


def walk(target, t, max_frames=MAX_FRAMES):
    """Return addresses of t's frames, innermost first, or None.

    The running thread's saved context is stale: its frames are the OS
    thread's, which GDB unwinds (the registers the kernel saved in a core,
    the stopped inferior's live).  None for a context outside its own
    stack.  The
    first pc is not a return address in a fresh context (it is the entry
    trampoline itself); see first_is_return.
    """
    raw = t.regs_raw
    if t.state == RUNNING:
        return os_thread_pcs((t.stack_lo or 0) - (t.guard_size or 0), t.stack_hi or 0)
    if t.state == RUNNING or not raw:
        return None
    sp, pc, fp = _U64.unpack_from(raw, 8 * SP)[0], _U64.unpack_from(raw, 8 * PC)[0], \
        _U64.unpack_from(raw, 8 * FP)[0]
    if not t.stack_lo <= sp < t.stack_hi:
        return None
    if fresh(t):
        # The trampoline is the whole stack; reading the words above sp
        # would only make the kernel map a page into a stack that has none.
        return (pc,)
    return chain(target.reader(), sp, pc, fp, t.stack_hi, max_frames)


def os_thread_pcs(lo=None, hi=None, max_frames=MAX_FRAMES):
    """The pcs of the OS thread's physical frames, innermost first, by
    GDB's own unwinder: in a core, the running green thread's frames are
    the ones the kernel saved the registers of (libgtobserve unwinds the
    same registers).  Given the running green thread's stack [lo, hi),
    the OS thread is the one that runs it (select.os_thread_on_stack),
    else the selected one.  None when GDB has no frame."""
    from . import select     # select imports this module
    orig = gdb.selected_thread()
    runner = select.os_thread_on_stack(lo, hi) if lo is not None else None
    pcs = []
    try:
        if runner is not None and runner != orig:
            runner.switch()
        f = gdb.newest_frame()
        while f is not None and len(pcs) < max_frames:
            if f.type() != gdb.INLINE_FRAME:
                pcs.append(f.pc())
            f = f.older()
    except gdb.error:
        pass
    finally:
        if runner is not None and orig is not None and runner != orig and orig.is_valid():
            orig.switch()
    return tuple(pcs) or None


def chain(read, sp, pc, fp, hi, max_frames=MAX_FRAMES):
    """pc, then the return addresses of the frame-pointer chain from fp,
    over the live stack [sp, hi) read in one piece with read(addr, size)."""
    size = min(hi - sp, MAX_LIVE)
    mem = read(sp, size)
    if mem is None:
        return (pc,)
    pcs = [pc]
    end = sp + size
    unpack = _PAIR.unpack_from
    while sp <= fp <= end - 16 and len(pcs) < max_frames:
        next_fp, ret = unpack(mem, fp - sp)
        if ret == 0:
            break
        pcs.append(ret)
        if next_fp <= fp:
            break
        fp = next_fp
    return tuple(pcs)


_frames = {}
_frames_gen = 0


def frames(target, t):
    """FRAME records of t's stack (the JSON every gt reader writes):
    {"n", "pc", "function", "file", "line", "inlined"}, n counting
    physical frames from 1, the frame of the saved context (GDB's number
    for it after `green-thread ID`); a physical
    frame in inlined code gives one record per function of its inline
    chain, innermost first, all with its n, inlined true but for the
    last.  The running thread's are the OS thread's, numbered from 0; []
    when GDB can unwind none."""
    pcs = walk(target, t)
    if not pcs:
        return []
    return pc_frames(pcs, first_is_return(t), frame_base(t.state))


def frame_base(state):
    """The number of a thread's first frame: 1, as `bt` numbers a green
    thread's frames after `green-thread ID` (GDB's #0 is the OS thread's
    frame), 0 for the running thread, whose frames are the OS thread's."""
    return 0 if state == RUNNING else 1


def pc_frames(pcs, first_return, base):
    """frames() of a walked pc sequence; first_return says whether pcs[0]
    is a return address, base is frame_base().  Cached per sequence:
    100K threads share a few."""
    global _frames_gen
    if _frames_gen != symbols.generation:
        _frames.clear()
        _frames_gen = symbols.generation
    key = (tuple(pcs), first_return, base)
    out = _frames.get(key)
    if out is None:
        out = []
        for n, pc in enumerate(pcs, base):
            chain = symbols.lookup(pc, is_return=n > base or first_return).chain
            for i, (func, file, line) in enumerate(chain):
                out.append({"n": n, "pc": pc, "function": func, "file": file,
                            "line": line or None, "inlined": i < len(chain) - 1})
        if len(_frames) > 4096:
            _frames.clear()
        _frames[key] = out
    return out


def first_is_return(t):
    """Whether t's first pc is a return address: not in a fresh context
    (the trampoline itself), nor for the running thread (the instruction
    the OS thread stopped at)."""
    return not fresh(t) and t.state != RUNNING


def fresh_note(t, entry_name):
    """What a fresh context's lone trampoline frame means, or None."""
    if not fresh(t):
        return None
    if unstacked(t):
        return "no stack: waits unstacked, starts over in %s" % entry_name
    return "not started: starts in %s" % entry_name
