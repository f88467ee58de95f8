/*
 * pprof.c - gt-stacks' groups as a gzipped profile.proto (see pprof.h).
 *
 * The encoding is protobuf's, written here by hand: the format is small
 * and fixed.  A message is a sequence of fields, each a key (field number
 * << 3 | wire type) as a varint, then the value: a varint (wire type 0),
 * or a length-delimited run of bytes (wire type 2: strings, nested
 * messages, packed repeated integers).  The fields used, from pprof's
 * proto/profile.proto:
 *
 *   Profile   1 sample_type ValueType*  2 sample Sample*  3 mapping Mapping*
 *             4 location Location*  5 function Function*  6 string_table
 *             string* (entry 0 is "")  9 time_nanos  13 comment int64*
 *             14 default_sample_type
 *   ValueType 1 type  2 unit                    (string table indexes)
 *   Sample    1 location_id uint64* (packed; leaf first)  2 value int64*
 *             (packed, one per sample_type)  3 label Label*
 *   Label     1 key  2 str  3 num  4 num_unit   (str or num, not both)
 *   Mapping   1 id  2 memory_start  3 memory_limit  4 file_offset
 *             5 filename  6 build_id  7 has_functions  8 has_filenames
 *             9 has_line_numbers  10 has_inline_frames
 *   Location  1 id  2 mapping_id  3 address  4 line Line* (innermost
 *             first: the last is the physical frame's function)
 *   Line      1 function_id  2 line
 *   Function  1 id  2 name  3 system_name  4 filename
 *
 * Ids start at 1 (0: none).  Every id and string is interned in one table
 * keyed by a text made of what identifies it, so a function seen in two
 * processes is one function, while a location (an address) is per
 * process: each loads its modules at its own addresses.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zlib.h>

#include "pprof.h"

/* ---- protobuf ----------------------------------------------------------- */

struct buf {
    uint8_t *p;
    size_t n, cap;
    int oom;
};

static void put(struct buf *b, const void *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n)
            cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->n, s, n);
    b->n += n;
}

static void put_varint(struct buf *b, uint64_t v)
{
    uint8_t x[10];
    size_t n = 0;
    do {
        x[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    put(b, x, n);
}

/* A varint field; zero is the default and is left out. */
static void put_uint(struct buf *b, unsigned field, uint64_t v)
{
    if (!v)
        return;
    put_varint(b, (uint64_t)field << 3 | 0);
    put_varint(b, v);
}

static void put_bytes(struct buf *b, unsigned field, const void *s, size_t n)
{
    put_varint(b, (uint64_t)field << 3 | 2);
    put_varint(b, n);
    put(b, s, n);
}

/* A nested message, SUB, which is emptied for the next one. */
static void put_msg(struct buf *b, unsigned field, struct buf *sub)
{
    if (sub->oom)
        b->oom = 1;
    put_bytes(b, field, sub->p, sub->n);
    sub->n = 0;
}

static void put_packed(struct buf *b, unsigned field, const uint64_t *v, size_t n,
                       struct buf *tmp)
{
    tmp->n = 0;
    for (size_t i = 0; i < n; i++)
        put_varint(tmp, v[i]);
    put_msg(b, field, tmp);
}

/* ---- interning ---------------------------------------------------------- */

/* Text key -> id, open addressing; the keys are owned copies. */
struct table {
    char **key;
    uint64_t *id;
    size_t n, cap;           /* cap a power of two */
};

static uint64_t hash_text(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 0x100000001b3ull;
    return h;
}

static int table_grow(struct table *t)
{
    size_t cap = t->cap ? t->cap * 2 : 256;
    char **key = calloc(cap, sizeof(*key));
    uint64_t *id = calloc(cap, sizeof(*id));
    if (!key || !id) {
        free(key), free(id);
        return -1;
    }
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->key[i])
            continue;
        size_t j = hash_text(t->key[i], strlen(t->key[i])) & (cap - 1);
        while (key[j])
            j = (j + 1) & (cap - 1);
        key[j] = t->key[i];
        id[j] = t->id[i];
    }
    free(t->key), free(t->id);
    t->key = key;
    t->id = id;
    t->cap = cap;
    return 0;
}

