/*
 * gt/registry.h - the registry: what libgt publishes about its threads.
 *
 * The registry is the contract between the runtime (its only writer) and
 * every reader: the GDB extension, libgtobserve (gt-stacks, gt-waste,
 * gt-top).  Readers see it in the target's memory, from another process
 * (process_vm_readv) or from a core file, without stopping the target and
 * usually without DWARF.  Treat this file like a file format.
 *
 * FINDING IT
 *
 *   One object, `gt_registry` (struct gt_registry), exported with default
 *   visibility so it is in .dynsym of libgt.so and of every executable
 *   linked with libgt.a (the build links those with --export-dynamic-symbol
 *   or -rdynamic; see gt.pc).  Its first 32 bytes never change layout:
 *
 *     offset 0   u64  magic        GT_REGISTRY_MAGIC ("GTREGSTR" little-endian)
 *     offset 8   u32  abi          GT_REGISTRY_ABI
 *     offset 12  u32  header_size  sizeof(struct gt_registry)
 *     offset 16  u64  layout       address of the layout table (gt_field[])
 *     offset 24  u32  nlayout      entries in it
 *     offset 28  u32  arch         ELF e_machine of the target (62: x86-64)
 *
 *   A reader checks magic and abi first and names both versions on a
 *   mismatch.  Everything after offset 32 is found through the layout
 *   table, so a reader built for ABI N can read a registry that only added
 *   fields or grew records.  Changing the meaning of an existing field id
 *   breaks every reader: bump GT_REGISTRY_ABI instead.
 *
 * THE LAYOUT TABLE
 *
 *   An array of struct gt_field {rec, id, offset, size}: for record kind
 *   `rec` (GT_REC_*) the field `id` (GT_F_<REC>_*) lives at `offset` and
 *   is `size` bytes.  The entry with id 0 of each kind gives the record's
 *   size (offset = 0, size = record size).  Integers are little-endian on
 *   x86-64 and AArch64 (the target's byte order).  Pointers are target
 *   addresses, 8 bytes.
 *
 * RECORDS
 *
 *   Threads:   fixed-size records in chunks of GT_THREADS_PER_CHUNK
 *              (layout: registry.threads_per_chunk).  The registry holds an
 *              array of chunk pointers (registry.thread_chunks, capacity
 *              registry.thread_chunk_cap, used registry.thread_chunk_count).
 *              Chunks are never moved nor freed while the runtime lives, so
 *              a record's address is stable; the chunk array itself can be
 *              replaced by a bigger copy (read the pointer, then the array).
 *              Slot i is chunk i / per_chunk, index i % per_chunk; slots
 *              below registry.thread_slots have been used at least once;
 *              a free slot has state GT_STATE_FREE.
 *   Locations: the same scheme (loc_chunks...); location index 0 is "no
 *              location"; indices never change once given out.
 *   Edges:     the same scheme (edge_chunks...).
 *
 * CONSISTENCY (the reader's retry protocol)
 *
 *   Every record starts with a u32 `seq`.  The writer makes it odd, writes
 *   the record, then makes it even again, with release ordering.  A reader
 *   copies a chunk in one read, and for each record checks that seq is even
 *   and unchanged when read again after the copy (or on a second copy); a
 *   record that stays odd or changing after a few re-reads is "in flux"
 *   and is reported as such, never guessed.  In a core file a record can be
 *   caught odd (the process died mid-update): report it likewise.
 *   Counters in the registry header are plain u64s updated without a seq;
 *   each is exact on its own, not consistent with the others.
 *
 * TIME
 *
 *   Every timestamp is nanoseconds of CLOCK_MONOTONIC, as the runtime
 *   reads it cheaply at parks and switches: at most 20 us behind the
 *   kernel's clock at the moment it was taken, never ahead of it, and
 *   never going backwards.  registry.clock_base
 *   is that clock when the runtime started and registry.realtime_base the
 *   wall clock (CLOCK_REALTIME) at the same moment, so a reader can turn a
 *   timestamp into a date; registry.clock_now is the latest reading the
 *   runtime took.  That reading can be old: an idle process takes none
 *   while it sleeps in the poller, so in a core file clock_now is only a
 *   lower bound of "now".  Two fields tell a reader more:
 *
 *   fatal_ns    written by the runtime's fatal-signal handler (SIGSEGV,
 *               SIGBUS, SIGILL, SIGFPE, SIGABRT) from a real clock reading
 *               just before it re-raises the signal to die; clock_now gets
 *               the same value.  0 when no fatal signal arrived.  In a
 *               core the kernel wrote for that signal it is "now", exact.
 *   idle_since  when the poller began its current blocking wait (an
 *               epoll_wait with a timeout other than 0), 0 while it is not
 *               blocked; idle_ns counts only finished waits.  So the time
 *               idle up to now is idle_ns + (idle_since ? now - idle_since
 *               : 0), and a process that has slept in epoll for a minute
 *               shows it before the wait ends.
 */
