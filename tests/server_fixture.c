/* The `mend serve` tests' fixtures (server_fixture.h). */
#include "server_fixture.h"

#include "server/b64.c"


#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* ---- server process ---------------------------------------------------- */

server servers[2];

int stop_server(server *sv)
{
    return test_serve_stop(&sv->pid);
}

void stop_all(void)
{
    for (int i = 0; i < 2; i++)
        stop_server(&servers[i]);
}

/* Starts `mend serve --port 0 ARGS...` and reads the port it prints. */
int start_server(server *sv, const char *const *args)
{
    sv->pid = test_serve_start(args, &sv->port);
    return sv->pid > 0;
}

/* ---- HTTP client --------------------------------------------------------- */

void reply_free(reply *r)
{
    free(r->head);
    free(r->body);
    cJSON_Delete(r->json);
    memset(r, 0, sizeof *r);
}

int connect_lo(int port, int seconds)
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

int send_all(int fd, const void *data, size_t len)
{
    for (size_t off = 0; off < len;) {
        ssize_t k = send(fd, (const char *)data + off, len - off, MSG_NOSIGNAL);
        if (k <= 0)
            return -1;
        off += (size_t)k;
    }
    return 0;
}

void read_reply(int fd, reply *r)
{
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    for (ssize_t k; buf && (k = recv(fd, buf + len, cap - len - 1, 0)) > 0;) {
        len += (size_t)k;
        if (len + 4096 > cap) {
            char *more = realloc(buf, cap *= 2);
            if (!more)
                free(buf);
            buf = more;
        }
    }
    if (!buf)
        return;
    buf[len] = '\0';
    char *sep = strstr(buf, "\r\n\r\n");
    if (sep && sscanf(buf, "HTTP/1.%*d %d", &r->status) == 1) {
        r->head = strndup(buf, (size_t)(sep - buf));
        r->body = strdup(sep + 4);
        r->json = cJSON_Parse(r->body);
    }
    free(buf);
}

reply request_raw(const server *sv, const char *raw, size_t len, int seconds)
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

reply http_ex(const server *sv, const char *method, const char *path, const char *body, long long content_length,
              const char *extra_headers, int seconds)
{
    size_t blen = body ? strlen(body) : 0;
    size_t cap = blen + strlen(extra_headers) + strlen(path) + 256;
    char *raw = malloc(cap);
    if (!raw)
        return (reply){0};
    int n = snprintf(raw, cap,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s%sContent-Length: %lld\r\n\r\n",
                     method, path, body || content_length >= 0 ? "Content-Type: application/json\r\n" : "",
                     extra_headers, content_length >= 0 ? content_length : (long long)blen);
    if (blen)
        memcpy(raw + n, body, blen);
    reply r = request_raw(sv, raw, (size_t)n + blen, seconds);
    free(raw);
    return r;
}

reply http(const server *sv, const char *method, const char *path, const char *body)
{
    return http_ex(sv, method, path, body, -1, "", 120);
}

int reply_header(const reply *r, const char *name, char *out, size_t size)
{
    size_t n = strlen(name);
    for (const char *l = r->head ? strstr(r->head, "\r\n") : NULL; l; l = strstr(l + 2, "\r\n")) {
        const char *h = l + 2;
        if (!strncasecmp(h, name, n) && h[n] == ':') {
            h += n + 1;
            h += strspn(h, " ");
            snprintf(out, size, "%.*s", (int)strcspn(h, "\r\n"), h);
            return 1;
        }
    }
    return 0;
}

const cJSON *get(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

double num(const cJSON *o, const char *key)
{
    const cJSON *v = get(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : -12345;
}

const char *str(const cJSON *o, const char *key)
{
    const cJSON *v = get(o, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

/* ---- images -------------------------------------------------------------- */

char *png_b64(const mend_image *img, int data_url)
{
    char *b = srv_png_b64(img, NULL);
    if (!b || !data_url)
        return b;
    char *u = malloc(strlen(b) + 32);
    sprintf(u, "data:image/png;base64,%s", b);
    free(b);
    return u;
}

char *strdupf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = malloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* A baseline JPEG of img (RGB), as base64. */
char *jpeg_b64(const mend_image *img)
{
    size_t len = 0;
    uint8_t *buf = test_encode_jpeg(img, 75, 0, &len); /* libjpeg's defaults */
    char *b = srv_b64_encode(buf, len);
    free(buf);
    return b;
}
