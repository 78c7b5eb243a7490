/* The VAE's loader: architecture from tensor names and shapes, encoder and
 * decoder weights (full or decoder-only files). */
#include "model/vae_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    mend_wload l = mend_wl_into(src, &v->store, err);
    mend_status s = detect_arch(&l, &v->arch, err);
    if (s == MEND_OK) {
        if (v->arch.has_encoder)
            load_encoder(&l, &v->arch, &v->enc);
        if (v->arch.has_decoder)
            load_decoder(&l, &v->arch, &v->dec);
        s = l.status;
    }
    return MEND_HAND_OVER(s, v, out, mend_vae_free);
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

