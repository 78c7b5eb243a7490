/* TAESD, the tiny autoencoder used for live previews (madebyollin/taesd),
 * SD 1.x variant. Encoder and decoder come as separate weight files
 * (taesd_encoder / taesd_decoder .safetensors or .pth) with Sequential
 * indices as names ("0.weight", "1.conv.0.weight", ...). Images are in
 * [0, 1]; latents are in the UNet's scaled latent space. */
#ifndef MEND_MODEL_TAESD_H
#define MEND_MODEL_TAESD_H

#include "model/weights.h"

typedef struct mend_taesd mend_taesd;

/* One of encoder/decoder may be NULL. */
mend_status mend_taesd_load(const mend_tf *encoder, const mend_tf *decoder, mend_taesd **out, mend_err *err);
void mend_taesd_free(mend_taesd *t);
int64_t mend_taesd_params(const mend_taesd *t);

/* img [N, 3, H, W] in [0, 1] -> latent [N, 4, H/8, W/8]. */
mend_status mend_taesd_encode(const mend_taesd *t, const float *img, int N, int H, int W, float *latent,
                              mend_err *err);
/* latent [N, 4, h, w] -> img [N, 3, 8h, 8w] in [0, 1]. */
mend_status mend_taesd_decode(const mend_taesd *t, const float *latent, int N, int h, int w, float *img,
                              mend_err *err);

/* The TAESD model inside a decoder loaded with mend_preview_taesd_load
 * (include/mend/preview.h), for the pipeline's final decode. */
typedef struct mend_preview_taesd mend_preview_taesd;
const mend_taesd *mend_preview_taesd_model(const mend_preview_taesd *t);

#endif
