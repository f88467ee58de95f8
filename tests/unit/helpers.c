/*
 * helpers.c - the assertion back end and small helpers for the unit tests.
 *
 * Everything here that waits or writes on behalf of a watchdog uses raw
 * system calls or pthread primitives, never the libc names libgt
 * interposes, so a helper keeps working when the interposition under test
 * is broken.
 */
#include "test.h"

#include <gt/registry.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

_Noreturn void tu_fail(const char *file, int line, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fflush(stdout);
    fprintf(stderr, "Assertion failed in %s:%d: %s\n", file, line, msg);
    fflush(stderr);
    abort();
}

const char *tu_errname(int err)
{
    static char buf[32];
    const char *name;

    if (err == 0)
        return "0";
    name = strerrorname_np(err);
    if (name != NULL)
        return name;
    snprintf(buf, sizeof buf, "%d", err);
    return buf;
}

/* Writes n bytes of p as C-escaped text into out (at most cap bytes). */
static void escape(char *out, size_t cap, const unsigned char *p, size_t n)
{
    size_t o = 0;

    for (size_t i = 0; i < n && o + 5 < cap; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
            out[o++] = (char)p[i];
        else
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", p[i]);
    }
    out[o] = '\0';
}

void tu_assert_mem_eq(const char *file, int line, const char *ea,
                      const char *eb, const void *a, const void *b, size_t n)
{
    char sa[512], sb[512];
    size_t at;

    if (memcmp(a, b, n) == 0)
        return;
    for (at = 0; ((const unsigned char *)a)[at] ==
                 ((const unsigned char *)b)[at]; at++)
        ;
    escape(sa, sizeof sa, a, n < 96 ? n : 96);
    escape(sb, sizeof sb, b, n < 96 ? n : 96);
    tu_fail(file, line, "%s == %s over %zu bytes: first difference at byte "
            "%zu; \"%s\" vs \"%s\"", ea, eb, n, at, sa, sb);
}

int64_t tu_now_ns(void)
{
    struct timespec ts;

    if (syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts) != 0)
        FAIL("clock_gettime: %s", strerror(errno));
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void tu_run(void (*fn)(void *), void *arg)
{
    errno = 0;
    int rc = gt_main(fn, arg);
    if (rc != 0)
        FAIL("gt_main returned %d (errno %s), expected 0", rc,
             tu_errname(errno));
}

gt_t tu_spawn(void (*fn)(void *), void *arg)
{
    gt_t t;

    errno = 0;
    if (gt_spawn(&t, fn, arg, NULL) != 0)
        FAIL("gt_spawn failed: %s", tu_errname(errno));
    return t;
}

gt_t tu_spawn_named(void (*fn)(void *), void *arg, const char *name)
{
    gt_attr_t attr = {.name = name};
    gt_t t;

    errno = 0;
    if (gt_spawn(&t, fn, arg, &attr) != 0)
        FAIL("gt_spawn(\"%s\") failed: %s", name, tu_errname(errno));
    return t;
}

void tu_join(gt_t t)
{
    errno = 0;
    if (gt_join(t) != 0)
        FAIL("gt_join(thread %" PRIu64 ") failed: %s", t.id,
             tu_errname(errno));
}

void tu_raise_nofile(long need)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        FAIL("getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
    if (rl.rlim_max != RLIM_INFINITY && (long)rl.rlim_max < need)
        FAIL("this test needs %ld file descriptors but the hard limit "
             "RLIMIT_NOFILE is %ld; raise it (ulimit -Hn %ld as root, or "
             "LimitNOFILE= for a service) and run again",
             need, (long)rl.rlim_max, need);
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        FAIL("setrlimit(RLIMIT_NOFILE, %ld): %s", (long)rl.rlim_max,
             strerror(errno));
}

void tu_gt_read_full(int fd, void *buf, size_t n)
{
    size_t done = 0;

    while (done < n) {
        ssize_t r = gt_read(fd, (char *)buf + done, n - done);
        if (r < 0)
            FAIL("gt_read(fd %d) after %zu of %zu bytes: %s", fd, done, n,
                 tu_errname(errno));
        if (r == 0)
            FAIL("gt_read(fd %d): end of file after %zu of %zu bytes", fd,
                 done, n);
        done += (size_t)r;
    }
}

