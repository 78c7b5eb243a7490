/* The LDM UNetModel of SD 1.x (openaimodel.py with SpatialTransformer),
 * 4-channel txt2img and 9-channel inpainting variants. Architecture is read
 * from the weights: channels, multipliers, res blocks, attention levels,
 * context dim. */
#ifndef MEND_MODEL_UNET_H
#define MEND_MODEL_UNET_H

#include <stdint.h>

#include "model/weights.h"

#define MEND_UNET_MAX_LEVELS 8

typedef struct mend_unet_arch {
    int in_channels;    /* 4, or 9 for inpainting */
    int out_channels;   /* 4 */
    int model_channels; /* 320 */
    int levels;         /* len(channel_mult) */
    int mult[MEND_UNET_MAX_LEVELS];
    int attn[MEND_UNET_MAX_LEVELS]; /* 1 where the level has transformers */
    int num_res_blocks;    /* 2 */
    int num_heads;         /* 8 for SD 1.x (head dim = channels / heads) */
    int context_dim;       /* 768 */
    int time_embed_dim;    /* 4 * model_channels */
    int transformer_depth; /* 1 */
    int linear_proj;       /* proj_in/out are Linear (SD 2.x style) rather than 1x1 conv */
} mend_unet_arch;

typedef struct mend_unet mend_unet;

/* Optional hook to see intermediate outputs ("time_embed", "input_blocks.N",
 * "middle_block", "output_blocks.N"), as the reference tap/ tensors. */
typedef void (*mend_unet_tap_fn)(void *user, const char *name, const float *data, int ndim, const int64_t *shape);

mend_status mend_unet_load(const mend_wload *l, mend_unet **out, mend_err *err);
/* Compute precision of its convolutions and linears (see kernels.h). */
mend_status mend_unet_set_prec(mend_unet *m, mend_kprec p, mend_err *err);
/* Its weight matrices by canonical (LDM) name ("input_blocks.1.1.proj_in.
 * weight"), for LoRA. */
mend_wstore *mend_unet_weights(mend_unet *m);
void mend_unet_free(mend_unet *u);
const mend_unet_arch *mend_unet_get_arch(const mend_unet *u);
int64_t mend_unet_params(const mend_unet *u);
void mend_unet_set_tap(mend_unet *u, mend_unet_tap_fn fn, void *user);

/* x [B, in_channels, H, W], timesteps [B] (fractional allowed), context
 * [B, T, context_dim] -> out [B, out_channels, H, W]. Any H, W >= 1; when
 * they are not multiples of 2^(levels-1), the upsampled tensor is resized
 * (nearest) to the skip connection's size before concatenation, as A1111. */
mend_status mend_unet_forward(mend_unet *u, const float *x, int B, int H, int W, const float *timesteps,
                              const float *context, int T, float *out, mend_err *err);

/* FLOPs of one forward pass (multiply-add = 2), for benchmarks. */
double mend_unet_flops(const mend_unet *u, int B, int H, int W, int T);

#endif
