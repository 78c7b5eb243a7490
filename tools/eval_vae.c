/* mend eval vae-encode / vae-decode: the LDM VAE on a reference file.
 *   vae-encode: x [N,3,H,W] in [-1,1] (or image_uint8 [H,W,3]) ->
 *               moments, mean, logvar, std, z_mean_scaled,
 *               z_sample_scaled (when sample_noise is given)
 *   vae-decode: z (or z_mean_scaled) -> decoded (or decoded_from_z_mean)
 *               and decoded_uint8 [N,H,W,3] */
#include "cli/cli.h"
#include "eval.h"
#include "model/sd_model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static mend_sd_model *load_vae(const eval_args *a)
{
    mend_err err = {0};
    mend_sd_model *m = NULL;
    if (mend_sd_load(a->model, NULL, MEND_COMP_VAE, &m, &err) != MEND_OK) {
        cli_error(&err);
        return NULL;
    }
    return m;
}

static mend_tf *open_input(const eval_args *a)
{
    mend_err err = {0};
    mend_tf *in = NULL;
    if (mend_tf_open(a->in, &in, &err) != MEND_OK) {
        cli_error(&err);
        return NULL;
    }
    return in;
}

/* image_uint8 [H,W,3] (or [N,H,W,3]) -> x [N,3,H,W] = u8 / 255 * 2 - 1. */
static float *image_from_uint8(const mend_tf *in, int64_t *shape)
{
    const mend_tf_tensor *t = mend_tf_find(in, "image_uint8");
    if (!t) {
        cli_errorf("%s: input has neither 'x' nor 'image_uint8'", in->path);
        return NULL;
    }
    int batched = t->ndim == 4;
    if (t->dtype != MEND_DT_U8 || (t->ndim != 3 && !batched) || t->shape[t->ndim - 1] != 3) {
        cli_errorf("%s: 'image_uint8' must be uint8 [H,W,3] or [N,H,W,3]", in->path);
        return NULL;
    }
    int64_t n = batched ? t->shape[0] : 1, h = t->shape[batched], w = t->shape[batched + 1];
    float *x = malloc((size_t)(n * 3 * h * w) * sizeof *x);
    if (!x) {
        cli_errorf("out of memory");
        return NULL;
    }
    for (int64_t i = 0; i < n; i++)
        for (int64_t p = 0; p < h * w; p++)
            for (int c = 0; c < 3; c++)
                x[(i * 3 + c) * h * w + p] = (float)t->data[(i * h * w + p) * 3 + c] / 255.0f * 2.0f - 1.0f;
    shape[0] = n;
    shape[1] = 3;
    shape[2] = h;
    shape[3] = w;
    return x;
}

static float *read_image(const mend_tf *in, int64_t *shape)
{
    if (mend_tf_find(in, "x"))
        return eval_input_f32(in, "x", 4, shape);
    return image_from_uint8(in, shape);
}

/* Channel slice [c0, c0+nc) of every image of an [N, C, hw] tensor. */
static void slice_channels(const float *src, int N, int C, int64_t hw, int c0, int nc, float *dst)
{
    for (int i = 0; i < N; i++)
        memcpy(dst + (int64_t)i * nc * hw, src + ((int64_t)i * C + c0) * hw, (size_t)(nc * hw) * sizeof *dst);
}

/* Writes mean, clamped logvar and std as ldm DiagonalGaussianDistribution has them. */
static mend_status add_posterior(mend_st_writer *w, const float *moments, int N, int z, int64_t hw,
                                 const int64_t *zshape, mend_err *err)
{
    int64_t n = (int64_t)N * z * hw;
    float *buf = malloc((size_t)(3 * n) * sizeof *buf);
    if (!buf)
        return mend_fail(err, MEND_E_NOMEM, "out of memory");
    float *mean = buf, *logvar = buf + n, *std = buf + 2 * n;
    slice_channels(moments, N, 2 * z, hw, 0, z, mean);
    slice_channels(moments, N, 2 * z, hw, z, z, logvar);
    for (int64_t i = 0; i < n; i++) {
        logvar[i] = fminf(fmaxf(logvar[i], -30.0f), 20.0f);
        std[i] = expf(0.5f * logvar[i]);
    }
    mend_status s = mend_st_writer_add_f32_as(w, "mean", MEND_DT_F32, 4, zshape, mean, err);
    if (s == MEND_OK)
        s = mend_st_writer_add_f32_as(w, "logvar", MEND_DT_F32, 4, zshape, logvar, err);
    if (s == MEND_OK)
        s = mend_st_writer_add_f32_as(w, "std", MEND_DT_F32, 4, zshape, std, err);
    free(buf);
    return s;
}

/* z_mean_scaled always; z_sample_scaled when the input replays sample_noise. */
static mend_status add_latents(mend_st_writer *w, const mend_tf *in, const float *moments, int N, int z,
                               int64_t hw, const int64_t *zshape, mend_err *err)
{
    int64_t n = (int64_t)N * z * hw;
    float *lat = malloc((size_t)n * sizeof *lat);
    if (!lat)
        return mend_fail(err, MEND_E_NOMEM, "out of memory");
    mend_vae_posterior(moments, NULL, N, z, hw, lat);
    mend_status s = mend_st_writer_add_f32_as(w, "z_mean_scaled", MEND_DT_F32, 4, zshape, lat, err);
    float *noise = NULL;
    if (s == MEND_OK && mend_tf_find(in, "sample_noise")) {
        s = mend_tf_load_f32(in, "sample_noise", n, &noise, err);
        if (s == MEND_OK) {
            mend_vae_posterior(moments, noise, N, z, hw, lat);
            s = mend_st_writer_add_f32_as(w, "z_sample_scaled", MEND_DT_F32, 4, zshape, lat, err);
        }
    }
    free(noise);
    free(lat);
    return s;
}