#ifndef GT_REGISTRY_H
#define GT_REGISTRY_H

#include <stdint.h>

/* ABI constants: changing any of these breaks every reader. */
#define GT_REGISTRY_MAGIC 0x5254534745525447ull /* "GTREGSTR" */
#define GT_REGISTRY_ABI 1u
#define GT_THREADS_PER_CHUNK 1024u
#define GT_LOCS_PER_CHUNK 256u
#define GT_EDGES_PER_CHUNK 256u
#define GT_LOCATION_DEPTH_MAX 8
#define GT_WAIT_HIST_BUCKETS 48 /* bucket b: waits of [2^b, 2^(b+1)) ns;
                                 * bucket 0 also holds 0 ns, the last bucket
                                 * everything longer (2^47 ns = 39 hours) */

/* Thread states. */
enum gt_state {
    GT_STATE_FREE = 0,     /* slot not in use */
    GT_STATE_RUNNABLE = 1, /* in the run queue */
    GT_STATE_RUNNING = 2,  /* the current thread: its saved context is stale */
    GT_STATE_PARKED = 3,   /* blocked: see wait_kind, location */
    GT_STATE_EXITED = 4,   /* finished, waiting to be joined */
};

/* What a parked thread waits for.  wait_obj and wait_arg mean: */
enum gt_wait_kind {
    GT_WAIT_NONE = 0,
    GT_WAIT_FD = 1,        /* obj: fd, arg: poll events (POLLIN/POLLOUT) */
    GT_WAIT_POLL = 2,      /* obj: first fd, arg: number of fds */
    GT_WAIT_SLEEP = 3,     /* deadline says until when */
    GT_WAIT_MUTEX = 4,     /* obj: address of the gt_mutex_t */
    GT_WAIT_COND = 5,      /* obj: address of the gt_cond_t, arg: the mutex */
    GT_WAIT_JOIN = 6,      /* obj: id of the joined thread */
    GT_WAIT_CHAN_SEND = 7, /* obj: address of the gt_chan_t */
    GT_WAIT_CHAN_RECV = 8, /* obj: address of the gt_chan_t */
    GT_WAIT_KIND_COUNT
};

/* Stack guard policy in force (registry.guard_policy).
 *
 * STACKS
 *
 *   Each stack is [guard][usable stack], carved from large arenas.  The
 *   guard is registry.guard_size bytes (64 KiB by default, GT_GUARD_SIZE in
 *   the environment), and a thread's own record says how much of it
 *   protects that thread (GT_F_THR_GUARD_SIZE; 0 under the canary policy).
 *   A fault in [stack_lo - guard_size, stack_lo) is that thread's overflow.
 *
 *   A freed stack is either kept warm (at most stack_cache_max of them:
 *   stack_cache now), holding its top page so the next spawn costs no page
 *   fault, or it gives every page back to the kernel and keeps only its
 *   address space (stacks_returned).  stack_cache_bytes bounds the memory
 *   the freed stacks still hold: a page per warm stack, plus the whole of
 *   each stack queued to go back in the runtime's next batch (it goes back
 *   at the latest when the batch fills or the scheduler next idles).  The
 *   memory of live threads' stacks is not in these counts. */
