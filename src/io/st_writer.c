#include "io/st_writer.h"

#include "core/half.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct entry {
    char *name;
    mend_dtype dt;
    int ndim;
    int64_t shape[MEND_MAX_DIMS];
    const void *data;
    size_t nbytes;
    int owned;
    mend_st_fill_fn fill; /* generated tensors: data is NULL, fill produces it */
    void *fill_ctx;
} entry;

struct mend_st_writer {
    entry *items;
    int count, cap;
    cJSON *meta;
};

mend_st_writer *mend_st_writer_new(void)
{
    return calloc(1, sizeof(mend_st_writer));
}

void mend_st_writer_free(mend_st_writer *w)
{
    if (!w)
        return;
    for (int i = 0; i < w->count; i++) {
        free(w->items[i].name);
        if (w->items[i].owned)
            free((void *)w->items[i].data);
    }
    free(w->items);
    cJSON_Delete(w->meta);
    free(w);
}

mend_status mend_st_writer_add(mend_st_writer *w, const char *name, mend_dtype dt, int ndim, const int64_t *shape,
                               const void *data, int take_ownership, mend_err *err)
{
    if (ndim < 0 || ndim > MEND_MAX_DIMS) {
        if (take_ownership)
            free((void *)data);
        return mend_fail(err, MEND_E_ARG, "tensor '%s': %d dimensions", name, ndim);
    }
    if (w->count == w->cap) {
        int cap = w->cap ? 2 * w->cap : 64;
        entry *items = realloc(w->items, (size_t)cap * sizeof *items);
        if (!items) {
            if (take_ownership)
                free((void *)data);
            return mend_fail(err, MEND_E_NOMEM, "out of memory adding tensor '%s'", name);
        }
        w->items = items;
        w->cap = cap;
    }
    entry *e = &w->items[w->count];
    memset(e, 0, sizeof *e);
    e->name = strdup(name);
    if (!e->name) {
        if (take_ownership)
            free((void *)data);
        return mend_fail(err, MEND_E_NOMEM, "out of memory adding tensor '%s'", name);
    }
    e->dt = dt;
    e->ndim = ndim;
    size_t n = mend_dtype_size(dt);
    for (int i = 0; i < ndim; i++) {
        e->shape[i] = shape[i];
        n *= (size_t)shape[i];
    }
    e->data = data;
    e->nbytes = n;
    e->owned = take_ownership;
    w->count++;
    return MEND_OK;
}

mend_status mend_st_writer_add_f32_as(mend_st_writer *w, const char *name, mend_dtype dt, int ndim,
                                      const int64_t *shape, const float *data, mend_err *err)
{
    size_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= (size_t)shape[i];
    if (dt != MEND_DT_F32 && dt != MEND_DT_F16 && dt != MEND_DT_BF16)
        return mend_fail(err, MEND_E_ARG, "tensor '%s': cannot store floats as %s", name, mend_dtype_name(dt));
    void *buf = malloc(n * mend_dtype_size(dt) + 1);
    if (!buf)
        return mend_fail(err, MEND_E_NOMEM, "out of memory adding tensor '%s'", name);
    if (dt == MEND_DT_F32) {
        memcpy(buf, data, n * 4);
    } else {
        uint16_t *h = buf;
        for (size_t i = 0; i < n; i++)
            h[i] = dt == MEND_DT_F16 ? mend_f32_to_f16(data[i]) : mend_f32_to_bf16(data[i]);
    }
    return mend_st_writer_add(w, name, dt, ndim, shape, buf, 1, err);
}

mend_status mend_st_writer_add_generated(mend_st_writer *w, const char *name, mend_dtype dt, int ndim,
                                         const int64_t *shape, mend_st_fill_fn fill, void *ctx, mend_err *err)
{
    MEND_TRY(mend_st_writer_add(w, name, dt, ndim, shape, NULL, 0, err));
    w->items[w->count - 1].fill = fill;
    w->items[w->count - 1].fill_ctx = ctx;
    return MEND_OK;
}

mend_status mend_st_writer_set_meta(mend_st_writer *w, const char *key, const char *value, mend_err *err)
{
    if (!w->meta && !(w->meta = cJSON_CreateObject()))
        return mend_fail(err, MEND_E_NOMEM, "out of memory");
    cJSON_DeleteItemFromObjectCaseSensitive(w->meta, key);
    if (!cJSON_AddStringToObject(w->meta, key, value))
        return mend_fail(err, MEND_E_NOMEM, "out of memory");
    return MEND_OK;
}

