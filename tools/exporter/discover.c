/*
 * discover.c - see discover.h.
 *
 * A process is a gt program when an ELF object it runs defines the
 * registry.  The program itself is looked at first (through
 * /proc/PID/exe, one stat when it was seen before); then every object
 * /proc/PID/maps names with an executable mapping, for a program linked
 * with libgt.so.  (A file mapped only to be read, as every gt reader maps
 * its target's program, is not one the process runs.)  Files are
 * opened through /proc/PID/root, so a process in another mount namespace
 * (a container) is looked at in its own files.  A process whose maps
 * this user may not read is not one it may read either: it is left out.
 */
#include "discover.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "proc.h"

/* Symbols of one table looked at: past this a table is not a program's
 * (a million symbols is a very big C++ program already). */
#define MAX_SYMBOLS (1u << 22)
/* Lines of one maps file read: a gt program with mprotect guards maps a
 * region per thread, and at a million threads that is the bound. */
#define MAX_MAPS_LINES (4u << 20)

void discover_init(struct discover *d)
{
    memset(d, 0, sizeof(*d));
    d->self = getpid();
}

void discover_free(struct discover *d)
{
    free(d->procs);
    free(d->objs);
    memset(d, 0, sizeof(*d));
}

/* The note "gt" of type 1 (GT_NOTE_REGISTRY) in section data DATA. */
static int has_gt_note(Elf_Data *data)
{
    size_t off = 0, next;
    GElf_Nhdr nh;
    size_t name_off, desc_off;
    while (off < data->d_size &&
           (next = gelf_getnote(data, off, &nh, &name_off, &desc_off)) > 0) {
        if (nh.n_type == 1 && nh.n_namesz == 3 && name_off + 3 <= data->d_size &&
            memcmp((const char *)data->d_buf + name_off, "gt", 3) == 0)
            return 1;
        off = next;
    }
    return 0;
}

/* A defined symbol gt_registry in symbol table section SCN. */
static int has_registry_symbol(Elf *elf, Elf_Scn *scn, const GElf_Shdr *sh)
{
    Elf_Data *data = elf_getdata(scn, NULL);
    if (!data || !sh->sh_entsize)
        return 0;
    size_t n = sh->sh_size / sh->sh_entsize;
    if (n > MAX_SYMBOLS)
        n = MAX_SYMBOLS;
    for (size_t i = 0; i < n; i++) {
        GElf_Sym sym;
        if (!gelf_getsym(data, (int)i, &sym))
            break;
        if (sym.st_shndx == SHN_UNDEF || !sym.st_name)
            continue;
        const char *name = elf_strptr(elf, sh->sh_link, sym.st_name);
        if (name && strcmp(name, "gt_registry") == 0)
            return 1;
    }
    return 0;
}

/* Whether the ELF file at PATH defines the registry. */
static int file_has_registry(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    elf_version(EV_CURRENT);
    Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    int found = 0;
    if (elf && elf_kind(elf) == ELF_K_ELF) {
        /* The note first: one small section, in every gt program. */
        for (int pass = 0; pass < 2 && !found; pass++) {
            Elf_Scn *scn = NULL;
            while (!found && (scn = elf_nextscn(elf, scn))) {
                GElf_Shdr sh;
                if (!gelf_getshdr(scn, &sh))
                    continue;
                if (pass == 0 && sh.sh_type == SHT_NOTE) {
                    Elf_Data *data = elf_getdata(scn, NULL);
                    found = data && has_gt_note(data);
                } else if (pass == 1 && (sh.sh_type == SHT_DYNSYM || sh.sh_type == SHT_SYMTAB)) {
                    found = has_registry_symbol(elf, scn, &sh);
                }
            }
        }
    }
    if (elf)
        elf_end(elf);
    close(fd);
    return found;
}

