/*
 * gtobserve.h - libgtobserve: every green thread of a gt program, read from
 * outside, live or from a core file.
 *
 * This header is the whole contract of the library that gt-stacks, gt-waste
 * and the viewer share.  It follows libdwfl's shape:
 *
 *   gto_open_pid / gto_open_core   a target: a live process, read through
 *                                  process_vm_readv and never stopped nor
 *                                  written, or a core file and its program
 *   gto_snapshot_take              one copy of the registry (threads,
 *                                  locations, edges, counters), read in bulk,
 *                                  each thread unwound from its saved context
 *   gto_symbolize                  function, file:line and inlined frames of
 *                                  a pc, cached per pc in the target
 *   gto_group                      threads with identical pc sequences
 *
 * Handles are opaque.  Everything a snapshot returns lives until
 * gto_snapshot_free; everything gto_symbolize returns lives until
 * gto_close.  Free a target's snapshots before closing it: a freed
 * snapshot gives its buffers back to its target, so that the next
 * snapshot of 100K threads reuses them instead of allocating again.  There is no global state: two targets can be open at once and
 * used from two threads (one thread per target).
 *
 * Errors: every function that can fail returns -1 and writes one line,
 * without a trailing newline, that names the thing and the fix into the
 * caller's `err` buffer of GTO_ERR_MAX bytes.  Nothing is printed.
 */
#ifndef GTOBSERVE_H
#define GTOBSERVE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define GTO_ERR_MAX 512
#define GTO_NAME_MAX 32      /* a thread name, NUL included */
#define GTO_LOC_DEPTH_MAX 8  /* pcs a location records at most */
#define GTO_HIST_BUCKETS 48  /* log2 buckets of a location's waits */

typedef struct gto_target gto_target;
typedef struct gto_snapshot gto_snapshot;

/* Thread states, as the registry (gt/registry.h) numbers them. */
enum gto_state {
    GTO_STATE_FREE = 0,
    GTO_STATE_RUNNABLE = 1,
    GTO_STATE_RUNNING = 2,
    GTO_STATE_PARKED = 3,
    GTO_STATE_EXITED = 4,
    GTO_STATE_COUNT
};

/* Why a thread has no (or a partial) backtrace. */
enum gto_unwind_status {
    GTO_UNWIND_OK = 0,        /* reached the thread's entry trampoline */
    GTO_UNWIND_NOT_TRIED,     /* snapshot taken without GTO_SNAP_UNWIND */
    GTO_UNWIND_RUNNING,       /* its registers are live on the CPU */
    GTO_UNWIND_IN_FLUX,       /* its record kept changing: not guessed */
    GTO_UNWIND_BAD_CONTEXT,   /* saved sp outside its own stack */
    GTO_UNWIND_TRUNCATED,     /* the unwinder stopped before the entry */
    GTO_UNWIND_NO_MEMORY,     /* its live stack reads as zeros: a core that
                               * left it out (gcore skips memory blocks that
                               * hold MADV_GUARD_INSTALL guard pages) */
};

/* One frame of a thread, innermost first.  Frame 0's sp is the saved sp
 * (ctx_sp); each caller's sp is its callee's sp + size. */
struct gto_frame {
    uint64_t pc;     /* the frame's pc: a return address except in frame 0
                      * of a fresh context (gto_fresh_context: the entry
                      * trampoline itself) */
    uint64_t size;   /* the bytes this frame holds, from its sp to its
                      * canonical frame address (the caller's sp; the
                      * outermost frame's is the stack top); 0 in a fresh
                      * context, whose words above sp are the runtime's
                      * zeros, never written by the thread */
};

/* Thread flags (gto_thread.flags), as the registry's GT_TF_* number them. */
#define GTO_TF_DETACHED 0x1u
#define GTO_TF_MAIN 0x2u
#define GTO_TF_TIMED_OUT 0x4u
#define GTO_TF_UNSTACKED 0x8u  /* parked in gt_wait_readable_then holding no
                                * frames: its stack's pages went back, and
                                * it starts over in `entry` */

/* One green thread as the snapshot saw it.  Field meanings are the
 * registry's (gt/registry.h); times are ns of CLOCK_MONOTONIC. */
