/* Generation fields A1111 accepts (issue 11 item 2), against `mend serve`
 * with two tiny random checkpoints: override_settings and
 * override_settings_restore_afterwards seen through /sdapi/v1/options,
 * the `infotext` field (what A1111 1.10's apply_infotext pastes on txt2img
 * and on img2img), `styles` from the server's styles.csv, `tiling`, the
 * txt2img hires fix (enable_hr and its hr_* fields), masks
 * of another size than the image, several init_images; each with its bad
 * inputs.
 * Needs the CLIP vocabulary from ../shared (skipped without it). */
#include "test.h"

#include "server_fixture.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define W 64
#define H 64

static server *const sv = &servers[0];

/* ---- helpers ----------------------------------------------------------- */

static cJSON *info_of(const reply *r)
{
    return cJSON_Parse(str(r->json, "info"));
}

static const char *infotext0(const cJSON *info)
{
    const cJSON *t = cJSON_GetArrayItem(get(info, "infotexts"), 0);
    return cJSON_IsString(t) ? t->valuestring : "";
}

static void options_are(const char *model, int clip_skip)
{
    reply r = http(sv, "GET", "/sdapi/v1/options", NULL);
    CHECK_MSG(r.status == 200 && !strcmp(str(r.json, "sd_model_checkpoint"), model) &&
                  num(r.json, "CLIP_stop_at_last_layers") == clip_skip,
              "options: want %s / clip skip %d: %.300s", model, clip_skip, r.body ? r.body : "");
    reply_free(&r);
}

/* txt2img of 1 step at 64x64 with extra fields ("" or starting with ","); the reply. */
static reply txt2img(const char *extra)
{
    char *body = strdupf("{\"prompt\": \"x\", \"steps\": 1, \"width\": 64, \"height\": 64%s}", extra);
    reply r = http(sv, "POST", "/sdapi/v1/txt2img", body);
    free(body);
    return r;
}

/* The model a job ran with, and whether its infotext has `needle`. */
static void ran_with(const char *extra, const char *model, const char *needle)
{
    reply r = txt2img(extra);
    cJSON *info = info_of(&r);
    CHECK_MSG(r.status == 200 && !strcmp(str(info, "sd_model_name"), model) && strstr(infotext0(info), needle),
              "%s: want model %s and '%s': %d %.300s", extra, model, needle, r.status, r.body ? r.body : "");
    cJSON_Delete(info);
    reply_free(&r);
}

/* A 4xx in one of A1111's shapes whose text names `field`. */
static void refused(const char *path, const char *body, int status, const char *field)
{
    reply r = http(sv, "POST", path, body);
    CHECK_MSG(r.status == status && r.body && strstr(r.body, field) && (get(r.json, "detail") || get(r.json, "error")),
              "%.120s -> %d %.300s (want %d naming %s)", body, r.status, r.body ? r.body : "", status, field);
    reply_free(&r);
}

static int decode_image(const cJSON *images, int i, mend_image *out)
{
    const cJSON *s = cJSON_GetArrayItem(images, i);
    size_t n = 0;
    uint8_t *bytes = cJSON_IsString(s) ? srv_b64_decode(s->valuestring, strlen(s->valuestring), &n) : NULL;
    mend_err err = {0};
    int ok = bytes && mend_image_decode(bytes, n, "reply", out, &err) == MEND_OK;
    free(bytes);
    return ok;
}

/* ---- override_settings --------------------------------------------------- */

