/* k-diffusion samplers as A1111 v1.10.1 runs them (k-diffusion ab527a9a),
 * plus A1111's own DDIM, on plain float arrays.
 *
 * The model is behind a denoiser callback D(x, sigma) (CFG, mask blending
 * and the UNet live in the pipeline); random noise comes from a noise
 * callback so the pipeline decides where it comes from:
 *   - ancestral samplers (Euler a, DPM2 a, DPM++ 2S a) and DDIM: A1111 uses
 *     the next draw of each image's seed generator (ImageRNG.next(), i.e.
 *     mend_rng_randn per image);
 *   - SDE samplers (DPM++ SDE, DPM++ 2M SDE, DPM++ 3M SDE): A1111 uses
 *     torchsde's BrownianTree seeded per image, normalised to unit variance:
 *     noise(sigma, sigma_next) = W(sigma, sigma_next)/sqrt|sigma_next - sigma|.
 *     That tree (numpy SeedSequence + torchsde interval tree) is NOT ported
 *     yet, so mend cannot reproduce A1111's SDE images from a seed; the golden
 *     tests replay the noise A1111 recorded. A pipeline without a Brownian
 *     tree should feed seed-generator draws (statistically equivalent, not
 *     seed-compatible with A1111).
 * The noise callback is called only when the sampler actually uses noise.
 * (A1111's Euler/Heun/DPM2 draw and discard one normal per step; since those
 * draws feed nothing, skipping them changes no result.) */
#ifndef MEND_SAMPLING_SAMPLER_H
#define MEND_SAMPLING_SAMPLER_H

#include <stdint.h>

#include "core/err.h"
#include "sampling/schedule.h"

/* Writes D(x, sigma) (the x0 prediction after CFG) for n floats. */
typedef mend_status (*mend_denoise_fn)(void *user, const float *x, float sigma, float *denoised, mend_err *err);

/* Writes n standard-normal values for the step sigma -> sigma_next. */
typedef void (*mend_noise_fn)(void *user, float *out, int64_t n, float sigma, float sigma_next);

/* Called once per step after its first model call, like k-diffusion's
 * callback: step i of total, x at the start of the step (after churn),
 * sigma_i, sigma_hat and that call's denoised. Return MEND_E_INTERRUPTED (or
 * any error, with err filled) to stop; the sampler returns that status. */
typedef mend_status (*mend_step_fn)(void *user, int step, int total, const float *x, const float *denoised,
                                    float sigma, float sigma_hat, mend_err *err);

/* D(x, sigma) with the model's timestep t given instead of sigma_to_t(sigma):
 * for samplers that evaluate the model between training timesteps (UniPC). */
typedef mend_status (*mend_denoise_t_fn)(void *user, const float *x, float sigma, float t, float *denoised,
                                         mend_err *err);

typedef struct mend_sampler_callbacks {
    mend_denoise_fn denoise; /* required */
    mend_noise_fn noise;     /* required by samplers that use noise */
    mend_step_fn step;       /* optional */
    void *user;
    mend_denoise_t_fn denoise_t; /* optional: without it, denoise at sigma (the timestep up to rounding) */
} mend_sampler_callbacks;

typedef enum mend_sampler_kind {
    MEND_SAMPLER_DPMPP_2M = 0,
    MEND_SAMPLER_DPMPP_SDE,
    MEND_SAMPLER_DPMPP_2M_SDE,
    MEND_SAMPLER_DPMPP_2M_SDE_HEUN,
    MEND_SAMPLER_DPMPP_2S_A,
    MEND_SAMPLER_DPMPP_3M_SDE,
    MEND_SAMPLER_EULER_A,
    MEND_SAMPLER_EULER,
    MEND_SAMPLER_LMS,
    MEND_SAMPLER_HEUN,
    MEND_SAMPLER_DPM2,
    MEND_SAMPLER_DPM2_A,
    MEND_SAMPLER_DDIM,
    MEND_SAMPLER_PLMS,
    MEND_SAMPLER_UNIPC,
    MEND_SAMPLER_LCM,
    MEND_SAMPLER_COUNT
} mend_sampler_kind;

enum {
    MEND_SAMPLER_SECOND_ORDER = 1 << 0,  /* two model calls per step (last step one) */
    MEND_SAMPLER_DISCARD_PENULT = 1 << 1, /* schedule built for n+1, second-to-last sigma dropped */
    MEND_SAMPLER_BROWNIAN = 1 << 2,      /* A1111 feeds Brownian-tree noise */
    MEND_SAMPLER_USES_ENSD = 1 << 3,     /* eta_noise_seed_delta applies */
    MEND_SAMPLER_TIMESTEPS = 1 << 4,     /* DDIM: ignores the schedule type */
    MEND_SAMPLER_LCM_MODEL = 1 << 5,     /* LCM: 50-level schedule, LCM denoiser scalings (sampling/lcm.h) */
};

