/*
 * interpose.c - the libc names that park a green thread.
 *
 * A program linked with libgt calls these instead of libc's: from a green
 * thread they park only the caller; from anywhere else they do what libc
 * does (the system call, with errno), including blocking on an fd the
 * runtime switched to non-blocking mode behind the program's back.
 *
 * Each function records its own frame so that the location of a park is
 * the program's call site of read(), not a line inside libgt.
 */
/* glibc's _GNU_SOURCE prototypes of accept/recvfrom take a transparent
 * union; these definitions must match the plain POSIX ones. */
#undef _GNU_SOURCE
#define _DEFAULT_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/select.h>
#include <time.h>

#include "internal.h"
#include "io.h"
#include "sys.h"

/* Linux's names that <fcntl.h> gives only with _GNU_SOURCE. */
#ifndef O_PATH
#define O_PATH 010000000
#endif
#ifndef O_TMPFILE
#define O_TMPFILE (020000000 | O_DIRECTORY)
#endif
#ifndef F_OFD_SETLKW
#define F_OFD_SETLKW 38
#endif

/* glibc's failure of a _FORTIFY_SOURCE check: a message, then abort. */
extern _Noreturn void __chk_fail(void);

#define FP __builtin_frame_address(0)
#define GT__PUBLIC __attribute__((visibility("default")))

GT__PUBLIC ssize_t read(int fd, void *buf, size_t len)
{
    struct gt__io io = {.op = GT__IO_READ, .fd = fd, .buf = buf, .len = len};
    return gt__io(&io, FP);
}

GT__PUBLIC ssize_t write(int fd, const void *buf, size_t len)
{
    struct gt__io io = {.op = GT__IO_WRITE, .fd = fd, .buf = (void *)buf,
                        .len = len};
    return gt__io(&io, FP);
}

GT__PUBLIC ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
    struct gt__io io = {.op = GT__IO_READV, .fd = fd, .buf = (void *)iov,
                        .len = (size_t)cnt};
    return gt__io(&io, FP);
}

GT__PUBLIC ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    struct gt__io io = {.op = GT__IO_WRITEV, .fd = fd, .buf = (void *)iov,
                        .len = (size_t)cnt};
    return gt__io(&io, FP);
}

GT__PUBLIC ssize_t recv(int fd, void *buf, size_t len, int flags)
{
    struct gt__io io = {.op = GT__IO_RECVFROM, .fd = fd, .buf = buf,
                        .len = len, .flags = flags};
    return gt__io(&io, FP);
}

GT__PUBLIC ssize_t recvfrom(int fd, void *buf, size_t len, int flags,
                            struct sockaddr *addr, socklen_t *addrlen)
{
    struct gt__io io = {.op = GT__IO_RECVFROM, .fd = fd, .buf = buf,
                        .len = len, .flags = flags, .addr = addr,
                        .addrlen = addrlen};
    return gt__io(&io, FP);
}

GT__PUBLIC ssize_t send(int fd, const void *buf, size_t len, int flags)
{
    struct gt__io io = {.op = GT__IO_SENDTO, .fd = fd, .buf = (void *)buf,
                        .len = len, .flags = flags};
    return gt__io(&io, FP);
}

GT__PUBLIC ssize_t sendto(int fd, const void *buf, size_t len, int flags,
                          const struct sockaddr *addr, socklen_t addrlen)
{
    struct gt__io io = {.op = GT__IO_SENDTO, .fd = fd, .buf = (void *)buf,
                        .len = len, .flags = flags,
                        .addr = (struct sockaddr *)addr, .addrlen_in = addrlen};
    return gt__io(&io, FP);
}

GT__PUBLIC ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
    struct gt__io io = {.op = GT__IO_RECVMSG, .fd = fd, .buf = msg,
                        .flags = flags};
    return gt__io(&io, FP);
}

GT__PUBLIC ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    struct gt__io io = {.op = GT__IO_SENDMSG, .fd = fd, .buf = (void *)msg,
                        .flags = flags};
    return gt__io(&io, FP);
}

GT__PUBLIC int accept(int fd, struct sockaddr *addr, socklen_t *addrlen)
{
    struct gt__io io = {.op = GT__IO_ACCEPT4, .fd = fd, .addr = addr,
                        .addrlen = addrlen};
    return (int)gt__io(&io, FP);
}

