"""gt-top's columns on screen, through tmux: the text columns take the
terminal's width (a long thread name shown whole at 250 columns), the
sort menu and < > offer only the columns on screen, the mouse selects
rows and sorts by a column's title."""
import time

import pytest

from conftest import Pipeline
from test_keys import selected_thread, thread_rows, wait_rows, wait_selected
from test_screen import SESSION, keys, screen, start, tmux, wait_for

LONG = "conn 127.0.0.1:8080"          # 19 characters; NAME is 10 wide


@pytest.fixture
def long_names():
    p = Pipeline(1, 3, idle_name=LONG)
    yield p
    tmux("kill-server")
    p.stop()


def title_line(s):
    return next(l for l in s.splitlines() if " NAME" in l and " STATE" in l)


def test_wide_terminal_shows_long_names_whole(long_names):
    start(long_names, cols=250)
    keys("2")
    s = wait_for("view: threads")
    rows = [l for l in s.splitlines() if LONG in l]
    assert len(rows) == 3, s
    # Every cell under its title: the rows' states start where STATE does.
    title = title_line(s)
    x = title.index("STATE")
    assert all(r[x:x + 7] == "parked " for r in rows), (title, rows)
    # The location is whole too: the idlers' label and its caller.
    assert all("idler_main (pipeline.c:" in r and "< gt__thread_start" in r
               for r in rows), rows
    assert all(len(r) <= 250 for r in s.splitlines())


def test_narrow_terminal_cuts_to_fit(long_names):
    start(long_names, cols=80)
    keys("2")
    s = wait_for("view: threads")
    assert all(len(l) <= 80 for l in s.splitlines())
    rows = [l for l in s.splitlines() if "conn 127" in l]
    assert len(rows) == 3 and not any(LONG in r for r in rows), rows
    title = title_line(s)
    x = title.index("STATE")
    assert all(r[x:x + 7] == "parked " for r in rows), (title, rows)
    # Only whole columns: the title line ends with LOCATION, nothing cut
    # after it.
    assert title.split()[-1] in ("LOCATION", "LOCATION^", "LOCATIONv"), title


def picker_names(s):
    line = next(l for l in s.splitlines() if l.startswith("sort by:"))
    return [f.split("=", 1)[1] for f in line.split()[2:]]


@pytest.mark.parametrize("cols,want", [
    (80, ["id", "name", "state", "waits_on", "waited", "location"]),
    (250, ["id", "name", "state", "waits_on", "waited", "location", "blocked_by", "run",
           "switches", "live", "touched", "reserved"]),
])
def test_sort_menu_lists_the_columns_on_screen(long_names, cols, want):
    start(long_names, cols=cols)
    keys("2")
    s = wait_for("view: threads")
    titles = title_line(s).split()
    keys("s")
    s = wait_for("sort by:")
    assert picker_names(s) == want
    # The same columns as the titles on screen ("WAITS ON", "BLOCKED BY"
    # are two words each).
    assert len(titles) == len(want) + ("BLOCKED" in titles) + 1, titles
    keys("Escape")


def test_locations_sort_menu_at_80(long_names):
    start(long_names, cols=80)
    wait_for("view: locations")
    keys("s")
    s = wait_for("sort by:")
    assert picker_names(s) == ["waiting", "arrivals_per_s", "age_p99", "age_max", "location"]
    keys("e")
    # The direction stays: the Locations view's is descending.
    s = wait_for("(location desc)")
    assert "LOCATIONv" in s


def test_sort_left_right_stay_on_screen(long_names):
    """< from the first column on screen goes round to the last on
    screen (LOCATION at 80 columns), not to one past the edge."""
    start(long_names, cols=80)
    keys("2")
    wait_for("(id)")
    keys("<")
    s = wait_for("(location)")
    assert "LOCATION^" in s
    keys(">")
    wait_for("(id)")


def click(x, y):
    """A press and a release of the left button at column X, line Y (from
    0), as xterm reports them (X10 encoding: ncurses' kmous)."""
    for button in (0, 3):
        tmux("send-keys", "-t", SESSION, "-l",
             "\x1b[M" + chr(32 + button) + chr(33 + x) + chr(33 + y))


@pytest.fixture
def pipeline_screen():
    p = Pipeline(4, 3)
    start(p, cols=100)
    yield p
    tmux("kill-server")
    p.stop()


def test_mouse_selects_rows_and_sorts(pipeline_screen):
    keys("2")
    rows = wait_rows(lambda r: len(r) == 8)
    lines = screen().splitlines()
    # A click on the fourth row's id puts the cursor there.
    y = next(i for i, l in enumerate(lines) if l.split()[:1] == [rows[3][0]])
    click(3, y)
    want = int(rows[3][0])
    assert wait_selected(lambda sel: sel[0] == want)[0] == want
    # A click on NAME sorts by name; again, reversed.
    ty = next(i for i, l in enumerate(lines) if " NAME" in l)
    click(lines[ty].index("NAME") + 2, ty)
    s = wait_for("(name)")
    assert "NAME^" in s
    names = [r[1] for r in thread_rows(s)]
    assert names == sorted(names)
    click(lines[ty].index("NAME") + 2, ty)
    s = wait_for("(name desc)")
    assert "NAMEv" in s
    # The cursor stayed on its thread through both sorts.
    assert selected_thread()[0] == want


def wheel(down, x=10, y=12):
    """A wheel step (xterm's buttons 4 and 5: 64 and 65), X10 encoded."""
    tmux("send-keys", "-t", SESSION, "-l",
         "\x1b[M" + chr(32 + 64 + (1 if down else 0)) + chr(33 + x) + chr(33 + y))


def test_mouse_wheel_moves_the_cursor(pipeline_screen):
    keys("2")
    rows = wait_rows(lambda r: len(r) == 8)
    ids = [int(r[0]) for r in rows]
    assert wait_selected(lambda s: True)[0] == ids[0]
    wheel(True)
    assert wait_selected(lambda s: s[0] != ids[0])[0] == ids[3]
    wheel(False)
    assert wait_selected(lambda s: s[0] != ids[3])[0] == ids[0]


def test_mouse_wheel_scrolls_the_help(pipeline_screen):
    keys("h")
    wait_for("lines 1-23 of")
    wheel(True)
    s = wait_for("lines 4-26 of")
    assert "gt-top keys" not in s
    wheel(False)
    wait_for("lines 1-23 of")


def test_click_on_a_view_name_opens_it(pipeline_screen):
    s = wait_for("view: locations")
    lines = s.splitlines()
    y = next(i for i, l in enumerate(lines) if l.startswith(" [1]Locations"))
    bar = lines[y]
    click(bar.index("[2]Threads") + 5, y)
    wait_for("view: threads")
    click(bar.index("[4]Graph") + 1, y)
    wait_for("view: graph")
    click(bar.index("[1]Locations"), y)
    wait_for("view: locations")
    # From a drill-down too.
    keys("Enter")
    wait_for("threads waiting")
    click(bar.index("[2]Threads") + 9, y)
    wait_for("view: threads")
