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

/* mend_generate(), its inputs, progress and output types are part of the
 * public API: include/mend/mend.h. */


/* For tests and diagnostics: runs only the job's preparation (checks,
 * seeds, mask and init image, VAE encode, masked content) and hands back
 * what sampling would start from: *init_latent [batch_size, 4, H/8, W/8]
 * (NULL for txt2img) and *nmask [H/8, W/8], 1 = repaint (NULL without an
 * active mask). The caller frees both. */
/* The init images and the mask hold pixels, and several init images fit
 * in batch_size; MEND_E_ARG naming the field otherwise (gen_io.c). */
mend_status mend_gen_inputs_check(const mend_gen_inputs *in, int batch_size, mend_err *err);

mend_status mend_generate_init_latent(mend_sd_model *m, const mend_gen_params *p, const mend_gen_inputs *in,
                                      float **init_latent, float **nmask, mend_err *err);

#endif
