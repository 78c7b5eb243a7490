#include "inpaint/gen_params.h"

#include <math.h>
#include <stddef.h>

void mend_gen_params_default(mend_gen_params *p)
{
    *p = (mend_gen_params){
        .prompt = "",
        .negative_prompt = "",
        .width = 512,
        .height = 512,
        .steps = 20,
        .cfg_scale = 7.0f,
        .seed = -1,
        .subseed = -1,
        .subseed_strength = 0.0f,
        .batch_size = 1,
        .n_iter = 1,
        .sampler_name = "DPM++ 2M",
        .scheduler = "Automatic",
        .clip_skip = 1,
        .rng = MEND_RNG_SOURCE_GPU,
        .eta_noise_seed_delta = 0,
        .denoising_strength = 0.75f,
        .resize_mode = 0,
        .initial_noise_multiplier = 1.0f,
        .mask_blur_x = 4,
        .mask_blur_y = 4,
        .inpainting_fill = MEND_FILL_ORIGINAL,
        .inpaint_full_res = 0,
        .inpaint_full_res_padding = 32,
        .inpainting_mask_invert = 0,
        .inpainting_mask_weight = 1.0f,
        .mask_round = 1,
        .color_correction = 0,
    };
}

void mend_gen_params_api_default(mend_gen_params *p)
{
    mend_gen_params_default(p);
    p->steps = 50;
    p->sampler_name = "Euler";
    p->inpainting_fill = MEND_FILL_FILL;
    p->inpaint_full_res = 1;
    p->inpaint_full_res_padding = 0;
}

static int finite_in(float v, float lo, float hi)
{
    return isfinite(v) && v >= lo && v <= hi;
}

mend_status mend_gen_params_validate(const mend_gen_params *p, int has_init, mend_err *err)
{
    if (p->width < 8 || p->width > 8192 || p->width % 8)
        return mend_fail(err, MEND_E_ARG, "width %d: must be a multiple of 8 between 8 and 8192", p->width);
    if (p->height < 8 || p->height > 8192 || p->height % 8)
        return mend_fail(err, MEND_E_ARG, "height %d: must be a multiple of 8 between 8 and 8192", p->height);
    if (p->steps < 1 || p->steps > 150)
        return mend_fail(err, MEND_E_ARG, "steps %d: must be between 1 and 150", p->steps);
    if (!finite_in(p->cfg_scale, 0.0f, 100.0f))
        return mend_fail(err, MEND_E_ARG, "cfg_scale %g: must be between 0 and 100", p->cfg_scale);
    if (p->batch_size < 1 || p->batch_size > 64)
        return mend_fail(err, MEND_E_ARG, "batch_size %d: must be between 1 and 64", p->batch_size);
    if (p->n_iter < 1 || p->n_iter > 1000)
        return mend_fail(err, MEND_E_ARG, "n_iter %d: must be between 1 and 1000", p->n_iter);
    if (p->seed < -1 || p->seed > 0xffffffffLL)
        return mend_fail(err, MEND_E_ARG, "seed %lld: must be -1 (random) or between 0 and 4294967295",
                         (long long)p->seed);
    if (p->subseed < -1 || p->subseed > 0xffffffffLL)
        return mend_fail(err, MEND_E_ARG, "subseed %lld: must be -1 (random) or between 0 and 4294967295",
                         (long long)p->subseed);
    if (!finite_in(p->subseed_strength, 0.0f, 1.0f))
        return mend_fail(err, MEND_E_ARG, "subseed_strength %g: must be between 0 and 1", p->subseed_strength);
    if (p->clip_skip < 1 || p->clip_skip > 12)
        return mend_fail(err, MEND_E_ARG, "clip_skip %d: must be between 1 and 12", p->clip_skip);
    if (p->eta_noise_seed_delta < 0)
        return mend_fail(err, MEND_E_ARG, "eta_noise_seed_delta %d: must be >= 0", p->eta_noise_seed_delta);
    if (p->color_correction != 0 && p->color_correction != 1)
        return mend_fail(err, MEND_E_ARG, "color_correction %d: must be 0 (off) or 1 (on)", p->color_correction);
    if (!has_init)
        return MEND_OK;
    if (!finite_in(p->denoising_strength, 0.0f, 1.0f))
        return mend_fail(err, MEND_E_ARG, "denoising_strength %g: must be between 0 and 1", p->denoising_strength);
    if (p->resize_mode < 0 || p->resize_mode > 2)
        return mend_fail(err, MEND_E_ARG, "resize_mode %d: must be 0 (just resize), 1 (crop and resize) or 2 "
                                          "(resize and fill)", p->resize_mode);
    if (!finite_in(p->initial_noise_multiplier, 0.0f, 1.5f))
        return mend_fail(err, MEND_E_ARG, "initial_noise_multiplier %g: must be between 0 and 1.5",
                         p->initial_noise_multiplier);
    if (p->mask_blur_x < 0 || p->mask_blur_x > 64 || p->mask_blur_y < 0 || p->mask_blur_y > 64)
        return mend_fail(err, MEND_E_ARG, "mask_blur %d/%d: must be between 0 and 64", p->mask_blur_x, p->mask_blur_y);
    if (p->inpainting_fill < 0 || p->inpainting_fill > 3)
        return mend_fail(err, MEND_E_ARG, "inpainting_fill %d: must be 0 (fill), 1 (original), 2 (latent noise) "
                                          "or 3 (latent nothing)", p->inpainting_fill);
    if (p->inpaint_full_res_padding < 0 || p->inpaint_full_res_padding > 256)
        return mend_fail(err, MEND_E_ARG, "inpaint_full_res_padding %d: must be between 0 and 256",
                         p->inpaint_full_res_padding);
    if (!finite_in(p->inpainting_mask_weight, 0.0f, 1.0f))
        return mend_fail(err, MEND_E_ARG, "inpainting_mask_weight %g: must be between 0 and 1",
                         p->inpainting_mask_weight);
    return MEND_OK;
}
