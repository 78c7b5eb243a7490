/* The hostile-load test's server process and raw HTTP client: the server
 * is `$MEND_BIN serve --port 0 ...` as a child (its port read from the line
 * it prints), and requests are written byte for byte, so that malformed
 * ones can be sent. A reply's status is 0 when the server closed the
 * connection without answering. */
#ifndef MEND_TEST_HOSTILE_CLIENT_H
#define MEND_TEST_HOSTILE_CLIENT_H

#include <cjson/cJSON.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct server {
    pid_t pid;
    int port;
} server;

typedef struct reply {
    int status;
    char *body;
    cJSON *json;
} reply;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void stop_server(server *sv)
{
    test_serve_stop(&sv->pid);
}

/* Starts `mend serve --port 0 --threads 2 ARGS...`; waits (up to 60 s) for the line naming the port. */
static int start_server(server *sv, const char *const *args)
{
    sv->pid = test_serve_start(args, &sv->port);
    return sv->pid > 0;
}

/* A loopback connection with send/receive timeouts of `seconds`; -1 on failure. */
static int connect_lo(int port, int seconds)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {seconds, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* 0 when all was sent. */
static int send_all(int fd, const void *data, size_t len)
{
    for (size_t off = 0; off < len;) {
        ssize_t k = send(fd, (const char *)data + off, len - off, MSG_NOSIGNAL);
        if (k <= 0)
            return -1;
        off += (size_t)k;
    }
    return 0;
}

static void reply_free(reply *r)
{
    free(r->body);
    cJSON_Delete(r->json);
    memset(r, 0, sizeof *r);
}

/* Reads until the server closes (or the receive timeout) and parses the reply. */
static void read_reply(int fd, reply *r)
{
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (len + 4096 > cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
        ssize_t k = recv(fd, buf + len, cap - len - 1, 0);
        if (k <= 0)
            break;
        len += (size_t)k;
    }
    buf[len] = '\0';
    char *sep = strstr(buf, "\r\n\r\n");
    if (sep && sscanf(buf, "HTTP/1.%*d %d", &r->status) == 1) {
        r->body = strdup(sep + 4);
        r->json = cJSON_Parse(r->body);
    }
    free(buf);
}

static reply request_raw(const server *sv, const char *raw, size_t len, int seconds)
{
    reply r = {0};
    int fd = connect_lo(sv->port, seconds);
    if (fd < 0)
        return r;
    send_all(fd, raw, len); /* the server may answer (413) without reading it all */
    read_reply(fd, &r);
    close(fd);
    return r;
}

/* One request with Connection: close; extra_headers ends in \r\n or is "". */
static reply request_h(const server *sv, const char *method, const char *path, const char *body,
                       const char *extra_headers, int seconds)
{
    size_t blen = body ? strlen(body) : 0;
    size_t cap = blen + strlen(extra_headers) + strlen(path) + 256;
    char *raw = malloc(cap);
    int n = snprintf(raw, cap,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\n"
                     "%sContent-Length: %zu\r\n\r\n",
                     method, path, extra_headers, blen);
    if (blen)
        memcpy(raw + n, body, blen);
    reply r = request_raw(sv, raw, (size_t)n + blen, seconds);
    free(raw);
    return r;
}

static reply request(const server *sv, const char *method, const char *path, const char *body, int seconds)
{
    return request_h(sv, method, path, body, "", seconds);
}

/* /progress answers 200 within a second. */
static int still_up(const server *sv)
{
    double t0 = now_s();
    reply r = request(sv, "GET", "/sdapi/v1/progress", NULL, 2);
    int ok = r.status == 200 && now_s() - t0 < 1.0;
    if (!ok)
        fprintf(stderr, "still_up: status %d after %.2f s\n", r.status, now_s() - t0);
    reply_free(&r);
    return ok;
}

static char *b64_encode(const unsigned char *d, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)d[i] << 16 | (i + 1 < n ? (unsigned)d[i + 1] << 8 : 0) | (i + 2 < n ? d[i + 2] : 0);
        *o++ = tab[v >> 18 & 63];
        *o++ = tab[v >> 12 & 63];
        *o++ = i + 1 < n ? tab[v >> 6 & 63] : '=';
        *o++ = i + 2 < n ? tab[v & 63] : '=';
    }
    *o = '\0';
    return out;
}

#endif
