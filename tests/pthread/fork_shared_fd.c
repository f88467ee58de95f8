/*
 * fork_shared_fd.c - a blocking socket that two children of one parent
 * use in turn, as a pre-forking server's children share its listening
 * socket (Apache's worker MPM after a graceful restart: the old child
 * served, the new one must block in accept).
 *
 * O_NONBLOCK belongs to the open file description, which fork shares: the
 * first child's use of the socket may leave it non-blocking underneath.
 * The second child never asked for O_NONBLOCK, so its read must wait for
 * the data, never fail with EAGAIN.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pt_check.h"

/* A child that reads one byte from fd, blocking, and exits 0 if it got
 * want (its status says what went wrong otherwise). */
static pid_t reader(int fd, char want)
{
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        char c = 0;
        ssize_t n = read(fd, &c, 1);
        if (n != 1)
            _exit(n < 0 && errno == EAGAIN ? 2 : 3);
        CHECK_EQ(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
        _exit(c == want ? 0 : 4);
    }
    return pid;
}

static int status_of(pid_t pid)
{
    int st = 0;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFEXITED(st));
    return WEXITSTATUS(st);
}

int main(void)
{
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);

    /* The first child finds its byte waiting. */
    CHECK_EQ(write(sv[1], "a", 1), 1);
    CHECK_EQ(status_of(reader(sv[0], 'a')), 0);
    OK("first child reads");

    /* The second finds nothing yet: it must wait, not see EAGAIN.  (The
     * pause only makes it likely that the child reads before the byte is
     * there; if not, the check is merely weaker.) */
    pid_t b = reader(sv[0], 'b');
    struct timespec pause = {0, 100 * 1000 * 1000};
    nanosleep(&pause, NULL);
    CHECK_EQ(write(sv[1], "b", 1), 1);
    CHECK_EQ(status_of(b), 0);
    OK("second child blocks until the data comes");

    CHECK_EQ(fcntl(sv[0], F_GETFL) & O_NONBLOCK, 0);
    OK("the parent sees the socket blocking");
    return 0;
}
