/*
 * scribbler.c - a live gt program that keeps damaging its own registry,
 * for readers that must never crash, hang or invent a thread.
 *
 * Usage: scribbler NWORK SEED
 *
 *   NWORK threads "worker" loop forever: sleep 0 to 500 us, lock a mutex,
 *   signal a condition, send on a channel (so records, locations and
 *   edges keep changing); one thread "scribbler" loops forever: it writes
 *   random values into 1 to 16 registry fields at once (the header's
 *   counts, chunk pointers, page size, layout pointer, state tallies and
 *   current thread; the chunk pointer arrays; thread records' seq, state,
 *   flags, location, name, stack bounds, saved registers and wait objects;
 *   the workers' mutex's owner, magic and hold time; location records'
 *   index, depth and pcs; edge endpoints), busy-waits 3 ms, puts
 *   every byte back and sleeps 300 us.
 *
 * The runtime never sees its registry damaged: the scribbler restores it
 * before it lets another green thread run (one kernel thread runs them
 * all), so the workers keep running normally while a reader, from
 * outside, finds the registry damaged about nine times in ten.  Thread
 * ids are never written: they are 1 (main) to the last id printed.
 *
 * It prints "ready PID MAXID" once every thread is spawned (MAXID: the
 * largest thread id it ever creates), and runs until killed.
 */
#include <gt.h>
#include <gt/registry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_SCRIBBLES 16

static uint64_t rng_state;

