#include "model/sd_model.h"
#include "core/fs.h"
#include "model/embeddings.h"

#include "model/diffusers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* First existing file among dir/sub/names[i]. */
static int find_in(const char *dir, const char *sub, const char *const *names, char *out, size_t size)
{
    for (int i = 0; names[i]; i++) {
        snprintf(out, size, "%s/%s/%s", dir, sub, names[i]);
        if (mend_is_file(out))
            return 1;
    }
    return 0;
}

static mend_status open_diffusers_part(const char *dir, const char *sub, mend_tf **f, mend_err *err)
{
    static const char *const weights[] = {"diffusion_pytorch_model.safetensors",
                                          "diffusion_pytorch_model.fp16.safetensors", "model.safetensors",
                                          "model.fp16.safetensors", NULL};
    char path[4096];
    if (!find_in(dir, sub, weights, path, sizeof path))
        return mend_fail(err, MEND_E_IO, "%s: diffusers folder has no %s/diffusion_pytorch_model.safetensors or "
                                         "%s/model.safetensors", dir, sub, sub);
    return mend_tf_open(path, f, err);
}

static mend_status resolve_vocab(mend_sd_model *m, const char *vocab, mend_err *err)
{
    char path[4096];
    if (m->diffusers) {
        snprintf(path, sizeof path, "%s/tokenizer/vocab.json", m->path);
        if (mend_is_file(path))
            vocab = path;
    } else if (!vocab) {
        /* a tokenizer/ folder beside a single-file checkpoint also counts */
        const char *slash = strrchr(m->path, '/');
        int dl = slash ? (int)(slash - m->path) : 1;
        snprintf(path, sizeof path, "%.*s/tokenizer/vocab.json", dl, slash ? m->path : ".");
        if (mend_is_file(path))
            vocab = path;
    }
    if (!vocab)
        return mend_fail(err, MEND_E_ARG,
                         "%s: no CLIP vocabulary found; pass --vocab PATH (bpe_simple_vocab_16e6.txt.gz, or "
                         "vocab.json with merges.txt beside it), or put a tokenizer/ folder beside the model",
                         m->path);
    if (!(m->vocab_path = strdup(vocab)))
        return mend_fail(err, MEND_E_NOMEM, "out of memory");
    return mend_tokenizer_load(vocab, &m->tokenizer, err);
}

/* Checkpoints saved with transformers < 4.18 (e.g. some SD 1.x fine-tunes)
 * lack the "text_model." level in the text encoder's names; A1111 accepts
 * both. Insert it so the CLIP loader sees one layout. */
static mend_status add_text_model_level(void *ctx, const char *name, char *out, size_t size, mend_err *err)
{
    static const char prefix[] = "cond_stage_model.transformer.";
    size_t n = sizeof prefix - 1;
    if (strncmp(name, prefix, n) == 0 && strncmp(name + n, "text_model.", 11) != 0)
        snprintf(out, size, "%stext_model.%s", prefix, name + n);
    else
        snprintf(out, size, "%s", name);
    return MEND_OK;
}

static mend_status open_files(mend_sd_model *m, unsigned comps, mend_err *err)
{
    if (!m->diffusers) {
        MEND_TRY(mend_tf_open(m->path, &m->unet_file, err));
        if (!mend_tf_find(m->unet_file, "cond_stage_model.transformer.text_model.final_layer_norm.weight") &&
            mend_tf_find(m->unet_file, "cond_stage_model.transformer.final_layer_norm.weight"))
            MEND_TRY(mend_tf_rename(m->unet_file, add_text_model_level, NULL, err));
        m->te_file = m->vae_file = m->unet_file;
        m->unet_prefix = "model.diffusion_model.";
        m->vae_prefix = "first_stage_model.";
        m->te_prefix = "cond_stage_model.transformer.";
        return MEND_OK;
    }
    m->unet_prefix = m->vae_prefix = m->te_prefix = "";
    if (comps & MEND_COMP_UNET) {
        MEND_TRY(open_diffusers_part(m->path, "unet", &m->unet_file, err));
        MEND_TRY(mend_diffusers_rename_unet(m->unet_file, err));
    }
    if (comps & MEND_COMP_VAE) {
        MEND_TRY(open_diffusers_part(m->path, "vae", &m->vae_file, err));
        MEND_TRY(mend_diffusers_rename_vae(m->vae_file, err));
    }
    if (comps & MEND_COMP_CLIP)
        MEND_TRY(open_diffusers_part(m->path, "text_encoder", &m->te_file, err));
    return MEND_OK;
}

