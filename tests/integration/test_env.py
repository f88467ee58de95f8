"""The runtime's environment variables: a value it takes is the value the
registry publishes; one it cannot take is said in one line, and the
default stands."""
import os
import subprocess

from gtreg import C, Registry, Target

BUILD = os.environ.get("GT_BUILD", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
EXE = os.path.join(BUILD, "tests", "integration", "three_locations")
PAGE = os.sysconf("SC_PAGESIZE")


def published(env):
    """(stack_default, guard_size, stack_cache_max, stderr) of the fixture
    started with ENV."""
    p = subprocess.Popen([EXE, "1", "1", "1"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=dict(os.environ, **env))
    try:
        assert p.stdout.readline().startswith("ready ")
        t = Target(p.pid, EXE)
        r = Registry(t)
        values = (r.g("STACK_DEFAULT"), r.g("GUARD_SIZE"), r.g("STACK_CACHE_MAX"))
        t.close()
    finally:
        p.kill()
        _, err = p.communicate()
    return values + (err,)


def test_values_taken_are_published():
    size, guard, cache, err = published({"GT_STACK_SIZE": "131072", "GT_GUARD_SIZE": "0x8000",
                                         "GT_STACK_CACHE": "3"})
    assert (size, guard, cache) == (131072, 0x8000, 3)
    assert err == ""


def test_values_refused_say_so_once_each():
    dflt = published({})[:3]
    size, guard, cache, err = published({"GT_STACK_SIZE": "64k", "GT_GUARD_SIZE": "1",
                                         "GT_STACK_CACHE": "many"})
    assert (size, guard, cache) == dflt
    lines = err.splitlines()
    assert len(lines) == 3, err
    assert lines[0].startswith("gt: GT_STACK_SIZE=64k is not a number of bytes in ")
    assert lines[1].startswith("gt: GT_GUARD_SIZE=1 is not a number of bytes in %d.." % PAGE)
    assert lines[2].startswith("gt: GT_STACK_CACHE=many is not a number of stacks in 0..")
    assert all(l.endswith("; using %d" % v) for l, v in zip(lines, dflt))
