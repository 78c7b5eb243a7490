/* txt2img's hires fix as A1111 1.10's StableDiffusionProcessingTxt2Img runs
 * it (calculate_target_resolution, sample_hr_pass):
 *   first-pass samples [B, 4, h, w]
 *   -> latent mode: torch interpolate to (to_h / 8, to_w / 8)
 *      upscaler:    VAE decode -> uint8 -> resize_image(0, ..., upscaler)
 *                   -> VAE encode
 *   -> 9-channel models: conditioning of the upscaled image
 *   -> cut to hr_resize_x x hr_resize_y (latent cells, centred)
 *   -> fresh noise from the batch's seeds at the new size
 *   -> img2img with hr_second_pass_steps (A1111's fixed-steps rule),
 *      the hires prompt, sampler and schedule type, no noise multiplier.
 * The pass runs on j->hr, a copy of the job at the target size that shares
 * the model and the first pass's networks. */
#include "inpaint/pipeline_job.h"

#include "core/stop.h"
#include "inpaint/imageops.h"
#include "inpaint/ti_conds.h"
#include "mend/params.h"
#include "mend/upscale.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int given(const char *s, const char *same)
{
    return s && *s && strcmp(s, same) != 0;
}

static mend_status pick_upscaler(const mend_gen_params *p, mend_hires_plan *h, mend_err *err)
{
    const char *name = p->hr_upscaler && *p->hr_upscaler ? p->hr_upscaler : "Latent";
    if (mend_latent_mode_find(name, &h->mode, &h->antialias) >= 0) {
        h->latent = 1;
        return MEND_OK;
    }
    int k = mend_upscaler_find(name);
    if (k >= 0) {
        h->upscaler = mend_upscaler_name(k);
        return MEND_OK;
    }
    return mend_fail(err, MEND_E_ARG,
                     "parameter 'hr_upscaler': could not find upscaler named '%s' (Latent, Latent (antialiased), "
                     "Latent (bicubic), Latent (bicubic antialiased), Latent (nearest), Latent (nearest-exact), "
                     "None, Lanczos, Nearest)",
                     name);
}

/* calculate_target_resolution (use_old_hires_fix_width_height off). */
static void target_size(const mend_gen_params *p, mend_hires_plan *h)
{
    int W = p->width, H = p->height, rx = p->hr_resize_x, ry = p->hr_resize_y;
    if (rx == 0 && ry == 0) {
        double s = mend_float_as_sent(p->hr_scale);
        h->to_w = (int)(W * s);
        h->to_h = (int)(H * s);
    } else if (ry == 0) {
        h->to_w = rx;
        h->to_h = rx * H / W;
    } else if (rx == 0) {
        h->to_w = ry * W / H;
        h->to_h = ry;
    } else {
        if ((double)W / H < (double)rx / ry) {
            h->to_w = rx;
            h->to_h = rx * H / W;
        } else {
            h->to_w = ry * W / H;
            h->to_h = ry;
        }
        h->trunc_x = (h->to_w - rx) / 8;
        h->trunc_y = (h->to_h - ry) / 8;
    }
    h->lat_w = h->to_w / 8 - h->trunc_x;
    h->lat_h = h->to_h / 8 - h->trunc_y;
}

mend_status mend_hires_plan_make(const mend_gen_params *p, mend_hires_plan *h, mend_err *err)
{
    memset(h, 0, sizeof *h);
    if (!p->enable_hr)
        return MEND_OK;
    h->active = 1;
    MEND_TRY(pick_upscaler(p, h, err));
    target_size(p, h);
    if (h->lat_w < 8 || h->lat_h < 8 || h->lat_w > 1024 || h->lat_h > 1024)
        return mend_fail(err, MEND_E_ARG,
                         "hires fix: %dx%d upscaled to %dx%d gives %dx%d, outside 64..8192 (hr_scale, hr_resize_x, "
                         "hr_resize_y)",
                         p->width, p->height, h->to_w, h->to_h, h->lat_w * 8, h->lat_h * 8);
    return MEND_OK;
}

/* ---------------- the pass's job ---------------- */

