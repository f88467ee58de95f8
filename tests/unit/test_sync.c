/*
 * test_sync.c - gt_mutex and gt_cond: exclusion under contention, FIFO
 * hand-off, trylock, producer/consumer, signal order, broadcast, timed
 * waits.
 */
#include "test.h"

/* ---- 2,000 threads x 100 increments, yielding inside the lock ----------- */

#define CONTENDERS 2000
#define ROUNDS 100
static gt_mutex_t count_lock = GT_MUTEX_INITIALIZER;
static long counter;
static int inside;

static void increment(void *arg)
{
    (void)arg;
    for (int i = 0; i < ROUNDS; i++) {
        ASSERT_EQ(gt_mutex_lock(&count_lock), 0);
        ASSERT_EQ(inside, 0);
        inside = 1;
        long seen = counter;
        ASSERT_EQ(gt_yield(), 0); /* everyone else runs, and must wait */
        counter = seen + 1;
        ASSERT_EQ(inside, 1);
        inside = 0;
        ASSERT_EQ(gt_mutex_unlock(&count_lock), 0);
    }
}

static void contention(void *arg)
{
    static gt_t t[CONTENDERS];
    (void)arg;

    for (int i = 0; i < CONTENDERS; i++)
        t[i] = tu_spawn(increment, NULL);
    for (int i = 0; i < CONTENDERS; i++)
        tu_join(t[i]);
}

TEST_IMPL(mutex_contention)
{
    tu_run(contention, NULL);
    ASSERT_EQ(counter, (long)CONTENDERS * ROUNDS);
}

/* ---- unlock hands the mutex to the first waiter ------------------------- */

#define HANDOFF 6
static gt_mutex_t fifo_lock; /* set up with gt_mutex_init */
static int arrival[HANDOFF], narrived;
static int got_lock[HANDOFF], ngot;

static void queue_on_lock(void *arg)
{
    int me = (int)(intptr_t)arg;
    arrival[narrived++] = me;
    ASSERT_EQ(gt_mutex_lock(&fifo_lock), 0);
    got_lock[ngot++] = me;
    gt_yield(); /* hold it across a switch */
    ASSERT_EQ(gt_mutex_unlock(&fifo_lock), 0);
}

static void fifo_handoff(void *arg)
{
    gt_t t[HANDOFF];
    (void)arg;

    ASSERT_EQ(gt_mutex_init(&fifo_lock), 0);
    ASSERT_EQ(gt_mutex_lock(&fifo_lock), 0);
    for (int i = 0; i < HANDOFF; i++)
        t[i] = tu_spawn(queue_on_lock, (void *)(intptr_t)i);
    while (narrived < HANDOFF)
        gt_yield();
    gt_yield();
    ASSERT_EQ(ngot, 0);
    ASSERT_EQ(gt_mutex_unlock(&fifo_lock), 0);
    /* Handed to the first waiter, so it is not free for the unlocker. */
    ASSERT_ERRNO(gt_mutex_trylock(&fifo_lock), EBUSY);
    for (int i = 0; i < HANDOFF; i++)
        tu_join(t[i]);
    ASSERT_EQ(ngot, HANDOFF);
    for (int i = 0; i < HANDOFF; i++)
        ASSERT_EQ(got_lock[i], arrival[i]);
    ASSERT_EQ(gt_mutex_trylock(&fifo_lock), 0);
    ASSERT_EQ(gt_mutex_unlock(&fifo_lock), 0);
    ASSERT_EQ(gt_mutex_destroy(&fifo_lock), 0);
}

TEST_IMPL(mutex_fifo_handoff)
{
    tu_run(fifo_handoff, NULL);
    ASSERT_EQ(ngot, HANDOFF);
}

/* ---- trylock, and lock by the owner ------------------------------------- */

static gt_mutex_t try_lock = GT_MUTEX_INITIALIZER;
static int other_saw_busy;

static void try_from_other(void *arg)
{
    (void)arg;
    ASSERT_ERRNO(gt_mutex_trylock(&try_lock), EBUSY);
    other_saw_busy = 1;
}

