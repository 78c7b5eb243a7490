/* Scaled dot-product attention, one (batch, head, query block) per task:
 * S = Q_blk K^T * scale, softmax over keys, O_blk = S V. The (block x nk)
 * score tile is the only scratch, so memory grows with nk, not nq*nk:
 * 64 x 16384 floats = 4 MiB per thread at 1024x1024 pixels. */
#include "kernels/kernels.h"

#include "core/threads.h"
#include "kernels/fastmath.h"

#include <math.h>
#include <stdlib.h>


#define QBLOCK 64

typedef struct attn_job {
    const float *q, *k, *v;
    int64_t qs, ks, vs;
    float *out;
    int heads, dh, causal;
    int64_t nq, nk, qblocks;
    float scale;
    volatile int nomem;
} attn_job;

/* Softmax in place. The max and the sum run in 16 independent lanes so the
 * compiler vectorises them (a single float accumulator would not be, as
 * reassociating it changes rounding); the lane order is fixed, so results
 * do not depend on threads. */
#define LANES 16
MEND_CLONES
static void softmax_row(float *s, int64_t n)
{
    float mx = s[0];
    int64_t i = 0;
    if (n >= LANES) {
        float m[LANES];
        for (int l = 0; l < LANES; l++)
            m[l] = s[l];
        for (i = LANES; i + LANES <= n; i += LANES)
            for (int l = 0; l < LANES; l++)
                m[l] = s[i + l] > m[l] ? s[i + l] : m[l];
        for (int l = 0; l < LANES; l++)
            mx = m[l] > mx ? m[l] : mx;
    }
    for (; i < n; i++)
        mx = s[i] > mx ? s[i] : mx;
    float acc[LANES] = {0};
    for (i = 0; i + LANES <= n; i += LANES)
        for (int l = 0; l < LANES; l++) {
            float e = mend_expf(s[i + l] - mx);
            s[i + l] = e;
            acc[l] += e;
        }
    float sum = 0.0f;
    for (int l = 0; l < LANES; l++)
        sum += acc[l];
    for (; i < n; i++) {
        s[i] = mend_expf(s[i] - mx);
        sum += s[i];
    }
    float inv = 1.0f / sum;
    for (i = 0; i < n; i++)
        s[i] *= inv;
}

static void attn_range(void *ctx, int64_t b, int64_t e, int thread)
{
    attn_job *j = ctx;
    float *S = malloc((size_t)(QBLOCK * j->nk) * sizeof *S);
    if (!S) {
        j->nomem = 1;
        return;
    }
    int64_t width = (int64_t)j->heads * j->dh;
    for (int64_t t = b; t < e; t++) {
        int64_t qb = t % j->qblocks, bh = t / j->qblocks;
        int64_t h = bh % j->heads, bi = bh / j->heads;
        int64_t q0 = qb * QBLOCK, rows = j->nq - q0 < QBLOCK ? j->nq - q0 : QBLOCK;
        const float *Q = j->q + (bi * j->nq + q0) * j->qs + h * j->dh;
        const float *K = j->k + bi * j->nk * j->ks + h * j->dh;
        const float *V = j->v + bi * j->nk * j->vs + h * j->dh;
        float *O = j->out + (bi * j->nq + q0) * width + h * j->dh;
        mend_sgemm_1t(0, 1, rows, j->nk, j->dh, j->scale, Q,
                    j->qs, K, j->ks, 0.0f, S, j->nk);
        for (int64_t r = 0; r < rows; r++) {
            float *row = S + r * j->nk;
            int64_t valid = j->nk;
            if (j->causal) {
                valid = q0 + r + 1 < j->nk ? q0 + r + 1 : j->nk;
                for (int64_t c = valid; c < j->nk; c++)
                    row[c] = 0.0f;
            }
            softmax_row(row, valid);
        }
        mend_sgemm_1t(0, 0, rows, j->dh, j->nk, 1.0f, S,
                    j->nk, V, j->vs, 0.0f, O, width);
    }
    free(S);
}

mend_status mend_attention(const float *q, int64_t q_stride, const float *k, int64_t k_stride, const float *v,
                           int64_t v_stride, float *out, int batch, int heads, int64_t nq, int64_t nk, int dh,
                           int causal)
{
    attn_job j = {q, k, v, q_stride, k_stride, v_stride, out, heads, dh, causal, nq, nk,
                  (nq + QBLOCK - 1) / QBLOCK, 1.0f / sqrtf((float)dh), 0};
    mend_parallel_for((int64_t)batch * heads * j.qblocks, attn_range, &j);
    return j.nomem ? MEND_E_NOMEM : MEND_OK;
}
