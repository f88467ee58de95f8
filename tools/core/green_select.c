/*
 * green_select.c - what a compact core holds (--compact), and the green
 * thread count every core reports.
 *
 * A compact core holds what debugging the green threads needs, and no
 * more:
 *
 *   - every range libgtobserve reads of the target's writable memory
 *     while it takes a snapshot (the registry, its layout table, chunk
 *     arrays, records, the objects threads wait on): its own backend is
 *     wrapped by one that notes each range read, so the choice follows
 *     the reader as it changes;
 *   - each green thread's live stack part, from its saved sp minus the
 *     x86-64 red zone (128 bytes a leaf may use below sp) to its top:
 *     what unwinding and `info locals` read;
 *   - each kernel thread's stack from its sp (red zone too) to the end of
 *     its mapping, or of the green stack it runs on;
 *   - small writable mappings: .data and .bss, and anonymous mappings of
 *     at most SMALL_MAX populated bytes that hold no green stack (the
 *     dynamic linker's r_debug and link_map, TLS, the libc's state), and
 *     read-only data relocated at load time (RELRO);
 *   - the first page of each ELF file mapping (its build-id) and [vdso].
 *
 * Stack pages below a thread's saved sp (dead frames, never-touched
 * pages) stay out: the core says so in its flags (GT_CAPTURE_COMPACT),
 * and readers do not measure what is not there.
 */
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core.h"
#include "internal.h"

#define RED_ZONE 128
#define SMALL_MAX (1u << 20)        /* populated bytes of a "small" mapping */
#define LIVE_MAX (64ull << 20)      /* a live stack part past this is damage */

struct span {
    uint64_t lo, hi;
};

struct spans {
    struct span *v;
    size_t n, cap;
    int failed;
};

struct green_ctx {
    gto_target *t;
    const struct gto_backend *live;
    struct gto_backend rec;
    struct spans read;       /* ranges the snapshot read */
    int recording;
};

/* The backend callbacks carry no context of their own: one capture at a
 * time, this is it. */
static struct green_ctx *current;
static gto_snapshot *snap;   /* the snapshot of the capture, for the plan */

static void span_add(struct spans *s, uint64_t lo, uint64_t hi)
{
    if (lo >= hi || s->failed)
        return;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4096;
        struct span *v = realloc(s->v, cap * sizeof(*v));
        if (!v) {
            s->failed = 1;
            return;
        }
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = (struct span){lo, hi};
}

static int rec_read(gto_target *t, uint64_t addr, void *buf, size_t len)
{
    if (current->recording && addr + len >= addr)
        span_add(&current->read, addr, addr + len);
    return current->live->read(t, addr, buf, len);
}

static int rec_read_many(gto_target *t, const struct gto_range *r, size_t n,
                         uint8_t *ok)
{
    for (size_t i = 0; current->recording && i < n; i++)
        if (r[i].addr + r[i].len >= r[i].addr)
            span_add(&current->read, r[i].addr, r[i].addr + r[i].len);
    return current->live->read_many(t, r, n, ok);
}

int core_green_open(struct capture *c, struct green_ctx **out, char *err)
{
    struct green_ctx *g = calloc(1, sizeof(*g));
    char e[GTO_ERR_MAX];
    *out = NULL;
    if (!g) {
        core_err(err, "out of memory");
        return -1;
    }
    if (gto_open_pid(c->pid, &g->t, e) < 0) {
        core_err(err, "%s", e);
        free(g);
        return -1;
    }
    c->registry = g->t->registry;
    g->live = g->t->be;
    g->rec = *g->live;
    g->rec.read = rec_read;
    g->rec.read_many = rec_read_many;
    g->t->be = &g->rec;
    current = g;
    *out = g;
    return 0;
}

void core_green_close(struct green_ctx *g)
{
    if (!g)
        return;
    gto_snapshot_free(snap);
    snap = NULL;
    g->t->be = g->live;
    gto_close(g->t);
    free(g->read.v);
    if (current == g)
        current = NULL;
    free(g);
}

