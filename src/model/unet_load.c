/* The UNet's loader: the architecture read from tensor names and shapes,
 * and every block's weights (the layout is described in unet.c). */
#include "model/unet_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- loading */

static mend_conv2d_desc conv_desc(int cin, int cout, int k, int stride)
{
    int pad = k / 2;
    mend_conv2d_desc d = {cin, cout, k, k, stride, pad, pad, pad, pad};
    return d;
}

static void load_norm(mend_wload *l, norm_w *n, int c, const char *p)
{
    n->g = mend_wl_get(l, MEND_SHAPE(c), "%s.weight", p);
    n->b = mend_wl_get(l, MEND_SHAPE(c), "%s.bias", p);
}

static void load_conv(mend_wload *l, conv_w *cv, int cin, int cout, int k, int stride, const char *p)
{
    cv->d = conv_desc(cin, cout, k, stride);
    cv->w = mend_wl_mat(l, MEND_SHAPE(cout, cin, k, k), "%s.weight", p);
    cv->b = mend_wl_get(l, MEND_SHAPE(cout), "%s.bias", p);
}

/* A [out, in] weight also matches a [out, in, 1, 1] 1x1 conv (mend_wl_get
 * ignores trailing ones). */
static void load_linear(mend_wload *l, linear_w *lin, int in, int out, int bias, const char *p)
{
    lin->in = in;
    lin->out = out;
    lin->w = mend_wl_mat(l, MEND_SHAPE(out, in), "%s.weight", p);
    lin->b = bias ? mend_wl_get(l, MEND_SHAPE(out), "%s.bias", p) : NULL;
}

static void load_res(mend_wload *l, resblock *r, int cin, int cout, int ted, const char *p)
{
    char s[256];
    r->cin = cin;
    r->cout = cout;
    snprintf(s, sizeof s, "%s.in_layers.0", p);
    load_norm(l, &r->in_norm, cin, s);
    snprintf(s, sizeof s, "%s.in_layers.2", p);
    load_conv(l, &r->in_conv, cin, cout, 3, 1, s);
    snprintf(s, sizeof s, "%s.emb_layers.1", p);
    load_linear(l, &r->emb, ted, cout, 1, s);
    snprintf(s, sizeof s, "%s.out_layers.0", p);
    load_norm(l, &r->out_norm, cout, s);
    snprintf(s, sizeof s, "%s.out_layers.3", p);
    load_conv(l, &r->out_conv, cout, cout, 3, 1, s);
    r->has_skip = cin != cout || mend_wl_find(l, "%s.skip_connection.weight", p) != NULL;
    if (r->has_skip) {
        snprintf(s, sizeof s, "%s.skip_connection", p);
        load_conv(l, &r->skip, cin, cout, 1, 1, s);
    }
}

static void load_attn(mend_wload *l, attn_w *a, int c, int kv_dim, const char *p)
{
    char s[320];
    snprintf(s, sizeof s, "%s.to_q", p);
    load_linear(l, &a->q, c, c, 0, s);
    snprintf(s, sizeof s, "%s.to_k", p);
    load_linear(l, &a->k, kv_dim, c, 0, s);
    snprintf(s, sizeof s, "%s.to_v", p);
    load_linear(l, &a->v, kv_dim, c, 0, s);
    snprintf(s, sizeof s, "%s.to_out.0", p);
    load_linear(l, &a->out, c, c, 1, s);
}

static mend_status load_xformer(mend_wload *l, xformer *x, const mend_unet_arch *a, int c, const char *p)
{
    char s[320];
    x->c = c;
    x->depth = a->transformer_depth;
    if (!(x->blocks = calloc((size_t)x->depth, sizeof *x->blocks)))
        return mend_fail(l->err, MEND_E_NOMEM, "out of memory");
    snprintf(s, sizeof s, "%s.norm", p);
    load_norm(l, &x->norm, c, s);
    snprintf(s, sizeof s, "%s.proj_in", p);
    load_linear(l, &x->proj_in, c, c, 1, s);
    snprintf(s, sizeof s, "%s.proj_out", p);
    load_linear(l, &x->proj_out, c, c, 1, s);
    for (int d = 0; d < x->depth; d++) {
        tblock *t = &x->blocks[d];
        const int inner = FF_MULT * c;
        snprintf(s, sizeof s, "%s.transformer_blocks.%d.norm1", p, d);
        load_norm(l, &t->n1, c, s);
        snprintf(s, sizeof s, "%s.transformer_blocks.%d.norm2", p, d);
        load_norm(l, &t->n2, c, s);
        snprintf(s, sizeof s, "%s.transformer_blocks.%d.norm3", p, d);
        load_norm(l, &t->n3, c, s);
        snprintf(s, sizeof s, "%s.transformer_blocks.%d.attn1", p, d);
        load_attn(l, &t->self, c, c, s);
        snprintf(s, sizeof s, "%s.transformer_blocks.%d.attn2", p, d);
        load_attn(l, &t->cross, c, a->context_dim, s);
        snprintf(s, sizeof s, "%s.transformer_blocks.%d.ff.net.0.proj", p, d);
        load_linear(l, &t->ff_in, c, 2 * inner, 1, s);
        snprintf(s, sizeof s, "%s.transformer_blocks.%d.ff.net.2", p, d);
        load_linear(l, &t->ff_out, inner, c, 1, s);
    }
    return l->status;
}

