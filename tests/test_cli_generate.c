/* mend txt2img / img2img / inpaint / png-info end to end, on a random tiny
 * model made here with `mend tools make-model` and small images written
 * here. Runs that load the model need the CLIP vocabulary from ../shared
 * (skipped without it); bad-input checks fail before the model is loaded
 * and always run. The sketch and naming helpers: test_cli_output.c. */
#include "test.h"

#include "inpaint/imageops.h"
#include "io/png_text.h"

#include <sys/stat.h>
#include <string.h>
#include <time.h>

#define W 64
#define H 64

static int count_lines(const char *s)
{
    int n = 0;
    for (; s && *s; s++)
        n += *s == '\n';
    return n;
}

/* ---- fixtures ---------------------------------------------------------- */

static void save(const char *path, const mend_image *img)
{
    mend_err err = {0};
    CHECK_OK(mend_image_save_png(path, img, NULL, 0, &err), &err);
}

static const char *model_path, *vocab_path; /* vocab_path NULL: no ../shared vocabulary */
static const char *init_path, *mask_path, *sketch_path;

static void setup(void)
{
    test_current = "setup";
    /* kept for the whole run: test_tmp_path() reuses its buffers */
    model_path = strdup(test_tmp_path("tiny.safetensors"));
    char args[2048], *out = NULL;
    snprintf(args, sizeof args, "tools make-model --arch sd1 --size tiny --dtype f16 '%s'", model_path);
    int rc = test_run_mend(args, &out);
    CHECK_MSG(rc == 0, "make-model -> %d: %s", rc, out ? out : "");
    free(out);
    mend_image init, mask, sketch;
    test_make_gradient(&init, W, H);
    test_make_square_mask(&mask, W, H);
    test_make_sketch(&init, &sketch);
    init_path = strdup(test_tmp_path("init.png"));
    mask_path = strdup(test_tmp_path("mask.png"));
    sketch_path = strdup(test_tmp_path("sketch.png"));
    save(init_path, &init);
    save(mask_path, &mask);
    save(sketch_path, &sketch);
    mend_image_free(&init);
    mend_image_free(&mask);
    mend_image_free(&sketch);
}

/* "--model M --vocab V --width 64 --height 64 --steps 3 --threads 2 -q" */
static const char *common(void)
{
    static char buf[2048];
    snprintf(buf, sizeof buf, "--model '%s' %s%s%s --width %d --height %d --steps 3 --threads 2 -q", model_path,
             vocab_path ? "--vocab '" : "", vocab_path ? vocab_path : "", vocab_path ? "'" : "", W, H);
    return buf;
}

#define REQUIRE_VOCAB()                                                          \
    do {                                                                         \
        if (!vocab_path) {                                                       \
            vocab_path = test_shared("clip/bpe_simple_vocab_16e6.txt.gz");       \
            if (!vocab_path)                                                     \
                return;                                                          \
        }                                                                        \
    } while (0)

static char *parameters_of(const char *png)
{
    mend_png_text_list l;
    mend_err err = {0};
    CHECK_OK(mend_png_text_read_file(png, MEND_PNG_CRC_CHECK, &l, &err), &err);
    const char *p = mend_png_text_get(&l, "parameters");
    char *copy = p ? strdup(p) : NULL;
    CHECK_MSG(copy != NULL, "%s has no parameters chunk", png);
    mend_png_text_list_free(&l);
    return copy;
}

static int same_file(const char *a, const char *b)
{
    size_t na, nb;
    char *da = test_read_file(a, &na), *db = test_read_file(b, &nb);
    int same = da && db && na == nb && !memcmp(da, db, na);
    free(da);
    free(db);
    return same;
}

/* ---- end to end -------------------------------------------------------- */

