/* libmicrohttpd glue.
 *
 * Connections: a fixed pool of polling threads in epoll mode (select()
 * refuses descriptors >= 1024, so a thousand idle sockets used to take the
 * server down), with limits on total and per-IP connections and an idle
 * timeout of seconds. Those threads never block: requests that wait on the
 * worker or do heavy work (the POST routes but /interrupt and /skip) are
 * suspended and run by a fixed pool of handler threads, which resume the
 * connection when the answer is ready; /progress and the other GETs are
 * answered at once, so they stay quick while generations queue.
 *
 * Requests: exactly one Content-Length and not both it and
 * Transfer-Encoding (400 otherwise: two lengths let a proxy and this server
 * disagree on where the body ends), bodies up to --max-body (413 beyond,
 * announced or chunked), HTTP Basic auth (auth.c), and X-Process-Time on
 * every response. */
#include "server/server.h"

#include <microhttpd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define POLL_THREADS 4
#define HANDLER_THREADS 8

typedef struct conn_state conn_state;

struct srv_http {
    struct MHD_Daemon *daemon;
    srv_server *s;
    srv_limits lim;
    int port;
    /* handler pool: a FIFO of suspended requests */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    conn_state *head, *tail;
    int stopping, nthreads;
    pthread_t threads[HANDLER_THREADS];
};

struct conn_state {
    char *buf;
    size_t len, cap;
    int too_large;
    int answered; /* a response was queued before the body (400, 401, 413) */
    int queued;   /* handed to the handler pool (connection suspended) */
    int ready;    /* the pool filled resp */
    double started;
    struct MHD_Connection *conn;
    char *method, *url, *skip;
    srv_response resp;
    conn_state *next;
};

static const char *header_of(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

static void add_headers(struct MHD_Response *resp, const srv_header *hs, int n)
{
    for (int i = 0; i < n; i++)
        MHD_add_response_header(resp, hs[i].name, hs[i].value);
}

static enum MHD_Result send_response(srv_http *h, struct MHD_Connection *c, srv_response *r, double started,
                                     int auth_fail, int close)
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
    srv_header cors[SRV_CORS_MAX_HEADERS];
    add_headers(resp, cors,
                srv_cors_headers(&h->s->cors, header_of(c, "Origin"), header_of(c, "Cookie") != NULL, cors));
    if (close) /* answered before the body: the rest of the stream is not a request */
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* ---------------- handler pool ---------------- */

static void *handler_main(void *arg)
{
    srv_http *h = arg;
    pthread_mutex_lock(&h->lock);
    for (;;) {
        while (!h->head && !h->stopping)
            pthread_cond_wait(&h->wake, &h->lock);
        conn_state *st = h->head;
        if (!st)
            break; /* stopping and nothing left */
        h->head = st->next;
        if (!h->head)
            h->tail = NULL;
        pthread_mutex_unlock(&h->lock);
        srv_route(h->s, st->method, st->url, st->skip, st->buf, st->len, &st->resp);
        struct MHD_Connection *c = st->conn;
        st->ready = 1; /* st may be freed once the connection is resumed */
        MHD_resume_connection(c);
        pthread_mutex_lock(&h->lock);
    }
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

static int pool_start(srv_http *h)
{
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->wake, NULL);
    for (; h->nthreads < HANDLER_THREADS; h->nthreads++)
        if (pthread_create(&h->threads[h->nthreads], NULL, handler_main, h) != 0)
            break;
    return h->nthreads > 0;
}

/* Drains the queue (queued generations fail fast once the worker stops) and joins the threads. */
static void pool_stop(srv_http *h)
{
    pthread_mutex_lock(&h->lock);
    h->stopping = 1;
    pthread_cond_broadcast(&h->wake);
    pthread_mutex_unlock(&h->lock);
    for (int i = 0; i < h->nthreads; i++)
        pthread_join(h->threads[i], NULL);
    h->nthreads = 0;
    pthread_cond_destroy(&h->wake);
    pthread_mutex_destroy(&h->lock);
}

/* Suspends the connection and queues the request; 0 when the pool is stopping (answer inline). */
static int pool_submit(srv_http *h, struct MHD_Connection *c, conn_state *st, const char *method, const char *url,
                       const char *skip)
{
    st->method = strdup(method);
    st->url = strdup(url);
    st->skip = skip ? strdup(skip) : NULL;
    if (!st->method || !st->url || (skip && !st->skip))
        return 0;
    pthread_mutex_lock(&h->lock);
    int ok = !h->stopping;
    if (ok) {
        st->conn = c;
        st->queued = 1;
        MHD_suspend_connection(c); /* before the pool can resume it */
        if (h->tail)
            h->tail->next = st;
        else
            h->head = st;
        h->tail = st;
        pthread_cond_signal(&h->wake);
    }
    pthread_mutex_unlock(&h->lock);
    return ok;
}

/* ---------------- request checks ---------------- */

typedef struct header_count {
    int content_length, transfer_encoding;
} header_count;

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    header_count *n = cls;
    (void)kind, (void)value;
    n->content_length += !strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH);
    n->transfer_encoding += !strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    return MHD_YES;
}

