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

/* The length of the well-formed UTF-8 sequence at S[0..n) (Unicode's
 * table of well-formed byte sequences: no overlong form, no surrogate,
 * nothing past U+10FFFF), 1 for ASCII; 0 when S does not start one. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned lo = 0x80, hi = 0xbf;   /* the second byte's range */
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0;               /* below: overlong */
        else if (c == 0xed)
            hi = 0x9f;               /* above: a surrogate */
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90;               /* below: overlong */
        else if (c == 0xf4)
            hi = 0x8f;               /* above: past U+10FFFF */
    } else {
        return 0;                    /* a continuation byte, 0xc0, 0xc1, 0xf5+ */
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

/* Whether the well-formed sequence S of LEN bytes is a control character:
 * C0, DEL or C1 (U+0080..U+009F, two bytes 0xc2 0x80..0x9f). */
static int is_control(const unsigned char *s, size_t len)
{
    return len == 1 ? s[0] < 0x20 || s[0] == 0x7f : len == 2 && s[0] == 0xc2 && s[1] < 0xa0;
}

/* The rule of gto_text_safe, with the backslash escaped or not: the
 * second form (BACKSLASH 0) only makes a message that may mix safe text
 * with raw text unable to reach a terminal raw (gto__err). */
static size_t text_safe(const char *in, size_t n, char *out, size_t cap,
                        int backslash)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)in;
    size_t o = 0;
    if (!cap)
        return 0;
    for (size_t i = 0; i < n;) {
        size_t len = utf8_len(s + i, n - i);
        char esc[16];
        size_t elen = 0;
        if (len == 0 || is_control(s + i, len)) {
            /* Every byte of it, so that nothing is lost and the text says
             * exactly what the bytes were. */
            size_t k = len ? len : 1;
            for (size_t j = 0; j < k; j++) {
                esc[elen++] = '\\';
                esc[elen++] = 'x';
                esc[elen++] = hex[s[i + j] >> 4];
                esc[elen++] = hex[s[i + j] & 15];
            }
            len = k;
        } else if (s[i] == '\\' && backslash) {
            esc[elen++] = '\\';
            esc[elen++] = '\\';
        } else {
            memcpy(esc, s + i, len);
            elen = len;
        }
        if (o + elen >= cap)
            break;                   /* cut before a whole unit, never in it */
        memcpy(out + o, esc, elen);
        o += elen;
        i += len;
    }
    out[o] = 0;
    return o;
}

size_t gto_text_safe(const char *s, size_t n, char *out, size_t cap)
{
    return text_safe(s, n, out, cap, 1);
}

int gto__text_is_safe(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        if (u[i] >= 0x20 && u[i] < 0x7f && u[i] != '\\') {
            i++;                     /* the common case: printable ASCII */
            continue;
        }
        size_t len = utf8_len(u + i, n - i);
        if (len == 0 || u[i] == '\\' || is_control(u + i, len))
            return 0;
        i += len;
    }
    return 1;
}

size_t gto__text_controls_safe(const char *s, size_t n, char *out, size_t cap)
{
    return text_safe(s, n, out, cap, 0);
}

void gto_json_string(FILE *f, const char *s)
{
    if (!s) {
        fputs("null", f);
        return;
    }
    /* Strings from the library are safe already (gto_text_safe); this
     * keeps a document valid UTF-8 whatever it is given: a byte that is
     * not part of a well-formed sequence is written as the text "\xNN",
     * as gto_text_safe writes it. */
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s);
    fputc('"', f);
    for (size_t i = 0; i < n;) {
        unsigned c = u[i];
        size_t len = utf8_len(u + i, n - i);
        if (len == 0) {
            fprintf(f, "\\\\x%02x", c);
            i++;
        } else if (c == '"' || c == '\\') {
            fprintf(f, "\\%c", c);
            i++;
        } else if (is_control(u + i, len)) {
            fprintf(f, "\\u%04x", len == 1 ? c : u[i + 1]);
            i += len;
        } else {
            fwrite(u + i, 1, len, f);
            i += len;
        }
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
    fprintf(f, "}, \"in_flux\": %llu, ", (unsigned long long)c->in_flux);
    gto_json_capture(f, s->t);
}