TEST(override_settings_are_restored_afterwards)
{
    options_are("a.safetensors", 1);
    const char *ov = ", \"override_settings\": {\"sd_model_checkpoint\": \"b\", \"CLIP_stop_at_last_layers\": 2}";
    ran_with(ov, "b", "Clip skip: 2");
    options_are("a.safetensors", 1); /* restored (the default) */
    /* b is still loaded: naming it in the options takes it without a reload */
    reply r = http(sv, "POST", "/sdapi/v1/options", "{\"sd_model_checkpoint\": \"b\"}");
    CHECK(r.status == 200);
    reply_free(&r);
    options_are("b.safetensors", 1);
    ran_with("", "b", "Model: b");
    r = http(sv, "POST", "/sdapi/v1/options", "{\"sd_model_checkpoint\": \"a\"}");
    reply_free(&r);
    ran_with(ov, "b", "Clip skip: 2");
    options_are("a.safetensors", 1);
    ran_with("", "a", "Model: a");   /* and the next job runs with the options' model again */
    char *keep = strdupf("%s, \"override_settings_restore_afterwards\": false", ov);
    ran_with(keep, "b", "Clip skip: 2");
    free(keep);
    options_are("b.safetensors", 2); /* kept */
    ran_with("", "b", "Clip skip: 2");
    r = http(sv, "POST", "/sdapi/v1/options", "{\"sd_model_checkpoint\": \"a\", \"CLIP_stop_at_last_layers\": 1}");
    CHECK(r.status == 200);
    reply_free(&r);
    options_are("a.safetensors", 1);
}

/* A1111's own test_options_write: a UI option written and read back. */
TEST(ui_options_are_kept)
{
    reply r = http(sv, "GET", "/sdapi/v1/options", NULL);
    CHECK_MSG(r.status == 200 && cJSON_IsTrue(get(r.json, "send_seed")) && cJSON_IsTrue(get(r.json, "send_size")),
              "%.300s", r.body ? r.body : "");
    reply_free(&r);
    r = http(sv, "POST", "/sdapi/v1/options", "{\"send_seed\": false}");
    CHECK(r.status == 200);
    reply_free(&r);
    r = http(sv, "GET", "/sdapi/v1/options", NULL);
    CHECK(r.status == 200 && cJSON_IsFalse(get(r.json, "send_seed")));
    reply_free(&r);
    r = http(sv, "POST", "/sdapi/v1/options", "{\"send_seed\": true}");
    reply_free(&r);
}

TEST(bad_override_settings_are_refused)
{
    refused("/sdapi/v1/txt2img", "{\"override_settings\": {\"sd_model_checkpoint\": \"nope\"}}", 404, "nope");
    refused("/sdapi/v1/txt2img", "{\"override_settings\": {\"sd_model_checkpoint\": 3}}", 400, "sd_model_checkpoint");
    refused("/sdapi/v1/txt2img", "{\"override_settings\": {\"no_such\": 1}}", 400, "no_such");
    refused("/sdapi/v1/txt2img", "{\"override_settings_restore_afterwards\": \"maybe\"}", 422,
            "override_settings_restore_afterwards");
    options_are("a.safetensors", 1); /* nothing changed */
}

/* ---- infotext ------------------------------------------------------------- */

