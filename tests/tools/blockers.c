/*
 * blockers.c - who blocks whom, with ground truth: a lock holder and its
 * waiters, deadlock cycles among busy threads, a joiner, and on demand a
 * thread that computes without yielding.
 *
 * Usage: blockers [-n BUSY] [-w WAITERS] [-x] [-c PAIRS]
 *        (stdin: commands; stdout: ground truth, one "NAME {JSON}" line each)
 *
 * Threads (name, entry -> where it waits):
 *
 *   "holder"    holder_main -> truth_holder: locks `held`, then sleeps an
 *               hour holding it                         sleep  (LINE:holder)
 *   "waiter"    waiter_main -> truth_wait_lock: locks `held`  (WAITERS, 50)
 *                                                       mutex  (LINE:wait_lock)
 *   "cyc2-a/b"  cycle_main -> cycle_first, then cycle_second: each locks
 *               its own mutex, waits until every member of its cycle holds
 *               one, then locks the next member's: a two-thread cycle
 *                                                       mutex  (LINE:second)
 *   "cyc3-a/b/c" the same with three threads and three mutexes
 *   "bystander" bystander_main -> bystander_lock: locks cyc2-a's mutex.
 *               Held up by a cycle, in none                mutex  (LINE:bystander)
 *   "sleeper"   sleeper_main -> sleeper_wait: sleeps an hour  sleep (LINE:sleeper)
 *   "joiner"    joiner_main -> join_here: joins "sleeper"     join  (LINE:join)
 *   "busy"      busy_main -> busy_serve: sleeps 50-150 ms, computes a
 *               little, again: a server's request threads (BUSY, 1000)
 *                                                       sleep  (LINE:serve)
 *   "main"      main_thread -> main_wait: reads stdin       fd     (LINE:stdin)
 *
 * With -x, waits on a condition variable and on channels too:
 *
 *   "condwait"  condwait_main -> cond_wait_here: waits on `cond`, to
 *               retake `cond_mu`                           cond   (LINE:cond)
 *   "condheld"  condheld_main -> cond_hold: once condwait waits, locks
 *               `cond_mu` and sleeps an hour holding it    sleep  (LINE:condheld)
 *   "chan-rx"   chan_rx_main -> chan_recv_here: receives from `chan_empty`,
 *               capacity 4, empty (2 of them)          chan_recv  (LINE:chan_recv)
 *   "chan-tx"   chan_tx_main -> chan_send_here: sends to `chan_full`,
 *               capacity 1, filled by main (3 of them)  chan_send (LINE:chan_send)
 *
 * With -c PAIRS, PAIRS more two-thread cycles, "pair-a" and "pair-b",
 * each on mutexes of its own, as cyc2-a/b (the worst case of a deadlock
 * analysis: every thread in a cycle, every mutex distinct); the truth
 * line counts them ("pairs").
 *
 * When every thread above has parked where it stays, it prints
 * "truth {JSON}": the ids of each part, the mutex addresses, and the clock
 * (gt_now_ns) just before the holder was spawned and just after it took
 * `held`, which bound its hold: the runtime stamps the hold with its last
 * clock reading (gt/registry.h, HOLD TIMES), which the main thread's sleep
 * took after held_lo (a real reading, and readings never go back).  Commands on stdin:
 *
 *   spin S      spawns "spinner": spinner_main -> spin_here computes for S
 *               seconds without yielding; just before it starts it prints
 *               "spinning {JSON}" (its id, the clock) with a raw write, and
 *               when done "spun {JSON}" with the clock again
 *   abort       abort(): with `ulimit -c unlimited`, a kernel core (send
 *               SIGABRT from outside instead to catch a spinner mid-spin)
 *
 * End of stdin ends the program.  Every function the tests name is global
 * and noinline, and none ends in a tail call.
 */
#include <gt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))
#define KEEP() __asm__ volatile("" ::: "memory") /* not a tail call */

#define HOUR_NS (3600ll * 1000000000ll)
#define MAX_WAITERS 4096
#define MAX_BUSY 100000

static gt_mutex_t held = GT_MUTEX_INITIALIZER;
static gt_mutex_t cyc2_mu[2] = {GT_MUTEX_INITIALIZER, GT_MUTEX_INITIALIZER};
static gt_mutex_t cyc3_mu[3] = {GT_MUTEX_INITIALIZER, GT_MUTEX_INITIALIZER,
                                GT_MUTEX_INITIALIZER};
