/* Random-weight SD 1.x checkpoints (see make_model.h).
 *
 * The model is first described as a list of tensors (LDM name, diffusers
 * name, shape, how to initialise it); the values are generated only when a
 * writer asks for them, block by block in parallel, from a PRNG stream that
 * depends on the seed, the tensor's LDM name and the block index alone. */
#include "make_model.h"

#include "core/half.h"
#include "core/threads.h"
#include "io/st_writer.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* snprintf without -Wformat-truncation noise: names and paths here are far
 * below their buffers' sizes, and a cut name would fail loudly later. */
static void fmt(char *buf, size_t size, const char *f, ...) MEND_PRINTF(3, 4);
static void fmt(char *buf, size_t size, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    vsnprintf(buf, size, f, ap);
    va_end(ap);
}

/* ---- topology ---------------------------------------------------------- */

#define MM_LEVELS 4

typedef struct mm_config {
    int in_channels, model_channels, num_res_blocks, num_heads, context_dim;
    int mult[MM_LEVELS], attn[MM_LEVELS];
    int vae_ch, vae_res, z_channels;
    int vae_mult[MM_LEVELS];
    int clip_width, clip_layers, clip_heads, clip_mlp, vocab, max_pos;
} mm_config;

static mm_config make_config(const mend_make_model_opts *o)
{
    int tiny = o->size == MEND_MM_TINY;
    mm_config c = {
        .in_channels = o->arch == MEND_MM_SD1_INPAINT ? 9 : 4,
        .model_channels = tiny ? 32 : 320,
        .num_res_blocks = 2,
        .num_heads = 8,
        .context_dim = tiny ? 32 : 768,
        .mult = {1, 2, 4, 4},
        .attn = {1, 1, 1, 0},
        .vae_ch = tiny ? 32 : 128,
        .vae_res = 2,
        .z_channels = 4,
        .vae_mult = {1, 2, 4, 4},
        .clip_width = tiny ? 32 : 768,
        .clip_layers = tiny ? 3 : 12,
        .clip_heads = tiny ? 4 : 12,
        .clip_mlp = tiny ? 37 : 3072,
        .vocab = 49408,
        .max_pos = 77,
    };
    return c;
}

/* ---- the tensor list ---------------------------------------------------- */

typedef enum mm_comp { COMP_UNET, COMP_VAE, COMP_CLIP, COMP_SCHEDULE } mm_comp;

static const char *const comp_prefix[] = {"model.diffusion_model.", "first_stage_model.",
                                          "cond_stage_model.transformer.", ""};

typedef enum mm_init {
    INIT_WEIGHT,     /* uniform, std 1/sqrt(fan_in) */
    INIT_OUT_WEIGHT, /* last projection of a residual branch: half that */
    INIT_BIAS,       /* std 0.02 */
    INIT_NORM_WEIGHT,/* 1 + std 0.02 */
    INIT_NORM_BIAS,  /* std 0.02 */
    INIT_EMBED,      /* std 0.02 */
    INIT_POSITION,   /* std 0.01 */
    INIT_POSITION_IDS,
    INIT_SCHEDULE,
} mm_init;

enum { NAME_MAX_ = 200 };

typedef struct mm_tensor {
    char ldm[NAME_MAX_]; /* full single-file name; also keys the values */
    char dif[NAME_MAX_]; /* name in the diffusers component file; "" = not there */
    mm_comp comp;
    mm_init init;
    mend_dtype dtype;
    int ndim, dif_ndim; /* diffusers may drop trailing 1x1 dims (VAE attention) */
    int64_t shape[4];
    int schedule_index;
    uint64_t key;
} mm_tensor;

