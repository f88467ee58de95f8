/*
 * cancel.c - cancellation.  Natively pthread_cancel cancels a thread
 * blocked in read(); on gt it is not supported (ENOTSUP, one line on
 * stderr however often it is called) and the thread goes on.  Either way
 * pthread_setcancelstate/setcanceltype keep and return the state.  Prints
 * what happened; test_conformance.py knows what each run must print.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <unistd.h>

#include "pt_check.h"

static int gate[2];

static void *reader(void *arg)
{
    (void)arg;
    char c;
    CHECK_EQ(read(gate[0], &c, 1), 1);
    return NULL;
}

int main(void)
{
    CHECK_EQ(pipe(gate), 0);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, reader, NULL), 0);
    usleep(10000);
    int rc = pthread_cancel(t);
    printf("cancel %s\n", rc == 0 ? "0" : rc == ENOTSUP ? "ENOTSUP" : "other");
    if (rc) {
        CHECK_EQ(pthread_cancel(t), ENOTSUP);
        CHECK_EQ(write(gate[1], "x", 1), 1);
    }
    void *r;
    CHECK_EQ(pthread_join(t, &r), 0);
    printf("joined %s\n", r == PTHREAD_CANCELED ? "canceled" : "returned");

    int old;
    CHECK_EQ(pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old), 0);
    CHECK_EQ(old, PTHREAD_CANCEL_ENABLE);
    CHECK_EQ(pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old), 0);
    CHECK_EQ(old, PTHREAD_CANCEL_DISABLE);
    CHECK_EQ(pthread_setcancelstate(12345, &old), EINVAL);
    CHECK_EQ(pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, &old), 0);
    CHECK_EQ(old, PTHREAD_CANCEL_DEFERRED);
    CHECK_EQ(pthread_setcanceltype(PTHREAD_CANCEL_DEFERRED, &old), 0);
    CHECK_EQ(old, PTHREAD_CANCEL_ASYNCHRONOUS);
    pthread_testcancel();
    OK("cancel-state");
    return 0;
}
