/* The LDM AutoencoderKL (ldm/modules/diffusionmodules/model.py Encoder and
 * Decoder) on fp32 NCHW buffers.
 *
 * Images are processed one at a time (the VAE has no interaction across the
 * batch) so the live memory is that of one image. Every layer replaces the
 * current activation buffer and frees the old one as soon as it is consumed;
 * at 512x512 the peak is three or four 128-channel full-resolution tensors
 * (128 MiB each). The mid-block attention uses the blocked mend_attention, so
 * no HW x HW score matrix is ever built. */
#include "core/stop.h"
#include "model/vae_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- forward */

/* The activation of one image: a c x h x w buffer that each layer replaces. */
typedef struct act {
    float *d;
    int c, h, w;
} act;

static int64_t act_hw(const act *a) { return (int64_t)a->h * a->w; }

static float *alloc_floats(int64_t n) { return malloc((size_t)(n > 0 ? n : 1) * sizeof(float)); }

static mend_status oom(mend_err *err, const char *what)
{
    return mend_fail(err, MEND_E_NOMEM, "VAE: out of memory (%s)", what);
}

/* out = conv(x); out->d is a new buffer. */
static mend_status conv_into(const vae_conv *cv, const float *x, int h, int w, act *out, mend_err *err)
{
    int oh, ow;
    mend_conv2d_out_size(&cv->d, h, w, &oh, &ow);
    float *y = alloc_floats((int64_t)cv->d.cout * oh * ow);
    if (!y)
        return oom(err, "convolution output");
    if (mend_conv2d(&cv->d, x, 1, h, w, cv->w, cv->b, y) != MEND_OK) {
        free(y);
        return oom(err, "convolution scratch");
    }
    *out = (act){y, cv->d.cout, oh, ow};
    return MEND_OK;
}

/* a = conv(a), freeing the input. On failure a is left as it was. */
static mend_status conv_step(const vae_conv *cv, act *a, mend_err *err)
{
    act y;
    MEND_TRY(conv_into(cv, a->d, a->h, a->w, &y, err));
    free(a->d);
    *a = y;
    return MEND_OK;
}

static void norm_silu(const vae_norm *n, const act *a, float *y)
{
    mend_group_norm(a->d, 1, a->c, act_hw(a), VAE_GROUPS, VAE_EPS, n->g, n->b, 1, y);
}

/* ResnetBlock: conv2(silu(gn2(conv1(silu(gn1(x)))))) + shortcut(x). On
 * failure a->d is still a valid buffer owned by the caller. */
static mend_status res_step(const vae_res *r, act *a, mend_err *err)
{
    MEND_TRY(mend_stop_poll(0, err)); /* an Interrupt between blocks; a Skip ends sampling, not decoding */
    act h;
    if (r->has_nin) {
        /* the 1x1 shortcut first, so the input can then be normalised in
         * place: one full-size buffer less at the decoder's widest level */
        act skip;
        MEND_TRY(conv_into(&r->nin, a->d, a->h, a->w, &skip, err));
        h = *a;
        *a = skip;
        norm_silu(&r->norm1, &h, h.d);
    } else {
        h = (act){alloc_floats(a->c * act_hw(a)), a->c, a->h, a->w};
        if (!h.d)
            return oom(err, "resnet block");
        norm_silu(&r->norm1, a, h.d);
    }
    mend_status s = conv_step(&r->conv1, &h, err);
    if (s == MEND_OK) {
        norm_silu(&r->norm2, &h, h.d);
        s = conv_step(&r->conv2, &h, err);
    }
    if (s != MEND_OK) {
        free(h.d);
        return s;
    }
    mend_add(h.d, a->d, h.d, h.c * act_hw(&h));
    free(a->d);
    *a = h;
    return MEND_OK;
}

/* y[rows, ld] columns 0..c-1 = x[rows, c] * W^T + b, through tmp [rows, c]. */
static mend_status linear_strided(const float *x, int64_t rows, int c, mend_wmat *W, const float *b, float *y,
                                  int64_t ld, float *tmp)
{
    MEND_TRY(mend_linear(x, rows, c, W, b, c, tmp));
    for (int64_t r = 0; r < rows; r++)
        memcpy(y + r * ld, tmp + r * c, (size_t)c * sizeof *y);
    return MEND_OK;
}

