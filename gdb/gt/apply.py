"""`green-thread apply`: run a GDB command on many green threads."""
import re

import gdb

from . import backtrace, fmt, guard, registry, select
from .text import text_safe

PROGRESS_EVERY = 2000


def parse(arg):
    """(ids or "all", group, command) of `all|ID... [--group] CMD`."""
    rest = (arg or "").strip()
    ids, every, group = [], False, False
    while rest:
        m = re.match(r"(\S+)\s*", rest)
        tok = m.group(1)
        if tok == "all" and not ids and not every:
            every = True
        elif tok == "--group":
            group = True
        elif re.fullmatch(r"#?\d+(-\d+)?", tok) and not every:
            a, _, b = tok.lstrip("#").partition("-")
            lo, hi = int(a), int(b or a)
            if hi < lo or hi - lo > 10_000_000:
                raise gdb.GdbError("green-thread apply: bad range %s" % tok)
            ids.extend(range(lo, hi + 1))
        else:
            break
        rest = rest[m.end():]
    if not (every or ids):
        raise gdb.GdbError("green-thread apply: say which threads: all, or ids "
                           "(green-thread apply all|ID... [--group] CMD)")
    if not rest:
        raise gdb.GdbError("green-thread apply: no command to run")
    return ("all" if every else ids), group, rest


class GreenThreadApply(gdb.Command):
    """Run a command on green threads: green-thread apply all|ID... [--group] CMD

Selects each thread in turn (as `green-thread ID` does) and runs CMD,
e.g. `green-thread apply all bt`, `green-thread apply 7 9-12 bt full`.
IDs may be ranges (9-12).  --group runs CMD once per group of threads with
identical stacks and says how many threads and which ids it stands for.
Progress is reported every few thousand threads; Ctrl-C stops cleanly
after the current thread.  The earlier selection is restored at the end."""

    def __init__(self):
        super().__init__("green-thread apply", gdb.COMMAND_STACK)

    @guard.command("green-thread apply")
    def invoke(self, arg, from_tty):
        which, group, cmd = parse(arg)
        snap = registry.snapshot()
        if which == "all":
            chosen = sorted(snap.threads, key=lambda t: t.id)
        else:
            by_id = snap.by_id()
            chosen = [snap.thread(i) for i in dict.fromkeys(which)]
            for i in which:
                if i not in by_id:
                    snap.thread(i)
        prev = select.selected()
        prev_level = gdb.selected_frame().level()
        # green-thread of the running thread selects the OS thread that
        # runs it (select.activate): the one selected now is put back.
        os_thread = gdb.selected_thread()
        done = 0
        if group:
            index = snap.index_of()
            units = [(snap.thread_at(g.ks[0]), g) for g in backtrace.group_threads(
                snap, [index[t.id] for t in chosen])]
        else:
            units = [(t, None) for t in chosen]
        total = len(units)
        try:
            for t, g in units:
                if g is None:
                    head = "Green thread %d" % t.id + (" (%s)" % t.name if t.name else "")
                else:
                    head = "%s thread%s like green thread %d: ids %s" % (
                        fmt.count(len(g.ks)), "" if len(g.ks) == 1 else "s",
                        t.id, backtrace.id_ranges(g.ids))
                gdb.write("\n%s:\n" % head)
                try:
                    select.activate(t)
                    gdb.execute(cmd, from_tty=False)
                except (gdb.error, gdb.GdbError) as e:
                    # This thread's error, in one line; the next thread goes on.
                    gdb.write("%s\n" % text_safe(str(e).strip()))
                except Exception as e:  # noqa: BLE001  (see guard.py)
                    gdb.write("%s\n" % guard.message("green-thread apply", e))
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


def register():
    GreenThreadApply()
