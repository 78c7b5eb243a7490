/* --max-pixels: the largest input image, checked from its header before a
 * pixel is decoded, in the library (mend_set_max_pixels), the CLI and
 * `mend serve` (413 with A1111's error shape). */
#include "test.h"

#include "io/image.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server_fixture.h"

TEST(pixel_counts_parse)
{
    struct {
        const char *text;
        int64_t want; /* 0: refused */
    } cases[] = {{"4194304", 4194304}, {"64M", 64LL << 20}, {"64m", 64LL << 20}, {"1k", 1024},
                 {"2048x2048", 2048LL * 2048}, {"3X5", 15}, {"", 0}, {"abc", 0}, {"0", 0}, {"-5", 0},
                 {"12q", 0}, {"3x", 0}, {"x3", 0}, {"64M5", 0}, {"0x9", 0}, {"99999999999999", 0}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int64_t got = -1;
        int ok = mend_parse_pixels(cases[i].text, &got);
        CHECK_MSG(ok == (cases[i].want != 0) && (!ok || got == cases[i].want), "'%s': %d, %lld", cases[i].text, ok,
                  (long long)got);
    }
    CHECK(!mend_parse_pixels(NULL, &(int64_t){0}));
}

/* An encoded w x h gradient. */
static uint8_t *encoded(int w, int h, mend_image_format format, size_t *len)
{
    mend_image img = {0};
    mend_err err = {0};
    uint8_t *buf = NULL;
    test_make_gradient(&img, w, h);
    CHECK_OK(mend_image_encode(&img, format, NULL, &buf, len, &err), &err);
    mend_image_free(&img);
    return buf;
}

TEST(decode_refuses_from_the_header)
{
    CHECK(mend_max_pixels() == MEND_DEFAULT_MAX_PIXELS);
    mend_set_max_pixels(64 * 64);
    mend_image_format formats[] = {MEND_FORMAT_PNG, MEND_FORMAT_JPEG, MEND_FORMAT_WEBP};
    for (int k = 0; k < 3; k++) {
        size_t n1, n2;
        uint8_t *fits = encoded(64, 64, formats[k], &n1), *over = encoded(65, 64, formats[k], &n2);
        mend_image img = {0};
        mend_err err = {0};
        CHECK_OK(mend_image_decode(fits, n1, "fits", &img, &err), &err);
        mend_image_free(&img);
        CHECK(mend_image_decode(over, n2, "init_images[0]", &img, &err) == MEND_E_LIMIT);
        CHECK_MSG(strstr(err.msg, "init_images[0]") && strstr(err.msg, "65x64") && strstr(err.msg, "4096"), "%s: %s",
                  mend_image_format_name(formats[k]), err.msg);
        CHECK(img.data == NULL);
        /* the header alone decides: a PNG of 65x64 with its pixel data cut off is still "too large" */
        if (formats[k] == MEND_FORMAT_PNG) {
            mend_err_clear(&err);
            CHECK(mend_image_decode(over, 40, "cut", &img, &err) == MEND_E_LIMIT);
        }
        free(fits);
        free(over);
    }
    mend_set_max_pixels(0);
    CHECK(mend_max_pixels() == MEND_DEFAULT_MAX_PIXELS);
}

static const char *write_png(const char *name, int w, int h)
{
    static char path[3][512];
    static int k;
    char *p = path[k++ % 3];
    snprintf(p, 512, "%s/%s", test_tmpdir(), name);
    mend_image img = {0};
    mend_err err = {0};
    test_make_gradient(&img, w, h);
    CHECK_OK(mend_image_save_png(p, &img, NULL, 0, &err), &err);
    mend_image_free(&img);
    return p;
}

/* The CLI refuses the init image before it loads any model, and a bad
 * value is an error naming the flag. */
TEST(cli_flag)
{
    const char *big = write_png("big.png", 64, 64);
    char cmd[2048], log[600];
    snprintf(log, sizeof log, "%s/cli.log", test_tmpdir());
    snprintf(cmd, sizeof cmd, "'%s' img2img --model /nonexistent/model.safetensors --init '%s' --max-pixels 1000",
             test_mend_bin(), big);
    CHECK(test_run(cmd, log) != 0);
    char *out = test_read_file(log, NULL);
    CHECK_MSG(out && strstr(out, "64x64") && strstr(out, "1000 pixels"), "%s", out ? out : "(no output)");
    free(out);
    snprintf(cmd, sizeof cmd, "'%s' img2img --model m --init '%s' --max-pixels 12q", test_mend_bin(), big);
    CHECK(test_run(cmd, log) == 2);
    out = test_read_file(log, NULL);
    CHECK_MSG(out && strstr(out, "--max-pixels") && strstr(out, "12q"), "%s", out ? out : "(no output)");
    free(out);
}

static char *img2img_body(int w, int h)
{
    size_t n;
    uint8_t *png = encoded(w, h, MEND_FORMAT_PNG, &n);
    char *b64 = png ? srv_b64_encode(png, n) : NULL;
    free(png);
    char *body = b64 ? malloc(strlen(b64) + 64) : NULL;
    if (body)
        sprintf(body, "{\"init_images\": [\"%s\"], \"steps\": 1}", b64);
    free(b64);
    return body;
}

/* serve --max-pixels 1000: a 64x64 init image is 413 naming the limit; a
 * 16x16 one passes the check (and fails later: no model is loaded). */
TEST(serve_flag)
{
    server sv = {0};
    const char *args[] = {"--models-dir", test_tmpdir(), "--max-pixels", "1000", NULL};
    CHECK(start_server(&sv, args));
    if (sv.pid <= 0)
        return;
    char *body = img2img_body(64, 64);
    reply r = http_ex(&sv, "POST", "/sdapi/v1/img2img", body, -1, "", 30);
    CHECK_MSG(r.status == 413 && r.json && r.body && strstr(r.body, "1000 pixels"), "%d %.300s", r.status,
              r.body ? r.body : "");
    reply_free(&r);
    free(body);
    body = img2img_body(16, 16);
    r = http_ex(&sv, "POST", "/sdapi/v1/img2img", body, -1, "", 30);
    CHECK_MSG(r.status != 413 && r.status >= 400 && r.json, "%d %.300s", r.status, r.body ? r.body : "");
    reply_free(&r);
    free(body);
    r = http_ex(&sv, "GET", "/sdapi/v1/progress", NULL, -1, "", 5);
    CHECK_MSG(r.status == 200, "still up: %d", r.status);
    reply_free(&r);
    stop_server(&sv);
    char cmd[1024], log[600];
    snprintf(log, sizeof log, "%s/serve.log", test_tmpdir());
    snprintf(cmd, sizeof cmd, "'%s' serve --port 0 --max-pixels nope", test_mend_bin());
    CHECK(test_run(cmd, log) == 2);
    char *out = test_read_file(log, NULL);
    CHECK_MSG(out && strstr(out, "--max-pixels"), "%s", out ? out : "(no output)");
    free(out);
}

int main(void)
{
    RUN(pixel_counts_parse);
    RUN(decode_refuses_from_the_header);
    RUN(cli_flag);
    RUN(serve_flag);
    return test_summary();
}