/* A CORS preflight, answered before auth as Starlette's middleware does; 1 when answered. */
static int answer_preflight(srv_http *h, struct MHD_Connection *c, const char *method, enum MHD_Result *ret)
{
    srv_header hs[SRV_CORS_MAX_HEADERS];
    int n = 0, status = 0;
    const char *text = NULL;
    if (!srv_cors_preflight(&h->s->cors, method, header_of(c, "Origin"),
                            header_of(c, "Access-Control-Request-Method"),
                            header_of(c, "Access-Control-Request-Headers"), &status, &text, hs, &n))
        return 0;
    struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        *ret = MHD_NO;
        return 1;
    }
    MHD_add_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
    add_headers(resp, hs, n);
    *ret = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return 1;
}

/* The checks made once the headers are in: fills r (and returns 1) when the request is refused. */
static int refuse_early(srv_http *h, struct MHD_Connection *c, srv_response *r, int *auth_fail)
{
    const char *auth = NULL;
    size_t auth_len = 0;
    if (MHD_lookup_connection_value_n(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION,
                                      strlen(MHD_HTTP_HEADER_AUTHORIZATION), &auth, &auth_len) != MHD_YES)
        auth = NULL;
    if (!srv_auth_check(h->s->auth, auth, auth_len)) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "detail", "Incorrect username or password");
        srv_reply_json(r, 401, o);
        *auth_fail = 1;
        return 1;
    }
    header_count n = {0};
    MHD_get_connection_values(c, MHD_HEADER_KIND, count_header, &n);
    if (n.content_length > 1 || (n.content_length && n.transfer_encoding)) {
        srv_reply_error(r, 400, "HTTPException", "%s", n.content_length > 1
                            ? "the request has more than one Content-Length header"
                            : "the request has both Content-Length and Transfer-Encoding");
        return 1;
    }
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoull(cl, NULL, 10) > h->lim.max_body) {
        srv_reply_error(r, 413, "HTTPException", "request body of %s bytes is over the limit of %zu bytes", cl,
                        h->lim.max_body);
        return 1;
    }
    return 0;
}

