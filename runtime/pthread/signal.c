/*
 * signal.c - signals, cancellation and yielding for green threads.
 *
 * SIGNALS.  One kernel thread runs every green thread, so there is one
 * signal mask (pthread_sigmask is glibc's: it sets the kernel thread's
 * mask, which every green thread then shares) and a signal is delivered
 * to whichever green thread runs.  pthread_kill(th, sig) checks th (ESRCH
 * for a thread that was joined or never existed; a thread that has exited
 * and is not joined yet takes signal 0 and ignores the others, as glibc
 * does) and sig (EINVAL), and sends sig to the kernel thread: the handler
 * runs in the caller, before pthread_kill returns if sig is unblocked;
 * then, if th is parked in a blocking call (read, accept, poll...) and the
 * handler has no SA_RESTART, that call returns EINTR (see interrupt).
 *
 * WAITING FOR A SIGNAL.  sigwait, sigwaitinfo and sigtimedwait in a green
 * thread park it (a "fd" wait at the program's call site) on a signalfd
 * of the set instead of blocking the kernel thread, and every other green
 * thread, in the kernel.  As POSIX asks, the set must be blocked (in the
 * one mask: see above); a signal in it that is not blocked is delivered
 * to its handler as usual and the wait goes on.  Glibc's own are used
 * outside green threads.
 *
 * CANCELLATION is not supported: pthread_cancel returns ENOTSUP and says
 * so on stderr the first time.  Since no thread is ever cancelled,
 * pthread_setcancelstate/setcanceltype keep what they are given (so a
 * program that disables cancellation around a section goes on) and
 * pthread_testcancel does nothing.
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "pthread_gt.h"
#include "io.h" /* after internal.h, which it needs */

#define FP __builtin_frame_address(0)

/* The handler of sig has run (in the caller) and b's thread is parked in
 * a call that a signal interrupts: it returns EINTR, as it would have in
 * the target thread natively, when the handler was installed without
 * SA_RESTART.  This is how servers wake a thread blocked in accept or
 * poll to make it look at a flag (Apache's worker MPM stops its listener
 * so).  A sleep returns EINTR and what was left even with SA_RESTART,
 * as the kernel's never restart.  Waits on mutexes and conditions are
 * not interrupted, as on glibc. */
static void interrupt(struct gt__pthread *b, int sig)
{
    struct gt__thread *t = b->h.rec;
    if (!t || t == gt__self() || t->pub.state != GT_STATE_PARKED)
        return;
    bool sleep = t->pub.wait_kind == GT_WAIT_SLEEP;
    if (!sleep && t->pub.wait_kind != GT_WAIT_FD &&
        t->pub.wait_kind != GT_WAIT_POLL)
        return;
    sigset_t mask;
    struct sigaction sa;
    if (sigprocmask(SIG_BLOCK, NULL, &mask) != 0 ||
        sigismember(&mask, sig) == 1 || sigaction(sig, NULL, &sa) != 0)
        return; /* blocked: pending, delivered later, nothing interrupted */
    if ((sa.sa_flags & SA_SIGINFO) == 0 &&
        (sa.sa_handler == SIG_DFL || sa.sa_handler == SIG_IGN))
        return;
    if ((sa.sa_flags & SA_RESTART) && !sleep)
        return; /* the call would have gone on */
    gt__wake(t, EINTR);
}

/* What pthread_kill and pthread_sigqueue answer for green thread B (NULL:
 * none) without sending SIG: ESRCH, EINVAL, or 0 for signal 0 or a thread
 * that has exited; -1 when the signal is to be sent. */
static int not_sent(const struct gt__pthread *b, int sig)
{
    if (!b)
        return ESRCH;
    if (sig < 0 || sig >= NSIG)
        return EINVAL;
    if (sig == 0 || b->exited)
        return 0;
    return -1;
}

GT__PUBLIC int pthread_kill(pthread_t th, int sig)
{
    struct gt__pthread *b = gt__pt_find(th);
    if (!gt__self() && (!b || gt__pt_phase == GT__PT_AFTER))
        return b ? (sig == 0 ? 0 : ESRCH) : PT_NEXT(pthread_kill)(th, sig);
    int rc = not_sent(b, sig);
    if (rc >= 0)
        return rc;
    rc = PT_NEXT(pthread_kill)(PT_NEXT(pthread_self)(), sig);
    if (rc == 0)
        interrupt(b, sig);
    return rc;
}

GT__PUBLIC int pthread_sigqueue(pthread_t th, int sig, const union sigval val)
{
    struct gt__pthread *b = gt__pt_find(th);
    if (!gt__self() && !b)
        return PT_NEXT(pthread_sigqueue)(th, sig, val);
    int rc = not_sent(b, sig);
    if (rc >= 0)
        return rc;
    return PT_NEXT(pthread_sigqueue)(PT_NEXT(pthread_self)(), sig, val);
}