TEST(txt2img_infotext_and_png_info)
{
    REQUIRE_VOCAB();
    const char *out = test_tmp_path("t2i.png");
    char args[4096], *text = NULL;
    snprintf(args, sizeof args, "txt2img %s --seed 42 --negative-prompt 'blurry, lowres' -o '%s' 'a red hat'",
             common(), out);
    int rc = test_run_mend(args, &text);
    CHECK_MSG(rc == 0, "-> %d: %s", rc, text ? text : "");
    CHECK(text && strstr(text, out) && strstr(text, "seed 42"));
    free(text);
    mend_image img = {0};
    mend_err err = {0};
    CHECK_OK(mend_image_load(out, &img, &err), &err);
    CHECK(img.width == W && img.height == H && img.channels == 3);
    mend_image_free(&img);
    char *params = parameters_of(out);
    if (!params)
        return;
    /* A1111's layout: prompt, "Negative prompt: ...", one line of "key: value, ..." */
    const char *l2 = strchr(params, '\n'), *l3 = l2 ? strchr(l2 + 1, '\n') : NULL;
    CHECK(l2 && l3 && !strchr(l3 + 1, '\n'));
    if (l2 && l3) {
        CHECK(l2 - params == 9 && !strncmp(params, "a red hat", 9));
        CHECK(!strncmp(l2 + 1, "Negative prompt: blurry, lowres\n", 32));
        const char *kv = l3 + 1;
        CHECK_MSG(!strncmp(kv, "Steps: 3, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7", 64), "%s", kv);
        /* Model hash: 10 hex digits of the checkpoint's SHA-256 (test_color_correction checks the value) */
        const char *h = strstr(kv, ", Seed: 42, Size: 64x64, Model hash: ");
        CHECK_MSG(h != NULL, "%s", kv);
        if (h) {
            h += strlen(", Seed: 42, Size: 64x64, Model hash: ");
            CHECK_MSG(strspn(h, "0123456789abcdef") == 10 && !strncmp(h + 10, ", Model: tiny", 13), "%s", kv);
        }
        CHECK(!strstr(kv, "Denoising strength"));
    }
    /* png-info prints exactly the parameters text */
    snprintf(args, sizeof args, "png-info '%s'", out);
    rc = test_run_mend(args, &text);
    CHECK(rc == 0);
    size_t n = strlen(params);
    CHECK(text && strlen(text) == n + 1 && !strncmp(text, params, n) && text[n] == '\n');
    free(text);
    free(params);
}

TEST(png_info_errors)
{
    char args[2048], *text = NULL;
    snprintf(args, sizeof args, "png-info '%s'", init_path); /* a PNG without parameters */
    CHECK(test_run_mend(args, &text) == 1 && text && strstr(text, "mend: ") && strstr(text, "no 'parameters'"));
    free(text);
    snprintf(args, sizeof args, "png-info '%s'", model_path); /* not a PNG */
    CHECK(test_run_mend(args, &text) == 1 && text && strstr(text, "not a PNG"));
    free(text);
    snprintf(args, sizeof args, "png-info '%s'", test_tmp_path("nothing.png"));
    CHECK(test_run_mend(args, &text) == 1 && text && strstr(text, "cannot open"));
    free(text);
}

static void check_kept_outside(const char *result, const mend_image *init, const mend_image *blurred,
                               const char *what)
{
    mend_image img = {0};
    mend_err err = {0};
    CHECK_OK(mend_image_load(result, &img, &err), &err);
    if (!img.data)
        return;
    CHECK(img.width == W && img.height == H && img.channels == 3);
    int kept_bad = 0, outside = 0, changed_inside = 0;
    for (int i = 0; i < W * H; i++) {
        int same = !memcmp(img.data + 3 * i, init->data + 3 * i, 3);
        if (blurred->data[i] == 0) {
            outside++;
            kept_bad += !same;
        } else if (blurred->data[i] >= 64) {
            changed_inside += !same;
        }
    }
    CHECK_MSG(outside > 1000 && kept_bad == 0, "%s: %d of %d pixels outside the blurred mask changed", what,
              kept_bad, outside);
    CHECK_MSG(changed_inside > 0, "%s: nothing changed inside the mask", what);
    mend_image_free(&img);
}

TEST(inpaint_keeps_unmasked_pixels)
{
    REQUIRE_VOCAB();
    mend_image init, mask, blurred = {0};
    mend_err err = {0};
    test_make_gradient(&init, W, H);
    test_make_square_mask(&mask, W, H);
    CHECK_OK(mend_cv2_mask_blur(&mask, 4, 4, &blurred, &err), &err);
    const char *areas[] = {"", "--inpaint-full-res --inpaint-full-res-padding 8"};
    for (int a = 0; a < 2 && blurred.data; a++) {
        const char *out = test_tmp_path(a ? "inpaint-only-masked.png" : "inpaint-whole.png");
        char args[4096], *text = NULL;
        snprintf(args, sizeof args, "inpaint %s --seed 3 --init '%s' --mask '%s' --denoising-strength 1 %s -o '%s' hat",
                 common(), init_path, mask_path, areas[a], out);
        int rc = test_run_mend(args, &text);
        CHECK_MSG(rc == 0, "-> %d: %s", rc, text ? text : "");
        free(text);
        check_kept_outside(out, &init, &blurred, a ? "only masked" : "whole picture");
        char *params = parameters_of(out);
        CHECK(params && strstr(params, "Denoising strength: 1") && strstr(params, "Mask blur: 4"));
        CHECK(params && (a == 0 || strstr(params, "Inpaint area: Only masked, Masked area padding: 8")));
        free(params);
    }
    mend_image_free(&init);
    mend_image_free(&mask);
    mend_image_free(&blurred);
}

