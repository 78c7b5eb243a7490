/* Compute kernels on fp32 buffers. Layouts: images are NCHW, token
 * sequences are [rows, channels] row-major. All kernels run on the shared
 * thread pool and give the same bytes for any thread count (each output
 * element is computed by one thread with a fixed summation order). */
#ifndef MEND_KERNELS_H
#define MEND_KERNELS_H

#include <stdint.h>

#include "mend/mend.h"

/* C[M,N] = alpha * op(A) * op(B) + beta * C, row-major, parallel. */
void mend_gemm(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
               const float *B, int64_t ldb, float beta, float *C, int64_t ldc);

/* The same on the calling thread only (for kernels that parallelise
 * around it). */
void mend_sgemm_1t(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                   int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc);

/* y[rows, out] = x[rows, in] * W[out, in]^T + b (b may be NULL).
 * y must not alias x. */
void mend_linear(const float *x, int64_t rows, int64_t in, const float *W, const float *b, int64_t out, float *y);

typedef struct mend_conv2d_desc {
    int cin, cout;
    int kh, kw;
    int stride;
    int pad_t, pad_l, pad_b, pad_r;
} mend_conv2d_desc;

/* Output size for input h x w. */
void mend_conv2d_out_size(const mend_conv2d_desc *d, int h, int w, int *oh, int *ow);

/* y[N,cout,oh,ow] = conv(x[N,cin,h,w], weight[cout,cin,kh,kw]) + bias (bias may be NULL).
 * Memory beyond x and y is bounded (im2col in tiles). */
mend_status mend_conv2d(const mend_conv2d_desc *d, const float *x, int n, int h, int w, const float *weight,
                        const float *bias, float *y); /* MEND_E_NOMEM if scratch fails */

/* GroupNorm over NCHW; y may alias x. If silu, applies x*sigmoid(x) after the affine. */
void mend_group_norm(const float *x, int n, int c, int64_t hw, int groups, float eps, const float *gamma,
                     const float *beta, int silu, float *y);

/* LayerNorm over the last dimension of [rows, c]; y may alias x. */
void mend_layer_norm(const float *x, int64_t rows, int c, float eps, const float *gamma, const float *beta, float *y);

/* Multi-head scaled dot-product attention.
 * q: [B, nq, heads*dh] with row stride q_stride (elements), k/v likewise with
 * nk rows; out: [B, nq, heads*dh] dense. causal: key j > query i is masked.
 * Works on query blocks so the only scratch is one (block x nk) score tile
 * per thread. */
mend_status mend_attention(const float *q, int64_t q_stride, const float *k, int64_t k_stride, const float *v,
                           int64_t v_stride, float *out, int batch, int heads, int64_t nq, int64_t nk, int dh,
                           int causal); /* MEND_E_NOMEM if scratch fails */

/* Elementwise activations in place. */
void mend_silu(float *x, int64_t n);
void mend_gelu(float *x, int64_t n);       /* exact (erf) GELU */
void mend_quick_gelu(float *x, int64_t n); /* x * sigmoid(1.702 x) */
void mend_tanh_inplace(float *x, int64_t n);
void mend_relu(float *x, int64_t n);

/* GEGLU: in [rows, 2*c] (value half first, gate second) -> out [rows, c] = a * gelu(g). */
void mend_geglu(const float *in, int64_t rows, int64_t c, float *out);

/* y = a + b (may alias either). */
void mend_add(const float *a, const float *b, float *y, int64_t n);
/* y[n, c, hw] += bias[n, c] broadcast over hw. */
void mend_add_channel_bias(float *y, const float *bias, int n, int c, int64_t hw);
void mend_scale(float *x, float s, int64_t n);

/* NCHW <-> [N, HW, C] transposes. */
void mend_nchw_to_nhwc(const float *x, int n, int c, int64_t hw, float *y);
void mend_nhwc_to_nchw(const float *x, int n, int c, int64_t hw, float *y);

/* Nearest-neighbour resize of NCHW to oh x ow (PyTorch 'nearest':
 * src = floor(dst * in / out)). 2x upsampling is the common case. */
void mend_resize_nearest(const float *x, int n, int c, int h, int w, int oh, int ow, float *y);

/* 2x2 average pooling with stride 2 (floor). */
void mend_avg_pool2(const float *x, int n, int c, int h, int w, float *y);

#endif
