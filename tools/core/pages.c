/*
 * pages.c - which pages of the target were ever populated: present in
 * memory or swapped out.  The rest of an anonymous mapping reads as zeros
 * and becomes a hole in the file, so the core's disk usage follows the
 * process's RSS and not its address space (100K stacks reserve gigabytes
 * and touch a page or two each).
 *
 * PAGEMAP_SCAN (Linux 6.7) asks /proc/PID/pagemap for whole ranges of
 * pages in one ioctl, skipping unpopulated page tables inside the kernel.
 * A MADV_GUARD_INSTALL guard page is a PTE marker, which the scan counts
 * as swapped: it is told apart by PAGE_IS_GUARD (Linux 6.15) and left
 * out, so the copy never reads one (reading a guard faults, and 64 KiB of
 * guard per stack would be copied page by page).  Kernels without the
 * ioctl are read through the pagemap file itself, eight bytes a page,
 * where PM_GUARD_REGION marks guards.  A kernel that knows neither gives
 * guards as swapped pages: the copy fails on them and narrows down, and
 * they end up holes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "core.h"

/* <linux/fs.h> of older headers lacks these: the kernel's ABI values. */
struct gtc_page_region {
    uint64_t start, end, categories;
};
struct gtc_pm_scan_arg {
    uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
    uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define GTC_PAGEMAP_SCAN _IOWR('f', 16, struct gtc_pm_scan_arg)
#define GTC_PAGE_IS_PRESENT (1u << 3)
#define GTC_PAGE_IS_SWAPPED (1u << 4)
#define GTC_PAGE_IS_GUARD (1u << 8)

#define PM_PRESENT (1ull << 63)
#define PM_SWAPPED (1ull << 62)
#define PM_FILE (1ull << 61)
#define PM_GUARD_REGION (1ull << 58)

#define REGIONS 4096

int core_pages_open(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)pid);
    return open(path, O_RDONLY | O_CLOEXEC);
}

static uint64_t guard_bit = GTC_PAGE_IS_GUARD;

static int scan_ioctl(int fd, uint64_t lo, uint64_t hi, core_range_fn fn, void *arg)
{
    static struct gtc_page_region v[REGIONS];
    uint64_t at = lo;
    while (at < hi) {
        struct gtc_pm_scan_arg a = {
            .size = sizeof(a), .start = at, .end = hi, .vec = (uintptr_t)v,
            .vec_len = REGIONS,
            .category_anyof_mask = GTC_PAGE_IS_PRESENT | GTC_PAGE_IS_SWAPPED,
            .return_mask = GTC_PAGE_IS_PRESENT | GTC_PAGE_IS_SWAPPED | guard_bit,
        };
        int n = ioctl(fd, GTC_PAGEMAP_SCAN, &a);
        if (n < 0 && errno == EINVAL && guard_bit && at == lo) {
            guard_bit = 0;      /* a kernel before PAGE_IS_GUARD */
            continue;
        }
        if (n < 0)
            return -1;
        if (n > REGIONS) {
            errno = EIO;
            return -1;
        }
        for (int i = 0; i < n; i++) {
            /* Hostile or not, the kernel's answer is bounded to what was
             * asked before it is copied from. */
            uint64_t s = v[i].start < at ? at : v[i].start;
            uint64_t e = v[i].end > hi ? hi : v[i].end;
            if (v[i].categories & guard_bit)
                continue;
            if (s < e && fn(arg, s, e) < 0)
                return -1;
        }
        if (a.walk_end >= hi)
            break;
        if (a.walk_end <= at) {
            errno = EIO;
            return -1;
        }
        at = a.walk_end;
    }
    return 0;
}

static int scan_read(int fd, uint64_t lo, uint64_t hi, core_range_fn fn, void *arg)
{
    static uint64_t e[8192];
    uint64_t run = 0;     /* start of the populated run, 0 none */
    for (uint64_t at = lo; at < hi;) {
        uint64_t pages = (hi - at) / CORE_PAGE;
        if (pages > 8192)
            pages = 8192;
        ssize_t n = pread(fd, e, pages * 8, (off_t)(at / CORE_PAGE * 8));
        if (n <= 0 || n % 8)
            return -1;
        for (ssize_t i = 0; i < n / 8; i++, at += CORE_PAGE) {
            int pop = (e[i] & (PM_PRESENT | PM_SWAPPED)) != 0 &&
                      !(e[i] & PM_GUARD_REGION);
            if (pop && !run)
                run = at;
            else if (!pop && run) {
                if (fn(arg, run, at) < 0)
                    return -1;
                run = 0;
            }
        }
    }
    if (run && fn(arg, run, hi) < 0)
        return -1;
    return 0;
}

/* Whether any page of [lo, hi) is private anonymous memory: a private
 * file mapping's page that was written (copy on write), such as the
 * relocated data of a RELRO segment. */
int core_pages_any_anon(int fd, uint64_t lo, uint64_t hi)
{
    static uint64_t e[512];
    for (uint64_t at = lo; at < hi;) {
        uint64_t pages = (hi - at) / CORE_PAGE;
        if (pages > 512)
            pages = 512;
        ssize_t n = pread(fd, e, pages * 8, (off_t)(at / CORE_PAGE * 8));
        if (n <= 0 || n % 8)
            return 0;
        for (ssize_t i = 0; i < n / 8; i++)
            if ((e[i] & PM_PRESENT) && !(e[i] & PM_FILE))
                return 1;
        at += (uint64_t)(n / 8) * CORE_PAGE;
    }
    return 0;
}

int core_pages_populated(int fd, uint64_t lo, uint64_t hi, core_range_fn fn, void *arg)
{
    static int no_ioctl;
    if (!no_ioctl) {
        if (scan_ioctl(fd, lo, hi, fn, arg) == 0)
            return 0;
        if (errno != ENOTTY && errno != EINVAL)
            return -1;
        no_ioctl = 1;
    }
    return scan_read(fd, lo, hi, fn, arg);
}
