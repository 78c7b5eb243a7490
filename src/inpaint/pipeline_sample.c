/* Sampling one batch of a job (pipeline_job.h): its first noise from the
 * seeds, the sampler with the CFG denoiser and progress callbacks, and the
 * img2img start (A1111's sample_img2img: the schedule cut at the denoising
 * strength, or with a given step count, its fixed-steps rule). */
#include "inpaint/pipeline_job.h"

#include "kernels/kernels.h"
#include "mend/params.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static mend_rng_kind rng_kind(mend_rng_source s)
{
    return s == MEND_RNG_SOURCE_CPU ? MEND_RNG_CPU : MEND_RNG_NV;
}

/* The initial noise of each image of a batch (ImageRNG.first, §7.6 without
 * seed resize), leaving gens[] ready for the sampler's further draws.
 * subseeds NULL: no variation seed (A1111's create_random_tensors call for
 * the latent-noise fill passes none). */
mend_status mend_job_first_noise(job *j, const int64_t *seeds, const int64_t *subseeds, int B, float *noise,
                               mend_err *err)
{
    const mend_gen_params *p = j->p;
    for (int b = 0; b < B; b++) {
        mend_rng_init(&j->gens[b], rng_kind(p->rng), (uint64_t)seeds[b]);
        mend_rng_randn(&j->gens[b], noise + b * j->lat, j->lat);
        if (subseeds && p->subseed_strength > 0) {
            mend_rng sub;
            float *subnoise = malloc((size_t)j->lat * sizeof *subnoise);
            if (!subnoise)
                return mend_fail(err, MEND_E_NOMEM, "out of memory");
            mend_rng_init(&sub, rng_kind(p->rng), (uint64_t)subseeds[b]);
            mend_rng_randn(&sub, subnoise, j->lat);
            mend_status s = mend_rng_slerp(mend_float_as_sent(p->subseed_strength), noise + b * j->lat, subnoise, noise + b * j->lat, 4,
                                           j->h, j->w, err);
            free(subnoise);
            MEND_TRY(s);
        }
        if (p->eta_noise_seed_delta > 0 && (j->sampler->flags & MEND_SAMPLER_USES_ENSD))
            mend_rng_init(&j->gens[b], rng_kind(p->rng), (uint64_t)(seeds[b] + p->eta_noise_seed_delta));
    }
    return MEND_OK;
}

static void noise_cb(void *user, float *out, int64_t n, float sigma, float sigma_next)
{
    mend_run_ctx *r = user;
    int64_t per = r->j->lat;
    for (int b = 0; b < r->j->batch && (b + 1) * per <= n; b++)
        mend_rng_randn(&r->j->gens[b], out + b * per, per);
}

static mend_status step_cb(void *user, int step, int total, const float *x, const float *denoised, float sigma,
                           float sigma_hat, mend_err *err)
{
    mend_run_ctx *r = user;
    if (!r->progress)
        return MEND_OK;
    mend_gen_progress pr = {r->iteration, r->j->p->n_iter, step, total, denoised, r->j->batch, r->j->h, r->j->w};
    /* a caller's preview decoder (TAESD) is not the job's model: A1111's tiling does not reach it */
    mend_conv2d_set_circular(0);
    mend_status s = r->progress(r->user, &pr, err);
    mend_conv2d_set_circular(r->j->p->tiling);
    return s;
}

static mend_status denoise_cb(void *user, const float *x, float sigma, float *denoised, mend_err *err)
{
    return mend_cfg_denoise(((mend_run_ctx *)user)->den, x, sigma, denoised, err);
}

static mend_status denoise_t_cb(void *user, const float *x, float sigma, float t, float *denoised, mend_err *err)
{
    return mend_cfg_denoise_t(((mend_run_ctx *)user)->den, x, sigma, t, denoised, err);
}

/* A1111's setup_img2img_steps: the schedule's step count and t_enc. Given
 * a step count (the hires pass), the schedule is stretched so that exactly
 * that many steps run; otherwise it is cut at the strength. */
