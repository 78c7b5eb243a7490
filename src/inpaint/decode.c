/* The final decode of a job's latents: the VAE (the separate VAE file's
 * decoder when one is set, model/vae_file.c) or, with A1111's
 * sd_vae_decode_method "TAESD", the TAESD decoder. A1111's
 * samples_to_images_tensor maps TAESD's [0, 1] output to the VAE's range
 * (x * 2 - 1), so the conversion to 8-bit that follows is the VAE's. */
#include "inpaint/pipeline_job.h"

#include "kernels/kernels.h"
#include "model/taesd.h"

mend_status mend_job_check_decoder(const mend_gen_params *p, const mend_gen_inputs *in, mend_err *err)
{
    if (p->vae_decode_method == MEND_VAE_DECODE_TAESD && !in->taesd)
        return mend_fail(err, MEND_E_ARG,
                         "parameter 'sd_vae_decode_method': TAESD needs a TAESD decoder (--taesd PATH: "
                         "taesd_decoder.safetensors/.pth or its folder)");
    return MEND_OK;
}

static mend_status taesd_decode(const job *j, const float *sample, float *dec, mend_err *err)
{
    /* TAESD is not the job's model: A1111's tiling (apply_circular on the
     * checkpoint's modules) does not reach it */
    mend_conv2d_set_circular(0);
    mend_status s = mend_taesd_decode(mend_preview_taesd_model(j->taesd), sample, 1, j->h, j->w, dec, err);
    mend_conv2d_set_circular(j->p->tiling);
    int64_t n = 3 * 64 * (int64_t)j->h * j->w;
    for (int64_t i = 0; s == MEND_OK && i < n; i++)
        dec[i] = dec[i] * 2.0f - 1.0f;
    return s;
}

mend_status mend_job_decode(const job *j, const float *sample, float *dec, mend_err *err)
{
    if (j->p->vae_decode_method == MEND_VAE_DECODE_TAESD)
        return taesd_decode(j, sample, dec, err);
    return mend_vae_decode(mend_sd_vae_decoder(j->m), sample, 1, j->h, j->w, dec, err);
}
