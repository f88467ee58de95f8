/*
 * internal.h - what the files of libgtobserve share.  Names: gto__ for
 * internal functions, everything else static.
 */
#ifndef GTO_INTERNAL_H
#define GTO_INTERNAL_H

#include <elfutils/libdwfl.h>
#include <gelf.h>
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>

#include "gtobserve.h"
#include "pcmap.h"

/* Whether [off, off + len) lies inside [0, limit): 1 when off + len does
 * not wrap and ends at limit or before.  Every (offset, size) pair read
 * from a file or a target goes through it before it is added, compared or
 * read from: a check written as "off + len > limit" passes a sum that
 * wraps (an offset of 2^64 - 16 and a size of 32 end at 16). */
static inline int gto__range_in(uint64_t off, uint64_t len, uint64_t limit)
{
    return off <= limit && len <= limit - off;
}

/* The page sizes a registry may state: a power of two of 4 KiB to 64 KiB
 * (x86-64's and AArch64's base pages).  A page size sizes buffers and
 * steps loops, so nothing else is ever used as one. */
#define GTO_PAGE_MIN 4096u
#define GTO_PAGE_MAX 65536u
static inline int gto__page_size_ok(uint64_t page)
{
    return page >= GTO_PAGE_MIN && page <= GTO_PAGE_MAX && !(page & (page - 1));
}

/* One range of target memory to read into a local buffer. */
struct gto_range {
    uint64_t addr;
    size_t len;
    void *buf;
};

struct gto_mapping;
struct gto_blockers;

/* The backend: everything that differs between a live process and a core
 * file.  Declared once here, implemented once per kind of target
 * (backend_live.c, backend_core.c), as an event loop declares its poll
 * once and implements it per platform; the code above the backend never
 * asks which one it has.  Each keeps its own state behind t->priv. */
struct gto_backend {
    const char *kind; /* "live", "core": for messages only */
    /* Whether the target's memory can change between two reads.  A live
     * process's does, so records and stacks are read again and their seq
     * compared (gt/registry.h, CONSISTENCY); a core's never does. */
    int memory_moves;
    /* Copies [addr, addr + len) into buf.  0 on success; -1 with errno:
     * EFAULT not mapped (or not in the core), ESRCH the process is gone,
     * EPERM not permitted. */
    int (*read)(gto_target *t, uint64_t addr, void *buf, size_t len);
    /* Reads N ranges with as few system calls as it can; ok[i] says which
     * range was read whole.  -1 with errno only when the target failed as
     * a whole (ESRCH, EPERM). */
    int (*read_many)(gto_target *t, const struct gto_range *r, size_t n,
                     uint8_t *ok);
    /* Pages of PAGE bytes of [lo, hi) (page aligned; PAGE checked by
     * gto__page_size_ok, and the machine's for a live target) present in
     * memory: one byte per page, 1 present.  0, or -1 with errno. */
    int (*residency)(gto_target *t, uint64_t lo, uint64_t hi, uint64_t page,
                     uint8_t *present);
    /* The target's "now" on its CLOCK_MONOTONIC, from the header counters
     * C (clock_base, realtime_base, clock_now, fatal_ns); *exact 0 when it
     * is only a lower bound (gto_core_now). */
    uint64_t (*now)(gto_target *t, const struct gto_counters *c, int *exact);
    /* The registers of the thread whose record is at REC, when the target
     * has them beyond what the context switch saved (a core's NT_PRSTATUS
     * for the thread that was running): regs[17] in DWARF numbering, 1.
     * 0 when it has none. */
    int (*thread_regs)(gto_target *t, uint64_t rec, uint64_t current,
                       uint64_t regs[17]);
    /* A registry that counts COUNTED threads whose records all read as
     * free slots: -1 and ERR when the backend knows why that is wrong (a
     * core that left the records out), 0 when it can be true. */
    int (*no_threads)(gto_target *t, uint64_t counted, char *err);
    /* Whether the target stopped being the program it was when opened (a
     * live process that exec'd another): 1 with ERR saying so, else 0.
     * Asked when a snapshot fails, so that the failure is blamed on the
     * exec and not on a registry that looks corrupt at the old
     * addresses.  NULL for a target that cannot change. */
    int (*replaced)(gto_target *t, char *err);
    /* Opens the file the target maps at M: a descriptor, or -1. */
    int (*open_mapping)(gto_target *t, const struct gto_mapping *m);
    void (*close)(gto_target *t);
};