/* The id of KEY; a new key gets NEXT (*IS_NEW set).  0 when out of
 * memory. */
static uint64_t table_get(struct table *t, const char *key, uint64_t next, int *is_new)
{
    *is_new = 0;
    if (2 * (t->n + 1) > t->cap && table_grow(t) < 0)
        return 0;
    size_t i = hash_text(key, strlen(key)) & (t->cap - 1);
    for (; t->key[i]; i = (i + 1) & (t->cap - 1))
        if (strcmp(t->key[i], key) == 0)
            return t->id[i];
    t->key[i] = strdup(key);
    if (!t->key[i])
        return 0;
    t->id[i] = next;
    t->n++;
    *is_new = 1;
    return next;
}

static void table_free(struct table *t)
{
    for (size_t i = 0; i < t->cap; i++)
        free(t->key[i]);
    free(t->key), free(t->id);
}

/* The profile being built: its string table and the encoded mappings,
 * locations and functions, each appended once, when first seen. */
struct prof {
    struct table ids;        /* "s" text, "f" function, "m" mapping, "l"
                              * location, "p" frameless pseudo-location */
    struct buf strings;      /* string_table fields, in index order */
    uint64_t nstrings, nfunctions, nmappings, nlocations;
    struct buf mappings, locations, functions;
    struct buf tmp, tmp2;    /* scratch for nested messages */
    int oom;
};

/* The id of KEY in P's table; a new key gets NEXT (*IS_NEW set).  0,
 * and P marked out of memory, when the table cannot hold it. */
static uint64_t intern(struct prof *p, const char *key, uint64_t next, int *is_new)
{
    uint64_t id = table_get(&p->ids, key, next, is_new);
    if (!id)
        p->oom = 1;
    return id;
}

/* Appends the encoded location LOC to P's and frees it. */
static void put_location(struct prof *p, struct buf *loc)
{
    if (loc->oom)
        p->oom = 1;
    put_msg(&p->locations, 4, loc);
    free(loc->p);
}

/* The string table index of S (NULL as ""). */
static uint64_t str_id(struct prof *p, const char *s)
{
    if (!s || !*s)
        return 0;
    size_t n = strlen(s);
    char *key = malloc(n + 2);
    if (!key) {
        p->oom = 1;
        return 0;
    }
    key[0] = 's';
    memcpy(key + 1, s, n + 1);
    int is_new;
    uint64_t id = intern(p, key, p->nstrings, &is_new);
    free(key);
    if (!id)
        return 0;
    if (is_new) {
        put_bytes(&p->strings, 6, s, n);
        p->nstrings++;
    }
    return id;
}

static uint64_t function_id(struct prof *p, const char *name, const char *file)
{
    char key[2 * GTO_LABEL_MAX];
    snprintf(key, sizeof(key), "f%s%c%s", name, '\x1f', file ? file : "");
    int is_new;
    uint64_t id = intern(p, key, p->nfunctions + 1, &is_new);
    if (!id)
        return 0;
    if (is_new) {
        p->nfunctions++;
        uint64_t sname = str_id(p, name), sfile = str_id(p, file);
        put_uint(&p->tmp, 1, id);
        put_uint(&p->tmp, 2, sname);
        put_uint(&p->tmp, 3, sname);
        put_uint(&p->tmp, 4, sfile);
        put_msg(&p->functions, 5, &p->tmp);
    }
    return id;
}

