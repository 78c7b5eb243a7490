/* Internal helpers shared by the sampler implementations. */
#ifndef MEND_SAMPLING_SAMPLER_IMPL_H
#define MEND_SAMPLING_SAMPLER_IMPL_H

#include "sampling/sampler.h"

#define KS_MAX_BUF 10

typedef struct ks_ctx {
    mend_sampler_opts opts;
    int64_t n;
    int total; /* number of steps, for the step callback */
    const mend_sampler_callbacks *cb;
    mend_err *err;
    float *buf[KS_MAX_BUF];
} ks_ctx;

/* Validates callbacks and allocates nbuf work buffers of n floats. */
/* The arguments DDIM and PLMS share: steps in 2..1000 and a first index
 * in 1..mend_ddim_count(steps) - 1; `name` labels the message. */
mend_status ks_check_ddim_args(const char *name, int steps, int first_index, mend_err *err);

mend_status ks_init(ks_ctx *c, const mend_sampler_opts *opts, mend_sampler_kind kind, int64_t n, int total,
                    int nbuf, const mend_sampler_callbacks *cb, mend_err *err);
void ks_free(ks_ctx *c);

mend_status ks_denoise(ks_ctx *c, const float *x, float sigma, float *out);
/* Through cb->denoise_t with the timestep t when the caller gave one, else ks_denoise. */
mend_status ks_denoise_t(ks_ctx *c, const float *x, float sigma, float t, float *out);
mend_status ks_step(ks_ctx *c, int i, const float *x, const float *denoised, float sigma, float sigma_hat);
mend_status ks_noise(ks_ctx *c, float *out, float sigma, float sigma_next);
/* The first half of most sampler steps: denoise x at sigma_i into den,
 * then report step i (ks_step). */
mend_status ks_denoise_at(ks_ctx *c, const float *sig, int i, const float *x, float *den);

/* k-diffusion get_ancestral_step: (sigma_down, sigma_up) for eta. */
void ks_ancestral(float sigma_from, float sigma_to, float eta, float *down, float *up);

/* sample_lcm (sampler_lcm.c); needs 2 buffers. */
mend_status ks_run_lcm(ks_ctx *c, const float *sig, int ns, float *x);

#endif
