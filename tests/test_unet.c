/* UNet against the LDM reference vectors (shared/testdata/unet/), the
 * architecture read from the tiny models, thread-count independence, clear
 * errors for broken weight files, and `mend eval unet` end to end. */
#include "test.h"

#include "io/st_writer.h"
#include "model/sd_model.h"
#include "model/unet.h"

#include <string.h>

#define OUT_TOL 1e-3 /* unet/ jsons: max abs err <= 1e-3 on out */
#define TAP_REL_TOL 1e-3 /* "taps similar relative to their scale" */

static const char *const cases[] = {"sd1_b2_8x8",    "sd1_b2_8x16",    "sd1_b2_8x12_hijack",
                                    "sd1_b1_8x8_ctx154", "inpaint_b2_8x8", "inpaint_b2_8x12_hijack"};

static const char *model_for(const char *name)
{
    return strncmp(name, "inpaint", 7) == 0 ? "models/tiny-sd1-inpaint.f16.safetensors"
                                             : "models/tiny-sd1.f16.safetensors";
}

static mend_sd_model *load_unet(const char *path)
{
    mend_err err = {0};
    mend_sd_model *m = NULL;
    CHECK_OK(mend_sd_load(path, NULL, MEND_COMP_UNET, &m, &err), &err);
    return m;
}

static double max_abs(const float *a, int64_t n)
{
    double m = 0;
    for (int64_t i = 0; i < n; i++)
        m = fmax(m, fabs(a[i]));
    return m;
}

/* Compares every tap the reference has against ours, relative to its scale. */
typedef struct tap_check {
    const mend_tf *ref;
    int seen, bad;
    double worst;
} tap_check;

static void check_tap(void *user, const char *name, const float *data, int ndim, const int64_t *shape)
{
    tap_check *tc = user;
    char full[128];
    snprintf(full, sizeof full, "tap/%s", name);
    const mend_tf_tensor *t = mend_tf_find(tc->ref, full);
    if (!t)
        return;
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    CHECK_MSG(t->ndim == ndim && mend_tf_numel(t) == n, "%s: shape differs", full);
    if (mend_tf_numel(t) != n)
        return;
    float *want = malloc((size_t)n * sizeof *want);
    mend_err err = {0};
    CHECK_OK(mend_tf_read_f32(tc->ref, t, want, &err), &err);
    double rel = test_max_abs_diff(data, want, n) / fmax(max_abs(want, n), 1e-6);
    tc->worst = fmax(tc->worst, rel);
    tc->seen++;
    if (rel > TAP_REL_TOL) {
        tc->bad++;
        CHECK_MSG(rel <= TAP_REL_TOL, "%s: relative error %g", full, rel);
    }
    free(want);
}

/* Runs one reference case; returns the output (caller frees) for reuse. */
static float *run_case(mend_unet *u, const mend_tf *ref, int64_t *numel, tap_check *tc)
{
    const mend_tf_tensor *xt = mend_tf_find(ref, "x"), *ct = mend_tf_find(ref, "context");
    CHECK(xt && ct && xt->ndim == 4 && ct->ndim == 3);
    if (!xt || !ct)
        return NULL;
    int64_t nx, nt, nc;
    float *x = test_load_f32(ref, "x", &nx), *ts = test_load_f32(ref, "timesteps", &nt);
    float *ctx = test_load_f32(ref, "context", &nc);
    int B = (int)xt->shape[0], H = (int)xt->shape[2], W = (int)xt->shape[3], T = (int)ct->shape[1];
    *numel = (int64_t)B * 4 * H * W;
    float *out = malloc((size_t)*numel * sizeof *out);
    mend_err err = {0};
    mend_unet_set_tap(u, tc ? check_tap : NULL, tc);
    CHECK_OK(mend_unet_forward(u, x, B, H, W, ts, ctx, T, out, &err), &err);
    mend_unet_set_tap(u, NULL, NULL);
    free(x);
    free(ts);
    free(ctx);
    return out;
}

