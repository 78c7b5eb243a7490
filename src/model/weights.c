#include "model/weights.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mend_wstore_free(mend_wstore *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->count; i++)
        free(s->bufs[i]);
    free(s->bufs);
    for (int i = 0; i < s->nmats; i++) {
        mend_wmat_free(s->mats[i]);
        free(s->mats[i]);
        free(s->names[i].name);
    }
    free(s->mats);
    free(s->names);
    memset(s, 0, sizeof *s);
}

static int store_add(mend_wstore *s, float *buf, int64_t n)
{
    if (s->count == s->cap) {
        int cap = s->cap ? 2 * s->cap : 256;
        float **b = realloc(s->bufs, (size_t)cap * sizeof *b);
        if (!b)
            return 0;
        s->bufs = b;
        s->cap = cap;
    }
    s->bufs[s->count++] = buf;
    s->params += n;
    return 1;
}

mend_wload mend_wl_into(const mend_wload *src, mend_wstore *store, mend_err *err)
{
    return (mend_wload){.file = src->file, .prefix = src->prefix, .store = store, .err = err, .status = MEND_OK};
}

void mend_wl_name(const mend_wload *l, const char *canonical, char *buf, size_t size)
{
    snprintf(buf, size, "%s%s", l->prefix ? l->prefix : "", canonical);
}

static const mend_tf_tensor *vfind(const mend_wload *l, char *full, size_t size, const char *fmt, va_list ap)
{
    char canon[512];
    vsnprintf(canon, sizeof canon, fmt, ap);
    mend_wl_name(l, canon, full, size);
    return mend_tf_find(l->file, full);
}

const mend_tf_tensor *mend_wl_find(const mend_wload *l, const char *fmt, ...)
{
    char full[600];
    va_list ap;
    va_start(ap, fmt);
    const mend_tf_tensor *t = vfind(l, full, sizeof full, fmt, ap);
    va_end(ap);
    return t;
}

static int rank_without_trailing_ones(int ndim, const int64_t *shape)
{
    while (ndim > 1 && shape[ndim - 1] == 1)
        ndim--;
    return ndim;
}

