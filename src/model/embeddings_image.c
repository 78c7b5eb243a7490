/* Embeddings kept in PNG images, as A1111 1.10.1's load_from_file reads
 * them (textual_inversion/image_embedding.py): the text chunk
 * "sd-ti-embedding" holds the base64 of the JSON of an embedding dict
 * whose tensors are {"TORCHTENSOR": nested lists}; the embedding is named
 * by its "name" (else the file stem). A PNG without that chunk is taken as
 * a preview and ignored (A1111 also looks for data hidden in the pixels,
 * which mend does not read). */
#include "model/embeddings.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "core/sha256.h"
#include "mend/png_text.h"

static int b64_digit(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* base64.b64decode without validation: other characters are skipped; NULL
 * when out of memory. */
static char *b64_decode(const char *s)
{
    char *out = malloc(strlen(s) / 4 * 3 + 4);
    size_t n = 0;
    unsigned acc = 0;
    int bits = 0;
    for (; out && *s && *s != '='; s++) {
        int d = b64_digit((unsigned char)*s);
        if (d < 0)
            continue;
        acc = (acc << 6) | (unsigned)d;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (char)((acc >> bits) & 0xFF);
        }
    }
    if (out)
        out[n] = '\0';
    return out;
}

/* A TORCHTENSOR of [width] or [vectors, width] numbers into e. */
static mend_status read_tensor(const cJSON *t, const char *path, mend_ti_embedding *e, mend_err *err)
{
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(t, "TORCHTENSOR");
    const cJSON *first = cJSON_GetArrayItem(rows, 0);
    int two_d = cJSON_IsArray(first);
    e->vectors = two_d ? cJSON_GetArraySize(rows) : 1;
    e->shape = two_d ? cJSON_GetArraySize(first) : cJSON_GetArraySize(rows);
    if (!cJSON_IsArray(rows) || e->vectors < 1 || e->shape < 1 || e->vectors > MEND_TI_MAX_VECTORS)
        return mend_fail(err, MEND_E_FORMAT, "%s: sd-ti-embedding: string_to_param holds no [vectors, width] "
                         "tensor of at most %d vectors", path, MEND_TI_MAX_VECTORS);
    if (!(e->vec = malloc((size_t)e->vectors * (size_t)e->shape * sizeof *e->vec)))
        return mend_fail(err, MEND_E_NOMEM, "%s: out of memory", path);
    for (int r = 0; r < e->vectors; r++) {
        const cJSON *row = two_d ? cJSON_GetArrayItem(rows, r) : rows, *v = row ? row->child : NULL;
        for (int k = 0; k < e->shape; k++, v = v ? v->next : NULL) {
            if (!cJSON_IsNumber(v) || (two_d && cJSON_GetArraySize(row) != e->shape))
                return mend_fail(err, MEND_E_FORMAT, "%s: sd-ti-embedding: row %d is not %d numbers", path, r,
                                 e->shape);
            e->vec[(size_t)r * e->shape + k] = (float)v->valuedouble;
        }
    }
    return MEND_OK;
}

static mend_status read_data(const cJSON *d, const char *path, const char *stem, mend_ti_embedding *e,
                             mend_err *err)
{
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(d, "string_to_param");
    if (!cJSON_IsObject(d) || !cJSON_IsObject(params) || cJSON_GetArraySize(params) != 1)
        return mend_fail(err, MEND_E_FORMAT, "%s: sd-ti-embedding is not an embedding with one term", path);
    MEND_TRY(read_tensor(params->child, path, e, err));
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(d, "name");
    const cJSON *step = cJSON_GetObjectItemCaseSensitive(d, "step");
    const cJSON *ck = cJSON_GetObjectItemCaseSensitive(d, "sd_checkpoint");
    const cJSON *ckn = cJSON_GetObjectItemCaseSensitive(d, "sd_checkpoint_name");
    e->name = strdup(cJSON_IsString(name) ? name->valuestring : stem);
    e->path = strdup(path);
    e->has_step = cJSON_IsNumber(step);
    e->step = e->has_step ? (int64_t)step->valuedouble : 0;
    e->sd_checkpoint = cJSON_IsString(ck) ? strdup(ck->valuestring) : NULL;
    e->sd_checkpoint_name = cJSON_IsString(ckn) ? strdup(ckn->valuestring) : NULL;
    if (!e->name || !e->path || (cJSON_IsString(ck) && !e->sd_checkpoint) ||
        (cJSON_IsString(ckn) && !e->sd_checkpoint_name))
        return mend_fail(err, MEND_E_NOMEM, "%s: out of memory", path);
    return mend_sha256_file(path, e->hash, err);
}

mend_status mend_ti_read_image(const char *path, const char *stem, mend_ti_embedding *e, int *found, mend_err *err)
{
    memset(e, 0, sizeof *e);
    *found = 0;
    mend_png_text_list texts = {0};
    MEND_TRY(mend_png_text_read_file(path, MEND_PNG_CRC_IGNORE, &texts, err));
    const char *b64 = mend_png_text_get(&texts, "sd-ti-embedding");
    char *json = b64 ? b64_decode(b64) : NULL;
    cJSON *d = json ? cJSON_Parse(json) : NULL;
    mend_status s = MEND_OK;
    if (b64 && !json)
        s = mend_fail(err, MEND_E_NOMEM, "%s: out of memory", path);
    else if (b64 && !d)
        s = mend_fail(err, MEND_E_FORMAT, "%s: sd-ti-embedding is not base64 of JSON", path);
    else if (b64)
        s = read_data(d, path, stem, e, err);
    *found = b64 != NULL;
    cJSON_Delete(d);
    free(json);
    mend_png_text_list_free(&texts);
    if (s != MEND_OK) {
        mend_ti_embedding_free(e);
        return s;
    }
    if (*found) {
        memcpy(e->shorthash, e->hash, 12);
        e->shorthash[12] = '\0';
    }
    return MEND_OK;
}