TEST(inpaint_sketch_changes_only_near_strokes)
{
    REQUIRE_VOCAB();
    mend_image init, sketch, diff = {0}, blurred = {0};
    mend_err err = {0};
    test_make_gradient(&init, W, H);
    test_make_sketch(&init, &sketch);
    CHECK_OK(mend_image_alloc(&diff, W, H, 1, &err), &err);
    for (int i = 0; i < W * H && diff.data; i++)
        diff.data[i] = memcmp(init.data + 3 * i, sketch.data + 3 * i, 3) ? 255 : 0;
    CHECK_OK(mend_cv2_mask_blur(&diff, 4, 4, &blurred, &err), &err);
    const char *out = test_tmp_path("sketch-out.png");
    char args[4096], *text = NULL;
    snprintf(args, sizeof args, "inpaint %s --seed 11 --init '%s' --sketch '%s' -o '%s' 'a red line'", common(),
             init_path, sketch_path, out);
    int rc = test_run_mend(args, &text);
    CHECK_MSG(rc == 0, "-> %d: %s", rc, text ? text : "");
    free(text);
    if (blurred.data)
        check_kept_outside(out, &init, &blurred, "sketch");
    mend_image_free(&init);
    mend_image_free(&sketch);
    mend_image_free(&diff);
    mend_image_free(&blurred);
}

TEST(same_seed_same_bytes)
{
    REQUIRE_VOCAB();
    const char *outs[3] = {test_tmp_path("same-a.png"), test_tmp_path("same-b.png"), test_tmp_path("same-c.png")};
    const int seeds[3] = {1234, 1234, 1235};
    for (int i = 0; i < 3; i++) {
        char args[4096];
        snprintf(args, sizeof args, "inpaint %s --seed %d --init '%s' --mask '%s' -o '%s' 'a hat'", common(),
                 seeds[i], init_path, mask_path, outs[i]);
        CHECK(test_run_mend(args, NULL) == 0);
    }
    CHECK(same_file(outs[0], outs[1]));
    CHECK(!same_file(outs[0], outs[2]));
}

/* spec §13: "Schedule type" is the resolved label (Karras for DPM++ 2M),
 * but stays "Automatic" for Euler a & co. unless a scheduler is chosen. */
TEST(schedule_type_label)
{
    REQUIRE_VOCAB();
    const struct {
        const char *opts, *want;
    } cases[] = {{"--sampler 'Euler a'", "Sampler: Euler a, Schedule type: Automatic, "},
                 {"--sampler 'Euler a' --scheduler Uniform", "Sampler: Euler a, Schedule type: Uniform, "},
                 {"--sampler Euler --scheduler Karras", "Sampler: Euler, Schedule type: Karras, "},
                 {"--sampler 'DPM++ 2M SDE'", "Sampler: DPM++ 2M SDE, Schedule type: Exponential, "}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *out = test_tmp_path("sched.png");
        char args[4096];
        snprintf(args, sizeof args, "txt2img %s --seed 1 %s -o '%s' cat", common(), cases[i].opts, out);
        CHECK(test_run_mend(args, NULL) == 0);
        char *params = parameters_of(out);
        CHECK_MSG(params && strstr(params, cases[i].want), "%s: %s", cases[i].opts, params ? params : "");
        free(params);
    }
}