static void trylock_test(void *arg)
{
    (void)arg;
    ASSERT_EQ(gt_mutex_trylock(&try_lock), 0);
    ASSERT_ERRNO(gt_mutex_trylock(&try_lock), EBUSY);
    ASSERT_ERRNO(gt_mutex_lock(&try_lock), EDEADLK);
    tu_join(tu_spawn(try_from_other, NULL));
    ASSERT_EQ(other_saw_busy, 1);
    ASSERT_EQ(gt_mutex_unlock(&try_lock), 0);
    ASSERT_EQ(gt_mutex_lock(&try_lock), 0);
    ASSERT_EQ(gt_mutex_unlock(&try_lock), 0);
    ASSERT_EQ(gt_mutex_destroy(&try_lock), 0);
}

TEST_IMPL(mutex_trylock)
{
    tu_run(trylock_test, NULL);
    ASSERT_EQ(other_saw_busy, 1);
}

/* ---- bounded buffer: 4 producers, 4 consumers --------------------------- */

#define BUF_CAP 8
#define PRODUCERS 4
#define CONSUMERS 4
#define ITEMS 5000 /* per producer */
static gt_mutex_t pc_lock = GT_MUTEX_INITIALIZER;
static gt_cond_t not_full = GT_COND_INITIALIZER;
static gt_cond_t not_empty = GT_COND_INITIALIZER;
static long ring[BUF_CAP];
static int ring_head, ring_len, producers_done;
static long consumed_sum, consumed_count;
static long last_from[CONSUMERS][PRODUCERS];

static void producer(void *arg)
{
    int p = (int)(intptr_t)arg;
    for (int i = 0; i < ITEMS; i++) {
        ASSERT_EQ(gt_mutex_lock(&pc_lock), 0);
        while (ring_len == BUF_CAP)
            ASSERT_EQ(gt_cond_wait(&not_full, &pc_lock), 0);
        ring[(ring_head + ring_len) % BUF_CAP] = (long)p * ITEMS + i + 1;
        ring_len++;
        ASSERT_EQ(gt_cond_signal(&not_empty), 0);
        ASSERT_EQ(gt_mutex_unlock(&pc_lock), 0);
        if (i % 7 == 0)
            gt_yield();
    }
}

static void consumer(void *arg)
{
    int c = (int)(intptr_t)arg;
    for (;;) {
        ASSERT_EQ(gt_mutex_lock(&pc_lock), 0);
        while (ring_len == 0 && producers_done < PRODUCERS)
            ASSERT_EQ(gt_cond_wait(&not_empty, &pc_lock), 0);
        if (ring_len == 0) {
            ASSERT_EQ(gt_mutex_unlock(&pc_lock), 0);
            return;
        }
        long v = ring[ring_head];
        ring_head = (ring_head + 1) % BUF_CAP;
        ring_len--;
        ASSERT_EQ(gt_cond_signal(&not_full), 0);
        ASSERT_EQ(gt_mutex_unlock(&pc_lock), 0);
        /* One producer's items arrive in the order it made them. */
        int p = (int)((v - 1) / ITEMS);
        ASSERT_GT(v, last_from[c][p]);
        last_from[c][p] = v;
        consumed_sum += v;
        consumed_count++;
    }
}

static void producer_consumer(void *arg)
{
    gt_t prod[PRODUCERS], cons[CONSUMERS];
    (void)arg;

    for (int i = 0; i < CONSUMERS; i++)
        cons[i] = tu_spawn(consumer, (void *)(intptr_t)i);
    for (int i = 0; i < PRODUCERS; i++)
        prod[i] = tu_spawn(producer, (void *)(intptr_t)i);
    for (int i = 0; i < PRODUCERS; i++) {
        tu_join(prod[i]);
        ASSERT_EQ(gt_mutex_lock(&pc_lock), 0);
        producers_done++;
        ASSERT_EQ(gt_cond_broadcast(&not_empty), 0);
        ASSERT_EQ(gt_mutex_unlock(&pc_lock), 0);
    }
    for (int i = 0; i < CONSUMERS; i++)
        tu_join(cons[i]);
}

