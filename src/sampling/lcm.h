/* A1111's LCM sampler side (modules/sd_samplers_lcm.py, v1.10.1):
 * LCMCompVisDenoiser's 50-level schedule, its sigma <-> t mapping, the
 * schedules every A1111 scheduler gives under it, and the consistency
 * boundary scalings. The sampler loop itself is in sampler_lcm.c. */
#ifndef MEND_SAMPLING_LCM_H
#define MEND_SAMPLING_LCM_H

#include "core/err.h"
#include "sampling/schedule.h"

#define MEND_LCM_LEVELS 50 /* LCM "original timesteps" */
#define MEND_LCM_SKIP (MEND_TRAIN_STEPS / MEND_LCM_LEVELS)

typedef struct mend_lcm_schedule {
    /* alphas_cumprod[20j + 19]'s sigmas, j = 0..49, increasing */
    float sigmas[MEND_LCM_LEVELS];
    float log_sigmas[MEND_LCM_LEVELS];
} mend_lcm_schedule;

void mend_lcm_init(mend_lcm_schedule *l, const mend_noise_schedule *s);

/* The integer UNet timestep of a sigma: the nearest level in log space,
 * 20j + 19 (as float). Sigmas between levels snap to one. */
float mend_lcm_sigma_to_t(const mend_lcm_schedule *l, float sigma);

/* Inverse on the level grid: (t - 19) / 20, log-linear between levels. */
float mend_lcm_t_to_sigma(const mend_lcm_schedule *l, float t);

/* Consistency-model boundary condition at sigma's snapped timestep:
 * D_lcm = c_out * D + c_skip * x with scaled t = 10 t, sigma_data 0.5. */
void mend_lcm_scalings(const mend_lcm_schedule *l, float sigma, float *c_skip, float *c_out);

/* The sigmas the LCM sampler gets for `steps` under scheduler sch
 * (Automatic/Uniform: t_to_sigma(linspace(999, 19, steps)); the range-only
 * schedulers use the LCM sigma range; Simple/DDIM/Normal/SGM Uniform walk
 * the 50 levels). out needs mend_schedule_sigmas_capacity(steps). */
mend_status mend_lcm_sigmas(const mend_noise_schedule *s, mend_scheduler sch, int steps, float *out, int *n_out,
                            mend_err *err);

#endif
