"""Fixtures of gt-core's tests: target programs that end with the test,
whatever it asserted.  The helpers themselves are in core_util.py."""
import os
import sys

import pytest

# The test modules import core_util from here.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def targets():
    """start(factory, *args) -> a running cu.Target, stopped at the end."""
    started = []

    def start(factory, *args, **kw):
        t = factory(*args, **kw)
        started.append(t)
        return t
    yield start
    for t in started:
        t.stop()
