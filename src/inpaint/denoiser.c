#include "inpaint/denoiser.h"

#include "sampling/lcm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

mend_status mend_cfg_denoiser_init(mend_cfg_denoiser *d, mend_err *err)
{
    d->calls = 0;
    d->last_denoised = calloc((size_t)d->batch * 4 * d->h * d->w, sizeof(float));
    return d->last_denoised ? MEND_OK : mend_fail(err, MEND_E_NOMEM, "out of memory");
}

void mend_cfg_denoiser_free(mend_cfg_denoiser *d)
{
    free(d->last_denoised);
    d->last_denoised = NULL;
}

/* UNet on `count` copies-of-batch inputs starting at x_in with context ctx. */
static mend_status run_unet(mend_cfg_denoiser *d, const float *x_in, int n, const float *t, const float *ctx,
                            int tokens, float *eps, mend_err *err)
{
    return mend_unet_forward(d->unet, x_in, n, d->h, d->w, t, ctx, tokens, eps, err);
}

/* Fills ctx[i] with `copies` copies of cond. */
static void repeat_rows(float *dst, const float *src, int copies, int64_t n)
{
    for (int i = 0; i < copies; i++)
        memcpy(dst + i * n, src, (size_t)n * sizeof *dst);
}

static mend_status cfg_denoise(mend_cfg_denoiser *d, const float *x, float sigma, float t, float *denoised,
                               mend_err *err);

mend_status mend_cfg_denoise(void *user, const float *x, float sigma, float *denoised, mend_err *err)
{
    mend_cfg_denoiser *d = user;
    return cfg_denoise(d, x, sigma, mend_schedule_sigma_to_t(d->sched, sigma), denoised, err);
}

mend_status mend_cfg_denoise_t(void *user, const float *x, float sigma, float t, float *denoised, mend_err *err)
{
    return cfg_denoise(user, x, sigma, t, denoised, err);
}

static mend_status cfg_denoise(mend_cfg_denoiser *d, const float *x, float sigma, float t, float *denoised,
                               mend_err *err)
{
    if (d->interrupt && *d->interrupt)
        return mend_fail(err, MEND_E_INTERRUPTED, "interrupted");
    const mend_unet_arch *a = mend_unet_get_arch(d->unet);
    int B = d->batch, cin = a->in_channels, extra = cin - 4, D = d->cond->width;
    int64_t hw = (int64_t)d->h * d->w, lat = 4 * hw;
    int tc = d->cond->tokens, tu = d->uncond->tokens;
    float c_in = 1.0f / sqrtf(sigma * sigma + 1.0f);
    float c_skip = 0.0f, c_out = 1.0f;
    if (d->lcm) {
        mend_lcm_schedule l;
        mend_lcm_init(&l, d->sched);
        t = mend_lcm_sigma_to_t(&l, sigma);
        mend_lcm_scalings(&l, sigma, &c_skip, &c_out);
    }

    float *x_in = malloc((size_t)(2 * B) * cin * hw * sizeof *x_in);
    float *eps = malloc((size_t)(2 * B) * lat * sizeof *eps);
    float *ctx = malloc((size_t)(2 * B) * (tc > tu ? tc : tu) * D * sizeof *ctx);
    float *ts = malloc((size_t)(2 * B) * sizeof *ts);
    mend_status s = MEND_OK;
    if (!x_in || !eps || !ctx || !ts) {
        s = mend_fail(err, MEND_E_NOMEM, "out of memory in the denoiser");
        goto done;
    }
    /* rows 0..B-1: prompt, B..2B-1: negative prompt (A1111's order) */
    for (int r = 0; r < 2 * B; r++) {
        int img = r % B;
        float *dst = x_in + (int64_t)r * cin * hw;
        const float *src = x + img * lat;
        for (int64_t i = 0; i < lat; i++)
            dst[i] = src[i] * c_in;
        if (d->blend_input && d->nmask && d->init_latent) {
            /* A1111's timestep samplers put the clean init latent into the
             * keep region of the model input (x_vp = x*c_in there). */
            const float *init = d->init_latent + img * lat;
            for (int64_t i = 0; i < lat; i++) {
                float m = d->nmask[i % hw];
                dst[i] = dst[i] * m + init[i] * (1.0f - m);
            }
        }
        if (extra > 0)
            memcpy(dst + lat, d->image_cond + (int64_t)img * extra * hw, (size_t)(extra * hw) * sizeof *dst);
        ts[r] = t;
    }
    const float *cond = mend_cond_at(d->cond, d->calls), *uncond = mend_cond_at(d->uncond, d->calls);
    if (tc == tu) {
        repeat_rows(ctx, cond, B, (int64_t)tc * D);
        repeat_rows(ctx + (int64_t)B * tc * D, uncond, B, (int64_t)tu * D);
        s = run_unet(d, x_in, 2 * B, ts, ctx, tc, eps, err);
    } else {
        /* different chunk counts: A1111 (pad_cond_uncond off) runs them apart */
        repeat_rows(ctx, cond, B, (int64_t)tc * D);
        s = run_unet(d, x_in, B, ts, ctx, tc, eps, err);
        if (s == MEND_OK) {
            repeat_rows(ctx, uncond, B, (int64_t)tu * D);
            s = run_unet(d, x_in + (int64_t)B * cin * hw, B, ts, ctx, tu, eps + B * lat, err);
        }
    }
    if (s != MEND_OK)
        goto done;
    for (int img = 0; img < B; img++) {
        const float *xi = x + img * lat, *ec = eps + img * lat, *eu = eps + (B + img) * lat;
        float *out = denoised + img * lat;
        for (int64_t i = 0; i < lat; i++) {
            float dc = xi[i] - sigma * ec[i], du = xi[i] - sigma * eu[i];
            if (d->lcm) {
                dc = c_out * dc + c_skip * xi[i];
                du = c_out * du + c_skip * xi[i];
            }
            out[i] = du + (dc - du) * d->cfg_scale;
        }
        if (d->nmask && d->init_latent && !d->blend_input) {
            const float *init = d->init_latent + img * lat;
            for (int64_t i = 0; i < lat; i++) {
                float m = d->nmask[i % hw];
                out[i] = out[i] * m + init[i] * (1.0f - m);
            }
        }
    }
    memcpy(d->last_denoised, denoised, (size_t)(B * lat) * sizeof *denoised);
    d->calls++;
done:
    free(x_in);
    free(eps);
    free(ctx);
    free(ts);
    return s;
}