void tu_gt_write_full(int fd, const void *buf, size_t n)
{
    size_t done = 0;

    while (done < n) {
        ssize_t r = gt_write(fd, (const char *)buf + done, n - done);
        if (r < 0)
            FAIL("gt_write(fd %d) after %zu of %zu bytes: %s", fd, done, n,
                 tu_errname(errno));
        if (r == 0)
            FAIL("gt_write(fd %d) returned 0 after %zu of %zu bytes", fd,
                 done, n);
        done += (size_t)r;
    }
}

struct tu_watchdog {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int cancelled;            /* under lock */
    atomic_int fired;         /* set before fire() runs */
    void (*fire)(void *);     /* run on the watchdog's own pthread */
    void *arg;
    int fd;                   /* for the write form */
    const void *buf;
    size_t len;
    struct timespec deadline; /* CLOCK_MONOTONIC */
};

static void *watchdog_main(void *arg)
{
    struct tu_watchdog *w = arg;
    int fire = 0;

    pthread_mutex_lock(&w->lock);
    while (!w->cancelled) {
        if (pthread_cond_timedwait(&w->cond, &w->lock, &w->deadline) ==
            ETIMEDOUT) {
            fire = !w->cancelled;
            break;
        }
    }
    pthread_mutex_unlock(&w->lock);
    if (fire) {
        atomic_store(&w->fired, 1);
        w->fire(w->arg);
    }
    return NULL;
}

static void fire_write(void *arg)
{
    struct tu_watchdog *w = arg;

    if (syscall(SYS_write, w->fd, w->buf, w->len) < 0)
        fprintf(stderr, "watchdog: write(fd %d): %s\n", w->fd,
                strerror(errno));
}

static struct tu_watchdog *watchdog_new(int ms, void (*fire)(void *),
                                        void *arg)
{
    struct tu_watchdog *w = calloc(1, sizeof *w);
    int64_t at;

    ASSERT_NOT_NULL(w);
    w->fire = fire;
    w->arg = arg;
    at = tu_now_ns() + (int64_t)ms * TU_MS;
    w->deadline.tv_sec = at / 1000000000;
    w->deadline.tv_nsec = at % 1000000000;
    return w;
}

static struct tu_watchdog *watchdog_launch(struct tu_watchdog *w)
{
    pthread_condattr_t ca;
    int rc;

    pthread_mutex_init(&w->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cond, &ca);
    pthread_condattr_destroy(&ca);
    rc = pthread_create(&w->thread, NULL, watchdog_main, w);
    if (rc != 0)
        FAIL("pthread_create (watchdog): %s", strerror(rc));
    return w;
}

struct tu_watchdog *tu_watchdog_call(int ms, void (*fire)(void *), void *arg)
{
    return watchdog_launch(watchdog_new(ms, fire, arg));
}

struct tu_watchdog *tu_watchdog_start(int fd, const void *buf, size_t len,
                                      int ms)
{
    struct tu_watchdog *w = watchdog_new(ms, fire_write, NULL);

    w->arg = w;
    w->fd = fd;
    w->buf = buf;
    w->len = len;
    return watchdog_launch(w);
}

int tu_watchdog_fired(struct tu_watchdog *w)
{
    return atomic_load(&w->fired);
}

int tu_watchdog_stop(struct tu_watchdog *w)
{
    int fired;

    pthread_mutex_lock(&w->lock);
    w->cancelled = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    fired = atomic_load(&w->fired);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    free(w);
    return fired;
}

size_t tu_vm_size(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages = 0;

    ASSERT_NOT_NULL(f);
    if (fscanf(f, "%lu", &pages) != 1)
        FAIL("cannot parse /proc/self/statm");
    fclose(f);
    return pages * (size_t)sysconf(_SC_PAGESIZE);
}

struct gt_location_rec *tu_loc(uint32_t i)
{
    struct gt_location_rec **c =
        (struct gt_location_rec **)(uintptr_t)gt_registry.loc_chunks;
    return &c[i / gt_registry.locs_per_chunk][i % gt_registry.locs_per_chunk];
}

const struct gt_thread_rec *tu_rec(gt_t t)
{
    return (const struct gt_thread_rec *)(const void *)t.rec;
}

bool tu_parked_in(gt_t t, void (*fn)(void *), uint8_t kind)
{
    const struct gt_thread_rec *r = tu_rec(t);
    if (r->state != GT_STATE_PARKED || r->wait_kind != kind || !r->location)
        return false;
    uint64_t pc = tu_loc(r->location)->pcs[0];
    return pc > (uintptr_t)fn && pc < (uintptr_t)fn + 768;
}
