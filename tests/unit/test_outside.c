/*
 * test_outside.c - every call of gt.h made from a plain pthread while a
 * runtime runs does what gt.h's "OUTSIDE A GREEN THREAD" says: EPERM and
 * no effect, or the documented behaviour for the few calls that work
 * anywhere.  Then the green threads the calls aimed at must be exactly as
 * they were (still parked, nothing received, names unchanged), and
 * gt_main must still return.
 *
 * The case that started it: a gt_chan_send from a pthread returned 0 and
 * made the parked receiver runnable from the wrong kernel thread; it never
 * ran and gt_main never returned.
 */
#include "test.h"

#include <fcntl.h>
#include <gt/registry.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static gt_chan_t *ch;              /* receiver parks on it */
static gt_mutex_t mu = GT_MUTEX_INITIALIZER;
static gt_cond_t cv = GT_COND_INITIALIZER;
static gt_t receiver, cond_waiter;
static int cond_go, cond_woken;
static void *received;
static int done_pipe[2];           /* the pthread says "done" through it */
static gt_chan_t *made_outside;    /* gt_chan_create from the pthread */
static int sv[2];                  /* a socket pair for the I/O calls */
static int listener = -1;

static void receive_one(void *arg)
{
    (void)arg;
    ASSERT_EQ(gt_chan_recv(ch, &received, GT_FOREVER), 0);
}

static void wait_for_go(void *arg)
{
    (void)arg;
    ASSERT_EQ(gt_mutex_lock(&mu), 0);
    while (!cond_go)
        ASSERT_EQ(gt_cond_wait(&cv, &mu), 0);
    cond_woken = 1;
    ASSERT_EQ(gt_mutex_unlock(&mu), 0);
}

static void never_runs(void *arg)
{
    (void)arg;
    FAIL("a thread spawned from a pthread ran");
}

static void restart_never_runs(void *arg)
{
    (void)arg;
    FAIL("gt_wait_readable_then from a pthread restarted a thread");
}

static int exit_returned;

static void *call_gt_exit(void *arg)
{
    (void)arg;
    gt_exit();
    exit_returned = 1; /* not reached: gt_exit ends this pthread */
    return (void *)1;
}

static int main_rc = 1, main_errno;

static void nested_main(void *arg)
{
    (void)arg;
    FAIL("a second gt_main ran its function");
}

