/*
 * backend_memory.c - a target whose memory is an image in a buffer
 * (memory_image.h): the registry, its chunks, the records and a few
 * stacks at the addresses the image states, text from the program file.
 *
 * It exists for the fuzzer (tests/fuzz/): every snapshot, unwind, measure
 * and print of libgtobserve can then run on an image a mutator made, at
 * thousands of inputs a second, with no process and no core file.  The
 * image is as hostile as anything a reader reads, so everything in it is
 * bounded here before it is used; what it describes (the registry) is
 * left to the code above the backend, which is what is being tested.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "memory_image.h"

/* One segment: [addr, addr + memsz), the first filesz bytes at data. */
struct mem_seg {
    uint64_t addr, memsz, filesz;
    const uint8_t *data;
};

/* The memory backend's state (t->priv). */
struct mem {
    struct mem_seg *segs;    /* by address, not overlapping */
    size_t nsegs;
    uint64_t now;
    uint32_t flags;          /* GTO_IMAGE_* */
    uint64_t regs[17];
};

static struct mem *mem_of(const gto_target *t) { return t->priv; }

/* The segment holding addr, NULL when none does. */
static const struct mem_seg *seg_of(const gto_target *t, uint64_t addr)
{
    const struct mem *m = mem_of(t);
    size_t lo = 0, hi = m->nsegs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct mem_seg *s = &m->segs[mid];
        if (addr < s->addr)
            hi = mid;
        else if (addr - s->addr >= s->memsz)
            lo = mid + 1;
        else
            return s;
    }
    return NULL;
}

static int mem_read(gto_target *t, uint64_t addr, void *buf, size_t len)
{
    uint8_t *out = buf;
    while (len) {
        const struct mem_seg *s = seg_of(t, addr);
        size_t n;
        if (s) {
            uint64_t in = addr - s->addr;
            n = s->memsz - in < len ? (size_t)(s->memsz - in) : len;
            size_t given = in < s->filesz ? (size_t)(s->filesz - in) : 0;
            if (given > n)
                given = n;
            memcpy(out, s->data + in, given);
            memset(out + given, 0, n - given);
        } else {
            /* Not held here: the file it maps (gto__file_read_page). */
            ssize_t got = gto__file_read_page(t, addr, out, len);
            if (got < 0)
                return -1;
            n = (size_t)got;
        }
        out += n;
        addr += n;
        len -= n;
    }
    return 0;
}

/* A 4 KiB page counts as resident when the image gives bytes for it (as a
 * core's: one byte per 4096 bytes of [lo, hi)). */
static int mem_residency(gto_target *t, uint64_t lo, uint64_t hi, uint64_t page,
                         uint8_t *present)
{
    const struct mem *m = mem_of(t);
    if (!gto__page_size_ok(page) || hi < lo) {
        errno = EINVAL;
        return -1;
    }
    size_t i = 0, k = 0;
    for (uint64_t p = lo; p < hi && hi - p >= page; p += page, i++) {
        /* The segments are in order, and so are the pages: k, the first
         * segment not wholly below p, only moves forwards. */
        while (k < m->nsegs && m->segs[k].addr + m->segs[k].memsz <= p)
            k++;
        present[i] = 0;
        for (size_t j = k; j < m->nsegs; j++) {
            const struct mem_seg *s = &m->segs[j];
            if (s->addr >= p && s->addr - p >= page)
                break;
            if (s->filesz && s->addr + s->filesz > p) {
                present[i] = 1;
                break;
            }
        }
    }
    return 0;
}

static uint64_t mem_now(gto_target *t, const struct gto_counters *c, int *exact)
{
    (void)c;
    *exact = (mem_of(t)->flags & GTO_IMAGE_EXACT) != 0;
    return mem_of(t)->now;
}

static int mem_thread_regs(gto_target *t, uint64_t rec, uint64_t current,
                           uint64_t regs[17])
{
    const struct mem *m = mem_of(t);
    if (!(m->flags & GTO_IMAGE_REGS) || !rec || rec != current)
        return 0;
    memcpy(regs, m->regs, sizeof(m->regs));
    return 1;
}

/* As a core (memory that cannot move) or a live process would say. */
static int mem_no_threads(gto_target *t, uint64_t counted, char *err)
{
    if (mem_of(t)->flags & GTO_IMAGE_MOVES)
        return 0;
    gto__err(err, "%s: its registry counts %llu threads but their records read "
             "as free slots", t->name, (unsigned long long)counted);
    return -1;
}

static int mem_open_mapping(gto_target *t, const struct gto_mapping *m)
{
    (void)t;
    return open(m->path, O_RDONLY | O_CLOEXEC);
}