typedef struct mm_list {
    mm_tensor *v;
    int n, cap;
    int oom;
    mend_dtype dtype;
    uint64_t seed;
} mm_list;

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

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
    fmt(t->ldm, sizeof t->ldm, "%s%s", comp_prefix[comp], ldm);
    fmt(t->dif, sizeof t->dif, "%s", dif ? dif : "");
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
    fmt(buf, NAME_MAX_, "%s.%s", a, b);
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
        fmt(n, sizeof n, "norm%d", i);
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
            fmt(lp, sizeof lp, "input_blocks.%d", blk);
            fmt(dp, sizeof dp, "down_blocks.%d.resnets.%d", i, j);
            unet_resblock(L, cat(a, lp, "0"), dp, ch, out, temb);
            ch = out;
            if (c->attn[i]) {
                fmt(dp, sizeof dp, "down_blocks.%d.attentions.%d", i, j);
                unet_transformer(L, cat(a, lp, "1"), dp, ch, c->context_dim);
            }
            skip_ch[(*nskip)++] = ch;
        }
        if (i + 1 < MM_LEVELS) {
            fmt(lp, sizeof lp, "input_blocks.%d.0.op", blk++);
            fmt(dp, sizeof dp, "down_blocks.%d.downsamplers.0.conv", i);
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
            fmt(lp, sizeof lp, "output_blocks.%d", blk);
            fmt(dp, sizeof dp, "up_blocks.%d.resnets.%d", up, j);
            unet_resblock(L, cat(a, lp, "0"), dp, ch + skip_ch[--nskip], out, temb);
            ch = out;
            if (c->attn[i]) {
                fmt(dp, sizeof dp, "up_blocks.%d.attentions.%d", up, j);
                unet_transformer(L, cat(a, lp, "1"), dp, ch, c->context_dim);
            }
            if (i > 0 && j == c->num_res_blocks) {
                fmt(a, sizeof a, "%s.%d.conv", lp, c->attn[i] ? 2 : 1);
                fmt(dp, sizeof dp, "up_blocks.%d.upsamplers.0.conv", up);
                conv(L, COMP_UNET, a, dp, ch, ch, 3, INIT_WEIGHT);
            }
        }
    }
}

static void build_unet(mm_list *L, const mm_config *c)
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
        fmt(lp, sizeof lp, "%s.mid.block_%d", side, k + 1);
        fmt(dp, sizeof dp, "%s.mid_block.resnets.%d", side, k);
        vae_resblock(L, lp, dp, ch, ch);
        if (k == 0) {
            fmt(lp, sizeof lp, "%s.mid.attn_1", side);
            fmt(dp, sizeof dp, "%s.mid_block.attentions.0", side);
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
            fmt(lp, sizeof lp, "encoder.down.%d.block.%d", i, j);
            fmt(dp, sizeof dp, "encoder.down_blocks.%d.resnets.%d", i, j);
            vae_resblock(L, lp, dp, ch, out);
            ch = out;
        }
        if (i + 1 < MM_LEVELS) {
            fmt(lp, sizeof lp, "encoder.down.%d.downsample.conv", i);
            fmt(dp, sizeof dp, "encoder.down_blocks.%d.downsamplers.0.conv", i);
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
            fmt(lp, sizeof lp, "decoder.up.%d.block.%d", i, j);
            fmt(dp, sizeof dp, "decoder.up_blocks.%d.resnets.%d", up, j);
            vae_resblock(L, lp, dp, ch, out);
            ch = out;
        }
        if (i > 0) {
            fmt(lp, sizeof lp, "decoder.up.%d.upsample.conv", i);
            fmt(dp, sizeof dp, "decoder.up_blocks.%d.upsamplers.0.conv", up);
            conv(L, COMP_VAE, lp, dp, ch, ch, 3, INIT_WEIGHT);
        }
    }
    norm(L, COMP_VAE, "decoder.norm_out", "decoder.conv_norm_out", ch);
    conv(L, COMP_VAE, "decoder.conv_out", "decoder.conv_out", 3, ch, 3, INIT_OUT_WEIGHT);
}

static void build_vae(mm_list *L, const mm_config *c)
{
    build_vae_encoder(L, c);
    build_vae_decoder(L, c);
    int z2 = 2 * c->z_channels;
    conv(L, COMP_VAE, "quant_conv", "quant_conv", z2, z2, 1, INIT_WEIGHT);
    conv(L, COMP_VAE, "post_quant_conv", "post_quant_conv", c->z_channels, c->z_channels, 1, INIT_WEIGHT);
}

/* ---- CLIP text encoder (HF names in both layouts) ----------------------- */