static int encode_and_write(const eval_args *a, const mend_vae *vae, const mend_tf *in)
{
    int64_t xs[4];
    float *x = read_image(in, xs);
    if (!x)
        return 1;
    const mend_vae_arch *arch = mend_vae_get_arch(vae);
    int N = (int)xs[0], H = (int)xs[2], W = (int)xs[3], z = arch->z_channels;
    int f = 1 << (arch->levels - 1);
    int64_t hw = (int64_t)(H / f) * (W / f);
    float *moments = malloc((size_t)(N * 2 * z * hw + 1) * sizeof *moments);
    mend_st_writer *w = mend_st_writer_new();
    mend_err err = {0};
    mend_status s = moments && w ? MEND_OK : mend_fail(&err, MEND_E_NOMEM, "out of memory");
    if (s == MEND_OK && xs[1] != arch->in_channels)
        s = mend_fail(&err, MEND_E_ARG, "%s: 'x' has %lld channels, the VAE takes %d", in->path, (long long)xs[1],
                      arch->in_channels);
    if (s == MEND_OK)
        s = mend_vae_encode(vae, x, N, H, W, moments, &err);
    int64_t mshape[4] = {N, 2 * z, H / f, W / f}, zshape[4] = {N, z, H / f, W / f};
    if (s == MEND_OK)
        s = mend_st_writer_add_f32_as(w, "moments", MEND_DT_F32, 4, mshape, moments, &err);
    if (s == MEND_OK)
        s = add_posterior(w, moments, N, z, hw, zshape, &err);
    if (s == MEND_OK)
        s = add_latents(w, in, moments, N, z, hw, zshape, &err);
    free(x);
    free(moments);
    return eval_finish_after(a, w, s, &err);
}


/* A1111's pixel conversion: clamp((x + 1) / 2, 0, 1) * 255, truncated to
 * uint8, NCHW -> NHWC. */
static uint8_t *to_uint8(const float *img, int N, int H, int W)
{
    int64_t hw = (int64_t)H * W;
    uint8_t *u = malloc((size_t)(N * 3 * hw));
    if (!u)
        return NULL;
    for (int i = 0; i < N; i++)
        for (int c = 0; c < 3; c++)
            for (int64_t p = 0; p < hw; p++) {
                float v = (img[((int64_t)i * 3 + c) * hw + p] + 1.0f) / 2.0f;
                v = fminf(fmaxf(v, 0.0f), 1.0f);
                u[((int64_t)i * hw + p) * 3 + c] = (uint8_t)(255.0f * v);
            }
    return u;
}

static int decode_and_write(const eval_args *a, const mend_vae *vae, const mend_tf *in)
{
    int from_mean = !mend_tf_find(in, "z") && mend_tf_find(in, "z_mean_scaled");
    int64_t zs[4];
    float *z = eval_input_f32(in, from_mean ? "z_mean_scaled" : "z", 4, zs);
    if (!z)
        return 1;
    const mend_vae_arch *arch = mend_vae_get_arch(vae);
    int f = 1 << (arch->levels - 1);
    int N = (int)zs[0], h = (int)zs[2], w = (int)zs[3], H = h * f, W = w * f;
    float *img = malloc((size_t)((int64_t)N * 3 * H * W) * sizeof *img);
    mend_st_writer *wr = mend_st_writer_new();
    mend_err err = {0};
    mend_status s = img && wr ? MEND_OK : mend_fail(&err, MEND_E_NOMEM, "out of memory");
    if (s == MEND_OK && zs[1] != arch->z_channels)
        s = mend_fail(&err, MEND_E_ARG, "%s: latent has %lld channels, the VAE takes %d", in->path,
                      (long long)zs[1], arch->z_channels);
    if (s == MEND_OK)
        s = mend_vae_decode(vae, z, N, h, w, img, &err);
    int64_t shape[4] = {N, 3, H, W}, ushape[4] = {N, H, W, 3};
    if (s == MEND_OK)
        s = mend_st_writer_add_f32_as(wr, from_mean ? "decoded_from_z_mean" : "decoded", MEND_DT_F32, 4, shape,
                                      img, &err);
    if (s == MEND_OK) {
        uint8_t *u = to_uint8(img, N, H, W);
        s = u ? mend_st_writer_add(wr, "decoded_uint8", MEND_DT_U8, 4, ushape, u, 1, &err)
              : mend_fail(&err, MEND_E_NOMEM, "out of memory");
    }
    free(z);
    free(img);
    return eval_finish_after(a, wr, s, &err);
}

/* Loads the VAE and the input file, runs one direction. */
static int run_vae(const eval_args *a, int (*fn)(const eval_args *, const mend_vae *, const mend_tf *))
{
    mend_sd_model *m = load_vae(a);
    if (!m)
        return 1;
    mend_tf *in = open_input(a);
    int rc = in ? fn(a, m->vae, in) : 1;
    mend_tf_close(in);
    mend_sd_free(m);
    return rc;
}

int eval_vae_encode(const eval_args *a) { return run_vae(a, encode_and_write); }
int eval_vae_decode(const eval_args *a) { return run_vae(a, decode_and_write); }
