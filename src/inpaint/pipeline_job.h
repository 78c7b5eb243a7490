/* The state of one generation job, shared by the job driver (pipeline.c)
 * and its init-image preparation (pipeline_init.c). Internal. */
#ifndef MEND_INPAINT_PIPELINE_JOB_H
#define MEND_INPAINT_PIPELINE_JOB_H

#include "core/rng.h"
#include "inpaint/conditioning.h"
#include "inpaint/denoiser.h"
#include "inpaint/latent_resize.h"
#include "inpaint/lora_run.h"
#include "inpaint/mask_prep.h"
#include "inpaint/pipeline.h"
#include "sampling/sampler.h"

#define MEND_JOB_MAX_BATCH 64

/* The hires fix of a txt2img job (A1111's calculate_target_resolution and
 * upscaler choice), worked out before any work (hires.c). */
typedef struct mend_hires_plan {
    int active;
    int to_w, to_h;           /* hr_upscale_to_x / _y */
    int trunc_x, trunc_y;     /* latent columns / rows cut off to reach hr_resize_x x hr_resize_y */
    int lat_w, lat_h;         /* the pass's latent size */
    int latent;               /* a latent mode (mode, antialias), else the image upscaler `upscaler` */
    mend_interp_mode mode;
    int antialias;
    const char *upscaler;
} mend_hires_plan;

typedef struct job {
    mend_sd_model *m;
    const mend_gen_params *p; /* = &eff */
    mend_gen_params eff;      /* the caller's, batch_size = the number of init images when several */
    const mend_sampler_info *sampler;
    mend_scheduler scheduler;
    mend_noise_schedule sched;
    int h, w;            /* latent size */
    int64_t lat;         /* 4*h*w */
    int img2img, inpaint, inpainting_model, extra; /* extra = UNet input channels beyond 4 */
    mend_cond_schedule cond, uncond;
    mend_mask_opts mopts;
    mend_mask_prep prep;
    /* per init image (ninit: 1, repeated over the batch, or one per image of the batch) */
    int ninit;
    const mend_image *inits[MEND_JOB_MAX_BATCH];
    mend_image overlay[MEND_JOB_MAX_BATCH];
    mend_image cc_target[MEND_JOB_MAX_BATCH]; /* LAB of the processed init image, when colour correction is on */
    float *init_latent;  /* [batch, 4, h, w] (masked content may differ per image) */
    float *nmask;        /* [h, w] or NULL */
    float *image_cond;   /* [ninit, extra, h, w] or NULL */
    int64_t seed, subseed;
    mend_rng gens[MEND_JOB_MAX_BATCH]; /* per image of the current batch */
    int batch;
    mend_lora_run lora;  /* the prompt's networks, applied for the job */
    char *ti_hashes;     /* infotext `TI hashes`, or NULL */
    int fixed_steps;     /* img2img with a given step count (A1111's setup_img2img_steps with steps): hires */
    mend_hires_plan hires;
    struct job *hr;      /* the hires pass: this job at the target size (hires.c), or NULL */
    const mend_preview_taesd *taesd; /* the inputs' TAESD decoder, or NULL */
    const char *script_keys;         /* the inputs' script infotext pairs, or NULL */
} job;

typedef struct mend_run_ctx {
    job *j;
    mend_cfg_denoiser *den;
    mend_gen_progress_fn progress;
    void *user;
    int iteration;
} mend_run_ctx;

/* pipeline_sample.c: the first noise of the batch's images from their seeds
 * (gens[] left ready for the sampler's draws), and one batch's sampling on
 * x (noise in, samples out; img2img from j->init_latent). */
mend_status mend_job_first_noise(job *j, const int64_t *seeds, const int64_t *subseeds, int B, float *noise,
                                 mend_err *err);
mend_status mend_job_sample_batch(job *j, mend_run_ctx *r, float *x, const float *noise, mend_err *err);

/* hires.c: the plan from the parameters (MEND_E_ARG naming a bad hr_* field);
 * the pass's job (j->hr: conditioning for the hires prompt, sampler, 9-channel
 * conditioning); one batch's pass from its first-pass samples x to *out
 * [batch, 4, lat_h, lat_w] (malloc'd). */
mend_status mend_hires_plan_make(const mend_gen_params *p, mend_hires_plan *h, mend_err *err);
mend_status mend_hires_prepare(job *j, mend_gen_output *out, mend_err *err);
mend_status mend_hires_pass(job *j, const float *x, const int64_t *seeds, const int64_t *subseeds, int iteration,
                            mend_gen_progress_fn progress, void *user, float **out, int *interrupted, mend_err *err);
void mend_hires_free(job *j);
/* pipeline_init.c: VAE encode (the job's encoder) of x [3, H, W] in [-1, 1], multiples of 8, to the scaled
 * posterior mean [4, H/8, W/8] */
mend_status mend_job_encode(const job *j, const float *x, int H, int W, float *latent, mend_err *err);
/* pipeline.c: decoded [3, H, W] in about [-1, 1] -> RGB uint8 as A1111 does */
mend_status mend_job_to_image(const float *dec, int W, int H, mend_image *img, mend_err *err);

/* Init images, mask, VAE encode, latent mask, 9-channel conditioning
 * (img2img and inpaint). out->comment gets the blank-mask note. */
mend_status mend_job_prepare_init(job *j, const mend_gen_inputs *in, mend_gen_output *out, mend_err *err);
/* txt2img with a 9-channel model: the conditioning of a grey image, mask 1. */
mend_status mend_job_prepare_txt2img_cond(job *j, mend_err *err);

/* vae_decode_method TAESD needs a TAESD decoder in the inputs: MEND_E_ARG
 * naming the option otherwise, before any work (decode.c). */
mend_status mend_job_check_decoder(const mend_gen_params *p, const mend_gen_inputs *in, mend_err *err);
/* One image's final latent [4, h, w] -> [3, 8h, 8w] in about [-1, 1], by
 * the job's decoder (decode.c). */
mend_status mend_job_decode(const job *j, const float *sample, float *dec, mend_err *err);

#endif
