/*
 * filewait.c - calls on files that wait for another party, for a green
 * thread: the open of a FIFO (it waits for the other end) and file locks
 * (flock, fcntl F_SETLKW and F_OFD_SETLKW wait for the holder).
 *
 * epoll can tell neither when a FIFO's other end opens nor when a lock
 * is released, and the blocking call would stop every green thread for
 * as long as the other party takes.  So each is made without waiting
 * (O_NONBLOCK, LOCK_NB, F_SETLK) and, while it cannot succeed yet, the
 * thread parks between tries: for BACKOFF_MIN_NS at first, doubling up
 * to BACKOFF_MAX_NS.  A reader sees the thread parked at the program's
 * call site (GT_WAIT_SLEEP, wait_obj the fd for a lock), for as long as
 * the wait lasts, and the location's counts and wait times count each
 * try; no other green thread waits meanwhile.
 *
 * What differs from the kernel's waiting: the lock or the other end is
 * taken up to BACKOFF_MAX_NS after it becomes free, and not in the order
 * of arrival (another process may take a lock first); F_SETLKW detects no
 * deadlock (no EDEADLK: the wait goes on); and no signal interrupts the
 * wait (no EINTR).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>

#include "internal.h"
#include "io.h"
#include "sys.h"

#define BACKOFF_MIN_NS (1000000LL)
#define BACKOFF_MAX_NS (32 * 1000000LL)

/* Parks for *backoff ns at the program's call site, then doubles it. */
static void park_backoff(const void *fp, uint64_t obj, int64_t *backoff)
{
    gt__park(fp, GT_WAIT_SLEEP, obj, (uint64_t)*backoff,
             gt__deadline(*backoff));
    if (*backoff < BACKOFF_MAX_NS)
        *backoff *= 2;
}

int gt__lock_wait(int fd, int cmd, long arg, const void *fp)
{
    int64_t backoff = BACKOFF_MIN_NS;
    int try_cmd = cmd == F_SETLKW ? F_SETLK : F_OFD_SETLK;
    for (;;) {
        int r = cmd < 0 ? (int)syscall(SYS_flock, fd, (int)arg | LOCK_NB)
                        : sys_fcntl(fd, try_cmd, arg);
        /* flock says EWOULDBLOCK, fcntl EACCES or EAGAIN: held by another */
        if (r == 0 || (errno != EWOULDBLOCK && errno != EAGAIN &&
                       (cmd < 0 || errno != EACCES)))
            return r;
        park_backoff(fp, (uint64_t)fd, &backoff);
    }
}

/* A FIFO opened for reading without waiting: parks until it has a writer,
 * as a blocking open would have.  0, or -1 and errno. */
static int wait_writer(int fd, const void *fp)
{
    /* tee(2) into a scratch pipe tells without taking any data: 0 when
     * the FIFO is empty and has no writer, EAGAIN when it is empty with a
     * writer, a byte (copied, not consumed) when there is data. */
    int scratch[2];
    if (syscall(SYS_pipe2, scratch, O_NONBLOCK | O_CLOEXEC) < 0)
        return -1;
    int64_t backoff = BACKOFF_MIN_NS;
    int rc = 0;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        /* Data, or a hang-up: a writer came (and went) since the open. */
        if (sys_poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)))
            break;
        long t = syscall(SYS_tee, fd, scratch[1], 1, SPLICE_F_NONBLOCK);
        if (t != 0)
            break; /* data, a writer (EAGAIN), or no FIFO after all */
        /* No writer yet.  Its data or its close would wake this wait; its
         * open alone does not, hence the timeout. */
        if (gt__poll(&p, 1, backoff, fp) < 0) {
            rc = -1;
            break;
        }
        if (backoff < BACKOFF_MAX_NS)
            backoff *= 2;
    }
    int e = errno;
    sys_close(scratch[0]);
    sys_close(scratch[1]);
    errno = e;
    return rc;
}

int gt__open_fifo(int dirfd, const char *path, int flags, mode_t mode,
                  const void *fp)
{
    bool reader = (flags & O_ACCMODE) == O_RDONLY;
    int64_t backoff = BACKOFF_MIN_NS;
    int fd;
    for (;;) {
        /* A reader's open succeeds at once; a writer's fails with ENXIO
         * until there is a reader. */
        fd = (int)syscall(SYS_openat, dirfd, path, flags | O_NONBLOCK, mode);
        if (fd >= 0)
            break;
        if (reader || errno != ENXIO)
            return -1;
        park_backoff(fp, 0, &backoff);
    }
    if (reader && wait_writer(fd, fp) < 0) {
        int e = errno;
        gt__fd_forget(fd);
        sys_close(fd);
        errno = e;
        return -1;
    }
    /* The program asked for a blocking fd: it gets one, and the runtime
     * learns it afresh at its first use (it saw O_NONBLOCK as the
     * program's own while the reader waited). */
    int fl = sys_fcntl(fd, F_GETFL, 0);
    if (fl >= 0)
        sys_fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    gt__fd_forget(fd);
    return fd;
}
