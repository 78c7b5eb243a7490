/* A1111 clients against `mend serve` (issue 11): floats echoed as the
 * number sent, the routes of A1111 1.10 in A1111's response shapes, extras
 * with the model-free upscalers, png-info's filled-in defaults,
 * /openapi.json from the parameter table, sd-models hashes, progress
 * current_task, unload/reload. A server without a model runs the routes
 * that need none; the rest need the CLIP vocabulary from ../shared (a tiny
 * random checkpoint is made here) and are skipped without it. */
#include "test.h"

#include "server_fixture.h"
#include "mend/image.h"
#include "mend/params.h"
#include "mend/png_text.h"

#include "core/sha256.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static server *const bare = &servers[0], *const full = &servers[1];
static char model_path[1024];

/* ---- helpers ----------------------------------------------------------- */

/* A request with extra headers ("" or lines ending in \r\n). */
static reply req(const server *sv, const char *method, const char *path, const char *body, const char *headers)
{
    return http_ex(sv, method, path, body, -1, headers, 120);
}

static char *b64_png(const mend_image *img, const char *parameters)
{
    return srv_png_b64(img, parameters);
}

static char *gradient_b64(int w, int h)
{
    mend_image img = {0};
    test_make_gradient(&img, w, h);
    char *b = b64_png(&img, "a cat\nSteps: 3, Sampler: Euler, Seed: 5, Size: 64x64");
    mend_image_free(&img);
    return b;
}

static int decode_b64_png(const char *b64, mend_image *out)
{
    size_t n = 0;
    uint8_t *bytes = srv_b64_decode(b64, strlen(b64), &n);
    mend_err err = {0};
    int ok = bytes && mend_image_decode(bytes, n, "reply", out, &err) == MEND_OK;
    free(bytes);
    return ok;
}

/* ---- exact floats (no server) ------------------------------------------ */

TEST(float_repr_is_what_the_user_typed)
{
    static const struct {
        float v;
        const char *want; /* Python's repr of the number typed */
    } cases[] = {{0.6f, "0.6"}, {6.6f, "6.6"}, {0.35f, "0.35"}, {1e-3f, "0.001"}, {7.0f, "7.0"},
                 {7.5f, "7.5"}, {1e-5f, "1e-05"}, {0.75f, "0.75"}, {30.0f, "30.0"}, {1e17f, "1e+17"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char buf[64];
        mend_float_repr(cases[i].v, buf, sizeof buf);
        CHECK_MSG(!strcmp(buf, cases[i].want), "%.9g printed as %s, want %s", (double)cases[i].v, buf,
                  cases[i].want);
        CHECK(strtof(buf, NULL) == cases[i].v); /* and it reads back as the same float */
    }
}

/* ---- routes that need no model ------------------------------------------ */

typedef struct shape {
    const char *method, *path, *body;
    int kind;           /* cJSON_Array, cJSON_Object or cJSON_NULL */
    const char *keys;   /* space-separated keys of the object (or of every list element) */
} shape;

static int has_keys(const cJSON *o, const char *keys)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", keys);
    for (char *k = strtok(buf, " "); k; k = strtok(NULL, " "))
        if (!get(o, k))
            return 0;
    return 1;
}

