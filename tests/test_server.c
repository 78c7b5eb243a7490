/* `mend serve` end to end: the server runs as a child process on a free
 * loopback port, and a tiny HTTP client here talks to it over plain
 * sockets. A server without a model checks every bad request (and auth)
 * and always runs; a server with two random tiny checkpoints (made here)
 * checks the endpoints' shapes, inpainting, progress, interrupt and model
 * switching, and needs the CLIP vocabulary from ../shared (skipped
 * without it). The base64 and coercion helpers are unit-tested directly. */
#include "test.h"

#include "mend/params.h"
#include "server/b64.c"
#include "server/json_req.c"

#include <jpeglib.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define W 64
#define H 64

/* ---- server process ---------------------------------------------------- */

typedef struct server {
    pid_t pid;
    int port;
} server;

static server servers[2];

static void stop_server(server *sv)
{
    test_serve_stop(&sv->pid);
}

static void stop_all(void)
{
    for (int i = 0; i < 2; i++)
        stop_server(&servers[i]);
}

/* Starts `mend serve --port 0 ARGS...` and reads the port it prints. */
static int start_server(server *sv, const char *const *args)
{
    sv->pid = test_serve_start(args, &sv->port);
    return sv->pid > 0;
}

/* ---- HTTP client --------------------------------------------------------- */

typedef struct reply {
    int status;
    char *head; /* status line and headers */
    char *body;
    cJSON *json;
} reply;

static void reply_free(reply *r)
{
    free(r->head);
    free(r->body);
    cJSON_Delete(r->json);
    memset(r, 0, sizeof *r);
}

/* One request on a fresh connection (Connection: close). extra_headers
 * ends in \r\n or is "". content_length < 0: the body's length. */
