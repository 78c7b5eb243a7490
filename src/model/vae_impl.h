/* The VAE's weight layout shared by its loader (vae_load.c) and its
 * encoder/decoder passes and FLOP count (vae.c). Internal to src/model. */
#ifndef MEND_MODEL_VAE_IMPL_H
#define MEND_MODEL_VAE_IMPL_H

#include "model/vae.h"

#include "kernels/kernels.h"

#define VAE_GROUPS 32
#define VAE_EPS 1e-6f
#define VAE_MAX_BLOCKS 8
#define VAE_OUT_CHANNELS 3

typedef struct vae_conv {
    mend_wmat *w;
    const float *b;
    mend_conv2d_desc d;
} vae_conv;

typedef struct vae_norm {
    const float *g, *b;
} vae_norm;

typedef struct vae_res {
    vae_norm norm1, norm2;
    vae_conv conv1, conv2, nin;
    int has_nin;
} vae_res;

/* Single-head self-attention over the HW pixels; 1x1 convs stored as [C, C]. */
typedef struct vae_attn {
    vae_norm norm;
    mend_wmat *wq, *wk, *wv, *wo;
    const float *bq, *bk, *bv, *bo;
    int c;
} vae_attn;

typedef struct vae_level {
    vae_res block[VAE_MAX_BLOCKS];
    vae_attn attn[VAE_MAX_BLOCKS]; /* only when has_attn (not in SD 1.x) */
    int nblocks, has_attn;
    vae_conv resample; /* downsample (encoder) or upsample conv (decoder) */
    int has_resample;
} vae_level;

typedef struct vae_encoder {
    vae_conv conv_in;
    vae_level down[MEND_VAE_MAX_LEVELS];
    vae_res mid1, mid2;
    vae_attn mid_attn;
    vae_norm norm_out;
    vae_conv conv_out, quant_conv;
} vae_encoder;

typedef struct vae_decoder {
    vae_conv post_quant_conv, conv_in;
    vae_res mid1, mid2;
    vae_attn mid_attn;
    vae_level up[MEND_VAE_MAX_LEVELS];
    vae_norm norm_out;
    vae_conv conv_out;
} vae_decoder;

struct mend_vae {
    mend_vae_arch arch;
    mend_wstore store;
    vae_encoder enc;
    vae_decoder dec;
};


#endif
