"""siege (Debian's package, unmodified), which runs one pthread per
simulated user, under LD_PRELOAD=libgt-pthread.so against Knot: the same
transaction counts as natively, and gt-top attached to it sees every user
parked on its own socket while the server holds the answers back.

Ground truth for the second: Knot is stopped (SIGSTOP), so the kernel
completes the users' connections into its backlog and no answer can come;
every user must then be parked on an fd that is a socket, until Knot goes
on (SIGCONT) and siege finishes every transaction.

How many users can wait on sockets at once is siege's limit, not gt's:
siege 4.0.7 (sock.c, __socket_poll) polls descriptor sock + 1 instead of
sock once a socket's number reaches FD_SETSIZE (1024), so beyond about
1,000 open sockets its users fail natively as on gt ("unable to connect
... Operation already in progress", "read error").  The parked test
therefore holds 1,000 users on their sockets; the 5,000-user run spreads
its requests with siege's own delay (-d) so that fewer than 1,000 are
open at a time, and sees all 5,000 users at once in gt-top."""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("GT_BUILD", os.path.join(HERE, "..", "..", "build"))
LIB = os.path.join(BUILD, "lib", "libgt-pthread.so")
GT_TOP = os.path.join(BUILD, "bin", "gt-top")
KNOT = os.path.join(BUILD, "examples", "knot", "knot")
SIEGE = "/usr/bin/siege"
USERS, REPS = 200, 5
PARKED_USERS = 1000  # sockets stay below FD_SETSIZE: see above
MANY_USERS, MANY_DELAY = 5000, 10


