/*
 * pt_check.h - what the conformance programs of tests/pthread share.
 *
 * Each program is a plain pthread program (cc -pthread, no libgt): it
 * checks POSIX's stated behaviour with CHECK/CHECK_EQ, which print both
 * values and exit 1 on the first failure, and prints one "ok NAME" line per
 * assertion group on stdout.  test_conformance.py runs it natively and
 * under LD_PRELOAD=libgt-pthread.so and wants exit 0 and the same stdout
 * both times.  PT_ON_GT says which (for the few values that must differ,
 * never for what is checked).
 */
#ifndef PT_CHECK_H
#define PT_CHECK_H

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK_EQ(a, b)                                                      \
    do {                                                                    \
        long long a_ = (long long)(a), b_ = (long long)(b);                 \
        if (a_ != b_) {                                                     \
            fprintf(stderr, "%s:%d: %s is %lld, expected %s = %lld\n",      \
                    __FILE__, __LINE__, #a, a_, #b, b_);                    \
            exit(1);                                                        \
        }                                                                   \
    } while (0)

#define CHECK(c)                                                            \
    do {                                                                    \
        if (!(c)) {                                                         \
            fprintf(stderr, "%s:%d: not true: %s\n", __FILE__, __LINE__,    \
                    #c);                                                    \
            exit(1);                                                        \
        }                                                                   \
    } while (0)

#define OK(name) (printf("ok %s\n", name), fflush(stdout))

/* Running on gt: libgt-pthread.so is loaded, and gt_registry with it. */
#define PT_ON_GT (dlsym(RTLD_DEFAULT, "gt_registry") != NULL)

#endif
