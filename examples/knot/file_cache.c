/*
 * file_cache.c - a hash table of whole files with an LRU of the unpinned.
 *
 * Entries are found by their relative path (FNV-1a hash, chained buckets,
 * doubled when the table is full).  An entry is on the LRU list exactly
 * when it holds data, is in the table and nobody pins it; eviction takes
 * the oldest of those, so a pinned entry is never freed under a writer.
 * An entry that goes stale (the file changed) leaves the table at once but
 * lives, and counts against the budget, until its last unpin.  A streamed
 * entry (an fd, no data) is in the table only while pinned: the next
 * connection that wants the same file shares its fd, and an idle one holds
 * no fd.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gt.h>

#include "docroot.h"
#include "file_cache.h"
#include "http_response.h"
#include "mime.h"

#define RECHECK_NS 1000000000LL /* compare with the disk at most once a second */
#define INITIAL_BUCKETS 1024

struct file_cache {
    int root_fd;
    size_t max_bytes;        /* bound on file data held, pinned or not */
    size_t max_entry_bytes;  /* larger files are streamed, never cached */
    size_t bytes;            /* data held by all entries, stale ones too */
    size_t entries;          /* in the table */
    int streams;             /* entries holding an fd to stream from */
    size_t nbuckets;         /* a power of two */
    struct cached_file **buckets;
    struct cached_file *lru_oldest, *lru_newest;
};

static uint64_t hash_path(const char *s)
{
    uint64_t h = 14695981039346656037ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

struct file_cache *file_cache_create(int root_fd, size_t max_bytes)
{
    struct file_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->buckets = calloc(INITIAL_BUCKETS, sizeof *c->buckets);
    if (!c->buckets) {
        free(c);
        return NULL;
    }
    c->nbuckets = INITIAL_BUCKETS;
    c->root_fd = root_fd;
    c->max_bytes = max_bytes;
    c->max_entry_bytes = max_bytes / 8;
    return c;
}

size_t file_cache_bytes(const struct file_cache *c) { return c->bytes; }

int file_cache_streams(const struct file_cache *c) { return c->streams; }

static void lru_remove(struct file_cache *c, struct cached_file *f)
{
    if (f->lru_prev)
        f->lru_prev->lru_next = f->lru_next;
    else
        c->lru_oldest = f->lru_next;
    if (f->lru_next)
        f->lru_next->lru_prev = f->lru_prev;
    else
        c->lru_newest = f->lru_prev;
    f->lru_prev = f->lru_next = NULL;
}

static void lru_append(struct file_cache *c, struct cached_file *f)
{
    f->lru_next = NULL;
    f->lru_prev = c->lru_newest;
    if (c->lru_newest)
        c->lru_newest->lru_next = f;
    else
        c->lru_oldest = f;
    c->lru_newest = f;
}

static void table_grow(struct file_cache *c)
{
    size_t n = c->nbuckets * 2;
    struct cached_file **b = calloc(n, sizeof *b);
    if (!b)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < c->nbuckets; i++) {
        for (struct cached_file *f = c->buckets[i], *next; f; f = next) {
            next = f->hash_next;
            f->hash_next = b[f->hash & (n - 1)];
            b[f->hash & (n - 1)] = f;
        }
    }
    free(c->buckets);
    c->buckets = b;
    c->nbuckets = n;
}

static void entry_free(struct file_cache *c, struct cached_file *f)
{
    if (f->fd >= 0) {
        close(f->fd);
        c->streams--;
    }
    if (f->data)
        c->bytes -= (size_t)f->size;
    free((void *)f->data);
    free(f);
}

/* Takes f out of the table; it is freed now if unpinned, else at unpin. */
static void table_remove(struct file_cache *c, struct cached_file *f)
{
    struct cached_file **link = &c->buckets[f->hash & (c->nbuckets - 1)];
    while (*link != f)
        link = &(*link)->hash_next;
    *link = f->hash_next;
    f->in_table = 0;
    c->entries--;
    if (f->pins == 0) {
        if (f->data)
            lru_remove(c, f);
        entry_free(c, f);
    }
}

static void table_insert(struct file_cache *c, struct cached_file *f)
{
    if (c->entries >= c->nbuckets)
        table_grow(c);
    struct cached_file **bucket = &c->buckets[f->hash & (c->nbuckets - 1)];
    f->hash_next = *bucket;
    *bucket = f;
    f->in_table = 1;
    c->entries++;
}

/* Evicts the least recently used unpinned entries until size more bytes
 * fit in the budget; 1 when they do, 0 when what is left is pinned. */