TEST_IMPL(cond_producer_consumer)
{
    long n = (long)PRODUCERS * ITEMS;
    tu_run(producer_consumer, NULL);
    ASSERT_EQ(consumed_count, n);
    ASSERT_EQ(consumed_sum, n * (n + 1) / 2);
    ASSERT_EQ(ring_len, 0);
}

/* ---- signal wakes waiters in the order they started waiting ------------ */

#define SIGNALED 8
static gt_mutex_t sig_lock = GT_MUTEX_INITIALIZER;
static gt_cond_t sig_cond = GT_COND_INITIALIZER;
static int sig_waiting, tickets;
static int wait_order[SIGNALED], woke_order[SIGNALED], nwoken;

static void wait_for_ticket(void *arg)
{
    int me = (int)(intptr_t)arg;
    ASSERT_EQ(gt_mutex_lock(&sig_lock), 0);
    wait_order[sig_waiting++] = me;
    while (tickets == 0)
        ASSERT_EQ(gt_cond_wait(&sig_cond, &sig_lock), 0);
    tickets--;
    woke_order[nwoken++] = me;
    ASSERT_EQ(gt_mutex_unlock(&sig_lock), 0);
}

static void signal_fifo(void *arg)
{
    gt_t t[SIGNALED];
    (void)arg;

    for (int i = 0; i < SIGNALED; i++)
        t[i] = tu_spawn(wait_for_ticket, (void *)(intptr_t)i);
    while (sig_waiting < SIGNALED)
        gt_yield();
    for (int i = 0; i < SIGNALED; i++) {
        ASSERT_EQ(gt_mutex_lock(&sig_lock), 0);
        tickets++;
        ASSERT_EQ(gt_cond_signal(&sig_cond), 0);
        ASSERT_EQ(gt_mutex_unlock(&sig_lock), 0);
        while (nwoken < i + 1)
            gt_yield();
    }
    for (int i = 0; i < SIGNALED; i++)
        tu_join(t[i]);
    for (int i = 0; i < SIGNALED; i++)
        ASSERT_EQ(woke_order[i], wait_order[i]);
}

TEST_IMPL(cond_signal_fifo)
{
    tu_run(signal_fifo, NULL);
    ASSERT_EQ(nwoken, SIGNALED);
}

/* ---- broadcast wakes every waiter ---------------------------------------- */

#define BROADCAST_N 1000
static gt_mutex_t bc_lock = GT_MUTEX_INITIALIZER;
static gt_cond_t bc_cond = GT_COND_INITIALIZER;
static int bc_waiting, bc_go, bc_woken;

static void wait_for_go(void *arg)
{
    (void)arg;
    ASSERT_EQ(gt_mutex_lock(&bc_lock), 0);
    bc_waiting++;
    while (!bc_go)
        ASSERT_EQ(gt_cond_wait(&bc_cond, &bc_lock), 0);
    bc_woken++;
    ASSERT_EQ(gt_mutex_unlock(&bc_lock), 0);
}

static void broadcast_all(void *arg)
{
    static gt_t t[BROADCAST_N];
    (void)arg;

    for (int i = 0; i < BROADCAST_N; i++)
        t[i] = tu_spawn(wait_for_go, NULL);
    while (bc_waiting < BROADCAST_N)
        gt_yield();
    ASSERT_EQ(gt_mutex_lock(&bc_lock), 0);
    bc_go = 1;
    ASSERT_EQ(gt_cond_broadcast(&bc_cond), 0);
    ASSERT_EQ(gt_mutex_unlock(&bc_lock), 0);
    /* Give them time, but do not depend on a join that could hang. */
    for (int i = 0; i < 500 && bc_woken < BROADCAST_N; i++)
        ASSERT_EQ(gt_sleep_ns(10 * TU_MS), 0);
    ASSERT_EQ(bc_woken, BROADCAST_N);
    for (int i = 0; i < BROADCAST_N; i++)
        tu_join(t[i]);
    /* A broadcast or signal with nobody waiting is harmless. */
    ASSERT_EQ(gt_cond_broadcast(&bc_cond), 0);
    ASSERT_EQ(gt_cond_signal(&bc_cond), 0);
}

TEST_IMPL(cond_broadcast)
{
    tu_run(broadcast_all, NULL);
    ASSERT_EQ(bc_woken, BROADCAST_N);
}

