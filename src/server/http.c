/* libmicrohttpd glue: one thread per connection (so /progress answers while
 * a generation request waits for the worker), request bodies collected up
 * to SRV_MAX_BODY (413 beyond), HTTP Basic auth (--api-auth), and the
 * X-Process-Time header on every response. */
#include "server/server.h"

#include <microhttpd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct srv_http {
    struct MHD_Daemon *daemon;
    srv_server *s;
    int port;
};

typedef struct conn_state {
    char *buf;
    size_t len, cap;
    int too_large;
    int answered; /* a response was queued before the body (401, 413) */
    double started;
} conn_state;

static enum MHD_Result send_response(struct MHD_Connection *c, srv_response *r, double started, int auth_fail)
{
    char *body = r->body ? r->body : strdup("null");
    if (!body)
        return MHD_NO;
    struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    r->body = NULL;
    char t[32];
    snprintf(t, sizeof t, "%.4f", mend_clock_s() - started);
    MHD_add_response_header(resp, "Content-Type", r->content_type ? r->content_type : "application/json");
    MHD_add_response_header(resp, "X-Process-Time", t);
    if (auth_fail)
        MHD_add_response_header(resp, "WWW-Authenticate", "Basic realm=\"mend\"");
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* --api-auth "user:pass[,user2:pass2]" */
static int authorised(const srv_server *s, struct MHD_Connection *c)
{
    if (!s->auth)
        return 1;
    char *pass = NULL;
    char *user = MHD_basic_auth_get_username_password(c, &pass);
    int ok = 0;
    if (user && pass) {
        size_t ul = strlen(user), pl = strlen(pass);
        for (const char *p = s->auth; *p && !ok;) {
            const char *end = strchr(p, ',');
            size_t n = end ? (size_t)(end - p) : strlen(p);
            ok = n == ul + 1 + pl && !strncmp(p, user, ul) && p[ul] == ':' && !strncmp(p + ul + 1, pass, pl);
            p += n + (end ? 1 : 0);
        }
    }
    MHD_free(user);
    MHD_free(pass);
    return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
    srv_http *h = cls;
    conn_state *st = *con_cls;
    srv_response r = {0};
    if (!st) {
        st = calloc(1, sizeof *st);
        if (!st)
            return MHD_NO;
        st->started = mend_clock_s();
        *con_cls = st;
        if (!authorised(h->s, c)) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "detail", "Incorrect username or password");
            srv_reply_json(&r, 401, o);
            st->answered = 1;
            return send_response(c, &r, st->started, 1);
        }
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > SRV_MAX_BODY) {
            srv_reply_error(&r, 413, "HTTPException", "request body of %s bytes is over the limit of %zu bytes", cl,
                            SRV_MAX_BODY);
            st->answered = 1;
            return send_response(c, &r, st->started, 0);
        }
        return MHD_YES;
    }
    if (st->answered) {
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (st->too_large || st->len + n > SRV_MAX_BODY) {
            st->too_large = 1;
            free(st->buf);
            st->buf = NULL;
            st->len = st->cap = 0;
            return MHD_YES;
        }
        if (st->len + n + 1 > st->cap) {
            size_t cap = st->cap ? st->cap : 65536;
            while (cap < st->len + n + 1)
                cap *= 2;
            char *buf = realloc(st->buf, cap);
            if (!buf)
                return MHD_NO;
            st->buf = buf;
            st->cap = cap;
        }
        memcpy(st->buf + st->len, upload_data, n);
        st->len += n;
        st->buf[st->len] = '\0';
        return MHD_YES;
    }
    if (st->too_large) {
        srv_reply_error(&r, 413, "HTTPException", "request body over the limit of %zu bytes", SRV_MAX_BODY);
    } else {
        const char *skip = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "skip_current_image");
        srv_route(h->s, method, url, skip, st->buf, st->len, &r);
    }
    enum MHD_Result ret = send_response(c, &r, st->started, 0);
    free(r.body);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode code)
{
    conn_state *st = *con_cls;
    if (st) {
        free(st->buf);
        free(st);
        *con_cls = NULL;
    }
}

srv_http *srv_http_start(srv_server *s, int port, int listen_all, mend_err *err)
{
    srv_http *h = calloc(1, sizeof *h);
    if (!h) {
        mend_fail(err, MEND_E_NOMEM, "out of memory");
        return NULL;
    }
    h->s = s;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(listen_all ? INADDR_ANY : INADDR_LOOPBACK);
    h->daemon = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG,
                                 (uint16_t)port, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, &addr,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_CONNECTION_TIMEOUT,
                                 (unsigned)3600, MHD_OPTION_END);
    if (!h->daemon) {
        free(h);
        mend_fail(err, MEND_E_IO, "cannot listen on %s:%d (port in use?)", listen_all ? "0.0.0.0" : "127.0.0.1",
                  port);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : port;
    return h;
}

int srv_http_port(const srv_http *h)
{
    return h->port;
}

void srv_http_stop(srv_http *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->daemon);
    free(h);
}