TEST(batch_of_two_with_output_file)
{
    REQUIRE_VOCAB();
    const char *out = test_tmp_path("batch/b.png"), *second = test_tmp_path("batch/b-1.png"), *third = test_tmp_path("batch/b-2.png");
    char args[4096], *text = NULL;
    mkdir(test_tmp_path("batch"), 0755); /* -o's folder must exist */
    snprintf(args, sizeof args, "txt2img %s --batch-size 2 --seed 7 -o '%s' 'two cats'", common(), out);
    int rc = test_run_mend(args, &text);
    CHECK_MSG(rc == 0, "-> %d: %s", rc, text ? text : "");
    CHECK(text && strstr(text, "(seed 7)") && strstr(text, "(seed 8)"));
    free(text);
    CHECK(test_path_exists(out) && test_path_exists(second) && !test_path_exists(third));
    char *p1 = parameters_of(out), *p2 = parameters_of(second);
    CHECK(p1 && strstr(p1, "Seed: 7,"));
    CHECK(p2 && strstr(p2, "Seed: 8,"));
    free(p1);
    free(p2);
}

TEST(default_output_naming)
{
    REQUIRE_VOCAB();
    const char *outdir = test_tmp_path("outputs");
    char date[32], args[4096], *text = NULL;
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(date, sizeof date, "%Y-%m-%d", &tm);
    for (int i = 0; i < 2; i++) {
        snprintf(args, sizeof args, "img2img %s --seed 5 --init '%s' --outdir '%s' 'a photo'", common(), init_path,
                 outdir);
        int rc = test_run_mend(args, &text);
        CHECK_MSG(rc == 0, "-> %d: %s", rc, text ? text : "");
        char want[1024];
        snprintf(want, sizeof want, "%s/img2img-images/%s/%05d-5.png", outdir, date, i);
        CHECK_MSG(test_path_exists(want), "%s missing (output: %s)", want, text ? text : "");
        CHECK(text && strstr(text, want));
        free(text);
    }
    snprintf(args, sizeof args, "txt2img %s --seed 9 --outdir '%s' 'a photo'", common(), outdir);
    CHECK(test_run_mend(args, NULL) == 0);
    char want[1024];
    snprintf(want, sizeof want, "%s/txt2img-images/%s/00000-9.png", outdir, date);
    CHECK_MSG(test_path_exists(want), "%s missing", want);
}

TEST(progress_lines_without_tty)
{
    REQUIRE_VOCAB();
    char args[4096], *text = NULL;
    snprintf(args, sizeof args, "txt2img %s --seed 1 --n-iter 2 -o '%s' cat", common(), test_tmp_path("progress.png"));
    /* drop -q from the common options */
    char *q = strstr(args, " -q");
    if (q)
        memmove(q, q + 3, strlen(q + 3) + 1);
    CHECK(test_run_mend(args, &text) == 0);
    int bars = 0;
    for (const char *s = text; s && (s = strstr(s, "batch ")); s++)
        bars++;
    CHECK_MSG(bars == 6, "%d progress lines: %s", bars, text ? text : "");
    CHECK(text && strstr(text, "batch 1/2  1/3 [") && strstr(text, "batch 2/2  3/3 [") && strstr(text, "it/s]"));
    CHECK(text && !strchr(text, '\r'));
    free(text);
}

TEST(long_prompt_is_chunked)
{
    REQUIRE_VOCAB();
    size_t n = 0;
    char *prompt = malloc(8000), *args = malloc(12000), *text = NULL;
    if (!prompt || !args) {
        CHECK(0);
        free(prompt), free(args);
        return;
    }
    for (int i = 0; i < 500; i++) /* "cat," is two tokens: 1000 tokens */
        n += (size_t)sprintf(prompt + n, "%scat,", i ? " " : "");
    const char *out = test_tmp_path("long.png");
    snprintf(args, 12000, "txt2img %s --seed 2 -o '%s' '%s'", common(), out, prompt);
    int rc = test_run_mend(args, &text);
    CHECK_MSG(rc == 0, "-> %d: %s", rc, text ? text : "");
    char *params = parameters_of(out);
    CHECK(params && !strncmp(params, prompt, n) && params[n] == '\n');
    free(params);
    free(text);
    free(prompt);
    free(args);
}

/* ---- bad inputs -------------------------------------------------------- */

/* `mend ARGS -o OUT` must fail with one "mend: " line containing `what`
 * and leave nothing at OUT (not even its folder). */
