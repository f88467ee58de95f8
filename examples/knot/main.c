/*
 * main.c - knot's command line and start-up.
 *
 * knot serves the files under a document root over HTTP/1.1, one green
 * thread per connection.  Everything that can be checked before serving
 * (the options, the root, the port) is checked here, before gt_main, with
 * a message that names the problem and the fix.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gt.h>

#include "access_log.h"
#include "file_cache.h"
#include "log.h"
#include "server.h"
#include "supervisor.h"

#define KNOT_STR_(x) #x
#define KNOT_STR(x) KNOT_STR_(x)
#define EXIT_USAGE 64 /* as sysexits.h's EX_USAGE */
#define DEFAULT_TIMEOUT_S 10.0
#define DEFAULT_CACHE_MIB 64

static void usage(FILE *out)
{
    fprintf(out,
        "Usage: knot -p PORT -r DOCROOT [-c MAX_CONNS] [-t TIMEOUT] [--log FILE]\n"
        "Serves the files under DOCROOT over HTTP/1.1 (GET and HEAD), one green\n"
        "thread per connection.\n"
        "\n"
        "  -p, --port PORT         TCP port to listen on (0: any free port; the\n"
        "                          chosen one is printed)\n"
        "  -r, --root DOCROOT      directory to serve; nothing outside it is served\n"
        "  -c, --max-conns N       connections served at once; more are answered\n"
        "                          503 (default: the open-file limit less %d)\n"
        "  -t, --timeout SECONDS   idle keep-alive timeout, time allowed to send a\n"
        "                          request, and to read each part of a response\n"
        "                          (default %.0f; fractions allowed)\n"
        "  -b, --bind ADDRESS      IPv4 address to listen on (default 127.0.0.1)\n"
        "  -w, --workers N|auto    worker processes sharing the port (default 1:\n"
        "                          one process, no supervisor; auto: one per CPU\n"
        "                          this process may run on; at most %d); each is\n"
        "                          a gt process of its own, -c counts per worker\n"
        "      --cache-mib MIB     file cache size (default %d MiB); files over an\n"
        "                          eighth of it are streamed, not cached\n"
        "      --log FILE          access log in Common Log Format (\"-\": stdout)\n"
        "  -h, --help              this text\n"
        "\n"
        "SIGINT or SIGTERM stops gracefully: no new connections, requests in\n"
        "flight finish (for up to TIMEOUT); a second signal stops at once.\n"
        "With -w N a supervisor process starts the workers, logs each one's pid,\n"
        "restarts one that dies (after a back-off if it died young) and passes\n"
        "SIGINT and SIGTERM on to them.\n"
        "Exit status: 0 after a graceful stop, 1 on a run-time error, %d on a\n"
        "usage error.\n",
        SERVER_FDS_KEPT_BACK + SERVER_MAX_REFUSING, DEFAULT_TIMEOUT_S,
        SUPERVISOR_MAX_WORKERS, DEFAULT_CACHE_MIB, EXIT_USAGE);
}

static void usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "knot: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'knot --help'.\n");
    exit(EXIT_USAGE);
}

static long parse_long(const char *text, long min, long max, const char *what)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < min || v > max)
        usage_error(what, text);
    return v;
}

/* Raises the soft open-file limit to the hard one: each connection is an
 * fd, and the default soft limit (often 1024) is far below what the
 * threads can carry.  Returns the limit now in force. */
static long raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return 1024;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur == RLIM_INFINITY ? 1L << 20 : (long)rl.rlim_cur;
}

/* -w: a count, or "auto" for the CPUs this process may run on (what
 * taskset or a cgroup's cpuset leaves it, as nproc counts). */
static int parse_workers(const char *text)
{
    if (strcmp(text, "auto") != 0)
        return (int)parse_long(text, 1, SUPERVISOR_MAX_WORKERS,
                               "-w %s: not a worker count (1-" KNOT_STR(SUPERVISOR_MAX_WORKERS)
                               ", or auto)");
    cpu_set_t cpus;
    int n = sched_getaffinity(0, sizeof cpus, &cpus) == 0 ? CPU_COUNT(&cpus) : 0;
    if (n < 1) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        n = online > 0 ? (int)online : 1;
    }
    return n < SUPERVISOR_MAX_WORKERS ? n : SUPERVISOR_MAX_WORKERS;
}

