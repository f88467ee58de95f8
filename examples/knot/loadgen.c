/*
 * loadgen.c - a load generator for Knot, on gt itself: one green thread
 * per client connection, written as plainly as the server.
 *
 * It only ever connects to 127.0.0.1, and it always stops by itself: after
 * --duration seconds, or when the --hold connections are done.  Client
 * kinds, which can be mixed in one run:
 *
 *   --fast N     N keep-alive connections sending requests back to back
 *   --slow N     N connections fetching --slow-path and reading it 1 KiB
 *                every 100 ms (slow readers: their threads sit in write)
 *   --idle N     N keep-alive connections sending one request every
 *                --idle-interval seconds and idle in between
 *   --burst N    every --burst-every seconds, N new connections, one
 *                request each, "Connection: close"
 *   --hold N     N connections that are all open at once, then each sends
 *                --requests K requests and checks every response; with
 *                --hold-seconds S they then stay open and idle S seconds
 *                from when the last of them is done
 *                (for measuring a server's memory per idle connection)
 *
 * Every response is checked: status 200, and with --expect FILE a body
 * equal to that file's contents.  The summary goes to stdout; the exit
 * status is 1 if any response was wrong or any connection failed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gt.h>

#define NS_PER_S 1000000000LL
#define RESPONSE_HEAD_MAX 4096
#define CONNECTS_IN_FLIGHT 256 /* more at once only overflows the listen queue */

struct options {
    int port;
    double duration_s;
    int fast, slow, idle, burst, hold;
    double burst_every_s, idle_interval_s, hold_seconds;
    int requests;                /* per --hold connection */
    const char *path;            /* what fast, idle, burst and hold fetch */
    const char *slow_path;       /* what slow readers fetch */
    const char *expect_path;     /* file whose contents every body must equal */
};

static struct options opt = {
    .duration_s = 10, .burst_every_s = 2, .idle_interval_s = 5, .requests = 1,
    .path = "/", .slow_path = NULL,
};

/* What the run saw; one kernel thread, so plain counters. */
static struct {
    uint64_t responses, errors, connect_failures, connections;
    int open_now, open_peak;
    int hold_connected, hold_done;  /* --hold connections connected / finished */
} stats;

static const char *expected_body; /* NULL: bodies are not compared */
static size_t expected_len;
static int64_t stop_at_ns;        /* fast/slow/idle/burst clients stop here */
static int connects_in_flight;
static gt_mutex_t lock = GT_MUTEX_INITIALIZER;
static gt_cond_t changed = GT_COND_INITIALIZER; /* counters above moved */

static int running(void) { return gt_now_ns() < stop_at_ns; }

static void report_error(const char *what)
{
    /* Only the first few: 10,000 failing connections must not flood. */
    if (stats.errors++ < 10)
        fprintf(stderr, "loadgen: %s\n", what);
}

/* A connected socket to 127.0.0.1:port, or -1.  RCVBUF, when not 0, is
 * set before connecting: the window the client offers is fixed then. */
static int connect_loopback(int rcvbuf)
{
    gt_mutex_lock(&lock);
    while (connects_in_flight >= CONNECTS_IN_FLIGHT)
        gt_cond_wait(&changed, &lock);
    connects_in_flight++;
    gt_mutex_unlock(&lock);

    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && rcvbuf)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt.port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        close(fd);
        fd = -1;
    }
    connects_in_flight--;
    gt_cond_broadcast(&changed);
    if (fd < 0) {
        stats.connect_failures++;
        report_error("connect to 127.0.0.1 failed");
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    stats.connections++;
    if (++stats.open_now > stats.open_peak)
        stats.open_peak = stats.open_now;
    return fd;
}

static void disconnect(int fd)
{
    close(fd);
    stats.open_now--;
}

static int send_request(int fd, const char *path, int close_after)
{
    char req[512];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n", path,
                     close_after ? "Connection: close\r\n" : "");
    if (n < 0 || n >= (int)sizeof req)
        return -1;
    for (int done = 0; done < n;) {
        ssize_t w = write(fd, req + done, (size_t)(n - done));
        if (w <= 0)
            return -1;
        done += (int)w;
    }
    return 0;
}

/* Reads one response and checks it; slow readers take the body in 1 KiB
 * sips.  Returns 0, -1 after counting the error, or 1 when a slow reader
 * stopped mid-body because the run is over. */