/* The object (DEV, INO), looked at through PATH the first time. */
static int object_has_registry(struct discover *d, uint64_t dev, uint64_t ino, const char *path)
{
    for (size_t i = 0; i < d->nobjs; i++)
        if (d->objs[i].dev == dev && d->objs[i].ino == ino)
            return d->objs[i].has_registry;
    int has = file_has_registry(path);
    if (d->nobjs == d->cap_objs) {
        size_t cap = d->cap_objs ? 2 * d->cap_objs : 64;
        struct discover_obj *o = realloc(d->objs, cap * sizeof(*o));
        if (!o)
            return has;   /* looked at again next time */
        d->objs = o;
        d->cap_objs = cap;
    }
    d->objs[d->nobjs++] = (struct discover_obj){dev, ino, has};
    return has;
}

/* Whether PID, new to the scan, is a gt program this user may read. */
static int look_at(struct discover *d, pid_t pid)
{
    char path[PATH_MAX + 64];
    struct stat st;
    /* The maps first: what this user may not read is no target. */
    snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
    FILE *maps = fopen(path, "re");
    if (!maps)
        return 0;
    int found = 0;
    snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
    if (stat(path, &st) == 0)
        found = object_has_registry(d, (uint64_t)st.st_dev, (uint64_t)st.st_ino, path);
    char line[PATH_MAX + 256];
    for (unsigned n = 0; !found && n < MAX_MAPS_LINES && fgets(line, sizeof(line), maps); n++) {
        unsigned long long ino;
        unsigned maj, min;
        char perms[8];
        int at = 0;
        /* Only objects loaded to run: a reader (gt-top, this exporter)
         * maps its targets' programs whole, read-only, to read their
         * symbols, and is no gt program for that. */
        if (sscanf(line, "%*x-%*x %7s %*x %x:%x %llu %n", perms, &maj, &min, &ino, &at) < 4 ||
            perms[2] != 'x' || ino == 0 || !at || line[at] != '/')
            continue;
        char *name = line + at;
        name[strcspn(name, "\n")] = 0;
        if (strstr(name, " (deleted)"))
            continue;
        snprintf(path, sizeof(path), "/proc/%d/root%s", (int)pid, name);
        /* The maps' device is the kernel's number for it, as st_dev. */
        uint64_t dev = (uint64_t)makedev(maj, min);
        found = object_has_registry(d, dev, ino, path);
    }
    fclose(maps);
    return found;
}

static int cmp_pid(const void *a, const void *b)
{
    pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
    return (x > y) - (x < y);
}

int discover_scan(struct discover *d)
{
    DIR *dir = opendir("/proc");
    if (!dir)
        return -1;
    pid_t *pids = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(dir))) {
        char *end;
        long v = strtol(e->d_name, &end, 10);
        if (*end || v <= 0 || v > 0x3fffffff)
            continue;
        if (n == cap) {
            size_t c = cap ? 2 * cap : 1024;
            pid_t *p = realloc(pids, c * sizeof(*p));
            if (!p)
                break;
            pids = p;
            cap = c;
        }
        pids[n++] = (pid_t)v;
    }
    closedir(dir);
    qsort(pids, n, sizeof(*pids), cmp_pid);
    struct discover_proc *procs = calloc(n ? n : 1, sizeof(*procs));
    if (!procs) {
        free(pids);
        return -1;
    }
    /* Merge with the last scan, both in pid order: a process seen before
     * with the same start time keeps its verdict. */
    size_t k = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t start, exe = 0;
        if (pids[i] == d->self || proc_start_time(pids[i], &start) < 0)
            continue;   /* gone since the readdir */
        /* A process that calls exec keeps its pid and start time: its
         * program's inode tells the shell that forked from the gt
         * program it then runs. */
        char path[64];
        struct stat st;
        snprintf(path, sizeof(path), "/proc/%d/exe", (int)pids[i]);
        if (stat(path, &st) == 0)
            exe = (uint64_t)st.st_ino;
        while (k < d->nprocs && d->procs[k].pid < pids[i])
            k++;
        struct discover_proc *p = &procs[m++];
        p->pid = pids[i];
        p->start = start;
        p->exe_ino = exe;
        if (k < d->nprocs && d->procs[k].pid == pids[i] && d->procs[k].start == start &&
            d->procs[k].exe_ino == exe)
            p->is_gt = d->procs[k].is_gt;
        else
            p->is_gt = look_at(d, pids[i]);
    }
    free(pids);
    free(d->procs);
    d->procs = procs;
    d->nprocs = m;
    return 0;
}