enum gt_guard_policy {
    GT_GUARD_MADVISE = 1,  /* MADV_GUARD_INSTALL page below each stack:
                            * costs no mappings */
    GT_GUARD_MPROTECT = 2, /* PROT_NONE page: splits the arena mapping,
                            * used while the map count allows */
    GT_GUARD_CANARY = 3,   /* a canary word at the stack's low end, checked
                            * at every switch */
};

/* Record kinds of the layout table. */
enum gt_rec_kind {
    GT_REC_REGISTRY = 1,
    GT_REC_THREAD = 2,
    GT_REC_LOCATION = 3,
    GT_REC_EDGE = 4,
    /* Not records of the registry: the layout of the runtime's own
     * synchronisation objects, so that a reader given a wait_obj (see
     * enum gt_wait_kind) can read who holds it without DWARF. */
    GT_REC_MUTEX = 5,
    GT_REC_COND = 6,
    GT_REC_CHAN = 7,
};

/* Field ids.  Id 0 is the record size.  Never renumber; only append. */
enum gt_registry_field {
    GT_F_REG_SIZE = 0,
    GT_F_REG_PID, GT_F_REG_CLOCK_BASE, GT_F_REG_REALTIME_BASE,
    GT_F_REG_CLOCK_NOW, GT_F_REG_CURRENT, GT_F_REG_GENERATION,
    GT_F_REG_THREAD_CHUNKS, GT_F_REG_THREAD_CHUNK_CAP,
    GT_F_REG_THREAD_CHUNK_COUNT, GT_F_REG_THREADS_PER_CHUNK,
    GT_F_REG_THREAD_SLOTS,
    GT_F_REG_LOC_CHUNKS, GT_F_REG_LOC_CHUNK_COUNT, GT_F_REG_LOCS_PER_CHUNK,
    GT_F_REG_LOC_COUNT, GT_F_REG_LOC_DEPTH,
    GT_F_REG_EDGE_CHUNKS, GT_F_REG_EDGE_CHUNK_COUNT,
    GT_F_REG_EDGES_PER_CHUNK, GT_F_REG_EDGE_COUNT,
    GT_F_REG_NSTATE,        /* u64[GT_STATE_EXITED + 1]: records by state;
                             * [GT_STATE_FREE] counts every free record of
                             * the chunks, slots past thread_slots too */
    GT_F_REG_SWITCHES, GT_F_REG_SPAWNS, GT_F_REG_EXITS,
    GT_F_REG_RUNQ_LEN, GT_F_REG_POLLS, GT_F_REG_IDLE_NS,
    GT_F_REG_FILE_IO_CALLS, GT_F_REG_FILE_IO_NS,
    GT_F_REG_GUARD_POLICY, GT_F_REG_GUARD_MAPPINGS, GT_F_REG_MAX_MAP_COUNT,
    GT_F_REG_STACK_DEFAULT, GT_F_REG_STACK_RESERVED, GT_F_REG_PAGE_SIZE,
    GT_F_REG_CANARY,
    GT_F_REG_IDLE_SINCE,    /* ns: the poller's current blocking wait began;
                             * 0 when not blocked (see TIME) */
    GT_F_REG_FATAL_NS,      /* ns: clock at a fatal signal, 0 none (TIME) */
    GT_F_REG_GUARD_SIZE,    /* bytes of guard below each stack (STACKS) */
    GT_F_REG_STACK_CACHE,   /* freed stacks kept warm for reuse (STACKS) */
    GT_F_REG_STACK_CACHE_BYTES, /* memory freed stacks may still hold */
    GT_F_REG_STACK_CACHE_MAX,   /* the cap on STACK_CACHE */
    GT_F_REG_STACKS_RETURNED,   /* freed stacks whose pages went back */
    GT_F_REG_RUN_START,     /* ns: `current` began running (RUNNING below) */
    GT_F_REG_WATCHDOG_NS,   /* the watchdog's threshold, 0: off */
    GT_F_REG_WATCHDOG_EVENTS, /* samples the watchdog has taken */
    GT_F_REG_WD_SWITCHES,   /* `switches` as the watchdog last saw it */
    GT_F_REG_WD_SINCE,      /* ns: the watchdog first saw WD_SWITCHES */
    GT_F_REG_SAMPLE_SEQ,    /* u32: odd while the sample below is written */
    GT_F_REG_SAMPLE_THREAD, /* record of the sampled thread, 0 none */
    GT_F_REG_SAMPLE_SWITCHES, /* `switches` when it was taken */
    GT_F_REG_SAMPLE_NS,     /* ns: when it was taken */
    GT_F_REG_SAMPLE_SYSCALL,/* i64: -1 in user code, else the system call
                             * it was in (only sp and pc are then known) */
    GT_F_REG_SAMPLE_REGS,   /* u64[GT_CTX_NREGS]: registers, as ctx */
    GT_F_REG__COUNT
};

