/* End to end over make-model output: `mend info`, and mend_sd_load of the
 * single-file and diffusers layouts giving identical UNet/VAE/CLIP outputs.
 * These need the real UNet, VAE, CLIP (and tokenizer) loaders; while those
 * are still placeholders ("not implemented yet") the tests report skipped. */
#include "test.h"

#include "io/st_writer.h"
#include "make_model.h"
#include "model/sd_model.h"

#include <string.h>

static int g_components_missing;

/* True (and the test is counted as skipped) when a placeholder answered. */
static int placeholder(const char *text)
{
    if (!text || !strstr(text, "not implemented yet"))
        return 0;
    if (!g_components_missing++)
        printf("skipped: a component is still a placeholder (%s)\n", text);
    test_skipped++;
    return 1;
}

static char *tmp_file(const char *name)
{
    char *p = malloc(1024);
    if (p)
        snprintf(p, 1024, "%s/%s", test_tmpdir(), name);
    return p;
}

static int make_sized(mend_mm_arch arch, mend_mm_size size, mend_dtype dt, mend_mm_layout layout, const char *path)
{
    mend_make_model_opts o = {.arch = arch, .size = size, .dtype = dt, .seed = 1234, .layout = layout};
    mend_err err = {0};
    mend_status s = mend_make_model(&o, path, &err);
    CHECK_OK(s, &err);
    return s == MEND_OK;
}

static int make(mend_mm_arch arch, mend_dtype dt, mend_mm_layout layout, const char *path)
{
    return make_sized(arch, MEND_MM_TINY, dt, layout, path);
}

/* Sum of the element counts of the float tensors under prefix. */
static int64_t float_params(const char *path, const char *prefix)
{
    mend_tf *f = NULL;
    mend_err err = {0};
    CHECK_OK(mend_tf_open(path, &f, &err), &err);
    int64_t n = 0;
    for (int i = 0; f && i < f->count; i++)
        if (mend_dtype_is_float(f->tensors[i].dtype) && !strncmp(f->tensors[i].name, prefix, strlen(prefix)))
            n += mend_tf_numel(&f->tensors[i]);
    mend_tf_close(f);
    return n;
}

static void check_contains(const char *text, const char *what)
{
    CHECK_MSG(text && strstr(text, what), "output lacks '%s':\n%s", what, text ? text : "(none)");
}

static void check_info(const char *model, int diffusers, int inpaint, int64_t unet, int64_t vae, int64_t clip)
{
    char args[2048], want[256];
    char *text = NULL;
    snprintf(args, sizeof args, "info '%s'", model);
    int rc = test_run_mend(args, &text);
    if (placeholder(text)) {
        free(text);
        return;
    }
    CHECK_MSG(rc == 0, "info %s -> %d: %s", model, rc, text ? text : "");
    check_contains(text, diffusers ? "layout:       diffusers" : "layout:       single-file");
    check_contains(text, inpaint ? "inpainting:   yes (UNet in_channels 9)" : "inpainting:   no (UNet in_channels 4)");
    check_contains(text, "model_channels 32, channel_mult 1 2 4 4, 2 res blocks, attention at levels 0 1 2");
    check_contains(text, "CLIP width 32, 3 layers, 4 heads, mlp 37, vocab 49408, 77 positions");
    snprintf(want, sizeof want, "; %lld parameters", (long long)unet);
    check_contains(text, want);
    snprintf(want, sizeof want, "; %lld parameters", (long long)vae);
    check_contains(text, want);
    snprintf(want, sizeof want, "; %lld parameters", (long long)clip);
    check_contains(text, want);
    snprintf(want, sizeof want, "total:        %lld parameters", (long long)(unet + vae + clip));
    check_contains(text, want);
    check_contains(text, diffusers ? "dtypes F16 " : "dtypes F16 ");
    free(text);
}

