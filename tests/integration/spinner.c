/*
 * spinner.c - a fixture whose green thread "spinner" holds the CPU.
 *
 * Usage: spinner SECONDS [block]
 * Prints one line, `truth {JSON}`: the pid, the registry's address, the
 * spinner's record and id, the bounds of the function it spins in
 * (spin_here, alone in its own section), the address of the counter that
 * function bumps on every turn, and the watchdog threshold the runtime
 * took.  Then the spinner spins, never yielding, until a helper pthread
 * (every signal blocked: a signal sent to the process finds the runtime's
 * kernel thread) sets the stop flag SECONDS later; it prints `spun` and
 * the program exits 0.  With `block`, the spinner first blocks
 * GT_WATCHDOG_SIGNAL in its kernel thread, as a program may.
 */
#include <signal.h> /* before gt.h: GT_WATCHDOG_SIGNAL */

#include <gt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static _Atomic int stop;
static _Atomic unsigned long long progress;
static double seconds;
static int block;

extern const char __start_gt_it_spin[], __stop_gt_it_spin[];

__attribute__((noinline, section("gt_it_spin"))) static void spin_here(void)
{
    while (!atomic_load_explicit(&stop, memory_order_relaxed))
        atomic_fetch_add_explicit(&progress, 1, memory_order_relaxed);
}

static void *stopper(void *arg)
{
    (void)arg;
    struct timespec ts = {(time_t)seconds,
                          (long)((seconds - (double)(time_t)seconds) * 1e9)};
    while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) != 0)
        ;
    atomic_store(&stop, 1);
    return NULL;
}

static void spinner(void *arg)
{
    (void)arg;
    gt_t self = gt_self();
    printf("truth {\"pid\": %d, \"registry\": %llu, \"record\": %llu, \"id\": %llu, "
           "\"spin_lo\": %llu, \"spin_hi\": %llu, \"progress\": %llu, "
           "\"watchdog_ns\": %llu}\n",
           (int)getpid(), (unsigned long long)(uintptr_t)&gt_registry,
           (unsigned long long)(uintptr_t)self.rec, (unsigned long long)self.id,
           (unsigned long long)(uintptr_t)__start_gt_it_spin,
           (unsigned long long)(uintptr_t)__stop_gt_it_spin,
           (unsigned long long)(uintptr_t)&progress,
           (unsigned long long)gt_registry.watchdog_ns);
    fflush(stdout);
    if (block) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, GT_WATCHDOG_SIGNAL);
        pthread_sigmask(SIG_BLOCK, &set, NULL);
    }
    spin_here();
    printf("spun\n");
    fflush(stdout);
}

static void main_thread(void *arg)
{
    gt_t t;
    gt_attr_t attr = {"spinner", 0, 0};
    if (gt_spawn(&t, spinner, arg, &attr) < 0 || gt_join(t) < 0)
        abort();
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: spinner SECONDS [block]\n");
        return 2;
    }
    seconds = atof(argv[1]);
    block = argc == 3;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t s;
    if (pthread_create(&s, NULL, stopper, NULL) != 0)
        return 1;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (gt_main(main_thread, NULL) < 0)
        return 1;
    pthread_join(s, NULL);
    return 0;
}
