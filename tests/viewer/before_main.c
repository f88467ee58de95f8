/*
 * before_main.c - a gt program whose runtime has not started: it waits
 * on stdin before gt_main, as Knot's supervisor never calls it.  Its
 * registry is linked in but unpublished; gt-top --name must leave such a
 * process out until it starts.
 *
 *   before_main        prints "ready", then on a line from stdin runs
 *                      one green thread and exits
 */
#include <stdio.h>

#include <gt.h>

static void one(void *arg)
{
    (void)arg;
}

int main(void)
{
    char line[16];
    printf("ready\n");
    fflush(stdout);
    if (!fgets(line, sizeof(line), stdin))
        return 0;
    return gt_main(one, NULL);
}
