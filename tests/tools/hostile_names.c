/*
 * hostile_names.c - threads whose names, and whose parking call site's
 * file name, hold what a terminal or a JSON parser must never get raw.
 *
 * Usage: hostile_names
 *
 *   the process names itself "g<ESC>]2;x<BEL><LF><0xff>" (PR_SET_NAME);
 *   one thread per entry of NAMES (below), each named that (gt_set_name
 *   takes any bytes: Knot names its threads by client address), each
 *   parked in gt_chan_recv in hostile_park (line 7003), a function whose
 *   source file, by the #line directive above it, is named
 *   "evil<ESC>[2J\"q\\d<LF>.c";
 *   the main thread (entry main_thread) reads stdin (LINE:hold).
 *
 * It prints "ready PID" once every thread is parked.  A line "crash"
 * makes the main thread dereference NULL, so the kernel writes a core
 * (its NT_PRPSINFO holds the process name); end of stdin ends the
 * program.  What each name must read as in every reader is in
 * tests/tools/test_hostile_text.py.
 */
#include <gt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

/* ESC sequences (colour, a window title ended by BEL), a newline and a
 * tab, invalid UTF-8 (0xff, a sequence cut short, an overlong '/'), a C1
 * control (CSI) and a backslash, valid UTF-8 (one name whose 18th
 * character, where gt-top's class column ends, is two bytes), and 31
 * bytes of 0xff (the longest name, each byte escaped). */
static const char *const names[] = {
    "\033[31mred\033[0m\033]0;t\007",
    "two\nlines\tand tab",
    "bad\377 cut\342\202 long\300\257",
    "c1\302\233 2J back\\slash",
    "caf\303\251",
    "abcdefghijklmnopq\303\251\303\251",
    "\377\377\377\377\377\377\377\377\377\377\377\377\377\377\377\377"
    "\377\377\377\377\377\377\377\377\377\377\377\377\377\377\377",
};
#define NNAMES (sizeof(names) / sizeof(names[0]))

static gt_chan_t *never; /* nothing is ever sent on it */

void hostile_park(void);

NOINLINE void named_main(void *arg)
{
    gt_set_name(gt_self(), arg);
    hostile_park(); /* LINE:named */
    __asm__ volatile("" ::: "memory");
}

static volatile int *volatile nowhere; /* NULL, opaque to the compiler */

NOINLINE void hold_main(void)
{
    char line[64];
    ssize_t n;
    while ((n = read(0, line, sizeof(line))) > 0) /* LINE:hold */
        if (n >= 5 && memcmp(line, "crash", 5) == 0)
            *nowhere = 1; /* the kernel writes a core */
}

NOINLINE void main_thread(void *arg)
{
    (void)arg;
    never = gt_chan_create(1);
    if (!never)
        abort();
    for (size_t i = 0; i < NNAMES; i++) {
        gt_attr_t at = {.detached = 1};
        if (gt_spawn(NULL, named_main, (void *)names[i], &at) < 0) {
            perror("gt_spawn");
            exit(1);
        }
    }
    gt_sleep_ns(1000000); /* every thread runs to its parking point */
    printf("ready %d\n", (int)getpid());
    fflush(stdout);
    hold_main(); /* LINE:main */
    exit(0); /* the parked threads are never released */
}

int main(void)
{
    /* The process's own name too (what ps shows, and a core's
     * NT_PRPSINFO): an OSC title, a BEL, a newline, 0xff. */
    prctl(PR_SET_NAME, "g\033]2;x\007\n\377");
    return gt_main(main_thread, NULL) == 0 ? 0 : 1;
}

/* Last in the file: everything after this directive is "in" the hostile
 * file, from line 7000. */
#line 7000 "evil\033[2J\"q\\d\n.c"
NOINLINE void hostile_park(void)
{
    void *msg;
    gt_chan_recv(never, &msg, GT_FOREVER);
}
