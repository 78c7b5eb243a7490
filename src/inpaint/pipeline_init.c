/* The img2img half of A1111's StableDiffusionProcessingImg2Img.init() for
 * a job (spec/inpaint-semantics.md §3-6): the mask once, then each init
 * image (flatten, resize or crop, overlay, masked-content pre-fill, colour
 * correction target, VAE encode, 9-channel conditioning). One image is
 * repeated over the batch; several are one image each (batch_size = their
 * count, set by the driver). */
#include "inpaint/pipeline_job.h"

#include "inpaint/color_correction.h"

#include <stdlib.h>
#include <string.h>

/* RGB uint8 image -> [3, H, W] floats in [-1, 1]. */
static float *image_to_tensor(const mend_image *img)
{
    int64_t hw = (int64_t)img->width * img->height;
    float *t = malloc((size_t)(3 * hw) * sizeof *t);
    if (!t)
        return NULL;
    for (int64_t i = 0; i < hw; i++)
        for (int c = 0; c < 3; c++)
            t[c * hw + i] = img->data[i * img->channels + c] / 255.0f * 2.0f - 1.0f;
    return t;
}

/* VAE encode of x [3, H, W] in [-1, 1] (multiples of 8) to the scaled posterior mean [4, H/8, W/8] (A1111
 * samples the posterior with an RNG it does not control; the mean is the deterministic choice the spec
 * allows, §6.1). */
mend_status mend_job_encode(const job *j, const float *x, int H, int W, float *latent, mend_err *err)
{
    int64_t lhw = (int64_t)(H / 8) * (W / 8);
    float *mom = malloc((size_t)(8 * lhw) * sizeof *mom);
    if (!mom)
        return mend_fail(err, MEND_E_NOMEM, "out of memory");
    mend_status s = mend_vae_encode(mend_sd_vae_encoder(j->m), x, 1, H, W, mom, err);
    if (s == MEND_OK)
        mend_vae_posterior(mom, NULL, 1, 4, lhw, latent);
    free(mom);
    return s;
}

/* x [3, ih, iw] to the job's latent [4, h, w]: encoded as it is at the job's size; otherwise (resize_mode 3,
 * "Just resize (latent upscale)": the image was not resized) its multiple-of-8 top-left part, which is what
 * reaches the encoder's output, is encoded and the latent resized as A1111's interpolate(mode="bilinear"). */
static mend_status encode(job *j, const float *x, int ih, int iw, float *latent, mend_err *err)
{
    if (ih == j->p->height && iw == j->p->width)
        return mend_job_encode(j, x, ih, iw, latent, err);
    int h8 = ih / 8 * 8, w8 = iw / 8 * 8;
    if (h8 < 8 || w8 < 8)
        return mend_fail(err, MEND_E_ARG, "parameter 'resize_mode': the init image (%dx%d) is too small to encode",
                         iw, ih);
    float *crop = malloc((size_t)3 * h8 * w8 * sizeof *crop), *lat = malloc((size_t)4 * (h8 / 8) * (w8 / 8) * sizeof *lat);
    mend_status s = crop && lat ? MEND_OK : mend_fail(err, MEND_E_NOMEM, "out of memory");
    for (int c = 0; s == MEND_OK && c < 3; c++)
        for (int y = 0; y < h8; y++)
            memcpy(crop + ((int64_t)c * h8 + y) * w8, x + ((int64_t)c * ih + y) * iw, (size_t)w8 * sizeof *crop);
    if (s == MEND_OK)
        s = mend_job_encode(j, crop, h8, w8, lat, err);
    if (s == MEND_OK)
        s = mend_interpolate(lat, 4, h8 / 8, w8 / 8, latent, j->h, j->w, MEND_INTERP_BILINEAR, 0, err);
    free(crop);
    free(lat);
    return s;
}

/* The 9-channel conditioning of one image into dst [5, h, w]: mask (1),
 * VAE(image * (1 - w*mask)) (4); processing NULL: txt2img's grey image. */
static mend_status image_cond(job *j, const mend_image *processing, float *dst, mend_err *err)
{
    /* the processed image's size: the job's, or its own with resize_mode 3 (no mask then) */
    int W = processing ? processing->width : j->p->width, H = processing ? processing->height : j->p->height;
    int64_t hw = (int64_t)H * W, lhw = (int64_t)j->h * j->w;
    float *cm = malloc((size_t)hw * sizeof *cm);
    float *src = processing ? image_to_tensor(processing) : calloc((size_t)(3 * hw), sizeof(float));
    mend_status s = MEND_OK;
    if (!cm || !src) {
        s = mend_fail(err, MEND_E_NOMEM, "out of memory");
        goto done;
    }
    if (j->nmask) {
        s = mend_inpaint_cond_mask(&j->prep.image_mask, cm, j->w, j->h, dst, err);
        if (s != MEND_OK)
            goto done;
    } else {
        /* no mask (img2img) or txt2img: mask 1 everywhere */
        for (int64_t i = 0; i < hw; i++)
            cm[i] = 1.0f;
        for (int64_t i = 0; i < lhw; i++)
            dst[i] = 1.0f;
    }
    if (processing) {
        float wgt = j->p->inpainting_mask_weight;
        for (int c = 0; c < 3; c++)
            for (int64_t i = 0; i < hw; i++)
                src[c * hw + i] = src[c * hw + i] + wgt * (src[c * hw + i] * (1.0f - cm[i]) - src[c * hw + i]);
    }
    /* txt2img: a grey image (0.5 in [0,1] = 0 in [-1,1]) */
    s = encode(j, src, H, W, dst + lhw, err);
done:
    free(cm);
    free(src);
    return s;
}