/* Name of a tensor for messages (prefix included). */
static const char *full_name(const mend_wload *l, const char *canon, char *buf, size_t size)
{
    mend_wl_name(l, canon, buf, size);
    return buf;
}

static mend_status arch_fail(const mend_wload *l, mend_err *err, const char *what)
{
    return mend_fail(err, MEND_E_ARCH, "%s: not a known SD 1.x UNet layout: %s", l->file->path, what);
}

/* Kinds of input_blocks.N for N >= 1. */
enum { IB_RES = 1, IB_DOWN = 2 };

static int scan_input_blocks(const mend_wload *l, int *kinds)
{
    int n = 0;
    for (int i = 1; i < MAX_BLOCKS; i++) {
        if (mend_wl_find(l, "input_blocks.%d.0.in_layers.2.weight", i))
            kinds[n++] = IB_RES;
        else if (mend_wl_find(l, "input_blocks.%d.0.op.weight", i))
            kinds[n++] = IB_DOWN;
        else
            break;
    }
    return n;
}

/* Levels and res blocks per level from the pattern RES^nrb (DOWN RES^nrb)*. */
static mend_status detect_levels(const mend_wload *l, mend_unet_arch *a, mend_err *err)
{
    int kinds[MAX_BLOCKS];
    int n = scan_input_blocks(l, kinds);
    int nrb = 0;
    while (nrb < n && kinds[nrb] == IB_RES)
        nrb++;
    if (nrb == 0)
        return arch_fail(l, err, "input_blocks.1 is not a ResBlock");
    if ((n + 1) % (nrb + 1) != 0)
        return arch_fail(l, err, "input_blocks do not repeat ResBlocks and a Downsample evenly");
    a->num_res_blocks = nrb;
    a->levels = (n + 1) / (nrb + 1);
    if (a->levels > MEND_UNET_MAX_LEVELS)
        return arch_fail(l, err, "too many levels");
    for (int i = 0; i < n; i++) {
        int want = (i + 1) % (nrb + 1) == 0 ? IB_DOWN : IB_RES;
        if (kinds[i] != want) {
            char msg[128];
            snprintf(msg, sizeof msg, "input_blocks.%d should be a %s", i + 1, want == IB_DOWN ? "Downsample" : "ResBlock");
            return arch_fail(l, err, msg);
        }
    }
    return MEND_OK;
}

/* Channel multipliers and attention levels from each level's ResBlocks. */
static mend_status detect_level_channels(const mend_wload *l, mend_unet_arch *a, mend_err *err)
{
    char msg[256];
    for (int lv = 0; lv < a->levels; lv++) {
        for (int r = 0; r < a->num_res_blocks; r++) {
            int n = 1 + lv * (a->num_res_blocks + 1) + r;
            const mend_tf_tensor *t = mend_wl_find(l, "input_blocks.%d.0.in_layers.2.weight", n);
            int attn = mend_wl_find(l, "input_blocks.%d.1.norm.weight", n) != NULL;
            if (t->ndim != 4 || t->shape[0] % a->model_channels != 0) {
                snprintf(msg, sizeof msg, "input_blocks.%d.0.in_layers.2.weight is not a conv with a multiple of %d "
                         "output channels", n, a->model_channels);
                return arch_fail(l, err, msg);
            }
            int mult = (int)(t->shape[0] / a->model_channels);
            if (r == 0) {
                a->mult[lv] = mult;
                a->attn[lv] = attn;
            } else if (mult != a->mult[lv] || attn != a->attn[lv]) {
                snprintf(msg, sizeof msg, "input_blocks.%d differs from the other blocks of its level", n);
                return arch_fail(l, err, msg);
            }
            if (attn && (t->shape[0] % SD1_HEADS) != 0) {
                snprintf(msg, sizeof msg, "input_blocks.%d has %lld channels, not divisible into %d heads", n,
                         (long long)t->shape[0], SD1_HEADS);
                return arch_fail(l, err, msg);
            }
        }
    }
    return MEND_OK;
}

