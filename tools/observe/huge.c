/*
 * huge.c - the one hint libgtobserve gives the kernel about its memory.
 */
#include <sys/mman.h>

#include "internal.h"

/* Asks for huge pages for the big arrays of a snapshot (a million threads
 * are 370 MB of struct gto_thread and 160 MB of frames): a page
 * fault costs the same for 4 KiB as for 2 MiB, and faults were a third of
 * a snapshot's time at that scale.  Only a hint; memory stays malloc's. */
void gto__huge_pages(void *p, size_t bytes)
{
    const uintptr_t huge = 2u << 20;
    uintptr_t lo = ((uintptr_t)p + huge - 1) & ~(huge - 1);
    uintptr_t hi = ((uintptr_t)p + bytes) & ~(huge - 1);
    if (p && bytes >= 4 * huge && hi > lo)
        madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
}
