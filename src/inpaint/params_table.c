/* The one table of generation parameters (include/mend/params.h). min..max
 * are A1111 1.10's UI ranges (spec/inpaint-semantics.md §12), what the
 * page's sliders offer. A1111's API checks only types (modules/api/models.py
 * builds its request model from the processing classes' signatures), so it
 * takes values its sliders do not: where that matters the row gives an API
 * range (API_RANGE), which the API and the CLI accept; its upper ends are
 * mend's, past which a job would run for days (steps, batch count) or never
 * fit in memory (size, batch size: mem_admission.c refuses what would not
 * fit on this machine before that). The order is the order of
 * `mend inpaint --help` and of the page's controls. */
#include "mend/params.h"

#include <stddef.h>
#include <stdint.h>

#define AT(f) offsetof(mend_gen_params, f)
#define N(a) ((int)(sizeof a / sizeof *a))
#define CHOICES(a) a, NULL, N(a)
#define CHOICES_CLI(a, c) a, c, N(a)
#define NO_CHOICES NULL, NULL, 0
#define SEED_MAX 4294967295.0
#define UI_RANGE 1, 0 /* the API takes the UI range */
#define API_RANGE(lo, hi) lo, hi

static const char *const rng_names[] = {"GPU", "NV", "CPU"};
static const char *const precision_names[] = {"auto", "fp32", "bf16"};
static const char *const decode_names[] = {"Full", "TAESD"};
static const char *const resize_names[] = {"Just resize", "Crop and resize", "Resize and fill",
                                           "Just resize (latent upscale)"};
static const char *const resize_cli[] = {"just-resize", "crop-and-resize", "resize-and-fill", "latent-upscale"};
static const char *const fill_names[] = {"fill", "original", "latent noise", "latent nothing"};
static const char *const area_names[] = {"Whole picture", "Only masked"};
static const char *const area_cli[] = {"whole", "only-masked"};
static const char *const mode_names[] = {"Inpaint masked", "Inpaint not masked"};
static const char *const mode_cli[] = {"masked", "not-masked"};
static const char *const off_on[] = {"off", "on"};
static const char *const noise_schedule_names[] = {"Default", "Zero Terminal SNR"};
static const char *const noise_schedule_cli[] = {"default", "zero-terminal-snr"};
static const char *const false_true[] = {"False", "True"};

/* name, api_key, cli_flag, cli_aliases, cli_short, label, type, scope, flags, min, max, step, choices,
 * ui_default, api_default, ui_default_str, api_default_str, infotext_key, help, offset, api range */