static void build_clip(mm_list *L, const mm_config *c)
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
        fmt(p, sizeof p, "text_model.encoder.layers.%d", l);
        norm(L, COMP_CLIP, cat(a, p, "layer_norm1"), a, w);
        norm(L, COMP_CLIP, cat(a, p, "layer_norm2"), a, w);
        for (int k = 0; k < 4; k++) {
            char q[NAME_MAX_];
            fmt(q, sizeof q, "%s.self_attn.%s", p, proj[k]);
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
#define SCHEDULE_STEPS 1000

static void build_schedule(mm_list *L)
{
    for (int i = 0; i < SCHEDULE_COUNT; i++) {
        mm_tensor *t = add(L, COMP_SCHEDULE, INIT_SCHEDULE, schedule_names[i], NULL, 1, SCHEDULE_STEPS, 0, 0, 0);
        if (t) {
            t->dtype = MEND_DT_F32;
            t->schedule_index = i;
        }
    }
}

/* In float64 as LDM computes them with numpy, stored as float32. */
static void schedule_values(int which, float *out)
{
    const double s0 = sqrt(0.00085), s1 = sqrt(0.012);
    double cumprod = 1.0;
    for (int t = 0; t < SCHEDULE_STEPS; t++) {
        double b = s0 + (s1 - s0) * t / (SCHEDULE_STEPS - 1);
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

/* ---- value generation ---------------------------------------------------- */

#define FILL_BLOCK 65536

static void init_params(const mm_tensor *t, float *mean, float *std)
{
    int64_t fan_in = 1;
    for (int i = 1; i < t->ndim; i++)
        fan_in *= t->shape[i];
    *mean = 0.0f;
    switch (t->init) {
    case INIT_WEIGHT: *std = 1.0f / sqrtf((float)fan_in); break;
    case INIT_OUT_WEIGHT: *std = 0.5f / sqrtf((float)fan_in); break;
    case INIT_NORM_WEIGHT: *mean = 1.0f; *std = 0.02f; break;
    case INIT_POSITION: *std = 0.01f; break;
    default: *std = 0.02f; break;
    }
}

typedef struct fill_job {
    const mm_tensor *t;
    void *dst;
    int64_t n;
    float mean, half_width;
} fill_job;

static void store(mend_dtype dt, void *dst, int64_t i, float v)
{
    if (dt == MEND_DT_F32)
        ((float *)dst)[i] = v;
    else if (dt == MEND_DT_F16)
        ((uint16_t *)dst)[i] = mend_f32_to_f16(v);
    else
        ((uint16_t *)dst)[i] = mend_f32_to_bf16(v);
}

/* Each block has its own stream, so the values do not depend on the thread
 * count. Uniform on [mean - h, mean + h] has std h/sqrt(3). */
static void fill_blocks(void *ctx, int64_t b0, int64_t b1, int thread)
{
    const fill_job *j = ctx;
    for (int64_t b = b0; b < b1; b++) {
        uint64_t s = j->t->key ^ ((uint64_t)b * 0xD1B54A32D192ED03ull);
        int64_t end = (b + 1) * FILL_BLOCK < j->n ? (b + 1) * FILL_BLOCK : j->n;
        for (int64_t i = b * FILL_BLOCK; i < end; i++) {
            float u = (float)(splitmix64(&s) >> 40) * (1.0f / 16777216.0f); /* [0, 1) */
            store(j->t->dtype, j->dst, i, j->mean + (2.0f * u - 1.0f) * j->half_width);
        }
    }
}

static mend_status fill_tensor(void *ctx, const char *name, void *dst, size_t nbytes, mend_err *err)
{
    const mm_tensor *t = ctx;
    int64_t n = (int64_t)(nbytes / mend_dtype_size(t->dtype));
    if (t->init == INIT_POSITION_IDS) {
        for (int64_t i = 0; i < n; i++)
            ((int64_t *)dst)[i] = i;
        return MEND_OK;
    }
    if (t->init == INIT_SCHEDULE) {
        if (n != SCHEDULE_STEPS)
            return mend_fail(err, MEND_E_ARG, "tensor '%s': %lld elements, expected %d", name, (long long)n,
                             SCHEDULE_STEPS);
        schedule_values(t->schedule_index, dst);
        return MEND_OK;
    }
    fill_job j = {.t = t, .dst = dst, .n = n};
    float std;
    init_params(t, &j.mean, &std);
    j.half_width = std * sqrtf(3.0f);
    mend_parallel_for((n + FILL_BLOCK - 1) / FILL_BLOCK, fill_blocks, &j);
    return MEND_OK;
}

/* ---- writing ------------------------------------------------------------- */

/* Adds the tensors of `comp` (all when comp < 0) under their LDM names, or
 * their diffusers names. */
static mend_status add_to_writer(mend_st_writer *w, mm_list *L, int comp, int diffusers, mend_err *err)
{
    for (int i = 0; i < L->n; i++) {
        mm_tensor *t = &L->v[i];
        if (comp >= 0 && (int)t->comp != comp)
            continue;
        if (diffusers && !t->dif[0])
            continue;
        MEND_TRY(mend_st_writer_add_generated(w, diffusers ? t->dif : t->ldm, t->dtype,
                                              diffusers ? t->dif_ndim : t->ndim, t->shape, fill_tensor, t, err));
    }
    return MEND_OK;
}

static mend_status write_safetensors(mm_list *L, int comp, int diffusers, const mend_make_model_opts *o,
                                     const char *path, mend_err *err)
{
    mend_st_writer *w = mend_st_writer_new();
    if (!w)
        return mend_fail(err, MEND_E_NOMEM, "%s: out of memory", path);
    char seed[32];
    fmt(seed, sizeof seed, "%llu", (unsigned long long)o->seed);
    mend_status s = add_to_writer(w, L, comp, diffusers, err);
    if (s == MEND_OK)
        s = mend_st_writer_set_meta(w, "format", "pt", err);
    if (s == MEND_OK)
        s = mend_st_writer_set_meta(w, "generator", "mend tools make-model", err);
    if (s == MEND_OK)
        s = mend_st_writer_set_meta(w, "seed", seed, err);
    if (s == MEND_OK)
        s = mend_st_writer_write(w, path, err);
    mend_st_writer_free(w);
    return s;
}

static cJSON *int_array(const int *v, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
    return a;
}

static cJSON *str_array(const char *const *v, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++)
        cJSON_AddItemToArray(a, v[i] ? cJSON_CreateString(v[i]) : cJSON_CreateNull());
    return a;
}

static cJSON *unet_config(const mm_config *c)
{
    int ch[MM_LEVELS];
    const char *down[MM_LEVELS], *up[MM_LEVELS];
    for (int i = 0; i < MM_LEVELS; i++) {
        ch[i] = c->model_channels * c->mult[i];
        down[i] = c->attn[i] ? "CrossAttnDownBlock2D" : "DownBlock2D";
        up[MM_LEVELS - 1 - i] = c->attn[i] ? "CrossAttnUpBlock2D" : "UpBlock2D";
    }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "_class_name", "UNet2DConditionModel");
    cJSON_AddStringToObject(j, "_diffusers_version", "0.27.2");
    cJSON_AddStringToObject(j, "act_fn", "silu");
    cJSON_AddNumberToObject(j, "attention_head_dim", c->num_heads); /* diffusers' name for the head count */
    cJSON_AddItemToObject(j, "block_out_channels", int_array(ch, MM_LEVELS));
    cJSON_AddBoolToObject(j, "center_input_sample", 0);
    cJSON_AddNumberToObject(j, "cross_attention_dim", c->context_dim);
    cJSON_AddItemToObject(j, "down_block_types", str_array(down, MM_LEVELS));
    cJSON_AddNumberToObject(j, "downsample_padding", 1);
    cJSON_AddBoolToObject(j, "flip_sin_to_cos", 1);
    cJSON_AddNumberToObject(j, "freq_shift", 0);
    cJSON_AddNumberToObject(j, "in_channels", c->in_channels);
    cJSON_AddNumberToObject(j, "layers_per_block", c->num_res_blocks);
    cJSON_AddNumberToObject(j, "mid_block_scale_factor", 1);
    cJSON_AddNumberToObject(j, "norm_eps", 1e-5);
    cJSON_AddNumberToObject(j, "norm_num_groups", 32);
    cJSON_AddNumberToObject(j, "out_channels", 4);
    cJSON_AddNumberToObject(j, "sample_size", 64);
    cJSON_AddItemToObject(j, "up_block_types", str_array(up, MM_LEVELS));
    cJSON_AddBoolToObject(j, "use_linear_projection", 0);
    return j;
}

static cJSON *vae_config(const mm_config *c)
{
    int ch[MM_LEVELS];
    const char *down[MM_LEVELS], *up[MM_LEVELS];
    for (int i = 0; i < MM_LEVELS; i++) {
        ch[i] = c->vae_ch * c->vae_mult[i];
        down[i] = "DownEncoderBlock2D";
        up[i] = "UpDecoderBlock2D";
    }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "_class_name", "AutoencoderKL");
    cJSON_AddStringToObject(j, "_diffusers_version", "0.27.2");
    cJSON_AddStringToObject(j, "act_fn", "silu");
    cJSON_AddItemToObject(j, "block_out_channels", int_array(ch, MM_LEVELS));
    cJSON_AddItemToObject(j, "down_block_types", str_array(down, MM_LEVELS));
    cJSON_AddNumberToObject(j, "in_channels", 3);
    cJSON_AddNumberToObject(j, "latent_channels", c->z_channels);
    cJSON_AddNumberToObject(j, "layers_per_block", c->vae_res);
    cJSON_AddNumberToObject(j, "norm_num_groups", 32);
    cJSON_AddNumberToObject(j, "out_channels", 3);
    cJSON_AddNumberToObject(j, "sample_size", 512);
    cJSON_AddNumberToObject(j, "scaling_factor", 0.18215);
    cJSON_AddItemToObject(j, "up_block_types", str_array(up, MM_LEVELS));
    return j;
}