TEST(infotext_fills_what_the_request_leaves_out)
{
    reply r = http(sv, "POST", "/sdapi/v1/txt2img",
                   "{\"infotext\": \"a cat\\nNegative prompt: dog\\nSteps: 2, Sampler: Euler a, Schedule type: "
                   "Karras, CFG scale: 6.5, Seed: 77, Size: 64x72, Clip skip: 2\", \"steps\": 1}");
    cJSON *info = info_of(&r);
    CHECK_MSG(r.status == 200 && !strcmp(str(info, "prompt"), "a cat") && !strcmp(str(info, "negative_prompt"), "dog") &&
                  num(info, "steps") == 1 && !strcmp(str(info, "sampler_name"), "Euler a") && num(info, "seed") == 77 &&
                  num(info, "width") == 64 && num(info, "height") == 72 && num(info, "cfg_scale") == 6.5 &&
                  num(info, "clip_skip") == 2 && strstr(infotext0(info), "Schedule type: Karras"),
              "%d %.600s", r.status, r.body ? r.body : "");
    cJSON_Delete(info);
    reply_free(&r);
    /* override_settings win over the infotext's settings; a text without Clip skip means 1 */
    r = txt2img(", \"infotext\": \"a\\nSteps: 1, Clip skip: 2\", \"override_settings\": {\"CLIP_stop_at_last_layers\": 3}");
    info = info_of(&r);
    CHECK_MSG(r.status == 200 && num(info, "clip_skip") == 3, "%d %.300s", r.status, r.body ? r.body : "");
    cJSON_Delete(info);
    reply_free(&r);
    r = txt2img(", \"infotext\": \"a\\nSteps: 1, Seed: 5\", \"override_settings\": {\"CLIP_stop_at_last_layers\": 2}");
    info = info_of(&r);
    CHECK_MSG(r.status == 200 && num(info, "clip_skip") == 2, "%d %.300s", r.status, r.body ? r.body : "");
    cJSON_Delete(info);
    reply_free(&r);
    reply o = http(sv, "POST", "/sdapi/v1/options", "{\"CLIP_stop_at_last_layers\": 2}");
    reply_free(&o);
    r = txt2img(", \"infotext\": \"a\\nSteps: 1, Seed: 5\"");
    info = info_of(&r);
    CHECK_MSG(r.status == 200 && num(info, "clip_skip") == 1 && !strcmp(str(info, "sampler_name"), "DPM++ 2M"),
              "a text without Clip skip or Sampler: %d %.300s", r.status, r.body ? r.body : "");
    cJSON_Delete(info);
    reply_free(&r);
    o = http(sv, "POST", "/sdapi/v1/options", "{\"CLIP_stop_at_last_layers\": 1}");
    reply_free(&o);
    /* the infotext's settings join override_settings: kept when the request says so */
    r = txt2img(", \"infotext\": \"a\\nSteps: 1, Clip skip: 2\", \"override_settings_restore_afterwards\": false");
    CHECK(r.status == 200);
    reply_free(&r);
    options_are("a.safetensors", 2);
    r = txt2img(", \"infotext\": \"a\\nSteps: 1, Clip skip: 3\"");
    reply_free(&r);
    options_are("a.safetensors", 2);
    o = http(sv, "POST", "/sdapi/v1/options", "{\"CLIP_stop_at_last_layers\": 1}");
    reply_free(&o);
    refused("/sdapi/v1/txt2img", "{\"infotext\": \"a\\nSteps: 0, Seed: 5\"}", 422, "infotext");
}

/* A1111's img2img tab has no API names on its paste fields: only the
 * sampler and seed scripts' fields come from the infotext there. */
TEST(img2img_infotext_sets_only_the_scripts_fields)
{
    mend_image init = {0};
    test_make_gradient(&init, W, H);
    char *b64 = png_b64(&init, 0);
    char *body = strdupf("{\"init_images\": [\"%s\"], \"width\": 64, \"height\": 64, \"infotext\": \"a cat\\nSteps: 2, "
                         "Sampler: Euler a, CFG scale: 6.5, Seed: 77, Size: 64x72, Denoising strength: 0.5\"}", b64);
    reply r = http(sv, "POST", "/sdapi/v1/img2img", body);
    cJSON *info = info_of(&r);
    CHECK_MSG(r.status == 200 && !strcmp(str(info, "prompt"), "") && num(info, "steps") == 2 &&
                  !strcmp(str(info, "sampler_name"), "Euler a") && num(info, "seed") == 77 &&
                  num(info, "cfg_scale") == 7 && num(info, "height") == 64 && num(info, "denoising_strength") == 0.75,
              "%d %.600s", r.status, r.body ? r.body : "");
    cJSON_Delete(info);
    reply_free(&r);
    free(body);
    free(b64);
    mend_image_free(&init);
}

/* ---- styles ----------------------------------------------------------------- */