/* The mapping of PC in SET's target, 0 when no module holds it. */
static uint64_t mapping_id(struct prof *p, size_t set, gto_target *t, uint64_t pc)
{
    struct gto_module mod;
    if (gto_module_of(t, pc, &mod) < 0)
        return 0;
    char key[64];
    snprintf(key, sizeof(key), "m%zu:%llx", set, (unsigned long long)mod.start);
    int is_new;
    uint64_t id = intern(p, key, p->nmappings + 1, &is_new);
    if (!id)
        return 0;
    if (is_new) {
        p->nmappings++;
        uint64_t file = str_id(p, mod.path), build = str_id(p, mod.build_id);
        put_uint(&p->tmp, 1, id);
        put_uint(&p->tmp, 2, mod.start);
        put_uint(&p->tmp, 3, mod.end);
        put_uint(&p->tmp, 5, file);
        put_uint(&p->tmp, 6, build);
        /* Every location carries its lines: nothing for pprof to
         * symbolize again. */
        for (unsigned f = 7; f <= 10; f++)
            put_uint(&p->tmp, f, 1);
        put_msg(&p->mappings, 3, &p->tmp);
    }
    return id;
}

/* The location of frame I of TH (a thread of SET's target). */
static uint64_t frame_location(struct prof *p, size_t set, gto_target *t,
                               const struct gto_thread *th, size_t i)
{
    /* gto_frame_symbols' rule: the same pc reads differently as an exact
     * pc and as a return address. */
    int exact = i == 0 && (gto_fresh_context(th) || th->state == GTO_STATE_RUNNING);
    uint64_t pc = th->frames[i].pc;
    char key[64];
    snprintf(key, sizeof(key), "l%zu:%llx:%d", set, (unsigned long long)pc, exact);
    int is_new;
    uint64_t id = intern(p, key, p->nlocations + 1, &is_new);
    if (!id)
        return 0;
    if (!is_new)
        return id;
    p->nlocations++;
    const struct gto_symbol *sym;
    size_t n = gto_frame_symbols(t, th, i, &sym);
    struct buf loc = {0};
    put_uint(&loc, 1, id);
    put_uint(&loc, 2, mapping_id(p, set, t, exact || !pc ? pc : pc - 1));
    put_uint(&loc, 3, pc);
    for (size_t j = 0; j < n; j++) {
        /* No name at all: the address and mapping say what it is. */
        if (strcmp(sym[j].function, "?") == 0 && !sym[j].file)
            continue;
        put_uint(&p->tmp2, 1, function_id(p, sym[j].function, sym[j].file));
        put_uint(&p->tmp2, 2, sym[j].line > 0 ? (uint64_t)sym[j].line : 0);
        put_msg(&loc, 4, &p->tmp2);
    }
    put_location(p, &loc);
    return id;
}

/* A thread with no frames: one pseudo-frame "[state]", as --folded
 * prints it. */
static uint64_t frameless_location(struct prof *p, int state)
{
    char key[32], name[32];
    snprintf(key, sizeof(key), "p%d", state);
    int is_new;
    uint64_t id = intern(p, key, p->nlocations + 1, &is_new);
    if (!id)
        return 0;
    if (is_new) {
        p->nlocations++;
        snprintf(name, sizeof(name), "[%s]", gto_state_name(state));
        uint64_t fn = function_id(p, name, NULL);
        struct buf loc = {0};
        put_uint(&loc, 1, id);
        put_uint(&p->tmp2, 1, fn);
        put_msg(&loc, 4, &p->tmp2);
        put_location(p, &loc);
    }
    return id;
}

/* ---- samples ------------------------------------------------------------ */

static void put_label_str(struct prof *p, struct buf *sample, const char *key,
                          const char *value)
{
    put_uint(&p->tmp2, 1, str_id(p, key));
    put_uint(&p->tmp2, 2, str_id(p, value));
    put_msg(sample, 3, &p->tmp2);
}

static void put_label_num(struct prof *p, struct buf *sample, const char *key,
                          uint64_t value)
{
    put_uint(&p->tmp2, 1, str_id(p, key));
    /* A num of 0 left out would read as a label with neither str nor num:
     * 0 is written. */
    put_varint(&p->tmp2, 3 << 3 | 0);
    put_varint(&p->tmp2, value);
    put_msg(sample, 3, &p->tmp2);
}

