/*
 * sys.h - raw system calls for libgt's own use.
 *
 * libgt defines read, write, close, fcntl... itself (interpose.c), so its
 * internals must never call those names: in a program linked with libgt
 * they would come back to libgt.  These wrappers go to the kernel, with the
 * usual -1 + errno convention.
 */
#ifndef GT_SYS_H
#define GT_SYS_H

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static inline ssize_t sys_read(int fd, void *b, size_t n)
{ return syscall(SYS_read, fd, b, n); }
static inline ssize_t sys_write(int fd, const void *b, size_t n)
{ return syscall(SYS_write, fd, b, n); }
static inline ssize_t sys_readv(int fd, const struct iovec *v, int n)
{ return syscall(SYS_readv, fd, v, n); }
static inline ssize_t sys_writev(int fd, const struct iovec *v, int n)
{ return syscall(SYS_writev, fd, v, n); }
static inline ssize_t sys_recvfrom(int fd, void *b, size_t n, int fl,
                                   struct sockaddr *a, socklen_t *al)
{ return syscall(SYS_recvfrom, fd, b, n, fl, a, al); }
static inline ssize_t sys_sendto(int fd, const void *b, size_t n, int fl,
                                 const struct sockaddr *a, socklen_t al)
{ return syscall(SYS_sendto, fd, b, n, fl, a, al); }
static inline ssize_t sys_recvmsg(int fd, struct msghdr *m, int fl)
{ return syscall(SYS_recvmsg, fd, m, fl); }
static inline ssize_t sys_sendmsg(int fd, const struct msghdr *m, int fl)
{ return syscall(SYS_sendmsg, fd, m, fl); }
static inline int sys_accept4(int fd, struct sockaddr *a, socklen_t *al, int fl)
{ return (int)syscall(SYS_accept4, fd, a, al, fl); }
static inline int sys_connect(int fd, const struct sockaddr *a, socklen_t al)
{ return (int)syscall(SYS_connect, fd, a, al); }
static inline int sys_close(int fd) { return (int)syscall(SYS_close, fd); }
static inline int sys_fcntl(int fd, int cmd, long arg)
{ return (int)syscall(SYS_fcntl, fd, cmd, arg); }
static inline int sys_poll(struct pollfd *p, nfds_t n, int timeout_ms)
{
    struct timespec ts, *tp = NULL;
    if (timeout_ms >= 0) {
        ts.tv_sec = timeout_ms / 1000;
        ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
        tp = &ts;
    }
    return (int)syscall(SYS_ppoll, p, n, tp, NULL, (size_t)_NSIG / 8);
}
/* The signal mask as the kernel takes it: the first 8 bytes of a
 * sigset_t, its size passed alongside. */
#define SYS_SIGSET_BYTES ((size_t)_NSIG / 8)
struct epoll_event;
static inline int sys_epoll_pwait(int epfd, struct epoll_event *ev, int max,
                                  int timeout_ms, const sigset_t *mask)
{ return (int)syscall(SYS_epoll_pwait, epfd, ev, max, timeout_ms, mask,
                      SYS_SIGSET_BYTES); }
static inline int sys_epoll_pwait2(int epfd, struct epoll_event *ev, int max,
                                   const struct timespec *timeout,
                                   const sigset_t *mask)
{
#if defined(SYS_epoll_pwait2)
    return (int)syscall(SYS_epoll_pwait2, epfd, ev, max, timeout, mask,
                        SYS_SIGSET_BYTES);
#else
    (void)epfd; (void)ev; (void)max; (void)timeout; (void)mask;
    errno = ENOSYS;
    return -1;
#endif
}
static inline int sys_sigprocmask(int how, const sigset_t *set, sigset_t *old)
{ return (int)syscall(SYS_rt_sigprocmask, how, set, old, SYS_SIGSET_BYTES); }
static inline int sys_nanosleep(const struct timespec *req, struct timespec *rem)
{ return (int)syscall(SYS_nanosleep, req, rem); }

#endif /* GT_SYS_H */
