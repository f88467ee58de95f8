/*
 * mutator.c - libFuzzer's custom mutator for memory images of a registry.
 *
 * Byte-level mutation of an image rarely makes a registry that gets past
 * the magic, and never one whose chunk pointer points at another record:
 * the attacks that broke the readers each changed one named field to one
 * telling value (page_size 2^63, a location index 0xffffffff,
 * threads_per_chunk 0xffffffff, a saved pc near 2^64).  So most mutations
 * here find a field by name - in the registry header, a thread, location
 * or edge record reached through the image's own chunk pointers, the
 * mutex or channel a parked thread waits on (by the layout table's
 * GT_REC_MUTEX and GT_REC_CHAN), the layout table, a stack word, the
 * image head - and write a value chosen
 * for its kind: a count, a pointer into or out of the image, a state, a
 * seq, an index, name bytes.  The rest are libFuzzer's own mutations
 * (LLVMFuzzerMutate), which keep the byte-level search going.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <gt/registry.h>

#include "memory_image.h"

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size,
                               unsigned int seed);

/* What a field holds, which decides the values tried. */
enum kind { K_ANY, K_COUNT, K_PTR, K_STATE, K_SEQ, K_INDEX, K_NAME, K_TIME, K_PAGE,
            K_REG };

struct field {
    const char *name;   /* for reading this table, not used at run time */
    uint32_t off, size;
    enum kind kind;
};