TEST(routes_answer_in_a1111_shapes)
{
    static const shape shapes[] = {
        {"GET", "/sdapi/v1/upscalers", NULL, cJSON_Array, "name model_name model_path model_url scale"},
        {"GET", "/sdapi/v1/latent-upscale-modes", NULL, cJSON_Array, "name"},
        {"GET", "/sdapi/v1/sd-modules", NULL, cJSON_Array, ""},
        {"GET", "/sdapi/v1/sd-vae", NULL, cJSON_Array, ""},
        {"GET", "/sdapi/v1/hypernetworks", NULL, cJSON_Array, ""},
        {"GET", "/sdapi/v1/face-restorers", NULL, cJSON_Array, ""},
        {"GET", "/sdapi/v1/realesrgan-models", NULL, cJSON_Array, ""},
        {"GET", "/sdapi/v1/prompt-styles", NULL, cJSON_Array, "name prompt negative_prompt"},
        {"GET", "/sdapi/v1/embeddings", NULL, cJSON_Object, "loaded skipped"},
        {"GET", "/sdapi/v1/cmd-flags", NULL, cJSON_Object, "port listen ckpt_dir precision no_half api_auth"},
        {"GET", "/sdapi/v1/memory", NULL, cJSON_Object, "ram cuda"},
        {"GET", "/sdapi/v1/scripts", NULL, cJSON_Object, "txt2img img2img"},
        {"GET", "/sdapi/v1/script-info", NULL, cJSON_Array, ""},
        {"GET", "/sdapi/v1/extensions", NULL, cJSON_Array, ""},
        {"POST", "/sdapi/v1/refresh-vae", "{}", cJSON_NULL, ""},
        {"POST", "/sdapi/v1/refresh-embeddings", "{}", cJSON_NULL, ""},
        {"GET", "/sdapi/v1/progress", NULL, cJSON_Object, "progress eta_relative state current_image textinfo current_task"},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
        const shape *sh = &shapes[i];
        reply r = req(bare, sh->method, sh->path, sh->body, "");
        CHECK_MSG(r.status == 200, "%s %s -> %d", sh->method, sh->path, r.status);
        CHECK_MSG(r.json && (r.json->type & 0xFF) == sh->kind, "%s: wrong JSON type: %s", sh->path, r.body);
        if (r.json && sh->kind == cJSON_Array)
            for (const cJSON *e = r.json->child; e; e = e->next)
                CHECK_MSG(has_keys(e, sh->keys), "%s: an element lacks one of '%s'", sh->path, sh->keys);
        if (r.json && sh->kind == cJSON_Object)
            CHECK_MSG(has_keys(r.json, sh->keys), "%s: lacks one of '%s': %s", sh->path, sh->keys, r.body);
        reply_free(&r);
    }
}

TEST(listings_hold_what_mend_has)
{
    reply r = http(bare, "GET", "/sdapi/v1/upscalers", NULL);
    const char *want[] = {"None", "Lanczos", "Nearest"};
    CHECK(cJSON_GetArraySize(r.json) == 3);
    for (int i = 0; i < 3 && cJSON_GetArraySize(r.json) == 3; i++)
        CHECK(!strcmp(str(cJSON_GetArrayItem(r.json, i), "name"), want[i]));
    reply_free(&r);
    r = http(bare, "GET", "/sdapi/v1/memory", NULL);
    const cJSON *ram = get(r.json, "ram");
    double used = cJSON_GetNumberValue(get(ram, "used")), total = cJSON_GetNumberValue(get(ram, "total"));
    CHECK_MSG(used > 1e5 && total > used, "ram %s", r.body);
    CHECK(cJSON_GetNumberValue(get(ram, "free")) == total - used);
    CHECK(!strcmp(str(get(r.json, "cuda"), "error"), "unavailable"));
    reply_free(&r);
    r = http(bare, "GET", "/sdapi/v1/cmd-flags", NULL);
    CHECK(cJSON_GetNumberValue(get(r.json, "port")) == 0); /* started with --port 0 */
    CHECK(!strcmp(str(r.json, "precision"), "full") || !strcmp(str(r.json, "precision"), "autocast"));
    reply_free(&r);
    r = http(bare, "GET", "/sdapi/v1/prompt-styles", NULL); /* the styles.csv of the server's working dir */
    const cJSON *first = cJSON_GetArrayItem(r.json, 0);
    CHECK_MSG(cJSON_GetArraySize(r.json) == 2, "styles: %s", r.body);
    CHECK(!strcmp(str(first, "name"), "Cine, film"));
    CHECK(!strcmp(str(first, "prompt"), "{prompt}, cinematic"));
    CHECK(!strcmp(str(first, "negative_prompt"), "blurry, \"bad\""));
    CHECK(!strcmp(str(cJSON_GetArrayItem(r.json, 1), "negative_prompt"), ""));
    reply_free(&r);
}