TEST(styles_merge_into_both_prompts)
{
    reply r = http(sv, "POST", "/sdapi/v1/txt2img",
                   "{\"prompt\": \"a cat\", \"negative_prompt\": \"dog\", \"styles\": [\"Cine, film\", \"plain\"], "
                   "\"steps\": 1, \"width\": 64, \"height\": 64}");
    cJSON *info = info_of(&r);
    const char *want = "a cat, cinematic, just words\nNegative prompt: dog, blurry, \"bad\"\n";
    const cJSON *all = cJSON_GetArrayItem(get(info, "all_prompts"), 0);
    CHECK_MSG(r.status == 200 && !strncmp(infotext0(info), want, strlen(want)) && !strcmp(str(info, "prompt"), "a cat") &&
                  cJSON_IsString(all) && !strcmp(all->valuestring, "a cat, cinematic, just words") &&
                  cJSON_GetArraySize(get(info, "styles")) == 2,
              "%d %.600s", r.status, r.body ? r.body : "");
    /* png-info takes them back off the prompts (infotext_styles "Apply if any") */
    const cJSON *img = cJSON_GetArrayItem(get(r.json, "images"), 0);
    char *pi = strdupf("{\"image\": \"%s\"}", cJSON_IsString(img) ? img->valuestring : "");
    reply p = http(sv, "POST", "/sdapi/v1/png-info", pi);
    const cJSON *pp = get(p.json, "parameters"), *found = get(pp, "Styles array");
    CHECK_MSG(p.status == 200 && !strcmp(str(pp, "Prompt"), "a cat") && !strcmp(str(pp, "Negative prompt"), "dog") &&
                  cJSON_GetArraySize(found) == 2 && !strcmp(cJSON_GetArrayItem(found, 0)->valuestring, "Cine, film"),
              "%d %.500s", p.status, p.body ? p.body : "");
    reply_free(&p);
    free(pi);
    cJSON_Delete(info);
    reply_free(&r);
    /* a txt2img infotext with those prompts pastes the styles and the prompts without them */
    r = http(sv, "POST", "/sdapi/v1/txt2img",
             "{\"infotext\": \"a cat, cinematic, just words\\nNegative prompt: dog, blurry, \\\"bad\\\"\\nSteps: 1, "
             "Size: 64x64\"}");
    info = info_of(&r);
    CHECK_MSG(r.status == 200 && !strcmp(str(info, "prompt"), "a cat") && !strcmp(str(info, "negative_prompt"), "dog") &&
                  cJSON_GetArraySize(get(info, "styles")) == 2 && !strncmp(infotext0(info), want, strlen(want)) &&
                  cJSON_GetArraySize(get(get(r.json, "parameters"), "styles")) == 2,
              "%d %.600s", r.status, r.body ? r.body : "");
    cJSON_Delete(info);
    reply_free(&r);
    refused("/sdapi/v1/txt2img", "{\"styles\": [\"plain\", \"no such style\"]}", 422, "no such style");
    refused("/sdapi/v1/txt2img", "{\"styles\": \"plain\"}", 422, "styles");
}

/* ---- tiling ------------------------------------------------------------------- */

TEST(tiling_runs_and_says_so)
{
    reply r = txt2img(", \"tiling\": true, \"seed\": 4");
    cJSON *info = info_of(&r);
    CHECK_MSG(r.status == 200 && strstr(infotext0(info), ", Tiling: True, ") &&
                  cJSON_IsTrue(get(get(r.json, "parameters"), "tiling")),
              "%d %.400s", r.status, r.body ? r.body : "");
    cJSON_Delete(info);
    reply_free(&r);
    /* the option (A1111's opts.tiling) when the request leaves it out */
    r = txt2img(", \"override_settings\": {\"tiling\": true}");
    info = info_of(&r);
    CHECK_MSG(r.status == 200 && strstr(infotext0(info), "Tiling: True"), "%d %.400s", r.status, r.body ? r.body : "");
    cJSON_Delete(info);
    reply_free(&r);
    refused("/sdapi/v1/txt2img", "{\"tiling\": \"sometimes\"}", 422, "tiling");
}

/* ---- sampler names ------------------------------------------------------------------ */

/* A1111's get_sampler_and_scheduler falls back to its first sampler and to Automatic. */
TEST(unknown_sampler_names_fall_back_as_a1111)
{
    reply r = txt2img(", \"sampler_name\": \"Euler z\", \"scheduler\": \"Wavy\"");
    cJSON *info = info_of(&r);
    CHECK_MSG(r.status == 200 && !strcmp(str(info, "sampler_name"), "DPM++ 2M") &&
                  strstr(infotext0(info), "Sampler: DPM++ 2M, Schedule type: Karras"),
              "%d %.400s", r.status, r.body ? r.body : "");
    cJSON_Delete(info);
    reply_free(&r);
    r = txt2img(", \"sampler_name\": \"Euler\", \"scheduler\": \"Wavy\"");
    info = info_of(&r);
    CHECK_MSG(r.status == 200 && strstr(infotext0(info), "Sampler: Euler, Schedule type: Automatic"), "%d %.400s",
              r.status, r.body ? r.body : "");
    cJSON_Delete(info);
    reply_free(&r);
}

