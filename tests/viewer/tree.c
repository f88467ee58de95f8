/*
 * tree.c - a fixture for gt-top's tree (F5): threads that spawn threads,
 * each named after its place, so the test knows every thread's parent
 * from its name alone.
 *
 * Usage: tree NBRANCH NLEAF
 *
 *   the main thread spawns NBRANCH threads "branch-K" (K from 0), then
 *   reads stdin;
 *   each branch sleeps first (so that every branch is spawned, and has a
 *   lower id, before any leaf), spawns NLEAF threads "leaf-K-J" (J from
 *   0), then parks for ever;
 *   each leaf parks for ever.
 *
 * By id, the branches come first and then the leaves; in the tree each
 * branch's leaves come right under it.  It prints "ready PID" once every
 * thread has started.  End of stdin ends the program.
 */
#include <gt.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static gt_chan_t *never;     /* nothing is ever sent on it */
static long nbranch, nleaf;

static void park(void)
{
    void *msg;
    gt_chan_recv(never, &msg, GT_FOREVER);
}

static void leaf_main(void *arg)
{
    (void)arg;
    park();
}

static void spawn_named(void (*fn)(void *), void *arg, const char *name)
{
    gt_attr_t at = {.name = name, .detached = 1};
    if (gt_spawn(NULL, fn, arg, &at) < 0) {
        perror("gt_spawn");
        exit(1);
    }
}

static void branch_main(void *arg)
{
    long k = (long)arg;
    char name[32];
    gt_sleep_ns(2000000);
    for (long j = 0; j < nleaf; j++) {
        snprintf(name, sizeof(name), "leaf-%ld-%ld", k, j);
        spawn_named(leaf_main, NULL, name);
    }
    park();
}

static void main_thread(void *arg)
{
    char name[32], line[64];
    (void)arg;
    never = gt_chan_create(1);
    if (!never)
        abort();
    for (long k = 0; k < nbranch; k++) {
        snprintf(name, sizeof(name), "branch-%ld", k);
        spawn_named(branch_main, (void *)k, name);
    }
    gt_sleep_ns(20000000);
    printf("ready %d\n", (int)getpid());
    fflush(stdout);
    for (;;) {
        ssize_t n = read(0, line, sizeof(line));
        if (n <= 0)
            exit(0);
    }
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s NBRANCH NLEAF\n", argv[0]);
        return 2;
    }
    nbranch = atol(argv[1]);
    nleaf = atol(argv[2]);
    return gt_main(main_thread, NULL);
}