static cJSON *text_encoder_config(const mm_config *c)
{
    static const char *const arch[] = {"CLIPTextModel"};
    cJSON *j = cJSON_CreateObject();
    cJSON_AddItemToObject(j, "architectures", str_array(arch, 1));
    cJSON_AddNumberToObject(j, "attention_dropout", 0.0);
    cJSON_AddNumberToObject(j, "bos_token_id", 0);
    cJSON_AddNumberToObject(j, "dropout", 0.0);
    cJSON_AddNumberToObject(j, "eos_token_id", 2);
    cJSON_AddStringToObject(j, "hidden_act", "quick_gelu");
    cJSON_AddNumberToObject(j, "hidden_size", c->clip_width);
    cJSON_AddNumberToObject(j, "initializer_factor", 1.0);
    cJSON_AddNumberToObject(j, "initializer_range", 0.02);
    cJSON_AddNumberToObject(j, "intermediate_size", c->clip_mlp);
    cJSON_AddNumberToObject(j, "layer_norm_eps", 1e-5);
    cJSON_AddNumberToObject(j, "max_position_embeddings", c->max_pos);
    cJSON_AddStringToObject(j, "model_type", "clip_text_model");
    cJSON_AddNumberToObject(j, "num_attention_heads", c->clip_heads);
    cJSON_AddNumberToObject(j, "num_hidden_layers", c->clip_layers);
    cJSON_AddNumberToObject(j, "pad_token_id", 1);
    cJSON_AddNumberToObject(j, "projection_dim", c->clip_width);
    cJSON_AddStringToObject(j, "torch_dtype", "float32");
    cJSON_AddNumberToObject(j, "vocab_size", c->vocab);
    return j;
}