static int64_t held_lo, held_hi;
static int cyc2_taken, cyc3_taken; /* members holding their first mutex */
static gt_t sleeper;
static volatile uint64_t sink;
static gt_mutex_t cond_mu = GT_MUTEX_INITIALIZER;
static gt_cond_t cond = GT_COND_INITIALIZER;
static int cond_waiting;
static uint64_t msg_word; /* what the channels carry */
static gt_chan_t *chan_empty, *chan_full;

/* Prints with one write(2) straight to the kernel: stdout through stdio
 * could park the caller (a pipe) or, for the spinner, yield. */
static void say(const char *line)
{
    size_t n = strlen(line);
    while (n) {
        ssize_t w = syscall(SYS_write, 1, line, n);
        if (w <= 0)
            return;
        line += w;
        n -= (size_t)w;
    }
}

NOINLINE void truth_holder(void)
{
    gt_mutex_lock(&held);
    held_hi = gt_now_ns();
    gt_sleep_ns(HOUR_NS); /* LINE:holder */
    KEEP();
}

NOINLINE void holder_main(void *arg)
{
    (void)arg;
    truth_holder();
    KEEP();
}

NOINLINE void truth_wait_lock(void)
{
    gt_mutex_lock(&held); /* LINE:wait_lock */
    KEEP();
}

NOINLINE void waiter_main(void *arg)
{
    (void)arg;
    truth_wait_lock();
    KEEP();
}

struct member {
    gt_mutex_t *mine, *next;
    int *taken;
    int size;
};

NOINLINE void cycle_second(gt_mutex_t *m)
{
    gt_mutex_lock(m); /* LINE:second */
    KEEP();
}

NOINLINE void cycle_first(struct member *me)
{
    gt_mutex_lock(me->mine);
    ++*me->taken;
    while (*me->taken < me->size)
        gt_sleep_ns(1000000);
    cycle_second(me->next);
    KEEP();
}

NOINLINE void cycle_main(void *arg)
{
    cycle_first(arg);
    KEEP();
}

NOINLINE void bystander_lock(void)
{
    gt_mutex_lock(&cyc2_mu[0]); /* LINE:bystander */
    KEEP();
}

NOINLINE void bystander_main(void *arg)
{
    (void)arg;
    while (cyc2_taken < 2)
        gt_sleep_ns(1000000);
    bystander_lock();
    KEEP();
}

NOINLINE void sleeper_wait(void)
{
    gt_sleep_ns(HOUR_NS); /* LINE:sleeper */
    KEEP();
}

NOINLINE void sleeper_main(void *arg)
{
    (void)arg;
    sleeper_wait();
    KEEP();
}

NOINLINE void join_here(void)
{
    gt_join(sleeper); /* LINE:join */
    KEEP();
}

NOINLINE void joiner_main(void *arg)
{
    (void)arg;
    join_here();
    KEEP();
}

NOINLINE void cond_wait_here(void)
{
    gt_mutex_lock(&cond_mu);
    cond_waiting = 1;
    gt_cond_wait(&cond, &cond_mu); /* LINE:cond */
    KEEP();
}

NOINLINE void condwait_main(void *arg)
{
    (void)arg;
    cond_wait_here();
    KEEP();
}

NOINLINE void cond_hold(void)
{
    while (!cond_waiting)
        gt_sleep_ns(1000000);
    gt_mutex_lock(&cond_mu);
    gt_sleep_ns(HOUR_NS); /* LINE:condheld */
    KEEP();
}

NOINLINE void condheld_main(void *arg)
{
    (void)arg;
    cond_hold();
    KEEP();
}

NOINLINE void chan_recv_here(void)
{
    void *msg;
    gt_chan_recv(chan_empty, &msg, GT_FOREVER); /* LINE:chan_recv */
    KEEP();
}

NOINLINE void chan_rx_main(void *arg)
{
    (void)arg;
    chan_recv_here();
    KEEP();
}

NOINLINE void chan_send_here(void)
{
    gt_chan_send(chan_full, &msg_word, GT_FOREVER); /* LINE:chan_send */
    KEEP();
}

NOINLINE void chan_tx_main(void *arg)
{
    (void)arg;
    chan_send_here();
    KEEP();
}

NOINLINE void busy_serve(uint64_t seed)
{
    for (;;) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        gt_sleep_ns((int64_t)(50 + (seed >> 33) % 101) * 1000000); /* LINE:serve */
        for (int i = 0; i < 200; i++)
            sink += seed >> (i & 31);
    }
}

NOINLINE void busy_main(void *arg)
{
    busy_serve((uint64_t)(uintptr_t)arg);
    KEEP();
}

