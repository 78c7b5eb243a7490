/* 2-D convolution as GEMM: y[cout, P] = W[cout, K] * col[K, P] with
 * K = cin*kh*kw and P = output pixels. Large images are cut into column
 * tiles, each thread building the im2col of its own tile, so scratch memory
 * stays a few MiB whatever the image size. 1x1 stride-1 convolutions need
 * no im2col at all. Small images (few tiles) build one im2col and split the
 * GEMM over output channels instead. */
#include "kernels/kernels.h"

#include "core/threads.h"

#include <stdlib.h>
#include <string.h>


#define TILE_BYTES (8u << 20) /* im2col scratch per thread: large enough that re-packing the weights per tile is amortised */

void mend_conv2d_out_size(const mend_conv2d_desc *d, int h, int w, int *oh, int *ow)
{
    *oh = (h + d->pad_t + d->pad_b - d->kh) / d->stride + 1;
    *ow = (w + d->pad_l + d->pad_r - d->kw) / d->stride + 1;
}

static int is_pointwise(const mend_conv2d_desc *d)
{
    return d->kh == 1 && d->kw == 1 && d->stride == 1 && !d->pad_t && !d->pad_l && !d->pad_b && !d->pad_r;
}

/* One im2col row segment: output pixels ox0..ox1-1 of output row oy for
 * kernel tap (ky, kx). Stride 1 copies a contiguous input run between the
 * zero-padded edges. */
static void im2col_run(const mend_conv2d_desc *d, const float *xc, int h, int w, int oy, int ox0, int ox1, int ky,
                       int kx, float *dst)
{
    int iy = oy * d->stride - d->pad_t + ky;
    if (iy < 0 || iy >= h) {
        memset(dst, 0, (size_t)(ox1 - ox0) * sizeof *dst);
        return;
    }
    const float *src = xc + (int64_t)iy * w;
    if (d->stride == 1) {
        int ix0 = ox0 - d->pad_l + kx;
        int lo = ix0 < 0 ? -ix0 : 0;                          /* leading zeros */
        int hi = ix0 + (ox1 - ox0) > w ? w - ix0 : ox1 - ox0; /* end of valid run */
        if (hi < lo)
            hi = lo;
        if (lo > ox1 - ox0)
            lo = hi = ox1 - ox0;
        memset(dst, 0, (size_t)lo * sizeof *dst);
        memcpy(dst + lo, src + ix0 + lo, (size_t)(hi - lo) * sizeof *dst);
        memset(dst + hi, 0, (size_t)(ox1 - ox0 - hi) * sizeof *dst);
        return;
    }
    for (int ox = ox0; ox < ox1; ox++) {
        int ix = ox * d->stride - d->pad_l + kx;
        dst[ox - ox0] = ix >= 0 && ix < w ? src[ix] : 0.0f;
    }
}

/* col[K, cols] for output pixels p0 .. p0+cols-1 of one image. */
static void im2col(const mend_conv2d_desc *d, const float *x, int h, int w, int ow, int64_t p0, int64_t cols,
                   float *col)
{
    int64_t row = 0;
    for (int ci = 0; ci < d->cin; ci++) {
        const float *xc = x + (int64_t)ci * h * w;
        for (int ky = 0; ky < d->kh; ky++) {
            for (int kx = 0; kx < d->kw; kx++, row++) {
                float *dst = col + row * cols;
                int64_t p = p0, end = p0 + cols;
                while (p < end) {
                    int oy = (int)(p / ow), ox0 = (int)(p % ow);
                    int ox1 = (int)(end - (int64_t)oy * ow < ow ? end - (int64_t)oy * ow : ow);
                    im2col_run(d, xc, h, w, oy, ox0, ox1, ky, kx, dst + (p - p0));
                    p += ox1 - ox0;
                }
            }
        }
    }
}

typedef struct conv_job {
    const mend_conv2d_desc *d;
    const float *x, *weight, *bias;
    float *y;
    int h, w, oh, ow;
    int64_t P, K, tile, ntiles;
    volatile int nomem; /* set by a thread whose scratch allocation failed */
} conv_job;

static void add_bias_rows(float *y, const float *bias, int cout, int64_t ld, int64_t cols)
{
    if (!bias)
        return;
    for (int co = 0; co < cout; co++) {
        float *r = y + co * ld;
        for (int64_t j = 0; j < cols; j++)
            r[j] += bias[co];
    }
}

/* One task = one column tile of one image. */
static void conv_tiles(void *ctx, int64_t b, int64_t e, int thread)
{
    const conv_job *j = ctx;
    const mend_conv2d_desc *d = j->d;
    float *col = is_pointwise(d) ? NULL : malloc((size_t)(j->K * j->tile) * sizeof *col);
    if (!is_pointwise(d) && !col) {
        ((conv_job *)ctx)->nomem = 1;
        return;
    }
    for (int64_t t = b; t < e; t++) {
        int64_t img = t / j->ntiles, p0 = (t % j->ntiles) * j->tile;
        int64_t cols = j->P - p0 < j->tile ? j->P - p0 : j->tile;
        const float *x = j->x + img * d->cin * (int64_t)j->h * j->w;
        float *y = j->y + img * d->cout * j->P + p0;
        const float *B = x + p0;
        int64_t ldb = j->P;
        if (col) {
            im2col(d, x, j->h, j->w, j->ow, p0, cols, col);
            B = col;
            ldb = cols;
        }
        mend_sgemm_1t(0, 0, d->cout, cols, j->K, 1.0f,
                    j->weight, j->K, B, ldb, 0.0f, y, j->P);
        add_bias_rows(y, j->bias, d->cout, j->P, cols);
    }
    free(col);
}

mend_status mend_conv2d(const mend_conv2d_desc *d, const float *x, int n, int h, int w, const float *weight,
                        const float *bias, float *y)
{
    conv_job j = {.d = d, .x = x, .weight = weight, .bias = bias, .y = y, .h = h, .w = w};
    mend_conv2d_out_size(d, h, w, &j.oh, &j.ow);
    j.P = (int64_t)j.oh * j.ow;
    j.K = (int64_t)d->cin * d->kh * d->kw;
    /* Tile geometry depends only on the problem (not the thread count), so
     * results are bit-identical for any number of threads. */
    int64_t tile = (int64_t)(TILE_BYTES / sizeof(float)) / j.K;
    tile = tile < 64 ? 64 : tile > 1024 ? 1024 : tile & ~(int64_t)15;
    if (is_pointwise(d))
        tile = 512;
    if (j.P >= 2 * tile) {
        j.tile = tile;
        j.ntiles = (j.P + tile - 1) / tile;
        mend_parallel_for(n * j.ntiles, conv_tiles, &j);
        return j.nomem ? MEND_E_NOMEM : MEND_OK;
    }
    /* Small image: whole im2col, GEMM split over output channels. */
    float *col = is_pointwise(d) ? NULL : malloc((size_t)(j.K * j.P) * sizeof *col);
    if (!is_pointwise(d) && !col)
        return MEND_E_NOMEM;
    for (int img = 0; img < n; img++) {
        const float *xi = x + (int64_t)img * d->cin * h * w;
        float *yi = y + (int64_t)img * d->cout * j.P;
        const float *B = xi;
        if (col) {
            im2col(d, xi, h, w, j.ow, 0, j.P, col);
            B = col;
        }
        mend_gemm(0, 0, d->cout, j.P, j.K, 1.0f, weight, j.K, B, j.P, 0.0f, yi, j.P);
        add_bias_rows(yi, bias, d->cout, j.P, j.P);
    }
    free(col);
    return MEND_OK;
}
