/* make-model's tensor list: every name, shape and initialisation of an SD
 * 1.x checkpoint in both layouts (see make_model.h). */
#include "make_model_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const comp_prefix[] = {"model.diffusion_model.", "first_stage_model.",
                                          "cond_stage_model.transformer.", ""};

static uint64_t name_key(uint64_t seed, const char *name)
{
    uint64_t h = 0xCBF29CE484222325ull; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 0x100000001B3ull;
    uint64_t s = seed ^ h;
    return splitmix64(&s);
}

static mm_tensor *add(mm_list *L, mm_comp comp, mm_init init, const char *ldm, const char *dif, int ndim,
                      int64_t d0, int64_t d1, int64_t d2, int64_t d3)
{
    if (L->oom)
        return NULL;
    if (L->n == L->cap) {
        int cap = L->cap ? 2 * L->cap : 1024;
        mm_tensor *v = realloc(L->v, (size_t)cap * sizeof *v);
        if (!v) {
            L->oom = 1;
            return NULL;
        }
        L->v = v;
        L->cap = cap;
    }
    mm_tensor *t = &L->v[L->n++];
    memset(t, 0, sizeof *t);
    mm_fmt(t->ldm, sizeof t->ldm, "%s%s", comp_prefix[comp], ldm);
    mm_fmt(t->dif, sizeof t->dif, "%s", dif ? dif : "");
    t->comp = comp;
    t->init = init;
    t->dtype = L->dtype;
    t->ndim = t->dif_ndim = ndim;
    int64_t d[4] = {d0, d1, d2, d3};
    memcpy(t->shape, d, sizeof d);
    t->key = name_key(L->seed, t->ldm);
    return t;
}

/* "a.b" into buf (a per-call buffer, so two can be used in one call). */
static const char *cat(char *buf, const char *a, const char *b)
{
    mm_fmt(buf, NAME_MAX_, "%s.%s", a, b);
    return buf;
}

static void param_pair(mm_list *L, mm_comp c, const char *lp, const char *dp, mm_init wi, mm_init bi, int ndim,
                       int64_t d0, int64_t d1, int64_t d2, int64_t d3, int with_bias)
{
    char a[NAME_MAX_], b[NAME_MAX_];
    add(L, c, wi, cat(a, lp, "weight"), cat(b, dp, "weight"), ndim, d0, d1, d2, d3);
    if (with_bias)
        add(L, c, bi, cat(a, lp, "bias"), cat(b, dp, "bias"), 1, d0, 0, 0, 0);
}

static void conv(mm_list *L, mm_comp c, const char *lp, const char *dp, int cout, int cin, int k, mm_init wi)
{
    param_pair(L, c, lp, dp, wi, INIT_BIAS, 4, cout, cin, k, k, 1);
}

static void linear(mm_list *L, mm_comp c, const char *lp, const char *dp, int cout, int cin, int bias, mm_init wi)
{
    param_pair(L, c, lp, dp, wi, INIT_BIAS, 2, cout, cin, 0, 0, bias);
}

static void norm(mm_list *L, mm_comp c, const char *lp, const char *dp, int ch)
{
    param_pair(L, c, lp, dp, INIT_NORM_WEIGHT, INIT_NORM_BIAS, 1, ch, 0, 0, 0, 1);
}

/* ---- UNet (openaimodel.UNetModel / diffusers UNet2DConditionModel) ------ */

static void unet_resblock(mm_list *L, const char *lp, const char *dp, int cin, int cout, int temb)
{
    char a[NAME_MAX_], b[NAME_MAX_];
    norm(L, COMP_UNET, cat(a, lp, "in_layers.0"), cat(b, dp, "norm1"), cin);
    conv(L, COMP_UNET, cat(a, lp, "in_layers.2"), cat(b, dp, "conv1"), cout, cin, 3, INIT_WEIGHT);
    linear(L, COMP_UNET, cat(a, lp, "emb_layers.1"), cat(b, dp, "time_emb_proj"), cout, temb, 1, INIT_WEIGHT);
    norm(L, COMP_UNET, cat(a, lp, "out_layers.0"), cat(b, dp, "norm2"), cout);
    conv(L, COMP_UNET, cat(a, lp, "out_layers.3"), cat(b, dp, "conv2"), cout, cout, 3, INIT_OUT_WEIGHT);
    if (cin != cout)
        conv(L, COMP_UNET, cat(a, lp, "skip_connection"), cat(b, dp, "conv_shortcut"), cout, cin, 1, INIT_WEIGHT);
}