/* Two --styles-file: A1111's divider rows (null texts) before each file's styles. */
TEST(several_styles_files_have_dividers)
{
    reply r = http(full, "GET", "/sdapi/v1/prompt-styles", NULL);
    const char *names[] = {"---------------- STYLES ----------------", "Cine, film", "plain",
                           "------------- MORE-STYLES --------------", "Warm"};
    int n = cJSON_GetArraySize(r.json);
    CHECK_MSG(r.status == 200 && n == 5, "%d %.400s", r.status, r.body ? r.body : "");
    for (int i = 0; i < 5 && n == 5; i++) {
        const cJSON *st = cJSON_GetArrayItem(r.json, i);
        int divider = i == 0 || i == 3;
        CHECK_MSG(!strcmp(str(st, "name"), names[i]) && cJSON_IsNull(get(st, "prompt")) == divider &&
                      cJSON_IsNull(get(st, "negative_prompt")) == divider,
                  "style %d: %s", i, str(st, "name"));
    }
    reply_free(&r);
    /* a style of each file in one job */
    r = http(full, "POST", "/sdapi/v1/txt2img",
             "{\"prompt\": \"a cat\", \"styles\": [\"plain\", \"Warm\"], \"steps\": 1, \"width\": 64, \"height\": 64}");
    cJSON *info = cJSON_Parse(str(r.json, "info"));
    const cJSON *all = cJSON_GetArrayItem(get(info, "all_prompts"), 0);
    CHECK_MSG(r.status == 200 && cJSON_IsString(all) && !strcmp(all->valuestring, "a cat, just words, warm light"),
              "%d %.300s", r.status, r.body ? r.body : "");
    cJSON_Delete(info);
    reply_free(&r);
}

typedef struct bad_case {
    const char *path, *body;
    int status;
    const char *needle; /* in the reply body */
} bad_case;

