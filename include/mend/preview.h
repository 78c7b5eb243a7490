/* mend — live previews of a job's latest x0 prediction (the `denoised`
 * latent of mend_gen_progress): A1111's "Approx cheap" linear map, or the
 * TAESD decoder at full resolution. */
#ifndef MEND_PREVIEW_H
#define MEND_PREVIEW_H

#include <stddef.h>

#include "mend/mend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* SD 1.x latent [batch, 4, h, w], image `index` -> RGB h x w image
 * (sd_vae_approx.cheap_approximation, then (x + 1) / 2 to 0..255). */
mend_status mend_preview_cheap(const float *latent, int index, int h, int w, mend_image *out, mend_err *err);

/* A TAESD decoder (madebyollin/taesd) loaded for previews. */
typedef struct mend_preview_taesd mend_preview_taesd;

/* path: taesd_decoder*.safetensors|.pth, or a folder holding one (the
 * first by name). */
mend_status mend_preview_taesd_load(const char *path, mend_preview_taesd **out, mend_err *err);
void mend_preview_taesd_free(mend_preview_taesd *t);
/* The same latent through TAESD: an RGB 8w x 8h image. */
mend_status mend_preview_taesd_decode(const mend_preview_taesd *t, const float *latent, int index, int h, int w,
                                      mend_image *out, mend_err *err);

/* The TAESD weights file for `stem` ("taesd_encoder" or "taesd_decoder"):
 * path itself when it is a file, else the first (by name)
 * STEM*.safetensors|.pth in the folder path. */
mend_status mend_taesd_weights_path(const char *path, const char *stem, char *out, size_t size, mend_err *err);

#ifdef __cplusplus
}
#endif
#endif