/* A file mapping of the target, from /proc/PID/maps or NT_FILE. */
struct gto_mapping {
    uint64_t start, end;   /* target addresses */
    uint64_t offset;       /* in the file, bytes */
    char *path;            /* the file to read (EXE replaces the core's) */
    int deleted;           /* live: the file at path is not the mapped one
                            * any more (replaced, or removed) */
    int not_exec;          /* live: mapped without execute permission; 0
                            * in a core (NT_FILE does not say) */
    int fd;                /* opened on demand, -1 not yet, -2 failed */
};

/* Per-pc knowledge of the fast path (fastpath.c). */
enum gto_fp_rule {
    GTO_FP_UNKNOWN = 0,
    GTO_FP_STANDARD,  /* CFA = rbp + 16, rbp at CFA - 16, ra at CFA - 8 */
    GTO_FP_END,       /* return address undefined: the entry trampoline */
    GTO_FP_OTHER,     /* anything else: libunwind decides */
};

/* The scratch buffers of a target, one per use while a snapshot is taken:
 * a slab's records, its second copy (the seq check), their addresses, the
 * chunk pointers and ranges, which chunks were read, which records stayed
 * torn. */
enum {
    GTO_SCRATCH_RECS, GTO_SCRATCH_CHECK, GTO_SCRATCH_ADDRS, GTO_SCRATCH_PTRS,
    GTO_SCRATCH_RANGES, GTO_SCRATCH_OK, GTO_SCRATCH_FLUX, GTO_SCRATCH_COUNT
};

struct gto_target {
    const struct gto_backend *be;
    char name[128];          /* for messages */
    pid_t pid;               /* live: the process; core: who dumped it */
    char *exe;               /* the program's path */

    struct gto_mapping *maps;
    size_t nmaps;

    void *priv;              /* the backend's own state (backend_*.c) */

    /* A core's gt-core capture note (GT_NOTE_CAPTURE), checked when read
     * (backend_core.c): have_capture 0 when there is none (a live
     * process, a kernel core, a note damaged or of another version). */
    int have_capture;
    struct gt_core_capture capture;

    /* the registry */
    uint64_t registry;       /* its address */
    char *registry_object;   /* the ELF file that defines it */

    /* symbols and CFI (symbols.c, fastpath.c) */
    Dwfl *dwfl;
    struct gto_pcmap syms;   /* pc|flag -> struct gto_symcache * */
    struct gto_pcmap rules;  /* pc|flag -> enum gto_fp_rule + 1 */
    char **strings;          /* interned names owned by the target */
    size_t nstrings, capstrings;

    /* buffers kept from one snapshot to the next (snapshot.c), so that a
     * viewer refreshing every second neither allocates nor faults in
     * fresh pages for 100K records each time */
    struct gto_scratch {
        void *p;
        size_t cap;          /* bytes */
    } scratch[GTO_SCRATCH_COUNT];
    struct gto_thread *spare_threads; /* a freed snapshot's thread array */
    size_t spare_cap;        /* its capacity in threads */
    struct gto_blockers *spare_blockers; /* a freed snapshot's who blocks
                              * whom, its arrays kept (blockers.c) */

    /* unwinding (unwind.c) */
    void *unw_as;            /* unw_addr_space_t */
    struct gto_pcmap pages;  /* page address -> cached page (text, tables) */
    struct gto_pcmap tables; /* module start -> struct gto_unw_table * */
};

/* Formats the one-line error message: control characters and invalid
 * UTF-8 come out escaped, whatever the arguments held. */
void gto__err(char *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Sets t->name, for messages, made safe text (gto_text_safe): it holds
 * the process's own name (/proc/PID/comm, a core's NT_PRPSINFO). */