/* The program's name from the target's "process 123 (name)", into BUF;
 * NULL when the name has no such part. */
static const char *exe_name(const gto_target *t, char *buf, size_t len)
{
    const char *name = gto_target_name(t);
    const char *open = strchr(name, '('), *close = strrchr(name, ')');
    if (!open || !close || close <= open + 1 || (size_t)(close - open - 1) >= len)
        return NULL;
    memcpy(buf, open + 1, (size_t)(close - open - 1));
    buf[close - open - 1] = '\0';
    return buf;
}

/* The members of one group of one process that agree on state, wait kind
 * and location: one sample. */
struct bucket {
    int state, wait_kind;    /* wait_kind -1 when not parked */
    uint32_t location;       /* 0 when not parked */
    uint64_t threads, live;
};

static int add_samples(struct prof *p, struct buf *out, const struct gto_group_set *set,
                       size_t si, const struct gto_group *g, size_t rank,
                       uint64_t *locs)
{
    gto_target *t = set->t;
    const struct gto_thread *rep = g->rep;
    size_t nlocs = 0;
    for (size_t i = 0; i < rep->nframes; i++)
        locs[nlocs++] = frame_location(p, si, t, rep, i);
    if (!nlocs)
        locs[nlocs++] = frameless_location(p, rep->state);

    struct bucket *b = calloc(g->count + 1, sizeof(*b));
    size_t nb = 0;
    if (!b)
        return -1;
    for (size_t k = 0; k < g->count; k++) {
        const struct gto_thread *th = g->threads[k];
        int parked = th->state == GTO_STATE_PARKED;
        struct bucket key = {th->state, parked ? th->wait_kind : -1,
                             parked ? th->location : 0, 0, 0};
        size_t j = 0;
        while (j < nb && (b[j].state != key.state || b[j].wait_kind != key.wait_kind ||
                          b[j].location != key.location))
            j++;
        if (j == nb)
            b[nb++] = key;
        b[j].threads++;
        /* A running thread's live bytes are not known (its sp is on
         * the CPU): it adds none. */
        if (th->state != GTO_STATE_RUNNING)
            b[j].live += th->live;
    }
    const struct gto_counters *c = gto_snapshot_counters(set->s);
    char exe[128], where[GTO_LABEL_MAX];
    for (size_t j = 0; j < nb; j++) {
        struct buf sample = {0};
        put_packed(&sample, 1, locs, nlocs, &p->tmp);
        uint64_t values[2] = {b[j].threads, b[j].live};
        /* Packed int64s: both values are counts, never negative. */
        put_packed(&sample, 2, values, 2, &p->tmp);
        put_label_num(p, &sample, "pid", c->pid);
        if (exe_name(t, exe, sizeof(exe)))
            put_label_str(p, &sample, "exe", exe);
        put_label_str(p, &sample, "state", gto_state_name(b[j].state));
        if (b[j].wait_kind >= 0)
            put_label_str(p, &sample, "wait", gto_wait_kind_name(b[j].wait_kind));
        const struct gto_location *loc = gto_location_by_index(set->s, b[j].location);
        if (loc && loc->depth)
            put_label_str(p, &sample, "location",
                          gto_location_label(t, loc, where, sizeof(where)));
        put_label_num(p, &sample, "group", rank);
        if (sample.oom)
            p->oom = 1;
        put_msg(out, 2, &sample);
        free(sample.p);
    }
    free(b);
    return 0;
}

/* ---- the file ----------------------------------------------------------- */

