/* A tiny blocking HTTP/1.1 client for the `mend serve` tests: one request
 * per connection (Connection: close), the reply split into status,
 * headers and body (parsed as JSON when it is): server_fixture.c's client
 * by port, and a header lookup. */
#ifndef MEND_TEST_HTTP_CLIENT_H
#define MEND_TEST_HTTP_CLIENT_H

#include "server_fixture.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h> /* the tests that include this sleep and change folders */

/* The one client of server_fixture.c under the names these tests use. */
typedef reply hc_reply;

static inline void hc_free(hc_reply *r)
{
    reply_free(r);
}

/* extra_headers: "" or lines that each end in \r\n. */
static inline hc_reply hc_request(int port, const char *method, const char *path, const char *body,
                                  const char *extra_headers)
{
    server sv = {0, port};
    return http_ex(&sv, method, path, body, -1, extra_headers, 120);
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
    return get(o, key);
}

static inline const char *hc_str(const cJSON *o, const char *key)
{
    return str(o, key);
}

#endif