static const mend_param_desc table[] = {
    {"prompt", "prompt", "prompt", NULL, 'p', "Prompt", MEND_PARAM_STRING, MEND_SCOPE_ALL, 0, 0, 0, 0, NO_CHOICES,
     0, 0, "", "", NULL, "the prompt (or as the one positional argument); any length (75-token chunks)", AT(prompt), UI_RANGE},
    {"negative_prompt", "negative_prompt", "negative-prompt", NULL, 'n', "Negative prompt", MEND_PARAM_STRING,
     MEND_SCOPE_ALL, 0, 0, 0, 0, NO_CHOICES, 0, 0, "", "", "Negative prompt", "what to steer away from",
     AT(negative_prompt), UI_RANGE},
    {"sampler_name", "sampler_name", "sampler", "sampling-method", 0, "Sampling method", MEND_PARAM_STRING,
     MEND_SCOPE_ALL, MEND_PARAM_API_CUSTOM | MEND_PARAM_NO_CHECK, 0, 0, 0, NO_CHOICES, 0, 0, "DPM++ 2M", "Euler",
     "Sampler", "an A1111 sampler name (GET /sdapi/v1/samplers; the SDE samplers' noise is not A1111's)",
     AT(sampler_name), UI_RANGE},
    {"scheduler", "scheduler", "scheduler", "schedule", 0, "Schedule type", MEND_PARAM_STRING, MEND_SCOPE_ALL,
     MEND_PARAM_API_CUSTOM | MEND_PARAM_NO_CHECK, 0, 0, 0, NO_CHOICES, 0, 0, "Automatic", "Automatic",
     "Schedule type", "a schedule type (GET /sdapi/v1/schedulers)", AT(scheduler), UI_RANGE},
    {"steps", "steps", "steps", NULL, 0, "Sampling steps", MEND_PARAM_INT, MEND_SCOPE_ALL, 0, 1, 150, 1,
     NO_CHOICES, 20, 50, NULL, NULL, "Steps", "sampling steps", AT(steps), API_RANGE(1, 10000)},
    {"width", "width", "width", NULL, 'W', "Width", MEND_PARAM_INT, MEND_SCOPE_ALL, MEND_PARAM_STRICT_STEP, 64,
     2048, 8, NO_CHOICES, 512, 512, NULL, NULL, "Size", "processing width", AT(width), API_RANGE(64, 8192)},
    {"height", "height", "height", NULL, 'H', "Height", MEND_PARAM_INT, MEND_SCOPE_ALL, MEND_PARAM_STRICT_STEP, 64,
     2048, 8, NO_CHOICES, 512, 512, NULL, NULL, "Size", "processing height", AT(height), API_RANGE(64, 8192)},
    {"n_iter", "n_iter", "n-iter", "batch-count", 0, "Batch count", MEND_PARAM_INT, MEND_SCOPE_ALL, 0, 1, 100, 1,
     NO_CHOICES, 1, 1, NULL, NULL, NULL, "batches, one after the other", AT(n_iter), API_RANGE(1, 10000)},
    {"batch_size", "batch_size", "batch-size", NULL, 0, "Batch size", MEND_PARAM_INT, MEND_SCOPE_ALL, 0, 1, 8, 1,
     NO_CHOICES, 1, 1, NULL, NULL, NULL, "images sampled together", AT(batch_size), API_RANGE(1, 64)},
    {"cfg_scale", "cfg_scale", "cfg-scale", NULL, 0, "CFG Scale", MEND_PARAM_FLOAT, MEND_SCOPE_ALL, 0, 1, 30, 0.5,
     NO_CHOICES, 7, 7, NULL, NULL, "CFG scale", "classifier-free guidance scale", AT(cfg_scale), API_RANGE(0, 100)},
    {"seed", "seed", "seed", NULL, 's', "Seed", MEND_PARAM_INT64, MEND_SCOPE_ALL, 0, -1, SEED_MAX, 1, NO_CHOICES,
     -1, -1, NULL, NULL, "Seed", "-1 = random; image i of the job gets seed + i", AT(seed), UI_RANGE},
    {"subseed", "subseed", "subseed", NULL, 0, "Variation seed", MEND_PARAM_INT64, MEND_SCOPE_ALL, 0, -1,
     SEED_MAX, 1, NO_CHOICES, -1, -1, NULL, NULL, "Variation seed", "-1 = random", AT(subseed), UI_RANGE},
    {"subseed_strength", "subseed_strength", "subseed-strength", NULL, 0, "Variation strength", MEND_PARAM_FLOAT,
     MEND_SCOPE_ALL, 0, 0, 1, 0.01, NO_CHOICES, 0, 0, NULL, NULL, "Variation seed strength",
     "how much of the variation seed's noise", AT(subseed_strength), UI_RANGE},
    {"clip_skip", "CLIP_stop_at_last_layers", "clip-skip", NULL, 0, "Clip skip", MEND_PARAM_INT, MEND_SCOPE_ALL,
     MEND_PARAM_SETTING, 1, 12, 1, NO_CHOICES, 1, 1, NULL, NULL, "Clip skip", "1 = last CLIP layer",
     AT(clip_skip), UI_RANGE},
    {"rng", "randn_source", "rng", NULL, 0, "Random number generator source", MEND_PARAM_CHOICE, MEND_SCOPE_ALL,
     MEND_PARAM_SETTING | MEND_PARAM_API_NAME, 0, 2, 1, CHOICES(rng_names), 0, 0, NULL, NULL, "RNG",
     "noise source: gpu (A1111's default: CUDA's Philox stream, as nv), cpu (torch's CPU generator)", AT(rng), UI_RANGE},
    {"eta_noise_seed_delta", "eta_noise_seed_delta", "eta-noise-seed-delta", NULL, 0, "Eta noise seed delta",
     MEND_PARAM_INT, MEND_SCOPE_ALL, MEND_PARAM_SETTING, 0, 2147483647.0, 1, NO_CHOICES, 0, 0, NULL, NULL, "ENSD",
     "ENSD: added to the seed of ancestral and SDE samplers' noise", AT(eta_noise_seed_delta), UI_RANGE},
    {"tiling", "tiling", "tiling", NULL, 0, "Tiling", MEND_PARAM_BOOL, MEND_SCOPE_ALL,
     MEND_PARAM_ALSO_SETTING | MEND_PARAM_API_NULL, 0, 1, 1, CHOICES(false_true), 0, 0, NULL, NULL, "Tiling",
     "seamless tiling: every UNet and VAE convolution pads circularly (A1111's tiling)", AT(tiling), UI_RANGE},
    {"precision", "mend_precision", "precision", NULL, 0, "Precision", MEND_PARAM_CHOICE, MEND_SCOPE_ALL,
     MEND_PARAM_SETTING | MEND_PARAM_API_NAME, 0, 2, 1, CHOICES(precision_names), 0, 0, NULL, NULL, NULL,
     "compute precision of the UNet: auto, fp32 or bf16 (mend option mend_precision)", AT(precision), UI_RANGE},
    {"noise_schedule", "sd_noise_schedule", "noise-schedule", NULL, 0, "Noise schedule for sampling",
     MEND_PARAM_CHOICE, MEND_SCOPE_ALL, MEND_PARAM_SETTING | MEND_PARAM_API_NAME, 0, 1, 1,
     CHOICES_CLI(noise_schedule_names, noise_schedule_cli), 0, 0, NULL, NULL, "Noise Schedule",
     "the noise schedule: default, or zero-terminal-snr (rescaled to a zero terminal SNR)", AT(noise_schedule),
     UI_RANGE},
    /* A1111's setting; the CLI's --taesd PATH sets it to TAESD */
    {"vae_decode_method", "sd_vae_decode_method", NULL, NULL, 0, "VAE type for decode", MEND_PARAM_CHOICE,
     MEND_SCOPE_ALL, MEND_PARAM_SETTING | MEND_PARAM_API_NAME, 0, 1, 1, CHOICES(decode_names), 0, 0, NULL, NULL,
     "VAE Decoder", "decoder of the final images: Full (the VAE) or TAESD (needs a TAESD decoder: --taesd)",
     AT(vae_decode_method), UI_RANGE},
    /* img2img and inpaint */
    /* txt2img hires fix (src/inpaint/hires.c) */
    {"enable_hr", "enable_hr", "enable-hr", NULL, 0, "Hires. fix", MEND_PARAM_BOOL, MEND_SCOPE_TXT2IMG, 0, 0, 1,
     1, CHOICES(false_true), 0, 0, NULL, NULL, NULL,
     "hires fix: upscale the first pass and run an img2img pass at the larger size", AT(enable_hr), UI_RANGE},
    {"hr_upscaler", "hr_upscaler", "hr-upscaler", NULL, 0, "Upscaler", MEND_PARAM_STRING, MEND_SCOPE_TXT2IMG,
     MEND_PARAM_API_NULL | MEND_PARAM_NO_CHECK, 0, 0, 0, NO_CHOICES, 0, 0, "Latent", NULL, "Hires upscaler",
     "Latent, Latent (antialiased), Latent (bicubic), Latent (bicubic antialiased), Latent (nearest), "
     "Latent (nearest-exact), None, Lanczos or Nearest", AT(hr_upscaler), UI_RANGE},
    {"hr_scale", "hr_scale", "hr-scale", NULL, 0, "Upscale by", MEND_PARAM_FLOAT, MEND_SCOPE_TXT2IMG, 0, 1, 4, 0.05,
     NO_CHOICES, 2, 2, NULL, NULL, "Hires upscale", "hires fix: the target is the size times this",
     AT(hr_scale), API_RANGE(0.125, 16)},
    {"hr_second_pass_steps", "hr_second_pass_steps", "hr-second-pass-steps", "hr-steps", 0, "Hires steps",
     MEND_PARAM_INT, MEND_SCOPE_TXT2IMG, 0, 0, 150, 1, NO_CHOICES, 0, 0, NULL, NULL, "Hires steps",
     "steps of the hires pass (0: steps)", AT(hr_second_pass_steps), API_RANGE(0, 10000)},
    {"hr_resize_x", "hr_resize_x", "hr-resize-x", NULL, 0, "Resize width to", MEND_PARAM_INT, MEND_SCOPE_TXT2IMG, 0,
     0, 2048, 8, NO_CHOICES, 0, 0, NULL, NULL, "Hires resize", "hires target width instead of hr_scale (0: from the "
     "height)", AT(hr_resize_x), API_RANGE(0, 8192)},
    {"hr_resize_y", "hr_resize_y", "hr-resize-y", NULL, 0, "Resize height to", MEND_PARAM_INT, MEND_SCOPE_TXT2IMG, 0,
     0, 2048, 8, NO_CHOICES, 0, 0, NULL, NULL, "Hires resize", "hires target height instead of hr_scale (0: from the "
     "width)", AT(hr_resize_y), API_RANGE(0, 8192)},
    {"hr_sampler_name", "hr_sampler_name", "hr-sampler", NULL, 0, "Hires sampling method", MEND_PARAM_STRING,
     MEND_SCOPE_TXT2IMG, MEND_PARAM_API_NULL | MEND_PARAM_NO_CHECK, 0, 0, 0, NO_CHOICES, 0, 0, "Use same sampler",
     NULL, "Hires sampler", "the hires pass's sampler (default: the same)", AT(hr_sampler_name), UI_RANGE},
    {"hr_scheduler", "hr_scheduler", "hr-scheduler", NULL, 0, "Hires schedule type", MEND_PARAM_STRING,
     MEND_SCOPE_TXT2IMG, MEND_PARAM_API_NULL | MEND_PARAM_NO_CHECK, 0, 0, 0, NO_CHOICES, 0, 0,
     "Use same scheduler", NULL, "Hires schedule type", "the hires pass's schedule type (default: the same)", AT(hr_scheduler), UI_RANGE},
    {"hr_prompt", "hr_prompt", "hr-prompt", NULL, 0, "Hires prompt", MEND_PARAM_STRING, MEND_SCOPE_TXT2IMG, 0, 0, 0,
     0, NO_CHOICES, 0, 0, "", "", "Hires prompt", "the hires pass's prompt (default: the same)", AT(hr_prompt),
     UI_RANGE},
    {"hr_negative_prompt", "hr_negative_prompt", "hr-negative-prompt", NULL, 0, "Hires negative prompt",
     MEND_PARAM_STRING, MEND_SCOPE_TXT2IMG, 0, 0, 0, 0, NO_CHOICES, 0, 0, "", "", "Hires negative prompt",
     "the hires pass's negative prompt (default: the same)", AT(hr_negative_prompt), UI_RANGE},
    /* img2img and inpaint; txt2img's hires pass */
    {"denoising_strength", "denoising_strength", "denoising-strength", "strength", 0, "Denoising strength",
     MEND_PARAM_FLOAT, MEND_SCOPE_ALL, 0, 0, 1, 0.01, NO_CHOICES, 0.75, 0.75, NULL, NULL,
     "Denoising strength", "how much of the init image (txt2img hires fix: of the upscaled first pass) is replaced",
     AT(denoising_strength), UI_RANGE},
    {"resize_mode", "resize_mode", "resize-mode", NULL, 0, "Resize mode", MEND_PARAM_CHOICE, MEND_SCOPE_IMG2IMG, 0,
     0, 3, 1, CHOICES_CLI(resize_names, resize_cli), 0, 0, NULL, NULL, NULL,
     "how the init image is fitted to width x height (latent-upscale: encoded at its size, the latent resized)",
     AT(resize_mode), UI_RANGE},
    {"initial_noise_multiplier", "initial_noise_multiplier", "initial-noise-multiplier", NULL, 0,
     "Noise multiplier for img2img", MEND_PARAM_FLOAT, MEND_SCOPE_IMG2IMG,
     MEND_PARAM_ALSO_SETTING | MEND_PARAM_API_NULL, 0, 1.5, 0.001, NO_CHOICES, 1, 1, NULL, NULL, "Noise multiplier",
     "scales the initial noise", AT(initial_noise_multiplier), UI_RANGE},
    {"inpainting_mask_weight", "inpainting_mask_weight", "inpainting-mask-weight", NULL, 0,
     "Inpainting conditioning mask strength", MEND_PARAM_FLOAT, MEND_SCOPE_IMG2IMG, MEND_PARAM_SETTING, 0, 1, 0.01,
     NO_CHOICES, 1, 1, NULL, NULL, "Conditional mask weight", "conditioning mask strength of inpainting models",
     AT(inpainting_mask_weight), UI_RANGE},
    {"color_correction", "img2img_color_correction", "color-correction", NULL, 0,
     "Apply color correction to img2img results", MEND_PARAM_BOOL, MEND_SCOPE_IMG2IMG, MEND_PARAM_SETTING, 0, 1, 1,
     CHOICES(off_on), 0, 0, NULL, NULL, NULL, "match the result's colours to the init image",
     AT(color_correction), UI_RANGE},
    /* inpaint */
    {"mask_alpha", NULL, "mask-alpha", NULL, 0, "Mask transparency", MEND_PARAM_FLOAT, MEND_SCOPE_INPAINT, 0, 0, 100,
     1, NO_CHOICES, 0, 0, NULL, NULL, NULL, "Inpaint sketch: mask transparency", AT(mask_alpha), UI_RANGE},
    {"mask_blur", "mask_blur", "mask-blur", NULL, 0, "Mask blur", MEND_PARAM_INT, MEND_SCOPE_INPAINT,
     MEND_PARAM_BOTH_AXES | MEND_PARAM_API_NULL, 0, 64, 1, NO_CHOICES, 4, 4, NULL, NULL, "Mask blur",
     "mask blur on both axes (the sketch composite blurs with the x value)", AT(mask_blur_x), API_RANGE(0, 256)},
    {"mask_blur_x", "mask_blur_x", "mask-blur-x", NULL, 0, "Mask blur X", MEND_PARAM_INT, MEND_SCOPE_INPAINT, 0, 0,
     64, 1, NO_CHOICES, 4, 4, NULL, NULL, NULL, "mask blur, horizontal", AT(mask_blur_x), API_RANGE(0, 256)},
    {"mask_blur_y", "mask_blur_y", "mask-blur-y", NULL, 0, "Mask blur Y", MEND_PARAM_INT, MEND_SCOPE_INPAINT, 0, 0,
     64, 1, NO_CHOICES, 4, 4, NULL, NULL, NULL, "mask blur, vertical", AT(mask_blur_y), API_RANGE(0, 256)},
    {"inpainting_mask_invert", "inpainting_mask_invert", "inpainting-mask-invert", "mask-mode", 0, "Mask mode",
     MEND_PARAM_BOOL, MEND_SCOPE_INPAINT, MEND_PARAM_API_INT, 0, 1, 1, CHOICES_CLI(mode_names, mode_cli), 0, 0,
     NULL, NULL, "Mask mode", "inpaint the unmasked area (--mask-mode masked|not-masked)",
     AT(inpainting_mask_invert), UI_RANGE},
    {"inpainting_fill", "inpainting_fill", "inpainting-fill", NULL, 0, "Masked content", MEND_PARAM_CHOICE,
     MEND_SCOPE_INPAINT, 0, 0, 3, 1, CHOICES(fill_names), 1, 0, NULL, NULL, "Masked content",
     "what the masked area starts from", AT(inpainting_fill), UI_RANGE},
    {"inpaint_full_res", "inpaint_full_res", "inpaint-full-res", "inpaint-area", 0, "Inpaint area",
     MEND_PARAM_BOOL, MEND_SCOPE_INPAINT, 0, 0, 1, 1, CHOICES_CLI(area_names, area_cli), 0, 1, NULL, NULL,
     "Inpaint area", "inpaint area \"Only masked\" (--inpaint-area whole|only-masked)", AT(inpaint_full_res), UI_RANGE},
    {"inpaint_full_res_padding", "inpaint_full_res_padding", "inpaint-full-res-padding", NULL, 0,
     "Only masked padding, pixels", MEND_PARAM_INT, MEND_SCOPE_INPAINT, 0, 0, 256, 4, NO_CHOICES, 32, 0, NULL,
     NULL, "Masked area padding", "only-masked padding in pixels", AT(inpaint_full_res_padding), API_RANGE(0, 2048)},
    {"mask_round", "mask_round", NULL, NULL, 0, "Round mask", MEND_PARAM_BOOL, MEND_SCOPE_INPAINT, 0, 0, 1, 1,
     CHOICES(off_on), 1, 1, NULL, NULL, NULL, "threshold the blurred mask (off: soft masks)", AT(mask_round), UI_RANGE},
};

int mend_param_count(void)
{
    return N(table);
}

const mend_param_desc *mend_param_at(int i)
{
    return i >= 0 && i < N(table) ? &table[i] : NULL;
}