/* ---- hires fix -------------------------------------------------------------------- */

static void image_size_is(const reply *r, int w, int h)
{
    mend_image img = {0};
    CHECK_MSG(decode_image(get(r->json, "images"), 0, &img) && img.width == w && img.height == h, "%dx%d, want %dx%d",
              img.width, img.height, w, h);
    mend_image_free(&img);
}

TEST(hires_fix_runs)
{
    reply r = txt2img(", \"enable_hr\": true, \"hr_scale\": 2, \"hr_second_pass_steps\": 1, "
                      "\"denoising_strength\": 0.5, \"seed\": 3");
    cJSON *info = info_of(&r);
    const cJSON *params = get(r.json, "parameters");
    CHECK_MSG(r.status == 200 && strstr(infotext0(info), "Size: 64x64") &&
                  strstr(infotext0(info), "Denoising strength: 0.5") &&
                  strstr(infotext0(info), "Hires upscale: 2.0, Hires steps: 1") &&
                  !strstr(infotext0(info), "Hires upscaler") && cJSON_IsTrue(get(params, "enable_hr")) &&
                  num(params, "hr_scale") == 2 && cJSON_IsNull(get(params, "hr_upscaler")),
              "%d %.600s", r.status, r.body ? r.body : "");
    if (r.status == 200)
        image_size_is(&r, 128, 128);
    cJSON_Delete(info);
    reply_free(&r);
    /* an image upscaler, A1111's "Use same sampler", a size instead of a scale */
    r = txt2img(", \"enable_hr\": true, \"hr_upscaler\": \"Lanczos\", \"hr_sampler_name\": \"Use same sampler\", "
                "\"hr_resize_x\": 96, \"hr_second_pass_steps\": 1");
    info = info_of(&r);
    CHECK_MSG(r.status == 200 && strstr(infotext0(info), "Hires resize: 96x0, Hires steps: 1, Hires upscaler: Lanczos") &&
                  !strstr(infotext0(info), "Hires sampler"),
              "%d %.600s", r.status, r.body ? r.body : "");
    if (r.status == 200)
        image_size_is(&r, 96, 96);
    cJSON_Delete(info);
    reply_free(&r);
    refused("/sdapi/v1/txt2img", "{\"enable_hr\": true, \"hr_upscaler\": \"4x-UltraSharp\", \"steps\": 1}", 400,
            "hr_upscaler");
    refused("/sdapi/v1/txt2img", "{\"enable_hr\": true, \"hr_scale\": \"big\"}", 422, "hr_scale");
    refused("/sdapi/v1/txt2img", "{\"enable_hr\": true, \"hr_checkpoint_name\": \"other.safetensors\"}", 422,
            "hr_checkpoint_name");
}

/* ---- scripts ------------------------------------------------------------------------ */