enum gt_thread_field {
    GT_F_THR_SIZE = 0,
    GT_F_THR_SEQ, GT_F_THR_ID, GT_F_THR_PARENT, GT_F_THR_NAME,
    GT_F_THR_STATE, GT_F_THR_WAIT_KIND, GT_F_THR_FLAGS,
    GT_F_THR_LOCATION,      /* u32: location index, 0 none */
    GT_F_THR_WAIT_OBJ, GT_F_THR_WAIT_ARG,
    GT_F_THR_WAIT_SINCE,    /* ns: when it parked */
    GT_F_THR_DEADLINE,      /* ns: when a timeout fires, 0 none */
    GT_F_THR_ENTRY,         /* address of the thread function */
    GT_F_THR_ARG,
    GT_F_THR_SPAWN_SITE,    /* return address of the gt_spawn call */
    GT_F_THR_CREATED, GT_F_THR_RUN_NS, GT_F_THR_SWITCHES,
    GT_F_THR_STACK_LO,      /* lowest usable address of the stack */
    GT_F_THR_STACK_HI,      /* one past the highest: the stack's top */
    GT_F_THR_GUARD_SIZE,    /* bytes of guard below stack_lo */
    GT_F_THR_CTX_SP, GT_F_THR_CTX_PC, GT_F_THR_CTX_FP,
    GT_F_THR_CTX_REGS,      /* every callee-saved register: see GT_CTX_* */
    GT_F_THR_LOC_NEXT,      /* next thread waiting at the same location */
    GT_F_THR_LOC_PREV,
    GT_F_THR__COUNT
};

enum gt_location_field {
    GT_F_LOC_SIZE = 0,
    GT_F_LOC_SEQ, GT_F_LOC_INDEX, GT_F_LOC_DEPTH,
    GT_F_LOC_PCS,           /* u64[GT_LOCATION_DEPTH_MAX]: pcs[0] is the
                             * call site (a return address), then callers */
    GT_F_LOC_WAIT_KIND,     /* kind of the first wait seen here */
    GT_F_LOC_WAITING,       /* u64: threads parked here now */
    GT_F_LOC_HEAD, GT_F_LOC_TAIL, /* their records, oldest first */
    GT_F_LOC_ARRIVALS, GT_F_LOC_COMPLETED, /* waits begun; waits over
                             * (their thread has run again: WAITS) */
    GT_F_LOC_TOTAL_WAIT_NS, GT_F_LOC_MAX_WAIT_NS,
    GT_F_LOC_HIST,          /* u64[GT_WAIT_HIST_BUCKETS] of completed waits */
    GT_F_LOC__COUNT
};

