/*
 * io.h - the one shape of every parking I/O call (io.c), shared by the
 * gt_* functions and the interposed libc names.
 */
#ifndef GT_IO_H
#define GT_IO_H

#include <poll.h>
#include <signal.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

enum gt__io_op {
    GT__IO_READ, GT__IO_WRITE, GT__IO_READV, GT__IO_WRITEV,
    GT__IO_RECVFROM, GT__IO_SENDTO, GT__IO_ACCEPT4,
    GT__IO_RECVMSG, GT__IO_SENDMSG, GT__IO_SENDFILE,
};

struct gt__io {
    enum gt__io_op op;
    int fd;
    void *buf;                 /* or const struct iovec *, struct msghdr * */
    size_t len;                /* or iovcnt */
    int flags;
    struct sockaddr *addr;     /* recvfrom/accept4 out, sendto in */
    socklen_t *addrlen;        /* recvfrom/accept4 */
    socklen_t addrlen_in;      /* sendto */
    int in_fd;                 /* sendfile: fd is the out fd */
    off_t *offset;             /* sendfile */
};

/* Runs the call; in a green thread, parks on EAGAIN until the fd is ready
 * (unless the program asked for O_NONBLOCK).  Outside one, behaves as
 * libc would on that fd.  fp: frame of the public entry point. */
ssize_t gt__io(struct gt__io *io, const void *fp) GT__HIDDEN;
int gt__connect(int fd, const struct sockaddr *a, socklen_t al,
                const void *fp) GT__HIDDEN;
int gt__poll(struct pollfd *fds, nfds_t n, int64_t timeout_ns,
             const void *fp) GT__HIDDEN;
int gt__close(int fd) GT__HIDDEN;

/* multiplex.c: the waits of select, pselect, ppoll and epoll_wait, for a
 * green thread.  Timeouts in ns, -1 for none; mask: the call's signal
 * mask or NULL (see multiplex.c for what it can and cannot do). */
struct epoll_event;
int gt__poll_masked(struct pollfd *fds, nfds_t n, int64_t timeout_ns,
                    const sigset_t *mask, const void *fp) GT__HIDDEN;
/* left_ns (may be NULL) gets the time left of the timeout, for select. */
int gt__select(int nfds, fd_set *rd, fd_set *wr, fd_set *ex,
               int64_t timeout_ns, const sigset_t *mask, const void *fp,
               int64_t *left_ns) GT__HIDDEN;
int gt__epoll_wait(int epfd, struct epoll_event *ev, int max,
                   int64_t timeout_ns, const sigset_t *mask,
                   const void *fp) GT__HIDDEN;
/* After dup/dup2/dup3/F_DUPFD: newfd shares fd's open file description,
 * so it shares what the runtime knows (and did) about it. */
int gt__dup_result(int fd, int newfd) GT__HIDDEN;

/* filewait.c: calls on files that wait for another process, for a
 * green thread (see there). */
int gt__open_fifo(int dirfd, const char *path, int flags, mode_t mode,
                  const void *fp) GT__HIDDEN;
int gt__lock_wait(int fd, int cmd, long arg, const void *fp) GT__HIDDEN;

#endif
