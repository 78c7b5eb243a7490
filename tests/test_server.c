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
#define I2I "/sdapi/v1/img2img"
#define T2I "/sdapi/v1/txt2img"
#define OPT "/sdapi/v1/options"

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
    /* requests refused with their status and a fragment of the detail */
    static const struct {
        const char *what, *path, *body;
        int status;
        const char *fragment;
    } refused[] = {
        {"malformed JSON", I2I, "{\"prompt\": ", 422, "value_error.jsondecode"},
        {"not an object", T2I, "[1, 2]", 422, "type_error.dict"},
        {"wrong types", T2I, "{\"steps\": \"many\", \"cfg_scale\": [], \"send_images\": \"maybe\"}",
         422, "\"loc\":[\"body\",\"steps\"],\"msg\":\"value is not a valid integer\""},
        {"wrong types (bool)", T2I, "{\"send_images\": \"maybe\"}", 422, "type_error.bool"},
        {"no init image", I2I, "{\"prompt\": \"x\"}", 404, "Init image not found"},
        {"bad base64", I2I, "{\"init_images\": [\"@@@not base64@@@\"]}", 400, "Invalid encoded image"},
        {"not an image", I2I, "{\"init_images\": [\"aGVsbG8gd29ybGQ=\"]}", 400, "Invalid encoded image"},
        {"URL image", I2I, "{\"init_images\": [\"https://example.com/a.png\"]}", 400, "URL"},
        {"init image not a string", I2I, "{\"init_images\": [5]}", 422, "str type expected"},
        {"width 0", T2I, "{\"width\": 0}", 422, "\"loc\":[\"body\",\"width\"]"},
        {"huge width", T2I, "{\"width\": 1000000, \"height\": 64}",
         422, "parameter 'width': 1000000 is out of range 64..8192"},
        {"denoising strength", I2I, "{\"denoising_strength\": 1.5, \"init_images\": [\"x\"]}",
         422, "denoising_strength"},
        {"unknown script", T2I, "{\"script_name\": \"X/Y/Z plot\"}", 422, "Script 'X/Y/Z plot' not found"},
        {"unknown override", T2I, "{\"override_settings\": {\"no_such_option\": 1}}", 400, "no_such_option"},
        {"unknown model", OPT, "{\"sd_model_checkpoint\": \"nope.safetensors\"}", 404, "not found"},
        {"../ in a model name", OPT, "{\"sd_model_checkpoint\": \"../models/a.safetensors\"}", 400, "not allowed"},
        {"path in a model name", OPT, "{\"sd_model_checkpoint\": \"/etc/passwd\"}", 400, "not allowed"},
        {"unknown option", OPT, "{\"no_such_option\": true}", 400, "no_such_option"},
        {"png-info of junk", "/sdapi/v1/png-info", "{\"image\": \"aGVsbG8=\"}", 400, "Invalid encoded image"},
    };
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++)
        expect_error(refused[i].what, refused[i].path, refused[i].body, refused[i].status, refused[i].fragment);
    /* several init images: at most batch_size of them (A1111's "bad number of images passed") */
    char *body = strdupf("{\"init_images\": [\"%s\", \"%s\", \"%s\"], \"batch_size\": 2}", init64, small64, init64);
    expect_error("three init images, batch size 2", I2I, body, 422, "bad number of images passed: 3");
    free(body);
    /* a JPEG init image decodes (the request then fails only on the mask) */
    char *jpeg64 = jpeg_b64(&init);
    body = strdupf("{\"init_images\": [\"data:image/jpeg;base64,%s\"], \"mask\": \"aGVsbG8=\"}", jpeg64);
    expect_error("JPEG init, junk mask", I2I, body, 400, "mask");
    free(body);
    free(jpeg64);
    /* a valid request without a model loaded is a clear error, not a crash */
    body = strdupf("{\"init_images\": [\"%s\"], \"mask\": \"%s\", \"width\": 64, \"height\": 64, \"steps\": 2}",
                   init64, mask64);
    expect_error("no model", I2I, body, 503, "no model is loaded");
    free(body);
    /* over the body size limit: announced length, answered before the body is sent */
    reply r = http_ex(bare, "POST", I2I, NULL, (long long)SRV_MAX_BODY + 1, "", 120);
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
    r = http_ex(&sv, "GET", "/sdapi/v1/samplers", NULL, -1, "Authorization: Basic YWxpY2U6d3Jvbmc=\r\n", 120);
    CHECK(r.status == 401);
    reply_free(&r);
    r = http_ex(&sv, "GET", "/sdapi/v1/samplers", NULL, -1, "Authorization: Basic YWxpY2U6czNjcmV0\r\n", 120);
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
