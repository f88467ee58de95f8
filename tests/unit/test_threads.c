/*
 * test_threads.c - spawn, join, detach, exit, identity, names, yield order,
 * 100,000 parked threads, and stacks of a chosen size.
 */
#include "test.h"

#include <sys/wait.h>
#include <unistd.h>

/* ---- gt_main returns once every thread has exited ------------------------ */

static int main_returned;
static int children_ran;
static int children_saw_main_gone;

static void count_child(void *arg)
{
    (void)arg;
    children_ran++;
    if (main_returned)
        children_saw_main_gone++;
}

static void spawn_three_and_return(void *arg)
{
    (void)arg;
    ASSERT_EQ(gt_in_thread(), 1);
    for (int i = 0; i < 3; i++)
        tu_spawn(count_child, NULL);
    /* A new thread first runs when its creator parks or yields. */
    ASSERT_EQ(children_ran, 0);
    main_returned = 1;
}

TEST_IMPL(threads_main_returns_zero)
{
    tu_run(spawn_three_and_return, NULL);
    ASSERT_EQ(children_ran, 3);
    ASSERT_EQ(children_saw_main_gone, 3);
    ASSERT_EQ(gt_in_thread(), 0);
}

/* ---- the runtime can be started again after gt_main returned ------------- */

static int runs;

static void one_run(void *arg)
{
    (void)arg;
    gt_t t = tu_spawn(count_child, NULL);
    tu_join(t);
    runs++;
}

TEST_IMPL(threads_main_twice)
{
    tu_run(one_run, NULL);
    tu_run(one_run, NULL);
    ASSERT_EQ(runs, 2);
    ASSERT_EQ(children_ran, 2);
}

/* ---- spawn and join many; join before and after the thread exited ------- */

#define MANY 1000
static int results[MANY];
static int finished;

static void square(void *arg)
{
    int i = (int)(intptr_t)arg;
    if (i % 2)
        gt_yield();
    results[i] = i * i + 1;
    finished++;
}

static void spawn_join_many(void *arg)
{
    static gt_t t[MANY];
    (void)arg;

    for (int i = 0; i < MANY; i++)
        t[i] = tu_spawn(square, (void *)(intptr_t)i);
    /* Join the last one first: the others run meanwhile. */
    tu_join(t[MANY - 1]);
    for (int i = MANY - 2; i >= 0; i--)
        tu_join(t[i]);
    ASSERT_EQ(finished, MANY);
    for (int i = 0; i < MANY; i++)
        ASSERT_EQ(results[i], i * i + 1);

    /* A thread that already exited is joined at once. */
    gt_t late = tu_spawn(square, (void *)(intptr_t)0);
    while (finished < MANY + 1)
        ASSERT_EQ(gt_yield(), 0);
    tu_join(late);
}

TEST_IMPL(threads_spawn_join_many)
{
    tu_run(spawn_join_many, NULL);
    ASSERT_EQ(finished, MANY + 1);
}

/* ---- gt_exit ends the thread where it is called ------------------------- */

static int before_exit, after_exit;

static void exit_midway(void *arg)
{
    (void)arg;
    before_exit++;
    gt_exit();
}

static void exit_from_nested(void *arg)
{
    (void)arg;
    before_exit++;
    exit_midway(NULL);
}

static void exit_test(void *arg)
{
    (void)arg;
    gt_t a = tu_spawn(exit_midway, NULL);
    gt_t b = tu_spawn(exit_from_nested, NULL);
    tu_join(a);
    tu_join(b);
    ASSERT_EQ(before_exit, 3);
    after_exit++;
}

static int orphan_done;

static void orphan(void *arg)
{
    (void)arg;
    gt_sleep_ns(5 * TU_MS);
    orphan_done = 1;
}

static void main_exits(void *arg)
{
    (void)arg;
    tu_spawn(orphan, NULL);
    gt_exit();
}

TEST_IMPL(threads_exit)
{
    tu_run(exit_test, NULL);
    ASSERT_EQ(before_exit, 3);
    ASSERT_EQ(after_exit, 1);
    /* The first thread may leave by gt_exit too; gt_main still waits. */
    tu_run(main_exits, NULL);
    ASSERT_EQ(orphan_done, 1);
}

/* ---- detached threads run to the end and gt_main waits for them --------- */

static int detached_done;

static void detached_body(void *arg)
{
    (void)arg;
    gt_sleep_ns(((intptr_t)arg % 5) * TU_MS);
    detached_done++;
}

