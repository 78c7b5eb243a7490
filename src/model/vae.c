/* The LDM AutoencoderKL (ldm/modules/diffusionmodules/model.py Encoder and
 * Decoder) on fp32 NCHW buffers.
 *
 * Images are processed one at a time (the VAE has no interaction across the
 * batch) so the live memory is that of one image. Every layer replaces the
 * current activation buffer and frees the old one as soon as it is consumed;
 * at 512x512 the peak is three or four 128-channel full-resolution tensors
 * (128 MiB each). The mid-block attention uses the blocked mend_attention, so
 * no HW x HW score matrix is ever built. */
#include "model/vae.h"

#include "kernels/kernels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VAE_GROUPS 32
#define VAE_EPS 1e-6f
#define VAE_MAX_BLOCKS 8
#define VAE_OUT_CHANNELS 3

typedef struct vae_conv {
    mend_wmat *w;
    const float *b;
    mend_conv2d_desc d;
} vae_conv;

typedef struct vae_norm {
    const float *g, *b;
} vae_norm;

typedef struct vae_res {
    vae_norm norm1, norm2;
    vae_conv conv1, conv2, nin;
    int has_nin;
} vae_res;

/* Single-head self-attention over the HW pixels; 1x1 convs stored as [C, C]. */
typedef struct vae_attn {
    vae_norm norm;
    mend_wmat *wq, *wk, *wv, *wo;
    const float *bq, *bk, *bv, *bo;
    int c;
} vae_attn;

typedef struct vae_level {
    vae_res block[VAE_MAX_BLOCKS];
    vae_attn attn[VAE_MAX_BLOCKS]; /* only when has_attn (not in SD 1.x) */
    int nblocks, has_attn;
    vae_conv resample; /* downsample (encoder) or upsample conv (decoder) */
    int has_resample;
} vae_level;

typedef struct vae_encoder {
    vae_conv conv_in;
    vae_level down[MEND_VAE_MAX_LEVELS];
    vae_res mid1, mid2;
    vae_attn mid_attn;
    vae_norm norm_out;
    vae_conv conv_out, quant_conv;
} vae_encoder;

typedef struct vae_decoder {
    vae_conv post_quant_conv, conv_in;
    vae_res mid1, mid2;
    vae_attn mid_attn;
    vae_level up[MEND_VAE_MAX_LEVELS];
    vae_norm norm_out;
    vae_conv conv_out;
} vae_decoder;

struct mend_vae {
    mend_vae_arch arch;
    mend_wstore store;
    vae_encoder enc;
    vae_decoder dec;
};

/* ---------------------------------------------------------------- loading */

static mend_conv2d_desc conv_desc(int cin, int cout, int k)
{
    int p = k / 2;
    return (mend_conv2d_desc){cin, cout, k, k, 1, p, p, p, p};
}

static void load_conv(mend_wload *l, vae_conv *c, mend_conv2d_desc d, const char *name)
{
    c->d = d;
    c->w = mend_wl_mat(l, MEND_SHAPE(d.cout, d.cin, d.kh, d.kw), "%s.weight", name);
    c->b = mend_wl_get(l, MEND_SHAPE(d.cout), "%s.bias", name);
}

static void load_norm(mend_wload *l, vae_norm *n, int c, const char *name)
{
    n->g = mend_wl_get(l, MEND_SHAPE(c), "%s.weight", name);
    n->b = mend_wl_get(l, MEND_SHAPE(c), "%s.bias", name);
}

static void load_res(mend_wload *l, vae_res *r, int cin, int cout, const char *name)
{
    char sub[256];
    snprintf(sub, sizeof sub, "%s.norm1", name);
    load_norm(l, &r->norm1, cin, sub);
    snprintf(sub, sizeof sub, "%s.conv1", name);
    load_conv(l, &r->conv1, conv_desc(cin, cout, 3), sub);
    snprintf(sub, sizeof sub, "%s.norm2", name);
    load_norm(l, &r->norm2, cout, sub);
    snprintf(sub, sizeof sub, "%s.conv2", name);
    load_conv(l, &r->conv2, conv_desc(cout, cout, 3), sub);
    r->has_nin = cin != cout;
    if (r->has_nin) {
        snprintf(sub, sizeof sub, "%s.nin_shortcut", name);
        load_conv(l, &r->nin, conv_desc(cin, cout, 1), sub);
    }
}