/* A1111's own test_img2img_sd_upscale_performed: script_args ["", 8, "Lanczos", 2.0]. */
TEST(sd_upscale_script_runs)
{
    mend_image init;
    test_make_gradient(&init, W, H);
    char *b64 = png_b64(&init, 0);
    char *body = strdupf("{\"init_images\": [\"%s\"], \"prompt\": \"x\", \"steps\": 1, \"width\": 64, \"height\": 64, "
                         "\"script_name\": \"sd upscale\", \"script_args\": [\"\", 8, \"Lanczos\", 2.0]}", b64);
    reply r = http(sv, "POST", "/sdapi/v1/img2img", body);
    cJSON *info = info_of(&r);
    CHECK_MSG(r.status == 200 && strstr(infotext0(info), "SD upscale overlap: 8, SD upscale upscaler: Lanczos"), "%d %.400s",
              r.status, r.body ? r.body : "");
    if (r.status == 200)
        image_size_is(&r, 128, 128);
    cJSON_Delete(info);
    reply_free(&r);
    free(body);
    r = http(sv, "GET", "/sdapi/v1/scripts", NULL);
    CHECK_MSG(r.status == 200 && !strcmp(cJSON_GetStringValue(cJSON_GetArrayItem(get(r.json, "img2img"), 0)), "sd upscale"),
              "%.200s", r.body ? r.body : "");
    reply_free(&r);
    body = strdupf("{\"init_images\": [\"%s\"], \"script_name\": \"SD upscale\", \"script_args\": [\"\", 8, \"4x-Ultra\"]}",
                   b64);
    refused("/sdapi/v1/img2img", body, 422, "upscaler");
    free(body);
    body = strdupf("{\"init_images\": [\"%s\"], \"script_name\": \"SD upscale\", \"script_args\": [\"\", \"wide\"]}", b64);
    refused("/sdapi/v1/img2img", body, 422, "overlap");
    free(body);
    refused("/sdapi/v1/txt2img", "{\"script_name\": \"SD upscale\"}", 422, "Script 'SD upscale' not found");
    free(b64);
    mend_image_free(&init);
}

/* ---- masks and init images ------------------------------------------------------ */

/* An inpaint request with these init images (data URLs) and a mask. */
static reply inpaint(const mend_image *inits, int n, const mend_image *mask, const char *extra)
{
    char *list = strdup("");
    for (int i = 0; i < n && list; i++) {
        char *b = png_b64(&inits[i], 1), *grown = strdupf("%s%s\"%s\"", list, i ? ", " : "", b);
        free(b);
        free(list);
        list = grown;
    }
    char *m = png_b64(mask, 1);
    char *body = strdupf("{\"init_images\": [%s], \"mask\": \"%s\", \"prompt\": \"x\", \"steps\": 1, \"width\": 64, "
                         "\"height\": 64, \"mask_blur\": 0, \"inpainting_fill\": 1, \"seed\": 10%s}",
                         list ? list : "", m, extra);
    reply r = http(sv, "POST", "/sdapi/v1/img2img", body);
    free(list), free(m), free(body);
    return r;
}

/* Output image i is init k outside the mask's (scaled) left half. */
static int keeps_right_half(const cJSON *images, int i, const mend_image *init)
{
    mend_image got = {0};
    if (!decode_image(images, i, &got))
        return 0;
    int same = got.width == init->width && got.height == init->height;
    for (int y = 0; same && y < got.height; y++)
        for (int x = got.width * 3 / 4; same && x < got.width; x++)
            same = !memcmp(got.data + 3 * (y * got.width + x), init->data + 3 * (y * init->width + x), 3);
    mend_image_free(&got);
    return same;
}

static void left_half_mask(mend_image *m, int w, int h)
{
    mend_err err = {0};
    CHECK_OK(mend_image_alloc(m, w, h, 1, &err), &err);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            m->data[y * w + x] = x < w / 2 ? 255 : 0;
}

TEST(masks_of_another_size_are_resized)
{
    mend_image init = {0}, small = {0}, big = {0};
    test_make_gradient(&init, W, H);
    left_half_mask(&small, 32, 40);
    left_half_mask(&big, 96, 96);
    reply r = inpaint(&init, 1, &small, ", \"inpaint_full_res\": false");
    CHECK_MSG(r.status == 200 && keeps_right_half(get(r.json, "images"), 0, &init), "whole picture: %d %.300s",
              r.status, r.body ? r.body : "");
    reply_free(&r);
    /* only masked: the region is in the mask's pixels, the output the image's size */
    r = inpaint(&init, 1, &big, ", \"inpaint_full_res\": true, \"inpaint_full_res_padding\": 8");
    mend_image got = {0};
    CHECK_MSG(r.status == 200 && decode_image(get(r.json, "images"), 0, &got) && got.width == W && got.height == H,
              "only masked: %d %.300s", r.status, r.body ? r.body : "");
    mend_image_free(&got);
    reply_free(&r);
    mend_image_free(&init), mend_image_free(&small), mend_image_free(&big);
}

