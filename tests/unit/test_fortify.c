/*
 * test_fortify.c - a program built with _FORTIFY_SOURCE calls __read_chk,
 * __recv_chk, __poll_chk... where the compiler knows a buffer's size: the
 * same calls, which must park the caller as read, recv and poll do.  A
 * watchdog pthread (raw system calls) ends a wait that blocked the whole
 * process with data the test names.
 */
#undef _FORTIFY_SOURCE
#define _FORTIFY_SOURCE 2
#include "test.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

static int fp_pipe[2], fs[2];
/* Sizes the compiler cannot see: the checked names are called then (a
 * constant within the known size needs no check, and gets the plain
 * call). */
static volatile size_t two = 2;
static volatile nfds_t one = 1;
static int writer_ran;

static void late_writer(void *arg)
{
    (void)arg;
    writer_ran = 1;
    ASSERT_EQ(write(fp_pipe[1], "ok", 2), 2);
    ASSERT_EQ(send(fs[1], "so", 2, 0), 2);
}

static void fortify_main(void *arg)
{
    (void)arg;
    ASSERT_OK(pipe(fp_pipe));
    ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, fs));
    struct tu_watchdog *wd = tu_watchdog_start(fp_pipe[1], "WD", 2, 3000);
    gt_t w = tu_spawn(late_writer, NULL);
    struct pollfd p[1] = {{.fd = fp_pipe[0], .events = POLLIN}};
    ASSERT_EQ(poll(p, one, -1), 1); /* __poll_chk: p's size is known */
    ASSERT_EQ(writer_ran, 1);
    char buf[2]; /* __read_chk: buf's size is known */
    ASSERT_EQ(read(fp_pipe[0], buf, two), 2);
    ASSERT_MEM_EQ(buf, "ok", 2);
    char r[2];
    ASSERT_EQ(recv(fs[0], r, two, 0), 2);
    ASSERT_MEM_EQ(r, "so", 2);
    tu_join(w);
    if (tu_watchdog_stop(wd))
        FAIL("a fortified call blocked the whole process");
}

TEST_IMPL(fortify_calls_park)
{
    tu_run(fortify_main, NULL);
}
