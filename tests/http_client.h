/* A tiny blocking HTTP/1.1 client for the `mend serve` tests: one request
 * per connection (Connection: close), the reply split into status,
 * headers and body (parsed as JSON when it is). Header-only: the test
 * binaries that talk to a server include it. */
#ifndef MEND_TEST_HTTP_CLIENT_H
#define MEND_TEST_HTTP_CLIENT_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

typedef struct hc_reply {
    int status;
    char *head; /* status line and headers */
    char *body;
    cJSON *json;
} hc_reply;

static inline void hc_free(hc_reply *r)
{
    free(r->head);
    free(r->body);
    cJSON_Delete(r->json);
    memset(r, 0, sizeof *r);
}

static inline int hc_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {120, 0};
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static inline char *hc_read_all(int fd, size_t *len)
{
    size_t cap = 1 << 16;
    char *buf = malloc(cap);
    *len = 0;
    for (ssize_t k; buf; *len += (size_t)k) {
        if (*len + 4096 > cap) {
            char *b = realloc(buf, cap *= 2);
            if (!b)
                break;
            buf = b;
        }
        k = recv(fd, buf + *len, cap - *len - 1, 0);
        if (k <= 0)
            break;
    }
    if (buf)
        buf[*len] = '\0';
    return buf;
}

/* extra_headers: "" or lines that each end in \r\n. */
static inline hc_reply hc_request(int port, const char *method, const char *path, const char *body,
                                  const char *extra_headers)
{
    hc_reply r = {0};
    int fd = hc_connect(port);
    if (fd < 0)
        return r;
    size_t blen = body ? strlen(body) : 0;
    char head[2048];
    int n = snprintf(head, sizeof head,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s%s"
                     "Content-Length: %zu\r\n\r\n",
                     method, path, body ? "Content-Type: application/json\r\n" : "", extra_headers, blen);
    send(fd, head, (size_t)n, MSG_NOSIGNAL);
    for (size_t off = 0; off < blen;) {
        ssize_t k = send(fd, body + off, blen - off, MSG_NOSIGNAL);
        if (k <= 0)
            break;
        off += (size_t)k;
    }
    size_t len;
    char *buf = hc_read_all(fd, &len);
    close(fd);
    char *sep = buf ? strstr(buf, "\r\n\r\n") : NULL;
    if (sep && sscanf(buf, "HTTP/1.%*d %d", &r.status) == 1) {
        r.head = strndup(buf, (size_t)(sep - buf));
        r.body = strdup(sep + 4);
        r.json = cJSON_Parse(r.body);
    }
    free(buf);
    return r;
}

static inline hc_reply hc_get(int port, const char *path)
{
    return hc_request(port, "GET", path, NULL, "");
}

static inline hc_reply hc_post(int port, const char *path, const char *body)
{
    return hc_request(port, "POST", path, body, "");
}

/* The value of a response header (case-insensitive name) copied into out; 0 when absent. */
static inline int hc_header(const hc_reply *r, const char *name, char *out, size_t size)
{
    size_t n = strlen(name);
    for (const char *l = r->head ? strstr(r->head, "\r\n") : NULL; l; l = strstr(l + 2, "\r\n")) {
        const char *h = l + 2;
        if (!strncasecmp(h, name, n) && h[n] == ':') {
            h += n + 1;
            while (*h == ' ')
                h++;
            snprintf(out, size, "%.*s", (int)strcspn(h, "\r\n"), h);
            return 1;
        }
    }
    return 0;
}

static inline const cJSON *hc_item(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

static inline const char *hc_str(const cJSON *o, const char *key)
{
    const cJSON *v = hc_item(o, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

#endif
