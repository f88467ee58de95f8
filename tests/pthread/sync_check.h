/*
 * sync_check.h - assertions of the synchronisation tests (sync_*.c).
 *
 * Each test is a plain pthread program: it runs natively and under
 * libgt-pthread.so with the same assertions, prints one line per failed
 * one and exits 1, or prints "ok PROGRAM" and exits 0.  Time is asserted only one way: a timed
 * wait that gave ETIMEDOUT returned at or after its deadline.
 */
#ifndef SYNC_CHECK_H
#define SYNC_CHECK_H

#include <stdio.h>
#include <time.h>

static int check_failures;

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) {                                                     \
            printf("%s:%d: failed: %s\n", __FILE__, __LINE__, #cond);      \
            check_failures++;                                              \
        }                                                                  \
    } while (0)

#define CHECK_EQ(a, b)                                                     \
    do {                                                                   \
        long long a_ = (long long)(a), b_ = (long long)(b);                \
        if (a_ != b_) {                                                    \
            printf("%s:%d: failed: %s == %s (%lld != %lld)\n", __FILE__,   \
                   __LINE__, #a, #b, a_, b_);                              \
            check_failures++;                                              \
        }                                                                  \
    } while (0)

/* The exit status; on success one "ok PROGRAM" line, the line the
 * conformance harness compares between the native and the gt run (and
 * a run that printed nothing did not get here). */
static inline int check_done_of(const char *program)
{
    if (!check_failures)
        printf("ok %s\n", program);
    fflush(stdout);
    return check_failures ? 1 : 0;
}
#define check_done() check_done_of(__BASE_FILE__)

/* The time NS nanoseconds from now on CLOCK, as an abstime. */
static inline struct timespec check_in(clockid_t clock, long long ns)
{
    struct timespec t;
    clock_gettime(clock, &t);
    ns += t.tv_nsec + (long long)t.tv_sec * 1000000000;
    t.tv_sec = ns / 1000000000;
    t.tv_nsec = ns % 1000000000;
    return t;
}

/* Has CLOCK reached T? */
static inline int check_reached(clockid_t clock, struct timespec t)
{
    struct timespec now;
    clock_gettime(clock, &now);
    return now.tv_sec > t.tv_sec ||
           (now.tv_sec == t.tv_sec && now.tv_nsec >= t.tv_nsec);
}

#endif