static void unet_attention(mm_list *L, const char *block, const char *dblock, const char *name, int c, int kv)
{
    char lp[NAME_MAX_], dp[NAME_MAX_], a[NAME_MAX_], b[NAME_MAX_];
    cat(lp, block, name);
    cat(dp, dblock, name);
    linear(L, COMP_UNET, cat(a, lp, "to_q"), cat(b, dp, "to_q"), c, c, 0, INIT_WEIGHT);
    linear(L, COMP_UNET, cat(a, lp, "to_k"), cat(b, dp, "to_k"), c, kv, 0, INIT_WEIGHT);
    linear(L, COMP_UNET, cat(a, lp, "to_v"), cat(b, dp, "to_v"), c, kv, 0, INIT_WEIGHT);
    linear(L, COMP_UNET, cat(a, lp, "to_out.0"), cat(b, dp, "to_out.0"), c, c, 1, INIT_OUT_WEIGHT);
}

/* SpatialTransformer with one BasicTransformerBlock, 1x1-conv projections
 * (SD 1.x); the sub-names are the same in both layouts. */
static void unet_transformer(mm_list *L, const char *lp, const char *dp, int c, int ctx)
{
    char a[NAME_MAX_], b[NAME_MAX_], tl[NAME_MAX_], td[NAME_MAX_];
    norm(L, COMP_UNET, cat(a, lp, "norm"), cat(b, dp, "norm"), c);
    conv(L, COMP_UNET, cat(a, lp, "proj_in"), cat(b, dp, "proj_in"), c, c, 1, INIT_WEIGHT);
    cat(tl, lp, "transformer_blocks.0");
    cat(td, dp, "transformer_blocks.0");
    unet_attention(L, tl, td, "attn1", c, c);
    unet_attention(L, tl, td, "attn2", c, ctx);
    linear(L, COMP_UNET, cat(a, tl, "ff.net.0.proj"), cat(b, td, "ff.net.0.proj"), 8 * c, c, 1, INIT_WEIGHT);
    linear(L, COMP_UNET, cat(a, tl, "ff.net.2"), cat(b, td, "ff.net.2"), c, 4 * c, 1, INIT_OUT_WEIGHT);
    for (int i = 1; i <= 3; i++) {
        char n[16];
        mm_fmt(n, sizeof n, "norm%d", i);
        norm(L, COMP_UNET, cat(a, tl, n), cat(b, td, n), c);
    }
    conv(L, COMP_UNET, cat(a, lp, "proj_out"), cat(b, dp, "proj_out"), c, c, 1, INIT_OUT_WEIGHT);
}

static void build_unet_down(mm_list *L, const mm_config *c, int *skip_ch, int *nskip, int *ch_out)
{
    int mc = c->model_channels, temb = 4 * mc, ch = mc, blk = 1;
    char lp[NAME_MAX_], dp[NAME_MAX_], a[NAME_MAX_];
    skip_ch[(*nskip)++] = ch;
    for (int i = 0; i < MM_LEVELS; i++) {
        for (int j = 0; j < c->num_res_blocks; j++, blk++) {
            int out = mc * c->mult[i];
            mm_fmt(lp, sizeof lp, "input_blocks.%d", blk);
            mm_fmt(dp, sizeof dp, "down_blocks.%d.resnets.%d", i, j);
            unet_resblock(L, cat(a, lp, "0"), dp, ch, out, temb);
            ch = out;
            if (c->attn[i]) {
                mm_fmt(dp, sizeof dp, "down_blocks.%d.attentions.%d", i, j);
                unet_transformer(L, cat(a, lp, "1"), dp, ch, c->context_dim);
            }
            skip_ch[(*nskip)++] = ch;
        }
        if (i + 1 < MM_LEVELS) {
            mm_fmt(lp, sizeof lp, "input_blocks.%d.0.op", blk++);
            mm_fmt(dp, sizeof dp, "down_blocks.%d.downsamplers.0.conv", i);
            conv(L, COMP_UNET, lp, dp, ch, ch, 3, INIT_WEIGHT);
            skip_ch[(*nskip)++] = ch;
        }
    }
    *ch_out = ch;
}

