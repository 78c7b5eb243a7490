/* mend — Stable Diffusion inpainting engine: public C API.
 *
 * Every fallible call returns a mend_status and fills a caller-owned
 * mend_err with a message that names the input and what is wrong.
 * Nothing in the library calls exit() or prints to stdout. */
#ifndef MEND_MEND_H
#define MEND_MEND_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MEND_VERSION "0.1.0"

typedef enum mend_status {
    MEND_OK = 0,
    MEND_E_IO,          /* file cannot be opened, read or written */
    MEND_E_FORMAT,      /* file is there but its content is malformed */
    MEND_E_ARCH,        /* weights do not form a known architecture */
    MEND_E_ARG,         /* a caller-supplied argument is out of range */
    MEND_E_NOMEM,       /* allocation failed */
    MEND_E_INTERRUPTED, /* the caller asked to stop */
    MEND_E_SKIPPED,     /* the caller asked to end the current batch (progress callbacks only) */
    MEND_E_LIMIT        /* a request exceeds a limit (memory, pixels): HTTP 413 */
} mend_status;

typedef struct mend_err {
    mend_status code;
    char msg[1024];
} mend_err;

/* Short, stable name of a status ("io", "format", ...). */
const char *mend_status_name(mend_status s);

/* Thread count used by every kernel; 0 = number of online CPUs. */
void mend_set_threads(int n);
int mend_get_threads(void);

/* Monotonic seconds (arbitrary origin) for progress, ETA and timings. */
double mend_clock_s(void);

/* ------------------------------------------------------------------ */
/* Images: 8-bit, interleaved rows (PNG/JPEG in, PNG out).            */

typedef struct mend_image {
    int width, height, channels;
    uint8_t *data; /* width * height * channels bytes, owned */
} mend_image;

/* A PNG tEXt chunk (Latin-1 keyword of 1..79 chars, text without NULs). */
typedef struct mend_png_text {
    const char *key;
    const char *text;
} mend_png_text;

void mend_image_free(mend_image *img);
/* Reads and decodes a PNG or JPEG file. */
mend_status mend_image_load(const char *path, mend_image *out, mend_err *err);
/* Writes a PNG atomically (never a partial file), with text chunks such as
 * A1111's "parameters". */
mend_status mend_image_save_png(const char *path, const mend_image *img, const mend_png_text *texts, int ntexts,
                                mend_err *err);

/* ------------------------------------------------------------------ */
/* A model: an SD 1.x checkpoint (single file or diffusers folder)    */
/* with its CLIP vocabulary. Opaque to users of this header.          */

typedef struct mend_sd_model mend_sd_model;

/* vocab may be NULL when the model has a tokenizer/ folder. */
mend_status mend_model_load(const char *path, const char *vocab, mend_sd_model **out, mend_err *err);
void mend_model_free(mend_sd_model *m);

/* ------------------------------------------------------------------ */
/* Generation parameters (named after A1111's API fields).            */

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

/* Compute precision the caller asks for (the engine decides what "auto"
 * means; fp32 is the reference behaviour). */
typedef enum mend_precision { MEND_PRECISION_AUTO = 0, MEND_PRECISION_FP32, MEND_PRECISION_BF16 } mend_precision;

/* What p means on this CPU: "fp32" or "bf16" (auto: bf16 where the CPU has
 * native bf16 dot products: AVX512-BF16 or AMX-BF16). NULL and MEND_E_ARG
 * naming the missing CPU feature for bf16 on a CPU without it. */
const char *mend_precision_name(mend_precision p, mend_err *err);

/* Sets a loaded model's precision (mend_generate does it for each job from
 * its parameters); *chosen (may be NULL) gets "fp32" or "bf16". A model that
 * ran in bf16 holds bf16 weights: going back to fp32 needs a reload. */
mend_status mend_model_set_precision(mend_sd_model *m, mend_precision p, const char **chosen, mend_err *err);

/* The fields' ranges, defaults, API keys and CLI flags are in one table:
 * include/mend/params.h (mend_param_at). */

