"""gt-top -b's text tables never misalign: a thread name longer than its
column (NAME is 10 wide) or a long wait description widens the column
for every row, so each cell starts (text) or ends (numbers) under its
title."""
import os
import re

import pytest

from conftest import HERE, Pipeline, gt_top

LONG = "conn 127.0.0.1:8080 xx"          # 22 characters
TABLES = os.path.join(HERE, "..", "..", "viewer", "tables.c")


def titles(name, multi=False):
    """(title, right-aligned) of each column of tables.c's table NAME; its
    last, PID, is over several processes only, and then first."""
    src = open(TABLES).read()
    body = src[src.index("const struct column %s[] = {" % name):]
    body = body[:body.index("\n};")]
    cols = [(t, a == "RIGHT") for t, a in re.findall(r'\{"\w+", "([^"]+)", \d+, COL_(\w+),',
                                                      body)]
    assert cols[-1][0] == "PID"
    return [cols[-1]] + cols[:-1] if multi else cols[:-1]


def spans(title_line, cols):
    """Where each title starts and ends on the title line."""
    at, out = 0, []
    for t, right in cols:
        x = title_line.index(t, at)
        out.append((x, x + len(t), right))
        at = x + len(t)
    return out


def check_aligned(table, cols):
    title_line, rows = table[0], table[1:]
    sp = spans(title_line, cols)
    assert rows
    for r in rows:
        for k, (x, end, right) in enumerate(sp):
            if right:
                # The cell ends where its title does, a space after it.
                assert r[end - 1] != " " and (end == len(r) or r[end] == " "), (r, cols[k])
            else:
                # The cell starts where its title does, after a space
                # (BLOCKED BY is empty where nobody blocks).
                blank = not r[x:end].strip()
                assert (r[x] != " " or blank) and (x == 0 or r[x - 1] == " "), (r, cols[k])


def table_of(out, first_title):
    lines = out.splitlines()
    at = next(i for i, l in enumerate(lines) if l.lstrip().startswith(first_title))
    end = next((i for i in range(at, len(lines)) if not lines[i].strip()), len(lines))
    return lines[at:end]


@pytest.fixture
def long_names():
    p = Pipeline(2, 2, 1, 0, LONG)
    yield p
    p.stop()


def test_threads_text_aligned_with_long_names(long_names):
    out = gt_top("-b", "-d", "0.2", "-p", long_names.pid, "--view", "threads").stdout
    table = table_of(out, "ID")
    assert len(table) == 1 + 7
    named = [r for r in table if LONG in r]
    assert len(named) == 2   # whole, not cut
    check_aligned(table, titles("thread_columns"))


def test_locations_text_aligned(long_names):
    out = gt_top("-b", "-d", "0.2", "-p", long_names.pid).stdout
    table = table_of(out, "WAITING")
    check_aligned(table, titles("loc_columns"))
