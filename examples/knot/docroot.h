/*
 * docroot.h - from a request-target to an open file under the document
 * root, and never to anything outside it.
 *
 * Two independent fences: the target is decoded and its dot segments
 * resolved lexically (a ".." above the root is 403 before the file system
 * is asked), and the file is then opened with openat2(RESOLVE_BENEATH)
 * relative to the root's directory fd, so the kernel itself refuses any
 * path, symlinks included, that would leave the root.
 */
#ifndef KNOT_DOCROOT_H
#define KNOT_DOCROOT_H

#include <stddef.h>
#include <sys/stat.h>

#define DOCROOT_MAX_PATH 4096

/* Decodes target[0..len) (origin form "/a/b?q" or absolute form
 * "http://host/a/b", "HTTPS://host:8080", ...) into a path relative to the root: no leading slash,
 * "" for the root itself, "index.html" appended after a trailing slash.
 * Returns 0, or the status to answer: 400 (not a path, bad %-escape, a
 * decoded NUL or control byte), 403 (".." above the root), 414 (decoded
 * path longer than rel_size - 1). */
int docroot_resolve_target(const char *target, size_t len, char *rel, size_t rel_size);

/* Finds rel beneath root_fd; a directory means its index.html (then
 * *is_index is set, so the type comes from "index.html").  Returns an
 * O_PATH fd of a regular file, its stat in *st, or minus a status: -404
 * (no such file), -403 (escapes the root through a symlink, not a regular
 * file), -500 (any other error).  Nothing is opened for reading: a FIFO
 * (whose open can wait for a writer), a device (whose open can act) or a
 * socket in the root is refused before anything is done to it. */
int docroot_find(int root_fd, const char *rel, struct stat *st, int *is_index);

/* Opens the file path_fd (from docroot_find) names for reading, through
 * /proc/self/fd: the very inode that was checked, not whatever the path
 * names now.  Returns the fd, or minus a status (-403 not readable, -500). */
int docroot_open_found(int path_fd);

#endif
