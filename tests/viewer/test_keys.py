"""gt-top's htop keys driven through tmux: F10, F3 search, F4 and \\
filter, space pause, Esc taking back what a prompt or a drill-down
changed and leaving the cursor where it was, -n on the screen, the
drill-down following its thread, the "terminal too small" message."""
import re
import time

import pytest

from conftest import Pipeline
from test_screen import SESSION, keys, screen, session, start, tmux, wait_for  # noqa: F401 (session: a fixture)

STATES = ("parked", "runnable", "running")


def capture_attrs():
    """The pane with its attributes: the cursor's row is drawn reversed."""
    return tmux("capture-pane", "-p", "-e", "-t", SESSION).stdout


def plain(line):
    return re.sub(r"\x1b\[[0-9;]*m", "", line)


def reversed_line(line):
    """The line starts reversed (SGR 7 among its first attributes)."""
    m = re.match(r"((?:\x1b\[[0-9;]*m)+)", line)
    return bool(m) and "7" in re.split(r"[;m\[\x1b]+", m.group(1))


def selected_thread():
    """(id, name) of the Threads view's row under the cursor, None when
    no thread row is reversed."""
    for line in capture_attrs().splitlines():
        text = plain(line)
        f = text.split()
        if reversed_line(line) and len(f) > 2 and f[0].isdigit() and f[2] in STATES:
            return int(f[0]), f[1]
    return None


def wait_selected(pred, timeout=20.0):
    end = time.time() + timeout
    while time.time() < end:
        sel = selected_thread()
        if sel and pred(sel):
            return sel
        time.sleep(0.1)
    raise AssertionError("cursor never got there: %r\n%s" % (selected_thread(), screen()))


def thread_rows(s):
    return [l.split() for l in s.splitlines() if l.strip()[:1].isdigit()
            and len(l.split()) > 2 and l.split()[2] in STATES]


def wait_rows(pred, timeout=20.0):
    end = time.time() + timeout
    while time.time() < end:
        rows = thread_rows(screen())
        if rows and pred(rows):
            return rows
        time.sleep(0.1)
    raise AssertionError("rows never matched:\n%s" % screen())


def test_f10_quits(session):
    keys("F10")
    wait_for("gt-top-exited 0")


def test_f10_quits_from_help(session):
    keys("h")
    wait_for("gt-top keys")
    keys("F10")
    wait_for("gt-top-exited 0")


def test_space_pauses_and_resumes(session):
    keys("Space")
    wait_for(" PAUSED")
    keys("Space")
    end = time.time() + 5
    while " PAUSED" in screen() and time.time() < end:
        time.sleep(0.1)
    assert " PAUSED" not in screen()


def wait_prompt(label, timeout=20.0):
    """The screen's last line once it is the prompt LABEL (capture-pane
    drops a line's trailing spaces)."""
    end = time.time() + timeout
    while time.time() < end:
        last = screen().rstrip("\n").splitlines()[-1]
        if last.startswith(label):
            return last
        time.sleep(0.1)
    raise AssertionError("no %r prompt:\n%s" % (label, screen()))


def names_of(rows):
    return sorted(set(r[1] for r in rows))


@pytest.mark.parametrize("key", ["\\", "F4", "/"])
def test_filter_keys(session, key):
    """\\ and F4 filter as / does: the rows follow the text as it is
    typed (before Enter), Enter keeps it."""
    keys("2")
    wait_rows(lambda r: len(r) == 8)
    if key == "\\":
        tmux("send-keys", "-t", SESSION, "-l", "\\")
    else:
        keys(key)
    wait_prompt("filter:")
    tmux("send-keys", "-t", SESSION, "-l", "idler")
    rows = wait_rows(lambda r: names_of(r) == ["idler"])
    assert len(rows) == 3
    keys("Enter")
    s = wait_for("filter: idler")
    assert len(thread_rows(s)) == 3 and "3 rows" in s


def test_esc_takes_the_filter_back(session):
    """Esc in the filter prompt restores the filter that was in force,
    and the cursor's row with it."""
    keys("2")
    wait_rows(lambda r: len(r) == 8)
    keys("F4")
    tmux("send-keys", "-t", SESSION, "-l", "idler")
    keys("Enter")
    wait_for("filter: idler")
    keys("Down")
    first = wait_selected(lambda s: s[1] == "idler")
    keys("F4")
    assert wait_prompt("filter:") == "filter: idler"
    keys("C-u")
    tmux("send-keys", "-t", SESSION, "-l", "looper")
    wait_rows(lambda r: names_of(r) == ["looper"] and len(r) == 4)
    keys("Escape")
    rows = wait_rows(lambda r: names_of(r) == ["idler"])
    assert len(rows) == 3
    assert wait_selected(lambda s: s[1] == "idler") == first


