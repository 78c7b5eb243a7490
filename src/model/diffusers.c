/* Diffusers -> LDM tensor names (see diffusers.h).
 *
 * The block structure (levels, res blocks per level, which up levels have
 * attention) is read from the names present, then every name is mapped by
 * its pattern; a name that fits no pattern is an error naming it, so a
 * file of another architecture is refused rather than half-loaded. */
#include "model/diffusers.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MAX_LEVELS 16

/* sscanf-style prefix match: "down_blocks.%d.resnets.%d.%n". Returns the
 * rest of the name after the matched prefix, or NULL. The pattern must end
 * in "%n" and hold exactly `nints` %d conversions. */
static const char *match(const char *name, const char *pattern, int nints, int *a, int *b)
{
    int n = -1, x = 0, y = 0;
    int got = nints == 0 ? sscanf(name, pattern, &n) : nints == 1 ? sscanf(name, pattern, &x, &n)
                                                                   : sscanf(name, pattern, &x, &y, &n);
    (void)got;
    if (n < 0 || x < 0 || y < 0 || x >= 1000 || y >= 1000)
        return NULL;
    if (a)
        *a = x;
    if (b)
        *b = y;
    return name + n;
}

static mend_status put(char *out, size_t size, const char *fmt, ...) MEND_PRINTF(3, 4);
static mend_status put(char *out, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, size, fmt, ap);
    va_end(ap);
    return n >= 0 && (size_t)n < size ? MEND_OK : MEND_E_FORMAT;
}

static int is_param(const char *rest)
{
    return !strcmp(rest, "weight") || !strcmp(rest, "bias");
}

/* "module.weight" with module mapped by a from/to table. */
static const char *map_module(const char *rest, const char *const (*table)[2], int n, const char **param)
{
    for (int i = 0; i < n; i++) {
        size_t l = strlen(table[i][0]);
        if (!strncmp(rest, table[i][0], l) && rest[l] == '.' && is_param(rest + l + 1)) {
            *param = rest + l + 1;
            return table[i][1];
        }
    }
    return NULL;
}

static mend_status unknown(const mend_tf *f, const char *what, const char *name, mend_err *err)
{
    return mend_fail(err, MEND_E_ARCH, "%s: tensor '%s' is not a known diffusers %s tensor name", f->path, name, what);
}

/* ---- UNet ------------------------------------------------------------- */

typedef struct unet_layout {
    const mend_tf *f;
    int levels, res;          /* res = resnets per down block (up blocks have res + 1) */
    int up_attn[MAX_LEVELS];  /* up block i has attentions */
} unet_layout;

static const char *const unet_resnet_map[][2] = {
    {"norm1", "in_layers.0"}, {"conv1", "in_layers.2"},  {"time_emb_proj", "emb_layers.1"},
    {"norm2", "out_layers.0"}, {"conv2", "out_layers.3"}, {"conv_shortcut", "skip_connection"}};

static mend_status unet_resnet(const char *block, const char *rest, char *out, size_t size)
{
    const char *param, *mod = map_module(rest, unet_resnet_map, 6, &param);
    return mod ? put(out, size, "%s.%s.%s", block, mod, param) : MEND_E_ARCH;
}

/* Transformer sub-names are the same in both layouts. */
static mend_status unet_attention(const char *block, const char *rest, char *out, size_t size)
{
    static const char *const ok[] = {"norm.", "proj_in.", "proj_out.", "transformer_blocks."};
    for (int i = 0; i < 4; i++)
        if (!strncmp(rest, ok[i], strlen(ok[i])))
            return put(out, size, "%s.%s", block, rest);
    return MEND_E_ARCH;
}

