/* include/mend/model.h: the public view of a loaded model (parts, arch,
 * dtypes, hash, name), read from the internal mend_sd_model. */
#include "mend/model.h"

#include "model/model_hash.h"
#include "model/sd_model.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

mend_status mend_model_load_parts(const char *path, const char *vocab, unsigned parts, mend_sd_model **out,
                                  mend_err *err)
{
    /* MEND_PART_* and MEND_COMP_* are the same bits: keep them so. */
    _Static_assert((int)MEND_PART_TOKENIZER == (int)MEND_COMP_TOKENIZER &&
                       (int)MEND_PART_TEXT_ENCODER == (int)MEND_COMP_CLIP && (int)MEND_PART_UNET == (int)MEND_COMP_UNET &&
                       (int)MEND_PART_VAE == (int)MEND_COMP_VAE,
                   "public part bits follow the loader's");
    if (!parts || (parts & ~(unsigned)MEND_PART_ALL))
        return mend_fail(err, MEND_E_ARG, "%s: parts 0x%x: expected a set of MEND_PART_* bits", path, parts);
    return mend_sd_load(path, vocab, parts, out, err);
}

mend_status mend_model_probe(const char *path, mend_err *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return mend_fail(err, MEND_E_IO, "%s: cannot access the checkpoint", path);
    if (S_ISDIR(st.st_mode)) {
        char unet[4096];
        snprintf(unet, sizeof unet, "%s/unet", path);
        if (stat(unet, &st) != 0 || !S_ISDIR(st.st_mode))
            return mend_fail(err, MEND_E_FORMAT, "%s: a folder without unet/ is not a diffusers checkpoint", path);
        return MEND_OK;
    }
    mend_tf *f = NULL;
    MEND_TRY(mend_tf_open(path, &f, err));
    mend_tf_close(f);
    return MEND_OK;
}

const char *mend_info_dtype_name(int index)
{
    return index >= 0 && index < MEND_INFO_DTYPES && index <= MEND_DT_BOOL ? mend_dtype_name((mend_dtype)index)
                                                                             : NULL;
}

static void count_dtypes(const mend_tf *f, const char *prefix, int *n)
{
    size_t pl = strlen(prefix);
    for (int i = 0; f && i < f->count; i++)
        if (!strncmp(f->tensors[i].name, prefix, pl) && (unsigned)f->tensors[i].dtype < MEND_INFO_DTYPES)
            n[f->tensors[i].dtype]++;
}

static void part(mend_part_info *p, const void *loaded, const mend_tf *f, const char *prefix, int64_t params)
{
    memset(p, 0, sizeof *p);
    p->loaded = loaded != NULL;
    if (!loaded)
        return;
    p->file = f->path;
    p->params = params;
    count_dtypes(f, prefix, p->dtypes);
}

static void files(const mend_sd_model *m, mend_model_info *o)
{
    const mend_tf *fs[3] = {m->unet_file, m->vae_file, m->te_file};
    for (int i = 0; i < 3; i++) {
        int seen = 0;
        for (int k = 0; k < i; k++)
            seen |= fs[k] == fs[i];
        if (!fs[i] || seen)
            continue;
        o->files[o->nfiles].path = fs[i]->path;
        o->files[o->nfiles++].tensors = fs[i]->count;
        count_dtypes(fs[i], "", o->dtypes);
    }
}

/* Weight dtype: the most common of the float dtypes (buffers such as
 * position_ids are integers and do not count). */
static const char *main_dtype(const int *n)
{
    int best = -1;
    for (int d = 0; d <= MEND_DT_F64; d++)
        if (n[d] && (best < 0 || n[d] > n[best]))
            best = d;
    return best < 0 ? "" : mend_dtype_name((mend_dtype)best);
}

static void unet_arch(const mend_unet *u, mend_model_info *o)
{
    const mend_unet_arch *a = mend_unet_get_arch(u);
    o->unet_arch.in_channels = a->in_channels;
    o->unet_arch.out_channels = a->out_channels;
    o->unet_arch.model_channels = a->model_channels;
    o->unet_arch.levels = a->levels;
    for (int i = 0; i < a->levels && i < MEND_INFO_MAX_LEVELS; i++) {
        o->unet_arch.mult[i] = a->mult[i];
        o->unet_arch.attn[i] = a->attn[i];
    }
    o->unet_arch.num_res_blocks = a->num_res_blocks;
    o->unet_arch.num_heads = a->num_heads;
    o->unet_arch.context_dim = a->context_dim;
    o->unet_arch.transformer_depth = a->transformer_depth;
    o->unet_arch.linear_proj = a->linear_proj;
    o->arch = a->in_channels == 9 ? "sd1-inpaint" : "sd1";
}