TEST(bad_requests_get_a1111_errors)
{
    char *img = gradient_b64(16, 16);
    char body[4096];
    const bad_case cases[] = {
        {"/sdapi/v1/interrogate", "{}", 404, "Image not found"},
        {"/sdapi/v1/interrogate", "{\"image\": \"x\", \"model\": \"blip\"}", 404, "Model not found"},
        {"/sdapi/v1/interrogate", "{\"image\": \"x\"}", 501, "no clip interrogator"},
        {"/sdapi/v1/extra-single-image", "{\"image\": \"\", \"upscaler_1\": \"Lanczos\"}", 400, "Invalid encoded image"},
        {"/sdapi/v1/extra-single-image", "{\"image\": \"aGVsbG8=\", \"upscaler_1\": \"Lanczos\"}", 400,
         "Invalid encoded image"},
        {"/sdapi/v1/extra-single-image", "{\"image\": \"x\", \"upscaler_1\": \"R-ESRGAN 4x+\"}", 422, "upscaler_1"},
        {"/sdapi/v1/extra-single-image", "{\"image\": \"x\", \"upscaler_2\": 5}", 422, "could not find upscaler"},
        {"/sdapi/v1/extra-single-image", "{\"image\": \"x\", \"upscaling_resize\": 9}", 422, "upscaling_resize"},
        {"/sdapi/v1/extra-single-image", "{\"image\": \"x\", \"resize_mode\": 2}", 422, "resize_mode"},
        {"/sdapi/v1/extra-single-image", "{\"image\": \"x\", \"upscaling_resize_w\": \"wide\"}", 422,
         "upscaling_resize_w"},
        {"/sdapi/v1/extra-single-image", "{\"image\": \"x\", \"gfpgan_visibility\": 0.5}", 422, "face restoration"},
        {"/sdapi/v1/extra-single-image", "[1]", 422, "detail"},
        {"/sdapi/v1/extra-batch-images", "{\"upscaler_1\": \"Lanczos\"}", 422, "imageList"},
        {"/sdapi/v1/extra-batch-images", "{\"imageList\": [{\"name\": \"a.png\"}]}", 422, "imageList"},
        {"/sdapi/v1/server-kill", "{}", 404, "Not Found"}, /* only with --api-server-stop */
        {"/sdapi/v1/unload-checkpoint", NULL, 405, "Method Not Allowed"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        snprintf(body, sizeof body, "%s", cases[i].body);
        reply r = cases[i].status == 405 ? http(bare, "GET", cases[i].path, NULL) : http(bare, "POST", cases[i].path, body);
        CHECK_MSG(r.status == cases[i].status, "%s %s -> %d %s", cases[i].path, body, r.status, r.body);
        CHECK_MSG(r.body && strstr(r.body, cases[i].needle), "%s %s: '%s' not in %s", cases[i].path, body,
                  cases[i].needle, r.body);
        reply_free(&r);
    }
    /* a batch with one bad image among good ones names it */
    snprintf(body, sizeof body, "{\"imageList\": [{\"data\": \"%s\", \"name\": \"a\"}, {\"data\": \"aGk=\", \"name\": "
             "\"b\"}], \"upscaler_1\": \"Nearest\"}", img);
    reply r = http(bare, "POST", "/sdapi/v1/extra-batch-images", body);
    CHECK_MSG(r.status == 400 && strstr(r.body, "imageList[1]"), "%d %s", r.status, r.body);
    reply_free(&r);
    free(img);
}

/* ---- extras ------------------------------------------------------------- */

static cJSON *extras(const char *img, const char *opts, int *status)
{
    size_t n = strlen(img) + strlen(opts) + 64;
    char *body = malloc(n);
    snprintf(body, n, "{\"image\": \"%s\", %s}", img, opts);
    reply r = http(bare, "POST", "/sdapi/v1/extra-single-image", body);
    free(body);
    *status = r.status;
    cJSON *j = r.json;
    r.json = NULL;
    reply_free(&r);
    return j;
}

TEST(extras_upscale_with_the_model_free_upscalers)
{
    mend_image src = {0}, out = {0};
    test_make_gradient(&src, 40, 24);
    char *img = b64_png(&src, "a cat\nSteps: 3, Sampler: Euler, Seed: 5, Size: 40x24");
    int status;
    /* Nearest by 2: every pixel is the source pixel under it */
    cJSON *j = extras(img, "\"upscaler_1\": \"Nearest\", \"upscaling_resize\": 2", &status);
    CHECK(status == 200 && decode_b64_png(str(j, "image"), &out));
    CHECK_MSG(out.width == 80 && out.height == 48, "%dx%d", out.width, out.height);
    int same = out.width == 80 && out.channels == 3;
    for (int y = 0; same && y < out.height; y++)
        for (int x = 0; x < out.width; x++)
            same &= !memcmp(out.data + ((size_t)y * out.width + x) * 3, src.data + ((size_t)(y / 2) * 40 + x / 2) * 3, 3);
    CHECK(same);
    CHECK_MSG(!strcmp(str(j, "html_info"), "<p>Postprocess upscale by: 2.0, Postprocess upscaler: Nearest</p>"),
              "%s", str(j, "html_info"));
    mend_image_free(&out);
    cJSON_Delete(j);
    /* Lanczos by 1.5: 60x36 rounded down to multiples of 8 as A1111 does */
    j = extras(img, "\"upscaler_1\": \"Lanczos\", \"upscaling_resize\": 1.5", &status);
    CHECK(status == 200 && decode_b64_png(str(j, "image"), &out));
    CHECK_MSG(out.width == 56 && out.height == 32, "%dx%d", out.width, out.height);
    mend_image_free(&out);
    cJSON_Delete(j);
    /* resize to 50x20 with crop: exactly that size */
    j = extras(img, "\"upscaler_1\": \"Lanczos\", \"resize_mode\": 1, \"upscaling_resize_w\": 50, "
                    "\"upscaling_resize_h\": 20", &status);
    CHECK(status == 200 && decode_b64_png(str(j, "image"), &out));
    CHECK_MSG(out.width == 50 && out.height == 20, "%dx%d", out.width, out.height);
    CHECK(strstr(str(j, "html_info"), "Postprocess crop to: 50x20") != NULL);
    mend_image_free(&out);
    cJSON_Delete(j);
    /* None: the pixels come back untouched, the infotext kept */
    j = extras(img, "\"upscaler_1\": \"None\"", &status);
    CHECK(status == 200 && decode_b64_png(str(j, "image"), &out));
    CHECK(out.width == 40 && out.height == 24 && !memcmp(out.data, src.data, (size_t)40 * 24 * 3));
    size_t n = 0;
    uint8_t *png = srv_b64_decode(str(j, "image"), strlen(str(j, "image")), &n);
    mend_png_text_list l = {0};
    mend_err err = {0};
    CHECK(png && mend_png_text_read_buffer(png, n, "reply", MEND_PNG_CRC_CHECK, &l, &err) == MEND_OK);
    CHECK(mend_png_text_get(&l, "parameters") && strstr(mend_png_text_get(&l, "parameters"), "Size: 40x24"));
    mend_png_text_list_free(&l);
    free(png);
    mend_image_free(&out);
    cJSON_Delete(j);
    free(img);
    mend_image_free(&src);
}

TEST(extras_batch_returns_one_image_each)
{
    char *a = gradient_b64(16, 16), *b = gradient_b64(24, 8);
    size_t n = strlen(a) + strlen(b) + 256;
    char *body = malloc(n);
    snprintf(body, n, "{\"imageList\": [{\"data\": \"%s\", \"name\": \"a.png\"}, {\"data\": \"%s\", \"name\": "
             "\"b.png\"}], \"upscaler_1\": \"Lanczos\", \"upscaling_resize\": 2}", a, b);
    reply r = http(bare, "POST", "/sdapi/v1/extra-batch-images", body);
    CHECK_MSG(r.status == 200 && cJSON_GetArraySize(get(r.json, "images")) == 2, "%d %.300s", r.status, r.body);
    const int want[2][2] = {{32, 32}, {48, 16}};
    for (int i = 0; i < 2 && r.status == 200; i++) {
        mend_image out = {0};
        CHECK(decode_b64_png(cJSON_GetArrayItem(get(r.json, "images"), i)->valuestring, &out));
        CHECK_MSG(out.width == want[i][0] && out.height == want[i][1], "%d: %dx%d", i, out.width, out.height);
        mend_image_free(&out);
    }
    reply_free(&r);
    free(body);
    free(a);
    free(b);
}

/* ---- png-info ----------------------------------------------------------- */

TEST(png_info_fills_a1111_defaults)
{
    mend_image img = {0};
    test_make_gradient(&img, 8, 8);
    const char *text = "a cat\nNegative prompt: a dog\nSteps: 20, Sampler: Euler a, CFG scale: 6.6, Seed: 1, "
                       "Size: 512x768, Masked content: latent noise, Comment: \"a, b: c\"";
    char *b = b64_png(&img, text);
    char *body = malloc(strlen(b) + 32);
    sprintf(body, "{\"image\": \"%s\"}", b);
    reply r = http(bare, "POST", "/sdapi/v1/png-info", body);
    const cJSON *p = get(r.json, "parameters");
    CHECK_MSG(r.status == 200 && !strcmp(str(r.json, "info"), text), "%d %s", r.status, r.body);
    static const char *const want[][2] = {
        {"Prompt", "a cat"}, {"Negative prompt", "a dog"}, {"CFG scale", "6.6"}, {"Size-1", "512"},
        {"Size-2", "768"}, {"Comment", "a, b: c"}, {"Masked content", "latent noise"}, /* given: not replaced */
        {"Clip skip", "1"}, {"Hires sampler", "Use same sampler"}, {"Mask mode", "Inpaint masked"},
        {"Inpaint area", "Whole picture"}, {"RNG", "GPU"}, {"Schedule type", "Automatic"}, {"VAE Encoder", "Full"},
        {"FP8 weight", "Disable"}, {"Hires prompt", ""}};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        CHECK_MSG(!strcmp(str(p, want[i][0]), want[i][1]), "%s = '%s', want '%s'", want[i][0],
                  str(p, want[i][0]), want[i][1]);
    /* the defaults A1111 puts in as numbers stay numbers */
    CHECK(cJSON_GetNumberValue(get(p, "Masked area padding")) == 32);
    CHECK(cJSON_IsNumber(get(p, "Hires resize-1")) && cJSON_IsNumber(get(p, "Hires resize-2")));
    CHECK(cJSON_IsFalse(get(p, "Refiner switch by sampling steps")));
    reply_free(&r);
    free(body);
    free(b);
    /* no infotext: A1111 still parses "" and fills the defaults */
    b = b64_png(&img, NULL);
    body = malloc(strlen(b) + 32);
    sprintf(body, "{\"image\": \"%s\"}", b);
    r = http(bare, "POST", "/sdapi/v1/png-info", body);
    p = get(r.json, "parameters");
    CHECK(r.status == 200 && !strcmp(str(p, "Prompt"), "") && !strcmp(str(p, "Clip skip"), "1"));
    reply_free(&r);
    free(body);
    free(b);
    mend_image_free(&img);
}

/* ---- openapi ------------------------------------------------------------ */

TEST(openapi_comes_from_the_routes_and_the_table)
{
    reply r = http(bare, "GET", "/openapi.json", NULL);
    const cJSON *paths = get(r.json, "paths");
    CHECK_MSG(r.status == 200 && paths, "%d", r.status);
    const char *need[] = {"/sdapi/v1/txt2img", "/sdapi/v1/img2img", "/sdapi/v1/upscalers",
                          "/sdapi/v1/extra-single-image", "/sdapi/v1/progress", "/sdapi/v1/png-info"};
    for (size_t i = 0; i < sizeof need / sizeof *need; i++)
        CHECK_MSG(get(paths, need[i]) != NULL, "%s missing", need[i]);
    CHECK(get(get(paths, "/sdapi/v1/options"), "get") && get(get(paths, "/sdapi/v1/options"), "post"));
    CHECK(!get(paths, "/sdapi/v1/server-kill")); /* not without --api-server-stop */
    const cJSON *schemas = get(get(r.json, "components"), "schemas");
    for (int img2img = 0; img2img < 2; img2img++) {
        const cJSON *props = get(get(schemas, img2img ? "StableDiffusionImg2ImgProcessingAPI"
                                                             : "StableDiffusionTxt2ImgProcessingAPI"), "properties");
        CHECK(props != NULL);
        /* every API field of the table, with its type and range */
        for (int i = 0; props && i < mend_param_count(); i++) {
            const mend_param_desc *d = mend_param_at(i);
            if (!d->api_key || (d->flags & (MEND_PARAM_SETTING | MEND_PARAM_API_CUSTOM)) ||
                !mend_param_scope_applies(d->scope, img2img, img2img))
                continue;
            const cJSON *p = get(props, d->api_key);
            CHECK_MSG(p != NULL, "%s missing from the schema", d->api_key);
            if (p && (d->type == MEND_PARAM_INT || d->type == MEND_PARAM_FLOAT) && d->max > d->min &&
                !(d->flags & MEND_PARAM_NO_CHECK)) {
                CHECK_MSG(cJSON_GetNumberValue(get(p, "minimum")) == d->min, "%s minimum", d->api_key);
                CHECK_MSG(cJSON_GetNumberValue(get(p, "maximum")) == d->max, "%s maximum", d->api_key);
                CHECK(!strcmp(str(p, "type"), d->type == MEND_PARAM_INT ? "integer" : "number"));
                CHECK_MSG(!cJSON_IsNumber(get(p, "default")) ||
                              cJSON_GetNumberValue(get(p, "default")) == (double)(float)d->api_default ||
                              cJSON_GetNumberValue(get(p, "default")) == d->api_default,
                          "%s default", d->api_key);
            }
        }
        CHECK(props && get(props, "sampler_name") && get(props, "override_settings"));
        CHECK(props && (get(props, "init_images") != NULL) == img2img);
    }
    reply_free(&r);
    r = http(bare, "GET", "/docs", NULL);
    char ct[128] = "";
    CHECK(r.status == 200 && reply_header(&r, "Content-Type", ct, sizeof ct) && strstr(ct, "text/html"));
    CHECK(r.body && strstr(r.body, "/openapi.json") && !strstr(r.body, "https://"));
    reply_free(&r);
}

/* ---- with a model --------------------------------------------------------- */

/* A float field sent as typed comes back as typed in `parameters`, in
 * `info` and in the infotext. */
typedef struct float_case {
    const char *field, *sent, *python, *infotext_key;
    int img2img;
} float_case;

TEST(floats_come_back_as_sent)
{
    static const float_case cases[] = {
        {"cfg_scale", "6.6", "6.6", "CFG scale", 0},          {"cfg_scale", "7", "7.0", "CFG scale", 0},
        {"cfg_scale", "7.5", "7.5", "CFG scale", 0},          {"subseed_strength", "0.35", "0.35", "Variation seed strength", 0},
        {"subseed_strength", "1e-3", "0.001", "Variation seed strength", 0},
        {"denoising_strength", "0.6", "0.6", "Denoising strength", 1},
    };
    char *init = gradient_b64(64, 64);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const float_case *c = &cases[i];
        size_t n = strlen(init) + 512;
        char *body = malloc(n);
        snprintf(body, n, "{\"prompt\": \"x\", \"steps\": 1, \"width\": 64, \"height\": 64, \"%s\": %s%s%s%s}",
                 c->field, c->sent, c->img2img ? ", \"init_images\": [\"" : "", c->img2img ? init : "",
                 c->img2img ? "\"]" : "");
        reply r = http(full, "POST", c->img2img ? "/sdapi/v1/img2img" : "/sdapi/v1/txt2img", body);
        CHECK_MSG(r.status == 200, "%s=%s -> %d %.300s", c->field, c->sent, r.status, r.body);
        char want_json[64], want_text[96];
        snprintf(want_json, sizeof want_json, "\"%s\":%s", c->field, c->python);
        snprintf(want_text, sizeof want_text, "%s: %s,", c->infotext_key, c->python);
        /* the raw text, since a JSON parser would hide 0.6000000238418579 vs 0.6 */
        const char *params = r.body ? strstr(r.body, "\"parameters\"") : NULL;
        CHECK_MSG(params && strstr(params, want_json), "parameters lack %s", want_json);
        const char *info = str(r.json, "info");
        CHECK_MSG(strstr(info, want_json), "info lacks %s: %.300s", want_json, info);
        cJSON *ij = cJSON_Parse(info);
        const char *it = cJSON_GetStringValue(cJSON_GetArrayItem(get(ij, "infotexts"), 0));
        CHECK_MSG(it && strstr(it, want_text), "infotext lacks '%s': %s", want_text, it ? it : "(none)");
        cJSON_Delete(ij);
        reply_free(&r);
        free(body);
    }
    free(init);
}

