/*
 * forged_waits.c - waits whose objects lie: a reader of who blocks whom
 * must say what it found, never crash, never name a thread it did not
 * find.
 *
 * Usage: forged_waits
 *
 * Each "holder-N" locks mutex N and sleeps an hour holding it; each
 * "waiter-N" then parks on mutex N.  Once all are parked, the main thread
 * forges (the runtime never looks at these fields again while they wait):
 *
 *   waiter-1  mutex 1's owner: its holder's record address + 8, inside a
 *             record but no record's start          -> an unknown thread
 *   waiter-2  mutex 2's magic: 0x1234                  -> not a mutex
 *   waiter-3  its own thread record's wait_obj: 0x10 (seq bumped twice
 *             around the write, as the runtime writes) -> unreadable
 *   waiter-4  mutex 4's owner: waiter-4's own record   -> a deadlock of
 *             one thread
 *   "chanrx"  receives from an empty channel, whose magic (found through
 *             the registry's GT_REC_CHAN layout) is then 0x1234
 *                                                      -> not a channel
 *
 * It prints "ready PID m1=ADDR m2=ADDR m3=ADDR m4=ADDR owner1=ADDR
 * chan=ADDR waiter1=ID waiter2=ID waiter3=ID waiter4=ID chanrx=ID" (ids
 * decimal, addresses decimal too) and waits on stdin; end of stdin ends
 * it.
 */
#include <gt.h>
#include <gt/registry.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HOUR_NS (3600ll * 1000000000ll)
#define N 4

static gt_mutex_t mu[N];
static gt_chan_t *chan;
static int held;

static void holder_main(void *arg)
{
    gt_mutex_lock(arg);
    held++;
    gt_sleep_ns(HOUR_NS);
}

static void waiter_main(void *arg)
{
    gt_mutex_lock(arg);
}

static void chanrx_main(void *arg)
{
    (void)arg;
    void *msg;
    gt_chan_recv(chan, &msg, GT_FOREVER);
}

static uint64_t spawn_named(const char *name, void (*fn)(void *), void *arg)
{
    gt_t t;
    gt_attr_t a = {0};
    a.name = name;
    a.detached = 1;
    if (gt_spawn(&t, fn, arg, &a) < 0) {
        perror("forged_waits: gt_spawn");
        exit(2);
    }
    return gt_id(t);
}

/* Offset of field ID of record kind REC by the registry's layout table. */
static uint32_t field_offset(int rec, int id)
{
    const struct gt_field *f = (const struct gt_field *)(uintptr_t)gt_registry.layout;
    for (uint32_t i = 0; i < gt_registry.nlayout; i++)
        if (f[i].rec == rec && f[i].id == id)
            return f[i].offset;
    fprintf(stderr, "forged_waits: no layout for %d/%d\n", rec, id);
    exit(2);
}

/* The registry record of the thread with id ID. */
static struct gt_thread_rec *record_of(uint64_t id)
{
    uint32_t size = 0;
    const struct gt_field *f = (const struct gt_field *)(uintptr_t)gt_registry.layout;
    for (uint32_t i = 0; i < gt_registry.nlayout; i++)
        if (f[i].rec == GT_REC_THREAD && f[i].id == 0)
            size = f[i].size;
    uint8_t **chunks = (uint8_t **)(uintptr_t)gt_registry.thread_chunks;
    for (uint64_t s = 0; s < gt_registry.thread_slots; s++) {
        struct gt_thread_rec *r = (struct gt_thread_rec *)(
            chunks[s / gt_registry.threads_per_chunk] +
            (s % gt_registry.threads_per_chunk) * size);
        if (r->state != GT_STATE_FREE && r->id == id)
            return r;
    }
    fprintf(stderr, "forged_waits: no record of thread %" PRIu64 "\n", id);
    exit(2);
}

static void main_thread(void *arg)
{
    (void)arg;
    static const char *hn[N] = {"holder-1", "holder-2", "holder-3", "holder-4"};
    static const char *wn[N] = {"waiter-1", "waiter-2", "waiter-3", "waiter-4"};
    uint64_t w[N], rx;
    for (int i = 0; i < N; i++) {
        gt_mutex_init(&mu[i]);
        spawn_named(hn[i], holder_main, &mu[i]);
    }
    while (held < N)
        gt_sleep_ns(1000000);
    for (int i = 0; i < N; i++)
        w[i] = spawn_named(wn[i], waiter_main, &mu[i]);
    chan = gt_chan_create(4);
    rx = spawn_named("chanrx", chanrx_main, NULL);
    gt_sleep_ns(50 * 1000000); /* every waiter parks */

    uint64_t owner1 = (uint64_t)(uintptr_t)mu[0].owner;
    mu[0].owner = (void *)(uintptr_t)(owner1 + 8);
    mu[1].magic = 0x1234;
    struct gt_thread_rec *r3 = record_of(w[2]);
    __atomic_store_n(&r3->seq, r3->seq + 1, __ATOMIC_RELEASE);
    r3->wait_obj = 0x10;
    __atomic_store_n(&r3->seq, r3->seq + 1, __ATOMIC_RELEASE);
    mu[3].owner = (void *)record_of(w[3]);
    uint64_t magic = 0x1234;
    memcpy((uint8_t *)chan + field_offset(GT_REC_CHAN, GT_F_CHAN_MAGIC), &magic, 8);

    printf("ready %d m1=%" PRIuPTR " m2=%" PRIuPTR " m3=%" PRIuPTR " m4=%" PRIuPTR
           " owner1=%" PRIu64 " chan=%" PRIuPTR " waiter1=%" PRIu64 " waiter2=%" PRIu64
           " waiter3=%" PRIu64 " waiter4=%" PRIu64 " chanrx=%" PRIu64 "\n",
           (int)getpid(), (uintptr_t)&mu[0], (uintptr_t)&mu[1], (uintptr_t)&mu[2],
           (uintptr_t)&mu[3], owner1, (uintptr_t)chan, w[0], w[1], w[2], w[3], rx);
    fflush(stdout);
    char buf[64];
    while (read(0, buf, sizeof(buf)) > 0)
        ;
    exit(0); /* the waiters never wake: gt_main would call it a deadlock */
}

int main(void)
{
    return gt_main(main_thread, NULL) < 0 ? 1 : 0;
}