GT__PUBLIC int accept4(int fd, struct sockaddr *addr, socklen_t *addrlen,
                       int flags)
{
    struct gt__io io = {.op = GT__IO_ACCEPT4, .fd = fd, .addr = addr,
                        .addrlen = addrlen, .flags = flags};
    return (int)gt__io(&io, FP);
}

GT__PUBLIC ssize_t sendfile(int out, int in, off_t *offset, size_t len)
{
    struct gt__io io = {.op = GT__IO_SENDFILE, .fd = out, .in_fd = in,
                        .offset = offset, .len = len};
    return gt__io(&io, FP);
}

GT__PUBLIC ssize_t sendfile64(int out, int in, off_t *offset, size_t len)
{
    struct gt__io io = {.op = GT__IO_SENDFILE, .fd = out, .in_fd = in,
                        .offset = offset, .len = len};
    return gt__io(&io, FP);
}

/* open and openat: only a FIFO can keep an open waiting (for the other
 * end), so only a FIFO goes to filewait.c; O_CREAT and O_TMPFILE are
 * the flags with a mode, as in libc. */
static int open_at(int dirfd, const char *path, int flags, mode_t mode,
                   const void *fp)
{
    if (gt__self() && !(flags & (O_NONBLOCK | O_PATH)) &&
        (flags & O_ACCMODE) != O_RDWR) {
        struct stat st;
        if (fstatat(dirfd, path, &st, 0) == 0 && S_ISFIFO(st.st_mode))
            return gt__open_fifo(dirfd, path, flags, mode, fp);
    }
    return (int)syscall(SYS_openat, dirfd, path, flags, mode);
}

#define OPEN_MODE(flags, mode)                                              \
    do {                                                                    \
        if ((flags) & O_CREAT || ((flags) & O_TMPFILE) == O_TMPFILE) {      \
            va_list ap;                                                     \
            va_start(ap, flags);                                            \
            mode = va_arg(ap, mode_t);                                      \
            va_end(ap);                                                     \
        }                                                                   \
    } while (0)

GT__PUBLIC int open(const char *path, int flags, ...)
{
    mode_t mode = 0;
    OPEN_MODE(flags, mode);
    return gt__keep_frame(open_at(AT_FDCWD, path, flags, mode, FP));
}

GT__PUBLIC int open64(const char *path, int flags, ...)
{
    mode_t mode = 0;
    OPEN_MODE(flags, mode);
    return gt__keep_frame(open_at(AT_FDCWD, path, flags, mode, FP));
}

GT__PUBLIC int openat(int dirfd, const char *path, int flags, ...)
{
    mode_t mode = 0;
    OPEN_MODE(flags, mode);
    return gt__keep_frame(open_at(dirfd, path, flags, mode, FP));
}

GT__PUBLIC int openat64(int dirfd, const char *path, int flags, ...)
{
    mode_t mode = 0;
    OPEN_MODE(flags, mode);
    return gt__keep_frame(open_at(dirfd, path, flags, mode, FP));
}

/* What _FORTIFY_SOURCE makes of a two-argument open with flags the
 * compiler cannot see: no mode, so O_CREAT and O_TMPFILE are refused
 * (glibc aborts there too). */
static int open_2(int dirfd, const char *path, int flags, const void *fp)
{
    if (flags & O_CREAT || (flags & O_TMPFILE) == O_TMPFILE)
        __chk_fail();
    return open_at(dirfd, path, flags, 0, fp);
}

GT__PUBLIC int __open_2(const char *path, int flags)
{
    return gt__keep_frame(open_2(AT_FDCWD, path, flags, FP));
}

GT__PUBLIC int __open64_2(const char *path, int flags)
{
    return gt__keep_frame(open_2(AT_FDCWD, path, flags, FP));
}

GT__PUBLIC int __openat_2(int dirfd, const char *path, int flags)
{
    return gt__keep_frame(open_2(dirfd, path, flags, FP));
}

GT__PUBLIC int __openat64_2(int dirfd, const char *path, int flags)
{
    return gt__keep_frame(open_2(dirfd, path, flags, FP));
}