static mend_status unet_blocks(const unet_layout *u, const char *name, char *out, size_t size)
{
    int i, j;
    const char *r;
    char blk[64];
    int R = u->res;
    if ((r = match(name, "down_blocks.%d.resnets.%d.%n", 2, &i, &j)) && i < u->levels && j < R) {
        snprintf(blk, sizeof blk, "input_blocks.%d.0", 1 + i * (R + 1) + j);
        return unet_resnet(blk, r, out, size);
    }
    if ((r = match(name, "down_blocks.%d.attentions.%d.%n", 2, &i, &j)) && i < u->levels && j < R) {
        snprintf(blk, sizeof blk, "input_blocks.%d.1", 1 + i * (R + 1) + j);
        return unet_attention(blk, r, out, size);
    }
    if ((r = match(name, "down_blocks.%d.downsamplers.0.conv.%n", 1, &i, NULL)) && i + 1 < u->levels &&
        is_param(r))
        return put(out, size, "input_blocks.%d.0.op.%s", (i + 1) * (R + 1), r);
    if ((r = match(name, "up_blocks.%d.resnets.%d.%n", 2, &i, &j)) && i < u->levels && j <= R) {
        snprintf(blk, sizeof blk, "output_blocks.%d.0", i * (R + 1) + j);
        return unet_resnet(blk, r, out, size);
    }
    if ((r = match(name, "up_blocks.%d.attentions.%d.%n", 2, &i, &j)) && i < u->levels && j <= R) {
        snprintf(blk, sizeof blk, "output_blocks.%d.1", i * (R + 1) + j);
        return unet_attention(blk, r, out, size);
    }
    if ((r = match(name, "up_blocks.%d.upsamplers.0.conv.%n", 1, &i, NULL)) && i + 1 < u->levels && is_param(r))
        return put(out, size, "output_blocks.%d.%d.conv.%s", i * (R + 1) + R, u->up_attn[i] ? 2 : 1, r);
    return MEND_E_ARCH;
}

static mend_status unet_rename(void *ctx, const char *name, char *out, size_t size, mend_err *err)
{
    const unet_layout *u = ctx;
    static const char *const top[][2] = {{"conv_in", "input_blocks.0.0"},
                                         {"time_embedding.linear_1", "time_embed.0"},
                                         {"time_embedding.linear_2", "time_embed.2"},
                                         {"conv_norm_out", "out.0"},
                                         {"conv_out", "out.2"}};
    const char *param, *mod = map_module(name, top, 5, &param), *r;
    int j;
    mend_status s = MEND_E_ARCH;
    if (mod)
        s = put(out, size, "%s.%s", mod, param);
    else if ((r = match(name, "mid_block.resnets.%d.%n", 1, &j, NULL)) && j < 2)
        s = unet_resnet(j == 0 ? "middle_block.0" : "middle_block.2", r, out, size);
    else if ((r = match(name, "mid_block.attentions.0.%n", 0, NULL, NULL)))
        s = unet_attention("middle_block.1", r, out, size);
    else
        s = unet_blocks(u, name, out, size);
    return s == MEND_OK ? MEND_OK : unknown(u->f, "UNet", name, err);
}

static mend_status unet_scan(const mend_tf *f, unet_layout *u, mend_err *err)
{
    memset(u, 0, sizeof *u);
    u->f = f;
    for (int k = 0; k < f->count; k++) {
        const char *name = f->tensors[k].name;
        int i, j;
        if (match(name, "down_blocks.%d.%n", 1, &i, NULL) || match(name, "up_blocks.%d.%n", 1, &i, NULL)) {
            if (i >= MAX_LEVELS)
                return mend_fail(err, MEND_E_ARCH, "%s: tensor '%s': more than %d UNet levels", f->path, name,
                                 MAX_LEVELS);
            if (i + 1 > u->levels)
                u->levels = i + 1;
        }
        if (match(name, "down_blocks.%d.resnets.%d.%n", 2, &i, &j) && j + 1 > u->res)
            u->res = j + 1;
        if (match(name, "up_blocks.%d.attentions.%n", 1, &i, NULL) && i < MAX_LEVELS)
            u->up_attn[i] = 1;
    }
    if (u->levels == 0 || u->res == 0)
        return mend_fail(err, MEND_E_ARCH, "%s: no down_blocks.N.resnets.M tensors: not a diffusers UNet", f->path);
    return MEND_OK;
}

mend_status mend_diffusers_rename_unet(mend_tf *f, mend_err *err)
{
    unet_layout u;
    MEND_TRY(unet_scan(f, &u, err));
    return mend_tf_rename(f, unet_rename, &u, err);
}

/* ---- VAE -------------------------------------------------------------- */

typedef struct vae_layout {
    const mend_tf *f;
    int up_levels; /* decoder up blocks */
} vae_layout;