static int read_response(int fd, int slowly)
{
    char head[RESPONSE_HEAD_MAX];
    size_t len = 0;
    char *end = NULL;
    while (!end) {
        if (len == sizeof head - 1) {
            report_error("response head too long");
            return -1;
        }
        ssize_t n = read(fd, head + len, sizeof head - 1 - len);
        if (n <= 0) {
            report_error(n == 0 ? "server closed the connection before a response"
                                : "read failed");
            return -1;
        }
        len += (size_t)n;
        head[len] = '\0';
        end = strstr(head, "\r\n\r\n");
    }
    if (strncmp(head, "HTTP/1.1 200 ", 13) != 0) {
        char msg[80];
        snprintf(msg, sizeof msg, "status is not 200: %.40s", head);
        report_error(msg);
        return -1;
    }
    const char *cl = strcasestr(head, "\r\nContent-Length:");
    if (!cl || cl > end) {
        report_error("no Content-Length");
        return -1;
    }
    long long body_len = atoll(cl + 17);
    size_t have = len - (size_t)(end + 4 - head);
    if ((long long)have > body_len) {
        report_error("more bytes than Content-Length");
        return -1;
    }
    if (expected_body && body_len != (long long)expected_len) {
        report_error("body length differs from the expected file");
        return -1;
    }
    /* Compare the body as it comes, in pieces of the head buffer. */
    long long offset = 0;
    const char *piece = end + 4;
    for (;;) {
        if (expected_body && have && memcmp(piece, expected_body + offset, have) != 0) {
            report_error("body differs from the expected file");
            return -1;
        }
        offset += (long long)have;
        if (offset >= body_len)
            break;
        if (slowly) {
            gt_sleep_ns(NS_PER_S / 10);
            if (!running())
                return 1; /* --duration is up: stop mid-body, no error */
        }
        size_t want = (size_t)(body_len - offset);
        size_t room = slowly ? 1024 : sizeof head;
        ssize_t n = read(fd, head, want < room ? want : room);
        if (n <= 0) {
            report_error("connection ended inside a body");
            return -1;
        }
        piece = head;
        have = (size_t)n;
    }
    stats.responses++;
    return 0;
}

static void fast_client(void *arg)
{
    (void)arg;
    while (running()) {
        int fd = connect_loopback(0);
        if (fd < 0) {
            gt_sleep_ns(NS_PER_S / 10);
            continue;
        }
        while (running() && send_request(fd, opt.path, 0) == 0 && read_response(fd, 0) == 0)
            ;
        disconnect(fd);
    }
}

static void slow_client(void *arg)
{
    (void)arg;
    while (running()) {
        /* A small receive buffer, so the server's write really waits. */
        int fd = connect_loopback(4096);
        if (fd < 0) {
            gt_sleep_ns(NS_PER_S / 10);
            continue;
        }
        while (running() && send_request(fd, opt.slow_path, 0) == 0 && read_response(fd, 1) == 0)
            ;
        disconnect(fd);
    }
}

static void idle_client(void *arg)
{
    (void)arg;
    int fd = -1;
    while (running()) {
        if (fd < 0 && (fd = connect_loopback(0)) < 0) {
            gt_sleep_ns(NS_PER_S / 10);
            continue;
        }
        if (send_request(fd, opt.path, 0) < 0 || read_response(fd, 0) < 0) {
            disconnect(fd);
            fd = -1;
            continue;
        }
        int64_t wake = gt_now_ns() + (int64_t)(opt.idle_interval_s * NS_PER_S);
        gt_sleep_ns((wake < stop_at_ns ? wake : stop_at_ns) - gt_now_ns());
    }
    if (fd >= 0)
        disconnect(fd);
}

static void burst_one(void *arg)
{
    (void)arg;
    int fd = connect_loopback(0);
    if (fd < 0)
        return;
    if (send_request(fd, opt.path, 1) == 0)
        read_response(fd, 0);
    disconnect(fd);
}

static void burst_source(void *arg)
{
    (void)arg;
    gt_attr_t attr = {.name = "burst client", .detached = 1};
    while (running()) {
        for (int i = 0; i < opt.burst; i++)
            gt_spawn(NULL, burst_one, NULL, &attr);
        gt_sleep_ns((int64_t)(opt.burst_every_s * NS_PER_S));
    }
}

/* --hold: connect, wait until every hold connection is connected, send the
 * requests, then idle for --hold-seconds. */
static void hold_client(void *arg)
{
    (void)arg;
    int fd = connect_loopback(0);
    gt_mutex_lock(&lock);
    stats.hold_connected++;
    gt_cond_broadcast(&changed);
    while (stats.hold_connected < opt.hold)
        gt_cond_wait(&changed, &lock);
    gt_mutex_unlock(&lock);
    if (fd >= 0) {
        for (int i = 0; i < opt.requests; i++)
            if (send_request(fd, opt.path, 0) < 0 || read_response(fd, 0) < 0)
                break;
    }
    /* Idle only once every hold client is done: one that finished early
     * and idled its S seconds out before the last was served (on a busy
     * machine) would be gone when the count of those open is taken. */
    gt_mutex_lock(&lock);
    stats.hold_done++;
    gt_cond_broadcast(&changed);
    while (stats.hold_done < opt.hold)
        gt_cond_wait(&changed, &lock);
    gt_mutex_unlock(&lock);
    if (fd >= 0) {
        if (opt.hold_seconds > 0)
            gt_sleep_ns((int64_t)(opt.hold_seconds * NS_PER_S));
        disconnect(fd);
    }
}

static void spawn_many(int n, void (*fn)(void *), const char *name)
{
    gt_attr_t attr = {.name = name, .detached = 1};
    for (int i = 0; i < n; i++)
        if (gt_spawn(NULL, fn, NULL, &attr) < 0) {
            report_error("cannot spawn a client thread");
            return;
        }
}

