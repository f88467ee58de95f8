"""F5 on gt-top's screen: the Threads view as a tree, each thread under
the one that spawned it (tests/viewer/tree.c names every thread after
its parent), brothers in the sort column's order; F5 again, the flat
list.  Through tmux."""
import os
import re
import subprocess
import time

import pytest

from conftest import BUILD
from test_keys import capture_attrs, plain, reversed_line
from test_screen import keys, screen, start, tmux, wait_for

TREE = os.path.join(BUILD, "tests", "viewer", "tree")


class Tree:
    def __init__(self, nbranch, nleaf):
        self.p = subprocess.Popen([TREE, str(nbranch), str(nleaf)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        line = self.p.stdout.readline()
        assert line.startswith("ready "), line
        self.pid = self.p.pid

    def stop(self):
        self.p.stdin.close()
        self.p.wait(timeout=10)


@pytest.fixture
def tree():
    t = Tree(2, 2)
    start(t, cols=140)
    yield t
    tmux("kill-server")
    t.stop()


def names(s):
    """The NAME cells of the Threads view's rows, indent and all; None
    while the Threads view is not on the screen yet (a key just sent)."""
    lines = s.splitlines()
    title = next((l for l in lines if " NAME" in l and " STATE" in l), None)
    if title is None:
        return None
    x, end = title.index("NAME"), title.index("STATE")
    body = lines[lines.index(title) + 1:]
    return [l[x:end].rstrip() for l in body if l[:x].strip().isdigit()]


def wait_names(want, timeout=20.0):
    end = time.time() + timeout
    while time.time() < end:
        if names(screen()) == want:
            return
        time.sleep(0.1)
    assert names(screen()) == want, screen()


def wait_for_re(pattern, timeout=20.0):
    end = time.time() + timeout
    while time.time() < end:
        s = screen()
        if re.search(pattern, s):
            return s
        time.sleep(0.1)
    raise AssertionError("%r never appeared:\n%s" % (pattern, screen()))


def selected_id(timeout=20.0):
    """The id on the row under the cursor (a tree's names hold spaces)."""
    end = time.time() + timeout
    while time.time() < end:
        for line in capture_attrs().splitlines():
            f = plain(line).split()
            if reversed_line(line) and f and f[0].isdigit() and "parked" in f:
                return int(f[0])
        time.sleep(0.1)
    raise AssertionError("no cursor:\n" + screen())


FLAT = ["-", "branch-0", "branch-1", "leaf-0-0", "leaf-0-1", "leaf-1-0", "leaf-1-1"]
TREE_BY_ID = ["-", "`- branch-0", "  `- leaf-0-0", "  `- leaf-0-1",
              "`- branch-1", "  `- leaf-1-0", "  `- leaf-1-1"]


def test_f5_tree_and_back(tree):
    keys("2")
    wait_names(FLAT)
    keys("F5")
    wait_for("view: threads tree")
    wait_names(TREE_BY_ID)
    keys("F5")
    # The flat view's status line: "view: threads" not followed by "tree"
    # (the screen just captured may still be the tree's).
    wait_for_re(r"view: threads (?!tree)")
    wait_names(FLAT)


def test_tree_brothers_in_sort_order(tree):
    """Sorted by name, descending: each level's brothers reversed, each
    thread still under its parent."""
    keys("2")
    wait_names(FLAT)
    keys("F5")
    wait_names(TREE_BY_ID)
    keys("s")
    wait_for("sort by:")
    keys("b")            # name
    wait_for("(name)")
    keys("r")
    wait_for("(name desc)")
    wait_names(["-", "`- branch-1", "  `- leaf-1-1", "  `- leaf-1-0",
                "`- branch-0", "  `- leaf-0-1", "  `- leaf-0-0"])


def test_f5_from_another_view_opens_the_tree(tree):
    wait_for("view: locations")
    keys("F5")
    wait_for("view: threads tree")
    wait_names(TREE_BY_ID)
    # The cursor follows its thread into and out of the tree.
    assert selected_id() == 1
    for _ in range(4):
        keys("Down")
    wait_for("view: threads tree")
    end = time.time() + 5
    while selected_id() != 3 and time.time() < end:    # branch-1, id 3
        time.sleep(0.1)
    assert selected_id() == 3
    keys("F5")
    wait_names(FLAT)
    assert selected_id() == 3