enum gt_edge_field {
    GT_F_EDGE_SIZE = 0,
    GT_F_EDGE_SEQ, GT_F_EDGE_FROM, GT_F_EDGE_TO, /* location indices */
    GT_F_EDGE_COUNT,        /* transitions from -> to */
    GT_F_EDGE_RUN_NS,       /* total time from running again after the
                             * wait at `from` to parking at `to` (WAITS) */
    GT_F_EDGE_MAX_RUN_NS,
    GT_F_EDGE__COUNT
};

/* gt_mutex_t (gt.h).  A mutex is usable when MAGIC is GT_MUTEX_MAGIC or 0
 * (zeroed static storage); anything else is not a mutex (or a destroyed
 * one) and a reader says so rather than trust its other fields. */
enum gt_mutex_field {
    GT_F_MUTEX_SIZE = 0,
    GT_F_MUTEX_OWNER,       /* record of the owning thread, 0 unlocked */
    GT_F_MUTEX_WAITERS,     /* record of the first waiter, 0 none */
    GT_F_MUTEX_MAGIC,
    GT_F_MUTEX_HELD_SINCE,  /* ns: when OWNER took it (see HOLD TIMES) */
    GT_F_MUTEX__COUNT
};

enum gt_cond_field {
    GT_F_COND_SIZE = 0,
    GT_F_COND_WAITERS,      /* record of the first waiter, 0 none */
    GT_F_COND_MAGIC,        /* GT_COND_MAGIC or 0 */
    GT_F_COND__COUNT
};

/* gt_chan_t: a ring of CAP pointers holding LEN. */
enum gt_chan_field {
    GT_F_CHAN_SIZE = 0,     /* the header, without the ring */
    GT_F_CHAN_MAGIC,        /* GT_CHAN_MAGIC, else not a channel */
    GT_F_CHAN_CAP, GT_F_CHAN_LEN,
    GT_F_CHAN_CLOSED,       /* u8: closed by gt_chan_close */
    GT_F_CHAN__COUNT
};

#define GT_MUTEX_MAGIC 0x67746d7574657821ull /* "!xetumtg" */
#define GT_COND_MAGIC 0x6774636f6e642121ull  /* "!!dnoctg" */
#define GT_CHAN_MAGIC 0x67746368616e2121ull  /* "!!nahctg" */