TEST(info_on_make_model_output)
{
    char *single = tmp_file("info-inpaint.safetensors"), *dir = tmp_file("info-inpaint-diffusers"),
         *plain = tmp_file("info-sd1.safetensors");
    if (make(MEND_MM_SD1_INPAINT, MEND_DT_F16, MEND_MM_SINGLE, single) &&
        make(MEND_MM_SD1_INPAINT, MEND_DT_F16, MEND_MM_DIFFUSERS, dir) &&
        make(MEND_MM_SD1, MEND_DT_F16, MEND_MM_SINGLE, plain)) {
        int64_t u = float_params(single, "model.diffusion_model."), v = float_params(single, "first_stage_model."),
                c = float_params(single, "cond_stage_model.");
        check_info(single, 0, 1, u, v, c);
        check_info(dir, 1, 1, u, v, c);
        check_info(plain, 0, 0, float_params(plain, "model.diffusion_model."), v, c);
    }
    char cmd[3300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s' '%s'", single, dir, plain);
    test_run(cmd, NULL);
    free(single);
    free(dir);
    free(plain);
}

TEST(info_on_reference_models_with_vocab)
{
    REQUIRE_SHARED(model, "models/tiny-sd1-inpaint.f16.safetensors");
    REQUIRE_SHARED(vocab, "clip/bpe_simple_vocab_16e6.txt.gz");
    char args[2048];
    char *text = NULL;
    snprintf(args, sizeof args, "info '%s' --vocab '%s'", model, vocab);
    int rc = test_run_mend(args, &text);
    if (!placeholder(text)) {
        CHECK_MSG(rc == 0, "info -> %d: %s", rc, text ? text : "");
        check_contains(text, "inpainting:   yes");
        check_contains(text, "vocabulary:   ");
        check_contains(text, "(49408 tokens)");
    }
    free(text);
}

/* Tensors that form no known architecture: one "mend: ..." line, exit 1. */
TEST(info_refuses_an_unknown_architecture)
{
    char *p = tmp_file("not-sd.safetensors");
    mend_st_writer *w = mend_st_writer_new();
    mend_err err = {0};
    float v[4] = {1, 2, 3, 4};
    CHECK_OK(mend_st_writer_add_f32_as(w, "model.diffusion_model.foo.weight", MEND_DT_F32, 1, (int64_t[]){4}, v, &err),
             &err);
    CHECK_OK(mend_st_writer_add_f32_as(w, "cond_stage_model.transformer.text_model.bar", MEND_DT_F32, 1,
                                       (int64_t[]){4}, v, &err),
             &err);
    CHECK_OK(mend_st_writer_write(w, p, &err), &err);
    mend_st_writer_free(w);
    char args[2048];
    char *text = NULL;
    snprintf(args, sizeof args, "info '%s'", p);
    int rc = test_run_mend(args, &text);
    if (!placeholder(text)) {
        CHECK_MSG(rc == 1, "rc %d", rc);
        CHECK_MSG(text && !strncmp(text, "mend: ", 6) && strchr(text, '\n') == text + strlen(text) - 1,
                  "expected one 'mend: ...' line, got: %s", text ? text : "");
    }
    free(text);
    remove(p);
    free(p);
}

static float *pattern(int64_t n, float scale, float phase)
{
    float *v = malloc((size_t)n * sizeof *v);
    for (int64_t i = 0; v && i < n; i++)
        v[i] = scale * sinf(0.37f * (float)i + phase);
    return v;
}

static void compare(const char *what, const float *a, const float *b, int64_t n)
{
    double d = test_max_abs_diff(a, b, n), m = 0;
    for (int64_t i = 0; i < n; i++)
        m = fmax(m, fabs(a[i]));
    printf("  %s: max |single - diffusers| = %g (tolerance 1e-6), max |out| = %g\n", what, d, m);
    CHECK_MSG(d <= 1e-6, "%s differs by %g", what, d);
    CHECK_MSG(m > 1e-3 && m < 1e3 && isfinite(m), "%s: implausible magnitude %g", what, m);
}

static void compare_unet(mend_unet *a, mend_unet *b)
{
    const mend_unet_arch *aa = mend_unet_get_arch(a), *ab = mend_unet_get_arch(b);
    CHECK(memcmp(aa, ab, sizeof *aa) == 0);
    int C = aa->in_channels, H = 8, W = 8, T = 5, D = aa->context_dim;
    float *x = pattern((int64_t)C * H * W, 1.0f, 0.1f), *ctx = pattern((int64_t)T * D, 1.0f, 0.7f);
    float t = 500.0f;
    float *oa = calloc((size_t)4 * H * W, sizeof *oa), *ob = calloc((size_t)4 * H * W, sizeof *ob);
    mend_err err = {0};
    CHECK_OK(mend_unet_forward(a, x, 1, H, W, &t, ctx, T, oa, &err), &err);
    CHECK_OK(mend_unet_forward(b, x, 1, H, W, &t, ctx, T, ob, &err), &err);
    compare("unet", oa, ob, 4 * H * W);
    free(x);
    free(ctx);
    free(oa);
    free(ob);
}

static void compare_vae(const mend_vae *a, const mend_vae *b)
{
    CHECK(memcmp(mend_vae_get_arch(a), mend_vae_get_arch(b), sizeof(mend_vae_arch)) == 0);
    int H = 16, W = 16, h = 2, w = 2;
    float *x = pattern(3 * H * W, 0.8f, 0.3f), *z = pattern(4 * h * w, 0.5f, 1.1f);
    float *ma = calloc(8 * h * w, sizeof *ma), *mb = calloc(8 * h * w, sizeof *mb);
    float *da = calloc(3 * H * W, sizeof *da), *db = calloc(3 * H * W, sizeof *db);
    mend_err err = {0};
    CHECK_OK(mend_vae_encode(a, x, 1, H, W, ma, &err), &err);
    CHECK_OK(mend_vae_encode(b, x, 1, H, W, mb, &err), &err);
    compare("vae encode", ma, mb, 8 * h * w);
    CHECK_OK(mend_vae_decode(a, z, 1, h, w, da, &err), &err);
    CHECK_OK(mend_vae_decode(b, z, 1, h, w, db, &err), &err);
    compare("vae decode", da, db, 3 * H * W);
    free(x);
    free(z);
    free(ma);
    free(mb);
    free(da);
    free(db);
}

static void compare_clip(const mend_clip *a, const mend_clip *b)
{
    const mend_clip_arch *ca = mend_clip_get_arch(a);
    CHECK(memcmp(ca, mend_clip_get_arch(b), sizeof *ca) == 0);
    int32_t ids[77];
    for (int i = 0; i < 77; i++)
        ids[i] = i == 0 ? 49406 : i < 6 ? 320 + 97 * i : 49407;
    size_t n = (size_t)77 * ca->width;
    float *oa = calloc(n, sizeof *oa), *ob = calloc(n, sizeof *ob);
    mend_err err = {0};
    for (int skip = 1; skip <= 2; skip++) {
        CHECK_OK(mend_clip_encode(a, ids, 1, 77, skip, oa, &err), &err);
        CHECK_OK(mend_clip_encode(b, ids, 1, 77, skip, ob, &err), &err);
        compare(skip == 1 ? "clip" : "clip (skip 2)", oa, ob, (int64_t)n);
    }
    free(oa);
    free(ob);
}

TEST(single_and_diffusers_layouts_compute_the_same)
{
    char *single = tmp_file("same.safetensors"), *dir = tmp_file("same-diffusers");
    if (make(MEND_MM_SD1_INPAINT, MEND_DT_F32, MEND_MM_SINGLE, single) &&
        make(MEND_MM_SD1_INPAINT, MEND_DT_F32, MEND_MM_DIFFUSERS, dir)) {
        unsigned comps = MEND_COMP_CLIP | MEND_COMP_UNET | MEND_COMP_VAE;
        mend_sd_model *a = NULL, *b = NULL;
        mend_err err = {0};
        mend_status sa = mend_sd_load(single, NULL, comps, &a, &err);
        if (!placeholder(err.msg)) {
            CHECK_OK(sa, &err);
            CHECK_OK(mend_sd_load(dir, NULL, comps, &b, &err), &err);
        }
        if (a && b) {
            CHECK(!a->diffusers && b->diffusers);
            compare_unet(a->unet, b->unet);
            compare_vae(a->vae, b->vae);
            compare_clip(a->clip, b->clip);
        }
        mend_sd_free(a);
        mend_sd_free(b);
    }
    char cmd[2200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", single, dir);
    test_run(cmd, NULL);
    free(single);
    free(dir);
}

static void check_finite(const char *what, const float *v, int64_t n)
{
    double m = 0;
    int finite = 1;
    for (int64_t i = 0; i < n; i++) {
        finite &= isfinite(v[i]);
        m = fmax(m, fabs(v[i]));
    }
    printf("  full %s: max |out| = %g\n", what, m);
    CHECK_MSG(finite && m > 1e-3 && m < 1e3, "%s: max |out| %g, finite %d", what, m, finite);
}

/* Opt-in (MEND_TEST_FULL=1; ~2 GB on disk, ~5 GB of memory): the full-size
 * random model keeps activations O(1) through every component. */
TEST(full_size_model_stays_finite)
{
    if (!getenv("MEND_TEST_FULL")) {
        printf("skipped: full-size check (set MEND_TEST_FULL=1)\n");
        test_skipped++;
        return;
    }
    char *path = tmp_file("full.f16.safetensors");
    mend_sd_model *m = NULL;
    mend_err err = {0};
    if (make_sized(MEND_MM_SD1_INPAINT, MEND_MM_FULL, MEND_DT_F16, MEND_MM_SINGLE, path)) {
        printf("  made the full model\n");
        fflush(stdout);
        mend_status s = mend_sd_load(path, NULL, MEND_COMP_CLIP | MEND_COMP_UNET | MEND_COMP_VAE, &m, &err);
        if (!placeholder(err.msg))
            CHECK_OK(s, &err);
    }
    if (m) {
        int32_t ids[77];
        for (int i = 0; i < 77; i++)
            ids[i] = i == 0 ? 49406 : i < 9 ? 1000 + 4321 * i : 49407;
        float *ctx = calloc(77 * 768, sizeof *ctx), *x = pattern(9 * 8 * 8, 1.0f, 0.2f);
        float *eps = calloc(4 * 8 * 8, sizeof *eps), *img = calloc(3 * 32 * 32, sizeof *img);
        float *mom = calloc(8 * 4 * 4, sizeof *mom), t = 999.0f;
        CHECK_OK(mend_clip_encode(m->clip, ids, 1, 77, 1, ctx, &err), &err);
        check_finite("clip", ctx, 77 * 768);
        CHECK_OK(mend_unet_forward(m->unet, x, 1, 8, 8, &t, ctx, 77, eps, &err), &err);
        check_finite("unet", eps, 4 * 8 * 8);
        CHECK_OK(mend_vae_decode(m->vae, x, 1, 4, 4, img, &err), &err);
        check_finite("vae decode", img, 3 * 32 * 32);
        CHECK_OK(mend_vae_encode(m->vae, img, 1, 32, 32, mom, &err), &err);
        check_finite("vae encode", mom, 8 * 4 * 4);
        free(ctx);
        free(x);
        free(eps);
        free(img);
        free(mom);
    }
    mend_sd_free(m);
    remove(path);
    free(path);
}

int main(void)
{
    RUN(info_on_make_model_output);
    RUN(info_on_reference_models_with_vocab);
    RUN(info_refuses_an_unknown_architecture);
    RUN(single_and_diffusers_layouts_compute_the_same);
    RUN(full_size_model_stays_finite);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", test_tmpdir());
    test_run(cmd, NULL);
    return test_summary();
}