GT__PUBLIC int flock(int fd, int op)
{
    if (gt__self() && !(op & LOCK_NB) && (op & (LOCK_SH | LOCK_EX)))
        return gt__keep_frame(gt__lock_wait(fd, -1, op, FP));
    return (int)syscall(SYS_flock, fd, op);
}

GT__PUBLIC int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    return gt__keep_frame(gt__connect(fd, addr, len, FP));
}

/* poll and __poll_chk: FP is the frame of the public name the program
 * called, where the wait is published (that name keeps its frame with
 * gt__keep_frame). */
static int poll_at(struct pollfd *fds, nfds_t n, int timeout_ms,
                   const void *fp)
{
    if (!gt__self())
        return sys_poll(fds, n, timeout_ms);
    return gt__poll(fds, n, timeout_ms < 0 ? -1 : (int64_t)timeout_ms * 1000000,
                    fp);
}

GT__PUBLIC int poll(struct pollfd *fds, nfds_t n, int timeout_ms)
{
    return gt__keep_frame(poll_at(fds, n, timeout_ms, FP));
}

/* ppoll and __ppoll_chk, FP as for poll_at. */
static int ppoll_at(struct pollfd *fds, nfds_t n, const struct timespec *ts,
                    const sigset_t *mask, const void *fp)
{
    if (!gt__self()) {
        /* glibc passes a copy: the caller's timespec is const. */
        struct timespec copy, *cp = NULL;
        if (ts) {
            copy = *ts;
            cp = &copy;
        }
        return (int)syscall(SYS_ppoll, fds, n, cp, mask, SYS_SIGSET_BYTES);
    }
    int64_t ns;
    if (gt__timespec_ns(ts, &ns) < 0)
        return -1;
    return gt__poll_masked(fds, n, ns, mask, fp);
}

GT__PUBLIC int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts,
                     const sigset_t *mask)
{
    return gt__keep_frame(ppoll_at(fds, n, ts, mask, FP));
}

/* The kernel's pselect6 takes the mask and its size as a pair. */
static int sys_pselect(int nfds, fd_set *r, fd_set *w, fd_set *e,
                       struct timespec *ts, const sigset_t *mask)
{
    struct { const sigset_t *ss; size_t len; } m = {mask, SYS_SIGSET_BYTES};
    return (int)syscall(SYS_pselect6, nfds, r, w, e, ts, mask ? &m : NULL);
}

GT__PUBLIC int select(int nfds, fd_set *r, fd_set *w, fd_set *e,
                      struct timeval *tv)
{
    int64_t ns = -1;
    if (tv) {
        if (tv->tv_sec < 0 || tv->tv_usec < 0) {
            errno = EINVAL;
            return -1;
        }
        /* As the kernel: microseconds past a second carry over. */
        time_t sec = tv->tv_sec + tv->tv_usec / 1000000;
        long nsec = (long)(tv->tv_usec % 1000000) * 1000;
        ns = sec > INT64_MAX / 1000000000 - 1
                 ? -1 : (int64_t)sec * 1000000000 + nsec;
    }
    if (!gt__self()) {
        /* Linux's select writes back the time left: so does pselect6. */
        struct timespec ts, *tp = NULL;
        if (tv) {
            ts.tv_sec = tv->tv_sec + tv->tv_usec / 1000000;
            ts.tv_nsec = (long)(tv->tv_usec % 1000000) * 1000;
            tp = &ts;
        }
        int rc = sys_pselect(nfds, r, w, e, tp, NULL);
        if (tv) {
            tv->tv_sec = ts.tv_sec;
            tv->tv_usec = ts.tv_nsec / 1000;
        }
        return rc;
    }
    int64_t left;
    int rc = gt__select(nfds, r, w, e, ns, NULL, FP, &left);
    if (tv && ns >= 0) {
        tv->tv_sec = (time_t)(left / 1000000000);
        tv->tv_usec = (suseconds_t)(left % 1000000000 / 1000);
    }
    return gt__keep_frame(rc);
}

GT__PUBLIC int pselect(int nfds, fd_set *r, fd_set *w, fd_set *e,
                       const struct timespec *ts, const sigset_t *mask)
{
    if (!gt__self()) {
        struct timespec copy, *cp = NULL;
        if (ts) {
            copy = *ts;
            cp = &copy;
        }
        return sys_pselect(nfds, r, w, e, cp, mask);
    }
    int64_t ns;
    if (gt__timespec_ns(ts, &ns) < 0)
        return -1;
    return gt__keep_frame(gt__select(nfds, r, w, e, ns, mask, FP, NULL));
}

