/*
 * test_location_walk.c - the frame-pointer walk that names a park's
 * location stops at a word that cannot be a return address.
 *
 * Code built without frame pointers (Debian's libapr, say) uses rbp as an
 * ordinary register: an interposed call made from it finds in rbp a value
 * that may point into the stack, at words that are no frame (a stack
 * canary, a small integer).  Readers then showed "apr_socket_accept <
 * 0xca4e40881982f600" as Apache's listener's location.
 */
#include "test.h"

#include <gt/registry.h>
#include <stdbool.h>
#include <unistd.h>

#define CANARY 0xca4e40881982f600ull /* a stack protector's value */

static int fds[2];

/* Calls read(fds[0]) with rbp pointing at a stack slot that looks like a
 * frame: its next word, where a return address would be, is CANARY. */
__attribute__((noinline)) static void read_with_junk_rbp(void *arg)
{
    (void)arg;
    volatile uint64_t junk[4] = {0, CANARY, 0, 0};
    junk[0] = (uint64_t)(uintptr_t)&junk[2];
    char c = 0;
    long r;
    /* Past the red zone, rbp saved, the stack 16-byte aligned at the call. */
    __asm__ volatile("lea -128(%%rsp), %%rsp\n\t"
                     "push %%rbp\n\t"
                     "sub $8, %%rsp\n\t"
                     "mov %[junk], %%rbp\n\t"
                     "call read@PLT\n\t"
                     "add $8, %%rsp\n\t"
                     "pop %%rbp\n\t"
                     "lea 128(%%rsp), %%rsp\n\t"
                     : "=a"(r)
                     : "D"(fds[0]), "S"(&c), "d"(1L), [junk] "r"(junk)
                     : "rcx", "r8", "r9", "r10", "r11", "memory", "cc");
    ASSERT_EQ(r, 1);
    ASSERT_EQ(c, 'x');
}

static struct gt_location_rec *loc(uint32_t i)
{
    struct gt_location_rec **c = (struct gt_location_rec **)(uintptr_t)gt_registry.loc_chunks;
    return &c[i / gt_registry.locs_per_chunk][i % gt_registry.locs_per_chunk];
}

/* The location whose call site is in read_with_junk_rbp, once a thread
 * waits there; 0 before. */
static uint32_t junk_loc(void)
{
    uintptr_t fn = (uintptr_t)read_with_junk_rbp;
    for (uint32_t i = 1; i < gt_registry.loc_count; i++)
        if (loc(i)->pcs[0] > fn && loc(i)->pcs[0] < fn + 512 &&
            loc(i)->waiting)
            return i;
    return 0;
}

static void walk_main(void *arg)
{
    (void)arg;
    ASSERT_OK(pipe(fds));
    gt_t t = tu_spawn(read_with_junk_rbp, NULL);
    uint32_t l;
    while (!(l = junk_loc()))
        gt_yield();
    struct gt_location_rec *r = loc(l);
    /* The call site is known; the walk stopped before the canary. */
    ASSERT_EQ(r->depth, 1);
    for (uint32_t i = 1; i < gt_registry.loc_count; i++)
        for (uint32_t d = 0; d < loc(i)->depth; d++)
            ASSERT(loc(i)->pcs[d] != CANARY);
    ASSERT_EQ(write(fds[1], "x", 1), 1);
    tu_join(t);
}

TEST_IMPL(location_walk_stops_at_junk)
{
    ASSERT_OK(gt_set_location_depth(4));
    tu_run(walk_main, NULL);
}