static void mem_close(gto_target *t)
{
    struct mem *m = mem_of(t);
    if (m)
        free(m->segs);
    free(m);
    t->priv = NULL;
}

static const struct gto_backend memory_backend = {
    .kind = "memory", .memory_moves = 0, .read = mem_read,
    .read_many = gto__read_each, .residency = mem_residency, .now = mem_now,
    .thread_regs = mem_thread_regs, .no_threads = mem_no_threads,
    .open_mapping = mem_open_mapping, .close = mem_close,
};

/* The same, read as memory that moves (GTO_IMAGE_MOVES). */
static const struct gto_backend moving_backend = {
    .kind = "memory", .memory_moves = 1, .read = mem_read,
    .read_many = gto__read_each, .residency = mem_residency, .now = mem_now,
    .thread_regs = mem_thread_regs, .no_threads = mem_no_threads,
    .open_mapping = mem_open_mapping, .close = mem_close,
};

/* Reads the segments that follow the mappings; -1 when the image is not
 * one (a truncated or overlapping segment). */
static int parse_segs(struct mem *m, const uint8_t *p, size_t len, size_t off,
                      uint32_t nsegs)
{
    m->segs = calloc(nsegs ? nsegs : 1, sizeof(*m->segs));
    if (!m->segs)
        return -1;
    uint64_t prev_end = 0;
    for (uint32_t i = 0; i < nsegs; i++) {
        struct gto_image_seg sh;
        if (len - off < sizeof(sh))
            return -1;
        memcpy(&sh, p + off, sizeof(sh));
        off += sizeof(sh);
        uint64_t padded = (sh.filesz + 7) & ~7ull;
        if (sh.filesz > sh.memsz || sh.memsz == 0 || padded < sh.filesz ||
            padded > len - off || sh.memsz > UINT64_MAX - sh.addr ||
            (i && sh.addr < prev_end))
            return -1;
        m->segs[i] = (struct mem_seg){sh.addr, sh.memsz, sh.filesz, p + off};
        prev_end = sh.addr + sh.memsz;
        off += (size_t)padded;
    }
    m->nsegs = nsegs;
    return 0;
}

int gto__open_memory(const void *image, size_t len, const char *exe,
                     gto_target **out, char *err)
{
    *out = NULL;
    const uint8_t *p = image;
    struct gto_image_head h;
    if (len < sizeof(h) || memcmp(p, GTO_IMAGE_MAGIC, 8) != 0) {
        gto__err(err, "not a memory image: no %s magic", GTO_IMAGE_MAGIC);
        return -1;
    }
    memcpy(&h, p, sizeof(h));
    size_t off = sizeof(h);
    if (h.nmaps > GTO_IMAGE_MAX_MAPS || h.nsegs > GTO_IMAGE_MAX_SEGS ||
        (len - off) / sizeof(struct gto_image_map) < h.nmaps) {
        gto__err(err, "memory image: %u mappings, %u segments in %zu bytes",
                 h.nmaps, h.nsegs, len);
        return -1;
    }
    gto_target *t = calloc(1, sizeof(*t));
    struct mem *m = calloc(1, sizeof(*m));
    if (!t || !m) {
        free(t);
        free(m);
        gto__err(err, "out of memory");
        return -1;
    }
    t->be = h.flags & GTO_IMAGE_MOVES ? &moving_backend : &memory_backend;
    t->priv = m;
    m->now = h.now;
    m->flags = h.flags;
    memcpy(m->regs, h.regs, sizeof(m->regs));
    t->registry = h.registry;
    snprintf(t->name, sizeof(t->name), "memory image (%zu bytes)", len);
    if (exe && h.nmaps) {
        t->exe = strdup(exe);
        t->maps = calloc(h.nmaps, sizeof(*t->maps));
        if (!t->exe || !t->maps)
            goto oom;
        for (uint32_t i = 0; i < h.nmaps; i++) {
            struct gto_image_map im;
            memcpy(&im, p + off + i * sizeof(im), sizeof(im));
            if (im.start >= im.end)
                continue;
            struct gto_mapping *mp = &t->maps[t->nmaps];
            mp->start = im.start;
            mp->end = im.end;
            mp->offset = im.offset;
            mp->fd = -1;
            mp->path = strdup(exe);
            if (!mp->path)
                goto oom;
            t->nmaps++;
        }
    }
    off += h.nmaps * sizeof(struct gto_image_map);
    if (parse_segs(m, p, len, off, h.nsegs) < 0) {
        gto__err(err, "memory image: a segment is cut off or overlaps another");
        gto_close(t);
        return -1;
    }
    *out = t;
    return 0;
oom:
    gto__err(err, "out of memory");
    gto_close(t);
    return -1;
}