/*
 * WHO HOLDS WHAT
 *
 *   A thread parked with GT_WAIT_MUTEX waits for the owner of the mutex at
 *   wait_obj; with GT_WAIT_JOIN for the thread whose id is wait_obj; those
 *   are the edges of the wait-for graph, and a cycle of them is a
 *   deadlock.  A condition variable waiter (GT_WAIT_COND) waits for a
 *   signal anyone may send, then retakes the mutex at wait_arg; a channel
 *   waiter for any thread to receive or send.  A mutex's OWNER is the
 *   address of the owner's thread record: the same address the thread
 *   chunks hold.
 *
 * WAITS
 *
 *   A wait at a location lasts from the park (the thread's wait_since) to
 *   the moment the thread runs again: its wake, then its time in the run
 *   queue, all of which its caller spent blocked.  The wake takes the
 *   thread off the location's queue (waiting, head, tail); the wait is
 *   counted when the thread runs, from the clock reading of the switch to
 *   it: completed, total_wait_ns, max_wait_ns and hist in one update, and
 *   the thread's next edge starts there (an edge's run_ns is time from
 *   running again at `from` to parking at `to`).  So in every consistent
 *   copy of a location completed is the sum of hist, and arrivals is
 *   waiting + completed + the threads woken from here that have not run
 *   yet (RUNNABLE with location 0; or `current`, for the few instructions
 *   from its switch to the count).  (Timing the wait at the wake cost a
 *   clock reading on every wake: as much as the rest of a park's
 *   bookkeeping.)
 *
 * HOLD TIMES
 *
 *   HELD_SINCE is the runtime's clock when the owner took the mutex, as it
 *   last read it: at or after the start of the run slice in which it took
 *   it (RUN_START), never after the taking.  (Reading the clock on every
 *   uncontended lock would cost more than the lock.)  A mutex handed to a
 *   waiter by gt_mutex_unlock is held from the moment of the hand-off.
 *
 * RUNNING
 *
 *   `current` is the thread on the CPU (0: the scheduler itself), and
 *   run_start when it began running: the clock reading of the park, exit
 *   or dispatch that switched it in.  A switch made by gt_yield reads no
 *   clock (it costs a few nanoseconds, a clock reading more) unless the
 *   thread it runs was just woken from a wait (whose end needs one: then
 *   run_start is that reading); else it sets run_start to 0, meaning
 *   "began with a hand-off, time unknown".  The
 *   watchdog (GT_WATCHDOG_MS) then bounds it: when wd_switches equals
 *   `switches`, the current thread has run since at least wd_since.
 *
 * THE WATCHDOG'S SAMPLE
 *
 *   The running thread's saved context is stale, so no reader can unwind
 *   it.  When one thread has run longer than watchdog_ns, the watchdog (a
 *   helper kernel thread that otherwise sleeps) has the runtime's kernel
 *   thread record where it is: sample_regs in GT_CTX_* order (pc exact,
 *   not a return address), with sample_thread, sample_switches and
 *   sample_ns, inside sample_seq as a record's seq.  The sample is the
 *   current thread's stack only while sample_thread == current and
 *   sample_switches == switches; else it is history.  The fatal-signal
 *   handler takes one too when the signal interrupted a green thread, so
 *   a core shows what was running when it was written.
 */

/* Thread flags (GT_F_THR_FLAGS). */
#define GT_TF_DETACHED 0x1u
#define GT_TF_MAIN 0x2u      /* the thread gt_main started */
#define GT_TF_TIMED_OUT 0x4u /* the last wait ended by its deadline */
/* Parked in gt_wait_readable_then: it holds no frames, its stack's pages
 * went back to the kernel, and ctx is a fresh start that runs `entry`, as
 * a new thread's is (its pc, inside the entry trampoline, reads right as
 * an exact pc and as a return address). */
#define GT_TF_UNSTACKED 0x8u
/* The saved context is a fresh start (ctx holds only the entry
 * trampoline's pc and a stack top, no frames): a thread that has never
 * been switched in, or one waiting unstacked (GT_TF_UNSTACKED).  Set and
 * cleared by the runtime inside the record's seq bracket, so it is
 * consistent with ctx; cleared once the thread runs.  A reader takes it as
 * "this thread holds no stack": no frames to unwind past the trampoline,
 * 0 live bytes, left out of stack percentiles. */
#define GT_TF_FRESH 0x10u

/* Saved registers (GT_F_THR_CTX_REGS): u64 each, in this order. */
#if defined(__x86_64__)
enum { GT_CTX_SP, GT_CTX_PC, GT_CTX_RBP, GT_CTX_RBX, GT_CTX_R12, GT_CTX_R13,
       GT_CTX_R14, GT_CTX_R15, GT_CTX_NREGS };
#elif defined(__aarch64__)
/* x19..x28, fp (x29), lr is the pc, sp, then d8..d15. */
enum { GT_CTX_SP, GT_CTX_PC, GT_CTX_FP, GT_CTX_X19, GT_CTX_X28 = GT_CTX_X19 + 9,
       GT_CTX_D8, GT_CTX_D15 = GT_CTX_D8 + 7, GT_CTX_NREGS };
#define GT_CTX_RBP GT_CTX_FP
#else
#error "gt: unsupported architecture"
#endif

/* One entry of the layout table. */
struct gt_field {
    uint16_t rec;    /* enum gt_rec_kind */
    uint16_t id;     /* GT_F_* of that kind */
    uint32_t offset; /* byte offset in the record */
    uint32_t size;   /* bytes */
    uint32_t _pad;
};