struct gto_thread {
    uint64_t addr;           /* its record in the target */
    uint32_t seq;            /* the record's seq word in this copy */
    uint64_t id, parent;
    char name[GTO_NAME_MAX];
    int state;               /* enum gto_state */
    int wait_kind;           /* registry's enum gt_wait_kind */
    unsigned flags;          /* registry's GT_TF_* */
    uint32_t location;       /* location index, 0 none */
    uint64_t wait_obj, wait_arg, wait_since, deadline;
    uint64_t entry, arg, spawn_site, created, run_ns, switches;
    uint64_t stack_lo, stack_hi, guard_size;
    uint64_t ctx_sp, ctx_pc, ctx_fp;
    uint64_t ctx[8];         /* saved sp, pc, rbp, rbx, r12-r15 (GT_CTX_*) */
    int in_flux;             /* torn after every re-read: fields above are
                              * from the last copy and may be inconsistent */

    /* Backtrace (GTO_SNAP_UNWIND). */
    int unwind_status;       /* enum gto_unwind_status */
    size_t nframes;
    const struct gto_frame *frames;

    /* Stack measures in bytes (GTO_SNAP_MEASURE; live is always set). */
    int measured;            /* resident and touched are valid */
    uint64_t reserved;       /* stack_hi - stack_lo */
    uint64_t resident;       /* pages of the stack present in memory */
    uint64_t touched;        /* stack_hi - lowest non-zero word */
    uint64_t live;           /* stack_hi - saved sp; 0 in a fresh context */
    uint64_t dead;           /* touched - live */
    uint64_t unused;         /* reserved - touched */
    uint64_t dead_resident;  /* resident bytes in whole pages below the
                              * saved sp's page: what the thread could give
                              * back now (MADV_DONTNEED) without losing
                              * anything live */
};

/* Whether TH's saved context is a fresh start: it never ran, or it waits
 * unstacked (GTO_TF_UNSTACKED).  Its one frame is then the entry
 * trampoline, one instruction in (an exact pc, not a return address),
 * nothing of the thread is on its stack, and it runs `entry`
 * when switched in.  Deciding this by switches alone is wrong for an
 * unstacked thread, which has run.  A running thread's saved context is
 * stale, not fresh. */
static inline int gto_fresh_context(const struct gto_thread *th)
{
    return th->state != GTO_STATE_RUNNING &&
           (th->switches == 0 || (th->flags & GTO_TF_UNSTACKED) != 0);
}

/* A location: an interned call site where threads park, with its queue. */
struct gto_location {
    uint32_t index;
    uint32_t depth;                     /* pcs in use */
    uint32_t wait_kind;
    uint64_t pcs[GTO_LOC_DEPTH_MAX];    /* pcs[0]: the call site */
    uint64_t waiting, arrivals, completed, total_wait_ns, max_wait_ns;
    uint64_t hist[GTO_HIST_BUCKETS];
    int in_flux;
};

/* An edge of the blocking graph: from one location to the next. */
struct gto_edge {
    uint32_t from, to;
    uint64_t count, run_ns, max_run_ns;
    int in_flux;
};

/* The registry header's counters.  Each is exact on its own. */
struct gto_counters {
    uint64_t pid;
    uint64_t clock_base, realtime_base, clock_now;
    uint64_t now;            /* the reader's "now" on the target's clock:
                              * CLOCK_MONOTONIC live, clock_now for a core */
    uint64_t nstate[GTO_STATE_COUNT];
    uint64_t switches, spawns, exits, runq_len, polls, idle_ns;
    uint64_t file_io_calls, file_io_ns;
    uint32_t guard_policy;   /* 1 madvise, 2 mprotect, 3 canary */
    uint64_t guard_mappings, max_map_count;
    uint64_t stack_default, stack_reserved, page_size, canary;
    uint64_t current;        /* record of the running thread, 0 none */
    int started;             /* 0: gt_main has not published the registry */
};

/* ---- targets ------------------------------------------------------------ */

/* Opens the live process PID, read-only.  Finds gt_registry through the
 * ELF symbol tables (.dynsym, .symtab) or the .note.gt note of the
 * executable and of every mapped library, with the load bias from
 * /proc/PID/maps.  Never stops the process, never writes to it.
 * Fails (-1, err) when there is no such process, when reading it is not
 * permitted, or when no mapped object defines a registry. */
int gto_open_pid(pid_t pid, gto_target **out, char *err);

/* Opens a core file.  EXE is the program that dumped it; NULL takes the
 * path the core's NT_FILE note gives for its main program.  Checks that
 * the core is a complete x86-64 ELF core and, when both carry a GNU
 * build-id, that EXE is the build that dumped it.  Memory not in the core
 * (program text, read-only data) is read from the mapped files. */
