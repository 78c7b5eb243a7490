/* One textual-inversion file, read as A1111 1.10.1's
 * EmbeddingDatabase.load_from_file / create_embedding_from_data does:
 * torch.load for .pt and .bin (here the inert torch.save reader of
 * io/torchzip.c, which names an A1111 file's nested tensor
 * "string_to_param.*" and gives its top-level values as metadata),
 * safetensors for .safetensors; the vectors become float32. */
#include "model/embeddings.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/sha256.h"
#include "io/tensorfile.h"

static int has_ext(const char *name, const char *ext)
{
    size_t n = strlen(name), k = strlen(ext);
    return n > k && strcasecmp(name + n - k, ext) == 0;
}

static int is_torch_file(const char *name) { return has_ext(name, ".pt") || has_ext(name, ".bin"); }

int mend_ti_is_embedding_file(const char *filename)
{
    return is_torch_file(filename) || has_ext(filename, ".safetensors");
}

int mend_ti_is_embedding_image(const char *filename)
{
    return has_ext(filename, ".png") && !has_ext(filename, ".preview.png");
}

void mend_ti_embedding_free(mend_ti_embedding *e)
{
    if (!e)
        return;
    free(e->name);
    free(e->path);
    free(e->vec);
    free(e->sd_checkpoint);
    free(e->sd_checkpoint_name);
    memset(e, 0, sizeof *e);
}

/* data.get('step'), data.get('sd_checkpoint'), ...: only an A1111 file's
 * top level has them (a diffusers or safetensors dict holds tensors only). */
static mend_status read_fields(const mend_tf *f, mend_ti_embedding *e, mend_err *err)
{
    cJSON *m = f->metadata_json ? cJSON_Parse(f->metadata_json) : NULL;
    const cJSON *step = cJSON_GetObjectItemCaseSensitive(m, "step");
    const cJSON *ck = cJSON_GetObjectItemCaseSensitive(m, "sd_checkpoint");
    const cJSON *ckn = cJSON_GetObjectItemCaseSensitive(m, "sd_checkpoint_name");
    e->has_step = cJSON_IsNumber(step);
    e->step = e->has_step ? (int64_t)step->valuedouble : 0;
    e->sd_checkpoint = cJSON_IsString(ck) ? strdup(ck->valuestring) : NULL;
    e->sd_checkpoint_name = cJSON_IsString(ckn) ? strdup(ckn->valuestring) : NULL;
    int oom = (cJSON_IsString(ck) && !e->sd_checkpoint) || (cJSON_IsString(ckn) && !e->sd_checkpoint_name);
    cJSON_Delete(m);
    return oom ? mend_fail(err, MEND_E_NOMEM, "%s: out of memory", f->path) : MEND_OK;
}

/* The tensor holding the vectors: string_to_param's single term, else the
 * single tensor of a diffusers / safetensors dict. */
static mend_status pick_tensor(const mend_tf *f, const mend_tf_tensor **out, mend_err *err)
{
    static const char prefix[] = "string_to_param.";
    int terms = 0;
    for (int i = 0; i < f->count; i++)
        if (strncmp(f->tensors[i].name, prefix, sizeof prefix - 1) == 0) {
            *out = &f->tensors[i];
            terms++;
        }
    if (terms == 0 && f->count == 1) {
        *out = &f->tensors[0];
        terms = 1;
    } else if (terms == 0) {
        terms = f->count;
    }
    if (terms != 1) /* A1111's assertion message */
        return mend_fail(err, MEND_E_FORMAT, "%s: embedding file has multiple terms in it (%d tensors)", f->path,
                         terms);
    return MEND_OK;
}

/* vectors x width of a [width] or [vectors, width] floating tensor. */
static mend_status vector_layout(const mend_tf *f, const mend_tf_tensor *t, mend_ti_embedding *e, mend_err *err)
{
    if (!mend_dtype_is_float(t->dtype))
        return mend_fail(err, MEND_E_FORMAT, "%s: tensor '%s' is %s; embedding vectors are floating point", f->path,
                         t->name, mend_dtype_name(t->dtype));
    if (t->ndim < 1 || t->ndim > 2 || t->shape[t->ndim - 1] < 1 || (t->ndim == 2 && t->shape[0] < 1))
        return mend_fail(err, MEND_E_FORMAT, "%s: tensor '%s' has %d dimensions; an embedding is [width] or "
                         "[vectors, width]", f->path, t->name, t->ndim);
    e->vectors = t->ndim == 2 ? (int)t->shape[0] : 1;
    e->shape = (int)t->shape[t->ndim - 1];
    if (e->vectors > MEND_TI_MAX_VECTORS || t->shape[t->ndim - 1] > (1 << 20))
        return mend_fail(err, MEND_E_FORMAT, "%s: %lld vectors of width %lld: more than a 75-token chunk holds",
                         f->path, (long long)(t->ndim == 2 ? t->shape[0] : 1), (long long)t->shape[t->ndim - 1]);
    return MEND_OK;
}

/* An SDXL pair {"clip_g": [n, 1280], "clip_l": [n, 768]}: A1111's shape is
 * the sum of the widths; listed (skipped for SD 1.x), never read. */
static int sdxl_pair(const mend_tf *f, mend_ti_embedding *e)
{
    const mend_tf_tensor *g = mend_tf_find(f, "clip_g"), *l = mend_tf_find(f, "clip_l");
    if (!g || !l || g->ndim != 2 || l->ndim != 2)
        return 0;
    e->vectors = (int)g->shape[0];
    e->shape = (int)(g->shape[1] + l->shape[1]);
    return 1;
}

static mend_status read_vectors(const mend_tf *f, mend_ti_embedding *e, mend_err *err)
{
    if (sdxl_pair(f, e))
        return MEND_OK;
    const mend_tf_tensor *t = NULL;
    MEND_TRY(pick_tensor(f, &t, err));
    MEND_TRY(vector_layout(f, t, e, err));
    e->vec = malloc((size_t)e->vectors * (size_t)e->shape * sizeof *e->vec);
    if (!e->vec)
        return mend_fail(err, MEND_E_NOMEM, "%s: out of memory for %d vectors", f->path, e->vectors);
    return mend_tf_read_f32(f, t, e->vec, err);
}

mend_status mend_ti_read_file(const char *path, const char *name, mend_ti_embedding *e, mend_err *err)
{
    memset(e, 0, sizeof *e);
    mend_tf *f = NULL;
    mend_status s = is_torch_file(path) ? mend_torchzip_open(path, &f, err) : mend_safetensors_open(path, &f, err);
    if (s == MEND_OK && !(e->name = strdup(name)))
        s = mend_fail(err, MEND_E_NOMEM, "%s: out of memory", path);
    if (s == MEND_OK && !(e->path = strdup(path)))
        s = mend_fail(err, MEND_E_NOMEM, "%s: out of memory", path);
    if (s == MEND_OK && is_torch_file(path))
        s = read_fields(f, e, err);
    if (s == MEND_OK)
        s = read_vectors(f, e, err);
    mend_tf_close(f);
    if (s == MEND_OK)
        s = mend_sha256_file(path, e->hash, err);
    if (s != MEND_OK) {
        mend_ti_embedding_free(e);
        return s;
    }
    memcpy(e->shorthash, e->hash, 12);
    e->shorthash[12] = '\0';
    return MEND_OK;
}