static mend_status alloc_image_cond(job *j, int n, mend_err *err)
{
    j->image_cond = malloc((size_t)n * (size_t)(j->extra * (int64_t)j->h * j->w) * sizeof *j->image_cond);
    return j->image_cond ? MEND_OK : mend_fail(err, MEND_E_NOMEM, "out of memory");
}

mend_status mend_job_prepare_txt2img_cond(job *j, mend_err *err)
{
    MEND_TRY(alloc_image_cond(j, 1, err));
    return image_cond(j, NULL, j->image_cond, err);
}

/* One init image: processed (A1111's per-image loop), its overlay and
 * colour target kept, encoded into the init latent of batch image b. */
static mend_status prepare_one(job *j, int b, int fill, mend_image *processing, mend_err *err)
{
    MEND_TRY(mend_init_image_prepare(&j->prep, &j->mopts, j->inits[b], fill, &j->overlay[b], processing, err));
    /* the target is the processed (cropped, resized, filled) image, before
     * VAE encode; A1111 computes it for img2img with or without a mask */
    if (j->p->color_correction)
        MEND_TRY(mend_color_correction_target(processing, &j->cc_target[b], err));
    float *x = image_to_tensor(processing);
    if (!x)
        return mend_fail(err, MEND_E_NOMEM, "out of memory");
    mend_status s = encode(j, x, processing->height, processing->width, j->init_latent + b * j->lat, err);
    free(x);
    return s;
}

mend_status mend_job_prepare_init(job *j, const mend_gen_inputs *in, mend_gen_output *out, mend_err *err)
{
    const mend_gen_params *p = j->p;
    j->mopts = (mend_mask_opts){p->width,  p->height,   p->resize_mode,      p->mask_blur_x,
                                p->mask_blur_y, p->inpainting_mask_invert, p->mask_round, p->inpaint_full_res,
                                p->inpaint_full_res_padding};
    if (in->mask) {
        MEND_TRY(mend_mask_prepare(in->mask, &j->mopts, &j->prep, err));
        if (!j->prep.active)
            out->comment = strdup("Unable to perform \"Inpaint Only mask\" because mask is blank, switch to img2img mode.");
    }
    j->inpaint = in->mask && j->prep.active;
    /* resize_mode 3 keeps each init image's size; A1111's overlay of a whole-picture mask then fails on
     * images of another size than the job's: refused here with the reason */
    for (int b = 0; b < j->ninit && j->inpaint && p->resize_mode == 3 && !j->prep.has_crop; b++)
        if (j->inits[b]->width != p->width || j->inits[b]->height != p->height)
            return mend_fail(err, MEND_E_ARG,
                             "parameter 'resize_mode': 3 (Just resize (latent upscale)) with a mask over the whole "
                             "picture needs init images of %dx%d (this one is %dx%d); use Only masked or another "
                             "resize mode",
                             p->width, p->height, j->inits[b]->width, j->inits[b]->height);
    if (j->inpaint) { /* the latent mask comes from image_mask alone: before the images, as A1111's init() */
        j->nmask = malloc((size_t)j->h * j->w * sizeof *j->nmask);
        if (!j->nmask)
            return mend_fail(err, MEND_E_NOMEM, "out of memory");
        MEND_TRY(mend_latent_mask(&j->prep.image_mask, j->w, j->h, p->mask_round, j->nmask, err));
    }
    int fill = j->inpaint && p->inpainting_fill != MEND_FILL_ORIGINAL;
    j->init_latent = malloc((size_t)(j->batch * j->lat) * sizeof *j->init_latent);
    if (!j->init_latent || (j->inpainting_model && alloc_image_cond(j, j->ninit, err) != MEND_OK))
        return mend_fail(err, MEND_E_NOMEM, "out of memory");
    int64_t per_cond = (int64_t)j->extra * j->h * j->w;
    mend_status s = MEND_OK;
    for (int b = 0; b < j->ninit && s == MEND_OK; b++) {
        mend_image processing = {0};
        s = prepare_one(j, b, fill, &processing, err);
        if (s == MEND_OK && j->inpainting_model)
            s = image_cond(j, &processing, j->image_cond + b * per_cond, err);
        mend_image_free(&processing);
    }
    for (int b = j->ninit; b < j->batch && s == MEND_OK; b++) /* one image: repeated over the batch */
        memcpy(j->init_latent + b * j->lat, j->init_latent, (size_t)j->lat * sizeof *j->init_latent);
    return s;
}
