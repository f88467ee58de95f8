/*
 * futex.c - futex(2) waits a program makes itself, through glibc's
 * syscall(): C++20's std::atomic<T>::wait, std::counting_semaphore,
 * std::latch and std::barrier do so from code inlined into the program
 * (libstdc++'s bits/atomic_wait.h).  Made by a green thread, such a wait
 * would stop the kernel thread, and with it every green thread, the one
 * that would have woken it too.  Here a green thread parks instead, on a
 * queue kept per futex word, and a wake takes threads off that queue.
 *
 * WHAT IS KEPT of futex(2): FUTEX_WAIT (relative timeout) and
 * FUTEX_WAIT_BITSET (absolute, CLOCK_MONOTONIC unless
 * FUTEX_CLOCK_REALTIME) compare the word and park, or fail with EAGAIN
 * as the kernel does; FUTEX_WAKE and FUTEX_WAKE_BITSET wake up to N.
 * Bitsets are taken as "any": a wake may reach a waiter of another
 * bitset, which futex users must bear anyway (spurious wake-ups).  A wake
 * is also passed to the kernel, for waiters that are kernel threads (made
 * outside gt), and the two counts are added.  Every other operation
 * (requeue, wake-op, priority inheritance) goes to the kernel unchanged:
 * no library of the C++ standard uses them from program code.
 *
 * NOT KEPT: a wake from another process.  A futex in shared memory that
 * another process wakes (through the kernel) does not wake a green
 * waiter here.  The private flag cannot tell such a futex apart: Debian's
 * libstdc++ 12 is built without it (_GLIBCXX_HAVE_LINUX_FUTEX_PRIVATE),
 * so its waits are all "shared", and looking at the word now and then
 * instead would restart the wait readers show.
 *
 * Readers see such a waiter as a condition wait (GT_WAIT_COND) whose
 * object is the futex word's address, with no mutex.  One kernel thread
 * and cooperative scheduling make the word's test and the park one step:
 * no other green thread runs between them.
 */
#include <errno.h>
#include <linux/futex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "pthread_gt.h"
#include "sync_common.h"

#define FP __builtin_frame_address(0)

/* A futex word with green threads parked on it. */
struct word {
    const uint32_t *addr;
    struct gt__waitq waiters;
    unsigned parked;        /* threads on waiters, and those just woken
                             * that have not left word yet */
    struct word *next;
};

#define BUCKETS 256 /* a power of two */
static struct word *table[BUCKETS];

static struct word **bucket(const uint32_t *addr)
{
    uintptr_t a = (uintptr_t)addr >> 2;
    return &table[(a ^ (a >> 8) ^ (a >> 16)) & (BUCKETS - 1)];
}

static struct word *find(const uint32_t *addr)
{
    for (struct word *w = *bucket(addr); w; w = w->next)
        if (w->addr == addr)
            return w;
    return NULL;
}

/* Leaves w; the last to leave frees it. */
static void leave(struct word *w)
{
    if (--w->parked)
        return;
    for (struct word **p = bucket(w->addr); *p; p = &(*p)->next)
        if (*p == w) {
            *p = w->next;
            break;
        }
    free(w);
}

/* Parks the calling green thread on ADDR while it holds VAL, until a wake
 * or TIMEOUT (relative for FUTEX_WAIT, absolute for FUTEX_WAIT_BITSET):
 * 0, or -1 and futex(2)'s errno. */
static long wait_on(const uint32_t *addr, uint32_t val, int op,
                    const struct timespec *timeout, const void *fp)
{
    if (__atomic_load_n(addr, __ATOMIC_ACQUIRE) != val) {
        errno = EAGAIN;
        return -1;
    }
    uint64_t deadline = 0;
    if (timeout) {
        int r;
        if ((op & FUTEX_CMD_MASK) == FUTEX_WAIT_BITSET) {
            clockid_t clk = op & FUTEX_CLOCK_REALTIME ? CLOCK_REALTIME
                                                      : CLOCK_MONOTONIC;
            r = gt__pts_deadline(clk, timeout, &deadline);
        } else {
            int64_t ns;
            if (gt__timespec_ns(timeout, &ns) < 0)
                return -1;
            if (ns >= 0) /* else as good as no limit */
                deadline = gt__deadline(ns ? ns : 1);
            r = 0;
        }
        if (r) {
            errno = r;
            return -1;
        }
    }
    struct word *w = find(addr);
    if (!w) {
        w = calloc(1, sizeof *w);
        if (!w) {
            errno = ENOMEM;
            return -1;
        }
        w->addr = addr;
        w->next = *bucket(addr);
        *bucket(addr) = w;
    }
    w->parked++;
    int r = gt__waitq_park(&w->waiters, fp, GT_WAIT_COND,
                           (uint64_t)(uintptr_t)addr, 0, deadline);
    leave(w);
    if (r == 0)
        return 0;
    errno = r == ETIMEDOUT ? ETIMEDOUT : EINTR;
    return -1;
}

static int wake(const uint32_t *addr, int n)
{
    struct word *w = find(addr);
    int woken = 0;
    struct gt__thread *t;
    while (w && woken < n && (t = gt__waitq_pop(&w->waiters))) {
        gt__wake(t, 0);
        woken++;
    }
    return woken;
}

GT__PUBLIC long syscall(long nr, ...)
{
    va_list ap;
    va_start(ap, nr);
    long a[6];
    for (int i = 0; i < 6; i++)
        a[i] = va_arg(ap, long);
    va_end(ap);
    if (nr == SYS_futex && gt__self()) {
        const uint32_t *addr = (const uint32_t *)a[0];
        int op = (int)a[1];
        switch (op & FUTEX_CMD_MASK) {
        case FUTEX_WAIT:
        case FUTEX_WAIT_BITSET:
            return gt__keep_frame(wait_on(addr, (uint32_t)a[2], op,
                                          (const struct timespec *)a[3], FP));
        case FUTEX_WAKE:
        case FUTEX_WAKE_BITSET: {
            int n = (int)a[2];
            int green = wake(addr, n);
            long kernel = 0;
            if (green < n)
                kernel = PT_NEXT(syscall)(nr, a[0], a[1], n - green, a[3],
                                          a[4], a[5]);
            return kernel < 0 ? green : green + kernel;
        }
        default:
            break;
        }
    }
    return PT_NEXT(syscall)(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}
