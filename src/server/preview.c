/* Live preview of the x0 prediction: A1111's "Approx cheap"
 * (sd_vae_approx.cheap_approximation), a fixed 4 -> 3 linear map from SD
 * 1.x latents to RGB at latent resolution, then (x + 1) / 2 to 0..255; or,
 * when TAESD decoder weights are given, TAESD at full resolution. */
#include "server/server.h"

#include <stdlib.h>

static const float latent_rgb[4][3] = {
    {0.298f, 0.207f, 0.208f},
    {0.187f, 0.286f, 0.173f},
    {-0.158f, 0.189f, 0.264f},
    {-0.184f, -0.271f, -0.473f},
};

mend_status srv_latent_preview(const float *latent, int batch_index, int h, int w, mend_image *out, mend_err *err)
{
    MEND_TRY(mend_image_alloc(out, w, h, 3, err));
    int64_t hw = (int64_t)h * w;
    const float *x = latent + (int64_t)batch_index * 4 * hw;
    for (int64_t i = 0; i < hw; i++)
        for (int c = 0; c < 3; c++) {
            float v = 0;
            for (int l = 0; l < 4; l++)
                v += x[l * hw + i] * latent_rgb[l][c];
            v = (v + 1.0f) * 0.5f;
            v = v < 0 ? 0 : v > 1 ? 1 : v;
            out->data[i * 3 + c] = (uint8_t)(255.0f * v);
        }
    return MEND_OK;
}

mend_status srv_taesd_preview(const mend_taesd *t, const float *latent, int batch_index, int h, int w,
                              mend_image *out, mend_err *err)
{
    int64_t hw = (int64_t)h * w, px = 64 * hw;
    float *rgb = malloc((size_t)(3 * px) * sizeof *rgb);
    if (!rgb)
        return mend_fail(err, MEND_E_NOMEM, "out of memory for the preview");
    mend_status s = mend_taesd_decode(t, latent + (int64_t)batch_index * 4 * hw, 1, h, w, rgb, err);
    if (s == MEND_OK)
        s = mend_image_alloc(out, 8 * w, 8 * h, 3, err);
    for (int64_t i = 0; s == MEND_OK && i < px; i++)
        for (int c = 0; c < 3; c++) {
            float v = rgb[c * px + i];
            v = v < 0 ? 0 : v > 1 ? 1 : v;
            out->data[i * 3 + c] = (uint8_t)(255.0f * v + 0.5f);
        }
    free(rgb);
    return s;
}