/* Records as this runtime lays them out.  Readers should go through the
 * layout table; these structs are its source of truth. */
struct gt_thread_rec {
    uint32_t seq;              /* odd while the runtime writes the record */
    uint8_t state;             /* enum gt_state */
    uint8_t wait_kind;         /* enum gt_wait_kind */
    uint16_t flags;            /* GT_TF_* */
    uint64_t id;               /* unique, from 1; never reused */
    uint64_t parent;           /* id of the spawning thread, 0 none */
    char name[32];             /* NUL-terminated */
    uint32_t location;         /* where it parked (index), 0 none */
    uint32_t _pad0;
    uint64_t wait_obj, wait_arg; /* see enum gt_wait_kind */
    uint64_t wait_since;       /* ns */
    uint64_t deadline;         /* ns, 0 none */
    uint64_t entry, arg;       /* thread function and its argument */
    uint64_t spawn_site;       /* return address in the spawner */
    uint64_t created;          /* ns */
    uint64_t run_ns;           /* time on the CPU, accounted at parks */
    uint64_t switches;         /* times switched in */
    uint64_t stack_lo, stack_hi;
    uint64_t guard_size;
    uint64_t ctx[GT_CTX_NREGS]; /* valid while state != RUNNING */
    uint64_t loc_next, loc_prev; /* struct gt_thread_rec * of the target */
};

struct gt_location_rec {
    uint32_t seq;
    uint32_t index;
    uint32_t depth;            /* pcs in use */
    uint32_t wait_kind;
    uint64_t pcs[GT_LOCATION_DEPTH_MAX];
    uint64_t waiting;
    uint64_t head, tail;       /* struct gt_thread_rec * */
    uint64_t arrivals, completed;
    uint64_t total_wait_ns, max_wait_ns;
    uint64_t hist[GT_WAIT_HIST_BUCKETS];
};

struct gt_edge_rec {
    uint32_t seq;
    uint32_t from, to;
    uint32_t _pad;
    uint64_t count;
    uint64_t run_ns, max_run_ns;
};

struct gt_registry {
    /* fixed forever (see FINDING IT) */
    uint64_t magic;
    uint32_t abi;
    uint32_t header_size;
    uint64_t layout;            /* const struct gt_field * */
    uint32_t nlayout;
    uint32_t arch;
    /* read-only for readers; located through the layout table */
    uint64_t pid;
    uint64_t clock_base, realtime_base, clock_now;
    uint64_t current;           /* struct gt_thread_rec * running now, 0 none */
    uint64_t generation;        /* bumped when a chunk array is replaced */
    uint64_t thread_chunks;     /* struct gt_thread_rec *[] */
    uint32_t thread_chunk_cap, thread_chunk_count;
    uint32_t threads_per_chunk, _pad0;
    uint64_t thread_slots;
    uint64_t loc_chunks;        /* struct gt_location_rec *[] */
    uint32_t loc_chunk_count, locs_per_chunk;
    uint32_t loc_count, loc_depth;
    uint64_t edge_chunks;       /* struct gt_edge_rec *[] */
    uint32_t edge_chunk_count, edges_per_chunk;
    uint64_t edge_count;
    uint64_t nstate[GT_STATE_EXITED + 1];
    uint64_t switches, spawns, exits;
    uint64_t runq_len;
    uint64_t polls, idle_ns;    /* poller calls; time blocked in them */
    uint64_t file_io_calls, file_io_ns; /* regular-file calls made
                                         * straight through */
    uint32_t guard_policy;      /* enum gt_guard_policy */
    uint32_t _pad1;
    uint64_t guard_mappings;    /* mappings the stacks cost (arenas and
                                 * mprotect splits) */
    uint64_t max_map_count;     /* vm.max_map_count at start */
    uint64_t stack_default;     /* usable bytes */
    uint64_t stack_reserved;    /* bytes of arena handed out to stacks */
    uint64_t page_size;
    uint64_t canary;            /* value of the canary word */
    /* appended (ABI 1 grows only at the end) */
    uint64_t idle_since;        /* ns, 0 when the poller is not blocked */
    uint64_t fatal_ns;          /* ns, 0 when no fatal signal arrived */
    uint64_t guard_size;        /* bytes of guard below each stack */
    uint64_t stack_cache;       /* freed stacks kept warm (see STACKS) */
    uint64_t stack_cache_bytes; /* upper bound of what freed stacks hold */
    uint64_t stack_cache_max;   /* cap on stack_cache (GT_STACK_CACHE) */
    uint64_t stacks_returned;   /* freed stacks holding no memory */
    uint64_t run_start;         /* ns, see RUNNING; 0 unknown */
    uint64_t watchdog_ns;       /* threshold, 0: watchdog off */
    uint64_t watchdog_events;   /* samples taken */
    uint64_t wd_switches, wd_since; /* written by the watchdog thread */
    uint32_t sample_seq, _pad2;
    uint64_t sample_thread;     /* struct gt_thread_rec * */
    uint64_t sample_switches;
    uint64_t sample_ns;
    int64_t sample_syscall;
    uint64_t sample_regs[GT_CTX_NREGS];
};

