/*
 * thread.c - a pthread's life: create, join, detach, exit, self, equal,
 * and the cleanup handlers pthread_exit runs.
 *
 * pthread_t is the green thread's id (see pthread_gt.h); a hash table maps
 * it to the thread's block until the thread is joined, or has exited
 * detached.  The green thread itself is gt's: its record, stack, wait
 * (a join parks as GT_WAIT_JOIN, located at the program's call site of
 * pthread_join) and exit are the runtime's, so every reader sees pthreads
 * as it sees gt threads.
 *
 * Every function returns an error number and leaves errno as it was, as
 * glibc's do.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pthread_gt.h"

#define FP __builtin_frame_address(0)

/* Main's block: green thread 1, detached in gt's terms (gt_main's first
 * thread is), so joining it is EINVAL. */
struct gt__pthread gt__pt_main = {.id = 1, .detached = true, .is_main = true};

/* ---- the table: pthread_t -> block ----------------------------------------
 * Chained, the link inside the block, so an insert never allocates except
 * to grow; a failed grow only makes chains longer. */

#define TABLE_MIN 64
static struct gt__pthread *table_first[TABLE_MIN];
static struct gt__pthread **table = table_first;
static size_t table_size = TABLE_MIN, table_count;

static size_t bucket(uint64_t id, size_t size)
{
    return (size_t)((id * 0x9e3779b97f4a7c15ull) >> 20) & (size - 1);
}

static void table_grow(void)
{
    size_t n = table_size * 2;
    struct gt__pthread **t = calloc(n, sizeof *t);
    if (!t)
        return;
    for (size_t i = 0; i < table_size; i++)
        for (struct gt__pthread *b = table[i], *next; b; b = next) {
            next = b->hnext;
            size_t k = bucket(b->id, n);
            b->hnext = t[k];
            t[k] = b;
        }
    if (table != table_first)
        free(table);
    table = t;
    table_size = n;
}

static void table_insert(struct gt__pthread *b)
{
    if (table_count >= table_size)
        table_grow();
    size_t k = bucket(b->id, table_size);
    b->hnext = table[k];
    table[k] = b;
    table_count++;
}

static void table_remove(struct gt__pthread *b)
{
    for (struct gt__pthread **p = &table[bucket(b->id, table_size)]; *p;
         p = &(*p)->hnext)
        if (*p == b) {
            *p = b->hnext;
            table_count--;
            return;
        }
}

struct gt__pthread *gt__pt_find(pthread_t th)
{
    /* The table belongs to the kernel thread that runs the green threads.
     * Another one (the watchdog signalling the scheduler, a library's
     * helper thread) must not read it while they run: a grow may free it
     * under the reader.  Its pthread_t are glibc's anyway. */
    if (GT__UNLIKELY(!gt__self()) && gt__pt_phase == GT__PT_RUNNING &&
        !gt__pt_on_runtime_thread)
        return NULL;
    uint64_t id = (uint64_t)th;
    for (struct gt__pthread *b = table[bucket(id, table_size)]; b; b = b->hnext)
        if (b->id == id)
            return b;
    return NULL;
}

static void thread_entry(void *arg);

struct gt__pthread *gt__pt_self(void)
{
    struct gt__thread *t = gt__self();
    if (!t)
        return NULL;
    if (t->fn == thread_entry)
        return t->fn_arg;
    if (t->fn == gt__pt_main_thread)
        return &gt__pt_main;
    return NULL;
}

/* ---- stack sizes ---------------------------------------------------------- */

/* glibc's default (RLIMIT_STACK, usually 8 MiB), read once: an attribute
 * whose size equals it is taken as one that set none, since glibc reports
 * its default for those. */
static size_t glibc_default_stack(void)
{
    static size_t size;
    if (!size) {
        pthread_attr_t a;
        size_t s = 8u << 20;
        if (pthread_getattr_default_np(&a) == 0) {
            pthread_attr_getstacksize(&a, &s);
            pthread_attr_destroy(&a);
        }
        size = s;
    }
    return size;
}

static size_t clamp_stack(size_t size)
{
    static bool noted;
    if (size < GT_STACK_MIN)
        return GT_STACK_MIN;
    if (size > GT_STACK_MAX) {
        gt__pt_note_once(&noted, "a stack size above gt's maximum "
                                 "(GT_STACK_MAX, 256 MiB) is clamped to it");
        return GT_STACK_MAX;
    }
    return size;
}

/* The stack a thread gets when its attribute sets none: GT_STACK_SIZE if
 * the environment gives one (the runtime's default), else glibc's. */
static size_t default_stack(void)
{
    static int from_env = -1;
    if (from_env < 0)
        from_env = getenv("GT_STACK_SIZE") != NULL;
    return from_env ? gt__stack_default() : clamp_stack(glibc_default_stack());
}

