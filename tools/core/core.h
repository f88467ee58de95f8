/*
 * core.h - what the files of gt-core share: the capture being built, from
 * the stopped tasks and the memory map to the segments of the file.
 *
 * A capture goes through these steps, one file each:
 *
 *   stop.c          seize and interrupt every task, detach (signals seen
 *                   while stopping re-injected)
 *   tasks.c         the tasks of /proc/PID/task and their /proc facts
 *   regs.c          each task's registers (ptrace, or --regs-from)
 *   maps.c          /proc/PID/maps
 *   pages.c         which pages of a mapping were ever populated
 *   plan.c          which memory goes in (full), as segments and chunks
 *   green_select.c  which memory goes in (--compact)
 *   copy.c          the chunks copied out of the target
 *   notes.c         the PT_NOTE: PRSTATUS ... and the gt capture note
 *   elf_out.c       the sparse ELF file
 *   common.c        the error line and the clock every step uses
 *
 * Every count and size that comes from the target (tasks, mappings, page
 * ranges, register set sizes) is bounded before it sizes anything.
 */
#ifndef GT_CORE_CORE_H
#define GT_CORE_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

#include <gt/registry.h>

#define CORE_PAGE 4096u
#define CORE_TASKS_MAX 65536u     /* kernel threads gt-core captures */
#define CORE_MAPS_MAX 1000000u    /* mappings (vm.max_map_count is 65530
                                   * by default; raised ones fit) */
#define CORE_XSTATE_MAX 65536u    /* NT_X86_XSTATE bytes (AMX: ~11 KiB) */
#define CORE_PATH_MAX 4096u

/* One kernel thread of the target. */
struct core_task {
    pid_t tid;
    int seized;               /* gt-core holds it (PTRACE_SEIZE done) */
    int stopped;              /* in a ptrace stop: registers readable */
    int resig;                /* a signal it was stopped with, to
                               * deliver again at detach; 0 none */
    int have_regs, have_fp;
    struct user_regs_struct regs;
    uint8_t fpregs[512];      /* struct user_fpregs_struct */
    uint8_t *xstate;          /* NT_X86_XSTATE as the kernel gave it */
    size_t xstate_len;
    char state;               /* /proc/TID/stat */
    uint64_t utime, stime;    /* clock ticks */
};

/* One line of /proc/PID/maps. */
struct core_map {
    uint64_t lo, hi;
    uint64_t offset;          /* in the file */
    uint64_t inode;
    char perms[5];            /* "rw-p" */
    char *path;               /* "" for anonymous, "[stack]", a file */
    int elf_head;             /* file mapping at offset 0 of an ELF file */
};

/* A piece of target memory copied into the capture. */
struct core_chunk {
    uint64_t addr, len;
    uint8_t *data;            /* into the copy buffer, NULL before copy */
};

/* One PT_LOAD of the file: [vaddr, vaddr + memsz).  filesz is memsz (the
 * segment is in the file; what its chunks do not cover, and pages of
 * zeros, are holes: zeros on reading), a first page (an ELF header, for
 * its build-id) or 0 (not in the file: GDB reads it from the mapped file,
 * or says it cannot).  Chunks lie inside [vaddr, vaddr + filesz). */
struct core_seg {
    uint64_t vaddr, memsz, filesz;
    uint32_t flags;           /* PF_R | PF_W | PF_X */
    size_t chunk0, nchunks;   /* its chunks, by address */
    uint64_t file_off;        /* set by elf_out.c */
};

enum core_mode { CORE_FULL, CORE_COMPACT };

struct capture {
    pid_t pid;
    char comm[64];            /* /proc/PID/comm, as is */
    enum core_mode mode;
    int no_stop;              /* --no-stop */
    const char *regs_from;    /* --regs-from FILE, or NULL */

    struct core_task *tasks;  /* main thread first */
    size_t ntasks, captasks;

    struct core_map *maps;
    size_t nmaps;

    struct core_seg *segs;
    size_t nsegs, capsegs;
    struct core_chunk *chunks;
    size_t nchunks, capchunks;

    uint8_t *buf;             /* the copy of every chunk */
    size_t buf_len;

