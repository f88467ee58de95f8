"""The LINE:name markers of a fixture's C source, for every Python suite.

A fixture marks the lines its tests name with a comment, /* LINE:name */,
so that a test asserts "read_deep (known_stacks.c:LINE)" without a line
number written twice.
"""
import re


def marker_lines(source):
    """{name: line number} of the LINE:name markers of SOURCE."""
    out = {}
    with open(source) as f:
        for no, text in enumerate(f, 1):
            m = re.search(r"/\* LINE:(\w+) \*/", text)
            if m:
                out[m.group(1)] = no
    return out