GT__PUBLIC int epoll_wait(int epfd, struct epoll_event *ev, int max,
                          int timeout_ms)
{
    if (!gt__self())
        return sys_epoll_pwait(epfd, ev, max, timeout_ms, NULL);
    return gt__keep_frame(gt__epoll_wait(
        epfd, ev, max, timeout_ms < 0 ? -1 : (int64_t)timeout_ms * 1000000,
        NULL, FP));
}

GT__PUBLIC int epoll_pwait(int epfd, struct epoll_event *ev, int max,
                           int timeout_ms, const sigset_t *mask)
{
    if (!gt__self())
        return sys_epoll_pwait(epfd, ev, max, timeout_ms, mask);
    return gt__keep_frame(gt__epoll_wait(
        epfd, ev, max, timeout_ms < 0 ? -1 : (int64_t)timeout_ms * 1000000,
        mask, FP));
}

GT__PUBLIC int epoll_pwait2(int epfd, struct epoll_event *ev, int max,
                            const struct timespec *ts, const sigset_t *mask)
{
    if (!gt__self())
        return sys_epoll_pwait2(epfd, ev, max, ts, mask);
    int64_t ns;
    if (gt__timespec_ns(ts, &ns) < 0)
        return -1;
    return gt__keep_frame(gt__epoll_wait(epfd, ev, max, ns, mask, FP));
}

/* ---- _FORTIFY_SOURCE's checked names ---------------------------------------
 *
 * A program built with _FORTIFY_SOURCE (as distributions build theirs)
 * calls these instead of read, recv, poll... wherever the compiler knows
 * the buffer's size: the same calls, after glibc's check of that size. */

GT__PUBLIC ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen)
{
    if (len > buflen)
        __chk_fail();
    struct gt__io io = {.op = GT__IO_READ, .fd = fd, .buf = buf, .len = len};
    return gt__io(&io, FP);
}

GT__PUBLIC ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen,
                              int flags)
{
    if (len > buflen)
        __chk_fail();
    struct gt__io io = {.op = GT__IO_RECVFROM, .fd = fd, .buf = buf,
                        .len = len, .flags = flags};
    return gt__io(&io, FP);
}

GT__PUBLIC ssize_t __recvfrom_chk(int fd, void *buf, size_t len,
                                  size_t buflen, int flags,
                                  struct sockaddr *addr, socklen_t *addrlen)
{
    if (len > buflen)
        __chk_fail();
    struct gt__io io = {.op = GT__IO_RECVFROM, .fd = fd, .buf = buf,
                        .len = len, .flags = flags, .addr = addr,
                        .addrlen = addrlen};
    return gt__io(&io, FP);
}

GT__PUBLIC int __poll_chk(struct pollfd *fds, nfds_t n, int timeout_ms,
                          size_t fdslen)
{
    if (fdslen / sizeof(*fds) < n)
        __chk_fail();
    return gt__keep_frame(poll_at(fds, n, timeout_ms, FP));
}

GT__PUBLIC int __ppoll_chk(struct pollfd *fds, nfds_t n,
                           const struct timespec *ts, const sigset_t *mask,
                           size_t fdslen)
{
    if (fdslen / sizeof(*fds) < n)
        __chk_fail();
    return gt__keep_frame(ppoll_at(fds, n, ts, mask, FP));
}

/* A sleep a signal cut short (pthread_kill of libgt-pthread): as the
 * kernel, EINTR and what was left, whatever SA_RESTART says (signal(7):
 * the sleeps are never restarted). */
static int interrupted(int64_t left, struct timespec *rem)
{
    if (rem) {
        rem->tv_sec = left / 1000000000;
        rem->tv_nsec = left % 1000000000;
    }
    errno = EINTR;
    return -1;
}