static cJSON *scheduler_config(void)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "_class_name", "PNDMScheduler");
    cJSON_AddStringToObject(j, "_diffusers_version", "0.27.2");
    cJSON_AddNumberToObject(j, "beta_end", 0.012);
    cJSON_AddStringToObject(j, "beta_schedule", "scaled_linear");
    cJSON_AddNumberToObject(j, "beta_start", 0.00085);
    cJSON_AddNumberToObject(j, "num_train_timesteps", 1000);
    cJSON_AddBoolToObject(j, "set_alpha_to_one", 0);
    cJSON_AddBoolToObject(j, "skip_prk_steps", 1);
    cJSON_AddNumberToObject(j, "steps_offset", 1);
    return j;
}

static cJSON *model_index(const mend_make_model_opts *o)
{
    static const char *const none[] = {NULL, NULL};
    static const char *const sched[] = {"diffusers", "PNDMScheduler"}, *const te[] = {"transformers", "CLIPTextModel"},
                             *const tok[] = {"transformers", "CLIPTokenizer"},
                             *const unet[] = {"diffusers", "UNet2DConditionModel"},
                             *const vae[] = {"diffusers", "AutoencoderKL"};
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "_class_name", o->arch == MEND_MM_SD1_INPAINT ? "StableDiffusionInpaintPipeline"
                                                                             : "StableDiffusionPipeline");
    cJSON_AddStringToObject(j, "_diffusers_version", "0.27.2");
    cJSON_AddItemToObject(j, "feature_extractor", str_array(none, 2));
    cJSON_AddBoolToObject(j, "requires_safety_checker", 0);
    cJSON_AddItemToObject(j, "safety_checker", str_array(none, 2));
    cJSON_AddItemToObject(j, "scheduler", str_array(sched, 2));
    cJSON_AddItemToObject(j, "text_encoder", str_array(te, 2));
    cJSON_AddItemToObject(j, "tokenizer", str_array(tok, 2)); /* tokenizer/ itself is not written */
    cJSON_AddItemToObject(j, "unet", str_array(unet, 2));
    cJSON_AddItemToObject(j, "vae", str_array(vae, 2));
    return j;
}

