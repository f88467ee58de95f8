/*
 * bad_registry.c - a gt program whose registry is damaged on purpose, for
 * the readers' error paths.
 *
 * Usage: bad_registry abi|magic|chunks|layout
 *   abi     the registry claims ABI 99
 *   magic   the magic is wrong
 *   chunks  the thread chunk array points to an unmapped address
 *   layout  the layout table points to an unmapped address
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
    printf("ready %d\n", (int)getpid());
    fflush(stdout);
    char buf[64];
    while (read(0, buf, sizeof(buf)) > 0)
        ;
    _exit(0); /* the runtime must not run on with its registry damaged */
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    return gt_main(main_thread, argv[1]);
}
