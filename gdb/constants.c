/*
 * gdb/constants.c - the registry's constants for the GDB extension, as the
 * C compiler sees them in gt/registry.h.
 *
 * Not a program: gdb.mk compiles this file to assembly only (cc -S) and
 * turns every "->NAME VALUE" string below into a line `NAME = VALUE` of
 * gt/constants.py.  The compiler, not a parser of ours, evaluates each
 * name, so macros, enumerators (plain, implicit and computed: GT_CTX_X28 =
 * GT_CTX_X19 + 9) and the architecture's #if branch come out exactly as
 * the runtime was built with them.  The preprocessor alone (cc -E, as the
 * Linux kernel's scripts/gdb/linux/constants.py.in uses it) would expand
 * the macros but leave the enumerators as names; the kernel asks GDB for
 * those at load time through DWARF, which a stripped gt program lacks.
 * Nothing here is run, so a cross compiler works as well.
 */
#include <gt/registry.h>

#define DEFINE(name) \
    __asm__ volatile("\n.ascii \"->" #name " %0\"" : : "i"((long long)(name)))

void gt_gdb_constants(void);

void gt_gdb_constants(void)
{
    DEFINE(GT_REGISTRY_MAGIC);
    DEFINE(GT_REGISTRY_ABI);
    DEFINE(GT_THREADS_PER_CHUNK);
    DEFINE(GT_LOCS_PER_CHUNK);
    DEFINE(GT_LOCATION_DEPTH_MAX);
    DEFINE(GT_WAIT_HIST_BUCKETS);

    DEFINE(GT_STATE_FREE);
    DEFINE(GT_STATE_RUNNABLE);
    DEFINE(GT_STATE_RUNNING);
    DEFINE(GT_STATE_PARKED);
    DEFINE(GT_STATE_EXITED);

    DEFINE(GT_WAIT_NONE);
    DEFINE(GT_WAIT_FD);
    DEFINE(GT_WAIT_POLL);
    DEFINE(GT_WAIT_SLEEP);
    DEFINE(GT_WAIT_MUTEX);
    DEFINE(GT_WAIT_COND);
    DEFINE(GT_WAIT_JOIN);
    DEFINE(GT_WAIT_CHAN_SEND);
    DEFINE(GT_WAIT_CHAN_RECV);
    DEFINE(GT_WAIT_KIND_COUNT);

    DEFINE(GT_GUARD_MADVISE);
    DEFINE(GT_GUARD_MPROTECT);
    DEFINE(GT_GUARD_CANARY);

    DEFINE(GT_REC_REGISTRY);
    DEFINE(GT_REC_THREAD);
    DEFINE(GT_REC_LOCATION);
    DEFINE(GT_REC_EDGE);

    DEFINE(GT_F_REG_SIZE);
    DEFINE(GT_F_REG_PID);
    DEFINE(GT_F_REG_CLOCK_BASE);
    DEFINE(GT_F_REG_REALTIME_BASE);
    DEFINE(GT_F_REG_CLOCK_NOW);
    DEFINE(GT_F_REG_CURRENT);
    DEFINE(GT_F_REG_GENERATION);
    DEFINE(GT_F_REG_THREAD_CHUNKS);
    DEFINE(GT_F_REG_THREAD_CHUNK_CAP);
    DEFINE(GT_F_REG_THREAD_CHUNK_COUNT);
    DEFINE(GT_F_REG_THREADS_PER_CHUNK);
    DEFINE(GT_F_REG_THREAD_SLOTS);
    DEFINE(GT_F_REG_LOC_CHUNKS);
    DEFINE(GT_F_REG_LOC_CHUNK_COUNT);
    DEFINE(GT_F_REG_LOCS_PER_CHUNK);
    DEFINE(GT_F_REG_LOC_COUNT);
    DEFINE(GT_F_REG_LOC_DEPTH);
    DEFINE(GT_F_REG_NSTATE);
    DEFINE(GT_F_REG_SWITCHES);
    DEFINE(GT_F_REG_SPAWNS);
    DEFINE(GT_F_REG_EXITS);
    DEFINE(GT_F_REG_RUNQ_LEN);
    DEFINE(GT_F_REG_POLLS);
    DEFINE(GT_F_REG_IDLE_NS);
    DEFINE(GT_F_REG_FILE_IO_CALLS);
    DEFINE(GT_F_REG_FILE_IO_NS);
    DEFINE(GT_F_REG_GUARD_POLICY);
    DEFINE(GT_F_REG_GUARD_MAPPINGS);
    DEFINE(GT_F_REG_MAX_MAP_COUNT);
    DEFINE(GT_F_REG_STACK_DEFAULT);
    DEFINE(GT_F_REG_STACK_RESERVED);
    DEFINE(GT_F_REG_PAGE_SIZE);
    DEFINE(GT_F_REG_CANARY);
    DEFINE(GT_F_REG_IDLE_SINCE);
    DEFINE(GT_F_REG_FATAL_NS);
    DEFINE(GT_F_REG_GUARD_SIZE);
    DEFINE(GT_F_REG_STACK_CACHE);
    DEFINE(GT_F_REG_STACK_CACHE_BYTES);
    DEFINE(GT_F_REG_STACK_CACHE_MAX);
    DEFINE(GT_F_REG_STACKS_RETURNED);

    DEFINE(GT_F_THR_SIZE);
    DEFINE(GT_F_THR_SEQ);
    DEFINE(GT_F_THR_ID);
    DEFINE(GT_F_THR_PARENT);
    DEFINE(GT_F_THR_NAME);
    DEFINE(GT_F_THR_STATE);
    DEFINE(GT_F_THR_WAIT_KIND);
    DEFINE(GT_F_THR_FLAGS);
    DEFINE(GT_F_THR_LOCATION);
    DEFINE(GT_F_THR_WAIT_OBJ);
    DEFINE(GT_F_THR_WAIT_ARG);
    DEFINE(GT_F_THR_WAIT_SINCE);
    DEFINE(GT_F_THR_DEADLINE);
    DEFINE(GT_F_THR_ENTRY);
    DEFINE(GT_F_THR_ARG);
    DEFINE(GT_F_THR_SPAWN_SITE);
    DEFINE(GT_F_THR_CREATED);
    DEFINE(GT_F_THR_RUN_NS);
    DEFINE(GT_F_THR_SWITCHES);
    DEFINE(GT_F_THR_STACK_LO);
    DEFINE(GT_F_THR_STACK_HI);
    DEFINE(GT_F_THR_GUARD_SIZE);
    DEFINE(GT_F_THR_CTX_SP);
    DEFINE(GT_F_THR_CTX_PC);
    DEFINE(GT_F_THR_CTX_FP);
    DEFINE(GT_F_THR_CTX_REGS);
    DEFINE(GT_F_THR_LOC_NEXT);
    DEFINE(GT_F_THR_LOC_PREV);

    DEFINE(GT_F_LOC_SIZE);
    DEFINE(GT_F_LOC_SEQ);
    DEFINE(GT_F_LOC_INDEX);
    DEFINE(GT_F_LOC_DEPTH);
    DEFINE(GT_F_LOC_PCS);
    DEFINE(GT_F_LOC_WAIT_KIND);
    DEFINE(GT_F_LOC_WAITING);
    DEFINE(GT_F_LOC_HEAD);
    DEFINE(GT_F_LOC_TAIL);
    DEFINE(GT_F_LOC_ARRIVALS);
    DEFINE(GT_F_LOC_COMPLETED);
    DEFINE(GT_F_LOC_TOTAL_WAIT_NS);
    DEFINE(GT_F_LOC_MAX_WAIT_NS);
    DEFINE(GT_F_LOC_HIST);

    DEFINE(GT_TF_DETACHED);
    DEFINE(GT_TF_MAIN);
    DEFINE(GT_TF_TIMED_OUT);
    DEFINE(GT_TF_UNSTACKED);
    DEFINE(GT_TF_FRESH);

    /* The extension unwinds x86-64 only (registry.arch 62). */
#if defined(__x86_64__)
    DEFINE(GT_CTX_SP);
    DEFINE(GT_CTX_PC);
    DEFINE(GT_CTX_RBP);
    DEFINE(GT_CTX_RBX);
    DEFINE(GT_CTX_R12);
    DEFINE(GT_CTX_R13);
    DEFINE(GT_CTX_R14);
    DEFINE(GT_CTX_R15);
    DEFINE(GT_CTX_NREGS);
#endif
}