static mend_status hires_conds(job *j, job *hj, mend_gen_output *out, mend_err *err)
{
    const mend_gen_params *p = j->p;
    mend_lora_tags tags = {0};
    const char *text = j->lora.tags.text;
    if (given(p->hr_prompt, p->prompt)) { /* its own networks' tags come off the text too */
        MEND_TRY(mend_lora_tags_parse(p->hr_prompt, &tags, err));
        text = tags.text;
    }
    const char *neg = given(p->hr_negative_prompt, p->negative_prompt ? p->negative_prompt : "")
                          ? p->hr_negative_prompt
                          : p->negative_prompt ? p->negative_prompt : "";
    mend_cond_opts o;
    mend_cond_opts_default(&o);
    o.clip_skip = p->clip_skip;
    o.hires_steps = hj->p->steps;
    char *ti = NULL;
    mend_status s = mend_cond_build_job(j->m->clip, j->m->tokenizer, text, neg, p->steps, &o, &hj->cond, &hj->uncond,
                                        &ti, &out->log, err);
    free(ti); /* the first pass's `TI hashes` are the infotext's */
    mend_lora_tags_free(&tags);
    return s;
}

static mend_status hires_sampler(const job *j, job *hj, mend_err *err)
{
    const mend_gen_params *p = j->p;
    const char *name = given(p->hr_sampler_name, "Use same sampler") ? p->hr_sampler_name : p->sampler_name;
    const char *sched = given(p->hr_scheduler, "Use same scheduler") ? p->hr_scheduler : p->scheduler;
    if (mend_sampler_from_name(name, &hj->sampler, err) != MEND_OK)
        return mend_err_wrap(err, "hr_sampler_name");
    if (mend_scheduler_from_name(sched, &hj->scheduler, err) != MEND_OK)
        return mend_err_wrap(err, "hr_scheduler");
    return MEND_OK;
}

mend_status mend_hires_prepare(job *j, mend_gen_output *out, mend_err *err)
{
    if (!j->hires.active)
        return MEND_OK;
    job *hj = malloc(sizeof *hj);
    if (!hj)
        return mend_fail(err, MEND_E_NOMEM, "out of memory");
    *hj = *j;
    /* nothing the first pass owns: the copy frees only its own conditioning */
    hj->cond = hj->uncond = (mend_cond_schedule){0};
    hj->image_cond = hj->init_latent = hj->nmask = NULL;
    hj->ti_hashes = NULL;
    hj->hr = NULL;
    hj->lora = (mend_lora_run){0};
    memset(hj->overlay, 0, sizeof hj->overlay);
    memset(hj->cc_target, 0, sizeof hj->cc_target);
    hj->p = &hj->eff;
    hj->eff.steps = j->p->hr_second_pass_steps > 0 ? j->p->hr_second_pass_steps : j->p->steps;
    hj->eff.initial_noise_multiplier = 1.0f; /* txt2img's sample_img2img call has none */
    hj->eff.width = j->hires.lat_w * 8;
    hj->eff.height = j->hires.lat_h * 8;
    hj->h = j->hires.lat_h;
    hj->w = j->hires.lat_w;
    hj->lat = 4LL * hj->h * hj->w;
    hj->img2img = 1;
    hj->fixed_steps = 1;
    j->hr = hj;
    MEND_TRY(hires_sampler(j, hj, err));
    MEND_TRY(hires_conds(j, hj, out, err));
    /* 9-channel models at full mask weight: txt2img's grey-image conditioning at the new size */
    if (j->inpainting_model && j->p->inpainting_mask_weight >= 1.0f)
        MEND_TRY(mend_job_prepare_txt2img_cond(hj, err));
    return MEND_OK;
}

void mend_hires_free(job *j)
{
    if (!j->hr)
        return;
    mend_cond_free(&j->hr->cond);
    mend_cond_free(&j->hr->uncond);
    free(j->hr->image_cond);
    free(j->hr);
    j->hr = NULL;
}

/* ---------------- one batch ---------------- */

/* resize_image(0, image, w, h, upscaler_name): the upscaler when it enlarges, then Lanczos to the exact size. */
static mend_status upscale_image(const mend_image *img, const char *upscaler, int w, int h, mend_image *out,
                                 mend_err *err)
{
    double scale = fmax((double)w / img->width, (double)h / img->height);
    if (!strcmp(upscaler, "None") || scale <= 1.0)
        return mend_pil_resize(img, w, h, MEND_PIL_LANCZOS, NULL, out, err);
    mend_image up = {0};
    MEND_TRY(mend_upscale(img, upscaler, scale, &up, err));
    if (up.width == w && up.height == h) {
        *out = up;
        return MEND_OK;
    }
    mend_status s = mend_pil_resize(&up, w, h, MEND_PIL_LANCZOS, NULL, out, err);
    mend_image_free(&up);
    return s;
}