static reply http_ex(const server *sv, const char *method, const char *path, const char *body, long long content_length,
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

static reply http(const server *sv, const char *method, const char *path, const char *body)
{
    return http_ex(sv, method, path, body, -1, "");
}

static const cJSON *get(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *v = get(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : -12345;
}

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *v = get(o, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

/* ---- images -------------------------------------------------------------- */


static char *png_b64(const mend_image *img, int data_url)
{
    char *b = srv_png_b64(img, NULL);
    if (!b || !data_url)
        return b;
    char *u = malloc(strlen(b) + 32);
    sprintf(u, "data:image/png;base64,%s", b);
    free(b);
    return u;
}

static char *strdupf(const char *fmt, ...) MEND_PRINTF(1, 2);
static char *strdupf(const char *fmt, ...)
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
static char *jpeg_b64(const mend_image *img)
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

/* ---- unit tests of the helpers ------------------------------------------ */

TEST(base64_round_trip)
{
    const char *texts[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        char *e = srv_b64_encode((const uint8_t *)texts[i], strlen(texts[i]));
        size_t n = 0;
        uint8_t *d = e ? srv_b64_decode(e, strlen(e), &n) : NULL;
        CHECK_MSG(d && n == strlen(texts[i]) && !memcmp(d, texts[i], n), "'%s' -> '%s'", texts[i], e ? e : "");
        free(e);
        free(d);
    }
    size_t n;
    uint8_t *d = srv_b64_decode("Zm9v\nYmFy", 9, &n); /* line breaks are skipped */
    CHECK(d && n == 6 && !memcmp(d, "foobar", 6));
    free(d);
    CHECK(srv_b64_decode("Zm9v*", 5, &n) == NULL);
    CHECK(srv_b64_decode("Zm9vY", 5, &n) == NULL);     /* a dangling character */
    CHECK(srv_b64_decode("Zg==Zg==", 8, &n) == NULL);  /* data after padding */
}

TEST(lenient_coercion)
{
    cJSON *errors = cJSON_CreateArray();
    struct {
        const char *json;
        srv_ftype type;
        int ok;
        double want;
    } cases[] = {
        {"20", SRV_INT, 1, 20},         {"\"20\"", SRV_INT, 1, 20},     {"20.7", SRV_INT, 1, 20},
        {"\" 7 \"", SRV_INT, 1, 7},     {"true", SRV_INT, 1, 1},        {"\"x\"", SRV_INT, 0, 0},
        {"\"2.5\"", SRV_INT, 0, 0},     {"[1]", SRV_INT, 0, 0},         {"1e20", SRV_INT, 0, 0},
        {"\"0.5\"", SRV_FLOAT, 1, 0.5}, {"3", SRV_FLOAT, 1, 3},         {"\"abc\"", SRV_FLOAT, 0, 0},
        {"\"yes\"", SRV_BOOL, 1, 1},    {"\"off\"", SRV_BOOL, 1, 0},    {"1", SRV_BOOL, 1, 1},
        {"2", SRV_BOOL, 0, 0},          {"\"maybe\"", SRV_BOOL, 0, 0},  {"{}", SRV_BOOL, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cJSON *v = cJSON_Parse(cases[i].json);
        union {
            int i;
            float f;
        } out = {0};
        int ok = srv_coerce(v, cases[i].type, "f", &out, errors);
        double got = cases[i].type == SRV_FLOAT ? out.f : out.i;
        CHECK_MSG(ok == cases[i].ok && (!ok || got == cases[i].want), "%s -> ok %d, %g", cases[i].json, ok, got);
        cJSON_Delete(v);
    }
    cJSON *v = cJSON_Parse("12");
    char *s = NULL;
    CHECK(srv_coerce(v, SRV_STR, "prompt", &s, errors) && s && !strcmp(s, "12"));
    free(s);
    cJSON_Delete(v);
    /* one error entry per failed case, FastAPI-shaped */
    CHECK(cJSON_GetArraySize(errors) == 8);
    const cJSON *e = cJSON_GetArrayItem(errors, 0);
    CHECK(!strcmp(str(e, "type"), "type_error.integer") && cJSON_GetArraySize(get(e, "loc")) == 2);
    cJSON_Delete(errors);
}

/* ---- server without a model: bad requests and auth ------------------------ */

static server *bare;

static void expect_error(const char *what, const char *path, const char *body, int status, const char *fragment)
{
    reply r = http(bare, "POST", path, body);
    const cJSON *detail = r.json ? get(r.json, "detail") : NULL;
    char *text = detail ? cJSON_PrintUnformatted(detail) : NULL;
    CHECK_MSG(r.status == status && text && strstr(text, fragment), "%s: %d %s", what, r.status,
              r.body ? r.body : "(no reply)");
    CHECK_MSG(r.head && strstr(r.head, "X-Process-Time: "), "%s: no X-Process-Time", what);
    free(text);
    reply_free(&r);
    /* still up */
    r = http(bare, "GET", "/sdapi/v1/progress", NULL);
    CHECK_MSG(r.status == 200, "%s: server gone afterwards", what);
    reply_free(&r);
}

TEST(bad_requests)
{
    CHECK_MSG(bare != NULL, "no server");
    if (!bare)
        return;
    mend_image init, mask, small;
    test_make_gradient(&init, W, H);
    test_make_square_mask(&mask, W, H);
    test_make_square_mask(&small, 32, 32);
    char *init64 = png_b64(&init, 1), *mask64 = png_b64(&mask, 0), *small64 = png_b64(&small, 0);
    const char *i2i = "/sdapi/v1/img2img", *t2i = "/sdapi/v1/txt2img", *opt = "/sdapi/v1/options";
    expect_error("malformed JSON", i2i, "{\"prompt\": ", 422, "value_error.jsondecode");
    expect_error("not an object", t2i, "[1, 2]", 422, "type_error.dict");
    expect_error("wrong types", t2i, "{\"steps\": \"many\", \"cfg_scale\": [], \"send_images\": \"maybe\"}", 422,
                 "\"loc\":[\"body\",\"steps\"],\"msg\":\"value is not a valid integer\"");
    expect_error("wrong types (bool)", t2i, "{\"send_images\": \"maybe\"}", 422, "type_error.bool");
    expect_error("no init image", i2i, "{\"prompt\": \"x\"}", 404, "Init image not found");
    expect_error("bad base64", i2i, "{\"init_images\": [\"@@@not base64@@@\"]}", 400, "Invalid encoded image");
    expect_error("not an image", i2i, "{\"init_images\": [\"aGVsbG8gd29ybGQ=\"]}", 400, "Invalid encoded image");
    expect_error("URL image", i2i, "{\"init_images\": [\"https://example.com/a.png\"]}", 400, "URL");
    expect_error("init image not a string", i2i, "{\"init_images\": [5]}", 422, "str type expected");
    char *body = strdupf("{\"init_images\": [\"%s\"], \"mask\": \"%s\", \"width\": 64, \"height\": 64}", init64,
                         small64);
    expect_error("mask of another size", i2i, body, 400, "same size");
    free(body);
    /* a JPEG init image decodes (the request then fails only on the mask's size) */
    char *jpeg64 = jpeg_b64(&init);
    body = strdupf("{\"init_images\": [\"data:image/jpeg;base64,%s\"], \"mask\": \"%s\"}", jpeg64, small64);
    expect_error("JPEG init, mask of another size", i2i, body, 400, "is 32x32 but init_images[0] is 64x64");
    free(body);
    free(jpeg64);
    expect_error("width 0", t2i, "{\"width\": 0}", 422, "\"loc\":[\"body\",\"width\"]");
    expect_error("huge width", t2i, "{\"width\": 1000000, \"height\": 64}", 422,
                 "parameter 'width': 1000000 is out of range 64..2048");
    expect_error("denoising strength", i2i, "{\"denoising_strength\": 1.5, \"init_images\": [\"x\"]}", 422,
                 "denoising_strength");
    expect_error("unknown sampler", t2i, "{\"sampler_name\": \"Euler z\", \"width\": 64, \"height\": 64}", 400,
                 "Sampler not found");
    expect_error("unknown scheduler", t2i, "{\"scheduler\": \"Wavy\", \"width\": 64, \"height\": 64}", 400,
                 "Scheduler not found");
    expect_error("unknown script", t2i, "{\"script_name\": \"X/Y/Z plot\"}", 422, "Script 'X/Y/Z plot' not found");
    expect_error("unknown override", t2i, "{\"override_settings\": {\"no_such_option\": 1}}", 400, "no_such_option");
    expect_error("unknown model", opt, "{\"sd_model_checkpoint\": \"nope.safetensors\"}", 404, "not found");
    expect_error("../ in a model name", opt, "{\"sd_model_checkpoint\": \"../models/a.safetensors\"}", 400,
                 "not allowed");
    expect_error("path in a model name", opt, "{\"sd_model_checkpoint\": \"/etc/passwd\"}", 400, "not allowed");
    expect_error("unknown option", opt, "{\"no_such_option\": true}", 400, "no_such_option");
    expect_error("png-info of junk", "/sdapi/v1/png-info", "{\"image\": \"aGVsbG8=\"}", 400, "Invalid encoded image");
    /* a valid request without a model loaded is a clear error, not a crash */
    body = strdupf("{\"init_images\": [\"%s\"], \"mask\": \"%s\", \"width\": 64, \"height\": 64, \"steps\": 2}",
                   init64, mask64);
    expect_error("no model", i2i, body, 503, "no model is loaded");
    free(body);
    /* over the body size limit: announced length, answered before the body is sent */
    reply r = http_ex(bare, "POST", i2i, NULL, (long long)SRV_MAX_BODY + 1, "");
    CHECK_MSG(r.status == 413 && r.json && strstr(str(r.json, "detail"), "limit"), "413: %d %s", r.status,
              r.body ? r.body : "");
    reply_free(&r);
    r = http(bare, "GET", "/sdapi/v1/nothing-here", NULL);
    CHECK(r.status == 404 && !strcmp(str(r.json, "detail"), "Not Found"));
    reply_free(&r);
    r = http(bare, "GET", "/sdapi/v1/img2img", NULL);
    CHECK(r.status == 405);
    reply_free(&r);
    r = http(bare, "GET", "/sdapi/v1/progress", NULL);
    CHECK(r.status == 200);
    reply_free(&r);
    free(init64), free(mask64), free(small64);
    mend_image_free(&init), mend_image_free(&mask), mend_image_free(&small);
}

TEST(basic_auth)
{
    server sv = {0};
    const char *args[] = {"--models-dir", test_tmpdir(), "--api-auth", "alice:s3cret", NULL};
    if (!start_server(&sv, args)) {
        CHECK_MSG(0, "auth server did not start");
        return;
    }
    servers[1] = sv;
    reply r = http(&sv, "GET", "/sdapi/v1/samplers", NULL);
    CHECK_MSG(r.status == 401 && r.head && strstr(r.head, "WWW-Authenticate: Basic"), "%d", r.status);
    reply_free(&r);
    /* base64("alice:wrong") and base64("alice:s3cret") */
    r = http_ex(&sv, "GET", "/sdapi/v1/samplers", NULL, -1, "Authorization: Basic YWxpY2U6d3Jvbmc=\r\n");
    CHECK(r.status == 401);
    reply_free(&r);
    r = http_ex(&sv, "GET", "/sdapi/v1/samplers", NULL, -1, "Authorization: Basic YWxpY2U6czNjcmV0\r\n");
    CHECK(r.status == 200 && cJSON_IsArray(r.json));
    reply_free(&r);
    stop_server(&servers[1]);
}

/* ---- server with models ------------------------------------------------- */

static server *full;

TEST(endpoint_shapes)
{
    CHECK_MSG(full != NULL, "no server");
    if (!full)
        return;
    reply r = http(full, "GET", "/sdapi/v1/sd-models", NULL);
    CHECK(r.status == 200 && cJSON_GetArraySize(r.json) == 2);
    const cJSON *m0 = cJSON_GetArrayItem(r.json, 0);
    CHECK(!strcmp(str(m0, "title"), "a.safetensors") && !strcmp(str(m0, "model_name"), "a") &&
          strstr(str(m0, "filename"), "/models/a.safetensors") && get(m0, "hash"));
    reply_free(&r);
    r = http(full, "GET", "/sdapi/v1/samplers", NULL);
    int found = 0;
    for (const cJSON *e = r.json ? r.json->child : NULL; e; e = e->next)
        found += !strcmp(str(e, "name"), "Euler a") && cJSON_IsArray(get(e, "aliases")) && cJSON_IsObject(get(e, "options"));
    CHECK(r.status == 200 && found == 1 && cJSON_GetArraySize(r.json) == mend_samplers_count());
    reply_free(&r);
    r = http(full, "GET", "/sdapi/v1/schedulers", NULL);
    const cJSON *k = cJSON_GetArrayItem(r.json, 2);
    CHECK(r.status == 200 && cJSON_GetArraySize(r.json) == mend_schedulers_count() && !strcmp(str(k, "label"), "Karras") &&
          !strcmp(str(k, "name"), "karras") && num(k, "default_rho") == 7);
    reply_free(&r);
    r = http(full, "GET", "/sdapi/v1/options", NULL);
    CHECK(r.status == 200 && !strcmp(str(r.json, "sd_model_checkpoint"), "a.safetensors") &&
          num(r.json, "CLIP_stop_at_last_layers") == 1);
    reply_free(&r);
    r = http(full, "GET", "/sdapi/v1/progress?skip_current_image=true", NULL);
    const cJSON *st = get(r.json, "state");
    CHECK(r.status == 200 && num(r.json, "progress") == 0 && num(r.json, "eta_relative") == 0 &&
          num(st, "job_count") == 0 && num(st, "sampling_steps") == 0 && cJSON_IsNull(get(r.json, "current_image")));
    reply_free(&r);
    r = http(full, "POST", "/sdapi/v1/interrupt", "");
    CHECK(r.status == 200 && cJSON_IsObject(r.json) && !r.json->child);
    reply_free(&r);
    r = http(full, "POST", "/sdapi/v1/skip", "");
    CHECK(r.status == 200 && cJSON_IsNull(r.json));
    reply_free(&r);
    r = http(full, "POST", "/sdapi/v1/refresh-checkpoints", "");
    CHECK(r.status == 200 && cJSON_IsNull(r.json));
    reply_free(&r);
}

static int decode_reply_image(const cJSON *images, int i, mend_image *out)
{
    const cJSON *s = cJSON_GetArrayItem(images, i);
    char msg[256];
    return cJSON_IsString(s) && srv_decode_image(s->valuestring, "reply", out, msg, sizeof msg);
}

TEST(inpaint_keeps_unmasked_pixels)
{
    CHECK_MSG(full != NULL, "no server");
    if (!full)
        return;
    mend_image init, mask, got = {0};
    test_make_gradient(&init, W, H);
    test_make_square_mask(&mask, W, H);
    char *init64 = png_b64(&init, 1), *mask64 = png_b64(&mask, 1);
    /* what openOutpaint sends: data URLs, sampler_index only, extra unknown keys */
    char *body = strdupf("{\"init_images\": [\"%s\"], \"mask\": \"%s\", \"prompt\": \"a red hat\", \"mask_blur\": 0,"
                         " \"inpainting_fill\": 1, \"inpaint_full_res\": false, \"denoising_strength\": \"1\","
                         " \"sampler_index\": \"Euler a\", \"steps\": 3, \"cfg_scale\": 7, \"seed\": 1234,"
                         " \"width\": 64, \"height\": 64, \"batch_size\": 2, \"n_iter\": 1,"
                         " \"outpainting_fill\": 2, \"styles\": [], \"scheduler\": \"automatic\"}",
                         init64, mask64);
    reply r = http(full, "POST", "/sdapi/v1/img2img", body);
    CHECK_MSG(r.status == 200, "%d %.300s", r.status, r.body ? r.body : "");
    const cJSON *images = get(r.json, "images");
    CHECK(cJSON_GetArraySize(images) == 2);
    for (int i = 0; i < 2 && decode_reply_image(images, i, &got); i++) {
        CHECK(got.width == W && got.height == H && got.channels == 3);
        int same_outside = 1, changed_inside = 0;
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                int inside = x >= 24 && x < 40 && y >= 24 && y < 40;
                int differs = memcmp(got.data + 3 * (y * W + x), init.data + 3 * (y * W + x), 3) != 0;
                if (!inside && differs)
                    same_outside = 0;
                changed_inside += inside && differs;
            }
        CHECK_MSG(same_outside, "image %d changed pixels outside the mask", i);
        CHECK_MSG(changed_inside > 0, "image %d left the masked area untouched", i);
        mend_image_free(&got);
    }
    cJSON *info = cJSON_Parse(str(r.json, "info"));
    const cJSON *seeds = get(info, "all_seeds");
    CHECK(info && num(info, "seed") == 1234 && cJSON_GetArraySize(seeds) == 2 &&
          cJSON_GetArrayItem(seeds, 1)->valuedouble == 1235 && cJSON_GetArraySize(get(info, "infotexts")) == 2 &&
          !strcmp(str(info, "sampler_name"), "Euler a") && !strcmp(str(info, "sd_model_name"), "a") &&
          strlen(str(info, "job_timestamp")) == 14);
    const cJSON *params = get(r.json, "parameters");
    CHECK(num(params, "steps") == 3 && num(params, "denoising_strength") == 1 && num(params, "mask_blur") == 0 &&
          cJSON_IsNull(get(params, "init_images")) && cJSON_IsNull(get(params, "mask")) &&
          num(params, "inpaint_full_res_padding") == 0 && !strcmp(str(params, "sampler_index"), "Euler a"));
    /* png-info of the returned image reads back the infotext */
    char *pi = strdupf("{\"image\": \"%s\"}", cJSON_IsString(cJSON_GetArrayItem(images, 0))
                                                  ? cJSON_GetArrayItem(images, 0)->valuestring : "");
    reply p = http(full, "POST", "/sdapi/v1/png-info", pi);
    const cJSON *pp = get(p.json, "parameters");
    CHECK_MSG(p.status == 200 && strstr(str(p.json, "info"), "Steps: 3") && !strcmp(str(pp, "Prompt"), "a red hat") &&
                  !strcmp(str(pp, "Steps"), "3") && !strcmp(str(pp, "Size-1"), "64") &&
                  !strcmp(str(pp, "Seed"), "1234") && !strcmp(str(pp, "Sampler"), "Euler a"),
              "%d %.400s", p.status, p.body ? p.body : "");
    reply_free(&p);
    free(pi);
    cJSON_Delete(info);
    reply_free(&r);
    free(body), free(init64), free(mask64);
    mend_image_free(&init), mend_image_free(&mask);
}

typedef struct bg_request {
    const char *path, *body;
    reply r;
    double seconds;
} bg_request;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void *bg_main(void *arg)
{
    bg_request *b = arg;
    double t0 = now_s();
    b->r = http(full, "POST", b->path, b->body);
    b->seconds = now_s() - t0;
    return NULL;
}

/* Polls /progress until sampling_step >= min_step (bounded); returns the last reply's state values. */
static int wait_for_step(int min_step, int want_image, double *progress_seen, int *image_seen)
{
    for (int i = 0; i < 3000; i++) { /* up to ~60 s */
        reply r = http(full, "GET", want_image ? "/sdapi/v1/progress?skip_current_image=false"
                                               : "/sdapi/v1/progress?skip_current_image=true", NULL);
        const cJSON *st = get(r.json, "state");
        int step = (int)num(st, "sampling_step"), count = (int)num(st, "job_count");
        if (progress_seen && count > 0)
            *progress_seen = num(r.json, "progress");
        if (image_seen && cJSON_IsString(get(r.json, "current_image")))
            *image_seen = 1;
        reply_free(&r);
        if (count > 0 && step >= min_step)
            return 1;
        usleep(20000);
    }
    return 0;
}

TEST(progress_moves_during_a_job)
{
    CHECK_MSG(full != NULL, "no server");
    if (!full)
        return;
    bg_request b = {"/sdapi/v1/txt2img", "{\"prompt\": \"slow\", \"steps\": 60, \"width\": 128, \"height\": 128,"
                                         " \"n_iter\": 2, \"seed\": 5}", {0}, 0};
    pthread_t t;
    pthread_create(&t, NULL, bg_main, &b);
    double p1 = -1, p2 = -1;
    int image = 0;
    CHECK(wait_for_step(2, 0, &p1, NULL));
    CHECK(wait_for_step(20, 1, &p2, &image));
    CHECK_MSG(p1 > 0.01 && p2 > p1 && p2 <= 1, "progress %g then %g", p1, p2);
    CHECK_MSG(image, "no current_image while sampling");
    pthread_join(t, NULL);
    CHECK(b.r.status == 200 && cJSON_GetArraySize(get(b.r.json, "images")) == 2);
    reply_free(&b.r);
    reply r = http(full, "GET", "/sdapi/v1/progress", NULL);
    CHECK(num(get(r.json, "state"), "job_count") == 0 && num(r.json, "progress") == 0);
    reply_free(&r);
}

/* Runs a 128x128 job on sv and returns the width of the first live preview
 * seen in /progress (0 when none). */
static int preview_width(server *sv)
{
    server *keep = full;
    full = sv;
    bg_request b = {"/sdapi/v1/txt2img", "{\"prompt\": \"preview\", \"steps\": 30, \"width\": 128, \"height\": 128,"
                                         " \"seed\": 9}", {0}, 0};
    pthread_t t;
    pthread_create(&t, NULL, bg_main, &b);
    int width = 0;
    for (int i = 0; i < 3000 && !width; i++) { /* up to ~60 s */
        reply r = http(sv, "GET", "/sdapi/v1/progress?skip_current_image=false", NULL);
        const cJSON *img = get(r.json, "current_image");
        mend_image pv = {0};
        char msg[256];
        if (cJSON_IsString(img) && srv_decode_image(img->valuestring, "preview", &pv, msg, sizeof msg))
            width = pv.width;
        mend_image_free(&pv);
        reply_free(&r);
        if (!width)
            usleep(20000);
    }
    pthread_join(t, NULL);
    CHECK(b.r.status == 200);
    reply_free(&b.r);
    full = keep;
    return width;
}

TEST(cheap_preview_at_latent_size)
{
    CHECK_MSG(full != NULL, "no server");
    if (full)
        CHECK_MSG(preview_width(full) == 16, "cheap preview of a 128 px job should be 16 px wide");
}

static server *taesd_server;

TEST(taesd_preview_at_full_size)
{
    CHECK_MSG(taesd_server != NULL, "no server with --taesd");
    if (taesd_server)
        CHECK_MSG(preview_width(taesd_server) == 128, "TAESD preview of a 128 px job should be 128 px wide");
}

TEST(interrupt_stops_a_job)
{
    CHECK_MSG(full != NULL, "no server");
    if (!full)
        return;
    bg_request b = {"/sdapi/v1/txt2img", "{\"prompt\": \"long\", \"steps\": 150, \"width\": 128, \"height\": 128,"
                                         " \"n_iter\": 3, \"seed\": 7}", {0}, 0};
    pthread_t t;
    pthread_create(&t, NULL, bg_main, &b);
    CHECK(wait_for_step(2, 0, NULL, NULL));
    double t0 = now_s();
    reply r = http(full, "POST", "/sdapi/v1/interrupt", "");
    CHECK(r.status == 200);
    reply_free(&r);
    pthread_join(t, NULL);
    double after = now_s() - t0;
    /* the first batch is finished from its latest prediction; no further batches run */
    CHECK_MSG(b.r.status == 200 && cJSON_GetArraySize(get(b.r.json, "images")) == 1, "%d, %d images", b.r.status,
              cJSON_GetArraySize(get(b.r.json, "images")));
    cJSON *info = cJSON_Parse(str(b.r.json, "info"));
    CHECK(cJSON_IsTrue(get(info, "interrupted")));
    cJSON_Delete(info);
    CHECK_MSG(after < b.seconds, "interrupt took %.2f s of %.2f", after, b.seconds);
    reply_free(&b.r);
    /* the next job is not interrupted */
    r = http(full, "POST", "/sdapi/v1/txt2img", "{\"steps\": 2, \"width\": 64, \"height\": 64, \"n_iter\": 2}");
    CHECK(r.status == 200 && cJSON_GetArraySize(get(r.json, "images")) == 2);
    reply_free(&r);
}

/* Skip ends the current batch early (from its latest prediction) and the
 * job goes on with the next one: n_iter 2 of 150 steps still returns two
 * images, and the second batch starts long before 150 steps of the first. */
TEST(skip_ends_the_current_batch)
{
    CHECK_MSG(full != NULL, "no server");
    if (!full)
        return;
    bg_request b = {"/sdapi/v1/txt2img", "{\"prompt\": \"long\", \"steps\": 150, \"width\": 128, \"height\": 128,"
                                         " \"n_iter\": 2, \"seed\": 11}", {0}, 0};
    pthread_t t;
    pthread_create(&t, NULL, bg_main, &b);
    CHECK(wait_for_step(2, 0, NULL, NULL));
    reply r = http(full, "POST", "/sdapi/v1/skip", "");
    CHECK(r.status == 200);
    reply_free(&r);
    /* the second batch must start: job_no 1 while the first batch had 150 steps to go */
    int second = 0, first_step_max = 0;
    for (int i = 0; i < 3000 && !second; i++) {
        r = http(full, "GET", "/sdapi/v1/progress?skip_current_image=true", NULL);
        const cJSON *st = get(r.json, "state");
        if ((int)num(st, "job_no") >= 1)
            second = 1;
        else if ((int)num(st, "sampling_step") > first_step_max)
            first_step_max = (int)num(st, "sampling_step");
        reply_free(&r);
        if (!second)
            usleep(20000);
    }
    CHECK_MSG(second && first_step_max < 100, "second batch %s, first batch reached step %d",
              second ? "started" : "never started", first_step_max);
    r = http(full, "POST", "/sdapi/v1/interrupt", ""); /* end the 150-step second batch */
    reply_free(&r);
    pthread_join(t, NULL);
    CHECK_MSG(b.r.status == 200 && cJSON_GetArraySize(get(b.r.json, "images")) == 2, "%d, %d images", b.r.status,
              cJSON_GetArraySize(get(b.r.json, "images")));
    reply_free(&b.r);
}

TEST(model_switch_via_options)
{
    CHECK_MSG(full != NULL, "no server");
    if (!full)
        return;
    reply r = http(full, "POST", "/sdapi/v1/options", "{\"sd_model_checkpoint\": \"b.safetensors\"}");
    CHECK_MSG(r.status == 200 && cJSON_IsNull(r.json), "%d %s", r.status, r.body ? r.body : "");
    reply_free(&r);
    r = http(full, "GET", "/sdapi/v1/options", NULL);
    CHECK(!strcmp(str(r.json, "sd_model_checkpoint"), "b.safetensors"));
    reply_free(&r);
    r = http(full, "POST", "/sdapi/v1/txt2img", "{\"steps\": 2, \"width\": 64, \"height\": 64}");
    cJSON *info = cJSON_Parse(str(r.json, "info"));
    CHECK(r.status == 200 && !strcmp(str(info, "sd_model_name"), "b"));
    CHECK(strstr(str(info, "infotexts") ? cJSON_GetArrayItem(get(info, "infotexts"), 0)->valuestring : "",
                 "Model: b"));
    cJSON_Delete(info);
    reply_free(&r);
    /* by model name, and a failed switch keeps the current model */
    r = http(full, "POST", "/sdapi/v1/options", "{\"sd_model_checkpoint\": \"a\"}");
    CHECK(r.status == 200);
    reply_free(&r);
    r = http(full, "POST", "/sdapi/v1/options", "{\"sd_model_checkpoint\": \"../a\"}");
    CHECK(r.status == 400);
    reply_free(&r);
    r = http(full, "GET", "/sdapi/v1/options", NULL);
    CHECK(!strcmp(str(r.json, "sd_model_checkpoint"), "a.safetensors"));
    reply_free(&r);
}

int main(void)
{
    atexit(stop_all);
    RUN(base64_round_trip);
    RUN(lenient_coercion);
    test_current = "bare server";
    const char *bare_args[] = {"--models-dir", test_tmpdir(), NULL};
    if (start_server(&servers[0], bare_args))
        bare = &servers[0];
    CHECK_MSG(bare != NULL, "mend serve without a model did not start");
    RUN(bad_requests);
    RUN(basic_auth);
    stop_server(&servers[0]);
    bare = NULL;

    const char *vocab = test_shared("clip/bpe_simple_vocab_16e6.txt.gz");
    if (vocab) {
        char dir[1024], cmd[4096];
        snprintf(dir, sizeof dir, "%s/models", test_tmpdir());
        mkdir(dir, 0755);
        snprintf(cmd, sizeof cmd,
                 "'%s' tools make-model --arch sd1 --size tiny --dtype f16 --seed 1 '%s/a.safetensors' && "
                 "'%s' tools make-model --arch sd1 --size tiny --dtype f16 --seed 2 '%s/b.safetensors'",
                 test_mend_bin(), dir, test_mend_bin(), dir);
        CHECK(test_run(cmd, NULL) == 0);
        const char *args[] = {"--models-dir", dir, "--vocab", vocab, NULL};
        if (start_server(&servers[0], args))
            full = &servers[0];
        CHECK_MSG(full != NULL, "mend serve with models did not start");
        RUN(endpoint_shapes);
        RUN(inpaint_keeps_unmasked_pixels);
        RUN(progress_moves_during_a_job);
        RUN(interrupt_stops_a_job);
        RUN(skip_ends_the_current_batch);
        RUN(model_switch_via_options);
        RUN(cheap_preview_at_latent_size);
        const char *taesd = test_shared("taesd");
        if (taesd) {
            stop_server(&servers[0]);
            full = NULL;
            const char *targs[] = {"--models-dir", dir, "--vocab", vocab, "--taesd", taesd, NULL};
            if (start_server(&servers[0], targs))
                taesd_server = &servers[0];
            RUN(taesd_preview_at_full_size);
        }
    }
    stop_all();
    return test_summary();
}