static mend_status load_components(mend_sd_model *m, const char *vocab, unsigned comps, mend_err *err)
{
    MEND_TRY(open_files(m, comps, err));
    if (comps & MEND_COMP_TOKENIZER)
        MEND_TRY(resolve_vocab(m, vocab, err));
    if (comps & MEND_COMP_CLIP) {
        mend_wload l = {.file = m->te_file, .prefix = m->te_prefix};
        MEND_TRY(mend_clip_load(&l, &m->clip, err));
    }
    if (comps & MEND_COMP_UNET) {
        mend_wload l = {.file = m->unet_file, .prefix = m->unet_prefix};
        MEND_TRY(mend_unet_load(&l, &m->unet, err));
    }
    if (comps & MEND_COMP_VAE) {
        mend_wload l = {.file = m->vae_file, .prefix = m->vae_prefix};
        MEND_TRY(mend_vae_load(&l, &m->vae, err));
    }
    return MEND_OK;
}

mend_status mend_sd_load(const char *path, const char *vocab, unsigned components, mend_sd_model **out,
                         mend_err *err)
{
    *out = NULL;
    mend_sd_model *m = calloc(1, sizeof *m);
    if (!m || !(m->path = strdup(path))) {
        free(m);
        return mend_fail(err, MEND_E_NOMEM, "out of memory");
    }
    m->diffusers = mend_is_dir(path);
    mend_status s = load_components(m, vocab, components, err);
    const char *env = getenv("MEND_PRECISION");
    mend_sd_prec p = MEND_SD_PREC_FP32;
    if (s == MEND_OK && env && *env && !mend_sd_prec_parse(env, &p))
        s = mend_fail(err, MEND_E_ARG, "MEND_PRECISION='%s': expected fp32, bf16 or auto", env);
    if (s == MEND_OK && p != MEND_SD_PREC_FP32)
        s = mend_sd_set_precision(m, p, NULL, err);
    return MEND_HAND_OVER(s, m, out, mend_sd_free);
}

void mend_sd_free(mend_sd_model *m)
{
    if (!m)
        return;
    mend_clip_free(m->clip);
    mend_unet_free(m->unet);
    mend_vae_free(m->vae);
    mend_vae_free(m->ext_vae);
    free(m->ext_vae_path);
    mend_tokenizer_free(m->tokenizer);
    if (m->vae_file != m->unet_file)
        mend_tf_close(m->vae_file);
    if (m->te_file != m->unet_file)
        mend_tf_close(m->te_file);
    mend_tf_close(m->unet_file);
    free(m->vocab_path);
    free(m->path);
    free(m);
}

mend_status mend_model_load(const char *path, const char *vocab, mend_sd_model **out, mend_err *err)
{
    MEND_TRY(mend_sd_load(path, vocab, MEND_COMP_ALL, out, err));
    /* A1111 loads the embeddings for the model it loads: listings use its width */
    mend_ti_set_default_width(mend_clip_get_arch((*out)->clip)->width);
    return MEND_OK;
}

void mend_model_free(mend_sd_model *m)
{
    mend_sd_free(m);
}

int mend_sd_prec_parse(const char *s, mend_sd_prec *out)
{
    static const struct {
        const char *name;
        mend_sd_prec p;
    } names[] = {{"auto", MEND_SD_PREC_AUTO}, {"fp32", MEND_SD_PREC_FP32}, {"bf16", MEND_SD_PREC_BF16}};
    for (size_t i = 0; s && i < sizeof names / sizeof *names; i++)
        if (strcasecmp(s, names[i].name) == 0) {
            *out = names[i].p;
            return 1;
        }
    return 0;
}

mend_status mend_sd_set_precision(mend_sd_model *m, mend_sd_prec p, const char **chosen, mend_err *err)
{
    const char *missing = NULL;
    int has = mend_cpu_has_bf16(&missing);
    if (p == MEND_SD_PREC_BF16 && !has)
        return mend_fail(err, MEND_E_ARG, "precision bf16: this CPU lacks %s; use --precision fp32 or auto",
                         missing);
    mend_kprec k = p == MEND_SD_PREC_FP32 || (p == MEND_SD_PREC_AUTO && !has) ? MEND_KPREC_FP32 : MEND_KPREC_BF16;
    if (m->clip)
        MEND_TRY(mend_clip_set_prec(m->clip, k, err));
    if (m->unet)
        MEND_TRY(mend_unet_set_prec(m->unet, k, err));
    if (m->vae)
        MEND_TRY(mend_vae_set_prec(m->vae, k, err));
    if (m->ext_vae)
        MEND_TRY(mend_vae_set_prec(m->ext_vae, k, err));
    if (chosen)
        *chosen = k == MEND_KPREC_BF16 ? "bf16" : "fp32";
    return MEND_OK;
}
