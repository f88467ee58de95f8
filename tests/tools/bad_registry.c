/*
 * bad_registry.c - a gt program whose registry is damaged on purpose, for
 * the readers' error paths.
 *
 * Usage: bad_registry abi|magic|chunks|layout|page|stack|exec
 *   abi     the registry claims ABI 99
 *   magic   the magic is wrong
 *   chunks  the thread chunk array points to an unmapped address
 *   layout  the layout table points to an unmapped address
 *   page    the page size is 64 KiB (not this machine's)
 *   stack   the main thread's stack lies past the end of the address
 *           space (2^62)
 *   exec    nothing damaged: a line "exec" on stdin makes the program
 *           exec "sleep 60" (a reader then finds another program)
 * It damages the registry from its main green thread (the runtime never
 * reads those fields again while nothing spawns), prints "ready PID" and
 * waits for the end of stdin.
 */
#include <gt.h>
#include <gt/registry.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void main_thread(void *arg)
{
    const char *mode = arg;
    if (strcmp(mode, "abi") == 0)
        gt_registry.abi = 99;
    else if (strcmp(mode, "magic") == 0)
        gt_registry.magic = 0x4b4e554a4b4e554aull; /* "JUNKJUNK" */
    else if (strcmp(mode, "chunks") == 0)
        gt_registry.thread_chunks = 0x10;
    else if (strcmp(mode, "layout") == 0)
        gt_registry.layout = 0x18;
    else if (strcmp(mode, "page") == 0)
        gt_registry.page_size = 65536;
    else if (strcmp(mode, "stack") == 0) {
        struct gt_thread_rec *me = (struct gt_thread_rec *)(uintptr_t)gt_registry.current;
        me->stack_lo = 1ull << 62;
        me->stack_hi = me->stack_lo + 65536;
    }
    printf("ready %d\n", (int)getpid());
    fflush(stdout);
    char buf[64];
    ssize_t n;
    while ((n = read(0, buf, sizeof(buf))) > 0)
        if (strcmp(mode, "exec") == 0 && n >= 4 && memcmp(buf, "exec", 4) == 0)
            execlp("sleep", "sleep", "60", (char *)NULL);
    _exit(0); /* the runtime must not run on with its registry damaged */
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    return gt_main(main_thread, argv[1]);
}
