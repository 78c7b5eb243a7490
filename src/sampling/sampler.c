/* Sampler catalogue, name lookup, schedule resolution and the shared
 * machinery (buffers, callbacks) of the samplers in sampler_kdiff.c. */
#include "sampling/sampler_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A1111 v1.10.1 UI order (sd_samplers_kdiffusion.samplers_k_diffusion, then
 * the timestep samplers). */
static const mend_sampler_info sampler_table[MEND_SAMPLER_COUNT] = {
    {MEND_SAMPLER_DPMPP_2M, "DPM++ 2M", "k_dpmpp_2m", MEND_SCHED_KARRAS, 0},
    {MEND_SAMPLER_DPMPP_SDE, "DPM++ SDE", "k_dpmpp_sde", MEND_SCHED_KARRAS,
     MEND_SAMPLER_SECOND_ORDER | MEND_SAMPLER_BROWNIAN},
    {MEND_SAMPLER_DPMPP_2M_SDE, "DPM++ 2M SDE", "k_dpmpp_2m_sde", MEND_SCHED_EXPONENTIAL, MEND_SAMPLER_BROWNIAN},
    {MEND_SAMPLER_DPMPP_2M_SDE_HEUN, "DPM++ 2M SDE Heun", "k_dpmpp_2m_sde_heun", MEND_SCHED_EXPONENTIAL,
     MEND_SAMPLER_BROWNIAN},
    {MEND_SAMPLER_DPMPP_2S_A, "DPM++ 2S a", "k_dpmpp_2s_a", MEND_SCHED_KARRAS,
     MEND_SAMPLER_USES_ENSD | MEND_SAMPLER_SECOND_ORDER},
    {MEND_SAMPLER_DPMPP_3M_SDE, "DPM++ 3M SDE", "k_dpmpp_3m_sde", MEND_SCHED_EXPONENTIAL,
     MEND_SAMPLER_DISCARD_PENULT | MEND_SAMPLER_BROWNIAN},
    {MEND_SAMPLER_EULER_A, "Euler a", "k_euler_a", MEND_SCHED_UNIFORM, MEND_SAMPLER_USES_ENSD},
    {MEND_SAMPLER_EULER, "Euler", "k_euler", MEND_SCHED_UNIFORM, 0},
    {MEND_SAMPLER_LMS, "LMS", "k_lms", MEND_SCHED_UNIFORM, 0},
    {MEND_SAMPLER_HEUN, "Heun", "k_heun", MEND_SCHED_UNIFORM, MEND_SAMPLER_SECOND_ORDER},
    {MEND_SAMPLER_DPM2, "DPM2", "k_dpm_2", MEND_SCHED_KARRAS,
     MEND_SAMPLER_DISCARD_PENULT | MEND_SAMPLER_SECOND_ORDER},
    {MEND_SAMPLER_DPM2_A, "DPM2 a", "k_dpm_2_a", MEND_SCHED_KARRAS,
     MEND_SAMPLER_DISCARD_PENULT | MEND_SAMPLER_USES_ENSD | MEND_SAMPLER_SECOND_ORDER},
    {MEND_SAMPLER_DDIM, "DDIM", "ddim", MEND_SCHED_AUTOMATIC, MEND_SAMPLER_TIMESTEPS},
};

const mend_sampler_info *mend_sampler_list(int *count)
{
    if (count)
        *count = MEND_SAMPLER_COUNT;
    return sampler_table;
}

const mend_sampler_info *mend_sampler_get(mend_sampler_kind kind)
{
    return (unsigned)kind < MEND_SAMPLER_COUNT ? &sampler_table[kind] : NULL;
}

mend_status mend_sampler_from_name(const char *name, const mend_sampler_info **out, mend_err *err)
{
    for (int i = 0; name && i < MEND_SAMPLER_COUNT; i++)
        if (strcmp(name, sampler_table[i].name) == 0) {
            *out = &sampler_table[i];
            return MEND_OK;
        }
    char list[512] = "";
    for (int i = 0; i < MEND_SAMPLER_COUNT; i++) {
        strncat(list, sampler_table[i].name, sizeof list - strlen(list) - 1);
        if (i + 1 < MEND_SAMPLER_COUNT)
            strncat(list, ", ", sizeof list - strlen(list) - 1);
    }
    return mend_fail(err, MEND_E_ARG, "unknown sampler '%s' (names are case-sensitive; valid: %s)",
                     name ? name : "(null)", list);
}