/* Reads what gt honours of attr: the stack size (0: the default) and the
 * detach state; the rest (guard size, scheduling, a stack address) is
 * accepted and not used (README.md). */
static int read_attr(const pthread_attr_t *attr, size_t *size, bool *detached)
{
    *size = 0;
    *detached = false;
    if (!attr)
        return 0;
    int ds;
    size_t s;
    if (pthread_attr_getdetachstate(attr, &ds) || pthread_attr_getstacksize(attr, &s))
        return EINVAL;
    *detached = ds == PTHREAD_CREATE_DETACHED;
    if (s != glibc_default_stack())
        *size = clamp_stack(s);
    return 0;
}

/* ---- create ---------------------------------------------------------------- */

/* The threads created before main, in creation order; they get the ids
 * 2, 3, ... as green thread 1 spawns them first thing. */
static struct gt__pthread *queue_head, *queue_tail;
static uint64_t queued;

/* The name a new thread reports until it sets one: its creator's (Linux
 * copies the creating thread's name). */
static void inherit_name(struct gt__pthread *b)
{
    struct gt__pthread *c = gt__pt_self();
    const char *n = c ? c->name : program_invocation_short_name;
    snprintf(b->name, sizeof b->name, "%s", n ? n : "");
}

static void finish(struct gt__pthread *b, void *ret);

static void thread_entry(void *arg)
{
    struct gt__pthread *b = arg;
    finish(b, b->start(b->arg));
}

/* Makes b's green thread.  site: the program's call site, shown by
 * readers as the spawn site.  0 or an error number. */
static int spawn_block(struct gt__pthread *b, uint64_t site)
{
    /* The registry gets the name too, set or inherited, so readers show
     * what pthread_getname_np and the kernel's comm would. */
    gt_attr_t ga = {b->name[0] ? b->name : NULL,
                    b->stack_size ? b->stack_size : default_stack(),
                    b->detached};
    int saved = errno;
    if (gt_spawn(&b->h, thread_entry, b, &ga) < 0) {
        int e = errno;
        errno = saved;
        return e == ENOMEM ? EAGAIN : e;
    }
    errno = saved;
    struct gt__thread *t = b->h.rec;
    /* Readers show the program's start routine, not thread_entry. */
    gt__seq_begin(&t->pub.seq);
    t->pub.entry = (uint64_t)(uintptr_t)b->start;
    t->pub.arg = (uint64_t)(uintptr_t)b->arg;
    if (site)
        t->pub.spawn_site = site;
    gt__seq_end(&t->pub.seq);
    return 0;
}

GT__PUBLIC int pthread_create(pthread_t *restrict th,
                              const pthread_attr_t *restrict attr,
                              void *(*start)(void *), void *restrict arg)
{
    bool green = gt__self() != NULL;
    if (!green && gt__pt_phase != GT__PT_BEFORE)
        return PT_NEXT(pthread_create)(th, attr, start, arg);
    size_t size;
    bool detached;
    int e = read_attr(attr, &size, &detached);
    if (e)
        return e;
    struct gt__pthread *b = calloc(1, sizeof *b);
    if (!b)
        return EAGAIN;
    b->start = start;
    b->arg = arg;
    b->stack_size = size;
    b->detached = detached;
    inherit_name(b);
    if (!green) { /* before main: queued (start.c) */
        b->id = 2 + queued++;
        if (queue_tail)
            queue_tail->qnext = b;
        else
            queue_head = b;
        queue_tail = b;
        table_insert(b);
        *th = (pthread_t)b->id;
        return 0;
    }
    e = spawn_block(b, (uint64_t)(uintptr_t)__builtin_return_address(0));
    if (e) {
        free(b);
        return e;
    }
    b->id = b->h.id;
    table_insert(b);
    *th = (pthread_t)b->id;
    return 0;
}

void gt__pt_start_queued(void)
{
    gt__pt_main.h = gt_self();
    if (gt__pt_main.h.id != 1) {
        fprintf(stderr, "gt-pthread: main runs as green thread %llu, not 1: "
                        "was gt_main started before main?\n",
                (unsigned long long)gt__pt_main.h.id);
        abort();
    }
    snprintf(gt__pt_main.name, sizeof gt__pt_main.name, "%s",
             program_invocation_short_name ? program_invocation_short_name : "");
    if (gt__pt_main.name[0])
        gt_set_name(gt__pt_main.h, gt__pt_main.name);
    table_insert(&gt__pt_main);
    gt__pt_keys_adopt(&gt__pt_main.spec);
    for (struct gt__pthread *b = queue_head, *next; b; b = next) {
        next = b->qnext;
        uint64_t want = b->id;
        int e = spawn_block(b, 0);
        if (e || b->h.id != want) {
            fprintf(stderr, "gt-pthread: cannot start thread %llu created "
                            "before main: %s\n",
                    (unsigned long long)want, e ? strerror(e) : "id taken");
            abort();
        }
    }
    queue_head = queue_tail = NULL;
}