typedef struct mend_gen_params {
    const char *prompt;
    const char *negative_prompt;
    int width, height;  /* multiples of 8, 64..2048 */
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
    /* Inpaint sketch: mask transparency 0..100 used by the caller's sketch
     * conversion (the pipeline takes the finished mask). */
    float mask_alpha;
    mend_precision precision;
    /* A1111's tiling: every UNet and VAE convolution pads circularly, so the
     * image tiles seamlessly (infotext "Tiling: True"). */
    int tiling;
    /* txt2img hires fix (A1111's enable_hr, src/inpaint/hires.c): a first
     * pass at width x height, its latent (latent modes) or decoded image
     * (mend/upscale.h's upscalers) upscaled to hr_scale times the size or to
     * hr_resize_x x hr_resize_y, then an img2img pass of hr_second_pass_steps
     * steps (0: steps) at denoising_strength. */
    int enable_hr;
    float hr_scale;
    const char *hr_upscaler;     /* "Latent", "Latent (antialiased)", ..., or an upscaler; NULL: "Latent" */
    int hr_second_pass_steps;
    int hr_resize_x, hr_resize_y; /* 0, 0: hr_scale; one of them 0: the other with the aspect ratio */
    const char *hr_sampler_name;  /* NULL or "": the first pass's */
    const char *hr_scheduler;     /* NULL or "": the first pass's */
    const char *hr_prompt, *hr_negative_prompt; /* NULL or "": the first pass's */
    /* A1111's sd_vae_decode_method: MEND_VAE_DECODE_FULL (the VAE) or
     * MEND_VAE_DECODE_TAESD (the inputs' TAESD decoder; infotext
     * "VAE Decoder: TAESD"). */
    int vae_decode_method;
    /* A1111's sd_noise_schedule: 0 "Default", 1 "Zero Terminal SNR" (the
     * schedule rescaled to a zero terminal SNR; infotext "Noise Schedule"). */
    int noise_schedule;
} mend_gen_params;

enum { MEND_VAE_DECODE_FULL = 0, MEND_VAE_DECODE_TAESD = 1 };

/* A1111 UI defaults (Inpaint tab): DPM++ 2M / Automatic, 20 steps, CFG 7,
 * 512x512, strength 0.75, mask blur 4, original, whole picture, padding 32. */
void mend_gen_params_default(mend_gen_params *p);

/* A1111 API defaults (/sdapi/v1/img2img): Euler, 50 steps, fill, only
 * masked, padding 0. */
void mend_gen_params_api_default(mend_gen_params *p);

/* Range checks with the table's one message format (params.h). has_init: img2img. */
mend_status mend_gen_params_validate(const mend_gen_params *p, int has_init, mend_err *err);

/* ------------------------------------------------------------------ */
/* Generation: txt2img, img2img, or inpainting when a mask is given.  */

/* A stop request a front end raises from any thread while mend_generate
 * runs (A1111's Interrupt and Skip buttons). The job polls it between the
 * blocks of every UNet and VAE pass, so it takes effect within one block of
 * a model call rather than after a whole sampler step: Interrupt and Skip
 * then end the batch as the progress callback's statuses do (finished from
 * the latest prediction); an Interrupt that arrives during a VAE pass drops
 * the images not decoded yet (out->interrupted is set, earlier batches stay);
 * one during the init image's encode ends the job with MEND_E_INTERRUPTED
 * and no output. The library clears a Skip once it has ended a batch with
 * it. Pass it to mend_generate_stoppable. */
typedef struct mend_stop {
    int request; /* MEND_OK, MEND_E_INTERRUPTED or MEND_E_SKIPPED: set it with mend_stop_request */
} mend_stop;
void mend_stop_request(mend_stop *s, mend_status request);

/* A TAESD decoder (include/mend/preview.h: mend_preview_taesd_load). */
typedef struct mend_preview_taesd mend_preview_taesd;

typedef struct mend_gen_inputs {
    const mend_image *init_image; /* NULL: txt2img; else the (first) init image */
    const mend_image *mask;       /* NULL: no mask (img2img); white = repaint. Of any size, as in
                                     A1111's init(): blurred at its own size, resized to W x H
                                     (whole picture) or cropped to its region (only masked: the
                                     region is in the mask's pixels, applied to each image as it
                                     is), and its overlay resized to each image with resize_mode */
    /* Further init images (A1111's init_images[1:]); NULL / 0 for one. A1111's
     * init() with k > 1 images: the batch is the k images, one each (batch_size
     * becomes k, so it must be at least k), every batch count iteration again;
     * one image is repeated batch_size times. */
    const mend_image *more_init_images;
    int n_more_init_images;
    /* The decoder of the final images when vae_decode_method is TAESD (NULL:
     * such a job fails naming it); the images have the VAE's size. */
    const mend_preview_taesd *taesd;
    /* A script's infotext pairs ("Key: value, ..."), written where A1111 puts
     * the extra_generation_params a script sets before processing; NULL: none. */
    const char *script_infotext;
} mend_gen_inputs;