/* Context dim, depth and projection kind from the middle transformer
 * (every SD 1.x UNet has one). */
static mend_status detect_transformer(const mend_wload *l, mend_unet_arch *a, mend_err *err)
{
    char name[300], msg[400];
    const mend_tf_tensor *pin = mend_wl_find(l, "middle_block.1.proj_in.weight");
    const mend_tf_tensor *k = mend_wl_find(l, "middle_block.1.transformer_blocks.0.attn2.to_k.weight");
    if (!pin || !k) {
        const char *missing = pin ? "middle_block.1.transformer_blocks.0.attn2.to_k.weight" : "middle_block.1.proj_in.weight";
        snprintf(msg, sizeof msg, "middle_block.1 is not a SpatialTransformer (no '%s')",
                 full_name(l, missing, name, sizeof name));
        return arch_fail(l, err, msg);
    }
    if (k->ndim != 2)
        return arch_fail(l, err, "middle_block.1 attn2.to_k.weight is not a 2-D linear weight");
    a->context_dim = (int)k->shape[1];
    a->linear_proj = pin->ndim == 2;
    a->transformer_depth = 0;
    while (a->transformer_depth < MAX_BLOCKS &&
           mend_wl_find(l, "middle_block.1.transformer_blocks.%d.norm1.weight", a->transformer_depth))
        a->transformer_depth++;
    return MEND_OK;
}

static mend_status detect_arch(const mend_wload *l, mend_unet_arch *a, mend_err *err)
{
    char name[300];
    memset(a, 0, sizeof *a);
    const mend_tf_tensor *cin = mend_wl_find(l, "input_blocks.0.0.weight");
    const mend_tf_tensor *te = mend_wl_find(l, "time_embed.0.weight");
    const mend_tf_tensor *out = mend_wl_find(l, "out.2.weight");
    if (!cin || !te || !out)
        return mend_fail(err, MEND_E_ARCH, "%s: no SD UNet in this file: tensor '%s' is missing", l->file->path,
                         full_name(l, !cin ? "input_blocks.0.0.weight" : !te ? "time_embed.0.weight" : "out.2.weight",
                                   name, sizeof name));
    if (cin->ndim != 4 || te->ndim != 2 || out->ndim != 4)
        return arch_fail(l, err, "conv_in, time_embed.0 or out.2 weight has an unexpected rank");
    a->model_channels = (int)cin->shape[0];
    a->in_channels = (int)cin->shape[1];
    a->time_embed_dim = (int)te->shape[0];
    a->out_channels = (int)out->shape[0];
    a->num_heads = SD1_HEADS;
    if (te->shape[1] != a->model_channels || a->model_channels % 2 != 0)
        return arch_fail(l, err, "time_embed.0.weight does not take model_channels (even) inputs");
    if (a->model_channels % GN_GROUPS != 0)
        return arch_fail(l, err, "model_channels is not a multiple of 32 (GroupNorm groups)");
    MEND_TRY(detect_levels(l, a, err));
    MEND_TRY(detect_level_channels(l, a, err));
    MEND_TRY(detect_transformer(l, a, err));
    int n_out = a->levels * (a->num_res_blocks + 1);
    if (!mend_wl_find(l, "output_blocks.%d.0.in_layers.2.weight", n_out - 1) ||
        mend_wl_find(l, "output_blocks.%d.0.in_layers.2.weight", n_out)) {
        snprintf(name, sizeof name, "expected exactly %d output_blocks for %d input_blocks", n_out,
                 1 + a->levels * (a->num_res_blocks + 1) - 1);
        return arch_fail(l, err, name);
    }
    return MEND_OK;
}