static void loadgen_main(void *arg)
{
    (void)arg;
    stop_at_ns = gt_now_ns() + (int64_t)(opt.duration_s * NS_PER_S);
    spawn_many(opt.fast, fast_client, "fast client");
    spawn_many(opt.slow, slow_client, "slow client");
    spawn_many(opt.idle, idle_client, "idle client");
    if (opt.burst > 0)
        spawn_many(1, burst_source, "burst source");
    if (opt.hold > 0) {
        spawn_many(opt.hold, hold_client, "hold client");
        gt_mutex_lock(&lock);
        while (stats.hold_done < opt.hold)
            gt_cond_wait(&changed, &lock);
        gt_mutex_unlock(&lock);
        /* The line a bench waits for before it measures the server. */
        printf("loadgen: hold: %d connections open at once, requests done, now idle\n",
               stats.open_now);
        fflush(stdout);
    }
}

static char *read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0)
        return NULL;
    char *data = malloc((size_t)st.st_size + 1);
    size_t done = 0;
    while (data && done < (size_t)st.st_size) {
        ssize_t n = read(fd, data + done, (size_t)st.st_size - done);
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    close(fd);
    *len = done;
    return data;
}

static void usage(FILE *out)
{
    fprintf(out,
        "Usage: loadgen -p PORT [--duration S] [--path P] [--expect FILE]\n"
        "               [--fast N] [--slow N --slow-path P] [--idle N --idle-interval S]\n"
        "               [--burst N --burst-every S] [--hold N --requests K --hold-seconds S]\n"
        "Drives an HTTP server on 127.0.0.1:PORT with green-thread clients and stops\n"
        "by itself; see the top of loadgen.c for the client kinds.  Exit status 1\n"
        "if any response was wrong or any connection failed, 64 on a usage error.\n");
}

static double parse_number(const char *text, const char *name)
{
    char *end;
    double v = strtod(text, &end);
    if (end == text || *end || v < 0) {
        fprintf(stderr, "loadgen: --%s %s: not a non-negative number\n", name, text);
        exit(64);
    }
    return v;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"port", required_argument, NULL, 'p'},
        {"duration", required_argument, NULL, 'd'},
        {"path", required_argument, NULL, 'P'},
        {"expect", required_argument, NULL, 'e'},
        {"fast", required_argument, NULL, 'f'},
        {"slow", required_argument, NULL, 's'},
        {"slow-path", required_argument, NULL, 'S'},
        {"idle", required_argument, NULL, 'i'},
        {"idle-interval", required_argument, NULL, 'I'},
        {"burst", required_argument, NULL, 'b'},
        {"burst-every", required_argument, NULL, 'B'},
        {"hold", required_argument, NULL, 'H'},
        {"requests", required_argument, NULL, 'r'},
        {"hold-seconds", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "p:h", longopts, NULL)) != -1) {
        const char *name = "";
        for (const struct option *o = longopts; o->name; o++)
            if (o->val == c)
                name = o->name;
        switch (c) {
        case 'p': opt.port = (int)parse_number(optarg, name); break;
        case 'd': opt.duration_s = parse_number(optarg, name); break;
        case 'P': opt.path = optarg; break;
        case 'e': opt.expect_path = optarg; break;
        case 'f': opt.fast = (int)parse_number(optarg, name); break;
        case 's': opt.slow = (int)parse_number(optarg, name); break;
        case 'S': opt.slow_path = optarg; break;
        case 'i': opt.idle = (int)parse_number(optarg, name); break;
        case 'I': opt.idle_interval_s = parse_number(optarg, name); break;
        case 'b': opt.burst = (int)parse_number(optarg, name); break;
        case 'B': opt.burst_every_s = parse_number(optarg, name); break;
        case 'H': opt.hold = (int)parse_number(optarg, name); break;
        case 'r': opt.requests = (int)parse_number(optarg, name); break;
        case 'T': opt.hold_seconds = parse_number(optarg, name); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 64;
        }
    }
    if (opt.port <= 0 || opt.port > 65535 || optind < argc) {
        usage(stderr);
        return 64;
    }
    if (!opt.slow_path)
        opt.slow_path = opt.path;
    if (opt.expect_path && !(expected_body = read_file(opt.expect_path, &expected_len))) {
        fprintf(stderr, "loadgen: --expect %s: %s\n", opt.expect_path, strerror(errno));
        return 64;
    }
    /* Each client is an fd: use all the process may have. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (gt_main(loadgen_main, NULL) < 0) {
        perror("loadgen: gt_main");
        return 1;
    }
    printf("loadgen: %llu responses on %llu connections (peak %d open at once), "
           "%llu errors, %llu failed connects\n",
           (unsigned long long)stats.responses, (unsigned long long)stats.connections,
           stats.open_peak, (unsigned long long)stats.errors,
           (unsigned long long)stats.connect_failures);
    int ok = stats.errors == 0 && stats.connect_failures == 0 &&
             (opt.hold == 0 || stats.open_peak >= opt.hold);
    return ok ? 0 : 1;
}
