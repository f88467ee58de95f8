"""`green-gcore [FILE] [--compact] [-f]`: a core of the live inferior,
green stacks included, written by gt-core while GDB holds the process.

GDB's own `gcore` reads the blocks of memory that hold MADV_GUARD_INSTALL
guard pages as zeros, so every green stack in its core is empty.  gt-core
reads around them.  It cannot stop the process itself while GDB traces it
(a process has one tracer), and it need not: GDB has stopped it already.
So this command gives gt-core what only the tracer can read, each kernel
thread's registers as GDB sees them (frame #0 of each thread: its real
registers, whatever green thread is selected), in a file (gt-core
--regs-from: one line per thread, main thread first, `tid=N rax=0x...`),
and gt-core reads the memory itself (process_vm_readv works on a process
stopped by its tracer).  The process stays stopped and traced by GDB
throughout, and GDB's view of it does not change.

gt-core is `set green-threads gt-core PATH`, by default the one installed
beside this extension (PREFIX/bin when the extension is in
PREFIX/share/gt/gdb), else the build tree's, else the one on PATH.
"""
import os
import shutil
import subprocess
import tempfile

import gdb

from . import args, guard

# The registers gt-core --regs-from reads, in its order (user_regs_struct's
# names; GDB names them the same on x86-64 Linux).
REGS = ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10",
        "r11", "r12", "r13", "r14", "r15", "rip", "eflags", "cs", "ss", "ds", "es",
        "fs", "gs", "fs_base", "gs_base", "orig_rax")
MASK = (1 << 64) - 1
# gt-core takes about a second at 100,000 threads; ten minutes past
# anything it should take, GDB gets its prompt back.
TIMEOUT = 600

_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.abspath(os.path.join(_HERE, "..", ".."))


class GtCorePath(gdb.Parameter):
    """The gt-core program green-gcore runs.

Empty (the default): the gt-core installed beside this extension
(PREFIX/bin), else the build tree's (build/bin), else the one on PATH."""

    set_doc = "Set the gt-core program green-gcore runs (empty: find it)."
    show_doc = "Show the gt-core program green-gcore runs."

    def __init__(self):
        super().__init__("green-threads gt-core", gdb.COMMAND_FILES,
                         gdb.PARAM_OPTIONAL_FILENAME)
        self.value = ""

    def get_show_string(self, svalue):
        if svalue:
            return "green-gcore runs %s." % svalue
        found = find_gt_core()
        return "green-gcore runs the gt-core it finds: %s." % (
            found or "none found (beside the extension, in the build tree, on PATH)")


_param = None


def candidates():
    """Where gt-core is looked for when the parameter is empty, in order."""
    ext = os.path.dirname(_HERE)                      # .../share/gt/gdb
    out = [os.path.join(ext, "..", "..", "..", "bin", "gt-core")]
    build = os.environ.get("GT_BUILD")
    if build:
        out.append(os.path.join(build, "bin", "gt-core"))
    out.append(os.path.join(_ROOT, "build", "bin", "gt-core"))
    return [os.path.normpath(p) for p in out]


def find_gt_core():
    for p in candidates():
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    return shutil.which("gt-core")


def gt_core_program():
    """The gt-core to run, or a one-line error naming where it was looked
    for and the fix."""
    given = _param.value if _param is not None else ""
    if given:
        path = os.path.expanduser(given)
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            raise gdb.GdbError("green-gcore: %s is not an executable program: "
                               "`set green-threads gt-core PATH`" % path)
        return path
    found = find_gt_core()
    if not found:
        raise gdb.GdbError("green-gcore: gt-core not found (looked in %s and on PATH): "
                           "`set green-threads gt-core PATH`" % ", ".join(candidates()))
    return found


def live_inferior():
    """The selected inferior when it is a live local process that stands
    still, else a one-line error that says why not."""
    inf = gdb.selected_inferior()
    conn = getattr(inf, "connection", None)
    kind = getattr(conn, "type", None) or "native"
    if inf is not None and inf.pid and kind == "core":
        raise gdb.GdbError("green-gcore: already a core file")
    if inf is None or not inf.pid or not inf.threads():
        raise gdb.GdbError("green-gcore: no process: run the program or attach to it")
    if kind != "native":
        raise gdb.GdbError("green-gcore: the inferior is not a process of this machine "
                           "(%s target): run gt-core where it runs" % kind)
    if any(t.is_running() for t in inf.threads()):
        raise gdb.GdbError("green-gcore: threads of the inferior are running: "
                           "interrupt them first (`interrupt -a`)")
    return inf


