/* A1111's CFGDenoiser for eps-prediction SD 1.x models, as a sampler
 * denoiser callback (sampling/sampler.h):
 *   t = sigma_to_t(sigma), c_in = 1/sqrt(sigma^2 + 1)
 *   UNet input = [x * c_in | image conditioning (9-channel models)]
 *   D = x - sigma * eps, for the prompt and the negative prompt
 *   D = D_uncond + (D_cond - D_uncond) * cfg_scale
 *   inpainting: D = D * nmask + init_latent * (1 - nmask)
 * LCM (lcm set): t = the integer LCM timestep of sigma and each branch's D
 * gets the consistency scalings before CFG (sampling/lcm.h).
 * The prompt schedule (prompt editing) advances once per model call, as
 * A1111's CFGDenoiser.step does. */
#ifndef MEND_INPAINT_DENOISER_H
#define MEND_INPAINT_DENOISER_H

#include "inpaint/conditioning.h"
#include "model/unet.h"
#include "sampling/schedule.h"

typedef struct mend_cfg_denoiser {
    mend_unet *unet;
    const mend_noise_schedule *sched;
    int batch, h, w; /* images sampled together, latent size */
    const mend_cond_schedule *cond, *uncond;
    float cfg_scale;
    const float *image_cond;  /* [batch, in_channels - 4, h, w] for inpainting models, else NULL */
    const float *init_latent; /* [batch, 4, h, w] keep-region target, or NULL (no mask) */
    const float *nmask;       /* [h, w], 1 = repaint; NULL = no mask */
    int blend_input;          /* DDIM: blend the keep region into the model's input instead of into D */
    int calls;                /* model calls so far (the prompt schedule's step) */
    float *last_denoised;     /* [batch, 4, h, w]: the latest D, for interrupt (A1111 last_latent) */
    const volatile int *interrupt; /* non-zero: stop at the next call */
    int lcm; /* A1111's LCMCompVisDenoiser: t snapped to the 50 LCM levels, D = c_out*D + c_skip*x per branch */
} mend_cfg_denoiser;

/* Allocates last_denoised; call mend_cfg_denoiser_free after. */
mend_status mend_cfg_denoiser_init(mend_cfg_denoiser *d, mend_err *err);
void mend_cfg_denoiser_free(mend_cfg_denoiser *d);

/* mend_denoise_fn with user = mend_cfg_denoiser*. */
mend_status mend_cfg_denoise(void *user, const float *x, float sigma, float *denoised, mend_err *err);
/* mend_denoise_t_fn: the same with the model's timestep t given (UniPC's fractional timesteps). */
mend_status mend_cfg_denoise_t(void *user, const float *x, float sigma, float t, float *denoised, mend_err *err);

#endif
