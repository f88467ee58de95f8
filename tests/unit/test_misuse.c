/*
 * test_misuse.c - every mistake a caller can make gets -1 and the errno
 * gt.h names; nothing aborts, and the runtime keeps working afterwards.
 */
#include "test.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

/* ---- stack sizes out of range --------------------------------------------- */

static int stack_ran;

static void note_stack_ran(void *arg)
{
    (void)arg;
    stack_ran++;
}

static void stack_sizes(void *arg)
{
    gt_attr_t attr = {0};
    gt_t t;
    (void)arg;

    static const size_t bad[] = {1, 4096, GT_STACK_MIN - 1,
                                 (size_t)GT_STACK_MAX + 1, SIZE_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        attr.stack_size = bad[i];
        errno = 0;
        int rc = gt_spawn(&t, note_stack_ran, NULL, &attr);
        if (rc != -1 || errno != EINVAL)
            FAIL("gt_spawn with stack_size %zu: %d/%s, expected -1/EINVAL",
                 bad[i], rc, tu_errname(errno));
    }
    gt_yield();
    ASSERT_EQ(stack_ran, 0);

    /* Both ends of the range are accepted. */
    attr.stack_size = GT_STACK_MIN;
    ASSERT_EQ(gt_spawn(&t, note_stack_ran, NULL, &attr), 0);
    tu_join(t);
    attr.stack_size = GT_STACK_MAX;
    ASSERT_EQ(gt_spawn(&t, note_stack_ran, NULL, &attr), 0);
    tu_join(t);
    ASSERT_EQ(stack_ran, 2);
}

TEST_IMPL(misuse_stack_size)
{
    tu_run(stack_sizes, NULL);
    ASSERT_EQ(stack_ran, 2);
}

/* ---- gt calls that need a green thread, called outside one --------------- */

static void never_runs(void *arg)
{
    (void)arg;
    FAIL("a thread spawned from outside the runtime ran");
}

TEST_IMPL(misuse_outside_green_thread)
{
    gt_mutex_t m = GT_MUTEX_INITIALIZER;
    gt_cond_t c = GT_COND_INITIALIZER;
    gt_t t;
    void *msg;
    int p[2];
    char buf[4];

    ASSERT_EQ(gt_in_thread(), 0);
    ASSERT_EQ(gt_id(gt_self()), 0);
    ASSERT_ERRNO(gt_spawn(&t, never_runs, NULL, NULL), EPERM);
    ASSERT_ERRNO(gt_yield(), EPERM);
    ASSERT_ERRNO(gt_sleep_ns(TU_MS), EPERM);
    ASSERT_ERRNO(gt_sleep_ns(0), EPERM);

    /* Calls that would have to park: EPERM rather than a hang. */
    gt_chan_t *ch = gt_chan_create(1);
    ASSERT_NOT_NULL(ch);
    ASSERT_ERRNO(gt_chan_recv(ch, &msg, GT_FOREVER), EPERM);
    ASSERT_OK(pipe(p));
    ASSERT_ERRNO(gt_wait_fd(p[0], POLLIN, GT_FOREVER), EPERM);
    /* A blocking gt_read that would park; the watchdog ends a wrong
     * libc-style block so the failure is named instead of a hang. */
    struct tu_watchdog *wd = tu_watchdog_start(p[1], "WD", 2, 2000);
    errno = 0;
    ssize_t n = gt_read(p[0], buf, sizeof buf);
    int err = errno;
    int fired = tu_watchdog_stop(wd);
    if (n != -1 || err != EPERM)
        FAIL("gt_read outside a green thread on an empty pipe: %zd/%s%s, "
             "expected -1/EPERM", n, tu_errname(err),
             fired ? " after blocking until the watchdog wrote" : "");
    ASSERT_ERRNO(gt_cond_wait(&c, &m), EPERM);

    /* The interposed libc names fall back to libc. */
    ASSERT_EQ(write(p[1], "ok", 2), 2);
    ASSERT_EQ(read(p[0], buf, sizeof buf), 2);
    ASSERT_MEM_EQ(buf, "ok", 2);
    ASSERT_EQ(usleep(1000), 0);
    ASSERT_OK(close(p[0]));
    ASSERT_OK(close(p[1]));
    ASSERT_EQ(gt_chan_destroy(ch), 0);
}

/* ---- gt_main while a runtime runs ---------------------------------------- */

static int nested_ran;
static int other_main_rc = 1, other_main_errno;

static void nested_body(void *arg)
{
    (void)arg;
    nested_ran = 1;
}