static uint64_t rnd(void)
{
    /* xorshift64*: any seed but 0 */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

/* A damaged field: where, how wide, and what it held. */
struct scribble {
    uint8_t *at;
    size_t len;
    uint8_t old[32];
};

/* A value hostile to a field holding OLD: random, extreme, off by a
 * little, a flipped bit, a power of two. */
static uint64_t hostile(uint64_t old)
{
    switch (rnd() % 9) {
    case 0: return rnd();
    case 1: return 0;
    case 2: return ~0ull;
    case 3: return rnd() % 64;
    case 4: return old + (rnd() % 33) * 8 - 128;
    case 5: return old ^ (1ull << (rnd() % 64));
    case 6: return 1ull << (rnd() % 64);
    case 7: return 0xffffffffull - rnd() % 4;
    default: return old + rnd() % 4096;
    }
}

/* Marks LEN bytes at AT as the field to damage (damage() writes it). */
static void put(struct scribble *s, void *at, size_t len)
{
    s->at = at;
    s->len = len;
}

/* Damages the field S marks, keeping what it held. */
static void damage(struct scribble *s)
{
    void *at = s->at;
    size_t len = s->len;
    memcpy(s->old, at, len);
    if (len == 32) {             /* a name: random bytes, some controls */
        for (size_t i = 0; i < len; i++)
            s->at[i] = (uint8_t)rnd();
        return;
    }
    uint64_t v = 0;
    memcpy(&v, at, len);
    v = hostile(v);
    memcpy(at, &v, len);
}

#define FIELD(s, p) put((s), &(p), sizeof(p))

static gt_mutex_t mu = GT_MUTEX_INITIALIZER;

static struct gt_thread_rec *thread_rec(uint64_t slot)
{
    struct gt_registry *r = &gt_registry;
    uint64_t per = r->threads_per_chunk;
    struct gt_thread_rec **chunks = (struct gt_thread_rec **)(uintptr_t)r->thread_chunks;
    return &chunks[slot / per][slot % per];
}

/* Chooses one field of the registry at random, from the registry as the
 * runtime keeps it (before any field is damaged). */
static void scribble_one(struct scribble *s)
{
    struct gt_registry *r = &gt_registry;
    uint64_t slot = rnd() % r->thread_slots;
    struct gt_thread_rec *t = thread_rec(slot);
    struct gt_location_rec **lc = (struct gt_location_rec **)(uintptr_t)r->loc_chunks;
    struct gt_location_rec *l = r->loc_count
        ? &lc[0][rnd() % (r->loc_count < r->locs_per_chunk ? r->loc_count : r->locs_per_chunk)]
        : NULL;
    struct gt_edge_rec **ec = (struct gt_edge_rec **)(uintptr_t)r->edge_chunks;
    struct gt_edge_rec *e = r->edge_count
        ? &ec[0][rnd() % (r->edge_count < r->edges_per_chunk ? r->edge_count : r->edges_per_chunk)]
        : NULL;
    /* Mostly records (each of many threads), a header field one time in
     * four: a damaged header ends most reads at once. */
    unsigned pick = rnd() % 4 ? 15 + (unsigned)(rnd() % 24) : (unsigned)(rnd() % 15);
    switch (pick) {
    case 0: FIELD(s, r->thread_chunks); break;
    case 1: FIELD(s, r->thread_chunk_count); break;
    case 2: FIELD(s, r->threads_per_chunk); break;
    case 3: FIELD(s, r->thread_slots); break;
    case 4: FIELD(s, r->loc_chunks); break;
    case 5: FIELD(s, r->loc_count); break;
    case 6: FIELD(s, r->locs_per_chunk); break;
    case 7: FIELD(s, r->edge_chunks); break;
    case 8: FIELD(s, r->edge_count); break;
    case 9: FIELD(s, r->page_size); break;
    case 10: FIELD(s, r->nstate[rnd() % (GT_STATE_EXITED + 1)]); break;
    case 11: FIELD(s, r->current); break;
    case 12: FIELD(s, r->layout); break;
    case 13: FIELD(s, r->nlayout); break;
    case 14: FIELD(s, ((uint64_t *)(uintptr_t)r->thread_chunks)[0]); break;
    case 15: FIELD(s, t->seq); break;
    case 16: FIELD(s, t->state); break;
    case 17: FIELD(s, t->flags); break;
    case 18: FIELD(s, t->location); break;
    case 19: put(s, t->name, sizeof(t->name)); break;
    case 20: FIELD(s, t->stack_lo); break;
    case 21: FIELD(s, t->stack_hi); break;
    case 22: FIELD(s, t->ctx[GT_CTX_SP]); break;
    case 23: FIELD(s, t->ctx[GT_CTX_PC]); break;
    case 24: FIELD(s, t->ctx[GT_CTX_RBP]); break;
    case 25: FIELD(s, t->ctx[rnd() % GT_CTX_NREGS]); break;
    case 26: FIELD(s, t->wait_kind); break;
    case 27: FIELD(s, t->wait_since); break;
    case 28: if (l) { FIELD(s, l->index); break; } /* fall through */
    case 29: if (l) { FIELD(s, l->depth); break; } /* fall through */
    case 30: if (l) { FIELD(s, l->pcs[rnd() % GT_LOCATION_DEPTH_MAX]); break; } /* fall through */
    case 31: if (e) { FIELD(s, e->from); break; } /* fall through */
    case 32: if (e) { FIELD(s, e->to); break; } /* fall through */
    /* What who-blocks-whom reads: a wait object, the mutex behind it. */
    case 34: FIELD(s, t->wait_obj); break;
    case 35: FIELD(s, t->wait_arg); break;
    case 36: FIELD(s, mu.owner); break;
    case 37: FIELD(s, mu.magic); break;
    case 38: FIELD(s, mu.held_since); break;
    default: FIELD(s, r->clock_now); break;
    }
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void scribbler_main(void *arg)
{
    (void)arg;
    struct scribble s[MAX_SCRIBBLES];
    for (;;) {
        size_t n = 1 + rnd() % MAX_SCRIBBLES;
        for (size_t i = 0; i < n; i++)
            scribble_one(&s[i]);
        for (size_t i = 0; i < n; i++)
            damage(&s[i]);
        /* Nothing else runs meanwhile: only readers from outside see it. */
        for (uint64_t end = now_ns() + 3000000; now_ns() < end;)
            ;
        for (size_t i = n; i-- > 0;)  /* in reverse: a field hit twice */
            memcpy(s[i].at, s[i].old, s[i].len);
        gt_sleep_ns(300000);
    }
}

static gt_cond_t cv = GT_COND_INITIALIZER;
static gt_chan_t *ch;

static void worker_main(void *arg)
{
    uint64_t seed = (uintptr_t)arg * 2654435761u + 1;
    for (;;) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        gt_sleep_ns((int64_t)((seed >> 33) % 500000));
        gt_mutex_lock(&mu);
        gt_cond_signal(&cv);
        gt_mutex_unlock(&mu);
        void *msg = NULL;
        if (gt_chan_send(ch, msg, 0) < 0)
            gt_chan_recv(ch, &msg, 0);
    }
}

static void main_thread(void *arg)
{
    long nwork = *(long *)arg;
    uint64_t maxid = gt_id(gt_self());
    ch = gt_chan_create(4);
    if (!ch)
        abort();
    for (long i = 0; i <= nwork; i++) {
        gt_attr_t at = {.name = i < nwork ? "worker" : "scribbler", .detached = 1};
        gt_t h;
        if (gt_spawn(&h, i < nwork ? worker_main : scribbler_main,
                     (void *)(uintptr_t)i, &at) < 0) {
            perror("gt_spawn");
            exit(1);
        }
        if (gt_id(h) > maxid)
            maxid = gt_id(h);
    }
    printf("ready %d %llu\n", (int)getpid(), (unsigned long long)maxid);
    fflush(stdout);
    for (;;)
        gt_sleep_ns(1000000000);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s NWORK SEED\n", argv[0]);
        return 2;
    }
    long n = atol(argv[1]);
    rng_state = strtoull(argv[2], NULL, 10) | 1;
    return gt_main(main_thread, &n) == 0 ? 0 : 1;
}
