/* A job's inputs checked before any work, and its outputs freed: the two
 * ends of mend_generate (pipeline.c) that need nothing of the pipeline;
 * and mend_generate with a stop request. */
#include "inpaint/pipeline.h"

#include "core/err.h"
#include "core/stop.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An image given to the job must hold pixels. A mask may have another
 * size than its image: mask_prep.c follows A1111's init() for that. */
static mend_status check_image(const mend_image *img, const char *field, mend_err *err)
{
    if (!img->data || img->width < 1 || img->height < 1)
        return mend_fail(err, MEND_E_ARG, "%s: empty image (%dx%d, no pixels)", field, img->width, img->height);
    if (img->channels != 1 && img->channels != 3 && img->channels != 4)
        return mend_fail(err, MEND_E_ARG, "%s: %d channels; expected 1 (grey), 3 (RGB) or 4 (RGBA)", field,
                         img->channels);
    return MEND_OK;
}

mend_status mend_gen_inputs_check(const mend_gen_inputs *in, int batch_size, mend_err *err)
{
    if (in->mask && !in->init_image)
        return mend_fail(err, MEND_E_ARG, "mask: a mask needs an init_image");
    if (in->n_more_init_images && !in->init_image)
        return mend_fail(err, MEND_E_ARG, "init_images: further init images need a first one");
    if (in->n_more_init_images < 0 || (in->n_more_init_images && !in->more_init_images))
        return mend_fail(err, MEND_E_ARG, "init_images: %d further images without their array",
                         in->n_more_init_images);
    int k = 1 + in->n_more_init_images;
    if (k > 1 && k > batch_size) /* A1111: RuntimeError "bad number of images passed" */
        return mend_fail(err, MEND_E_ARG, "init_images: bad number of images passed: %d; expecting %d or less "
                         "(batch_size: each of several init images is one image of the batch)", k, batch_size);
    if (in->init_image)
        MEND_TRY(check_image(in->init_image, "init_image", err));
    for (int i = 0; i < in->n_more_init_images; i++) {
        char field[40];
        snprintf(field, sizeof field, "init_images[%d]", i + 1);
        MEND_TRY(check_image(&in->more_init_images[i], field, err));
    }
    return in->mask ? check_image(in->mask, "mask", err) : MEND_OK;
}

void mend_gen_output_free(mend_gen_output *o)
{
    if (!o)
        return;
    int total = o->images ? o->count : 0;
    for (int i = 0; i < total; i++)
        mend_image_free(&o->images[i]);
    for (int i = 0; o->infotexts && i < o->count; i++)
        free(o->infotexts[i]);
    free(o->images);
    free(o->seeds);
    free(o->subseeds);
    free(o->infotexts);
    free(o->comment);
    free(o->warnings);
    free(o->log);
    memset(o, 0, sizeof *o);
}

/* The request is bound to this thread for the job (core/stop.h): the UNet
 * and VAE poll it between their blocks. */
mend_status mend_generate_stoppable(mend_sd_model *m, const mend_gen_params *p, const mend_gen_inputs *in,
                                    mend_stop *stop, mend_gen_progress_fn progress, void *user, mend_gen_output *out,
                                    mend_err *err)
{
    mend_stop *caller_stop = mend_stop_bind(stop);
    mend_status s = mend_generate(m, p, in, progress, user, out, err);
    mend_stop_bind(caller_stop);
    return s;
}