static void build_unet_up(mm_list *L, const mm_config *c, const int *skip_ch, int nskip, int ch)
{
    int mc = c->model_channels, temb = 4 * mc, blk = 0;
    char lp[NAME_MAX_], dp[NAME_MAX_], a[NAME_MAX_];
    for (int i = MM_LEVELS - 1; i >= 0; i--) {
        int up = MM_LEVELS - 1 - i; /* diffusers numbers up blocks from the bottom */
        for (int j = 0; j <= c->num_res_blocks; j++, blk++) {
            int out = mc * c->mult[i];
            mm_fmt(lp, sizeof lp, "output_blocks.%d", blk);
            mm_fmt(dp, sizeof dp, "up_blocks.%d.resnets.%d", up, j);
            unet_resblock(L, cat(a, lp, "0"), dp, ch + skip_ch[--nskip], out, temb);
            ch = out;
            if (c->attn[i]) {
                mm_fmt(dp, sizeof dp, "up_blocks.%d.attentions.%d", up, j);
                unet_transformer(L, cat(a, lp, "1"), dp, ch, c->context_dim);
            }
            if (i > 0 && j == c->num_res_blocks) {
                mm_fmt(a, sizeof a, "%s.%d.conv", lp, c->attn[i] ? 2 : 1);
                mm_fmt(dp, sizeof dp, "up_blocks.%d.upsamplers.0.conv", up);
                conv(L, COMP_UNET, a, dp, ch, ch, 3, INIT_WEIGHT);
            }
        }
    }
}

void mm_build_unet(mm_list *L, const mm_config *c)
{
    int mc = c->model_channels, temb = 4 * mc;
    linear(L, COMP_UNET, "time_embed.0", "time_embedding.linear_1", temb, mc, 1, INIT_WEIGHT);
    linear(L, COMP_UNET, "time_embed.2", "time_embedding.linear_2", temb, temb, 1, INIT_WEIGHT);
    conv(L, COMP_UNET, "input_blocks.0.0", "conv_in", mc, c->in_channels, 3, INIT_WEIGHT);
    int skip_ch[4 * MM_LEVELS + 2], nskip = 0, ch;
    build_unet_down(L, c, skip_ch, &nskip, &ch);
    unet_resblock(L, "middle_block.0", "mid_block.resnets.0", ch, ch, temb);
    unet_transformer(L, "middle_block.1", "mid_block.attentions.0", ch, c->context_dim);
    unet_resblock(L, "middle_block.2", "mid_block.resnets.1", ch, ch, temb);
    build_unet_up(L, c, skip_ch, nskip, ch);
    norm(L, COMP_UNET, "out.0", "conv_norm_out", mc);
    conv(L, COMP_UNET, "out.2", "conv_out", 4, mc, 3, INIT_OUT_WEIGHT);
}

/* ---- VAE (ldm AutoencoderKL / diffusers AutoencoderKL) ------------------ */

static void vae_resblock(mm_list *L, const char *lp, const char *dp, int cin, int cout)
{
    char a[NAME_MAX_], b[NAME_MAX_];
    norm(L, COMP_VAE, cat(a, lp, "norm1"), cat(b, dp, "norm1"), cin);
    conv(L, COMP_VAE, cat(a, lp, "conv1"), cat(b, dp, "conv1"), cout, cin, 3, INIT_WEIGHT);
    norm(L, COMP_VAE, cat(a, lp, "norm2"), cat(b, dp, "norm2"), cout);
    conv(L, COMP_VAE, cat(a, lp, "conv2"), cat(b, dp, "conv2"), cout, cout, 3, INIT_OUT_WEIGHT);
    if (cin != cout)
        conv(L, COMP_VAE, cat(a, lp, "nin_shortcut"), cat(b, dp, "conv_shortcut"), cout, cin, 1, INIT_WEIGHT);
}

/* Mid-block attention: 1x1 convs in LDM, Linear [C, C] in diffusers. */
static void vae_attention(mm_list *L, const char *lp, const char *dp, int c)
{
    static const char *const ldm[] = {"q", "k", "v", "proj_out"};
    static const char *const dif[] = {"to_q", "to_k", "to_v", "to_out.0"};
    char a[NAME_MAX_], b[NAME_MAX_];
    norm(L, COMP_VAE, cat(a, lp, "norm"), cat(b, dp, "group_norm"), c);
    for (int i = 0; i < 4; i++) {
        int first = L->n;
        conv(L, COMP_VAE, cat(a, lp, ldm[i]), cat(b, dp, dif[i]), c, c, 1, i == 3 ? INIT_OUT_WEIGHT : INIT_WEIGHT);
        if (!L->oom)
            L->v[first].dif_ndim = 2;
    }
}