TEST(arch_from_weights)
{
    REQUIRE_SHARED(sd, "models/tiny-sd1.f16.safetensors");
    REQUIRE_SHARED(inp, "models/tiny-sd1-inpaint.f16.safetensors");
    mend_sd_model *m = load_unet(sd), *mi = load_unet(inp);
    if (!m || !mi)
        goto done;
    const mend_unet_arch *a = mend_unet_get_arch(m->unet);
    /* tiny-models.json: model_channels 32, mult [1,2,4,4], attention at 4,2,1 (levels 0-2), context 32 */
    CHECK(a->in_channels == 4 && a->out_channels == 4 && a->model_channels == 32);
    CHECK(a->levels == 4 && a->mult[0] == 1 && a->mult[1] == 2 && a->mult[2] == 4 && a->mult[3] == 4);
    CHECK(a->attn[0] && a->attn[1] && a->attn[2] && !a->attn[3]);
    CHECK(a->num_res_blocks == 2 && a->num_heads == 8 && a->context_dim == 32);
    CHECK(a->time_embed_dim == 128 && a->transformer_depth == 1 && !a->linear_proj);
    CHECK(mend_unet_get_arch(mi->unet)->in_channels == 9);
    /* ldm_values in tiny-models.json counts the whole checkpoint; the UNet is most of it */
    int64_t p = mend_unet_params(m->unet);
    CHECK(p > 1000000 && p < 15393927);
    CHECK(mend_unet_params(mi->unet) - p == 5 * 32 * 9);
    double f1 = mend_unet_flops(m->unet, 1, 8, 8, 77), f2 = mend_unet_flops(m->unet, 2, 8, 8, 77);
    CHECK(f1 > 0 && fabs(f2 - 2 * f1) <= 1e-9 * f2);
    CHECK(mend_unet_flops(m->unet, 1, 16, 16, 77) > 3.5 * f1);
done:
    mend_sd_free(m);
    mend_sd_free(mi);
}

TEST(reference_cases)
{
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        char rel[256];
        snprintf(rel, sizeof rel, "unet/%s.safetensors", cases[c]);
        REQUIRE_SHARED(refp, rel);
        REQUIRE_SHARED(modelp, model_for(cases[c]));
        mend_err err = {0};
        mend_tf *ref = NULL;
        CHECK_OK(mend_tf_open(refp, &ref, &err), &err);
        mend_sd_model *m = load_unet(modelp);
        if (ref && m) {
            tap_check tc = {ref, 0, 0, 0};
            int64_t n = 0, nw = 0;
            float *out = run_case(m->unet, ref, &n, &tc);
            float *want = test_load_f32(ref, "out", &nw);
            CHECK(n == nw);
            double e = out && want && n == nw ? test_max_abs_diff(out, want, n) : INFINITY;
            printf("  %-24s out max abs err %.3g (tol %g), taps %d worst rel %.3g\n", cases[c], e, OUT_TOL,
                   tc.seen, tc.worst);
            CHECK_MSG(e <= OUT_TOL, "%s: out max abs err %g", cases[c], e);
            if (mend_tf_find(ref, "tap/middle_block"))
                CHECK(tc.seen == 1 + 12 + 1 + 12);
            free(out);
            free(want);
        }
        mend_sd_free(m);
        mend_tf_close(ref);
    }
}

TEST(same_bytes_for_any_thread_count)
{
    REQUIRE_SHARED(modelp, "models/tiny-sd1.f16.safetensors");
    mend_tf *ref = test_open_shared("unet/sd1_b2_8x12_hijack.safetensors");
    mend_sd_model *m = load_unet(modelp);
    if (ref && m) {
        int64_t n1 = 0, n2 = 0;
        int saved = mend_get_threads();
        mend_set_threads(1);
        float *o1 = run_case(m->unet, ref, &n1, NULL);
        mend_set_threads(2);
        float *o2 = run_case(m->unet, ref, &n2, NULL);
        mend_set_threads(saved);
        CHECK(o1 && o2 && n1 == n2 && memcmp(o1, o2, (size_t)n1 * sizeof *o1) == 0);
        free(o1);
        free(o2);
    }
    mend_sd_free(m);
    mend_tf_close(ref);
}

/* Writes a copy of the model's UNet tensors, without `drop` and with
 * `reshape` flattened to one dimension, to a temporary file. */
