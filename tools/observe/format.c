/*
 * format.c - how every gt reader writes durations, ages, bytes, counts and
 * JSON strings, so that one quantity reads the same in every tool.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

const char *gto_fmt_duration(uint64_t ns, char *buf, size_t len)
{
    /* Past 100 s a tenth of a second says nothing, and "3598.8s" has to be
     * worked out; minutes, hours and days read at once ("59m58s"). */
    uint64_t sec = ns / 1000000000ull;
    if (sec >= 100ull * 3600)
        snprintf(buf, len, "%llud%02lluh", (unsigned long long)(sec / 86400),
                 (unsigned long long)(sec % 86400 / 3600));
    else if (sec >= 100ull * 60)
        snprintf(buf, len, "%lluh%02llum", (unsigned long long)(sec / 3600),
                 (unsigned long long)(sec % 3600 / 60));
    else if (sec >= 100)
        snprintf(buf, len, "%llum%02llus", (unsigned long long)(sec / 60),
                 (unsigned long long)(sec % 60));
    else if (ns >= 1000000000ull)
        snprintf(buf, len, "%.1fs", (double)ns / 1e9);
    else if (ns >= 1000000ull)
        snprintf(buf, len, "%.1fms", (double)ns / 1e6);
    else if (ns >= 1000ull)
        snprintf(buf, len, "%.0fus", (double)ns / 1e3);
    else
        snprintf(buf, len, "%lluns", (unsigned long long)ns);
    return buf;
}

const char *gto_fmt_age(uint64_t ns, int exact, char *buf, size_t len)
{
    char d[32];
    gto_fmt_duration(ns, d, sizeof(d));
    snprintf(buf, len, "%s%s", exact ? "" : ">= ", d);
    return buf;
}

const char *gto_fmt_bytes(uint64_t b, char *buf, size_t len)
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

const char *gto_fmt_count(uint64_t n, char *buf, size_t len)
{
    char tmp[32];
    int k = snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)n);
    size_t o = 0;
    if (!len)
        return buf;
    for (int i = 0; i < k && o + 2 < len; i++) {
        if (i && (k - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = tmp[i];
    }
    buf[o] = 0;
    return buf;
}

int64_t gto_parse_duration(const char *s)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || !(v >= 0))
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

void gto_json_string(FILE *f, const char *s)
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

void gto_json_counters(FILE *f, const gto_snapshot *s)
{
    const struct gto_counters *c = gto_snapshot_counters(s);
    fprintf(f, "\"now_exact\": %s, \"uptime_ns\": %llu, \"idle_ns\": %llu, "
               "\"file_io_calls\": %llu, \"file_io_ns\": %llu, \"threads\": %zu, "
               "\"states\": {",
            c->now_exact ? "true" : "false", (unsigned long long)c->uptime_ns,
            (unsigned long long)c->idle_total, (unsigned long long)c->file_io_calls,
            (unsigned long long)c->file_io_ns, gto_thread_count(s));
    for (int i = GTO_STATE_RUNNABLE; i < GTO_STATE_COUNT; i++)
        fprintf(f, "%s\"%s\": %llu", i == GTO_STATE_RUNNABLE ? "" : ", ",
                gto_state_name(i), (unsigned long long)c->nstate[i]);
    fprintf(f, "}, \"in_flux\": %llu", (unsigned long long)c->in_flux);
}
