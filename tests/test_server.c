/* `mend serve` end to end, without a model: every bad request (and auth)
 * is refused the way A1111 refuses it, and the server stays up; the base64
 * and coercion helpers are unit-tested directly. The server runs as a
 * child process (server_fixture.c). With models: test_server_jobs.c. */
#include "server_fixture.h"

#include "mend/params.h"
#include "server/json_req.c"

#include <string.h>

#define W 64
#define H 64

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
                 "parameter 'width': 1000000 is out of range 64..8192");
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
    stop_all();
    return test_summary();
}