typedef struct mend_sampler_info {
    mend_sampler_kind kind;
    const char *name;               /* A1111 name, e.g. "DPM++ 2M" */
    const char *alias;              /* k-diffusion style alias, e.g. "k_dpmpp_2m" */
    mend_scheduler default_scheduler; /* what "Automatic" means for it */
    unsigned flags;
} mend_sampler_info;

/* All samplers in A1111's UI order. */
const mend_sampler_info *mend_sampler_list(int *count);
const mend_sampler_info *mend_sampler_get(mend_sampler_kind kind);

/* Exact, case-sensitive A1111 name. Unknown -> MEND_E_ARG listing the names. */
mend_status mend_sampler_from_name(const char *name, const mend_sampler_info **out, mend_err *err);

/* A1111 KDiffusionSampler.get_sigmas: resolves Automatic to the sampler's
 * default and applies its discard-penultimate flag. out needs
 * mend_schedule_sigmas_capacity(steps) floats. */
mend_status mend_sampler_sigmas(const mend_sampler_info *info, const mend_noise_schedule *s, mend_scheduler sch,
                                int steps, float *out, int *n_out, mend_err *err);

typedef struct mend_sampler_opts {
    float eta;      /* ancestral/SDE eta (A1111 eta_ancestral, 1); DDIM eta (eta_ddim, 0) */
    float s_noise;  /* 1 */
    float s_churn;  /* 0: Euler/Heun/DPM2 churn off */
    float s_tmin;   /* 0 */
    float s_tmax;   /* +inf */
} mend_sampler_opts;

/* A1111 defaults for a sampler (eta 1 for ancestral/SDE, 0 for DDIM). */
mend_sampler_opts mend_sampler_default_opts(mend_sampler_kind kind);

/* Runs a k-diffusion sampler over sigmas[0..n_sigmas) (n_sigmas - 1 steps)
 * on x (n floats, in place: the starting latent, already scaled by
 * sigmas[0], in, the sample out). opts NULL = defaults.
 *
 * DDIM takes the model's schedule and the number of timesteps instead; use
 * mend_sample_ddim(). */
mend_status mend_sample(mend_sampler_kind kind, const mend_sampler_opts *opts, const float *sigmas, int n_sigmas,
                        float *x, int64_t n, const mend_sampler_callbacks *cb, mend_err *err);

/* A1111's DDIM (sd_samplers_timesteps_impl.ddim), timesteps
 * tau_k = min(1 + k*(1000/steps), 999): x is in the model's
 * variance-preserving scale (txt2img: raw unit noise). The denoiser callback
 * is still D(x, sigma) in k-diffusion scale: it is called with
 * x / sqrt(abar_tau) and sigma = model sigma at tau (sigma_to_t of it gives
 * back tau exactly), so D = x_vp/sqrt(abar) - sigma*eps(x_vp, tau), from which
 * eps is recovered. first_index < steps - 1 starts part-way (img2img,
 * t_enc = first_index + 1); pass steps - 1 for txt2img. */
mend_status mend_sample_ddim(const mend_noise_schedule *s, int steps, int first_index, const mend_sampler_opts *opts,
                             float *x, int64_t n, const mend_sampler_callbacks *cb, mend_err *err);

/* A1111's PLMS (sd_samplers_timesteps_impl.plms) on the same timesteps and
 * the same callback convention as mend_sample_ddim; no eta, no noise. */
mend_status mend_sample_plms(const mend_noise_schedule *s, int steps, int first_index, float *x, int64_t n,
                             const mend_sampler_callbacks *cb, mend_err *err);

/* A1111's UniPC (sd_samplers_timesteps_impl.unipc; bh1, time_uniform,
 * order 3, lower order final) over first_index + 1 of DDIM's timesteps
 * (at least 3), from t = 1 (txt2img) or just above the first one (img2img,
 * A1111's t_start); x in the variance-preserving scale as for DDIM. Uses
 * cb->denoise_t when given. */
mend_status mend_sample_unipc(const mend_noise_schedule *s, int steps, int first_index, int img2img, float *x,
                              int64_t n, const mend_sampler_callbacks *cb, mend_err *err);

/* The timestep sampler `kind` (DDIM, PLMS or UniPC: MEND_SAMPLER_TIMESTEPS);
 * img2img: starting part-way (UniPC's start time depends on it). */
mend_status mend_sample_timesteps(mend_sampler_kind kind, const mend_noise_schedule *s, int steps, int first_index,
                                  int img2img, const mend_sampler_opts *opts, float *x, int64_t n,
                                  const mend_sampler_callbacks *cb, mend_err *err);

/* DDIM's timestep for index k of `steps` (1, 1+1000/steps, ...). */
int mend_ddim_timestep(int steps, int k);

/* How many timesteps A1111 makes for `steps`: clip(range(0, 1000,
 * 1000 // steps) + 1, 0, 999) has ceil(1000 / (1000 // steps)) entries,
 * one more than steps when steps does not divide 1000 (3 -> 4, 30 -> 31).
 * txt2img runs from index count - 1. */
int mend_ddim_count(int steps);

#endif
