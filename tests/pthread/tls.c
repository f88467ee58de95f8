/*
 * tls.c - a program with __thread variables of its own (a 4 KiB array):
 * on gt, libgt-pthread says at start that they are shared by all green
 * threads (test_conformance.py checks the line, and its absence with
 * GT_PTHREAD_WARN_TLS=0 and natively).  Checks only what holds both
 * ways: main's own copy.
 */
#define _GNU_SOURCE
#include <pthread.h>

#include "pt_check.h"

__thread volatile int per_thread[1024];

int main(void)
{
    per_thread[7] = 7;
    CHECK_EQ(per_thread[7], 7);
    OK("tls");
    return 0;
}