int gto_open_core(const char *core, const char *exe, gto_target **out,
                  char *err);

void gto_close(gto_target *t);

/* What the target is, for messages: "process 123 (knot)", "core core.1". */
const char *gto_target_name(const gto_target *t);

/* ---- snapshots ---------------------------------------------------------- */

#define GTO_SNAP_UNWIND 0x1u        /* copy live stacks and unwind them */
#define GTO_SNAP_MEASURE 0x2u       /* resident and touched bytes too */
#define GTO_SNAP_NO_FASTPATH 0x4u   /* unwind every thread with libunwind,
                                     * never the frame-pointer fast path */

/* Copies the registry: threads (every slot not free), locations, edges and
 * counters, one read per chunk, torn records re-read a bounded number of
 * times and then marked in_flux.  A live target keeps running meanwhile.
 * Fails on a magic or ABI mismatch (naming both), a registry whose pointers
 * point nowhere, or a process that exits during the read. */
int gto_snapshot_take(gto_target *t, unsigned flags, gto_snapshot **out,
                      char *err);
void gto_snapshot_free(gto_snapshot *s);

const struct gto_counters *gto_snapshot_counters(const gto_snapshot *s);
size_t gto_thread_count(const gto_snapshot *s);
const struct gto_thread *gto_thread_at(const gto_snapshot *s, size_t i);
/* The thread with this id, NULL when there is none. */
const struct gto_thread *gto_thread_by_id(const gto_snapshot *s, uint64_t id);
size_t gto_location_count(const gto_snapshot *s);
const struct gto_location *gto_location_at(const gto_snapshot *s, size_t i);
/* The location with this index, NULL when there is none (or index 0). */
const struct gto_location *gto_location_by_index(const gto_snapshot *s,
                                                 uint32_t index);
size_t gto_edge_count(const gto_snapshot *s);
const struct gto_edge *gto_edge_at(const gto_snapshot *s, size_t i);
/* Threads whose unwinding used libunwind rather than the fast path. */
size_t gto_snapshot_slow_unwinds(const gto_snapshot *s);

/* ---- symbols ------------------------------------------------------------ */

/* One source-level frame of a pc; a pc in inlined code gives several,
 * innermost first, all but the last with `inlined` set. */
struct gto_symbol {
    const char *function;   /* "?" when unknown */
    const char *file;       /* NULL without line information */
    int line;               /* 0 without line information */
    const char *module;     /* basename of the ELF file, NULL unknown */
    uint64_t offset;        /* pc - function start (outermost only) */
    int inlined;
};

/* Symbolizes PC of TARGET.  RETURN_ADDRESS says the pc is a return address
 * (look up pc - 1, the call, so the line is the call's).  Cached per pc:
 * the array is owned by the target and stays valid until gto_close.
 * Returns the number of symbols (at least 1). */
size_t gto_symbolize(gto_target *t, uint64_t pc, int return_address,
                     const struct gto_symbol **out);

/* The symbols of frame I of thread TH: the right pc rule for that frame. */
size_t gto_frame_symbols(gto_target *t, const struct gto_thread *th,
                         size_t i, const struct gto_symbol **out);

/* ---- groups ------------------------------------------------------------- */

/* Threads with identical pc sequences.  A thread with no frames groups by
 * its state and location instead; fresh contexts (gto_fresh_context), all
 * one trampoline frame, by whether they wait unstacked, their location and
 * their entry too. */
struct gto_group {
    size_t count;
    const struct gto_thread **threads;   /* members, in snapshot order */
    const struct gto_thread *rep;        /* representative: lowest id */
    size_t nstate[GTO_STATE_COUNT];
    uint32_t location;                   /* the representative's */
    /* Wait ages (now - wait_since) of the parked members, ns. */
    size_t nwaiting;
    uint64_t wait_min, wait_median, wait_max;
};

/* Groups the N threads (pointers into S), biggest group first, ties by
 * lowest representative id.  Returns the number of groups; *OUT is freed
 * with gto_groups_free.  -1 with errno ENOMEM. */
ssize_t gto_group(const gto_snapshot *s, const struct gto_thread *const *th,
                  size_t n, struct gto_group **out);
void gto_groups_free(struct gto_group *g, size_t n);

/* ---- names -------------------------------------------------------------- */

const char *gto_state_name(int state);       /* "parked" */
const char *gto_wait_kind_name(int kind);    /* "fd", "mutex" */
const char *gto_guard_policy_name(uint32_t policy); /* "madvise" */

#endif /* GTOBSERVE_H */
