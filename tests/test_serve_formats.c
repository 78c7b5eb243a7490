/* `mend serve` and A1111's samples_format option: returned (base64) and
 * saved images in PNG, JPEG or WebP, each with its infotext where A1111
 * puts it, which /sdapi/v1/png-info reads back; an unknown value falls
 * back to PNG. Needs the tiny model and the CLIP vocabulary of ../shared. */
#include "test.h"


#include <dirent.h>
#include <string.h>

#include "server_fixture.h"

/* One request with Connection: close and a timeout of `seconds`. */
static reply request(const server *sv, const char *method, const char *path, const char *body, int seconds)
{
    return http_ex(sv, method, path, body, -1, "", seconds);
}

/* The server answers /progress (it survived what came before). */
static int still_up(const server *sv)
{
    reply r = request(sv, "GET", "/sdapi/v1/progress", NULL, 5);
    int ok = r.status == 200;
    reply_free(&r);
    return ok;
}

static server sv;
static char outputs[600];

/* Count of files under outputs/txt2img-images/<date>/ ending in `ext`. */
static int saved_with(const char *ext)
{
    char dir[700];
    snprintf(dir, sizeof dir, "%s/txt2img-images", outputs);
    DIR *top = opendir(dir);
    int n = 0;
    for (struct dirent *d; top && (d = readdir(top));) {
        if (d->d_name[0] == '.')
            continue;
        char sub[1000];
        snprintf(sub, sizeof sub, "%s/%s", dir, d->d_name);
        DIR *day = opendir(sub);
        for (struct dirent *f; day && (f = readdir(day));) {
            size_t l = strlen(f->d_name), e = strlen(ext);
            n += l > e && !strcmp(f->d_name + l - e, ext);
        }
        if (day)
            closedir(day);
    }
    if (top)
        closedir(top);
    return n;
}

/* Sets samples_format, generates one saved image; returns its bytes. */
static uint8_t *generate_in(const char *format, size_t *n)
{
    char body[256];
    snprintf(body, sizeof body, "{\"samples_format\": \"%s\"}", format);
    reply r = request(&sv, "POST", "/sdapi/v1/options", body, 30);
    CHECK_MSG(r.status == 200, "options: %d %.200s", r.status, r.body ? r.body : "");
    reply_free(&r);
    r = request(&sv, "POST", "/sdapi/v1/txt2img",
                "{\"prompt\": \"a blue door\", \"steps\": 1, \"width\": 64, \"height\": 64, \"seed\": 9, "
                "\"save_images\": true}",
                120);
    const cJSON *images = r.json ? cJSON_GetObjectItemCaseSensitive(r.json, "images") : NULL;
    const cJSON *first = images ? cJSON_GetArrayItem(images, 0) : NULL;
    uint8_t *bytes = NULL;
    if (cJSON_IsString(first))
        bytes = srv_b64_decode(first->valuestring, strlen(first->valuestring), n);
    CHECK_MSG(r.status == 200 && bytes, "%s: %d %.200s", format, r.status, r.body ? r.body : "");
    reply_free(&r);
    return bytes;
}

/* /sdapi/v1/png-info on the bytes: its "info" text. */
static char *png_info(const uint8_t *bytes, size_t n)
{
    char *b64 = srv_b64_encode(bytes, n), *body = malloc(strlen(b64) + 32);
    sprintf(body, "{\"image\": \"%s\"}", b64);
    reply r = request(&sv, "POST", "/sdapi/v1/png-info", body, 30);
    const cJSON *info = r.json ? cJSON_GetObjectItemCaseSensitive(r.json, "info") : NULL;
    char *text = cJSON_IsString(info) ? strdup(info->valuestring) : NULL;
    CHECK_MSG(r.status == 200, "png-info: %d %.200s", r.status, r.body ? r.body : "");
    reply_free(&r);
    free(body);
    free(b64);
    return text;
}

TEST(samples_format_for_returned_and_saved_images)
{
    static const struct {
        const char *option, *magic, *ext;
    } cases[] = {{"jpg", "\xff\xd8\xff", ".jpg"}, {"webp", "RIFF", ".webp"}, {"png", "\x89PNG", ".png"},
                 {"JPEG", "\xff\xd8\xff", ".jpg"}, {"tiff", "\x89PNG", ".png"}};
    int saved[3] = {0, 0, 0};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t n = 0;
        uint8_t *bytes = generate_in(cases[i].option, &n);
        if (!bytes)
            continue;
        CHECK_MSG(n > 8 && !memcmp(bytes, cases[i].magic, strlen(cases[i].magic)), "%s: not %s bytes",
                  cases[i].option, cases[i].ext);
        char *info = png_info(bytes, n);
        CHECK_MSG(info && strstr(info, "a blue door\nSteps: 1,") && strstr(info, "Seed: 9,"), "%s: %s",
                  cases[i].option, info ? info : "(no info)");
        free(info);
        free(bytes);
        int k = !strcmp(cases[i].ext, ".jpg") ? 0 : !strcmp(cases[i].ext, ".webp") ? 1 : 2;
        saved[k]++;
        CHECK_MSG(saved_with(cases[i].ext) == saved[k], "%s: %d files %s saved, expected %d", cases[i].option,
                  saved_with(cases[i].ext), cases[i].ext, saved[k]);
    }
}

/* override_settings.samples_format applies to that request alone. */
TEST(override_settings_format)
{
    size_t n = 0;
    uint8_t *png = generate_in("png", &n);
    free(png);
    int webp_before = saved_with(".webp");
    reply r = request(&sv, "POST", "/sdapi/v1/txt2img",
                      "{\"prompt\": \"a blue door\", \"steps\": 1, \"width\": 64, \"height\": 64, \"save_images\": "
                      "true, \"override_settings\": {\"samples_format\": \"webp\"}}",
                      120);
    const cJSON *first = r.json ? cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r.json, "images"), 0) : NULL;
    uint8_t *bytes = cJSON_IsString(first) ? srv_b64_decode(first->valuestring, strlen(first->valuestring), &n) : NULL;
    CHECK_MSG(r.status == 200 && bytes && n > 12 && !memcmp(bytes, "RIFF", 4), "%d %.200s", r.status,
              r.body ? r.body : "");
    CHECK(saved_with(".webp") == webp_before + 1);
    free(bytes);
    reply_free(&r);
    r = request(&sv, "GET", "/sdapi/v1/options", NULL, 30);
    const cJSON *opt = r.json ? cJSON_GetObjectItemCaseSensitive(r.json, "samples_format") : NULL;
    CHECK_MSG(cJSON_IsString(opt) && !strcmp(opt->valuestring, "png"), "samples_format after: %s",
              cJSON_IsString(opt) ? opt->valuestring : "(none)");
    reply_free(&r);
}

int main(void)
{
    const char *vocab = test_shared("clip/bpe_simple_vocab_16e6.txt.gz");
    const char *model = vocab ? test_shared("models/tiny-sd1.f16.safetensors") : NULL;
    if (!model)
        return test_summary();
    snprintf(outputs, sizeof outputs, "%s/outputs", test_tmpdir());
    const char *args[] = {"--model", model, "--vocab", vocab, "--outputs", outputs, NULL};
    CHECK(start_server(&sv, args));
    if (sv.pid > 0) {
        RUN(samples_format_for_returned_and_saved_images);
        RUN(override_settings_format);
        CHECK(still_up(&sv));
        stop_server(&sv);
    }
    return test_summary();
}