typedef struct mend_gen_progress {
    int iteration, n_iter; /* batch iteration (0-based) of n_iter */
    int step, steps;       /* sampler step (0-based) of this batch */
    const float *denoised; /* the latest x0 prediction [batch, 4, h, w] */
    int batch, h, w;
} mend_gen_progress;

/* Called after every sampler step. Return MEND_E_INTERRUPTED to stop the
 * job (A1111 "Interrupt": the current batch is finished from its latest
 * prediction, no further batches run), MEND_E_SKIPPED to end only the
 * current batch that way and go on with the next (A1111 "Skip"). */
typedef mend_status (*mend_gen_progress_fn)(void *user, const mend_gen_progress *p, mend_err *err);

/* Wall-clock seconds spent in each stage of the job (for benchmarks). */
typedef struct mend_gen_timings {
    double conditioning; /* prompts -> CLIP conditioning */
    double prepare;      /* mask and init image preparation, VAE encode, masked content */
    double sampling;     /* all sampler steps (UNet calls) */
    double decode;       /* VAE decode */
    double composite;    /* overlay, infotext */
} mend_gen_timings;

typedef struct mend_gen_output {
    int count;
    mend_image *images; /* RGB, W x H (only masked: the original's size) */
    int64_t *seeds;
    int64_t *subseeds;
    char **infotexts;   /* A1111's "parameters" text of each image */
    int interrupted;
    char *comment;      /* e.g. the blank-mask fallback note, or NULL */
    const char *precision; /* "fp32" or "bf16": what the job ran in (static) */
    mend_gen_timings timings;
    /* A1111's comments on the job's networks, one a line ("Lora not found:
     * a, b", "Networks with errors: name (1)"), or NULL; the job still ran */
    char *warnings;
    char *log; /* the details behind them (each failing layer's key and shapes), or NULL */
} mend_gen_output;

mend_status mend_generate(mend_sd_model *m, const mend_gen_params *p, const mend_gen_inputs *in,
                          mend_gen_progress_fn progress, void *user, mend_gen_output *out, mend_err *err);
/* mend_generate that also stops on `stop` (NULL: as mend_generate). */
mend_status mend_generate_stoppable(mend_sd_model *m, const mend_gen_params *p, const mend_gen_inputs *in,
                                    mend_stop *stop, mend_gen_progress_fn progress, void *user, mend_gen_output *out,
                                    mend_err *err);
void mend_gen_output_free(mend_gen_output *o);

/* Memory admission: the peak memory a job with these parameters needs
 * beyond the loaded model (latents, UNet and VAE activations, images), an
 * estimate on the safe side, from the parameters and the init image's size
 * (0 x 0 for txt2img) alone, so that a front end can refuse a job before
 * any work. mend_generate refuses (MEND_E_LIMIT) a job whose estimate
 * exceeds the limit: set with mend_set_memory_limit (bytes), or 0 for the
 * environment's MEND_MAX_MEMORY (e.g. "6G") when set, else what the machine
 * can give now (MemAvailable, and the cgroup's headroom when there is one). */
uint64_t mend_gen_memory_estimate(const mend_sd_model *m, const mend_gen_params *p, int init_width,
                                  int init_height);
void mend_set_memory_limit(uint64_t bytes);
uint64_t mend_memory_limit(void);
/* "512M", "8G", "1.5GiB", "4096" (MiB) -> bytes; 0 if not a size. */
int mend_parse_bytes(const char *s, uint64_t *out);
/* MEND_OK, or MEND_E_LIMIT with a message naming both numbers. */
mend_status mend_gen_memory_check(const mend_sd_model *m, const mend_gen_params *p, int init_width, int init_height,
                                  mend_err *err);

/* ------------------------------------------------------------------ */
/* LoRA / LyCORIS networks, named in the prompt as <lora:NAME:MULT>.  */

