/* Fixtures of the `mend serve` tests (test_server*.c): the server as a
 * child process on a free loopback port, a tiny HTTP client over plain
 * sockets (requests byte for byte, so malformed ones can be sent), JSON
 * accessors and request images. The server's own base64 and
 * image decoding (src/server/b64.c) are compiled into server_fixture.c. */
#ifndef MEND_TESTS_SERVER_FIXTURE_H
#define MEND_TESTS_SERVER_FIXTURE_H

#include "test.h"

#include "server/server.h"

#include <cjson/cJSON.h>

typedef struct server {
    pid_t pid;
    int port;
} server;

typedef struct reply {
    int status; /* 0: no answer */
    char *head; /* status line and headers */
    char *body;
    cJSON *json;
} reply;

/* The servers a test binary runs (stop_all at exit stops them). */
extern server servers[2];
/* SIGTERM and wait; the exit status (see test_serve_stop). */
int stop_server(server *sv);
void stop_all(void);
/* Starts `mend serve --port 0 ARGS...` and reads the port it prints. */
int start_server(server *sv, const char *const *args);

void reply_free(reply *r);
/* A loopback connection with send/receive timeouts of `seconds`; -1 on failure. */
int connect_lo(int port, int seconds);
/* 0 when all was sent. */
int send_all(int fd, const void *data, size_t len);
/* Reads until the server closes (or the receive timeout) and parses the
 * reply; its status stays 0 when the server answered nothing. */
void read_reply(int fd, reply *r);
/* raw bytes as they are (malformed requests too), on a fresh connection. */
reply request_raw(const server *sv, const char *raw, size_t len, int seconds);
/* One request with Connection: close. extra_headers ends in \r\n or is "";
 * content_length < 0: the body's length (else announced, whatever is sent). */
reply http_ex(const server *sv, const char *method, const char *path, const char *body, long long content_length,
              const char *extra_headers, int seconds);
/* http_ex with no extra headers and a 120 s timeout. */
reply http(const server *sv, const char *method, const char *path, const char *body);
/* A response header's value (name case-insensitive) copied into out; 0 when absent. */
int reply_header(const reply *r, const char *name, char *out, size_t size);

/* A member of a JSON object; its number (-12345 when it is none) or string ("" when none). */
const cJSON *get(const cJSON *o, const char *key);
double num(const cJSON *o, const char *key);
const char *str(const cJSON *o, const char *key);

/* img as PNG base64, as a data: URL when data_url. */
char *png_b64(const mend_image *img, int data_url);
/* A baseline JPEG of img (RGB), as base64. */
char *jpeg_b64(const mend_image *img);
char *strdupf(const char *fmt, ...) MEND_PRINTF(1, 2);

#endif
