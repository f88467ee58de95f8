/*
 * make_image.c - writes a memory image (tools/observe/memory_image.h) of a
 * live gt program: the seeds of the fuzzer's corpus (tests/fuzz/corpus/).
 *
 * Usage: make_image PID PROGRAM OUT [moves]
 *
 *   PROGRAM  the number the fuzzer knows the program file by (fuzz.mk
 *            lists them; 0: the image names none)
 *   moves    the image reads as a live process (GTO_IMAGE_MOVES)
 *
 * What goes in is exactly what libgtobserve reads of the target's
 * writable memory while it takes its snapshots (the registry, its layout
 * table, chunk arrays, records, the stack words the unwinders and the
 * measure read): the reader's own backend is wrapped by one that notes
 * every range read.  Text and read-only data stay out (the fuzzer reads
 * them from the program file), and runs of zeros are stored as bare
 * lengths, so an image of a small fixture is a few kilobytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "memory_image.h"

/* A range the reader read. */
struct span {
    uint64_t lo, hi;
};

static struct span *spans;
static size_t nspans, capspans;
static const struct gto_backend *live;

static void note(uint64_t addr, size_t len)
{
    if (!len || addr + len < addr)
        return;
    if (nspans == capspans) {
        capspans = capspans ? capspans * 2 : 1024;
        spans = realloc(spans, capspans * sizeof(*spans));
        if (!spans) {
            fprintf(stderr, "make_image: out of memory\n");
            exit(1);
        }
    }
    spans[nspans++] = (struct span){addr, addr + len};
}

static int rec_read(gto_target *t, uint64_t addr, void *buf, size_t len)
{
    note(addr, len);
    return live->read(t, addr, buf, len);
}

static int rec_read_many(gto_target *t, const struct gto_range *r, size_t n,
                         uint8_t *ok)
{
    for (size_t i = 0; i < n; i++)
        note(r[i].addr, r[i].len);
    return live->read_many(t, r, n, ok);
}