/* The folder networks are looked up in (by file stem or ss_output_name
 * alias); NULL or "" = the default "models/Lora". A process setting, like
 * the thread count: set it before jobs run. */
void mend_set_lora_dir(const char *dir);
const char *mend_lora_dir(void);

typedef struct mend_lora_info {
    char *name;     /* file stem */
    char *alias;    /* metadata ss_output_name, else the name */
    char *path;
    char *metadata; /* the file's safetensors metadata as a JSON object text ("{}" when none) */
} mend_lora_info;

/* The networks (*.safetensors) in dir, sorted by name; a folder that does
 * not exist has none. Files that cannot be read are left out. */
mend_status mend_lora_list(const char *dir, mend_lora_info **out, int *count, mend_err *err);
void mend_lora_list_free(mend_lora_info *list, int count);

/* ------------------------------------------------------------------ */
/* Textual-inversion embeddings: a file's stem in a prompt stands for  */
/* its vectors (A1111's embeddings folder).                           */

/* The folder (.pt, .bin, .safetensors, subfolders too); NULL or "" = the
 * default "embeddings". A process setting: set it before jobs run. Jobs
 * rescan it when its modification time changed, as A1111 does. */
void mend_set_embeddings_dir(const char *dir);
const char *mend_embeddings_dir(void);

typedef struct mend_embedding_info {
    char *name;    /* file stem */
    int skipped;   /* its width is not the text encoder's: listed, never used */
    int has_step;  /* step is null without it */
    int64_t step;
    char *sd_checkpoint, *sd_checkpoint_name; /* NULL: null */
    int shape;     /* vector width */
    int vectors;
} mend_embedding_info;

/* The folder as A1111's /sdapi/v1/embeddings reports it for the text
 * encoder of the model loaded last: the loaded ones sorted by lower-case
 * name, then the skipped ones. reload: rescan now (refresh-embeddings).
 * *log (may be NULL) gets the files a rescan could not read, one "Error
 * loading embedding FILE: why" a line, or NULL; the caller frees it. */
mend_status mend_embeddings_list(int reload, mend_embedding_info **out, int *count, char **log, mend_err *err);
void mend_embeddings_list_free(mend_embedding_info *list, int count);

/* ------------------------------------------------------------------ */
/* Inputs and outputs around a job, shared by the CLI and the server.  */

/* A1111's "Inpaint sketch" tab (spec/inpaint-semantics.md §2.2): the mask
 * is every pixel where sketch and orig differ (exact RGB inequality), 255
 * scaled by (1 - mask_alpha/100) as Pillow's Brightness enhance truncates
 * it; the init image is Image.composite(blurP(sketch), orig, blurP(mask))
 * with blurP = Pillow GaussianBlur(blur). Both inputs must have the same
 * size (any channel count; they are compared and composited as RGB).
 * init_out: RGB; mask_out: the unblurred, alpha-scaled mask (1 channel). */
mend_status mend_sketch_inputs(const mend_image *orig, const mend_image *sketch, int blur, float mask_alpha,
                               mend_image *init_out, mend_image *mask_out, mend_err *err);

/* A1111's outputs naming: <outdir>/<kind>-images/YYYY-MM-DD/NNNNN-<seed>.png
 * (kind "txt2img" or "img2img"), NNNNN = 1 + the largest leading number of
 * the folder's file names (0 in an empty folder), skipping names that
 * exist. Creates the folders; *out is malloc'd. */
/* Removes temp files that writes cut short (kill -9 during a save) left in
 * an A1111 outputs folder (DIR/<kind>-images/<date>/); returns how many. */
int mend_outputs_clean_temp(const char *outdir);
mend_status mend_output_path(const char *outdir, const char *kind, int64_t seed, char **out, mend_err *err);
/* Image i > 0 of "-o FILE": FILE with "-i" before the extension
 * (out.png, out-1.png, ...); malloc'd, NULL when out of memory. */
char *mend_numbered_path(const char *file, int index);
/* mkdir -p of the folder part of path (nothing when it has none). */
mend_status mend_make_parent_dirs(const char *path, mend_err *err);
/* A checkpoint's name (infotext "Model", sd_model_name): the file or
 * folder name without .safetensors/.ckpt/.pth/.pt/.bin; malloc'd. */
char *mend_model_name(const char *path);

#ifdef __cplusplus
}
#endif
#endif
