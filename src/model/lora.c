/* One LoRA / LyCORIS module's weight delta, as A1111 1.10's network_lora,
 * network_hada and network_lokr compute it (updown reshaped to the layer's
 * weight, times calc_scale). Computed in fp32; the caller applies the
 * multiplier, and rounds the merged layer to the file dtype for LoHa/LoKr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/half.h"
#include "model/lora.h"


typedef struct mat {
    float *v;
    int64_t shape[4];
    int ndim;
} mat;

static int64_t numel_of(const int64_t *s, int n) {
    int64_t k = 1;
    for (int i = 0; i < n; i++) k *= s[i];
    return k;
}

static const mend_tf_tensor *part(const mend_tf *f, const char *module, const char *suffix) {
    char name[MEND_TF_NAME_MAX];
    snprintf(name, sizeof name, "%s.%s", module, suffix);
    return mend_tf_find(f, name);
}

/* 1 fp16, 2 bf16: the dtype A1111 computes a LyCORIS module in; 0 fp32. */
static int lyco_dtype(const mend_tf *f, const char *module, const char *const *parts) {
    for (int i = 0; i < 7 && parts[i]; i++) {
        const mend_tf_tensor *t = part(f, module, parts[i]);
        if (t) return t->dtype == MEND_DT_F16 ? 1 : t->dtype == MEND_DT_BF16 ? 2 : 0;
    }
    return 0;
}

void mend_lora_round(float *v, int64_t n, int how) {
    for (int64_t i = 0; how && i < n; i++)
        v[i] = how == 1 ? mend_f16_to_f32(mend_f32_to_f16(v[i])) : mend_bf16_to_f32(mend_f32_to_bf16(v[i]));
}

/* Loads module.suffix as fp32 into m (m->v NULL when the tensor is absent). */
static mend_status load_part(const mend_tf *f, const char *module, const char *suffix, mat *m, mend_err *err) {
    const mend_tf_tensor *t = part(f, module, suffix);
    memset(m, 0, sizeof *m);
    if (!t) return MEND_OK;
    if (t->ndim > 4 || !mend_dtype_is_float(t->dtype))
        return mend_fail(err, MEND_E_FORMAT, "%s.%s: unsupported tensor", module, suffix);
    m->ndim = t->ndim;
    for (int i = 0; i < t->ndim; i++) m->shape[i] = t->shape[i];
    int64_t n = mend_tf_numel(t);
    m->v = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    if (!m->v) return mend_fail(err, MEND_E_NOMEM, "%s.%s: out of memory", module, suffix);
    return mend_tf_read_f32(f, t, m->v, err);
}

static int64_t rows(const mat *m) { return m->ndim ? m->shape[0] : 1; }
static int64_t cols(const mat *m) { return m->ndim ? numel_of(m->shape, m->ndim) / m->shape[0] : 1; }

/* c[r x n] = a[:, :k] @ b[:k, :] where a is [r x lda], b is [k.. x n]. */
static void matmul(const float *a, int64_t lda, const float *b, int64_t n, int64_t r, int64_t k, float *c) {
    for (int64_t i = 0; i < r; i++)
        for (int64_t j = 0; j < n; j++) {
            float s = 0.0f;
            for (int64_t q = 0; q < k; q++) s += a[i * lda + q] * b[q * n + j];
            c[i * n + j] = s;
        }
}

/* lyco_helpers.make_weight_cp: out[p,r,kl] = sum_ij t[i,j,kl] wb[j,r] wa[i,p]. */
static float *make_cp(const mat *t, const mat *wa, const mat *wb, int64_t *shape) {
    int64_t ni = t->shape[0], nj = t->shape[1], kl = numel_of(t->shape + 2, t->ndim - 2);
    int64_t np = cols(wa), nr = cols(wb);
    float *o = calloc((size_t)(np * nr * kl), sizeof(float));
    if (!o) return NULL;
    for (int64_t p = 0; p < np; p++)
        for (int64_t r = 0; r < nr; r++)
            for (int64_t i = 0; i < ni; i++)
                for (int64_t j = 0; j < nj; j++) {
                    float w = wb->v[j * nr + r] * wa->v[i * np + p];
                    for (int64_t q = 0; q < kl; q++) o[(p * nr + r) * kl + q] += t->v[(i * nj + j) * kl + q] * w;
                }
    shape[0] = np, shape[1] = nr, shape[2] = t->ndim > 2 ? t->shape[2] : 1, shape[3] = t->ndim > 3 ? t->shape[3] : 1;
    return o;
}

