/* The LDM AutoencoderKL of SD 1.x (first_stage_model.*): encoder to
 * moments (mean, logvar) and decoder; scale factor 0.18215. */
#ifndef MEND_MODEL_VAE_H
#define MEND_MODEL_VAE_H

#include <stdint.h>

#include "model/weights.h"

#define MEND_VAE_SCALE 0.18215f
#define MEND_VAE_MAX_LEVELS 8

typedef struct mend_vae_arch {
    int ch;          /* 128 */
    int levels;      /* 4 */
    int mult[MEND_VAE_MAX_LEVELS]; /* 1 2 4 4 */
    int num_res_blocks; /* 2 */
    int z_channels;  /* 4 */
    int in_channels; /* 3 */
    int has_encoder, has_decoder;
} mend_vae_arch;

typedef struct mend_vae mend_vae;

mend_status mend_vae_load(const mend_wload *l, mend_vae **out, mend_err *err);
/* Compute precision of its convolutions and linears (see kernels.h). */
mend_status mend_vae_set_prec(mend_vae *m, mend_kprec p, mend_err *err);
void mend_vae_free(mend_vae *v);
const mend_vae_arch *mend_vae_get_arch(const mend_vae *v);
int64_t mend_vae_params(const mend_vae *v);

/* x [N, 3, H, W] in [-1, 1] (H, W multiples of 8) -> moments [N, 2*z, H/8, W/8]
 * (after quant_conv; first z channels = mean, next = logvar, unclamped). */
mend_status mend_vae_encode(const mend_vae *v, const float *x, int N, int H, int W, float *moments, mend_err *err);

/* z [N, z, h, w] in UNet latent space (already multiplied by 0.18215); the
 * decoder divides by the scale -> out [N, 3, 8h, 8w], roughly [-1, 1]. */
mend_status mend_vae_decode(const mend_vae *v, const float *z, int N, int h, int w, float *out, mend_err *err);

double mend_vae_encode_flops(const mend_vae *v, int N, int H, int W);
double mend_vae_decode_flops(const mend_vae *v, int N, int h, int w);

/* The UNet-space latent from encoder moments [N, 2*z, hw]: with noise
 * [N, z, hw] (N(0,1)) it is posterior.sample() =
 * 0.18215 * (mean + exp(0.5 * clamp(logvar, -30, 20)) * noise), as A1111's
 * img2img uses; with noise NULL it is 0.18215 * mean (the mode). */
void mend_vae_posterior(const float *moments, const float *noise, int N, int z, int64_t hw, float *latent);

#endif
