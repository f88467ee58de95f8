/*
 * common.c - see common.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

int target_args_check(const struct target_args *a, char *err, size_t len)
{
    if (a->pid && a->core)
        snprintf(err, len, "give a PID or --core CORE, not both");
    else if (!a->pid && !a->core)
        snprintf(err, len, "no target: give a PID, or a core file with --core CORE");
    else if (a->exe && !a->core)
        snprintf(err, len, "--exe EXE goes with a core given by --core CORE "
                 "(a live process names its own program)");
    else if (a->pid) {
        char *end;
        errno = 0;
        long v = strtol(a->pid, &end, 10);
        if (errno || *end || end == a->pid || v <= 0 || v > 0x3fffffff)
            snprintf(err, len, "'%s' is not a process id", a->pid);
        else
            return 0;
    } else
        return 0;
    return -1;
}

gto_target *target_open(const char *prog, const struct target_args *a)
{
    char err[GTO_ERR_MAX];
    gto_target *t = NULL;
    int rc = a->core ? gto_open_core(a->core, a->exe, &t, err)
                     : gto_open_pid((pid_t)strtol(a->pid, NULL, 10), &t, err);
    if (rc < 0) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return NULL;
    }
    return t;
}

int64_t parse_duration(const char *s)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || v < 0)
        return -1;
    static const struct { const char *unit; double ns; } units[] = {
        {"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"", 1e9},
        {"m", 60e9}, {"h", 3600e9},
    };
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (strcmp(end, units[i].unit) == 0) {
            double ns = v * units[i].ns;
            return ns > 9.2e18 ? -1 : (int64_t)ns;
        }
    return -1;
}

const char *fmt_duration(uint64_t ns, char *buf, size_t len)
{
    if (ns >= 1000000000ull)
        snprintf(buf, len, "%.1fs", (double)ns / 1e9);
    else if (ns >= 1000000ull)
        snprintf(buf, len, "%.1fms", (double)ns / 1e6);
    else if (ns >= 1000ull)
        snprintf(buf, len, "%.0fus", (double)ns / 1e3);
    else
        snprintf(buf, len, "%lluns", (unsigned long long)ns);
    return buf;
}

const char *fmt_bytes(uint64_t b, char *buf, size_t len)
{
    if (b >= (10ull << 30))
        snprintf(buf, len, "%.0f GiB", (double)b / (1ull << 30));
    else if (b >= (10ull << 20))
        snprintf(buf, len, "%.0f MiB", (double)b / (1ull << 20));
    else if (b >= (1ull << 20))
        snprintf(buf, len, "%.1f MiB", (double)b / (1ull << 20));
    else if (b >= (10ull << 10))
        snprintf(buf, len, "%.0f KiB", (double)b / (1ull << 10));
    else if (b >= (1ull << 10))
        snprintf(buf, len, "%.1f KiB", (double)b / (1ull << 10));
    else
        snprintf(buf, len, "%llu B", (unsigned long long)b);
    return buf;
}

const char *fmt_count(uint64_t n, char *buf, size_t len)
{
    char tmp[32];
    int k = snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)n);
    size_t o = 0;
    for (int i = 0; i < k && o + 2 < len; i++) {
        if (i && (k - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = tmp[i];
    }
    buf[o] = 0;
    return buf;
}

void json_str(FILE *f, const char *s)
{
    if (!s) {
        fputs("null", f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

const char *describe_pc(gto_target *t, uint64_t pc, int return_address,
                        char *buf, size_t len)
{
    const struct gto_symbol *sym;
    size_t n = gto_symbolize(t, pc, return_address, &sym);
    /* The innermost source frame: for an inlined call site, the function
     * the call is written in. */
    (void)n;
    if (sym[0].file)
        snprintf(buf, len, "%s (%s:%d)", sym[0].function,
                 strrchr(sym[0].file, '/') ? strrchr(sym[0].file, '/') + 1
                                           : sym[0].file, sym[0].line);
    else if (sym[0].module)
        snprintf(buf, len, "%s (%s)", sym[0].function, sym[0].module);
    else
        snprintf(buf, len, "%s", sym[0].function);
    return buf;
}

const char *fresh_note(gto_target *t, const struct gto_thread *th, char *buf,
                       size_t len)
{
    if (!gto_fresh_context(th))
        return NULL;
    /* The function by name: the trampoline is all the frames show, and
     * the entry is what the thread will run. */
    const struct gto_symbol *sym;
    size_t n = gto_symbolize(t, th->entry, 0, &sym);
    char fn[128];
    if (strcmp(sym[n - 1].function, "?") != 0)
        snprintf(fn, sizeof(fn), "%s", sym[n - 1].function);
    else
        snprintf(fn, sizeof(fn), "%#llx", (unsigned long long)th->entry);
    if (th->flags & GTO_TF_UNSTACKED)
        snprintf(buf, len, "no stack: waits unstacked, starts over in %s", fn);
    else
        snprintf(buf, len, "not started: starts in %s", fn);
    return buf;
}
