#!/bin/sh
# demo.sh - what `make demo` runs: Knot under load, watched by gt-top.
#
#   sh examples/demo.sh KNOT LOADGEN GT_TOP RUNDIR
#
# It writes a small document root into RUNDIR, starts Knot with two
# worker processes (knot -w 2) on a loopback port the kernel picks, and
# drives it with the load generator: clients that fetch back to back, slow
# readers that keep Knot's threads waiting in write, idle keep-alive
# connections, and a burst of new connections every few seconds.  On a
# terminal it then runs gt-top over both workers (gt-top -p PID1,PID2: each
# row sums the workers, P splits it by worker); otherwise it prints three
# batch snapshots of the two a second apart.  However it
# ends (gt-top quit, Ctrl-C, an error), it stops the load and then Knot,
# and waits until both are gone.
#
# Why gt-top is an ancestor of Knot's workers: gt-top reads a worker's
# memory, which needs ptrace rights over it.  Under Yama's ptrace_scope 1
# (the default on Ubuntu and others) only an ancestor has them, so Knot's
# supervisor is started by a subshell that then becomes gt-top with exec.
# This shell only starts that subshell and cleans up; it learns the pids
# from files in RUNDIR.
#
# Every failure prints one line starting with "demo:" and exits 1 (64 for
# a wrong command line).

# shellcheck disable=SC3045