/* Builds and loads the block lists; channel bookkeeping as in UNetModel.__init__. */
static mend_status load_blocks(mend_unet *u, mend_wload *l)
{
    const mend_unet_arch *a = &u->arch;
    const int mc = a->model_channels, ted = a->time_embed_dim, nrb = a->num_res_blocks;
    int skip_ch[MAX_BLOCKS], ns = 0, ch = mc;
    char p[128];
    u->n_in = 1 + a->levels * (nrb + 1) - 1;
    u->n_out = a->levels * (nrb + 1);
    u->in_blocks = calloc((size_t)u->n_in, sizeof *u->in_blocks);
    u->out_blocks = calloc((size_t)u->n_out, sizeof *u->out_blocks);
    if (!u->in_blocks || !u->out_blocks)
        return mend_fail(l->err, MEND_E_NOMEM, "out of memory");

    u->in_blocks[0].has_conv = 1;
    load_conv(l, &u->in_blocks[0].conv, a->in_channels, mc, 3, 1, "input_blocks.0.0");
    skip_ch[ns++] = mc;
    int n = 1;
    for (int lv = 0; lv < a->levels; lv++) {
        for (int r = 0; r < nrb; r++, n++) {
            block *b = &u->in_blocks[n];
            int cout = a->mult[lv] * mc;
            b->has_res = 1;
            snprintf(p, sizeof p, "input_blocks.%d.0", n);
            load_res(l, &b->res, ch, cout, ted, p);
            ch = cout;
            if ((b->has_attn = a->attn[lv])) {
                snprintf(p, sizeof p, "input_blocks.%d.1", n);
                MEND_TRY(load_xformer(l, &b->attn, a, ch, p));
            }
            skip_ch[ns++] = ch;
        }
        if (lv + 1 < a->levels) {
            block *b = &u->in_blocks[n];
            b->has_conv = 1;
            snprintf(p, sizeof p, "input_blocks.%d.0.op", n++);
            load_conv(l, &b->conv, ch, ch, 3, 2, p);
            skip_ch[ns++] = ch;
        }
    }

    load_res(l, &u->mid_res1, ch, ch, ted, "middle_block.0");
    MEND_TRY(load_xformer(l, &u->mid_attn, a, ch, "middle_block.1"));
    load_res(l, &u->mid_res2, ch, ch, ted, "middle_block.2");

    n = 0;
    for (int lv = a->levels - 1; lv >= 0; lv--) {
        for (int i = 0; i <= nrb; i++, n++) {
            block *b = &u->out_blocks[n];
            int cout = a->mult[lv] * mc;
            b->has_res = 1;
            snprintf(p, sizeof p, "output_blocks.%d.0", n);
            load_res(l, &b->res, ch + skip_ch[--ns], cout, ted, p);
            ch = cout;
            if ((b->has_attn = a->attn[lv])) {
                snprintf(p, sizeof p, "output_blocks.%d.1", n);
                MEND_TRY(load_xformer(l, &b->attn, a, ch, p));
            }
            if (lv > 0 && i == nrb) {
                b->has_up = 1;
                snprintf(p, sizeof p, "output_blocks.%d.%d.conv", n, b->has_attn ? 2 : 1);
                load_conv(l, &b->up, ch, ch, 3, 1, p);
            }
        }
    }
    load_norm(l, &u->out_norm, ch, "out.0");
    load_conv(l, &u->out_conv, ch, a->out_channels, 3, 1, "out.2");
    load_linear(l, &u->time1, mc, ted, 1, "time_embed.0");
    load_linear(l, &u->time2, ted, ted, 1, "time_embed.2");
    return l->status;
}

mend_status mend_unet_load(const mend_wload *lin, mend_unet **out, mend_err *err)
{
    *out = NULL;
    mend_unet *u = calloc(1, sizeof *u);
    if (!u)
        return mend_fail(err, MEND_E_NOMEM, "out of memory");
    mend_wload l = mend_wl_into(lin, &u->store, err);
    mend_status s = detect_arch(&l, &u->arch, err);
    if (s == MEND_OK)
        s = load_blocks(u, &l);
    if (s == MEND_OK)
        s = l.status;
    return MEND_HAND_OVER(s, u, out, mend_unet_free);
}

static void free_block_list(block *b, int n)
{
    if (!b)
        return;
    for (int i = 0; i < n; i++)
        free(b[i].attn.blocks);
    free(b);
}

void mend_unet_free(mend_unet *u)
{
    if (!u)
        return;
    free_block_list(u->in_blocks, u->n_in);
    free_block_list(u->out_blocks, u->n_out);
    free(u->mid_attn.blocks);
    mend_wstore_free(&u->store);
    free(u);
}

const mend_unet_arch *mend_unet_get_arch(const mend_unet *u) { return u ? &u->arch : NULL; }

int64_t mend_unet_params(const mend_unet *u) { return u ? u->store.params : 0; }

void mend_unet_set_tap(mend_unet *u, mend_unet_tap_fn fn, void *user)
{
    u->tap = fn;
    u->tap_user = user;
}

