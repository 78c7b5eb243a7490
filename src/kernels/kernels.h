/* Compute kernels on fp32 buffers. Layouts: images are NCHW, token
 * sequences are [rows, channels] row-major. All kernels run on the shared
 * thread pool and give the same bytes for any thread count (each output
 * element is computed by one thread with a fixed summation order). */
#ifndef MEND_KERNELS_H
#define MEND_KERNELS_H

#include <stdint.h>

#include "mend/mend.h"

/* The loops mend writes itself (norms, softmax, activations, layout
 * changes) are built for several ISAs and picked at load time (GCC's
 * target_clones, an ifunc) when the build is not for the build machine
 * (-DMEND_NATIVE=OFF): a portable binary then runs them with AVX-512 or
 * AVX2 where the CPU has it. Floating-point contraction is off (ISO C11),
 * so every clone gives the same bytes. */
#if defined(MEND_CLONE_KERNELS) && defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define MEND_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MEND_CLONES
#endif

/* Compute precision of convolutions, linears and attention GEMMs.
 * FP32 is exact (f16/bf16 weights are widened, exactly, on the fly); BF16
 * rounds operands to bf16 and accumulates in fp32 (oneDNN primitives). */
typedef enum mend_kprec { MEND_KPREC_FP32 = 0, MEND_KPREC_BF16 = 1 } mend_kprec;

/* Whether the CPU has native bf16 dot products (AVX512-BF16 or AMX-BF16);
 * when not, *missing names the feature. */
int mend_cpu_has_bf16(const char **missing);

/* A weight matrix kept in its file precision: rows x cols row-major (a conv
 * weight [cout, cin, kh, kw] is cout x cin*kh*kw). The kernels prepare it
 * on first use for the precision asked (oneDNN's blocked layout, bf16 copy)
 * in `prep`; mend_wmat_free releases both. */
typedef enum mend_wtype { MEND_W_F32, MEND_W_F16, MEND_W_BF16 } mend_wtype;
typedef struct mend_wprep mend_wprep;
typedef struct mend_wmat {
    mend_wtype type;
    void *data; /* owned (malloc); NULL once a prepared copy replaced it */
    int64_t rows, cols;
    mend_kprec prec;
    int inexact;      /* set when the only copy left was rounded to bf16 */
    int borrowed;     /* data belongs to the caller */
    mend_wprep *prep; /* kernels' state, created on first use */
} mend_wmat;

/* 64-byte aligned buffers for weights and scratch. Large ones are mapped
 * directly, so freeing one (a f16 source replaced by its bf16 copy) gives
 * the memory back instead of leaving holes in malloc's heap. */
void *mend_big_alloc(size_t bytes);
void mend_big_free(void *p);

/* Scratch of several float arrays in one mend_big_alloc block, so a forward
 * pass allocates, checks and frees once: *fields[i] gets counts[i] floats
 * (each array starts 64-byte aligned). Returns the block to pass to
 * mend_big_free, or NULL (fields untouched) when out of memory. */
float *mend_f32_parts(int n, const int64_t *counts, float **const *fields);

/* A view of caller-owned fp32 weights (tests, tools): never freed, never
 * replaced (`borrowed`). */
mend_wmat mend_wmat_borrow_f32(const float *w, int64_t rows, int64_t cols);
void mend_wmat_free(mend_wmat *w);
/* Sets the precision of the next uses; MEND_E_STATE-like failure when fp32
 * is asked after the fp32-exact source was already replaced by bf16. */
int mend_wmat_set_prec(mend_wmat *w, mend_kprec p);
/* The weights the kernels hold now as plain fp32 [rows, cols] in out: the
 * source widened, or the prepared copy reordered back (after a bf16 run:
 * the bf16-rounded values). For LoRA merges, which need the live weights. */
mend_status mend_wmat_read_f32(const mend_wmat *w, float *out);

/* C[M,N] = alpha * op(A) * op(B) + beta * C, row-major, parallel. */
void mend_gemm(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
               const float *B, int64_t ldb, float beta, float *C, int64_t ldc);

/* The same on the calling thread only (for kernels that parallelise
 * around it). */
void mend_sgemm_1t(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                   int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc);

/* y[rows, out] = x[rows, in] * W[out, in]^T + b (b may be NULL).
 * y must not alias x. MEND_E_NOMEM if scratch fails. */
mend_status mend_linear(const float *x, int64_t rows, int64_t in, mend_wmat *W, const float *b, int64_t out,
                        float *y);

typedef struct mend_conv2d_desc {
    int cin, cout;
    int kh, kw;
    int stride;
    int pad_t, pad_l, pad_b, pad_r;
} mend_conv2d_desc;

/* Output size for input h x w. */
void mend_conv2d_out_size(const mend_conv2d_desc *d, int h, int w, int *oh, int *ow);

/* y[N,cout,oh,ow] = conv(x[N,cin,h,w], weight[cout,cin,kh,kw]) + bias (bias may be NULL).
 * A oneDNN convolution primitive (cached per weight and input shape) on
 * NHWC copies of x and y; the weights are reordered into its layout. */
mend_status mend_conv2d(const mend_conv2d_desc *d, const float *x, int n, int h, int w, mend_wmat *weight,
                        const float *bias, float *y); /* MEND_E_NOMEM if scratch fails */

/* A1111's tiling (conv_circular.c): while on (for the calling thread),
 * mend_conv2d pads circularly wherever a convolution pads itself
 * (symmetric padding > 0); zero-padded otherwise. */
void mend_conv2d_set_circular(int on);
int mend_conv2d_circular_applies(const mend_conv2d_desc *d);
mend_status mend_conv2d_circular(const mend_conv2d_desc *d, const float *x, int n, int h, int w, mend_wmat *weight,
                                 const float *bias, float *y);

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
