/*
 * st_httpd.c - the State Threads peer of Knot in the bench: a small
 * thread-per-connection static file server on libst, written the way an
 * ST program is written (one st_thread per connection, its buffer on its
 * stack, blocking-style st_read/st_writev).
 *
 * It serves the regular files at the top of DOCROOT, loaded into memory at
 * start (what nginx's open_file_cache and Knot's cache give the others),
 * with the same response headers as Knot (Server, Date, Content-Type,
 * Content-Length, Last-Modified), HTTP/1.1 keep-alive and pipelining.  It
 * is a bench peer, not a server: no path checks beyond an exact name match,
 * GET only, and no error handling past closing the connection.
 *
 * Usage: st-httpd PORT DOCROOT    (PORT 0: any; prints "st-httpd: port N")
 * SIGTERM ends it.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <st.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define STACK_SIZE (64 * 1024) /* gt's default, as for every runtime here */
#define MAX_FILES 64
#define REQUEST_MAX 4096
#define IDLE_TIMEOUT_US (300LL * 1000000) /* as long as the bench's other servers */

struct file {
    char name[256];
    char *data;
    size_t size;
    const char *type;
    char last_modified[32];
};

static struct file files[MAX_FILES];
static int nfiles;

static void die(const char *what)
{
    fprintf(stderr, "st-httpd: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void http_date(char *out, size_t size, time_t t)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, size, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static void load_files(const char *root)
{
    DIR *d = opendir(root);
    if (!d)
        die(root);
    for (struct dirent *e; (e = readdir(d)) && nfiles < MAX_FILES;) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", root, e->d_name);
        if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) || strlen(e->d_name) >= 256)
            continue;
        struct file *f = &files[nfiles++];
        snprintf(f->name, sizeof f->name, "%s", e->d_name);
        f->size = (size_t)st.st_size;
        f->data = malloc(f->size + 1);
        int fd = open(path, O_RDONLY);
        if (fd < 0 || !f->data || read(fd, f->data, f->size) != (ssize_t)f->size)
            die(path);
        close(fd);
        const char *dot = strrchr(f->name, '.');
        f->type = dot && strcmp(dot, ".txt") == 0 ? "text/plain; charset=utf-8"
                  : dot && strcmp(dot, ".html") == 0 ? "text/html; charset=utf-8"
                                                     : "application/octet-stream";
        http_date(f->last_modified, sizeof f->last_modified, st.st_mtime);
    }
    closedir(d);
}

static const struct file *find(const char *path, size_t len)
{
    if (len < 2 || path[0] != '/')
        return NULL;
    for (int i = 0; i < nfiles; i++)
        if (strlen(files[i].name) == len - 1 && memcmp(files[i].name, path + 1, len - 1) == 0)
            return &files[i];
    return NULL;
}

static const char *date_now(void)
{
    static char cached[32];
    static time_t second = -1;
    time_t now = time(NULL);
    if (now != second) {
        http_date(cached, sizeof cached, now);
        second = now;
    }
    return cached;
}

/* Answers the request in req[0..len); 0 to keep the connection, -1 to close. */
static int respond(st_netfd_t client, const char *req, size_t len)
{
    const char *sp1 = memchr(req, ' ', len);
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - req)) : NULL;
    if (!sp1 || !sp2 || sp1 - req != 3 || memcmp(req, "GET", 3) != 0)
        return -1;
    const struct file *f = find(sp1 + 1, (size_t)(sp2 - sp1 - 1));
    char head[512];
    int n;
    struct iovec iov[2];
    if (!f) {
        n = snprintf(head, sizeof head, "HTTP/1.1 404 Not Found\r\nServer: st-httpd\r\n"
                     "Date: %s\r\nContent-Length: 0\r\n\r\n", date_now());
        iov[1].iov_len = 0;
    } else {
        n = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nServer: st-httpd\r\nDate: %s\r\n"
                     "Content-Type: %s\r\nContent-Length: %zu\r\nLast-Modified: %s\r\n\r\n",
                     date_now(), f->type, f->size, f->last_modified);
        iov[1].iov_base = f->data;
        iov[1].iov_len = f->size;
    }
    iov[0].iov_base = head;
    iov[0].iov_len = (size_t)n;
    ssize_t want = (ssize_t)(iov[0].iov_len + iov[1].iov_len);
    return st_writev(client, iov, 2, ST_UTIME_NO_TIMEOUT) == want ? 0 : -1;
}

static void *connection(void *arg)
{
    st_netfd_t client = arg;
    char buf[REQUEST_MAX];
    size_t have = 0;
    for (;;) {
        char *end;
        buf[have] = '\0';
        while (!(end = strstr(buf, "\r\n\r\n"))) {
            if (have == sizeof buf - 1)
                goto done;
            ssize_t n = st_read(client, buf + have, sizeof buf - 1 - have, IDLE_TIMEOUT_US);
            if (n <= 0)
                goto done;
            have += (size_t)n;
            buf[have] = '\0';
        }
        size_t req_len = (size_t)(end + 4 - buf);
        if (respond(client, buf, req_len) < 0)
            goto done;
        memmove(buf, buf + req_len, have - req_len);
        have -= req_len;
    }
done:
    st_netfd_close(client);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: st-httpd PORT DOCROOT\n");
        return 64;
    }
    load_files(argv[2]);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    /* epoll where libst has it (the fair comparison with Knot and nginx);
     * else poll, since select stops at fd 1024. */
    if (st_set_eventsys(ST_EVENTSYS_ALT) < 0 && st_set_eventsys(ST_EVENTSYS_POLL) < 0)
        die("st_set_eventsys");
    if (st_init() < 0)
        die("st_init");
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1])),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(ls, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(ls, 65535) < 0)
        die("bind/listen");
    socklen_t alen = sizeof addr;
    getsockname(ls, (struct sockaddr *)&addr, &alen);
    printf("st-httpd: port %u, %d files, event system %s\n", (unsigned)ntohs(addr.sin_port),
           nfiles, st_get_eventsys_name());
    fflush(stdout);
    st_netfd_t listener = st_netfd_open_socket(ls);
    for (;;) {
        st_netfd_t client = st_accept(listener, NULL, NULL, ST_UTIME_NO_TIMEOUT);
        if (!client)
            continue;
        setsockopt(st_netfd_fileno(client), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (!st_thread_create(connection, client, 0, STACK_SIZE))
            st_netfd_close(client);
    }
}
