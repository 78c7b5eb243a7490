/* Sampler catalogue, name lookup, schedule resolution and the shared
 * machinery (buffers, callbacks) of the samplers in sampler_kdiff.c. */
#include "sampling/sampler_impl.h"

#include "sampling/lcm.h"

#include "mend/params.h"

#include <math.h>
#include <stdio.h>
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
    {MEND_SAMPLER_PLMS, "PLMS", "plms", MEND_SCHED_AUTOMATIC, MEND_SAMPLER_TIMESTEPS},
    {MEND_SAMPLER_UNIPC, "UniPC", "unipc", MEND_SCHED_AUTOMATIC, MEND_SAMPLER_TIMESTEPS},
    /* sd_samplers_lcm.samplers_lcm; Automatic = the LCM denoiser's own
     * get_sigmas, which is also what Uniform gives under it */
    {MEND_SAMPLER_LCM, "LCM", "k_lcm", MEND_SCHED_UNIFORM, MEND_SAMPLER_LCM_MODEL},
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

static const char *sampler_name_at(int i) { return sampler_table[i].name; }

mend_status mend_sampler_from_name(const char *name, const mend_sampler_info **out, mend_err *err)
{
    for (int i = 0; name && i < MEND_SAMPLER_COUNT; i++)
        if (strcmp(name, sampler_table[i].name) == 0) {
            *out = &sampler_table[i];
            return MEND_OK;
        }
    char list[512];
    mend_names_list(list, sizeof list, MEND_SAMPLER_COUNT, sampler_name_at);
    return mend_fail(err, MEND_E_ARG, "unknown sampler '%s' (names are case-sensitive; valid: %s)",
                     name ? name : "(null)", list);
}

mend_status mend_sampler_sigmas(const mend_sampler_info *info, const mend_noise_schedule *s, mend_scheduler sch,
                                int steps, float *out, int *n_out, mend_err *err)
{
    if (sch == MEND_SCHED_AUTOMATIC)
        sch = info->default_scheduler;
    int discard = (info->flags & MEND_SAMPLER_DISCARD_PENULT) != 0;
    if (info->flags & MEND_SAMPLER_LCM_MODEL)
        return mend_lcm_sigmas(s, sch, steps, out, n_out, err);
    return mend_schedule_sigmas(s, sch, steps, discard, out, n_out, err);
}

mend_status mend_sample_timesteps(mend_sampler_kind kind, const mend_noise_schedule *s, int steps, int first_index,
                                  int img2img, const mend_sampler_opts *opts, float *x, int64_t n,
                                  const mend_sampler_callbacks *cb, mend_err *err)
{
    if (kind == MEND_SAMPLER_UNIPC)
        return mend_sample_unipc(s, steps, first_index, img2img, x, n, cb, err);
    if (kind == MEND_SAMPLER_PLMS)
        return mend_sample_plms(s, steps, first_index, x, n, cb, err);
    if (kind == MEND_SAMPLER_DDIM)
        return mend_sample_ddim(s, steps, first_index, opts, x, n, cb, err);
    return mend_fail(err, MEND_E_ARG, "sampler id %d is not a timestep sampler", (int)kind);
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

mend_status ks_denoise_t(ks_ctx *c, const float *x, float sigma, float t, float *out)
{
    if (!c->cb->denoise_t)
        return ks_denoise(c, x, sigma, out);
    mend_status st = c->cb->denoise_t(c->cb->user, x, sigma, t, out, c->err);
    if (st != MEND_OK && c->err && c->err->code == MEND_OK)
        c->err->code = st;
    return st;
}

mend_status ks_step(ks_ctx *c, int i, const float *x, const float *denoised, float sigma, float sigma_hat)
{
    if (!c->cb->step)
        return MEND_OK;
    return c->cb->step(c->cb->user, i, c->total, x, denoised, sigma, sigma_hat, c->err);
}

mend_status ks_denoise_at(ks_ctx *c, const float *sig, int i, const float *x, float *den)
{
    MEND_TRY(ks_denoise(c, x, sig[i], den));
    return ks_step(c, i, x, den, sig[i], sig[i]);
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

/* ---------------- the public registry (include/mend/params.h) ---------------- */

int mend_samplers_count(void)
{
    return MEND_SAMPLER_COUNT;
}

mend_sampler_entry mend_samplers_at(int i)
{
    mend_sampler_entry e = {0};
    if (i < 0 || i >= MEND_SAMPLER_COUNT)
        return e;
    const mend_sampler_info *si = &sampler_table[i];
    mend_scheduler d = si->default_scheduler;
    e = (mend_sampler_entry){si->name,
                             si->alias,
                             d != MEND_SCHED_AUTOMATIC && d != MEND_SCHED_UNIFORM ? mend_scheduler_name(d) : NULL,
                             (si->flags & MEND_SAMPLER_SECOND_ORDER) != 0,
                             (si->flags & MEND_SAMPLER_BROWNIAN) != 0,
                             (si->flags & MEND_SAMPLER_USES_ENSD) != 0,
                             (si->flags & MEND_SAMPLER_DISCARD_PENULT) != 0};
    return e;
}

static const mend_sampler_info *by_name_or_alias(const char *name)
{
    for (int i = 0; i < MEND_SAMPLER_COUNT; i++)
        if (!strcmp(sampler_table[i].name, name) || (sampler_table[i].alias && !strcmp(sampler_table[i].alias, name)))
            return &sampler_table[i];
    return NULL;
}

/* "<sampler> <schedule>" with the schedule's label or name as the last word(s). */
static const mend_sampler_info *split_suffix(const char *name, mend_scheduler *sch)
{
    size_t n = strlen(name);
    for (int k = 1; k < MEND_SCHED_COUNT; k++) {
        mend_scheduler_entry e = mend_schedulers_at(k);
        const char *words[3] = {e.label, e.name, e.alias};
        for (int w = 0; w < 3 && words[w]; w++) {
            size_t m = strlen(words[w]);
            if (n > m + 1 && name[n - m - 1] == ' ' && !strcmp(name + n - m, words[w])) {
                char base[128];
                snprintf(base, sizeof base, "%.*s", (int)(n - m - 1), name);
                const mend_sampler_info *si = by_name_or_alias(base);
                if (si) {
                    *sch = (mend_scheduler)k;
                    return si;
                }
            }
        }
    }
    return NULL;
}

mend_status mend_sampler_resolve(const char *name, const char *scheduler, const char **sampler_out,
                                 const char **scheduler_out, mend_err *err)
{
    mend_scheduler sch = MEND_SCHED_AUTOMATIC, suffix = MEND_SCHED_AUTOMATIC;
    const mend_sampler_info *si = name ? by_name_or_alias(name) : NULL;
    if (!si && name)
        si = split_suffix(name, &suffix);
    if (!si)
        return mend_sampler_from_name(name, &si, err); /* the message listing the names */
    if (scheduler && scheduler[0])
        MEND_TRY(mend_scheduler_from_name(scheduler, &sch, err));
    if (suffix != MEND_SCHED_AUTOMATIC) /* as in A1111, the name's suffix wins */
        sch = suffix;
    *sampler_out = si->name;
    *scheduler_out = mend_scheduler_label(sch);
    return MEND_OK;
}