static void vae_arch(const mend_vae *v, mend_model_info *o)
{
    const mend_vae_arch *a = mend_vae_get_arch(v);
    o->vae_arch.ch = a->ch;
    o->vae_arch.levels = a->levels;
    for (int i = 0; i < a->levels && i < MEND_INFO_MAX_LEVELS; i++)
        o->vae_arch.mult[i] = a->mult[i];
    o->vae_arch.num_res_blocks = a->num_res_blocks;
    o->vae_arch.z_channels = a->z_channels;
    o->vae_arch.in_channels = a->in_channels;
    o->vae_arch.has_encoder = a->has_encoder;
    o->vae_arch.has_decoder = a->has_decoder;
}

static void clip_arch(const mend_clip *c, mend_model_info *o)
{
    const mend_clip_arch *a = mend_clip_get_arch(c);
    o->clip_arch.width = a->width;
    o->clip_arch.layers = a->layers;
    o->clip_arch.heads = a->heads;
    o->clip_arch.mlp = a->mlp;
    o->clip_arch.vocab = a->vocab;
    o->clip_arch.max_pos = a->max_pos;
}

void mend_model_get_info(const mend_sd_model *m, mend_model_info *o)
{
    memset(o, 0, sizeof *o);
    o->path = m->path;
    o->diffusers = m->diffusers;
    o->arch = "";
    files(m, o);
    o->dtype = main_dtype(o->dtypes);
    part(&o->unet, m->unet, m->unet_file, m->unet_prefix, m->unet ? mend_unet_params(m->unet) : 0);
    part(&o->vae, m->vae, m->vae_file, m->vae_prefix, m->vae ? mend_vae_params(m->vae) : 0);
    part(&o->text_encoder, m->clip, m->te_file, m->te_prefix, m->clip ? mend_clip_params(m->clip) : 0);
    if (m->unet)
        unet_arch(m->unet, o);
    if (m->vae)
        vae_arch(m->vae, o);
    if (m->clip)
        clip_arch(m->clip, o);
    if (m->tokenizer) {
        o->vocab_path = m->vocab_path;
        o->vocab_size = mend_tokenizer_vocab_size(m->tokenizer);
    }
}

int mend_model_is_inpainting(const mend_sd_model *m)
{
    return m->unet && mend_unet_get_arch(m->unet)->in_channels == 9;
}

mend_status mend_model_short_hash(mend_sd_model *m, char out[11], mend_err *err)
{
    out[0] = '\0';
    if (m->diffusers || !m->path)
        return MEND_OK;
    if (!m->model_hash[0]) {
        char hex[65];
        MEND_TRY(mend_model_hash(m->path, hex, err));
        memcpy(m->model_hash, hex, 10);
        m->model_hash[10] = '\0';
        m->model_hash_tried = 1;
    }
    memcpy(out, m->model_hash, 11);
    return MEND_OK;
}

char *mend_model_title(const char *path)
{
    size_t end = strlen(path);
    while (end > 1 && path[end - 1] == '/')
        end--;
    size_t start = end;
    while (start > 0 && path[start - 1] != '/')
        start--;
    return strndup(path + start, end - start);
}

/* The one model-name rule (infotext "Model", the API's sd_model_name): the
 * title without a checkpoint extension (a diffusers folder keeps its whole
 * name). */
char *mend_model_name(const char *path)
{
    char *name = mend_model_title(path);
    static const char *const exts[] = {".safetensors", ".ckpt", ".pth", ".pt", ".bin"};
    size_t n = name ? strlen(name) : 0;
    for (size_t i = 0; name && i < sizeof exts / sizeof *exts; i++) {
        size_t k = strlen(exts[i]);
        if (n > k && !strcmp(name + n - k, exts[i])) {
            name[n - k] = '\0';
            break;
        }
    }
    return name;
}