/* One image's decoded first pass, upscaled by the image upscaler, in [-1, 1] at fh x fw (the encoder's floor of
 * the target: its last rows and columns past a multiple of 8 do not reach the latent). */
static mend_status upscaled_pixels(const job *j, const float *sample, int fh, int fw, float *pix, mend_err *err)
{
    const mend_hires_plan *h = &j->hires;
    int W = j->p->width, H = j->p->height;
    float *dec = malloc((size_t)3 * W * H * sizeof *dec);
    mend_image low = {0}, big = {0};
    /* decode_first_stage, with the job's decoder (a separate VAE's, or TAESD) */
    mend_status s = dec ? mend_job_decode(j, sample, dec, err) : mend_fail(err, MEND_E_NOMEM, "out of memory");
    if (s == MEND_OK)
        s = mend_job_to_image(dec, W, H, &low, err);
    free(dec);
    if (s == MEND_OK)
        s = upscale_image(&low, h->upscaler, h->to_w, h->to_h, &big, err);
    mend_image_free(&low);
    int64_t hw = (int64_t)fw * fh;
    for (int y = 0; s == MEND_OK && y < fh; y++)
        for (int x = 0; x < fw; x++)
            for (int c = 0; c < 3; c++)
                pix[c * hw + (int64_t)y * fw + x] = big.data[((int64_t)y * big.width + x) * big.channels + c] / 255.0f
                                                    * 2.0f - 1.0f;
    mend_image_free(&big);
    return s;
}

/* 9-channel conditioning below full mask weight: mask 1 and VAE(image * (1 - weight)). */
static mend_status cond_of_pixels(const job *j, float *pix, int fh, int fw, float *dst, mend_err *err)
{
    int64_t hw = (int64_t)fw * fh, lhw = (int64_t)(fh / 8) * (fw / 8);
    float keep = 1.0f - j->p->inpainting_mask_weight;
    for (int64_t i = 0; i < 3 * hw; i++)
        pix[i] *= keep;
    for (int64_t i = 0; i < lhw; i++)
        dst[i] = 1.0f;
    return mend_job_encode(j, pix, fh, fw, dst + lhw, err);
}

/* The batch's first-pass samples upscaled to [B, 4, fh/8, fw/8] (and the 9-channel conditioning [B, 5, ...]
 * when the job needs one per image). */
static mend_status upscale_batch(const job *j, const float *x, int fh, int fw, float *up, float *cond,
                                 mend_err *err)
{
    const mend_hires_plan *h = &j->hires;
    int B = j->batch, lh = fh / 8, lw = fw / 8;
    int64_t lat = 4LL * lh * lw;
    float *pix = malloc((size_t)3 * fw * fh * sizeof *pix);
    mend_status s = pix ? MEND_OK : mend_fail(err, MEND_E_NOMEM, "out of memory");
    if (s == MEND_OK && h->latent)
        s = mend_interpolate(x, B * 4, j->h, j->w, up, lh, lw, h->mode, h->antialias, err);
    for (int b = 0; s == MEND_OK && b < B; b++) {
        if (h->latent) {
            if (!cond)
                continue;
            s = mend_vae_decode(mend_sd_vae_decoder(j->m), up + b * lat, 1, lh, lw, pix, err);
        } else {
            s = upscaled_pixels(j, x + b * j->lat, fh, fw, pix, err);
            if (s == MEND_OK)
                s = mend_job_encode(j, pix, fh, fw, up + b * lat, err);
        }
        if (s == MEND_OK && cond)
            s = cond_of_pixels(j, pix, fh, fw, cond + b * (lat / 4) * 5, err);
    }
    free(pix);
    return s;
}

/* samples[:, :, ty//2 : H-(ty+1)//2, tx//2 : W-(tx+1)//2] of [n, c, fh, fw] into [n, c, h, w]. */
static void cut(const float *src, int n, int c, int fh, int fw, int ty, int tx, float *dst, int h, int w)
{
    for (int i = 0; i < n * c; i++)
        for (int y = 0; y < h; y++)
            memcpy(dst + ((int64_t)i * h + y) * w, src + ((int64_t)i * fh + y + ty / 2) * fw + tx / 2,
                   (size_t)w * sizeof *dst);
}

