/* The UNet's weight layout shared by its loader (unet_load.c) and its
 * forward pass and FLOP count (unet.c). Internal to src/model. */
#ifndef MEND_MODEL_UNET_IMPL_H
#define MEND_MODEL_UNET_IMPL_H

#include "model/unet.h"

#include "kernels/kernels.h"

#define GN_GROUPS 32
#define RES_GN_EPS 1e-5f
#define XF_GN_EPS 1e-6f
#define LN_EPS 1e-5f
#define SD1_HEADS 8
#define FF_MULT 4
#define MAX_BLOCKS 128
#define FF_ROWS 2048 /* token rows per feed-forward chunk: bounds its 8C-wide scratch, still GEMM-sized */

typedef struct norm_w {
    float *g, *b;
} norm_w;

typedef struct conv_w {
    mend_conv2d_desc d;
    mend_wmat *w;
    float *b;
} conv_w;

typedef struct linear_w {
    int in, out;
    mend_wmat *w;
    float *b; /* b may be NULL */
} linear_w;

typedef struct resblock {
    int cin, cout;
    norm_w in_norm;
    conv_w in_conv;
    linear_w emb;
    norm_w out_norm;
    conv_w out_conv;
    int has_skip; /* 1x1 conv on the residual path (cin != cout) */
    conv_w skip;
} resblock;

typedef struct attn_w {
    linear_w q, k, v, out; /* q/k/v without bias */
} attn_w;

typedef struct tblock {
    norm_w n1, n2, n3;
    attn_w self, cross;
    linear_w ff_in, ff_out; /* ff_in gives 2*inner (GEGLU value, gate) */
} tblock;

typedef struct xformer {
    int c, depth;
    norm_w norm;
    linear_w proj_in, proj_out; /* a 1x1 conv is the same product over tokens */
    tblock *blocks;
} xformer;

/* One entry of input_blocks / output_blocks. */
typedef struct block {
    int has_conv; /* conv_in or Downsample */
    conv_w conv;
    int has_res;
    resblock res;
    int has_attn;
    xformer attn;
    int has_up; /* Upsample: nearest x2, then conv */
    conv_w up;
} block;

struct mend_unet {
    mend_unet_arch arch;
    mend_wstore store;
    linear_w time1, time2;
    block *in_blocks, *out_blocks;
    int n_in, n_out;
    resblock mid_res1, mid_res2;
    xformer mid_attn;
    norm_w out_norm;
    conv_w out_conv;
    mend_unet_tap_fn tap;
    void *tap_user;
};

/* An activation: NCHW, owned. */
typedef struct act {
    float *d;
    int c, h, w;
} act;


#endif