TEST(sd_models_lists_the_hash_of_the_loaded_model)
{
    char hex[65];
    mend_err err = {0};
    CHECK_OK(mend_sha256_file(model_path, hex, &err), &err);
    reply r = http(full, "GET", "/sdapi/v1/sd-models", NULL);
    const cJSON *m = cJSON_GetArrayItem(r.json, 0);
    CHECK_MSG(!strcmp(str(m, "sha256"), hex), "sha256 %s, want %s", str(m, "sha256"), hex);
    CHECK(strlen(str(m, "hash")) == 10 && !strncmp(str(m, "hash"), hex, 10));
    reply_free(&r);
    /* the infotext's Model hash is the same short hash */
    r = http(full, "POST", "/sdapi/v1/txt2img", "{\"prompt\": \"x\", \"steps\": 1, \"width\": 64, \"height\": 64}");
    char want[32];
    snprintf(want, sizeof want, "Model hash: %.10s", hex);
    CHECK_MSG(r.status == 200 && strstr(str(r.json, "info"), want), "%d", r.status);
    reply_free(&r);
}

typedef struct bg_post {
    const server *sv;
    const char *path, *body;
    reply r;
} bg_post;

static void *post_thread(void *arg)
{
    bg_post *b = arg;
    b->r = http(b->sv, "POST", b->path, b->body);
    return NULL;
}

