/*
 * test_chan.c - channels: FIFO order, capacity, many senders and
 * receivers, timeouts, close.
 */
#include "test.h"

#define MSG(v) ((void *)(uintptr_t)(v))
#define VAL(p) ((long)(uintptr_t)(p))

/* ---- capacity and FIFO order --------------------------------------------- */

#define CAP 8
#define STREAM 10000
static gt_chan_t *fifo_ch;

static void stream_sender(void *arg)
{
    (void)arg;
    for (long i = 1; i <= STREAM; i++) {
        ASSERT_EQ(gt_chan_send(fifo_ch, MSG(i), GT_FOREVER), 0);
        ASSERT_LE(gt_chan_len(fifo_ch), CAP);
    }
}

static void fifo_test(void *arg)
{
    void *m;
    (void)arg;

    fifo_ch = gt_chan_create(CAP);
    ASSERT_NOT_NULL(fifo_ch);
    ASSERT_EQ(gt_chan_len(fifo_ch), 0);
    /* Exactly CAP sends fit without parking. */
    for (long i = 1; i <= CAP; i++) {
        ASSERT_EQ(gt_chan_send(fifo_ch, MSG(i), 0), 0);
        ASSERT_EQ(gt_chan_len(fifo_ch), i);
    }
    ASSERT_ERRNO(gt_chan_send(fifo_ch, MSG(99), 0), EAGAIN);
    ASSERT_EQ(gt_chan_len(fifo_ch), CAP);
    for (long i = 1; i <= CAP; i++) {
        ASSERT_EQ(gt_chan_recv(fifo_ch, &m, 0), 0);
        ASSERT_EQ(VAL(m), i);
    }
    ASSERT_ERRNO(gt_chan_recv(fifo_ch, &m, 0), EAGAIN);
    ASSERT_EQ(gt_chan_len(fifo_ch), 0);

    /* NULL is a message like any other. */
    ASSERT_EQ(gt_chan_send(fifo_ch, NULL, 0), 0);
    m = MSG(1);
    ASSERT_EQ(gt_chan_recv(fifo_ch, &m, 0), 0);
    ASSERT_PTR_EQ(m, NULL);

    /* A stream through a full channel keeps its order. */
    gt_t s = tu_spawn(stream_sender, NULL);
    for (long i = 1; i <= STREAM; i++) {
        ASSERT_EQ(gt_chan_recv(fifo_ch, &m, GT_FOREVER), 0);
        ASSERT_EQ(VAL(m), i);
        if (i % 1000 == 0)
            ASSERT_EQ(gt_sleep_ns(TU_MS), 0); /* let it fill up */
    }
    tu_join(s);
    ASSERT_EQ(gt_chan_len(fifo_ch), 0);
    ASSERT_EQ(gt_chan_destroy(fifo_ch), 0);
}

TEST_IMPL(chan_fifo)
{
    tu_run(fifo_test, NULL);
}

/* ---- 1,000 senders x 100 messages, 10 receivers -------------------------- */

#define SENDERS 1000
#define PER_SENDER 100
#define RECEIVERS 10
#define TOTAL (SENDERS * PER_SENDER)
static gt_chan_t *many_ch;
static unsigned char seen[TOTAL + 1];
static long recv_sum, recv_count, recv_by[RECEIVERS];
static int last_k[RECEIVERS][SENDERS];

static void many_sender(void *arg)
{
    long s = (long)(intptr_t)arg;
    for (long k = 0; k < PER_SENDER; k++)
        ASSERT_EQ(gt_chan_send(many_ch, MSG(s * PER_SENDER + k + 1),
                               GT_FOREVER), 0);
}

static void many_receiver(void *arg)
{
    int r = (int)(intptr_t)arg;
    void *m;

    for (int s = 0; s < SENDERS; s++)
        last_k[r][s] = -1;
    for (;;) {
        errno = 0;
        if (gt_chan_recv(many_ch, &m, GT_FOREVER) != 0) {
            ASSERT_EQ(errno, EPIPE);
            return;
        }
        long v = VAL(m);
        ASSERT_GE(v, 1);
        ASSERT_LE(v, TOTAL);
        seen[v]++;
        int s = (int)((v - 1) / PER_SENDER), k = (int)((v - 1) % PER_SENDER);
        ASSERT_GT(k, last_k[r][s]); /* FIFO: per sender, increasing */
        last_k[r][s] = k;
        recv_sum += v;
        recv_count++;
        recv_by[r]++;
    }
}

static void many_test(void *arg)
{
    static gt_t snd[SENDERS];
    gt_t rcv[RECEIVERS];
    (void)arg;

    many_ch = gt_chan_create(16);
    ASSERT_NOT_NULL(many_ch);
    for (int r = 0; r < RECEIVERS; r++)
        rcv[r] = tu_spawn(many_receiver, (void *)(intptr_t)r);
    for (int s = 0; s < SENDERS; s++)
        snd[s] = tu_spawn(many_sender, (void *)(intptr_t)s);
    for (int s = 0; s < SENDERS; s++)
        tu_join(snd[s]);
    ASSERT_EQ(gt_chan_close(many_ch), 0);
    for (int r = 0; r < RECEIVERS; r++)
        tu_join(rcv[r]);
    ASSERT_EQ(gt_chan_destroy(many_ch), 0);
}

