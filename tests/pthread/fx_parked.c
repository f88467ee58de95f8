/*
 * fx_parked.c - a pthread program with threads parked where test_readers.py
 * knows: READERS threads named "reader" blocked in read() on a pipe,
 * SLEEPERS named "sleeper" in nanosleep, and JOINERS named "joiner" in
 * pthread_join (each joins a sleeper).  main prints "ready PID", then
 * blocks reading stdin; a line on stdin ends the program.
 *
 *   fx_parked READERS SLEEPERS JOINERS
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int gate[2];

static void *reader(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "reader");
    char c;
    read(gate[0], &c, 1); /* LINE:reader_read */
    return NULL;
}

static void *sleeper(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "sleeper");
    struct timespec ts = {3600, 0};
    nanosleep(&ts, NULL); /* LINE:sleeper_sleep */
    return NULL;
}

static void *joiner(void *arg)
{
    pthread_setname_np(pthread_self(), "joiner");
    pthread_join(*(pthread_t *)arg, NULL); /* LINE:joiner_join */
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 4)
        return 64;
    int readers = atoi(argv[1]), sleepers = atoi(argv[2]), joiners = atoi(argv[3]);
    if (joiners > sleepers || pipe(gate) < 0)
        return 64;
    pthread_t *s = calloc((size_t)sleepers, sizeof *s), t;
    for (int i = 0; i < readers; i++)
        pthread_create(&t, NULL, reader, NULL);
    for (int i = 0; i < sleepers; i++)
        pthread_create(&s[i], NULL, sleeper, NULL);
    for (int i = 0; i < joiners; i++)
        pthread_create(&t, NULL, joiner, &s[i]);
    printf("ready %d\n", (int)getpid());
    fflush(stdout);
    char line[8];
    read(0, line, sizeof line); /* LINE:main_read */
    return 0;
}