static void expect_bad(const char *args, const char *what)
{
    static int k;
    char dir[64], *text = NULL, *cmd = malloc(strlen(args) + 2048);
    snprintf(dir, sizeof dir, "bad-%d", k++);
    const char *out_dir = test_tmp_path(dir);
    if (!cmd)
        return;
    sprintf(cmd, "%s -o '%s/out.png' --outdir '%s'", args, out_dir, out_dir);
    int rc = test_run_mend(cmd, &text);
    CHECK_MSG(rc != 0, "'%s' succeeded", args);
    CHECK_MSG(text && !strncmp(text, "mend: ", 6) && strstr(text, what) && count_lines(text) == 1,
              "'%s': wanted one line with '%s', got: %s", args, what, text ? text : "(none)");
    CHECK_MSG(!test_path_exists(out_dir), "'%s' left %s", args, out_dir);
    free(text);
    free(cmd);
}

TEST(bad_inputs)
{
    mend_image small;
    test_make_square_mask(&small, 32, 32);
    char small_mask[1024], text_file[1024];
    snprintf(small_mask, sizeof small_mask, "%s", test_tmp_path("small-mask.png"));
    snprintf(text_file, sizeof text_file, "%s", test_tmp_path("not-an-image.png"));
    save(small_mask, &small);
    mend_image_free(&small);
    test_write_text(text_file, "hello\n");
    char m[1024], img[2048], a[4096];
    snprintf(m, sizeof m, "--model '%s' -q", model_path);
    snprintf(img, sizeof img, "%s --init '%s'", m, init_path);
    const struct {
        const char *fmt, *arg, *what;
    } cases[] = {
        {"txt2img %s --width 63 cat", m, "width"},
        {"txt2img %s --height 100 cat", m, "height"},
        {"txt2img %s --steps 0 cat", m, "steps"},
        {"txt2img %s --steps 10001 cat", m, "steps"},
        {"txt2img %s --steps abc cat", m, "--steps"},
        {"txt2img %s --cfg-scale nan cat", m, "--cfg-scale"},
        {"img2img %s --denoising-strength 1.5 cat", img, "denoising"},
        {"txt2img %s --sampler 'Euler b' cat", m, "sampler 'Euler b'"},
        {"txt2img %s --scheduler Fancy cat", m, "schedule type 'Fancy'"},
        {"txt2img %s --bogus 1 cat", m, "--bogus"},
        {"txt2img %s --init x.png cat", m, "--init is only for"},
        {"txt2img %s --seed 4294967296 cat", m, "--seed"},
        {"inpaint %s --mask m.png cat", m, "--init"},
        {"inpaint %s cat", img, "--mask"},
        {"img2img %s cat", m, "--init"},
        {"txt2img --steps 3 %s", "cat", "--model"},
        {"inpaint %s --mask /nonexistent/mask.png cat", img, "/nonexistent/mask.png"},
        {"inpaint %s --mask '%s' cat", img, "not a PNG, JPEG or WebP"},
        {"inpaint %s --mask-blur 257 --mask '%s' cat", img, "mask_blur"},
        {"inpaint %s --inpainting-fill paint --mask '%s' cat", img, "--inpainting-fill"},
        {"inpaint %s --inpaint-full-res-padding 2049 --mask '%s' cat", img, "padding"},
        {"inpaint %s --mask-alpha 101 --sketch '%s' cat", img, "--mask-alpha"},
        {"inpaint %s --sketch '%s' cat", img, "same size"},
        {"img2img --init /nonexistent/init.png %s cat", m, "/nonexistent/init.png"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *file = strstr(cases[i].what, "same size") ? small_mask
                           : !strcmp(cases[i].what, "not a PNG, JPEG or WebP") ? text_file
                           : strstr(cases[i].fmt, "--sketch")            ? sketch_path
                                                                         : mask_path;
        snprintf(a, sizeof a, cases[i].fmt, cases[i].arg, file);
        expect_bad(a, cases[i].what);
    }
}

int main(void)
{
    setup();
    RUN(png_info_errors);
    RUN(bad_inputs);
    RUN(txt2img_infotext_and_png_info);
    RUN(inpaint_keeps_unmasked_pixels);
    RUN(inpaint_sketch_changes_only_near_strokes);
    RUN(same_seed_same_bytes);
    RUN(schedule_type_label);
    RUN(batch_of_two_with_output_file);
    RUN(default_output_naming);
    RUN(progress_lines_without_tty);
    RUN(long_prompt_is_chunked);
    free((char *)model_path);
    free((char *)init_path);
    free((char *)mask_path);
    free((char *)sketch_path);
    return test_summary();
}