static mend_status run_pass(job *hj, float *x, const float *noise, const float *image_cond, int iteration,
                            mend_gen_progress_fn progress, void *user, int *interrupted, mend_err *err)
{
    mend_cfg_denoiser den = {hj->m->unet, &hj->sched, hj->batch, hj->h, hj->w, &hj->cond, &hj->uncond,
                             hj->p->cfg_scale, image_cond, NULL, NULL,
                             (hj->sampler->flags & MEND_SAMPLER_TIMESTEPS) != 0, 0, NULL, NULL,
                             (hj->sampler->flags & MEND_SAMPLER_LCM_MODEL) != 0};
    MEND_TRY(mend_cfg_denoiser_init(&den, err));
    mend_run_ctx r = {hj, &den, progress, user, iteration};
    mend_status s = mend_job_sample_batch(hj, &r, x, noise, err);
    if (s == MEND_E_INTERRUPTED || s == MEND_E_SKIPPED) { /* finished from the latest prediction */
        memcpy(x, den.last_denoised, (size_t)(hj->batch * hj->lat) * sizeof *x);
        s = mend_stop_honour(s, interrupted);
    }
    mend_cfg_denoiser_free(&den);
    return s;
}

/* The pass's 9-channel conditioning [B, 5, h, w]: per image (cut like the samples, so that the UNet's inputs
 * agree; A1111 cuts only the samples), or the grey image's repeated. */
static float *batch_cond(const job *j, const float *per_image, int fh, int fw)
{
    const job *hj = j->hr;
    int64_t per = 5LL * hj->h * hj->w;
    float *c = malloc((size_t)(j->batch * per) * sizeof *c);
    if (c && per_image)
        cut(per_image, j->batch, 5, fh / 8, fw / 8, j->hires.trunc_y, j->hires.trunc_x, c, hj->h, hj->w);
    for (int b = 0; c && !per_image && b < j->batch; b++)
        memcpy(c + b * per, hj->image_cond, (size_t)per * sizeof *c);
    return c;
}

mend_status mend_hires_pass(job *j, const float *x, const int64_t *seeds, const int64_t *subseeds, int iteration,
                            mend_gen_progress_fn progress, void *user, float **out, int *interrupted, mend_err *err)
{
    job *hj = j->hr;
    const mend_hires_plan *h = &j->hires;
    int B = j->batch, fh = h->to_h / 8 * 8, fw = h->to_w / 8 * 8;
    int per_image = j->inpainting_model && !hj->image_cond;
    int64_t full = 4LL * (fh / 8) * (fw / 8), n = (int64_t)B * hj->lat;
    float *up = malloc((size_t)(B * full) * sizeof *up);
    float *cond = per_image ? malloc((size_t)(B * full / 4 * 5) * sizeof *cond) : NULL, *cond_b = NULL;
    float *init = malloc((size_t)n * sizeof *init), *noise = malloc((size_t)n * sizeof *noise);
    float *xo = malloc((size_t)n * sizeof *xo);
    mend_status s = up && init && noise && xo && (cond || !per_image)
                        ? upscale_batch(j, x, fh, fw, up, cond, err)
                        : mend_fail(err, MEND_E_NOMEM, "out of memory");
    if (s == MEND_OK)
        cut(up, B, 4, fh / 8, fw / 8, h->trunc_y, h->trunc_x, init, hj->h, hj->w);
    if (s == MEND_OK && j->inpainting_model && !(cond_b = batch_cond(j, cond, fh, fw)))
        s = mend_fail(err, MEND_E_NOMEM, "out of memory");
    hj->init_latent = init;
    if (s == MEND_OK)
        s = mend_job_first_noise(hj, seeds, subseeds, B, noise, err);
    if (s == MEND_OK)
        s = run_pass(hj, xo, noise, cond_b, iteration, progress, user, interrupted, err);
    hj->init_latent = NULL;
    free(up);
    free(cond);
    free(cond_b);
    free(init);
    free(noise);
    if (s != MEND_OK) {
        free(xo);
        return s;
    }
    *out = xo;
    return MEND_OK;
}