static void load_attn(mend_wload *l, vae_attn *a, int c, const char *name)
{
    char sub[256];
    a->c = c;
    snprintf(sub, sizeof sub, "%s.norm", name);
    load_norm(l, &a->norm, c, sub);
    /* [C, C] linear or [C, C, 1, 1] conv: the loader ignores trailing 1s */
    a->wq = mend_wl_mat(l, MEND_SHAPE(c, c), "%s.q.weight", name);
    a->bq = mend_wl_get(l, MEND_SHAPE(c), "%s.q.bias", name);
    a->wk = mend_wl_mat(l, MEND_SHAPE(c, c), "%s.k.weight", name);
    a->bk = mend_wl_get(l, MEND_SHAPE(c), "%s.k.bias", name);
    a->wv = mend_wl_mat(l, MEND_SHAPE(c, c), "%s.v.weight", name);
    a->bv = mend_wl_get(l, MEND_SHAPE(c), "%s.v.bias", name);
    a->wo = mend_wl_mat(l, MEND_SHAPE(c, c), "%s.proj_out.weight", name);
    a->bo = mend_wl_get(l, MEND_SHAPE(c), "%s.proj_out.bias", name);
}

static void load_mid(mend_wload *l, vae_res *b1, vae_attn *at, vae_res *b2, int c, const char *part)
{
    char name[256];
    snprintf(name, sizeof name, "%s.mid.block_1", part);
    load_res(l, b1, c, c, name);
    snprintf(name, sizeof name, "%s.mid.attn_1", part);
    load_attn(l, at, c, name);
    snprintf(name, sizeof name, "%s.mid.block_2", part);
    load_res(l, b2, c, c, name);
}

/* Blocks of one encoder/decoder level, with their optional attention. */
static void load_level_blocks(mend_wload *l, vae_level *lv, int nblocks, int cin, int cout, const char *base)
{
    char name[256];
    lv->nblocks = nblocks;
    lv->has_attn = mend_wl_find(l, "%s.attn.0.q.weight", base) != NULL;
    for (int b = 0; b < nblocks; b++) {
        snprintf(name, sizeof name, "%s.block.%d", base, b);
        load_res(l, &lv->block[b], b == 0 ? cin : cout, cout, name);
        if (lv->has_attn) {
            snprintf(name, sizeof name, "%s.attn.%d", base, b);
            load_attn(l, &lv->attn[b], cout, name);
        }
    }
}

static void load_encoder(mend_wload *l, const mend_vae_arch *a, vae_encoder *e)
{
    char base[128];
    int ch = a->ch, z2 = 2 * a->z_channels;
    load_conv(l, &e->conv_in, conv_desc(a->in_channels, ch, 3), "encoder.conv_in");
    int cin = ch;
    for (int lv = 0; lv < a->levels; lv++) {
        int cout = ch * a->mult[lv];
        snprintf(base, sizeof base, "encoder.down.%d", lv);
        load_level_blocks(l, &e->down[lv], a->num_res_blocks, cin, cout, base);
        e->down[lv].has_resample = lv != a->levels - 1;
        if (e->down[lv].has_resample) {
            /* torch pads right/bottom by one, then a 3x3 stride-2 valid conv */
            mend_conv2d_desc d = {cout, cout, 3, 3, 2, 0, 0, 1, 1};
            snprintf(base, sizeof base, "encoder.down.%d.downsample.conv", lv);
            load_conv(l, &e->down[lv].resample, d, base);
        }
        cin = cout;
    }
    load_mid(l, &e->mid1, &e->mid_attn, &e->mid2, cin, "encoder");
    load_norm(l, &e->norm_out, cin, "encoder.norm_out");
    load_conv(l, &e->conv_out, conv_desc(cin, z2, 3), "encoder.conv_out");
    load_conv(l, &e->quant_conv, conv_desc(z2, z2, 1), "quant_conv");
}

