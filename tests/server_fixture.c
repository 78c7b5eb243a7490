/* The `mend serve` tests' fixtures (server_fixture.h). */
#include "server_fixture.h"

#include "server/b64.c"

#include <jpeglib.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* ---- server process ---------------------------------------------------- */


server servers[2];

void stop_server(server *sv)
{
    test_serve_stop(&sv->pid);
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

/* One request on a fresh connection (Connection: close). extra_headers
 * ends in \r\n or is "". content_length < 0: the body's length. */
reply http_ex(const server *sv, const char *method, const char *path, const char *body, long long content_length,
                     const char *extra_headers)
{
    reply r = {0};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)sv->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {120, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0)
            close(fd);
        return r;
    }
    size_t blen = body ? strlen(body) : 0;
    char head[1024];
    int n = snprintf(head, sizeof head,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\n"
                     "%sContent-Length: %lld\r\n\r\n",
                     method, path, extra_headers, content_length >= 0 ? content_length : (long long)blen);
    send(fd, head, (size_t)n, MSG_NOSIGNAL);
    for (size_t off = 0; off < blen;) {
        ssize_t k = send(fd, body + off, blen - off, MSG_NOSIGNAL);
        if (k <= 0)
            break; /* the server may answer (413) without reading the body */
        off += (size_t)k;
    }
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
    close(fd);
    buf[len] = '\0';
    char *sep = strstr(buf, "\r\n\r\n");
    if (sep && sscanf(buf, "HTTP/1.%*d %d", &r.status) == 1) {
        r.head = strndup(buf, (size_t)(sep - buf));
        r.body = strdup(sep + 4);
        r.json = cJSON_Parse(r.body);
    }
    free(buf);
    return r;
}

reply http(const server *sv, const char *method, const char *path, const char *body)
{
    return http_ex(sv, method, path, body, -1, "");
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
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    unsigned char *buf = NULL;
    unsigned long len = 0;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &buf, &len);
    c.image_width = (JDIMENSION)img->width;
    c.image_height = (JDIMENSION)img->height;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = img->data + (size_t)c.next_scanline * img->width * 3;
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    char *b = srv_b64_encode(buf, len);
    free(buf);
    return b;
}