static int make_room(struct file_cache *c, off_t size)
{
    if ((size_t)size > c->max_entry_bytes)
        return 0;
    while (c->bytes + (size_t)size > c->max_bytes && c->lru_oldest)
        table_remove(c, c->lru_oldest);
    return c->bytes + (size_t)size <= c->max_bytes;
}

static struct cached_file *table_find(struct file_cache *c, const char *rel, uint64_t h)
{
    for (struct cached_file *f = c->buckets[h & (c->nbuckets - 1)]; f; f = f->hash_next)
        if (f->hash == h && strcmp(f->key, rel) == 0)
            return f;
    return NULL;
}

static int same_file(const struct cached_file *f, const struct stat *st)
{
    return f->dev == st->st_dev && f->ino == st->st_ino && f->size == st->st_size &&
           f->mtim.tv_sec == st->st_mtim.tv_sec && f->mtim.tv_nsec == st->st_mtim.tv_nsec;
}

/* Reads the whole of fd; 0, or -1 if it could not be read. */
static int read_whole(int fd, char *data, off_t size)
{
    off_t done = 0;
    while (done < size) {
        ssize_t n = pread(fd, data + done, (size_t)(size - done), done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1; /* an error, or the file shrank under us */
        done += n;
    }
    return 0;
}

/* A new entry for the open file fd; loaded into memory unless streamed. */
static struct cached_file *entry_load(const char *rel, uint64_t h,
                                      int fd, const struct stat *st, int is_index,
                                      int stream)
{
    size_t key_len = strlen(rel);
    struct cached_file *f = calloc(1, sizeof *f + key_len + 1);
    if (!f)
        return NULL;
    memcpy(f->key, rel, key_len + 1);
    f->hash = h;
    f->fd = -1;
    f->size = st->st_size;
    f->mtime = st->st_mtim.tv_sec;
    f->mtim = st->st_mtim;
    f->dev = st->st_dev;
    f->ino = st->st_ino;
    f->content_type = mime_type_for_path(is_index ? "index.html" : rel);
    http_format_date(f->last_modified, sizeof f->last_modified, f->mtime);
    if (stream) {
        f->fd = fd;
        return f;
    }
    /* malloc(0) may be NULL: keep a valid pointer for empty files. */
    char *data = malloc(st->st_size ? (size_t)st->st_size : 1);
    if (!data || read_whole(fd, data, st->st_size) < 0) {
        free(data);
        free(f);
        return NULL;
    }
    f->data = data;
    close(fd);
    return f;
}

/* The monotonic clock to the kernel's last tick (a few ms): all a
 * once-a-second check needs, and cheaper than gt_now_ns on every pin. */
static int64_t coarse_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

struct cached_file *file_cache_pin(struct file_cache *c, const char *rel, int may_stream,
                                   int *status)
{
    uint64_t h = hash_path(rel);
    int64_t now = coarse_now_ns();
    struct cached_file *f = table_find(c, rel, h);
    if (f && now - f->checked_ns < RECHECK_NS)
        goto pin;

    struct stat st;
    int is_index;
    int path_fd = docroot_find(c->root_fd, rel, &st, &is_index);
    if (path_fd < 0) {
        if (f)
            table_remove(c, f); /* gone or forbidden now */
        *status = -path_fd;
        return NULL;
    }
    if (f && same_file(f, &st)) {
        close(path_fd);
        f->checked_ns = now;
        goto pin;
    }
    if (f)
        table_remove(c, f);
    int fd = docroot_open_found(path_fd);
    close(path_fd);
    if (fd < 0) {
        *status = -fd;
        return NULL;
    }

    /* Too large to cache, or the budget is all pinned: stream it. */
    int stream = !make_room(c, st.st_size);
    if (stream && !may_stream) {
        close(fd);
        *status = 503; /* no fd to spare for it now */
        return NULL;
    }
    f = entry_load(rel, h, fd, &st, is_index, stream);
    if (!f) {
        close(fd);
        *status = 500;
        return NULL;
    }
    f->checked_ns = now;
    if (f->data)
        c->bytes += (size_t)f->size;
    else
        c->streams++;
    table_insert(c, f);
    f->pins = 1;
    return f;

pin:
    if (f->pins++ == 0)
        lru_remove(c, f);
    return f;
}

void file_cache_unpin(struct file_cache *c, struct cached_file *f)
{
    if (--f->pins > 0)
        return;
    if (f->in_table && f->data)
        lru_append(c, f);
    else if (f->in_table)
        table_remove(c, f); /* streamed: no one needs its fd now */
    else
        entry_free(c, f);
}
