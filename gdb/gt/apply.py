"""`green-thread apply`: run a GDB command on many green threads."""
import re

import gdb

from . import abi, args, backtrace, fmt, guard, registry, select
from .complete import completer
from .text import text_safe

C = abi.C
PROGRESS_EVERY = 2000


FLAGS = {"-q": "quiet", "-c": "cont", "-s": "silent", "--group": "group"}
USAGE = "green-thread apply all|ID... [-q] [-c] [-s] [--group] CMD"


def parse(arg):
    """(ids or "all", {flag: True}, command) of `all|ID... [FLAG]... CMD`,
    flags as `thread apply` takes them, plus --group."""
    rest = (arg or "").strip()
    ids, every, flags = [], False, {}
    while rest:
        m = re.match(r"(\S+)\s*", rest)
        tok = m.group(1)
        if tok == "all" and not ids and not every:
            every = True
        elif tok in FLAGS and (every or ids):
            flags[FLAGS[tok]] = True
        elif not every and not flags and args.id_range("green-thread apply", tok):
            ids.extend(args.id_range("green-thread apply", tok))
        elif tok.startswith("-") and (every or ids) and len(tok) > 1:
            raise gdb.GdbError("green-thread apply: unknown flag %s (%s)" % (tok, USAGE))
        else:
            break
        rest = rest[m.end():]
    if not (every or ids):
        raise gdb.GdbError("green-thread apply: say which threads: all, or ids (%s)" % USAGE)
    if not rest:
        raise gdb.GdbError("green-thread apply: no command to run (%s)" % USAGE)
    if flags.get("cont") and flags.get("silent"):
        raise gdb.GdbError("green-thread apply: -c and -s exclude each other, "
                           "as in thread apply")
    return ("all" if every else ids), flags, rest


def chosen_threads(snap, which):
    """The threads `which` names that can be selected, and one note on
    the ids that cannot (exited, or never existed), or None."""
    exited = C["GT_STATE_EXITED"]
    if which == "all":
        return sorted((t for t in snap.threads if t.state != exited),
                      key=lambda t: t.id), None
    by_id = snap.by_id()
    chosen, missing = [], []
    for i in dict.fromkeys(which):
        t = by_id.get(i)
        if t is None or t.state == exited:
            missing.append(i)
        else:
            chosen.append(t)
    if not missing:
        return chosen, None
    return chosen, ("green-thread apply: skipping %s (exited or no such thread; "
                    "`info green-threads` lists them)" % (
                        ("thread " if len(missing) == 1 else "threads ")
                        + backtrace.id_ranges(missing)))


class GreenThreadApply(gdb.Command):
    """Run a command on green threads: green-thread apply all|ID... [-q] [-c] [-s] [--group] CMD

Selects each thread in turn (as `green-thread ID` does) and runs CMD,
e.g. `green-thread apply all bt`, `green-thread apply 7 9-12 bt full`.
IDs may be ranges (9-12); ids of exited threads, or of none, are skipped
with one note.  The flags are thread apply's:
  -q       no "Green thread N:" header before each output
  -c       an error in CMD is printed and the next thread goes on
  -s       threads where CMD fails or prints nothing are left out silently
Without -c or -s, the first error stops the command, as in thread apply.
--group runs CMD once per group of threads with identical stacks and says
how many threads and which ids it stands for.  Progress is reported every
few thousand threads; Ctrl-C stops cleanly after the current thread.  The
earlier selection is restored at the end."""

    complete = completer(options=tuple(FLAGS), words=("all",), ids=True)

    def __init__(self):
        super().__init__("green-thread apply", gdb.COMMAND_STACK)

    @guard.command("green-thread apply")
    def invoke(self, arg, from_tty):
        which, flags, cmd = parse(arg)
        snap = registry.snapshot()
        chosen, note = chosen_threads(snap, which)
        if note:
            gdb.write(note + "\n")
        prev = select.selected()
        prev_level = gdb.selected_frame().level()
        # green-thread of the running thread selects the OS thread that
        # runs it (select.activate): the one selected now is put back.
        os_thread = gdb.selected_thread()
        done = 0
        if flags.get("group"):
            index = snap.index_of()
            units = [(snap.thread_at(g.ks[0]), g) for g in backtrace.group_threads(
                snap, [index[t.id] for t in chosen])]
        else:
            units = [(t, None) for t in chosen]
        total = len(units)
        try:
            for t, g in units:
                self.run_one(snap, t, g, cmd, flags)
                done += 1
                if done % PROGRESS_EVERY == 0 and done < total:
                    gdb.write("[green-thread apply: %s of %s]\n"
                              % (fmt.count(done), fmt.count(total)), gdb.STDLOG)
        except KeyboardInterrupt:
            gdb.write("\n[green-thread apply: interrupted after %s of %s]\n"
                      % (fmt.count(done), fmt.count(total)))
        finally:
            if os_thread is not None and os_thread.is_valid() and \
                    gdb.selected_thread() != os_thread:
                os_thread.switch()
            select.restore(prev, prev_level)

    @staticmethod
    def run_one(snap, t, g, cmd, flags):
        """CMD on one thread (or group), its header and output as the flags
        say.  Raises gdb.GdbError to stop the command on an error without
        -c or -s."""
        if g is None:
            head = "Green thread %d" % t.id + (" (%s)" % t.name if t.name else "")
        else:
            head = "%s thread%s like green thread %d: ids %s" % (
                fmt.count(len(g.ks)), "" if len(g.ks) == 1 else "s",
                t.id, backtrace.id_ranges(g.ids))
        head = "" if flags.get("quiet") else "\n%s:\n" % head
        try:
            select.activate(t, snap)
            out = gdb.execute(cmd, from_tty=False, to_string=True)
        except (gdb.error, gdb.GdbError) as e:
            if str(e) == "Quit":
                raise KeyboardInterrupt   # Ctrl-C inside CMD: stop cleanly
            if flags.get("silent"):
                return
            err = text_safe(str(e).strip())
            if not flags.get("cont"):
                gdb.write(head)
                raise gdb.GdbError(err)
            gdb.write("%s%s\n" % (head, err))
            return
        except Exception as e:  # noqa: BLE001  (see guard.py)
            if not flags.get("silent"):
                gdb.write("%s%s\n" % (head, guard.message("green-thread apply", e)))
            return
        if out or not flags.get("silent"):
            gdb.write(head + out)


def register():
    GreenThreadApply()
