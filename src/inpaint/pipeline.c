/* The job driver. Data flow for one job (spec/inpaint-semantics.md §1):
 *   prompts -> conditioning schedules                     (prepare_conds)
 *   mask -> mask_prep; init images -> overlay + processing (pipeline_init.c)
 *   processing -> VAE -> init latent, latent mask, masked content,
 *                 9-channel conditioning
 *   per batch: seeds -> noise -> sampler(CFG denoiser) -> final blend
 *              -> VAE decode -> composite over the original -> infotext */
#include "inpaint/pipeline_job.h"
#include "core/stop.h"

#include "inpaint/color_correction.h"
#include "inpaint/denoiser.h"
#include "inpaint/infotext.h"
#include "inpaint/ti_conds.h"
#include "kernels/kernels.h"
#include "model/model_hash.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void job_free(job *j)
{
    mend_cond_free(&j->cond);
    mend_cond_free(&j->uncond);
    mend_mask_prep_free(&j->prep);
    for (int b = 0; b < MEND_JOB_MAX_BATCH; b++) {
        mend_image_free(&j->overlay[b]);
        mend_image_free(&j->cc_target[b]);
    }
    free(j->init_latent);
    free(j->nmask);
    free(j->image_cond);
    mend_lora_run_end(&j->lora); /* the model's own weights back */
    free(j->ti_hashes);
    mend_hires_free(j);
}

static mend_status prepare_conds(job *j, mend_gen_output *out, mend_err *err)
{
    mend_cond_opts o;
    mend_cond_opts_default(&o);
    o.clip_skip = j->p->clip_skip;
    const char *neg = j->p->negative_prompt ? j->p->negative_prompt : "";
    return mend_cond_build_job(j->m->clip, j->m->tokenizer, j->lora.tags.text, neg, j->p->steps, &o, &j->cond,
                               &j->uncond, &j->ti_hashes, &out->log, err);
}

/* latent noise / latent nothing (§5.3, §5.4): each image's noise is the
 * first draw of the first batch's seed at its index (A1111 computes it
 * once, from the first batch's seeds, and reuses it for every batch), never
 * mixed with a variation seed: A1111 passes no subseeds there. */
static mend_status apply_masked_content(job *j, const int64_t *seeds, mend_err *err)
{
    int fill = j->p->inpainting_fill;
    if (!j->inpaint || (fill != MEND_FILL_LATENT_NOISE && fill != MEND_FILL_LATENT_NOTHING))
        return MEND_OK;
    int64_t hw = (int64_t)j->h * j->w;
    float *noise = NULL;
    if (fill == MEND_FILL_LATENT_NOISE) {
        noise = malloc((size_t)(j->batch * j->lat) * sizeof *noise);
        if (!noise)
            return mend_fail(err, MEND_E_NOMEM, "out of memory");
        mend_status s = mend_job_first_noise(j, seeds, NULL, j->batch, noise, err);
        if (s != MEND_OK) {
            free(noise);
            return s;
        }
    }
    for (int64_t i = 0; i < j->batch * j->lat; i++) {
        float m = j->nmask[i % hw];
        j->init_latent[i] = j->init_latent[i] * (1.0f - m) + (noise ? noise[i] * m : 0.0f);
    }
    free(noise);
    return MEND_OK;
}

/* Decoded [3, H, W] in about [-1, 1] -> RGB uint8, truncating as numpy's
 * astype(uint8) of 255 * clamp((x + 1) / 2, 0, 1). */
mend_status mend_job_to_image(const float *dec, int W, int H, mend_image *img, mend_err *err)
{
    MEND_TRY(mend_image_alloc(img, W, H, 3, err));
    int64_t hw = (int64_t)W * H;
    for (int64_t i = 0; i < hw; i++)
        for (int c = 0; c < 3; c++) {
            float v = (dec[c * hw + i] + 1.0f) / 2.0f;
            v = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
            img->data[i * 3 + c] = (uint8_t)(255.0f * v);
        }
    return MEND_OK;
}

static mend_status finish_image(job *j, const float *sample, int index, mend_gen_output *out, mend_err *err)
{
    const mend_gen_params *p = j->p;
    float *dec = malloc((size_t)3 * p->width * p->height * sizeof *dec);
    if (!dec)
        return mend_fail(err, MEND_E_NOMEM, "out of memory");
    mend_image gen = {0};
    double t0 = mend_clock_s();
    mend_status s = mend_job_decode(j, sample, dec, err);
    out->timings.decode += mend_clock_s() - t0;
    if (s == MEND_OK)
        s = mend_job_to_image(dec, p->width, p->height, &gen, err);
    free(dec);
    /* colour correction runs on the W x H image, before the overlay; both
     * are the batch image's own init image's */
    int b = (index % j->batch) % j->ninit;
    if (s == MEND_OK && j->cc_target[b].data)
        s = mend_apply_color_correction(&j->cc_target[b], &gen, err);
    if (s != MEND_OK) {
        mend_image_free(&gen);
        return s;
    }
    if (j->inpaint) {
        t0 = mend_clock_s();
        s = mend_apply_overlay(&gen, j->prep.has_crop ? j->prep.paste_to : NULL, &j->overlay[b], &out->images[index],
                               err);
        out->timings.composite += mend_clock_s() - t0;
        mend_image_free(&gen);
        return s;
    }
    out->images[index] = gen;
    return MEND_OK;
}

