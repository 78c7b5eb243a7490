/* SGEMM on oneDNN's JIT kernels (dnnl_sgemm: AVX-512 where the CPU has
 * it, ~85 % of one core's FMA peak here, where Debian's OpenBLAS is pinned
 * to its AVX2 kernels). We split C into fixed blocks ourselves and run each
 * block single-threaded on our pool, so oneDNN's OpenMP threads never
 * compete with it and the split never depends on the thread count. */
#include "kernels/kernels.h"

#include "core/threads.h"
#include "kernels/dnnl_util.h"

#include <stdlib.h>

#include <dnnl.h>
#include <omp.h>

static __thread int t_omp_single;

void mend_sgemm_1t(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                   int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc)
{
    if (!t_omp_single) {
        /* oneDNN parallelises with OpenMP per calling thread; keep each of
         * our threads' calls on that thread. */
        omp_set_num_threads(1);
        t_omp_single = 1;
    }
    dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

typedef struct gemm_job {
    int ta, tb;
    int64_t M, N, K;
    float alpha, beta;
    const float *A, *B;
    int64_t lda, ldb, ldc;
    float *C;
    int split_n;
    int64_t block;
} gemm_job;

/* One OpenBLAS call per fixed-size block: the block shapes depend only on
 * the problem, never on the thread count, so every output element is
 * computed by the same kernel path whatever the number of threads. */
static void gemm_range(void *ctx, int64_t b, int64_t e, int thread)
{
    const gemm_job *j = ctx;
    for (int64_t blk = b; blk < e; blk++) {
        int64_t lo = blk * j->block, hi = lo + j->block;
        if (j->split_n) {
            hi = hi > j->N ? j->N : hi;
            const float *B = j->tb ? j->B + lo * j->ldb : j->B + lo;
            mend_sgemm_1t(j->ta, j->tb, j->M, hi - lo, j->K, j->alpha, j->A, j->lda, B, j->ldb, j->beta, j->C + lo,
                          j->ldc);
        } else {
            hi = hi > j->M ? j->M : hi;
            const float *A = j->ta ? j->A + lo : j->A + lo * j->lda;
            mend_sgemm_1t(j->ta, j->tb, hi - lo, j->N, j->K, j->alpha, A, j->lda, j->B, j->ldb, j->beta,
                          j->C + lo * j->ldc, j->ldc);
        }
    }
}

void mend_gemm(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
               const float *B, int64_t ldb, float beta, float *C, int64_t ldc)
{
    if (M <= 0 || N <= 0)
        return;
    gemm_job j = {trans_a, trans_b, M, N, K, alpha, beta, A, B, lda, ldb, ldc, C, 0, 0};
    /* Split the larger dimension into blocks of 128 (a multiple of every
     * OpenBLAS micro-tile); tiny products stay in one block. */
    j.split_n = N >= M;
    int64_t dim = j.split_n ? N : M;
    j.block = M * N * K < 64 * 64 * 64 ? dim : 128;
    mend_parallel_for((dim + j.block - 1) / j.block, gemm_range, &j);
}

/* W as fp32 [out, in] row-major: its own data, or widened into scratch. */
static mend_status weights_f32(mend_wmat *W, const float **out)
{
    if (W->type == MEND_W_F32 && W->data) {
        *out = W->data;
        return MEND_OK;
    }
    dnnl_dims_t dims = {W->cols, W->rows};
    dnnl_memory_desc_t plain, want;
    if (dnnl_memory_desc_init_by_tag(&plain, 2, dims, mend_wtype_dnnl(W->type), dnnl_ba) != dnnl_success ||
        dnnl_memory_desc_init_by_tag(&want, 2, dims, dnnl_f32, dnnl_ba) != dnnl_success)
        return MEND_E_NOMEM;
    const void *p;
    MEND_TRY(mend_wmat_weights(W, &plain, &want, &p));
    *out = p;
    return MEND_OK;
}

static void add_row_bias(float *y, int64_t rows, int64_t out, const float *b)
{
    for (int64_t r = 0; r < rows; r++) {
        float *yr = y + r * out;
        for (int64_t o = 0; o < out; o++)
            yr[o] += b[o];
    }
}

/* bf16 matmul primitive for this row count: src converted from fp32 by a
 * cached reorder, weights prepared once, bias fused, fp32 output. */
static mend_status linear_bf16_prim(mend_wmat *W, int64_t rows, int has_bias, mend_prim_cache *c)
{
    const mend_dnnl *d = mend_dnnl_get();
    if (!d)
        return MEND_E_NOMEM;
    int64_t in = W->cols, out = W->rows;
    dnnl_dims_t sd = {rows, in}, wd = {in, out}, bd = {1, out}, dd = {rows, out};
    dnnl_memory_desc_t wany;
    dnnl_matmul_desc_t md;
    dnnl_primitive_desc_t pd = NULL, rpd = NULL;
    mend_status st = MEND_E_NOMEM;
    if (dnnl_memory_desc_init_by_tag(&c->src_user, 2, sd, dnnl_f32, dnnl_ab) || 
        dnnl_memory_desc_init_by_tag(&c->src_md, 2, sd, dnnl_bf16, dnnl_ab) ||
        dnnl_memory_desc_init_by_tag(&wany, 2, wd, dnnl_bf16, dnnl_format_tag_any) ||
        dnnl_memory_desc_init_by_tag(&c->bias_md, 2, bd, dnnl_f32, dnnl_ab) ||
        dnnl_memory_desc_init_by_tag(&c->dst_md, 2, dd, dnnl_f32, dnnl_ab) ||
        dnnl_matmul_desc_init(&md, &c->src_md, &wany, has_bias ? &c->bias_md : NULL, &c->dst_md))
        return MEND_E_NOMEM;
    if (dnnl_primitive_desc_create(&pd, &md, NULL, d->eng, NULL) == dnnl_success &&
        dnnl_primitive_create(&c->prim, pd) == dnnl_success &&
        dnnl_reorder_primitive_desc_create(&rpd, &c->src_user, d->eng, &c->src_md, d->eng, NULL) == dnnl_success &&
        dnnl_primitive_create(&c->src_re, rpd) == dnnl_success) {
        c->wei_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
        c->key[0] = rows;
        c->key[1] = has_bias;
        c->valid = 1;
        st = MEND_OK;
    }
    dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_desc_destroy(rpd);
    if (st != MEND_OK)
        mend_prim_cache_clear(c);
    return st;
}

static mend_status linear_bf16(const float *x, int64_t rows, mend_wmat *W, const float *b, float *y)
{
    if (!W->prep && !(W->prep = calloc(1, sizeof *W->prep)))
        return MEND_E_NOMEM;
    mend_prim_cache *c = &W->prep->pc[0];
    if (!c->valid || c->key[0] != rows || c->key[1] != (b != NULL)) {
        mend_prim_cache_clear(c);
        MEND_TRY(linear_bf16_prim(W, rows, b != NULL, c));
    }
    dnnl_dims_t wd = {W->cols, W->rows};
    dnnl_memory_desc_t plain;
    if (dnnl_memory_desc_init_by_tag(&plain, 2, wd, mend_wtype_dnnl(W->type), dnnl_ba))
        return MEND_E_NOMEM;
    const void *wp;
    MEND_TRY(mend_wmat_weights(W, &plain, &c->wei_md, &wp));
    void *xs = mend_scratch(MEND_SCR_SRC, dnnl_memory_desc_get_size(&c->src_md));
    if (!xs)
        return MEND_E_NOMEM;
    const mend_dnnl *d = mend_dnnl_get();
    dnnl_memory_t mx = NULL, ms = NULL, mw = NULL, mb = NULL, my = NULL;
    mend_status st = MEND_E_NOMEM;
    if (!dnnl_memory_create(&mx, &c->src_user, d->eng, (void *)x) &&
        !dnnl_memory_create(&ms, &c->src_md, d->eng, xs) &&
        !dnnl_memory_create(&mw, &c->wei_md, d->eng, (void *)wp) &&
        !dnnl_memory_create(&mb, &c->bias_md, d->eng, (void *)b) &&
        !dnnl_memory_create(&my, &c->dst_md, d->eng, y)) {
        dnnl_exec_arg_t ra[2] = {{DNNL_ARG_FROM, mx}, {DNNL_ARG_TO, ms}};
        dnnl_exec_arg_t a[4] = {{DNNL_ARG_SRC, ms}, {DNNL_ARG_WEIGHTS, mw}, {DNNL_ARG_DST, my}, {DNNL_ARG_BIAS, mb}};
        st = mend_dnnl_exec(c->src_re, 2, ra);
        if (st == MEND_OK)
            st = mend_dnnl_exec(c->prim, b ? 4 : 3, a);
    }
    dnnl_memory_destroy(mx);
    dnnl_memory_destroy(ms);
    dnnl_memory_destroy(mw);
    dnnl_memory_destroy(mb);
    dnnl_memory_destroy(my);
    return st;
}

mend_status mend_linear(const float *x, int64_t rows, int64_t in, mend_wmat *W, const float *b, int64_t out,
                        float *y)
{
    (void)in;
    (void)out;
    if (rows <= 0)
        return MEND_OK;
    if (W->prec == MEND_KPREC_BF16)
        return linear_bf16(x, rows, W, b, y);
    const float *w;
    MEND_TRY(weights_f32(W, &w));
    mend_gemm(0, 1, rows, W->rows, W->cols, 1.0f, x, W->cols, w, W->cols, 0.0f, y, W->rows);
    if (b)
        add_row_bias(y, rows, W->rows, b);
    return MEND_OK;
}