static int shapes_match(int na, const int64_t *a, int nb, const int64_t *b)
{
    na = rank_without_trailing_ones(na, a);
    nb = rank_without_trailing_ones(nb, b);
    if (na != nb)
        return 0;
    for (int i = 0; i < na; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

static void shape_str(int ndim, const int64_t *shape, char *buf, size_t size)
{
    size_t n = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < ndim && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (n < size)
        snprintf(buf + n, size - n, "]");
}

/* The tensor named by fmt if present, float and of the shape asked. */
static const mend_tf_tensor *vcheck(mend_wload *l, int ndim, const int64_t *shape, char *full, size_t size,
                                    const char *fmt, va_list ap)
{
    if (l->status != MEND_OK)
        return NULL;
    const mend_tf_tensor *t = vfind(l, full, size, fmt, ap);
    if (!t) {
        l->status = mend_fail(l->err, MEND_E_FORMAT, "%s: tensor '%s' is missing", l->file->path, full);
        return NULL;
    }
    if (!mend_dtype_is_float(t->dtype)) {
        l->status = mend_fail(l->err, MEND_E_FORMAT, "%s: tensor '%s' is %s, expected a float type", l->file->path,
                              full, mend_dtype_name(t->dtype));
        return NULL;
    }
    if (!shapes_match(t->ndim, t->shape, ndim, shape)) {
        char got[128], want[128];
        shape_str(t->ndim, t->shape, got, sizeof got);
        shape_str(ndim, shape, want, sizeof want);
        l->status = mend_fail(l->err, MEND_E_FORMAT, "%s: tensor '%s' has shape %s, expected %s", l->file->path,
                              full, got, want);
        return NULL;
    }
    return t;
}

static float *vget(mend_wload *l, int ndim, const int64_t *shape, const char *fmt, va_list ap)
{
    char full[600];
    const mend_tf_tensor *t = vcheck(l, ndim, shape, full, sizeof full, fmt, ap);
    if (!t)
        return NULL;
    int64_t n = mend_tf_numel(t);
    float *buf = malloc((size_t)(n > 0 ? n : 1) * sizeof *buf);
    if (!buf || !store_add(l->store, buf, n)) {
        free(buf);
        l->status = mend_fail(l->err, MEND_E_NOMEM, "%s: out of memory loading '%s'", l->file->path, full);
        return NULL;
    }
    l->status = mend_tf_read_f32(l->file, t, buf, l->err);
    return l->status == MEND_OK ? buf : NULL;
}

float *mend_wl_get(mend_wload *l, int ndim, const int64_t *shape, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    float *p = vget(l, ndim, shape, fmt, ap);
    va_end(ap);
    return p;
}

static int mats_grow(mend_wstore *s)
{
    int cap = s->mats_cap ? 2 * s->mats_cap : 256;
    mend_wmat **b = realloc(s->mats, (size_t)cap * sizeof *b);
    if (b)
        s->mats = b;
    mend_wname *n = b ? realloc(s->names, (size_t)cap * sizeof *n) : NULL;
    if (n)
        s->names = n;
    if (!b || !n)
        return 0;
    s->mats_cap = cap;
    return 1;
}

/* Keeps m with the name and file shape of tensor t (canonical = t's name
 * without the loader's prefix). */
static int mats_add(mend_wstore *s, mend_wmat *m, const char *canonical, const mend_tf_tensor *t)
{
    if (s->nmats == s->mats_cap && !mats_grow(s))
        return 0;
    mend_wname n = {strdup(canonical), t->ndim > 4 ? 4 : t->ndim, {1, 1, 1, 1}};
    if (!n.name)
        return 0;
    for (int i = 0; i < n.ndim; i++)
        n.shape[i] = t->shape[i];
    s->names[s->nmats] = n;
    s->mats[s->nmats++] = m;
    s->params += m->rows * m->cols;
    return 1;
}

mend_wmat *mend_wstore_find(const mend_wstore *s, const char *name, const mend_wname **info)
{
    for (int i = 0; i < s->nmats; i++)
        if (strcmp(s->names[i].name, name) == 0) {
            if (info)
                *info = &s->names[i];
            return s->mats[i];
        }
    return NULL;
}

/* Reads t into m->data in its own dtype (f16/bf16/f32), else as f32. */
static mend_status read_mat(const mend_tf *f, const mend_tf_tensor *t, mend_wmat *m, mend_err *err)
{
    int64_t n = m->rows * m->cols;
    int raw = t->dtype == MEND_DT_F16 || t->dtype == MEND_DT_BF16 || t->dtype == MEND_DT_F32;
    m->type = t->dtype == MEND_DT_F16 ? MEND_W_F16 : t->dtype == MEND_DT_BF16 ? MEND_W_BF16 : MEND_W_F32;
    size_t es = m->type == MEND_W_F32 ? 4 : 2;
    m->data = mend_big_alloc((size_t)(n > 0 ? n : 1) * es);
    if (!m->data)
        return mend_fail(err, MEND_E_NOMEM, "%s: out of memory loading '%s'", f->path, t->name);
    return raw ? mend_tf_read_raw(f, t, m->data, err) : mend_tf_read_f32(f, t, m->data, err);
}

mend_wmat *mend_wl_mat(mend_wload *l, int ndim, const int64_t *shape, const char *fmt, ...)
{
    char full[600];
    va_list ap;
    va_start(ap, fmt);
    const mend_tf_tensor *t = vcheck(l, ndim, shape, full, sizeof full, fmt, ap);
    va_end(ap);
    if (!t)
        return NULL;
    mend_wmat *m = calloc(1, sizeof *m);
    if (m) {
        m->rows = shape[0];
        m->cols = 1;
        for (int i = 1; i < ndim; i++)
            m->cols *= shape[i];
    }
    size_t pl = l->prefix ? strlen(l->prefix) : 0;
    if (!m || !mats_add(l->store, m, full + pl, t)) {
        free(m);
        l->status = mend_fail(l->err, MEND_E_NOMEM, "%s: out of memory loading '%s'", l->file->path, full);
        return NULL;
    }
    l->status = read_mat(l->file, t, m, l->err);
    return l->status == MEND_OK ? m : NULL;
}

mend_status mend_wstore_set_prec(mend_wstore *s, mend_kprec p, mend_err *err)
{
    for (int i = 0; i < s->nmats; i++)
        if (p == MEND_KPREC_FP32 && s->mats[i]->inexact)
            return mend_fail(err, MEND_E_ARG,
                             "fp32 asked after the model ran in bf16: its weights were rounded to bf16; reload the "
                             "model for exact fp32");
    for (int i = 0; i < s->nmats; i++)
        mend_wmat_set_prec(s->mats[i], p);
    return MEND_OK;
}
