/*
 * quit_signal.h - Ctrl-C (SIGINT) and SIGTERM end gt-top as q does: the
 * screen closes, batch output stops after the snapshot being printed, and
 * the exit status is 0, as top's and htop's.  A stop the user asked for
 * is not a failure: without these handlers ncurses' own would exit 1,
 * the status that says the target could not be read.
 */
#ifndef GT_TOP_QUIT_SIGNAL_H
#define GT_TOP_QUIT_SIGNAL_H

#include <signal.h>

/* Set by the handlers; the screen's loop and the batch loop look at it
 * between refreshes. */
extern volatile sig_atomic_t quit_requested;

/* Installs the handlers, before the screen opens (ncurses installs its
 * own only where it finds the default action).  The signals reach the
 * main thread only (the stack measurer's thread blocks them).  Sleeps
 * always end at once.  With RESTART (batch mode) other system calls are
 * restarted, so a write of a snapshot to a slow pipe is not cut short;
 * without it (the screen) a wait for a key ends too, so that the sort
 * picker's wait for a letter quits at once.  A signal ignored when
 * gt-top started (a job the shell put in the background) stays
 * ignored. */
void quit_signal_install(int restart);

#endif
