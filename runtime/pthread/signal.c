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
 * runs in the caller, before pthread_kill returns if sig is unblocked.
 *
 * CANCELLATION is not supported: pthread_cancel returns ENOTSUP and says
 * so on stderr the first time.  Since no thread is ever cancelled,
 * pthread_setcancelstate/setcanceltype keep what they are given (so a
 * program that disables cancellation around a section goes on) and
 * pthread_testcancel does nothing.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>

#include "pthread_gt.h"

GT__PUBLIC int pthread_kill(pthread_t th, int sig)
{
    struct gt__pthread *b = gt__pt_find(th);
    if (!gt__self() && (!b || gt__pt_phase == GT__PT_AFTER))
        return b ? (sig == 0 ? 0 : ESRCH) : PT_NEXT(pthread_kill)(th, sig);
    if (!b)
        return ESRCH;
    if (sig < 0 || sig >= NSIG)
        return EINVAL;
    if (sig == 0 || b->exited)
        return 0;
    return PT_NEXT(pthread_kill)(PT_NEXT(pthread_self)(), sig);
}

GT__PUBLIC int pthread_sigqueue(pthread_t th, int sig, const union sigval val)
{
    struct gt__pthread *b = gt__pt_find(th);
    if (!gt__self() && !b)
        return PT_NEXT(pthread_sigqueue)(th, sig, val);
    if (!b)
        return ESRCH;
    if (sig < 0 || sig >= NSIG)
        return EINVAL;
    if (sig == 0 || b->exited)
        return 0;
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

GT__PUBLIC int pthread_setcancelstate(int state, int *old)
{
    struct gt__pthread *b = gt__pt_self();
    if (!b)
        return PT_NEXT(pthread_setcancelstate)(state, old);
    if (state != PTHREAD_CANCEL_ENABLE && state != PTHREAD_CANCEL_DISABLE)
        return EINVAL;
    if (old)
        *old = b->cancel_disabled ? PTHREAD_CANCEL_DISABLE : PTHREAD_CANCEL_ENABLE;
    b->cancel_disabled = state == PTHREAD_CANCEL_DISABLE;
    return 0;
}

GT__PUBLIC int pthread_setcanceltype(int type, int *old)
{
    struct gt__pthread *b = gt__pt_self();
    if (!b)
        return PT_NEXT(pthread_setcanceltype)(type, old);
    if (type != PTHREAD_CANCEL_DEFERRED && type != PTHREAD_CANCEL_ASYNCHRONOUS)
        return EINVAL;
    if (old)
        *old = b->cancel_async ? PTHREAD_CANCEL_ASYNCHRONOUS : PTHREAD_CANCEL_DEFERRED;
    b->cancel_async = type == PTHREAD_CANCEL_ASYNCHRONOUS;
    return 0;
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