static void load_decoder(mend_wload *l, const mend_vae_arch *a, vae_decoder *d)
{
    char base[128];
    int z = a->z_channels, cin = a->ch * a->mult[a->levels - 1];
    load_conv(l, &d->post_quant_conv, conv_desc(z, z, 1), "post_quant_conv");
    load_conv(l, &d->conv_in, conv_desc(z, cin, 3), "decoder.conv_in");
    load_mid(l, &d->mid1, &d->mid_attn, &d->mid2, cin, "decoder");
    for (int lv = a->levels - 1; lv >= 0; lv--) {
        int cout = a->ch * a->mult[lv];
        snprintf(base, sizeof base, "decoder.up.%d", lv);
        load_level_blocks(l, &d->up[lv], a->num_res_blocks + 1, cin, cout, base);
        d->up[lv].has_resample = lv != 0;
        if (d->up[lv].has_resample) {
            snprintf(base, sizeof base, "decoder.up.%d.upsample.conv", lv);
            load_conv(l, &d->up[lv].resample, conv_desc(cout, cout, 3), base);
        }
        cin = cout;
    }
    load_norm(l, &d->norm_out, cin, "decoder.norm_out");
    load_conv(l, &d->conv_out, conv_desc(cin, VAE_OUT_CHANNELS, 3), "decoder.conv_out");
}

static int count_indexed(const mend_wload *l, const char *fmt_with_index)
{
    int n = 0;
    char name[256];
    for (;;) {
        snprintf(name, sizeof name, fmt_with_index, n);
        if (!mend_wl_find(l, "%s", name))
            return n;
        n++;
    }
}

/* Output channels of one level's first block (conv1 or conv2 weight
 * [cout, cin, 3, 3]), or -1. */
static int64_t level_width(const mend_wload *l, const char *part, const char *level_kind, int lv)
{
    const mend_tf_tensor *t = mend_wl_find(l, "%s.%s.%d.block.0.conv1.weight", part, level_kind, lv);
    if (!t)
        t = mend_wl_find(l, "%s.%s.%d.block.0.conv2.weight", part, level_kind, lv);
    return t && t->ndim == 4 ? t->shape[0] : -1;
}

/* Levels of encoder.down / decoder.up and blocks per level: the largest
 * count over several tensors of each block, so that one missing tensor
 * becomes a load error naming it rather than a silently smaller model. */
static void count_blocks(const mend_wload *l, const char *part, const char *kind, int *levels, int *blocks)
{
    static const char *const probes[] = {"norm1.weight", "conv1.weight", "norm2.weight", "conv2.weight"};
    char fmt[200];
    *levels = *blocks = 0;
    for (int p = 0; p < 4; p++) {
        snprintf(fmt, sizeof fmt, "%s.%s.%%d.block.0.%s", part, kind, probes[p]);
        int n = count_indexed(l, fmt);
        *levels = n > *levels ? n : *levels;
    }
    for (int lv = 0; lv < *levels && lv < MEND_VAE_MAX_LEVELS; lv++) {
        for (int p = 0; p < 4; p++) {
            snprintf(fmt, sizeof fmt, "%s.%s.%d.block.%%d.%s", part, kind, lv, probes[p]);
            int n = count_indexed(l, fmt);
            *blocks = n > *blocks ? n : *blocks;
        }
    }
}

static mend_status missing(const mend_wload *l, mend_status code, const char *canonical, mend_err *err)
{
    char full[600];
    mend_wl_name(l, canonical, full, sizeof full);
    return mend_fail(err, code, "%s: tensor '%s' is missing or not 4-D", l->file->path, full);
}

/* Reads ch, levels, mult, num_res_blocks and z_channels off tensor names
 * and shapes (SD 1.x: 128, 4, 1 2 4 4, 2, 4). */