/* Every call of gt.h, in its order there. */
static void *from_pthread(void *arg)
{
    char buf[GT_NAME_MAX] = "untouched";
    void *msg = NULL;
    gt_t t;
    (void)arg;

    /* ---- threads */
    ASSERT_EQ(gt_in_thread(), 0);
    errno = 0;
    main_rc = gt_main(nested_main, NULL);
    main_errno = errno;
    ASSERT_EQ(main_rc, -1);
    ASSERT_EQ(main_errno, EBUSY);
    ASSERT_ERRNO(gt_spawn(&t, never_runs, NULL, NULL), EPERM);
    ASSERT_ERRNO(gt_join(receiver), EPERM);
    ASSERT_ERRNO(gt_detach(receiver), EPERM);
    gt_t self = gt_self();
    ASSERT_PTR_EQ(self.rec, NULL);
    ASSERT_EQ(self.id, 0);
    errno = 0;
    ASSERT_EQ(gt_id(receiver), 0);
    ASSERT_EQ(errno, EPERM);
    ASSERT_ERRNO(gt_yield(), EPERM);
    ASSERT_ERRNO(gt_set_name(receiver, "renamed"), EPERM);
    ASSERT_ERRNO(gt_get_name(receiver, buf, sizeof buf), EPERM);
    ASSERT_STR_EQ(buf, "untouched");
    pthread_t ex;
    void *ret = (void *)2;
    ASSERT_EQ(pthread_create(&ex, NULL, call_gt_exit, NULL), 0);
    ASSERT_EQ(pthread_join(ex, &ret), 0);
    ASSERT_PTR_EQ(ret, NULL); /* pthread_exit(NULL) */
    ASSERT_EQ(exit_returned, 0);

    /* ---- time */
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    int64_t now = gt_now_ns();
    clock_gettime(CLOCK_MONOTONIC, &b);
    ASSERT_GE(now, (int64_t)a.tv_sec * 1000000000 + a.tv_nsec);
    ASSERT_LE(now, (int64_t)b.tv_sec * 1000000000 + b.tv_nsec);
    ASSERT_ERRNO(gt_sleep_ns(TU_MS), EPERM);
    ASSERT_ERRNO(gt_sleep_ns(0), EPERM);

    /* ---- mutex and condition variable: init anywhere, the rest EPERM
     * while the runtime runs, on shared and private objects alike */
    gt_mutex_t mine;
    gt_cond_t cmine;
    ASSERT_EQ(gt_mutex_init(&mine), 0);
    ASSERT_ERRNO(gt_mutex_destroy(&mine), EPERM);
    ASSERT_ERRNO(gt_mutex_destroy(&mu), EPERM);
    ASSERT_ERRNO(gt_mutex_lock(&mu), EPERM);
    ASSERT_ERRNO(gt_mutex_trylock(&mu), EPERM);
    ASSERT_ERRNO(gt_mutex_unlock(&mu), EPERM);
    ASSERT_EQ(gt_cond_init(&cmine), 0);
    ASSERT_ERRNO(gt_cond_destroy(&cmine), EPERM);
    ASSERT_ERRNO(gt_cond_destroy(&cv), EPERM);
    ASSERT_ERRNO(gt_cond_wait(&cv, &mu), EPERM);
    ASSERT_ERRNO(gt_cond_timedwait(&cv, &mu, TU_MS), EPERM);
    cond_go = 1; /* were a signal to get through, the waiter would leave */
    ASSERT_ERRNO(gt_cond_signal(&cv), EPERM);
    ASSERT_ERRNO(gt_cond_broadcast(&cv), EPERM);

    /* ---- channels: create anywhere; the rest EPERM, also a send that
     * finds room and would not park */
    made_outside = gt_chan_create(4);
    ASSERT_NOT_NULL(made_outside);
    ASSERT_ERRNO(gt_chan_send(ch, (void *)0x1, 0), EPERM);
    ASSERT_ERRNO(gt_chan_send(ch, (void *)0x1, GT_FOREVER), EPERM);
    ASSERT_ERRNO(gt_chan_send(made_outside, (void *)0x1, 0), EPERM);
    ASSERT_ERRNO(gt_chan_recv(ch, &msg, 0), EPERM);
    ASSERT_ERRNO(gt_chan_recv(ch, &msg, GT_FOREVER), EPERM);
    ASSERT_PTR_EQ(msg, NULL);
    errno = 0;
    ASSERT_EQ(gt_chan_len(ch), 0);
    ASSERT_EQ(errno, EPERM);
    ASSERT_ERRNO(gt_chan_close(ch), EPERM);
    ASSERT_ERRNO(gt_chan_destroy(ch), EPERM);
    ASSERT_ERRNO(gt_chan_destroy(made_outside), EPERM);

    /* ---- I/O: EPERM whatever the fd's state; gt_close is close(2) */
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ASSERT_ERRNO(gt_read(sv[0], buf, sizeof buf), EPERM);
    ASSERT_ERRNO(gt_write(sv[0], "x", 1), EPERM);
    ASSERT_ERRNO(gt_recv(sv[0], buf, sizeof buf, 0), EPERM);
    ASSERT_ERRNO(gt_send(sv[0], "x", 1, 0), EPERM);
    ASSERT_ERRNO(gt_accept(listener, NULL, NULL), EPERM);
    ASSERT_ERRNO(gt_connect(sv[0], (struct sockaddr *)&sin, sizeof sin), EPERM);
    ASSERT_ERRNO(gt_wait_fd(sv[0], POLLIN, GT_FOREVER), EPERM);
    ASSERT_ERRNO(gt_wait_readable_then(sv[0], GT_FOREVER, restart_never_runs,
                                       NULL), EPERM);
    int fd = dup(sv[1]);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(gt_close(fd), 0);
    ASSERT_ERRNO(fcntl(fd, F_GETFD), EBADF);

    /* ---- configuration */
    ASSERT_ERRNO(gt_set_location_depth(3), EINVAL);

    ASSERT_EQ(write(done_pipe[1], "d", 1), 1);
    return NULL;
}