/* Writes and frees j. */
static mend_status write_json(cJSON *j, const char *path, mend_err *err)
{
    char *text = j ? cJSON_Print(j) : NULL;
    cJSON_Delete(j);
    if (!text)
        return mend_fail(err, MEND_E_NOMEM, "%s: out of memory", path);
    FILE *fp = fopen(path, "wb");
    int ok = fp && fputs(text, fp) >= 0 && fputc('\n', fp) != EOF;
    if (fp && fclose(fp) != 0)
        ok = 0;
    free(text);
    if (!ok)
        return mend_fail(err, MEND_E_IO, "%s: cannot write: %s", path, strerror(errno));
    return MEND_OK;
}

static const char *const diffusers_dirs[] = {"unet", "vae", "text_encoder", "scheduler"};
static const char *const diffusers_files[] = {
    "model_index.json", "unet/config.json", "unet/diffusion_pytorch_model.safetensors", "vae/config.json",
    "vae/diffusion_pytorch_model.safetensors", "text_encoder/config.json", "text_encoder/model.safetensors",
    "scheduler/scheduler_config.json"};

/* Removes what write_diffusers_into may have created (nothing else). */
static void remove_diffusers_tree(const char *dir)
{
    char p[4096];
    for (size_t i = 0; i < sizeof diffusers_files / sizeof *diffusers_files; i++) {
        fmt(p, sizeof p, "%s/%s", dir, diffusers_files[i]);
        remove(p);
    }
    for (size_t i = 0; i < sizeof diffusers_dirs / sizeof *diffusers_dirs; i++) {
        fmt(p, sizeof p, "%s/%s", dir, diffusers_dirs[i]);
        rmdir(p);
    }
    rmdir(dir);
}

static mend_status write_diffusers_into(mm_list *L, const mm_config *c, const mend_make_model_opts *o,
                                        const char *dir, mend_err *err)
{
    char p[4096];
    for (size_t i = 0; i < sizeof diffusers_dirs / sizeof *diffusers_dirs; i++) {
        fmt(p, sizeof p, "%s/%s", dir, diffusers_dirs[i]);
        if (mkdir(p, 0777) != 0)
            return mend_fail(err, MEND_E_IO, "%s: cannot create: %s", p, strerror(errno));
    }
    static const struct {
        mm_comp comp;
        const char *file;
    } parts[] = {{COMP_UNET, "unet/diffusion_pytorch_model.safetensors"},
                 {COMP_VAE, "vae/diffusion_pytorch_model.safetensors"},
                 {COMP_CLIP, "text_encoder/model.safetensors"}};
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) {
        fmt(p, sizeof p, "%s/%s", dir, parts[i].file);
        MEND_TRY(write_safetensors(L, (int)parts[i].comp, 1, o, p, err));
    }
    fmt(p, sizeof p, "%s/unet/config.json", dir);
    MEND_TRY(write_json(unet_config(c), p, err));
    fmt(p, sizeof p, "%s/vae/config.json", dir);
    MEND_TRY(write_json(vae_config(c), p, err));
    fmt(p, sizeof p, "%s/text_encoder/config.json", dir);
    MEND_TRY(write_json(text_encoder_config(c), p, err));
    fmt(p, sizeof p, "%s/scheduler/scheduler_config.json", dir);
    MEND_TRY(write_json(scheduler_config(), p, err));
    fmt(p, sizeof p, "%s/model_index.json", dir);
    return write_json(model_index(o), p, err);
}