static int by_lo(const void *a, const void *b)
{
    const struct span *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static void merge(struct spans *s)
{
    if (!s->n)
        return;
    qsort(s->v, s->n, sizeof(*s->v), by_lo);
    size_t m = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (m && s->v[i].lo <= s->v[m - 1].hi) {
            if (s->v[i].hi > s->v[m - 1].hi)
                s->v[m - 1].hi = s->v[i].hi;
        } else {
            s->v[m++] = s->v[i];
        }
    }
    s->n = m;
}

int core_green_count(struct capture *c, struct green_ctx *g, char *err)
{
    char e[GTO_ERR_MAX];
    /* A snapshot before (the pre-plan's) gives its buffers back to the
     * target, so this one, taken while the target is stopped, reuses
     * them instead of faulting in fresh pages. */
    gto_snapshot_free(snap);
    snap = NULL;
    g->read.n = 0;
    g->read.failed = 0;
    g->recording = c->mode == CORE_COMPACT;
    unsigned flags = c->mode == CORE_COMPACT ? GTO_SNAP_BLOCKERS : 0;
    int rc = gto_snapshot_take(g->t, flags, &snap, e);
    g->recording = 0;
    if (rc < 0) {
        core_err(err, "%s", e);
        return -1;
    }
    c->registry = g->t->registry;
    c->green_threads = gto_thread_count(snap);
    return 0;
}

/* The populated part of [lo, hi) into S (pages.c). */
struct pop_arg {
    struct spans *s;
    uint64_t bytes;
};

static int pop_add(void *arg, uint64_t lo, uint64_t hi)
{
    struct pop_arg *a = arg;
    span_add(a->s, lo, hi);
    a->bytes += hi - lo;
    return 0;
}

static int elf_head(pid_t pid, uint64_t addr)
{
    uint8_t b[4];
    struct iovec l = {b, 4}, r = {(void *)(uintptr_t)addr, 4};
    return process_vm_readv(pid, &l, 1, &r, 1, 0) == 4 && memcmp(b, ELFMAG, 4) == 0;
}

/* The green stack holding ADDR: its top, 0 none. */
static uint64_t green_top(uint64_t addr)
{
    for (size_t i = 0; i < gto_thread_count(snap); i++) {
        const struct gto_thread *th = gto_thread_at(snap, i);
        if (addr >= th->stack_lo && addr < th->stack_hi)
            return th->stack_hi;
    }
    return 0;
}

