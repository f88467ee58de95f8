/*
 * pthread_gt.h - the internals of libgt-pthread.so shared by its files.
 *
 * A pthread is a green thread plus a struct gt__pthread (its "block"):
 * what POSIX keeps per thread that gt does not (start routine, return
 * value, detach state, key values, cleanup handlers).  The block is the
 * green thread's fn_arg, so a thread finds its own in two loads; other
 * threads find it by pthread_t in a hash table (thread.c).
 *
 * pthread_t is the green thread's id, the number every reader shows:
 * unique for the life of the process (ids are never reused), so a stale
 * pthread_t is ESRCH, never another thread.  Main is 1.
 *
 * OUTSIDE A GREEN THREAD (the kernel thread before main starts, the
 * runtime's own helper threads such as the watchdog, any thread made with
 * clone) every name falls back to glibc's, found with dlsym(RTLD_NEXT),
 * except where start.c says otherwise for the time before main (threads
 * created by constructors are queued).  This is also how the runtime's own
 * calls reach glibc: the watchdog is created, signalled and joined from
 * gt_main's scheduler context or from its own kernel thread, neither of
 * which is a green thread.
 */
#ifndef GT_PTHREAD_GT_H
#define GT_PTHREAD_GT_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"

#define GT__PUBLIC __attribute__((visibility("default")))

/* glibc's definition of NAME, the one this library's NAME hides; resolved
 * once per call site, aborting with one line if it cannot be found. */
void *gt__pt_next(const char *name) GT__HIDDEN;
#define PT_NEXT(fn)                                                        \
    ({                                                                     \
        static __typeof__(&fn) next_;                                      \
        if (GT__UNLIKELY(!next_))                                          \
            next_ = (__typeof__(&fn))gt__pt_next(#fn);                     \
        next_;                                                             \
    })

/* Where the process is in its life (start.c). */
enum gt__pt_phase {
    GT__PT_BEFORE,  /* constructors: pthread_create queues */
    GT__PT_RUNNING, /* gt_main runs the program's main */
    GT__PT_AFTER,   /* gt_main returned: glibc's names only */
};
extern enum gt__pt_phase gt__pt_phase GT__HIDDEN;
/* Set on the kernel thread that runs gt_main, the one that owns the
 * library's tables. */
extern __thread bool gt__pt_on_runtime_thread GT__HIDDEN;

#define PT_NAME_MAX 16 /* Linux's TASK_COMM_LEN: setname_np's limit */

/* Key values of one thread: pages of PT_KEY_PAGE slots, allocated at the
 * first set in them, so a thread that uses no key costs nothing. */
#define PT_KEY_PAGE 32
#define PT_KEY_PAGES (PTHREAD_KEYS_MAX / PT_KEY_PAGE)
struct gt__pt_value {
    void *val;
    uint64_t seq; /* the key's seq when set: a deleted key reads NULL */
};
struct gt__pt_specific {
    struct gt__pt_value *page[PT_KEY_PAGES];
};

struct gt__pthread {
    uint64_t id;                 /* pthread_t, the green thread's id */
    gt_t h;                      /* its handle (rec valid until FREE) */
    void *(*start)(void *);
    void *arg;
    void *retval;                /* pthread_exit's or start's return */
    struct gt__pthread *hnext;   /* hash chain (thread.c) */
    struct gt__pthread *qnext;   /* queue of threads made before main */
    size_t stack_size;           /* asked for, clamped: usable bytes */
    bool detached;
    bool exited;
    bool is_main;
    bool cancel_disabled;        /* pthread_setcancelstate's record */
    bool cancel_async;           /* pthread_setcanceltype's record */
    char name[PT_NAME_MAX];      /* getname_np until setname_np: the
                                  * creator's name (Linux: inherited) */
    void *cleanup;               /* innermost __pthread_unwind_buf_t */
    struct gt__pt_specific spec; /* key values */
};

/* The calling green thread's block; NULL outside one (or in a green
 * thread libgt-pthread did not make: gt_spawn's, which has none). */
struct gt__pthread *gt__pt_self(void) GT__HIDDEN;
/* The block of pthread_t th, NULL if none (joined, never existed), or if
 * the caller is a kernel thread of its own while green threads run. */
struct gt__pthread *gt__pt_find(pthread_t th) GT__HIDDEN;

/* start.c: green thread 1, which runs main. */
void gt__pt_main_thread(void *unused) GT__HIDDEN;
/* thread.c: main's block, and the start of the threads made before main
 * (green thread 1 calls it first). */
extern struct gt__pthread gt__pt_main GT__HIDDEN;
void gt__pt_start_queued(void) GT__HIDDEN;
/* Runs key destructors (key.c) and frees the value pages. */
void gt__pt_keys_exit(struct gt__pt_specific *s) GT__HIDDEN;
/* Values set outside green threads in this kernel thread (key.c): main
 * takes over those set before it started. */
void gt__pt_keys_adopt(struct gt__pt_specific *to) GT__HIDDEN;

/* One line on stderr, the first time only (per flag). */
void gt__pt_note_once(bool *done, const char *msg) GT__HIDDEN;

#endif /* GT_PTHREAD_GT_H */