static void *main_from_pthread(void *arg)
{
    (void)arg;
    errno = 0;
    other_main_rc = gt_main(nested_body, NULL);
    other_main_errno = errno;
    return NULL;
}

static void main_busy(void *arg)
{
    pthread_t pt;
    (void)arg;

    ASSERT_ERRNO(gt_main(nested_body, NULL), EBUSY);
    ASSERT_EQ(pthread_create(&pt, NULL, main_from_pthread, NULL), 0);
    ASSERT_EQ(pthread_join(pt, NULL), 0);
    ASSERT_EQ(other_main_rc, -1);
    ASSERT_EQ(other_main_errno, EBUSY);
    ASSERT_EQ(nested_ran, 0);
}

TEST_IMPL(misuse_main_busy)
{
    tu_run(main_busy, NULL);
    ASSERT_EQ(nested_ran, 0);
}

/* ---- join: unknown, detached, joined twice, self, two joiners ----------- */

static gt_mutex_t hold = GT_MUTEX_INITIALIZER;
static int first_join_rc = 1, second_join_errno;
static gt_t target;

static void wait_on_hold(void *arg)
{
    (void)arg;
    ASSERT_EQ(gt_mutex_lock(&hold), 0);
    ASSERT_EQ(gt_mutex_unlock(&hold), 0);
}

static void first_joiner(void *arg)
{
    (void)arg;
    first_join_rc = gt_join(target);
}

static void second_joiner(void *arg)
{
    (void)arg;
    errno = 0;
    ASSERT_EQ(gt_join(target), -1);
    second_join_errno = errno;
}

static void quick(void *arg)
{
    (void)arg;
}

static void join_misuse(void *arg)
{
    gt_attr_t det = {.detached = 1};
    gt_t t, none = {0}, made_up = {.rec = NULL, .id = 987654321};
    char buf[GT_NAME_MAX];
    (void)arg;

    ASSERT_ERRNO(gt_join(none), ESRCH);
    ASSERT_ERRNO(gt_join(made_up), ESRCH);
    ASSERT_ERRNO(gt_join(gt_self()), EDEADLK);

    /* Detached, still running (it waits on `hold`). */
    ASSERT_EQ(gt_mutex_lock(&hold), 0);
    ASSERT_EQ(gt_spawn(&t, wait_on_hold, NULL, &det), 0);
    ASSERT_ERRNO(gt_join(t), EINVAL);
    gt_t d2 = tu_spawn(wait_on_hold, NULL);
    ASSERT_EQ(gt_detach(d2), 0);
    ASSERT_ERRNO(gt_join(d2), EINVAL);

    /* Two joiners: the second is refused. */
    target = tu_spawn(wait_on_hold, NULL);
    gt_t j1 = tu_spawn(first_joiner, NULL);
    gt_yield(); /* j1 is parked in gt_join(target) now */
    gt_t j2 = tu_spawn(second_joiner, NULL);
    tu_join(j2);
    ASSERT_EQ(second_join_errno, EINVAL);
    ASSERT_EQ(gt_mutex_unlock(&hold), 0);
    tu_join(j1);
    ASSERT_EQ(first_join_rc, 0);

    /* Joined already: ESRCH, also for the other calls taking a handle,
     * and also once the record is in use by a new thread. */
    ASSERT_ERRNO(gt_join(target), ESRCH);
    t = tu_spawn(quick, NULL);
    tu_join(t);
    ASSERT_ERRNO(gt_join(t), ESRCH);
    ASSERT_ERRNO(gt_detach(t), ESRCH);
    ASSERT_ERRNO(gt_set_name(t, "stale"), ESRCH);
    ASSERT_ERRNO(gt_get_name(t, buf, sizeof buf), ESRCH);
    gt_t fresh = tu_spawn_named(quick, NULL, "fresh");
    ASSERT_ERRNO(gt_set_name(t, "stale"), ESRCH);
    ASSERT_EQ(gt_get_name(fresh, buf, sizeof buf), 0);
    ASSERT_STR_EQ(buf, "fresh");
    ASSERT_ERRNO(gt_join(t), ESRCH);
    tu_join(fresh);
}

TEST_IMPL(misuse_join)
{
    tu_run(join_misuse, NULL);
    ASSERT_EQ(first_join_rc, 0);
}

/* ---- mutex and cond misuse ------------------------------------------------ */

static gt_mutex_t owned = GT_MUTEX_INITIALIZER;
static gt_cond_t waited = GT_COND_INITIALIZER;
static int unlock_errno, cond_waiting, cond_go;

