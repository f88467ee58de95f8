/*
 * file_cache.h - whole files kept in memory, pinned while a response uses
 * them.
 *
 * A connection pins a file, writes it, and unpins it; between the two the
 * bytes cannot move or be freed, however long the client takes to read
 * them, even if the file changes on disk or the cache needs the room.  The
 * cache holds at most max_bytes of unpinned-or-pinned file data that is
 * shared; files larger than an eighth of that are not cached but streamed
 * from their own fd.  Every call runs on the one kernel thread that runs
 * all green threads and none parks, so no lock is needed.
 */
#ifndef KNOT_FILE_CACHE_H
#define KNOT_FILE_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct file_cache;

struct cached_file {
    /* read-only for users, valid while pinned */
    const char *data;          /* the whole file, or NULL when streamed */
    int fd;                    /* streamed: read the body from here (pread) */
    off_t size;                /* bytes */
    time_t mtime;              /* seconds since the epoch */
    const char *content_type;  /* static string */
    char last_modified[32];    /* mtime as an IMF-fixdate */
    /* private */
    struct cached_file *hash_next;
    struct cached_file *lru_prev, *lru_next; /* only while unpinned and cached */
    int pins;
    int in_table;      /* 0: stale (the file changed), freed at the last unpin */
    int64_t checked_ns; /* when the file on disk was last compared */
    dev_t dev;
    ino_t ino;
    struct timespec mtim;
    uint64_t hash;
    char key[];        /* the path relative to the document root */
};

/* A cache for files beneath root_fd holding at most max_bytes; NULL with
 * errno ENOMEM. */
struct file_cache *file_cache_create(int root_fd, size_t max_bytes);

/* The file at rel (a path from docroot_resolve_target), pinned.  Cached
 * contents are compared with the disk at most once a second.  may_stream:
 * an fd may be kept open to stream the file if it must be.  NULL with
 * *status set (403, 404, 500, or 503 when it must be streamed and
 * may_stream is 0) when it cannot be served. */
struct cached_file *file_cache_pin(struct file_cache *cache, const char *rel,
                                   int may_stream, int *status);

void file_cache_unpin(struct file_cache *cache, struct cached_file *file);

/* Bytes of file data held now, in the table or pinned while stale. */
size_t file_cache_bytes(const struct file_cache *cache);

/* Fds held open for streamed files now. */
int file_cache_streams(const struct file_cache *cache);

#endif
