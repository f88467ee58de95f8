/*
 * forker.c - a gt program that forks from a green thread, for the readers:
 * each of the two processes must show its own threads and no other.
 *
 * The parent has, once it prints its ready line:
 *   the main thread      joins "forker"
 *   4 "preader"          read an empty pipe
 *   3 "psleeper"         sleep 600 s
 *   1 "forker"           forked, then reads stdin
 * The child (the forker's fork) has:
 *   1 "forker"           reads an empty pipe
 *   5 "creader"          spawned in the child, read another empty pipe
 * and dies with its parent (PR_SET_PDEATHSIG).
 *
 * Ready line: ready PARENT_PID CHILD_PID
 */
#include <gt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>

static int idle_pipe[2], child_pipe[2], ready_pipe[2];

static void reader(void *arg)
{
    char c;
    (void)read(*(int *)arg, &c, 1);
}

static void sleeper(void *arg)
{
    (void)arg;
    sleep(600);
}

static void spawn(void (*fn)(void *), void *arg, const char *name)
{
    gt_attr_t a = {.name = name};
    if (gt_spawn(NULL, fn, arg, &a) != 0) {
        perror("gt_spawn");
        exit(1);
    }
}

static void forker(void *arg)
{
    (void)arg;
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(1);
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (pipe(child_pipe) < 0)
            _exit(1);
        for (int i = 0; i < 5; i++)
            spawn(reader, &child_pipe[0], "creader");
        gt_yield(); /* the new threads park */
        pid_t me = getpid();
        if (write(ready_pipe[1], &me, sizeof me) != sizeof me)
            _exit(1);
        char c;
        (void)read(child_pipe[0], &c, 1);
        _exit(0);
    }
    pid_t child;
    if (read(ready_pipe[0], &child, sizeof child) != sizeof child)
        exit(1);
    printf("ready %d %d\n", (int)getpid(), (int)child);
    fflush(stdout);
    char c;
    (void)read(0, &c, 1);
    exit(0);
}

static void main_thread(void *arg)
{
    (void)arg;
    if (pipe(idle_pipe) < 0 || pipe(ready_pipe) < 0)
        exit(1);
    for (int i = 0; i < 4; i++)
        spawn(reader, &idle_pipe[0], "preader");
    for (int i = 0; i < 3; i++)
        spawn(sleeper, NULL, "psleeper");
    gt_t f;
    gt_attr_t a = {.name = "forker"};
    if (gt_spawn(&f, forker, NULL, &a) != 0)
        exit(1);
    gt_join(f);
}

int main(void)
{
    return gt_main(main_thread, NULL) == 0 ? 0 : 1;
}