static void detach_test(void *arg)
{
    gt_attr_t attr = {.detached = 1};
    gt_t t;
    (void)arg;

    for (intptr_t i = 0; i < 100; i++)
        ASSERT_EQ(gt_spawn(&t, detached_body, (void *)i, &attr), 0);
    for (intptr_t i = 0; i < 100; i++) {
        t = tu_spawn(detached_body, (void *)i);
        ASSERT_EQ(gt_detach(t), 0);
    }
    /* Returning now: gt_main must still wait for all 200. */
    ASSERT_EQ(detached_done, 0);
}

TEST_IMPL(threads_detach)
{
    tu_run(detach_test, NULL);
    ASSERT_EQ(detached_done, 200);
}

static int zombie_ran;

static void zombie_body(void *arg)
{
    (void)arg;
    zombie_ran++;
}

static void detach_exited(void *arg)
{
    (void)arg;
    gt_t z = tu_spawn(zombie_body, NULL);
    while (zombie_ran == 0)
        gt_yield();
    gt_yield();
    /* It has exited but was not joined: it still exists until detached. */
    ASSERT_EQ(gt_detach(z), 0);
    ASSERT_ERRNO(gt_join(z), ESRCH);
}

TEST_IMPL(threads_detach_exited)
{
    tu_run(detach_exited, NULL);
    ASSERT_EQ(zombie_ran, 1);
}

/* ---- gt_self and gt_id: unique, increasing, agree with the spawn handle - */

#define IDS 100
static uint64_t seen_id[IDS];
static uint64_t seen_self_field[IDS];

static void record_id(void *arg)
{
    int i = (int)(intptr_t)arg;
    gt_t me = gt_self();
    seen_id[i] = gt_id(me);
    seen_self_field[i] = me.id;
}

static void ids_test(void *arg)
{
    gt_t t[IDS];
    gt_t me = gt_self();
    uint64_t main_id = gt_id(me);
    (void)arg;

    ASSERT_GT(main_id, 0);
    ASSERT_EQ(me.id, main_id);
    ASSERT_EQ(gt_id(gt_self()), main_id); /* stable across calls */
    for (int i = 0; i < IDS; i++)
        t[i] = tu_spawn(record_id, (void *)(intptr_t)i);
    for (int i = 0; i < IDS; i++) {
        ASSERT_EQ(gt_id(t[i]), t[i].id);
        if (i == 0)
            ASSERT_GT(t[i].id, main_id);
        else
            ASSERT_GT(t[i].id, t[i - 1].id);
    }
    for (int i = 0; i < IDS; i++)
        tu_join(t[i]);
    for (int i = 0; i < IDS; i++) {
        ASSERT_EQ(seen_id[i], t[i].id);
        ASSERT_EQ(seen_self_field[i], t[i].id);
    }
    gt_t none = {0};
    ASSERT_EQ(gt_id(none), 0);
}

TEST_IMPL(threads_self_id)
{
    tu_run(ids_test, NULL);
    ASSERT_NE(seen_id[IDS - 1], 0);
}

/* ---- names --------------------------------------------------------------- */

static char child_saw_name[GT_NAME_MAX];

static void read_own_name(void *arg)
{
    (void)arg;
    ASSERT_EQ(gt_get_name(gt_self(), child_saw_name, sizeof child_saw_name),
              0);
}