/* Appends a piece of the body; past the limit the body is dropped and only counted. */
static int take_body(srv_http *h, conn_state *st, const char *data, size_t n)
{
    if (st->too_large || st->len + n > h->lim.max_body) {
        /* keep reading so the 413 can be sent, but not forever: a flood
         * past twice the limit gets the connection closed */
        if (!st->too_large) {
            free(st->buf);
            st->buf = NULL;
            st->cap = 0;
            st->too_large = 1;
        }
        st->len += n;
        return st->len <= 2 * h->lim.max_body;
    }
    if (st->len + n + 1 > st->cap) {
        size_t cap = st->cap ? st->cap : 65536;
        while (cap < st->len + n + 1)
            cap *= 2;
        char *buf = realloc(st->buf, cap);
        if (!buf)
            return 0;
        st->buf = buf;
        st->cap = cap;
    }
    memcpy(st->buf + st->len, data, n);
    st->len += n;
    st->buf[st->len] = '\0';
    return 1;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
    srv_http *h = cls;
    conn_state *st = *con_cls;
    srv_response r = {0};
    (void)version;
    if (!st) {
        st = calloc(1, sizeof *st);
        if (!st)
            return MHD_NO;
        st->started = mend_clock_s();
        *con_cls = st;
        int auth_fail = 0;
        enum MHD_Result ret;
        if (answer_preflight(h, c, method, &ret)) {
            st->answered = 1;
            return ret;
        }
        if (refuse_early(h, c, &r, &auth_fail)) {
            st->answered = 1;
            return send_response(h, c, &r, st->started, auth_fail, 1);
        }
        return MHD_YES;
    }
    if (st->answered) {
        *upload_size = 0;
        return MHD_YES;
    }
    if (st->ready) /* resumed by the handler pool */
        return send_response(h, c, &st->resp, st->started, 0, 0);
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        return take_body(h, st, upload_data, n) ? MHD_YES : MHD_NO;
    }
    if (st->queued)
        return MHD_YES; /* not ready yet (a spurious call) */
    const char *skip = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "skip_current_image");
    if (st->too_large)
        srv_reply_error(&r, 413, "HTTPException", "request body over the limit of %zu bytes", h->lim.max_body);
    else if (srv_route_may_block(h->s, method, url) && pool_submit(h, c, st, method, url, skip))
        return MHD_YES;
    else
        srv_route(h->s, method, url, skip, st->buf, st->len, &r);
    enum MHD_Result ret = send_response(h, c, &r, st->started, 0, st->too_large);
    free(r.body);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode code)
{
    conn_state *st = *con_cls;
    (void)cls, (void)c, (void)code;
    if (st) {
        free(st->buf);
        free(st->method);
        free(st->url);
        free(st->skip);
        free(st->resp.body);
        free(st);
        *con_cls = NULL;
    }
}

static void log_mhd(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    fputs("mend serve: ", stderr);
    vfprintf(stderr, fmt, ap);
}

srv_http *srv_http_start(srv_server *s, int port, int listen_all, const srv_limits *lim, mend_err *err)
{
    srv_http *h = calloc(1, sizeof *h);
    if (!h) {
        mend_fail(err, MEND_E_NOMEM, "out of memory");
        return NULL;
    }
    h->s = s;
    h->lim = *lim;
    if (!MHD_is_feature_supported(MHD_FEATURE_EPOLL)) {
        free(h);
        mend_fail(err, MEND_E_IO, "this libmicrohttpd has no epoll support");
        return NULL;
    }
    if (!pool_start(h)) {
        free(h);
        mend_fail(err, MEND_E_IO, "cannot start the HTTP handler threads");
        return NULL;
    }
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(listen_all ? INADDR_ANY : INADDR_LOOPBACK);
    h->daemon = MHD_start_daemon(
        MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, (uint16_t)port, NULL, NULL,
        on_request, h, MHD_OPTION_EXTERNAL_LOGGER, log_mhd, NULL, MHD_OPTION_SOCK_ADDR, &addr,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)POLL_THREADS,
        MHD_OPTION_CONNECTION_LIMIT, lim->max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT, lim->max_per_ip,
        MHD_OPTION_CONNECTION_TIMEOUT, lim->timeout_s, MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
        MHD_OPTION_END);
    if (!h->daemon) {
        pool_stop(h);
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
    MHD_socket lsock = MHD_quiesce_daemon(h->daemon); /* no new connections; the socket is ours to close now */
    if (lsock != MHD_INVALID_SOCKET)
        close(lsock);
    /* end the running job and fail the queued ones, so that the handler
     * threads waiting on them return and resume their connections */
    pthread_mutex_lock(&h->s->lock);
    h->s->stopping = 1;
    h->s->prog.interrupted = 1;
    mend_stop_request(&h->s->prog.stop, MEND_E_INTERRUPTED);
    pthread_cond_broadcast(&h->s->wake);
    pthread_mutex_unlock(&h->s->lock);
    pool_stop(h);
    MHD_stop_daemon(h->daemon);
    free(h);
}