/* AttnBlock: x + proj_out(softmax(q k^T / sqrt(C)) v) over the HW tokens. */
static mend_status attn_step(const vae_attn *at, act *a, mend_err *err)
{
    int c = a->c;
    int64_t hw = act_hw(a);
    float *n = alloc_floats(c * hw), *t = alloc_floats(c * hw), *qkv = alloc_floats(3 * c * hw);
    mend_status s = MEND_OK;
    if (!n || !t || !qkv) {
        s = oom(err, "attention");
        goto done;
    }
    mend_group_norm(a->d, 1, c, hw, VAE_GROUPS, VAE_EPS, at->norm.g, at->norm.b, 0, n);
    mend_nchw_to_nhwc(n, 1, c, hw, t);
    if (linear_strided(t, hw, c, at->wq, at->bq, qkv, 3 * c, n) != MEND_OK ||
        linear_strided(t, hw, c, at->wk, at->bk, qkv + c, 3 * c, n) != MEND_OK ||
        linear_strided(t, hw, c, at->wv, at->bv, qkv + 2 * c, 3 * c, n) != MEND_OK ||
        mend_attention(qkv, 3 * c, qkv + c, 3 * c, qkv + 2 * c, 3 * c, n, 1, 1, hw, hw, c, 0) != MEND_OK) {
        s = oom(err, "attention scratch");
        goto done;
    }
    if (mend_linear(n, hw, c, at->wo, at->bo, c, t) != MEND_OK) {
        s = oom(err, "attention projection");
        goto done;
    }
    mend_nhwc_to_nchw(t, 1, c, hw, n);
    mend_add(a->d, n, a->d, c * hw);
done:
    free(n);
    free(t);
    free(qkv);
    return s;
}

static mend_status upsample_step(act *a, mend_err *err)
{
    act y = {alloc_floats(a->c * act_hw(a) * 4), a->c, a->h * 2, a->w * 2};
    if (!y.d)
        return oom(err, "upsample");
    mend_resize_nearest(a->d, 1, a->c, a->h, a->w, y.h, y.w, y.d);
    free(a->d);
    *a = y;
    return MEND_OK;
}

static mend_status level_step(const vae_level *lv, act *a, int upsample, mend_err *err)
{
    for (int b = 0; b < lv->nblocks; b++) {
        MEND_TRY(res_step(&lv->block[b], a, err));
        if (lv->has_attn)
            MEND_TRY(attn_step(&lv->attn[b], a, err));
    }
    if (!lv->has_resample)
        return MEND_OK;
    if (upsample)
        MEND_TRY(upsample_step(a, err));
    return conv_step(&lv->resample, a, err);
}

static mend_status mid_step(const vae_res *b1, const vae_attn *at, const vae_res *b2, act *a, mend_err *err)
{
    MEND_TRY(res_step(b1, a, err));
    MEND_TRY(attn_step(at, a, err));
    return res_step(b2, a, err);
}

/* norm_out + SiLU, then conv_out. */
static mend_status out_step(const vae_norm *n, const vae_conv *cv, act *a, mend_err *err)
{
    norm_silu(n, a, a->d);
    return conv_step(cv, a, err);
}

static mend_status encode_one(const mend_vae *v, const float *x, int H, int W, act *a, mend_err *err)
{
    const vae_encoder *e = &v->enc;
    MEND_TRY(conv_into(&e->conv_in, x, H, W, a, err));
    for (int lv = 0; lv < v->arch.levels; lv++)
        MEND_TRY(level_step(&e->down[lv], a, 0, err));
    MEND_TRY(mid_step(&e->mid1, &e->mid_attn, &e->mid2, a, err));
    MEND_TRY(out_step(&e->norm_out, &e->conv_out, a, err));
    return conv_step(&e->quant_conv, a, err);
}

static mend_status decode_one(const mend_vae *v, const float *z, int h, int w, act *a, mend_err *err)
{
    const vae_decoder *d = &v->dec;
    int zc = v->arch.z_channels;
    int64_t n = (int64_t)zc * h * w;
    float *zs = alloc_floats(n);
    if (!zs)
        return oom(err, "latent");
    /* LDM decode_first_stage: z = 1 / scale_factor * z */
    const float inv_scale = (float)(1.0 / (double)MEND_VAE_SCALE);
    for (int64_t i = 0; i < n; i++)
        zs[i] = inv_scale * z[i];
    mend_status s = conv_into(&d->post_quant_conv, zs, h, w, a, err);
    free(zs);
    MEND_TRY(s);
    MEND_TRY(conv_step(&d->conv_in, a, err));
    MEND_TRY(mid_step(&d->mid1, &d->mid_attn, &d->mid2, a, err));
    for (int lv = v->arch.levels - 1; lv >= 0; lv--)
        MEND_TRY(level_step(&d->up[lv], a, 1, err));
    return out_step(&d->norm_out, &d->conv_out, a, err);
}

typedef mend_status (*one_image_fn)(const mend_vae *v, const float *x, int h, int w, act *a, mend_err *err);

/* Runs fn on each of the N inputs (in_n floats apart) and copies each
 * result (out_n floats) into out: one image's activations at a time. */
static mend_status each_image(const mend_vae *v, one_image_fn fn, const float *x, int N, int h, int w, int64_t in_n,
                              float *out, int64_t out_n, mend_err *err)
{
    for (int i = 0; i < N; i++) {
        act a = {0};
        mend_status s = fn(v, x + i * in_n, h, w, &a, err);
        if (s == MEND_OK)
            memcpy(out + i * out_n, a.d, (size_t)out_n * sizeof(float));
        free(a.d);
        MEND_TRY(s);
    }
    return MEND_OK;
}

static int downscale(const mend_vae *v) { return 1 << (v->arch.levels - 1); }