static void names_test(void *arg)
{
    char buf[GT_NAME_MAX];
    char longname[GT_NAME_MAX + 20];
    char src[GT_NAME_MAX];
    gt_attr_t attr = {0};
    gt_t t;
    (void)arg;

    ASSERT_EQ(gt_set_name(gt_self(), "main-thread"), 0);
    ASSERT_EQ(gt_get_name(gt_self(), buf, sizeof buf), 0);
    ASSERT_STR_EQ(buf, "main-thread");

    /* GT_NAME_MAX - 1 characters fit exactly; more are cut there. */
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    ASSERT_EQ(gt_set_name(gt_self(), longname), 0);
    ASSERT_EQ(gt_get_name(gt_self(), buf, sizeof buf), 0);
    ASSERT_EQ(strlen(buf), GT_NAME_MAX - 1);
    ASSERT_MEM_EQ(buf, longname, GT_NAME_MAX - 1);

    longname[GT_NAME_MAX - 1] = '\0';
    ASSERT_EQ(gt_set_name(gt_self(), longname), 0);
    ASSERT_EQ(gt_get_name(gt_self(), buf, sizeof buf), 0);
    ASSERT_STR_EQ(buf, longname);

    /* attr.name is copied at spawn and truncated the same way. */
    snprintf(src, sizeof src, "worker-%d", 7);
    attr.name = src;
    ASSERT_EQ(gt_spawn(&t, read_own_name, NULL, &attr), 0);
    strcpy(src, "changed");
    ASSERT_EQ(gt_get_name(t, buf, sizeof buf), 0);
    ASSERT_STR_EQ(buf, "worker-7");
    tu_join(t);
    ASSERT_STR_EQ(child_saw_name, "worker-7");

    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    attr.name = longname;
    ASSERT_EQ(gt_spawn(&t, read_own_name, NULL, &attr), 0);
    tu_join(t);
    ASSERT_EQ(strlen(child_saw_name), GT_NAME_MAX - 1);
    ASSERT_MEM_EQ(child_saw_name, longname, GT_NAME_MAX - 1);

    /* A parent names a child before it first runs. */
    t = tu_spawn(read_own_name, NULL);
    ASSERT_EQ(gt_set_name(t, "renamed"), 0);
    tu_join(t);
    ASSERT_STR_EQ(child_saw_name, "renamed");

    /* No name: the empty string. */
    t = tu_spawn(read_own_name, NULL);
    tu_join(t);
    ASSERT_STR_EQ(child_saw_name, "");
}

TEST_IMPL(threads_names)
{
    tu_run(names_test, NULL);
}

/* ---- yield interleaves runnable threads in FIFO order -------------------- */

static char order[64];
static int order_len;

static void log_and_yield(void *arg)
{
    char letter = (char)(intptr_t)arg;
    for (int i = 0; i < 3; i++) {
        order[order_len++] = letter;
        ASSERT_EQ(gt_yield(), 0);
    }
}

static void yield_two(void *arg)
{
    (void)arg;
    gt_t a = tu_spawn(log_and_yield, (void *)(intptr_t)'A');
    gt_t b = tu_spawn(log_and_yield, (void *)(intptr_t)'B');
    tu_join(a);
    tu_join(b);
    ASSERT_STR_EQ(order, "ABABAB");

    memset(order, 0, sizeof order);
    order_len = 0;
    a = tu_spawn(log_and_yield, (void *)(intptr_t)'A');
    b = tu_spawn(log_and_yield, (void *)(intptr_t)'B');
    gt_t c = tu_spawn(log_and_yield, (void *)(intptr_t)'C');
    tu_join(a);
    tu_join(b);
    tu_join(c);
    ASSERT_STR_EQ(order, "ABCABCABC");
}

TEST_IMPL(threads_yield_order)
{
    tu_run(yield_two, NULL);
}

/* ---- 100,000 threads park on a condition variable, then all go ---------- */

#define HUNDRED_K 100000
static gt_mutex_t park_lock = GT_MUTEX_INITIALIZER;
static gt_cond_t park_cond = GT_COND_INITIALIZER;
static int parked, released, go;

static void park_until_go(void *arg)
{
    (void)arg;
    ASSERT_EQ(gt_mutex_lock(&park_lock), 0);
    parked++;
    while (!go)
        ASSERT_EQ(gt_cond_wait(&park_cond, &park_lock), 0);
    released++;
    ASSERT_EQ(gt_mutex_unlock(&park_lock), 0);
}

static void hundred_k(void *arg)
{
    gt_t *t = malloc(HUNDRED_K * sizeof *t);
    (void)arg;

    ASSERT_NOT_NULL(t);
    for (int i = 0; i < HUNDRED_K; i++) {
        errno = 0;
        if (gt_spawn(&t[i], park_until_go, NULL, NULL) != 0)
            FAIL("gt_spawn #%d of %d failed: %s", i, HUNDRED_K,
                 tu_errname(errno));
    }
    while (parked < HUNDRED_K)
        ASSERT_EQ(gt_yield(), 0);
    ASSERT_EQ(parked, HUNDRED_K);
    ASSERT_EQ(released, 0);
    ASSERT_EQ(gt_mutex_lock(&park_lock), 0);
    go = 1;
    ASSERT_EQ(gt_cond_broadcast(&park_cond), 0);
    ASSERT_EQ(gt_mutex_unlock(&park_lock), 0);
    for (int i = 0; i < HUNDRED_K; i++)
        tu_join(t[i]);
    ASSERT_EQ(released, HUNDRED_K);
    free(t);
}

TEST_IMPL(threads_100k_park)
{
    tu_run(hundred_k, NULL);
    ASSERT_EQ(released, HUNDRED_K);
}

/* ---- a stack of a chosen size is usable almost to its end --------------- */

