/* CORS as A1111 sets it up (modules/api: FastAPI's CORSMiddleware with
 * allow_origins from --cors-allow-origins split on ',', allow_origin_regex
 * from --cors-allow-origins-regex, allow_methods and allow_headers "*",
 * allow_credentials true) and as Starlette answers:
 * - a preflight (OPTIONS + Origin + Access-Control-Request-Method) is
 *   answered by the middleware itself, before auth and routing: 200 "OK"
 *   with the allowed origin echoed, or 400 "Disallowed CORS origin";
 * - other requests from an allowed Origin get Access-Control-Allow-Origin
 *   (the origin itself, or "*" when every origin is allowed and the
 *   request carries no cookie), Allow-Credentials and Vary: Origin. */
#include "server/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALL_METHODS "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"

mend_status srv_cors_init(srv_cors *c, const char *origins, const char *regex, mend_err *err)
{
    c->origins = origins && *origins ? origins : NULL;
    c->regex_text = NULL;
    c->has_regex = 0;
    if (!regex || !*regex)
        return MEND_OK;
    /* Python's re.fullmatch: the pattern must cover the whole origin */
    size_t n = strlen(regex);
    char *anchored = malloc(n + 8);
    if (!anchored)
        return mend_fail(err, MEND_E_NOMEM, "out of memory");
    snprintf(anchored, n + 8, "^(%s)$", regex);
    int rc = regcomp(&c->regex, anchored, REG_EXTENDED | REG_NOSUB);
    free(anchored);
    if (rc != 0) {
        char msg[200];
        regerror(rc, &c->regex, msg, sizeof msg);
        return mend_fail(err, MEND_E_ARG, "--cors-allow-origins-regex '%s': %s", regex, msg);
    }
    c->regex_text = regex;
    c->has_regex = 1;
    return MEND_OK;
}

void srv_cors_free(srv_cors *c)
{
    if (c->has_regex)
        regfree(&c->regex);
    c->has_regex = 0;
}

static int enabled(const srv_cors *c)
{
    return c->origins || c->has_regex;
}

/* "*" among the comma-separated origins */
static int allow_all(const srv_cors *c)
{
    return c->origins && srv_cors_allowed(&(srv_cors){.origins = c->origins}, "*");
}

int srv_cors_allowed(const srv_cors *c, const char *origin)
{
    if (!origin)
        return 0;
    size_t n = strlen(origin);
    for (const char *p = c->origins; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if ((len == 1 && *p == '*') || (len == n && !strncmp(p, origin, n)))
            return 1;
        p = end ? end + 1 : p + len;
    }
    return c->has_regex && regexec(&c->regex, origin, 0, NULL, 0) == 0;
}

int srv_cors_preflight(const srv_cors *c, const char *method, const char *origin, const char *req_method,
                       const char *req_headers, int *status, const char **body, srv_header *out, int *nout)
{
    if (!enabled(c) || strcmp(method, "OPTIONS") || !origin || !req_method)
        return 0;
    int n = 0, ok = srv_cors_allowed(c, origin);
    out[n++] = (srv_header){"Access-Control-Allow-Methods", ALL_METHODS};
    out[n++] = (srv_header){"Access-Control-Max-Age", "600"};
    out[n++] = (srv_header){"Access-Control-Allow-Credentials", "true"};
    if (req_headers) /* allow_headers "*": whatever the browser asks for */
        out[n++] = (srv_header){"Access-Control-Allow-Headers", req_headers};
    if (ok) /* credentials allowed: the origin itself, never "*" */
        out[n++] = (srv_header){"Access-Control-Allow-Origin", origin};
    out[n++] = (srv_header){"Vary", "Origin"};
    *nout = n;
    *status = ok ? 200 : 400;
    *body = ok ? "OK" : "Disallowed CORS origin";
    return 1;
}

int srv_cors_headers(const srv_cors *c, const char *origin, int has_cookie, srv_header *out)
{
    if (!enabled(c) || !origin)
        return 0;
    int n = 0, all = allow_all(c);
    if (!srv_cors_allowed(c, origin)) { /* Starlette's simple headers, without an origin that would match */
        out[n++] = (srv_header){"Access-Control-Allow-Credentials", "true"};
        return n;
    }
    out[n++] = (srv_header){"Access-Control-Allow-Origin", all && !has_cookie ? "*" : origin};
    out[n++] = (srv_header){"Access-Control-Allow-Credentials", "true"};
    if (!all || has_cookie)
        out[n++] = (srv_header){"Vary", "Origin"};
    return n;
}