/* DATA gzip-compressed to OUT. */
static int gzip_write(FILE *out, const uint8_t *data, size_t n, char *err)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (n > UINT_MAX) {
        snprintf(err, GTO_ERR_MAX, "the profile is too big (%zu bytes)", n);
        return -1;
    }
    /* 15 + 16: a gzip header and trailer around the deflate stream. */
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK) {
        snprintf(err, GTO_ERR_MAX, "zlib: deflateInit2 failed");
        return -1;
    }
    uint8_t chunk[16384];
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)n;
    int rc;
    do {
        z.next_out = chunk;
        z.avail_out = sizeof(chunk);
        rc = deflate(&z, Z_FINISH);
        if (rc == Z_STREAM_ERROR) {
            deflateEnd(&z);
            snprintf(err, GTO_ERR_MAX, "zlib: deflate failed");
            return -1;
        }
        size_t got = sizeof(chunk) - z.avail_out;
        if (fwrite(chunk, 1, got, out) != got) {
            deflateEnd(&z);
            snprintf(err, GTO_ERR_MAX, "writing the profile: %s", strerror(errno));
            return -1;
        }
    } while (rc != Z_STREAM_END);
    deflateEnd(&z);
    if (fflush(out) != 0) {
        snprintf(err, GTO_ERR_MAX, "writing the profile: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int pprof_write(FILE *out, const struct gto_group_set *sets, size_t nsets,
                const struct gto_merged *m, size_t nm, char *err)
{
    struct prof p = {0};
    struct buf samples = {0}, prof = {0};
    uint64_t *locs = NULL;
    int rc = -1;
    size_t maxframes = 1;
    for (size_t i = 0; i < nm; i++)
        for (size_t k = 0; k < m[i].nparts; k++)
            if (m[i].parts[k].g->rep->nframes > maxframes)
                maxframes = m[i].parts[k].g->rep->nframes;
    locs = malloc(maxframes * sizeof(*locs));
    if (!locs)
        goto oom;
    /* String 0 is "" (str_id maps "" and NULL to it). */
    put_bytes(&p.strings, 6, "", 0);
    p.nstrings = 1;
    uint64_t threads = str_id(&p, "threads"), count = str_id(&p, "count");
    uint64_t live = str_id(&p, "live_stack_bytes"), bytes = str_id(&p, "bytes");
    for (size_t i = 0; i < nm; i++)
        for (size_t k = 0; k < m[i].nparts; k++) {
            size_t si = m[i].parts[k].set;
            if (add_samples(&p, &samples, &sets[si], si, m[i].parts[k].g, i + 1,
                            locs) < 0)
                goto oom;
        }
    /* The comments name the processes read. */
    uint64_t comments[64];
    size_t ncomments = 0;
    for (size_t i = 0; i < nsets && ncomments < 64; i++)
        comments[ncomments++] = str_id(&p, gto_target_name(sets[i].t));

    put_uint(&p.tmp, 1, threads);
    put_uint(&p.tmp, 2, count);
    put_msg(&prof, 1, &p.tmp);
    put_uint(&p.tmp, 1, live);
    put_uint(&p.tmp, 2, bytes);
    put_msg(&prof, 1, &p.tmp);
    put(&prof, samples.p, samples.n);
    put(&prof, p.mappings.p, p.mappings.n);
    put(&prof, p.locations.p, p.locations.n);
    put(&prof, p.functions.p, p.functions.n);
    put(&prof, p.strings.p, p.strings.n);
    struct timespec now;
    if (clock_gettime(CLOCK_REALTIME, &now) == 0)
        put_uint(&prof, 9, (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec);
    put_packed(&prof, 13, comments, ncomments, &p.tmp);
    put_uint(&prof, 14, threads);
    if (p.oom || samples.oom || prof.oom || p.strings.oom || p.mappings.oom ||
        p.locations.oom || p.functions.oom || p.tmp.oom || p.tmp2.oom)
        goto oom;
    rc = gzip_write(out, prof.p, prof.n, err);
    goto done;
oom:
    snprintf(err, GTO_ERR_MAX, "out of memory writing the profile");
done:
    free(locs);
    table_free(&p.ids);
    free(p.strings.p), free(p.mappings.p), free(p.locations.p), free(p.functions.p);
    free(p.tmp.p), free(p.tmp2.p), free(samples.p), free(prof.p);
    return rc;
}
