"""bench/plugin_cli.py - what every run.py plug-in's program shares: its
command line (a scenario, then key=integer parameters) and the RESULT
line it prints for each measured figure (format: bench/bench_util.h).

Python 3 standard library only.
"""
import argparse
import statistics
import sys


def die(program, msg):
    print("%s: %s" % (program, msg), file=sys.stderr, flush=True)
    sys.exit(1)


def result(bench, impl, unit, values, n, lower_bound=False, **extra):
    """One RESULT line: the median of VALUES and their range.  LOWER_BOUND
    says the figure is a time limit the command was stopped at; EXTRA adds
    key=value pairs for run.py's notes."""
    print("RESULT bench=%s impl=%s unit=%s median=%.6g min=%.6g max=%.6g reps=%d n=%d%s%s" % (
        bench, impl, unit, statistics.median(values), min(values), max(values), len(values),
        n, " lower_bound=1" if lower_bound else "",
        "".join(" %s=%s" % kv for kv in sorted(extra.items()))), flush=True)


def parse(doc, scenario_help, defaults=None, scenarios=None):
    """(build directory, scenario, {key: integer}) from the command line:
    [--build DIR] SCENARIO [key=value ...].  With DEFAULTS, only its keys
    are accepted, each a positive integer, and missing ones take its
    values."""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("scenario", choices=scenarios, help=scenario_help)
    ap.add_argument("params", nargs="*", help="key=value (integers)")
    opts = ap.parse_args()
    params = dict(defaults or {})
    for p in opts.params:
        k, sep, v = p.partition("=")
        if not sep or not v.isdigit() or (defaults is not None and
                                          (k not in defaults or int(v) < 1)):
            ap.error("parameter %r: expected %s" % (
                p, "key=integer" if defaults is None else
                " or ".join(k + "=" for k in defaults) + " with a positive integer"))
        params[k] = int(v)
    return opts.build, opts.scenario, params, ap
