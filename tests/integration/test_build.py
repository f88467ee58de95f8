"""The build never installs packages: `make` and `make lib` only build, and
a missing header stops them with one line naming it and `make deps`.  Only
`make deps` and the targets that run tests install (tools/install-deps.sh).
"""
import os

import gtmake

INSTALLER = "tools/install-deps.sh"


def make(tmp_path, *args):
    return gtmake.make("BUILD=" + str(tmp_path / "build"), *args, timeout=300)


def test_make_and_make_lib_install_nothing(tmp_path):
    for goal in ("all", "lib"):
        p = make(tmp_path, "-n", goal)
        assert p.returncode == 0, p.stderr
        assert "CC" in p.stdout or "gcc" in p.stdout or "cc " in p.stdout, p.stdout[:2000]
        assert INSTALLER not in p.stdout, goal
    # The test targets do install what is missing (the check sees it).
    p = make(tmp_path, "-n", "test-unit")
    assert INSTALLER in p.stdout


def test_missing_header_says_make_deps(tmp_path):
    p = make(tmp_path, "HEADERS_runtime=libunwind.h gt-no-such-header.h", "lib")
    assert p.returncode != 0
    said = [line for line in p.stderr.splitlines() if not line.startswith("make")]
    assert said == ["gt: <gt-no-such-header.h> is missing: run 'make deps' "
                    "to install what gt builds with"], p.stderr
    assert not os.path.exists(tmp_path / "build" / "runtime"), "it compiled anyway"