TEST(progress_names_the_current_task)
{
    reply r = http(full, "GET", "/sdapi/v1/progress", NULL);
    CHECK(cJSON_IsNull(get(r.json, "current_task")));
    reply_free(&r);
    bg_post b = {full, "/sdapi/v1/txt2img",
                 "{\"prompt\": \"x\", \"steps\": 150, \"width\": 64, \"height\": 64, \"force_task_id\": \"task(abc)\"}",
                 {0}};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, post_thread, &b) == 0);
    int seen = 0;
    for (int i = 0; i < 600 && !seen; i++) { /* up to 60 s */
        usleep(100 * 1000);
        r = http(full, "GET", "/sdapi/v1/progress?skip_current_image=true", NULL);
        seen = !strcmp(str(r.json, "current_task"), "task(abc)");
        reply_free(&r);
    }
    CHECK_MSG(seen, "current_task never showed the forced task id");
    reply stop = http(full, "POST", "/sdapi/v1/interrupt", "{}");
    reply_free(&stop);
    pthread_join(t, NULL);
    CHECK(b.r.status == 200);
    reply_free(&b.r);
}

TEST(unload_and_reload_the_checkpoint)
{
    const char *gen = "{\"prompt\": \"x\", \"steps\": 1, \"width\": 64, \"height\": 64}";
    reply r = http(full, "POST", "/sdapi/v1/unload-checkpoint", "{}");
    CHECK(r.status == 200 && cJSON_IsObject(r.json) && !r.json->child);
    reply_free(&r);
    r = http(full, "POST", "/sdapi/v1/txt2img", gen);
    CHECK_MSG(r.status == 503, "generation without a model -> %d", r.status);
    reply_free(&r);
    r = http(full, "POST", "/sdapi/v1/reload-checkpoint", "{}");
    CHECK(r.status == 200 && cJSON_IsObject(r.json));
    reply_free(&r);
    r = http(full, "POST", "/sdapi/v1/txt2img", gen);
    CHECK_MSG(r.status == 200, "after reload -> %d %.200s", r.status, r.body);
    reply_free(&r);
}