/* ---- exit ------------------------------------------------------------------ */

/* The end of a thread's life as a pthread, in the thread: key destructors
 * run, the value is kept for the joiner, and a detached thread's block
 * goes (its green thread's record goes with its exit). */
static void finish(struct gt__pthread *b, void *ret)
{
    b->retval = ret;
    gt__pt_keys_exit(&b->spec);
    b->exited = true;
    if (b->detached && !b->is_main) {
        table_remove(b);
        free(b);
    }
}

static _Noreturn void exit_now(struct gt__pthread *b)
{
    finish(b, b->retval);
    gt_exit();
}

/* The cleanup handlers of pthread_cleanup_push (glibc's macros, without
 * -fexceptions) keep a __pthread_unwind_buf_t on the stack and register it
 * here; pthread_exit jumps to the innermost, whose code runs the handler
 * and calls __pthread_unwind_next, which jumps to the next or ends the
 * thread.  pad[0] links a buffer to the one it was pushed over. */
static _Noreturn void unwind(struct gt__pthread *b)
{
    __pthread_unwind_buf_t *buf = b->cleanup;
    if (!buf)
        exit_now(b);
    /* The buffer is a jmp_buf without its signal mask (sigsetjmp(env, 0)
     * left __mask_was_saved 0, so longjmp never reads the mask): glibc
     * jumps to it the same way.  Called through a pointer that does not
     * claim the whole jmp_buf, which the compiler would check. */
    void (*jump)(void *, int) = (void (*)(void *, int))(void (*)(void))longjmp;
    jump(buf->__cancel_jmp_buf, 1);
    __builtin_unreachable();
}

GT__PUBLIC void __pthread_register_cancel(__pthread_unwind_buf_t *buf)
{
    struct gt__pthread *b = gt__pt_self();
    if (!b) {
        PT_NEXT(__pthread_register_cancel)(buf);
        return;
    }
    buf->__pad[0] = b->cleanup;
    b->cleanup = buf;
}

GT__PUBLIC void __pthread_unregister_cancel(__pthread_unwind_buf_t *buf)
{
    struct gt__pthread *b = gt__pt_self();
    if (!b) {
        PT_NEXT(__pthread_unregister_cancel)(buf);
        return;
    }
    b->cleanup = buf->__pad[0];
}

GT__PUBLIC void __pthread_unwind_next(__pthread_unwind_buf_t *buf)
{
    struct gt__pthread *b = gt__pt_self();
    if (!b)
        PT_NEXT(__pthread_unwind_next)(buf);
    b->cleanup = buf->__pad[0];
    unwind(b);
}

GT__PUBLIC void pthread_exit(void *ret)
{
    struct gt__pthread *b = gt__pt_self();
    if (!b) {
        if (gt__self())
            gt_exit(); /* a gt_spawn thread: no pthread state */
        PT_NEXT(pthread_exit)(ret);
    }
    b->retval = ret;
    unwind(b);
}

/* ---- join and detach ------------------------------------------------------- */

enum join_mode { JOIN_WAIT, JOIN_TRY, JOIN_TIMED };

/* Frees an exited, joinable thread: the value goes to *ret. */
static void collect(struct gt__pthread *b, void **ret)
{
    struct gt__thread *t = b->h.rec;
    t->joined = true;
    if (ret)
        *ret = b->retval;
    gt__slot_free(t);
    table_remove(b);
    free(b);
}

/* A join outside a green thread: before main nothing has run, and while
 * the runtime runs no wait can be made here; after it, every thread has
 * exited. */
static int join_outside(struct gt__pthread *b, void **ret)
{
    static bool noted;
    if (gt__pt_phase == GT__PT_BEFORE) {
        gt__pt_note_once(&noted, "pthread_join before main would wait "
                                 "forever (the thread starts with main): "
                                 "EDEADLK");
        return EDEADLK;
    }
    if (b->detached)
        return EINVAL;
    if (gt__pt_phase == GT__PT_AFTER && b->exited) {
        collect(b, ret);
        return 0;
    }
    return EDEADLK;
}

static int join(pthread_t th, void **ret, enum join_mode mode,
                uint64_t deadline, const void *fp)
{
    struct gt__pthread *b = gt__pt_find(th);
    struct gt__thread *self = gt__self();
    if (!b)
        return ESRCH;
    if (!self)
        return join_outside(b, ret);
    if (b == gt__pt_self())
        return EDEADLK;
    struct gt__thread *t = b->h.rec;
    if (b->detached || t->joined)
        return EINVAL;
    if (t->pub.state != GT_STATE_EXITED) {
        if (mode == JOIN_TRY)
            return EBUSY;
        t->joined = true;
        t->joiner = self;
        int saved = errno;
        int r = gt__park(fp, GT_WAIT_JOIN, t->pub.id, 0, deadline);
        errno = saved;
        if (r) { /* ETIMEDOUT, or ENOMEM for the timer: no join */
            t->joined = false;
            t->joiner = NULL;
            return r;
        }
    }
    collect(b, ret);
    return 0;
}