/* ---- timed wait ---------------------------------------------------------- */

static gt_mutex_t tw_lock = GT_MUTEX_INITIALIZER;
static gt_cond_t tw_cond; /* set up with gt_cond_init */
static int tw_flag, tw_holder_saw_busy;

static void check_held(void *arg)
{
    (void)arg;
    ASSERT_ERRNO(gt_mutex_trylock(&tw_lock), EBUSY);
    tw_holder_saw_busy++;
}

static void signal_later(void *arg)
{
    (void)arg;
    ASSERT_EQ(gt_sleep_ns(10 * TU_MS), 0);
    ASSERT_EQ(gt_mutex_lock(&tw_lock), 0);
    tw_flag = 1;
    ASSERT_EQ(gt_cond_signal(&tw_cond), 0);
    ASSERT_EQ(gt_mutex_unlock(&tw_lock), 0);
}

static void timedwait_test(void *arg)
{
    (void)arg;
    ASSERT_EQ(gt_cond_init(&tw_cond), 0);

    ASSERT_EQ(gt_mutex_lock(&tw_lock), 0);
    int64_t t0 = tu_now_ns();
    ASSERT_ERRNO(gt_cond_timedwait(&tw_cond, &tw_lock, 30 * TU_MS),
                 ETIMEDOUT);
    ASSERT_GE(tu_now_ns() - t0, 30 * TU_MS);
    /* The mutex is held again after a timeout. */
    tu_join(tu_spawn(check_held, NULL));
    ASSERT_EQ(tw_holder_saw_busy, 1);

    /* A signal before the deadline ends the wait with 0. */
    gt_t s = tu_spawn(signal_later, NULL);
    while (!tw_flag)
        ASSERT_EQ(gt_cond_timedwait(&tw_cond, &tw_lock, 10000 * TU_MS), 0);
    tu_join(tu_spawn(check_held, NULL));
    ASSERT_EQ(tw_holder_saw_busy, 2);
    ASSERT_EQ(gt_mutex_unlock(&tw_lock), 0);
    tu_join(s);

    /* A negative timeout waits forever: a signal ends it. */
    tw_flag = 0;
    ASSERT_EQ(gt_mutex_lock(&tw_lock), 0);
    s = tu_spawn(signal_later, NULL);
    while (!tw_flag)
        ASSERT_EQ(gt_cond_timedwait(&tw_cond, &tw_lock, -1), 0);
    ASSERT_EQ(gt_mutex_unlock(&tw_lock), 0);
    tu_join(s);
    ASSERT_EQ(gt_cond_destroy(&tw_cond), 0);
}

TEST_IMPL(cond_timedwait)
{
    tu_run(timedwait_test, NULL);
    ASSERT_EQ(tw_holder_saw_busy, 2);
}

/* ---- many timed waiters time out, each after its own timeout ------------ */

#define TIMED_N 200
static gt_mutex_t many_lock = GT_MUTEX_INITIALIZER;
static gt_cond_t many_cond = GT_COND_INITIALIZER;
static int timed_out;

static void wait_until_timeout(void *arg)
{
    int64_t ns = (int64_t)(intptr_t)arg;
    ASSERT_EQ(gt_mutex_lock(&many_lock), 0);
    int64_t t0 = tu_now_ns();
    ASSERT_ERRNO(gt_cond_timedwait(&many_cond, &many_lock, ns), ETIMEDOUT);
    ASSERT_GE(tu_now_ns() - t0, ns);
    timed_out++;
    ASSERT_EQ(gt_mutex_unlock(&many_lock), 0);
}

static void many_timed(void *arg)
{
    gt_t t[TIMED_N];
    (void)arg;
    for (int i = 0; i < TIMED_N; i++)
        t[i] = tu_spawn(wait_until_timeout,
                        (void *)(intptr_t)((i % 20 + 1) * TU_MS));
    for (int i = 0; i < TIMED_N; i++)
        tu_join(t[i]);
}

TEST_IMPL(cond_timedwait_many)
{
    tu_run(many_timed, NULL);
    ASSERT_EQ(timed_out, TIMED_N);
}
