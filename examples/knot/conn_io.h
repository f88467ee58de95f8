/*
 * conn_io.h - socket reads and writes with deadlines, for a connection
 * thread.
 *
 * Each call parks only the calling thread.  Reads take an absolute
 * deadline (a request must arrive whole within the timeout, however it is
 * trickled); writes take a timeout per wait, so a slow reader of a large
 * file is served as long as it keeps reading, and one that stops is cut.
 */
#ifndef KNOT_CONN_IO_H
#define KNOT_CONN_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct conn;

/* Waits until the client sends something (or closes); 0, or -1 with errno
 * ETIMEDOUT at deadline_ns (gt_now_ns clock). */
int conn_wait_readable(struct conn *c, int64_t deadline_ns);

/* The same, for at most timeout_ns from now. */
int conn_wait_readable_for(struct conn *c, int64_t timeout_ns);

/* Appends what the client sent to c->buf (allocating it).  Returns the
 * bytes added, 0 when the client closed, -1 with errno (ETIMEDOUT at the
 * deadline, ENOBUFS when the buffer is full). */
ssize_t conn_read_more(struct conn *c, int64_t deadline_ns);

/* Appends what the client has sent already to c->buf, without waiting
 * and only if the connection still has its buffer.  Returns the bytes
 * added, 0 when the client closed, -1 with errno (EAGAIN: nothing there
 * yet, or no buffer).  Sets c->drained when it took all there was. */
ssize_t conn_read_ready(struct conn *c);

/* Drops the first n bytes of c->buf. */
void conn_consume(struct conn *c, size_t n);

/* Frees c->buf if it holds nothing: an idle connection keeps no buffer. */
void conn_release_buffer(struct conn *c);

/* Sends all of iov[0..iovcnt) (iov is modified).  0, or -1 when the
 * client is gone or has not read for timeout_ns. */
int conn_write_all(struct conn *c, struct iovec *iov, int iovcnt, int64_t timeout_ns);

/* Sends bytes [0, size) of the regular file in_fd (read at those
 * offsets, never moving its file position, so connections can share it).
 * 0, or -1 when the client is gone or has not read for timeout_ns, or the
 * file shrank. */
int conn_send_file(struct conn *c, int in_fd, off_t size, int64_t timeout_ns);

/* Ends the connection after a response with "Connection: close": sends
 * FIN, then reads and drops what the client still sends for up to
 * linger_ns, and closes.  Closing with unread bytes would send a reset,
 * which can destroy the response before the client has read it. */
void conn_close_lingering(struct conn *c, int64_t linger_ns);

#endif