mend_status mend_vae_encode(const mend_vae *v, const float *x, int N, int H, int W, float *moments, mend_err *err)
{
    int f = downscale(v);
    if (!v->arch.has_encoder)
        return mend_fail(err, MEND_E_ARG, "VAE: the loaded weights have no encoder");
    if (N < 1 || H < f || W < f || H % f || W % f)
        return mend_fail(err, MEND_E_ARG, "VAE encode: image %dx%d (batch %d) must be a positive multiple of %d",
                         W, H, N, f);
    int64_t in_n = (int64_t)v->arch.in_channels * H * W;
    int64_t out_n = (int64_t)2 * v->arch.z_channels * (H / f) * (W / f);
    return each_image(v, encode_one, x, N, H, W, in_n, moments, out_n, err);
}

mend_status mend_vae_decode(const mend_vae *v, const float *z, int N, int h, int w, float *out, mend_err *err)
{
    int f = downscale(v);
    if (!v->arch.has_decoder)
        return mend_fail(err, MEND_E_ARG, "VAE: the loaded weights have no decoder");
    if (N < 1 || h < 1 || w < 1)
        return mend_fail(err, MEND_E_ARG, "VAE decode: latent %dx%d (batch %d) is empty", w, h, N);
    int64_t in_n = (int64_t)v->arch.z_channels * h * w;
    int64_t out_n = (int64_t)VAE_OUT_CHANNELS * (h * f) * (w * f);
    return each_image(v, decode_one, z, N, h, w, in_n, out, out_n, err);
}

void mend_vae_posterior(const float *moments, const float *noise, int N, int z, int64_t hw, float *latent)
{
    for (int i = 0; i < N; i++) {
        const float *mean = moments + (int64_t)i * 2 * z * hw, *logvar = mean + z * hw;
        float *out = latent + (int64_t)i * z * hw;
        for (int64_t j = 0; j < z * hw; j++) {
            float v = mean[j];
            if (noise) {
                float lv = fminf(fmaxf(logvar[j], -30.0f), 20.0f);
                v += expf(0.5f * lv) * noise[(int64_t)i * z * hw + j];
            }
            out[j] = MEND_VAE_SCALE * v;
        }
    }
}

/* ---------------------------------------------------------------- FLOPs */

static double conv_flops(const vae_conv *cv, int *h, int *w)
{
    int oh, ow;
    mend_conv2d_out_size(&cv->d, *h, *w, &oh, &ow);
    *h = oh;
    *w = ow;
    return 2.0 * cv->d.cout * cv->d.cin * cv->d.kh * cv->d.kw * (double)oh * ow;
}

static double res_flops(const vae_res *r, int h, int w)
{
    double f = conv_flops(&r->conv1, &h, &w) + conv_flops(&r->conv2, &h, &w);
    return r->has_nin ? f + conv_flops(&r->nin, &h, &w) : f;
}

/* q, k, v, proj_out (4 C x C matmuls) + scores and weighted sum (2 HW x HW x C). */
static double attn_flops(int c, int h, int w)
{
    double hw = (double)h * w;
    return 2.0 * (4.0 * hw * c * c + 2.0 * hw * hw * c);
}

static double level_flops(const vae_level *lv, int *h, int *w, int upsample)
{
    double f = 0;
    for (int b = 0; b < lv->nblocks; b++) {
        f += res_flops(&lv->block[b], *h, *w);
        if (lv->has_attn)
            f += attn_flops(lv->attn[b].c, *h, *w);
    }
    if (lv->has_resample) {
        if (upsample) {
            *h *= 2;
            *w *= 2;
        }
        f += conv_flops(&lv->resample, h, w);
    }
    return f;
}

static double mid_flops(const vae_res *b1, const vae_attn *at, const vae_res *b2, int h, int w)
{
    return res_flops(b1, h, w) + attn_flops(at->c, h, w) + res_flops(b2, h, w);
}

double mend_vae_encode_flops(const mend_vae *v, int N, int H, int W)
{
    if (!v || !v->arch.has_encoder)
        return 0;
    const vae_encoder *e = &v->enc;
    double f = conv_flops(&e->conv_in, &H, &W);
    for (int lv = 0; lv < v->arch.levels; lv++)
        f += level_flops(&e->down[lv], &H, &W, 0);
    f += mid_flops(&e->mid1, &e->mid_attn, &e->mid2, H, W);
    f += conv_flops(&e->conv_out, &H, &W) + conv_flops(&e->quant_conv, &H, &W);
    return f * N;
}

double mend_vae_decode_flops(const mend_vae *v, int N, int h, int w)
{
    if (!v || !v->arch.has_decoder)
        return 0;
    const vae_decoder *d = &v->dec;
    double f = conv_flops(&d->post_quant_conv, &h, &w) + conv_flops(&d->conv_in, &h, &w);
    f += mid_flops(&d->mid1, &d->mid_attn, &d->mid2, h, w);
    for (int lv = v->arch.levels - 1; lv >= 0; lv--)
        f += level_flops(&d->up[lv], &h, &w, 1);
    f += conv_flops(&d->conv_out, &h, &w);
    return f * N;
}

mend_status mend_vae_set_prec(mend_vae *m, mend_kprec p, mend_err *err)
{
    return mend_wstore_set_prec(&m->store, p, err);
}