static const char *broken_copy(const char *modelp, const char *file, const char *drop, const char *reshape)
{
    static char path[512];
    mend_err err = {0};
    mend_tf *f = NULL;
    CHECK_OK(mend_tf_open(modelp, &f, &err), &err);
    if (!f)
        return NULL;
    mend_st_writer *w = mend_st_writer_new();
    for (int i = 0; i < f->count; i++) {
        const mend_tf_tensor *t = &f->tensors[i];
        if (strncmp(t->name, "model.diffusion_model.", 22) != 0 || (drop && !strcmp(t->name, drop)))
            continue;
        int64_t flat[1] = {mend_tf_numel(t)};
        int re = reshape && !strcmp(t->name, reshape);
        CHECK_OK(mend_st_writer_add(w, t->name, t->dtype, re ? 1 : t->ndim, re ? flat : t->shape, t->data, 0, &err),
                 &err);
    }
    snprintf(path, sizeof path, "%s/%s", test_tmpdir(), file);
    CHECK_OK(mend_st_writer_write(w, path, &err), &err);
    mend_st_writer_free(w);
    mend_tf_close(f);
    return path;
}

static void expect_load_error(const char *path, mend_status code, const char *needle1, const char *needle2)
{
    mend_err err = {0};
    mend_sd_model *m = NULL;
    mend_status s = mend_sd_load(path, NULL, MEND_COMP_UNET, &m, &err);
    CHECK_MSG(s == code, "got %s: %s", mend_status_name(s), err.msg);
    CHECK_MSG(strstr(err.msg, needle1) != NULL, "message lacks '%s': %s", needle1, err.msg);
    if (needle2)
        CHECK_MSG(strstr(err.msg, needle2) != NULL, "message lacks '%s': %s", needle2, err.msg);
    CHECK(m == NULL);
    mend_sd_free(m);
}

TEST(broken_weights_name_the_tensor)
{
    REQUIRE_SHARED(modelp, "models/tiny-sd1.f16.safetensors");
    const char *missing = "model.diffusion_model.output_blocks.4.1.transformer_blocks.0.attn2.to_v.weight";
    const char *p = broken_copy(modelp, "missing.safetensors", missing, NULL);
    if (p)
        expect_load_error(p, MEND_E_FORMAT, missing, "missing");

    const char *reshaped = "model.diffusion_model.input_blocks.5.0.out_layers.3.weight";
    p = broken_copy(modelp, "reshaped.safetensors", NULL, reshaped);
    if (p)
        expect_load_error(p, MEND_E_FORMAT, reshaped, "shape");

    /* a whole level's Downsample gone: the block pattern no longer forms a UNet */
    p = broken_copy(modelp, "nodown.safetensors", "model.diffusion_model.input_blocks.3.0.op.weight", NULL);
    if (p)
        expect_load_error(p, MEND_E_ARCH, "input_blocks", NULL);

    p = broken_copy(modelp, "noconvin.safetensors", "model.diffusion_model.input_blocks.0.0.weight", NULL);
    if (p)
        expect_load_error(p, MEND_E_ARCH, "model.diffusion_model.input_blocks.0.0.weight", NULL);
}

/* A batch of two gives each item what it gets alone. At 45x51 the level-0
 * transformers have 2295 tokens per item, so their feed-forward runs in row
 * chunks that fall differently in the two runs, and every level has odd
 * sizes (the resize-before-concat path). */