/* A1111's "Model hash" of a single-file checkpoint, looked up (or computed and cached, model/model_hash.h)
 * once per loaded model on its first job. Diffusers folders have none (A1111 has no hash for them either).
 * A file that cannot be read again leaves the hash out of the infotext rather than failing a generation. */
static void ensure_model_hash(mend_sd_model *m)
{
    if (!m->diffusers && m->path)
        mend_model_short_hash_once(m->path, &m->model_hash_tried, m->model_hash);
}

/* The schedule's label, NULL where A1111 writes none: it keeps "Automatic" for samplers whose default is not
 * a scheduler function (Euler, Euler a, LMS, Heun with Automatic; their default_scheduler is Uniform, which
 * an explicit --scheduler Uniform does label). */
static const char *schedule_label(const job *j)
{
    mend_scheduler resolved = j->scheduler == MEND_SCHED_AUTOMATIC ? j->sampler->default_scheduler : j->scheduler;
    int keeps_automatic = j->scheduler == MEND_SCHED_AUTOMATIC &&
                          (resolved == MEND_SCHED_AUTOMATIC || resolved == MEND_SCHED_UNIFORM);
    return keeps_automatic ? NULL : mend_scheduler_label(resolved);
}

static mend_status make_infotext(job *j, int index, mend_gen_output *out, mend_err *err)
{
    char *name = mend_model_name(j->m->path);
    const char *label = schedule_label(j), *hash = j->m->model_hash[0] ? j->m->model_hash : NULL;
    /* A1111's get_loaded_vae_name: the separate VAE's file name (os.path.basename) */
    const char *vae = j->m->ext_vae_path, *slash = vae ? strrchr(vae, '/') : NULL;
    mend_infotext_ctx c = {j->p, j->sampler->name, label ? label : "Automatic", out->seeds[index],
                           out->subseeds[index], name, hash, j->img2img, j->inpaint, j->inpaint && j->prep.has_crop,
                           j->inpainting_model, (j->sampler->flags & MEND_SAMPLER_USES_ENSD) != 0, j->lora.hashes,
                           j->ti_hashes, j->script_keys, 0, NULL, NULL, slash ? slash + 1 : vae,
                           mend_sd_vae_hash(j->m)};
    if (j->hr) { /* A1111's get_sigmas labels the hires pass's schedule when it is not the first pass's */
        const char *hr_label = schedule_label(j->hr);
        c.hires = 1;
        c.hr_sampler = j->hr->sampler != j->sampler ? j->hr->sampler->name : NULL;
        c.hr_schedule = hr_label && strcmp(hr_label, label ? label : "") ? hr_label : NULL;
    }
    out->infotexts[index] = mend_infotext_build(&c);
    free(name);
    return out->infotexts[index] ? MEND_OK : mend_fail(err, MEND_E_NOMEM, "out of memory");
}

static mend_status alloc_output(const mend_gen_params *p, mend_gen_output *out, mend_err *err)
{
    int total = p->batch_size * p->n_iter;
    out->images = calloc((size_t)total, sizeof *out->images);
    out->seeds = calloc((size_t)total, sizeof *out->seeds);
    out->subseeds = calloc((size_t)total, sizeof *out->subseeds);
    out->infotexts = calloc((size_t)total, sizeof *out->infotexts);
    if (!out->images || !out->seeds || !out->subseeds || !out->infotexts)
        return mend_fail(err, MEND_E_NOMEM, "out of memory");
    return MEND_OK;
}

/* all_seeds / all_subseeds (§7.1): seeds count up unless a variation
 * strength is set; subseeds always count up (A1111's
 * all_subseeds = [subseed + x for x in ...], whatever the strength). */
static void assign_seeds(job *j, mend_gen_output *out)
{
    int total = j->p->batch_size * j->p->n_iter;
    for (int i = 0; i < total; i++) {
        int variation = j->p->subseed_strength > 0;
        out->seeds[i] = variation ? j->seed : j->seed + i;
        out->subseeds[i] = j->subseed + i;
    }
}