static void vae_mid(mm_list *L, const char *side, int ch)
{
    char lp[NAME_MAX_], dp[NAME_MAX_];
    for (int k = 0; k < 2; k++) {
        mm_fmt(lp, sizeof lp, "%s.mid.block_%d", side, k + 1);
        mm_fmt(dp, sizeof dp, "%s.mid_block.resnets.%d", side, k);
        vae_resblock(L, lp, dp, ch, ch);
        if (k == 0) {
            mm_fmt(lp, sizeof lp, "%s.mid.attn_1", side);
            mm_fmt(dp, sizeof dp, "%s.mid_block.attentions.0", side);
            vae_attention(L, lp, dp, ch);
        }
    }
}

static void build_vae_encoder(mm_list *L, const mm_config *c)
{
    char lp[NAME_MAX_], dp[NAME_MAX_];
    int ch = c->vae_ch;
    conv(L, COMP_VAE, "encoder.conv_in", "encoder.conv_in", ch, 3, 3, INIT_WEIGHT);
    for (int i = 0; i < MM_LEVELS; i++) {
        int out = c->vae_ch * c->vae_mult[i];
        for (int j = 0; j < c->vae_res; j++) {
            mm_fmt(lp, sizeof lp, "encoder.down.%d.block.%d", i, j);
            mm_fmt(dp, sizeof dp, "encoder.down_blocks.%d.resnets.%d", i, j);
            vae_resblock(L, lp, dp, ch, out);
            ch = out;
        }
        if (i + 1 < MM_LEVELS) {
            mm_fmt(lp, sizeof lp, "encoder.down.%d.downsample.conv", i);
            mm_fmt(dp, sizeof dp, "encoder.down_blocks.%d.downsamplers.0.conv", i);
            conv(L, COMP_VAE, lp, dp, ch, ch, 3, INIT_WEIGHT);
        }
    }
    vae_mid(L, "encoder", ch);
    norm(L, COMP_VAE, "encoder.norm_out", "encoder.conv_norm_out", ch);
    conv(L, COMP_VAE, "encoder.conv_out", "encoder.conv_out", 2 * c->z_channels, ch, 3, INIT_WEIGHT);
}

static void build_vae_decoder(mm_list *L, const mm_config *c)
{
    char lp[NAME_MAX_], dp[NAME_MAX_];
    int ch = c->vae_ch * c->vae_mult[MM_LEVELS - 1];
    conv(L, COMP_VAE, "decoder.conv_in", "decoder.conv_in", ch, c->z_channels, 3, INIT_WEIGHT);
    vae_mid(L, "decoder", ch);
    for (int i = MM_LEVELS - 1; i >= 0; i--) {
        int out = c->vae_ch * c->vae_mult[i], up = MM_LEVELS - 1 - i;
        for (int j = 0; j <= c->vae_res; j++) {
            mm_fmt(lp, sizeof lp, "decoder.up.%d.block.%d", i, j);
            mm_fmt(dp, sizeof dp, "decoder.up_blocks.%d.resnets.%d", up, j);
            vae_resblock(L, lp, dp, ch, out);
            ch = out;
        }
        if (i > 0) {
            mm_fmt(lp, sizeof lp, "decoder.up.%d.upsample.conv", i);
            mm_fmt(dp, sizeof dp, "decoder.up_blocks.%d.upsamplers.0.conv", up);
            conv(L, COMP_VAE, lp, dp, ch, ch, 3, INIT_WEIGHT);
        }
    }
    norm(L, COMP_VAE, "decoder.norm_out", "decoder.conv_norm_out", ch);
    conv(L, COMP_VAE, "decoder.conv_out", "decoder.conv_out", 3, ch, 3, INIT_OUT_WEIGHT);
}

void mm_build_vae(mm_list *L, const mm_config *c)
{
    build_vae_encoder(L, c);
    build_vae_decoder(L, c);
    int z2 = 2 * c->z_channels;
    conv(L, COMP_VAE, "quant_conv", "quant_conv", z2, z2, 1, INIT_WEIGHT);
    conv(L, COMP_VAE, "post_quant_conv", "post_quant_conv", c->z_channels, c->z_channels, 1, INIT_WEIGHT);
}