static mend_status detect_arch(const mend_wload *l, mend_vae_arch *a, mend_err *err)
{
    memset(a, 0, sizeof *a);
    const mend_tf_tensor *enc_in = mend_wl_find(l, "encoder.conv_in.weight");
    const mend_tf_tensor *enc_out = mend_wl_find(l, "encoder.conv_out.weight");
    const mend_tf_tensor *dec_in = mend_wl_find(l, "decoder.conv_in.weight");
    const mend_tf_tensor *dec_out = mend_wl_find(l, "decoder.conv_out.weight");
    a->has_encoder = enc_in || enc_out;
    a->has_decoder = dec_in || dec_out;
    if (!a->has_encoder && !a->has_decoder)
        return missing(l, MEND_E_ARCH, "encoder.conv_in.weight", err);
    if (a->has_encoder && (!enc_in || enc_in->ndim != 4))
        return missing(l, MEND_E_FORMAT, "encoder.conv_in.weight", err);
    if (a->has_encoder && (!enc_out || enc_out->ndim != 4 || enc_out->shape[0] % 2))
        return missing(l, MEND_E_FORMAT, "encoder.conv_out.weight", err);
    if (a->has_decoder && (!dec_in || dec_in->ndim != 4))
        return missing(l, MEND_E_FORMAT, "decoder.conv_in.weight", err);
    if (a->has_decoder && (!dec_out || dec_out->ndim != 4))
        return missing(l, MEND_E_FORMAT, "decoder.conv_out.weight", err);
    a->ch = (int)(a->has_encoder ? enc_in->shape[0] : dec_out->shape[1]);
    a->in_channels = a->has_encoder ? (int)enc_in->shape[1] : VAE_OUT_CHANNELS;
    a->z_channels = (int)(a->has_decoder ? dec_in->shape[1] : enc_out->shape[0] / 2);
    int enc_levels = 0, enc_blocks = 0, dec_levels = 0, dec_blocks = 0;
    if (a->has_encoder)
        count_blocks(l, "encoder", "down", &enc_levels, &enc_blocks);
    if (a->has_decoder)
        count_blocks(l, "decoder", "up", &dec_levels, &dec_blocks);
    a->levels = enc_levels > dec_levels ? enc_levels : dec_levels;
    a->num_res_blocks = enc_blocks > dec_blocks - 1 ? enc_blocks : dec_blocks - 1; /* decoder has one more */
    if (a->levels < 1 || a->levels > MEND_VAE_MAX_LEVELS || a->num_res_blocks < 1 ||
        a->num_res_blocks + 1 > VAE_MAX_BLOCKS || a->ch < 1 || a->in_channels != VAE_OUT_CHANNELS ||
        a->z_channels < 1)
        return mend_fail(err, MEND_E_ARCH,
                         "%s: unsupported VAE layout (%d levels, %d res blocks, %d image and %d latent channels)",
                         l->file->path, a->levels, a->num_res_blocks, a->in_channels, a->z_channels);
    const char *part = a->has_encoder ? "encoder" : "decoder", *kind = a->has_encoder ? "down" : "up";
    for (int lv = 0; lv < a->levels; lv++) {
        int64_t wd = level_width(l, part, kind, lv);
        if (wd <= 0 || wd % a->ch || wd % VAE_GROUPS)
            return mend_fail(err, MEND_E_ARCH,
                             "%s: VAE %s.%s.%d.block.0 has width %lld, not a multiple of ch=%d and of %d",
                             l->file->path, part, kind, lv, (long long)wd, a->ch, VAE_GROUPS);
        a->mult[lv] = (int)(wd / a->ch);
    }
    return MEND_OK;
}

mend_status mend_vae_load(const mend_wload *src, mend_vae **out, mend_err *err)
{
    *out = NULL;
    mend_vae *v = calloc(1, sizeof *v);
    if (!v)
        return mend_fail(err, MEND_E_NOMEM, "out of memory loading the VAE");
    mend_wload l = *src;
    l.store = &v->store;
    l.err = err;
    l.status = MEND_OK;
    mend_status s = detect_arch(&l, &v->arch, err);
    if (s == MEND_OK) {
        if (v->arch.has_encoder)
            load_encoder(&l, &v->arch, &v->enc);
        if (v->arch.has_decoder)
            load_decoder(&l, &v->arch, &v->dec);
        s = l.status;
    }
    if (s != MEND_OK) {
        mend_vae_free(v);
        return s;
    }
    *out = v;
    return MEND_OK;
}

void mend_vae_free(mend_vae *v)
{
    if (!v)
        return;
    mend_wstore_free(&v->store);
    free(v);
}

const mend_vae_arch *mend_vae_get_arch(const mend_vae *v) { return &v->arch; }

int64_t mend_vae_params(const mend_vae *v) { return v ? v->store.params : 0; }

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
    for (int i = 0; i < N; i++) {
        act a = {0};
        mend_status s = encode_one(v, x + i * in_n, H, W, &a, err);
        if (s == MEND_OK)
            memcpy(moments + i * out_n, a.d, (size_t)out_n * sizeof(float));
        free(a.d);
        MEND_TRY(s);
    }
    return MEND_OK;
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
    for (int i = 0; i < N; i++) {
        act a = {0};
        mend_status s = decode_one(v, z + i * in_n, h, w, &a, err);
        if (s == MEND_OK)
            memcpy(out + i * out_n, a.d, (size_t)out_n * sizeof(float));
        free(a.d);
        MEND_TRY(s);
    }
    return MEND_OK;
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