TEST(several_init_images_are_one_each_of_the_batch)
{
    mend_image inits[3] = {{0}}, mask = {0};
    for (int i = 0; i < 3; i++) {
        test_make_gradient(&inits[i], W, H);
        for (size_t k = 0; k < (size_t)W * H * 3; k += 3)
            inits[i].data[k + 2] = (uint8_t)(60 * i); /* a blue channel of their own */
    }
    left_half_mask(&mask, W, H);
    reply r = inpaint(inits, 2, &mask, ", \"batch_size\": 3, \"n_iter\": 2");
    const cJSON *images = get(r.json, "images");
    cJSON *info = info_of(&r);
    const cJSON *seeds = get(info, "all_seeds");
    CHECK_MSG(r.status == 200 && cJSON_GetArraySize(images) == 4 && num(info, "batch_size") == 2 &&
                  cJSON_GetArraySize(seeds) == 4 && cJSON_GetArrayItem(seeds, 3)->valuedouble == 13,
              "%d %.400s", r.status, r.body ? r.body : "");
    for (int i = 0; i < cJSON_GetArraySize(images); i++)
        CHECK_MSG(keeps_right_half(images, i, &inits[i % 2]), "image %d is not from init image %d", i, i % 2);
    cJSON_Delete(info);
    reply_free(&r);
    /* more images than batch_size: A1111's "bad number of images passed" */
    r = inpaint(inits, 3, &mask, ", \"batch_size\": 2");
    CHECK_MSG(r.status == 422 && strstr(r.body, "init_images") && strstr(r.body, "bad number of images"), "%d %.300s",
              r.status, r.body ? r.body : "");
    reply_free(&r);
    refused("/sdapi/v1/img2img", "{\"init_images\": [\"iVBORw0KGgo=\", \"!!\"], \"batch_size\": 2}", 400,
            "init_images[");
    for (int i = 0; i < 3; i++)
        mend_image_free(&inits[i]);
    mend_image_free(&mask);
}

/* ---- main ---------------------------------------------------------------------- */

int main(void)
{
    atexit(stop_all);
    const char *vocab = test_shared("clip/bpe_simple_vocab_16e6.txt.gz");
    if (!vocab)
        return test_summary();
    char dir[1024], a[1100], b[1100], cwd[1024];
    snprintf(dir, sizeof dir, "%s/models", test_tmpdir());
    mkdir(dir, 0755);
    snprintf(a, sizeof a, "%s/a.safetensors", dir);
    snprintf(b, sizeof b, "%s/b.safetensors", dir);
    CHECK(test_make_tiny_model(a, 1) && test_make_tiny_model(b, 2));
    /* the server's working directory holds its styles.csv */
    CHECK(test_write_text(test_tmp_path("styles.csv"),
                          "name,prompt,negative_prompt\r\n\"Cine, film\",\"{prompt}, cinematic\",\"blurry, \"\"bad\"\"\"\r\n"
                          "#off,a,b\r\nplain, just words\r\n"));
    char *bin = realpath(test_mend_bin(), NULL);
    if (bin)
        setenv("MEND_BIN", bin, 1);
    free(bin);
    const char *args[] = {"--models-dir", dir, "--vocab", vocab, NULL};
    if (!getcwd(cwd, sizeof cwd) || chdir(test_tmpdir()) != 0)
        return 1;
    int up = start_server(sv, args);
    if (chdir(cwd) != 0)
        return 1;
    CHECK_MSG(up, "mend serve with two models did not start");
    if (up) {
        RUN(override_settings_are_restored_afterwards);
        RUN(bad_override_settings_are_refused);
        RUN(ui_options_are_kept);
        RUN(infotext_fills_what_the_request_leaves_out);
        RUN(img2img_infotext_sets_only_the_scripts_fields);
        RUN(styles_merge_into_both_prompts);
        RUN(tiling_runs_and_says_so);
        RUN(hires_fix_runs);
        RUN(unknown_sampler_names_fall_back_as_a1111);
        RUN(sd_upscale_script_runs);
        RUN(masks_of_another_size_are_resized);
        RUN(several_init_images_are_one_each_of_the_batch);
    }
    stop_all();
    return test_summary();
}