/* Plain or tucker LoRA: up @ down (first dyn ranks), or cp(mid, up^T, down). */
static float *lora_updown(mat *m, int dyn, int64_t *shape) {
    mat *up = &m[0], *down = &m[1], *mid = &m[2];
    int64_t r = rows(down), out = rows(up), in = cols(down);
    if (cols(up) != r) return NULL;
    shape[0] = out, shape[1] = down->ndim > 1 ? down->shape[1] : 1;
    shape[2] = down->ndim > 2 ? down->shape[2] : 1, shape[3] = down->ndim > 3 ? down->shape[3] : 1;
    if (mid->v) {
        /* einsum('n m k l, i n, m j -> i j k l'): wa = up^T [r, out], wb = down [r, in]. */
        mat upt = {malloc((size_t)(out * r) * sizeof(float)), {r, out, 1, 1}, 2};
        if (!upt.v) return NULL;
        for (int64_t i = 0; i < out; i++)
            for (int64_t n = 0; n < r; n++) upt.v[n * out + i] = up->v[i * r + n];
        mat d2 = {down->v, {r, in, 1, 1}, 2};
        float *o = make_cp(mid, &upt, &d2, shape);
        free(upt.v);
        return o;
    }
    int64_t k = dyn > 0 && dyn < r ? dyn : r;
    float *o = malloc((size_t)(out * in) * sizeof(float));
    if (o) matmul(up->v, r, down->v, in, out, k, o);
    return o;
}

/* a[r1 x k1] @ b[k1 x c1] into a new matrix (or a copy of the full tensor). */
static float *product_or_full(mat *full, mat *a, mat *b, int64_t *r, int64_t *c) {
    if (full->v) {
        *r = rows(full), *c = cols(full);
        float *o = full->v;
        full->v = NULL;
        return o;
    }
    if (!a->v || !b->v || cols(a) != rows(b)) return NULL;
    *r = rows(a), *c = cols(b);
    float *o = malloc((size_t)(*r * *c) * sizeof(float));
    if (o) matmul(a->v, cols(a), b->v, *c, *r, cols(a), o);
    return o;
}

static float *loha_updown(mat *m, int64_t *shape, int rnd) {
    int64_t s2[4] = {1, 1, 1, 1};
    float *p1, *p2;
    if (m[4].v && m[5].v) { /* tucker: hada_w*_a are [rank, out], w*_b [rank, in] */
        p1 = make_cp(&m[4], &m[0], &m[1], shape);
        p2 = make_cp(&m[5], &m[2], &m[3], s2);
    } else {
        int64_t r, c;
        mat none = {0};
        p1 = product_or_full(&none, &m[0], &m[1], &r, &c);
        p2 = product_or_full(&none, &m[2], &m[3], &s2[0], &s2[1]);
        shape[0] = r, shape[1] = c, shape[2] = shape[3] = 1;
        s2[2] = s2[3] = 1;
    }
    if (p1) mend_lora_round(p1, numel_of(shape, 4), rnd);
    if (p2) mend_lora_round(p2, numel_of(s2, 4), rnd);
    if (p1 && p2 && numel_of(shape, 4) == numel_of(s2, 4))
        for (int64_t i = 0; i < numel_of(shape, 4); i++) p1[i] *= p2[i];
    else
        free(p1), p1 = NULL;
    free(p2);
    return p1;
}

/* torch.kron(w1, w2) with w1 [a x b] and w2 [c x d x kl]: [a*c, b*d, kl]. */
static float *lokr_updown(mat *m, int64_t *shape, int rnd) {
    int64_t a, b, s2[4] = {1, 1, 1, 1};
    float *w1 = product_or_full(&m[0], &m[1], &m[2], &a, &b), *w2;
    if (m[6].v) w2 = make_cp(&m[6], &m[4], &m[5], s2);
    else w2 = product_or_full(&m[3], &m[4], &m[5], &s2[0], &s2[1]);
    if (!m[6].v && m[3].ndim == 4) s2[1] = m[3].shape[1], s2[2] = m[3].shape[2], s2[3] = m[3].shape[3];
    if (w1) mend_lora_round(w1, a * b, rnd);
    if (w2) mend_lora_round(w2, numel_of(s2, 4), rnd);
    float *o = w1 && w2 ? malloc((size_t)(a * b * numel_of(s2, 4)) * sizeof(float)) : NULL;
    int64_t c = s2[0], d = s2[1], kl = s2[2] * s2[3];
    if (o)
        for (int64_t i = 0; i < a; i++)
            for (int64_t p = 0; p < c; p++)
                for (int64_t j = 0; j < b; j++)
                    for (int64_t q = 0; q < d * kl; q++)
                        o[((i * c + p) * b + j) * d * kl + q] = w1[i * b + j] * w2[p * d * kl + q];
    shape[0] = a * c, shape[1] = b * d, shape[2] = s2[2], shape[3] = s2[3];
    free(w1);
    free(w2);
    return o;
}

static const char *const PARTS[3][7] = {
    {"lora_up.weight", "lora_down.weight", "lora_mid.weight"},
    {"hada_w1_a", "hada_w1_b", "hada_w2_a", "hada_w2_b", "hada_t1", "hada_t2"},
    {"lokr_w1", "lokr_w1_a", "lokr_w1_b", "lokr_w2", "lokr_w2_a", "lokr_w2_b", "lokr_t2"},
};