static void unlock_not_mine(void *arg)
{
    (void)arg;
    errno = 0;
    ASSERT_EQ(gt_mutex_unlock(&owned), -1);
    unlock_errno = errno;
}

static void lock_and_wait(void *arg)
{
    (void)arg;
    ASSERT_EQ(gt_mutex_lock(&owned), 0);
    ASSERT_EQ(gt_mutex_unlock(&owned), 0);
}

static void cond_waiter(void *arg)
{
    (void)arg;
    ASSERT_EQ(gt_mutex_lock(&owned), 0);
    cond_waiting = 1;
    while (!cond_go)
        ASSERT_EQ(gt_cond_wait(&waited, &owned), 0);
    ASSERT_EQ(gt_mutex_unlock(&owned), 0);
}

static void sync_misuse(void *arg)
{
    gt_mutex_t m;
    (void)arg;

    ASSERT_ERRNO(gt_mutex_unlock(&owned), EPERM); /* not locked at all */
    ASSERT_EQ(gt_mutex_lock(&owned), 0);
    ASSERT_ERRNO(gt_mutex_lock(&owned), EDEADLK);
    ASSERT_ERRNO(gt_mutex_destroy(&owned), EBUSY);
    tu_join(tu_spawn(unlock_not_mine, NULL));
    ASSERT_EQ(unlock_errno, EPERM);
    /* Locked with a waiter queued: EBUSY too. */
    gt_t w = tu_spawn(lock_and_wait, NULL);
    gt_yield();
    ASSERT_ERRNO(gt_mutex_destroy(&owned), EBUSY);
    ASSERT_EQ(gt_mutex_unlock(&owned), 0);
    tu_join(w);

    /* A condition variable with a waiter cannot be destroyed. */
    gt_t cw = tu_spawn(cond_waiter, NULL);
    while (!cond_waiting)
        gt_yield();
    ASSERT_ERRNO(gt_cond_destroy(&waited), EBUSY);
    ASSERT_EQ(gt_mutex_lock(&owned), 0);
    cond_go = 1;
    ASSERT_EQ(gt_cond_signal(&waited), 0);
    ASSERT_EQ(gt_mutex_unlock(&owned), 0);
    tu_join(cw);
    ASSERT_EQ(gt_cond_destroy(&waited), 0);

    /* Both still work after the refusals. */
    ASSERT_EQ(gt_mutex_lock(&owned), 0);
    ASSERT_EQ(gt_mutex_unlock(&owned), 0);
    ASSERT_EQ(gt_mutex_destroy(&owned), 0);
    ASSERT_EQ(gt_mutex_init(&m), 0);
    ASSERT_EQ(gt_mutex_trylock(&m), 0);
    ASSERT_ERRNO(gt_mutex_destroy(&m), EBUSY);
    ASSERT_EQ(gt_mutex_unlock(&m), 0);
    ASSERT_EQ(gt_mutex_destroy(&m), 0);
}

TEST_IMPL(misuse_mutex_cond)
{
    tu_run(sync_misuse, NULL);
    ASSERT_EQ(unlock_errno, EPERM);
}

/* ---- channel misuse ------------------------------------------------------- */

static gt_chan_t *busy_ch;
static int chan_waiting;

static void chan_waiter(void *arg)
{
    void *m;
    (void)arg;
    chan_waiting = 1;
    ASSERT_ERRNO(gt_chan_recv(busy_ch, &m, GT_FOREVER), EPIPE);
}

static void chan_misuse(void *arg)
{
    void *m;
    (void)arg;

    busy_ch = gt_chan_create(2);
    ASSERT_NOT_NULL(busy_ch);
    gt_t w = tu_spawn(chan_waiter, NULL);
    while (!chan_waiting)
        gt_yield();
    gt_yield();
    ASSERT_ERRNO(gt_chan_destroy(busy_ch), EBUSY);
    ASSERT_EQ(gt_chan_close(busy_ch), 0);
    tu_join(w);
    ASSERT_ERRNO(gt_chan_send(busy_ch, NULL, GT_FOREVER), EPIPE);
    ASSERT_ERRNO(gt_chan_send(busy_ch, NULL, 0), EPIPE);
    ASSERT_ERRNO(gt_chan_send(busy_ch, NULL, 10 * TU_MS), EPIPE);
    ASSERT_ERRNO(gt_chan_recv(busy_ch, &m, 10 * TU_MS), EPIPE);
    ASSERT_EQ(gt_chan_destroy(busy_ch), 0);
}