@pytest.fixture(scope="module")
def knot():
    if not os.path.exists(SIEGE):
        pytest.fail("siege missing: run tools/install-deps.sh (Debian "
                    "package siege)", pytrace=False)
    d = tempfile.mkdtemp(prefix="gt-siege-")
    root = os.path.join(d, "root")
    os.makedirs(root)
    with open(os.path.join(root, "index.html"), "w") as f:
        f.write("siege on gt\n" * 200)
    # siege's own settings: no log file, a user limit above the test's,
    # and its home (where it writes a template) the test's directory.
    rc = os.path.join(d, "siegerc")
    with open(rc, "w") as f:
        f.write("limit = 10000\nprotocol = HTTP/1.1\nconnection = close\n"
                "show-logfile = false\nlogging = false\n")
    p = subprocess.Popen([KNOT, "-p", "0", "-r", root], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    try:
        line = p.stdout.readline()
        m = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert m, line
        env = dict(os.environ, SIEGERC=rc, HOME=d)
        env.pop("LD_PRELOAD", None)
        yield p, "http://127.0.0.1:%s/" % m.group(1), env
    finally:
        p.send_signal(signal.SIGCONT)
        p.kill()
        p.wait()
        p.stdout.close()
        shutil.rmtree(d, ignore_errors=True)


def siege_argv(url, users, reps, delay=None):
    if delay is None:  # benchmark mode: no delay between requests
        return [SIEGE, "-b", "-c", str(users), "-r", str(reps), url]
    return [SIEGE, "-c", str(users), "-r", str(reps), "-d", str(delay), url]


def counts(text):
    """(transactions, failed) from siege's summary."""
    t = re.search(r"Transactions:\s+(\d+) hits", text)
    f = re.search(r"Failed transactions:\s+(\d+)", text)
    assert t and f, text
    return int(t.group(1)), int(f.group(1))


# What siege 4.0.7 prints when it polled sock + 1 (sock >= FD_SETSIZE) and
# took that descriptor's readiness for its socket's: connect is still in
# progress, or the read finds nothing yet.
FD_BUG = re.compile(r"socket: (unable to connect sock\.c:\d+: Operation "
                    r"already in progress|read error Resource temporarily "
                    r"unavailable sock\.c:\d+)")


def siege_fd_bug_lines(err):
    errors = [l for l in err.splitlines() if "error" in l]
    assert all(FD_BUG.search(l) for l in errors), errors[:20]
    return errors


def on_gt(env):
    e = dict(env, LD_PRELOAD=LIB, GT_PTHREAD_WARN_TLS="2")
    e.pop("GT_WATCHDOG_MS", None)
    return e


def assert_on_gt(stderr):
    # With GT_PTHREAD_WARN_TLS=2 the library names libc's TLS segment,
    # which it does only once it runs main on gt.
    assert any(l.startswith("gt-pthread: ") and "libc.so" in l
               for l in stderr.splitlines()), stderr


def test_same_transactions_as_native(knot):
    _, url, env = knot
    native = subprocess.run(siege_argv(url, USERS, REPS), env=env,
                            capture_output=True, text=True, timeout=120)
    assert native.returncode == 0, native.stderr
    green = subprocess.run(siege_argv(url, USERS, REPS), env=on_gt(env),
                           capture_output=True, text=True, timeout=120)
    assert green.returncode == 0, green.stderr
    assert_on_gt(green.stderr)
    want = (USERS * REPS, 0)
    assert counts(native.stdout + native.stderr) == want
    assert counts(green.stdout + green.stderr) == want


def threads_of(pid):
    r = subprocess.run([GT_TOP, "-b", "-n", "1", "--view", "threads",
                        "--format", "json", str(pid)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["threads_list"]


def on_socket(pid, t):
    if t["state"] != "parked" or t["wait_kind"] not in ("fd", "poll"):
        return False
    try:
        return os.readlink("/proc/%d/fd/%d" % (pid, t["wait_obj"])) \
            .startswith("socket:")
    except OSError:
        return False


def test_users_parked_on_their_sockets(knot):
    server, url, env = knot
    server.send_signal(signal.SIGSTOP)
    s = subprocess.Popen(siege_argv(url, PARKED_USERS, 1), env=on_gt(env),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        parked = []
        for _ in range(400):
            try:
                threads = threads_of(s.pid)
            except (AssertionError, ValueError):
                threads = []  # not started on gt yet
            parked = [t for t in threads if on_socket(s.pid, t)]
            if len(parked) >= PARKED_USERS:
                break
            time.sleep(0.05)
        # One user per socket, each its own thread and fd.
        assert len(parked) == PARKED_USERS, len(parked)
        assert len({t["wait_obj"] for t in parked}) == PARKED_USERS
    finally:
        server.send_signal(signal.SIGCONT)
    out, err = s.communicate(timeout=120)
    assert s.returncode == 0, err
    assert_on_gt(err)
    assert counts(out + err) == (PARKED_USERS, 0)


def test_5000_users_all_seen_and_all_served(knot):
    """siege -c 5000: one gt-top snapshot shows all 5,000 users at once,
    named as natively (the program's name), each either waiting out its
    delay, on its socket, not yet run, or done; every user makes its
    transaction, and none fails but by siege's own FD_SETSIZE bug (none
    at all on a quiet machine, as native siege when its descriptors stay
    below 1,024)."""
    _, url, env = knot
    s = subprocess.Popen(siege_argv(url, MANY_USERS, 1, MANY_DELAY),
                         env=on_gt(env), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        threads = []
        # Users plus siege's main thread and its signal thread.
        for _ in range(600):
            try:
                threads = threads_of(s.pid)
            except (AssertionError, ValueError):
                threads = []
            if len(threads) >= MANY_USERS + 2:
                break
            time.sleep(0.1)
        assert len(threads) == MANY_USERS + 2, len(threads)
        assert {t["name"] for t in threads} == {"siege"}
        # Besides main: the users and siege's signal thread, which waits
        # in sigwait on a descriptor that is not a socket once it has run.
        others = [t for t in threads if t["id"] != 1]
        sig = [t for t in others if t["state"] == "parked"
               and t["wait_kind"] == "fd" and not on_socket(s.pid, t)]
        assert len(sig) <= 1, sig
        for t in others:
            ok = (t in sig or t["state"] in ("runnable", "running", "exited")
                  or (t["state"] == "parked" and t["wait_kind"] == "sleep")
                  or on_socket(s.pid, t))
            assert ok, t
    finally:
        out, err = s.communicate(timeout=180)
    assert s.returncode == 0, err
    assert_on_gt(err)
    done, failed = counts(out + err)
    # Every user made its transaction: none lost, none hung.
    assert done + failed == MANY_USERS, (done, failed)
    # On a quiet machine none fails (5,000 of 5,000 by hand); on a busy one
    # more sockets stay open at once and siege's FD_SETSIZE bug (above)
    # fails some, natively too.  Any other failure is a fault.
    bug = siege_fd_bug_lines(err)
    assert failed == 0 or bug, err[-3000:]