GT__PUBLIC int nanosleep(const struct timespec *req, struct timespec *rem)
{
    if (!gt__self())
        return sys_nanosleep(req, rem);
    int64_t ns;
    if (!req || gt__timespec_ns(req, &ns) < 0) {
        errno = EINVAL;
        return -1;
    }
    int64_t left = gt__sleep(FP, ns < 0 ? INT64_MAX : ns);
    if (left > 0)
        return interrupted(left, rem);
    if (rem)
        rem->tv_sec = rem->tv_nsec = 0;
    return 0;
}

/* clock_nanosleep returns its error instead of setting errno.  The clocks
 * a sleep can count on park; a CPU-time clock is the kernel's business. */
GT__PUBLIC int clock_nanosleep(clockid_t clk, int flags,
                               const struct timespec *req,
                               struct timespec *rem)
{
    bool wall = clk == CLOCK_REALTIME || clk == CLOCK_MONOTONIC ||
                clk == CLOCK_BOOTTIME || clk == CLOCK_TAI;
    if (!gt__self() || !wall) {
        long r = syscall(SYS_clock_nanosleep, clk, flags, req, rem);
        return r < 0 ? errno : 0;
    }
    if (!req || req->tv_nsec < 0 || req->tv_nsec >= 1000000000 ||
        req->tv_sec < 0)
        return EINVAL;
    int64_t ns;
    if (flags & TIMER_ABSTIME) {
        struct timespec now;
        clock_gettime(clk, &now);
        ns = (int64_t)(req->tv_sec - now.tv_sec) * 1000000000 +
             (req->tv_nsec - now.tv_nsec);
        if (ns <= 0)
            return 0;
    } else {
        if (gt__timespec_ns(req, &ns) < 0 || ns < 0)
            ns = INT64_MAX; /* checked above: beyond 292 years */
        if (rem)
            rem->tv_sec = rem->tv_nsec = 0;
    }
    int64_t left = gt__sleep(FP, ns);
    if (left > 0) {
        int saved = errno;
        interrupted(left, flags & TIMER_ABSTIME ? NULL : rem);
        errno = saved; /* clock_nanosleep returns its error */
        return EINTR;
    }
    return 0;
}

GT__PUBLIC int usleep(useconds_t us)
{
    if (!gt__self()) {
        struct timespec ts = {us / 1000000, (long)(us % 1000000) * 1000};
        return sys_nanosleep(&ts, NULL);
    }
    if (gt__sleep(FP, (int64_t)us * 1000) > 0) {
        errno = EINTR;
        return -1;
    }
    return 0;
}

GT__PUBLIC unsigned sleep(unsigned s)
{
    if (!gt__self()) {
        struct timespec ts = {s, 0}, rem = {0, 0};
        if (sys_nanosleep(&ts, &rem) < 0)
            return (unsigned)rem.tv_sec + (rem.tv_nsec >= 500000000);
        return 0;
    }
    struct timespec rem = {0, 0};
    int64_t left = gt__sleep(FP, (int64_t)s * 1000000000);
    if (left > 0)
        interrupted(left, &rem);
    return (unsigned)rem.tv_sec + (rem.tv_nsec >= 500000000);
}

GT__PUBLIC int close(int fd) { return gt__close(fd); }

/* The calls that make pollable fds say whether the program wants them
 * non-blocking: kept (fd.c: the intent), so that the flag the runtime
 * finds later on the shared description cannot be taken for the
 * program's.  A pre-forking server makes its listening socket here and
 * its children inherit what the runtime knows with the memory. */
static int made(int fd, bool nonblock)
{
    if (fd >= 0) {
        gt__fd_forget(fd); /* a number closed behind libgt's back */
        gt__fd_intent(fd, nonblock);
    }
    return fd;
}

GT__PUBLIC int socket(int domain, int type, int protocol)
{
    return made((int)syscall(SYS_socket, domain, type, protocol),
                type & SOCK_NONBLOCK);
}

GT__PUBLIC int socketpair(int domain, int type, int protocol, int sv[2])
{
    int r = (int)syscall(SYS_socketpair, domain, type, protocol, sv);
    if (r == 0) {
        made(sv[0], type & SOCK_NONBLOCK);
        made(sv[1], type & SOCK_NONBLOCK);
    }
    return r;
}

int pipe2(int fds[2], int flags); /* <unistd.h> has it with _GNU_SOURCE */