GT__PUBLIC int pthread_join(pthread_t th, void **ret)
{
    if (!gt__self() && !gt__pt_find(th))
        return PT_NEXT(pthread_join)(th, ret);
    return gt__keep_frame(join(th, ret, JOIN_WAIT, 0, FP));
}

GT__PUBLIC int pthread_tryjoin_np(pthread_t th, void **ret)
{
    if (!gt__self() && !gt__pt_find(th))
        return PT_NEXT(pthread_tryjoin_np)(th, ret);
    return join(th, ret, JOIN_TRY, 0, FP);
}

/* The deadline, in the runtime's clock, of abstime on clock clk (0, none,
 * for a NULL abstime, as glibc waits then); 0 with *err set when abstime
 * is invalid. */
static uint64_t deadline_of(clockid_t clk, const struct timespec *abstime,
                            int *err)
{
    struct timespec now;
    *err = 0;
    if (!abstime)
        return 0;
    if (abstime->tv_nsec < 0 || abstime->tv_nsec >= 1000000000 ||
        (clk != CLOCK_REALTIME && clk != CLOCK_MONOTONIC) ||
        clock_gettime(clk, &now) < 0) {
        *err = EINVAL;
        return 0;
    }
    int64_t rel = ((int64_t)abstime->tv_sec - (int64_t)now.tv_sec) * 1000000000 +
                  (abstime->tv_nsec - now.tv_nsec);
    /* Already past: a deadline of now, which the next poll expires. */
    return gt__deadline(rel > 0 ? rel : 0);
}

static int timed_join(pthread_t th, void **ret, clockid_t clk,
                      const struct timespec *abstime, const void *fp)
{
    struct gt__pthread *b = gt__pt_find(th);
    if (b && gt__self() && b->h.rec && b != gt__pt_self() &&
        b->h.rec->pub.state == GT_STATE_EXITED)
        return join(th, ret, JOIN_TRY, 0, fp); /* no wait: no deadline */
    int err;
    uint64_t deadline = gt__self() ? deadline_of(clk, abstime, &err) : 0;
    if (gt__self() && err)
        return err;
    return join(th, ret, JOIN_TIMED, deadline, fp);
}

GT__PUBLIC int pthread_timedjoin_np(pthread_t th, void **ret,
                                    const struct timespec *abstime)
{
    if (!gt__self() && !gt__pt_find(th))
        return PT_NEXT(pthread_timedjoin_np)(th, ret, abstime);
    return gt__keep_frame(timed_join(th, ret, CLOCK_REALTIME, abstime, FP));
}

GT__PUBLIC int pthread_clockjoin_np(pthread_t th, void **ret, clockid_t clk,
                                    const struct timespec *abstime)
{
    if (!gt__self() && !gt__pt_find(th))
        return PT_NEXT(pthread_clockjoin_np)(th, ret, clk, abstime);
    return gt__keep_frame(timed_join(th, ret, clk, abstime, FP));
}

GT__PUBLIC int pthread_detach(pthread_t th)
{
    struct gt__pthread *b = gt__pt_find(th);
    if (!gt__self()) {
        if (!b)
            return PT_NEXT(pthread_detach)(th);
        if (b->detached)
            return EINVAL;
        if (gt__pt_phase == GT__PT_BEFORE) {
            b->detached = true; /* not spawned yet */
            return 0;
        }
        if (gt__pt_phase == GT__PT_AFTER && b->exited) {
            collect(b, NULL);
            return 0;
        }
        return EINVAL;
    }
    if (!b)
        return ESRCH;
    struct gt__thread *t = b->h.rec;
    if (b->detached || t->joined)
        return EINVAL;
    int saved = errno;
    int rc = gt_detach(b->h); /* frees the record if it has exited */
    errno = saved;
    if (rc < 0)
        return EINVAL;
    if (t->pub.state == GT_STATE_FREE) {
        table_remove(b);
        free(b);
    }
    else
        b->detached = true;
    return 0;
}

GT__PUBLIC pthread_t pthread_self(void)
{
    struct gt__pthread *b = gt__pt_self();
    if (b)
        return (pthread_t)b->id;
    struct gt__thread *t = gt__self();
    if (t)
        return (pthread_t)t->pub.id;
    return PT_NEXT(pthread_self)();
}

GT__PUBLIC int pthread_equal(pthread_t a, pthread_t b) { return a == b; }