static void green_main(void *arg)
{
    char c;
    char name[GT_NAME_MAX];
    pthread_t pt;
    (void)arg;

    receiver = tu_spawn_named(receive_one, NULL, "receiver");
    cond_waiter = tu_spawn(wait_for_go, NULL);
    gt_yield(); /* both park: on the channel, on the condition */
    const struct gt_thread_rec *r = (const struct gt_thread_rec *)receiver.rec;
    const struct gt_thread_rec *w = (const struct gt_thread_rec *)cond_waiter.rec;
    ASSERT_EQ(r->state, GT_STATE_PARKED);
    ASSERT_EQ(w->state, GT_STATE_PARKED);

    ASSERT_EQ(pthread_create(&pt, NULL, from_pthread, NULL), 0);
    /* Parks this thread only, until the pthread is done. */
    ASSERT_EQ(gt_read(done_pipe[0], &c, 1), 1);
    ASSERT_EQ(pthread_join(pt, NULL), 0);

    /* Nothing the pthread tried got through. */
    ASSERT_EQ(r->state, GT_STATE_PARKED);
    ASSERT_EQ(r->wait_kind, GT_WAIT_CHAN_RECV);
    ASSERT_EQ(w->state, GT_STATE_PARKED);
    ASSERT_EQ(w->wait_kind, GT_WAIT_COND);
    ASSERT_EQ(gt_chan_len(ch), 0);
    ASSERT_EQ(gt_chan_len(made_outside), 0);
    ASSERT_EQ(gt_get_name(receiver, name, sizeof name), 0);
    ASSERT_STR_EQ(name, "receiver");
    ASSERT_EQ(gt_registry.runq_len, 0);
    ASSERT_EQ(gt_id(receiver), receiver.id);

    /* Everything still works from here. */
    ASSERT_EQ(gt_chan_send(ch, (void *)0x2a, GT_FOREVER), 0);
    tu_join(receiver);
    ASSERT_PTR_EQ(received, (void *)0x2a);
    ASSERT_EQ(gt_mutex_lock(&mu), 0);
    ASSERT_EQ(gt_cond_signal(&cv), 0);
    ASSERT_EQ(gt_mutex_unlock(&mu), 0);
    tu_join(cond_waiter);
    ASSERT_EQ(cond_woken, 1);
    ASSERT_EQ(gt_chan_close(ch), 0); /* still open: the close was refused */
}

TEST_IMPL(outside_pthread_calls)
{
    void *msg;

    ch = gt_chan_create(1);
    ASSERT_NOT_NULL(ch);
    ASSERT_OK(pipe(done_pipe));
    ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    listener = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(listener, 0);

    tu_run(green_main, NULL); /* and gt_main returned 0 */

    /* The same thread after gt_main: still no green thread, but no
     * runtime either, so the objects can go. */
    ASSERT_ERRNO(gt_chan_send(made_outside, (void *)0x1, 0), EPERM);
    ASSERT_ERRNO(gt_chan_recv(ch, &msg, 0), EPERM);
    ASSERT_EQ(gt_chan_len(made_outside), 0);
    ASSERT_EQ(gt_chan_destroy(made_outside), 0);
    ASSERT_EQ(gt_chan_destroy(ch), 0);
    ASSERT_EQ(gt_mutex_destroy(&mu), 0);
    ASSERT_EQ(gt_cond_destroy(&cv), 0);
    ASSERT_EQ(gt_set_location_depth(2), 0);
}