static void parse_options(int argc, char **argv, struct server_config *cfg, int *workers)
{
    enum { OPT_LOG = 256, OPT_CACHE };
    static const struct option options[] = {
        {"port", required_argument, NULL, 'p'},
        {"root", required_argument, NULL, 'r'},
        {"max-conns", required_argument, NULL, 'c'},
        {"timeout", required_argument, NULL, 't'},
        {"bind", required_argument, NULL, 'b'},
        {"workers", required_argument, NULL, 'w'},
        {"log", required_argument, NULL, OPT_LOG},
        {"cache-mib", required_argument, NULL, OPT_CACHE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int have_port = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "p:r:c:t:b:w:h", options, NULL)) != -1) {
        switch (opt) {
        case 'p':
            cfg->port = (int)parse_long(optarg, 0, 65535, "-p %s: not a port number (0-65535)");
            have_port = 1;
            break;
        case 'r':
            cfg->docroot = optarg;
            break;
        case 'c':
            cfg->max_conns = (int)parse_long(optarg, 1, 10000000,
                                             "-c %s: not a connection count (1 or more)");
            break;
        case 't': {
            char *end;
            double seconds = strtod(optarg, &end);
            if (end == optarg || *end || !(seconds > 0) || seconds > 86400)
                usage_error("-t %s: not a timeout in seconds (0 < TIMEOUT <= 86400)", optarg);
            cfg->timeout_ns = (int64_t)(seconds * 1e9);
            break;
        }
        case 'b':
            cfg->bind_address = optarg;
            break;
        case 'w':
            *workers = parse_workers(optarg);
            break;
        case OPT_LOG:
            cfg->access_log_path = optarg;
            break;
        case OPT_CACHE:
            cfg->cache_bytes = (size_t)parse_long(optarg, 1, 1L << 20,
                                                  "--cache-mib %s: not a size in MiB (1 or more)")
                               << 20;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            fprintf(stderr, "Try 'knot --help'.\n");
            exit(EXIT_USAGE);
        }
    }
    if (optind < argc)
        usage_error("unexpected argument '%s'", argv[optind]);
    if (!have_port)
        usage_error("%sno port: give one with -p PORT", "");
    if (!cfg->docroot)
        usage_error("%sno document root: give one with -r DOCROOT", "");
}

static struct sockaddr_in listen_address(const struct server_config *cfg)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cfg->port)};
    if (inet_pton(AF_INET, cfg->bind_address, &addr.sin_addr) != 1) {
        fprintf(stderr, "knot: -b %s: not an IPv4 address\n", cfg->bind_address);
        exit(EXIT_USAGE);
    }
    return addr;
}

/* Says why the port could not be had, and exits. */
static void listen_failed(const struct server_config *cfg, const char *failed)
{
    if (strcmp(failed, "bind") == 0)
        fprintf(stderr, "knot: cannot listen on %s:%d: %s%s\n", cfg->bind_address, cfg->port,
                strerror(errno),
                errno == EADDRINUSE ? " (choose another port with -p, or -p 0 for any)" : "");
    else
        fprintf(stderr, "knot: %s: %s\n", failed, strerror(errno));
    exit(1);
}

/* The first green thread: starts the others and ends. */
static void server_main(void *arg)
{
    struct server *s = arg;
    gt_attr_t detached = {.detached = 1};
    detached.name = "signals";
    gt_spawn(NULL, shutdown_main, s, &detached);
    if (s->access_log) {
        static struct access_log_flusher flusher;
        flusher.log = s->access_log;
        flusher.stop = &s->stopping;
        detached.name = "log flush";
        gt_spawn(NULL, access_log_flusher_main, &flusher, &detached);
    }
    gt_set_name(gt_self(), "accept");
    listener_main(s);
}

static struct server server;

