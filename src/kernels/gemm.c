/* Parallel SGEMM on top of single-threaded OpenBLAS: we split C into
 * per-thread column (or row) blocks ourselves, so OpenBLAS's own threads
 * never compete with our pool and the split is deterministic. */
#include "kernels/kernels.h"

#include "core/threads.h"

#include <cblas.h>
#include <pthread.h>

static pthread_once_t g_blas_once = PTHREAD_ONCE_INIT;

static void blas_init(void)
{
    openblas_set_num_threads(1);
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
    enum CBLAS_TRANSPOSE ta = j->ta ? CblasTrans : CblasNoTrans, tb = j->tb ? CblasTrans : CblasNoTrans;
    for (int64_t blk = b; blk < e; blk++) {
        int64_t lo = blk * j->block, hi = lo + j->block;
        if (j->split_n) {
            hi = hi > j->N ? j->N : hi;
            const float *B = j->tb ? j->B + lo * j->ldb : j->B + lo;
            cblas_sgemm(CblasRowMajor, ta, tb, (blasint)j->M, (blasint)(hi - lo), (blasint)j->K, j->alpha, j->A,
                        (blasint)j->lda, B, (blasint)j->ldb, j->beta, j->C + lo, (blasint)j->ldc);
        } else {
            hi = hi > j->M ? j->M : hi;
            const float *A = j->ta ? j->A + lo : j->A + lo * j->lda;
            cblas_sgemm(CblasRowMajor, ta, tb, (blasint)(hi - lo), (blasint)j->N, (blasint)j->K, j->alpha, A,
                        (blasint)j->lda, j->B, (blasint)j->ldb, j->beta, j->C + lo * j->ldc, (blasint)j->ldc);
        }
    }
}

void mend_gemm(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
               const float *B, int64_t ldb, float beta, float *C, int64_t ldc)
{
    pthread_once(&g_blas_once, blas_init);
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

void mend_blas_single(void)
{
    pthread_once(&g_blas_once, blas_init);
}

void mend_linear(const float *x, int64_t rows, int64_t in, const float *W, const float *b, int64_t out, float *y)
{
    mend_gemm(0, 1, rows, out, in, 1.0f, x, in, W, in, 0.0f, y, out);
    if (b) {
        for (int64_t r = 0; r < rows; r++) {
            float *yr = y + r * out;
            for (int64_t o = 0; o < out; o++)
                yr[o] += b[o];
        }
    }
}
