/* `mend-dev make-lora`: a random kohya-ss LoRA (lora_down / lora_up / alpha,
 * LoCon for convolutions) for every linear and convolution of a model's
 * UNet (and text encoder unless --unet-only), shaped like an LCM-LoRA, for
 * benchmarks: a whole LoRA job on the random full-size model. */
#include "cli/cli.h"
#include "dev.h"

#include "io/st_writer.h"
#include "model/lora.h"
#include "model/sd_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *make_lora_usage =
    "usage: mend-dev make-lora --model MODEL [--vocab PATH] [--rank 64] [--seed N] [--unet-only] OUT.safetensors\n"
    "  random fp16 kohya LoRA for every linear/conv layer of MODEL (rank capped by the layer's sizes; alpha 8)";

typedef struct lora_gen {
    mend_st_writer *w;
    int rank;
    uint64_t state;
} lora_gen;

/* Small uniform values in [-0.01, 0.01) (xorshift64*). */
static float next_small(lora_gen *g)
{
    g->state ^= g->state >> 12, g->state ^= g->state << 25, g->state ^= g->state >> 27;
    uint64_t r = g->state * 2685821657736338717ull;
    return (float)((double)(r >> 11) / 9007199254740992.0 * 0.02 - 0.01);
}

static mend_status add_random(lora_gen *g, const char *name, int ndim, const int64_t *shape, mend_err *err)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    float *v = malloc((size_t)n * sizeof *v);
    if (!v)
        return mend_fail(err, MEND_E_NOMEM, "make-lora: out of memory");
    for (int64_t i = 0; i < n; i++)
        v[i] = next_small(g);
    mend_status st = mend_st_writer_add_f32_as(g->w, name, MEND_DT_F16, ndim, shape, v, err);
    free(v);
    return st;
}

/* One module: down [r, in(, kh, kw)], up [out, r(, 1, 1)], alpha. */
static mend_status add_module(lora_gen *g, const char *module, const mend_wname *n, mend_err *err)
{
    int64_t in = n->ndim > 1 ? n->shape[1] : 1, r = g->rank < n->shape[0] ? g->rank : n->shape[0];
    r = r < in ? r : in;
    int64_t down[4] = {r, in, n->shape[2], n->shape[3]}, up[4] = {n->shape[0], r, 1, 1};
    char name[MEND_TF_NAME_MAX + 32];
    snprintf(name, sizeof name, "%s.lora_down.weight", module);
    MEND_TRY(add_random(g, name, n->ndim, down, err));
    snprintf(name, sizeof name, "%s.lora_up.weight", module);
    MEND_TRY(add_random(g, name, n->ndim, up, err));
    snprintf(name, sizeof name, "%s.alpha", module);
    const float alpha = 8.0f;
    return mend_st_writer_add_f32_as(g->w, name, MEND_DT_F16, 0, NULL, &alpha, err);
}

/* Every matrix of store: checkpoint key -> A1111 layer -> kohya module name
 * (prefix `from` of the layer name replaced by `to`). */
static mend_status add_store(lora_gen *g, const mend_wstore *s, const char *key_prefix, const char *from,
                             const char *to, mend_err *err)
{
    for (int i = 0; i < s->nmats; i++) {
        char key[MEND_TF_NAME_MAX], layer[MEND_LORA_NAME_MAX], module[MEND_LORA_NAME_MAX + 16];
        mend_err e = {0};
        snprintf(key, sizeof key, "%s%s", key_prefix, s->names[i].name);
        if (mend_lora_layer_of_key(key, layer, sizeof layer, &e) != MEND_OK || strncmp(layer, from, strlen(from)))
            continue;
        snprintf(module, sizeof module, "%s%s", to, layer + strlen(from));
        MEND_TRY(add_module(g, module, &s->names[i], err));
    }
    return MEND_OK;
}

int cmd_make_lora(int argc, char **argv)
{
    cli_opt opts[] = {{"model", 1, NULL}, {"vocab", 1, NULL}, {"rank", 1, NULL},
                      {"seed", 1, NULL},  {"unet-only", 0, NULL}, {"help", 0, NULL}};
    int nopts = (int)(sizeof opts / sizeof *opts), npos, rank, seed;
    const char *pos[1];
    if (cli_parse(argc, argv, opts, nopts, pos, 1, &npos) != 0)
        return 2;
    if (cli_get(opts, nopts, "help"))
        return puts(make_lora_usage), 0;
    if (!cli_get_int(opts, nopts, "rank", 64, 1, 4096, &rank) || !cli_get_int(opts, nopts, "seed", 1, 0, 1 << 30, &seed))
        return 2;
    if (!cli_get(opts, nopts, "model") || npos != 1)
        return cli_errorf("make-lora: --model and the output path are required\n%s", make_lora_usage) + 1;
    int unet_only = cli_get(opts, nopts, "unet-only") != NULL;
    mend_err err = {0};
    mend_sd_model *m = NULL;
    unsigned parts = MEND_COMP_UNET | (unet_only ? 0 : MEND_COMP_CLIP);
    if (mend_sd_load(cli_get(opts, nopts, "model"), cli_get(opts, nopts, "vocab"), parts, &m, &err) != MEND_OK)
        return cli_error(&err);
    lora_gen g = {mend_st_writer_new(), rank, 0x9e3779b97f4a7c15ull ^ (uint64_t)seed};
    mend_status st = g.w ? MEND_OK : mend_fail(&err, MEND_E_NOMEM, "make-lora: out of memory");
    if (st == MEND_OK)
        st = add_store(&g, mend_unet_weights(m->unet), "model.diffusion_model.", "diffusion_model_", "lora_unet_", &err);
    if (st == MEND_OK && !unet_only)
        st = add_store(&g, mend_clip_weights(m->clip), "cond_stage_model.transformer.", "transformer_", "lora_te_", &err);
    if (st == MEND_OK)
        st = mend_st_writer_write(g.w, pos[0], &err);
    mend_st_writer_free(g.w);
    mend_sd_free(m);
    return st == MEND_OK ? 0 : cli_error(&err);
}
