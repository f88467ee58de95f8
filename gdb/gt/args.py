"""Command-line parsing for the gt commands, with one-line errors.

argparse would print usage and raise SystemExit inside GDB; this small
parser raises gdb.GdbError instead.
"""
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
    """A non-negative integer option (0 allowed)."""
    n = int(text.replace(",", "").replace("_", ""))
    if n < 0:
        raise ValueError(text)
    return n