static void img2img_steps(const job *j, int *steps, int *t_enc)
{
    const mend_gen_params *p = j->p;
    /* int(0.7 * 10) is 7, int(0.69999998 * 10) would be 6 */
    double strength = mend_float_as_sent(p->denoising_strength);
    if (!j->fixed_steps) {
        *steps = p->steps;
        *t_enc = mend_img2img_t_enc(strength, p->steps);
        return;
    }
    double s = strength < 0.999 ? strength : 0.999;
    *steps = strength > 0 ? (int)((double)p->steps / s) : 0;
    *t_enc = p->steps - 1;
}

static mend_status sample_timesteps(job *j, mend_run_ctx *r, float *x, const float *noise,
                                    const mend_sampler_opts *so, const mend_sampler_callbacks *cb, mend_err *err)
{
    const mend_gen_params *p = j->p;
    int64_t n = (int64_t)j->batch * j->lat;
    int steps = p->steps, first = mend_ddim_count(p->steps) - 1;
    if (j->img2img) {
        /* noised to timestep t_enc, first evaluated at t_enc - 1 (samplers.md §5.10) */
        int t_enc;
        img2img_steps(j, &steps, &t_enc);
        if (steps < 1)
            return MEND_OK;
        first = t_enc - 1;
        float a = j->sched.alphas_cumprod[mend_ddim_timestep(steps, t_enc)];
        for (int64_t i = 0; i < n; i++)
            x[i] = sqrtf(a) * j->init_latent[i] + sqrtf(1.0f - a) * noise[i] * p->initial_noise_multiplier;
    } else {
        memcpy(x, noise, (size_t)n * sizeof *x);
    }
    (void)r;
    /* fewer than two timesteps (t_enc <= 1, or 1 step): A1111's DDIM and PLMS
     * loops make no model call and return x as it is (UniPC refuses) */
    if (first < 1 && j->sampler->kind != MEND_SAMPLER_UNIPC)
        return MEND_OK;
    return mend_sample_timesteps(j->sampler->kind, &j->sched, steps, first, j->img2img, so, x, n, cb, err);
}

/* Runs the sampler for one batch on x (noise in, samples out). */
mend_status mend_job_sample_batch(job *j, mend_run_ctx *r, float *x, const float *noise, mend_err *err)
{
    const mend_gen_params *p = j->p;
    int64_t n = (int64_t)j->batch * j->lat;
    mend_sampler_opts so = mend_sampler_default_opts(j->sampler->kind);
    mend_sampler_callbacks cb = {denoise_cb, noise_cb, step_cb, r, denoise_t_cb};
    if (j->sampler->flags & MEND_SAMPLER_TIMESTEPS)
        return sample_timesteps(j, r, x, noise, &so, &cb, err);
    int steps = p->steps, t_enc = 0;
    if (j->img2img)
        img2img_steps(j, &steps, &t_enc);
    if (steps < 1) { /* strength 0 with a given step count: nothing to sample */
        memcpy(x, j->init_latent, (size_t)n * sizeof *x);
        return MEND_OK;
    }
    float *sig = malloc((size_t)mend_schedule_sigmas_capacity(steps) * sizeof *sig);
    int ns = 0;
    if (!sig)
        return mend_fail(err, MEND_E_NOMEM, "out of memory");
    mend_status s = mend_sampler_sigmas(j->sampler, &j->sched, j->scheduler, steps, sig, &ns, err);
    int start = 0;
    if (s == MEND_OK && j->img2img) {
        start = steps - t_enc - 1;
        if (start > ns - 2)
            start = ns - 2;
        for (int64_t i = 0; i < n; i++)
            x[i] = j->init_latent[i] + noise[i] * p->initial_noise_multiplier * sig[start];
    } else if (s == MEND_OK) {
        for (int64_t i = 0; i < n; i++)
            x[i] = noise[i] * sig[0];
    }
    if (s == MEND_OK)
        s = mend_sample(j->sampler->kind, &so, sig + start, ns - start, x, n, &cb, err);
    free(sig);
    return s;
}
