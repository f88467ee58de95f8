/*
 * maps.c - the target's mappings, from /proc/PID/maps.
 *
 * Read once the target is stopped, so that the map the plan is made from
 * is the map the copy reads.  Lines are parsed strictly: a line that does
 * not parse ends the capture rather than dropping memory silently.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

static int parse(char *line, struct core_map *m)
{
    unsigned long long lo, hi, off, ino;
    char perms[8];
    int pos = 0;
    if (sscanf(line, "%llx-%llx %7s %llx %*x:%*x %llu%n", &lo, &hi, perms, &off, &ino,
               &pos) != 5 || lo >= hi || strlen(perms) != 4)
        return -1;
    char *p = line + pos;
    while (*p == ' ')
        p++;
    p[strcspn(p, "\n")] = 0;
    m->lo = lo;
    m->hi = hi;
    m->offset = off;
    m->inode = ino;
    memcpy(m->perms, perms, 5);
    m->path = strdup(p);
    return m->path ? 0 : -1;
}

int core_maps_read(struct capture *c, char *err)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/maps", (int)c->pid);
    FILE *f = fopen(path, "re");
    if (!f) {
        core_err(err, "%d exited during the capture", (int)c->pid);
        errno = ESRCH;
        return -1;
    }
    size_t cap = 256;
    c->maps = malloc(cap * sizeof(*c->maps));
    char *line = NULL;
    size_t linecap = 0;
    ssize_t n;
    int rc = c->maps ? 0 : -1;
    while (rc == 0 && (n = getline(&line, &linecap, f)) > 0) {
        if (c->nmaps >= CORE_MAPS_MAX) {
            core_err(err, "%d has more than %u mappings", (int)c->pid, CORE_MAPS_MAX);
            rc = -1;
            break;
        }
        if (c->nmaps == cap) {
            cap *= 2;
            struct core_map *m = realloc(c->maps, cap * sizeof(*m));
            if (!m) {
                rc = -1;
                break;
            }
            c->maps = m;
        }
        if (parse(line, &c->maps[c->nmaps]) < 0) {
            core_err(err, "cannot parse /proc/%d/maps: '%.80s'", (int)c->pid, line);
            rc = -1;
            break;
        }
        c->nmaps++;
    }
    free(line);
    fclose(f);
    if (rc == 0 && c->nmaps == 0) {
        /* An empty map: the process became a zombie, or is gone. */
        core_err(err, "%d exited during the capture", (int)c->pid);
        errno = ESRCH;
        return -1;
    }
    if (rc < 0 && !err[0])
        core_err(err, "out of memory for the map of %d", (int)c->pid);
    return rc;
}

void core_maps_free(struct capture *c)
{
    for (size_t i = 0; i < c->nmaps; i++)
        free(c->maps[i].path);
    free(c->maps);
    c->maps = NULL;
    c->nmaps = 0;
}

const struct core_map *core_map_of(const struct capture *c, uint64_t addr)
{
    size_t lo = 0, hi = c->nmaps;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (addr < c->maps[mid].lo)
            hi = mid;
        else if (addr >= c->maps[mid].hi)
            lo = mid + 1;
        else
            return &c->maps[mid];
    }
    return NULL;
}