NOINLINE void spin_here(int64_t ns)
{
    int64_t start = gt_now_ns();
    uint64_t x = (uint64_t)start;
    while (gt_now_ns() - start < ns)
        for (int i = 0; i < 1000; i++)
            x = x * 2862933555777941757ull + 3037000493ull;
    sink = x;
    KEEP();
}

NOINLINE void spinner_main(void *arg)
{
    int64_t ns = (int64_t)(intptr_t)arg;
    char line[160];
    snprintf(line, sizeof(line), "spinning {\"id\": %" PRIu64 ", \"start_ns\": %" PRId64
             ", \"spin_ns\": %" PRId64 "}\n", gt_id(gt_self()), gt_now_ns(), ns);
    say(line);
    spin_here(ns);
    snprintf(line, sizeof(line), "spun {\"id\": %" PRIu64 ", \"end_ns\": %" PRId64 "}\n",
             gt_id(gt_self()), gt_now_ns());
    say(line);
    KEEP();
}

static uint64_t spawn_named(const char *name, void (*fn)(void *), void *arg,
                            gt_t *out)
{
    gt_t t;
    gt_attr_t a = {0};
    a.name = name;
    a.detached = out == NULL;
    if (gt_spawn(&t, fn, arg, &a) < 0) {
        perror("blockers: gt_spawn");
        exit(2);
    }
    if (out)
        *out = t;
    return gt_id(t); /* it has not run yet: the handle is good */
}

/* Appends "[id, id, ...]" of N ids to P, advancing it. */
static char *ids_json(char *p, const uint64_t *ids, int n)
{
    *p++ = '[';
    for (int i = 0; i < n; i++)
        p += sprintf(p, "%s%" PRIu64, i ? ", " : "", ids[i]);
    *p++ = ']';
    *p = 0;
    return p;
}

static int nbusy = 1000, nwaiters = 50, extras, npairs;
#define MAX_PAIRS 500000

NOINLINE void main_wait(char *buf, size_t len, ssize_t *n)
{
    *n = read(0, buf, len - 1); /* LINE:stdin */
    KEEP();
}