def register_lines(inf):
    """One --regs-from line per kernel thread, the main one first, then in
    GDB's order (the order they were found).  Frame #0's registers are the
    thread's own: a green thread selected on it changes only its callers.
    A register GDB cannot read is left out (gt-core takes it as 0)."""
    threads = sorted(inf.threads(), key=lambda t: (t.ptid[1] != inf.pid, t.num))
    lines = []
    for th in threads:
        th.switch()
        frame = gdb.newest_frame()
        words = ["tid=%d" % th.ptid[1]]
        for name in REGS:
            try:
                v = int(frame.read_register(name)) & MASK
            except (gdb.error, ValueError):
                continue
            words.append("%s=%#x" % (name, v))
        lines.append(" ".join(words))
    return lines


def restore(thread, frame):
    """Selects THREAD and FRAME again, as far as they still exist."""
    try:
        if thread is not None and thread.is_valid():
            thread.switch()
        if frame is not None and frame.is_valid():
            frame.select()
    except gdb.error:
        pass


def run_gt_core(program, regs_path, pid, out, compact, force):
    argv = [program, "--regs-from", regs_path]
    if out:
        argv += ["-o", out]
    if compact:
        argv.append("--compact")
    if force:
        argv.append("-f")
    argv.append(str(pid))
    try:
        return subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, errors="replace",
                              timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        raise gdb.GdbError("green-gcore: %s took more than %d s and was stopped"
                           % (program, TIMEOUT))
    except OSError as e:
        raise gdb.GdbError("green-gcore: cannot run %s: %s: `set green-threads "
                           "gt-core PATH`" % (program, e.strerror or e))


class GreenGcore(gdb.Command):
    """Write a core of the inferior with every green stack: green-gcore [FILE] [--compact] [-f]

Runs gt-core on the process GDB is attached to, with the kernel threads'
registers as GDB sees them, and prints gt-core's line:
  gt-core: wrote core.1234 (full): 100001 green threads, 1 kernel thread; ...
The process stays stopped under GDB; nothing of GDB's view changes.
GDB's `gcore` cannot do this under the default guard policy: it reads
memory blocks holding MADV_GUARD_INSTALL guard pages as zeros, and every
green stack with them.

  FILE        the core file (default: core.PID in GDB's current directory)
  --compact   only what debugging the green threads needs (gt-core --compact):
              a minidump for green threads; stack waste needs a full core
  -f          replace FILE if it exists

The core loads like a kernel's: `gdb PROGRAM FILE`, `green-thread N`, `bt`;
gt-stacks, gt-waste and gt-top read it with --core.  gt-core is found as
`show green-threads gt-core` says."""

    def __init__(self):
        super().__init__("green-gcore", gdb.COMMAND_FILES, gdb.COMPLETE_FILENAME)

    @guard.command("green-gcore")
    def invoke(self, arg, from_tty):
        argv = args.split(arg)
        opts, pos = args.parse("green-gcore", argv, {},
                               {"--compact": "compact", "-c": "compact",
                                "-f": "force", "--force": "force"})
        if len(pos) > 1:
            raise gdb.GdbError("green-gcore: one FILE at most (got %d: %s)"
                               % (len(pos), " ".join(pos)))
        inf = live_inferior()
        program = gt_core_program()
        out = os.path.expanduser(pos[0]) if pos else None
        thread = gdb.selected_thread()
        try:
            frame = gdb.selected_frame()
        except gdb.error:
            frame = None
        try:
            lines = register_lines(inf)
        finally:
            restore(thread, frame)
        fd, regs_path = tempfile.mkstemp(prefix="green-gcore-", suffix=".regs")
        try:
            with os.fdopen(fd, "w") as f:
                f.write("\n".join(lines) + "\n")
            p = run_gt_core(program, regs_path, inf.pid, out, opts.get("compact"),
                            opts.get("force"))
        finally:
            try:
                os.unlink(regs_path)
            except OSError:
                pass
        err = [l for l in p.stderr.splitlines() if l.strip()]
        if p.returncode != 0:
            raise gdb.GdbError(err[-1] if err else "green-gcore: %s failed (exit status %d)"
                               % (program, p.returncode))
        # A warning on success (a plain core of a program without gt):
        # gt-core's own line, as it wrote it.
        for l in err:
            gdb.write(l + "\n", gdb.STDERR)
        gdb.write(p.stdout)


def register():
    global _param
    _param = GtCorePath()
    GreenGcore()
