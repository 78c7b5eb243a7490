/* Everything a txt2img / img2img / inpaint job takes, named after A1111's
 * API fields, with A1111's UI defaults (mend_gen_params_default) or its
 * API defaults (mend_gen_params_api_default). */
#ifndef MEND_INPAINT_GEN_PARAMS_H
#define MEND_INPAINT_GEN_PARAMS_H

#include <stdint.h>

#include "core/err.h"
#include "core/rng.h"

enum {
    MEND_FILL_FILL = 0,
    MEND_FILL_ORIGINAL = 1,
    MEND_FILL_LATENT_NOISE = 2,
    MEND_FILL_LATENT_NOTHING = 3,
};

/* randn_source: A1111's "GPU" default is the CUDA Philox stream, which the
 * NV generator reproduces; the infotext names the source only when it is
 * not GPU. */
typedef enum mend_rng_source { MEND_RNG_SOURCE_GPU = 0, MEND_RNG_SOURCE_NV, MEND_RNG_SOURCE_CPU } mend_rng_source;

typedef struct mend_gen_params {
    const char *prompt;
    const char *negative_prompt;
    int width, height;  /* multiples of 8 */
    int steps;          /* 1..150 */
    float cfg_scale;
    int64_t seed;       /* -1 = random */
    int64_t subseed;    /* -1 = random */
    float subseed_strength;
    int batch_size;     /* images sampled together, 1..8 */
    int n_iter;         /* batches, 1..100 */
    const char *sampler_name; /* A1111 name, e.g. "DPM++ 2M" */
    const char *scheduler;    /* "Automatic", "Karras", ... */
    int clip_skip;            /* 1 = last layer */
    mend_rng_source rng;
    int eta_noise_seed_delta;
    /* img2img / inpaint */
    float denoising_strength; /* 0..1 */
    int resize_mode;          /* 0 just resize, 1 crop and resize, 2 resize and fill */
    float initial_noise_multiplier;
    int mask_blur_x, mask_blur_y; /* 0..64 */
    int inpainting_fill;          /* MEND_FILL_* */
    int inpaint_full_res;         /* 1 = "Only masked" */
    int inpaint_full_res_padding; /* 0..256 */
    int inpainting_mask_invert;   /* 1 = "Inpaint not masked" */
    float inpainting_mask_weight; /* conditioning mask strength of 9-channel models */
    int mask_round;
    /* A1111 setting img2img_color_correction (default off): match the
     * decoded image's LAB histograms to the processed init image's,
     * keeping the decoded luminosity (§4.5, §9). img2img only. */
    int color_correction;
} mend_gen_params;

/* A1111 UI defaults (Inpaint tab): DPM++ 2M / Automatic, 20 steps, CFG 7,
 * 512x512, strength 0.75, mask blur 4, original, whole picture, padding 32. */
void mend_gen_params_default(mend_gen_params *p);

/* A1111 API defaults (/sdapi/v1/img2img): Euler, 50 steps, fill, only
 * masked, padding 0. */
void mend_gen_params_api_default(mend_gen_params *p);

/* Range checks with a message naming the field. has_init: img2img. */
mend_status mend_gen_params_validate(const mend_gen_params *p, int has_init, mend_err *err);

#endif