TEST_IMPL(chan_many)
{
    long by = 0;
    tu_run(many_test, NULL);
    ASSERT_EQ(recv_count, TOTAL);
    ASSERT_EQ(recv_sum, (long)TOTAL * (TOTAL + 1) / 2);
    for (long v = 1; v <= TOTAL; v++)
        if (seen[v] != 1)
            FAIL("message %ld received %d times, expected once", v, seen[v]);
    for (int r = 0; r < RECEIVERS; r++)
        by += recv_by[r];
    ASSERT_EQ(by, TOTAL);
}

/* ---- timeouts ------------------------------------------------------------ */

static int bystander_ran;
static gt_chan_t *to_ch;

static void bystander(void *arg)
{
    (void)arg;
    bystander_ran = 1;
}

static void send_after_10ms(void *arg)
{
    (void)arg;
    ASSERT_EQ(gt_sleep_ns(10 * TU_MS), 0);
    ASSERT_EQ(gt_chan_send(to_ch, MSG(42), GT_FOREVER), 0);
}

static void recv_after_10ms(void *arg)
{
    void *m;
    (void)arg;
    ASSERT_EQ(gt_sleep_ns(10 * TU_MS), 0);
    ASSERT_EQ(gt_chan_recv(to_ch, &m, GT_FOREVER), 0);
    ASSERT_EQ(VAL(m), 1);
}

static void timeout_test(void *arg)
{
    void *m = MSG(7);
    int64_t t0;
    (void)arg;

    to_ch = gt_chan_create(2);
    ASSERT_NOT_NULL(to_ch);

    /* Timeout 0 does not park: a thread spawned before does not run. */
    gt_t b = tu_spawn(bystander, NULL);
    ASSERT_ERRNO(gt_chan_recv(to_ch, &m, 0), EAGAIN);
    ASSERT_EQ(VAL(m), 7); /* untouched */
    ASSERT_EQ(bystander_ran, 0);
    tu_join(b);

    t0 = tu_now_ns();
    ASSERT_ERRNO(gt_chan_recv(to_ch, &m, 20 * TU_MS), ETIMEDOUT);
    ASSERT_GE(tu_now_ns() - t0, 20 * TU_MS);

    ASSERT_EQ(gt_chan_send(to_ch, MSG(1), 0), 0);
    ASSERT_EQ(gt_chan_send(to_ch, MSG(2), 0), 0);
    bystander_ran = 0;
    b = tu_spawn(bystander, NULL);
    ASSERT_ERRNO(gt_chan_send(to_ch, MSG(3), 0), EAGAIN);
    ASSERT_EQ(bystander_ran, 0);
    tu_join(b);
    t0 = tu_now_ns();
    ASSERT_ERRNO(gt_chan_send(to_ch, MSG(3), 20 * TU_MS), ETIMEDOUT);
    ASSERT_GE(tu_now_ns() - t0, 20 * TU_MS);
    /* A send that timed out left nothing behind. */
    ASSERT_EQ(gt_chan_len(to_ch), 2);

    /* A timed send completes when a receiver makes room in time. */
    gt_t r = tu_spawn(recv_after_10ms, NULL);
    ASSERT_EQ(gt_chan_send(to_ch, MSG(3), 10000 * TU_MS), 0);
    tu_join(r);
    ASSERT_EQ(gt_chan_recv(to_ch, &m, 0), 0);
    ASSERT_EQ(VAL(m), 2);
    ASSERT_EQ(gt_chan_recv(to_ch, &m, 0), 0);
    ASSERT_EQ(VAL(m), 3);

    /* A timed recv completes when a sender delivers in time. */
    gt_t s = tu_spawn(send_after_10ms, NULL);
    ASSERT_EQ(gt_chan_recv(to_ch, &m, 10000 * TU_MS), 0);
    ASSERT_EQ(VAL(m), 42);
    tu_join(s);
    ASSERT_EQ(gt_chan_destroy(to_ch), 0);
}

TEST_IMPL(chan_timeouts)
{
    tu_run(timeout_test, NULL);
}

/* ---- close: receivers drain, then EPIPE; senders get EPIPE -------------- */

static gt_chan_t *close_ch;
static int close_waiting;
static int recv_errno[3], send_errno[2];
static long drained[8];
static int ndrained;

static void recv_until_closed(void *arg)
{
    int i = (int)(intptr_t)arg;
    void *m;
    close_waiting++;
    errno = 0;
    ASSERT_EQ(gt_chan_recv(close_ch, &m, GT_FOREVER), -1);
    recv_errno[i] = errno;
}