static uintptr_t stack_top;

/* Recurses, touching 512 bytes per frame, until the frames below
 * stack_top cover `want` bytes; returns the depth reached in bytes. */
static __attribute__((noinline)) size_t dig(size_t want, int level)
{
    volatile char pad[512];
    uintptr_t here = (uintptr_t)__builtin_frame_address(0);
    size_t depth;

    for (size_t i = 0; i < sizeof pad; i += 64)
        pad[i] = (char)level;
    depth = stack_top - here;
    if (depth < want && level < 100000)
        depth = dig(want, level + 1);
    /* Reading pad after the call keeps this from becoming a tail call. */
    return depth + (size_t)(pad[0] != (char)level);
}

struct dig_job {
    size_t want;
    size_t reached;
};

static void dig_thread(void *arg)
{
    struct dig_job *job = arg;
    stack_top = (uintptr_t)__builtin_frame_address(0);
    job->reached = dig(job->want, 0);
}

static void dig_with(size_t stack_size, size_t want)
{
    gt_attr_t attr = {.stack_size = stack_size};
    struct dig_job job = {.want = want};
    gt_t t;

    errno = 0;
    if (gt_spawn(&t, dig_thread, &job, &attr) != 0)
        FAIL("gt_spawn with stack_size %zu: %s", stack_size,
             tu_errname(errno));
    tu_join(t);
    ASSERT_GE(job.reached, want);
}

static void stacks_test(void *arg)
{
    (void)arg;
    dig_with(256 * 1024, 200 * 1024);
    dig_with(0, 48 * 1024);             /* the default: 64 KiB */
    dig_with(100000, 80 * 1024);        /* rounded up to whole pages */
    dig_with(GT_STACK_MIN, 8 * 1024);
    dig_with(4 * 1024 * 1024, 3 * 1024 * 1024);
}

TEST_IMPL(threads_custom_stack)
{
    tu_run(stacks_test, NULL);
}

/* ---- GT_STACK_SIZE sets the default ------------------------------------- */

static void env_stack(void *arg)
{
    (void)arg;
    dig_with(0, 200 * 1024);
}

TEST_IMPL(threads_stack_size_env)
{
    ASSERT_OK(setenv("GT_STACK_SIZE", "262144", 1));
    tu_run(env_stack, NULL);
}

/* ---- a stack overflow names the thread, the cause and the backtrace ----- */

static __attribute__((noinline)) int recurse_forever(int n)
{
    volatile char pad[512];
    pad[0] = (char)n;
    if (n < 1000000000)
        return recurse_forever(n + 1) + pad[0];
    return pad[0];
}

static void overflow_thread(void *arg)
{
    (void)arg;
    recurse_forever(0);
}

static void overflow_main(void *arg)
{
    (void)arg;
    gt_t t = tu_spawn_named(overflow_thread, NULL, "deep-diver");
    printf("id=%" PRIu64 "\n", t.id);
    fflush(stdout);
    gt_join(t);
    printf("survived\n");
}

TEST_IMPL(threads_overflow_reported)
{
    char out[16384], want[64];
    size_t len = 0;
    uint64_t id = 0;
    int p[2], status;
    pid_t pid;
    FILE *f;

    ASSERT_OK(pipe(p));
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        dup2(p[1], STDOUT_FILENO);
        dup2(p[1], STDERR_FILENO);
        close(p[0]);
        close(p[1]);
        gt_main(overflow_main, NULL);
        _exit(0);
    }
    close(p[1]);
    f = fdopen(p[0], "r");
    ASSERT_NOT_NULL(f);
    len = fread(out, 1, sizeof out - 1, f);
    out[len] = '\0';
    fclose(f);
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    printf("%s", out); /* shown if anything below fails */
    if (!WIFSIGNALED(status))
        FAIL("a thread that overflowed its stack did not end the process "
             "with a signal (wait status 0x%x)", status);
    ASSERT(strstr(out, "survived") == NULL);
    ASSERT_EQ(sscanf(out, "id=%" SCNu64, &id), 1);
    snprintf(want, sizeof want, "%" PRIu64, id);
    if (strstr(out, "\"deep-diver\"") == NULL || strstr(out, want) == NULL)
        FAIL("the crash report does not name thread %s \"deep-diver\"", want);
    if (strcasestr(out, "overflow") == NULL)
        FAIL("the crash report does not say the stack overflowed");
    if (strstr(out, "recurse_forever") == NULL)
        FAIL("the crash report has no backtrace through recurse_forever");
}