if [ $# -ne 4 ]; then
    echo "usage: sh examples/demo.sh KNOT LOADGEN GT_TOP RUNDIR (or: make demo)" >&2
    exit 64
fi
KNOT=$1 LOADGEN=$2 GT_TOP=$3 RUN=$4

# The load.  Each connection costs one fd in Knot and one in the load
# generator; idle connections fill what the open-file limit leaves.
FAST=20           # keep-alive, one request after another
SLOW_MAX=100      # fetch big.bin, read 1 KiB every 100 ms (see below)
IDLE_MAX=4000     # keep-alive, one request every 5 s
BURST=500         # new connections, one request each, every BURST_EVERY s
BURST_EVERY=3
FDS_SPARE=200     # listener, logs, the file cache, stdio, in each process
KNOT_TIMEOUT=300  # see below
WORKERS=2         # knot -w: worker processes sharing the port

# Slow readers are what keeps Knot's threads in write.  big.bin is 2 MiB
# bigger than the largest send buffer Linux grows (net.ipv4.tcp_wmem), so
# Knot's writes wait whatever the buffer sizes.  Knot keeps less than
# 128 KiB unsent per connection (TCP_NOTSENT_LOWAT), so a slow reader costs
# the kernel little; their number is still capped at a quarter of the
# memory at which the kernel puts TCP under pressure (tcp_mem's middle
# value, in pages), in case another server's buffers fill.  Knot's thread
# wakes when the client's window opens, which on loopback happens one
# 64 KiB segment at a time: about 6 s at 10 KiB/s, close to Knot's default
# 10 s timeout for each wait in write, so Knot runs with -t 300 here lest
# a slow reader on a busy machine be cut.
wmem_max=$(cut -f3 /proc/sys/net/ipv4/tcp_wmem 2>/dev/null || echo 4194304)
pressure=$(($(cut -f2 /proc/sys/net/ipv4/tcp_mem 2>/dev/null || echo 65536) * $(getconf PAGESIZE)))
BIG_BYTES=$((wmem_max + (2 << 20)))
SLOW=$((pressure / 4 / BIG_BYTES))
[ "$SLOW" -gt "$SLOW_MAX" ] && SLOW=$SLOW_MAX
[ "$SLOW" -ge 1 ] || SLOW=1

fail() {
    echo "demo: $*" >&2
    exit 1
}

for prog in "$KNOT" "$LOADGEN" "$GT_TOP"; do
    [ -x "$prog" ] || fail "$prog is missing or not executable: run 'make demo', which builds it"
done

# Both programs raise their own soft limit; doing it here as well tells
# us how many connections the mix may hold.  (ulimit -n and -H are not
# POSIX, but dash, bash and busybox sh all have them: SC3045 is off.)
hard=$(ulimit -H -n)
if [ "$hard" = unlimited ]; then
    ulimit -n 1048576 2>/dev/null
else
    ulimit -n "$hard"
fi
nofile=$(ulimit -n)
IDLE=$((nofile - FDS_SPARE - FAST - SLOW - BURST))
[ "$IDLE" -gt "$IDLE_MAX" ] && IDLE=$IDLE_MAX
[ "$IDLE" -ge 100 ] || fail "the open-file limit is $nofile, too low for the demo:" \
    "raise the hard limit (ulimit -Hn, limits.conf) to at least 2000"

# ---- the document root: the other clients fetch index.html; slow readers
# fetch big.bin (see above); page.bin is there to fetch by hand. ----
rm -rf "$RUN/root" "$RUN/knot.pid" "$RUN/loadgen.pid" "$RUN/gt-top.started"
mkdir -p "$RUN/root" || fail "cannot create $RUN/root: check that its parent is writable"
printf '<!doctype html><title>knot demo</title>\n<p>Served by Knot on gt.</p>\n' \
    >"$RUN/root/index.html"
head -c 16384 /dev/urandom >"$RUN/root/page.bin"
head -c "$BIG_BYTES" /dev/urandom >"$RUN/root/big.bin"

is_running() {
    [ -n "$1" ] && kill -0 "$1" 2>/dev/null &&
        ! grep -q '^State:.*zombie' "/proc/$1/status" 2>/dev/null
}

# Sends SIGTERM, a second one after $2 tenths of a second (Knot then cuts
# the connections its graceful stop still waits for), SIGKILL after twice
# that.  The processes are not our children once gt-top has exited (they
# were its children), so this polls instead of calling wait; a zombie
# counts as gone.
stop_pid() {
    is_running "$1" || return 0
    kill -TERM "$1" 2>/dev/null
    tenths=0
    while is_running "$1"; do
        if [ "$tenths" -eq "$2" ]; then
            kill -TERM "$1" 2>/dev/null
        elif [ "$tenths" -ge $(($2 * 2)) ]; then
            echo "demo: process $1 did not stop on SIGTERM; killing it" >&2
            kill -KILL "$1" 2>/dev/null
            return 0
        fi
        sleep 0.1
        tenths=$((tenths + 1))
    done
}

# The load goes first: with no clients left Knot's graceful stop has no
# request in flight to wait for.
cleanup() {
    trap - EXIT INT TERM HUP
    stop_pid "$(cat "$RUN/loadgen.pid" 2>/dev/null)" 30
    stop_pid "$(cat "$RUN/knot.pid" 2>/dev/null)" 50
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

if [ -t 0 ] && [ -t 1 ]; then
    interactive=1
else
    interactive=0
fi

(
    "$KNOT" -w "$WORKERS" -p 0 -r "$RUN/root" -t "$KNOT_TIMEOUT" >"$RUN/knot.log" 2>&1 &
    knot=$!
    echo "$knot" >"$RUN/knot.pid"
    # Knot prints its address once it listens; connections made from then
    # on wait in its accept queues, so that line means it answers.  The
    # supervisor logs each worker's pid as it starts it.
    port=
    workers=
    tries=0
    while [ -z "$port" ] || [ "$(echo "$workers" | wc -w)" -lt "$WORKERS" ]; do
        if ! is_running "$knot"; then
            fail "Knot did not start; its log ($RUN/knot.log) says: $(cat "$RUN/knot.log")"
        fi
        [ "$tries" -ge 100 ] &&
            fail "Knot printed no address and worker pids within 10 s; see $RUN/knot.log"
        sleep 0.1
        tries=$((tries + 1))
        port=$(sed -n 's|^knot: serving .* on http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$RUN/knot.log")
        workers=$(sed -n 's|^knot: worker [0-9]* started: pid \([0-9]*\)$|\1|p' "$RUN/knot.log")
    done
    workers=$(echo "$workers" | paste -sd ' ' -)
    watched=$(echo "$workers" | tr ' ' ,)

    # A long duration: the demo stops the load itself, when it ends.
    "$LOADGEN" -p "$port" --duration 604800 --path / \
        --fast "$FAST" --slow "$SLOW" --slow-path /big.bin \
        --idle "$IDLE" --idle-interval 5 --burst "$BURST" --burst-every "$BURST_EVERY" \
        >"$RUN/loadgen.log" 2>&1 &
    loadgen=$!
    echo "$loadgen" >"$RUN/loadgen.pid"
    sleep 0.3
    is_running "$loadgen" ||
        fail "the load generator stopped at once; its log ($RUN/loadgen.log) says:" \
            "$(cat "$RUN/loadgen.log")"
    echo "demo: Knot, $WORKERS workers (pids $workers; supervisor pid $knot)," \
        "on http://127.0.0.1:$port/ serving $RUN/root;" \
        "load generator (pid $loadgen): $FAST fast clients, $SLOW slow readers," \
        "$IDLE idle keep-alive, $BURST new connections every $BURST_EVERY s"
    echo "demo: gt-top shows the $WORKERS workers as one (gt-top -p $watched);" \
        "P splits its rows by worker"

    : >"$RUN/gt-top.started"
    if [ "$interactive" = 1 ]; then
        exec "$GT_TOP" -p "$watched"
    fi
    # Without a terminal: let the connections build up, then snapshots.
    sleep 1.7
    exec "$GT_TOP" -b -n 3 -d 1 -p "$watched"
)
status=$?

# gt-top has said why it could not read Knot; the usual reason is Yama,
# which at scope 2 lets only root attach and at scope 3 no one.
if [ "$status" -eq 1 ] && [ -e "$RUN/gt-top.started" ]; then
    scope=$(cat /proc/sys/kernel/yama/ptrace_scope 2>/dev/null)
    if [ "${scope:-0}" -eq 2 ]; then
        fail "kernel.yama.ptrace_scope is 2: run 'make demo' as root," \
            "or allow it for the session with 'sudo sysctl kernel.yama.ptrace_scope=1'"
    elif [ "${scope:-0}" -eq 3 ]; then
        fail "kernel.yama.ptrace_scope is 3, which forbids reading another process" \
            "until reboot: boot with it at 1 to run the demo"
    fi
fi
[ "$status" -eq 0 ] || exit "$status"
cleanup
echo "demo: stopped the load and Knot; their logs are in $RUN"
