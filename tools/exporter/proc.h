/*
 * proc.h - what the exporter reads of a process in /proc besides its gt
 * registry: the start time that tells two processes of one pid apart, and
 * the name its series are labelled with.
 */
#ifndef GT_EXPORTER_PROC_H
#define GT_EXPORTER_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* PID's start time (clock ticks since boot, /proc/PID/stat field 22):
 * with the pid, a process's identity, since pids are reused.  -1 when
 * there is no such process. */
int proc_start_time(pid_t pid, uint64_t *out);

/* PID's name as /proc/PID/comm gives it (libgtobserve's target names use
 * the same), its newline dropped, into BUF; "" when unreadable. */
const char *proc_comm(pid_t pid, char *buf, size_t len);

#endif
