/* The SD 1.x discrete noise schedule and A1111's sigma schedules
 * (modules/sd_schedulers.py, KDiffusionSampler.get_sigmas), computed as
 * A1111/k-diffusion do it (betas in float64, alphas_cumprod stored float32,
 * sigmas and schedules in float32). Pure arithmetic: no model needed. */
#ifndef MEND_SAMPLING_SCHEDULE_H
#define MEND_SAMPLING_SCHEDULE_H

#include "core/err.h"

#define MEND_TRAIN_STEPS 1000

typedef struct mend_noise_schedule {
    float alphas_cumprod[MEND_TRAIN_STEPS];
    float sigmas[MEND_TRAIN_STEPS];     /* sqrt((1 - a) / a), increasing */
    float log_sigmas[MEND_TRAIN_STEPS];
} mend_noise_schedule;

/* ldm "linear" schedule: betas = linspace(sqrt(start), sqrt(end), 1000)^2. */
mend_status mend_schedule_init_linear(mend_noise_schedule *s, double linear_start, double linear_end, mend_err *err);

/* SD 1.x / 2.x: linear_start 0.00085, linear_end 0.012. */
void mend_schedule_init_sd1(mend_noise_schedule *s);

/* A1111's sd_noise_schedule "Zero Terminal SNR" (rescale_zero_terminal_snr_abar,
 * float32): sqrt(abar) shifted so the last is 0 and scaled so the first stays,
 * squared, the last set to 4.8973451890853435e-08; sigmas follow. */
void mend_schedule_zero_terminal_snr(mend_noise_schedule *s);

static inline float mend_schedule_sigma_min(const mend_noise_schedule *s) { return s->sigmas[0]; }
static inline float mend_schedule_sigma_max(const mend_noise_schedule *s) { return s->sigmas[MEND_TRAIN_STEPS - 1]; }

/* k-diffusion DiscreteSchedule: fractional timestep of a sigma (log-linear
 * interpolation, quantize = False) and its inverse. */
float mend_schedule_sigma_to_t(const mend_noise_schedule *s, float sigma);
float mend_schedule_t_to_sigma(const mend_noise_schedule *s, float t);
/* exp of log_sigmas[] (n levels) linearly interpolated at fractional level
 * u, clamped to 0..n-1: k-diffusion's t_to_sigma, for any table. */
float mend_log_sigma_at(const float *log_sigmas, int n, float u);

typedef enum mend_scheduler {
    MEND_SCHED_AUTOMATIC = 0, /* the sampler's default; resolved by the sampler layer, else Uniform */
    MEND_SCHED_UNIFORM,
    MEND_SCHED_KARRAS,
    MEND_SCHED_EXPONENTIAL,
    MEND_SCHED_POLYEXPONENTIAL,
    MEND_SCHED_SGM_UNIFORM,
    MEND_SCHED_KL_OPTIMAL,
    MEND_SCHED_ALIGN_YOUR_STEPS,
    MEND_SCHED_SIMPLE,
    MEND_SCHED_NORMAL,
    MEND_SCHED_DDIM,
    MEND_SCHED_BETA, /* alpha = beta = 0.6 (A1111 defaults) */
    MEND_SCHED_COUNT
} mend_scheduler;

/* A1111 label ("Karras") and name ("karras"). */
const char *mend_scheduler_label(mend_scheduler sch);
const char *mend_scheduler_name(mend_scheduler sch);

/* Accepts the name or the label (and the alias "SGMUniform"), exactly as
 * A1111's schedulers_map does. Unknown -> MEND_E_ARG listing valid labels. */
mend_status mend_scheduler_from_name(const char *name, mend_scheduler *out, mend_err *err);

/* The comma-separated list of valid names an "unknown name" message shows:
 * name_at(0..count-1), truncated at size. */
void mend_names_list(char *list, size_t size, int count, const char *(*name_at)(int i));

/* Capacity `out` needs for mend_schedule_sigmas() of `steps` steps (the
 * DDIM schedule has up to 999 non-zero values whatever the step count). */
static inline int mend_schedule_sigmas_capacity(int steps) { return steps + 3 > 1001 ? steps + 3 : 1001; }

/* The sigmas a k-diffusion sampler receives for `steps` steps: n+1 values
 * from sigma_max down, ending in 0 (KL Optimal: ending in sigma_min; DDIM
 * may give more). discard_penultimate (DPM2, DPM2 a, DPM++ 3M SDE) builds
 * steps+1 and drops the second-to-last value. Automatic is Uniform here
 * (the sampler layer substitutes the sampler's default first). */
mend_status mend_schedule_sigmas(const mend_noise_schedule *s, mend_scheduler sch, int steps, int discard_penultimate,
                                 float *out, int *n_out, mend_err *err);

/* Internal to src/sampling: the schedulers that only need the sigma range
 * (Karras, Exponential, Polyexponential, KL Optimal, Align Your Steps,
 * Beta), for n steps into out (n+1 values); returns the count, or -1 when
 * sch needs the model's own table. And torch.linspace's element i. */
int mend_schedule_range_sigmas(mend_scheduler sch, double smin, double smax, int n, float *out);
float mend_linspace_f32(float start, float end, int n, int i);

/* img2img / inpaint denoising strength (img2img_fix_steps off):
 * t_enc = int(min(strength, 0.999) * steps) in double, and the sampler runs
 * sigmas[steps - t_enc - 1 :] of the full schedule, i.e. t_enc + 1 steps.
 * Returns that start index (0 .. steps-1). */
int mend_img2img_t_enc(double strength, int steps);
int mend_img2img_start_index(double strength, int steps);

#endif