static void send_into_full(void *arg)
{
    int i = (int)(intptr_t)arg;
    close_waiting++;
    errno = 0;
    ASSERT_EQ(gt_chan_send(close_ch, MSG(100 + i), GT_FOREVER), -1);
    send_errno[i] = errno;
}

static void drain(void *arg)
{
    void *m;
    (void)arg;
    while (gt_chan_recv(close_ch, &m, GT_FOREVER) == 0)
        drained[ndrained++] = VAL(m);
    ASSERT_EQ(errno, EPIPE);
}

static void close_test(void *arg)
{
    gt_t t[3];
    void *m;
    (void)arg;

    /* Parked receivers on an empty channel all get EPIPE. */
    close_ch = gt_chan_create(4);
    ASSERT_NOT_NULL(close_ch);
    for (int i = 0; i < 3; i++)
        t[i] = tu_spawn(recv_until_closed, (void *)(intptr_t)i);
    while (close_waiting < 3)
        gt_yield();
    gt_yield();
    ASSERT_EQ(gt_chan_close(close_ch), 0);
    for (int i = 0; i < 3; i++) {
        tu_join(t[i]);
        ASSERT_EQ(recv_errno[i], EPIPE);
    }
    ASSERT_ERRNO(gt_chan_send(close_ch, MSG(1), GT_FOREVER), EPIPE);
    ASSERT_ERRNO(gt_chan_send(close_ch, MSG(1), 0), EPIPE);
    ASSERT_ERRNO(gt_chan_recv(close_ch, &m, 0), EPIPE);
    ASSERT_EQ(gt_chan_destroy(close_ch), 0);

    /* What was queued before the close is still delivered, in order. */
    close_ch = gt_chan_create(4);
    ASSERT_NOT_NULL(close_ch);
    for (long i = 1; i <= 3; i++)
        ASSERT_EQ(gt_chan_send(close_ch, MSG(i), 0), 0);
    ASSERT_EQ(gt_chan_close(close_ch), 0);
    ASSERT_ERRNO(gt_chan_send(close_ch, MSG(4), 0), EPIPE);
    ASSERT_EQ(gt_chan_len(close_ch), 3);
    for (long i = 1; i <= 3; i++) {
        ASSERT_EQ(gt_chan_recv(close_ch, &m, GT_FOREVER), 0);
        ASSERT_EQ(VAL(m), i);
    }
    ASSERT_ERRNO(gt_chan_recv(close_ch, &m, GT_FOREVER), EPIPE);
    ASSERT_EQ(gt_chan_destroy(close_ch), 0);

    /* Parked senders get EPIPE and their messages are not delivered. */
    close_ch = gt_chan_create(1);
    ASSERT_NOT_NULL(close_ch);
    ASSERT_EQ(gt_chan_send(close_ch, MSG(1), 0), 0);
    close_waiting = 0;
    for (int i = 0; i < 2; i++)
        t[i] = tu_spawn(send_into_full, (void *)(intptr_t)i);
    while (close_waiting < 2)
        gt_yield();
    gt_yield();
    ASSERT_EQ(gt_chan_close(close_ch), 0);
    for (int i = 0; i < 2; i++) {
        tu_join(t[i]);
        ASSERT_EQ(send_errno[i], EPIPE);
    }
    tu_join(tu_spawn(drain, NULL));
    ASSERT_EQ(ndrained, 1);
    ASSERT_EQ(drained[0], 1);
    ASSERT_EQ(gt_chan_destroy(close_ch), 0);
}

TEST_IMPL(chan_close)
{
    tu_run(close_test, NULL);
}

/* ---- a channel hands messages between threads that wait in turn -------- */

#define PINGS 10000
static gt_chan_t *ping_ch, *pong_ch;

static void ponger(void *arg)
{
    void *m;
    (void)arg;
    while (gt_chan_recv(ping_ch, &m, GT_FOREVER) == 0)
        ASSERT_EQ(gt_chan_send(pong_ch, MSG(VAL(m) + 1), GT_FOREVER), 0);
    ASSERT_EQ(errno, EPIPE);
}

static void ping_pong(void *arg)
{
    void *m;
    (void)arg;
    ping_ch = gt_chan_create(1);
    pong_ch = gt_chan_create(1);
    ASSERT_NOT_NULL(ping_ch);
    ASSERT_NOT_NULL(pong_ch);
    gt_t p = tu_spawn(ponger, NULL);
    for (long i = 0; i < PINGS; i += 2) {
        ASSERT_EQ(gt_chan_send(ping_ch, MSG(i), GT_FOREVER), 0);
        ASSERT_EQ(gt_chan_recv(pong_ch, &m, GT_FOREVER), 0);
        ASSERT_EQ(VAL(m), i + 1);
    }
    ASSERT_EQ(gt_chan_close(ping_ch), 0);
    tu_join(p);
    ASSERT_EQ(gt_chan_destroy(ping_ch), 0);
    ASSERT_EQ(gt_chan_destroy(pong_ch), 0);
}

TEST_IMPL(chan_ping_pong)
{
    tu_run(ping_pong, NULL);
}
