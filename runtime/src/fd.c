/*
 * fd.c - what the runtime knows about each file descriptor.
 *
 * Parking I/O needs non-blocking fds, but programs hand us blocking ones,
 * and the interposed libc names must keep libc's semantics.  So the first
 * time a green thread uses an fd, the runtime looks at it once:
 *   socket, pipe,     -> O_NONBLOCK on (remembering whether the program
 *   eventfd and other    had asked for it: only then does it see EAGAIN;
 *   anonymous inodes     the interposed fcntl shows the program its own
 *                        flags; what it asked is known from the call that
 *                        made the fd when the runtime saw it, else read
 *                        from the flag);
 *   tty, char device  -> flags untouched (the description is shared with
 *                        other processes, e.g. the shell): wait for
 *                        readiness, then call;
 *   regular file, dir -> called straight (epoll cannot wait on them).
 * close() through libgt forgets the fd; gt_main restores the flags it
 * changed before it returns.
 *
 * The table is two-level so entries never move: fd waiters link into them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "internal.h"
#include "sys.h"

#define FDS_PER_CHUNK 1024
#define FD_CHUNKS 4096 /* 4M fds */

static struct gt__fdent *_Atomic chunks[FD_CHUNKS];

struct gt__fdent *gt__fd_get(int fd)
{
    if (fd < 0 || fd >= FDS_PER_CHUNK * FD_CHUNKS)
        return NULL;
    struct gt__fdent *c = atomic_load_explicit(&chunks[fd / FDS_PER_CHUNK],
                                               memory_order_acquire);
    return c ? &c[fd % FDS_PER_CHUNK] : NULL;
}

static struct gt__fdent *fd_get_alloc(int fd)
{
    struct gt__fdent *e = gt__fd_get(fd);
    if (e || fd < 0 || fd >= FDS_PER_CHUNK * FD_CHUNKS)
        return e;
    struct gt__fdent *c = calloc(FDS_PER_CHUNK, sizeof(*c));
    if (!c)
        return NULL;
    struct gt__fdent *expected = NULL;
    if (!atomic_compare_exchange_strong(&chunks[fd / FDS_PER_CHUNK],
                                        &expected, c)) {
        free(c);
        c = expected;
    }
    return &c[fd % FDS_PER_CHUNK];
}

struct gt__fdent *gt__fd_prepare(int fd)
{
    struct gt__fdent *e = fd_get_alloc(fd);
    if (!e || e->kind != GT__FD_UNKNOWN)
        return e;
    struct stat st;
    if (fstat(fd, &st) < 0)
        return NULL; /* the call itself will report EBADF */
    /* eventfd, signalfd, timerfd, inotify... are anonymous inodes: no
     * file type at all, pollable, and private to this process. */
    bool anon = (st.st_mode & S_IFMT) == 0;
    if (S_ISSOCK(st.st_mode) || S_ISFIFO(st.st_mode) || anon) {
        int fl = sys_fcntl(fd, F_GETFL, 0);
        if (fl < 0)
            return NULL;
        /* The flag found is the program's only when the runtime saw
         * nothing of the fd: a sibling's runtime (fork shares the
         * description) may have set it on a socket its program left
         * blocking, and so may this process's, for an fd closed behind
         * its back and reopened. */
        e->user_nonblock = e->intent ? e->intent == GT__FD_INTENT_NONBLOCK
                                     : (fl & O_NONBLOCK) != 0;
        if (!(fl & O_NONBLOCK) &&
            sys_fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
            return NULL;
        e->we_set = !e->user_nonblock;
        e->kind = GT__FD_NONBLOCK;
        e->socket = S_ISSOCK(st.st_mode);
    } else if (S_ISCHR(st.st_mode)) {
        int fl = sys_fcntl(fd, F_GETFL, 0);
        e->user_nonblock = fl >= 0 && (fl & O_NONBLOCK);
        e->kind = GT__FD_SHARED;
    } else {
        e->kind = GT__FD_FILE;
    }
    return e;
}

void gt__fd_forget(int fd)
{
    struct gt__fdent *e = gt__fd_get(fd);
    if (!e)
        return;
    e->kind = GT__FD_UNKNOWN;
    e->user_nonblock = e->we_set = e->registered = e->inherited = false;
    e->socket = e->hung_up = false;
    e->stream = GT__FD_STREAM_UNASKED;
    e->intent = GT__FD_INTENT_UNKNOWN;
}

void gt__fd_intent(int fd, bool nonblock)
{
    struct gt__fdent *e = fd_get_alloc(fd);
    if (!e)
        return;
    e->intent = nonblock ? GT__FD_INTENT_NONBLOCK : GT__FD_INTENT_BLOCK;
}

void gt__fd_share(int newfd, const struct gt__fdent *from)
{
    if (!from || (from->kind == GT__FD_UNKNOWN && !from->intent))
        return;
    struct gt__fdent *e = fd_get_alloc(newfd);
    if (!e)
        return;
    e->intent = from->intent;
    e->kind = from->kind;
    e->user_nonblock = from->user_nonblock;
    e->socket = from->socket;
    e->stream = from->stream;
    e->hung_up = from->hung_up;
    /* One description, one flag: restore it through one fd only. */
    e->we_set = false;
}

void gt__fd_restore_all(void)
{
    for (int c = 0; c < FD_CHUNKS; c++) {
        struct gt__fdent *ch = atomic_load(&chunks[c]);
        if (!ch)
            continue;
        for (int i = 0; i < FDS_PER_CHUNK; i++) {
            struct gt__fdent *e = &ch[i];
            int fd = c * FDS_PER_CHUNK + i;
            if (e->inherited) { /* the parent's flag, in use there */
                e->registered = false;
                continue;
            }
            if (e->we_set) {
                int fl = sys_fcntl(fd, F_GETFL, 0);
                if (fl >= 0)
                    sys_fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
            }
            e->kind = GT__FD_UNKNOWN;
            e->user_nonblock = e->we_set = e->registered = false;
            e->socket = e->hung_up = false;
            e->stream = GT__FD_STREAM_UNASKED;
        }
    }
}

void gt__fd_after_fork(void)
{
    for (int c = 0; c < FD_CHUNKS; c++) {
        struct gt__fdent *ch = atomic_load(&chunks[c]);
        for (int i = 0; ch && i < FDS_PER_CHUNK; i++) {
            ch[i].registered = false;
            ch[i].waiters = ch[i].waiters_tail = NULL;
            ch[i].inherited = ch[i].we_set;
        }
    }
}