/* NOTES
 *
 *   Every gt program carries an ELF note named "gt" of type
 *   GT_NOTE_REGISTRY: the registry's address relative to the note's own
 *   descriptor (runtime/src/registry.c), so that a reader finds the
 *   registry in a stripped, static program.
 *
 *   A core file written by gt-core carries one note "gt" of type
 *   GT_NOTE_CAPTURE, struct gt_core_capture below: when the capture was
 *   taken, on the target's own clocks, and how.  Readers take its
 *   monotonic_ns as the core's "now" (the ages of waits at capture time):
 *   a better witness than the file's mtime, which a copy changes.  Fields
 *   are appended only; a reader checks desc size >= the fields it uses.
 */
#define GT_NOTE_NAME "gt"
#define GT_NOTE_REGISTRY 1u
/* Not a small number: BFD (so GDB) reads a core note of a name it does
 * not know by its type alone, and takes 1, 2, 3... for NT_PRSTATUS,
 * NT_FPREGSET, NT_PRPSINFO: a capture note of type 2 became the last
 * thread's floating-point registers, "too small".  "gt" in the top half. */
#define GT_NOTE_CAPTURE 0x67740002u
#define GT_CAPTURE_VERSION 1u

#define GT_CAPTURE_COMPACT 0x1u   /* only the registry, each green thread's
                                   * live stack part, kernel threads' stacks
                                   * and small writable mappings: stack
                                   * measures beyond the live part (touched,
                                   * dead, resident) are not in the core */
#define GT_CAPTURE_NO_STOP 0x2u   /* copied while the target ran: the
                                   * registry's seq protocol is the only
                                   * consistency, and kernel threads'
                                   * registers are only what /proc told */
#define GT_CAPTURE_NO_FPREGS 0x4u /* no floating-point state in the notes */
#define GT_CAPTURE_NOT_GT 0x8u    /* the process had no gt registry: a
                                   * plain core */

struct gt_core_capture {
    uint32_t version;        /* GT_CAPTURE_VERSION */
    uint32_t flags;          /* GT_CAPTURE_* */
    uint64_t monotonic_ns;   /* CLOCK_MONOTONIC when every kernel thread
                              * was stopped (--no-stop: when the copy
                              * began) */
    uint64_t realtime_ns;    /* CLOCK_REALTIME at the same moment */
    uint64_t stopped_ns;     /* how long the target stayed stopped, 0 when
                              * it was not stopped */
    uint64_t registry;       /* address of gt_registry, 0 when none */
};


extern struct gt_registry gt_registry;

#endif /* GT_REGISTRY_H */
