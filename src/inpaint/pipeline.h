/* One generation job as A1111's process_images runs it: txt2img, img2img,
 * or inpainting when a mask is given (spec/inpaint-semantics.md §1):
 * prompt conditioning, mask and init-image preparation, VAE encode, masked
 * content, 9-channel conditioning, seeded noise, the sampler with CFG and
 * mask blending, final latent blend, VAE decode, and the composite over the
 * original. */
#ifndef MEND_INPAINT_PIPELINE_H
#define MEND_INPAINT_PIPELINE_H

#include "inpaint/gen_params.h"
#include "io/image.h"
#include "model/sd_model.h"

typedef struct mend_gen_inputs {
    const mend_image *init_image; /* NULL: txt2img */
    const mend_image *mask;       /* NULL: no mask (img2img); white = repaint. Must have the
                                     init image's size: mend refuses a mismatch (spec §15.3)
                                     rather than apply a mask-derived crop to another size */
} mend_gen_inputs;

typedef struct mend_gen_progress {
    int iteration, n_iter; /* batch iteration (0-based) of n_iter */
    int step, steps;       /* sampler step (0-based) of this batch */
    const float *denoised; /* the latest x0 prediction [batch, 4, h, w] */
    int batch, h, w;
} mend_gen_progress;

/* Called after every sampler step. Return MEND_E_INTERRUPTED to stop the
 * job (A1111 "Interrupt": the current batch is finished from its latest
 * prediction, no further batches run). */
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
    mend_gen_timings timings;
} mend_gen_output;

mend_status mend_generate(mend_sd_model *m, const mend_gen_params *p, const mend_gen_inputs *in,
                          mend_gen_progress_fn progress, void *user, mend_gen_output *out, mend_err *err);
void mend_gen_output_free(mend_gen_output *o);

/* For tests and diagnostics: runs only the job's preparation (checks,
 * seeds, mask and init image, VAE encode, masked content) and hands back
 * what sampling would start from: *init_latent [batch_size, 4, H/8, W/8]
 * (NULL for txt2img) and *nmask [H/8, W/8], 1 = repaint (NULL without an
 * active mask). The caller frees both. */
mend_status mend_generate_init_latent(mend_sd_model *m, const mend_gen_params *p, const mend_gen_inputs *in,
                                      float **init_latent, float **nmask, mend_err *err);

#endif