/* The folder is built under OUT.tmp-PID and renamed into place at the end. */
static mend_status write_diffusers(mm_list *L, const mm_config *c, const mend_make_model_opts *o, const char *out,
                                   mend_err *err)
{
    struct stat st;
    if (stat(out, &st) == 0)
        return mend_fail(err, MEND_E_IO, "%s: already exists; remove it or choose another output folder", out);
    char tmp[4096];
    fmt(tmp, sizeof tmp, "%s.tmp-%ld", out, (long)getpid());
    if (mkdir(tmp, 0777) != 0)
        return mend_fail(err, MEND_E_IO, "%s: cannot create: %s", out, strerror(errno));
    mend_status s = write_diffusers_into(L, c, o, tmp, err);
    if (s == MEND_OK && rename(tmp, out) != 0)
        s = mend_fail(err, MEND_E_IO, "%s: cannot rename %s into place: %s", out, tmp, strerror(errno));
    if (s != MEND_OK)
        remove_diffusers_tree(tmp);
    return s;
}

mend_status mend_make_model(const mend_make_model_opts *o, const char *out, mend_err *err)
{
    if (o->dtype != MEND_DT_F32 && o->dtype != MEND_DT_F16 && o->dtype != MEND_DT_BF16)
        return mend_fail(err, MEND_E_ARG, "make-model: dtype %s is not one of F32, F16, BF16",
                         mend_dtype_name(o->dtype));
    mm_config c = make_config(o);
    mm_list L = {.dtype = o->dtype, .seed = o->seed};
    build_unet(&L, &c);
    build_vae(&L, &c);
    build_clip(&L, &c);
    if (o->layout == MEND_MM_SINGLE)
        build_schedule(&L);
    mend_status s;
    if (L.oom)
        s = mend_fail(err, MEND_E_NOMEM, "make-model: out of memory");
    else if (o->layout == MEND_MM_SINGLE)
        s = write_safetensors(&L, -1, 0, o, out, err);
    else
        s = write_diffusers(&L, &c, o, out, err);
    free(L.v);
    return s;
}

/* ---- option spellings ---------------------------------------------------- */

int mend_mm_parse_arch(const char *s, mend_mm_arch *out)
{
    if (!strcmp(s, "sd1"))
        *out = MEND_MM_SD1;
    else if (!strcmp(s, "sd1-inpaint"))
        *out = MEND_MM_SD1_INPAINT;
    else
        return 0;
    return 1;
}

int mend_mm_parse_size(const char *s, mend_mm_size *out)
{
    if (!strcmp(s, "tiny"))
        *out = MEND_MM_TINY;
    else if (!strcmp(s, "full"))
        *out = MEND_MM_FULL;
    else
        return 0;
    return 1;
}

int mend_mm_parse_dtype(const char *s, mend_dtype *out)
{
    if (!strcmp(s, "f32"))
        *out = MEND_DT_F32;
    else if (!strcmp(s, "f16"))
        *out = MEND_DT_F16;
    else if (!strcmp(s, "bf16"))
        *out = MEND_DT_BF16;
    else
        return 0;
    return 1;
}

int mend_mm_parse_layout(const char *s, mend_mm_layout *out)
{
    if (!strcmp(s, "single"))
        *out = MEND_MM_SINGLE;
    else if (!strcmp(s, "diffusers"))
        *out = MEND_MM_DIFFUSERS;
    else
        return 0;
    return 1;
}