    uint64_t registry;        /* gt_registry's address, 0 none */
    uint64_t green_threads;   /* live threads in the registry */
    uint32_t flags;           /* GT_CAPTURE_* */
    uint64_t monotonic_ns, realtime_ns, stopped_ns;

    uint8_t *auxv;            /* /proc/PID/auxv */
    size_t auxv_len;
};

/* Errors: one line naming the thing and the fix into err (CORE_ERR
 * bytes), -1.  ESRCH from the target is said as an exit: the caller names
 * the file removed. */
#define CORE_ERR 512
void core_err(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* tasks.c: the tids of /proc/PID/task added to C (new ones only): how
 * many were new, or -1 with errno (ESRCH: no process). */
int core_tasks_scan(struct capture *c);
/* Reads each task's state and times from /proc (for NT_PRSTATUS). */
void core_tasks_stat(struct capture *c);
/* The tracer of PID (TracerPid of /proc/PID/status), 0 none. */
pid_t core_tracer_of(pid_t pid);
/* The thread group and state of PID (/proc/PID/status); left as they
 * are when unknown. */
void core_task_facts(pid_t pid, pid_t *tgid, char *state);
/* /proc/PID/comm into buf ("?" when unreadable). */
void core_comm(pid_t pid, char *buf, size_t len);

/* stop.c */
int core_stop(struct capture *c, char *err);
void core_detach(struct capture *c);

/* regs.c */
int core_regs_read(struct capture *c, char *err);
int core_regs_from_file(struct capture *c, const char *path, char *err);

/* maps.c */
int core_maps_read(struct capture *c, char *err);
void core_maps_free(struct capture *c);
const struct core_map *core_map_of(const struct capture *c, uint64_t addr);

/* pages.c: calls FN for each range of [lo, hi) whose pages were ever
 * populated (present or swapped; never a guard region).  0, or -1 with
 * errno. */
typedef int (*core_range_fn)(void *arg, uint64_t lo, uint64_t hi);
int core_pages_open(pid_t pid);
int core_pages_populated(int fd, uint64_t lo, uint64_t hi, core_range_fn fn, void *arg);
int core_pages_any_anon(int fd, uint64_t lo, uint64_t hi);

/* plan.c: the segments of a full core, and helpers the compact plan
 * shares. */
int core_plan_full(struct capture *c, char *err);
int core_seg_add(struct capture *c, uint64_t vaddr, uint64_t memsz, uint64_t filesz,
                 uint32_t flags);
int core_chunk_add(struct capture *c, uint64_t addr, uint64_t len);
uint32_t core_map_flags(const struct core_map *m);
/* Whether a mapping holds nothing a core keeps ([vvar], not readable). */
int core_map_skipped(const struct core_map *m);

/* green_select.c: the segments of a compact core.  Needs the target
 * stopped (or --no-stop). */
struct green_ctx;
int core_green_open(struct capture *c, struct green_ctx **g, char *err);
int core_plan_compact(struct capture *c, struct green_ctx *g, char *err);
/* The registry's address and live thread count (full cores too). */
int core_green_count(struct capture *c, struct green_ctx *g, char *err);
void core_green_close(struct green_ctx *g);

/* copy.c: allocates the buffer and copies every chunk.  -1 with err
 * (and errno ESRCH when the target is gone, ENOMEM when the copy does
 * not fit). */
uint64_t core_copy_bytes(const struct capture *c);
int core_copy_reserve(struct capture *c, uint64_t bytes, char *err);
/* Forgets the plan and the map (the buffer stays): for the plan made
 * while the target runs, to size the buffer, before the real one. */
void core_plan_reset(struct capture *c);
int core_copy(struct capture *c, char *err);

/* notes.c: the PT_NOTE contents, malloc'd into *out. */
int core_notes_build(struct capture *c, uint8_t **out, size_t *len, char *err);

/* elf_out.c: writes the file to FD; its bytes on disk. -1 with errno. */
int core_elf_write(struct capture *c, int fd, const uint8_t *notes, size_t nlen);

/* Nanoseconds of CLOCK. */
uint64_t core_now(int clock);

#endif