mend_status mend_sampler_sigmas(const mend_sampler_info *info, const mend_noise_schedule *s, mend_scheduler sch,
                                int steps, float *out, int *n_out, mend_err *err)
{
    if (sch == MEND_SCHED_AUTOMATIC)
        sch = info->default_scheduler;
    int discard = (info->flags & MEND_SAMPLER_DISCARD_PENULT) != 0;
    return mend_schedule_sigmas(s, sch, steps, discard, out, n_out, err);
}

mend_sampler_opts mend_sampler_default_opts(mend_sampler_kind kind)
{
    mend_sampler_opts o;
    o.eta = kind == MEND_SAMPLER_DDIM ? 0.0f : 1.0f;
    o.s_noise = 1.0f;
    o.s_churn = 0.0f;
    o.s_tmin = 0.0f;
    o.s_tmax = INFINITY;
    return o;
}

/* ------------------------------------------------------------ machinery */

mend_status ks_init(ks_ctx *c, const mend_sampler_opts *opts, mend_sampler_kind kind, int64_t n, int total,
                    int nbuf, const mend_sampler_callbacks *cb, mend_err *err)
{
    memset(c, 0, sizeof *c);
    c->opts = opts ? *opts : mend_sampler_default_opts(kind);
    c->n = n;
    c->total = total;
    c->cb = cb;
    c->err = err;
    if (!cb || !cb->denoise)
        return mend_fail(err, MEND_E_ARG, "sampler %s: no denoiser callback", mend_sampler_get(kind)->name);
    if (n <= 0)
        return mend_fail(err, MEND_E_ARG, "sampler %s: latent has %lld elements", mend_sampler_get(kind)->name,
                         (long long)n);
    if (nbuf > KS_MAX_BUF)
        return mend_fail(err, MEND_E_ARG, "sampler: too many work buffers");
    for (int i = 0; i < nbuf; i++) {
        c->buf[i] = malloc((size_t)n * sizeof(float));
        if (!c->buf[i]) {
            ks_free(c);
            return mend_fail(err, MEND_E_NOMEM, "sampler %s: cannot allocate %d work buffers of %lld floats",
                             mend_sampler_get(kind)->name, nbuf, (long long)n);
        }
    }
    return MEND_OK;
}

void ks_free(ks_ctx *c)
{
    for (int i = 0; i < KS_MAX_BUF; i++) {
        free(c->buf[i]);
        c->buf[i] = NULL;
    }
}

mend_status ks_denoise(ks_ctx *c, const float *x, float sigma, float *out)
{
    mend_status st = c->cb->denoise(c->cb->user, x, sigma, out, c->err);
    if (st != MEND_OK && c->err && c->err->code == MEND_OK)
        c->err->code = st; /* keep the status even if the callback forgot to fill err */
    return st;
}

mend_status ks_step(ks_ctx *c, int i, const float *x, const float *denoised, float sigma, float sigma_hat)
{
    if (!c->cb->step)
        return MEND_OK;
    return c->cb->step(c->cb->user, i, c->total, x, denoised, sigma, sigma_hat, c->err);
}

mend_status ks_noise(ks_ctx *c, float *out, float sigma, float sigma_next)
{
    if (!c->cb->noise)
        return mend_fail(c->err, MEND_E_ARG, "sampler needs noise but no noise callback was given");
    c->cb->noise(c->cb->user, out, c->n, sigma, sigma_next);
    return MEND_OK;
}

void ks_ancestral(float sigma_from, float sigma_to, float eta, float *down, float *up)
{
    if (eta == 0.0f) {
        *down = sigma_to;
        *up = 0.0f;
        return;
    }
    double f = sigma_from, t = sigma_to;
    double u = eta * sqrt(t * t * (f * f - t * t) / (f * f));
    if (u > t)
        u = t;
    *up = (float)u;
    *down = (float)sqrt(t * t - u * u);
}