static mend_status run_batches(job *j, mend_gen_progress_fn progress, void *user, mend_gen_output *out,
                               mend_err *err)
{
    const mend_gen_params *p = j->p;
    int B = p->batch_size;
    int64_t n = (int64_t)B * j->lat;
    float *x = malloc((size_t)n * sizeof *x), *noise = malloc((size_t)n * sizeof *noise);
    mend_cfg_denoiser den = {j->m->unet, &j->sched, B, j->h, j->w, &j->cond, &j->uncond, p->cfg_scale,
                             NULL, NULL, j->nmask, (j->sampler->flags & MEND_SAMPLER_TIMESTEPS) != 0, 0, NULL, NULL,
                             (j->sampler->flags & MEND_SAMPLER_LCM_MODEL) != 0};
    float *init_b = j->init_latent, *cond_b = NULL;
    mend_status s = MEND_OK;
    if (!x || !noise) {
        s = mend_fail(err, MEND_E_NOMEM, "out of memory");
        goto done;
    }
    den.init_latent = init_b;
    /* per-image copies of the shared conditioning */
    if (j->image_cond) {
        int64_t per = (int64_t)j->extra * j->h * j->w;
        cond_b = malloc((size_t)(B * per) * sizeof *cond_b);
        if (!cond_b) {
            s = mend_fail(err, MEND_E_NOMEM, "out of memory");
            goto done;
        }
        for (int b = 0; b < B; b++)
            memcpy(cond_b + b * per, j->image_cond + (b % j->ninit) * per, (size_t)per * sizeof *cond_b);
        den.image_cond = cond_b;
    }
    for (int it = 0; it < p->n_iter && s == MEND_OK && !out->interrupted; it++) {
        const int64_t *seeds = out->seeds + it * B, *subseeds = out->subseeds + it * B;
        s = mend_job_first_noise(j, seeds, subseeds, B, noise, err);
        if (s != MEND_OK)
            break;
        if ((s = mend_cfg_denoiser_init(&den, err)) != MEND_OK)
            break;
        mend_run_ctx r = {j, &den, progress, user, it};
        double t0 = mend_clock_s();
        s = mend_job_sample_batch(j, &r, x, noise, err);
        out->timings.sampling += mend_clock_s() - t0;
        if (s == MEND_E_INTERRUPTED || s == MEND_E_SKIPPED) {
            /* A1111 finishes the batch from the latest x0 prediction; after
             * a skip the next batch still runs */
            memcpy(x, den.last_denoised, (size_t)n * sizeof *x);
            s = mend_stop_honour(s, &out->interrupted);
        }
        mend_cfg_denoiser_free(&den);
        if (s != MEND_OK)
            break;
        if (j->nmask) { /* final blend */
            int64_t hw = (int64_t)j->h * j->w;
            for (int64_t i = 0; i < n; i++) {
                float m = j->nmask[i % hw];
                x[i] = x[i] * m + init_b[i] * (1.0f - m);
            }
        }
        float *hx = NULL; /* the hires pass's samples; an Interrupt before it keeps the first pass's */
        if (j->hr && !out->interrupted)
            s = mend_hires_pass(j, x, seeds, subseeds, it, progress, user, &hx, &out->interrupted, err);
        job *dj = hx ? j->hr : j; /* the decode's sizes */
        for (int b = 0; b < B && s == MEND_OK; b++) {
            s = finish_image(dj, (hx ? hx : x) + b * dj->lat, it * B + b, out, err);
            double t1 = mend_clock_s();
            if (s == MEND_OK)
                s = make_infotext(j, it * B + b, out, err);
            out->timings.composite += mend_clock_s() - t1;
            if (s == MEND_OK)
                out->count = it * B + b + 1;
        }
        free(hx);
        s = mend_stop_honour(s, &out->interrupted); /* in a VAE decode: drops the images not decoded yet */
    }
done:
    free(x);
    free(noise);
    free(cond_b);
    return s;
}

/* Everything before sampling: checks, seeds, LoRA, conditioning, init latent, latent mask, masked
 * content, 9-channel conditioning. On failure the caller still calls job_free and mend_gen_output_free. */
