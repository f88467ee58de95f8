/*
 * exit_status.h - gt-top's exit status, the same numbers gt-stacks and
 * gt-waste use.
 */
#ifndef GT_TOP_EXIT_STATUS_H
#define GT_TOP_EXIT_STATUS_H

enum {
    EXIT_OK = 0,      /* done */
    EXIT_TARGET = 1,  /* the target could not be read: see the message */
    EXIT_USAGE = 2,   /* bad command line */
};

#endif