#define F(type, member, kind) \
    {#member, offsetof(type, member), sizeof(((type *)0)->member), kind}

static const struct field reg_fields[] = {
    F(struct gt_registry, layout, K_PTR), F(struct gt_registry, nlayout, K_COUNT),
    F(struct gt_registry, header_size, K_COUNT), F(struct gt_registry, abi, K_ANY),
    F(struct gt_registry, arch, K_ANY), F(struct gt_registry, clock_base, K_TIME),
    F(struct gt_registry, realtime_base, K_TIME), F(struct gt_registry, clock_now, K_TIME),
    F(struct gt_registry, current, K_PTR), F(struct gt_registry, thread_chunks, K_PTR),
    F(struct gt_registry, thread_chunk_cap, K_COUNT),
    F(struct gt_registry, thread_chunk_count, K_COUNT),
    F(struct gt_registry, threads_per_chunk, K_COUNT),
    F(struct gt_registry, thread_slots, K_COUNT), F(struct gt_registry, loc_chunks, K_PTR),
    F(struct gt_registry, loc_chunk_count, K_COUNT),
    F(struct gt_registry, locs_per_chunk, K_COUNT), F(struct gt_registry, loc_count, K_COUNT),
    F(struct gt_registry, loc_depth, K_COUNT), F(struct gt_registry, edge_chunks, K_PTR),
    F(struct gt_registry, edge_chunk_count, K_COUNT),
    F(struct gt_registry, edges_per_chunk, K_COUNT), F(struct gt_registry, edge_count, K_COUNT),
    F(struct gt_registry, nstate, K_COUNT), F(struct gt_registry, switches, K_COUNT),
    F(struct gt_registry, idle_ns, K_TIME), F(struct gt_registry, file_io_ns, K_TIME),
    F(struct gt_registry, guard_policy, K_STATE), F(struct gt_registry, stack_default, K_COUNT),
    F(struct gt_registry, page_size, K_PAGE), F(struct gt_registry, canary, K_ANY),
    F(struct gt_registry, idle_since, K_TIME), F(struct gt_registry, fatal_ns, K_TIME),
    F(struct gt_registry, run_start, K_TIME), F(struct gt_registry, watchdog_ns, K_TIME),
    F(struct gt_registry, watchdog_events, K_COUNT),
    F(struct gt_registry, wd_switches, K_COUNT), F(struct gt_registry, wd_since, K_TIME),
    F(struct gt_registry, sample_seq, K_SEQ), F(struct gt_registry, sample_thread, K_PTR),
    F(struct gt_registry, sample_switches, K_COUNT), F(struct gt_registry, sample_ns, K_TIME),
    F(struct gt_registry, sample_syscall, K_ANY), F(struct gt_registry, sample_regs, K_REG),
};

static const struct field thread_fields[] = {
    F(struct gt_thread_rec, seq, K_SEQ), F(struct gt_thread_rec, state, K_STATE),
    F(struct gt_thread_rec, wait_kind, K_STATE), F(struct gt_thread_rec, flags, K_STATE),
    F(struct gt_thread_rec, id, K_INDEX), F(struct gt_thread_rec, parent, K_INDEX),
    F(struct gt_thread_rec, name, K_NAME), F(struct gt_thread_rec, location, K_INDEX),
    F(struct gt_thread_rec, wait_obj, K_REG), F(struct gt_thread_rec, wait_arg, K_REG),
    F(struct gt_thread_rec, wait_since, K_TIME), F(struct gt_thread_rec, deadline, K_TIME),
    F(struct gt_thread_rec, entry, K_REG), F(struct gt_thread_rec, spawn_site, K_REG),
    F(struct gt_thread_rec, created, K_TIME), F(struct gt_thread_rec, run_ns, K_TIME),
    F(struct gt_thread_rec, stack_lo, K_PTR), F(struct gt_thread_rec, stack_hi, K_PTR),
    F(struct gt_thread_rec, guard_size, K_PAGE), F(struct gt_thread_rec, ctx, K_REG),
    F(struct gt_thread_rec, loc_next, K_PTR), F(struct gt_thread_rec, loc_prev, K_PTR),
};

static const struct field loc_fields[] = {
    F(struct gt_location_rec, seq, K_SEQ), F(struct gt_location_rec, index, K_INDEX),
    F(struct gt_location_rec, depth, K_COUNT), F(struct gt_location_rec, wait_kind, K_STATE),
    F(struct gt_location_rec, pcs, K_REG), F(struct gt_location_rec, waiting, K_COUNT),
    F(struct gt_location_rec, head, K_PTR), F(struct gt_location_rec, tail, K_PTR),
    F(struct gt_location_rec, arrivals, K_COUNT), F(struct gt_location_rec, completed, K_COUNT),
    F(struct gt_location_rec, total_wait_ns, K_TIME),
    F(struct gt_location_rec, max_wait_ns, K_TIME), F(struct gt_location_rec, hist, K_COUNT),
};

static const struct field edge_fields[] = {
    F(struct gt_edge_rec, seq, K_SEQ), F(struct gt_edge_rec, from, K_INDEX),
    F(struct gt_edge_rec, to, K_INDEX), F(struct gt_edge_rec, count, K_COUNT),
    F(struct gt_edge_rec, run_ns, K_TIME), F(struct gt_edge_rec, max_run_ns, K_TIME),
};

/* A mutex's and a channel's fields by id: their offsets are the image's
 * layout table's (gt_mutex_t and gt_chan_t are not in registry.h). */
struct obj_field {
    int rec, id;
    uint32_t size;
    enum kind kind;
};

static const struct obj_field obj_fields[] = {
    {GT_REC_MUTEX, GT_F_MUTEX_OWNER, 8, K_PTR}, {GT_REC_MUTEX, GT_F_MUTEX_MAGIC, 8, K_ANY},
    {GT_REC_MUTEX, GT_F_MUTEX_HELD_SINCE, 8, K_TIME},
    {GT_REC_CHAN, GT_F_CHAN_MAGIC, 8, K_ANY}, {GT_REC_CHAN, GT_F_CHAN_CAP, 8, K_COUNT},
    {GT_REC_CHAN, GT_F_CHAN_LEN, 8, K_COUNT}, {GT_REC_CHAN, GT_F_CHAN_CLOSED, 1, K_STATE},
};

static const struct field layout_fields[] = {
    F(struct gt_field, rec, K_STATE), F(struct gt_field, id, K_STATE),
    F(struct gt_field, offset, K_COUNT), F(struct gt_field, size, K_COUNT),
};

static const struct field head_fields[] = {
    F(struct gto_image_head, registry, K_PTR), F(struct gto_image_head, now, K_TIME),
    F(struct gto_image_head, flags, K_STATE), F(struct gto_image_head, regs, K_REG),
    F(struct gto_image_head, program, K_STATE),
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* A parsed image: where each segment's given bytes are in the input. */
struct seg {
    uint64_t addr, memsz, filesz;
    size_t at;          /* offset of its bytes in the input */
};

struct image {
    uint8_t *data;
    size_t size;
    struct gto_image_head h;
    struct seg segs[512];
    size_t nsegs;
};

static uint64_t rng;

static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static uint64_t below(uint64_t n) { return n ? rnd() % n : 0; }

static int parse(struct image *im, uint8_t *data, size_t size)
{
    if (size < sizeof(im->h) || memcmp(data, GTO_IMAGE_MAGIC, 8) != 0)
        return -1;
    im->data = data;
    im->size = size;
    memcpy(&im->h, data, sizeof(im->h));
    if (im->h.nmaps > GTO_IMAGE_MAX_MAPS)
        return -1;
    size_t off = sizeof(im->h) + im->h.nmaps * sizeof(struct gto_image_map);
    im->nsegs = 0;
    for (uint32_t i = 0; i < im->h.nsegs && im->nsegs < N(im->segs); i++) {
        struct gto_image_seg s;
        if (off > size || size - off < sizeof(s))
            return -1;
        memcpy(&s, data + off, sizeof(s));
        off += sizeof(s);
        uint64_t padded = (s.filesz + 7) & ~7ull;
        if (s.filesz > s.memsz || padded < s.filesz || padded > size - off)
            return -1;
        im->segs[im->nsegs++] = (struct seg){s.addr, s.memsz, s.filesz, off};
        off += (size_t)padded;
    }
    return 0;
}

/* The input's bytes for [addr, addr + n) when one segment gives them all. */
static uint8_t *at(struct image *im, uint64_t addr, size_t n)
{
    for (size_t i = 0; i < im->nsegs; i++) {
        struct seg *s = &im->segs[i];
        if (addr >= s->addr && addr - s->addr <= s->filesz &&
            s->filesz - (addr - s->addr) >= n)
            return im->data + s->at + (addr - s->addr);
    }
    return NULL;
}

/* Copies [addr, addr + n) as the backend would read it (bytes past a
 * segment's given ones are zeros); -1 when a byte is in no segment. */
static int rd(struct image *im, uint64_t addr, void *out, size_t n)
{
    uint8_t *o = out;
    while (n) {
        size_t i = 0;
        while (i < im->nsegs && !(addr >= im->segs[i].addr &&
                                  addr - im->segs[i].addr < im->segs[i].memsz))
            i++;
        if (i == im->nsegs)
            return -1;
        struct seg *s = &im->segs[i];
        uint64_t in = addr - s->addr;
        size_t k = s->memsz - in < n ? (size_t)(s->memsz - in) : n;
        for (size_t j = 0; j < k; j++)
            o[j] = in + j < s->filesz ? im->data[s->at + in + j] : 0;
        o += k, addr += k, n -= k;
    }
    return 0;
}

static uint64_t load(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    memcpy(&v, p, n < 8 ? n : 8);
    return v;
}

/* A pointer into the image, just out of it, or nowhere. */
static uint64_t pointer(struct image *im)
{
    if (!im->nsegs)
        return rnd();
    struct seg *s = &im->segs[below(im->nsegs)];
    switch (below(6)) {
    case 0: return s->addr;
    case 1: return s->addr + (below(s->memsz) & ~7ull);
    case 2: return s->addr + s->memsz;           /* one past its end */
    case 3: return s->addr + s->memsz - 8;
    case 4: return s->addr - 8;
    default: return im->h.registry + 8 * below(64);
    }
}

static uint64_t value(struct image *im, enum kind k, uint64_t old)
{
    static const uint64_t any[] = {
        0, 1, 2, 7, 8, 0x7f, 0x80, 0xff, 0x100, 0xfff, 0x1000, 0x1001, 0xffff,
        0x10000, 0x7fffffff, 0x80000000u, 0xffffffffu, 0x100000000ull,
        0x1fffffff, 0x7ffffffffffff000ull, 0x8000000000000000ull,
        0xfffffffffffffff8ull, 0xfffffffffffff000ull, ~0ull,
    };
    switch (k) {
    case K_PTR:
        if (below(3))
            return pointer(im);
        break;
    case K_REG:
        if (below(2))
            return below(2) ? pointer(im) : old + below(64) - 32;
        break;
    case K_STATE:
        if (below(2))
            return below(10);
        break;
    case K_SEQ:
        switch (below(4)) {
        case 0: return old | 1;
        case 1: return old + 2;
        case 2: return old + 1;
        default: break;
        }
        break;
    case K_INDEX:
        if (below(2))
            return old + below(5) - 2;
        break;
    case K_PAGE: {
        static const uint64_t pages[] = {0, 1, 4095, 4096, 8192, 16384, 65536,
                                         1u << 20, 1ull << 63, 3 * 4096};
        if (below(2))
            return pages[below(N(pages))];
        break;
    }
    case K_COUNT:
        if (below(3) == 0)
            return old + below(5) - 2;
        if (below(2) == 0)
            return old * (1 + below(4096));
        break;
    case K_TIME:
        if (below(2))
            return old + (below(2) ? below(1ull << 40) : -below(1ull << 40));
        break;
    default:
        break;
    }
    return below(8) ? any[below(N(any))] : rnd();
}

/* Writes a value for F into the record at target address REC (the image
 * head when REC is 0 and F a head field); -1 when the field's bytes are
 * not given in the image (a zero run stored as a length). */
static int patch(struct image *im, uint64_t rec, int head, const struct field *f)
{
    if (f->kind == K_NAME) {
        static const uint8_t odd[] = {0, '\n', 0x1b, 0x7f, 0x80, 0x9b, 0xc0, 0xc3,
                                      0xe2, 0xed, 0xf4, 0xff, '\\', '"', '%', ' '};
        uint8_t *p = at(im, rec + f->off, f->size);
        if (!p)
            return -1;
        size_t n = 1 + below(f->size);
        for (size_t i = 0; i < n; i++)
            p[below(f->size)] = below(2) ? odd[below(N(odd))] : (uint8_t)rnd();
        return 0;
    }
    /* An array field (nstate, pcs, hist, ctx): one element of it. */
    size_t w = f->size > 8 ? 8 : f->size;
    uint64_t off = f->off + (f->size > 8 ? 8 * below(f->size / 8) : 0);
    uint8_t *q = head ? im->data + off : at(im, rec + off, w);
    if (!q)
        return -1;
    uint64_t v = value(im, f->kind, load(q, w));
    memcpy(q, &v, w);
    return 0;
}

/* The address of a record of a slab: chunk pointer array at CHUNKS, PER
 * records of RSIZE in each, COUNT in use.  0 when the image has none. */
static uint64_t record(struct image *im, uint64_t chunks, uint64_t count,
                       uint64_t per, size_t rsize)
{
    if (!count || !per)
        return 0;
    uint64_t i = below(count < 4096 ? count : 4096), chunk;
    if (rd(im, chunks + 8 * (i / per), &chunk, 8) < 0 || !chunk)
        return 0;
    return chunk + (i % per) * rsize;
}

/* The size of record kind REC by the image's layout table (the runtime's
 * records are bigger than the public structs); the struct's when the
 * table says nothing. */
static size_t rec_size(struct image *im, const struct gt_registry *r, int rec,
                       size_t fallback)
{
    for (uint32_t i = 0; i < r->nlayout && i < 256; i++) {
        struct gt_field f;
        if (rd(im, r->layout + i * sizeof(f), &f, sizeof(f)) < 0)
            break;
        if (f.rec == rec && f.id == 0)
            return f.size >= fallback && f.size < (1u << 16) ? f.size : fallback;
    }
    return fallback;
}

/* The offset of field ID of record kind REC by the image's layout
 * table; -1 when it says nothing. */
static int64_t field_off(struct image *im, const struct gt_registry *r, int rec, int id)
{
    for (uint32_t i = 0; i < r->nlayout && i < 256; i++) {
        struct gt_field f;
        if (rd(im, r->layout + i * sizeof(f), &f, sizeof(f)) < 0)
            break;
        if (f.rec == rec && f.id == id)
            return f.offset;
    }
    return -1;
}

/* A field of the object a parked thread waits on: the mutex of a mutex
 * wait, the one a cond waiter retakes, the channel of a channel wait. */
static int mutate_object(struct image *im, const struct gt_registry *rv)
{
    size_t rsize = rec_size(im, rv, GT_REC_THREAD, sizeof(struct gt_thread_rec));
    for (int tries = 0; tries < 8; tries++) {
        struct gt_thread_rec th;
        uint64_t rec = record(im, rv->thread_chunks, rv->thread_slots,
                              rv->threads_per_chunk, rsize);
        if (!rec || rd(im, rec, &th, sizeof(th)) < 0 || th.state != GT_STATE_PARKED)
            continue;
        int rec_kind = th.wait_kind == GT_WAIT_MUTEX || th.wait_kind == GT_WAIT_COND
                           ? GT_REC_MUTEX
                           : th.wait_kind == GT_WAIT_CHAN_SEND ||
                                     th.wait_kind == GT_WAIT_CHAN_RECV ? GT_REC_CHAN : 0;
        uint64_t obj = th.wait_kind == GT_WAIT_COND ? th.wait_arg : th.wait_obj;
        if (!rec_kind)
            continue;
        const struct obj_field *of = &obj_fields[below(N(obj_fields))];
        if (of->rec != rec_kind)
            continue;
        int64_t off = field_off(im, rv, of->rec, of->id);
        if (off < 0)
            continue;
        struct field f = {"object", (uint32_t)off, of->size, of->kind};
        /* An owner: now and then exactly another thread's record. */
        if (of->id == GT_F_MUTEX_OWNER && of->rec == GT_REC_MUTEX && below(2)) {
            uint8_t *q = at(im, obj + (uint64_t)off, 8);
            uint64_t v = record(im, rv->thread_chunks, rv->thread_slots,
                                rv->threads_per_chunk, rsize) + (below(2) ? 8 : 0);
            if (!q)
                continue;
            memcpy(q, &v, 8);
            return 0;
        }
        if (patch(im, obj, 0, &f) == 0)
            return 0;
    }
    return -1;
}

static int mutate_field(struct image *im)
{
    struct gt_registry rv;
    int have = rd(im, im->h.registry, &rv, sizeof(rv)) == 0;
    uint64_t rec = 0;
    const struct field *f = NULL;
    switch (below(11)) {
    case 10:
        return have ? mutate_object(im, &rv) : -1;
    case 0: case 1: case 2:
        if (have)
            rec = im->h.registry, f = &reg_fields[below(N(reg_fields))];
        break;
    case 3: case 4: case 5:
        if (have && (rec = record(im, rv.thread_chunks, rv.thread_slots, rv.threads_per_chunk,
                                  rec_size(im, &rv, GT_REC_THREAD,
                                           sizeof(struct gt_thread_rec)))))
            f = &thread_fields[below(N(thread_fields))];
        break;
    case 6:
        if (have && (rec = record(im, rv.loc_chunks, rv.loc_count, rv.locs_per_chunk,
                                  rec_size(im, &rv, GT_REC_LOCATION,
                                           sizeof(struct gt_location_rec)))))
            f = &loc_fields[below(N(loc_fields))];
        break;
    case 7:
        if (have && (rec = record(im, rv.edge_chunks, rv.edge_count, rv.edges_per_chunk,
                                  rec_size(im, &rv, GT_REC_EDGE, sizeof(struct gt_edge_rec)))))
            f = &edge_fields[below(N(edge_fields))];
        break;
    case 8:
        if (have && rv.nlayout && rv.nlayout < 4096) {
            rec = rv.layout + sizeof(struct gt_field) * below(rv.nlayout);
            f = &layout_fields[below(N(layout_fields))];
        }
        break;
    default:
        if (below(3) == 0)
            return patch(im, 0, 1, &head_fields[below(N(head_fields))]);
        if (im->nsegs) {
            /* A stack word (or any word): a return address, a saved rbp. */
            static const struct field word = {"word", 0, 8, K_REG};
            struct seg *s = &im->segs[below(im->nsegs)];
            if (s->filesz >= 8)
                return patch(im, s->addr + (below(s->filesz - 7) & ~7ull), 0, &word);
        }
        break;
    }
    return f ? patch(im, rec, 0, f) : -1;
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size,
                               unsigned int seed)
{
    rng = seed * 0x9e3779b97f4a7c15ull + 1;
    struct image im;
    if (below(10) < 3 || parse(&im, data, size) < 0)
        return LLVMFuzzerMutate(data, size, max_size);
    /* One to three fields; a try that finds no field (a record stored as
     * zeros, a count of none) is tried again, a few times. */
    int done = 0;
    for (uint64_t n = 1 + below(3), tries = 0; n && tries < 16; tries++)
        if (mutate_field(&im) == 0)
            done = 1, n--;
    return done ? size : LLVMFuzzerMutate(data, size, max_size);
}
