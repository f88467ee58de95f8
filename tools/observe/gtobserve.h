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
 *   gto_groups_merge               groups of several targets, by frames
 *
 * and every meaning readers derive from the registry, so that gt-stacks,
 * gt-waste, gt-top and the GDB extension say the same thing:
 *
 *   gto_quantile, gto_hist_quantile    percentiles (quantile.c)
 *   gto_classes                        thread classes, stack advice
 *   gto_wait_describe, gto_fresh_note  what a thread waits for
 *   gto_location_label, gto_pc_label   where ("f (file:line) < g (...)")
 *   gto_fmt_duration, gto_fmt_age ...  one text for one quantity
 *   gto_core_now                       a core's "now", exact or a bound
 *
 * Handles are opaque.  Everything a snapshot returns lives until
 * gto_snapshot_free; everything gto_symbolize returns lives until
 * gto_close.  Free a target's snapshots before closing it: a freed
 * snapshot gives its buffers back to its target, so that the next
 * snapshot of 100K threads reuses them instead of allocating again.
 * There is no global state: two targets can be open at once and used
 * from two threads (one thread per target).
 *
 * Errors: every function that can fail returns -1 and writes one line,
 * without a trailing newline, that names the thing and the fix into the
 * caller's `err` buffer of GTO_ERR_MAX bytes.  Nothing is printed.
 */
#ifndef GTOBSERVE_H
#define GTOBSERVE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* Every ABI number (states, wait kinds, flags, field ids, sizes) comes from
 * the registry's own header: this library keeps no copy of its own. */
#include <gt/registry.h>

#define GTO_ERR_MAX 512
/* A thread name as the snapshot holds it: the registry's 31 bytes made
 * safe text (gto_text_safe, at most 4 bytes each) and the NUL. */
#define GTO_NAME_MAX 128
#define GTO_LOC_DEPTH_MAX GT_LOCATION_DEPTH_MAX /* pcs a location records */
#define GTO_HIST_BUCKETS GT_WAIT_HIST_BUCKETS   /* log2 buckets of waits */
#define GTO_LABEL_MAX 2048   /* a location label (gto_location_label) */

typedef struct gto_target gto_target;
typedef struct gto_snapshot gto_snapshot;

/* Thread states: the registry's (enum gt_state), under this library's
 * prefix. */
