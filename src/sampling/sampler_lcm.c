/* A1111's LCM sampler (sd_samplers_lcm.py): LCMCompVisDenoiser's
 * 50-level schedule and sample_lcm. Arithmetic in float32 like the torch
 * code; see lcm.h. */
#include "sampling/lcm.h"
#include "sampling/sampler_impl.h"

#include <math.h>
#include <string.h>

void mend_lcm_init(mend_lcm_schedule *l, const mend_noise_schedule *s)
{
    /* alphas_cumprod_valid[49 - x] = alphas_cumprod[999 - 20x]: the sigma
     * of the same float32 alpha, so the model table's entry is reused */
    for (int j = 0; j < MEND_LCM_LEVELS; j++) {
        int k = j * MEND_LCM_SKIP + (MEND_LCM_SKIP - 1);
        l->sigmas[j] = s->sigmas[k];
        l->log_sigmas[j] = s->log_sigmas[k];
    }
}

float mend_lcm_sigma_to_t(const mend_lcm_schedule *l, float sigma)
{
    float ls = logf(sigma);
    int best = 0;
    float bd = fabsf(ls - l->log_sigmas[0]);
    for (int j = 1; j < MEND_LCM_LEVELS; j++) {
        float d = fabsf(ls - l->log_sigmas[j]);
        if (d < bd) { /* torch argmin: the first of equal minima */
            bd = d;
            best = j;
        }
    }
    return (float)(best * MEND_LCM_SKIP + (MEND_LCM_SKIP - 1));
}

float mend_lcm_t_to_sigma(const mend_lcm_schedule *l, float t)
{
    float u = (t - (float)(MEND_LCM_SKIP - 1)) / (float)MEND_LCM_SKIP;
    return mend_log_sigma_at(l->log_sigmas, MEND_LCM_LEVELS, u);
}

void mend_lcm_scalings(const mend_lcm_schedule *l, float sigma, float *c_skip, float *c_out)
{
    const float sd2 = 0.25f; /* sigma_data^2 */
    float st = mend_lcm_sigma_to_t(l, sigma) * 10.0f;
    *c_skip = sd2 / (st * st + sd2);
    *c_out = st / sqrtf(st * st + sd2);
}

/* LCMCompVisDenoiser.get_sigmas(n) and the schedulers that call the inner
 * model's sigma_to_t / t_to_sigma / sigmas (sd_schedulers.py). */
static int lcm_table_sigmas(const mend_lcm_schedule *l, mend_scheduler sch, int n, float *out)
{
    const int L = MEND_LCM_LEVELS;
    float start = mend_lcm_sigma_to_t(l, l->sigmas[L - 1]), end = mend_lcm_sigma_to_t(l, l->sigmas[0]);
    int count = 0;
    switch (sch) {
    case MEND_SCHED_AUTOMATIC:
    case MEND_SCHED_UNIFORM:
    case MEND_SCHED_NORMAL:
        for (int i = 0; i < n; i++)
            out[count++] = mend_lcm_t_to_sigma(l, mend_linspace_f32(start, end, n, i));
        break;
    case MEND_SCHED_SGM_UNIFORM:
        for (int i = 0; i < n; i++)
            out[count++] = mend_lcm_t_to_sigma(l, mend_linspace_f32(start, end, n + 1, i));
        break;
    case MEND_SCHED_SIMPLE: {
        double ss = (double)L / n;
        for (int i = 0; i < n; i++)
            out[count++] = l->sigmas[L - 1 - (int)(i * ss)];
        break;
    }
    case MEND_SCHED_DDIM: {
        int ss = L / n > 1 ? L / n : 1;
        for (int x = 1; x < L; x += ss)
            count++;
        int k = count - 1;
        for (int x = 1; x < L; x += ss)
            out[k--] = l->sigmas[x];
        break;
    }
    default: return -1;
    }
    out[count] = 0.0f;
    return count + 1;
}

mend_status mend_lcm_sigmas(const mend_noise_schedule *s, mend_scheduler sch, int steps, float *out, int *n_out,
                            mend_err *err)
{
    if (steps < 1 || steps > 100000)
        return mend_fail(err, MEND_E_ARG, "schedule: steps must be in 1..100000, got %d", steps);
    mend_lcm_schedule l;
    mend_lcm_init(&l, s);
    int count = mend_schedule_range_sigmas(sch, l.sigmas[0], l.sigmas[MEND_LCM_LEVELS - 1], steps, out);
    if (count < 0)
        count = lcm_table_sigmas(&l, sch, steps, out);
    if (count < 0)
        return mend_fail(err, MEND_E_ARG, "schedule: unknown scheduler id %d", (int)sch);
    *n_out = count;
    return MEND_OK;
}

/* sample_lcm: x = D(x, sigma_i), then re-noised to sigma_{i+1} with a fresh
 * draw (A1111's ImageRNG through randn_like) unless that is the end. */
mend_status ks_run_lcm(ks_ctx *c, const float *sig, int ns, float *x)
{
    float *den = c->buf[0], *noise = c->buf[1];
    for (int i = 0; i + 1 < ns; i++) {
        MEND_TRY(ks_denoise_at(c, sig, i, x, den));
        memcpy(x, den, (size_t)c->n * sizeof *x);
        if (sig[i + 1] > 0.0f) {
            MEND_TRY(ks_noise(c, noise, sig[i], sig[i + 1]));
            for (int64_t k = 0; k < c->n; k++)
                x[k] += sig[i + 1] * noise[k];
        }
    }
    return MEND_OK;
}