/* Which kind of module (0 LoRA, 1 LoHa, 2 LoKr), -1 none. */
static int module_kind(const mend_tf *f, const char *module) {
    if (part(f, module, "lora_up.weight") && part(f, module, "lora_down.weight")) return 0;
    if (part(f, module, "hada_w1_a")) return 1;
    if (part(f, module, "lokr_w1") || part(f, module, "lokr_w1_a")) return 2;
    return -1;
}

/* calc_scale: the 'scale' key, else alpha/dim, else 1. */
static mend_status calc_scale(const mend_tf *f, const char *module, int kind, mat *m, float *scale, mend_err *err) {
    mat s;
    MEND_TRY(load_part(f, module, "scale", &s, err));
    if (s.v) return *scale = s.v[0], free(s.v), MEND_OK;
    MEND_TRY(load_part(f, module, "alpha", &s, err));
    int64_t dim = kind == 0 ? rows(&m[1]) : kind == 1 ? rows(&m[1]) : m[5].v ? rows(&m[5]) : m[2].v ? rows(&m[2]) : 0;
    *scale = s.v && dim > 0 ? s.v[0] / (float)dim : 1.0f;
    free(s.v);
    return MEND_OK;
}

/* Fits updown (natural shape us) to the layer: same numel reshapes; a 4D
 * layer with more input channels (inpainting conv_in) gets zeros. */
static mend_status fit(const char *module, float **ud, const int64_t *us, const int64_t *shape, int ndim, mend_err *err) {
    int64_t n = numel_of(shape, ndim);
    if (numel_of(us, 4) == n) return MEND_OK;
    if (ndim == 4 && us[0] == shape[0] && us[1] < shape[1] && us[2] == shape[2] && us[3] == shape[3]) {
        float *o = calloc((size_t)n, sizeof(float));
        if (!o) return mend_fail(err, MEND_E_NOMEM, "%s: out of memory", module);
        int64_t kl = us[2] * us[3];
        for (int64_t i = 0; i < us[0]; i++) memcpy(o + i * shape[1] * kl, *ud + i * us[1] * kl, (size_t)(us[1] * kl) * sizeof(float));
        free(*ud);
        *ud = o;
        return MEND_OK;
    }
    char a[96] = "", b[96] = "";
    for (int i = 0; i < 4; i++) snprintf(a + strlen(a), sizeof a - strlen(a), "%s%lld", i ? "," : "", (long long)us[i]);
    for (int i = 0; i < ndim; i++) snprintf(b + strlen(b), sizeof b - strlen(b), "%s%lld", i ? "," : "", (long long)shape[i]);
    return mend_fail(err, MEND_E_ARG, "%s: delta shape [%s] does not fit layer weight [%s]", module, a, b);
}

int mend_lora_module_merge_dtype(const mend_tf *f, const char *module) {
    int kind = module_kind(f, module);
    return kind <= 0 ? 0 : lyco_dtype(f, module, PARTS[kind]);
}

mend_status mend_lora_module_delta(const mend_tf *f, const char *module, const int64_t *shape, int ndim,
                                   int dyn_dim, float **out, mend_err *err) {
    int kind = module_kind(f, module);
    mat m[7] = {{0}};
    int64_t us[4] = {1, 1, 1, 1};
    float scale = 1.0f, *ud = NULL;
    mend_status st = MEND_OK;
    *out = NULL;
    if (kind < 0) return mend_fail(err, MEND_E_FORMAT, "%s: unknown network module type", module);
    for (int i = 0; i < 7 && PARTS[kind][i] && st == MEND_OK; i++) st = load_part(f, module, PARTS[kind][i], &m[i], err);
    if (st == MEND_OK) st = calc_scale(f, module, kind, m, &scale, err);
    if (st == MEND_OK) {
        int rnd = kind == 0 ? 0 : lyco_dtype(f, module, PARTS[kind]);
        ud = kind == 0 ? lora_updown(m, dyn_dim, us) : kind == 1 ? loha_updown(m, us, rnd) : lokr_updown(m, us, rnd);
        if (!ud) st = mend_fail(err, MEND_E_ARG, "%s: inconsistent factor shapes (or out of memory)", module);
    }
    if (st == MEND_OK) st = fit(module, &ud, us, shape, ndim, err);
    for (int i = 0; i < 7; i++) free(m[i].v);
    if (st != MEND_OK) return free(ud), st;
    /* LoHa/LoKr factors stay in the file dtype in A1111 (torch rounds every
     * op's result to it); LoRA factors are upcast to fp32 at load. */
    int rnd = kind == 0 ? 0 : lyco_dtype(f, module, PARTS[kind]);
    mend_lora_round(ud, numel_of(shape, ndim), rnd);
    mend_lora_round(&scale, 1, rnd); /* torch 1.13 casts a Python scalar to the tensor's dtype */
    for (int64_t i = 0; i < numel_of(shape, ndim); i++) ud[i] *= scale;
    mend_lora_round(ud, numel_of(shape, ndim), rnd);
    *out = ud;
    return MEND_OK;
}