static char *build_header(mend_st_writer *w)
{
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return NULL;
    if (w->meta) {
        cJSON *m = cJSON_Duplicate(w->meta, 1);
        if (!m) {
            cJSON_Delete(root);
            return NULL;
        }
        cJSON_AddItemToObject(root, "__metadata__", m);
    }
    uint64_t off = 0;
    for (int i = 0; i < w->count; i++) {
        entry *e = &w->items[i];
        cJSON *o = cJSON_CreateObject();
        cJSON *shape = cJSON_CreateArray();
        cJSON *offs = cJSON_CreateArray();
        if (!o || !shape || !offs) {
            cJSON_Delete(o);
            cJSON_Delete(shape);
            cJSON_Delete(offs);
            cJSON_Delete(root);
            return NULL;
        }
        for (int d = 0; d < e->ndim; d++)
            cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)e->shape[d]));
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)off));
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)(off + e->nbytes)));
        cJSON_AddStringToObject(o, "dtype", mend_dtype_name(e->dt));
        cJSON_AddItemToObject(o, "shape", shape);
        cJSON_AddItemToObject(o, "data_offsets", offs);
        cJSON_AddItemToObject(root, e->name, o);
        off += e->nbytes;
    }
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return text;
}

/* Writes one entry's bytes; generated ones go through a scratch buffer that
 * is reused (and grown) across entries. */
static mend_status write_entry(FILE *fp, const entry *e, void **scratch, size_t *scratch_size, const char *path,
                               mend_err *err)
{
    if (e->nbytes == 0)
        return MEND_OK;
    const void *data = e->data;
    if (e->fill) {
        if (*scratch_size < e->nbytes) {
            free(*scratch);
            *scratch_size = 0;
            if (!(*scratch = malloc(e->nbytes)))
                return mend_fail(err, MEND_E_NOMEM, "%s: out of memory generating tensor '%s'", path, e->name);
            *scratch_size = e->nbytes;
        }
        MEND_TRY(e->fill(e->fill_ctx, e->name, *scratch, e->nbytes, err));
        data = *scratch;
    }
    if (fwrite(data, 1, e->nbytes, fp) != e->nbytes)
        return mend_fail(err, MEND_E_IO, "%s: write failed: %s", path, strerror(errno));
    return MEND_OK;
}

static mend_status write_all(mend_st_writer *w, FILE *fp, const char *header, const char *path, mend_err *err)
{
    size_t hlen = strlen(header);
    size_t padded = (hlen + 7) & ~(size_t)7; /* keep the data block 8-byte aligned */
    unsigned char len8[8];
    for (int i = 0; i < 8; i++)
        len8[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    int ok = fwrite(len8, 1, 8, fp) == 8 && fwrite(header, 1, hlen, fp) == hlen;
    for (size_t i = hlen; ok && i < padded; i++)
        ok = fputc(' ', fp) != EOF;
    if (!ok)
        return mend_fail(err, MEND_E_IO, "%s: write failed: %s", path, strerror(errno));
    void *scratch = NULL;
    size_t scratch_size = 0;
    mend_status s = MEND_OK;
    for (int i = 0; s == MEND_OK && i < w->count; i++)
        s = write_entry(fp, &w->items[i], &scratch, &scratch_size, path, err);
    free(scratch);
    return s;
}

mend_status mend_st_writer_write(mend_st_writer *w, const char *path, mend_err *err)
{
    char *header = build_header(w);
    if (!header)
        return mend_fail(err, MEND_E_NOMEM, "%s: out of memory building the header", path);
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid());
    FILE *fp = fopen(tmp, "wb");
    if (!fp) {
        free(header);
        return mend_fail(err, MEND_E_IO, "%s: cannot create: %s", path, strerror(errno));
    }
    mend_status s = write_all(w, fp, header, path, err);
    free(header);
    if (fclose(fp) != 0 && s == MEND_OK)
        s = mend_fail(err, MEND_E_IO, "%s: write failed: %s", path, strerror(errno));
    if (s == MEND_OK && rename(tmp, path) != 0)
        s = mend_fail(err, MEND_E_IO, "%s: cannot rename %s into place: %s", path, tmp, strerror(errno));
    if (s != MEND_OK)
        remove(tmp);
    return s;
}