TEST(batch_items_are_independent)
{
    REQUIRE_SHARED(modelp, "models/tiny-sd1.f16.safetensors");
    mend_sd_model *m = load_unet(modelp);
    if (!m)
        return;
    enum { H = 45, W = 51, T = 5, D = 32, C = 4 };
    const int64_t nx = (int64_t)C * H * W;
    float *x = malloc(2 * nx * sizeof *x), *ctx = malloc(2 * T * D * sizeof *ctx);
    float *o1 = malloc(2 * nx * sizeof *o1), *o2 = malloc(2 * nx * sizeof *o2);
    float ts[2] = {321.5f, 17.0f};
    uint32_t r = 12345;
    for (int64_t i = 0; i < 2 * nx; i++)
        x[i] = (float)((r = r * 1664525u + 1013904223u) >> 8) / (float)(1u << 24) * 2 - 1;
    for (int i = 0; i < 2 * T * D; i++)
        ctx[i] = (float)((r = r * 1664525u + 1013904223u) >> 8) / (float)(1u << 24) * 2 - 1;
    mend_err err = {0};
    CHECK_OK(mend_unet_forward(m->unet, x, 2, H, W, ts, ctx, T, o2, &err), &err);
    CHECK_OK(mend_unet_forward(m->unet, x, 1, H, W, ts, ctx, T, o1, &err), &err);
    CHECK_OK(mend_unet_forward(m->unet, x + nx, 1, H, W, ts + 1, ctx + T * D, T, o1 + nx, &err), &err);
    double e = test_max_abs_diff(o1, o2, 2 * nx), scale = max_abs(o2, 2 * nx);
    printf("  batch vs single max abs diff %.3g (output scale %.3g)\n", e, scale);
    CHECK(scale > 0.01 && isfinite(scale));
    CHECK_MSG(e <= 1e-5 * scale, "batch of 2 differs from single runs by %g", e);
    free(x);
    free(ctx);
    free(o1);
    free(o2);
    mend_sd_free(m);
}

TEST(bad_forward_arguments)
{
    REQUIRE_SHARED(modelp, "models/tiny-sd1.f16.safetensors");
    mend_sd_model *m = load_unet(modelp);
    if (!m)
        return;
    float x[4] = {0}, t[1] = {0}, c[32] = {0}, o[4];
    mend_err err = {0};
    CHECK(mend_unet_forward(m->unet, x, 1, 0, 1, t, c, 1, o, &err) == MEND_E_ARG);
    CHECK(mend_unet_forward(m->unet, x, 1, 1, 1, t, c, 0, o, &err) == MEND_E_ARG);
    /* 1x1 latent: every level is 1x1, still a valid forward pass */
    CHECK_OK(mend_unet_forward(m->unet, x, 1, 1, 1, t, c, 1, o, &err), &err);
    mend_sd_free(m);
}

TEST(eval_binary_matches_reference)
{
    REQUIRE_SHARED(refp, "unet/inpaint_b2_8x8.safetensors");
    REQUIRE_SHARED(modelp, "models/tiny-sd1-inpaint.f16.safetensors");
    char out[512], cmd[2048];
    snprintf(out, sizeof out, "%s/eval_unet.safetensors", test_tmpdir());
    snprintf(cmd, sizeof cmd, "'%s' eval unet --model '%s' --in '%s' --out '%s' --threads 2", test_mend_bin(), modelp,
             refp, out);
    CHECK(test_run(cmd, NULL) == 0);
    mend_err err = {0};
    mend_tf *got = NULL, *ref = NULL;
    CHECK_OK(mend_tf_open(out, &got, &err), &err);
    CHECK_OK(mend_tf_open(refp, &ref, &err), &err);
    if (got && ref) {
        int64_t n = 0, nw = 0;
        float *o = test_load_f32(got, "out", &n), *w = test_load_f32(ref, "out", &nw);
        CHECK(n == nw && n > 0);
        double e = o && w && n == nw ? test_max_abs_diff(o, w, n) : INFINITY;
        CHECK_MSG(e <= OUT_TOL, "eval out max abs err %g", e);
        CHECK(mend_tf_find(got, "tap/middle_block") != NULL); /* the input file has taps */
        free(o);
        free(w);
    }
    mend_tf_close(got);
    mend_tf_close(ref);

    /* a 4-channel UNet refuses 9-channel input with a message naming the input */
    snprintf(cmd, sizeof cmd, "'%s' eval unet --model '%s' --in '%s' --out '%s'", test_mend_bin(),
             test_shared("models/tiny-sd1.f16.safetensors"), refp, out);
    char log[512];
    snprintf(log, sizeof log, "%s/eval_unet.log", test_tmpdir());
    CHECK(test_run(cmd, log) == 1);
    char *msg = test_read_file(log, NULL);
    CHECK(msg && strstr(msg, "channels"));
    free(msg);
}

int main(void)
{
    RUN(arch_from_weights);
    RUN(reference_cases);
    RUN(same_bytes_for_any_thread_count);
    RUN(broken_weights_name_the_tensor);
    RUN(batch_items_are_independent);
    RUN(bad_forward_arguments);
    RUN(eval_binary_matches_reference);
    return test_summary();
}