/* Before the start-up line: from then on SIGINT/SIGTERM must find the
 * handlers that stop gracefully. */
static void prepare(void)
{
    gt_mutex_init(&server.lock);
    gt_cond_init(&server.conns_changed);
    if (shutdown_install_handlers() < 0) {
        perror("knot: signal handlers");
        exit(1);
    }
}

/* Serves on listen_fd until a graceful stop; the exit status. */
static int serve(int listen_fd)
{
    server.listen_fd = listen_fd;
    if (gt_main(server_main, &server) < 0) {
        perror("knot: gt_main");
        return 1;
    }
    if (server.access_log)
        access_log_close(server.access_log);
    return 0;
}

/* What each worker of `knot -w N` runs, in a fork of the supervisor. */
static int worker_main(int listen_fd, void *unused)
{
    (void)unused;
    prepare();
    supervisor_worker_ready();
    return serve(listen_fd);
}

int main(int argc, char **argv)
{
    struct server_config *cfg = &server.config;
    int workers = 1;
    long fd_limit = raise_fd_limit();
    cfg->bind_address = "127.0.0.1";
    cfg->timeout_ns = (int64_t)(DEFAULT_TIMEOUT_S * 1e9);
    cfg->cache_bytes = (size_t)DEFAULT_CACHE_MIB << 20;
    /* Room for the refusals over the cap, beyond it: see server.h. */
    long spare_fds = fd_limit - SERVER_FDS_KEPT_BACK - SERVER_MAX_REFUSING;
    cfg->max_conns = spare_fds > 16 ? (int)spare_fds : 16;
    server.conn_fd_budget = fd_limit - SERVER_FDS_KEPT_BACK > 1
                                ? fd_limit - SERVER_FDS_KEPT_BACK : 1;
    parse_options(argc, argv, cfg, &workers);
    struct sockaddr_in addr = listen_address(cfg);

    server.root_fd = open(cfg->docroot, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (server.root_fd < 0) {
        fprintf(stderr, "knot: -r %s: %s (the document root must be a readable directory)\n",
                cfg->docroot, strerror(errno));
        return EXIT_USAGE;
    }
    if (cfg->access_log_path &&
        !(server.access_log = access_log_open(cfg->access_log_path))) {
        fprintf(stderr, "knot: --log %s: %s\n", cfg->access_log_path, strerror(errno));
        return EXIT_USAGE;
    }
    if (!(server.cache = file_cache_create(server.root_fd, cfg->cache_bytes))) {
        fprintf(stderr, "knot: no memory for the file cache\n");
        return 1;
    }
    if (cfg->max_conns > server.conn_fd_budget)
        knot_log("warning: -c %d is above the open-file limit (%ld): connections past "
                 "%ld will wait for a free fd", cfg->max_conns, fd_limit,
                 server.conn_fd_budget);
    const char *failed;
    if (workers > 1) {
        static struct supervisor supervisor;
        if (supervisor_open(&supervisor, workers, &addr, &failed) < 0)
            listen_failed(cfg, failed);
        knot_log("serving %s on http://%s:%u/ (max %d connections per worker, timeout "
                 "%.3g s; %d workers, supervisor pid %d)",
                 cfg->docroot, cfg->bind_address, (unsigned)ntohs(supervisor.addr.sin_port),
                 cfg->max_conns, (double)cfg->timeout_ns / 1e9, workers, (int)getpid());
        return supervisor_run(&supervisor, worker_main, NULL);
    }

    int listen_fd = listener_open(&addr, 0, &failed);
    if (listen_fd < 0)
        listen_failed(cfg, failed);
    prepare();
    struct sockaddr_in bound;
    socklen_t bound_len = sizeof bound;
    getsockname(listen_fd, (struct sockaddr *)&bound, &bound_len);
    knot_log("serving %s on http://%s:%u/ (max %d connections, timeout %.3g s)",
             cfg->docroot, cfg->bind_address, (unsigned)ntohs(bound.sin_port),
             cfg->max_conns, (double)cfg->timeout_ns / 1e9);
    return serve(listen_fd);
}
