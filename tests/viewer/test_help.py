"""gt-top's help screen through tmux: every key, and a legend for every
column of every view (the Locations' and Threads' descriptions are
tables.c's own, read from its source here), scrolled through at 80x24."""
import os
import re

from conftest import HERE
from test_keys import session  # noqa: F401  (the fixture)
from test_screen import SESSION, keys, tmux, wait_for

TABLES = os.path.join(HERE, "..", "..", "viewer", "tables.c")


def table_columns(name):
    """(title, description) of each column of tables.c's table NAME."""
    src = open(TABLES).read()
    body = src[src.index("const struct column %s[] = {" % name):]
    body = body[:body.index("\n};")]
    return re.findall(r'\{"\w+", "([^"]+)", \d+, COL_\w+, "((?:[^"\\]|\\.)*)"', body)


def whole_help():
    """Every line of the help: the pane made tall enough for all of them
    (80 columns wide still, so the descriptions wrap as at 80x24)."""
    tmux("resize-window", "-t", SESSION, "-x", "80", "-y", "150")
    keys("h")
    s = wait_for("gt-top keys")
    m = re.search(r"lines 1-(\d+) of (\d+)", s)
    assert m and m.group(1) == m.group(2), s
    lines = s.splitlines()
    return lines[:lines.index(next(l for l in lines if m.group(0) in l))]


def legend(lines, title):
    """The description next to TITLE in the help, its wrapped lines
    joined."""
    for i, l in enumerate(lines):
        if l.startswith("  ") and l[2:].startswith(title + " ") and \
                l[2:2 + 12].rstrip() == title:
            text = [l[14:].strip()]
            for nxt in lines[i + 1:]:
                if nxt.startswith(" " * 14) and nxt.strip():
                    text.append(nxt.strip())
                else:
                    break
            return " ".join(text)
    return None


def test_help_has_every_key_and_column(session):
    lines = whole_help()
    text = "\n".join(lines)
    assert all(len(l) <= 80 for l in lines)
    for key in ("F10", "F3", "F4", "F5", "Space", "/ \\ F4", "click", "Esc"):
        assert key in text, key
    at = next(i for i, l in enumerate(lines) if l.startswith("Threads view:"))
    for name, section in (("loc_columns", lines[:at]), ("thread_columns", lines[at:])):
        cols = table_columns(name)
        assert len(cols) > 8
        for title, desc in cols:
            got = legend(section, title)
            assert got == desc.replace('\\"', '"'), (title, got, desc)
    # The ones a reviewer found unexplained, and the screen's own.
    for title in ("AGE50", "DONE99", "QUEUE", "TOUCHED", "TOUCH50", "SUGGEST", "SAVES",
                  "SAMPLED", "RATE"):
        assert legend(lines, title), title
    keys("Escape")
    wait_for("view: locations")


def test_help_scrolls_and_closes(session):
    keys("h")
    s = wait_for("gt-top keys")
    assert re.search(r"lines 1-23 of \d+", s), s
    keys("Down")
    s = wait_for("lines 2-24 of")
    assert "gt-top keys" not in s
    keys("End")
    m = re.search(r"lines (\d+)-(\d+) of (\d+)", wait_for("sort column, ascending"))
    assert m.group(2) == m.group(3)
    keys("Home")
    wait_for("lines 1-23 of")
    keys("x")
    wait_for("view: locations")
    keys("h")
    wait_for("gt-top keys")
    keys("q")
    wait_for("gt-top-exited 0")
    assert tmux("list-sessions").returncode == 0
