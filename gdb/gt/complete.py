"""Tab completion for the gt commands: options, their values (states),
thread ids, and green-thread's `off` and `apply`, as GDB completes its
own `thread apply all -`.

GDB hands a Python completer the whole argument text and the word being
completed, cut at its word-break characters ('-' is one), so a candidate
is returned without the part of the current token that precedes the word.
"""
import gdb

# Completions offered at most (GDB's own max-completions is 200 too):
# thread ids at 100K threads are not listed whole.
MAX = 200


def _tokens(text):
    """(previous token or None, the token being completed)."""
    parts = text.split()
    if not text or text[-1].isspace():
        return (parts[-1] if parts else None), ""
    return (parts[-2] if len(parts) > 1 else None), parts[-1]


def thread_ids(prefix):
    """Ids of green threads starting with prefix, ascending; [] when no
    registry can be read (completion never raises)."""
    try:
        from . import registry
        ids = sorted(registry.snapshot().table.column("id"))
    except Exception:  # noqa: BLE001  (a completion must not fail)
        return []
    out = []
    for i in ids:
        s = str(i)
        if s.startswith(prefix):
            out.append(s)
            if len(out) >= MAX:
                break
    return out


STATES = ("parked", "runnable", "running", "exited")


def complete(text, word, options=(), values=None, ids=False, words=()):
    """Candidates for word: option names when the token starts with '-',
    values of the option before it (values: {option: tuple}), else the
    fixed words and, with ids, thread ids."""
    prev, cur = _tokens(text)
    values = values or {}
    if prev in values:
        cands = [v for v in values[prev] if v.startswith(cur)]
    elif cur.startswith("-"):
        cands = [o for o in options if o.startswith(cur)]
    else:
        cands = [w for w in words if w.startswith(cur)]
        if ids:
            cands += thread_ids(cur)
    word = word or ""
    cut = len(cur) - len(word) if cur.endswith(word) else 0
    return [c[cut:] for c in cands[:MAX]]


def completer(options=(), values=None, ids=False, words=()):
    """A gdb.Command.complete method for these options and words."""
    def method(self, text, word):
        return complete(text, word, options, values, ids, words)
    return method


def filter_options(options, flags):
    """Option names of an OPTIONS/FLAGS pair (args.parse's), and the
    values -s takes."""
    return tuple(options) + tuple(flags), {"-s": STATES}
