#!/bin/sh
# cross-aarch64.sh - builds libgt and the unit tests for AArch64 with
# Debian's cross compiler and runs every test under qemu-user, one qemu
# process per test.  qemu-user 7.2 on Linux 6.18 hangs in clone: fork and
# pthread_create alike (a C program that starts one pthread and joins it
# hangs too).  So each test runs in-process with -x, and the tests that
# fork or start a kernel thread fail: threads_overflow_reported, and those
# that use the watchdog helper thread or a pthread (io_eventfd_parks,
# interpose_read_parks, _read_outside_runtime, _pthread_beside_runtime,
# _errno_semantics, _poll, _fcntl_flags, _write_parks, _recvmsg_sendmsg,
# misuse_main_busy, _outside_green_thread).  misuse_spawn_enomem fails
# too: its RLIMIT_AS applies to qemu's own address space, not yet looked
# into further.  59 of 72 tests pass.  qemu 7.2 has no process_madvise (syscall
# 440), so guard pages there come from the runtime's fallback.
# Needs: gcc-aarch64-linux-gnu qemu-user, and arm64 multiarch packages
# libunwind-dev:arm64 systemtap-sdt-dev:arm64 (dpkg --add-architecture arm64).
# Usage: tests/cross-aarch64.sh [PATTERN...]
set -u
B=build/aarch64
make --no-print-directory BUILD=$B ARCH=aarch64 CC=aarch64-linux-gnu-gcc \
    EXTRA_CFLAGS="-idirafter /usr/include/aarch64-linux-gnu -idirafter /usr/include" \
    EXTRA_LDFLAGS="-L/usr/lib/aarch64-linux-gnu" $B/tests/unit/runner || exit 1
run() { timeout 120 qemu-aarch64 -L /usr/aarch64-linux-gnu "$@"; }
passed=0 failed=0
for t in $(run $B/tests/unit/runner -l "$@"); do
    if out=$(run $B/tests/unit/runner -x "$t" 2>&1); then
        echo "ok $t"; passed=$((passed + 1))
    else
        echo "FAIL $t"; echo "$out" | tail -5 | sed 's/^/    | /'; failed=$((failed + 1))
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