GT__PUBLIC int pipe2(int fds[2], int flags)
{
    int r = (int)syscall(SYS_pipe2, fds, flags);
    if (r == 0) {
        made(fds[0], flags & O_NONBLOCK);
        made(fds[1], flags & O_NONBLOCK);
    }
    return r;
}

GT__PUBLIC int pipe(int fds[2]) { return pipe2(fds, 0); }

GT__PUBLIC int dup(int fd)
{
    return gt__dup_result(fd, (int)syscall(SYS_dup, fd));
}

GT__PUBLIC int dup2(int fd, int newfd)
{
    if (fd == newfd) /* dup2 to itself only checks fd */
        return sys_fcntl(fd, F_GETFD, 0) < 0 ? -1 : newfd;
    return gt__dup_result(fd, (int)syscall(SYS_dup3, fd, newfd, 0));
}

GT__PUBLIC int dup3(int fd, int newfd, int flags)
{
    return gt__dup_result(fd, (int)syscall(SYS_dup3, fd, newfd, flags));
}

/* ioctl(FIONBIO) is the other way to set O_NONBLOCK: remember it as the
 * program's choice and keep the fd non-blocking underneath. */
GT__PUBLIC int ioctl(int fd, unsigned long req, ...)
{
    va_list ap;
    va_start(ap, req);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    struct gt__fdent *e = gt__fd_get(fd);
    if (req == FIONBIO && arg && (!e || e->kind == GT__FD_UNKNOWN)) {
        int r = (int)syscall(SYS_ioctl, fd, req, arg);
        if (r == 0) /* not prepared yet: what it asks is its own */
            gt__fd_intent(fd, *(const int *)arg != 0);
        return r;
    }
    if (req == FIONBIO && e && e->kind == GT__FD_NONBLOCK && arg) {
        int on = *(const int *)arg;
        int fl = sys_fcntl(fd, F_GETFL, 0);
        if (fl < 0 || sys_fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
            return -1;
        e->user_nonblock = on != 0;
        e->we_set = !on;
        return 0;
    }
    return (int)syscall(SYS_ioctl, fd, req, arg);
}

/* fcntl: the program sees its own O_NONBLOCK, never the runtime's. */
static int fcntl_view(int fd, int cmd, long arg, const void *fp)
{
    if ((cmd == F_SETLKW || cmd == F_OFD_SETLKW) && gt__self())
        return gt__lock_wait(fd, cmd, arg, fp);
    if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)
        return gt__dup_result(fd, sys_fcntl(fd, cmd, arg));
    struct gt__fdent *e = gt__fd_get(fd);
    if (e && e->kind == GT__FD_NONBLOCK) {
        if (cmd == F_GETFL) {
            int fl = sys_fcntl(fd, F_GETFL, 0);
            if (fl >= 0 && !e->user_nonblock)
                fl &= ~O_NONBLOCK;
            return fl;
        }
        if (cmd == F_SETFL) {
            int r = sys_fcntl(fd, F_SETFL, arg | O_NONBLOCK);
            if (r == 0) {
                e->user_nonblock = arg & O_NONBLOCK;
                e->we_set = !e->user_nonblock;
            }
            return r;
        }
    }
    if (!e || e->kind == GT__FD_UNKNOWN) {
        /* Not prepared yet: the program's flags are its own; a flag set
         * on the description by another process's runtime is not. */
        if (cmd == F_GETFL) {
            int fl = sys_fcntl(fd, F_GETFL, 0);
            if (fl >= 0 && e && e->intent == GT__FD_INTENT_BLOCK)
                fl &= ~O_NONBLOCK;
            return fl;
        }
        if (cmd == F_SETFL) {
            int r = sys_fcntl(fd, F_SETFL, arg);
            if (r == 0)
                gt__fd_intent(fd, arg & O_NONBLOCK);
            return r;
        }
    }
    return sys_fcntl(fd, cmd, arg);
}

GT__PUBLIC int fcntl(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    long arg = va_arg(ap, long); /* every fcntl argument fits a long */
    va_end(ap);
    return gt__keep_frame(fcntl_view(fd, cmd, arg, FP));
}

GT__PUBLIC int fcntl64(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    long arg = va_arg(ap, long);
    va_end(ap);
    return gt__keep_frame(fcntl_view(fd, cmd, arg, FP));
}