TEST_IMPL(misuse_chan)
{
    tu_run(chan_misuse, NULL);
}

/* ---- location depth out of range ------------------------------------------ */

TEST_IMPL(misuse_location_depth)
{
    ASSERT_ERRNO(gt_set_location_depth(0), EINVAL);
    ASSERT_ERRNO(gt_set_location_depth(-1), EINVAL);
    ASSERT_ERRNO(gt_set_location_depth(1000000), EINVAL);
    ASSERT_EQ(gt_set_location_depth(1), 0);
    ASSERT_EQ(gt_set_location_depth(2), 0);
    tu_run(quick, NULL);
}

/* ---- spawning until memory runs out --------------------------------------- */

#define ENOMEM_CAP 100000            /* more than RLIMIT_AS can allow */
#define ENOMEM_STACK (1024 * 1024)   /* 1 MiB stacks reach the limit fast */
#define ENOMEM_HEADROOM (256u << 20) /* address space above current use */
static gt_mutex_t mem_lock = GT_MUTEX_INITIALIZER;
static gt_cond_t mem_cond = GT_COND_INITIALIZER;
static int mem_go, mem_parked, mem_done;

static void mem_holder(void *arg)
{
    (void)arg;
    ASSERT_EQ(gt_mutex_lock(&mem_lock), 0);
    mem_parked++;
    while (!mem_go)
        ASSERT_EQ(gt_cond_wait(&mem_cond, &mem_lock), 0);
    mem_done++;
    ASSERT_EQ(gt_mutex_unlock(&mem_lock), 0);
}

/* Spawns holders into t[] until gt_spawn fails; returns how many. */
static int spawn_until_enomem(gt_t *t, int *err)
{
    gt_attr_t attr = {.stack_size = ENOMEM_STACK};
    int n = 0;

    *err = 0;
    while (n < ENOMEM_CAP) {
        errno = 0;
        if (gt_spawn(&t[n], mem_holder, NULL, &attr) != 0) {
            *err = errno;
            break;
        }
        n++;
    }
    return n;
}

static void release_and_join(gt_t *t, int n)
{
    while (mem_parked < n)
        ASSERT_EQ(gt_yield(), 0);
    ASSERT_EQ(gt_mutex_lock(&mem_lock), 0);
    mem_go = 1;
    ASSERT_EQ(gt_cond_broadcast(&mem_cond), 0);
    ASSERT_EQ(gt_mutex_unlock(&mem_lock), 0);
    for (int i = 0; i < n; i++)
        tu_join(t[i]);
    mem_go = 0;
    mem_parked = 0;
}

static void enomem_test(void *arg)
{
    gt_t *t = calloc(ENOMEM_CAP, sizeof *t);
    struct rlimit old, low;
    int err, n, again;
    (void)arg;

    ASSERT_NOT_NULL(t);
    ASSERT_OK(getrlimit(RLIMIT_AS, &old));
    low = old;
    low.rlim_cur = tu_vm_size() + ENOMEM_HEADROOM;
    ASSERT_OK(setrlimit(RLIMIT_AS, &low));

    n = spawn_until_enomem(t, &err);
    if (n == ENOMEM_CAP)
        FAIL("%d spawns with %d-byte stacks under RLIMIT_AS = current + "
             "%u MiB all succeeded; expected ENOMEM", n, ENOMEM_STACK,
             ENOMEM_HEADROOM >> 20);
    if (err != ENOMEM)
        FAIL("gt_spawn #%d failed with %s, expected ENOMEM", n,
             tu_errname(err));
    ASSERT_GT(n, 0);
    printf("%d spawns of %d-byte stacks before ENOMEM\n", n, ENOMEM_STACK);

    /* Everything spawned still runs to the end. */
    release_and_join(t, n);
    ASSERT_EQ(mem_done, n);

    /* The memory came back: about as many spawns succeed again (a few
     * less are allowed for heap the runtime keeps for reuse). */
    again = spawn_until_enomem(t, &err);
    if (again < n - n / 20 - 1)
        FAIL("after joining %d threads only %d could be spawned again "
             "(%s): stack memory was not given back", n, again,
             tu_errname(err));
    printf("%d spawns after joining them\n", again);
    release_and_join(t, again);
    ASSERT_EQ(mem_done, n + again);

    ASSERT_OK(setrlimit(RLIMIT_AS, &old));
    tu_join(tu_spawn(quick, NULL));
    free(t);
}

TEST_IMPL(misuse_spawn_enomem)
{
    tu_run(enomem_test, NULL);
    ASSERT_GT(mem_done, 0);
}