def test_f3_search_moves_the_cursor(session):
    """F3 puts the cursor on the first row holding the text, F3 again on
    the next, Enter leaves it there; the rows are all still shown."""
    keys("2")
    rows = wait_rows(lambda r: len(r) == 8)
    idlers = [int(r[0]) for r in rows if r[1] == "idler"]
    assert wait_selected(lambda s: True)[0] == int(rows[0][0])
    keys("F3")
    wait_prompt("search:")
    tmux("send-keys", "-t", SESSION, "-l", "idler")
    assert wait_selected(lambda s: s[1] == "idler")[0] == idlers[0]
    keys("F3")
    assert wait_selected(lambda s: s[0] != idlers[0])[0] == idlers[1]
    keys("Enter")
    s = wait_for("8 rows")
    assert len(thread_rows(s)) == 8 and "search: " not in s
    assert selected_thread()[0] == idlers[1]
    # Again: the last search is offered, and goes on from the cursor.
    keys("F3")
    assert wait_prompt("search:") == "search: idler"
    keys("F3")
    assert wait_selected(lambda s: s[0] != idlers[1])[0] == idlers[2]
    keys("Enter")


def test_esc_takes_the_search_back(session):
    keys("2")
    rows = wait_rows(lambda r: len(r) == 8)
    keys("Down")
    start_at = wait_selected(lambda s: s[0] == int(rows[1][0]))
    keys("F3")
    tmux("send-keys", "-t", SESSION, "-l", "idler")
    wait_selected(lambda s: s[1] == "idler")
    keys("Escape")
    assert wait_selected(lambda s: s == start_at) == start_at
    assert "search: " not in screen()


def test_esc_after_drill_down_keeps_the_cursor(session):
    """Enter on the sixth row, Esc: the cursor is on that thread again,
    refreshes in between (every 0.3 s) notwithstanding."""
    keys("2")
    rows = wait_rows(lambda r: len(r) == 8)
    for _ in range(5):
        keys("Down")
    want = (int(rows[5][0]), rows[5][1])
    assert wait_selected(lambda s: s == want) == want
    keys("Enter")
    wait_for('Thread %d "%s"' % want)
    keys("Escape")
    wait_for("view: threads")
    assert wait_selected(lambda s: True) == want


def test_drill_down_follows_the_thread(session):
    """A looper's drill-down is read again on each refresh: its switch
    count (it switches every few ms) changes while it is shown."""
    keys("2")
    rows = wait_rows(lambda r: len(r) == 8)
    looper = next(r for r in rows if r[1] == "looper")
    keys("F3")
    tmux("send-keys", "-t", SESSION, "-l", "looper")
    wait_selected(lambda s: s[1] == "looper")
    keys("Enter")   # leaves the search
    keys("Enter")   # drills down
    pat = re.compile(r"^  run \S+, (\d+) switches", re.M)
    s = wait_for(" switches, stack live")
    first = int(pat.search(s).group(1))
    end = time.time() + 10
    seen = first
    while time.time() < end and seen == first:
        time.sleep(0.2)
        m = pat.search(screen())
        seen = int(m.group(1)) if m else first
    assert seen > first, screen()
    assert re.search(r'^Thread \d+ "looper"', screen(), re.M)
    assert looper[1] == "looper"


def test_n_ends_the_screen():
    """-n 3 on the screen: three refreshes, then gt-top ends by itself."""
    p = Pipeline(1, 1)
    try:
        start(p, args="-d 0.2 -n 3", wait=False)
        wait_for("gt-top-exited 0", 10)
    finally:
        tmux("kill-server")
        p.stop()


@pytest.mark.parametrize("size", [(40, 10), (20, 6)])
def test_too_small_message_fits(session, size):
    cols, rows = size
    tmux("resize-window", "-t", SESSION, "-x", str(cols), "-y", str(rows))
    s = wait_for("too small")
    lines = s.splitlines()
    assert all(len(l) <= cols for l in lines), lines
    text = " ".join(l.strip() for l in lines if l.strip())
    assert text == "terminal too small (%dx%d): gt-top needs at least 60x12" % (cols, rows), s
    tmux("resize-window", "-t", SESSION, "-x", "80", "-y", "24")
    wait_for("view: locations")


def test_help_option_lists_the_keys():
    """gt-top --help names the screen's keys, the new ones with them."""
    from conftest import gt_top
    out = gt_top("--help").stdout
    keys_part = out[out.index("Keys on the screen"):]
    for k in ("q F10", "h ? F1", "Enter", "Esc", "D deadlocks", "/ \\ F4 filter",
              "F3 search", "F5 thread tree", "s F6", "p Space pause", "click"):
        assert k in keys_part, k
    assert all(len(l) <= 80 for l in out.splitlines())