/* ---- main ----------------------------------------------------------------- */

/* The server's working directory holds an A1111 styles.csv (quotes,
 * commas, a commented-out row, a row without a negative prompt). */
static void write_styles(const char *dir)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/styles.csv", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return;
    fputs("name,prompt,negative_prompt\r\n\"Cine, film\",\"{prompt}, cinematic\",\"blurry, \"\"bad\"\"\"\r\n"
          "#off,a,b\r\nplain,just words\r\n",
          f);
    fclose(f);
}

int main(void)
{
    RUN(float_repr_is_what_the_user_typed);
    char dir[1024], cwd[1024];
    snprintf(dir, sizeof dir, "%s/serve", test_tmpdir());
    mkdir(dir, 0755);
    write_styles(dir);
    char *bin = realpath(test_mend_bin(), NULL); /* still found from the other directory */
    if (bin)
        setenv("MEND_BIN", bin, 1);
    free(bin);
    if (!getcwd(cwd, sizeof cwd) || chdir(dir) != 0)
        return 1;
    int bare_up = start_server(bare, NULL);
    CHECK_MSG(bare_up, "mend serve without a model did not start");
    if (chdir(cwd) != 0)
        return 1;
    if (bare_up) {
        RUN(routes_answer_in_a1111_shapes);
        RUN(listings_hold_what_mend_has);
        RUN(bad_requests_get_a1111_errors);
        RUN(extras_upscale_with_the_model_free_upscalers);
        RUN(extras_batch_returns_one_image_each);
        RUN(png_info_fills_a1111_defaults);
        RUN(openapi_comes_from_the_routes_and_the_table);
    }
    stop_server(bare);
    const char *vocab = test_shared("clip/bpe_simple_vocab_16e6.txt.gz");
    if (vocab) {
        snprintf(model_path, sizeof model_path, "%s/m.safetensors", test_tmpdir());
        CHECK(test_make_tiny_model(model_path, 3));
        char styles[1100], more[1100];
        snprintf(styles, sizeof styles, "%s/styles.csv", dir);
        snprintf(more, sizeof more, "%s/more-styles.csv", test_tmpdir());
        CHECK(test_write_text(more, "name,prompt,negative_prompt\nWarm,warm light,\n"));
        const char *args[] = {"--model", model_path, "--vocab", vocab, "--styles-file", styles, "--styles-file", more, NULL};
        int full_up = start_server(full, args);
        CHECK_MSG(full_up, "mend serve with a model did not start");
        if (full_up) {
            RUN(floats_come_back_as_sent);
            RUN(sd_models_lists_the_hash_of_the_loaded_model);
            RUN(progress_names_the_current_task);
            RUN(unload_and_reload_the_checkpoint);
            RUN(several_styles_files_have_dividers);
        }
        stop_server(full);
    }
    return test_summary();
}
