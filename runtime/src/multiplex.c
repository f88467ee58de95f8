/*
 * multiplex.c - the waits on many fds beyond poll(): select, pselect,
 * ppoll, epoll_wait, epoll_pwait, epoll_pwait2, for a green thread.
 *
 * Each becomes the runtime's one parking wait on fds, gt__poll (io.c):
 *   select, pselect  their fd_sets become a pollfd array (read: POLLIN,
 *                    write: POLLOUT, except: POLLPRI), and the answer goes
 *                    back as the kernel's select gives it (a hang-up or an
 *                    error counts as readable, an error as writable);
 *   ppoll            is poll with a timespec and a signal mask;
 *   epoll_wait...    an epoll fd is itself pollable (readable while its
 *                    ready list holds an event): the thread parks on the
 *                    program's epoll fd, then takes the events with the
 *                    real epoll_wait and a zero timeout.
 *
 * The signal mask of pselect, ppoll and epoll_pwait cannot be applied
 * for the length of the wait: the kernel thread's mask is every green
 * thread's.  What programs use it for is to wait for a signal they keep
 * blocked otherwise, so a wait whose mask unblocks a signal blocked now
 * looks at the pending signals at least every SIGNAL_SLICE_NS; when one
 * of those is pending, the mask is put in place and taken away again
 * (the kernel delivers the signal in between, running its handler in
 * this thread) and the call fails with EINTR, as the kernel's would.  A
 * signal the mask would block is not held off during the wait.
 *
 * Outside a green thread each is the system call, as libc makes it.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/select.h>

#include "internal.h"
#include "io.h"
#include "sys.h"

/* How often a wait with a mask that unblocks signals looks for them. */
#define SIGNAL_SLICE_NS (10 * 1000000LL)

/* The kernel's 64 signals of a sigset_t. */
static uint64_t sig_word(const sigset_t *s)
{
    uint64_t w;
    memcpy(&w, s, sizeof(w));
    return w;
}

/* The signals mask unblocks: blocked now, and not in mask. */
static uint64_t unblocked_by(const sigset_t *mask)
{
    sigset_t cur;
    if (!mask || sys_sigprocmask(SIG_BLOCK, NULL, &cur) < 0)
        return 0;
    return sig_word(&cur) & ~sig_word(mask);
}

/* One of `which` is pending: deliver it under mask; always -1/EINTR. */
static int deliver(const sigset_t *mask)
{
    sigset_t old;
    sys_sigprocmask(SIG_SETMASK, mask, &old);
    sys_sigprocmask(SIG_SETMASK, &old, NULL);
    errno = EINTR;
    return -1;
}

static bool pending_among(uint64_t which)
{
    sigset_t p;
    if (syscall(SYS_rt_sigpending, &p, SYS_SIGSET_BYTES) < 0)
        return false;
    return (sig_word(&p) & which) != 0;
}

int gt__poll_masked(struct pollfd *fds, nfds_t n, int64_t timeout_ns,
                    const sigset_t *mask, const void *fp)
{
    uint64_t which = unblocked_by(mask);
    if (!which)
        return gt__poll(fds, n, timeout_ns, fp);
    uint64_t deadline = timeout_ns < 0 ? 0 : gt__deadline(timeout_ns);
    for (;;) {
        if (pending_among(which))
            return deliver(mask);
        int64_t slice = SIGNAL_SLICE_NS;
        if (timeout_ns >= 0) {
            uint64_t now = gt__clock_exact();
            int64_t left = now >= deadline ? 0 : (int64_t)(deadline - now);
            if (left < slice)
                slice = left;
        }
        int r = gt__poll(fds, n, slice, fp);
        if (r != 0 || (timeout_ns >= 0 && slice < SIGNAL_SLICE_NS))
            return r;
    }
}

/* ---- select -------------------------------------------------------------- */

#define WORD_BITS 64

static bool bit(const uint64_t *set, int fd)
{
    return set && (set[fd / WORD_BITS] >> (fd % WORD_BITS)) & 1;
}

