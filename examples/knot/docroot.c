/*
 * docroot.c - request-target decoding and confined opening.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "docroot.h"

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int docroot_resolve_target(const char *target, size_t len, char *rel, size_t rel_size)
{
    /* Absolute form (RFC 9112 3.2.2): drop "http://authority", the scheme
     * in any case; the Host decides nothing here.  No path means "/". */
    size_t scheme = len > 7 && strncasecmp(target, "http://", 7) == 0    ? 7
                    : len > 8 && strncasecmp(target, "https://", 8) == 0 ? 8
                                                                         : 0;
    if (scheme) {
        size_t end = scheme;
        while (end < len && target[end] != '/' && target[end] != '?' && target[end] != '#')
            end++;
        if (end < len && target[end] == '/') {
            target += end;
            len -= end;
        } else if (end == len || target[end] == '?') {
            target = "/";
            len = 1;
        }
    }
    if (len == 0 || target[0] != '/')
        return 400; /* "*" or a bare authority: not a file */
    const char *query = memchr(target, '?', len);
    if (query)
        len = (size_t)(query - target);
    if (memchr(target, '#', len))
        return 400; /* a fragment is never sent in a request */

    /* Decode and resolve segment by segment: rel[0..out) is the path built
     * so far; ".." removes its last segment and fails above the root.  A
     * decoded "%2f" separates segments like '/', so it cannot smuggle a
     * ".." past this loop. */
    size_t out = 0;
    size_t i = 1; /* past the leading '/' */
    int ends_in_slash;
    for (;;) {
        char segment[256];
        size_t seg_len = 0;
        int hit_slash = 0;
        while (i < len) {
            char c = target[i];
            if (c == '%') {
                int hi = i + 2 < len ? hex_value(target[i + 1]) : -1;
                int lo = hi >= 0 ? hex_value(target[i + 2]) : -1;
                if (lo < 0)
                    return 400;
                c = (char)(hi * 16 + lo);
                i += 3;
            } else {
                i++;
            }
            if ((unsigned char)c < 0x20 || c == 0x7f)
                return 400; /* NUL and controls never name a file we serve */
            if (c == '/') {
                hit_slash = 1;
                break;
            }
            if (seg_len + 1 >= sizeof segment)
                return 414;
            segment[seg_len++] = c;
        }
        if (seg_len == 0 || (seg_len == 1 && segment[0] == '.')) {
            ends_in_slash = 1;
        } else if (seg_len == 2 && segment[0] == '.' && segment[1] == '.') {
            if (out == 0)
                return 403;
            while (out > 0 && rel[out - 1] != '/')
                out--;
            if (out > 0)
                out--; /* the slash before the removed segment */
            ends_in_slash = 1;
        } else {
            size_t need = (out ? 1 : 0) + seg_len;
            if (out + need + 1 > rel_size)
                return 414;
            if (out)
                rel[out++] = '/';
            memcpy(rel + out, segment, seg_len);
            out += seg_len;
            ends_in_slash = 0;
        }
        if (!hit_slash)
            break;
    }
    rel[out] = '\0';
    if (ends_in_slash && out > 0) {
        static const char index_name[] = "/index.html";
        if (out + sizeof index_name > rel_size)
            return 414;
        memcpy(rel + out, index_name, sizeof index_name);
    }
    return 0;
}

static int open_beneath(int root_fd, const char *rel)
{
    /* O_PATH: finds the file without opening it (see docroot.h). */
    struct open_how how = {
        .flags = O_PATH | O_CLOEXEC,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
    return (int)syscall(SYS_openat2, root_fd, rel[0] ? rel : ".", &how, sizeof how);
}

static int status_of_errno(int err)
{
    switch (err) {
    case ENOENT:
    case ENOTDIR:
    case ENAMETOOLONG:
        return 404;
    case EXDEV:  /* RESOLVE_BENEATH: the path leaves the root */
    case EACCES:
    case EPERM:
    case ELOOP:
        return 403;
    default:
        return 500;
    }
}

int docroot_find(int root_fd, const char *rel, struct stat *st, int *is_index)
{
    *is_index = 0;
    int fd = open_beneath(root_fd, rel);
    if (fd < 0)
        return -status_of_errno(errno);
    if (fstat(fd, st) < 0) {
        close(fd);
        return -500;
    }
    if (S_ISDIR(st->st_mode)) {
        close(fd);
        *is_index = 1;
        /* Static, not on the stack: nothing here parks (see conn.c). */
        static char index_path[DOCROOT_MAX_PATH + 16];
        size_t n = strlen(rel);
        if (n + sizeof "/index.html" > sizeof index_path)
            return -404;
        memcpy(index_path, rel, n);
        strcpy(index_path + n, n ? "/index.html" : "index.html");
        fd = open_beneath(root_fd, index_path);
        if (fd < 0)
            return -status_of_errno(errno);
        if (fstat(fd, st) < 0) {
            close(fd);
            return -500;
        }
    }
    if (!S_ISREG(st->st_mode)) {
        close(fd);
        return -403;
    }
    return fd;
}

int docroot_open_found(int path_fd)
{
    char proc_path[32];
    snprintf(proc_path, sizeof proc_path, "/proc/self/fd/%d", path_fd);
    int fd = open(proc_path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    return fd >= 0 ? fd : -status_of_errno(errno);
}