static mend_status vae_resnet(const char *block, const char *rest, char *out, size_t size)
{
    static const char *const map[][2] = {
        {"norm1", "norm1"}, {"conv1", "conv1"}, {"norm2", "norm2"}, {"conv2", "conv2"}, {"conv_shortcut", "nin_shortcut"}};
    const char *param, *mod = map_module(rest, map, 5, &param);
    return mod ? put(out, size, "%s.%s.%s", block, mod, param) : MEND_E_ARCH;
}

/* Current (to_q ...) and older (query ...) diffusers attention names. */
static mend_status vae_attention(const char *side, const char *rest, char *out, size_t size)
{
    static const char *const map[][2] = {{"group_norm", "norm"}, {"to_q", "q"},       {"to_k", "k"},
                                         {"to_v", "v"},          {"to_out.0", "proj_out"}, {"query", "q"},
                                         {"key", "k"},           {"value", "v"},      {"proj_attn", "proj_out"}};
    const char *param, *mod = map_module(rest, map, 9, &param);
    return mod ? put(out, size, "%s.mid.attn_1.%s.%s", side, mod, param) : MEND_E_ARCH;
}

/* Parts shared by encoder and decoder: conv_in/out, norm_out, mid block. */
static mend_status vae_common(const char *side, const char *rest, char *out, size_t size)
{
    static const char *const map[][2] = {{"conv_in", "conv_in"}, {"conv_out", "conv_out"}, {"conv_norm_out", "norm_out"}};
    const char *param, *mod = map_module(rest, map, 3, &param), *r;
    char blk[64];
    int j;
    if (mod)
        return put(out, size, "%s.%s.%s", side, mod, param);
    if ((r = match(rest, "mid_block.resnets.%d.%n", 1, &j, NULL)) && j < 2) {
        snprintf(blk, sizeof blk, "%s.mid.block_%d", side, j + 1);
        return vae_resnet(blk, r, out, size);
    }
    if ((r = match(rest, "mid_block.attentions.0.%n", 0, NULL, NULL)))
        return vae_attention(side, r, out, size);
    return MEND_E_ARCH;
}

static mend_status vae_map(const vae_layout *v, const char *name, char *out, size_t size)
{
    static const char *const top[][2] = {{"quant_conv", "quant_conv"}, {"post_quant_conv", "post_quant_conv"}};
    const char *param, *r;
    char blk[64];
    int i, j;
    if (map_module(name, top, 2, &param))
        return put(out, size, "%s", name);
    if ((r = match(name, "encoder.down_blocks.%d.resnets.%d.%n", 2, &i, &j))) {
        snprintf(blk, sizeof blk, "encoder.down.%d.block.%d", i, j);
        return vae_resnet(blk, r, out, size);
    }
    if ((r = match(name, "encoder.down_blocks.%d.downsamplers.0.conv.%n", 1, &i, NULL)) && is_param(r))
        return put(out, size, "encoder.down.%d.downsample.conv.%s", i, r);
    if ((r = match(name, "decoder.up_blocks.%d.resnets.%d.%n", 2, &i, &j)) && i < v->up_levels) {
        snprintf(blk, sizeof blk, "decoder.up.%d.block.%d", v->up_levels - 1 - i, j);
        return vae_resnet(blk, r, out, size);
    }
    if ((r = match(name, "decoder.up_blocks.%d.upsamplers.0.conv.%n", 1, &i, NULL)) && i < v->up_levels &&
        is_param(r))
        return put(out, size, "decoder.up.%d.upsample.conv.%s", v->up_levels - 1 - i, r);
    if ((r = match(name, "encoder.%n", 0, NULL, NULL)))
        return vae_common("encoder", r, out, size);
    if ((r = match(name, "decoder.%n", 0, NULL, NULL)))
        return vae_common("decoder", r, out, size);
    return MEND_E_ARCH;
}

static mend_status vae_rename(void *ctx, const char *name, char *out, size_t size, mend_err *err)
{
    const vae_layout *v = ctx;
    return vae_map(v, name, out, size) == MEND_OK ? MEND_OK : unknown(v->f, "VAE", name, err);
}

mend_status mend_diffusers_rename_vae(mend_tf *f, mend_err *err)
{
    vae_layout v = {.f = f};
    for (int k = 0; k < f->count; k++) {
        int i;
        if (match(f->tensors[k].name, "decoder.up_blocks.%d.%n", 1, &i, NULL) && i + 1 > v.up_levels)
            v.up_levels = i + 1;
    }
    return mend_tf_rename(f, vae_rename, &v, err);
}
