/*
 * common.h - what gt-stacks and gt-waste share: exit codes, the command
 * line conventions (-p PID or PID, -h, -V) and opening the target.
 * gt-core links common.o too, so its --version is the same.  Formatting
 * is libgtobserve's (gto_fmt_*, gto_json_*), so that every reader writes
 * one quantity the same way.
 */
#ifndef GT_TOOLS_COMMON_H
#define GT_TOOLS_COMMON_H

#include <argp.h>
#include <stdint.h>
#include <stdio.h>

#include "gtobserve.h"

enum {
    EXIT_OK = 0,      /* the report was printed */
    EXIT_TARGET = 1,  /* the target could not be read: see the message */
    EXIT_USAGE = 2,   /* bad command line */
};

/* What names the target on the command line. */
struct target_args {
    const char *pid;   /* PID argument or -p PID, or NULL */
    const char *core;  /* --core */
    const char *exe;   /* --exe */
};

/* The argp options that name the target, the same in every tool that
 * reads a live program or a core, in help group G. */
#define TARGET_OPTIONS(g)                                                   \
    {"pid", 'p', "PID", 0, "the live gt program PID (the same as PID "      \
     "alone)", g},                                                          \
    {"core", 'c', "CORE", 0, "read the core file CORE", g},                 \
    {"exe", 'e', "EXE", 0, "the program that dumped CORE (default: the "    \
     "path the core names)", g},                                            \
    /* -h as most tools take it; argp itself knows -? and --help. */        \
    {NULL, 'h', NULL, OPTION_HIDDEN, "give this help list", -1}

/* The keys of TARGET_OPTIONS and the positional PID, for a tool's argp
 * parser to hand on: stores them in A (a second PID, by -p or alone, is a
 * usage error), prints the help for -h and exits 0.  ARGP_ERR_UNKNOWN for
 * any other key. */
error_t target_parse_opt(int key, char *arg, struct argp_state *st,
                         struct target_args *a);

/* Checks the combination (called at ARGP_KEY_END); the message names the
 * fix.  0 or -1 with err set. */
int target_args_check(const struct target_args *a, char *err, size_t len);

/* Opens the target; on failure prints "PROG: message" and returns NULL. */
gto_target *target_open(const char *prog, const struct target_args *a);

/* SEP then "(stack sampled 40ms ago)" for a running thread the registry's
 * sample is of (gto_thread.sampled); nothing for any other. */
void print_sampled(const gto_snapshot *s, const struct gto_thread *th, const char *sep);

/* The running thread's line, "  hog: thread 91 "spinner" has run 4.2s
 * without yielding (stack sampled 40ms ago)" ("  running: " under the
 * threshold), and its newline; nothing when no thread runs. */
void print_running_text(const gto_snapshot *s);

/* "  core written by gt-core at ... (full; target stopped 0.096 s)" and
 * its newline when T is a core gt-core wrote (gto_fmt_capture); nothing
 * for any other target. */
void print_capture_text(const gto_target *t);

/* The JSON members "running" (null when no thread runs) and "watchdog",
 * without braces or a trailing comma: the same in every tool. */
void print_json_running(const gto_snapshot *s);

#endif