static mend_status job_prepare(job *j, mend_sd_model *m, const mend_gen_params *p, const mend_gen_inputs *in,
                               mend_gen_output *out, mend_err *err)
{
    memset(j, 0, sizeof *j);
    memset(out, 0, sizeof *out);
    if (!m->unet || !m->vae || !m->clip || !m->tokenizer)
        return mend_fail(err, MEND_E_ARG, "%s: the model needs its UNet, VAE, text encoder and vocabulary loaded",
                         m->path);
    MEND_TRY(mend_gen_params_validate(p, in->init_image != NULL, err));
    MEND_TRY(mend_gen_inputs_check(in, p->batch_size, err));
    MEND_TRY(mend_job_check_decoder(p, in, err));
    if (mend_model_set_precision(m, p->precision, &out->precision, err) != MEND_OK)
        return mend_err_wrap(err, "precision");
    mend_hires_plan hires = {0};
    if (!in->init_image) /* txt2img's alone */
        MEND_TRY(mend_hires_plan_make(p, &hires, err));
    mend_gen_params peak = *p; /* with a hires fix, its pass is the job's largest */
    if (hires.active) {
        peak.width = hires.to_w / 8 * 8;
        peak.height = hires.to_h / 8 * 8;
    }
    MEND_TRY(mend_gen_memory_check(m, &peak, in->init_image ? in->init_image->width : 0,
                                   in->init_image ? in->init_image->height : 0, err));
    *j = (job){.m = m, .eff = *p, .h = p->height / 8, .w = p->width / 8, .ninit = 1, .hires = hires, .taesd = in->taesd,
              .script_keys = in->script_infotext};
    if (in->init_image) { /* several init images: one each in the batch (A1111's init()) */
        j->inits[0] = in->init_image;
        for (int i = 0; i < in->n_more_init_images; i++)
            j->inits[j->ninit++] = &in->more_init_images[i];
        if (j->ninit > 1)
            j->eff.batch_size = j->ninit;
    }
    j->p = p = &j->eff;
    j->batch = p->batch_size;
    j->lat = 4LL * j->h * j->w;
    j->img2img = in->init_image != NULL;
    j->extra = mend_unet_get_arch(m->unet)->in_channels - 4;
    j->inpainting_model = j->extra == 5;
    if (j->extra != 0 && j->extra != 5)
        return mend_fail(err, MEND_E_ARCH, "%s: UNet with %d input channels is not supported", m->path, j->extra + 4);
    mend_schedule_init_sd1(&j->sched);
    if (p->noise_schedule == 1) /* A1111's apply_alpha_schedule_override */
        mend_schedule_zero_terminal_snr(&j->sched);
    if (mend_sampler_from_name(p->sampler_name, &j->sampler, err) != MEND_OK)
        return mend_err_wrap(err, "sampler_name");
    if (mend_scheduler_from_name(p->scheduler, &j->scheduler, err) != MEND_OK)
        return mend_err_wrap(err, "scheduler");
    j->seed = mend_rng_fix_seed(p->seed);
    j->subseed = mend_rng_fix_seed(p->subseed);
    MEND_TRY(alloc_output(p, out, err));
    assign_seeds(j, out);
    double t0 = mend_clock_s();
    MEND_TRY(mend_lora_run_job(m, p->prompt, &j->lora, &out->warnings, &out->log, err));
    MEND_TRY(prepare_conds(j, out, err));
    MEND_TRY(mend_hires_prepare(j, out, err));
    out->timings.conditioning = mend_clock_s() - t0;
    t0 = mend_clock_s();
    if (j->img2img)
        MEND_TRY(mend_job_prepare_init(j, in, out, err));
    else if (j->inpainting_model)
        MEND_TRY(mend_job_prepare_txt2img_cond(j, err));
    mend_status s = apply_masked_content(j, out->seeds, err);
    out->timings.prepare = mend_clock_s() - t0;
    return s;
}

mend_status mend_generate(mend_sd_model *m, const mend_gen_params *p, const mend_gen_inputs *in,
                          mend_gen_progress_fn progress, void *user, mend_gen_output *out, mend_err *err)
{
    job j;
    mend_conv2d_set_circular(p->tiling); /* for the VAE encode too */
    mend_status s = job_prepare(&j, m, p, in, out, err);
    if (s == MEND_OK)
        ensure_model_hash(m);
    if (s == MEND_OK)
        s = run_batches(&j, progress, user, out, err);
    mend_conv2d_set_circular(0);
    job_free(&j);
    if (s != MEND_OK)
        mend_gen_output_free(out);
    return s;
}

mend_status mend_generate_init_latent(mend_sd_model *m, const mend_gen_params *p, const mend_gen_inputs *in,
                                      float **init_latent, float **nmask, mend_err *err)
{
    job j;
    mend_gen_output out;
    *init_latent = *nmask = NULL;
    mend_conv2d_set_circular(p->tiling);
    mend_status s = job_prepare(&j, m, p, in, &out, err);
    mend_conv2d_set_circular(0);
    if (s == MEND_OK) {
        *init_latent = j.init_latent;
        *nmask = j.nmask;
        j.init_latent = j.nmask = NULL;
    }
    job_free(&j);
    mend_gen_output_free(&out);
    return s;
}
