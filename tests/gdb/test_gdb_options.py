"""The listing commands take what GDB users type for GDB's own: thread
ids as arguments, `unlimited`, each option once; green-bt's filters and
whole stacks, the same as gt-stacks gives."""
import json
import os
import re
import subprocess

from test_gdb import BUILD, N, at_breakpoint, gdb, ids_of, json_of

KNOWN = os.path.join(BUILD, "tests", "tools", "known_stacks")
GT_STACKS = os.path.join(BUILD, "bin", "gt-stacks")


def test_ids_as_arguments():
    sleepers, lockers = ids_of("sleeper"), ids_of("locker")
    pick = [sleepers[1]] + lockers[:2]
    out = at_breakpoint(["info green-threads --json %d %d-%d" % (pick[0], pick[1], pick[2])])
    assert [t["id"] for t in json_of(out)["threads_list"]] == pick, out
    out = at_breakpoint(["green-bt --json %d" % sleepers[0]])
    groups = json_of(out)["groups"]
    assert [g["thread_ids"] for g in groups] == [[sleepers[0]]], out


def test_repeated_option_is_an_error():
    out = at_breakpoint(["info green-threads -s parked -s exited", "green-bt --limit 1 --limit 2"])
    assert "info green-threads: -s given twice" in out, out
    assert "green-bt: --limit given twice" in out, out


def test_limit_unlimited():
    out = at_breakpoint(["set green-threads limit unlimited", "show green-threads limit",
                         "info green-threads --json", "set green-threads limit 3",
                         "info green-threads --json --limit unlimited"])
    assert "Green-thread listings print every row (no limit)." in out, out
    docs = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
    assert [d["more"] for d in docs] == [0, 0], out
    assert len(docs[0]["threads_list"]) == docs[0]["threads"], out


def test_green_bt_min_wait_filter():
    out = at_breakpoint(["green-bt -w 1h", "green-bt --json -w 0s --limit 0"])
    assert "green-bt: no green thread matches -w 1h (of 20 threads)" in out, out
    # Every thread but the running main thread is parked.
    assert sum(g["count"] for g in json_of(out)["groups"]) == 6 * N + 1


def test_green_bt_whole_stack_as_gt_stacks():
    """A recursion 498 deep: green-bt gives every frame, as gt-stacks does."""
    env = dict(os.environ, GT_STACK_SIZE=str(1 << 20))
    p = subprocess.Popen([KNOWN, "0", "0", "1", "498", "0"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert p.stdout.readline().startswith("ready "), "fixture did not start"
        live = json.loads(subprocess.run([GT_STACKS, "--json", str(p.pid)], check=True,
                                         capture_output=True, text=True).stdout)
        want = [[f["function"] for f in g["frames"]] for g in live["groups"]
                if "recur_main" in [f["function"] for f in g["frames"]]]
        out = gdb(["-p", str(p.pid)], ["green-bt --json -n recur"])
        got = [[f["function"] for f in g["frames"]] for g in json_of(out)["groups"]]
    finally:
        p.kill()
        p.wait()
    assert len(want) == 1 and want[0].count("recurse") == 499, want
    assert got == want


def test_tab_completion():
    cmds = {"info green-threads --li": ["info green-threads --limit"],
            "info green-threads -s r": ["info green-threads -s runnable",
                                        "info green-threads -s running"],
            "green-thread o": ["green-thread off"],
            "green-thread apply all -": ["green-thread apply all " + f
                                         for f in ("--group", "-c", "-q", "-s")],
            "green-bt -": ["green-bt " + o for o in
                           ("--json", "--limit", "-l", "-n", "-s", "-w")],
            # ids 1 to 6N+2 (=20) that start with 1
            "info green-stack 1": ["info green-stack %d" % i for i in
                                   range(1, 6 * N + 3) if str(i).startswith("1")],
            "info green-deadlocks -": ["info green-deadlocks --json"]}
    out = at_breakpoint(["complete " + c for c in cmds])
    for c, want in cmds.items():
        got = sorted(l for l in out.splitlines() if l.startswith(c.rsplit(" ", 1)[0] + " ")
                     and not l.startswith("complete"))
        got = [l for l in got if l.startswith(c.rstrip("-").rstrip()) and
               l[len(c.rsplit(" ", 1)[0]) + 1:].startswith(c.rsplit(" ", 1)[1])]
        assert got == sorted(want), (c, got, out)