int gt__select(int nfds, fd_set *rd, fd_set *wr, fd_set *ex,
               int64_t timeout_ns, const sigset_t *mask, const void *fp,
               int64_t *left_ns)
{
    if (nfds < 0) {
        errno = EINVAL;
        return -1;
    }
    /* The kernel reads nfds bits of each set, but no further than its fd
     * table reaches; no fd is open at or above RLIMIT_NOFILE, so that
     * bounds what is read of the program's sets (FD_SETSIZE bits each
     * unless it allocated bigger ones, as it must to pass more). */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)nfds)
        nfds = (int)rl.rlim_cur;
    uint64_t *sets[3] = {(uint64_t *)rd, (uint64_t *)wr, (uint64_t *)ex};
    static const short want[3] = {POLLIN, POLLOUT, POLLPRI};
    nfds_t n = 0;
    for (int fd = 0; fd < nfds; fd++)
        if (bit(sets[0], fd) || bit(sets[1], fd) || bit(sets[2], fd))
            n++;
    struct pollfd small[32], *p = small;
    if (n > 32 && !(p = calloc(n, sizeof(*p)))) {
        errno = ENOMEM;
        return -1;
    }
    n = 0;
    for (int fd = 0; fd < nfds; fd++) {
        short ev = 0;
        for (int s = 0; s < 3; s++)
            if (bit(sets[s], fd))
                ev |= want[s];
        if (ev)
            p[n++] = (struct pollfd){.fd = fd, .events = ev};
    }
    uint64_t deadline = timeout_ns < 0 ? 0 : gt__deadline(timeout_ns);
    int count;
    for (;;) {
        int r = gt__poll_masked(p, n, timeout_ns, mask, fp);
        if (r < 0) {
            count = -1;
            break;
        }
        count = 0;
        for (nfds_t i = 0; i < n; i++) {
            short re = p[i].revents;
            if (re & POLLNVAL) {
                errno = EBADF;
                count = -1;
                break;
            }
            count += ((p[i].events & POLLIN) && (re & (POLLIN | POLLHUP | POLLERR))) +
                     ((p[i].events & POLLOUT) && (re & (POLLOUT | POLLERR))) +
                     ((p[i].events & POLLPRI) && (re & POLLPRI));
        }
        if (count != 0 || r == 0)
            break;
        /* Only events select does not report (a hang-up on an fd asked
         * for writing alone): the kernel's select keeps waiting, and so
         * does this one, without spinning on the level that stays. */
        if (timeout_ns >= 0) {
            uint64_t now = gt__clock_exact();
            if (now >= deadline)
                break;
            timeout_ns = (int64_t)(deadline - now);
        }
        gt__sleep(fp, 1000000);
    }
    if (count >= 0) {
        size_t words = ((size_t)nfds + WORD_BITS - 1) / WORD_BITS;
        for (int s = 0; s < 3; s++)
            if (sets[s])
                memset(sets[s], 0, words * sizeof(uint64_t));
        for (nfds_t i = 0; count > 0 && i < n; i++) {
            short re = p[i].revents;
            int fd = p[i].fd;
            bool on[3] = {
                (p[i].events & POLLIN) && (re & (POLLIN | POLLHUP | POLLERR)),
                (p[i].events & POLLOUT) && (re & (POLLOUT | POLLERR)),
                (p[i].events & POLLPRI) && (re & POLLPRI)};
            for (int s = 0; s < 3; s++)
                if (on[s])
                    sets[s][fd / WORD_BITS] |= 1ull << (fd % WORD_BITS);
        }
    }
    if (left_ns) {
        uint64_t now = gt__clock_exact();
        *left_ns = timeout_ns < 0 || now >= deadline ? 0
                                                     : (int64_t)(deadline - now);
    }
    if (p != small)
        free(p);
    return count;
}

/* ---- epoll_wait ------------------------------------------------------------ */

int gt__epoll_wait(int epfd, struct epoll_event *ev, int max,
                   int64_t timeout_ns, const sigset_t *mask, const void *fp)
{
    uint64_t deadline = timeout_ns < 0 ? 0 : gt__deadline(timeout_ns);
    for (;;) {
        /* Events, or the kernel's error for the arguments (EBADF, EINVAL
         * for an fd that is no epoll fd or a max below 1, EFAULT). */
        int r = sys_epoll_pwait(epfd, ev, max, 0, NULL);
        if (r != 0 || timeout_ns == 0)
            return r;
        int64_t left = -1;
        if (timeout_ns > 0) {
            uint64_t now = gt__clock_exact();
            if (now >= deadline)
                return 0;
            left = (int64_t)(deadline - now);
        }
        struct pollfd p = {.fd = epfd, .events = POLLIN};
        if (gt__poll_masked(&p, 1, left, mask, fp) < 0)
            return -1;
    }
}