/* ---- CLIP text encoder (HF names in both layouts) ----------------------- */

void mm_build_clip(mm_list *L, const mm_config *c)
{
    int w = c->clip_width;
    char p[NAME_MAX_], a[NAME_MAX_];
    add(L, COMP_CLIP, INIT_EMBED, "text_model.embeddings.token_embedding.weight",
        "text_model.embeddings.token_embedding.weight", 2, c->vocab, w, 0, 0);
    add(L, COMP_CLIP, INIT_POSITION, "text_model.embeddings.position_embedding.weight",
        "text_model.embeddings.position_embedding.weight", 2, c->max_pos, w, 0, 0);
    mm_tensor *ids = add(L, COMP_CLIP, INIT_POSITION_IDS, "text_model.embeddings.position_ids",
                         "text_model.embeddings.position_ids", 2, 1, c->max_pos, 0, 0);
    if (ids)
        ids->dtype = MEND_DT_I64;
    static const char *const proj[] = {"q_proj", "k_proj", "v_proj", "out_proj"};
    for (int l = 0; l < c->clip_layers; l++) {
        mm_fmt(p, sizeof p, "text_model.encoder.layers.%d", l);
        norm(L, COMP_CLIP, cat(a, p, "layer_norm1"), a, w);
        norm(L, COMP_CLIP, cat(a, p, "layer_norm2"), a, w);
        for (int k = 0; k < 4; k++) {
            char q[NAME_MAX_];
            mm_fmt(q, sizeof q, "%s.self_attn.%s", p, proj[k]);
            linear(L, COMP_CLIP, q, q, w, w, 1, k == 3 ? INIT_OUT_WEIGHT : INIT_WEIGHT);
        }
        linear(L, COMP_CLIP, cat(a, p, "mlp.fc1"), a, c->clip_mlp, w, 1, INIT_WEIGHT);
        linear(L, COMP_CLIP, cat(a, p, "mlp.fc2"), a, w, c->clip_mlp, 1, INIT_OUT_WEIGHT);
    }
    norm(L, COMP_CLIP, "text_model.final_layer_norm", "text_model.final_layer_norm", w);
}

/* ---- DDPM schedule buffers (ldm DDPM.register_schedule, linear) --------- */

static const char *const schedule_names[] = {
    "betas", "alphas_cumprod", "alphas_cumprod_prev", "sqrt_alphas_cumprod", "sqrt_one_minus_alphas_cumprod",
    "log_one_minus_alphas_cumprod", "sqrt_recip_alphas_cumprod", "sqrt_recipm1_alphas_cumprod",
    "posterior_variance", "posterior_log_variance_clipped", "posterior_mean_coef1", "posterior_mean_coef2"};
#define SCHEDULE_COUNT ((int)(sizeof schedule_names / sizeof *schedule_names))

void mm_build_schedule(mm_list *L)
{
    for (int i = 0; i < SCHEDULE_COUNT; i++) {
        mm_tensor *t = add(L, COMP_SCHEDULE, INIT_SCHEDULE, schedule_names[i], NULL, 1, MM_SCHEDULE_STEPS, 0, 0, 0);
        if (t) {
            t->dtype = MEND_DT_F32;
            t->schedule_index = i;
        }
    }
}

/* In float64 as LDM computes them with numpy, stored as float32. */
void mm_schedule_values(int which, float *out)
{
    const double s0 = sqrt(0.00085), s1 = sqrt(0.012);
    double cumprod = 1.0;
    for (int t = 0; t < MM_SCHEDULE_STEPS; t++) {
        double b = s0 + (s1 - s0) * t / (MM_SCHEDULE_STEPS - 1);
        double beta = b * b, alpha = 1.0 - beta, prev = cumprod;
        double ac = (cumprod *= alpha);
        double pv = beta * (1.0 - prev) / (1.0 - ac);
        double v[] = {beta,
                      ac,
                      prev,
                      sqrt(ac),
                      sqrt(1.0 - ac),
                      log(1.0 - ac),
                      sqrt(1.0 / ac),
                      sqrt(1.0 / ac - 1.0),
                      pv,
                      log(pv > 1e-20 ? pv : 1e-20),
                      beta * sqrt(prev) / (1.0 - ac),
                      (1.0 - prev) * sqrt(alpha) / (1.0 - ac)};
        out[t] = (float)v[which];
    }
}
