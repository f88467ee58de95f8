/*
 * stack_measurer.c - every stack's residency and dead bytes, measured on a
 * thread of its own.
 *
 * A measure looks at every stack: its pages in /proc/PID/pagemap and its
 * lowest written word.  At 100K threads that is about 250 ms, ten times a
 * plain refresh; done by the thread that draws, the screen froze for a
 * quarter of a second each time.  Here it runs beside the screen, on a
 * target handle of its own (libgtobserve keeps no global state), and the
 * sampler picks up each result when it is there.  The measures are spaced
 * so that they take at most 1/MEASURE_COST_FACTOR of the time: at 100K
 * threads that adds about 10 ms of CPU a second to the 28 ms a refresh
 * costs.  The header says how old the figures are.
 */
#include "stack_measurer.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define MEASURE_EVERY_NS 10000000000ull
#define MEASURE_COST_FACTOR 100

uint64_t stack_measure_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t stack_measure_next(uint64_t cost_ns)
{
    uint64_t wait = cost_ns * MEASURE_COST_FACTOR;
    return stack_measure_clock() + (wait > MEASURE_EVERY_NS ? wait : MEASURE_EVERY_NS);
}

static int cmp_measure_id(const void *a, const void *b)
{
    uint64_t x = ((const struct thread_measure *)a)->id;
    uint64_t y = ((const struct thread_measure *)b)->id;
    return (x > y) - (x < y);
}

int stack_measures_build(struct stack_measures *m, const gto_snapshot *snap,
                         int per_thread)
{
    size_t n = gto_thread_count(snap), k = 0;
    int sorted = 1;
    stack_measures_free(m);
    if (per_thread) {
        m->v = malloc((n ? n : 1) * sizeof(*m->v));
        if (!m->v)
            return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const struct gto_thread *th = gto_thread_at(snap, i);
        if (!th->measured)
            continue;
        m->resident += th->resident;
        m->dead += th->dead;
        if (!per_thread)
            continue;
        m->v[k] = (struct thread_measure){th->id, th->touched, th->resident, th->dead};
        sorted &= k == 0 || m->v[k - 1].id < th->id;
        k++;
    }
    m->n = k;
    if (!sorted)
        qsort(m->v, m->n, sizeof(*m->v), cmp_measure_id);
    m->measured_ns = gto_snapshot_counters(snap)->now;
    return 0;
}

void stack_measures_free(struct stack_measures *m)
{
    free(m->v);
    memset(m, 0, sizeof(*m));
}

const struct thread_measure *stack_measures_find(const struct stack_measures *m,
                                                 uint64_t id, size_t *cursor)
{
    if (*cursor < m->n && m->v[*cursor].id == id)
        return &m->v[(*cursor)++];
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->v[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < m->n && m->v[lo].id == id) {
        *cursor = lo + 1;
        return &m->v[lo];
    }
    return NULL;
}

/* Sleeps until DEADLINE (CLOCK_MONOTONIC ns) or until told to stop; with
 * the lock held.  Returns whether to stop. */
static int wait_until(struct stack_measurer *m, uint64_t deadline)
{
    struct timespec ts = {(time_t)(deadline / 1000000000u),
                          (long)(deadline % 1000000000u)};
    while (!m->stop && stack_measure_clock() < deadline)
        if (pthread_cond_timedwait(&m->wake, &m->lock, &ts) == ETIMEDOUT)
            break;
    return m->stop;
}

static void *measure_loop(void *arg)
{
    struct stack_measurer *m = arg;
    pthread_mutex_lock(&m->lock);
    uint64_t next = stack_measure_clock() + m->first_delay_ns;
    while (!wait_until(m, next)) {
        pthread_mutex_unlock(&m->lock);
        uint64_t t0 = stack_measure_clock();
        char err[GTO_ERR_MAX];
        gto_snapshot *snap;
        struct stack_measures got = {0};
        int ok = gto_snapshot_take(m->target, GTO_SNAP_MEASURE, &snap, err) == 0;
        if (ok) {
            ok = stack_measures_build(&got, snap, 1) == 0;
            gto_snapshot_free(snap);
        }
        /* A failed measure is not reported: the refresh's own snapshot
         * says what went wrong with the target. */
        next = stack_measure_next(stack_measure_clock() - t0);
        pthread_mutex_lock(&m->lock);
        if (ok) {
            stack_measures_free(&m->latest);
            m->latest = got;
            m->fresh = 1;
        }
    }
    pthread_mutex_unlock(&m->lock);
    return NULL;
}

int stack_measurer_start(struct stack_measurer *m, pid_t pid,
                         uint64_t first_delay_ns, char *err)
{
    pthread_condattr_t ca;
    if (gto_open_pid(pid, &m->target, err) < 0)
        return -1;
    m->stop = m->fresh = 0;
    memset(&m->latest, 0, sizeof(m->latest));
    m->first_delay_ns = first_delay_ns;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&m->wake, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&m->lock, NULL);
    /* Signals (the terminal's resize, Ctrl-C) are for the screen's thread:
     * the measurer starts with all of them blocked. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&m->thread, NULL, measure_loop, m);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) {
        snprintf(err, GTO_ERR_MAX, "cannot start the stack measurer: %s", strerror(rc));
        pthread_cond_destroy(&m->wake);
        pthread_mutex_destroy(&m->lock);
        gto_close(m->target);
        m->target = NULL;
        return -1;
    }
    return 0;
}

int stack_measurer_take(struct stack_measurer *m, struct stack_measures *out)
{
    pthread_mutex_lock(&m->lock);
    int fresh = m->fresh;
    if (fresh) {
        stack_measures_free(out);
        *out = m->latest;
        memset(&m->latest, 0, sizeof(m->latest));
        m->fresh = 0;
    }
    pthread_mutex_unlock(&m->lock);
    return fresh;
}

void stack_measurer_stop(struct stack_measurer *m)
{
    if (!m->target)
        return;
    pthread_mutex_lock(&m->lock);
    m->stop = 1;
    pthread_cond_signal(&m->wake);
    pthread_mutex_unlock(&m->lock);
    pthread_join(m->thread, NULL);
    pthread_cond_destroy(&m->wake);
    pthread_mutex_destroy(&m->lock);
    stack_measures_free(&m->latest);
    gto_close(m->target);
    m->target = NULL;
}
