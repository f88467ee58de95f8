"""Command-line parsing for the gt commands, with one-line errors.

argparse would print usage and raise SystemExit inside GDB; this small
parser raises gdb.GdbError instead.
"""
import re
import shlex

import gdb


def split(arg):
    try:
        return shlex.split(arg or "")
    except ValueError as e:
        raise gdb.GdbError("gt: %s" % e)


def parse(command, argv, options, flags=(), stop_at_positional=False):
    """({option: value}, [positional]) of argv.

    options: {"-s": ("state", str), "--limit": ("limit", int), ...};
    flags: option names that take no value ({name: True} when given).
    stop_at_positional: everything from the first positional on is
    positional (for `apply ... CMD`).
    """
    opts, pos = {}, []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in flags or a in options:
            key = flags[a] if a in flags else options[a][0]
            if key in opts:
                # A second -s or --limit replaced the first without a word;
                # say so, as GDB's own option parser does.
                raise gdb.GdbError("%s: %s given twice (see `help %s`)" % (command, a, command))
        if a in flags:
            opts[flags[a]] = True
        elif a in options:
            key, conv = options[a]
            if i + 1 >= len(argv):
                raise gdb.GdbError("%s: %s needs a value" % (command, a))
            i += 1
            try:
                opts[key] = conv(argv[i])
            except ValueError:
                raise gdb.GdbError("%s: bad value %r for %s" % (command, argv[i], a))
        elif a == "--":
            pos.extend(argv[i + 1:])
            break
        elif a.startswith("-") and len(a) > 1 and not a[1:].isdigit():
            raise gdb.GdbError("%s: unknown option %s (see `help %s`)" % (command, a, command))
        else:
            if stop_at_positional:
                pos.extend(argv[i:])
                break
            pos.append(a)
        i += 1
    return opts, pos


def count(text):
    """A non-negative integer option (0 allowed); `unlimited` is 0, as
    --limit and GDB's own limits take it."""
    if text == "unlimited":
        return 0
    n = int(text.replace(",", "").replace("_", ""))
    if n < 0:
        raise ValueError(text)
    return n


# The most ids one range may name (a typo like 1-99999999999 is an error,
# not a list of a hundred billion numbers).
MAX_RANGE = 10_000_000


def id_range(command, tok):
    """The ids of `7` or `9-12` (a leading # allowed), or None if tok is
    not an id or range; a gdb.GdbError for a backwards or huge range."""
    m = re.fullmatch(r"#?(\d+)(?:-(\d+))?", tok)
    if not m:
        return None
    lo = int(m.group(1))
    hi = int(m.group(2) or lo)
    if hi < lo or hi - lo > MAX_RANGE:
        raise gdb.GdbError("%s: bad range %s" % (command, tok))
    return range(lo, hi + 1)
