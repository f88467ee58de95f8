/*
 * test.h - assertions and helpers shared by every unit test.
 *
 * A test is a function `void test_<name>(void)` declared with TEST_IMPL and
 * named in list.h.  The runner forks one process per test, so a test may
 * keep its state in static variables and may leave the process in any
 * state; a failed assertion prints what was expected and what was seen,
 * with file:line, and aborts that process only.
 *
 * Comparisons convert both sides to int64_t (ASSERT_EQ ...), to pointers
 * (ASSERT_PTR_*) or compare bytes (ASSERT_STR_EQ, ASSERT_MEM_EQ), and print
 * both values and both expressions, so a failure needs no debugger.
 */
#ifndef GT_TEST_H
#define GT_TEST_H

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <gt.h>

#define TEST_IMPL(name)        \
    void test_##name(void);    \
    void test_##name(void)

/* Prints "Assertion failed in FILE:LINE: <message>" on stderr and aborts. */
_Noreturn void tu_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The symbolic name of an errno value ("EAGAIN"), or its number. */
const char *tu_errname(int err);

#define FAIL(...) tu_fail(__FILE__, __LINE__, __VA_ARGS__)

#define ASSERT(expr)                                                       \
    do {                                                                   \
        if (!(expr))                                                       \
            FAIL("%s", #expr);                                             \
    } while (0)

#define TU_ASSERT_CMP(a, op, b)                                            \
    do {                                                                   \
        int64_t tu_a_ = (int64_t)(a);                                      \
        int64_t tu_b_ = (int64_t)(b);                                      \
        if (!(tu_a_ op tu_b_))                                             \
            FAIL("%s %s %s: %" PRId64 " %s %" PRId64 " is false",          \
                 #a, #op, #b, tu_a_, #op, tu_b_);                          \
    } while (0)

#define ASSERT_EQ(a, b) TU_ASSERT_CMP(a, ==, b)
#define ASSERT_NE(a, b) TU_ASSERT_CMP(a, !=, b)
#define ASSERT_LT(a, b) TU_ASSERT_CMP(a, <, b)
#define ASSERT_LE(a, b) TU_ASSERT_CMP(a, <=, b)
#define ASSERT_GT(a, b) TU_ASSERT_CMP(a, >, b)
#define ASSERT_GE(a, b) TU_ASSERT_CMP(a, >=, b)

#define ASSERT_PTR_EQ(a, b)                                                \
    do {                                                                   \
        const void *tu_a_ = (const void *)(a);                             \
        const void *tu_b_ = (const void *)(b);                             \
        if (tu_a_ != tu_b_)                                                \
            FAIL("%s == %s: %p == %p is false", #a, #b, tu_a_, tu_b_);     \
    } while (0)

#define ASSERT_PTR_NE(a, b)                                                \
    do {                                                                   \
        const void *tu_a_ = (const void *)(a);                             \
        const void *tu_b_ = (const void *)(b);                             \
        if (tu_a_ == tu_b_)                                                \
            FAIL("%s != %s: both are %p", #a, #b, tu_a_);                  \
    } while (0)

#define ASSERT_NOT_NULL(p) ASSERT_PTR_NE(p, NULL)

#define ASSERT_STR_EQ(a, b)                                                \
    do {                                                                   \
        const char *tu_a_ = (a);                                           \
        const char *tu_b_ = (b);                                           \
        if (tu_a_ == NULL || tu_b_ == NULL || strcmp(tu_a_, tu_b_) != 0)   \
            FAIL("%s == %s: \"%s\" == \"%s\" is false", #a, #b,            \
                 tu_a_ ? tu_a_ : "(null)", tu_b_ ? tu_b_ : "(null)");      \
    } while (0)

/* Compares n bytes; prints both as escaped text on a mismatch. */
void tu_assert_mem_eq(const char *file, int line, const char *ea,
                      const char *eb, const void *a, const void *b, size_t n);
#define ASSERT_MEM_EQ(a, b, n)                                             \
    tu_assert_mem_eq(__FILE__, __LINE__, #a, #b, (a), (b), (n))

/* expr must evaluate to -1 with errno == e. */
#define ASSERT_ERRNO(expr, e)                                              \
    do {                                                                   \
        errno = 0;                                                         \
        int64_t tu_r_ = (int64_t)(expr);                                   \
        int tu_err_ = errno;                                               \
        if (tu_r_ != -1 || tu_err_ != (e))                                 \
            FAIL("%s: expected -1 with errno %s, got %" PRId64             \
                 " with errno %s", #expr, tu_errname(e), tu_r_,            \
                 tu_errname(tu_err_));                                     \
    } while (0)

/* expr must not be -1; names errno if it is. */
#define ASSERT_OK(expr)                                                    \
    do {                                                                   \
        errno = 0;                                                         \
        int64_t tu_r_ = (int64_t)(expr);                                   \
        if (tu_r_ == -1)                                                   \
            FAIL("%s failed: %s (%s)", #expr, tu_errname(errno),           \
                 strerror(errno));                                         \
    } while (0)

/* ---- helpers (helpers.c) ---------------------------------------------- */

/* CLOCK_MONOTONIC read straight from the kernel, in nanoseconds. */
int64_t tu_now_ns(void);

#define TU_MS (1000 * 1000LL) /* nanoseconds in a millisecond */

/* Runs fn(arg) under gt_main and asserts that gt_main returned 0. */
void tu_run(void (*fn)(void *), void *arg);

/* Spawns with the default attributes and asserts success. */
gt_t tu_spawn(void (*fn)(void *), void *arg);
/* Spawns with a name (and default stack) and asserts success. */
gt_t tu_spawn_named(void (*fn)(void *), void *arg, const char *name);
/* Joins and asserts success. */
void tu_join(gt_t t);

/* Raises RLIMIT_NOFILE's soft limit to its hard limit; fails the test with
 * a message naming the fix if the hard limit is below `need`. */
void tu_raise_nofile(long need);

/* Reads/writes exactly n bytes with gt_read/gt_write (looping over short
 * transfers); fails the test on an error or an early end of file. */
void tu_gt_read_full(int fd, void *buf, size_t n);
void tu_gt_write_full(int fd, const void *buf, size_t n);

/* A watchdog is a plain pthread that, unless cancelled within `ms`,
 * writes `len` bytes of `buf` to fd with the raw write system call.  It
 * turns "the whole process blocked in a call that should have parked one
 * green thread" into wrong data the test can name, instead of a hang. */
struct tu_watchdog;
struct tu_watchdog *tu_watchdog_start(int fd, const void *buf, size_t len,
                                      int ms);
/* The general form: runs fire(arg) on the watchdog pthread after ms. */
struct tu_watchdog *tu_watchdog_call(int ms, void (*fire)(void *), void *arg);
/* Has it fired yet? */
int tu_watchdog_fired(struct tu_watchdog *w);
/* Stops and frees it; returns 1 if it fired. */
int tu_watchdog_stop(struct tu_watchdog *w);

/* Virtual memory size of this process in bytes (/proc/self/statm). */
size_t tu_vm_size(void);

/* What a reader sees of this process's threads (gt/registry.h). */
struct gt_location_rec;
struct gt_thread_rec;
/* Location record I of the registry (I from a thread record's location). */
struct gt_location_rec *tu_loc(uint32_t i);
/* The record of thread T. */
const struct gt_thread_rec *tu_rec(gt_t t);
/* Is T parked with wait KIND at a call site inside FN (within its first
 * 768 bytes)? */
bool tu_parked_in(gt_t t, void (*fn)(void *), uint8_t kind);

#endif /* GT_TEST_H */
