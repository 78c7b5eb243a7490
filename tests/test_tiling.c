/* A1111's tiling (every UNet and VAE convolution pads circularly): with it
 * the UNet and the VAE decoder commute with rolling their input around the
 * edges (by the UNet's downsampling factor; by one latent pixel = 8 image
 * pixels for the decoder), which zero padding breaks; a tiling job says
 * "Tiling: True" in its infotext. On tiny-sd1 from ../shared (skipped
 * without it). */
#include "pipeline_fixture.h"

#include "core/rng.h"
#include "kernels/kernels.h"
#include "model/unet.h"
#include "model/vae.h"

#include <stdlib.h>
#include <string.h>

/* out = x [nc, h, w] rolled by s along both axes (torch.roll). */
static void roll(const float *x, int64_t nc, int h, int w, int s, float *out)
{
    for (int64_t k = 0; k < nc; k++)
        for (int y = 0; y < h; y++)
            for (int i = 0; i < w; i++)
                out[(k * h + (y + s) % h) * w + (i + s) % w] = x[(k * h + y) * w + i];
}

static float *randn(int64_t n, uint64_t seed)
{
    float *v = malloc((size_t)n * sizeof *v);
    mend_rng r;
    mend_rng_init(&r, MEND_RNG_CPU, seed);
    if (v)
        mend_rng_randn(&r, v, n);
    return v;
}

/* max |f(roll(x)) - roll(f(x))| for the UNet, with circular padding on or off. */
static double unet_roll_error(mend_sd_model *m, int circular)
{
    const mend_unet_arch *a = mend_unet_get_arch(m->unet);
    int h = 16, w = 16, s = 1 << (a->levels - 1), T = 77;
    int64_t n = 4LL * h * w;
    float *x = randn(n, 1), *ctx = randn((int64_t)T * a->context_dim, 2), *xr = malloc((size_t)n * sizeof *xr);
    float *y = malloc((size_t)n * sizeof *y), *yr = malloc((size_t)n * sizeof *yr), *y_rolled = malloc((size_t)n * sizeof *y);
    float t = 500;
    mend_err err = {0};
    double worst = -1;
    if (x && ctx && xr && y && yr && y_rolled) {
        roll(x, 4, h, w, s, xr);
        mend_conv2d_set_circular(circular);
        mend_status s1 = mend_unet_forward(m->unet, x, 1, h, w, &t, ctx, T, y, &err);
        mend_status s2 = s1 == MEND_OK ? mend_unet_forward(m->unet, xr, 1, h, w, &t, ctx, T, yr, &err) : s1;
        mend_conv2d_set_circular(0);
        CHECK_OK(s2, &err);
        roll(y, 4, h, w, s, y_rolled);
        worst = s2 == MEND_OK ? test_max_abs_diff(yr, y_rolled, n) : -1;
    }
    free(x), free(ctx), free(xr), free(y), free(yr), free(y_rolled);
    return worst;
}

static double vae_roll_error(mend_sd_model *m, int circular)
{
    int h = 8, w = 8, H = 64, W = 64;
    int64_t n = 4LL * h * w, N = 3LL * H * W;
    float *z = randn(n, 3), *zr = malloc((size_t)n * sizeof *zr);
    float *d = malloc((size_t)N * sizeof *d), *dr = malloc((size_t)N * sizeof *dr), *d_rolled = malloc((size_t)N * sizeof *d);
    mend_err err = {0};
    double worst = -1;
    if (z && zr && d && dr && d_rolled) {
        roll(z, 4, h, w, 1, zr);
        mend_conv2d_set_circular(circular);
        mend_status s1 = mend_vae_decode(m->vae, z, 1, h, w, d, &err);
        mend_status s2 = s1 == MEND_OK ? mend_vae_decode(m->vae, zr, 1, h, w, dr, &err) : s1;
        mend_conv2d_set_circular(0);
        CHECK_OK(s2, &err);
        roll(d, 3, H, W, 8, d_rolled);
        worst = s2 == MEND_OK ? test_max_abs_diff(dr, d_rolled, N) : -1;
    }
    free(z), free(zr), free(d), free(dr), free(d_rolled);
    return worst;
}

TEST(circular_padding_makes_the_models_wrap_around)
{
    REQUIRE_MODEL(m, sd_model);
    double on = unet_roll_error(m, 1), off = unet_roll_error(m, 0);
    CHECK_MSG(on >= 0 && on < 1e-4 && off > 1e-3, "UNet: rolled input vs rolled output: %g tiled, %g not", on, off);
    on = vae_roll_error(m, 1), off = vae_roll_error(m, 0);
    CHECK_MSG(on >= 0 && on < 1e-4 && off > 1e-3, "VAE decoder: %g tiled, %g not", on, off);
}

/* Records whether convolutions would pad circularly inside the progress callback. */
static mend_status probe_step(void *user, const mend_gen_progress *g, mend_err *err)
{
    (void)g, (void)err;
    mend_conv2d_desc d = {4, 4, 3, 3, 1, 1, 1, 1, 1};
    *(int *)user |= mend_conv2d_circular_applies(&d) ? 2 : 1;
    return MEND_OK;
}

/* A caller's preview decoder (TAESD) runs in the callback: not tiled, as in A1111. */
TEST(progress_callbacks_are_not_tiled)
{
    REQUIRE_MODEL(m, sd_model);
    mend_gen_params p = base_params();
    p.steps = 2;
    p.tiling = 1;
    mend_gen_inputs in = {0};
    mend_gen_output out;
    mend_err err = {0};
    int seen = 0;
    CHECK_OK(mend_generate(m, &p, &in, probe_step, &seen, &out, &err), &err);
    CHECK_MSG(seen == 1, "circular padding in the callback: %d", seen);
    mend_conv2d_desc d = {4, 4, 3, 3, 1, 1, 1, 1, 1};
    CHECK(!mend_conv2d_circular_applies(&d)); /* and off after the job */
    mend_gen_output_free(&out);
}

TEST(a_tiling_job_says_so)
{
    REQUIRE_MODEL(m, sd_model);
    mend_gen_params p = base_params();
    p.steps = 1;
    mend_gen_output a, b;
    mend_err err = {0};
    CHECK_OK(gen(m, &p, NULL, NULL, &a, &err), &err);
    p.tiling = 1;
    CHECK_OK(gen(m, &p, NULL, NULL, &b, &err), &err);
    if (a.count == 1 && b.count == 1) {
        CHECK_MSG(!strstr(a.infotexts[0], "Tiling") && strstr(b.infotexts[0], ", Tiling: True, "), "%s", b.infotexts[0]);
        CHECK(!same_image(&a.images[0], &b.images[0])); /* the edges wrap: another image */
    }
    mend_gen_output_free(&a);
    mend_gen_output_free(&b);
}

int main(void)
{
    RUN(circular_padding_makes_the_models_wrap_around);
    RUN(a_tiling_job_says_so);
    RUN(progress_callbacks_are_not_tiled);
    pipeline_models_free();
    return test_summary();
}