static int by_lo(const void *a, const void *b)
{
    const struct span *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* The writable mappings of PID: only they hold what the image keeps. */
static size_t writable(int pid, struct span *out, size_t max)
{
    char path[64], line[4400];
    snprintf(path, sizeof(path), "/proc/%d/maps", pid);
    FILE *f = fopen(path, "re");
    size_t n = 0;
    while (f && n < max && fgets(line, sizeof(line), f)) {
        unsigned long long lo, hi;
        char perms[8];
        if (sscanf(line, "%llx-%llx %7s", &lo, &hi, perms) == 3 && perms[1] == 'w')
            out[n++] = (struct span){lo, hi};
    }
    if (f)
        fclose(f);
    return n;
}

static void put(FILE *f, const void *p, size_t n)
{
    static const uint8_t zero[8];
    if (fwrite(p, 1, n, f) != n || fwrite(zero, 1, (8 - n % 8) % 8, f) != (8 - n % 8) % 8) {
        fprintf(stderr, "make_image: write failed\n");
        exit(1);
    }
}

/* The records past the ones in use of a slab (chunk array CHUNKS, PER a
 * chunk, N in use, RSIZE each): the readers copy whole chunks but decode
 * only the records in use, and the runtime leaves links in its free ones;
 * the image holds them as zeros, which keeps it small. */
static size_t unused_records(gto_target *t, uint64_t chunks, uint64_t nchunks,
                             uint64_t per, uint64_t n, size_t rsize,
                             struct span *out, size_t max)
{
    size_t k = 0;
    for (uint64_t c = 0; c < nchunks && c < 64 && k < max; c++) {
        uint64_t base, first = n > c * per ? n - c * per : 0;
        if (first >= per || live->read(t, chunks + 8 * c, &base, 8) < 0)
            continue;
        out[k++] = (struct span){base + first * rsize, base + per * rsize};
    }
    return k;
}

/* Record sizes by kind (GT_REC_*) from the layout table: the runtime's
 * records are bigger than the public structs (private fields follow). */
static void record_sizes(gto_target *t, const struct gt_registry *r, uint32_t size[5])
{
    struct gt_field f[256];
    uint32_t n = r->nlayout < 256 ? r->nlayout : 256;
    memset(size, 0, 5 * sizeof(*size));
    if (live->read(t, r->layout, f, n * sizeof(*f)) < 0)
        return;
    for (uint32_t i = 0; i < n; i++)
        if (f[i].id == 0 && f[i].rec < 5)
            size[f[i].rec] = f[i].size;
}

/* Zero runs at least this long are stored as a length, not bytes. */
#define ZERO_RUN 64

int main(int argc, char **argv)
{
    if (argc < 4 || argc > 5 || (argc == 5 && strcmp(argv[4], "moves") != 0)) {
        fprintf(stderr, "usage: make_image PID PROGRAM OUT [moves]\n");
        return 2;
    }
    int pid = atoi(argv[1]);
    char err[GTO_ERR_MAX];
    gto_target *t;
    if (gto_open_pid(pid, &t, err) < 0) {
        fprintf(stderr, "make_image: %s\n", err);
        return 1;
    }
    live = t->be;
    struct gto_backend rec = *live;
    rec.read = rec_read;
    rec.read_many = rec_read_many;
    t->be = &rec;
    static const unsigned passes[] = {GTO_SNAP_UNWIND | GTO_SNAP_MEASURE | GTO_SNAP_BLOCKERS,
                                      GTO_SNAP_UNWIND | GTO_SNAP_NO_FASTPATH};
    for (size_t i = 0; i < 2; i++) {
        gto_snapshot *s;
        if (gto_snapshot_take(t, passes[i], &s, err) < 0) {
            fprintf(stderr, "make_image: %s\n", err);
            return 1;
        }
        gto_snapshot_free(s);
    }

    /* Keep what lies in writable mappings, merged. */
    static struct span w[4096];
    size_t nw = writable(pid, w, 4096);
    /* Each range read, cut to the writable mappings it crosses; then
     * merged. */
    struct span *keep = calloc(nspans * 4 + 1, sizeof(*keep));
    size_t nkeep = 0;
    for (size_t i = 0; keep && i < nspans; i++)
        for (size_t k = 0; k < nw && nkeep < nspans * 4; k++) {
            uint64_t lo = spans[i].lo > w[k].lo ? spans[i].lo : w[k].lo;
            uint64_t hi = spans[i].hi < w[k].hi ? spans[i].hi : w[k].hi;
            if (lo < hi)
                keep[nkeep++] = (struct span){lo, hi};
        }
    if (!keep)
        return 1;
    qsort(keep, nkeep, sizeof(*keep), by_lo);
    size_t merged = 0;
    for (size_t i = 0; i < nkeep; i++) {
        if (merged && keep[i].lo <= keep[merged - 1].hi) {
            if (keep[i].hi > keep[merged - 1].hi)
                keep[merged - 1].hi = keep[i].hi;
        } else {
            keep[merged++] = keep[i];
        }
    }
    nkeep = merged;

    struct gt_registry r;
    struct span blank[192];
    size_t nblank = 0;
    uint32_t rsize[5];
    if (live->read(t, t->registry, &r, sizeof(r)) == 0 &&
        (record_sizes(t, &r, rsize), 1)) {
        nblank += unused_records(t, r.thread_chunks, r.thread_chunk_count,
                                 r.threads_per_chunk, r.thread_slots,
                                 rsize[GT_REC_THREAD], blank + nblank, 64);
        nblank += unused_records(t, r.loc_chunks, r.loc_chunk_count, r.locs_per_chunk,
                                 r.loc_count, rsize[GT_REC_LOCATION],
                                 blank + nblank, 64);
        nblank += unused_records(t, r.edge_chunks, r.edge_chunk_count,
                                 r.edges_per_chunk, r.edge_count,
                                 rsize[GT_REC_EDGE], blank + nblank, 64);
    }

    /* Segments: each kept range split into its data and its long zero
     * runs. */
    size_t nseg = 0, capseg = 64;
    struct gto_image_seg *seg = malloc(capseg * sizeof(*seg));
    uint8_t **data = malloc(capseg * sizeof(*data));
    for (size_t i = 0; seg && data && i < nkeep; i++) {
        size_t len = (size_t)(keep[i].hi - keep[i].lo);
        uint8_t *b = malloc(len);
        if (!b || live->read(t, keep[i].lo, b, len) < 0) {
            fprintf(stderr, "make_image: cannot read %#llx (+%zu)\n",
                    (unsigned long long)keep[i].lo, len);
            return 1;
        }
        for (size_t k = 0; k < nblank; k++) {
            uint64_t lo = blank[k].lo > keep[i].lo ? blank[k].lo : keep[i].lo;
            uint64_t hi = blank[k].hi < keep[i].hi ? blank[k].hi : keep[i].hi;
            if (lo < hi)
                memset(b + (lo - keep[i].lo), 0, (size_t)(hi - lo));
        }
        for (size_t at = 0; at < len;) {
            size_t z = at;
            while (z < len && !b[z])
                z++;
            int zero_piece = z - at >= ZERO_RUN || z == len;
            size_t end = z;
            if (!zero_piece) {
                /* Data up to the next long zero run. */
                for (end = at; end < len;) {
                    size_t r = end;
                    while (r < len && !b[r])
                        r++;
                    if (r - end >= ZERO_RUN || r == len)
                        break;
                    end = r + 1;
                }
            }
            if (nseg + 1 > capseg) {
                capseg *= 2;
                seg = realloc(seg, capseg * sizeof(*seg));
                data = realloc(data, capseg * sizeof(*data));
                if (!seg || !data)
                    return 1;
            }
            seg[nseg] = (struct gto_image_seg){keep[i].lo + at, end - at,
                                               zero_piece ? 0 : end - at};
            data[nseg++] = zero_piece ? NULL : b + at;
            at = end;
        }
    }

    struct gto_image_head h = {.registry = t->registry, .flags = GTO_IMAGE_EXACT,
                               .program = (uint32_t)atoi(argv[2])};
    memcpy(h.magic, GTO_IMAGE_MAGIC, 8);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    h.now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    if (argc == 5)
        h.flags |= GTO_IMAGE_MOVES;
    h.nsegs = (uint32_t)nseg;
    for (size_t i = 0; h.program && i < t->nmaps; i++)
        h.nmaps += strcmp(t->maps[i].path, t->exe) == 0;
    FILE *f = fopen(argv[3], "we");
    if (!f) {
        perror(argv[3]);
        return 1;
    }
    put(f, &h, sizeof(h));
    for (size_t i = 0; h.program && i < t->nmaps; i++)
        if (strcmp(t->maps[i].path, t->exe) == 0) {
            struct gto_image_map m = {t->maps[i].start, t->maps[i].end,
                                      t->maps[i].offset};
            put(f, &m, sizeof(m));
        }
    for (size_t i = 0; i < nseg; i++) {
        put(f, &seg[i], sizeof(seg[i]));
        if (seg[i].filesz)
            put(f, data[i], (size_t)seg[i].filesz);
    }
    if (fclose(f) != 0) {
        perror(argv[3]);
        return 1;
    }
    t->be = live;
    gto_close(t);
    return 0;
}