GT__PUBLIC int pthread_cancel(pthread_t th)
{
    static bool noted;
    struct gt__pthread *b = gt__pt_find(th);
    if (!gt__self() && !b)
        return PT_NEXT(pthread_cancel)(th);
    gt__pt_note_once(&noted, "pthread_cancel is not supported on green "
                             "threads: ENOTSUP");
    return ENOTSUP;
}

/* pthread_setcancelstate and pthread_setcanceltype: *FLAG records which
 * of two values was set, NO (false) or YES (true).  Puts the one set
 * before in *OLD (when not NULL) and records VALUE; EINVAL for any other
 * value, leaving both alone. */
static int set_choice(bool *flag, int value, int no, int yes, int *old)
{
    if (value != no && value != yes)
        return EINVAL;
    if (old)
        *old = *flag ? yes : no;
    *flag = value == yes;
    return 0;
}

GT__PUBLIC int pthread_setcancelstate(int state, int *old)
{
    struct gt__pthread *b = gt__pt_self();
    if (!b)
        return PT_NEXT(pthread_setcancelstate)(state, old);
    return set_choice(&b->cancel_disabled, state, PTHREAD_CANCEL_ENABLE,
                      PTHREAD_CANCEL_DISABLE, old);
}

GT__PUBLIC int pthread_setcanceltype(int type, int *old)
{
    struct gt__pthread *b = gt__pt_self();
    if (!b)
        return PT_NEXT(pthread_setcanceltype)(type, old);
    return set_choice(&b->cancel_async, type, PTHREAD_CANCEL_DEFERRED,
                      PTHREAD_CANCEL_ASYNCHRONOUS, old);
}

GT__PUBLIC void pthread_testcancel(void)
{
    if (!gt__pt_self())
        PT_NEXT(pthread_testcancel)();
}

/* In a green thread, the next runnable one runs (gt_yield); elsewhere the
 * kernel's. */
GT__PUBLIC int sched_yield(void)
{
    if (!gt__self())
        return PT_NEXT(sched_yield)();
    gt_yield();
    return 0;
}

/* ---- sigwait ------------------------------------------------------------- */

/* Parks until a signal of set is pending, takes it, and returns its
 * number with *info filled; -1 and EAGAIN after timeout_ns (-1: none),
 * or another errno.  fp: the frame of the program's call. */
static int wait_signal(const sigset_t *set, siginfo_t *info, int64_t timeout_ns,
                       const void *fp)
{
    int fd = signalfd(-1, set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0)
        return -1;
    struct signalfd_siginfo si;
    int r;
    for (;;) {
        ssize_t n = PT_NEXT(read)(fd, &si, sizeof si);
        if (n == (ssize_t)sizeof si) {
            r = (int)si.ssi_signo;
            break;
        }
        if (n >= 0 || errno != EAGAIN) {
            r = -1;
            break;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int ready = gt__poll(&p, 1, timeout_ns, fp);
        if (ready == 0)
            errno = EAGAIN;
        if (ready <= 0) {
            r = -1;
            break;
        }
    }
    int saved = errno;
    gt_close(fd);
    errno = saved;
    if (r > 0 && info) {
        memset(info, 0, sizeof *info);
        info->si_signo = r;
        info->si_code = si.ssi_code;
        info->si_pid = (pid_t)si.ssi_pid;
        info->si_uid = si.ssi_uid;
        info->si_value.sival_ptr = (void *)(uintptr_t)si.ssi_ptr;
    }
    return r;
}

GT__PUBLIC int sigwait(const sigset_t *restrict set, int *restrict sig)
{
    if (!gt__self())
        return PT_NEXT(sigwait)(set, sig);
    int saved = errno;
    int r = wait_signal(set, NULL, -1, FP);
    int e = errno;
    errno = saved;
    if (r < 0)
        return e;
    *sig = r;
    return 0;
}

GT__PUBLIC int sigwaitinfo(const sigset_t *restrict set,
                           siginfo_t *restrict info)
{
    if (!gt__self())
        return PT_NEXT(sigwaitinfo)(set, info);
    return gt__keep_frame(wait_signal(set, info, -1, FP));
}

GT__PUBLIC int sigtimedwait(const sigset_t *restrict set,
                            siginfo_t *restrict info,
                            const struct timespec *restrict timeout)
{
    if (!gt__self())
        return PT_NEXT(sigtimedwait)(set, info, timeout);
    int64_t ns;
    if (gt__timespec_ns(timeout, &ns) < 0)
        return -1;
    return gt__keep_frame(wait_signal(set, info, ns, FP));
}