int core_plan_compact(struct capture *c, struct green_ctx *g, char *err)
{
    struct spans want = {0};
    int pm = core_pages_open(c->pid);
    if (pm < 0) {
        core_err(err, "cannot open /proc/%d/pagemap: %s", (int)c->pid, strerror(errno));
        return -1;
    }
    /* What the snapshot read, in writable mappings (the rest is the
     * files', which GDB and the readers read from the files). */
    merge(&g->read);
    for (size_t i = 0; i < g->read.n; i++) {
        uint64_t lo = g->read.v[i].lo, hi = g->read.v[i].hi;
        while (lo < hi) {
            const struct core_map *m = core_map_of(c, lo);
            if (!m) {
                lo = (lo / CORE_PAGE + 1) * CORE_PAGE;
                continue;
            }
            uint64_t e = hi < m->hi ? hi : m->hi;
            if (m->perms[1] == 'w' && m->perms[0] == 'r')
                span_add(&want, lo, e);
            lo = e;
        }
    }
    /* Green stacks: the live part, and which mappings hold stacks. */
    uint8_t *holds_stack = calloc(c->nmaps + 1, 1);
    for (size_t i = 0; i < gto_thread_count(snap); i++) {
        const struct gto_thread *th = gto_thread_at(snap, i);
        const struct core_map *m = core_map_of(c, th->stack_lo);
        if (m && holds_stack)
            holds_stack[m - c->maps] = 1;
        uint64_t lo = th->ctx_sp >= RED_ZONE ? th->ctx_sp - RED_ZONE : 0;
        if (lo < th->stack_lo)
            lo = th->stack_lo;
        if (th->ctx_sp >= th->stack_lo && th->ctx_sp <= th->stack_hi &&
            th->stack_hi - lo <= LIVE_MAX)
            span_add(&want, lo, th->stack_hi);
    }
    /* Kernel threads' stacks. */
    for (size_t i = 0; i < c->ntasks; i++) {
        const struct core_task *t = &c->tasks[i];
        if (!t->have_regs)
            continue;
        uint64_t sp = t->regs.rsp;
        const struct core_map *m = core_map_of(c, sp);
        if (!m)
            continue;
        uint64_t lo = sp >= RED_ZONE ? sp - RED_ZONE : 0;
        uint64_t top = green_top(sp);
        if (!top)
            top = m->hi;
        if (lo < m->lo)
            lo = m->lo;
        struct pop_arg a = {&want, 0};
        lo = lo / CORE_PAGE * CORE_PAGE;
        if (top - lo <= LIVE_MAX)
            core_pages_populated(pm, lo, (top + CORE_PAGE - 1) / CORE_PAGE * CORE_PAGE,
                                 pop_add, &a);
    }
    /* Small writable mappings, RELRO data, [vdso]. */
    for (size_t i = 0; i < c->nmaps; i++) {
        struct core_map *m = &c->maps[i];
        if (core_map_skipped(m) || (holds_stack && holds_stack[i]))
            continue;
        int anon = m->inode == 0 && (m->path[0] == 0 || m->path[0] == '[');
        if (strcmp(m->path, "[vdso]") == 0) {
            span_add(&want, m->lo, m->hi);
        } else if (anon && m->perms[1] == 'w') {
            struct spans part = {0};
            struct pop_arg a = {&part, 0};
            if (m->hi - m->lo <= (1ull << 30))
                core_pages_populated(pm, m->lo, m->hi, pop_add, &a);
            for (size_t k = 0; a.bytes <= SMALL_MAX && k < part.n; k++)
                span_add(&want, part.v[k].lo, part.v[k].hi);
            free(part.v);
        } else if (!anon && m->perms[3] == 'p' &&
                   (m->perms[1] == 'w' ||
                    (m->perms[2] != 'x' && m->hi - m->lo <= SMALL_MAX &&
                     core_pages_any_anon(pm, m->lo, m->hi)))) {
            span_add(&want, m->lo, m->hi);
        }
    }
    free(holds_stack);
    merge(&want);
    if (want.failed) {
        close(pm);
        free(want.v);
        core_err(err, "out of memory for the plan of %d's core", (int)c->pid);
        return -1;
    }
    /* Segments in address order: each mapping's chosen pieces, or the
     * mapping itself with nothing in the file but an ELF header's page,
     * so GDB knows the whole address space. */
    int rc = 0;
    size_t w = 0;
    for (size_t i = 0; i < c->nmaps && rc == 0; i++) {
        struct core_map *m = &c->maps[i];
        uint32_t fl = core_map_flags(m);
        while (w < want.n && want.v[w].hi <= m->lo)
            w++;
        int any = 0;
        for (size_t k = w; k < want.n && want.v[k].lo < m->hi && rc == 0; k++) {
            uint64_t lo = want.v[k].lo > m->lo ? want.v[k].lo : m->lo;
            uint64_t hi = want.v[k].hi < m->hi ? want.v[k].hi : m->hi;
            if (lo >= hi)
                continue;
            any = 1;
            rc = core_seg_add(c, lo, hi - lo, hi - lo, fl) ?: core_chunk_add(c, lo, hi - lo);
        }
        if (any || rc < 0)
            continue;
        if (!core_map_skipped(m) && m->inode && m->offset == 0 && elf_head(c->pid, m->lo)) {
            m->elf_head = 1;
            rc = core_seg_add(c, m->lo, m->hi - m->lo, CORE_PAGE, fl) ?:
                 core_chunk_add(c, m->lo, CORE_PAGE);
        } else if (m->inode && m->path[0] == '/') {
            rc = core_seg_add(c, m->lo, m->hi - m->lo, 0, fl);
        }
    }
    close(pm);
    free(want.v);
    if (rc < 0)
        core_err(err, "out of memory for the plan of %d's core", (int)c->pid);
    return rc;
}