enum gto_state {
    GTO_STATE_FREE = GT_STATE_FREE,
    GTO_STATE_RUNNABLE = GT_STATE_RUNNABLE,
    GTO_STATE_RUNNING = GT_STATE_RUNNING,
    GTO_STATE_PARKED = GT_STATE_PARKED,
    GTO_STATE_EXITED = GT_STATE_EXITED,
    GTO_STATE_COUNT = GT_STATE_EXITED + 1
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

/* Thread flags (gto_thread.flags): the registry's GT_TF_*. */
#define GTO_TF_DETACHED GT_TF_DETACHED
#define GTO_TF_MAIN GT_TF_MAIN
#define GTO_TF_TIMED_OUT GT_TF_TIMED_OUT
#define GTO_TF_UNSTACKED GT_TF_UNSTACKED /* parked in gt_wait_readable_then
                                          * holding no frames: its stack's
                                          * pages went back, and it starts
                                          * over in `entry` */

/* One green thread as the snapshot saw it.  Field meanings are the
 * registry's (gt/registry.h); times are ns of CLOCK_MONOTONIC. */
struct gto_thread {
    uint64_t addr;           /* its record in the target */
    uint32_t seq;            /* the record's seq word in this copy */
    uint64_t id, parent;
    char name[GTO_NAME_MAX]; /* safe text (gto_text_safe) */
    int state;               /* enum gto_state */
    int wait_kind;           /* registry's enum gt_wait_kind */
    unsigned flags;          /* registry's GT_TF_* */
    uint32_t location;       /* location index, 0 none: always 0 or the
                              * index of one of the snapshot's locations
                              * (see damaged) */
    uint64_t wait_obj, wait_arg, wait_since, deadline;
    uint64_t entry, arg, spawn_site, created, run_ns, switches;
    uint64_t stack_lo, stack_hi, guard_size;
    uint64_t ctx_sp, ctx_pc, ctx_fp;
    uint64_t ctx[GT_CTX_NREGS]; /* saved sp, pc, rbp, rbx, r12-r15 (GT_CTX_*) */
    int in_flux;             /* torn after every re-read: fields above are
                              * from the last copy and may be inconsistent */
    int sampled;             /* the running thread, and the registry's
                              * register sample (the watchdog's, or the
                              * fatal-signal handler's), taken at
                              * sample_ns, is of its current run: its
                              * frames come from that sample, not from
                              * its stale saved context, unless the target
                              * has the thread's registers itself (a
                              * core's NT_PRSTATUS, which win); 0 for
                              * every other thread */
    uint64_t sample_ns;
    int damaged;             /* its record (not in flux) named a location
                              * past the ones the registry counts: that
                              * index is not used, location is 0 (as for
                              * a record in flux); the other fields are
                              * as read */

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
 * nothing of the thread is on its stack, and it runs `entry` when
 * switched in.  The runtime says so itself (GT_TF_FRESH, inside the
 * record's seq bracket); a running thread's saved context is stale, not
 * fresh. */
static inline int gto_fresh_context(const struct gto_thread *th)
{
    return th->state != GTO_STATE_RUNNING && (th->flags & GT_TF_FRESH) != 0;
}

/* A location: an interned call site where threads park, with its queue.
 * Its index is its slot in the registry's location table, 1 up to
 * gto_location_count: a reader may size an array by that count and index
 * it by any location index of the snapshot (a thread's, an edge's). */
struct gto_location {
    uint32_t index;
    uint32_t depth;                     /* pcs in use */
    uint32_t wait_kind;
    uint64_t pcs[GTO_LOC_DEPTH_MAX];    /* pcs[0]: the call site */
    uint64_t waiting, arrivals, completed, total_wait_ns, max_wait_ns;
    uint64_t hist[GTO_HIST_BUCKETS];
    /* GTO_SNAP_QUEUE_HEADS: the wait_since of the thread at the head of
     * its queue, which the runtime keeps oldest first: when the oldest
     * wait in progress here began (the least wait_since of the threads
     * parked here).  0 unknown: no waiter, a record in flux, or a head
     * that kept waking while it was read. */
    uint64_t oldest_since;
    int in_flux;
    int damaged;                        /* the record's own index field was
                                         * not its slot (and it was not in
                                         * flux): not trusted, index is the
                                         * slot's */
};

/* An edge of the blocking graph: from one location to the next (index 0:
 * the thread's start).  An edge record naming a location past the ones
 * the registry counts is damaged: counted (gto_counters.damaged), not in
 * the snapshot. */
struct gto_edge {
    uint32_t from, to;
    uint64_t count, run_ns, max_run_ns;
    int in_flux;
};

/* The registry header's counters, and what the snapshot derives from them
 * and from its thread records.  Each header counter is exact on its own,
 * not consistent with the others. */
struct gto_counters {
    uint64_t pid;
    uint64_t clock_base, realtime_base, clock_now;
    uint64_t now;            /* the reader's "now" on the target's clock:
                              * CLOCK_MONOTONIC live; for a core, the rule
                              * of gto_core_now */
    int now_exact;           /* 0: `now` is only a lower bound (a core that
                              * cannot tell when it was written), and so
                              * is every age computed from it: print them
                              * with gto_fmt_age */
    uint64_t uptime_ns;      /* now - clock_base */
    uint64_t fatal_ns;       /* when a fatal signal hit, 0 none (or a
                              * runtime that does not publish it) */
    /* Threads by state, counted from this snapshot's thread records (never
     * the header's running tallies): nstate[] plus in_flux add up to
     * gto_thread_count, and nstate[GTO_STATE_RUNNING] <= 1.  A record that
     * stayed torn, or a second "running" thread that re-reading could not
     * settle, counts in in_flux and in no state.  (A snapshot taken with
     * GTO_SNAP_NO_THREADS has no records: the header's tallies then.) */
    uint64_t nstate[GTO_STATE_COUNT];
    uint64_t in_flux;
    /* Damage the reader found and did not trust: thread records left out
     * (an id past the ids given out, or 0, or a state that is none: no
     * thread is ever invented from them), and records not in flux whose
     * location index pointed past the locations the registry counts:
     * threads (gto_thread.damaged), locations (gto_location.damaged) and
     * edges (left out, as are such edges in flux).  A damaged registry, not
     * a race: a live target's locations are counted after its threads are
     * read. */
    uint64_t damaged;
    uint64_t switches, spawns, exits, runq_len, polls;
    uint64_t idle_ns;        /* time blocked in the poller, as counted when
                              * each blocking wait returned */
    uint64_t idle_since;     /* when the poller's current blocking wait
                              * began, 0 when not blocked (or unpublished) */
    uint64_t idle_total;     /* idle_ns plus the current stretch:
                              * idle_ns + (idle_since ? now - idle_since : 0) */
    uint64_t file_io_calls, file_io_ns;
    uint32_t guard_policy;   /* 1 madvise, 2 mprotect, 3 canary */
    uint64_t guard_mappings, max_map_count;
    uint64_t stack_default, stack_reserved, page_size, canary;
    uint64_t current;        /* record of the running thread, 0 none */
    int started;             /* 0: gt_main has not published the registry */
    uint64_t run_start;      /* registry.run_start: 0 began with a hand-off
                              * (or a runtime that does not publish it) */
    uint64_t watchdog_ns;    /* the watchdog's threshold, 0 off */
    uint64_t watchdog_events;
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

/* Closes T and frees everything it owns (symbols, cached buffers).  Free
 * its snapshots first.  NULL is allowed. */
void gto_close(gto_target *t);

/* What the target is, for messages: "process 123 (knot)", "core core.1".
 * Lives as long as T. */
const char *gto_target_name(const gto_target *t);

/* The capture note of a core written by gt-core (gt/registry.h, NOTES:
 * when it was taken, on the target's clocks, and how), NULL when T has
 * none: a live process, a core the kernel or GDB wrote, or a note that
 * is too short for the fields read or of another version (ignored as if
 * absent).  Lives as long as T. */
const struct gt_core_capture *gto_target_capture(const gto_target *t);

/* Whether T's stacks can be measured beyond their live part (touched,
 * dead, resident): 0 for a compact core (GT_CAPTURE_COMPACT), which holds
 * only each stack's live part.  A snapshot of such a target taken with
 * GTO_SNAP_MEASURE leaves every thread unmeasured (measured 0): readers
 * show those measures as unknown, never as zeros. */
int gto_stack_measures_known(const gto_target *t);

/* ---- snapshots ---------------------------------------------------------- */

#define GTO_SNAP_UNWIND 0x1u        /* copy live stacks and unwind them */
#define GTO_SNAP_MEASURE 0x2u       /* resident and touched bytes too */
#define GTO_SNAP_NO_FASTPATH 0x4u   /* unwind every thread with libunwind,
                                     * never the frame-pointer fast path */
#define GTO_SNAP_BLOCKERS 0x8u      /* read what each parked thread waits on
                                     * (mutex owners, channels) and build the
                                     * wait-for graph: gto_block_of,
                                     * gto_cycle_*, gto_location_blockers */
#define GTO_SNAP_NO_THREADS 0x10u   /* the header, locations and edges only,
                                     * no thread record (a few reads, not
                                     * one per chunk): gto_thread_count is
                                     * 0, counters.nstate the header's own
                                     * tallies, each location's waiting its
                                     * record's; for a frequent poller of
                                     * totals (gt-exporter) */
#define GTO_SNAP_QUEUE_HEADS 0x20u  /* each location's oldest wait in
                                     * progress (oldest_since), from the
                                     * record at the head of its queue:
                                     * one read per location with waiters,
                                     * for a snapshot without the records
                                     * (GTO_SNAP_NO_THREADS) */

/* Copies the registry: threads (every slot not free), locations, edges and
 * counters, one read per chunk, torn records re-read a bounded number of
 * times and then marked in_flux.  A live target keeps running meanwhile.
 * Fails on a magic or ABI mismatch (naming both), a registry whose pointers
 * point nowhere, or a process that exits during the read. */
int gto_snapshot_take(gto_target *t, unsigned flags, gto_snapshot **out,
                      char *err);

/* Frees S; its buffers go back to its target for the next snapshot.
 * NULL is allowed. */
void gto_snapshot_free(gto_snapshot *s);

/* The counters of S: header counters, state counts from the records,
 * "now" and what derives from it.  Lives as long as S. */
const struct gto_counters *gto_snapshot_counters(const gto_snapshot *s);

/* Threads of S (every slot not free), in slot order; gto_thread_at gives
 * NULL past the end. */
size_t gto_thread_count(const gto_snapshot *s);
const struct gto_thread *gto_thread_at(const gto_snapshot *s, size_t i);
/* The thread with this id, NULL when there is none. */
const struct gto_thread *gto_thread_by_id(const gto_snapshot *s, uint64_t id);
/* Locations of S, index 1 up, in index order; NULL past the end. */
size_t gto_location_count(const gto_snapshot *s);
const struct gto_location *gto_location_at(const gto_snapshot *s, size_t i);
/* The location with this index, NULL when there is none (or index 0). */
const struct gto_location *gto_location_by_index(const gto_snapshot *s,
                                                 uint32_t index);
/* Edges of the blocking graph of S; NULL past the end. */
size_t gto_edge_count(const gto_snapshot *s);
const struct gto_edge *gto_edge_at(const gto_snapshot *s, size_t i);

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

/* The symbols of frame I of thread TH: frame 0 (the saved context's pc,
 * where the thread resumes) at its exact pc, every other frame as a return
 * address, as debuggers number and look them up.  Returns their number
 * (at least 1), innermost first; the array lives until gto_close. */
size_t gto_frame_symbols(gto_target *t, const struct gto_thread *th,
                         size_t i, const struct gto_symbol **out);

/* The number every reader prints for frame I of TH ("#N"): GDB's, once
 * `green-thread ID` has selected the thread.  GDB's frame #0 is then the
 * OS thread's own (its pc cannot be changed on a core), so a thread that
 * is not running starts at #1; the running thread's frames are the OS
 * thread's and start at #0. */
size_t gto_frame_number(const struct gto_thread *th, size_t i);

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
 * lowest representative id.  Returns the number of groups and sets *OUT,
 * freed with gto_groups_free; -1 with ERR set (out of memory). */
ssize_t gto_group(const gto_snapshot *s, const struct gto_thread *const *th,
                  size_t n, struct gto_group **out, char *err);

/* Frees the N groups G that gto_group made (NULL is allowed). */
void gto_groups_free(struct gto_group *g, size_t n);

/* Groups of several targets (processes), merged: groups of different
 * targets are one when their stacks are the same source-level frames
 * (every frame's functions, files and lines, inlined calls included;
 * module and offset for a frame without a name; for a fresh context its
 * location's label, entry function and whether it waits unstacked; for a
 * thread with no frames its state, unwind status and location's label).
 * Never raw pcs: each process loads its modules at its own addresses.
 * Groups of one target whose pcs differ but whose frames read the same
 * merge too. */
struct gto_group_set {
    gto_target *t;
    const gto_snapshot *s;
    const struct gto_group *g;           /* gto_group's result for s */
    size_t n;
};

/* One set's group within a merged group. */
struct gto_merged_part {
    size_t set;                          /* index into the sets */
    const struct gto_group *g;
};

struct gto_merged {
    size_t count;                        /* threads over every part */
    size_t nstate[GTO_STATE_COUNT];
    size_t nparts;
    const struct gto_merged_part *parts; /* by set, then in the set's group
                                          * order: parts[0].g->rep is the
                                          * merged group's representative */
    /* Wait ages of the parked members, each on its own target's "now". */
    size_t nwaiting;
    uint64_t wait_min, wait_median, wait_max;
};

/* Merges the groups of the NSETS sets, biggest merged group first, ties
 * by the first part's set and then its place in that set.  Returns the
 * number of merged groups and sets *OUT, freed with gto_merged_free; -1
 * with ERR set (out of memory). */
ssize_t gto_groups_merge(const struct gto_group_set *sets, size_t nsets,
                         struct gto_merged **out, char *err);

/* The threads of merged group M that set SET holds. */
size_t gto_merged_count(const struct gto_merged *m, size_t set);

/* Frees the N merged groups M (NULL is allowed). */
void gto_merged_free(struct gto_merged *m, size_t n);

/* ---- modules (module.c) ------------------------------------------------- */

/* A mapped ELF file of a target. */
struct gto_module {
    uint64_t start, end;     /* its addresses in the target: the lowest of
                              * its segments, and past the highest */
    const char *path;        /* the file as the target maps it (safe text) */
    const char *build_id;    /* its GNU build-id in lowercase hex, NULL when
                              * it has none */
};

/* The module of T that holds PC: 0 with *OUT set, its strings living until
 * gto_close; -1 when no module holds PC. */
int gto_module_of(gto_target *t, uint64_t pc, struct gto_module *out);

/* ---- who blocks whom (blockers.c) --------------------------------------- */

/* What holds up a parked thread, from a snapshot taken with
 * GTO_SNAP_BLOCKERS.  The wait-for graph has an edge from a thread to the
 * one it waits on where that is provable: a mutex's owner (GT_WAIT_MUTEX)
 * and a joined thread (GT_WAIT_JOIN).  A condition variable's waiter waits
 * for a signal anyone may send (no edge), then retakes a mutex: its owner
 * is named, not an edge.  A channel's waiter waits for anyone (no edge):
 * its fill, capacity and the threads parked on the other side are named.
 * Objects are read through the registry's layout records (GT_REC_MUTEX,
 * GT_REC_CHAN): no DWARF needed. */
enum gto_obj_status {
    GTO_OBJ_NONE = 0,        /* the wait names no object (fd, poll, sleep) */
    GTO_OBJ_OK,              /* read, and its magic says what it is */
    GTO_OBJ_UNREADABLE,      /* not in the target's memory (or the core's) */
    GTO_OBJ_BAD_MAGIC,       /* read, but not a live object of its kind */
    GTO_OBJ_UNPUBLISHED,     /* the runtime publishes no layout for it */
};

struct gto_block {
    int kind;                /* the thread's wait kind */
    int obj_status;          /* enum gto_obj_status */
    uint64_t obj;            /* the wait object (wait_obj) */
    /* Mutex: its owner; join: the joined thread; cond: the owner of the
     * mutex it will retake.  NULL when there is none (unlocked), it is
     * unknown, or the owner's record is not a thread of the snapshot. */
    const struct gto_thread *by;
    uint64_t by_record;      /* the owner's record address as read, 0 none */
    int edge;                /* 1: `by` is a wait-for edge (mutex, join) */
    uint64_t held_since;     /* mutex/cond: when `by` took the mutex (ns,
                              * registry.h HOLD TIMES), 0 unknown */
    uint64_t mutex;          /* cond: the mutex it retakes (wait_arg) */
    uint64_t chan_len, chan_cap; /* chan: fill and capacity */
    int chan_closed;
    uint64_t peers;          /* chan: threads of the snapshot parked on the
                              * other side (receivers for a sender) */
    size_t cycle;            /* 1 + index of the deadlock cycle the thread
                              * is in, 0 none (gto_cycle_at) */
};

/* The block of TH, a thread of S; NULL when TH is not parked, its record
 * was in flux (its wait fields may not belong together), or S was taken
 * without GTO_SNAP_BLOCKERS.  obj_status is the status of the object
 * read: the mutex for a mutex wait and for a cond wait (the one it
 * retakes, `mutex`), the channel for a channel wait; GTO_OBJ_NONE for a
 * join (it names a thread by id: `by` NULL means no such thread) and
 * for waits that name no object. */
const struct gto_block *gto_block_of(const gto_snapshot *s,
                                     const struct gto_thread *th);

/* A deadlock: threads[i] waits on threads[(i + 1) % n] through an edge
 * (mutex or join); threads[0] is the member with the lowest id.  Live,
 * a cycle is reported only when re-reading its members' records and
 * objects finds every one unchanged (a torn read never makes a cycle).
 * Cycles are ordered by their first thread's id. */
struct gto_cycle {
    size_t n;
    const struct gto_thread *const *threads;
};
size_t gto_cycle_count(const gto_snapshot *s);
const struct gto_cycle *gto_cycle_at(const gto_snapshot *s, size_t i);
/* Threads in some cycle (the sum of every cycle's n). */
uint64_t gto_cycle_threads(const gto_snapshot *s);

/* Who holds up the threads parked at location LOC: one entry per thread
 * that is a wait-for edge's target of at least one of them, with how
 * many, most first (ties: lowest id).  Returns the number of entries and
 * sets *OUT (owned by S); 0 when none. */
struct gto_loc_blocker {
    const struct gto_thread *by;
    size_t waiters;
};
size_t gto_location_blockers(const gto_snapshot *s, uint32_t loc,
                             const struct gto_loc_blocker **out);

/* The running thread and how long it has run without parking or
 * yielding.  Returns 1 and fills *OUT when one runs, else 0. */
struct gto_hog {
    const struct gto_thread *th;   /* NULL in a snapshot taken with
                                    * GTO_SNAP_NO_THREADS (the header's
                                    * current names the thread) */
    int run_known;           /* 0: it began with a hand-off (gt_yield) and
                              * no watchdog saw when: run_ns is 0 */
    uint64_t run_ns;         /* now - run start */
    int run_exact;           /* 0: run_ns is a lower bound (">= "): a
                              * hand-off bounded by the watchdog, or a
                              * core whose "now" is a lower bound */
    int hog;                 /* run_ns >= the threshold: the registry's
                              * watchdog_ns, or 100 ms with none */
    uint64_t threshold_ns;
};
int gto_hog(const gto_snapshot *s, struct gto_hog *out);

/* Texts every reader prints the same way (the GDB extension too):
 *
 *   gto_block_describe:  the wait, then who holds it up:
 *     "mutex 0x5610c0a01234 held by thread 2 "holder" (parked, sleep at
 *      truth_holder (blockers.c:52)) for 3.2s"
 *     "join thread 7 (parked, sleep at sleeper_wait (blockers.c:160))"
 *     "cond 0x... then mutex 0x... held by thread 3 "x" (running) for 2ms"
 *     "chan_recv 0x... (0/4 queued, 2 senders waiting)"
 *   The owner's "(state[, wait kind at place])": place is gto_pc_label
 *   of its location's call site (pcs[0]).  Ages by gto_fmt_age.
 *   NULL when TH is not parked.
 *
 *   gto_hog_describe: "thread 91 "spinner" has run 4.2s without
 *   yielding" (">= 4.2s", or "an unknown time since a hand-off"). */
const char *gto_block_describe(gto_target *t, const gto_snapshot *s,
                               const struct gto_thread *th, char *buf,
                               size_t len);
const char *gto_hog_describe(const gto_snapshot *s, const struct gto_hog *h,
                             char *buf, size_t len);

/* ---- quantiles (quantile.c) --------------------------------------------- */

/* The nearest-rank quantile Q (0 < Q <= 1) of the N values SORTED in
 * ascending order: sorted[ceil(Q * N) - 1].  0 when N is 0.  Every reader
 * of gt computes class percentiles with this rank rule. */
uint64_t gto_quantile(const uint64_t *sorted, size_t n, double q);

/* The quantile Q of a log2 histogram: bucket b counts values in
 * [2^b, 2^(b+1)) (bucket 0 also 0, the last one everything longer).  Finds
 * the bucket holding rank ceil(Q * total) and gives its upper bound
 * 2^(b+1) - 1 clamped to MAX, the largest value recorded (a location's
 * max_wait_ns): never past the data.  0 when the histogram is empty. */
uint64_t gto_hist_quantile(const uint64_t *hist, size_t nbuckets,
                           uint64_t max, double q);

/* ---- thread classes (classes.c) ----------------------------------------- */

/* What makes threads one class. */
enum gto_class_by {
    GTO_CLASS_BY_ENTRY = 0,  /* the entry function's name (the default: a
                              * server naming each connection's thread
                              * still has one class per kind of thread) */
    GTO_CLASS_BY_NAME,       /* the thread name, "-" when it has none */
    GTO_CLASS_BY_PREFIX,     /* the thread name up to its first space or
                              * digit ("conn 127.0.0.1:80" -> "conn") */
};

/* Parses "entry", "name" or "prefix" into *OUT: 0, or -1 for anything else
 * (*OUT untouched). */
int gto_class_by_parse(const char *s, enum gto_class_by *out);

/* The word for BY: "entry", "name", "prefix". */
const char *gto_class_by_name(enum gto_class_by by);

/* Thread TH's class under BY, written into BUF of LEN bytes (LEN >= 2;
 * truncated to fit) and returned.  Entry functions are symbolized through
 * T; an unknown one is its address in hex. */
const char *gto_thread_class(gto_target *t, const struct gto_thread *th,
                             enum gto_class_by by, char *buf, size_t len);

/* Percentiles of a class's stack bytes: gto_quantile of its samples. */
struct gto_pct {
    uint64_t p50, p99, max;
};

/* One class of threads and what its stacks say. */
struct gto_class {
    char *name;              /* gto_thread_class of its threads */
    size_t threads;          /* members */
    size_t sampled;          /* members whose stacks tell how deep the class
                              * goes: all but fresh contexts (never ran, or
                              * waiting unstacked), which hold no frames */
    size_t measured;         /* sampled members whose touched bytes are
                              * known: all of them, but none in a compact
                              * core (gto_stack_measures_known) */
    struct gto_pct touched;  /* over the measured members; zeros if none */
    struct gto_pct live;     /* over the sampled members; zeros if none */
    uint64_t stack_size;     /* largest reserved size among the members */
    uint64_t dead_resident;  /* sum of the members' dead_resident */
    int has_suggestion;      /* measured > 0 */
    uint64_t suggested;      /* page-rounded touched.max + max(touched.max / 4,
                              * page): never below touched.max plus a page */
    uint64_t saves;          /* (stack_size - suggested) * threads when the
                              * suggestion is smaller, else 0 */
};

/* The classes of the N threads TH (pointers into S) under BY, most
 * threads first, ties by name.  Touched bytes need a snapshot taken with
 * GTO_SNAP_MEASURE (unmeasured threads count as threads, not samples),
 * except in a target whose stacks cannot be measured (a compact core):
 * there live bytes are sampled from every thread not in flux, and no
 * touched bytes at all (measured 0, no suggestion).
 * PAGE is the page size for the suggestion (0: the target's).  Returns the
 * number of classes and sets *OUT, freed with gto_classes_free; -1 with ERR
 * set (out of memory).  O(n log n). */
ssize_t gto_classes(gto_target *t, const gto_snapshot *s,
                    const struct gto_thread *const *th, size_t n,
                    enum gto_class_by by, uint64_t page,
                    struct gto_class **out, char *err);

/* Frees the N classes C that gto_classes made (NULL is allowed). */
void gto_classes_free(struct gto_class *c, size_t n);

/* ---- descriptions and labels (describe.c, label.c) ---------------------- */

/* What the parked thread TH waits for, into BUF of LEN bytes: "fd 9 read",
 * "fd 9 write", "fd 9 read+write", "poll 3 fds", "sleep 1.5s left" (the
 * deadline less NOW; "sleep" without one), "mutex 0x55d0c0a01234",
 * "cond 0x...", "join thread 7", "chan_send 0x...", "chan_recv 0x...".
 * Returns BUF, or NULL when TH is not parked. */
const char *gto_wait_describe(const struct gto_thread *th, uint64_t now,
                              char *buf, size_t len);

/* How long the parked thread TH has waited at NOW: now - wait_since, 0
 * when it is not parked, has no wait start, or NOW is earlier (a core's
 * now that is only a lower bound).  The one wait-age rule of every
 * reader. */
uint64_t gto_wait_age(const struct gto_thread *th, uint64_t now);

/* What a fresh context (gto_fresh_context) is, into BUF: "no stack: waits
 * unstacked, starts over in FN" or "not started: starts in FN".  Returns
 * BUF, or NULL for a thread that is not a fresh context. */
const char *gto_fresh_note(gto_target *t, const struct gto_thread *th,
                           char *buf, size_t len);

/* "func (file:line)" of PC, the innermost source frame (for an inlined
 * call, the function the call is written in); "func (module)" without
 * line information, "0x401234 (module)" without a name.  RETURN_ADDRESS as
 * for gto_symbolize.  Returns BUF. */
const char *gto_pc_label(gto_target *t, uint64_t pc, int return_address,
                         char *buf, size_t len);

/* The label of location LOC ("where"): every pc of it, symbolized as a
 * return address, with its inline chain innermost first, each
 * "func (file:line)" as gto_pc_label gives it, all joined by " < ".  Two
 * locations whose pcs or inline chains differ never share a label.
 * "" for a location without pcs.  Returns BUF (LEN: GTO_LABEL_MAX is
 * enough for any location; longer labels are cut). */
const char *gto_location_label(gto_target *t, const struct gto_location *loc,
                               char *buf, size_t len);

/* ---- formatting (format.c) ---------------------------------------------- */

/* NS as a duration, into BUF: "12ns", "40us", "12.3ms", "7.0s", and past
 * 100 s whole units: "59m58s", "27h46m", "4d04h".  Returns BUF.  The one
 * duration format of every gt reader. */
const char *gto_fmt_duration(uint64_t ns, char *buf, size_t len);

/* An age (now - some timestamp) as gto_fmt_duration, with ">= " in front
 * when EXACT is 0 (the snapshot's now is a lower bound: now_exact). */
const char *gto_fmt_age(uint64_t ns, int exact, char *buf, size_t len);

/* Bytes, into BUF: "625 MiB", "16 KiB", "1.5 KiB", "512 B".  Returns BUF. */
const char *gto_fmt_bytes(uint64_t bytes, char *buf, size_t len);

/* A count with thousands separators: 40000 -> "40,000".  Returns BUF. */
const char *gto_fmt_count(uint64_t n, char *buf, size_t len);

/* Parses a duration: "1.5s", "200ms", "30us", "12ns", "2m", "1h", a bare
 * number being seconds.  Nanoseconds, or -1 when S is not one. */
int64_t gto_parse_duration(const char *s);

/* Makes the N bytes of S (NULs included) safe to print: valid printable
 * UTF-8 is copied unchanged; each byte below 0x20, 0x7f, each byte of an
 * invalid, truncated or overlong UTF-8 sequence (surrogates and anything
 * past U+10FFFF too) and each byte of a C1 control (U+0080..U+009F)
 * becomes "\xNN" (two lowercase hex digits); a backslash becomes "\".
 * So no escape sequence or newline from a target reaches a terminal, and
 * the text is always valid UTF-8.  Writes at most CAP bytes to OUT, the
 * NUL included, cut before an escape or a UTF-8 sequence that would not
 * fit, never inside one; returns the bytes written before the NUL.
 *
 * The library applies it once, where it reads or interns every string of
 * a target or a file: thread names, the process name, function, file and
 * module names.  Every reader prints those as they are (text, JSON, error
 * lines), and so they agree byte for byte; the GDB extension applies the
 * same rule. */
size_t gto_text_safe(const char *s, size_t n, char *out, size_t cap);

/* The line every reader prints about a gt-core capture C, into BUF:
 * "core written by gt-core at 2026-12-07 12:00:01 UTC (compact; target
 * stopped 0.096 s)": "full" or "compact"; "target stopped S s", "stopped
 * by its tracer" (GDB's green-gcore: stopped_ns 0) or "not stopped: best
 * effort" (GT_CAPTURE_NO_STOP).  The time is realtime_ns in UTC.
 * Returns BUF. */
const char *gto_fmt_capture(const struct gt_core_capture *c, char *buf, size_t len);

/* Writes the member "capture" of every reader's JSON document, without
 * braces: {"realtime_ns", "monotonic_ns", "stopped_ns": int, "compact",
 * "stopped": bool} of T's capture (gto_target_capture), or null. */
void gto_json_capture(FILE *f, const gto_target *t);

/* The "schema_version" every JSON document of every gt reader starts with
 * (gt-stacks, gt-waste, gt-top, the GDB commands, whose copy is
 * gdb/gt/fmt.py's SCHEMA_VERSION): the major version of the documents the
 * files in schema/ describe.  A member added leaves it alone; a member
 * removed or renamed, or a meaning changed, raises it, in the schemas too,
 * so a consumer can refuse what it was not written for. */
#define GTO_JSON_SCHEMA_VERSION 1

/* Writes S to F as a JSON string, quotes included; "null" for NULL.  A
 * byte that is not part of well-formed UTF-8 is written as the text
 * "\xNN" (as gto_text_safe writes it), control characters as \u00NN:
 * the document is valid UTF-8 whatever S holds. */
void gto_json_string(FILE *f, const char *s);

/* Writes the members every reader's JSON document shares about the whole
 * target, without braces: "now_exact", "uptime_ns", "idle_ns" (the current
 * idle stretch included), "file_io_calls", "file_io_ns", "threads",
 * "states" {"runnable", "running", "parked", "exited"}, "in_flux" and
 * "capture" (gto_json_capture).  One
 * routine, so the tools cannot name or count these differently. */
void gto_json_counters(FILE *f, const gto_snapshot *s);

/* ---- time (clock.c) ----------------------------------------------------- */

/* A core's "now" from what it holds.  C gives clock_base, realtime_base,
 * clock_now and fatal_ns; CAP is the core's gt-core capture (NULL none:
 * gto_target_capture); MTIME_NS is the core file's modification time
 * (CLOCK_REALTIME ns, 0 unknown).  In this order:
 *   fatal_ns != 0: fatal_ns, exact (the fault handler's own clock reading);
 *   CAP's monotonic_ns, when it is not before clock_now: exact (gt-core
 *   read the target's clock when it had stopped every kernel thread); a
 *   capture that did not stop the target (GT_CAPTURE_NO_STOP) may see the
 *   runtime read its clock after the copy began: then clock_now, exact;
 *   the mtime on the monotonic clock, clock_base + (mtime - realtime_base),
 *   when that is not before clock_now: exact (the core was written then);
 *   else clock_now, the runtime's last reading, *EXACT 0: a lower bound
 *   (a core copied without its mtime, or a clock stepped back).
 * Sets *EXACT and returns the now. */
uint64_t gto_core_now(const struct gto_counters *c,
                      const struct gt_core_capture *cap, uint64_t mtime_ns,
                      int *exact);

/* ---- names -------------------------------------------------------------- */

/* "runnable", "running", "parked", "exited" ("free", "unknown"). */
const char *gto_state_name(int state);
/* "fd", "poll", "sleep", "mutex", "cond", "join", "chan_send",
 * "chan_recv" ("none", "unknown"). */
const char *gto_wait_kind_name(int kind);
/* "madvise", "mprotect", "canary" ("unknown"). */
const char *gto_guard_policy_name(uint32_t policy);

#endif /* GTOBSERVE_H */