NOINLINE void main_thread(void *arg)
{
    (void)arg;
    static uint64_t waiters[MAX_WAITERS];
    static struct member m2[2], m3[3];
    uint64_t holder, c2[2], c3[3], bystander, joiner, sleeper_id;

    held_lo = gt_now_ns();
    holder = spawn_named("holder", holder_main, NULL, NULL);
    while (!held.owner)
        gt_sleep_ns(1000000);
    for (int i = 0; i < nwaiters; i++)
        waiters[i] = spawn_named("waiter", waiter_main, NULL, NULL);
    for (int i = 0; i < 2; i++) {
        m2[i] = (struct member){&cyc2_mu[i], &cyc2_mu[(i + 1) % 2], &cyc2_taken, 2};
        c2[i] = spawn_named(i ? "cyc2-b" : "cyc2-a", cycle_main, &m2[i], NULL);
    }
    for (int i = 0; i < 3; i++) {
        static const char *names[] = {"cyc3-a", "cyc3-b", "cyc3-c"};
        m3[i] = (struct member){&cyc3_mu[i], &cyc3_mu[(i + 1) % 3], &cyc3_taken, 3};
        c3[i] = spawn_named(names[i], cycle_main, &m3[i], NULL);
    }
    bystander = spawn_named("bystander", bystander_main, NULL, NULL);
    sleeper_id = spawn_named("sleeper", sleeper_main, NULL, &sleeper);
    joiner = spawn_named("joiner", joiner_main, NULL, NULL);
    for (int i = 0; i < nbusy; i++)
        spawn_named("busy", busy_main, (void *)(uintptr_t)(i + 1), NULL);
    uint64_t condwait = 0, condheld = 0, rx[2] = {0}, tx[3] = {0};
    if (extras) {
        chan_empty = gt_chan_create(4);
        chan_full = gt_chan_create(1);
        if (!chan_empty || !chan_full || gt_chan_send(chan_full, &msg_word, 0) < 0) {
            perror("blockers: channels");
            exit(2);
        }
        condwait = spawn_named("condwait", condwait_main, NULL, NULL);
        condheld = spawn_named("condheld", condheld_main, NULL, NULL);
        for (int i = 0; i < 2; i++)
            rx[i] = spawn_named("chan-rx", chan_rx_main, NULL, NULL);
        for (int i = 0; i < 3; i++)
            tx[i] = spawn_named("chan-tx", chan_tx_main, NULL, NULL);
    }
    /* Each pair: two mutexes, a count of members holding their first. */
    struct pair {
        gt_mutex_t mu[2];
        int taken;
        struct member m[2];
    } *pairs = calloc((size_t)npairs + 1, sizeof(*pairs));
    if (!pairs) {
        perror("blockers: pairs");
        exit(2);
    }
    for (int i = 0; i < npairs; i++) {
        struct pair *pr = &pairs[i];
        for (int k = 0; k < 2; k++) {
            gt_mutex_init(&pr->mu[k]);
            pr->m[k] = (struct member){&pr->mu[k], &pr->mu[1 - k], &pr->taken, 2};
        }
        for (int k = 0; k < 2; k++)
            spawn_named(k ? "pair-b" : "pair-a", cycle_main, &pr->m[k], NULL);
    }
    /* Settle: every cycle closed, the bystander and waiters parked. */
    while (cyc2_taken < 2 || cyc3_taken < 3)
        gt_sleep_ns(1000000);
    for (int i = 0; i < npairs; i++)
        while (pairs[i].taken < 2)
            gt_sleep_ns(1000000);
    gt_sleep_ns(50 * 1000000);

    static char line[MAX_WAITERS * 24 + 2048];
    char *p = line;
    p += sprintf(p, "truth {\"pid\": %d, \"holder\": %" PRIu64
                 ", \"mutex\": %" PRIuPTR ", \"held_lo\": %" PRId64
                 ", \"held_hi\": %" PRId64 ", \"waiters\": ",
                 (int)getpid(), holder, (uintptr_t)&held, held_lo, held_hi);
    p = ids_json(p, waiters, nwaiters);
    p += sprintf(p, ", \"cycle2\": ");
    p = ids_json(p, c2, 2);
    p += sprintf(p, ", \"cycle2_mutexes\": [%" PRIuPTR ", %" PRIuPTR "]",
                 (uintptr_t)&cyc2_mu[0], (uintptr_t)&cyc2_mu[1]);
    p += sprintf(p, ", \"cycle3\": ");
    p = ids_json(p, c3, 3);
    p += sprintf(p, ", \"cycle3_mutexes\": [%" PRIuPTR ", %" PRIuPTR ", %" PRIuPTR "]",
                 (uintptr_t)&cyc3_mu[0], (uintptr_t)&cyc3_mu[1],
                 (uintptr_t)&cyc3_mu[2]);
    p += sprintf(p, ", \"bystander\": %" PRIu64 ", \"sleeper\": %" PRIu64
                 ", \"joiner\": %" PRIu64 ", \"busy\": %d, \"pairs\": %d",
                 bystander, sleeper_id, joiner, nbusy, npairs);
    if (extras) {
        p += sprintf(p, ", \"cond\": %" PRIuPTR ", \"cond_mutex\": %" PRIuPTR
                     ", \"condwait\": %" PRIu64 ", \"condheld\": %" PRIu64
                     ", \"chan_empty\": %" PRIuPTR ", \"chan_full\": %" PRIuPTR
                     ", \"chan_rx\": ", (uintptr_t)&cond, (uintptr_t)&cond_mu,
                     condwait, condheld, (uintptr_t)chan_empty, (uintptr_t)chan_full);
        p = ids_json(p, rx, 2);
        p += sprintf(p, ", \"chan_tx\": ");
        p = ids_json(p, tx, 3);
    }
    p += sprintf(p, "}\n");
    say(line);

    char buf[256];
    ssize_t n;
    for (;;) {
        main_wait(buf, sizeof(buf), &n);
        if (n <= 0)
            break;
        buf[n] = 0;
        double s;
        if (sscanf(buf, "spin %lf", &s) == 1 && s > 0 && s < 3600)
            spawn_named("spinner", spinner_main,
                        (void *)(intptr_t)(int64_t)(s * 1e9), NULL);
        else if (strncmp(buf, "abort", 5) == 0)
            abort();
    }
    exit(0); /* the cycles never end: gt_main would report them */
}

int main(int argc, char **argv)
{
    int c;
    while ((c = getopt(argc, argv, "n:w:xc:")) != -1) {
        if (c == 'c')
            npairs = atoi(optarg);
        else if (c == 'n')
            nbusy = atoi(optarg);
        else if (c == 'x')
            extras = 1;
        else if (c == 'w')
            nwaiters = atoi(optarg);
        else
            return 2;
    }
    if (nbusy < 0 || nbusy > MAX_BUSY || nwaiters < 0 || nwaiters > MAX_WAITERS ||
        npairs < 0 || npairs > MAX_PAIRS) {
        fprintf(stderr, "blockers: -n 0..%d, -w 0..%d, -x, -c 0..%d\n", MAX_BUSY,
                MAX_WAITERS, MAX_PAIRS);
        return 2;
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    return gt_main(main_thread, NULL) < 0 ? 1 : 0;
}
