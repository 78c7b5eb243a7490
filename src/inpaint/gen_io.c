/* A job's inputs checked before any work, and its outputs freed: the two
 * ends of mend_generate (pipeline.c) that need nothing of the pipeline;
 * and mend_generate with a stop request. */
#include "inpaint/pipeline.h"

#include "core/err.h"
#include "core/stop.h"

#include <stdlib.h>
#include <string.h>

/* An image given to the job must hold pixels; a mask must match its image
 * (spec §15.3: A1111 would apply a mask-derived crop to a differently sized
 * image, so mend refuses instead of guessing a resize). */
static mend_status check_image(const mend_image *img, const char *field, mend_err *err)
{
    if (!img->data || img->width < 1 || img->height < 1)
        return mend_fail(err, MEND_E_ARG, "%s: empty image (%dx%d, no pixels)", field, img->width, img->height);
    if (img->channels != 1 && img->channels != 3 && img->channels != 4)
        return mend_fail(err, MEND_E_ARG, "%s: %d channels; expected 1 (grey), 3 (RGB) or 4 (RGBA)", field,
                         img->channels);
    return MEND_OK;
}

mend_status mend_gen_inputs_check(const mend_gen_inputs *in, mend_err *err)
{
    if (in->mask && !in->init_image)
        return mend_fail(err, MEND_E_ARG, "mask: a mask needs an init_image");
    if (in->init_image)
        MEND_TRY(check_image(in->init_image, "init_image", err));
    if (!in->mask)
        return MEND_OK;
    MEND_TRY(check_image(in->mask, "mask", err));
    if (in->mask->width != in->init_image->width || in->mask->height != in->init_image->height)
        return mend_fail(err, MEND_E_ARG, "mask: %dx%d, but init_image is %dx%d; the mask must have the size of the "
                         "image", in->mask->width, in->mask->height, in->init_image->width, in->init_image->height);
    return MEND_OK;
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
