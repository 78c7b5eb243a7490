/* GroupNorm and LayerNorm. Statistics are accumulated in double so the
 * result does not depend on how a row is split, and matches PyTorch's fp32
 * to ~1e-6 even over the 32768-element groups of a 512x512 VAE. */
#include "kernels/kernels.h"

#include "core/threads.h"
#include "kernels/fastmath.h"

#include <math.h>

/* A normalisation split over ranges of groups (GroupNorm) or rows
 * (LayerNorm: groups, silu and hw unused). */
typedef struct norm_job {
    const float *x;
    float *y;
    int c, groups, silu;
    int64_t hw;
    float eps;
    const float *gamma, *beta;
} norm_job;

/* Mean of x[0..n) and 1 / sqrt(variance + eps), both passes in double;
 * inlined so that each clone of the callers compiles it for its CPU. */
static inline __attribute__((always_inline)) void span_stats(const float *x, int64_t n, float eps, float *mean,
                                                             float *inv)
{
    double sum = 0, sq = 0;
    for (int64_t i = 0; i < n; i++)
        sum += x[i];
    double mu = sum / (double)n;
    for (int64_t i = 0; i < n; i++) {
        double dlt = x[i] - mu;
        sq += dlt * dlt;
    }
    *inv = (float)(1.0 / sqrt(sq / (double)n + eps));
    *mean = (float)mu;
}

MEND_CLONES
static void gn_range(void *ctx, int64_t b, int64_t e, int thread)
{
    const norm_job *j = ctx;
    int cpg = j->c / j->groups;
    int64_t count = (int64_t)cpg * j->hw;
    for (int64_t ng = b; ng < e; ng++) {
        int64_t n = ng / j->groups, g = ng % j->groups;
        const float *x = j->x + (n * j->c + g * cpg) * j->hw;
        float *y = j->y + (n * j->c + g * cpg) * j->hw;
        float m, inv;
        span_stats(x, count, j->eps, &m, &inv);
        for (int ci = 0; ci < cpg; ci++) {
            int ch = (int)g * cpg + ci;
            float a = inv * (j->gamma ? j->gamma[ch] : 1.0f);
            float bb = j->beta ? j->beta[ch] : 0.0f;
            const float *xc = x + ci * j->hw;
            float *yc = y + ci * j->hw;
            if (j->silu) {
                for (int64_t i = 0; i < j->hw; i++) {
                    float v = (xc[i] - m) * a + bb;
                    yc[i] = v / (1.0f + mend_expf(-v));
                }
            } else {
                for (int64_t i = 0; i < j->hw; i++)
                    yc[i] = (xc[i] - m) * a + bb;
            }
        }
    }
}

void mend_group_norm(const float *x, int n, int c, int64_t hw, int groups, float eps, const float *gamma,
                     const float *beta, int silu, float *y)
{
    norm_job j = {x, y, c, groups, silu, hw, eps, gamma, beta};
    mend_parallel_for((int64_t)n * groups, gn_range, &j);
}

MEND_CLONES
static void ln_range(void *ctx, int64_t b, int64_t e, int thread)
{
    const norm_job *j = ctx;
    for (int64_t r = b; r < e; r++) {
        const float *x = j->x + r * j->c;
        float *y = j->y + r * j->c;
        float m, inv;
        span_stats(x, j->c, j->eps, &m, &inv);
        for (int i = 0; i < j->c; i++)
            y[i] = (x[i] - m) * inv * j->gamma[i] + j->beta[i];
    }
}

void mend_layer_norm(const float *x, int64_t rows, int c, float eps, const float *gamma, const float *beta, float *y)
{
    norm_job j = {.x = x, .y = y, .c = c, .eps = eps, .gamma = gamma, .beta = beta};
    mend_parallel_for(rows, ln_range, &j);
}