void gto__target_name_set(gto_target *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Whether S[0..n) is safe text already: gto_text_safe would copy it
 * unchanged (printable UTF-8, no backslash). */
int gto__text_is_safe(const char *s, size_t n);

/* gto_text_safe's rule without escaping the backslash: for a message
 * that mixes safe text (whose backslashes are escapes) with raw text. */
size_t gto__text_controls_safe(const char *s, size_t n, char *out, size_t cap);

/* The mapped file of M, opened once: the file the target really maps even
 * when it was replaced on disk since.  -2 when it cannot be opened. */
int gto__mapping_fd(gto_target *t, struct gto_mapping *m);

/* Opens PATH for reading only if it is a regular file: the descriptor;
 * -1 with errno when it cannot be opened; -2 when it is something else (a
 * FIFO, a directory, a device).  Opened without blocking, so that a FIFO
 * with no writer cannot hang the reader in open(). */
int gto__open_regular(const char *path);

/* Reads from a mapped file (core targets: memory the core left out). */
int gto__file_read(gto_target *t, uint64_t addr, void *buf, size_t len);
/* Reads from a mapped file what is left of ADDR's 4 KiB page, at most LEN:
 * the bytes read, or -1.  Backends that hold only part of memory (a core,
 * an image) read what they lack so, a page at a time, so that a range
 * running back into what they hold is read from them again. */
ssize_t gto__file_read_page(gto_target *t, uint64_t addr, void *buf, size_t len);
/* A backend's read_many for backends with no batched read: each range
 * through be->read. */
int gto__read_each(gto_target *t, const struct gto_range *r, size_t n, uint8_t *ok);

/* Opens a target over a memory image of LEN bytes (memory_image.h,
 * backend_memory.c); EXE, when given, is the program file its mappings
 * map (symbols and text), else it has none.  The image must outlive the
 * target.  For the fuzzer (tests/fuzz/): no tool opens one. */
int gto__open_memory(const void *image, size_t len, const char *exe,
                     gto_target **out, char *err);

/* Decodes the descriptor DESC of LEN bytes of a "gt" GT_NOTE_CAPTURE note
 * into *OUT (capture.c): 0, or -1 when it is too short for the fields
 * readers use or of another version (*OUT untouched). */
int gto__capture_parse(const uint8_t *desc, uint64_t len, struct gt_core_capture *out);

/* Finds the registry among the target's mapped files (target.c). */
int gto__find_registry(gto_target *t, char *err);

/* ELF helpers (elf_file.c). */
int gto__elf_symbol(Elf *elf, const char *name, uint64_t *value);
int gto__elf_registry_note(Elf *elf, uint64_t *value);
uint64_t gto__elf_first_vaddr(Elf *elf);
int gto__elf_build_id(Elf *elf, uint8_t *id, size_t max, uint64_t *vaddr);
const char *gto__machine_name(unsigned machine);

/* Symbols and CFI (symbols.c). */
int gto__dwfl_open(gto_target *t, char *err);
/* S as safe text (gto_text_safe): S itself when it is safe already,
 * else an escaped copy owned by T (until gto_close); NULL for NULL, and
 * "?" when out of memory. */
const char *gto__intern(gto_target *t, const char *s);

/* Fast path (fastpath.c): the rule at pc (exact when frame 0). */
enum gto_fp_rule gto__fp_rule(gto_target *t, uint64_t pc, int exact);

/* Unwinding (unwind.c). */
struct gto_unw_thread {
    gto_target *t;
    uint64_t regs[17];      /* DWARF numbering: rax..r15 (0-15), rip (16) */
    uint32_t valid;         /* bit per register */
    uint64_t copy_lo;       /* the stack copy covers [copy_lo, copy_hi) */
    uint64_t copy_hi;
    const uint8_t *copy;
};
int gto__unwind_init(gto_target *t, char *err);
void gto__unwind_fini(gto_target *t);
/* Unwinds one thread; frames go to *frames (malloc'd), *n their count.
 * Returns an enum gto_unwind_status. */
int gto__unwind_libunwind(struct gto_unw_thread *u, uint64_t top,
                          struct gto_frame **frames, size_t *n);

/* A frame-pointer walk in progress (fastpath.c): the registers of the
 * frame it is at, and the stack's top. */
struct gto_fp_walk {
    uint64_t pc, sp, fp, top;
};
/* Walks W on as far as the stack words BUF holds for [lo, lo + len) allow,
 * appending frames to *f (*n of them, room for *cap; realloc'd).  0: the
 * walk reached the entry trampoline; 1: it needs the words at w->fp, which
 * BUF lacks (read them, call again); -1: a pc with another CFI rule, too
 * many frames or a corrupt chain: libunwind decides (the frames so far are
 * to be dropped). */
int gto__fp_walk(gto_target *t, struct gto_fp_walk *w, uint64_t lo,
                 const uint8_t *buf, size_t len, struct gto_frame **f,
                 size_t *n, size_t *cap);

/* Asks for transparent huge pages over the BYTES at P (huge.c): for the
 * big arrays of a snapshot and of its analysis, which would otherwise
 * fault in a page at a time. */
void gto__huge_pages(void *p, size_t bytes);

/* Frees the buffers snapshots keep on the target (snapshot.c). */
void gto__snapshot_cache_free(gto_target *t);

/* Stack measures (measure.c). */
int gto__measure(gto_target *t, gto_snapshot *s, char *err);

/* Where a field of a record lives: OFF and SIZE bytes, SIZE 0 absent. */
struct gto_fld {
    uint32_t off, size;
};

/* Reads field F of the record copy B (little-endian; 1, 2, 4 or 8 bytes,
 * anything else reads as 0).  B holds the whole record: F was checked to
 * lie inside it when the layout table was read. */
static inline uint64_t gto__fld(const uint8_t *b, struct gto_fld f)
{
    uint64_t v = 0;
    if (f.size == 1 || f.size == 2 || f.size == 4 || f.size == 8)
        memcpy(&v, b + f.off, f.size);
    return v;
}

/* The layouts blockers.c reads objects and re-reads thread records with,
 * from the registry's layout table (GT_REC_MUTEX, GT_REC_COND,
 * GT_REC_CHAN, GT_REC_THREAD).  A size of 0: the runtime publishes none
 * (or a damaged one), and the object is GTO_OBJ_UNPUBLISHED. */
#define GTO_OBJECT_MAX 1024u /* the bytes of an object a reader reads at
                              * most: its fields are the first few words
                              * of a gt_mutex_t or gt_chan_t, and a layout
                              * that claims more is damage (unpublished) */
struct gto_obj_layout {
    uint32_t mutex_size, cond_size, chan_size, thr_size;
    struct gto_fld mutex_owner, mutex_magic, mutex_held_since;
    struct gto_fld chan_magic, chan_cap, chan_len, chan_closed;
    struct gto_fld thr_seq, thr_state, thr_wait_kind, thr_wait_obj,
        thr_wait_since;
};

/* The registry's register sample (THE WATCHDOG'S SAMPLE) as the first
 * header copy held it. */
struct gto_sample {
    int usable;              /* seq even, and it is the slice of the
                              * `current` and `switches` of the same copy */
    uint32_t seq;
    uint64_t thread, switches, ns;
    int64_t syscall;         /* -1 user code: every register is known */
    uint64_t regs[GT_CTX_NREGS];
};

struct gto_blockers;

/* Who blocks whom (blockers.c): reads the wait objects of S's parked
 * threads and builds the wait-for graph, its cycles (confirmed by a
 * re-read on a live target) and each location's blockers into s->bl.
 * 0, or -1 with ERR (out of memory, the process gone). */
int gto__blockers(gto_target *t, gto_snapshot *s, char *err);
void gto__blockers_free(struct gto_blockers *b);
/* Gives a freed snapshot's B back to T (NULL: frees it) for the next
 * gto__blockers, the bigger of the two kept, as its thread array. */
void gto__blockers_give_back(gto_target *t, struct gto_blockers *b);

/* The snapshot's internals that measure.c and blockers.c need. */
struct gto_snapshot {
    gto_target *t;
    struct gto_counters c;
    struct gto_thread *threads;
    size_t nthreads;
    size_t cap_threads;         /* threads' capacity (given back to t) */
    struct gto_location *locs;
    size_t nlocs;
    struct gto_edge *edges;
    size_t nedges;
    struct gto_frame *frames;   /* every thread's frames */
    struct gto_pcmap by_id;     /* id -> index + 1, built on first use */
    /* RUNNING (gt/registry.h), from the header copy that gave current */
    uint64_t run_switches, wd_switches, wd_since;
    struct gto_sample sample;
    struct gto_obj_layout ol;
    struct gto_blockers *bl;    /* GTO_SNAP_BLOCKERS, else NULL */
    int no_threads;             /* taken with GTO_SNAP_NO_THREADS */
};

#endif /* GTO_INTERNAL_H */
