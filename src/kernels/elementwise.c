/* Activations, adds and layout changes. Memory-bound; kept simple and
 * vectorisable, parallel when large. */
#include "kernels/kernels.h"

#include "core/threads.h"
#include "kernels/fastmath.h"

#include <math.h>

typedef struct unary_job {
    float *x;
    int kind;
} unary_job;

enum { U_SILU, U_GELU, U_QGELU, U_TANH, U_RELU };

MEND_CLONES
static void unary_range(void *ctx, int64_t b, int64_t e, int thread)
{
    const unary_job *j = ctx;
    float *x = j->x;
    switch (j->kind) {
    case U_SILU:
        for (int64_t i = b; i < e; i++)
            x[i] = x[i] / (1.0f + mend_expf(-x[i]));
        break;
    case U_GELU:
        for (int64_t i = b; i < e; i++)
            x[i] = 0.5f * x[i] * (1.0f + mend_erff(x[i] * 0.70710678118654752f));
        break;
    case U_QGELU:
        for (int64_t i = b; i < e; i++)
            x[i] = x[i] / (1.0f + mend_expf(-1.702f * x[i]));
        break;
    case U_TANH:
        for (int64_t i = b; i < e; i++)
            x[i] = tanhf(x[i]);
        break;
    case U_RELU:
        for (int64_t i = b; i < e; i++)
            x[i] = x[i] > 0.0f ? x[i] : 0.0f;
        break;
    }
}

static void unary(float *x, int64_t n, int kind)
{
    unary_job j = {x, kind};
    /* below ~32k elements a thread wake-up costs more than it saves */
    mend_parallel_for_max(n, n < 32768 ? 1 : 1 << 20, unary_range, &j);
}

void mend_silu(float *x, int64_t n) { unary(x, n, U_SILU); }
void mend_gelu(float *x, int64_t n) { unary(x, n, U_GELU); }
void mend_quick_gelu(float *x, int64_t n) { unary(x, n, U_QGELU); }
void mend_tanh_inplace(float *x, int64_t n) { unary(x, n, U_TANH); }
void mend_relu(float *x, int64_t n) { unary(x, n, U_RELU); }

typedef struct geglu_job {
    const float *in;
    float *out;
    int64_t c;
} geglu_job;

MEND_CLONES
static void geglu_range(void *ctx, int64_t b, int64_t e, int thread)
{
    const geglu_job *j = ctx;
    for (int64_t r = b; r < e; r++) {
        const float *a = j->in + r * 2 * j->c, *g = a + j->c;
        float *o = j->out + r * j->c;
        for (int64_t i = 0; i < j->c; i++)
            o[i] = a[i] * 0.5f * g[i] * (1.0f + mend_erff(g[i] * 0.70710678118654752f));
    }
}

void mend_geglu(const float *in, int64_t rows, int64_t c, float *out)
{
    geglu_job j = {in, out, c};
    mend_parallel_for(rows, geglu_range, &j);
}

MEND_CLONES
void mend_add(const float *a, const float *b, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = a[i] + b[i];
}

MEND_CLONES
void mend_add_channel_bias(float *y, const float *bias, int n, int c, int64_t hw)
{
    for (int64_t nc = 0; nc < (int64_t)n * c; nc++) {
        float bv = bias[nc];
        float *r = y + nc * hw;
        for (int64_t i = 0; i < hw; i++)
            r[i] += bv;
    }
}

MEND_CLONES
void mend_scale(float *x, float s, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        x[i] *= s;
}

/* Each of n matrices [rows, cols] into [cols, rows]. */
MEND_CLONES
static void transpose_each(const float *x, int n, int64_t rows, int64_t cols, float *y)
{
    for (int b = 0; b < n; b++) {
        const float *xb = x + (int64_t)b * rows * cols;
        float *yb = y + (int64_t)b * rows * cols;
        for (int64_t r = 0; r < rows; r++)
            for (int64_t k = 0; k < cols; k++)
                yb[k * rows + r] = xb[r * cols + k];
    }
}

void mend_nchw_to_nhwc(const float *x, int n, int c, int64_t hw, float *y) { transpose_each(x, n, c, hw, y); }

void mend_nhwc_to_nchw(const float *x, int n, int c, int64_t hw, float *y) { transpose_each(x, n, hw, c, y); }

void mend_resize_nearest(const float *x, int n, int c, int h, int w, int oh, int ow, float *y)
{
    for (int64_t nc = 0; nc < (int64_t)n * c; nc++) {
        const float *xs = x + nc * h * w;
        float *ys = y + nc * oh * ow;
        for (int oy = 0; oy < oh; oy++) {
            int iy = (int)((int64_t)oy * h / oh);
            for (int ox = 0; ox < ow; ox++)
                ys[(int64_t)oy * ow + ox] = xs[(int64_t)iy * w + (int)((int64_t)ox * w / ow)];
        }
    }
}

void mend_avg_pool2(const float *x, int n, int c, int h, int w, float *y)
{
    int oh = h / 2, ow = w / 2;
    for (int64_t nc = 0; nc < (int64_t)n * c; nc++) {
        const float *xs = x + nc * h * w;
        float *ys = y + nc * oh * ow;
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                const float *p = xs + (int64_t)(2 * oy) * w + 2 * ox;
                ys[oy * ow + ox] = (p[0] + p[1] + p[w] + p[w + 1]) * 0.25f;
            }
    }
}
