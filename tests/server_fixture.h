/* Fixtures of the `mend serve` tests (test_server*.c): the server as a
 * child process on a free loopback port, a tiny HTTP client over plain
 * sockets, JSON accessors and request images. The server's own base64 and
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
    int status;
    char *head; /* status line and headers */
    char *body;
    cJSON *json;
} reply;

/* The servers a test binary runs (stop_all at exit stops them). */
extern server servers[2];
void stop_server(server *sv);
void stop_all(void);
/* Starts `mend serve --port 0 ARGS...` and reads the port it prints. */
int start_server(server *sv, const char *const *args);

void reply_free(reply *r);
/* One request on a fresh connection (Connection: close). extra_headers
 * ends in \r\n or is "". content_length < 0: the body's length. */
reply http_ex(const server *sv, const char *method, const char *path, const char *body, long long content_length,
              const char *extra_headers);
reply http(const server *sv, const char *method, const char *path, const char *body);

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
