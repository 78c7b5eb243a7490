/* bf16 precision against the same goldens as the fp32 tests, with bf16's
 * own tolerance: UNet and VAE decode outputs within 3e-2 of the reference
 * relative to its largest value (bf16 keeps 8 mantissa bits, ~4e-3 per
 * rounding; the tiny models chain ~40 layers), while staying far from the
 * fp32 result's error being zero (the bf16 path really ran). Skipped (77)
 * with the reason on CPUs without native bf16; and fp32 after bf16 is
 * refused rather than silently inexact. */
#include "test.h"

#include "kernels/kernels.h"
#include "model/sd_model.h"

#include <string.h>

#define BF16_REL_TOL 3e-2

static double rel_err(const float *a, const float *ref, int64_t n)
{
    double m = 1e-6;
    for (int64_t i = 0; i < n; i++)
        m = fmax(m, fabs(ref[i]));
    return test_max_abs_diff(a, ref, n) / m;
}

static mend_sd_model *load_bf16(const char *path, unsigned comps)
{
    mend_err err = {0};
    mend_sd_model *m = NULL;
    CHECK_OK(mend_sd_load(path, NULL, comps, &m, &err), &err);
    const char *chosen = NULL;
    if (m)
        CHECK_OK(mend_sd_set_precision(m, MEND_SD_PREC_BF16, &chosen, &err), &err);
    CHECK(chosen && strcmp(chosen, "bf16") == 0);
    return m;
}

static void unet_case(const char *name, const char *model)
{
    char rel[256];
    snprintf(rel, sizeof rel, "unet/%s.safetensors", name);
    REQUIRE_SHARED(refp, rel);
    REQUIRE_SHARED(modelp, model);
    mend_err err = {0};
    mend_tf *ref = NULL;
    CHECK_OK(mend_tf_open(refp, &ref, &err), &err);
    mend_sd_model *m = load_bf16(modelp, MEND_COMP_UNET);
    const mend_tf_tensor *xt = ref ? mend_tf_find(ref, "x") : NULL, *ct = ref ? mend_tf_find(ref, "context") : NULL;
    if (m && xt && ct) {
        int64_t nx, nt, nc, no;
        float *x = test_load_f32(ref, "x", &nx), *ts = test_load_f32(ref, "timesteps", &nt);
        float *ctx = test_load_f32(ref, "context", &nc), *want = test_load_f32(ref, "out", &no);
        int B = (int)xt->shape[0], H = (int)xt->shape[2], W = (int)xt->shape[3], T = (int)ct->shape[1];
        float *out = calloc((size_t)no, sizeof *out);
        CHECK_OK(mend_unet_forward(m->unet, x, B, H, W, ts, ctx, T, out, &err), &err);
        double e = rel_err(out, want, no);
        printf("  %-24s bf16 rel err %.3g (tol %g)\n", name, e, BF16_REL_TOL);
        CHECK_MSG(e <= BF16_REL_TOL, "%s: %g", name, e);
        CHECK_MSG(e > 1e-5, "%s: error %g is fp32-like; bf16 did not run", name, e);
        /* exact fp32 is gone once bf16 replaced the weights: refused */
        CHECK(mend_sd_set_precision(m, MEND_SD_PREC_FP32, NULL, &err) == MEND_E_ARG);
        free(x), free(ts), free(ctx), free(want), free(out);
    }
    mend_sd_free(m);
    mend_tf_close(ref);
}

TEST(unet_bf16_against_goldens)
{
    unet_case("sd1_b2_8x8", "models/tiny-sd1.f16.safetensors");
    unet_case("sd1_b2_8x12_hijack", "models/tiny-sd1.f16.safetensors");
    unet_case("inpaint_b2_8x8", "models/tiny-sd1-inpaint.f16.safetensors");
}

TEST(vae_decode_bf16_against_golden)
{
    REQUIRE_SHARED(modelp, "models/tiny-sd1.f16.safetensors");
    mend_tf *ref = test_open_shared("vae/vae_decode_random_2x4x8x12.safetensors");
    mend_err err = {0};
    mend_sd_model *m = load_bf16(modelp, MEND_COMP_VAE);
    const mend_tf_tensor *zt = ref ? mend_tf_find(ref, "z") : NULL;
    if (m && zt) {
        int64_t nz, nd;
        float *z = test_load_f32(ref, "z", &nz), *want = test_load_f32(ref, "decoded", &nd);
        float *out = calloc((size_t)nd, sizeof *out);
        CHECK_OK(mend_vae_decode(m->vae, z, (int)zt->shape[0], (int)zt->shape[2], (int)zt->shape[3], out, &err),
                 &err);
        double e = rel_err(out, want, nd);
        printf("  vae decode               bf16 rel err %.3g (tol %g)\n", e, BF16_REL_TOL);
        CHECK_MSG(e <= BF16_REL_TOL, "vae decode: %g", e);
        free(z), free(want), free(out);
    }
    mend_sd_free(m);
    mend_tf_close(ref);
}

int main(void)
{
    const char *missing = NULL;
    if (!mend_cpu_has_bf16(&missing)) {
        printf("skipped: this CPU has no native bf16 (needs %s)\n", missing);
        return 77;
    }
    RUN(unet_bf16_against_goldens);
    RUN(vae_decode_bf16_against_golden);
    return test_summary();
}
